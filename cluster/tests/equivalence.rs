//! The core promise: after all corrections, stream mode equals backfill mode equals a naive,
//! independent batch computation, whatever the arrival order, batch sizes, watermark delay
//! and worker count (when allowed_lateness covers the disorder); and with less lateness, a
//! single reader's results follow the watermark rule exactly, in both modes.
//!
//! The reference below knows nothing of panes, timely or frontiers: for every record it
//! enumerates the windows containing its event time and adds it to those whose
//! `end + allowed_lateness` exceeds the watermark at the time the record was read.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use common::{
    assert_same, events, key_columns, read_finals, run_ok, write_inputs, write_job, Event, RowKey,
    MIN,
};

/// Window ends (ms) of windows of `size`, every `slide`, containing `t`. As in Flink,
/// windows start at multiples of the slide: `[k * slide, k * slide + size)`.
fn window_ends(t: i64, size: i64, slide: i64) -> Vec<i64> {
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
fn reference(
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

fn run(dir: &Path, args: &[&str]) -> common::Finals {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let job = dir.join("job.yaml");
    let mut all = vec!["run", job.to_str().unwrap(), "-q"];
    all.extend_from_slice(args);
    run_ok(&all);
    read_finals(&out, "features", &key_columns())
}

fn dead_letter_count(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("out/dead_letter.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn lateness_covering_disorder_gives_naive_results_in_every_mode_and_worker_count() {
    for seed in [1u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 6 * MIN;
        let evs = events(seed, 2_500, disorder);
        let delay_s = [0, 30, 120][seed as usize % 3];
        write_inputs(dir.path(), &evs, 3);
        write_job(dir.path(), delay_s, disorder / 1000 + 1);
        let (want, _) = reference(&evs, delay_s, None);
        assert!(
            want.len() > 100,
            "the test input is too small to mean anything"
        );

        let backfill = run(dir.path(), &["--mode", "backfill"]);
        assert_same(&format!("seed {seed} backfill"), &backfill, &want);
        assert_eq!(backfill.max_revision, 0, "backfill emits final values only");
        assert_eq!(
            backfill.emitted,
            want.len(),
            "backfill emits each window once"
        );

        let mut saw_corrections = false;
        for (workers, batch) in [(1, "1"), (2, "300"), (4, "2000"), (2, "4194304")] {
            let got = run(
                dir.path(),
                &[
                    "--mode",
                    "stream",
                    "--exit-at-end",
                    "--workers",
                    &workers.to_string(),
                    "--batch-bytes",
                    batch,
                ],
            );
            assert_same(
                &format!("seed {seed} stream workers={workers} batch={batch}"),
                &got,
                &want,
            );
            saw_corrections |= got.max_revision > 0;
            let b = run(
                dir.path(),
                &[
                    "--mode",
                    "backfill",
                    "--workers",
                    &workers.to_string(),
                    "--batch-bytes",
                    batch,
                ],
            );
            assert_same(
                &format!("seed {seed} backfill workers={workers} batch={batch}"),
                &b,
                &want,
            );
            assert_eq!(
                (b.max_revision, b.emitted),
                (0, want.len()),
                "seed {seed} backfill workers={workers} batch={batch}: each window once, final"
            );
            assert_eq!(dead_letter_count(dir.path()), 0);
        }
        assert!(
            saw_corrections,
            "seed {seed}: small batches with disorder must produce corrections"
        );
    }
}

#[test]
fn with_short_lateness_one_reader_follows_the_watermark_rule_exactly() {
    for seed in [11u64, 12] {
        let dir = tempfile::tempdir().unwrap();
        let evs = events(seed, 2_000, 8 * MIN);
        let (delay_s, lateness_s) = (60, 90);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), delay_s, lateness_s);
        let (want, too_late) = reference(&evs, delay_s, Some(lateness_s));
        assert!(
            too_late > 10,
            "the disorder must exceed the lateness for this test to mean anything"
        );
        for args in [
            vec!["--mode", "backfill"],
            vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "1"],
            vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "5000"],
        ] {
            let got = run(dir.path(), &args);
            assert_same(&format!("seed {seed} {args:?}"), &got, &want);
            if args[1] == "backfill" {
                assert_eq!(got.max_revision, 0, "backfill emits final values only");
            }
            assert_eq!(
                dead_letter_count(dir.path()),
                too_late,
                "seed {seed} {args:?}: every too-late (record, feature) is a dead letter"
            );
        }
    }
}
