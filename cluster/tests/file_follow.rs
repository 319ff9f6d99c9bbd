//! Following files in stream mode as a user meets it: an `--exit-at-end` run whose last
//! CSV file is empty, a CSV file that appears empty in a live run, and what a stop leaves
//! unread.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::signals::sigterm;
use common::{freshet, rows_of};

const JOB: &str = r#"name: follow
sources:
  - name: ev
    connector: file
    path: in/*.csv
    format: csv
    schema: { k: string!, v: int, ts: timestamp }
    event_time: ts
features:
  - name: c
    type: { n: int, s: int }
    sql: SELECT k, COUNT(*) AS n, SUM(v) AS s, TUMBLE_END(rowtime, INTERVAL '10' SECOND) AS window_end FROM ev GROUP BY k, TUMBLE(rowtime, INTERVAL '10' SECOND)
sinks:
  - name: out
    connector: file
    path: out/f.jsonl
"#;

/// Waits for `child` at most `limit`; kills it and fails if it is still running.
fn wait_at_most(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// (window_end, n) of every output row of the run in `dir`, sorted.
fn windows(dir: &Path) -> Vec<(i64, i64)> {
    let mut got: Vec<(i64, i64)> = ["f.jsonl", "f.0.jsonl", "f.1.jsonl"]
        .iter()
        .flat_map(|f| rows_of(&dir.join("out").join(f)))
        .map(|r| (r["window_end"].as_i64().unwrap(), r["n"].as_i64().unwrap()))
        .collect();
    got.sort();
    got
}

/// `--exit-at-end` stops like a backfill when the last file the glob matches is empty,
/// blank or only a header without its line break, also on two workers and when it is the
/// only file; the run had waited for the file's header for ever.
#[test]
fn exit_at_end_stops_when_the_last_csv_file_is_empty_or_headerless() {
    for last in ["", "\n\n", "ts,v,k"] {
        for only in [false, true] {
            for workers in ["1", "2"] {
                let dir = tempfile::tempdir().unwrap();
                let input = dir.path().join("in");
                std::fs::create_dir_all(&input).unwrap();
                if !only {
                    std::fs::write(input.join("a.csv"), "ts,v,k\n1000,1,x\n12000,1,x\n").unwrap();
                }
                std::fs::write(input.join("b.csv"), last).unwrap();
                std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
                let job = dir.path().join("job.yaml");
                let child = freshet()
                    .args([
                        "run",
                        job.to_str().unwrap(),
                        "--mode",
                        "stream",
                        "--exit-at-end",
                    ])
                    .args(["--workers", workers, "-q"])
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let what = format!("last {last:?}, only {only}, workers {workers}");
                let out = wait_at_most(child, Duration::from_secs(60), &what);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{what}: {stderr}");
                let want = if only {
                    vec![]
                } else {
                    vec![(10_000, 1), (20_000, 1)]
                };
                assert_eq!(windows(dir.path()), want, "{what}");
                // An empty or headerless file is no header problem.
                assert!(!stderr.contains("b.csv"), "{what}: {stderr}");
            }
        }
    }
}

/// Starts a live run of the job in `dir`, with stderr piped.
fn live(dir: &Path) -> Child {
    let job = dir.join("job.yaml");
    freshet()
        .args(["run", job.to_str().unwrap(), "--mode", "stream", "-q"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the run in `dir` has written `n` windows.
fn wait_for_windows(dir: &Path, n: usize) -> Vec<(i64, i64)> {
    let started = Instant::now();
    loop {
        let got = windows(dir);
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for {n} windows, have {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// In a live run, a CSV file that appears empty gives way to the newer file after it:
/// the source had stopped at the empty file for good, its watermark frozen.
#[test]
fn a_live_run_moves_past_an_empty_csv_file_to_the_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
    std::fs::write(input.join("a.csv"), "ts,v,k\n1000,1,x\n").unwrap();
    let child = live(dir.path());
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(input.join("b.csv"), "").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(input.join("c.csv"), "ts,v,k\n12000,2,x\n").unwrap();
    // c.csv's event moves the watermark past the first window.
    assert_eq!(wait_for_windows(dir.path(), 1), [(10_000, 1)]);
    sigterm(&child);
    let out = wait_at_most(child, Duration::from_secs(30), "the stopped run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stop warns of the followed file's unfinished last line, naming the file and its
/// bytes: a live run does not read it (its writer may be mid-line), where backfill and
/// `--exit-at-end` read it as it is. It had gone unread without a word.
#[test]
fn a_stop_names_the_followed_files_unfinished_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
    std::fs::write(input.join("a.csv"), "ts,v,k\n1000,1,x\n12000,2,x\n").unwrap();
    let child = live(dir.path());
    assert_eq!(wait_for_windows(dir.path(), 1), [(10_000, 1)]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(input.join("a.csv"))
        .unwrap();
    write!(f, "13000,").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&child);
    let out = wait_at_most(child, Duration::from_secs(30), "the stopped run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warning = format!(
        "source `ev`: stopping: `{}` ends in an unfinished line (6 bytes without a line break) that was not read",
        input.join("a.csv").display()
    );
    assert!(stderr.contains(&warning), "{stderr}");
}

/// A followed file truncated in place, then one replaced by a rename, is read again from
/// its start with a warning naming it, and its dead letters' line numbers start at 1
/// again. Before, the truncated file was read on from the old offset (its records lost
/// without a word) and the replaced one was never read.
#[test]
fn a_followed_file_truncated_or_replaced_is_read_again_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let job = JOB
        .replace("in/*.csv", "in/*.jsonl")
        .replace("format: csv", "format: json");
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let a = input.join("a.jsonl");
    let event = |ts: u64| format!("{{\"k\":\"x\",\"v\":1,\"ts\":{ts}}}\n");
    std::fs::write(&a, [1000, 2000, 3000].map(event).concat()).unwrap();
    let child = live(dir.path());
    std::thread::sleep(Duration::from_millis(1000));
    std::fs::write(&a, format!("not json\n{}", event(12_000))).unwrap();
    assert_eq!(wait_for_windows(dir.path(), 1), [(10_000, 3)]);
    let tmp = input.join("a.tmp");
    std::fs::write(&tmp, event(22_000)).unwrap();
    std::fs::rename(&tmp, &a).unwrap();
    assert_eq!(wait_for_windows(dir.path(), 2), [(10_000, 3), (20_000, 1)]);
    sigterm(&child);
    let out = wait_at_most(child, Duration::from_secs(30), "the stopped run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let shown = a.display();
    // (Truncated to 0 or 36 bytes: the test's write truncates, then writes.)
    let truncated = format!("`{shown}` was truncated to ");
    assert!(
        stderr.contains(&truncated) && stderr.contains("bytes after 78 bytes of it were read"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("`{shown}` was replaced by another file")),
        "{stderr}"
    );
    let dead = rows_of(&dir.path().join("out/dead_letter.jsonl"));
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0]["record"].as_str(), dead[0]["line"].as_u64()),
        (Some("not json"), Some(1))
    );
}
