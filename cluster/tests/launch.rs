//! `freshet launch` and cluster processes on loopback: two processes give the output of
//! one, a failing process stops the others, signals reach every process, a process whose
//! peers never come gives up, and unusable hostfiles are refused.

mod common;

use std::time::{Duration, Instant};

use common::services::{free_port, two_process_hostfile};
use common::signals::{processes_mentioning, sigterm, sigterm_once_output};
use common::{
    assert_same, bad_input_job, events, freshet, key_columns, read_finals, run_ok, write_inputs,
    write_job, write_job_with_own_sinks, write_job_with_parquet_sinks, MIN,
};

/// A directory with the test job (`job.yaml`) over `n` generated events, for a live run.
fn live_job(seed: u64, n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(seed, n, MIN);
    write_inputs(dir.path(), &evs, 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    (dir, job)
}

/// `freshet launch` of `job` live over `hostfile`.
fn launch_live(hostfile: &std::path::Path, job: &std::path::Path) -> std::process::Command {
    let mut cmd = freshet();
    cmd.args(["launch", "--hostfile", hostfile.to_str().unwrap()])
        .args([job.to_str().unwrap(), "--mode", "stream", "-q"]);
    cmd
}

/// Waits (at most a minute) until a file in `out` has bytes: the cluster is running.
fn wait_for_rows(out: &std::path::Path) {
    let started = Instant::now();
    while !std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .any(|e| e.metadata().map(|m| m.len()).unwrap_or(0) > 0)
        })
        .unwrap_or(false)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no output from the cluster"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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

    let hostfile = two_process_hostfile(dir.path());
    // Then the same job with each feature in a sink of its own: two window operators
    // write their files themselves (one file per worker and sink), two sinks with
    // `direct_io` in the backfill; then with two Parquet sinks (one written by its
    // window operator).
    for (layout, sinks) in [("one sink", 1), ("own sinks", 3), ("parquet", 2)] {
        match layout {
            "own sinks" => write_job_with_own_sinks(dir.path(), 30, 300),
            "parquet" => write_job_with_parquet_sinks(dir.path(), 30, 300),
            _ => {}
        }
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
            let _ = std::fs::remove_dir_all(dir.path().join("out"));
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
            let out = run_ok(&args);
            // `-q`: nothing on stdout, also not timely's "awaiting connections".
            assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{mode:?}");
            let files: Vec<String> = std::fs::read_dir(dir.path().join("out"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("features"))
                .collect();
            assert_eq!(
                files.len(),
                4 * sinks,
                "one file per worker (2 processes x 2 workers) and sink: {files:?}"
            );
            let two = read_finals(&dir.path().join("out"), "features", &key_columns());
            let want = one
                .rows
                .iter()
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect();
            assert_same(&format!("2 processes {mode:?}, {layout}"), &two, &want);
        }
    }

    // Without -q, the summary is the cluster's: every process's events, all 4 workers;
    // --summary-json FILE holds the same totals beside each process's FILE.<i>.
    let summary = dir.path().join("summary.json");
    let out = run_ok(&[
        "launch",
        "--hostfile",
        hostfile.to_str().unwrap(),
        job,
        "--workers",
        "2",
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (total, p0, p1) = (
        read(&summary),
        read(&dir.path().join("summary.json.0")),
        read(&dir.path().join("summary.json.1")),
    );
    assert_eq!(total["events_read"], evs.len() as u64, "{total}");
    for counter in ["events_read", "rows_written"] {
        let sum = p0[counter].as_u64().unwrap() + p1[counter].as_u64().unwrap();
        assert_eq!(total[counter].as_u64(), Some(sum), "{counter}");
    }
    assert_eq!(total["workers"], 4);
    let events_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("events read"));
    assert_eq!(
        events_line.map(|l| l.split_whitespace().last().unwrap().to_string()),
        Some(evs.len().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains("4 worker(s) in 2 processes"), "{stdout}");
    assert_eq!(
        stdout.matches("events read").count(),
        1,
        "one summary: {stdout}"
    );
}

#[test]
fn launch_fails_cleanly_when_a_process_fails() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "fail");
    let hostfile = two_process_hostfile(dir.path());
    let started = Instant::now();
    // A failed launch leaves no summary, and no process's share of one (found by QA: the
    // process that finished left its share).
    let summary = dir.path().join("s.json");
    let shares = [
        summary.clone(),
        dir.path().join("s.json.0"),
        dir.path().join("s.json.1"),
    ];
    for f in &shares {
        std::fs::write(f, "{}").unwrap();
    }
    let out = freshet()
        .args(["launch", "--hostfile", hostfile.to_str().unwrap(), &job])
        .args(["--summary-json", summary.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cluster run failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    let left: Vec<_> = shares.iter().filter(|f| f.exists()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// SIGTERM to `launch` reaches every process: each stops cleanly, flushing its sinks, the
/// supervisor exits 0, and no process is left behind.
#[test]
fn sigterm_to_launch_stops_every_process_cleanly() {
    let (dir, job) = live_job(7, 500);
    let hostfile = two_process_hostfile(dir.path());
    let child = launch_live(&hostfile, &job).spawn().unwrap();
    let out = dir.path().join("out");
    let outputs = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&out)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let has_rows = || {
        outputs()
            .iter()
            .any(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) > 0)
    };
    sigterm_once_output(child, 300, has_rows);
    let left = processes_mentioning(job.to_str().unwrap());
    assert!(left.is_empty(), "processes left running: {left:?}");
    for p in outputs() {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{}: complete lines only",
            p.display()
        );
    }
}

/// A stop soon after the start, while the processes connect, is a stop (exit 130, or 0
/// once the run started), never a failure (found by QA: one process exited at once, the
/// other lost it and failed, and `launch` reported a failed run).
#[test]
fn a_stop_while_the_cluster_starts_is_not_a_failure() {
    let (dir, job) = live_job(9, 200);
    for delay in [200, 400] {
        let hostfile = two_process_hostfile(dir.path());
        let child = launch_live(&hostfile, &job)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        sigterm(&child);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || out.status.code() == Some(130),
            "{delay} ms: {}: {err}",
            out.status
        );
        assert!(!err.contains("error:"), "{delay} ms: {err}");
        let left = processes_mentioning(job.to_str().unwrap());
        assert!(left.is_empty(), "processes left running: {left:?}");
    }
}

/// A launcher killed with SIGKILL cannot pass the stop on: its processes notice it is gone
/// and stop (found by QA: they ran on unsupervised, writing to the stores).
#[test]
fn the_processes_stop_when_the_launcher_is_killed() {
    let (dir, job) = live_job(8, 500);
    let hostfile = two_process_hostfile(dir.path());
    let mut launcher = launch_live(&hostfile, &job).spawn().unwrap();
    wait_for_rows(&dir.path().join("out"));
    assert_eq!(
        processes_mentioning(job.to_str().unwrap()).len(),
        3,
        "launcher and two processes"
    );
    launcher.kill().unwrap();
    launcher.wait().unwrap();
    let killed = Instant::now();
    while !processes_mentioning(job.to_str().unwrap()).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(40),
            "processes left running: {:?}",
            processes_mentioning(job.to_str().unwrap())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A cluster process whose peers never come fails after --connect-timeout with a hint, and
/// one still waiting for them stops at the first signal.
#[test]
fn a_process_waiting_for_its_peers_times_out_or_stops_at_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &events(3, 50, MIN), 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let hostfile = two_process_hostfile(dir.path());
    let run = |timeout: &str| {
        let mut c = freshet();
        c.args(["run", job.to_str().unwrap(), "-q", "--cluster-hostfile"])
            .arg(&hostfile)
            .args(["--process", "0", "--connect-timeout", timeout]);
        c
    };
    let started = Instant::now();
    let out = run("1s").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("could not connect to its peers") && stderr.contains("--connect-timeout"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    let mut child = run("10m")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&child);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first SIGTERM stops a process waiting for its peers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("before the run started"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Hostfiles and flags `launch` cannot use are refused before anything starts.
#[test]
fn launch_refuses_unusable_hostfiles_and_run_only_flags() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &events(3, 50, MIN), 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let job = job.to_str().unwrap();
    let hostfile = dir.path().join("hosts");
    let port = free_port();
    for (hosts, flags, want) in [
        ("127.0.0.1:0\n127.0.0.1:2101\n", &[][..], "port 0"),
        (
            &*format!("# the cluster\n127.0.0.1:{port}\n\n127.0.0.1:{port}\n"),
            &[],
            "listed for process 0 and process 1",
        ),
        (
            "127.0.0.1\n",
            &[],
            "hosts:1: `127.0.0.1` (process 0) is not host:port",
        ),
        (
            &*format!("# two on a line\n127.0.0.1:{port} 127.0.0.1:2101\n"),
            &[],
            "hosts:2: `127.0.0.1:",
        ),
        (
            &*format!("127.0.0.1:{port} 127.0.0.1:2101\n"),
            &[],
            "is more than one word",
        ),
        (
            &*format!("127.0.0.1:{port}\n"),
            &["--process", "0"],
            "--process are for `freshet run`",
        ),
    ] {
        std::fs::write(&hostfile, hosts).unwrap();
        let started = Instant::now();
        let out = freshet()
            .args(["launch", "--hostfile", hostfile.to_str().unwrap(), job])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(want),
            "{hosts:?}: {stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{hosts:?}");
        assert!(!dir.path().join("out").exists(), "{hosts:?}: nothing ran");
    }
}

/// A process of a cluster whose peer is killed fails with one line naming the lost
/// process, not timely's panics ("socket closed", "MergeQueue poisoned.") and a "bug"
/// report; a process whose own address is taken says which address.
#[test]
fn a_lost_peer_or_a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &events(5, 500, MIN), 1);
    write_job(dir.path(), 0, 60);
    let job = dir.path().join("job.yaml");
    let ports = [free_port(), free_port()];
    let hostfile = dir.path().join("hosts");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]),
    )
    .unwrap();
    let process = |i: usize| {
        let log = dir.path().join(format!("stderr{i}.txt"));
        let child = freshet()
            .args([
                "run",
                job.to_str().unwrap(),
                "--mode",
                "stream",
                "-q",
                "--cluster-hostfile",
            ])
            .arg(&hostfile)
            .args(["--process", &i.to_string()])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log)
    };
    let (mut p0, log0) = process(0);
    let (mut p1, _) = process(1);
    // Running: rows are out.
    wait_for_rows(&dir.path().join("out"));
    p1.kill().unwrap();
    p1.wait().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = p0.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = p0.kill();
            panic!("process 0 did not stop after losing process 1");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&log0).unwrap();
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "lost the connection to process 1 (127.0.0.1:{})",
            ports[1]
        )),
        "{err}"
    );
    assert!(
        !err.contains("panicked at") && !err.contains("a bug"),
        "{err}"
    );

    // Process 0's own port is taken.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", ports[0])).unwrap();
    let out = freshet()
        .args(["run", job.to_str().unwrap(), "-q", "--cluster-hostfile"])
        .arg(&hostfile)
        .args(["--process", "0", "--connect-timeout", "20s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "process 0 cannot listen on 127.0.0.1:{}",
            ports[0]
        )),
        "{err}"
    );
}

/// `launch --help` does not offer the flags launch sets itself (and refuses); `run
/// --help` does.
#[test]
fn launch_help_leaves_out_the_flags_it_sets_itself() {
    let help = |cmd: &str| {
        let out = freshet().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let launch = help("launch");
    assert!(
        launch.contains("--hostfile") && launch.contains("--workers"),
        "{launch}"
    );
    assert!(
        !launch.contains("--cluster-hostfile") && !launch.contains("--process"),
        "{launch}"
    );
    let run = help("run");
    assert!(
        run.contains("--cluster-hostfile") && run.contains("--process"),
        "{run}"
    );
}

/// Undecodable records go to the dead-letter file whichever process reads them: dead
/// letters travel to the one worker that writes the file, and a malformed record's (which
/// names no feature) used to fail to decode there, panicking the cluster. Four files, so
/// that each process reads some; each has a malformed line, a line missing its required key
/// and a bad timestamp, besides good lines.
#[test]
fn records_any_process_cannot_decode_become_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        "name: bad
sources:
  - name: ev
    connector: file
    path: data/*.jsonl
    format: json
    schema: { k: string!, ts: timestamp }
    event_time: ts
features:
  - name: c
    sql: SELECT k, COUNT(*) AS n FROM ev GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/features.jsonl }
",
    )
    .unwrap();
    let mut want_letters = std::collections::BTreeSet::new();
    for f in 0..4 {
        let name = format!("part-{f}.jsonl");
        let lines = [
            format!("{{\"k\":\"a\",\"ts\":{}}}", 1000 + f),
            "not json".to_string(),
            format!("{{\"ts\":{}}}", 2000 + f),
            "{\"k\":\"b\",\"ts\":\"yesterday\"}".to_string(),
            format!("{{\"k\":\"b\",\"ts\":{}}}", 3000 + f),
        ];
        std::fs::write(dir.path().join("data").join(&name), lines.join("\n") + "\n").unwrap();
        for (line, kind) in [
            (2, "malformed"),
            (3, "missing_required"),
            (4, "bad_timestamp"),
        ] {
            want_letters.insert((kind.to_string(), format!("data/{name}"), line));
        }
    }
    let job = dir.path().join("job.yaml");
    let job = job.to_str().unwrap();
    let letters = || -> std::collections::BTreeSet<(String, String, u64)> {
        common::rows_of(&dir.path().join("out/dead_letter.jsonl"))
            .iter()
            .map(|d| {
                let file = d["file"].as_str().unwrap();
                let file = &file[file.find("data/").expect("a data file")..];
                (
                    d["kind"].as_str().unwrap().to_string(),
                    file.to_string(),
                    d["line"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    run_ok(&["run", job, "-q", "--mode", "backfill"]);
    assert_eq!(letters(), want_letters, "one process");
    let keys = std::collections::BTreeMap::from([("c", vec!["k"])]);
    let one = read_finals(&dir.path().join("out"), "features", &keys);
    let counts: Vec<(String, u64)> = one
        .rows
        .iter()
        .map(|(k, (_, v))| (k.1.clone(), v["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        counts,
        [("[\"a\"]".into(), 4), ("[\"b\"]".into(), 4)],
        "by hand"
    );

    let hostfile = two_process_hostfile(dir.path());
    for mode in [
        &["--mode", "backfill"][..],
        &["--mode", "stream", "--exit-at-end"],
    ] {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        let mut args = vec![
            "launch",
            "--hostfile",
            hostfile.to_str().unwrap(),
            job,
            "-q",
        ];
        args.extend_from_slice(mode);
        run_ok(&args);
        assert_eq!(letters(), want_letters, "2 processes {mode:?}");
        let two = read_finals(&dir.path().join("out"), "features", &keys);
        let want = one
            .rows
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect();
        assert_same(&format!("2 processes {mode:?}"), &two, &want);
    }
}
