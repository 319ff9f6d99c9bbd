//! CSV decoding with `csv-core`: RFC 4180 quoting, one record per line, columns matched to
//! the schema by the file's header line (so column order in files may vary).

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use planner::job::Column;
use planner::types::Value;
use planner::SourcePlan;

use super::{check_required, required_columns, value_from_text, RecordError};

/// Decodes CSV lines.
pub struct CsvDecoder {
    columns: Vec<Column>,
    needed: Vec<bool>,
    required: Vec<usize>,
    /// Field position → column index (None: not in the schema or not needed).
    mapping: Vec<Option<usize>>,
    reader: Reader,
    field: Vec<u8>,
}

impl CsvDecoder {
    /// A decoder for a planned source; call [`CsvDecoder::set_header`] per file.
    pub fn new(plan: &SourcePlan) -> Self {
        let delimiter = plan.source.format_options.delimiter;
        CsvDecoder {
            columns: plan.source.columns.clone(),
            needed: plan.needed.clone(),
            required: required_columns(&plan.source),
            mapping: Vec::new(),
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            field: vec![0; 256],
        }
    }

    /// Reads the header line of a file.
    pub fn set_header(&mut self, line: &[u8]) -> Result<(), RecordError> {
        let names = self.fields(line)?;
        self.mapping = names
            .iter()
            .map(|n| {
                let n = n.trim();
                self.columns
                    .iter()
                    .position(|c| c.name == n)
                    .or_else(|| {
                        self.columns
                            .iter()
                            .position(|c| c.name.eq_ignore_ascii_case(n))
                    })
                    .filter(|i| self.needed[*i])
            })
            .collect();
        Ok(())
    }

    fn fields(&mut self, line: &[u8]) -> Result<Vec<String>, RecordError> {
        let mut out = Vec::new();
        self.for_each_field(line, |_, f| {
            out.push(String::from_utf8_lossy(f).into_owned());
            Ok(())
        })?;
        Ok(out)
    }

    fn for_each_field(
        &mut self,
        line: &[u8],
        mut f: impl FnMut(usize, &[u8]) -> Result<(), RecordError>,
    ) -> Result<(), RecordError> {
        self.reader.reset();
        let mut input = line;
        let mut index = 0;
        let mut len = 0;
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
                        f(index, &self.field[..len])?;
                    }
                    return Ok(());
                }
                ReadFieldResult::InputEmpty => {}
                ReadFieldResult::Field { record_end } => {
                    f(index, &self.field[..len])?;
                    index += 1;
                    len = 0;
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
        let result = self.for_each_field(line, |pos, bytes| {
            count = pos + 1;
            let Some(Some(ci)) = mapping.get(pos) else {
                return Ok(());
            };
            if bytes.is_empty() {
                return Ok(());
            }
            let text = std::str::from_utf8(bytes)
                .map_err(|_| RecordError::Malformed("field is not UTF-8".into()))?;
            row[*ci] = value_from_text(&columns[*ci], text)?;
            Ok(())
        });
        self.mapping = mapping;
        self.columns = columns;
        // Quotes inside a quoted field are doubled, so an odd count leaves one open: the
        // field went on past the line break, and records are read one per line.
        if memchr::memchr_iter(b'"', line).count() % 2 == 1 {
            return Err(RecordError::Malformed(
                "a quoted field is not closed on its line: freshet reads one CSV record per line, so a field cannot hold a line break (hint: write line breaks in fields as an escape such as \\n, or use JSON lines)".into(),
            ));
        }
        result?;
        if count != self.mapping.len() {
            return Err(RecordError::Malformed(format!(
                "{count} fields, but the header has {}",
                self.mapping.len()
            )));
        }
        check_required(&self.columns, &self.required, row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::job::{Format, OnError, Source, SourceConnector};
    use planner::types::DataType;

    fn decoder() -> CsvDecoder {
        let col = |name: &str, ty, required| Column {
            name: name.into(),
            ty,
            required,
        };
        CsvDecoder::new(&SourcePlan {
            source: Source {
                name: "e".into(),
                connector: SourceConnector::File { path: "x".into() },
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
        d.set_header(b"event_time,extra,user_id,fare").unwrap();
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

    /// `NaN`, `inf` and `1e400` parse as Rust floats but are no values a float column may
    /// hold: wrong type (a NULL would have been taken for a missing value by every
    /// aggregate of the window).
    #[test]
    fn non_finite_floats_are_wrong_types() {
        let mut d = decoder();
        d.set_header(b"user_id,fare,event_time").unwrap();
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
        d.set_header(b"user_id,fare,event_time").unwrap();
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

    #[test]
    fn bad_rows_are_errors() {
        let mut d = decoder();
        d.set_header(b"user_id,fare,event_time").unwrap();
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
