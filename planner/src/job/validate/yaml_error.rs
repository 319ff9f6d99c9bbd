//! A job file serde cannot read into a [`JobSpec`](super::super::JobSpec): serde_norway's
//! message, located where it says, with the item it is about named (`source `events``
//! rather than `sources[0]`) and a hint.

use std::path::Path;

use crate::error::{Diagnostic, Diagnostics, ErrorKind};

use super::super::locate::{Doc, Seg};

/// Keys whose values are durations.
const DURATIONS: [&str; 4] = ["watermark_delay", "allowed_lateness", "idle_timeout", "ttl"];

/// A job a newcomer can start from: it validates and plans (tested).
const MINIMAL_JOB: &str = "name: my_job
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema: { user_id: string, event_time: timestamp }
    event_time: event_time
features:
  - name: events_per_user_1h
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/features.jsonl }
";

/// A job file with no YAML in it but comments (or only `~`): an error saying so and
/// showing [`MINIMAL_JOB`], rather than serde's "missing field `name`".
pub(super) fn empty_job(path: &Path, text: &str) -> Option<Diagnostics> {
    let value: serde_norway::Value = serde_norway::from_str(text).ok()?;
    if !value.is_null() {
        return None;
    }
    let example: String = MINIMAL_JOB.lines().map(|l| format!("\n    {l}")).collect();
    Some(Diagnostics(vec![Diagnostic::new(
        ErrorKind::Config,
        "the job file is empty: it defines no job",
    )
    .in_file(path)
    .with_hint(format!(
        "a job names its sources, features and sinks; a minimal one (configs/examples/rides.yaml is a full one):{example}"
    ))]))
}

pub(super) fn yaml_error(path: &Path, text: &str, e: &serde_norway::Error) -> Diagnostics {
    // "variant" is serde's word for what the job file calls a value; Rust's type names
    // say nothing to a job's author.
    let msg = e
        .to_string()
        .replace("unknown variant `", "unknown value `")
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected usize", "expected a whole number")
        .replace(
            "expected struct JobSpec",
            "expected a job: a mapping of `name`, `sources`, `features` and `sinks`",
        )
        .replace(
            "expected a sequence",
            "expected a list (`[a, b]`, or one `- item` per line)",
        );
    // serde_norway appends " at line L column C"; keep the message clean and use the location.
    let clean = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.clone(),
    };
    let line = e.location().map_or(0, |l| l.line());
    let (message, key) = match split_path(&clean) {
        Some((yaml_path, rest)) => (name_item(text, yaml_path, rest, line), last_key(yaml_path)),
        None => (clean.clone(), None),
    };
    let mut d = Diagnostic::new(ErrorKind::Config, message);
    if let Some(loc) = e.location() {
        d = d.at(path, text, loc.line(), loc.column());
    } else {
        d = d.in_file(path);
    }
    if let Some(dup) = duplicate_key(text, &clean, e) {
        return Diagnostics(vec![dup.in_item(d, path, text)]);
    }
    if let Some(guess) = guess(&clean) {
        d = d.with_hint(format!("did you mean `{guess}`?"));
    } else if clean.contains("unknown field") {
        d = d.with_hint("check the spelling of the key; the expected keys are listed above");
    } else if clean.contains("missing field") {
        d = d.with_hint("add the missing key");
    } else if key.is_some_and(|k| DURATIONS.contains(&k)) {
        d = d.with_hint(crate::duration::units_help());
    } else if e.location().is_some_and(|l| {
        let at = text.lines().nth(l.line().saturating_sub(1)).unwrap_or("");
        at.chars().nth(l.column().saturating_sub(1)) == Some('\t')
    }) {
        d = d.with_hint("YAML indents with spaces, not tabs: replace the tab with spaces");
    }
    Diagnostics(vec![d])
}

/// A key given twice in one mapping: serde says "duplicate field `path`" at the mapping.
struct Duplicate {
    key: String,
    first: (usize, usize),
    second: (usize, usize),
}

/// The first and second occurrence of serde's duplicate field, if `msg` is about one.
fn duplicate_key(text: &str, msg: &str, e: &serde_norway::Error) -> Option<Duplicate> {
    let key = msg.split_once("duplicate field `")?.1.split_once('`')?.0;
    let loc = e.location()?;
    let (first, second) = Doc::parse(text).repeated_key((loc.line(), loc.column()), key)?;
    Some(Duplicate {
        key: key.to_string(),
        first,
        second,
    })
}

impl Duplicate {
    /// `d` (serde's error, its message naming the item) at the second occurrence, saying
    /// where the first is.
    fn in_item(self, d: Diagnostic, path: &Path, text: &str) -> Diagnostic {
        let Duplicate { key, first, second } = self;
        let message = d.message.replace(
            &format!("duplicate field `{key}`"),
            &format!("`{key}` is given twice, first at line {}", first.0),
        );
        Diagnostic::new(ErrorKind::Config, message)
            .at(path, text, second.0, second.1)
            .with_detail(
                "a YAML mapping holds each key once: which of the two values is meant cannot be told",
            )
            .with_hint(format!(
                "keep one `{key}:` (line {} or line {})",
                first.0, second.0
            ))
    }
}

/// For serde's "unknown value `jsonl`, expected one of `json`, `csv`" (or "unknown field"):
/// the closest expected word, if one is close.
pub(crate) fn guess(msg: &str) -> Option<&str> {
    let rest = msg
        .split_once("unknown value `")
        .or_else(|| msg.split_once("unknown field `"))?
        .1;
    let (given, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected ")?.1;
    let words = expected.split('`').skip(1).step_by(2);
    crate::error::closest(given, words)
}

/// serde_norway's message `sources[0].watermark_delay: what is wrong` as the path and the
/// rest; `None` when it has no path (an error at the top of the file).
fn split_path(msg: &str) -> Option<(&str, &str)> {
    let (p, rest) = msg.split_once(": ")?;
    let ok = p.starts_with(|c: char| c.is_ascii_alphabetic())
        && !p.contains(char::is_whitespace)
        && !p.contains('`');
    ok.then_some((p, rest))
}

/// The last key of a path (`watermark_delay` of `sources[0].watermark_delay`).
fn last_key(path: &str) -> Option<&str> {
    let last = path.rsplit('.').next()?;
    Some(last.split('[').next().unwrap_or(last))
}

/// `sources[0].watermark_delay`, `msg` as "`watermark_delay` of source `events`: msg" when
/// the item's name is known and the error (at `line`) is within that item; else the path
/// as serde_norway gave it.
fn name_item(text: &str, path: &str, msg: &str, line: usize) -> String {
    let fallback = format!("{path}: {msg}");
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some((list, index)) = head.strip_suffix(']').and_then(|h| h.split_once('[')) else {
        return fallback;
    };
    let what = match list {
        "sources" => "source",
        "sinks" => "sink",
        "features" => "feature",
        _ => return fallback,
    };
    let Ok(i) = index.parse::<usize>() else {
        return fallback;
    };
    let doc = Doc::parse(text);
    let item = |i| [Seg::Key(list), Seg::Index(i)];
    let name = doc.scalar(&[Seg::Key(list), Seg::Index(i), Seg::Key("name")]);
    let starts = doc.find(&item(i)).map(|f| f.key.0);
    let next = doc.find(&item(i + 1)).map(|f| f.key.0);
    let within = starts.is_some_and(|s| s <= line) && next.is_none_or(|n| line < n);
    match name {
        Some(name) if within && rest.is_empty() => format!("{what} `{name}`: {msg}"),
        Some(name) if within => format!("`{rest}` of {what} `{name}`: {msg}"),
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::guess;

    #[test]
    fn a_misspelled_value_or_key_finds_the_expected_word() {
        let m = "format: unknown value `jsonl`, expected one of `json`, `csv`, `parquet`";
        assert_eq!(guess(m), Some("json"));
        let m = "unknown value `ignore`, expected one of `fail`, `skip`, `dead_letter`";
        assert_eq!(guess(m), None, "no guess that is not a typo");
        let m = "unknown field `bootstrap_server`, expected `brokers` or `bootstrap_servers`";
        assert_eq!(guess(m), Some("bootstrap_servers"));
    }
}
