//! End to end on a local AWS endpoint (moto's server, `AWS_ENDPOINT_URL`): events in S3
//! (backfill) or Kinesis (stream, `--exit-at-end`) through the `freshet` binary into a
//! DynamoDB table, compared with counts computed naively here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use connectors::aws::local::{connect as aws, create_stream, endpoint, put_records, unique};
use connectors::aws::Aws;

/// 2026-11-01T00:00:00Z.
const T0: i64 = 1_793_491_200_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const USERS: u64 = 6;

/// (user, event time), in time order over about 2.2 hours.
fn events() -> Vec<(String, i64)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..400)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let user = format!("u{}", (state >> 33) % USERS);
            let t = T0 + i * 20_000 + ((state >> 13) % 10_000) as i64;
            (user, t)
        })
        .collect()
}

fn line(user: &str, t: i64) -> String {
    format!("{{\"user_id\":\"{user}\",\"event_time\":{t}}}")
}

/// What the table must hold: per user, the count in its newest hourly window (newer
/// windows win) and its count for the day.
fn expected(evs: &[(String, i64)]) -> BTreeMap<String, (i64, i64, i64)> {
    let mut hourly: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut daily: BTreeMap<String, i64> = BTreeMap::new();
    for (u, t) in evs {
        *hourly.entry((u.clone(), t - t % HOUR)).or_default() += 1;
        *daily.entry(u.clone()).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for ((u, start), n) in hourly {
        // Later hours overwrite earlier ones.
        out.insert(format!("user_last_hour:1:{u}"), (n, start, start + HOUR));
    }
    for (u, n) in daily {
        let start = T0 - T0 % DAY;
        out.insert(format!("user_day:1:{u}"), (n, start, start + DAY));
    }
    out
}

fn write_job(dir: &Path, source: &str, table: &str) -> (String, String) {
    let job = format!(
        r#"name: aws_e2e
sources:
  - name: ev
{source}
    format: json
    schema: {{ user_id: string!, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 1m
features:
  - name: user_last_hour
    version: 1
    sql: |
      SELECT user_id, COUNT(*) AS n FROM ev
      GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
  - name: user_day
    version: 1
    sql: |
      SELECT user_id, COUNT(*) AS n FROM ev
      GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' DAY)
sinks:
  - {{ name: store, connector: dynamodb, aws: local, table: {table} }}
"#
    );
    let infra = format!(
        "aws:\n  local: {{ region: us-east-1, endpoint: \"{}\", access_key_id: test, secret_access_key: test }}\n",
        endpoint()
    );
    let job_path = dir.join("job.yaml");
    let infra_path = dir.join("infra.yaml");
    std::fs::write(&job_path, job).unwrap();
    std::fs::write(&infra_path, infra).unwrap();
    (
        job_path.to_string_lossy().into_owned(),
        infra_path.to_string_lossy().into_owned(),
    )
}

fn create_table(aws: &Aws) -> String {
    connectors::aws::local::create_table(aws, "e2e-features")
}

/// pk → (n, window_start, window_end), checking each item's key column.
fn read_table(aws: &Aws, table: &str) -> BTreeMap<String, (i64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
    loop {
        let resp = aws
            .block_on(
                aws.dynamodb()
                    .scan()
                    .table_name(table)
                    .set_exclusive_start_key(start.take())
                    .send(),
            )
            .unwrap();
        for item in resp.items() {
            let s = |k: &str| match &item[k] {
                AttributeValue::S(s) => s.clone(),
                other => panic!("{k}: {other:?}"),
            };
            let n = |k: &str| match &item[k] {
                AttributeValue::N(n) => n.parse::<i64>().unwrap(),
                other => panic!("{k}: {other:?}"),
            };
            let pk = s("pk");
            assert!(pk.ends_with(&format!(":{}", s("user_id"))), "{item:?}");
            out.insert(pk, (n("n"), n("window_start"), n("window_end")));
        }
        match resp.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => return out,
        }
    }
}

fn run(args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(args)
        .output()
        .expect("run freshet");
    assert!(
        out.status.success(),
        "freshet {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn s3_backfill_and_kinesis_stream_fill_dynamodb_with_the_same_counts() {
    let aws = aws();
    let evs = events();
    let want = expected(&evs);
    assert_eq!(want.len(), 2 * USERS as usize);

    // S3: one object per hour, written out of order, the second hour gzipped.
    let bucket = unique("e2e-events");
    aws.block_on(aws.s3().create_bucket().bucket(&bucket).send())
        .unwrap();
    let mut by_hour: BTreeMap<i64, String> = BTreeMap::new();
    for (u, t) in &evs {
        let text = by_hour.entry((t - T0) / HOUR).or_default();
        text.push_str(&line(u, *t));
        text.push('\n');
    }
    for (hour, text) in by_hour.iter().rev() {
        let (key, body) = if *hour == 1 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text.as_bytes()).unwrap();
            (
                format!("events/dt=2026-11-01/hr={hour:02}/part-0.jsonl.gz"),
                e.finish().unwrap(),
            )
        } else {
            (
                format!("events/dt=2026-11-01/hr={hour:02}/part-0.jsonl"),
                text.clone().into_bytes(),
            )
        };
        aws.block_on(
            aws.s3()
                .put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.into())
                .send(),
        )
        .unwrap();
    }
    // An object that is not gzip, though named so: one dead letter naming it, and the
    // backfill goes on (it failed the run; found by QA).
    let bad = "events/dt=2026-11-01/hr=00/part-1.jsonl.gz";
    aws.block_on(
        aws.s3()
            .put_object()
            .bucket(&bucket)
            .key(bad)
            .body(line("u0", T0).into_bytes().into())
            .send(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s3_table = create_table(&aws);
    let (job, infra) = write_job(
        dir.path(),
        &format!("    connector: s3\n    aws: local\n    bucket: {bucket}\n    prefix: events/"),
        &s3_table,
    );
    run(&[
        "run",
        &job,
        "--infra",
        &infra,
        "--mode",
        "backfill",
        "--workers",
        "2",
        "-q",
    ]);
    assert_eq!(read_table(&aws, &s3_table), want, "S3 backfill");
    let dead = std::fs::read_to_string(dir.path().join("dead_letter.jsonl")).unwrap();
    let dead: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let url = format!("s3://{bucket}/{bad}");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (&dead[0]["kind"], &dead[0]["file"]),
        (&"malformed".into(), &url.as_str().into()),
        "{dead:?}"
    );
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("cannot decompress {url}: ")),
        "{reason}"
    );

    // Kinesis: the same events over two shards, keyed by user.
    let stream = create_stream(&aws, "e2e-events", 2);
    let records: Vec<(&String, String)> = evs.iter().map(|(u, t)| (u, line(u, *t))).collect();
    put_records(&aws, &stream, &records);
    let kinesis_table = create_table(&aws);
    let dir = tempfile::tempdir().unwrap();
    let (job, infra) = write_job(
        dir.path(),
        &format!(
            "    connector: kinesis\n    aws: local\n    stream: {stream}\n    start: earliest"
        ),
        &kinesis_table,
    );
    run(&[
        "run",
        &job,
        "--infra",
        &infra,
        "--mode",
        "stream",
        "--exit-at-end",
        "--workers",
        "2",
        "-q",
    ]);
    assert_eq!(read_table(&aws, &kinesis_table), want, "Kinesis stream");
}

/// One worker's backfill of a Kinesis stream with records beyond the lateness is the
/// same every run: the shards are read strictly in turn, so the watermark each record
/// meets does not depend on which shard was due first.
#[test]
fn a_kinesis_backfill_with_late_records_is_the_same_every_run() {
    let aws = aws();
    let stream = create_stream(&aws, "e2e-repeat", 3);
    // One event a second over 24 users (their keys spread them over the shards); every
    // 50th after the first 600 is two hours late.
    let records: Vec<(String, String)> = (0..3000i64)
        .map(|i| {
            let user = format!("u{}", i % 24);
            let late = if i > 600 && i % 50 == 0 { 2 * HOUR } else { 0 };
            let t = T0 + i * 1000 - late;
            let line = line(&user, t);
            (user, line)
        })
        .collect();
    put_records(&aws, &stream, &records);
    let dir = tempfile::tempdir().unwrap();
    let job = format!(
        r#"name: repeat
sources:
  - {{ name: ev, connector: kinesis, aws: local, stream: {stream}, start: earliest, format: json, schema: {{ user_id: string!, event_time: timestamp }}, event_time: event_time, watermark_delay: 30s }}
features:
  - name: n
    allowed_lateness: 10m
    sql: SELECT user_id, COUNT(*) AS n FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '5' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
dead_letter: out/dead_letter.jsonl
"#
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let infra = dir.path().join("infra.yaml");
    std::fs::write(
        &infra,
        format!(
            "aws:\n  local: {{ region: us-east-1, endpoint: \"{}\", access_key_id: test, secret_access_key: test }}\n",
            endpoint()
        ),
    )
    .unwrap();
    let lines = |p: &Path| -> Vec<String> {
        let mut l: Vec<String> = std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        l.sort();
        l
    };
    let once = |batch_bytes: &str| {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        run(&[
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
        (
            lines(&dir.path().join("out/dead_letter.jsonl")),
            lines(&dir.path().join("out/features.jsonl")),
        )
    };
    let first = once("4194304");
    assert!(!first.1.is_empty());
    for batch_bytes in ["1", "300", "65536"] {
        let again = once(batch_bytes);
        assert_eq!(
            again.0.len(),
            first.0.len(),
            "dead letters with --batch-bytes {batch_bytes}"
        );
        assert_eq!(again, first, "--batch-bytes {batch_bytes}");
    }
}
