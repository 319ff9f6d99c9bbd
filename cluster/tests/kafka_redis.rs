//! Kafka in, Redis and Kafka out, against the real local services (tansu, redis-server,
//! moto; `scripts/services.sh start`): results equal the naive reference, the online
//! store holds each entity's newest window, nothing is lost when the broker restarts or
//! the broker is down, and bad records reach the dead-letter file with their partition
//! and offset.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use common::reference::reference;
use common::services::*;
use common::{
    assert_same, event_json, events, freshet, job_text, key_columns, read_finals, Event, RowKey,
    MIN,
};

/// Events produced keyed by user, so each user's records keep their order in one partition
/// while partitions interleave differently from the file order.
fn produce_events(brokers: &str, topic: &str, evs: &[Event]) {
    let records: Vec<(Option<String>, Vec<u8>)> = evs
        .iter()
        .map(|e| (Some(e.user.clone()), event_json(e).into_bytes()))
        .collect();
    produce(brokers, topic, &records);
}

fn kafka_source(topic: &str, group: &str) -> String {
    format!(
        "connector: kafka\n    cluster: local\n    topic: {topic}\n    group_id: {group}\n    start: earliest"
    )
}

fn redis_hash(conn: &mut redis::Connection, key: &str) -> BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(conn).unwrap()
}

/// (window start, window end, value columns) of one window.
type WindowValues = (i64, i64, BTreeMap<String, Value>);

/// Per (feature, key): the reference row of the newest window.
fn newest_windows(
    want: &BTreeMap<RowKey, BTreeMap<String, Value>>,
) -> BTreeMap<(String, String), WindowValues> {
    let mut out = BTreeMap::new();
    for ((f, k, s, e), v) in want {
        let slot = out
            .entry((f.clone(), k.clone()))
            .or_insert((*s, *e, v.clone()));
        if *e > slot.1 {
            *slot = (*s, *e, v.clone());
        }
    }
    out
}

/// `["g1","request_ride"]` → `g1|request_ride`.
fn entity(key_json: &str) -> String {
    let v: Vec<Value> = serde_json::from_str(key_json).unwrap();
    v.iter()
        .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn kafka_to_redis_equals_the_reference_and_redis_holds_each_newest_window() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("events");
    create_topic(&brokers, &topic, 3);
    let disorder = 5 * MIN;
    let evs = events(21, 2_000, disorder);
    produce_events(&brokers, &topic, &evs);
    // One malformed record: a dead letter naming its partition and offset.
    produce(
        &brokers,
        &topic,
        &[(Some("u1".into()), b"{\"user_id\": \"u1\", oops".to_vec())],
    );
    let version = unique_version();
    let infra = write_infra(dir.path(), &brokers);
    let job = job_text(
        60,
        disorder / 1000 + 61,
        &kafka_source(&topic, &unique("g")),
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n  - { name: online, connector: redis, store: features, ttl: 1h, batch_size: 50 }\n",
        version,
    );
    let job_path = dir.path().join("job.yaml");
    std::fs::write(&job_path, job).unwrap();
    let (want, _) = reference(&evs, 60, None);

    for args in [
        vec!["--mode", "stream", "--exit-at-end"],
        vec!["--mode", "backfill", "--workers", "2"],
    ] {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        run_with_infra(&job_path, &infra, &args);
        let got = read_finals(&dir.path().join("out"), "features", &key_columns());
        assert_same(&format!("kafka {args:?}"), &got, &want);

        let dl = std::fs::read_to_string(dir.path().join("out/dead_letter.jsonl")).unwrap();
        let dl: Vec<Value> = dl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(dl.len(), 1, "{dl:?}");
        assert_eq!(dl[0]["kind"], "malformed");
        let loc = dl[0]["file"].as_str().unwrap();
        assert!(
            loc.starts_with(&format!("kafka://local/{topic}/")),
            "dead letter names the partition: {loc}"
        );
        assert_eq!(dl[0]["record"], "{\"user_id\": \"u1\", oops");
    }

    // The online store: one hash per entity holding its newest window's final value.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let newest = newest_windows(&want);
    assert!(newest.len() > 20);
    for ((feature, key), (start, end, values)) in &newest {
        let hkey = format!("{feature}:{version}:{}", entity(key));
        let h = redis_hash(&mut conn, &hkey);
        assert_eq!(
            h.get("window_end").map(String::as_str),
            Some(end.to_string().as_str()),
            "{hkey}: {h:?}"
        );
        assert_eq!(h["window_start"], start.to_string(), "{hkey}");
        for (col, v) in values {
            let got: f64 = h[col].parse().unwrap();
            let want = v.as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{hkey} {col}: {got} != {want}"
            );
        }
        let ttl: i64 = redis::cmd("PTTL").arg(&hkey).query(&mut conn).unwrap();
        assert!(
            ttl > 0 && ttl <= 3_600_000,
            "{hkey} has the feature's TTL: {ttl}"
        );
    }
}

#[test]
fn the_kafka_sink_keeps_the_latest_value_per_entity_on_a_compactable_topic() {
    // Disorder beyond a window's size: late records correct windows older than ones
    // already sent for their entity.
    check_compaction(&events(22, 800, 12 * MIN));
}

/// The sink forgets an entity's newest window once the frontier has passed it by the
/// lateness (it sweeps from 1,024 entities on): with 1,500 users, every later row of a
/// forgotten entity must still be for a newer window, or the topic's last record per key
/// would be an older window's.
#[test]
fn the_kafka_sink_forgets_entities_only_when_no_older_window_can_come() {
    let mut evs = events(23, 3000, 12 * MIN);
    for (i, e) in evs.iter_mut().enumerate() {
        e.user = format!("u{}", (i * 7919) % 1500);
    }
    check_compaction(&evs);
}

fn check_compaction(evs: &[Event]) {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (unique("in"), unique("features"));
    create_topic(&brokers, &input, 2);
    create_topic(&brokers, &output, 2);
    produce_events(&brokers, &input, evs);
    let infra = write_infra(dir.path(), &brokers);
    let sinks = format!(
        "  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}\n  - {{ name: topic, connector: kafka, cluster: local, topic: {output}, batch_size: 100 }}\n"
    );
    let job = job_text(30, 900, &kafka_source(&input, &unique("g")), &sinks, 3);
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    run_with_infra(
        &dir.path().join("job.yaml"),
        &infra,
        &["--mode", "stream", "--exit-at-end", "--batch-bytes", "2000"],
    );
    // The file sink's changelog (one worker: one file, in emission order) is what the
    // Kafka sink was given. It sends every row but those of an older window than one it
    // already sent for the entity, so the last record per key (what compaction keeps) is
    // the entity's newest window at its latest revision.
    let file_rows: Vec<Value> = std::fs::read_to_string(dir.path().join("out/features.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys = key_columns();
    let mut want_latest: BTreeMap<String, Value> = BTreeMap::new();
    let mut sent = 0;
    let mut older = 0;
    for r in &file_rows {
        let f = r["feature"].as_str().unwrap();
        let ent: Vec<String> = keys[f]
            .iter()
            .map(|c| r[*c].as_str().unwrap().to_string())
            .collect();
        let k = format!("{f}:3:{}", ent.join("|"));
        let newer = want_latest.get(&k).is_none_or(|old| {
            (old["window_end"].as_i64(), old["revision"].as_i64())
                <= (r["window_end"].as_i64(), r["revision"].as_i64())
        });
        if newer {
            want_latest.insert(k, r.clone());
            sent += 1;
        } else {
            older += 1;
        }
    }
    assert!(
        older > 0,
        "the input must correct older windows to test this"
    );
    let records = consume_all(&brokers, &output, sent);
    assert_eq!(records.len(), sent);
    // Records of one key are in one partition, in order: the last one wins.
    let mut got_latest: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in records {
        let k = k.expect("records are keyed");
        got_latest.insert(k, serde_json::from_str(&v).unwrap());
    }
    assert_eq!(got_latest, want_latest);
}

#[test]
fn an_unreachable_broker_is_a_clear_error_after_retries() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let infra = write_infra(dir.path(), &format!("127.0.0.1:{port}"));
    let job = job_text(
        0,
        0,
        &kafka_source("events", "g"),
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let out = freshet()
        .args(["run", dir.path().join("job.yaml").to_str().unwrap()])
        .args(["--infra", infra.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("is the broker running?"), "{err}");
    assert!(
        err.contains("retrying (1/"),
        "it retries before giving up: {err}"
    );
    // librdkafka reports the broker down on every connection attempt of every thread:
    // shown once per 10 s, not ~300 times (found by QA). (Its own log lines, two per
    // connection attempt of the four, come on top.)
    let lines = err.lines().filter(|l| l.contains("librdkafka:")).count();
    assert!(lines <= 40, "{lines} librdkafka lines: {err}");

    // A stop (SIGTERM) while it retries is a clean stop, not the connect error after
    // every retry (it used to be ignored until the retries ran out).
    sigterm_during_a_retry_stops_cleanly(dir.path(), &infra);
}

/// Runs `dir/job.yaml` live against an unreachable broker and sends SIGTERM once it
/// retries: the run stops cleanly, without the connection error.
fn sigterm_during_a_retry_stops_cleanly(dir: &Path, infra: &Path) {
    let log = dir.join("stderr.txt");
    let child = freshet()
        .args(["run", dir.join("job.yaml").to_str().unwrap()])
        .args(["--infra", infra.to_str().unwrap(), "--mode", "stream"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut run = Guard(child);
    wait_for("a retry", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("retrying (1/"))
    });
    common::signals::sigterm(&run.0);
    let status = run.0.wait().unwrap();
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(!err.contains("is the broker running?"), "{err}");
}

/// A Kafka or Redis sink that cannot be reached fails the run when it opens, with what to
/// check (it used to run on, retrying every batch, and exit 0 with the rows dead-lettered).
#[test]
fn unreachable_sinks_fail_the_run_at_its_start() {
    let dir = tempfile::tempdir().unwrap();
    common::write_inputs(dir.path(), &events(5, 200, MIN), 1);
    let (kafka_port, redis_port) = (free_port(), free_port());
    let infra = dir.path().join("infra.yaml");
    std::fs::write(
        &infra,
        format!("kafka:\n  local: {{ bootstrap_servers: \"127.0.0.1:{kafka_port}\" }}\nredis:\n  features: {{ url: \"redis://127.0.0.1:{redis_port}\" }}\n"),
    )
    .unwrap();
    for (sink, want) in [
        (
            "{ name: topic, connector: kafka, cluster: local, topic: features }",
            format!("127.0.0.1:{kafka_port}"),
        ),
        (
            "{ name: store, connector: redis, store: features }",
            "redis store `features`: cannot connect".to_string(),
        ),
    ] {
        let job = job_text(
            0,
            0,
            "connector: file\n    path: data/*.jsonl",
            &format!("  - {sink}\n"),
            1,
        );
        std::fs::write(dir.path().join("job.yaml"), job).unwrap();
        let out = freshet()
            .args(["run", dir.path().join("job.yaml").to_str().unwrap()])
            .args(["--infra", infra.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sink}: {err}");
        assert!(
            err.contains(&want) && err.contains("hint:"),
            "{sink}: {err}"
        );
    }

    // A signal while the Kafka sink retries its broker stops the run cleanly (it used to
    // wait out every retry, then fail).
    let job = job_text(
        0,
        0,
        "connector: file\n    path: data/*.jsonl",
        "  - { name: topic, connector: kafka, cluster: local, topic: features }\n",
        1,
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    sigterm_during_a_retry_stops_cleanly(dir.path(), &infra);
}

#[test]
fn a_broker_restart_mid_run_loses_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique("tansu").to_lowercase();
    create_bucket(&bucket);
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let log = dir.path().join("broker.log");
    let broker = start_persistent_broker(port, &bucket, &log);
    let topic = "events";
    create_topic(&brokers, topic, 1);
    let evs = events(23, 1_200, 2 * MIN);
    let (first, second) = evs.split_at(600);
    produce_events(&brokers, topic, first);

    let infra = write_infra(dir.path(), &brokers);
    let job = job_text(
        30,
        300,
        &kafka_source(topic, "restart"),
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    );
    std::fs::write(dir.path().join("job.yaml"), &job).unwrap();
    let run = freshet()
        .args(["run", dir.path().join("job.yaml").to_str().unwrap()])
        .args(["--infra", infra.to_str().unwrap(), "--mode", "stream", "-q"])
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let mut run = Guard(run);
    let out = dir.path().join("out/features.jsonl");
    wait_for("first windows", Duration::from_secs(60), || {
        std::fs::metadata(&out).is_ok_and(|m| m.len() > 0)
    });

    // Kill the broker mid-run and bring it back on the same storage.
    drop(broker);
    std::thread::sleep(Duration::from_secs(2));
    let _broker = start_persistent_broker(port, &bucket, &log);
    produce_events(&brokers, topic, second);
    // A record far in the future closes every window (its own is not checked).
    let closer = Event {
        user: "closer".into(),
        geo: "none".into(),
        action: "app_open",
        fare: 1.0,
        t: evs.iter().map(|e| e.t).max().unwrap() + 60 * MIN,
    };
    produce_events(&brokers, topic, std::slice::from_ref(&closer));

    let (mut want, _) = reference(&evs, 30, None);
    let done = |want: &BTreeMap<RowKey, BTreeMap<String, Value>>| {
        let got = read_finals(&dir.path().join("out"), "features", &key_columns());
        // Counts are exact; the full comparison (floats with a tolerance) comes after.
        want.iter().all(|(k, w)| {
            got.rows
                .get(k)
                .is_some_and(|(_, g)| g.get("n") == w.get("n"))
        })
    };
    // Wait for the final values to arrive, then stop the run cleanly.
    let start = std::time::Instant::now();
    while !done(&want) && start.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(300));
    }
    sigterm(&mut run);
    let got = read_finals(&dir.path().join("out"), "features", &key_columns());
    // The closer's own windows are still open: ignore them.
    let got_rows: BTreeMap<_, _> = got
        .rows
        .into_iter()
        .filter(|((_, k, _, _), _)| !k.contains("closer") && !k.contains("none"))
        .collect();
    want.retain(|(_, k, _, _), _| !k.contains("closer"));
    let got = common::Finals {
        rows: got_rows,
        ..Default::default()
    };
    assert_same("after a broker restart", &got, &want);
}

/// A stateless feature's rows are made where they are read: with two workers reading two
/// files, an entity's rows come from both. They still reach one Kafka sink, which sends
/// only newer rows, so the last record per key (what compaction keeps) is the entity's
/// newest row. Before, each worker's sink sent its own newest, and the topic kept
/// whichever was flushed last.
#[test]
fn a_stateless_feature_on_several_workers_leaves_each_entitys_newest_row_last() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let output = unique("latest");
    create_topic(&brokers, &output, 2);
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    // Users u0..u4, a row a second, dealt to the two files in turn (each file is one
    // worker's: smaller than a split).
    let t0 = common::T0;
    let mut newest: BTreeMap<String, i64> = BTreeMap::new();
    let mut files = [String::new(), String::new()];
    for i in 0..400i64 {
        let user = format!("u{}", (i * 7) % 5);
        let t = t0 + i * 1000;
        files[(i % 2) as usize]
            .push_str(&format!("{{\"user_id\":\"{user}\",\"n\":{i},\"t\":{t}}}\n"));
        newest.insert(format!("last_n:1:{user}"), t);
    }
    for (k, text) in files.iter().enumerate() {
        std::fs::write(dir.path().join(format!("data/part-{k}.jsonl")), text).unwrap();
    }
    std::fs::write(
        dir.path().join("job.yaml"),
        format!(
            r#"name: stateless_kafka
sources:
  - {{ name: ev, connector: file, path: data/*.jsonl, format: json, schema: {{ user_id: string!, n: int, t: timestamp }}, event_time: t }}
features:
  - name: last_n
    sql: SELECT user_id, n FROM ev
sinks:
  - {{ name: topic, connector: kafka, cluster: local, topic: {output}, batch_size: 7 }}
"#
        ),
    )
    .unwrap();
    let infra = write_infra(dir.path(), &brokers);
    run_with_infra(
        &dir.path().join("job.yaml"),
        &infra,
        &[
            "--mode",
            "backfill",
            "--workers",
            "2",
            "--batch-bytes",
            "200",
        ],
    );
    // The run has ended: every record is on the topic.
    let records = consume_until_quiet(&brokers, &output, Duration::from_secs(2));
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for (k, v) in records {
        let v: Value = serde_json::from_str(&v).unwrap();
        last.insert(k.expect("keyed"), v["window_end"].as_i64().unwrap());
    }
    assert_eq!(last, newest);
}
