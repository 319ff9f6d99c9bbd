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

/// The watermark before each event of `evs` (in arrival order), as one reader sees it:
/// the largest event time read so far minus the delay (0 before the first record).
pub fn watermarks_before(evs: &[Event], delay_s: i64) -> Vec<i64> {
    let mut max_t: Option<i64> = None;
    evs.iter()
        .map(|e| {
            let wm = max_t.map_or(0, |m| m - delay_s * 1000);
            max_t = Some(max_t.map_or(e.t, |m| m.max(e.t)));
            wm
        })
        .collect()
}

/// A session: (key, start, end) → indices of its events in `evs`.
pub type Sessions = BTreeMap<(String, i64, i64), Vec<usize>>;

/// SESSION windows of `gap` ms over `items` (event index, key as JSON text), naively.
///
/// With `lateness_ms = None` every record counts and the answer is pure batch: sort each
/// key's events by time and split where the next event is `gap` or more after the last,
/// giving sessions `[first, last + gap)`. With `Some(lateness)`, records are taken in
/// arrival order with the watermark rule: a record is on time iff
/// `t + gap + lateness > watermark before it` (else it is counted too late); it opens
/// `[t, t + gap)` and merges every session of its key that overlaps and is still open
/// for it (`end + lateness > watermark`), repeatedly. Returns the sessions and the number
/// of too-late records.
pub fn session_windows(
    evs: &[Event],
    items: &[(usize, String)],
    wms: &[i64],
    gap: i64,
    lateness_ms: Option<i64>,
) -> (Sessions, usize) {
    let mut out = Sessions::new();
    let Some(lateness) = lateness_ms else {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, k) in items {
            by_key.entry(k.as_str()).or_default().push(*i);
        }
        for (k, mut idx) in by_key {
            idx.sort_by_key(|i| (evs[*i].t, *i));
            let mut cur: Vec<usize> = Vec::new();
            for i in idx {
                if let Some(last) = cur.last() {
                    if evs[i].t - evs[*last].t >= gap {
                        let (s, e) = (evs[cur[0]].t, evs[*last].t + gap);
                        out.insert((k.to_string(), s, e), std::mem::take(&mut cur));
                    }
                }
                cur.push(i);
            }
            if let Some(last) = cur.last() {
                let (s, e) = (evs[cur[0]].t, evs[*last].t + gap);
                out.insert((k.to_string(), s, e), cur);
            }
        }
        return (out, 0);
    };
    let mut too_late = 0;
    let mut by_key: BTreeMap<String, Vec<(i64, i64, Vec<usize>)>> = BTreeMap::new();
    for (i, k) in items {
        let (t, wm) = (evs[*i].t, wms[*i]);
        if t + gap + lateness <= wm {
            too_late += 1;
            continue;
        }
        let sessions = by_key.entry(k.clone()).or_default();
        let (mut s, mut e, mut members) = (t, t + gap, vec![*i]);
        while let Some(j) = sessions
            .iter()
            .position(|(os, oe, _)| oe + lateness > wm && *os < e && s < *oe)
        {
            let (os, oe, om) = sessions.remove(j);
            s = s.min(os);
            e = e.max(oe);
            members.extend(om);
        }
        sessions.push((s, e, members));
    }
    for (k, sessions) in by_key {
        for (s, e, mut members) in sessions {
            members.sort_by_key(|i| (evs[*i].t, *i));
            out.insert((k.clone(), s, e), members);
        }
    }
    (out, too_late)
}
