//! Files a job reads and writes: a source's glob is valid, and no two outputs (file sinks,
//! their per-worker files, the dead-letter file) are the same file or inside a source's
//! glob.

use std::path::Path;

use planner::{parse_job, Diagnostic, Diagnostics};

const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema: { user_id: string, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
  - name: other
    connector: file
    path: out/g.jsonl
"#;

fn errors(text: &str) -> Diagnostics {
    parse_job(Path::new("/jobs/job.yaml"), text).expect_err("the job should not validate")
}

fn one(text: &str) -> Diagnostic {
    let d = errors(text);
    assert_eq!(d.0.len(), 1, "{d}");
    d.0.into_iter().next().unwrap()
}

fn line(d: &Diagnostic) -> usize {
    d.location.as_ref().expect("a location").line
}

#[test]
fn the_base_job_validates() {
    parse_job(Path::new("/jobs/job.yaml"), JOB).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_bad_glob_is_an_error_at_the_path() {
    for bad in ["data/[*.jsonl", "data/***.jsonl", "data/a**/b.jsonl"] {
        let d = one(&JOB.replace("path: data/*.jsonl", &format!("path: {bad}")));
        assert!(
            d.message
                .starts_with(&format!("source `events`: `{bad}` is not a valid glob: ")),
            "{d}"
        );
        assert_eq!(line(&d), 5, "{d}");
        assert!(d.hint.as_deref().unwrap().contains("`[[]`"), "{d}");
    }
    // Escaped brackets are fine.
    parse_job(
        Path::new("/jobs/job.yaml"),
        &JOB.replace("path: data/*.jsonl", "path: data/[[]1]/*.jsonl"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
}
