//! Parquet files as a source (history for backfills): the same events as the JSON tests,
//! written with the `parquet` crate in several row groups per file and in assorted arrow
//! types, give the naive batch results in every mode and worker count; rows that do not
//! fit the schema are dead letters naming the file and row; files without a column are
//! warned about.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use common::reference::reference;
use common::{assert_every_mode_gives, events, job_text, key_columns, rows_of, run_ok, Event, MIN};

/// Writes `batch` to `path` in row groups of `group_rows`.
fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Events as a table: `geohash` dictionary-encoded, `action` a large string, the event
/// time in microseconds (read back floored to milliseconds, which it is exactly).
fn batch_of(evs: &[Event]) -> RecordBatch {
    let geo: DictionaryArray<Int32Type> = evs.iter().map(|e| e.geo.as_str()).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "user_id",
            Arc::new(StringArray::from_iter_values(evs.iter().map(|e| &e.user))),
        ),
        ("geohash", Arc::new(geo)),
        (
            "action",
            Arc::new(LargeStringArray::from_iter_values(
                evs.iter().map(|e| e.action),
            )),
        ),
        (
            "fare",
            Arc::new(Float64Array::from_iter_values(evs.iter().map(|e| e.fare))),
        ),
        (
            "event_time",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                evs.iter().map(|e| e.t * 1000),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

fn parquet_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let job = job_text(
        delay_s,
        lateness_s,
        "connector: file\n    path: data/*.parquet",
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    )
    .replacen("format: json", "format: parquet", 1);
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

#[test]
fn parquet_files_give_naive_results_in_every_mode_and_worker_count() {
    let seed = 7;
    let dir = tempfile::tempdir().unwrap();
    let disorder = 6 * MIN;
    let evs = events(seed, 2_500, disorder);
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    // Three files in arrival order, in row groups of 150 rows (dealt out to the workers).
    for (i, chunk) in evs.chunks(evs.len().div_ceil(3)).enumerate() {
        let path = dir.path().join(format!("data/part-{i:03}.parquet"));
        write_parquet(&path, &batch_of(chunk), 150);
    }
    parquet_job(dir.path(), 30, disorder / 1000 + 1);
    let (want, _) = reference(&evs, 30, None);
    assert!(
        want.len() > 100,
        "the test input is too small to mean anything"
    );
    assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
}

#[test]
fn rows_that_do_not_fit_are_dead_letters_and_missing_columns_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let t0 = common::T0;
    // a: a NULL user (required) in row 2, and an event time that is no timestamp in row 3.
    let a = RecordBatch::try_from_iter(vec![
        (
            "user_id",
            Arc::new(StringArray::from(vec![
                Some("u1"),
                None,
                Some("u2"),
                Some("u3"),
            ])) as ArrayRef,
        ),
        (
            "geohash",
            Arc::new(StringArray::from(vec!["g", "g", "g", "g"])),
        ),
        (
            "action",
            Arc::new(StringArray::from(vec!["open", "open", "open", "open"])),
        ),
        (
            "fare",
            Arc::new(Float64Array::from(vec![1.5, 2.0, 4.0, 8.0])),
        ),
        (
            "event_time",
            Arc::new(StringArray::from(vec![
                t0.to_string(),
                (t0 + 1).to_string(),
                "yesterday".to_string(),
                (t0 + 3).to_string(),
            ])),
        ),
    ])
    .unwrap();
    write_parquet(&dir.path().join("data/a.parquet"), &a, 2);
    // b: no `fare` (NULL in its rows, a warning), the event time as epoch ms.
    let b = RecordBatch::try_from_iter(vec![
        (
            "user_id",
            Arc::new(StringArray::from(vec!["u4"])) as ArrayRef,
        ),
        ("geohash", Arc::new(StringArray::from(vec!["g"]))),
        ("action", Arc::new(StringArray::from(vec!["open"]))),
        ("event_time", Arc::new(Int64Array::from(vec![t0 + 4]))),
    ])
    .unwrap();
    write_parquet(&dir.path().join("data/b.parquet"), &b, 10);
    // c: `fare` is text: every row is malformed.
    let c = RecordBatch::try_from_iter(vec![
        (
            "user_id",
            Arc::new(StringArray::from(vec!["u5"])) as ArrayRef,
        ),
        ("fare", Arc::new(StringArray::from(vec!["12"]))),
        ("event_time", Arc::new(Int64Array::from(vec![t0 + 5]))),
    ])
    .unwrap();
    write_parquet(&dir.path().join("data/c.parquet"), &c, 10);
    // d: not Parquet at all: one bad record naming it, and the backfill goes on (it failed
    // the whole backfill, while an S3 object that is not Parquet was one bad record).
    std::fs::write(dir.path().join("data/d.parquet"), b"user_id,fare\nu6,1\n").unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        r#"name: bad_parquet
sources:
  - { name: ev, connector: file, path: data/*.parquet, format: parquet, schema: { user_id: string!, geohash: string, fare: float, event_time: timestamp }, event_time: event_time }
features:
  - name: per_geohash
    sql: SELECT geohash, COUNT(*) AS n, SUM(fare) AS fares FROM ev GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#,
    )
    .unwrap();
    let out = run_ok(&["run", dir.path().join("job.yaml").to_str().unwrap(), "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Rows 1 and 4 of a, and b's row: 3 rows; fares 1.5 + 8 (b has none).
    let rows = rows_of(&dir.path().join("out/f.jsonl"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["n"].as_i64(), rows[0]["fares"].as_f64()),
        (Some(3), Some(9.5))
    );

    let dl: BTreeMap<(String, u64), (String, String)> =
        rows_of(&dir.path().join("out/dead_letter.jsonl"))
            .iter()
            .map(|d| {
                let file = d["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string();
                let kind = d["kind"].as_str().unwrap().to_string();
                (
                    (file, d["line"].as_u64().unwrap()),
                    (kind, d["reason"].as_str().unwrap().to_string()),
                )
            })
            .collect();
    let keys: Vec<(&str, u64, &str)> = dl
        .iter()
        .map(|((f, l), (k, _))| (f.as_str(), *l, k.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("a.parquet", 2, "missing_required"),
            ("a.parquet", 3, "bad_timestamp"),
            ("c.parquet", 1, "malformed"),
            ("d.parquet", 1, "malformed")
        ]
    );
    let d_reason = &dl[&("d.parquet".to_string(), 1)].1;
    assert!(
        d_reason.contains("d.parquet` as Parquet")
            && d_reason.contains("none of its rows are read"),
        "{d_reason}"
    );
    let c_reason = &dl[&("c.parquet".to_string(), 1)].1;
    assert!(
        c_reason.contains("has column `fare` of type Utf8, which a float column cannot hold"),
        "{c_reason}"
    );
    let record = rows_of(&dir.path().join("out/dead_letter.jsonl"))
        .into_iter()
        .find(|d| d["line"] == 3)
        .unwrap()["record"]
        .clone();
    // The dead letter shows the row's values, the one that did not fit as its text.
    assert_eq!(
        record,
        r#"{"user_id":"u2","geohash":"g","fare":4.0,"event_time":"yesterday"}"#
    );

    assert!(
        stderr.contains("b.parquet: the Parquet file has no column `fare`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c.parquet: the Parquet file has column `fare` of type Utf8"),
        "{stderr}"
    );
    assert!(!stderr.contains("a.parquet:"), "{stderr}");
}

/// A live run reads Parquet files as they appear; a file that is not Parquet yet (being
/// written) is warned about and read once it is.
#[test]
fn a_live_run_reads_new_parquet_files_once_they_are_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let t0 = common::T0;
    let one = |user: &str, t: i64| {
        RecordBatch::try_from_iter(vec![
            (
                "user_id",
                Arc::new(StringArray::from(vec![user])) as ArrayRef,
            ),
            ("fare", Arc::new(Float64Array::from(vec![1.0]))),
            ("event_time", Arc::new(Int64Array::from(vec![t]))),
        ])
        .unwrap()
    };
    // Written beside the glob, then renamed into it, as writers of Parquet files do.
    let publish = |name: &str, batch: &RecordBatch| {
        let tmp = dir.path().join(format!("{name}.tmp"));
        write_parquet(&tmp, batch, 10);
        std::fs::rename(&tmp, data.join(name)).unwrap();
    };
    publish("a.parquet", &one("u1", t0 + 1_000));
    std::fs::write(
        dir.path().join("job.yaml"),
        r#"name: live_parquet
sources:
  - { name: ev, connector: file, path: data/*.parquet, format: parquet, schema: { user_id: string!, fare: float, event_time: timestamp }, event_time: event_time }
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#,
    )
    .unwrap();
    let log = dir.path().join("run.log");
    let mut child = common::freshet()
        .args([
            "run",
            dir.path().join("job.yaml").to_str().unwrap(),
            "--mode",
            "stream",
            "-q",
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let users = || -> Vec<String> {
        let mut u: Vec<String> = rows_of(&dir.path().join("out/f.jsonl"))
            .iter()
            .map(|r| r["user_id"].as_str().unwrap().to_string())
            .collect();
        u.sort();
        u
    };
    let wait_for = |want: &[&str]| {
        let start = std::time::Instant::now();
        while users() != want && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(users(), want, "{}", std::fs::read_to_string(&log).unwrap());
    };
    // Not Parquet (yet): a warning, and the run goes on.
    std::fs::write(data.join("c.parquet"), b"PAR1 half written").unwrap();
    publish("b.parquet", &one("u2", t0 + 61_000));
    wait_for(&["u1"]);
    publish("c.parquet", &one("u3", t0 + 125_000));
    wait_for(&["u1", "u2"]);
    common::signals::sigterm(&child);
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("c.parquet` as Parquet yet"), "{log}");
}

/// The same as Parquet objects under an S3 prefix (moto): whole objects are dealt out to
/// the workers and read from a temporary file each (not from memory); backfill on 1 and 2
/// workers and a replayed stream give the naive results.
#[test]
fn parquet_objects_on_s3_give_naive_results() {
    use connectors::aws::local::{connect, endpoint, unique};
    let aws = connect();
    let bucket = unique("pq-history");
    aws.block_on(aws.s3().create_bucket().bucket(&bucket).send())
        .unwrap();
    let seed = 8;
    let disorder = 6 * MIN;
    let evs = events(seed, 2_000, disorder);
    for (i, chunk) in evs.chunks(evs.len().div_ceil(4)).enumerate() {
        let batch = batch_of(chunk);
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(200))
            .build();
        let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        let body = w.into_inner().unwrap();
        aws.block_on(
            aws.s3()
                .put_object()
                .bucket(&bucket)
                .key(format!("history/part-{i:03}.parquet"))
                .body(body.into())
                .send(),
        )
        .unwrap();
    }
    // An object that is not Parquet is one dead letter naming it, and the run goes on
    // (it failed a backfill and was only logged by a live run; found by QA).
    let bad = "history/part-001b.parquet";
    aws.block_on(
        aws.s3()
            .put_object()
            .bucket(&bucket)
            .key(bad)
            .body(b"not parquet\n".to_vec().into())
            .send(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let job = job_text(
        30,
        disorder / 1000 + 1,
        &format!("connector: s3\n    aws: local\n    bucket: {bucket}\n    prefix: history/"),
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    )
    .replacen("format: json", "format: parquet", 1);
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
    let (want, _) = reference(&evs, 30, None);
    for args in [
        &["--mode", "backfill"][..],
        &["--mode", "backfill", "--workers", "2"],
        &[
            "--mode",
            "stream",
            "--exit-at-end",
            "--workers",
            "2",
            "--batch-bytes",
            "300",
        ],
    ] {
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        common::services::run_with_infra(&dir.path().join("job.yaml"), &infra, args);
        let got = common::read_finals(&dir.path().join("out"), "features", &key_columns());
        common::assert_same(&format!("S3 parquet {args:?}"), &got, &want);
        let dead = std::fs::read_to_string(dir.path().join("out/dead_letter.jsonl")).unwrap();
        let dead: Vec<serde_json::Value> = dead
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let url = format!("s3://{bucket}/{bad}");
        assert_eq!(dead.len(), 1, "{args:?}: {dead:?}");
        assert_eq!(dead[0]["file"], url.as_str(), "{dead:?}");
        assert_eq!(dead[0]["kind"], "malformed", "{dead:?}");
        let reason = dead[0]["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("cannot read {url} as Parquet")),
            "{reason}"
        );
    }
    // Objects are spooled to `TMPDIR`, not held in memory: without a usable one the run
    // fails, saying what to do.
    let out = common::freshet()
        .args([
            "run",
            dir.path().join("job.yaml").to_str().unwrap(),
            "--infra",
        ])
        .arg(&infra)
        .arg("-q")
        .env("TMPDIR", dir.path().join("no-such-dir"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cannot spool s3://") && err.contains("point TMPDIR at a directory"),
        "{err}"
    );
}

/// freshet's own Parquet output read back as a source: per feature, the rows and the sum
/// of `n` equal those of the JSON rows of the same backfill (both read here directly).
#[test]
fn freshets_parquet_output_reads_back_as_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(9, 1_500, 2 * MIN);
    common::write_inputs(dir.path(), &evs, 2);
    common::write_job_with_parquet_sinks(dir.path(), 30, 200);
    run_ok(&[
        "run",
        dir.path().join("job.yaml").to_str().unwrap(),
        "-q",
        "--workers",
        "2",
    ]);
    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for e in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "parquet") {
            for r in common::parquet_rows::parquet_rows(&p) {
                let w = want
                    .entry(r["feature"].as_str().unwrap().to_string())
                    .or_default();
                w.0 += 1;
                w.1 += r["n"].as_i64().unwrap_or(0);
            }
        }
    }
    assert!(want.len() == 3, "{want:?}");
    let history = tempfile::tempdir().unwrap();
    std::fs::write(
        history.path().join("job.yaml"),
        format!(
            r#"name: read_back
sources:
  - name: t
    connector: file
    path: {}/out/features_*.parquet
    format: parquet
    schema: {{ feature: string!, n: int, window_end: timestamp }}
    event_time: window_end
    watermark_delay: 1d
features:
  - name: totals
    sql: SELECT feature AS f, COUNT(*) AS rows_read, SUM(n) AS n FROM t GROUP BY feature, TUMBLE(rowtime, INTERVAL '1000' DAY)
sinks:
  - {{ name: out, connector: file, path: out/totals.jsonl }}
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    run_ok(&[
        "run",
        history.path().join("job.yaml").to_str().unwrap(),
        "-q",
    ]);
    let got: BTreeMap<String, (i64, i64)> = rows_of(&history.path().join("out/totals.jsonl"))
        .iter()
        .map(|r| {
            (
                r["f"].as_str().unwrap().to_string(),
                (
                    r["rows_read"].as_i64().unwrap(),
                    r["n"].as_i64().unwrap_or(0),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// A file with none of the columns the job reads still has rows: each is a dead letter
/// (reading no column must not read no row).
#[test]
fn a_file_with_none_of_the_columns_keeps_its_rows_as_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let other = RecordBatch::try_from_iter(vec![(
        "something_else",
        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
    )])
    .unwrap();
    write_parquet(&dir.path().join("data/other.parquet"), &other, 2);
    std::fs::write(
        dir.path().join("job.yaml"),
        r#"name: none
sources:
  - { name: ev, connector: file, path: data/*.parquet, format: parquet, schema: { user_id: string!, event_time: timestamp }, event_time: event_time }
features:
  - name: n
    sql: SELECT user_id, COUNT(*) AS n FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#,
    )
    .unwrap();
    run_ok(&["run", dir.path().join("job.yaml").to_str().unwrap(), "-q"]);
    let dl = rows_of(&dir.path().join("out/dead_letter.jsonl"));
    let lines: Vec<u64> = dl.iter().map(|d| d["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 2, 3], "{dl:?}");
    assert!(dl[0]["reason"]
        .as_str()
        .unwrap()
        .contains("has no column `user_id`, which is required"));
}

/// Files compressed with each codec Spark, pandas and polars write (zstd is polars'
/// default) and a column of dates are all read; before, only snappy and uncompressed
/// pages were, and a Date32 column panicked the worker.
#[test]
fn every_common_codec_and_date_columns_are_read() {
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4_RAW,
        Compression::BROTLI(BrotliLevel::default()),
    ];
    for (i, codec) in codecs.into_iter().enumerate() {
        // Day i+1 of 1970, and a NULL-typed column (all-None in pandas).
        let batch = RecordBatch::try_from_iter_with_nullable(vec![
            (
                "user_id",
                Arc::new(StringArray::from(vec!["u", "v"])) as ArrayRef,
                false,
            ),
            (
                "day",
                Arc::new(arrow_array::Date32Array::from(vec![i as i32 + 1; 2])),
                false,
            ),
            ("note", Arc::new(arrow_array::NullArray::new(2)), true),
        ])
        .unwrap();
        let props = WriterProperties::builder().set_compression(codec).build();
        let file = std::fs::File::create(dir.path().join(format!("data/{i}.parquet"))).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    std::fs::write(
        dir.path().join("job.yaml"),
        r#"name: codecs
sources:
  - { name: ev, connector: file, path: data/*.parquet, format: parquet, schema: { user_id: string!, note: string, day: timestamp }, event_time: day }
features:
  - name: per_day
    sql: SELECT user_id, COUNT(*) AS n, COUNT(note) AS notes FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' DAY)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#,
    )
    .unwrap();
    run_ok(&[
        "run",
        dir.path().join("job.yaml").to_str().unwrap(),
        "-q",
        "--workers",
        "2",
    ]);
    let mut got: Vec<(String, i64, i64, i64)> = ["out/f.0.jsonl", "out/f.1.jsonl"]
        .iter()
        .flat_map(|f| rows_of(&dir.path().join(f)))
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_string(),
                r["window_start"].as_i64().unwrap() / 86_400_000,
                r["n"].as_i64().unwrap(),
                r["notes"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, i64, i64, i64)> = (1..=6)
        .flat_map(|d| [("u".to_string(), d, 1, 0), ("v".to_string(), d, 1, 0)])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got, want);
    assert!(rows_of(&dir.path().join("out/dead_letter.jsonl")).is_empty());
}
