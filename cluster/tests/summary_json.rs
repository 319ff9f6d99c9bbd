//! Where a run writes: `--summary-json FILE` is checked before anything is read, its
//! directory is created as a sink's is, and the printed summary does not depend on it; a
//! sink path under a file names that file.

mod common;

use common::{bad_input_job, freshet, run_ok};

/// A summary in a directory that does not exist yet is written there; before, the run
/// went to its end and then failed writing it, its printed summary lost too.
#[test]
fn the_summary_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "dead_letter");
    let summary = dir.path().join("reports/today/summary.json");
    let out = run_ok(&["run", &job, "--summary-json", summary.to_str().unwrap()]);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // The input has 5 lines: 2 good, 3 undecodable (by hand).
    assert_eq!(
        (s["events_read"].as_u64(), s["bad_records"].as_u64()),
        (Some(5), Some(3))
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("events read"));
}

/// A summary path under a file, or naming a directory, fails at once: nothing is read and
/// no sink file is written.
#[test]
fn an_unwritable_summary_path_fails_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "dead_letter");
    std::fs::write(dir.path().join("afile"), "").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    for (path, says) in [
        ("afile/summary.json", "is a file, not a directory"),
        ("afile/deeper/summary.json", "is a file, not a directory"),
        ("adir", "is a directory"),
    ] {
        let path = dir.path().join(path);
        for command in ["run", "launch"] {
            let mut args = vec![
                command,
                job.as_str(),
                "--summary-json",
                path.to_str().unwrap(),
            ];
            let hosts = dir.path().join("hosts");
            if command == "launch" {
                std::fs::write(&hosts, "127.0.0.1:1\n").unwrap();
                args.extend(["--hostfile", hosts.to_str().unwrap()]);
            }
            let out = freshet().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command} {path:?}");
            assert!(
                err.contains("--summary-json") && err.contains(says),
                "{command} {path:?}: {err}"
            );
            assert!(
                !dir.path().join("out").exists(),
                "{command} {path:?}: the run started"
            );
        }
    }
}

/// A sink path whose directory would be where a file is names that file (it said "File
/// exists (os error 17)").
#[test]
fn a_sink_path_under_a_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "skip");
    std::fs::write(dir.path().join("out"), "").unwrap();
    let out = freshet().args(["run", &job, "-q"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("file sink `out`:") && err.contains("/out` is a file, not a directory"),
        "{err}"
    );
}

/// A run that fails before its sources connect (here: no file matches the source's glob)
/// leaves the previous run's outputs as they were: the fused window sink's, a plain
/// sink's, a Parquet sink's, the dead letters, and (run on fewer workers) the other
/// workers' files. Before, every file was emptied or removed when the dataflow started.
#[test]
fn a_run_that_fails_to_start_leaves_the_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    std::fs::write(
        d.join("in/a.jsonl"),
        "{\"k\":\"a\",\"t\":1000}\n{\"k\":\"b\",\"t\":2000}\nnot json\n{\"k\":\"a\",\"t\":70000}\n",
    )
    .unwrap();
    let job = d.join("job.yaml");
    std::fs::write(
        &job,
        "name: keep
sources:
  - { name: ev, connector: file, path: in/*.jsonl, format: json, schema: { k: string!, t: timestamp }, event_time: t }
features:
  - name: c
    sql: SELECT k, COUNT(*) AS n FROM ev GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
    sinks: [counts]
  - name: s
    sql: SELECT k, t FROM ev
    sinks: [rows, table]
sinks:
  - { name: counts, connector: file, path: out/c.jsonl }
  - { name: rows, connector: file, path: out/s.jsonl }
  - { name: table, connector: file, path: out/s.parquet, format: parquet }
",
    )
    .unwrap();
    let job = job.to_str().unwrap();
    run_ok(&["run", job, "--workers", "2", "-q"]);
    let snapshot = || -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.join("out"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "c.0.jsonl",
        "c.1.jsonl",
        "s.0.jsonl",
        "s.1.jsonl",
        "s.0.parquet",
        "dead_letter.jsonl",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
    let rows: usize = before
        .iter()
        .filter(|(n, _)| n.ends_with(".jsonl") && n.starts_with("c."))
        .map(|(_, b)| b.iter().filter(|&&c| c == b'\n').count())
        .sum();
    assert_eq!(rows, 3, "a and b in minute 0, a in minute 1");
    assert!(before
        .iter()
        .any(|(n, b)| n == "dead_letter.jsonl" && !b.is_empty()));

    std::fs::rename(d.join("in"), d.join("moved")).unwrap();
    for workers in ["1", "2"] {
        let out = freshet()
            .args(["run", job, "--workers", workers, "-q"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no files match"));
        assert_eq!(snapshot(), before, "{workers} worker(s)");
    }
    std::fs::rename(d.join("moved"), d.join("in")).unwrap();
    // A dead-letter path (or a sink's) that cannot be created fails before anything is
    // touched (found by QA: the sinks' files were replaced, then the run failed).
    std::fs::write(d.join("a-file"), "").unwrap();
    let text = std::fs::read_to_string(job).unwrap();
    for (bad, what) in [
        (
            format!("{text}dead_letter: a-file/dl.jsonl\n"),
            "error: the dead-letter file: ",
        ),
        (
            text.replace("path: out/s.jsonl", "path: a-file/s.jsonl"),
            "error: file sink `rows`: ",
        ),
        // (A directory is the job file's error, at the path.)
        (
            text.replace("path: out/s.jsonl", "path: out"),
            "sink `rows`: `out` is a directory",
        ),
    ] {
        let bad_job = d.join("bad.yaml");
        std::fs::write(&bad_job, bad).unwrap();
        let out = freshet()
            .args(["run", bad_job.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(what), "{err}");
        assert_eq!(snapshot(), before, "{err}");
    }
    std::fs::rename(d.join("in"), d.join("moved")).unwrap();
    // Once the sources connect, the outputs are replaced (one worker now: the two-worker
    // files are removed).
    std::fs::rename(d.join("moved"), d.join("in")).unwrap();
    run_ok(&["run", job, "--workers", "1", "-q"]);
    let names: Vec<String> = snapshot().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["c.jsonl", "dead_letter.jsonl", "s.jsonl", "s.parquet"]
    );
}

/// A run that fails leaves no summary: the previous run's is removed at the start, not
/// left to be read as this run's.
#[test]
fn a_failed_run_leaves_no_stale_summary() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    let summary = dir.path().join("summary.json");
    std::fs::write(&summary, "{\"events_read\": 1}").unwrap();
    let out = freshet()
        .args([
            "run",
            &job,
            "--summary-json",
            summary.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "on_error: fail with bad lines fails");
    assert!(!summary.exists());
}

/// A live run stopped while its source is still connecting (a Kafka broker that refuses
/// connections) leaves the previous outputs, and says so: the run exits 0, and without
/// the warning its summary would pass for a run that replaced them.
#[test]
fn a_stop_before_the_sources_connect_says_the_outputs_were_not_replaced() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("infra.yaml"),
        "kafka:\n  dead: { bootstrap_servers: \"127.0.0.1:1\" }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.yaml"),
        "name: dead
sources:
  - { name: s, connector: kafka, cluster: dead, topic: t, format: json, schema: { k: string, t: timestamp }, event_time: t }
features:
  - name: c
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/c.jsonl }
",
    )
    .unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(d.join("out/c.jsonl"), "{\"previous\":true}\n").unwrap();
    let child = freshet()
        .current_dir(d)
        .args([
            "run",
            "job.yaml",
            "--infra",
            "infra.yaml",
            "--mode",
            "stream",
            "-q",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    common::signals::sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stopped before its sources connected"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out/c.jsonl")).unwrap(),
        "{\"previous\":true}\n"
    );
}

/// A live run whose sources connected but are quiet replaces the previous run's files
/// without waiting for a row (the fused window sink's and a plain sink's): a reader
/// tailing them must not take the old rows for this run's.
#[test]
fn a_quiet_live_run_replaces_the_previous_files_once_connected() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.jsonl"), "").unwrap();
    std::fs::write(
        d.join("job.yaml"),
        "name: quiet
sources:
  - { name: s, connector: file, path: in.jsonl, format: json, schema: { k: string, t: timestamp }, event_time: t }
features:
  - name: c
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
    sinks: [counts]
  - name: r
    sql: SELECT k, t FROM s
    sinks: [rows]
sinks:
  - { name: counts, connector: file, path: out/c.jsonl }
  - { name: rows, connector: file, path: out/r.jsonl }
",
    )
    .unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    for f in ["out/c.jsonl", "out/r.jsonl"] {
        std::fs::write(d.join(f), "{\"previous\":true}\n").unwrap();
    }
    let mut child = freshet()
        .current_dir(d)
        .args(["run", "job.yaml", "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let replaced = loop {
        let empty = ["out/c.jsonl", "out/r.jsonl"]
            .iter()
            .all(|f| std::fs::read_to_string(d.join(f)).is_ok_and(|t| t.is_empty()));
        if empty || start.elapsed() > Duration::from_secs(10) {
            break empty;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    common::signals::sigterm(&child);
    assert!(child.wait().unwrap().success());
    assert!(replaced, "the previous files were still there after 10 s");
}
