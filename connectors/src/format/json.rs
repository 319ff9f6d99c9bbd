//! Schema-driven JSON decoding: one pass of serde_json over the line, values written
//! directly into the row; fields the plan does not need are skipped, not built.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use planner::job::Column;
use planner::types::{DataType, Value};
use planner::SourcePlan;

use super::{check_required, connector_columns, required_columns, value_from_text, RecordError};

/// Decodes JSON objects, one per line.
pub struct JsonDecoder {
    columns: Vec<Column>,
    /// (name, column index) of needed columns; matched exactly first, then case-insensitively.
    wanted: Vec<(String, usize)>,
    /// The same, prepared for the fast path.
    fields: super::json_fast::Fields,
    required: Vec<usize>,
}

impl JsonDecoder {
    /// A decoder for a planned source.
    pub fn new(plan: &SourcePlan) -> Self {
        let columns = plan.source.columns.clone();
        // Kafka key/header columns are filled by the source before decoding: keep them.
        let from_connector = connector_columns(&plan.source);
        let wanted: Vec<(String, usize)> = columns
            .iter()
            .enumerate()
            .filter(|(i, _)| plan.needed[*i] && !from_connector.contains(i))
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        JsonDecoder {
            required: required_columns(&plan.source),
            fields: super::json_fast::Fields::new(&columns, &wanted),
            columns,
            wanted,
        }
    }

    /// Decodes a line into `row`.
    pub fn decode(&mut self, line: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        for (_, i) in &self.wanted {
            row[*i] = Value::Null;
        }
        if super::json_fast::decode(line, &self.columns, &mut self.fields, row).is_some() {
            return check_required(&self.columns, &self.required, row);
        }
        self.decode_general(line, row)
    }

    /// The general path: serde_json over the whole line.
    pub fn decode_general(&mut self, line: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        for (_, i) in &self.wanted {
            row[*i] = Value::Null;
        }
        // A byte-order mark (some Windows tools start files with one) is not part of the record.
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let mut failure = None;
        let mut de = serde_json::Deserializer::from_slice(line);
        let seed = RowSeed {
            dec: self,
            row,
            failure: &mut failure,
        };
        let result = seed.deserialize(&mut de).and_then(|_| de.end());
        if let Some(f) = failure {
            return Err(f);
        }
        result.map_err(|e| RecordError::Malformed(e.to_string()))?;
        check_required(&self.columns, &self.required, row)
    }

    /// The column a field name fills, and whether the name is the column's exactly (a
    /// name matching only case-insensitively fills it unless the exact name is there too).
    #[inline]
    fn lookup(&self, key: &str) -> Option<(usize, bool)> {
        self.wanted
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, i)| (*i, true))
            .or_else(|| {
                self.wanted
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(key))
                    .map(|(_, i)| (*i, false))
            })
    }
}

struct RowSeed<'a> {
    dec: &'a JsonDecoder,
    row: &'a mut [Value],
    failure: &'a mut Option<RecordError>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // JSON names are case-sensitive: `id` wins over `ID` in either order, and a value
        // of `ID` that does not decode matters only if there is no `id`.
        let mut exact = Columns::default();
        let mut pending: Vec<(usize, RecordError)> = Vec::new();
        while let Some(col) = map.next_key_seed(KeySeed { dec: self.dec })? {
            match col {
                Some((i, false)) if exact.contains(i) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some((i, is_exact)) => {
                    let column = &self.dec.columns[i];
                    if is_exact {
                        exact.insert(i);
                        pending.retain(|(c, _)| *c != i);
                    }
                    match map.next_value_seed(ValueSeed { column })? {
                        Ok(v) => self.row[i] = v,
                        Err(e) if !is_exact => pending.push((i, e)),
                        Err(e) => {
                            if self.failure.is_none() {
                                *self.failure = Some(e);
                            }
                        }
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if self.failure.is_none() {
            *self.failure = pending.into_iter().next().map(|(_, e)| e);
        }
        Ok(())
    }
}

/// A set of column indices: a bit each below 64, a list past that (no allocation for
/// the schemas sources have).
#[derive(Default)]
struct Columns {
    bits: u64,
    more: Vec<usize>,
}

impl Columns {
    fn insert(&mut self, i: usize) {
        match 1u64.checked_shl(i as u32).filter(|_| i < 64) {
            Some(bit) => self.bits |= bit,
            None if !self.more.contains(&i) => self.more.push(i),
            None => {}
        }
    }

    fn contains(&self, i: usize) -> bool {
        match i < 64 {
            true => self.bits & (1 << i) != 0,
            false => self.more.contains(&i),
        }
    }
}

struct KeySeed<'a> {
    dec: &'a JsonDecoder,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<(usize, bool)>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> Result<Option<(usize, bool)>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<(usize, bool)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<(usize, bool)>, E> {
        Ok(self.dec.lookup(v))
    }
}

/// Decodes one value for a column. Type errors are returned as `Ok(Err(..))` so the
/// rest of the object is still consumed and the error names the column.
struct ValueSeed<'a> {
    column: &'a Column,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Result<Value, RecordError>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn wrong(&self, found: String) -> Result<Value, RecordError> {
        Err(RecordError::WrongType {
            column: self.column.name.clone(),
            expected: self.column.ty,
            found,
        })
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Result<Value, RecordError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} value", self.column.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(match self.column.ty {
            DataType::Bool => Ok(Value::Bool(v)),
            _ => self.wrong(format!("boolean {v}")),
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(match self.column.ty {
            DataType::Int => Ok(Value::Int(v)),
            DataType::Float => Ok(Value::Float(v as f64)),
            DataType::Timestamp => Ok(Value::Ts(v)),
            _ => self.wrong(format!("number {v}")),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) if self.column.ty == DataType::Float => Ok(Ok(Value::Float(v as f64))),
            Err(_) => Ok(self.wrong(format!("number {v} (out of range)"))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(match self.column.ty {
            DataType::Float => Ok(Value::Float(v)),
            DataType::Int if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Value::Int(v as i64)),
            DataType::Timestamp if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Value::Ts(v as i64)),
            // Past u64 a JSON integer arrives rounded to a float: `{v}` would print digits
            // the record does not have (the record itself is in the dead letter).
            DataType::Int | DataType::Timestamp if v.fract() == 0.0 => {
                self.wrong(format!("number of about {v:e} (out of range)"))
            }
            _ => self.wrong(format!("number {v}")),
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match self.column.ty {
            DataType::String => Ok(Value::Str(v.into())),
            DataType::Timestamp => value_from_text(self.column, v),
            _ => self.wrong(format!("string \"{v}\"")),
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.wrong("an array".into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.wrong("an object".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::job::{Format, OnError, Source, SourceConnector};

    fn plan() -> SourcePlan {
        let col = |name: &str, ty, required| Column {
            name: name.into(),
            ty,
            required,
        };
        SourcePlan {
            source: Source {
                name: "e".into(),
                connector: SourceConnector::File { path: "x".into() },
                format: Format::Json,
                columns: vec![
                    col("user_id", DataType::String, true),
                    col("fare", DataType::Float, false),
                    col("n", DataType::Int, false),
                    col("ok", DataType::Bool, false),
                    col("event_time", DataType::Timestamp, true),
                ],
                event_time: 4,
                watermark_delay_ms: 0,
                on_error: OnError::DeadLetter,
                format_options: Default::default(),
                bounded: false,
            },
            needed: vec![true; 5],
        }
    }

    fn decode(line: &str) -> Result<Vec<Value>, RecordError> {
        let mut d = JsonDecoder::new(&plan());
        let mut row = vec![Value::Null; 5];
        d.decode(line.as_bytes(), &mut row).map(|_| row)
    }

    #[test]
    fn decodes_typed_values_and_skips_unknown_fields() {
        let row = decode(r#"{"user_id":"u1","extra":{"a":[1,2]},"fare":12,"ok":true,"event_time":"1970-01-01T00:00:01Z"}"#).unwrap();
        assert_eq!(
            row,
            vec![
                Value::Str("u1".into()),
                Value::Float(12.0),
                Value::Null,
                Value::Bool(true),
                Value::Ts(1000)
            ]
        );
    }

    #[test]
    fn absent_optional_fields_are_null_and_escapes_work() {
        let row = decode(r#"{"user_id":"a\"b\u00e9","event_time":5}"#).unwrap();
        assert_eq!(row[0], Value::Str("a\"bé".into()));
        assert_eq!(row[1], Value::Null);
    }

    /// JSON names are case-sensitive: the exact name wins over one differing in case, in
    /// either order, and a bad value under the other name does not matter then.
    #[test]
    fn the_exact_name_wins_over_one_in_another_case() {
        for line in [
            r#"{"user_id":"exact","USER_ID":"other","event_time":5}"#,
            r#"{"USER_ID":"other","user_id":"exact","event_time":5}"#,
        ] {
            assert_eq!(
                decode(line).unwrap()[0],
                Value::Str("exact".into()),
                "{line}"
            );
        }
        let row = decode(r#"{"user_id":"u","n":2,"N":"y","event_time":5}"#).unwrap();
        assert_eq!(row[2], Value::Int(2));
        let row = decode(r#"{"user_id":"u","N":"y","n":2,"event_time":5}"#).unwrap();
        assert_eq!(row[2], Value::Int(2));
        // Alone, a name in another case still fills the column, and its errors count.
        let row = decode(r#"{"USER_ID":"u","N":7,"event_time":5}"#).unwrap();
        assert_eq!(
            (&row[0], &row[2]),
            (&Value::Str("u".into()), &Value::Int(7))
        );
        assert!(matches!(
            decode(r#"{"user_id":"u","N":"y","event_time":5}"#),
            Err(RecordError::WrongType { .. })
        ));
    }

    /// An integer too large for an int column is reported as out of range, without
    /// digits the record does not have (found by QA: `99999999999999999999` was reported
    /// as `100000000000000000000`).
    #[test]
    fn integers_past_u64_are_out_of_range_not_rounded() {
        for (line, want) in [
            (
                r#"{"user_id":"u","n":99999999999999999999,"event_time":5}"#,
                "column `n`: expected int, found number of about 1e20 (out of range)",
            ),
            (
                r#"{"user_id":"u","n":18446744073709551615,"event_time":5}"#,
                "column `n`: expected int, found number 18446744073709551615 (out of range)",
            ),
            (
                r#"{"user_id":"u","n":1.5,"event_time":5}"#,
                "column `n`: expected int, found number 1.5",
            ),
        ] {
            assert_eq!(decode(line).unwrap_err().to_string(), want, "{line}");
        }
    }

    /// Every JSON integer is a float, also those past i64 (up to u64::MAX and beyond).
    #[test]
    fn column_sets_hold_columns_past_64() {
        let mut c = super::Columns::default();
        for i in [0, 63, 64, 200, 200] {
            c.insert(i);
        }
        assert!([0, 63, 64, 200].iter().all(|i| c.contains(*i)));
        assert!(![1, 62, 65, 199].iter().any(|i| c.contains(*i)));
        assert_eq!(c.more, vec![64, 200]);
    }

    #[test]
    fn large_integers_are_floats() {
        for text in [
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            let want: f64 = text.parse().unwrap();
            let row = decode(&format!(
                r#"{{"user_id":"u","fare":{text},"event_time":5}}"#
            ))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(row[1], Value::Float(want), "{text}");
        }
        assert!(matches!(
            decode(r#"{"user_id":"u","n":9223372036854775808,"event_time":5}"#),
            Err(RecordError::WrongType { .. })
        ));
    }

    #[test]
    fn typical_lines_take_the_fast_path() {
        let mut d = JsonDecoder::new(&plan());
        let mut row = vec![Value::Null; 5];
        let line = br#"{"user_id":"u0004711","extra":"x","fare":12.5,"n":3,"ok":false,"event_time":1767225600123}"#;
        assert!(
            super::super::json_fast::decode(line, &d.columns, &mut d.fields, &mut row).is_some()
        );
        assert_eq!(
            row,
            vec![
                Value::Str("u0004711".into()),
                Value::Float(12.5),
                Value::Int(3),
                Value::Bool(false),
                Value::Ts(1767225600123)
            ]
        );
    }

    /// The fast path (with what `d` learnt from earlier lines) and serde_json read `line`
    /// alike: the same error, or the same row.
    fn agrees(d: &mut JsonDecoder, line: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let (mut a, mut b) = (vec![Value::Null; 5], vec![Value::Null; 5]);
        let fast = d.decode(line.as_bytes(), &mut a);
        let general = d.decode_general(line.as_bytes(), &mut b);
        proptest::prop_assert_eq!(&fast, &general, "line {}", line);
        if fast.is_ok() {
            proptest::prop_assert_eq!(a, b, "line {}", line);
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Whatever the line, the fast path and the general path agree (the fast path
        /// either decodes exactly as serde_json would, or defers).
        #[test]
        fn fast_path_agrees_with_serde(lines in proptest::collection::vec((proptest::collection::vec(fragment(), 0..8), proptest::option::of((0usize..200, proptest::prelude::any::<u8>()))), 1..4)) {
            // One decoder for several lines: what it learns from a line must not change
            // how it reads the next.
            let mut d = JsonDecoder::new(&plan());
            for (parts, mangle) in lines {
                let mut line = format!("{{{}}}", parts.join(","));
                if let Some((pos, byte)) = mangle {
                    let mut bytes = line.into_bytes();
                    if !bytes.is_empty() {
                        let p = pos % bytes.len();
                        bytes[p] = byte;
                    }
                    line = String::from_utf8_lossy(&bytes).into_owned();
                }
                agrees(&mut d, &line)?;
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Lines that repeat one layout (the same names at the same positions, as a source's
        /// records mostly do), each then mangled a little: one byte replaced, or spaces
        /// added around a name. The fast path predicts each name from the line before
        /// (`Fields::predict`); it must still agree with serde_json on every line.
        #[test]
        fn fast_path_agrees_on_repeated_layouts(
            layout in proptest::collection::vec(fragment(), 1..7),
            edits in proptest::collection::vec(proptest::option::of((0usize..200, proptest::prelude::any::<u8>(), 0usize..3)), 1..8),
        ) {
            let mut d = JsonDecoder::new(&plan());
            for edit in edits {
                let mut line = format!("{{{}}}", layout.join(","));
                if let Some((pos, byte, how)) = edit {
                    let mut bytes = line.into_bytes();
                    let p = pos % bytes.len();
                    match how {
                        0 => bytes[p] = byte,
                        1 => bytes.insert(p, b' '),
                        _ => bytes[p] = bytes[p].to_ascii_uppercase(),
                    }
                    line = String::from_utf8_lossy(&bytes).into_owned();
                }
                agrees(&mut d, &line)?;
            }
        }
    }

    #[test]
    fn a_repeated_layout_is_read_by_prediction_and_a_changed_one_is_not() {
        let mut d = JsonDecoder::new(&plan());
        let mut row = vec![Value::Null; 5];
        let line = |user: &str, t: u64| {
            format!(r#"{{"user_id":"{user}","extra":"x","fare":12.5,"event_time":{t}}}"#)
        };
        d.decode(line("u1", 1000).as_bytes(), &mut row).unwrap();
        d.decode(line("u22", 2000).as_bytes(), &mut row).unwrap();
        assert_eq!(
            (&row[0], &row[4]),
            (&Value::Str("u22".into()), &Value::Ts(2000))
        );
        // The same names at other positions, and a name that only looks like one.
        let moved = r#"{"event_time":3000,"fare":1.0,"extra":"y","user_id":"u3"}"#;
        d.decode(moved.as_bytes(), &mut row).unwrap();
        assert_eq!(
            (&row[0], &row[1], &row[4]),
            (
                &Value::Str("u3".into()),
                &Value::Float(1.0),
                &Value::Ts(3000)
            )
        );
        let lookalike = r#"{"event_timf":4000,"fare":1.0,"extra":"y","user_id":"u4"}"#;
        assert!(
            d.decode(lookalike.as_bytes(), &mut row).is_err(),
            "event_time is required"
        );
    }

    /// Bytes that are not UTF-8, in names and in kept and skipped values, in short lines and
    /// in lines long enough to be checked at once: both paths agree.
    #[test]
    fn invalid_utf8_is_judged_like_serde() {
        let pad = "x".repeat(70);
        let mut d = JsonDecoder::new(&plan());
        let cases: [&[u8]; 5] = [
            &[0xff],
            &[0xc3],
            &[0xc3, 0xa9],
            &[0xed, 0xa0, 0x80],
            &[0xe2, 0x82],
        ];
        for (i, bytes) in cases.into_iter().enumerate() {
            for template in [
                "{\"user_id\":\"u@\",\"event_time\":5,\"p\":\"PAD\"}",
                "{\"user_id\":\"u\",\"other\":\"@\",\"event_time\":5,\"p\":\"PAD\"}",
                "{\"user_id\":\"u\",\"o@\":1,\"event_time\":5,\"p\":\"PAD\"}",
                "{\"user_id\":\"u\",\"event_time\":\"@\",\"p\":\"PAD\"}",
            ] {
                for padding in ["", pad.as_str()] {
                    let t = template.replace("PAD", padding);
                    let at = t.find('@').unwrap();
                    let mut line = t.as_bytes()[..at].to_vec();
                    line.extend_from_slice(bytes);
                    line.extend_from_slice(&t.as_bytes()[at + 1..]);
                    let (mut a, mut b) = (vec![Value::Null; 5], vec![Value::Null; 5]);
                    let fast = d.decode(&line, &mut a);
                    let general = d.decode_general(&line, &mut b);
                    assert_eq!(
                        fast,
                        general,
                        "case {i}: {}",
                        String::from_utf8_lossy(&line)
                    );
                    if fast.is_ok() {
                        assert_eq!(a, b);
                    }
                }
            }
        }
    }

    fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("user_id"),
            Just("fare"),
            Just("n"),
            Just("ok"),
            Just("event_time"),
            Just("USER_ID"),
            Just("other"),
            Just("u\\ser"),
        ];
        let value = prop_oneof![
            "\"[a-z0-9 é]{0,6}\"",
            "\"[a-z]{0,3}\\\\n[a-z]{0,3}\"",
            "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?",
            Just("-0".to_string()),
            Just("-0.0".to_string()),
            Just("0.09985601656007195".to_string()),
            "0[0-9]{1,3}",
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
            Just("[1,{\"a\":2}]".to_string()),
            Just("{}".to_string()),
            Just("\"1970-01-01T00:00:01Z\"".to_string()),
            Just("\"1700000000000\"".to_string()),
        ];
        (key, value, "[ ]{0,2}").prop_map(|(k, v, ws)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"))
    }

    #[test]
    fn kafka_key_and_header_columns_are_kept() {
        let mut p = plan();
        p.source.connector = SourceConnector::Kafka {
            cluster: "c".into(),
            topic: "t".into(),
            group_id: "g".into(),
            start: planner::job::StartPosition::Earliest,
            idle_timeout_ms: 0,
            key_column: Some(0),
            header_columns: vec![("h".into(), 2)],
        };
        let mut d = JsonDecoder::new(&p);
        let mut row = vec![Value::Null; 5];
        row[0] = Value::Str("key".into());
        row[2] = Value::Int(7);
        for line in [
            r#"{"event_time":5}"#,
            r#"{"event_time":5,"user_id":"x","n":1,"fare":1.5}"#,
        ] {
            d.decode(line.as_bytes(), &mut row).unwrap();
            assert_eq!(row[0], Value::Str("key".into()));
            assert_eq!(row[2], Value::Int(7));
            d.decode_general(line.as_bytes(), &mut row).unwrap();
            assert_eq!(row[0], Value::Str("key".into()));
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            decode(r#"{"user_id":"u1","event_time":5"#),
            Err(RecordError::Malformed(_))
        ));
        assert!(matches!(decode(r#"[1,2]"#), Err(RecordError::Malformed(_))));
        assert_eq!(
            decode(r#"{"event_time":5}"#),
            Err(RecordError::MissingRequired("user_id".into()))
        );
        assert_eq!(
            decode(r#"{"user_id":null,"event_time":5}"#),
            Err(RecordError::MissingRequired("user_id".into()))
        );
        let e = decode(r#"{"user_id":"u","fare":"cheap","event_time":5}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `fare`: expected float, found string \"cheap\""
        );
        assert!(matches!(
            decode(r#"{"user_id":"u","event_time":"noon"}"#),
            Err(RecordError::BadTimestamp { .. })
        ));
        assert!(matches!(
            decode(r#"{"user_id":"u","n":1.5,"event_time":5}"#),
            Err(RecordError::WrongType { .. })
        ));
    }
}
