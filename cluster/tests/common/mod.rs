//! Helpers for end-to-end tests: write jobs and inputs, run the real `freshet` binary,
//! read its outputs back as final values per (feature, key, window).

#![allow(dead_code)]

pub mod parquet_rows;
pub mod reference;
pub mod services;
pub mod signals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// The freshet binary built by cargo for these tests.
pub fn freshet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_freshet"))
}

/// Runs freshet with arguments; panics with its output if it fails.
pub fn run_ok(args: &[&str]) -> Output {
    let out = freshet().args(args).output().expect("run freshet");
    assert!(
        out.status.success(),
        "freshet {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON lines of a file (none if it does not exist).
pub fn rows_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (feature, key columns as JSON text, window_start, window_end)
pub type RowKey = (String, String, i64, i64);

/// Final values: the highest revision per upsert key; withdrawn rows (deleted) are absent.
#[derive(Debug, Default)]
pub struct Finals {
    /// Upsert key → (revision, value columns).
    pub rows: BTreeMap<RowKey, (u64, BTreeMap<String, Value>)>,
    /// Number of rows read (all revisions).
    pub emitted: usize,
    /// Largest revision seen.
    pub max_revision: u64,
    /// Rows read with a revision above 0 (corrections and withdrawals).
    pub corrected: usize,
}

/// Reads every `<stem>*` feature file in `dir` (one per worker and sink; JSON lines, or
/// Parquet for `.parquet` files) into final values.
/// `keys` names the key columns of each feature.
pub fn read_finals(dir: &Path, stem: &str, keys: &BTreeMap<&str, Vec<&str>>) -> Finals {
    let mut f = Finals::default();
    let mut deleted = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(stem))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no output files {stem}* in {}",
        dir.display()
    );
    for file in files {
        let objects: Vec<serde_json::Map<String, Value>> =
            if file.extension().is_some_and(|e| e == "parquet") {
                parquet_rows::parquet_rows(&file)
            } else {
                std::fs::read_to_string(&file)
                    .unwrap()
                    .lines()
                    .map(|line| match serde_json::from_str(line) {
                        Ok(Value::Object(o)) => o,
                        other => panic!("bad output line {line}: {other:?}"),
                    })
                    .collect()
            };
        for obj in &objects {
            let feature = obj["feature"].as_str().unwrap().to_string();
            let key_cols = &keys[feature.as_str()];
            let key: Vec<&Value> = key_cols.iter().map(|k| &obj[*k]).collect();
            let rk = (
                feature,
                serde_json::to_string(&key).unwrap(),
                obj["window_start"].as_i64().unwrap(),
                obj["window_end"].as_i64().unwrap(),
            );
            let rev = obj["revision"].as_u64().unwrap();
            f.emitted += 1;
            f.max_revision = f.max_revision.max(rev);
            f.corrected += usize::from(rev > 0);
            let is_deleted = obj.get("deleted").and_then(Value::as_bool).unwrap_or(false);
            let values: BTreeMap<String, Value> = obj
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "feature"
                            | "version"
                            | "window_start"
                            | "window_end"
                            | "revision"
                            | "deleted"
                    )
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let newer = f.rows.get(&rk).map(|(r, _)| rev > *r).unwrap_or(true)
                && deleted.get(&rk).is_none_or(|r| rev > *r);
            if newer {
                if is_deleted {
                    // A withdrawal withdraws a value shown before (rows of one key are in
                    // one file, in emission order).
                    assert!(
                        f.rows.contains_key(&rk),
                        "{}: a withdrawal of a value never shown: {obj:?}",
                        file.display()
                    );
                    f.rows.remove(&rk);
                    deleted.insert(rk, rev);
                } else {
                    f.rows.insert(rk, (rev, values));
                }
            }
        }
    }
    f
}

/// Asserts two sets of final values are equal (floats within a relative 1e-9).
pub fn assert_same(label: &str, got: &Finals, want: &BTreeMap<RowKey, BTreeMap<String, Value>>) {
    let got_keys: Vec<&RowKey> = got.rows.keys().collect();
    let want_keys: Vec<&RowKey> = want.keys().collect();
    if got_keys != want_keys {
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !got.rows.contains_key(*k))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .rows
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        panic!(
            "{label}: {} rows, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
            got.rows.len(),
            want.len()
        );
    }
    for (k, w) in want {
        let (_, g) = &got.rows[k];
        for (col, wv) in w {
            let gv = g
                .get(col)
                .unwrap_or_else(|| panic!("{label}: {k:?} has no column {col}"));
            let same = match (gv.as_f64(), wv.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
                _ => gv == wv,
            };
            assert!(same, "{label}: {k:?} column {col}: got {gv}, expected {wv}");
        }
    }
}

pub const T0: i64 = 1_767_225_600_000;
pub const MIN: i64 = 60_000;

#[derive(Clone, Debug)]
pub struct Event {
    pub user: String,
    pub geo: String,
    pub action: &'static str,
    pub fare: f64,
    pub t: i64,
}

/// Events in arrival order: event times advance, arrival is shuffled within `disorder` ms.
pub fn events(seed: u64, n: usize, disorder: i64) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let actions = ["request_ride", "complete_ride", "cancel", "app_open"];
    let mut t = T0 + rng.random_range(0..MIN);
    let mut evs: Vec<(i64, Event)> = (0..n)
        .map(|_| {
            t += rng.random_range(0..4_000);
            let e = Event {
                user: format!("u{}", rng.random_range(0..12)),
                geo: format!("g{}", rng.random_range(0..4)),
                action: actions[rng.random_range(0..actions.len())],
                fare: rng.random_range(100..9_000) as f64 / 100.0,
                t,
            };
            (t + rng.random_range(0..=disorder), e)
        })
        .collect();
    evs.sort_by_key(|(arrival, _)| *arrival);
    evs.into_iter().map(|(_, e)| e).collect()
}

pub fn write_inputs(dir: &Path, evs: &[Event], files: usize) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let per = evs.len().div_ceil(files);
    for (i, chunk) in evs.chunks(per).enumerate() {
        let mut f = std::fs::File::create(dir.join(format!("data/part-{i:03}.jsonl"))).unwrap();
        for e in chunk {
            writeln!(f, "{}", event_json(e)).unwrap();
        }
    }
}

pub fn write_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let job = job_text(
        delay_s,
        lateness_s,
        "connector: file\n    path: data/*.jsonl",
        "  - { name: out, connector: file, path: out/features.jsonl, format: json }\n",
        1,
    );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

/// [`write_job`], but each feature writes to a file sink of its own
/// (`out/features_<feature>.jsonl`), so the window operators of the running-sums features
/// write their files themselves (`Plan::fused_sink`); two of the sinks ask for `direct_io`.
pub fn write_job_with_own_sinks(dir: &Path, delay_s: i64, lateness_s: i64) {
    let names = ["tumble_stats", "hop_counts", "tvf_having"];
    let sinks: String = names
        .iter()
        .map(|n| {
            // Backfills write two of the files around the page cache: one by its window
            // operator, one by a `Sink[...]`.
            let direct = if *n == "tvf_having" {
                ""
            } else {
                ", direct_io: true"
            };
            format!("  - {{ name: {n}, connector: file, path: out/features_{n}.jsonl{direct} }}\n")
        })
        .collect();
    let mut job = job_text(
        delay_s,
        lateness_s,
        "connector: file\n    path: data/*.jsonl",
        &sinks,
        1,
    );
    for n in names {
        let line = format!("  - name: {n}\n");
        assert!(job.contains(&line));
        job = job.replace(&line, &format!("{line}    sinks: [{n}]\n"));
    }
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

/// [`write_job`], but writing Parquet: `hop_counts` to a sink of its own
/// (`out/features_hop.parquet`, written by its window operator), the other two features to
/// one shared sink (`out/features_rest.parquet`, whose table is the union of their columns).
pub fn write_job_with_parquet_sinks(dir: &Path, delay_s: i64, lateness_s: i64) {
    let sinks = "  - { name: hop, connector: file, path: out/features_hop.parquet, format: parquet }\n  - { name: rest, connector: file, path: out/features_rest.parquet, format: parquet }\n";
    let mut job = job_text(
        delay_s,
        lateness_s,
        "connector: file\n    path: data/*.jsonl",
        sinks,
        1,
    );
    for (feature, sink) in [
        ("tumble_stats", "rest"),
        ("hop_counts", "hop"),
        ("tvf_having", "rest"),
    ] {
        let line = format!("  - name: {feature}\n");
        assert!(job.contains(&line));
        job = job.replace(&line, &format!("{line}    sinks: [{sink}]\n"));
    }
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

/// The test job (three features over the `events` stream) with the given source
/// connector lines, sinks and feature version.
pub fn job_text(
    delay_s: i64,
    lateness_s: i64,
    connector: &str,
    sinks: &str,
    version: u32,
) -> String {
    format!(
        r#"name: equivalence
sources:
  - name: ev
    {connector}
    format: json
    schema: {{ user_id: string!, geohash: string, action: string, fare: float, event_time: timestamp }}
    event_time: event_time
    watermark_delay: {delay_s}s
features:
  - name: tumble_stats
    version: {version}
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT geohash, COUNT(*) AS n, SUM(fare) AS s, MIN(fare) AS lo, MAX(fare) AS hi,
             AVG(fare) AS a, COUNT(DISTINCT user_id) AS users
      FROM ev WHERE action <> 'cancel'
      GROUP BY geohash, TUMBLE(rowtime, INTERVAL '10' MINUTES)
  - name: hop_counts
    version: {version}
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT user_id, COUNT(*) AS n FROM ev
      GROUP BY user_id, HOP(rowtime, INTERVAL '2' MINUTES, INTERVAL '7' MINUTES)
  - name: tvf_having
    version: {version}
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT geohash, action, COUNT(*) AS n, window_start, window_end
      FROM TABLE(HOP(TABLE ev, DESCRIPTOR(rowtime), INTERVAL '5' MINUTES, INTERVAL '15' MINUTES))
      GROUP BY geohash, action, window_start, window_end
      HAVING COUNT(*) >= 2
sinks:
{sinks}dead_letter: out/dead_letter.jsonl
"#
    )
}

/// The JSON line of an event, as the file inputs hold it.
pub fn event_json(e: &Event) -> String {
    json!({"user_id": e.user, "geohash": e.geo, "action": e.action, "fare": e.fare, "event_time": e.t}).to_string()
}

pub fn key_columns() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("tumble_stats", vec!["geohash"]),
        ("hop_counts", vec!["user_id"]),
        ("tvf_having", vec!["geohash", "action"]),
    ])
}

/// Runs `dir/job.yaml` with `args` and reads the final values of `dir/out/features*.jsonl`.
///
/// The run's summary must count as corrections the rows it wrote with a revision above 0.
pub fn run_finals(dir: &Path, args: &[&str], keys: &BTreeMap<&str, Vec<&str>>) -> Finals {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let job = dir.join("job.yaml");
    let summary = dir.join("summary.json");
    let mut all = vec![
        "run",
        job.to_str().unwrap(),
        "-q",
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run_ok(&all);
    let finals = read_finals(&out, "features", keys);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        summary["corrections"].as_u64(),
        Some(finals.corrected as u64),
        "{args:?}: the summary's corrections are the rows written with a revision above 0"
    );
    finals
}

/// Lines of `dir/out/dead_letter.jsonl` (0 if there is none).
pub fn dead_letter_count(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("out/dead_letter.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// With lateness covering the input's disorder: backfill (1 worker, then 1/2/4 workers with
/// batch sizes from one record to 4 MiB) emits `want` once, final; stream `--exit-at-end`
/// on the same matrix reaches `want` after corrections, and some small batch corrects.
pub fn assert_every_mode_gives(
    dir: &Path,
    seed: u64,
    want: &BTreeMap<RowKey, BTreeMap<String, Value>>,
    keys: &BTreeMap<&str, Vec<&str>>,
) {
    let backfill = run_finals(dir, &["--mode", "backfill"], keys);
    assert_same(&format!("seed {seed} backfill"), &backfill, want);
    assert_eq!(backfill.max_revision, 0, "backfill emits final values only");
    assert_eq!(backfill.emitted, want.len(), "backfill emits each row once");

    let mut saw_corrections = false;
    for (workers, batch) in [(1, "1"), (2, "300"), (4, "2000"), (2, "4194304")] {
        let w = workers.to_string();
        let stream_args = [
            "--mode",
            "stream",
            "--exit-at-end",
            "--workers",
            &w,
            "--batch-bytes",
            batch,
        ];
        let got = run_finals(dir, &stream_args, keys);
        assert_same(
            &format!("seed {seed} stream workers={workers} batch={batch}"),
            &got,
            want,
        );
        saw_corrections |= got.max_revision > 0;
        let b = run_finals(
            dir,
            &[
                "--mode",
                "backfill",
                "--workers",
                &w,
                "--batch-bytes",
                batch,
            ],
            keys,
        );
        let label = format!("seed {seed} backfill workers={workers} batch={batch}");
        assert_same(&label, &b, want);
        assert_eq!(
            (b.max_revision, b.emitted),
            (0, want.len()),
            "{label}: each row once, final"
        );
        assert_eq!(dead_letter_count(dir), 0);
    }
    assert!(
        saw_corrections,
        "seed {seed}: small batches with disorder must produce corrections"
    );
}

/// With lateness shorter than the disorder, one reader follows the watermark rule exactly in
/// backfill and in stream mode with tiny and small batches: values equal `want` and every
/// too-late (record, feature) is one dead letter.
pub fn assert_watermark_rule(
    dir: &Path,
    seed: u64,
    want: &BTreeMap<RowKey, BTreeMap<String, Value>>,
    too_late: usize,
    keys: &BTreeMap<&str, Vec<&str>>,
) {
    assert!(
        too_late > 10,
        "the disorder must exceed the lateness for this test to mean anything"
    );
    for args in [
        vec!["--mode", "backfill"],
        vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "1"],
        vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "5000"],
    ] {
        let got = run_finals(dir, &args, keys);
        assert_same(&format!("seed {seed} {args:?}"), &got, want);
        if args[1] == "backfill" {
            assert_eq!(got.max_revision, 0, "backfill emits final values only");
        }
        assert_eq!(
            dead_letter_count(dir),
            too_late,
            "seed {seed} {args:?}: every too-late (record, feature) is a dead letter"
        );
    }
}

/// A job over five records, three of them bad (a timestamp that is text, a key that is a
/// number, a line that is not JSON), with the source's `on_error` policy; returns its path.
pub fn bad_input_job(dir: &Path, on_error: &str) -> String {
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
