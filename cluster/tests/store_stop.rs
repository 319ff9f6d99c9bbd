//! A slow feature store and a stop, against the real redis-server (`scripts/services.sh
//! start`): the store's writes run beside the worker, so the file sink is not held back
//! by a store writing two rows a second; after a stop the store gets `--stop-timeout` to
//! take what was emitted, and every row it did not take is a `sink_failed` dead letter
//! (counted in the summary), never dropped: rows in Redis plus dead letters are exactly
//! the file sink's rows.
//!
//! The input is by hand: one event for each of 60 keys in the first minute, then one at
//! minute 10 whose watermark closes that minute; the reference is 60 rows, `n` = 1.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::services::{redis_url, unique_version};
use common::signals::sigterm;
use common::{freshet, rows_of};

const KEYS: usize = 60;

/// Writes the input, an infrastructure profile with `redis_url` and the job (a file sink
/// and a Redis sink taking `write_rate` rows a second); returns the job's path.
fn slow_store_job(dir: &Path, redis_url: &str, version: u32, write_rate: u32) -> PathBuf {
    let mut input = String::new();
    for i in 0..KEYS {
        input += &format!("{{\"k\":\"k{i}\",\"t\":{}}}\n", 1000 + i);
    }
    input += "{\"k\":\"z\",\"t\":600000}\n";
    std::fs::write(dir.join("in.jsonl"), input).unwrap();
    std::fs::write(
        dir.join("infra.yaml"),
        format!("redis:\n  features: {{ url: \"{redis_url}\" }}\n"),
    )
    .unwrap();
    let job = dir.join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "name: slow_store
sources:
  - name: s
    connector: file
    path: in.jsonl
    format: json
    schema: {{ k: string, t: timestamp }}
    event_time: t
    watermark_delay: 1s
features:
  - name: per_minute
    version: {version}
    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/rows.jsonl }}
  - {{ name: online, connector: redis, store: features, batch_size: 1, write_rate: {write_rate} }}
"
        ),
    )
    .unwrap();
    job
}

/// Starts a live run of `job` stopping with `stop_timeout`, stderr piped.
fn start_live(job: &Path, stop_timeout: &str, summary: &Path) -> std::process::Child {
    start(job, "stream", stop_timeout, summary)
}

/// Starts a run of `job` in `mode` stopping with `stop_timeout`, stderr piped.
fn start(job: &Path, mode: &str, stop_timeout: &str, summary: &Path) -> std::process::Child {
    let dir = job.parent().unwrap();
    freshet()
        .args(["run", job.to_str().unwrap(), "--mode", mode])
        .args(["--stop-timeout", stop_timeout, "-q", "--summary-json"])
        .arg(summary)
        .arg("--infra")
        .arg(dir.join("infra.yaml"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the file sink holds the closed window's rows; returns them by key, after
/// checking them against the reference (by hand: one row per key, `n` = 1, minute 0; a
/// backfill, whose input's end closes every window, also has `z`'s minute 10).
fn wait_for_file_rows(dir: &Path) -> BTreeMap<String, Value> {
    wait_for_rows(dir, false)
}

fn wait_for_rows(dir: &Path, backfill: bool) -> BTreeMap<String, Value> {
    let want = KEYS + backfill as usize;
    let started = Instant::now();
    while rows_of(&dir.join("out/rows.jsonl")).len() < want {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the file sink never got the closed window's rows"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rows = rows_of(&dir.join("out/rows.jsonl"));
    assert_eq!(rows.len(), want);
    let by_key: BTreeMap<String, Value> = rows
        .iter()
        .map(|r| (r["k"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    for i in 0..KEYS {
        let r = &by_key[&format!("k{i}")];
        assert_eq!(
            (&r["n"], &r["window_start"], &r["window_end"]),
            (&Value::from(1), &Value::from(0), &Value::from(60_000)),
            "{r}"
        );
    }
    if backfill {
        let z = &by_key["z"];
        assert_eq!(
            (&z["n"], &z["window_start"], &z["window_end"]),
            (
                &Value::from(1),
                &Value::from(600_000),
                &Value::from(660_000)
            ),
            "{z}"
        );
    }
    by_key
}

/// Stops `child` with SIGTERM; returns its stderr after asserting it exited 0.
fn stop(child: std::process::Child) -> String {
    let (ok, err) = stop_status(child);
    assert!(ok, "{err}");
    err
}

/// Stops `child` with SIGTERM; returns whether it exited 0, and its stderr.
fn stop_status(mut child: std::process::Child) -> (bool, String) {
    sigterm(&child);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    (status.success(), format!("{status}: {err}"))
}

/// The Redis keys of feature `per_minute` version `version`.
fn stored(conn: &mut redis::Connection, version: u32) -> BTreeSet<String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("per_minute:{version}:*"))
        .query(conn)
        .unwrap();
    keys.into_iter().collect()
}

/// The `sink_failed` dead letters: store key -> reason, after checking that each holds
/// its file row.
fn not_written(dir: &Path, by_key: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for d in rows_of(&dir.join("out/dead_letter.jsonl")) {
        assert_eq!(d["kind"], "sink_failed", "{d}");
        assert_eq!(d["source"], "online", "{d}");
        assert_eq!(d["feature"], "per_minute", "{d}");
        let record: Value = serde_json::from_str(d["record"].as_str().unwrap()).unwrap();
        let k = record["k"].as_str().unwrap().to_string();
        assert_eq!(record, by_key[&k], "the dead letter holds the row");
        let key = d["file"].as_str().unwrap().to_string();
        assert!(key.ends_with(&format!(":{k}")), "{d}");
        let reason = d["reason"].as_str().unwrap().to_string();
        assert!(out.insert(key, reason).is_none(), "{k} twice");
    }
    out
}

#[test]
fn a_stop_dead_letters_the_rows_a_slow_store_did_not_take() {
    let dir = tempfile::tempdir().unwrap();
    let version = unique_version();
    let job = slow_store_job(dir.path(), &redis_url(), version, 2);
    let summary = dir.path().join("summary.json");
    let child = start_live(&job, "2s", &summary);

    // The file sink gets the closed minute's 60 rows while the store takes two a second.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let by_key = wait_for_file_rows(dir.path());
    let stored_then = stored(&mut conn, version).len();
    assert!(
        stored_then < KEYS / 2,
        "the file sink waited for the store: {stored_then} rows stored"
    );

    let err = stop(child);
    assert!(
        err.contains("handed to stores or topics by this process are still to be written"),
        "a stopping run says what it still writes: {err}"
    );

    // Every row is in Redis or a dead letter, not both.
    let not_written = not_written(dir.path(), &by_key);
    for reason in not_written.values() {
        assert!(reason.contains("stop timeout (2s"), "{reason}");
    }
    let in_redis = stored(&mut conn, version);
    assert!(
        !not_written.is_empty(),
        "the store could not take 60 rows in 2s"
    );
    let failed: BTreeSet<String> = not_written.keys().cloned().collect();
    assert!(in_redis.is_disjoint(&failed), "{in_redis:?}");
    let all: BTreeSet<String> = (0..KEYS)
        .map(|i| format!("per_minute:{version}:k{i}"))
        .collect();
    let union: BTreeSet<String> = in_redis.union(&failed).cloned().collect();
    assert_eq!(union, all);

    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["sink_failed"], failed.len() as u64, "{s}");
    assert_eq!(s["dead_letters"], failed.len() as u64, "{s}");
    assert_eq!(s["rows_written"], (KEYS + in_redis.len()) as u64, "{s}");
}

/// A private redis-server, killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Found by QA: a store that stops answering (frozen, its connection open) held the
/// writer until the process gave up on its dataflow, and the rows it had were lost without
/// a word. Now they are dead letters once the stop timeout (and a margin) passes: in a live
/// run, and in a backfill whose input has ended (its sink operator has no more input to be
/// woken by; found by QA on the first fix), which then fails.
#[test]
fn a_stop_dead_letters_the_rows_of_a_store_that_stopped_answering() {
    for mode in ["stream", "backfill"] {
        hung_store_stopped(mode);
    }
}

fn hung_store_stopped(mode: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/services.sh installs it)"),
    );
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let started = Instant::now();
    let mut conn = loop {
        match client.get_connection() {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "redis-server: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let version = unique_version();
    let job = slow_store_job(dir.path(), &url, version, 5);
    let summary = dir.path().join("summary.json");
    let child = start(&job, mode, "1s", &summary);
    // The store is writing: the window was emitted (a backfill's file appears at its end).
    let started = Instant::now();
    while stored(&mut conn, version).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{mode}: nothing stored"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let frozen = std::process::Command::new("kill")
        .args(["-STOP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(frozen.success());
    // (A live run has read its input long before: the stop comes after its end in both.)
    std::thread::sleep(Duration::from_millis(300));
    let (ok, err) = stop_status(child);
    std::process::Command::new("kill")
        .args(["-CONT", &server.0.id().to_string()])
        .status()
        .unwrap();
    // A live run stopped exits 0; a backfill whose store writes the stop cut short fails.
    assert_eq!(ok, mode == "stream", "{mode}: {err}");

    let by_key = wait_for_rows(dir.path(), mode == "backfill");
    let not_written = not_written(dir.path(), &by_key);
    let in_redis = stored(&mut conn, version);
    let failed: BTreeSet<String> = not_written.keys().cloned().collect();
    let all: BTreeSet<String> = by_key
        .keys()
        .map(|k| format!("per_minute:{version}:{k}"))
        .collect();
    let union: BTreeSet<String> = in_redis.union(&failed).cloned().collect();
    assert_eq!(
        union, all,
        "{mode}: every row is in the store or a dead letter: {err}"
    );
    assert!(
        not_written
            .values()
            .any(|r| r.contains("before the store took it")),
        "{mode}: {not_written:?}"
    );
    // A row in both is one the frozen store may have taken: its dead letter says so.
    for key in in_redis.intersection(&failed) {
        assert!(
            not_written[key].contains("or only in part"),
            "{key}: {}",
            not_written[key]
        );
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["sink_failed"], failed.len() as u64, "{mode}: {s}");
    drop(server);
}

/// Found by QA: a run whose Redis could not be reached failed, as it should, but only
/// after its file sink had replaced the previous run's file with an empty one. Sources
/// now wait for the process's stores to open, so nothing is replaced.
#[test]
fn an_unreachable_store_leaves_the_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let job = slow_store_job(dir.path(), "redis://127.0.0.1:1", unique_version(), 100);
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/rows.jsonl"), "previous\n").unwrap();
    std::fs::write(dir.path().join("out/dead_letter.jsonl"), "old\n").unwrap();
    let out = freshet()
        .args(["run", job.to_str().unwrap(), "--infra"])
        .arg(dir.path().join("infra.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("sink `online`"), "{err}");
    let read = |f: &str| std::fs::read_to_string(dir.path().join("out").join(f)).unwrap();
    assert_eq!(read("rows.jsonl"), "previous\n");
    assert_eq!(read("dead_letter.jsonl"), "old\n");
}
