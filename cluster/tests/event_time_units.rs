//! Event times are epoch milliseconds. A source whose event times look like epoch
//! *seconds* read as milliseconds (January 1970) gets a warning (found by QA: such data
//! silently fell into windows of 1970).

mod common;

use common::run_ok;

fn run_with_times(times: &[u64]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = times
        .iter()
        .map(|t| format!("{{\"k\":\"a\",\"t\":{t}}}\n"))
        .collect();
    std::fs::write(dir.path().join("ev.jsonl"), lines).unwrap();
    let job = "name: units
sources:
  - { name: ev, connector: file, path: ev.jsonl, format: json, schema: { k: string!, t: timestamp }, event_time: t, watermark_delay: 0s }
features:
  - name: n
    sql: SELECT k, COUNT(*) AS n FROM ev GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
";
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, job).unwrap();
    let out = run_ok(&["run", path.to_str().unwrap(), "-q"]);
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn event_times_in_seconds_are_warned_about_once() {
    // 2026-01-01T00:00:09Z in seconds, read as milliseconds: 1970-01-21.
    let err = run_with_times(&[1_767_225_609, 1_767_225_610, 1_767_225_700]);
    assert_eq!(err.matches("is `t` in epoch seconds?").count(), 1, "{err}");
    assert!(
        err.contains("source `ev`: event times near 1970-01-21T"),
        "{err}"
    );
}

#[test]
fn event_times_in_milliseconds_are_not_warned_about() {
    // The same instants in milliseconds, and small test-style times near the epoch.
    for times in [
        vec![1_767_225_609_000, 1_767_225_700_000],
        vec![1_000, 60_000, 999_999_999],
    ] {
        let err = run_with_times(&times);
        assert!(!err.contains("epoch seconds"), "{times:?}: {err}");
    }
}
