//! Where Kafka reads start and end: `start` positions (earliest, latest, committed, a
//! timestamp) and bounded reads (backfill, `--exit-at-end`) of a topic being written,
//! against the real local broker (`scripts/services.sh start`).

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use common::services::*;
use common::{event_json, events, freshet, job_text, run_ok, Event, MIN};

/// Events produced keyed by user (each user's records keep their order in a partition).
fn produce_events(brokers: &str, topic: &str, evs: &[Event]) {
    let records: Vec<(Option<String>, Vec<u8>)> = evs
        .iter()
        .map(|e| (Some(e.user.clone()), event_json(e).into_bytes()))
        .collect();
    produce(brokers, topic, &records);
}

/// Events read by one run of `job.yaml` with `start` (a summary counter).
fn events_read_with(
    dir: &Path,
    infra: &Path,
    topic: &str,
    group: &str,
    start: &str,
    mode: &[&str],
) -> u64 {
    let job = job_text(
        0,
        0,
        &format!(
            "connector: kafka\n    cluster: local\n    topic: {topic}\n    group_id: {group}\n    start: \"{start}\""
        ),
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
    let summary = dir.join("summary.json");
    let job = dir.join("job.yaml");
    let mut args = vec![
        "run",
        job.to_str().unwrap(),
        "--infra",
        infra.to_str().unwrap(),
    ];
    args.extend_from_slice(mode);
    args.extend(["-q", "--summary-json", summary.to_str().unwrap()]);
    run_ok(&args);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    s["events_read"].as_u64().unwrap()
}

const EXIT_AT_END: &[&str] = &["--mode", "stream", "--exit-at-end"];

/// Ends every partition with a batch of one record. tansu 0.6 answers ListOffsets(latest)
/// with the base offset of the last batch + 1, and a fetch at an offset inside a batch
/// returns nothing, so `start: latest` after a multi-record batch would wait forever;
/// with a one-record last batch its answer is the true end.
fn seal(brokers: &str, topic: &str, partitions: i32) {
    for p in 0..partitions {
        let t = common::T0 + 10 * MIN;
        let payload = format!(
            r#"{{"user_id": "seal", "geohash": "g", "action": "app_open", "fare": 1.0, "event_time": {t}}}"#
        );
        produce_to_partition(brokers, topic, p, &[("seal".to_string(), payload)]);
    }
}

#[test]
fn start_positions_earliest_latest_committed_and_timestamp() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let topic = unique("starts");
    create_topic(&brokers, &topic, 2);
    let evs = events(24, 150, 0);
    produce_events(&brokers, &topic, &evs[..100]);
    seal(&brokers, &topic, 2);
    // Kafka timestamps are append times: everything after this instant is batch two.
    std::thread::sleep(Duration::from_millis(1500));
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    std::thread::sleep(Duration::from_millis(500));
    let group = unique("g");
    // `committed` with no committed offsets starts at the beginning, then commits.
    assert_eq!(
        events_read_with(dir.path(), &infra, &topic, &group, "committed", EXIT_AT_END),
        102
    );
    produce_events(&brokers, &topic, &evs[100..]);
    seal(&brokers, &topic, 2);
    // The same group resumes after its committed offsets.
    assert_eq!(
        events_read_with(dir.path(), &infra, &topic, &group, "committed", EXIT_AT_END),
        52
    );
    // Once more: nothing after them. A backfill that reads nothing so says why (found by
    // QA: a rerun backfill emptied its outputs without a word).
    let out = common::freshet()
        .args(["run", dir.path().join("job.yaml").to_str().unwrap()])
        .args([
            "--infra",
            infra.to_str().unwrap(),
            "--mode",
            "backfill",
            "-q",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: no events were read") && err.contains("`start: earliest`"),
        "{err}"
    );
    assert_eq!(
        events_read_with(
            dir.path(),
            &infra,
            &topic,
            &unique("g"),
            "earliest",
            EXIT_AT_END
        ),
        154
    );
    assert_eq!(
        events_read_with(
            dir.path(),
            &infra,
            &topic,
            &unique("g"),
            "latest",
            EXIT_AT_END
        ),
        0
    );
    assert_eq!(
        events_read_with(
            dir.path(),
            &infra,
            &topic,
            &unique("g"),
            &between.to_string(),
            EXIT_AT_END
        ),
        52
    );
}

/// A bounded read of a topic that is written all the while stops at the end present at
/// its start: before, a partition was finished only once the reader had caught up with
/// the broker (partition EOF), so a backfill ran until the writing stopped. The records
/// present at start were written in batches (tansu's ListOffsets under-reports their
/// end), and every one of them is read.
#[test]
fn a_bounded_read_of_a_topic_being_written_stops_at_its_end_at_start() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let topic = unique("written");
    create_topic(&brokers, &topic, 2);
    let evs = events(31, 1000, 0);
    produce_events(&brokers, &topic, &evs);
    // A writer that goes on until told to stop (or for two minutes at most).
    let (stop, stopped_by_itself) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let writer = {
        let (brokers, topic) = (brokers.clone(), topic.clone());
        let (stop, stopped_by_itself) = (Arc::clone(&stop), Arc::clone(&stopped_by_itself));
        let more = events(32, 1, 0).remove(0);
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if start.elapsed() > Duration::from_secs(120) {
                    stopped_by_itself.store(true, Ordering::Relaxed);
                    return;
                }
                for p in 0..2 {
                    let payload = event_json(&more);
                    produce_to_partition(&brokers, &topic, p, &[(more.user.clone(), payload)]);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for mode in [
        &["--mode", "backfill"][..],
        &["--mode", "stream", "--exit-at-end"][..],
    ] {
        let read = events_read_with(dir.path(), &infra, &topic, &unique("g"), "earliest", mode);
        assert!(
            read >= 1000,
            "{mode:?}: only {read} of the 1000 records present at start"
        );
    }
    let ran_out = stopped_by_itself.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        !ran_out,
        "the bounded reads ended only when the writing stopped"
    );
}

/// An in-order topic has nothing too late, whatever `idle_timeout` is. A short timeout
/// declared partitions idle while records waited in them (the reader was busy with
/// another): the watermark jumped to the leading partition and most records became too
/// late. Now a bounded read has no idle partitions (one with nothing left is finished),
/// and a live one only declares a partition idle when nothing waits in it.
#[test]
fn a_short_idle_timeout_does_not_make_waiting_records_too_late() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let topic = unique("waiting");
    let partitions = 4;
    create_topic(&brokers, &topic, partitions);
    let (n, t0) = (40_000i64, common::T0);
    // Record i goes to partition i % 4: every partition is in event-time order.
    deal(&brokers, &topic, partitions, n, |i| {
        format!(
            r#"{{"user_id": "u{}", "event_time": {}}}"#,
            i % 50,
            t0 + i * 1000
        )
    });
    let last_window_end = t0 + (n * 1000 - 30_000) / 300_000 * 300_000;
    for (i, mode) in [&["--mode", "backfill"][..], &["--mode", "stream"][..]]
        .iter()
        .enumerate()
    {
        let job = format!(
            r#"name: waiting
sources:
  - name: ev
    connector: kafka
    cluster: local
    topic: {topic}
    group_id: {group}
    start: earliest
    idle_timeout: 100ms
    format: json
    schema: {{ user_id: string!, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 30s
features:
  - name: n
    allowed_lateness: 1m
    sql: SELECT user_id, COUNT(*) AS n FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '5' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out{i}/features.jsonl }}
"#,
            group = unique("g")
        );
        let job_path = dir.path().join(format!("job{i}.yaml"));
        std::fs::write(&job_path, job).unwrap();
        let summary = dir.path().join(format!("summary{i}.json"));
        let mut cmd = freshet();
        cmd.args([
            "run",
            job_path.to_str().unwrap(),
            "--infra",
            infra.to_str().unwrap(),
            "-q",
        ])
        .args(*mode)
        .args(["--summary-json", summary.to_str().unwrap()]);
        if mode[1] == "backfill" {
            assert!(cmd.status().unwrap().success());
        } else {
            // Live: stop once the last window the input closes is out.
            let mut run = Guard(cmd.spawn().unwrap());
            let rows = dir.path().join(format!("out{i}/features.jsonl"));
            wait_for("the last closed window", Duration::from_secs(120), || {
                // (the last line may be partly written)
                let text = std::fs::read_to_string(&rows).unwrap_or_default();
                text.lines().any(|l| {
                    serde_json::from_str::<Value>(l)
                        .is_ok_and(|r| r["window_end"] == last_window_end)
                })
            });
            sigterm(&mut run);
        }
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["events_read"], n, "{mode:?}");
        assert_eq!(s["too_late"], 0, "{mode:?}: in-order records were too late");
        assert_eq!(s["dead_letters"], 0, "{mode:?}");
    }
}

/// `freshet produce` sends every line, keyed by `--key-field`; to a topic that does not
/// exist it fails naming the topic, instead of reporting the lines as produced (they were
/// dropped: the records were never acknowledged).
#[test]
fn produce_sends_every_line_keyed_and_refuses_a_missing_topic() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let evs = events(33, 200, 0);
    let lines: Vec<String> = evs.iter().map(event_json).collect();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let produce = |topic: &str| {
        freshet()
            .args([
                "produce",
                "--infra",
                infra.to_str().unwrap(),
                "--topic",
                topic,
            ])
            .args(["--key-field", "user_id", file.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let topic = unique("produced");
    create_topic(&brokers, &topic, 2);
    let out = produce(&topic);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<(Option<String>, String)> = consume_all(&brokers, &topic, lines.len());
    let mut want: Vec<(Option<String>, String)> = evs
        .iter()
        .map(|e| (Some(e.user.clone()), event_json(e)))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let missing = unique("missing");
    let out = produce(&missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "produce to a missing topic succeeded: {stderr}"
    );
    assert!(
        stderr.contains(&format!("topic `{missing}` not found")),
        "{stderr}"
    );
}

/// With one worker, a backfill of a partitioned topic is the same run after run, too-late
/// records included: the partitions are read in turns from a queue each, so what is read
/// before what (and so the watermark each record meets) depends on the topic, not on
/// which fetch came back first. Before, the dead letters (0 or 42 of them here) and so
/// the final values changed between identical runs.
#[test]
fn a_backfill_of_a_partitioned_topic_with_late_records_is_the_same_every_run() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let topic = unique("repeat");
    let partitions = 3;
    create_topic(&brokers, &topic, partitions);
    let t0 = common::T0;
    // One event a second dealt to the partitions in turn; every 300th after the first
    // 7200 is two hours late (beyond the lateness, if the watermark has moved on).
    deal(&brokers, &topic, partitions, 20_000, |i| {
        let late = if i > 7200 && i % 300 == 0 {
            7_200_000
        } else {
            0
        };
        let t = t0 + i * 1000 - late;
        format!(
            r#"{{"user_id": "u{}", "amount": {}, "event_time": {t}}}"#,
            i % 37,
            i % 100
        )
    });
    let job = format!(
        r#"name: repeat
sources:
  - name: ev
    connector: kafka
    cluster: local
    topic: {topic}
    group_id: {group}
    start: earliest
    format: json
    schema: {{ user_id: string!, amount: int, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 30s
features:
  - name: n
    type: {{ n: int, total: int }}
    allowed_lateness: 10m
    sql: |
      SELECT user_id, COUNT(*) AS n, SUM(amount) AS total
      FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '5' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
dead_letter: out/dead_letter.jsonl
"#,
        group = unique("g")
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let run = |batch_bytes: &str| {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        run_ok(&[
            "run",
            dir.path().join("job.yaml").to_str().unwrap(),
            "--infra",
            infra.to_str().unwrap(),
            "--mode",
            "backfill",
            "--batch-bytes",
            batch_bytes,
            "-q",
        ]);
        let mut late: Vec<(String, u64)> =
            common::rows_of(&dir.path().join("out/dead_letter.jsonl"))
                .iter()
                .map(|d| {
                    (
                        d["file"].as_str().unwrap().to_string(),
                        d["line"].as_u64().unwrap(),
                    )
                })
                .collect();
        late.sort();
        let mut finals: Vec<(String, i64, i64, i64)> =
            common::rows_of(&dir.path().join("out/features.jsonl"))
                .iter()
                .map(|r| {
                    let n = |c: &str| r[c].as_i64().unwrap();
                    (
                        r["user_id"].as_str().unwrap().to_string(),
                        n("window_start"),
                        n("n"),
                        n("total"),
                    )
                })
                .collect();
        finals.sort();
        (late, finals)
    };
    let first = run("4194304");
    // Only late records are dead letters; each is one of the late events.
    assert!(first.0.len() <= (7201..20_000).filter(|i| i % 300 == 0).count());
    for batch_bytes in ["1", "200", "4194304", "65536"] {
        let again = run(batch_bytes);
        assert_eq!(
            again.0, first.0,
            "dead letters with --batch-bytes {batch_bytes}"
        );
        assert_eq!(
            again.1, first.1,
            "feature rows with --batch-bytes {batch_bytes}"
        );
    }
}

/// Records 0..n (as `payload(i)`) dealt to the topic's partitions in turn: record i to
/// partition i % partitions, in order within each.
fn deal(brokers: &str, topic: &str, partitions: u32, n: i64, payload: impl Fn(i64) -> String) {
    for p in 0..partitions as i64 {
        let mine: Vec<(String, String)> = (p..n)
            .step_by(partitions as usize)
            .map(|i| ("k".to_string(), payload(i)))
            .collect();
        produce_to_partition(brokers, topic, p as i32, &mine);
    }
}

/// A run that fails on a record (`on_error: fail`) in the last batch of a bounded read
/// does not commit that batch's offsets: the next run from the committed offsets reads
/// the failing record again instead of skipping it and the records around it.
#[test]
fn a_failed_bounded_read_does_not_commit_its_last_batch() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let infra = write_infra(dir.path(), &brokers);
    let topic = unique("failing");
    create_topic(&brokers, &topic, 1);
    let t0 = common::T0;
    let good = |i: i64| {
        (
            format!("k{i}"),
            format!(r#"{{"user_id": "u{i}", "event_time": {}}}"#, t0 + i * 1000),
        )
    };
    produce_to_partition(
        &brokers,
        &topic,
        0,
        &[good(1), ("k".into(), "{not json".into()), good(3)],
    );
    let group = unique("g");
    let job = |on_error: &str| {
        format!(
            r#"name: failing
sources:
  - {{ name: ev, connector: kafka, cluster: local, topic: {topic}, group_id: {group}, start: committed, on_error: {on_error}, format: json, schema: {{ user_id: string!, event_time: timestamp }}, event_time: event_time }}
features:
  - name: n
    sql: SELECT user_id, COUNT(*) AS n FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
"#
        )
    };
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, job("fail")).unwrap();
    let out = freshet()
        .args([
            "run",
            path.to_str().unwrap(),
            "--infra",
            infra.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the malformed record fails the run");
    // The same group again, skipping bad records: everything is still there to read.
    std::fs::write(&path, job("skip")).unwrap();
    let summary = dir.path().join("summary.json");
    run_ok(&[
        "run",
        path.to_str().unwrap(),
        "--infra",
        infra.to_str().unwrap(),
        "-q",
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        (s["events_read"].as_u64(), s["skipped"].as_u64()),
        (Some(3), Some(1)),
        "{s}"
    );
}
