//! CSV decoding with `csv-core`: RFC 4180 quoting, one record per line, columns matched to
//! the schema by the file's header line (so column order in files may vary).

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use planner::job::{Column, SourceConnector};
use planner::types::{DataType, Value};
use planner::SourcePlan;

use super::{check_required, connector_columns, required_columns, value_from_text, RecordError};

/// Decodes CSV lines.
pub struct CsvDecoder {
    columns: Vec<Column>,
    needed: Vec<bool>,
    required: Vec<usize>,
    /// Field position → column index (None: not in the schema or not needed).
    mapping: Vec<Option<usize>>,
    /// Fields are the schema's columns in order (messages), not named by a header.
    positional: bool,
    reader: Reader,
    field: Vec<u8>,
    delimiter: u8,
    /// Why the current file's header is unusable (its records are malformed).
    bad_header: Option<String>,
}

impl CsvDecoder {
    /// A decoder for a planned source. Files and S3 objects start with a header line: call
    /// [`CsvDecoder::set_header`] per file. A message (Kafka, Kinesis) has no header: its
    /// fields are the schema's columns in declared order, less those filled from the
    /// message's key and headers (as Flink's `csv` format reads them).
    pub fn new(plan: &SourcePlan) -> Self {
        let delimiter = plan.source.format_options.delimiter;
        let positional = matches!(
            plan.source.connector,
            SourceConnector::Kafka { .. } | SourceConnector::Kinesis { .. }
        );
        // Columns filled from the message's key and headers are neither read nor reset.
        let from_meta = connector_columns(&plan.source);
        let mut needed = plan.needed.clone();
        for &c in &from_meta {
            needed[c] = false;
        }
        let mapping = match positional {
            true => (0..plan.source.columns.len())
                .filter(|c| !from_meta.contains(c))
                .map(|c| needed[c].then_some(c))
                .collect(),
            false => Vec::new(),
        };
        CsvDecoder {
            columns: plan.source.columns.clone(),
            needed,
            required: required_columns(&plan.source),
            mapping,
            positional,
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            field: vec![0; 256],
            delimiter,
            bad_header: None,
        }
    }

    /// Whether each file starts with a header line (not so for messages).
    pub fn has_header(&self) -> bool {
        !self.positional
    }

    /// Reads the header line of a file and matches its names to the schema's columns: a
    /// name equal to a column's wins over one equal but for case (as in JSON objects).
    ///
    /// Returns the header's problems, for a warning naming the file. A header that names a
    /// needed column twice, or lacks a required one, is unusable: every record of the file
    /// is then a `malformed` record with the reason (nothing is read wrongly or lost). A
    /// needed column the header lacks is NULL in every record of the file (older files may
    /// predate a column), which the returned warning says.
    pub fn set_header(&mut self, line: &[u8]) -> Vec<String> {
        let names: Vec<String> = self
            .fields(line)
            .into_iter()
            .map(|n| n.trim().to_string())
            .collect();
        let find = |n: &str| {
            let exact = self.columns.iter().position(|c| c.name == n);
            exact.map(|i| (i, true)).or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(n))
                    .map(|i| (i, false))
            })
        };
        let found: Vec<Option<(usize, bool)>> = names.iter().map(|n| find(n)).collect();
        // Per column, the field that fills it: an exact name wins over other-case names.
        let mut field_of: Vec<Option<usize>> = vec![None; self.columns.len()];
        let mut problems = Vec::new();
        let mut unusable = Vec::new();
        // Required columns the header lacks, each with a hint: said in one sentence.
        let mut missing = Vec::new();
        let listed = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for (ci, column) in self.columns.iter().enumerate() {
            if !self.needed[ci] {
                continue;
            }
            let exact: Vec<usize> = (0..names.len())
                .filter(|&p| found[p] == Some((ci, true)))
                .collect();
            let other: Vec<usize> = (0..names.len())
                .filter(|&p| found[p] == Some((ci, false)))
                .collect();
            let candidates = if exact.is_empty() { &other } else { &exact };
            match candidates.as_slice() {
                [] => {
                    let hint =
                        planner::error::closest(&column.name, names.iter().map(String::as_str))
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                    if column.required {
                        missing.push((column.name.clone(), hint));
                    } else {
                        problems.push(format!(
                            "the CSV header has no column `{}`{hint}: it is NULL in every record of this file; the header's names are {listed}",
                            column.name
                        ));
                    }
                }
                [p] => field_of[ci] = Some(*p),
                [p, q, ..] => unusable.push(format!(
                    "names column `{}` twice (fields {} and {}: `{}` and `{}`)",
                    column.name,
                    p + 1,
                    q + 1,
                    names[*p],
                    names[*q]
                )),
            }
        }
        match missing.as_slice() {
            [] => {}
            [(name, hint)] => unusable.insert(
                0,
                format!("has no column `{name}`, which is required{hint}; its names are {listed}"),
            ),
            many => {
                let names: Vec<String> = many.iter().map(|(n, h)| format!("`{n}`{h}")).collect();
                unusable.insert(
                    0,
                    format!(
                        "has no columns {}, which are required; its names are {listed}",
                        names.join(", ")
                    ),
                );
            }
        }
        self.mapping = vec![None; names.len()];
        for (ci, p) in field_of.iter().enumerate() {
            if let Some(p) = p {
                self.mapping[*p] = Some(ci);
            }
        }
        self.bad_header = None;
        if !unusable.is_empty() {
            let what = unusable.join("; it ");
            problems.insert(
                0,
                format!("the CSV header {what}: every record of this file is a malformed record (hint: correct the header line)"),
            );
            self.bad_header = Some(format!(
                "the file's CSV header {what} (hint: correct the header line)"
            ));
        }
        problems
    }

    fn fields(&mut self, line: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let read = self.for_each_field(line, |_, f, _| {
            out.push(String::from_utf8_lossy(f).into_owned());
            Ok(())
        });
        debug_assert!(read.is_ok(), "the header's callback does not fail");
        out
    }

    fn for_each_field(
        &mut self,
        line: &[u8],
        mut f: impl FnMut(usize, &[u8], bool) -> Result<(), RecordError>,
    ) -> Result<(), RecordError> {
        self.reader.reset();
        let mut input = line;
        let mut index = 0;
        let mut len = 0;
        // Whether the field being read started with a quote (`""` is an empty string, an
        // empty unquoted field is NULL).
        let mut quoted = line.first() == Some(&b'"');
        loop {
            let (result, nin, nout) = self.reader.read_field(input, &mut self.field[len..]);
            input = &input[nin..];
            len += nout;
            match result {
                ReadFieldResult::OutputFull => {
                    let grow = self.field.len();
                    self.field.resize(grow * 2, 0);
                }
                ReadFieldResult::InputEmpty if input.is_empty() => {
                    // End of line: signal end of record to the reader.
                    let (result, _, nout) = self.reader.read_field(&[], &mut self.field[len..]);
                    len += nout;
                    if let ReadFieldResult::Field { .. } = result {
                        f(index, &self.field[..len], quoted)?;
                    }
                    return Ok(());
                }
                ReadFieldResult::InputEmpty => {}
                ReadFieldResult::Field { record_end } => {
                    f(index, &self.field[..len], quoted)?;
                    index += 1;
                    len = 0;
                    quoted = input.first() == Some(&b'"');
                    if record_end {
                        return Ok(());
                    }
                }
                ReadFieldResult::End => return Ok(()),
            }
        }
    }

    /// Decodes a record line into `row`.
    pub fn decode(&mut self, line: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        for (i, v) in row.iter_mut().enumerate() {
            if self.needed[i] {
                *v = Value::Null;
            }
        }
        let mapping = std::mem::take(&mut self.mapping);
        let columns = std::mem::take(&mut self.columns);
        let mut count = 0;
        // The first bad field; the rest are still counted, since a wrong number of fields
        // says more about a record than the first field that did not fit its column.
        let mut bad: Option<RecordError> = None;
        let read = self.for_each_field(line, |pos, bytes, quoted| {
            count = pos + 1;
            let Some(Some(ci)) = mapping.get(pos) else {
                return Ok(());
            };
            if bad.is_some() {
                return Ok(());
            }
            if bytes.is_empty() {
                // An empty field is NULL, but `""` in a string column is the empty string
                // (as in PostgreSQL's and Spark's CSV readers).
                if quoted && columns[*ci].ty == DataType::String {
                    row[*ci] = Value::Str("".into());
                }
                return Ok(());
            }
            let value = std::str::from_utf8(bytes)
                .map_err(|_| RecordError::Malformed("field is not UTF-8".into()))
                .and_then(|text| csv_value(&columns[*ci], text));
            match value {
                Ok(v) => row[*ci] = v,
                Err(e) => bad = Some(e),
            }
            Ok(())
        });
        debug_assert!(read.is_ok(), "the field callback does not fail");
        self.mapping = mapping;
        self.columns = columns;
        if let Some(reason) = &self.bad_header {
            return Err(RecordError::Malformed(reason.clone()));
        }
        // Quotes inside a quoted field are doubled, so an odd count leaves one open: the
        // field went on past the line break, and records are read one per line. Unless
        // the odd quote is inside a field that does not start with one (`a"b`).
        if memchr::memchr_iter(b'"', line).count() % 2 == 1 {
            if let Some(field) = stray_quote(line, self.delimiter) {
                return Err(RecordError::Malformed(format!(
                    "field {field} holds a quote but does not start with one (hint: quote the field and double the quotes inside it, e.g. `\"a\"\"b\"` for a\"b)"
                )));
            }
            return Err(RecordError::Malformed(
                "a quoted field is not closed on its line: freshet reads one CSV record per line, so a field cannot hold a line break (hint: write line breaks in fields as an escape such as \\n, or use JSON lines)".into(),
            ));
        }
        if count != self.mapping.len() {
            return Err(RecordError::Malformed(match self.positional {
                false => format!("{count} fields, but the header has {}", self.mapping.len()),
                true => format!(
                    "{count} fields, but the schema declares {} (a message's CSV fields are the schema's columns in order{})",
                    self.mapping.len(),
                    match self.mapping.len() == self.columns.len() {
                        true => "",
                        false => ", less those filled from the message's key and headers",
                    }
                ),
            }));
        }
        if let Some(e) = bad {
            return Err(e);
        }
        check_required(&self.columns, &self.required, row)
    }
}

/// A field's value as its column's type. A timestamp may also be written as a number
/// with a fraction or an exponent that is a whole number of milliseconds (`1000.0`,
/// `1.7e12`), as in JSON.
fn csv_value(col: &Column, text: &str) -> Result<Value, RecordError> {
    let value = value_from_text(col, text);
    if col.ty == DataType::Timestamp && value.is_err() {
        if let Ok(f) = text.trim().parse::<f64>() {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                return Ok(Value::Ts(f as i64));
            }
        }
    }
    value
}

/// The 1-based number of the first field of `line` that does not start with a quote but
/// holds one (other than a last character that may close a field begun on an earlier
/// line), if any.
fn stray_quote(line: &[u8], delimiter: u8) -> Option<usize> {
    let mut field = 1;
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            // A quoted field: up to its closing quote (`""` is a quote inside it).
            i += 1;
            loop {
                match line.get(i) {
                    None => return None,
                    Some(b'"') if line.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
        }
        let end = line[i.min(line.len())..]
            .iter()
            .position(|b| *b == delimiter)
            .map_or(line.len(), |p| i + p);
        // (A field whose only quote ends it, `x"`, may close a quoted field begun on an
        // earlier line: that is the other message's case.)
        let unquoted = &line[i.min(end)..end];
        let quotes = memchr::memchr_iter(b'"', unquoted).count();
        let closing = quotes == 1 && unquoted.last() == Some(&b'"');
        if quotes > 0 && unquoted.first() != Some(&b'"') && !closing {
            return Some(field);
        }
        if end >= line.len() {
            return None;
        }
        i = end + 1;
        field += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::job::{Format, OnError, Source};

    fn decoder() -> CsvDecoder {
        decoder_on(SourceConnector::File { path: "x".into() })
    }

    fn decoder_on(connector: SourceConnector) -> CsvDecoder {
        let col = |name: &str, ty, required| Column {
            name: name.into(),
            ty,
            required,
        };
        CsvDecoder::new(&SourcePlan {
            source: Source {
                name: "e".into(),
                connector,
                format: Format::Csv,
                columns: vec![
                    col("user_id", DataType::String, true),
                    col("fare", DataType::Float, false),
                    col("event_time", DataType::Timestamp, true),
                ],
                event_time: 2,
                watermark_delay_ms: 0,
                on_error: OnError::DeadLetter,
                format_options: Default::default(),
                bounded: false,
            },
            needed: vec![true; 3],
        })
    }

    #[test]
    fn decodes_by_header_order_with_quotes() {
        let mut d = decoder();
        assert!(d.set_header(b"event_time,extra,user_id,fare").is_empty());
        let mut row = vec![Value::Null; 3];
        d.decode(b"1000,\"x, y\",\"u \"\"1\"\"\",2.5", &mut row)
            .unwrap();
        assert_eq!(
            row,
            vec![
                Value::Str("u \"1\"".into()),
                Value::Float(2.5),
                Value::Ts(1000)
            ]
        );
        d.decode(b"2000,,u2,", &mut row).unwrap();
        assert_eq!(row[1], Value::Null);
    }

    /// A Kafka message has no header: its fields are the schema's columns in order, less
    /// the one the message key fills.
    #[test]
    fn messages_are_read_in_schema_order() {
        let kafka = |key_column| SourceConnector::Kafka {
            cluster: "c".into(),
            topic: "t".into(),
            group_id: "g".into(),
            start: planner::job::StartPosition::Earliest,
            idle_timeout_ms: 0,
            key_column,
            header_columns: Vec::new(),
        };
        let mut d = decoder_on(kafka(None));
        assert!(!d.has_header());
        let mut row = vec![Value::Null; 3];
        d.decode(b"u1,2.5,1000", &mut row).unwrap();
        assert_eq!(
            row,
            vec![Value::Str("u1".into()), Value::Float(2.5), Value::Ts(1000)]
        );
        match d.decode(b"u1,1000", &mut row) {
            Err(RecordError::Malformed(m)) => {
                assert!(m.starts_with("2 fields, but the schema declares 3"), "{m}")
            }
            other => panic!("{other:?}"),
        }

        let mut d = decoder_on(kafka(Some(0)));
        let mut row = vec![Value::Str("from the key".into()), Value::Null, Value::Null];
        d.decode(b"2.5,1000", &mut row).unwrap();
        assert_eq!(
            row,
            vec![
                Value::Str("from the key".into()),
                Value::Float(2.5),
                Value::Ts(1000)
            ]
        );
        match d.decode(b"u1,2.5,1000", &mut row) {
            Err(RecordError::Malformed(m)) => assert!(
                m.contains("less those filled from the message's key"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(decoder().has_header());
    }

    /// `""` is an empty string in a string column; an empty field is NULL, and so is `""`
    /// in other columns.
    #[test]
    fn a_quoted_empty_field_is_an_empty_string() {
        let mut d = decoder();
        assert!(d.set_header(b"fare,user_id,event_time").is_empty());
        let mut row = vec![Value::Null; 3];
        d.decode(b"\"\",\"\",1000", &mut row).unwrap();
        assert_eq!(row[0], Value::Str("".into()));
        assert_eq!(row[1], Value::Null);
        d.decode(b"2.5,\"\"\"\"\"\",1000", &mut row).unwrap();
        assert_eq!(row[0], Value::Str("\"\"".into()));
        assert_eq!(row[1], Value::Float(2.5));
        // The last field, and fields after a quoted one.
        assert!(d.set_header(b"event_time,fare,user_id").is_empty());
        d.decode(b"\"1000\",,\"\"", &mut row).unwrap();
        assert_eq!(
            row,
            vec![Value::Str("".into()), Value::Null, Value::Ts(1000)]
        );
        assert!(matches!(
            d.decode(b"1000,,", &mut row),
            Err(RecordError::MissingRequired(c)) if c == "user_id"
        ));
    }

    /// A header without a needed column: NULL in every record, and a warning says so. One
    /// without a required column, or naming a column twice, makes every record malformed
    /// with the reason; the next file's header is read afresh.
    #[test]
    fn header_problems_are_reported_and_bad_headers_keep_every_record() {
        let mut d = decoder();
        let mut row = vec![Value::Null; 3];
        let problems = d.set_header(b"user_id,event_time,fares_eur");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("no column `fare`")
                && problems[0].contains("NULL in every record"),
            "{problems:?}"
        );
        d.decode(b"u1,1000,2.5", &mut row).unwrap();
        assert_eq!(row[1], Value::Null);

        let problems = d.set_header(b"userid,fare,event_time");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("did you mean `userid`?"),
            "{problems:?}"
        );
        match d.decode(b"u1,2.5,1000", &mut row) {
            Err(RecordError::Malformed(m)) => assert!(
                m.contains("has no column `user_id`, which is required"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }

        let problems = d.set_header(b"user_id,Fare,event_time,FARE");
        assert!(
            problems[0].contains("names column `fare` twice (fields 2 and 4"),
            "{problems:?}"
        );
        assert!(matches!(
            d.decode(b"u1,2.5,1000,3.5", &mut row),
            Err(RecordError::Malformed(_))
        ));

        // An exact name wins over one in another case.
        assert!(d.set_header(b"user_id,FARE,event_time,fare").is_empty());
        d.decode(b"u1,2.5,1000,3.5", &mut row).unwrap();
        assert_eq!(row[1], Value::Float(3.5));
    }

    /// `NaN`, `inf` and `1e400` parse as Rust floats but are no values a float column may
    /// hold: wrong type (a NULL would have been taken for a missing value by every
    /// aggregate of the window).
    #[test]
    fn non_finite_floats_are_wrong_types() {
        let mut d = decoder();
        assert!(d.set_header(b"user_id,fare,event_time").is_empty());
        let mut row = vec![Value::Null; 3];
        for bad in ["NaN", "nan", "inf", "-infinity", "1e400"] {
            let line = format!("u1,{bad},1000");
            assert!(
                matches!(
                    d.decode(line.as_bytes(), &mut row),
                    Err(RecordError::WrongType { .. })
                ),
                "{bad}"
            );
        }
        d.decode(b"u1,1e300,1000", &mut row).unwrap();
        assert_eq!(row[1], Value::Float(1e300));
    }

    #[test]
    fn a_field_spanning_lines_is_named_as_such() {
        let mut d = decoder();
        assert!(d.set_header(b"user_id,fare,event_time").is_empty());
        let mut row = vec![Value::Null; 3];
        // Both halves of a record whose quoted field holds a line break; the second would
        // otherwise decode (3 fields) with the quote swallowed.
        for half in [&b"u1,\"2.5"[..], b"x\",1.0,1000"] {
            match d.decode(half, &mut row) {
                Err(RecordError::Malformed(m)) => {
                    assert!(m.contains("quoted field is not closed on its line"), "{m}")
                }
                other => panic!("{other:?}"),
            }
        }
        d.decode(b"u1,\"2.5\",1000", &mut row).unwrap();
        assert_eq!(row[1], Value::Float(2.5));
    }

    /// A quote inside a field that does not start with one is named as such (it had been
    /// reported as a quoted field holding a line break).
    #[test]
    fn a_stray_quote_in_an_unquoted_field_is_named_as_such() {
        let mut d = decoder();
        assert!(d.set_header(b"event_time,user_id,fare").is_empty());
        let mut row = vec![Value::Null; 3];
        match d.decode(b"10000,a\"11,1", &mut row) {
            Err(RecordError::Malformed(m)) => assert!(
                m.starts_with("field 2 holds a quote but does not start with one")
                    && m.contains("double the quotes"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(stray_quote(b"\"a\"\"b\",c\"d", b','), Some(2));
        assert_eq!(stray_quote(b"\"a,b\",\"c", b','), None);
        assert_eq!(stray_quote(b"x;y\"y;z", b';'), Some(2));
        assert_eq!(stray_quote(b"x\",1", b','), None);
    }

    /// A header lacking several required columns says so in one sentence, listing the
    /// header's names once.
    #[test]
    fn a_header_lacking_required_columns_lists_its_names_once() {
        let mut d = decoder();
        let problems = d.set_header(b"userid,fare");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(
                "has no columns `user_id` (did you mean `userid`?), `event_time`, which are required; its names are `userid`, `fare`"
            ),
            "{problems:?}"
        );
        assert_eq!(problems[0].matches("its names are").count(), 1);
    }

    /// A timestamp field may be written as a whole number of milliseconds with a fraction
    /// or exponent, as in JSON; other fractions are bad timestamps.
    #[test]
    fn csv_timestamps_take_the_numbers_json_takes() {
        let mut d = decoder();
        assert!(d.set_header(b"user_id,fare,event_time").is_empty());
        let mut row = vec![Value::Null; 3];
        for (text, ms) in [
            ("1e3", 1000),
            ("1000.0", 1000),
            ("1.7040672e12", 1_704_067_200_000),
        ] {
            d.decode(format!("u,1,{text}").as_bytes(), &mut row)
                .unwrap();
            assert_eq!(row[2], Value::Ts(ms), "{text}");
        }
        for bad in ["1000.5", "1e400", "NaN", "inf"] {
            assert!(
                matches!(
                    d.decode(format!("u,1,{bad}").as_bytes(), &mut row),
                    Err(RecordError::BadTimestamp { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_rows_are_errors() {
        let mut d = decoder();
        assert!(d.set_header(b"user_id,fare,event_time").is_empty());
        let mut row = vec![Value::Null; 3];
        assert!(matches!(
            d.decode(b"u1,2.5", &mut row),
            Err(RecordError::Malformed(_))
        ));
        assert!(matches!(
            d.decode(b"u1,abc,5", &mut row),
            Err(RecordError::WrongType { .. })
        ));
        assert!(matches!(
            d.decode(b",1.0,5", &mut row),
            Err(RecordError::MissingRequired(_))
        ));
    }
}
