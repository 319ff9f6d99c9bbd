//! A declared source that no feature reads is not read at all: `validate`, `explain`,
//! `run` and `launch` say so once, at its place in the job file (found by QA: a second
//! source's events were silently missing from the summary's `events read`).

mod common;

use common::run_ok;

const JOB: &str = "name: two
sources:
  - name: rides
    connector: file
    path: rides.jsonl
    format: json
    schema: { k: string!, t: timestamp }
    event_time: t
  - name: clicks
    connector: file
    path: clicks.jsonl
    format: json
    schema: { k: string!, t: timestamp }
    event_time: t
features:
  - name: n
    sql: SELECT k, COUNT(*) AS n FROM rides GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
";

fn setup(job: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rides.jsonl"), "{\"k\":\"a\",\"t\":1000}\n").unwrap();
    std::fs::write(
        dir.path().join("clicks.jsonl"),
        "{\"k\":\"a\",\"t\":1000}\n{\"k\":\"b\",\"t\":2000}\n",
    )
    .unwrap();
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, job).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

fn stderr(args: &[&str]) -> String {
    String::from_utf8(run_ok(args).stderr).unwrap()
}

#[test]
fn an_unread_source_is_named_at_its_line() {
    let (_dir, job) = setup(JOB);
    // `clicks` is the second source: its `name:` is on line 9, column 11.
    let want =
        format!("freshet: warning: {job}:9:11: source `clicks` is not read: no feature reads it");
    for args in [
        vec!["validate", job.as_str()],
        vec!["explain", job.as_str()],
        vec!["run", job.as_str(), "-q"],
    ] {
        let err = stderr(&args);
        assert_eq!(err.matches(&want).count(), 1, "{args:?}: {err}");
        assert!(!err.contains("`rides` is not read"), "{args:?}: {err}");
    }
}

#[test]
fn no_warning_when_every_source_is_read() {
    let job = JOB.replace(
        "sinks:",
        "  - name: m\n    sql: SELECT k, COUNT(*) AS m FROM clicks GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:",
    );
    let (_dir, job) = setup(&job);
    for args in [
        vec!["validate", job.as_str()],
        vec!["run", job.as_str(), "-q"],
    ] {
        let err = stderr(&args);
        assert!(!err.contains("is not read"), "{args:?}: {err}");
    }
}
