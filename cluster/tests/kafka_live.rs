//! Live Kafka runs against the local broker (`scripts/services.sh start`): idle
//! partitions stop holding the watermark back, keys and headers become columns, and
//! stopping a cluster (a signal to any process, with partitions at different watermarks)
//! emits no window the watermark did not close.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use common::freshet;
use common::services::*;

/// A keyed record: (key, payload with `n` and `event_time`).
fn ev(k: &str, n: i64, t: i64) -> (String, String) {
    (k.to_string(), format!(r#"{{"n": {n}, "event_time": {t}}}"#))
}

fn keyed_job(topic: &str, idle_timeout: &str) -> String {
    format!(
        r#"name: keyed
sources:
  - name: ev
    connector: kafka
    cluster: local
    topic: {topic}
    group_id: {group}
    start: earliest
    idle_timeout: {idle_timeout}
    key_column: kafka_key
    header_columns: {{ origin: origin }}
    format: json
    schema: {{ kafka_key: string, origin: string, n: int, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 0s
features:
  - name: per_key
    sql: |
      SELECT kafka_key, origin, COUNT(*) AS c, SUM(n) AS s
      FROM ev GROUP BY kafka_key, origin, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}
"#,
        group = unique("g")
    )
}

/// Runs a live job (`freshet run`, or `launch` when `hostfile` is given) until `until`
/// holds of its output rows (every worker's file), or `wait` passes; then stops it.
/// (Each process of a launch runs one worker; `run` runs `workers`.)
fn run_live_until(
    dir: &Path,
    infra: &Path,
    hostfile: Option<&Path>,
    workers: usize,
    wait: Duration,
    until: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut cmd = freshet();
    match hostfile {
        Some(h) => cmd.args([
            "launch",
            "--hostfile",
            h.to_str().unwrap(),
            "--workers",
            "1",
        ]),
        None => cmd.args(["run", "--workers", &workers.to_string()]),
    };
    let child = cmd
        .arg(dir.join("job.yaml"))
        .args(["--infra", infra.to_str().unwrap(), "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let start = std::time::Instant::now();
    while !until(&rows_in(dir)) && start.elapsed() < wait {
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = rows_in(dir);
    sigterm(&mut child);
    got
}

/// The feature rows in `dir/out`, of every worker's file.
fn rows_in(dir: &Path) -> Vec<Value> {
    let files = std::fs::read_dir(dir.join("out")).into_iter().flatten();
    files
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("features")
        })
        .flat_map(|p| common::rows_of(&p))
        .collect()
}

/// (key, origin, count, sum) of rows, sorted.
fn per_key_rows(rows: &[Value]) -> Vec<(String, String, i64, i64)> {
    let mut got: Vec<(String, String, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["kafka_key"].as_str().unwrap().to_string(),
                r["origin"].as_str().unwrap().to_string(),
                r["c"].as_i64().unwrap(),
                r["s"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    got
}

#[test]
fn an_idle_partition_stops_holding_the_watermark_back_and_keys_and_headers_become_columns() {
    let brokers = kafka_brokers();
    let t0 = common::T0;
    // Partitions 0 and 1 get data in two minutes; partition 2 stays empty.
    let p0 = vec![
        ev("a", 1, t0 + 1_000),
        ev("a", 2, t0 + 2_000),
        ev("b", 5, t0 + 61_000),
    ];
    let p1 = vec![ev("a", 10, t0 + 3_000), ev("c", 7, t0 + 62_000)];
    let want_first_minute: Vec<(String, String, i64, i64)> = vec![
        ("a".into(), "p0".into(), 2, 3),
        ("a".into(), "p1".into(), 1, 10),
    ];

    for (idle, expect_rows) in [("1s", true), ("1h", false)] {
        let dir = tempfile::tempdir().unwrap();
        let topic = unique("idle");
        create_topic(&brokers, &topic, 3);
        produce_to_partition(&brokers, &topic, 0, &p0);
        produce_to_partition(&brokers, &topic, 1, &p1);
        std::fs::write(dir.path().join("job.yaml"), keyed_job(&topic, idle)).unwrap();
        let infra = write_infra(dir.path(), &brokers);
        let wait = Duration::from_secs(if expect_rows { 30 } else { 5 });
        let rows = run_live_until(dir.path(), &infra, None, 1, wait, |r| r.len() >= 2);
        if !expect_rows {
            // The empty partition holds the watermark at its start: no window can close.
            assert!(rows.is_empty(), "idle_timeout {idle}: {rows:?}");
            continue;
        }
        // The first minute closed (both partitions passed it); the second did not
        // (partition 0 and 1 are at t0+61s/62s with no delay, so the watermark is
        // t0+61s: the window [t0+60s, t0+120s) is still open).
        assert_eq!(
            per_key_rows(&rows),
            want_first_minute,
            "idle_timeout {idle}"
        );
        assert!(rows.iter().all(|r| r["window_end"] == t0 + 60_000));
    }
}

/// Two processes, one worker each, read a topic of two partitions, one each; only
/// partition 0 gets records. Process 1's partition goes idle, so its worker follows the
/// watermark of the active one, which process 0 announces to the cluster. Before, it
/// followed only its own process, and held the cluster's windows at the start of time.
/// (A worker with no partition at all is done at once and holds nothing back.)
#[test]
fn a_process_whose_partitions_are_idle_does_not_hold_the_clusters_windows_back() {
    let brokers = kafka_brokers();
    let t0 = common::T0;
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("lone");
    create_topic(&brokers, &topic, 2);
    let p0 = [
        ev("a", 1, t0 + 1_000),
        ev("a", 2, t0 + 2_000),
        ev("b", 5, t0 + 61_000),
    ];
    produce_to_partition(&brokers, &topic, 0, &p0);
    std::fs::write(dir.path().join("job.yaml"), keyed_job(&topic, "1s")).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let hostfile = two_process_hostfile(dir.path());
    let rows = run_live_until(
        dir.path(),
        &infra,
        Some(&hostfile),
        1,
        Duration::from_secs(60),
        |r| !r.is_empty(),
    );
    // The first minute closed at the watermark t0+61s; the second is open.
    assert_eq!(
        per_key_rows(&rows),
        [("a".to_string(), "p0".to_string(), 2, 3)]
    );
    assert!(
        rows.iter().all(|r| r["window_end"] == t0 + 60_000),
        "{rows:?}"
    );
}

/// A stop is not a watermark. Two workers (in one process, then in two) read one
/// partition each; partition 1 lags at t0+61s while partition 0 runs ahead to t0+185s,
/// so only the first minute may close. Stopping the run (SIGTERM) once that minute is
/// out must emit nothing more: before, the first worker to stop released its input, the
/// frontier jumped to the other's watermark, and windows the cluster's watermark never
/// closed were emitted with partial counts.
#[test]
fn stopping_a_run_of_several_workers_emits_no_window_its_watermark_did_not_close() {
    let brokers = kafka_brokers();
    let t0 = common::T0;
    let p0: Vec<_> = (0..=185)
        .step_by(5)
        .map(|s| ev("a", 1, t0 + s * 1_000))
        .collect();
    let p1 = [ev("a", 10, t0 + 3_000), ev("a", 20, t0 + 61_000)];
    for launch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let topic = unique("stop");
        create_topic(&brokers, &topic, 2);
        produce_to_partition(&brokers, &topic, 0, &p0);
        produce_to_partition(&brokers, &topic, 1, &p1);
        std::fs::write(dir.path().join("job.yaml"), keyed_job(&topic, "1h")).unwrap();
        let infra = write_infra(dir.path(), &brokers);
        let hostfile = two_process_hostfile(dir.path());
        let hostfile = launch.then_some(hostfile.as_path());
        // Both partitions were read once the first minute is out (it needs both).
        let before = run_live_until(
            dir.path(),
            &infra,
            hostfile,
            2,
            Duration::from_secs(60),
            |r| r.len() >= 2,
        );
        let after = rows_in(dir.path());
        let first_minute = vec![
            ("a".to_string(), "p0".to_string(), 12, 12),
            ("a".to_string(), "p1".to_string(), 1, 10),
        ];
        assert_eq!(per_key_rows(&before), first_minute, "launch {launch}");
        assert_eq!(
            per_key_rows(&after),
            first_minute,
            "launch {launch}: {after:?}"
        );
    }
}

/// A signal to a process whose share of the input has ended (here: the topic's only
/// partition is the other process's) stops the whole cluster cleanly. Before, it could
/// not tell the others (its source had released everything), dropped its dataflow after
/// the grace period, and the other process failed on the lost connection.
#[test]
fn a_signal_to_a_process_with_nothing_left_to_read_stops_the_cluster() {
    let brokers = kafka_brokers();
    let t0 = common::T0;
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("alone");
    create_topic(&brokers, &topic, 1);
    produce_to_partition(
        &brokers,
        &topic,
        0,
        &[ev("a", 1, t0 + 1_000), ev("b", 2, t0 + 61_000)],
    );
    std::fs::write(dir.path().join("job.yaml"), keyed_job(&topic, "1h")).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let hostfile = two_process_hostfile(dir.path());
    let process = |i: usize| {
        let log = dir.path().join(format!("stderr{i}.txt"));
        let child = freshet()
            .args(["run", dir.path().join("job.yaml").to_str().unwrap()])
            .args(["--infra", infra.to_str().unwrap(), "--mode", "stream", "-q"])
            .arg("--cluster-hostfile")
            .arg(&hostfile)
            .args(["--process", &i.to_string()])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (Guard(child), log)
    };
    let (mut p0, log0) = process(0);
    let (mut p1, log1) = process(1);
    // Running: the first minute is out.
    wait_for("the first window", Duration::from_secs(60), || {
        !rows_in(dir.path()).is_empty()
    });
    let pid = p1.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let wait = |p: &mut Guard, log: &Path| {
        let started = std::time::Instant::now();
        loop {
            if let Some(s) = p.0.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "still running: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (s1, s0) = (wait(&mut p1, &log1), wait(&mut p0, &log0));
    let err0 = std::fs::read_to_string(&log0).unwrap();
    assert!(s1.success(), "{}", std::fs::read_to_string(&log1).unwrap());
    assert!(s0.success(), "process 0: {err0}");
    assert!(!err0.contains("lost the connection"), "{err0}");
}

/// A live run of a topic with nothing in it replaces the previous run's file once it has
/// connected, without waiting for a row (the sinks create their files lazily, once the
/// sources connect: a review asked whether a quiet topic would leave the old rows for a
/// reader tailing the file to take for this run's; the source's first step after
/// connecting moves the frontier, which wakes the sink).
#[test]
fn a_live_run_of_a_quiet_topic_replaces_the_previous_file_once_connected() {
    let brokers = kafka_brokers();
    let topic = unique("quiet");
    create_topic(&brokers, &topic, 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), keyed_job(&topic, "0s")).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let file = dir.path().join("out/features.jsonl");
    std::fs::write(&file, "{\"previous\":true}\n").unwrap();
    let child = freshet()
        .args(["run"])
        .arg(dir.path().join("job.yaml"))
        .args(["--infra", infra.to_str().unwrap(), "--mode", "stream", "-q"])
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let start = std::time::Instant::now();
    let replaced = loop {
        let empty = std::fs::read_to_string(&file).is_ok_and(|t| t.is_empty());
        if empty || start.elapsed() > Duration::from_secs(15) {
            break empty;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    sigterm(&mut child);
    assert!(replaced, "the previous file was still there after 15 s");
}
