//! SESSION windows end to end: after all corrections and withdrawals, stream mode equals
//! backfill mode equals a naive batch computation (sort each key's events, split at gaps of
//! at least the gap), on 1, 2 and 4 workers and several batch sizes; with less lateness, a
//! single reader's results follow the watermark rule exactly (an arrival-order simulation
//! of on-time records and open sessions) and every too-late record is a dead letter.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use common::reference::{session_windows, watermarks_before};
use common::{
    assert_every_mode_gives, assert_watermark_rule, events, write_inputs, Event, RowKey, MIN,
};

const USER_GAP: i64 = 30_000;
const GEO_GAP: i64 = 20_000;

/// The job: two SESSION features, the GROUP BY form and the TVF form with HAVING.
fn write_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let job = format!(
        r#"name: session
sources:
  - name: ev
    connector: file
    path: data/*.jsonl
    format: json
    schema: {{ user_id: string!, geohash: string, action: string, fare: float, event_time: timestamp }}
    event_time: event_time
    watermark_delay: {delay_s}s
features:
  - name: sess_user
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT user_id, COUNT(*) AS n, SUM(fare) AS s, MIN(fare) AS lo, MAX(fare) AS hi,
             AVG(fare) AS a, COUNT(DISTINCT geohash) AS geos,
             SESSION_START(rowtime, INTERVAL '30' SECONDS) AS started
      FROM ev
      GROUP BY user_id, SESSION(rowtime, INTERVAL '30' SECONDS)
  - name: sess_geo
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT geohash, action, COUNT(*) AS n, window_start, window_end
      FROM TABLE(SESSION(TABLE ev PARTITION BY (geohash, action), DESCRIPTOR(rowtime), INTERVAL '20' SECONDS))
      WHERE action <> 'cancel'
      GROUP BY geohash, action, window_start, window_end
      HAVING COUNT(*) >= 2
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}
dead_letter: out/dead_letter.jsonl
"#
    );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

fn key_columns() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("sess_user", vec!["user_id"]),
        ("sess_geo", vec!["geohash", "action"]),
    ])
}

type Want = BTreeMap<RowKey, BTreeMap<String, Value>>;

/// The naive reference; `lateness_s = None` includes every record.
fn reference(evs: &[Event], delay_s: i64, lateness_s: Option<i64>) -> (Want, usize) {
    let wms = watermarks_before(evs, delay_s);
    let lateness = lateness_s.map(|l| l * 1000);
    let users: Vec<(usize, String)> = evs
        .iter()
        .enumerate()
        .map(|(i, e)| (i, json!([e.user]).to_string()))
        .collect();
    let geos: Vec<(usize, String)> = evs
        .iter()
        .enumerate()
        .filter(|(_, e)| e.action != "cancel")
        .map(|(i, e)| (i, json!([e.geo, e.action]).to_string()))
        .collect();
    let (user_sessions, late_u) = session_windows(evs, &users, &wms, USER_GAP, lateness);
    let (geo_sessions, late_g) = session_windows(evs, &geos, &wms, GEO_GAP, lateness);
    let mut out = BTreeMap::new();
    for ((k, s, e), members) in user_sessions {
        let fares: Vec<f64> = members.iter().map(|i| evs[*i].fare).collect();
        let n = fares.len() as i64;
        let sum: f64 = fares.iter().sum();
        let geos: BTreeSet<&str> = members.iter().map(|i| evs[*i].geo.as_str()).collect();
        out.insert(
            ("sess_user".into(), k, s, e),
            BTreeMap::from([
                ("n".into(), json!(n)),
                ("s".into(), json!(sum)),
                (
                    "lo".into(),
                    json!(fares.iter().cloned().fold(f64::INFINITY, f64::min)),
                ),
                (
                    "hi".into(),
                    json!(fares.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
                ),
                ("a".into(), json!(sum / n as f64)),
                ("geos".into(), json!(geos.len())),
                ("started".into(), json!(s)),
            ]),
        );
    }
    for ((k, s, e), members) in geo_sessions {
        if members.len() >= 2 {
            out.insert(
                ("sess_geo".into(), k, s, e),
                BTreeMap::from([("n".into(), json!(members.len()))]),
            );
        }
    }
    (out, late_u + late_g)
}

#[test]
fn reference_splits_at_gaps_of_at_least_the_gap() {
    let ev = |t: i64| Event {
        user: "u".into(),
        geo: "g".into(),
        action: "app_open",
        fare: 1.0,
        t,
    };
    // 0, 5, 14 chain; 24 is exactly the gap after 14: a new session. Arrival: 14 first.
    let evs = vec![ev(14), ev(0), ev(24), ev(5)];
    let items: Vec<(usize, String)> = (0..4).map(|i| (i, "k".to_string())).collect();
    let wms = watermarks_before(&evs, 0);
    let (batch, _) = session_windows(&evs, &items, &wms, 10, None);
    let got: Vec<(i64, i64, usize)> = batch
        .iter()
        .map(|((_, s, e), m)| (*s, *e, m.len()))
        .collect();
    assert_eq!(got, vec![(0, 24, 3), (24, 34, 1)]);
    // With lateness 20: 0 (wm 14) and 5 (wm 24) are on time (t + 10 + 20 > wm) and merge.
    let (sim, late) = session_windows(&evs, &items, &wms, 10, Some(20));
    assert_eq!((sim, late), (batch, 0));
    // With lateness 0: 0 is too late (10 <= 14); 5 too (15 <= 24).
    let (sim, late) = session_windows(&evs, &items, &wms, 10, Some(0));
    let got: Vec<(i64, i64, usize)> = sim.iter().map(|((_, s, e), m)| (*s, *e, m.len())).collect();
    assert_eq!((got, late), (vec![(14, 24, 1), (24, 34, 1)], 2));
}

#[test]
fn session_with_lateness_covering_disorder_gives_naive_results_everywhere() {
    for seed in [41u64, 42] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 6 * MIN;
        let evs = events(seed, 2_500, disorder);
        let delay_s = [0, 30, 120][seed as usize % 3];
        write_inputs(dir.path(), &evs, 3);
        write_job(dir.path(), delay_s, disorder / 1000 + 1);
        let (want, _) = reference(&evs, delay_s, None);
        // The arrival-order simulation agrees when lateness covers the disorder.
        let (sim, late) = reference(&evs, delay_s, Some(disorder / 1000 + 1));
        assert_eq!(late, 0);
        assert_eq!(
            sim.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        assert!(
            want.len() > 300,
            "too small to mean anything: {}",
            want.len()
        );

        assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
    }
}

#[test]
fn session_with_short_lateness_follows_the_watermark_rule_exactly() {
    for seed in [51u64, 52] {
        let dir = tempfile::tempdir().unwrap();
        let evs = events(seed, 2_000, 8 * MIN);
        let (delay_s, lateness_s) = (60, 90);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), delay_s, lateness_s);
        let (want, too_late) = reference(&evs, delay_s, Some(lateness_s));
        assert_watermark_rule(dir.path(), seed, &want, too_late, &key_columns());
    }
}
