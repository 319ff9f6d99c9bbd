//! What flows between operators.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use planner::types::Value;

use crate::accumulator::Acc;

/// A grouping key: the values of the GROUP BY expressions.
pub type Key = SmallVec<[Value; 2]>;

/// Records of one key, pre-aggregated per pane by the source (a per-worker combiner), on
/// their way to a window aggregate. Records that share key, pane and `cut` are
/// interchangeable for window state, so combining them changes no result; it shrinks the
/// exchange and spreads hot keys' work over the readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialAggregate {
    /// Grouping key.
    pub key: Key,
    /// Start of the pane, ms.
    pub pane: u64,
    /// The first window end these records are on time for: windows of the pane ending
    /// earlier had expired (`end + allowed_lateness <= watermark`) when they were read.
    pub cut: u64,
    /// Aggregate states, one per aggregate.
    pub accs: SmallVec<[Acc; 2]>,
}

/// A source row on its way to an OVER aggregate (exchanged by the hash of its partition
/// key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverInput {
    /// Partition key: the values of the PARTITION BY expressions.
    pub key: Key,
    /// Event time, ms.
    pub time: u64,
    /// One value per OVER aggregate argument (NULL for `COUNT(*)`), then the values of the
    /// carried source columns (`OverSpec::carried`), in that order.
    pub values: SmallVec<[Value; 4]>,
}

/// A source record on its way to a SESSION aggregate (exchanged by the hash of its key):
/// its event time, the watermark when it was read, and its aggregate states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInput {
    /// Grouping key.
    pub key: Key,
    /// Event time, ms.
    pub time: u64,
    /// The source's watermark before this record was read. Sessions whose
    /// `end + allowed_lateness` it had reached were closed for this record: it neither
    /// joins nor merges them (as if their state were already freed, which it may be).
    pub watermark: u64,
    /// Aggregate states of this one record, one per aggregate.
    pub accs: SmallVec<[Acc; 2]>,
}

/// One emission of a feature value for a (key, window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    /// Index of the feature in the plan.
    pub feature: u32,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Window end, epoch ms.
    pub window_end: i64,
    /// 0 for the first emission, +1 per correction.
    pub revision: u32,
    /// Selected columns other than the window bounds, in SELECT order.
    pub values: SmallVec<[Value; 4]>,
    /// Grouping key (the upsert key with feature, version and window).
    pub key: Key,
    /// The earlier row for this key and window is withdrawn: a correction made HAVING
    /// false, or (SESSION) a late record merged the session into another one.
    pub deleted: bool,
}

/// A record that could not be used, with where it came from and why.
///
/// Dead letters travel between processes (to the worker that writes the file), in
/// timely's bincode, which is not self-describing: every field is always serialized (a
/// field skipped when empty made the receiver misread the next one). The file's JSON line,
/// which leaves out an absent `feature`, is [`DeadLetter::to_json_line`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// `malformed`, `missing_required`, `wrong_type`, `bad_timestamp`, `too_late`.
    pub kind: String,
    /// Source table.
    pub source: String,
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// For `too_late`: the feature that could not use it.
    pub feature: Option<String>,
    /// The record as read (bytes that are not UTF-8 shown as U+FFFD).
    pub record: String,
    /// The record's bytes in base64 when they are not UTF-8 (Avro, Protobuf): the record
    /// exactly, to replay.
    pub record_base64: Option<String>,
}

impl DeadLetter {
    /// Appends the dead letter as a JSON object (without `feature` when it has none) and a
    /// newline.
    pub fn to_json_line(&self, out: &mut Vec<u8>) {
        /// The JSON line's fields, in the struct's order.
        #[derive(Serialize)]
        struct Line<'a> {
            kind: &'a str,
            source: &'a str,
            file: &'a str,
            line: u64,
            reason: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            feature: Option<&'a str>,
            record: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            record_base64: Option<&'a str>,
        }
        let line = Line {
            kind: &self.kind,
            source: &self.source,
            file: &self.file,
            line: self.line,
            reason: &self.reason,
            feature: self.feature.as_deref(),
            record: &self.record,
            record_base64: self.record_base64.as_deref(),
        };
        serde_json::to_writer(&mut *out, &line).expect("dead letters serialize");
        out.push(b'\n');
    }
}

/// What timely does to a batch sent to another process (bincode into bytes, and back).
#[cfg(test)]
pub(crate) fn across_processes<T>(batch: &Vec<T>) -> Vec<T>
where
    T: Serialize + for<'a> Deserialize<'a>,
{
    use timely::dataflow::channels::ContainerBytes;
    let mut bytes = Vec::new();
    batch.into_bytes(&mut bytes);
    assert_eq!(bytes.len(), batch.length_in_bytes(), "the announced length");
    <Vec<T> as ContainerBytes>::from_bytes(timely::bytes::arc::BytesMut::from(bytes).freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::aggregate::AggFunc;
    use planner::DataType;

    /// Every record type that crosses processes comes back equal, with each kind of value
    /// and aggregate state. Before, a dead letter without a feature (any undecodable
    /// record) failed to decode on the receiving process, which panicked the cluster.
    #[test]
    fn records_cross_processes_intact() {
        let letter = |feature: Option<&str>| DeadLetter {
            kind: "malformed".into(),
            source: "s".into(),
            file: "data/b.jsonl".into(),
            line: 1,
            reason: "expected value at line 1 column 1".into(),
            feature: feature.map(Into::into),
            record: "not json".into(),
            record_base64: feature.map(|_| "AP8=".into()),
        };
        let letters = vec![letter(None), letter(Some("f")), letter(None)];
        assert_eq!(across_processes(&letters), letters);

        let values: Vec<Value> = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(2.5),
            Value::Str("a string longer than twenty-four bytes".into()),
            Value::Ts(1_767_225_600_000),
            Value::List(vec![Value::Int(1), Value::Null].into()),
        ];
        let key: Key = values[..2].iter().cloned().collect();
        let mut accs: SmallVec<[Acc; 2]> = SmallVec::new();
        for (func, ty) in [
            (AggFunc::CountStar, DataType::Int),
            (AggFunc::Sum, DataType::Int),
            (AggFunc::Sum, DataType::Float),
            (AggFunc::Avg, DataType::Float),
            (AggFunc::Min, DataType::String),
            (AggFunc::Max, DataType::Int),
            (AggFunc::CountDistinct, DataType::Int),
        ] {
            let mut acc = Acc::new(func, ty);
            for v in &values {
                acc.add(v, func == AggFunc::CountStar);
            }
            accs.push(acc);
        }
        let partials = vec![PartialAggregate {
            key: key.clone(),
            pane: 60_000,
            cut: 120_000,
            accs: accs.clone(),
        }];
        assert_eq!(across_processes(&partials), partials);
        let sessions = vec![SessionInput {
            key: key.clone(),
            time: 5,
            watermark: 3,
            accs,
        }];
        assert_eq!(across_processes(&sessions), sessions);
        let over = vec![OverInput {
            key: key.clone(),
            time: 5,
            values: values.iter().cloned().collect(),
        }];
        assert_eq!(across_processes(&over), over);
        let rows = vec![FeatureRow {
            feature: 1,
            window_start: 0,
            window_end: 60_000,
            revision: 2,
            values: values.iter().cloned().collect(),
            key,
            deleted: true,
        }];
        assert_eq!(across_processes(&rows), rows);
    }

    /// The file's line leaves out an absent feature and keeps the fields' order.
    #[test]
    fn a_dead_letter_line_names_its_feature_only_when_it_has_one() {
        let mut d = DeadLetter {
            kind: "too_late".into(),
            source: "s".into(),
            file: "a.jsonl".into(),
            line: 3,
            reason: "why".into(),
            feature: Some("f".into()),
            record: "{}".into(),
            record_base64: None,
        };
        let mut out = Vec::new();
        d.to_json_line(&mut out);
        d.feature = None;
        d.to_json_line(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"kind":"too_late","source":"s","file":"a.jsonl","line":3,"reason":"why","feature":"f","record":"{}"}"#,
                "\n",
                r#"{"kind":"too_late","source":"s","file":"a.jsonl","line":3,"reason":"why","record":"{}"}"#,
                "\n"
            )
        );
    }
}
