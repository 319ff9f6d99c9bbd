//! OVER features: after all corrections, stream mode equals backfill mode equals a naive,
//! independent computation, whatever the arrival order, batch sizes, watermark delay and
//! worker count (when allowed_lateness covers the disorder); with less lateness, a single
//! reader's results follow the watermark rule exactly, in both modes.
//!
//! The reference below knows nothing of frontiers or eviction: it keeps the rows that were
//! on time when read (`t + 1 + lateness > watermark`), and for every row collects its
//! partition's rows in its frame (`RANGE`: time in `[t - 5 min, t]`; `ROWS 4`: the row and
//! the 4 before it, in event-time order) and computes the aggregates from scratch.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use common::{
    assert_every_mode_gives, assert_watermark_rule, events, write_inputs, Event, RowKey, MIN,
};

const JOB: &str = r#"name: equivalence_over
sources:
  - name: ev
    connector: file
    path: data/*.jsonl
    format: json
    schema: { user_id: string!, geohash: string, action: string, fare: float, event_time: timestamp }
    event_time: event_time
    watermark_delay: DELAYs
features:
  - name: range_feats
    allowed_lateness: LATENESSs
    sql: |
      SELECT user_id, geohash,
             COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS n,
             SUM(fare) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS s,
             MIN(fare) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS lo,
             MAX(fare) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS hi,
             AVG(fare) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS a,
             TOP(3, action) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS last3
      FROM ev WHERE action <> 'cancel'
  - name: rows_feats
    allowed_lateness: LATENESSs
    sql: |
      SELECT geohash,
             COUNT(fare) OVER (PARTITION BY geohash ORDER BY rowtime ROWS 4 PRECEDING) AS n,
             SUM(fare) OVER (PARTITION BY geohash ORDER BY rowtime ROWS 4 PRECEDING) AS s,
             ARRAY_AGG(user_id) OVER (PARTITION BY geohash ORDER BY rowtime ROWS 4 PRECEDING) AS users
      FROM ev
sinks:
  - { name: out, connector: file, path: out/features.jsonl, format: json }
dead_letter: out/dead_letter.jsonl
"#;

fn write_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let job = JOB
        .replace("DELAY", &delay_s.to_string())
        .replace("LATENESS", &lateness_s.to_string());
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

/// Events with distinct event times (rows sharing a time within a partition share an
/// upsert key; the reference need not know how they are ordered).
fn distinct_events(seed: u64, n: usize, disorder: i64) -> Vec<Event> {
    let mut seen = BTreeSet::new();
    events(seed, n, disorder)
        .into_iter()
        .filter(|e| seen.insert(e.t))
        .collect()
}

fn key_columns() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("range_feats", vec!["user_id"]),
        ("rows_feats", vec!["geohash"]),
    ])
}

/// The naive reference: final values per (feature, key, row time), and the number of
/// too-late (record, feature) pairs.
fn reference(
    evs: &[Event],
    delay_s: i64,
    lateness_s: Option<i64>,
) -> (BTreeMap<RowKey, BTreeMap<String, Value>>, usize) {
    let mut by_user: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    let mut by_geo: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    let mut max_t: Option<i64> = None;
    let mut too_late = 0;
    for e in evs {
        let wm = max_t.map_or(0, |m| m - delay_s * 1000);
        max_t = Some(max_t.map_or(e.t, |m| m.max(e.t)));
        let on_time = lateness_s.is_none_or(|l| e.t + 1 + l * 1000 > wm);
        if e.action != "cancel" {
            if on_time {
                by_user.entry(e.user.clone()).or_default().push(e);
            } else {
                too_late += 1;
            }
        }
        if on_time {
            by_geo.entry(e.geo.clone()).or_default().push(e);
        } else {
            too_late += 1;
        }
    }
    let mut out = BTreeMap::new();
    for (user, mut rows) in by_user {
        rows.sort_by_key(|e| e.t);
        for (i, cur) in rows.iter().enumerate() {
            let frame: Vec<&&Event> = rows[..=i]
                .iter()
                .filter(|e| e.t >= cur.t - 5 * MIN)
                .collect();
            let fares: Vec<f64> = frame.iter().map(|e| e.fare).collect();
            let s: f64 = fares.iter().sum();
            let last3: Vec<&str> = frame
                .iter()
                .skip(frame.len().saturating_sub(3))
                .map(|e| e.action)
                .collect();
            out.insert(
                (
                    "range_feats".to_string(),
                    json!([user]).to_string(),
                    cur.t,
                    cur.t,
                ),
                BTreeMap::from([
                    ("user_id".into(), json!(user)),
                    ("geohash".into(), json!(cur.geo)),
                    ("n".into(), json!(fares.len())),
                    ("s".into(), json!(s)),
                    (
                        "lo".into(),
                        json!(fares.iter().cloned().fold(f64::INFINITY, f64::min)),
                    ),
                    (
                        "hi".into(),
                        json!(fares.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
                    ),
                    ("a".into(), json!(s / fares.len() as f64)),
                    ("last3".into(), json!(last3)),
                ]),
            );
        }
    }
    for (geo, mut rows) in by_geo {
        rows.sort_by_key(|e| e.t);
        for (i, cur) in rows.iter().enumerate() {
            let frame = &rows[i.saturating_sub(4)..=i];
            let s: f64 = frame.iter().map(|e| e.fare).sum();
            let users: Vec<&str> = frame.iter().map(|e| e.user.as_str()).collect();
            out.insert(
                (
                    "rows_feats".to_string(),
                    json!([geo]).to_string(),
                    cur.t,
                    cur.t,
                ),
                BTreeMap::from([
                    ("geohash".into(), json!(geo)),
                    ("n".into(), json!(frame.len())),
                    ("s".into(), json!(s)),
                    ("users".into(), json!(users)),
                ]),
            );
        }
    }
    (out, too_late)
}

#[test]
fn lateness_covering_disorder_gives_naive_results_in_every_mode_and_worker_count() {
    for seed in [1u64, 2] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 6 * MIN;
        let evs = distinct_events(seed, 2_000, disorder);
        let delay_s = [0, 30, 120][seed as usize % 3];
        write_inputs(dir.path(), &evs, 3);
        write_job(dir.path(), delay_s, disorder / 1000 + 1);
        let (want, _) = reference(&evs, delay_s, None);
        assert!(
            want.len() > 1_000,
            "the test input is too small to mean anything"
        );

        assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
    }
}

#[test]
fn with_short_lateness_one_reader_follows_the_watermark_rule_exactly() {
    for seed in [11u64, 12] {
        let dir = tempfile::tempdir().unwrap();
        let evs = distinct_events(seed, 1_500, 8 * MIN);
        let (delay_s, lateness_s) = (60, 90);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), delay_s, lateness_s);
        let (want, too_late) = reference(&evs, delay_s, Some(lateness_s));
        assert_watermark_rule(dir.path(), seed, &want, too_late, &key_columns());
    }
}
