//! Deserializers of job-file values that serde's derives do not read as the job file
//! means them.

use serde::de::{Deserializer, MapAccess, Visitor};

/// A mapping as its entries in written order, a repeated key kept (validation reports
/// it, where a map would keep only its last value).
pub(super) fn entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a mapping of column names to types, e.g. `{ user_id: string!, fare: float }`",
            )
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Entries)
}
