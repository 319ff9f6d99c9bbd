//! Validation of a job file: YAML to [`Job`], with every problem reported at its line.

use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Diagnostics, ErrorKind};
use crate::types::DataType;

mod connectors;
mod cx;
mod paths;
mod sinks;
mod sources;
mod unknown_keys;
mod yaml_error;

use cx::Cx;
use sinks::{check_kafka_loops, validate_sink};
use sources::validate_source;
pub(crate) use yaml_error::guess;
use yaml_error::yaml_error;

use super::locate::Seg;

use super::{Feature, FeatureSpec, Infra, Job, JobSpec, TypeSpec, ValueTypes};

/// Reads and validates a job file that uses only local connectors (files).
pub fn load_job(path: &Path) -> Result<Job, Diagnostics> {
    load_job_with_infra(path, None)
}

/// Reads and validates a job file; its connectors' names are resolved in `infra`.
pub fn load_job_with_infra(path: &Path, infra: Option<Infra>) -> Result<Job, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(ErrorKind::Io, format!("cannot read job file: {e}"))
            .in_file(path)
            .with_hint("check the path; job files are YAML")
    })?;
    parse_job_with_infra(path, &text, infra)
}

/// Validates a job from its text; `path` locates relative paths and names the file in errors.
pub fn parse_job(path: &Path, text: &str) -> Result<Job, Diagnostics> {
    parse_job_with_infra(path, text, None)
}

/// [`parse_job`] with an infrastructure profile for Kafka, Redis and AWS names.
pub fn parse_job_with_infra(
    path: &Path,
    text: &str,
    infra: Option<Infra>,
) -> Result<Job, Diagnostics> {
    // A byte-order mark (editors on Windows write one) is not part of the YAML: with it,
    // the first key was read as `\u{feff}name` and `sources` reported missing.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(empty) = yaml_error::empty_job(path, text) {
        return Err(empty);
    }
    let unknown = unknown_keys::unknown_keys(path, text);
    if !unknown.is_empty() {
        return Err(Diagnostics(unknown));
    }
    let spec: JobSpec = serde_norway::from_str(text).map_err(|e| yaml_error(path, text, &e))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let mut errors = Vec::new();
    let doc = cx::locate(text, &spec);
    let cx = Cx::new(path, text, infra.as_ref(), &spec.name, &doc);
    if let Err(d) = cx.check_name(
        &spec.name,
        "name the job, e.g. `name: rides`: it names the run and the default Kafka consumer group",
    ) {
        errors.push(d);
    }

    let sources = validate_all(&spec.sources, &mut errors, |i, s| {
        validate_source(&cx.item("sources", i), &base, s)
    });
    check_unique(
        &cx,
        "sources",
        spec.sources.iter().map(|s| (s.name.as_str(), None)),
        &mut errors,
    );

    let sinks = validate_all(&spec.sinks, &mut errors, |i, s| {
        validate_sink(&cx.item("sinks", i), &base, s)
    });
    check_unique(
        &cx,
        "sinks",
        spec.sinks.iter().map(|s| (s.name.as_str(), None)),
        &mut errors,
    );
    check_kafka_loops(&cx, &spec, &mut errors);
    if spec.sinks.is_empty() {
        errors.push(cx.err_at_key("sinks", "the job has no sinks").with_hint(
            "add a `sinks:` list, e.g. `- { name: out, connector: file, path: out/features.jsonl, format: json }`",
        ));
    }

    let sink_names: Vec<&str> = spec.sinks.iter().map(|s| s.name.as_str()).collect();
    let features = validate_all(&spec.features, &mut errors, |i, f| {
        validate_feature(&cx.item("features", i), f, &sink_names)
    });
    if spec.features.is_empty() {
        errors.push(
            cx.err_at_key("features", "the job defines no features")
                .with_hint("add a `features:` list, e.g. `- { name: rides, sql: SELECT ... }`"),
        );
    }
    check_unique(
        &cx,
        "features",
        spec.features
            .iter()
            .map(|f| (f.name.as_str(), Some(f.version))),
        &mut errors,
    );

    let dead_letter = match &spec.dead_letter {
        Some(p) => resolve(&base, p),
        None => spec
            .sinks
            .iter()
            .find_map(|s| match (s.connector.as_str(), &s.path) {
                ("file", Some(p)) => Some(
                    resolve(&base, p)
                        .parent()
                        .unwrap_or(Path::new("."))
                        .join("dead_letter.jsonl"),
                ),
                _ => None,
            })
            .unwrap_or_else(|| base.join("dead_letter.jsonl")),
    };
    paths::check_paths(&cx, &base, &spec, &dead_letter, &mut errors);

    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    Ok(Job {
        name: spec.name,
        path: path.to_path_buf(),
        text: text.to_string(),
        sources,
        features,
        sinks,
        dead_letter,
        infra: infra.unwrap_or_default(),
    })
}

/// Validates every item, keeping the good ones and collecting every error (a job's
/// problems are all reported at once, not one per run).
fn validate_all<S, T>(
    items: &[S],
    errors: &mut Vec<Diagnostic>,
    check: impl Fn(usize, &S) -> Result<T, Diagnostic>,
) -> Vec<T> {
    let mut ok = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match check(i, item) {
            Ok(v) => ok.push(v),
            Err(d) => errors.push(d),
        }
    }
    ok
}

/// Joins a path to the job's directory and removes `.` and `..` lexically (no I/O).
fn resolve(base: &Path, p: &str) -> PathBuf {
    lexical(&base.join(p))
}

/// The glob a file source with `path: p` reads: `p` joined to the job's directory as
/// [`resolve`] does, but with the directory escaped, so that a `[`, `]`, `*` or `?` in the
/// job's directory matches itself instead of being a wildcard (`p` stays a glob).
fn source_glob(base: &Path, p: &str) -> PathBuf {
    let dir = glob::Pattern::escape(&base.to_string_lossy());
    lexical(&Path::new(&dir).join(p))
}

/// `p` with `.` and `..` removed lexically.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Items of `list` (`sources`, `sinks`, `features`) must differ in name (a feature: in name
/// or version), also in case: source and sink names are SQL identifiers, which are
/// case-insensitive, and a feature's name is the `feature` of its rows and the start of its
/// store keys (`<feature>:<version>:<key>`), where `rides` beside `Rides` would be two
/// features a reader takes for one. A repeat is reported at its second definition, naming
/// the first.
fn check_unique<'a>(
    cx: &Cx,
    list: &'static str,
    items: impl Iterator<Item = (&'a str, Option<u32>)>,
    errors: &mut Vec<Diagnostic>,
) {
    let what = list.trim_end_matches('s');
    let mut seen = std::collections::BTreeMap::new();
    for (i, (name, version)) in items.enumerate() {
        if name.trim().is_empty() {
            continue; // Reported as an empty name.
        }
        let Some(&(first, first_name)) = seen.get(&(name.to_ascii_lowercase(), version)) else {
            seen.insert((name.to_ascii_lowercase(), version), (i, name));
            continue;
        };
        let version_text = version.map(|v| format!(" version {v}")).unwrap_or_default();
        let line = cx
            .item(list, first)
            .find(&[Seg::Key("name")])
            .map(|f| format!(" at line {}", f.value.0))
            .unwrap_or_default();
        let (first_as, case) = if first_name == name {
            (String::new(), "")
        } else {
            (
                format!(" as `{first_name}`"),
                "; names that differ only in case are the same name",
            )
        };
        let other = if version.is_some() {
            " or another `version`"
        } else {
            ""
        };
        errors.push(
            cx.item(list, i)
                .err_at_value(
                    "name",
                    format!(
                        "{what} `{name}`{version_text} is defined twice (first{first_as}{line})"
                    ),
                )
                .with_hint(format!("give each {what} a name of its own{other}{case}")),
        );
    }
}

fn validate_feature(cx: &Cx, f: &FeatureSpec, sinks: &[&str]) -> Result<Feature, Diagnostic> {
    cx.check_name(
        &f.name,
        "name the feature: the name is the `feature` field of its output rows",
    )?;
    // Stores key an entity `<feature>:<version>:<key>`: with a `:` in a feature's name,
    // feature `a:1` version 2 and feature `a` version 1 of key `2:x` would share one.
    if f.name.contains(':') {
        return Err(cx
            .err_at_value(
                "name",
                format!("feature name `{}` contains `:`", f.name),
            )
            .with_detail("stores key each entity `<feature>:<version>:<key>`, so a `:` in the name would make two features' entities share keys")
            .with_hint(format!("write `{}`", f.name.replace(':', "_"))));
    }
    let type_error = |at: Diagnostic, t: &str| {
        // The names and the aliases a schema takes (`integr` is closest to `integer`).
        const TYPES: [&str; 14] = [
            "string",
            "varchar",
            "text",
            "int",
            "integer",
            "bigint",
            "long",
            "float",
            "double",
            "real",
            "bool",
            "boolean",
            "timestamp",
            "array",
        ];
        let types = "types: string, int, float, bool, timestamp, array";
        match crate::error::closest(t, TYPES) {
            Some(c) => at.with_hint(format!("did you mean `{c}`? ({types})")),
            None => at.with_hint(types),
        }
    };
    let value_type = match &f.value_type {
        None => None,
        Some(TypeSpec::One(t)) => Some(ValueTypes::One(DataType::parse_value_type(t).ok_or_else(
            || {
                type_error(
                    cx.err_at_value(
                        "type",
                        format!("unknown type `{t}` for feature `{}`", f.name),
                    ),
                    t,
                )
            },
        )?)),
        Some(TypeSpec::Columns(columns)) => {
            let mut out: Vec<(String, DataType)> = Vec::new();
            for (k, (column, t)) in columns.iter().enumerate() {
                let at = [Seg::Key("type"), Seg::Entry(k, column.as_str())];
                if out.iter().any(|(c, _)| crate::names::same_name(c, column)) {
                    return Err(cx
                        .err_key(
                            &at,
                            format!(
                                "`type:` of feature `{}` gives column `{column}` twice",
                                f.name
                            ),
                        )
                        .with_hint("give each value column one type"));
                }
                let ty = DataType::parse_value_type(t).ok_or_else(|| {
                    type_error(
                        cx.err_value(
                            &at,
                            format!(
                                "unknown type `{t}` for column `{column}` of feature `{}`",
                                f.name
                            ),
                        ),
                        t,
                    )
                })?;
                out.push((column.clone(), ty));
            }
            Some(ValueTypes::Columns(out))
        }
    };
    let sink_idx = match &f.sinks {
        None => (0..sinks.len()).collect(),
        Some(names) if names.is_empty() => {
            return Err(cx
                .err_value(
                    &[Seg::Key("sinks")],
                    format!(
                        "feature `{}` writes to no sink (`sinks: []`): its values would be computed and dropped",
                        f.name
                    ),
                )
                .with_hint(format!(
                    "name the sinks it writes to, e.g. `sinks: [{}]`, or remove `sinks:` to write to every sink",
                    sinks.first().copied().unwrap_or("out")
                )))
        }
        Some(names) => {
            let mut idx = Vec::new();
            for (k, n) in names.iter().enumerate() {
                // Sink names are unique regardless of case, so they are matched so too.
                match sinks.iter().position(|s| crate::names::same_name(s, n)) {
                    Some(i) if idx.contains(&i) => {
                        return Err(cx
                            .err_value(
                                &[Seg::Key("sinks"), Seg::Index(k)],
                                format!(
                                    "feature `{}` lists sink `{n}` twice (its rows would be written twice)",
                                    f.name
                                ),
                            )
                            .with_hint("list each sink once"))
                    }
                    Some(i) => idx.push(i),
                    None => {
                        return Err(cx
                            .err_value(
                                &[Seg::Key("sinks"), Seg::Index(k)],
                                format!("feature `{}` writes to unknown sink `{n}`", f.name),
                            )
                            .with_hint(format!("sinks: {}", sinks.join(", "))))
                    }
                }
            }
            idx
        }
    };
    // A quoted, folded or plain scalar is mapped character by character; a block one by
    // line and indentation.
    // Searched from the feature's own `sql:` key: features may share SQL text.
    let from = cx.find(&[Seg::Key("sql")]).map_or(0, |f| f.key.0 - 1);
    let sql_positions = super::sql_position::map_sql(cx.text, &f.sql, from);
    let (sql_line, sql_indent) = match sql_positions {
        Some(_) => (0, 0),
        None => locate_sql(cx.text, &f.sql, from),
    };
    Ok(Feature {
        name: f.name.clone(),
        version: f.version,
        value_type,
        description: f.description.clone(),
        allowed_lateness_ms: f.allowed_lateness.0,
        sql: f.sql.clone(),
        sql_line,
        sql_indent,
        sql_positions,
        sinks: sink_idx,
    })
}

/// Finds the job-file line where the SQL text begins, and its indentation, from line
/// `from` (0-based) on.
fn locate_sql(text: &str, sql: &str, from: usize) -> (usize, usize) {
    let Some(first) = sql.lines().find(|l| !l.trim().is_empty()) else {
        return (0, 0);
    };
    let first_trim = first.trim();
    let offset = sql.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate().skip(from) {
        if let Some(col) = l.find(first_trim) {
            // Either a block scalar line (only the SQL) or an inline `sql: ...`.
            let before = &l[..col];
            if before.trim().is_empty() || before.trim_end().ends_with("sql:") {
                let indent = col
                    - first
                        .len()
                        .saturating_sub(first.trim_start().len())
                        .min(col);
                return ((i + 1).saturating_sub(offset), indent);
            }
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      fare: float
      event_time: timestamp
    event_time: event_time
    watermark_delay: 5m
features:
  - name: f
    allowed_lateness: 1h
    sql: |
      SELECT user_id, COUNT(*) AS n
      FROM events
      GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - name: out
    connector: file
    path: out/f.jsonl
    format: json
"#;

    #[test]
    fn a_good_job_validates() {
        let job = parse_job(Path::new("/jobs/j.yaml"), GOOD).unwrap();
        let s = &job.sources[0];
        assert_eq!(s.watermark_delay_ms, 300_000);
        assert!(s.columns[0].required && !s.columns[1].required && s.columns[2].required);
        assert_eq!(job.features[0].allowed_lateness_ms, 3_600_000);
        assert_eq!(job.features[0].version, 1);
        assert_eq!(job.features[0].sql_line, 18);
        assert_eq!(job.features[0].sql_indent, 6);
        assert_eq!(
            job.dead_letter,
            PathBuf::from("/jobs/out/dead_letter.jsonl")
        );
    }

    #[test]
    fn a_key_typo_is_an_error_with_its_line() {
        let bad = GOOD.replace("watermark_delay: 5m", "watermark_dealy: 5m");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(d.message.contains("unknown key `watermark_dealy`"), "{d}");
        assert_eq!(d.hint.as_deref(), Some("did you mean `watermark_delay`?"));
        assert_eq!(d.location.as_ref().unwrap().line, 13);
    }

    #[test]
    fn a_type_typo_suggests_the_type() {
        let bad = GOOD.replace("fare: float", "fare: flaot");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert_eq!(d.location.as_ref().unwrap().line, 10);
        assert!(d.hint.as_ref().unwrap().contains("`float`"), "{d}");
    }

    #[test]
    fn a_key_of_another_connector_is_an_error() {
        let bad = GOOD.replace(
            "    path: data/*.jsonl",
            "    path: data/*.jsonl\n    topic: events",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message.contains("file connector, which has no `topic`"),
            "{d}"
        );
        assert!(
            d.hint.as_ref().unwrap().contains("applies to: kafka"),
            "{d}"
        );
        let bad = GOOD.replace(
            "    path: out/f.jsonl",
            "    path: out/f.jsonl\n    ttl: 1h",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        assert!(err.0[0].message.contains("which has no `ttl`"), "{}", err);
    }

    #[test]
    fn direct_io_is_a_file_sink_key() {
        use crate::job::SinkConnector;
        let file = |text: &str| {
            let job = parse_job(Path::new("j.yaml"), text).unwrap_or_else(|d| panic!("{d}"));
            match &job.sinks[0].connector {
                SinkConnector::File { direct_io, .. } => *direct_io,
                other => panic!("{other}"),
            }
        };
        assert!(!file(GOOD), "off unless asked for");
        let on = GOOD.replace(
            "    path: out/f.jsonl",
            "    path: out/f.jsonl\n    direct_io: true",
        );
        assert!(file(&on));
        // Not a source key; not a key of other sink connectors; a boolean.
        let bad = GOOD.replace(
            "    path: data/*.jsonl",
            "    path: data/*.jsonl\n    direct_io: true",
        );
        assert!(parse_job(Path::new("j.yaml"), &bad).is_err());
        let bad = on.replace(
            "connector: file\n    path: out/f.jsonl",
            "connector: redis\n    store: features",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message
                .contains("redis connector, which has no `direct_io`"),
            "{d}"
        );
        assert!(d.hint.as_ref().unwrap().contains("applies to: file"), "{d}");
        let bad = on.replace("direct_io: true", "direct_io: yes please");
        assert!(parse_job(Path::new("j.yaml"), &bad).is_err());
    }

    #[test]
    fn parquet_is_a_file_sink_format() {
        let good = GOOD.replace(
            "path: out/f.jsonl\n    format: json",
            "path: out/f.parquet\n    format: parquet",
        );
        let job = parse_job(Path::new("j.yaml"), &good).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(job.sinks[0].format, crate::job::Format::Parquet);
        // Not for store sinks; not with direct_io; not (yet) for sources.
        let bad = good.replace(
            "connector: file\n    path: out/f.parquet",
            "connector: redis\n    store: features",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message
                .contains("format parquet is not supported for redis sinks"),
            "{d}"
        );
        assert!(d.hint.as_ref().unwrap().contains("`format: json`"), "{d}");
        let bad = good.replace("format: parquet", "format: parquet\n    direct_io: true");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        assert!(
            err.0[0]
                .message
                .contains("direct_io applies to json file sinks"),
            "{err}"
        );
        // A file source reads Parquet files too.
        let parquet_source = GOOD.replace(
            "path: data/*.jsonl\n    format: json",
            "path: data/*.parquet\n    format: parquet",
        );
        let job = parse_job(Path::new("j.yaml"), &parquet_source).unwrap();
        assert_eq!(job.sources[0].format, crate::job::Format::Parquet);
        let bad = GOOD.replace(
            "path: out/f.jsonl\n    format: json",
            "path: out/f.jsonl\n    format: avro",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message
                .contains("format avro is not supported for file sinks"),
            "{d}"
        );
        assert!(
            d.hint.as_ref().unwrap().contains("`format: parquet`"),
            "{d}"
        );
    }

    #[test]
    fn a_bad_duration_names_the_units() {
        let bad = GOOD.replace("watermark_delay: 5m", "watermark_delay: 5 parsecs");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        assert!(err.0[0].message.contains("unknown unit"), "{}", err);
    }
}
