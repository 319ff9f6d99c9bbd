//! The command line as a user meets it: explain, validate, error policies, signals, and a
//! two-process cluster on loopback.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    assert_same, events, freshet, key_columns, read_finals, run_ok, write_inputs, write_job, MIN,
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
    assert!(!v["dataflow"].as_array().unwrap().is_empty());
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

fn bad_input_job(dir: &Path, on_error: &str) -> String {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("data/a.jsonl"),
        "{\"k\":\"a\",\"t\":1000}\n{\"k\":\"a\",\"t\":\"soon\"}\n{\"k\":7,\"t\":2000}\n{oops\n{\"k\":\"b\",\"t\":3000}\n",
    )
    .unwrap();
    let job = format!(
        "name: bad\nsources:\n  - {{ name: s, connector: file, path: data/*.jsonl, format: json, schema: {{ k: string, t: timestamp }}, event_time: t, on_error: {on_error} }}\nfeatures:\n  - name: n\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:\n  - {{ name: out, connector: file, path: out/f.jsonl }}\n"
    );
    let p = dir.join("job.yaml");
    std::fs::write(&p, job).unwrap();
    p.to_string_lossy().into_owned()
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
    run_ok(&[
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
            summary["dead_letters"].as_u64()
        ),
        (Some(3), Some(0))
    );

    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    let out = freshet().args(["run", &job]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data/a.jsonl:2:")
            && err.contains("cannot parse timestamp `soon`")
            && err.contains("on_error: fail"),
        "{err}"
    );
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

#[test]
fn sigterm_stops_a_live_run_cleanly_with_sinks_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(7, 500, MIN);
    write_inputs(dir.path(), &evs, 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let mut child = freshet()
        .args(["run", job.to_str().unwrap(), "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    // Wait until the live run has written rows, then ask it to stop.
    let out = dir.path().join("out/features.jsonl");
    let started = Instant::now();
    while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no output from the live run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rc = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "a signal stops the run cleanly: {status}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.ends_with('\n')
            && text
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "complete lines only"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn two_processes_on_loopback_give_the_same_output_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(21, 3_000, 4 * MIN);
    write_inputs(dir.path(), &evs, 2);
    write_job(dir.path(), 30, 300);
    let job = dir.path().join("job.yaml");
    let job = job.to_str().unwrap();
    run_ok(&["run", job, "-q", "--mode", "backfill"]);
    let one = read_finals(&dir.path().join("out"), "features", &key_columns());
    assert!(one.rows.len() > 100);

    let hostfile = dir.path().join("hosts");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    for mode in [
        &["--mode", "backfill"][..],
        &[
            "--mode",
            "stream",
            "--exit-at-end",
            "--batch-bytes",
            "20000",
        ][..],
    ] {
        let mut args = vec![
            "launch",
            "--hostfile",
            hostfile.to_str().unwrap(),
            job,
            "-q",
            "--workers",
            "2",
        ];
        args.extend_from_slice(mode);
        run_ok(&args);
        let files: Vec<String> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("features"))
            .collect();
        assert_eq!(
            files.len(),
            4,
            "one file per worker (2 processes x 2 workers): {files:?}"
        );
        let two = read_finals(&dir.path().join("out"), "features", &key_columns());
        let want = one
            .rows
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect();
        assert_same(&format!("2 processes {mode:?}"), &two, &want);
    }
}

#[test]
fn launch_fails_cleanly_when_a_process_fails() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    let hostfile = dir.path().join("hosts");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    let started = Instant::now();
    let out = freshet()
        .args(["launch", "--hostfile", hostfile.to_str().unwrap(), &job])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cluster run failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
