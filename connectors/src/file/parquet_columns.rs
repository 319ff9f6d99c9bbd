//! A Parquet file's columns read as a source's schema: which top-level field fills each
//! column the job reads, what each file's columns lack, and the conversion of arrow arrays
//! to values.
//!
//! Columns are matched by name (a name equal to the column's wins over one equal but for
//! case, as in JSON objects and CSV headers). Types a column accepts:
//!
//! | declared | arrow types of the file's field |
//! |---|---|
//! | `string` | Utf8, LargeUtf8, Utf8View, dictionaries of them |
//! | `int` | Int8-64, UInt8-64 (a UInt64 above 2^63-1 is a `wrong_type` record) |
//! | `float` | Float32, Float64, and the integer types (a NaN or infinity is a `wrong_type` record) |
//! | `bool` | Boolean |
//! | `timestamp` | Timestamp (any unit, floored to milliseconds), Date32, Date64, Int32/Int64 (epoch ms), and the string types (RFC 3339 or epoch ms, as in JSON) |
//! | any | Null (a column NULL in every row, as pandas writes an all-None column) |
//!
//! A UInt64 past 2^63-1 fits a `float` column (as a large JSON integer does); Float32
//! values widen to the doubles they are (`0.1f32` is `0.10000000149011612`).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType as ArrowType, Schema, TimeUnit};

use planner::job::Column;
use planner::types::{parse_timestamp, DataType, Value};

use crate::RecordError;

/// How a field's values become a column's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conv {
    Str,
    Int,
    Float,
    Bool,
    /// A timestamp of this unit.
    Ts(TimeUnit),
    /// Days since the epoch.
    Date32,
    /// Milliseconds since the epoch, as a date or an integer.
    Millis,
    /// RFC 3339 or epoch milliseconds as text.
    TsText,
    /// A field of type Null: NULL in every row, whatever the column's type.
    Null,
}

fn is_text(t: &ArrowType) -> bool {
    match t {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => true,
        // One level: the dictionary's values are plain text.
        ArrowType::Dictionary(_, v) => {
            matches!(
                **v,
                ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View
            )
        }
        _ => false,
    }
}

fn is_int(t: &ArrowType) -> bool {
    use ArrowType::*;
    matches!(
        t,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
    )
}

/// The conversion from a field of type `t` to a column of type `declared`, if they fit.
pub(crate) fn conv_for(declared: DataType, t: &ArrowType) -> Option<Conv> {
    if *t == ArrowType::Null {
        // A column NULL in every row (what pandas writes for an all-None column).
        return Some(Conv::Null);
    }
    Some(match declared {
        DataType::String if is_text(t) => Conv::Str,
        DataType::Int if is_int(t) => Conv::Int,
        DataType::Float if is_int(t) || matches!(t, ArrowType::Float32 | ArrowType::Float64) => {
            Conv::Float
        }
        DataType::Bool if *t == ArrowType::Boolean => Conv::Bool,
        DataType::Timestamp => match t {
            ArrowType::Timestamp(unit, _) => Conv::Ts(*unit),
            ArrowType::Date32 => Conv::Date32,
            ArrowType::Date64 | ArrowType::Int32 | ArrowType::Int64 => Conv::Millis,
            t if is_text(t) => Conv::TsText,
            _ => return None,
        },
        _ => return None,
    })
}

/// How a file's fields fill the columns the job reads.
#[derive(Debug, Default)]
pub(crate) struct Mapping {
    /// (top-level field index, column index, conversion), by field index.
    pub fields: Vec<(usize, usize, Conv)>,
    /// Warnings: columns the file lacks (NULL in its rows).
    pub problems: Vec<String>,
    /// Why the file's rows cannot be read (a required column missing, a column named twice
    /// or of a type that does not fit): each row is then a `malformed` record.
    pub unusable: Option<String>,
}

/// Matches a file's top-level fields to the needed columns.
pub(crate) fn map_fields(schema: &Schema, columns: &[Column], needed: &[bool]) -> Mapping {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut m = Mapping::default();
    let mut unusable = Vec::new();
    for (ci, column) in columns.iter().enumerate() {
        if !needed[ci] {
            continue;
        }
        let exact: Vec<usize> = (0..names.len())
            .filter(|&i| names[i] == column.name)
            .collect();
        let other: Vec<usize> = (0..names.len())
            .filter(|&i| names[i] != column.name && names[i].eq_ignore_ascii_case(&column.name))
            .collect();
        let candidates = if exact.is_empty() { &other } else { &exact };
        match candidates.as_slice() {
            [] => {
                let hint = planner::error::closest(&column.name, names.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                if column.required {
                    unusable.push(format!(
                        "has no column `{}`, which is required{hint}",
                        column.name
                    ));
                } else {
                    m.problems.push(format!(
                        "the Parquet file has no column `{}`{hint}: it is NULL in every row of this file",
                        column.name
                    ));
                }
            }
            [f] => {
                let t = schema.field(*f).data_type();
                match conv_for(column.ty, t) {
                    Some(conv) => m.fields.push((*f, ci, conv)),
                    None => unusable.push(format!(
                        "has column `{}` of type {t}, which {} column cannot hold",
                        names[*f],
                        match column.ty {
                            DataType::Int => "an int".to_string(),
                            other => format!("a {other}"),
                        }
                    )),
                }
            }
            [f, g, ..] => unusable.push(format!(
                "names column `{}` twice (`{}` and `{}`)",
                column.name, names[*f], names[*g]
            )),
        }
    }
    m.fields.sort_unstable_by_key(|(field, _, _)| *field);
    if !unusable.is_empty() {
        let what = unusable.join("; it ");
        m.problems.insert(
            0,
            format!("the Parquet file {what}: every row of this file is a malformed record (hint: read it with a schema that matches the file)"),
        );
        m.unusable = Some(format!(
            "the Parquet file {what} (hint: read it with a schema that matches the file)"
        ));
    }
    m
}

/// Appends `array`'s values as `column`'s to `out`; for a value that does not fit, its row
/// (index into `array`) and error are pushed to `errors`, and `out` holds its text (the
/// row is a dead letter, whose record shows it).
pub(crate) fn convert(
    array: &ArrayRef,
    conv: Conv,
    column: &Column,
    out: &mut Vec<Value>,
    errors: &mut Vec<(usize, RecordError)>,
) {
    let base = out.len();
    out.reserve(array.len());
    let wrong = |found: String| RecordError::WrongType {
        column: column.name.clone(),
        expected: column.ty,
        found,
    };
    match conv {
        Conv::Str => for_each_text(array, |_, t| {
            out.push(t.map_or(Value::Null, |s| Value::Str(s.into())));
        }),
        Conv::TsText => for_each_text(array, |row, t| {
            out.push(match t.map(|s| (s, parse_timestamp(s))) {
                None => Value::Null,
                Some((_, Some(ms))) => Value::Ts(ms),
                Some((s, None)) => {
                    errors.push((
                        row,
                        RecordError::BadTimestamp {
                            column: column.name.clone(),
                            text: s.to_string(),
                        },
                    ));
                    // The row is a dead letter: its record shows the text.
                    Value::Str(s.into())
                }
            });
        }),
        Conv::Int | Conv::Float | Conv::Millis => for_each_number(array, |row, n| {
            out.push(match (n, conv) {
                (None, _) => Value::Null,
                (Some(Number::Int(i)), Conv::Int) => Value::Int(i),
                (Some(Number::Int(i)), Conv::Millis) => Value::Ts(i),
                (Some(Number::Int(i)), _) => Value::Float(i as f64),
                (Some(Number::Float(f)), _) if f.is_finite() => Value::Float(f),
                (Some(Number::Float(f)), _) => {
                    errors.push((row, wrong(format!("`{f}`"))));
                    Value::Str(f.to_string().into())
                }
                // A float holds it (as JSON's large integers in float columns).
                (Some(Number::TooLarge(u)), Conv::Float) => Value::Float(u as f64),
                (Some(Number::TooLarge(u)), _) => {
                    errors.push((row, wrong(format!("`{u}` (larger than 2^63-1)"))));
                    Value::Str(u.to_string().into())
                }
            });
        }),
        Conv::Null => out.extend((0..array.len()).map(|_| Value::Null)),
        Conv::Bool => {
            let a = array.as_boolean();
            out.extend(a.iter().map(|b| b.map_or(Value::Null, Value::Bool)));
        }
        Conv::Ts(unit) => {
            use arrow_array::types::{
                TimestampMicrosecondType as Us, TimestampMillisecondType as Ms,
                TimestampNanosecondType as Ns, TimestampSecondType as S,
            };
            let ts = |t: Option<i64>| t.map_or(Value::Null, Value::Ts);
            match unit {
                TimeUnit::Second => out.extend(
                    (array.as_primitive::<S>().iter())
                        .map(|t| ts(t.map(|t| t.saturating_mul(1000)))),
                ),
                TimeUnit::Millisecond => out.extend(array.as_primitive::<Ms>().iter().map(ts)),
                TimeUnit::Microsecond => out.extend(
                    (array.as_primitive::<Us>().iter()).map(|t| ts(t.map(|t| t.div_euclid(1000)))),
                ),
                TimeUnit::Nanosecond => out.extend(
                    (array.as_primitive::<Ns>().iter())
                        .map(|t| ts(t.map(|t| t.div_euclid(1_000_000)))),
                ),
            }
        }
        Conv::Date32 => {
            let a = array.as_primitive::<arrow_array::types::Date32Type>();
            out.extend(
                a.iter()
                    .map(|d| d.map_or(Value::Null, |d| Value::Ts(i64::from(d) * 86_400_000))),
            );
        }
    }
    debug_assert_eq!(out.len() - base, array.len());
}

enum Number {
    Int(i64),
    Float(f64),
    TooLarge(u64),
}

/// Calls `f` with each row of an integer or float array (NULL as `None`): one downcast per
/// array, not per value.
fn for_each_number(array: &ArrayRef, mut f: impl FnMut(usize, Option<Number>)) {
    macro_rules! each {
        ($t:ty, $number:expr) => {
            for (row, v) in array.as_primitive::<$t>().iter().enumerate() {
                f(row, v.map($number));
            }
        };
    }
    use arrow_array::types::Date64Type;
    use ArrowType::*;
    match array.data_type() {
        Int8 => each!(Int8Type, |v| Number::Int(v.into())),
        Int16 => each!(Int16Type, |v| Number::Int(v.into())),
        Int32 => each!(Int32Type, |v| Number::Int(v.into())),
        Int64 => each!(Int64Type, Number::Int),
        Date64 => each!(Date64Type, Number::Int),
        UInt8 => each!(UInt8Type, |v| Number::Int(v.into())),
        UInt16 => each!(UInt16Type, |v| Number::Int(v.into())),
        UInt32 => each!(UInt32Type, |v| Number::Int(v.into())),
        UInt64 => each!(UInt64Type, |u| i64::try_from(u)
            .map_or(Number::TooLarge(u), Number::Int)),
        Float32 => each!(Float32Type, |v| Number::Float(v.into())),
        Float64 => each!(Float64Type, Number::Float),
        other => unreachable!("conv_for admits no {other} here"),
    }
}

/// Calls `f` with each row's text of a text array or a dictionary of text (NULL as
/// `None`), borrowed from the array: no string is copied.
fn for_each_text<'a>(array: &'a ArrayRef, mut f: impl FnMut(usize, Option<&'a str>)) {
    fn text_at(array: &dyn Array, i: usize) -> Option<&str> {
        if array.is_null(i) {
            return None;
        }
        Some(match array.data_type() {
            ArrowType::Utf8 => array.as_string::<i32>().value(i),
            ArrowType::LargeUtf8 => array.as_string::<i64>().value(i),
            ArrowType::Utf8View => array.as_string_view().value(i),
            other => unreachable!("conv_for admits no {other} as text"),
        })
    }
    match array.as_any_dictionary_opt() {
        Some(dict) => {
            let values = dict.values().as_ref();
            for (row, key) in dict.normalized_keys().into_iter().enumerate() {
                f(
                    row,
                    if array.is_null(row) {
                        None
                    } else {
                        text_at(values, key)
                    },
                );
            }
        }
        None => match array.data_type() {
            ArrowType::Utf8 => array
                .as_string::<i32>()
                .iter()
                .enumerate()
                .for_each(|(r, t)| f(r, t)),
            ArrowType::LargeUtf8 => array
                .as_string::<i64>()
                .iter()
                .enumerate()
                .for_each(|(r, t)| f(r, t)),
            ArrowType::Utf8View => array
                .as_string_view()
                .iter()
                .enumerate()
                .for_each(|(r, t)| f(r, t)),
            other => unreachable!("conv_for admits no {other} as text"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, Date32Array, Date64Array, DictionaryArray, Float64Array, Int32Array,
        LargeStringArray, NullArray, StringArray, TimestampMicrosecondArray, UInt64Array,
    };
    use arrow_schema::Field;

    use super::*;

    fn col(name: &str, ty: DataType, required: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            required,
        }
    }

    fn run(array: ArrayRef, conv: Conv, c: &Column) -> (Vec<Value>, Vec<(usize, RecordError)>) {
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        convert(&array, conv, c, &mut out, &mut errors);
        (out, errors)
    }

    /// Every accepted arrow type, with NULLs, against values worked out by hand.
    #[test]
    fn arrays_become_values() {
        let s = col("s", DataType::String, false);
        let (v, e) = run(
            Arc::new(StringArray::from(vec![Some("a"), None, Some("")])),
            Conv::Str,
            &s,
        );
        assert_eq!(
            v,
            [Value::Str("a".into()), Value::Null, Value::Str("".into())]
        );
        assert!(e.is_empty());
        let dict: DictionaryArray<arrow_array::types::Int8Type> =
            vec![Some("x"), None, Some("y"), Some("x")]
                .into_iter()
                .collect();
        let (v, _) = run(Arc::new(dict), Conv::Str, &s);
        assert_eq!(
            v,
            [
                Value::Str("x".into()),
                Value::Null,
                Value::Str("y".into()),
                Value::Str("x".into())
            ]
        );

        let i = col("i", DataType::Int, false);
        let (v, e) = run(
            Arc::new(UInt64Array::from(vec![Some(7), None, Some(u64::MAX)])),
            Conv::Int,
            &i,
        );
        assert_eq!(
            v,
            [
                Value::Int(7),
                Value::Null,
                Value::Str("18446744073709551615".into())
            ]
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, 2);
        assert!(
            matches!(&e[0].1, RecordError::WrongType { found, .. } if found.contains("18446744073709551615"))
        );

        let f = col("f", DataType::Float, false);
        let (v, _) = run(Arc::new(Int32Array::from(vec![3])), Conv::Float, &f);
        assert_eq!(v, [Value::Float(3.0)]);
        let (v, e) = run(
            Arc::new(Float64Array::from(vec![2.5, f64::NAN])),
            Conv::Float,
            &f,
        );
        assert_eq!(v, [Value::Float(2.5), Value::Str("NaN".into())]);
        assert_eq!(e[0].0, 1);

        let b = col("b", DataType::Bool, false);
        let (v, _) = run(
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Conv::Bool,
            &b,
        );
        assert_eq!(v, [Value::Bool(true), Value::Null]);

        let t = col("t", DataType::Timestamp, true);
        // Microseconds floor to milliseconds, before the epoch too.
        let (v, _) = run(
            Arc::new(TimestampMicrosecondArray::from(vec![
                1_700_000_000_123_999,
                -1,
            ])),
            Conv::Ts(TimeUnit::Microsecond),
            &t,
        );
        assert_eq!(v, [Value::Ts(1_700_000_000_123), Value::Ts(-1)]);
        // The arrays the parquet reader makes for these types (a Date32 array, not an
        // Int32 one: that mix-up panicked on every pandas date column).
        let (v, _) = run(
            Arc::new(Date32Array::from(vec![Some(1), None])),
            Conv::Date32,
            &t,
        );
        assert_eq!(v, [Value::Ts(86_400_000), Value::Null]);
        let (v, _) = run(Arc::new(Date64Array::from(vec![5])), Conv::Millis, &t);
        assert_eq!(v, [Value::Ts(5)]);
        // An all-NULL column of type Null, whatever the declared type.
        assert_eq!(
            conv_for(DataType::Timestamp, &ArrowType::Null),
            Some(Conv::Null)
        );
        let (v, e) = run(Arc::new(NullArray::new(2)), Conv::Null, &i);
        assert_eq!((v, e.len()), (vec![Value::Null, Value::Null], 0));
        // A UInt64 past 2^63-1 fits a float column.
        let (v, e) = run(Arc::new(UInt64Array::from(vec![u64::MAX])), Conv::Float, &f);
        assert_eq!((v, e.len()), (vec![Value::Float(u64::MAX as f64)], 0));
        let (v, e) = run(
            Arc::new(LargeStringArray::from(vec![
                "2024-03-10T14:05:09.007Z",
                "1000",
                "soon",
            ])),
            Conv::TsText,
            &t,
        );
        assert_eq!(
            v,
            [
                Value::Ts(1_710_079_509_007),
                Value::Ts(1000),
                Value::Str("soon".into())
            ]
        );
        assert!(matches!(&e[..], [(2, RecordError::BadTimestamp { .. })]));
    }

    #[test]
    fn fields_are_matched_by_name_and_problems_named() {
        let columns = vec![
            col("user_id", DataType::String, true),
            col("fare", DataType::Float, false),
            col("t", DataType::Timestamp, true),
            col("unused", DataType::Int, false),
        ];
        let needed = [true, true, true, false];
        let schema = |fields: Vec<(&str, ArrowType)>| {
            Schema::new(
                fields
                    .into_iter()
                    .map(|(n, t)| Field::new(n, t, true))
                    .collect::<Vec<_>>(),
            )
        };
        // Case-insensitive match, an exact name preferred; extra fields ignored.
        let m = map_fields(
            &schema(vec![
                ("T", ArrowType::Int64),
                ("USER_ID", ArrowType::Utf8),
                ("fare", ArrowType::Float64),
                ("FARE", ArrowType::Utf8),
                ("x", ArrowType::Boolean),
            ]),
            &columns,
            &needed,
        );
        assert_eq!(
            m.fields,
            [(0, 2, Conv::Millis), (1, 0, Conv::Str), (2, 1, Conv::Float)]
        );
        assert!(m.problems.is_empty() && m.unusable.is_none(), "{m:?}");

        let m = map_fields(
            &schema(vec![
                ("user_id", ArrowType::Utf8),
                ("t", ArrowType::Int64),
                ("fares", ArrowType::Float64),
            ]),
            &columns,
            &needed,
        );
        assert!(m.unusable.is_none());
        assert_eq!(m.problems.len(), 1);
        assert!(
            m.problems[0].contains("no column `fare` (did you mean `fares`?)"),
            "{m:?}"
        );

        let m = map_fields(
            &schema(vec![
                ("user_id", ArrowType::Int64),
                ("t", ArrowType::Int64),
                ("Fare", ArrowType::Float64),
                ("FARE", ArrowType::Float64),
            ]),
            &columns,
            &needed,
        );
        let why = m.unusable.unwrap();
        assert!(
            why.contains("has column `user_id` of type Int64, which a string column cannot hold"),
            "{why}"
        );
        assert!(
            why.contains("names column `fare` twice (`Fare` and `FARE`)"),
            "{why}"
        );

        let m = map_fields(
            &schema(vec![("user_id", ArrowType::Utf8)]),
            &columns,
            &needed,
        );
        assert!(m
            .unusable
            .unwrap()
            .contains("has no column `t`, which is required"));
    }
}
