//! The naive reference for the test job of `write_job`: for every record it enumerates
//! the windows containing its event time and adds it to those whose
//! `end + allowed_lateness` exceeds the watermark at the time the record was read. It
//! knows nothing of panes, timely or frontiers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{Event, RowKey, MIN};

/// Window ends (ms) of windows of `size`, every `slide`, containing `t`. As in Flink,
/// windows start at multiples of the slide: `[k * slide, k * slide + size)`.
pub fn window_ends(t: i64, size: i64, slide: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut start = t.div_euclid(slide) * slide;
    while start > t - size {
        out.push(start + size);
        start -= slide;
    }
    out.reverse();
    out
}

/// The naive reference; `lateness_s = None` includes every record (no watermark rule).
pub fn reference(
    evs: &[Event],
    delay_s: i64,
    lateness_s: Option<i64>,
) -> (BTreeMap<RowKey, BTreeMap<String, Value>>, usize) {
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
        let mut add = |feature: &str, key: Value, size: i64, slide: i64| {
            let ends = window_ends(e.t, size * MIN, slide * MIN);
            let mut any = false;
            for end in ends.into_iter().filter(|end| on_time(*end)) {
                any = true;
                let g = groups
                    .entry((feature.into(), key.to_string(), end - size * MIN, end))
                    .or_default();
                g.fares.push(e.fare);
                g.users.insert(e.user.clone());
            }
            if !any {
                too_late += 1;
            }
        };
        if e.action != "cancel" {
            add("tumble_stats", json!([e.geo]), 10, 10);
        }
        add("hop_counts", json!([e.user]), 7, 2);
        add("tvf_having", json!([e.geo, e.action]), 15, 5);
    }
    let mut out = BTreeMap::new();
    for (k, g) in groups {
        let n = g.fares.len() as i64;
        let vals: BTreeMap<String, Value> = match k.0.as_str() {
            "tumble_stats" => {
                let s: f64 = g.fares.iter().sum();
                BTreeMap::from([
                    ("n".into(), json!(n)),
                    ("s".into(), json!(s)),
                    (
                        "lo".into(),
                        json!(g.fares.iter().cloned().fold(f64::INFINITY, f64::min)),
                    ),
                    (
                        "hi".into(),
                        json!(g.fares.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
                    ),
                    ("a".into(), json!(s / n as f64)),
                    ("users".into(), json!(g.users.len())),
                ])
            }
            "hop_counts" => BTreeMap::from([("n".into(), json!(n))]),
            _ if n >= 2 => BTreeMap::from([("n".into(), json!(n))]),
            _ => continue,
        };
        out.insert(k, vals);
    }
    (out, too_late)
}
