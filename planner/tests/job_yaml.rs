//! The shape of a job file: a key given twice, an empty file, an empty schema. Each error
//! says what is wrong where it is, and what to write instead.

use std::path::Path;

use planner::{parse_job, Diagnostic, ErrorKind};

const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      event_time: timestamp
    event_time: event_time
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#;

/// The one diagnostic of a job file that does not validate, and its rendering.
fn one(text: &str) -> (Diagnostic, String) {
    let d = parse_job(Path::new("job.yaml"), text).expect_err("the job should not validate");
    assert_eq!(d.0.len(), 1, "{d}");
    let rendered = d.to_string();
    (d.0.into_iter().next().unwrap(), rendered)
}

fn line_col(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.as_ref().expect("a location");
    (l.line, l.column)
}

#[test]
fn the_base_job_validates() {
    parse_job(Path::new("job.yaml"), JOB).unwrap_or_else(|d| panic!("{d}"));
}

/// A job file saved with a byte-order mark (Windows editors write one) validates, and
/// its errors are where an editor shows them; the mark made `sources` "missing".
#[test]
fn a_byte_order_mark_is_not_part_of_the_job() {
    let with_bom = format!("\u{feff}{JOB}");
    parse_job(Path::new("job.yaml"), &with_bom).unwrap_or_else(|d| panic!("{d}"));
    let bad = with_bom.replace("name: rides", "nme: rides");
    let d = parse_job(Path::new("job.yaml"), &bad).expect_err("a typo");
    assert_eq!(line_col(&d.0[0]), (1, 1), "{d}");
    assert!(d.0[0].message.contains("`nme`"), "{d}");
}

/// A key given twice is an error at the second, naming the line of the first (serde
/// placed it at the start of the mapping).
#[test]
fn a_key_given_twice_is_an_error_at_the_second_naming_the_first() {
    let text = JOB.replace(
        "    format: json\n",
        "    format: json\n    path: other/*.jsonl\n",
    );
    let (d, rendered) = one(&text);
    assert_eq!(d.kind, ErrorKind::Config);
    assert_eq!(
        d.message,
        "source `events`: `path` is given twice, first at line 5"
    );
    assert_eq!(line_col(&d), (7, 5), "{rendered}");
    assert_eq!(
        d.hint.as_deref(),
        Some("keep one `path:` (line 5 or line 7)")
    );
    insta::assert_snapshot!(rendered);

    // At the top level, in a feature, and in a flow mapping.
    let text = JOB.replace("sinks:\n", "name: again\nsinks:\n");
    let (d, rendered) = one(&text);
    assert_eq!(d.message, "`name` is given twice, first at line 1");
    assert_eq!(line_col(&d), (14, 1), "{rendered}");
    let text = JOB.replace(
        "  - name: f\n",
        "  - name: f\n    version: 1\n    version: 2\n",
    );
    let (d, rendered) = one(&text);
    assert_eq!(
        d.message,
        "feature `f`: `version` is given twice, first at line 13"
    );
    assert_eq!(line_col(&d), (14, 5), "{rendered}");
    let text = JOB.replace("path: out/f.jsonl }", "path: out/f.jsonl, path: x.jsonl }");
    let (d, rendered) = one(&text);
    assert_eq!(
        d.message,
        "sink `out`: `path` is given twice, first at line 15"
    );
    assert_eq!(line_col(&d), (15, 54), "{rendered}");
}

/// An empty job file (or one of comments, or `~`) says so and shows a minimal job, which
/// validates and plans; serde said "missing field `name`".
#[test]
fn an_empty_job_file_says_so_and_shows_a_minimal_job() {
    for text in ["", "\n\n", "# a job, one day\n", "~\n"] {
        let (d, rendered) = one(text);
        assert_eq!(d.kind, ErrorKind::Config);
        assert_eq!(
            d.message, "the job file is empty: it defines no job",
            "{text:?}"
        );
        assert_eq!(line_col(&d), (0, 0));
        if text.is_empty() {
            insta::assert_snapshot!(rendered);
        }
        let hint = d.hint.unwrap();
        let example: String = hint
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap()))
            .collect();
        let job = parse_job(Path::new("job.yaml"), &example).unwrap_or_else(|d| panic!("{d}"));
        planner::plan_job(&job).unwrap_or_else(|d| panic!("{d}"));
    }
}

/// An empty schema says a schema needs the event-time column, with an example; it said
/// "event_time column `event_time` is not in the schema" and "the schema has: " (nothing).
#[test]
fn an_empty_schema_needs_the_event_time_column() {
    let block = "    schema:\n      user_id: string!\n      event_time: timestamp\n";
    for schema in ["    schema: {}\n", "    schema:\n"] {
        let (d, rendered) = one(&JOB.replace(block, schema));
        assert_eq!(d.kind, ErrorKind::Config);
        assert_eq!(
            d.message, "the schema of source `events` has no columns",
            "{rendered}"
        );
        assert_eq!(line_col(&d), (7, 5), "{rendered}");
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("`schema: { event_time: timestamp, user_id: string }`"),
            "{rendered}"
        );
        if schema.contains("{}") {
            insta::assert_snapshot!(rendered);
        }
    }
}

/// A `:` in a feature's name is an error at the name: stores key entities
/// `<feature>:<version>:<key>`, so feature `a:1` (version 2) and feature `a` (version 1,
/// key `2:x`) would share `a:1:2:x`.
#[test]
fn a_feature_name_with_a_colon_is_an_error() {
    let (d, _) = one(&JOB.replace("  - name: f\n", "  - name: \"rides:v2\"\n"));
    assert_eq!(d.message, "feature name `rides:v2` contains `:`");
    assert_eq!(line_col(&d), (12, 11));
    assert_eq!(d.hint.as_deref(), Some("write `rides_v2`"));
}

/// Type errors speak of the job file's values, not Rust's types (they said "expected u32",
/// "expected a sequence", "expected struct JobSpec").
#[test]
fn type_errors_name_what_to_write() {
    let (d, _) = one(&JOB.replace("  - name: f\n", "  - name: f\n    version: one\n"));
    assert_eq!(
        d.message,
        "`version` of feature `f`: invalid type: string \"one\", expected a whole number"
    );
    let (d, _) = one(&JOB.replace(
        "    event_time: event_time\n",
        "    event_time: event_time\n    required: user_id\n",
    ));
    assert!(
        d.message
            .ends_with("expected a list (`[a, b]`, or one `- item` per line)"),
        "{}",
        d.message
    );
    let d = parse_job(Path::new("job.yaml"), "\"a string\"\n").expect_err("not a job");
    assert!(
        d.0[0]
            .message
            .ends_with("expected a job: a mapping of `name`, `sources`, `features` and `sinks`"),
        "{d}"
    );
}

/// A tab where YAML wants indentation says to use spaces (the parser's message is about
/// tokens and indentation only).
#[test]
fn a_tab_in_the_indentation_says_to_use_spaces() {
    for text in [
        JOB.replace("  - name: events\n", "\t- name: events\n"),
        JOB.replace("    connector: file\n", "\tconnector: file\n"),
    ] {
        let (d, _) = one(&text);
        assert_eq!(
            d.hint.as_deref(),
            Some("YAML indents with spaces, not tabs: replace the tab with spaces"),
            "{d:?}"
        );
    }
}

/// A misspelt feature `type:` gets the closest type, as a schema's column type does.
#[test]
fn a_misspelt_feature_type_suggests_the_closest() {
    let (d, _) = one(&JOB.replace("  - name: f\n", "  - name: f\n    type: integr\n"));
    assert_eq!(d.message, "unknown type `integr` for feature `f`");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `integer`? (types: string, int, float, bool, timestamp, array)")
    );
}

/// Names compare without case for every letter, not only ASCII: `USÉR` in SQL is the
/// column `usér`, and a schema declaring both is an error (it validated, and `USÉR` was
/// then an unknown column).
#[test]
fn names_compare_without_case_beyond_ascii() {
    let job = JOB.replace("user_id: string!", "usér: string!").replace(
        "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id,",
        "SELECT USÉR, COUNT(*) AS n FROM events GROUP BY Usér,",
    );
    let parsed = parse_job(Path::new("job.yaml"), &job).unwrap_or_else(|d| panic!("{d}"));
    planner::plan_job(&parsed).unwrap_or_else(|d| panic!("{d}"));
    let twice = JOB.replace("user_id: string!", "usér: string!\n      USÉR: string");
    let (d, _) = one(&twice);
    assert!(
        d.message.contains("is column `usér` again"),
        "{}",
        d.message
    );
}
