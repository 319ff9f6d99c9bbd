//! Deserializers of job-file values that serde's derives do not read as the job file
//! means them.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};

use super::{Millis, TypeSpec};
use crate::duration::parse_duration_ms;

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not an untagged enum: serde then reports the key and line of a bad
        // value, and says what was expected, not "did not match any variant".
        d.deserialize_any(MillisVisitor)
    }
}

struct MillisVisitor;

impl Visitor<'_> for MillisVisitor {
    type Value = Millis;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a duration such as `5m`, `30s`, `1h` or `500ms`")
    }

    fn visit_str<E: Error>(self, t: &str) -> Result<Millis, E> {
        parse_duration_ms(t).map(Millis).map_err(E::custom)
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<Millis, E> {
        match n {
            0 => Ok(Millis(0)),
            n => Err(E::custom(format!(
                "`{n}` has no unit; write e.g. `{n}s` or `{n}ms`"
            ))),
        }
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<Millis, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::custom(format!(
                "`{n}`: a duration cannot be negative; write e.g. `5m`, or `0`"
            ))),
        }
    }
}

/// A schema mapping as its entries in written order, a repeated key kept (validation
/// reports it, where a map would keep only its last value).
pub(super) fn entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    d.deserialize_map(Entries(
        "a mapping of column names to types, e.g. `{ user_id: string!, fare: float }`",
    ))
}

/// `header_columns` as its entries in written order, a repeated header kept (validation
/// reports it).
pub(super) fn header_entries<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, String)>, D::Error> {
    d.deserialize_map(Entries(
        "a mapping of Kafka header names to columns, e.g. `{ origin: origin }`",
    ))
}

/// A mapping's entries in written order; the text is what a non-mapping is told it should be.
struct Entries(&'static str);

impl<'de> Visitor<'de> for Entries {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry()? {
            out.push(entry);
        }
        Ok(out)
    }
}

/// A map whose keys must be distinct: a name given twice is an error, where serde would
/// keep only the last entry (two profile entries named alike, a property set twice).
pub(super) fn unique_map<'de, D, V, M>(d: D) -> Result<M, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
    M: FromIterator<(String, V)>,
{
    Ok(d.deserialize_map(Unique(std::marker::PhantomData))?
        .into_iter()
        .collect())
}

struct Unique<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
    type Value = Vec<(String, V)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a mapping of names to settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(String, V)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.iter().any(|(k, _)| *k == key) {
                return Err(A::Error::custom(format!(
                    "`{key}` is given twice; the second would silently replace the first (give each entry a name of its own)"
                )));
            }
            out.push((key, map.next_value()?));
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for TypeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TypeSpecVisitor)
    }
}

struct TypeSpecVisitor;

impl<'de> Visitor<'de> for TypeSpecVisitor {
    type Value = TypeSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "a type (`type: float`), or value columns and their types (`type: { fare_sum: float, rides: int }`)",
        )
    }

    fn visit_str<E: Error>(self, t: &str) -> Result<TypeSpec, E> {
        Ok(TypeSpec::One(t.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TypeSpec, A::Error> {
        Entries("").visit_map(map).map(TypeSpec::Columns)
    }
}
