//! Job-file diagnostics are located by YAML path: at the node they are about, not at the
//! first line mentioning a word (a comment, another section, an earlier definition), and
//! in flow-style entries too. A file the locator cannot read names only the file.

use std::path::Path;

use planner::{parse_job, plan_job, Diagnostic, Diagnostics};

/// A job whose comments and other sections mention the names errors are about.
const JOB: &str = r#"# events: the `filee` and `flaot` typos of last week are fixed; path: old/*.jsonl
name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!   # fare: flaot
      fare: float
      event_time: timestamp
    event_time: event_time
features:
  - name: f
    sql: |
      SELECT user_id, COUNT(*) AS n
      FROM events
      GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
  - {name: other, connector: file, path: out/g.jsonl}
"#;

fn errors(text: &str) -> Diagnostics {
    match parse_job(Path::new("job.yaml"), text) {
        Err(d) => d,
        Ok(job) => plan_job(&job).expect_err("the job should not plan"),
    }
}

fn one(text: &str) -> Diagnostic {
    let d = errors(text);
    assert_eq!(d.0.len(), 1, "{d}");
    d.0.into_iter().next().unwrap()
}

/// Line and column of a diagnostic, and the text there.
fn at<'a>(text: &'a str, d: &Diagnostic) -> (usize, usize, &'a str) {
    let l = d.location.as_ref().expect("a location");
    assert!(l.line > 0, "no line: {d}");
    let line = text.lines().nth(l.line - 1).unwrap();
    let rest: String = line.chars().skip(l.column - 1).collect();
    let start = line.len() - rest.len();
    (l.line, l.column, &line[start..])
}

#[test]
fn the_base_job_validates() {
    let job = parse_job(Path::new("job.yaml"), JOB).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(job.sinks.len(), 2);
}

#[test]
fn a_value_error_points_at_the_value_not_at_a_comment_mentioning_it() {
    let text = JOB.replace("      fare: float", "      fare: flaot");
    let d = one(&text);
    assert!(d.message.contains("unknown type `flaot`"), "{d}");
    let (line, col, there) = at(&text, &d);
    assert_eq!((line, col), (10, 13), "{d}");
    assert!(there.starts_with("flaot"), "{there}");

    let text = JOB.replace("    connector: file", "    connector: filee");
    let d = one(&text);
    assert!(d.message.contains("unknown source connector"), "{d}");
    assert_eq!(at(&text, &d).0, 5, "{d}");
}

#[test]
fn a_key_of_a_flow_style_entry_is_located_in_its_entry() {
    let text = JOB.replace(
        "{name: other, connector: file, path: out/g.jsonl}",
        "{name: other, connector: redis, store: s, path: out/g.jsonl}",
    );
    let d = one(&text);
    assert!(d.message.contains("which has no `path`"), "{d}");
    let (line, _, there) = at(&text, &d);
    assert_eq!(line, 21, "{d}");
    assert!(there.starts_with("path: out/g.jsonl"), "{there}");
}

/// Sources, sinks and features (name and version) are unique, also in the case of the
/// name; a repeat is reported at its second definition and names the first.
#[test]
fn a_repeated_name_is_reported_at_its_second_definition() {
    let text = JOB.replace("{name: other,", "{name: out,");
    let d = one(&text);
    assert_eq!(d.message, "sink `out` is defined twice (first at line 20)");
    assert_eq!(d.hint.as_deref(), Some("give each sink a name of its own"));
    let (line, col, _) = at(&text, &d);
    assert_eq!((line, col), (21, 12), "{d}");
    // Names differing only in case are the same name in SQL.
    let text = JOB.replace("{name: other,", "{name: OUT,");
    let d = one(&text);
    assert_eq!(
        d.message,
        "sink `OUT` is defined twice (first as `out` at line 20)"
    );
    assert!(
        d.hint.as_deref().unwrap().contains("differ only in case"),
        "{d}"
    );
    assert_eq!(at(&text, &d).0, 21, "{d}");

    let feature = "  - name: f\n    sql: SELECT 1\n";
    let text = JOB.replace("sinks:\n", &format!("{feature}sinks:\n"));
    let d = one(&text);
    assert_eq!(
        d.message,
        "feature `f` version 1 is defined twice (first at line 14)"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("give each feature a name of its own or another `version`")
    );
    assert_eq!(at(&text, &d), (19, 11, "f"), "{d}");
}

/// A feature's name is the `feature` of its rows and the start of its store keys: one
/// differing from another only in case would be read as the same feature, so it is the
/// same name, as for sources and sinks. Another version is another feature.
#[test]
fn a_feature_repeated_in_another_case_is_an_error_at_its_name() {
    let feature = "  - name: F\n    sql: SELECT 1\n";
    let text = JOB.replace("sinks:\n", &format!("{feature}sinks:\n"));
    let d = one(&text);
    assert_eq!(
        d.message,
        "feature `F` version 1 is defined twice (first as `f` at line 14)"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("give each feature a name of its own or another `version`; names that differ only in case are the same name")
    );
    assert_eq!(at(&text, &d), (19, 11, "F"), "{d}");

    let v2 = "  - name: F\n    version: 2\n    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)\n";
    let text = JOB.replace("sinks:\n", &format!("{v2}sinks:\n"));
    parse_job(Path::new("job.yaml"), &text).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn an_unknown_sink_of_a_feature_points_at_that_list_item() {
    let text = JOB.replace("    sql: |", "    sinks: [out, othr]\n    sql: |");
    let d = one(&text);
    assert!(d.message.contains("unknown sink `othr`"), "{d}");
    let (line, col, _) = at(&text, &d);
    assert_eq!((line, col), (15, 18), "{d}");
}

/// A feature's sink list matches sink names regardless of case (as their uniqueness is
/// checked), and a sink listed twice is an error at the second.
#[test]
fn a_features_sink_list_ignores_case_and_refuses_repeats() {
    let text = JOB.replace("    sql: |", "    sinks: [OUT]\n    sql: |");
    let job = parse_job(Path::new("job.yaml"), &text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(job.features[0].sinks, vec![0]);
    let text = JOB.replace("    sql: |", "    sinks: [out, Out]\n    sql: |");
    let d = one(&text);
    assert!(d.message.contains("lists sink `Out` twice"), "{d}");
    let (line, col, _) = at(&text, &d);
    assert_eq!((line, col), (15, 18), "{d}");
}

/// Features with the same SQL text (or the same first line): an error in the second is
/// in the second.
#[test]
fn sql_is_located_in_its_own_feature() {
    let block = "  - name: g\n    sql: |\n      SELECT user_id, COUNT(*) AS n\n      FROM events\n      GROUP BY user_id, nope, TUMBLE(rowtime, INTERVAL '1' HOUR)\n";
    let text = JOB.replace("sinks:\n", &format!("{block}sinks:\n"));
    let d = one(&text);
    let (line, _, there) = at(&text, &d);
    assert_eq!(line, 23, "{d}");
    assert!(there.starts_with("nope"), "{there}");

    let quoted = "    sql: 'SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, nope, TUMBLE(rowtime, INTERVAL ''1'' HOUR)'\n";
    let text = JOB.replace(
        "sinks:\n",
        &format!("  - name: g\n{quoted}  - name: h\n{quoted}sinks:\n"),
    );
    let d = errors(&text);
    assert_eq!(d.0.len(), 2, "{d}");
    assert_eq!(at(&text, &d.0[0]).0, 20, "{d}");
    let (line, _, there) = at(&text, &d.0[1]);
    assert_eq!(line, 22, "{d}");
    assert!(there.starts_with("nope"), "{there}");
}

#[test]
fn a_file_the_locator_cannot_read_names_only_the_file() {
    let text = JOB
        .replace("name: rides", "name: !!str rides")
        .replace("      fare: float", "      fare: flaot");
    let d = one(&text);
    assert!(d.message.contains("unknown type `flaot`"), "{d}");
    let l = d.location.as_ref().unwrap();
    assert_eq!(
        (l.file.as_path(), l.line),
        (Path::new("job.yaml"), 0),
        "{d}"
    );
}

/// A bad duration names its key and item, at its line, for any value written there.
#[test]
fn a_bad_duration_names_its_key_and_item_at_its_line() {
    let with = |key_line: &str, value: &str| {
        let text = match key_line {
            "watermark_delay" => JOB.replace(
                "    event_time: event_time\n",
                &format!("    event_time: event_time\n    watermark_delay: {value}\n"),
            ),
            "allowed_lateness" => JOB.replace(
                "    sql: |",
                &format!("    allowed_lateness: {value}\n    sql: |"),
            ),
            _ => JOB.replace(
                "{ name: out, connector: file, path: out/f.jsonl }",
                &format!("{{ name: out, connector: redis, store: s, ttl: {value} }}"),
            ),
        };
        let d = one(&text);
        let (line, _, there) = at(&text, &d);
        assert!(there.starts_with(value), "{d}");
        (d, line)
    };
    let (d, line) = with("watermark_delay", "5 parsecs");
    assert_eq!(line, 13, "{d}");
    assert!(
        d.message.starts_with(
            "`watermark_delay` of source `events`: `5 parsecs`: unknown unit `parsecs`"
        ),
        "{d}"
    );
    assert!(d.hint.as_deref().unwrap().contains("`1h30m`"), "{d}");
    let (d, line) = with("allowed_lateness", "x");
    assert_eq!(line, 15, "{d}");
    assert!(
        d.message
            .starts_with("`allowed_lateness` of feature `f`: `x` is not a duration"),
        "{d}"
    );
    let (d, _) = with("ttl", "5");
    assert!(
        d.message
            .starts_with("`ttl` of sink `out`: `5` has no unit"),
        "{d}"
    );
    // Values of other types say what was expected, not serde's "did not match any
    // variant of untagged enum".
    for value in ["[1]", "-5", "1.5", "{ a: 1 }", "true"] {
        let (d, line) = with("allowed_lateness", value);
        assert_eq!(line, 15, "{d}");
        assert!(!d.message.contains("variant"), "{d}");
        assert!(
            d.message.contains("expected a duration such as `5m`")
                || d.message.contains("cannot be negative"),
            "{d}"
        );
        assert!(d.hint.is_some(), "{d}");
    }
}

/// Every spelling the duration hint lists is accepted in a job file, and a bad duration's
/// hint lists them all (`5 minutes` was accepted while the hint said "ms, s, m, h or d").
#[test]
fn a_duration_hint_lists_what_is_accepted() {
    let with = |value: &str| {
        JOB.replace(
            "    event_time: event_time\n",
            &format!("    event_time: event_time\n    watermark_delay: {value}\n"),
        )
    };
    let delay = |value: &str| {
        let job = parse_job(Path::new("job.yaml"), &with(value)).unwrap_or_else(|d| panic!("{d}"));
        job.sources[0].watermark_delay_ms
    };
    for (value, ms) in [
        ("5 minutes", 300_000),
        ("5 min", 300_000),
        ("5 MIN", 300_000),
        ("300s", 300_000),
        ("90 seconds", 90_000),
        ("1 hour", 3_600_000),
        ("2 days", 172_800_000),
        ("500 millis", 500),
        ("00", 0),
        ("\"00\"", 0),
        ("0", 0),
    ] {
        assert_eq!(delay(value), ms, "{value}");
    }
    let text = with("5 parsecs");
    let d = one(&text);
    let hint = d.hint.as_deref().unwrap();
    for spelling in [
        "minutes", "min", "seconds", "sec", "millis", "hours", "days",
    ] {
        assert!(hint.contains(spelling), "{hint}");
    }
    insta::assert_snapshot!(d.to_string());
}

/// A schema key given twice, or in two cases, is an error at the second, not the last
/// type silently winning.
#[test]
fn a_schema_column_declared_twice_is_an_error_at_the_second() {
    for (second, message) in [
        (
            "user_id: int",
            "column `user_id` is declared twice in the schema of source `events`",
        ),
        (
            "USER_ID: string",
            "column `USER_ID` of source `events` is column `user_id` again",
        ),
    ] {
        let text = JOB.replace(
            "      fare: float\n",
            &format!("      fare: float\n      {second}\n"),
        );
        let d = one(&text);
        assert!(d.message.contains(message), "{d}");
        assert_eq!(at(&text, &d).0, 11, "{d}");
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("declared first (line 9, column 7)"),
            "{d}"
        );
        // Flow style too.
        let flow = JOB.replace(
            "      user_id: string!   # fare: flaot\n      fare: float\n      event_time: timestamp\n",
            &format!("      {{ user_id: string!, fare: float, event_time: timestamp, {second} }}\n"),
        )
        .replace("    schema:\n      {", "    schema: {");
        let d = one(&flow);
        assert!(d.message.contains(message), "{d}");
        let (line, _, there) = at(&flow, &d);
        assert_eq!(line, 8, "{d}");
        assert!(there.starts_with(second), "{there}");
    }
}

/// The job, a source, a sink or a feature without a name (empty or blank) is an error.
#[test]
fn an_empty_name_is_an_error() {
    for (from, to, message, line) in [
        ("name: rides", "name: \"\"", "the job has an empty name", 2),
        ("name: rides", "name:", "the job has an empty name", 2),
        (
            "  - name: events",
            "  - name: ' '",
            "sources[0] has an empty name",
            4,
        ),
        (
            "  - name: f\n",
            "  - name: \"\\t\"\n",
            "features[0] has an empty name",
            14,
        ),
        (
            "{name: other,",
            "{name: '',",
            "sinks[1] has an empty name",
            21,
        ),
    ] {
        let text = JOB.replace(from, to);
        let d = one(&text);
        assert_eq!(d.message, message, "{d}");
        assert!(d.hint.as_deref().unwrap().starts_with("name the"), "{d}");
        assert_eq!(at(&text, &d).0, line, "{d}");
    }
    // Two blank sink names are two empty names, not also a repeated name.
    let text = JOB
        .replace("{ name: out,", "{ name: '',")
        .replace("{name: other,", "{name: '',");
    let d = errors(&text);
    assert_eq!(d.0.len(), 2, "{d}");
    assert!(
        d.0.iter().all(|d| d.message.ends_with("has an empty name")),
        "{d}"
    );
}
