//! Record formats: decoders from bytes to rows (JSON, CSV, Avro, Protobuf) and the JSON
//! encoder for feature rows. Decoders are schema-driven: they decode only the columns the
//! plan needs straight into a reused row (JSON and CSV without an intermediate document
//! tree). Avro and Protobuf decode one message (a Kafka record's payload) at a time.

pub mod avro;
pub mod csv;
pub mod encode;
pub mod json;
mod json_fast;
pub mod protobuf;
#[cfg(test)]
mod test_support;

use std::fmt;

use planner::job::{Column, Format, Source, SourceConnector};
use planner::types::{parse_timestamp, DataType, Value};
use planner::SourcePlan;

/// Why a record could not be decoded. Every variant becomes a dead letter with this text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Not valid JSON / CSV, not an object, or bytes that are not a datum / message of
    /// the Avro / Protobuf schema.
    Malformed(String),
    /// A required column is absent or null.
    MissingRequired(String),
    /// A value of the wrong type.
    WrongType {
        /// Column.
        column: String,
        /// Declared type.
        expected: DataType,
        /// What was found.
        found: String,
    },
    /// A timestamp that is neither epoch milliseconds nor RFC 3339.
    BadTimestamp {
        /// Column.
        column: String,
        /// The text.
        text: String,
    },
    /// An event time outside [`EVENT_TIME_RANGE`]: timely's clock is unsigned epoch
    /// milliseconds, and window ends and lateness must not overflow it.
    EventTimeOutOfRange {
        /// The event-time column.
        column: String,
        /// Its value, epoch milliseconds.
        millis: i64,
    },
}

/// The event times a record may carry, epoch milliseconds: 1970-01-01T00:00:00Z up to
/// 9999-12-31T23:59:59.999Z. Before 1970 there is no event-time clock (timely's
/// timestamps are unsigned); past year 9999 window ends plus lateness could overflow it.
pub const EVENT_TIME_RANGE: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;

impl RecordError {
    /// Short machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordError::Malformed(_) => "malformed",
            RecordError::MissingRequired(_) => "missing_required",
            RecordError::WrongType { .. } => "wrong_type",
            RecordError::BadTimestamp { .. } | RecordError::EventTimeOutOfRange { .. } => {
                "bad_timestamp"
            }
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Malformed(m) => write!(f, "malformed record: {m}"),
            RecordError::MissingRequired(c) => write!(f, "required column `{c}` is missing or null"),
            RecordError::WrongType { column, expected, found } => {
                write!(f, "column `{column}`: expected {expected}, found {found}")
            }
            RecordError::BadTimestamp { column, text } => write!(
                f,
                "column `{column}`: cannot parse timestamp `{text}` (expected epoch milliseconds or RFC 3339)"
            ),
            RecordError::EventTimeOutOfRange { column, millis } => {
                let when = chrono::DateTime::from_timestamp_millis(*millis)
                    .map_or_else(String::new, |d| format!(" ({})", d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
                write!(
                    f,
                    "column `{column}`: event time {millis} ms{when} is outside the supported range \
                     1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (hint: event times are epoch \
                     milliseconds; check the producer's clock and the column's unit)"
                )
            }
        }
    }
}

impl std::error::Error for RecordError {}

/// A decoder for one source's records (one per worker and source: the size difference
/// between variants does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Decoder {
    /// JSON lines.
    Json(json::JsonDecoder),
    /// CSV with a header.
    Csv(csv::CsvDecoder),
    /// Avro binary datums.
    Avro(avro::AvroDecoder),
    /// Protobuf messages.
    Protobuf(protobuf::ProtobufDecoder),
    /// Rows a reader decodes itself (Parquet files): only required columns are checked.
    Rows {
        /// The source's columns.
        columns: Vec<Column>,
        /// Indices of its required columns.
        required: Vec<usize>,
    },
}

impl Decoder {
    /// A decoder for a source. CSV decoders learn their column order from each file's header
    /// (see [`Decoder::set_header`]).
    ///
    /// Fails when a schema file (Avro, Protobuf) cannot be read or does not match the
    /// source's declared columns.
    pub fn new(plan: &SourcePlan) -> Result<Self, String> {
        match plan.source.format {
            Format::Json => Ok(Decoder::Json(json::JsonDecoder::new(plan))),
            Format::Csv => Ok(Decoder::Csv(csv::CsvDecoder::new(plan))),
            Format::Avro => Ok(Decoder::Avro(avro::AvroDecoder::new(plan)?)),
            Format::Protobuf => Ok(Decoder::Protobuf(protobuf::ProtobufDecoder::new(plan)?)),
            Format::Parquet => Ok(Decoder::Rows {
                columns: plan.source.columns.clone(),
                required: required_columns(&plan.source),
            }),
        }
    }

    /// Whether each file starts with a header line.
    pub fn has_header(&self) -> bool {
        matches!(self, Decoder::Csv(c) if c.has_header())
    }

    /// Sets the header (CSV only) for the file being read; returns its problems, for a
    /// warning naming the file (see [`csv::CsvDecoder::set_header`]).
    pub fn set_header(&mut self, line: &[u8]) -> Vec<String> {
        match self {
            Decoder::Json(_) | Decoder::Avro(_) | Decoder::Protobuf(_) | Decoder::Rows { .. } => {
                Vec::new()
            }
            Decoder::Csv(c) => c.set_header(line),
        }
    }

    /// Decodes one line (JSON, CSV) or message payload (Avro, Protobuf) into `row` (width =
    /// number of source columns; unneeded columns stay NULL).
    #[inline]
    pub fn decode(&mut self, line: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        match self {
            Decoder::Json(d) => d.decode(line, row),
            Decoder::Csv(d) => d.decode(line, row),
            Decoder::Avro(d) => d.decode(line, row),
            Decoder::Protobuf(d) => d.decode(line, row),
            Decoder::Rows { .. } => Err(RecordError::Malformed(
                "a table source delivers rows, not lines".into(),
            )),
        }
    }

    /// Checks a row a reader decoded itself ([`crate::source::Item::Row`]): its required
    /// columns.
    pub fn check_row(&self, row: &[Value]) -> Result<(), RecordError> {
        match self {
            Decoder::Rows { columns, required } => check_required(columns, required, row),
            _ => Ok(()),
        }
    }
}

/// A decoded row as a dead letter shows it: a JSON object of its non-NULL values, in
/// schema order.
pub fn row_text(columns: &[Column], values: &[Value]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_null())
        .map(|(c, v)| {
            format!(
                "{}:{}",
                serde_json::Value::String(c.name.clone()),
                v.to_json()
            )
        })
        .collect();
    // In schema order (a `serde_json::Map` would sort the names).
    format!("{{{}}}", fields.join(","))
}

/// Checks required columns after decoding.
#[inline]
pub(crate) fn check_required(
    columns: &[Column],
    required: &[usize],
    row: &[Value],
) -> Result<(), RecordError> {
    for &i in required {
        if row[i].is_null() {
            return Err(RecordError::MissingRequired(columns[i].name.clone()));
        }
    }
    Ok(())
}

/// Converts text (a CSV field or a JSON string) to a typed value.
pub(crate) fn value_from_text(col: &Column, text: &str) -> Result<Value, RecordError> {
    let wrong = || RecordError::WrongType {
        column: col.name.clone(),
        expected: col.ty,
        found: format!("`{text}`"),
    };
    Ok(match col.ty {
        DataType::String => Value::Str(text.into()),
        DataType::Int => Value::Int(text.trim().parse().map_err(|_| wrong())?),
        // `NaN`, `inf` and overflowing numbers (`1e400`) parse as floats in Rust, but are
        // not numbers a source may hold (JSON has no such numbers either): wrong type.
        DataType::Float => Value::Float(
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(wrong)?,
        ),
        DataType::Bool => match text.trim() {
            "true" | "TRUE" | "True" | "1" => Value::Bool(true),
            "false" | "FALSE" | "False" | "0" => Value::Bool(false),
            _ => return Err(wrong()),
        },
        DataType::Timestamp => {
            Value::Ts(
                parse_timestamp(text).ok_or_else(|| RecordError::BadTimestamp {
                    column: col.name.clone(),
                    text: text.into(),
                })?,
            )
        }
        // Not a schema type (DataType::parse never returns it).
        DataType::Array => return Err(wrong()),
    })
}

/// A column filled from message metadata (a Kafka key or header), as its declared type:
/// an absent key or header is NULL, and so is an empty one of a column that is not a
/// string; bytes that are not UTF-8, or text that is not of the
/// type, are a `wrong_type` record (`bad_timestamp` for a timestamp), as a payload field's.
pub fn metadata_value(col: &Column, bytes: Option<&[u8]>) -> Result<Value, RecordError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    // Empty bytes are NULL for a column that is not a string, as an empty CSV field is
    // (some producers send an empty key for none).
    if bytes.is_empty() && col.ty != DataType::String {
        return Ok(Value::Null);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => value_from_text(col, text),
        Err(_) if col.ty == DataType::String => {
            Ok(Value::Str(String::from_utf8_lossy(bytes).as_ref().into()))
        }
        Err(_) => Err(RecordError::WrongType {
            column: col.name.clone(),
            expected: col.ty,
            found: format!("{} bytes that are not UTF-8 text", bytes.len()),
        }),
    }
}

/// Indices of required columns of a source.
pub(crate) fn required_columns(source: &Source) -> Vec<usize> {
    source
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.required)
        .map(|(i, _)| i)
        .collect()
}

/// Columns the connector fills from message metadata (Kafka key and headers) rather than
/// from the payload: schema-checked decoders neither look them up nor overwrite them.
pub(crate) fn connector_columns(source: &Source) -> Vec<usize> {
    match &source.connector {
        SourceConnector::Kafka {
            key_column,
            header_columns,
            ..
        } => key_column
            .iter()
            .copied()
            .chain(header_columns.iter().map(|(_, c)| *c))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod metadata_tests {
    use super::*;

    /// Key and header bytes as their column's type (by hand): text converted as a CSV
    /// field, absent or (for a non-string column) empty bytes NULL, anything else a bad
    /// record naming the column.
    #[test]
    fn metadata_values_have_their_columns_types() {
        let col = |ty| Column {
            name: "c".into(),
            ty,
            required: false,
        };
        let ok = |ty, bytes: Option<&[u8]>| metadata_value(&col(ty), bytes).unwrap();
        assert_eq!(ok(DataType::Int, Some(b"7")), Value::Int(7));
        assert_eq!(ok(DataType::Float, Some(b"2.5")), Value::Float(2.5));
        assert_eq!(ok(DataType::Bool, Some(b"true")), Value::Bool(true));
        assert_eq!(
            ok(DataType::Timestamp, Some(b"1710028801000")),
            Value::Ts(1_710_028_801_000)
        );
        assert_eq!(
            ok(DataType::Timestamp, Some(b"2024-03-10T00:00:02Z")),
            Value::Ts(1_710_028_802_000)
        );
        assert_eq!(ok(DataType::String, Some(b"")), Value::Str("".into()));
        assert_eq!(ok(DataType::Int, Some(b"")), Value::Null);
        assert_eq!(ok(DataType::Int, None), Value::Null);
        assert_eq!(
            ok(DataType::String, Some(b"\xff")),
            Value::Str("\u{fffd}".into())
        );
        for (ty, bytes) in [
            (DataType::Int, &b"x9"[..]),
            (DataType::Int, b"\xff"),
            (DataType::Timestamp, b"soon"),
        ] {
            let e = metadata_value(&col(ty), Some(bytes)).unwrap_err();
            assert!(e.to_string().contains('c'), "{e}");
        }
    }
}
