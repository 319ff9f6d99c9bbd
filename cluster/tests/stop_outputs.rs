//! What a stopped run emits: a window the watermark closed before the stop is emitted
//! whole, even when the stop comes while its rows are coming out; a join with a bounded
//! table that was not read to its end emits nothing.
//!
//! A firing is emitted in chunks (1024 rows per activation of the window operator), so a
//! window of 3000 keys takes three activations. With `--batch-bytes 1` the source reads a
//! line per activation, and a malformed line under `on_error: fail` stops the run at a
//! known point: the line after the one that closes the window, while its rows are coming
//! out. Before, the run kept only the chunks emitted before the stop (1024 or 2048 of the
//! 3000 rows); the window had been closed by the watermark of the whole input, so all of
//! its rows belong in the output. The window the watermark had not closed is not emitted.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{freshet, rows_of};

const KEYS: usize = 3000;

/// Writes the job (`features`: YAML list items) and its input: one event per key in the
/// first minute, `after` events in minute 10 (the first closes the first minute's window),
/// then a malformed line.
fn setup(dir: &Path, features: &str, after: usize) -> String {
    let job = format!(
        "name: stop
sources:
  - name: s
    connector: file
    path: in.jsonl
    format: json
    schema: {{ k: string, t: timestamp }}
    event_time: t
    watermark_delay: 1s
    on_error: fail
features:
{features}
sinks:
  - {{ name: out, connector: file, path: out/rows.jsonl }}
"
    );
    let mut input = String::new();
    for i in 0..KEYS {
        input += &format!("{{\"k\":\"k{i}\",\"t\":{}}}\n", 1000 + i);
    }
    for j in 0..after {
        input += &format!("{{\"k\":\"z\",\"t\":{}}}\n", 600_000 + j);
    }
    input += "{not json\n";
    std::fs::write(dir.join("in.jsonl"), input).unwrap();
    let path = dir.join("job.yaml");
    std::fs::write(&path, job).unwrap();
    path.to_str().unwrap().to_string()
}

/// Rows by feature: (key, window start, window end) -> the other columns.
type Rows = BTreeMap<String, BTreeMap<(String, i64, i64), String>>;

/// Runs the job, which must fail on the malformed line (`after` events after the first
/// minute's); returns its rows.
fn run_failing(job: &str, dir: &Path, mode: &str, after: usize) -> Rows {
    let mut args = vec!["run", job, "--mode", mode, "--batch-bytes", "1", "-q"];
    if mode == "stream" {
        args.push("--exit-at-end");
    }
    let out = freshet().args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{mode}: the malformed line fails the run"
    );
    assert!(
        err.contains(&format!("in.jsonl:{}:", KEYS + after + 1)) && err.contains("on_error: fail"),
        "{mode}: {err}"
    );
    let mut by_feature = Rows::new();
    for mut row in rows_of(&dir.join("out/rows.jsonl")) {
        let row = row.as_object_mut().unwrap();
        assert_eq!(row.remove("revision"), Some(0.into()), "{mode}: {row:?}");
        let feature = row.remove("feature").unwrap().as_str().unwrap().to_string();
        row.remove("version");
        let key = row.remove("k").unwrap().as_str().unwrap().to_string();
        let start = row.remove("window_start").unwrap().as_i64().unwrap();
        let end = row.remove("window_end").unwrap().as_i64().unwrap();
        let rest = serde_json::to_string(&row).unwrap();
        let previous = by_feature
            .entry(feature)
            .or_default()
            .insert((key, start, end), rest);
        assert!(previous.is_none(), "{mode}: a row twice");
    }
    by_feature
}

/// What every key's first-minute window holds, computed from the input as written: one
/// event at `1000 + i`; `column(i)` renders the feature's value column.
fn expected(column: impl Fn(usize) -> String) -> BTreeMap<(String, i64, i64), String> {
    (0..KEYS)
        .map(|i| ((format!("k{i}"), 0, 60_000), column(i)))
        .collect()
}

/// Runs `features` with 1 to 4 events after the first minute, in both modes: each
/// feature's rows must be all of `want`'s or none (the stop came before the operator saw
/// the window closed), never part; and with 2 or more events after (the window operator
/// sees the window closed before the source reads the malformed line, one worker being
/// deterministic) all of them.
fn check(features: &str, want: &Rows) {
    for mode in ["stream", "backfill"] {
        for after in 1..=4 {
            let dir = tempfile::tempdir().unwrap();
            let job = setup(dir.path(), features, after);
            let rows = run_failing(&job, dir.path(), mode, after);
            for (feature, got) in &rows {
                let whole = &want[feature];
                assert_eq!(
                    (got.len(), got == whole),
                    (whole.len(), true),
                    "{mode}, {after} events after: feature {feature} has part of its window"
                );
            }
            if after >= 2 {
                assert_eq!(&rows, want, "{mode}, {after} events after");
            }
        }
    }
}

#[test]
fn a_running_sums_window_with_its_own_file_is_emitted_whole() {
    // One COUNT feature alone on its sink: the window operator writes the file itself.
    let features = "  - name: f
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)";
    let want = Rows::from([("f".into(), expected(|_| r#"{"n":1}"#.into()))]);
    check(features, &want);
}

#[test]
fn windows_handed_to_a_sink_operator_are_emitted_whole() {
    // Two features on one sink (not fused); MAX runs on the pane operator, COUNT on running
    // sums.
    let features = "  - name: f
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
  - name: g
    sql: SELECT k, MAX(t) AS latest FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)";
    // Timestamps are written as epoch milliseconds.
    let latest = |i: usize| format!(r#"{{"latest":{}}}"#, 1000 + i);
    let want = Rows::from([
        ("f".into(), expected(|_| r#"{"n":1}"#.into())),
        ("g".into(), expected(latest)),
    ]);
    check(features, &want);
}

/// A table join's stream rows wait for the table; a failure while it loads (a malformed
/// table line under `on_error: fail`) ends the table's input early. Before, the waiting
/// rows were then joined with the part read: a LEFT join padded with NULLs the orders
/// whose store came after the failing line. Now nothing is joined.
#[test]
fn a_table_join_emits_nothing_when_the_table_load_fails() {
    let dir = tempfile::tempdir().unwrap();
    let job = "name: tj
sources:
  - name: orders
    connector: file
    path: orders.jsonl
    format: json
    schema: { order_id: string!, store_id: string, event_time: timestamp }
    event_time: event_time
    watermark_delay: 0s
  - name: stores
    connector: file
    path: stores.jsonl
    format: json
    schema: { store_id: string!, city: string, updated_at: timestamp }
    event_time: updated_at
    bounded: true
    on_error: fail
features:
  - name: order_city
    sql: SELECT o.order_id, s.city FROM orders AS o LEFT JOIN stores AS s ON o.store_id = s.store_id
sinks:
  - { name: out, connector: file, path: out/rows.jsonl }
";
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let orders: String = (0..200)
        .map(|i| {
            format!(
                "{{\"order_id\":\"o{i}\",\"store_id\":\"s{}\",\"event_time\":{}}}\n",
                i % 50,
                1000 + i
            )
        })
        .collect();
    std::fs::write(dir.path().join("orders.jsonl"), orders).unwrap();
    let store =
        |i: usize| format!("{{\"store_id\":\"s{i}\",\"city\":\"c{i}\",\"updated_at\":0}}\n");
    let stores: String = (0..25)
        .map(store)
        .chain(["{bad\n".to_string()])
        .chain((25..50).map(store))
        .collect();
    std::fs::write(dir.path().join("stores.jsonl"), stores).unwrap();
    let job = dir.path().join("job.yaml");
    for extra in [
        &["--mode", "stream", "--exit-at-end"][..],
        &["--mode", "backfill"],
    ] {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        let out = freshet()
            .arg("run")
            .arg(&job)
            .args(extra)
            .args(["--batch-bytes", "1", "-q"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("stores.jsonl:26:"),
            "{extra:?}: {err}"
        );
        let rows = rows_of(&dir.path().join("out/rows.jsonl"));
        assert!(
            rows.is_empty(),
            "{extra:?}: {} rows joined with part of the table, the first {:?}",
            rows.len(),
            rows.first()
        );
    }
}

/// A live run whose stderr is a closed pipe (its supervisor went away) still stops on
/// SIGTERM, writing the windows its watermark closed. Before, the signal handler's
/// message panicked on the closed pipe before it asked for the stop, and the process
/// ignored SIGTERM from then on.
#[test]
fn sigterm_stops_a_run_whose_stderr_is_closed() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("in.jsonl"),
        "{\"k\":\"a\",\"t\":1000}\n{\"k\":\"a\",\"t\":61000}\n",
    )
    .unwrap();
    let job = d.join("job.yaml");
    std::fs::write(
        &job,
        "name: pipe
sources:
  - { name: s, connector: file, path: in.jsonl, format: json, schema: { k: string, t: timestamp }, event_time: t }
features:
  - name: c
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/c.jsonl }
",
    )
    .unwrap();
    let mut child = freshet()
        .args(["run", job.to_str().unwrap(), "--mode", "stream"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first minute's window is out once the second record is read.
    let out = d.join("out/c.jsonl");
    let start = Instant::now();
    while rows_of(&out).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "no row came out");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(child.stderr.take());
    common::signals::sigterm(&child);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("SIGTERM did not stop the run");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(rows_of(&out).len(), 1);
}

/// A backfill stopped by a signal before the end of its input fails, and its summary says
/// so; run to its end, it says it was not stopped (found by QA: a stopped backfill exited
/// 0 with a summary like a finished run's, and a scheduler took its partial training data
/// for complete).
#[test]
fn a_backfill_stopped_before_its_end_fails_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Read a line per step (`--batch-bytes 1`): seconds of work, stopped after a moment.
    let lines: String = (0..40_000)
        .map(|i| format!("{{\"k\":\"k{}\",\"t\":{}}}\n", i % 100, i * 10))
        .collect();
    std::fs::write(dir.path().join("in.jsonl"), lines).unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        "name: stopped
sources:
  - { name: s, connector: file, path: in.jsonl, format: json, schema: { k: string, t: timestamp }, event_time: t }
features:
  - name: n
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/rows.jsonl }
",
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "run".to_string(),
            job.to_string_lossy().into_owned(),
            "--mode".into(),
            "backfill".into(),
            "-q".into(),
            "--summary-json".into(),
            summary.to_string_lossy().into_owned(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let stopped_before_end = || {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        s["stopped_before_end"].as_bool().unwrap()
    };
    let child = freshet()
        .args(args(&["--batch-bytes", "1"]))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Sources connected (the output file is there), then a moment of reading.
    let started = std::time::Instant::now();
    while !dir.path().join("out/rows.jsonl").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no output file"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    common::signals::sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("stopped by a signal before the end of its input"),
        "{err}"
    );
    assert!(stopped_before_end());
    // To its end: a success, not stopped.
    common::run_ok(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!stopped_before_end());
}
