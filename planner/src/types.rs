//! The value and type system shared by every stage: column types, runtime values, rows.
//!
//! Values are small (strings up to 24 bytes are stored inline), cheap to clone and
//! totally ordered (floats by `total_cmp`), so they can serve as grouping keys and be
//! exchanged between timely workers.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A column type, as written in a job file's `schema:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// UTF-8 text.
    String,
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// Event-time instant, epoch milliseconds (input: epoch ms or RFC 3339).
    Timestamp,
    /// An array of values (the result of `TOP`/`LAST_N`/`ARRAY_AGG`); not a schema type.
    Array,
}

impl DataType {
    /// Parses a type name as written in a schema.
    pub fn parse(name: &str) -> Option<DataType> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "string" | "str" | "text" | "varchar" => DataType::String,
            "int" | "integer" | "bigint" | "long" => DataType::Int,
            "float" | "double" | "real" => DataType::Float,
            "bool" | "boolean" => DataType::Bool,
            "timestamp" => DataType::Timestamp,
            _ => return None,
        })
    }

    /// Parses a feature's declared value type (`type:`): a schema type, or `array` (the
    /// value of `TOP`/`LAST_N`/`ARRAY_AGG`).
    pub fn parse_value_type(name: &str) -> Option<DataType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "array" => Some(DataType::Array),
            _ => DataType::parse(name),
        }
    }

    /// The type's name in schemas and diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Int => "int",
            DataType::Float => "float",
            DataType::Bool => "bool",
            DataType::Timestamp => "timestamp",
            DataType::Array => "array",
        }
    }

    /// Whether arithmetic applies.
    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int | DataType::Float)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A runtime value. `Null` sorts first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL: absent field or undefined result.
    #[default]
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// String (inline up to 24 bytes).
    Str(CompactString),
    /// Epoch milliseconds.
    Ts(i64),
    /// An array (shared, cheap to clone); JSON sinks write it as a JSON array.
    List(List),
}

/// An array value: a slice of a shared, immutable buffer. Cloning is cheap, and OVER
/// frames of consecutive rows (which overlap) are slices of one buffer instead of one
/// copy each. A buffer can also hold its items' JSON text, built once by the first sink
/// that asks for it, so every slice of it is written as one copy.
#[derive(Clone)]
pub struct List {
    buf: Arc<ListBuf>,
    start: u32,
    len: u32,
}

/// The buffer behind [`List`]s.
pub struct ListBuf {
    items: Vec<Value>,
    /// Each item's JSON text followed by a comma, and where each item's text starts (one
    /// offset per item and the end).
    json: OnceLock<(Vec<u8>, Vec<usize>)>,
}

impl ListBuf {
    /// A shared buffer of `items`, to slice with [`List::slice`].
    pub fn new(items: Vec<Value>) -> Arc<ListBuf> {
        assert!(
            u32::try_from(items.len()).is_ok(),
            "a list of over 2^32 items"
        );
        Arc::new(ListBuf {
            items,
            json: OnceLock::new(),
        })
    }

    /// The items.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

impl List {
    /// Items `start..start + len` of a shared buffer.
    pub fn slice(buf: &Arc<ListBuf>, start: usize, len: usize) -> List {
        assert!(start + len <= buf.items.len(), "a slice within the buffer");
        List {
            buf: buf.clone(),
            start: start as u32,
            len: len as u32,
        }
    }

    /// The items.
    #[inline]
    pub fn as_slice(&self) -> &[Value] {
        &self.buf.items[self.start as usize..(self.start + self.len) as usize]
    }

    /// The slice's items as JSON text without the brackets (`a,b,c`), cut from the
    /// buffer's JSON text, which `encode` (one item's JSON) builds on the first call for
    /// any slice of the buffer. `None` unless that text exists or the buffer is shared
    /// with another list (then building it once pays off): callers encode the items
    /// themselves.
    pub fn shared_json(&self, encode: fn(&mut Vec<u8>, &Value)) -> Option<&[u8]> {
        let json = match self.buf.json.get() {
            Some(j) => j,
            None if Arc::strong_count(&self.buf) > 1 => self.buf.json.get_or_init(|| {
                let mut text = Vec::with_capacity(self.buf.items.len() * 16);
                let mut offsets = Vec::with_capacity(self.buf.items.len() + 1);
                for v in &self.buf.items {
                    offsets.push(text.len());
                    encode(&mut text, v);
                    text.push(b',');
                }
                offsets.push(text.len());
                (text, offsets)
            }),
            None => return None,
        };
        let (text, offsets) = json;
        let (a, b) = (self.start as usize, (self.start + self.len) as usize);
        // Without the last item's comma.
        Some(&text[offsets[a]..offsets[b].saturating_sub(1).max(offsets[a])])
    }
}

impl Deref for List {
    type Target = [Value];
    #[inline]
    fn deref(&self) -> &[Value] {
        self.as_slice()
    }
}

impl From<Vec<Value>> for List {
    fn from(items: Vec<Value>) -> List {
        let len = items.len();
        List::slice(&ListBuf::new(items), 0, len)
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Serialize for List {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<List, D::Error> {
        Vec::<Value>::deserialize(d).map(List::from)
    }
}

impl Value {
    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQL truthiness: only `TRUE` passes a filter.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// Numeric view (ints, floats and timestamps), NULL for others.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) | Value::Ts(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Integer view (ints and timestamps).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Ts(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as JSON text: arrays as JSON arrays, timestamps as epoch milliseconds,
    /// non-finite floats as `null`.
    pub fn to_json(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) | Value::Ts(i) => i.to_string(),
            Value::Float(f) if f.is_finite() => {
                serde_json::Number::from_f64(*f).map_or_else(|| "null".into(), |n| n.to_string())
            }
            Value::Float(_) => "null".into(),
            Value::Str(s) => serde_json::Value::String(s.to_string()).to_string(),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(Value::to_json).collect();
                format!("[{}]", items.join(","))
            }
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            // Numbers and timestamps (epoch ms) compare with each other by value.
            Value::Int(_) | Value::Float(_) | Value::Ts(_) => 2,
            Value::Str(_) => 4,
            Value::List(_) => 5,
        }
    }
}

impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Ts(a), Value::Ts(b)) => a == b,
            _ => self.cmp(other) == Ordering::Equal,
        }
    }
}
impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a) | Ts(a), Int(b) | Ts(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Int(a) | Ts(a), Float(b)) => (*a as f64).total_cmp(b),
            (Float(a), Int(b) | Ts(b)) => a.total_cmp(&(*b as f64)),
            (Str(a), Str(b)) => a.cmp(b),
            (List(a), List(b)) => a.iter().cmp(b.iter()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => state.write_u8(0),
            Value::Bool(b) => state.write_u8(2 + *b as u8),
            // Ints, timestamps and integral floats compare equal, so they must hash alike.
            Value::Int(i) | Value::Ts(i) => state.write_i64(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => state.write_i64(*f as i64),
            Value::Float(f) => state.write_u64(f.to_bits()),
            Value::Str(s) => state.write(s.as_bytes()),
            Value::List(l) => {
                state.write_u8(5);
                state.write_usize(l.len());
                l.iter().for_each(|v| v.hash(state));
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            // As a literal that reads back (UTC), e.g. `TIMESTAMP '2026-01-01 10:00:00.500'`.
            Value::Ts(t) => match chrono::DateTime::from_timestamp_millis(*t) {
                Some(d) => write!(f, "TIMESTAMP '{}'", d.format("%Y-%m-%d %H:%M:%S%.3f")),
                None => write!(f, "TIMESTAMP {t}"),
            },
            Value::List(l) => {
                f.write_str("ARRAY[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A row: values in schema order.
pub type Row = Vec<Value>;

/// Parses an event-time value from text: epoch milliseconds or RFC 3339.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_from_ms_and_rfc3339() {
        assert_eq!(parse_timestamp("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00.5+01:00"), Some(500));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn ints_and_floats_compare_and_hash_alike() {
        use std::collections::hash_map::DefaultHasher;
        let h = |v: &Value| {
            let mut s = DefaultHasher::new();
            v.hash(&mut s);
            s.finish()
        };
        assert_eq!(Value::Int(3), Value::Float(3.0));
        assert_eq!(h(&Value::Int(3)), h(&Value::Float(3.0)));
        assert!(Value::Null < Value::Int(-5));
        // Timestamps are epoch milliseconds: they compare with numbers by value.
        assert!(Value::Ts(5000) > Value::Int(1000) && Value::Ts(5000) < Value::Int(1_000_000));
        assert_eq!(Value::Ts(5000), Value::Int(5000));
        assert_eq!(h(&Value::Ts(5000)), h(&Value::Int(5000)));
        assert!(Value::Ts(5000) < Value::Float(5000.5) && Value::Float(4999.5) < Value::Ts(5000));
        assert!(Value::Float(f64::NAN) == Value::Float(f64::NAN));
    }
}
