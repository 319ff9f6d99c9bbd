//! Every unknown key of a job file at once, each with its place and the closest known key.
//!
//! serde's `deny_unknown_fields` stops at the first unknown key and lists every key the
//! struct has (26 for a source). This pass runs first: it reads the YAML as a tree and
//! compares the keys of the job, and of each source, feature and sink, with the fields the
//! serde derives declare (read from the derives themselves, so the two cannot drift).

use std::cell::Cell;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_norway::Value;

use super::super::locate::{Doc, Seg};
use super::super::{FeatureSpec, JobSpec, SinkSpec, SourceSpec};
use crate::error::{closest, Diagnostic, ErrorKind};

/// The unknown keys of `text`, one diagnostic each; empty when there are none or the text
/// is not YAML (the full parse reports that).
pub(super) fn unknown_keys(path: &Path, text: &str) -> Vec<Diagnostic> {
    let Ok(mut root) = serde_norway::from_str::<Value>(text) else {
        return Vec::new();
    };
    if root.apply_merge().is_err() {
        return Vec::new();
    }
    let Value::Mapping(top) = &root else {
        return Vec::new();
    };
    let doc = Doc::parse(text);
    let mut found = Vec::new();
    check(
        &doc,
        &[],
        top,
        "the job",
        fields_of::<JobSpec>(),
        &mut found,
    );
    let lists: [(&str, &str, &[&str]); 3] = [
        ("sources", "source", fields_of::<SourceSpec>()),
        ("features", "feature", fields_of::<FeatureSpec>()),
        ("sinks", "sink", fields_of::<SinkSpec>()),
    ];
    for (list, what, fields) in lists {
        let Some(Value::Sequence(items)) = top.get(list) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Value::Mapping(m) = item else { continue };
            let named = match m.get("name") {
                Some(Value::String(n)) => format!("{what} `{n}`"),
                _ => format!("{what} {}", i + 1),
            };
            let at = [Seg::Key(list), Seg::Index(i)];
            check(&doc, &at, m, &named, fields, &mut found);
        }
    }
    found
        .into_iter()
        .map(|(spot, msg, hint)| {
            let d = Diagnostic::new(ErrorKind::Config, msg).with_hint(hint);
            match spot {
                Some((line, col)) => d.at(path, text, line, col),
                None => d.in_file(path),
            }
        })
        .collect()
}

type Found = (Option<(usize, usize)>, String, String);

fn check(
    doc: &Doc,
    at: &[Seg],
    map: &serde_norway::Mapping,
    what: &str,
    fields: &[&str],
    found: &mut Vec<Found>,
) {
    for key in map.keys() {
        let Value::String(key) = key else { continue };
        if fields.contains(&key.as_str()) {
            continue;
        }
        let mut path = at.to_vec();
        path.push(Seg::Key(key));
        let spot = doc.find(&path).map(|f| f.key);
        let hint = match closest(key, fields.iter().copied()) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("the keys of {} are: {}", kind(what), fields.join(", ")),
        };
        let msg = match what {
            "the job" => format!("unknown key `{key}` at the top of the job file"),
            _ => format!("{what}: unknown key `{key}`"),
        };
        found.push((spot, msg, hint));
    }
}

/// "a source" for "source `events`"; "a job" for "the job".
fn kind(what: &str) -> String {
    match what.split_whitespace().next() {
        Some("the") | None => "a job".into(),
        Some(w) => format!("a {w}"),
    }
}

/// The field names a serde derive reads: its `Deserialize` impl hands them to
/// `deserialize_struct`, which this deserializer records and then declines.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let seen = Cell::new(None);
    let _ = T::deserialize(Fields(&seen));
    seen.get().unwrap_or(&[])
}

struct Fields<'a>(&'a Cell<Option<&'static [&'static str]>>);

impl<'de> Deserializer<'de> for Fields<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(Some(fields));
        Err(de::Error::custom("fields read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_derives() {
        let source = fields_of::<SourceSpec>();
        assert!(source.contains(&"watermark_delay") && source.contains(&"on_error"));
        // `#[serde(rename = "type")]` is the name read.
        assert!(fields_of::<FeatureSpec>().contains(&"type"));
        assert_eq!(
            fields_of::<JobSpec>(),
            [
                "name",
                "description",
                "sources",
                "features",
                "sinks",
                "dead_letter"
            ]
        );
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_place_and_a_guess() {
        let text = "name: j\nsources:\n  - name: ev\n    conector: file\n    on_eror: skip\nfeatures:\n  - name: f\n    allowed_latenes: 1m\n    sql: SELECT 1\nsinks:\n  - { name: out, connector: file, pth: x }\nextra: 1\n";
        let ds = unknown_keys(Path::new("job.yaml"), text);
        let shown: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
        assert_eq!(ds.len(), 5, "{shown:#?}");
        let want = [
            (
                "job.yaml:12:1",
                "`extra` at the top of the job file",
                "keys of a job are",
            ),
            (
                "job.yaml:4:5",
                "source `ev`: unknown key `conector`",
                "mean `connector`?",
            ),
            (
                "job.yaml:5:5",
                "source `ev`: unknown key `on_eror`",
                "mean `on_error`?",
            ),
            (
                "job.yaml:8:5",
                "feature `f`: unknown key `allowed_latenes`",
                "`allowed_lateness`?",
            ),
            (
                "job.yaml:11:35",
                "sink `out`: unknown key `pth`",
                "did you mean `path`?",
            ),
        ];
        for (s, (at, msg, hint)) in shown.iter().zip(want) {
            assert!(s.contains(at) && s.contains(msg) && s.contains(hint), "{s}");
        }
    }

    #[test]
    fn merge_keys_and_known_keys_are_not_reported() {
        let text = "name: j\nbase: &b { connector: file, format: json }\n";
        // `base` is unknown; the merge below is not.
        assert_eq!(unknown_keys(Path::new("j.yaml"), text).len(), 1);
        let text = "name: j\nsources:\n  - <<: { connector: file }\n    name: ev\n";
        assert!(unknown_keys(Path::new("j.yaml"), text).is_empty());
        assert!(unknown_keys(Path::new("j.yaml"), "not: [valid").is_empty());
    }
}
