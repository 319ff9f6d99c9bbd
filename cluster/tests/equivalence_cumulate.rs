//! CUMULATE windows end to end: after all corrections, stream mode equals backfill mode
//! equals a naive batch computation, on 1, 2 and 4 workers and several batch sizes; with
//! less lateness, a single reader's results follow the watermark rule exactly and every
//! too-late record is a dead letter.
//!
//! The reference here knows nothing of panes: for every record it lists the cumulating
//! windows `[k * size, k * size + i * step)` containing its event time (by enumerating every
//! `i`) and adds it to those whose `end + allowed_lateness` exceeds the watermark at the time
//! the record was read (the rule of `common::reference`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use common::{
    assert_every_mode_gives, assert_watermark_rule, events, write_inputs, Event, RowKey, MIN,
};

/// `(start, end)` of every CUMULATE window of `step`/`size` (ms) containing `t`, by brute
/// force over the period's windows.
fn cumulate_windows(t: i64, step: i64, size: i64) -> Vec<(i64, i64)> {
    let start = t.div_euclid(size) * size;
    (1..=size / step)
        .map(|i| (start, start + i * step))
        .filter(|(s, e)| *s <= t && t < *e)
        .collect()
}

/// The job: two CUMULATE features, the TVF form and the GROUP BY form.
fn write_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let job = format!(
        r#"name: cumulate
sources:
  - name: ev
    connector: file
    path: data/*.jsonl
    format: json
    schema: {{ user_id: string!, geohash: string, action: string, fare: float, event_time: timestamp }}
    event_time: event_time
    watermark_delay: {delay_s}s
features:
  - name: cum_user
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT user_id, COUNT(*) AS n, SUM(fare) AS s, window_start, window_end
      FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(rowtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))
      GROUP BY user_id, window_start, window_end
  - name: cum_geo
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT geohash, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users,
             CUMULATE_START(rowtime, INTERVAL '5' MINUTES, INTERVAL '1' HOUR) AS ws
      FROM ev WHERE action <> 'cancel'
      GROUP BY geohash, CUMULATE(rowtime, INTERVAL '5' MINUTES, INTERVAL '1' HOUR)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}
dead_letter: out/dead_letter.jsonl
"#
    );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

fn key_columns() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([("cum_user", vec!["user_id"]), ("cum_geo", vec!["geohash"])])
}

type Want = BTreeMap<RowKey, BTreeMap<String, Value>>;

/// The naive reference; `lateness_s = None` includes every record.
fn reference(evs: &[Event], delay_s: i64, lateness_s: Option<i64>) -> (Want, usize) {
    #[derive(Default)]
    struct Group {
        fares: Vec<f64>,
        users: BTreeSet<String>,
    }
    let mut groups: BTreeMap<RowKey, Group> = BTreeMap::new();
    let mut max_t: Option<i64> = None;
    let mut too_late = 0;
    for e in evs {
        let wm = max_t.map_or(0, |m| m - delay_s * 1000);
        max_t = Some(max_t.map_or(e.t, |m| m.max(e.t)));
        let on_time = |end: i64| lateness_s.is_none_or(|l| end + l * 1000 > wm);
        let mut add = |feature: &str, key: Value, step: i64, size: i64| {
            let mut any = false;
            for (start, end) in cumulate_windows(e.t, step * MIN, size * MIN) {
                if !on_time(end) {
                    continue;
                }
                any = true;
                let g = groups
                    .entry((feature.into(), key.to_string(), start, end))
                    .or_default();
                g.fares.push(e.fare);
                g.users.insert(e.user.clone());
            }
            if !any {
                too_late += 1;
            }
        };
        add("cum_user", json!([e.user]), 2, 10);
        if e.action != "cancel" {
            add("cum_geo", json!([e.geo]), 5, 60);
        }
    }
    let mut out = BTreeMap::new();
    for (k, g) in groups {
        let n = g.fares.len() as i64;
        let vals = if k.0 == "cum_user" {
            BTreeMap::from([
                ("n".into(), json!(n)),
                ("s".into(), json!(g.fares.iter().sum::<f64>())),
            ])
        } else {
            BTreeMap::from([
                ("n".into(), json!(n)),
                ("users".into(), json!(g.users.len())),
                ("ws".into(), json!(k.2)),
            ])
        };
        out.insert(k, vals);
    }
    (out, too_late)
}

#[test]
fn reference_enumerates_cumulating_windows() {
    // Step 2, size 10: t = 13 is in [10,14), [10,16), [10,18), [10,20).
    assert_eq!(
        cumulate_windows(13, 2, 10),
        vec![(10, 14), (10, 16), (10, 18), (10, 20)]
    );
    assert_eq!(cumulate_windows(19, 2, 10), vec![(10, 20)]);
    assert_eq!(cumulate_windows(20, 2, 10)[0], (20, 22));
}

#[test]
fn cumulate_with_lateness_covering_disorder_gives_naive_results_everywhere() {
    for seed in [21u64, 22] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 6 * MIN;
        let evs = events(seed, 2_500, disorder);
        let delay_s = [0, 30, 120][seed as usize % 3];
        write_inputs(dir.path(), &evs, 3);
        write_job(dir.path(), delay_s, disorder / 1000 + 1);
        let (want, _) = reference(&evs, delay_s, None);
        assert!(
            want.len() > 500,
            "too small to mean anything: {}",
            want.len()
        );

        assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
    }
}

#[test]
fn cumulate_with_short_lateness_follows_the_watermark_rule_exactly() {
    for seed in [31u64, 32] {
        let dir = tempfile::tempdir().unwrap();
        let evs = events(seed, 2_000, 8 * MIN);
        let (delay_s, lateness_s) = (60, 90);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), delay_s, lateness_s);
        let (want, too_late) = reference(&evs, delay_s, Some(lateness_s));
        assert_watermark_rule(dir.path(), seed, &want, too_late, &key_columns());
    }
}
