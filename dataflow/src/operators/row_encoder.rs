//! Feature rows as JSON lines: what file sinks write, and the `json` of store updates.
//!
//! The parts of a row that do not change from row to row are rendered once: the feature's
//! head (`{"feature":"name","version":N`), each column's `,"name":`, and recent window
//! bounds. (Assembling common rows in a scratch line from zero-padded parts, copied as
//! fixed-size blocks, was 31% faster in `benches/encode.rs` but no faster end to end: the
//! time is in storing the output bytes, not in choosing them. See benches/README.md.)

use connectors::format::encode;
use planner::types::Value;
use planner::Plan;

use crate::record::FeatureRow;

/// Encodes feature rows as JSON lines, with the constant parts of each feature's rows (the
/// feature name and version, the output column names) rendered once, and the end of a row
/// (window bounds, revision) rendered once for all the rows of a window in a row.
pub struct RowEncoder {
    features: Vec<Columns>,
    /// Window bounds already rendered (value, length, digits), by a hash of the value: the
    /// same few bounds repeat across the keys of a firing, and a hit copies the digits
    /// instead of formatting 13 of them.
    bounds: Vec<(i64, u8, [u8; 20])>,
    /// What the last row's tail was made of, and the tail:
    /// `,"window_start":S,"window_end":E,"revision":R}` and a newline. A window's rows
    /// mostly come one after another, so most rows copy it whole.
    tail_of: Option<(i64, i64, u32, bool)>,
    tail: Vec<u8>,
}

/// The constant parts of one feature's rows.
struct Columns {
    /// `{"feature":"name","version":N`, then `,"column":` of the first value output if
    /// there is one (`first`).
    head: Vec<u8>,
    first: bool,
    /// `,"column":` of each later value output.
    names: Vec<Vec<u8>>,
}

/// Number of remembered window bounds (a power of two).
const BOUNDS: usize = 256;

impl RowEncoder {
    /// The encoder for a plan's features.
    pub fn new(plan: &Plan) -> RowEncoder {
        let features = plan
            .features
            .iter()
            .map(|f| {
                let mut head = vec![b'{'];
                encode::key(&mut head, "feature");
                encode::string(&mut head, &f.name);
                head.extend_from_slice(b",\"version\":");
                encode::int(&mut head, f.version as i64);
                let mut names = f.value_outputs().map(|o| {
                    let mut k = vec![b','];
                    encode::key(&mut k, &o.name);
                    k
                });
                let first = names.next();
                if let Some(name) = &first {
                    head.extend_from_slice(name);
                }
                Columns {
                    head,
                    first: first.is_some(),
                    names: names.collect(),
                }
            })
            .collect();
        RowEncoder {
            features,
            bounds: vec![(0, 0, [0; 20]); BOUNDS],
            tail_of: None,
            tail: Vec::new(),
        }
    }

    /// Appends one feature row as a JSON object and a newline.
    #[inline]
    pub fn encode(&mut self, out: &mut Vec<u8>, row: &FeatureRow) {
        self.encode_parts(
            out,
            row.feature,
            row.values.iter(),
            (row.window_start, row.window_end, row.revision, row.deleted),
        );
    }

    /// [`RowEncoder::encode`] of a row given by its parts: its values by reference, in
    /// SELECT order, and its tail (window start, window end, revision, deleted), for an
    /// operator that writes rows without building them.
    #[inline]
    pub fn encode_parts<'v>(
        &mut self,
        out: &mut Vec<u8>,
        feature: u32,
        mut values: impl Iterator<Item = &'v Value>,
        tail: (i64, i64, u32, bool),
    ) {
        let columns = &self.features[feature as usize];
        out.extend_from_slice(&columns.head);
        if columns.first {
            value(out, values.next().unwrap_or(&Value::Null));
        }
        for (name, v) in columns.names.iter().zip(values) {
            out.extend_from_slice(name);
            value(out, v);
        }
        if self.tail_of != Some(tail) {
            self.render_tail(tail);
        }
        out.extend_from_slice(&self.tail);
    }

    /// Renders a row's tail into `tail`.
    #[cold]
    fn render_tail(&mut self, tail: (i64, i64, u32, bool)) {
        let (start, end, revision, deleted) = tail;
        let mut t = std::mem::take(&mut self.tail);
        t.clear();
        t.extend_from_slice(b",\"window_start\":");
        self.bound(&mut t, start);
        t.extend_from_slice(b",\"window_end\":");
        self.bound(&mut t, end);
        t.extend_from_slice(b",\"revision\":");
        encode::int(&mut t, revision as i64);
        if deleted {
            t.extend_from_slice(b",\"deleted\":true");
        }
        t.extend_from_slice(b"}\n");
        self.tail = t;
        self.tail_of = Some(tail);
    }

    /// Appends a window bound, rendered once per value while it stays in `bounds`.
    #[inline]
    fn bound(&mut self, out: &mut Vec<u8>, v: i64) {
        let slot =
            ((v as u64 >> 10).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize & (BOUNDS - 1);
        let (value, len, digits) = &mut self.bounds[slot];
        if *len == 0 || *value != v {
            let mut buf = itoa::Buffer::new();
            let text = buf.format(v).as_bytes();
            digits[..text.len()].copy_from_slice(text);
            (*value, *len) = (v, text.len() as u8);
        }
        out.extend_from_slice(&digits[..*len as usize]);
    }
}

/// [`encode::value`], with the two kinds of most output values (keys and counts) written
/// here, inline, instead of through a call.
#[inline(always)]
fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => encode::string(out, s),
        Value::Int(i) => encode::int(out, *i),
        other => encode::value(out, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::{parse_job, plan_job};
    use smallvec::smallvec;

    #[test]
    fn window_bounds_are_rendered_like_integers() {
        let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, t: timestamp }, event_time: t }\nfeatures:\n  - name: f\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";
        let job = parse_job(std::path::Path::new("t.yaml"), job).unwrap();
        let plan = plan_job(&job).unwrap().physical;
        let mut encoder = RowEncoder::new(&plan);
        // Values that share slots, repeat, and have different lengths (0 and 1 included).
        let mut values: Vec<i64> = (0..3000).map(|i| 1_767_225_600_000 + i * 60_000).collect();
        values.extend([0, 1, 9, 10, 59_999, 60_000, i64::MAX, i64::MIN, -1]);
        for round in 0..3 {
            for (i, &v) in values.iter().enumerate() {
                let w = values[(i * 7 + round) % values.len()];
                let row = FeatureRow {
                    feature: 0,
                    window_start: v,
                    window_end: w,
                    revision: 0,
                    values: smallvec![Value::Str("k".into()), Value::Int(1)],
                    key: smallvec![Value::Str("k".into())],
                    deleted: false,
                };
                let mut line = Vec::new();
                encoder.encode(&mut line, &row);
                let expected = format!("{{\"feature\":\"f\",\"version\":1,\"k\":\"k\",\"n\":1,\"window_start\":{v},\"window_end\":{w},\"revision\":0}}\n");
                assert_eq!(String::from_utf8(line).unwrap(), expected);
            }
        }
    }

    #[test]
    fn a_row_repeating_the_last_rows_window_gets_its_own_revision_and_deletion() {
        let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, t: timestamp }, event_time: t }\nfeatures:\n  - name: f\n    sql: SELECT COUNT(*) AS n, k FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";
        let job = parse_job(std::path::Path::new("t.yaml"), job).unwrap();
        let plan = plan_job(&job).unwrap().physical;
        let mut encoder = RowEncoder::new(&plan);
        // Runs of rows of one window, then changes of one tail part at a time, and back.
        let tails = [
            (60_000, 120_000, 0, false),
            (60_000, 120_000, 0, false),
            (60_000, 120_000, 1, false),
            (60_000, 120_000, 1, true),
            (60_000, 120_000, 0, false),
            (0, 120_000, 0, false),
            (0, 60_000, 0, false),
            (60_000, 120_000, 0, false),
        ];
        let mut lines = Vec::new();
        for (i, &(start, end, revision, deleted)) in tails.iter().enumerate() {
            let row = FeatureRow {
                feature: 0,
                window_start: start,
                window_end: end,
                revision,
                values: smallvec![Value::Int(i as i64), Value::Str(format!("k{i}").into())],
                key: smallvec![Value::Str(format!("k{i}").into())],
                deleted,
            };
            encoder.encode(&mut lines, &row);
        }
        let expected: String = tails
            .iter()
            .enumerate()
            .map(|(i, (start, end, revision, deleted))| {
                let deleted = if *deleted { ",\"deleted\":true" } else { "" };
                format!("{{\"feature\":\"f\",\"version\":1,\"n\":{i},\"k\":\"k{i}\",\"window_start\":{start},\"window_end\":{end},\"revision\":{revision}{deleted}}}\n")
            })
            .collect();
        assert_eq!(String::from_utf8(lines).unwrap(), expected);
    }
}
