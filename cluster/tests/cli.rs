//! The command line as a user meets it: explain, validate, error policies, signals (the
//! cluster's `launch` is in launch.rs).

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::signals::sigterm_once_output;
use common::{
    bad_input_job, events, freshet, rows_of, run_ok, write_inputs, write_job,
    write_job_with_parquet_sinks, MIN,
};

fn example_job() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs/examples/rides.yaml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn explain_shows_all_three_stages_with_time_semantics() {
    let out = run_ok(&["explain", &example_job()]);
    let text = String::from_utf8(out.stdout).unwrap();
    // Paths depend on the checkout location; the snapshot keeps everything else.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    insta::assert_snapshot!(text.replace(&root, "<repo>"));
    for needle in [
        "hop size=30m slide=1m pane=1m",
        "lateness=10m",
        "watermark=max(event_time) - 5m",
        "Exchange hash([user_id])",
    ] {
        assert!(text.contains(needle), "explain lacks `{needle}`");
    }
}

/// Every stage names the source's own event-time column (the dataflow stage said
/// `max(event_time)` whatever the column was).
#[test]
fn explain_names_the_event_time_column_in_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "skip");
    let text = String::from_utf8(run_ok(&["explain", &job]).stdout).unwrap();
    assert!(text.contains("watermark=max(t) - 0s"), "{text}");
    assert!(text.contains("watermark=max(t)-0s"), "{text}");
    assert!(!text.contains("max(event_time)"), "{text}");
}

#[test]
fn explain_json_is_machine_readable() {
    let out = run_ok(&["explain", &example_job(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["logical"].as_array().unwrap().len(), 3);
    let hop = &v["physical"]["features"][1];
    assert_eq!(hop["window"]["kind"], "hop");
    assert_eq!(hop["window"]["size_ms"], 1_800_000);
    assert_eq!(hop["window"]["slide_ms"], 60_000);
    assert_eq!(hop["allowed_lateness_ms"], 600_000);
    // COUNT per user runs on running sums; the daily fare SUM (a float) keeps panes.
    assert_eq!(hop["state"], "running_sums");
    assert_eq!(v["physical"]["features"][2]["state"], "per_pane");
    assert!(!v["dataflow"].as_array().unwrap().is_empty());
}

/// `explain --format json` writes JSON for every job the repository ships: each example
/// and each golden case (a UNION ALL feature could not be serialized).
#[test]
fn explain_json_covers_every_shipped_job() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut jobs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("tests/golden"))
        .unwrap()
        .map(|e| e.unwrap().path().join("job.yaml"))
        .collect();
    for name in [
        "rides.yaml",
        "deliveries.yaml",
        "rides_training.yaml",
        "training_history.yaml",
    ] {
        jobs.push(root.join("configs/examples").join(name));
    }
    jobs.sort();
    assert!(jobs
        .iter()
        .any(|j| j.to_string_lossy().contains("union_distinct")));
    for job in &jobs {
        let out = run_ok(&["explain", job.to_str().unwrap(), "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}", job.display()));
        assert!(
            !v["physical"]["features"].as_array().unwrap().is_empty(),
            "{}",
            job.display()
        );
    }
}

#[test]
fn validate_exits_zero_on_a_good_job_and_non_zero_with_diagnostics_on_a_bad_one() {
    let ok = freshet()
        .args(["validate", &example_job()])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let dir = tempfile::tempdir().unwrap();
    let bad = std::fs::read_to_string(example_job()).unwrap().replace(
        "COUNT(*) AS rides\n      FROM event_user_action\n",
        "COUNT(*) AS rides\n      FROM event_user_actoin\n",
    );
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, bad).unwrap();
    let out = freshet()
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:37:12")
            && err.contains("unknown table `event_user_actoin`")
            && err.contains("did you mean `event_user_action`?"),
        "{err}"
    );
    let missing = freshet()
        .args(["validate", "/nonexistent/job.yaml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read job file"));
}

#[test]
fn bad_records_follow_the_sources_policy_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "dead_letter");
    let out = run_ok(&[
        "run",
        &job,
        "--summary-json",
        dir.path().join("s.json").to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["events_read"], 5);
    assert_eq!(summary["bad_records"], 3);
    assert_eq!(summary["dead_letters"], 3);
    assert_eq!(summary["skipped"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("dead letters"));
    let dl: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.path().join("out/dead_letter.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let got: Vec<(String, u64)> = dl
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("bad_timestamp".into(), 2),
            ("wrong_type".into(), 3),
            ("malformed".into(), 4)
        ]
    );
    assert!(dl
        .iter()
        .all(|d| d["file"].as_str().unwrap().ends_with("data/a.jsonl")
            && !d["record"].as_str().unwrap().is_empty()));
    let rows = std::fs::read_to_string(dir.path().join("out/f.jsonl")).unwrap();
    assert_eq!(
        rows.lines().count(),
        2,
        "the good records still make features: {rows}"
    );

    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "skip");
    let out = run_ok(&[
        "run",
        &job,
        "--summary-json",
        dir.path().join("s.json").to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(
        (
            summary["bad_records"].as_u64(),
            summary["skipped"].as_u64(),
            summary["dead_letters"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    // Skipped records are not shown as a breakdown of the dead letters (0).
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        let l = text.lines().find(|l| l.trim_start().starts_with(name));
        l.unwrap_or_else(|| panic!("no `{name}` line: {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("dead letters").starts_with("dead letters 0 (0 undecodable, 0 too late)"),
        "{text}"
    );
    assert!(
        line("skipped").starts_with("skipped 3 undecodable records dropped (on_error: skip)"),
        "{text}"
    );

    for mode in ["backfill", "stream"] {
        let dir = tempfile::tempdir().unwrap();
        let job = bad_input_job(dir.path(), "fail");
        let mut args = vec!["run", job.as_str(), "--mode", mode];
        if mode == "stream" {
            args.push("--exit-at-end");
        }
        let out = freshet().args(&args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("data/a.jsonl:2:")
                && err.contains("cannot parse timestamp `soon`")
                && err.contains("on_error: fail"),
            "{err}"
        );
        // The failure is not the end of the input: the minute window the watermark never
        // closed is not emitted as if it were final.
        let rows = rows_of(&dir.path().join("out/f.jsonl"));
        assert!(rows.is_empty(), "{mode}: {rows:?}");
    }
}

#[test]
fn a_missing_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let out = freshet().args(["run", &job]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no files match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A job in a directory whose name has glob wildcards (`jobs[1]`) reads its own data: the
/// directory is a literal part of the source's glob, not the pattern `jobs1`.
#[test]
fn a_job_directory_with_glob_wildcards_in_its_name_reads_its_own_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jobs[1]");
    let job = bad_input_job(&dir, "skip");
    run_ok(&["run", &job, "--mode", "backfill"]);
    let mut counts: Vec<(String, i64)> = rows_of(&dir.join("out/f.jsonl"))
        .iter()
        .map(|r| {
            (
                r["k"].as_str().unwrap().to_string(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [("a".to_string(), 1), ("b".to_string(), 1)]);
}

/// A glob that matches nothing: `--exit-at-end` would read nothing, so it fails as a
/// backfill does; a live run waits for files and warns that none match yet.
#[test]
fn a_missing_input_fails_a_stream_run_that_exits_at_end_and_warns_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let out = freshet()
        .args(["run", &job, "--mode", "stream", "--exit-at-end"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no files match"), "{stderr}");

    let mut child = freshet()
        .args(["run", &job, "--mode", "stream", "-q"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    let warned = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("WARN") && line.contains("no files match") => break true,
            Ok(line) => seen.push(line),
            Err(_) if started.elapsed() > Duration::from_secs(30) => break false,
            Err(_) => {}
        }
    };
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(warned, "no warning that nothing matches: {seen:?}");
    assert!(status.success(), "a signal stops the waiting run: {status}");
}

/// `gen` into a directory an earlier run wrote more files to removes its left-over part
/// files (a job's glob would read them) and says so.
#[test]
fn gen_with_fewer_files_removes_the_earlier_runs_extra_parts() {
    let dir = tempfile::tempdir().unwrap();
    for (what, count) in [("events", "--events"), ("deliveries", "--deliveries")] {
        let out = dir.path().join(what);
        let out_s = out.to_str().unwrap();
        run_ok(&["gen", what, "--out", out_s, count, "100", "--files", "4"]);
        let again = run_ok(&["gen", what, "--out", out_s, count, "100", "--files", "2"]);
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert!(
            stdout.contains("removed 2 part file(s)")
                && stdout.contains("part-00002.jsonl, part-00003.jsonl"),
            "{what}: {stdout}"
        );
        let mut left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["part-00000.jsonl", "part-00001.jsonl"], "{what}");
    }
}

/// A `type: float` feature whose SQL value is an int (a COUNT) writes floats, `2.0`, as its
/// declared type says, in both modes and whether or not the window operator writes the
/// file itself (one feature per sink) or hands its rows to `Sink[...]` (two).
#[test]
fn an_int_value_of_a_float_feature_is_written_as_a_float() {
    for extra in ["", "  - name: m\n    sql: SELECT k, MAX(t) AS latest FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\n"] {
        for mode in ["backfill", "stream"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("data")).unwrap();
            std::fs::write(
                dir.path().join("data/a.jsonl"),
                "{\"k\":\"a\",\"t\":1000}\n{\"k\":\"a\",\"t\":2000}\n{\"k\":\"b\",\"t\":3000}\n",
            )
            .unwrap();
            let job = dir.path().join("job.yaml");
            std::fs::write(
                &job,
                format!("name: t\nsources:\n  - {{ name: s, connector: file, path: data/*.jsonl, format: json, schema: {{ k: string, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: n\n    type: float\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\n{extra}sinks:\n  - {{ name: out, connector: file, path: out/f.jsonl }}\n"),
            )
            .unwrap();
            let mut args = vec!["run", job.to_str().unwrap(), "--mode", mode];
            if mode == "stream" {
                args.push("--exit-at-end");
            }
            run_ok(&args);
            let text = std::fs::read_to_string(dir.path().join("out/f.jsonl")).unwrap();
            let mut counts: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("\"feature\":\"n\""))
                .map(|l| l.split("\"n\":").nth(1).unwrap().split(',').next().unwrap())
                .collect();
            counts.sort();
            assert_eq!(counts, ["1.0", "2.0"], "{mode} {extra}: {text}");
        }
    }
}

/// A file sink that cannot be created fails the run and names the file, whether the window
/// operator writes it itself (COUNT alone in its sink) or a `Sink[...]` operator does (AVG),
/// in both modes (a path under a file is now found before the run starts).
#[test]
fn a_sink_file_that_cannot_be_created_is_a_clear_error() {
    // COUNT's window operator writes the file itself, AVG's rows go to `Sink[out]`.
    for (agg, sink) in [
        ("COUNT(*)", "f.jsonl }"),
        ("AVG(fare)", "f.jsonl }"),
        ("COUNT(*)", "f.parquet, format: parquet }"),
        ("AVG(fare)", "f.parquet, format: parquet }"),
    ] {
        for mode in [
            &["--mode", "backfill"][..],
            &["--mode", "stream", "--exit-at-end"],
        ] {
            let dir = tempfile::tempdir().unwrap();
            write_inputs(dir.path(), &events(5, 200, MIN), 1);
            // `blocked` is a file, so no file can be made under it.
            std::fs::write(dir.path().join("blocked"), "").unwrap();
            let job = format!(
                "name: t\nsources:\n  - {{ name: ev, connector: file, path: data/*.jsonl, format: json, schema: {{ user_id: string!, fare: float, event_time: timestamp }}, event_time: event_time }}\nfeatures:\n  - name: f\n    sql: SELECT user_id, {agg} AS v FROM ev GROUP BY user_id, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)\nsinks:\n  - {{ name: out, connector: file, path: blocked/{sink}\ndead_letter: dead_letter.jsonl\n"
            );
            let path = dir.path().join("job.yaml");
            std::fs::write(&path, job).unwrap();
            let out = freshet()
                .args(["run", path.to_str().unwrap()])
                .args(mode)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{agg} {mode:?}: {stderr}");
            // (Found before the run reads anything: the path is checked up front.)
            assert!(
                stderr.contains("cannot be created") && stderr.contains("blocked/f."),
                "{agg} {mode:?}: {stderr}"
            );
        }
    }
}

/// Runs `job` live, waits until `out` has bytes and `linger_ms` more, sends SIGTERM, and
/// asserts the run stops cleanly.
fn run_live_until_output_then_sigterm(job: &Path, out: &Path, linger_ms: u64) {
    let child = freshet()
        .args(["run", job.to_str().unwrap(), "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    sigterm_once_output(child, linger_ms, || {
        std::fs::metadata(out).map(|m| m.len()).unwrap_or(0) > 0
    });
}

/// A live run stopped by a signal leaves its Parquet sinks readable, with the rows made so
/// far: `hop_counts` and `tvf_having` write Parquet, `tumble_stats` JSON lines (whose
/// output says the run is live and has fired windows).
#[test]
fn sigterm_leaves_parquet_sinks_readable_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(8, 500, MIN);
    write_inputs(dir.path(), &evs, 1);
    write_job_with_parquet_sinks(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let text = std::fs::read_to_string(&job).unwrap();
    let text = text
        .replace(
            "  - name: tumble_stats\n    sinks: [rest]\n",
            "  - name: tumble_stats\n    sinks: [json]\n",
        )
        .replace(
            "sinks:\n  - { name: hop,",
            "sinks:\n  - { name: json, connector: file, path: out/features_json.jsonl }\n  - { name: hop,",
        );
    assert!(
        text.contains("sinks: [json]") && text.contains("name: json,"),
        "{text}"
    );
    std::fs::write(&job, text).unwrap();
    // The 7-minute HOP windows of the first minutes have closed once the 10-minute
    // TUMBLE's have, and half a second later.
    run_live_until_output_then_sigterm(&job, &dir.path().join("out/features_json.jsonl"), 500);
    let rows = common::parquet_rows::parquet_rows(&dir.path().join("out/features_hop.parquet"));
    assert!(!rows.is_empty(), "the live run's HOP rows are in the file");
    assert!(rows
        .iter()
        .all(|r| r["feature"] == "hop_counts" && r["n"].as_i64() > Some(0)));
}

#[test]
fn sigterm_stops_a_live_run_cleanly_with_sinks_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(7, 500, MIN);
    write_inputs(dir.path(), &evs, 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let out = dir.path().join("out/features.jsonl");
    run_live_until_output_then_sigterm(&job, &out, 0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.ends_with('\n')
            && text
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "complete lines only"
    );
}

#[test]
fn a_live_run_emits_windows_as_appended_data_moves_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let file = dir.path().join("data/a.jsonl");
    std::fs::write(
        &file,
        "{\"k\":\"a\",\"t\":10000}\n{\"k\":\"a\",\"t\":20000}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        "name: live\nsources:\n  - { name: s, connector: file, path: data/*.jsonl, format: json, schema: { k: string, t: timestamp }, event_time: t }\nfeatures:\n  - name: n\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:\n  - { name: out, connector: file, path: out/f.jsonl }\n",
    )
    .unwrap();
    let job = dir.path().join("job.yaml");
    let mut child = freshet()
        .args(["run", job.to_str().unwrap(), "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    let out = dir.path().join("out/f.jsonl");
    let wait_for = |want: usize| {
        let started = Instant::now();
        loop {
            let rows = rows_of(&out);
            if rows.len() >= want {
                return rows;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "waited for {want} rows, have {rows:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        rows_of(&out).is_empty(),
        "no window may fire before the watermark passes it"
    );
    // Appending a later event moves the watermark past the first window: it fires.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    writeln!(f, "{{\"k\":\"a\",\"t\":70000}}").unwrap();
    let rows = wait_for(1);
    assert_eq!(
        (rows[0]["n"].as_i64(), rows[0]["window_end"].as_i64()),
        (Some(2), Some(60_000))
    );
    // A new file is picked up too.
    std::fs::write(
        dir.path().join("data/b.jsonl"),
        "{\"k\":\"a\",\"t\":130000}\n",
    )
    .unwrap();
    let rows = wait_for(2);
    assert_eq!(
        (rows[1]["n"].as_i64(), rows[1]["window_end"].as_i64()),
        (Some(1), Some(120_000))
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    // The window [120000, 180000) holding the last event was still open: a stop does not
    // emit it (its value would be incomplete).
    let rows = rows_of(&out);
    assert_eq!(rows.len(), 2, "only closed windows: {rows:?}");
}

#[test]
fn a_job_with_two_sources_runs_each_feature_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/rides.jsonl"),
        "{\"u\":\"x\",\"t\":1000}\n{\"u\":\"x\",\"t\":2000}\n{\"u\":\"y\",\"t\":3000}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data/orders.csv"),
        "store,t,amount\ns1,1000,2.5\ns1,61000,1.5\ns2,1500,4\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        r#"name: two
sources:
  - { name: rides, connector: file, path: data/*.jsonl, format: json, schema: { u: string, t: timestamp }, event_time: t }
  - { name: orders, connector: file, path: data/*.csv, format: csv, schema: { store: string, t: timestamp, amount: float }, event_time: t }
features:
  - name: rides_per_user
    sql: SELECT u, COUNT(*) AS n FROM rides GROUP BY u, TUMBLE(rowtime, INTERVAL '1' MINUTE)
  - name: amount_per_store
    sql: SELECT store, SUM(amount) AS total FROM orders GROUP BY store, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#,
    )
    .unwrap();
    run_ok(&["run", dir.path().join("job.yaml").to_str().unwrap(), "-q"]);
    let mut got: Vec<String> = rows_of(&dir.path().join("out/f.jsonl"))
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["feature"],
                r.get("u").or(r.get("store")).unwrap(),
                r.get("n").or(r.get("total")).unwrap(),
                r["window_end"]
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "\"amount_per_store\" \"s1\" 1.5 120000",
            "\"amount_per_store\" \"s1\" 2.5 60000",
            "\"rides_per_user\" \"x\" 2 60000",
            "\"rides_per_user\" \"y\" 1 60000",
        ]
    );
    // With no watermark delay, `s2` at 1.5 s was read after 61 s: its window had closed.
    let dl = rows_of(&dir.path().join("out/dead_letter.jsonl"));
    assert_eq!(dl.len(), 1, "{dl:?}");
    assert_eq!(
        (
            dl[0]["kind"].as_str(),
            dl[0]["line"].as_u64(),
            dl[0]["feature"].as_str()
        ),
        (Some("too_late"), Some(4), Some("amount_per_store"))
    );
    assert!(dl[0]["file"].as_str().unwrap().ends_with("orders.csv"));
}

#[test]
fn every_example_job_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        // Jobs naming Kafka clusters need an infrastructure profile.
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        if p.extension().is_none_or(|x| x != "yaml") || text.contains("connector: kafka") {
            continue;
        }
        let out = run_ok(&["validate", p.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ok:"),
            "{}",
            p.display()
        );
        n += 1;
    }
    assert!(n >= 2, "example jobs missing under {}", dir.display());
}

/// Dead letters from a file larger than the 8 MB blocks the workers share out name the
/// same line on any number of workers: the line numbers of later blocks come from the
/// line counts of earlier ones, read by other workers.
#[test]
fn dead_letters_name_their_line_across_blocks_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    // ~19 MB: three blocks. Every 997th line is malformed; line lengths vary so that
    // block boundaries fall mid-line.
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..200_000u64 {
        if i % 997 == 500 {
            text.push_str("{\"k\": broken\n");
            bad.push(i + 1);
        } else {
            let pad = "p".repeat((i % 121) as usize);
            text.push_str(&format!(
                "{{\"k\":\"key{}\",\"t\":{},\"pad\":\"{pad}\"}}\n",
                i % 13,
                1_700_000_000_000u64 + i * 10
            ));
        }
    }
    assert!(text.len() > 16 << 20, "{} bytes", text.len());
    std::fs::write(dir.path().join("data/a.jsonl"), text).unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        "name: lines\nsources:\n  - { name: s, connector: file, path: data/*.jsonl, format: json, schema: { k: string, t: timestamp, pad: string }, event_time: t, watermark_delay: 1h }\nfeatures:\n  - name: n\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' HOUR)\nsinks:\n  - { name: out, connector: file, path: out/f.jsonl }\n",
    )
    .unwrap();
    for workers in ["1", "2", "3"] {
        run_ok(&["run", job.to_str().unwrap(), "-q", "--workers", workers]);
        let mut got: Vec<(String, u64)> =
            std::fs::read_to_string(dir.path().join("out/dead_letter.jsonl"))
                .unwrap()
                .lines()
                .map(|l| {
                    let d: serde_json::Value = serde_json::from_str(l).unwrap();
                    assert_eq!(d["record"], "{\"k\": broken", "workers {workers}");
                    (
                        d["kind"].as_str().unwrap().to_string(),
                        d["line"].as_u64().unwrap(),
                    )
                })
                .collect();
        got.sort_by_key(|(_, line)| *line);
        let want: Vec<(String, u64)> = bad.iter().map(|l| ("malformed".into(), *l)).collect();
        assert_eq!(got, want, "workers {workers}");
    }
}

/// Output piped to a reader that has gone (`freshet run JOB | true`) is dropped: the run
/// still exits 0, and so does `explain`. Before, printing the summary panicked (exit 101).
#[test]
fn a_closed_stdout_does_not_fail_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(3, 200, MIN);
    write_inputs(dir.path(), &evs, 1);
    write_job(dir.path(), 30, 300);
    let job = dir.path().join("job.yaml");
    for args in [
        &["run", job.to_str().unwrap()][..],
        &["explain", job.to_str().unwrap()],
    ] {
        let mut child = freshet()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the pipe's read end before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A worker that panics fails the run with its message, and the other workers stop: the
/// process exits (non-zero). Before, with two workers, the survivor waited forever for the
/// dead worker's part of the dataflow, and ignored SIGTERM.
#[test]
fn a_panicking_worker_fails_the_run_instead_of_hanging_it() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(4, 300, MIN);
    write_inputs(dir.path(), &evs, 2);
    write_job(dir.path(), 30, 300);
    let job = dir.path().join("job.yaml");
    for mode in ["backfill", "stream"] {
        let mut child = freshet()
            .args([
                "run",
                job.to_str().unwrap(),
                "--workers",
                "2",
                "--mode",
                mode,
                "-q",
            ])
            .env("FRESHET_FAILPOINT", "worker-panic")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("{mode}: still running after 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{mode}: {stderr}");
        assert!(
            stderr.contains("error: worker 1 panicked: failpoint worker-panic"),
            "{mode}: {stderr}"
        );
    }
}
