//! Unit tests of the window operator (`window.rs`).

use super::*;
use planner::types::Value;

#[cfg(test)]
mod tests_support {
    use super::*;
    use planner::{parse_job, plan_job};

    pub fn plan(sql: &str, lateness: &str) -> FeaturePlan {
        let job = format!(
            "name: t\nsources:\n  - {{ name: s, connector: file, path: x, format: json, schema: {{ k: string, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    allowed_lateness: {lateness}\n    sql: {sql}\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
        );
        let job = parse_job(std::path::Path::new("t.yaml"), &job).unwrap();
        plan_job(&job).unwrap().physical.features.remove(0)
    }

    /// One COUNT(*) record for the window state (as the source's combiner would send it).
    pub fn rec_for(p: &FeaturePlan, key: &str, time: u64, watermark: u64) -> PartialAggregate {
        let pane = p.window.pane_of(time);
        let cut = on_time_cut(&p.window, p.allowed_lateness_ms, pane, watermark)
            .expect("tests send on-time records");
        let mut acc = Acc::new(
            planner::aggregate::AggFunc::CountStar,
            planner::DataType::Int,
        );
        acc.add(&Value::Null, true);
        PartialAggregate {
            key: smallvec::smallvec![Value::Str(key.into())],
            pane,
            cut,
            accs: smallvec::smallvec![acc],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    /// State stays bounded on an unbounded stream: it depends on the windows in flight
    /// (size + lateness) and the number of keys, never on how much history went by.
    #[test]
    fn state_is_bounded_by_windows_in_flight_not_history() {
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let p = plan("SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES)", "10m");
            let mut ws = WindowState::new(0, &p, policy, Arc::new(RunState::default()));
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            let mut max_panes = 0;
            let mut emitted = 0;
            let delay = 60_000;
            // 12 hours of event time, 50 keys, one event per key every 10 seconds, some late.
            for step in 0..(12 * 360u64) {
                let t = step * 10_000;
                for k in 0..50 {
                    let late = if (step + k) % 7 == 0 { 5 * 60_000 } else { 0 };
                    ws.insert(
                        rec_for(
                            &p,
                            &format!("k{k}"),
                            t.saturating_sub(late),
                            t.saturating_sub(delay),
                        ),
                        &mut dirty,
                    );
                }
                ws.corrections(&mut dirty, &mut out);
                ws.advance(t.saturating_sub(delay), &mut out, usize::MAX);
                emitted += out.len();
                out.clear();
                max_panes = max_panes.max(ws.panes());
            }
            // Per key: panes of the 30-minute window, plus those kept for the 10-minute lateness
            // and the watermark delay, plus the late records' panes.
            let bound = 50 * (30 + 10 + 1 + 5 + 2);
            assert!(
                max_panes <= bound,
                "{policy:?}: {max_panes} panes held, bound {bound}"
            );
            assert!(
                emitted > 50 * 11 * 60,
                "{policy:?}: windows were emitted ({emitted})"
            );
            while !ws.advance(u64::MAX, &mut out, 1000) {
                assert!(out.len() <= 1000 + 100, "chunks stay bounded");
                out.clear();
            }
            assert!(
                ws.keys.is_empty() && ws.timers.is_empty() && ws.evictions.is_empty(),
                "{policy:?}: all state freed at the end"
            );
        }
    }

    /// No window is emitted before the frontier reached its end (stream) or its end plus
    /// the lateness (backfill); corrections come only in stream mode, for windows whose
    /// trigger had already fired.
    #[test]
    fn nothing_is_emitted_before_its_trigger() {
        let p = plan(
            "SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)",
            "2m",
        );
        for (policy, extra) in [(EmitPolicy::OnWatermark, 0), (EmitPolicy::Final, 120_000)] {
            let mut ws = WindowState::new(0, &p, policy, Arc::new(RunState::default()));
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            let mut fired = 0;
            let mut corrections = 0;
            for step in 0..2_000u64 {
                let t = step * 1_000;
                let frontier = t.saturating_sub(30_000);
                ws.insert(
                    rec_for(&p, "a", t.saturating_sub((step % 5) * 20_000), frontier),
                    &mut dirty,
                );
                ws.corrections(&mut dirty, &mut out);
                for row in out.drain(..) {
                    corrections += 1;
                    assert_eq!(
                        policy,
                        EmitPolicy::OnWatermark,
                        "backfill emits no corrections"
                    );
                    assert!(
                        row.window_end as u64 <= fired,
                        "a correction for a window not yet fired: {row:?}"
                    );
                }
                ws.advance(frontier, &mut out, usize::MAX);
                fired = frontier;
                for row in out.drain(..) {
                    assert!(
                        row.window_end as u64 + extra <= frontier,
                        "{policy:?}: early row {row:?} at frontier {frontier}"
                    );
                    assert_eq!(row.revision, 0);
                }
            }
            assert_eq!(
                corrections > 0,
                policy == EmitPolicy::OnWatermark,
                "{policy:?}"
            );
        }
    }

    /// A key with a gap: after its first window fires, the walk jumps over empty windows to
    /// its next pane. On-time records that later fill a skipped window must wait for that
    /// window's trigger, not be emitted at once as corrections.
    #[test]
    fn records_filling_a_skipped_window_wait_for_its_trigger() {
        let p = plan(
            "SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)",
            "5m",
        );
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let mut ws = WindowState::new(0, &p, policy, Arc::new(RunState::default()));
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            ws.insert(rec_for(&p, "a", 30_000, 0), &mut dirty);
            ws.insert(rec_for(&p, "a", 330_000, 0), &mut dirty);
            assert!(ws.advance(90_000, &mut out, usize::MAX));
            for t in [150_000, 160_000, 170_000] {
                ws.insert(rec_for(&p, "a", t, 95_000), &mut dirty);
            }
            assert!(
                dirty.is_empty(),
                "{policy:?}: on-time records were taken for corrections: {dirty:?}"
            );
            let fire_at = if policy == EmitPolicy::Final {
                180_000 + 300_000
            } else {
                180_000
            };
            out.clear();
            assert!(ws.advance(fire_at - 1, &mut out, usize::MAX));
            assert!(
                out.iter().all(|r| r.window_end != 180_000),
                "{policy:?}: emitted before its trigger"
            );
            assert!(ws.advance(fire_at, &mut out, usize::MAX));
            let rows: Vec<_> = out.iter().filter(|r| r.window_end == 180_000).collect();
            assert_eq!(rows.len(), 1, "{policy:?}: {rows:?}");
            assert_eq!(
                (rows[0].revision, rows[0].values[1].clone()),
                (0, Value::Int(3))
            );
        }
    }
}

#[cfg(test)]
mod cumulate_tests {
    use super::tests_support::*;
    use super::*;

    /// CUMULATE(1 min, 5 min): every non-empty window of a period, all starting at the
    /// period start; empty windows (before a key's first record in the period) are skipped.
    #[test]
    fn cumulate_emits_each_non_empty_window_with_its_period_start() {
        let p = plan(
            "SELECT k, COUNT(*) AS n FROM s GROUP BY k, CUMULATE(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)",
            "0s",
        );
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let mut ws = WindowState::new(0, &p, policy, Arc::new(RunState::default()));
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            for t in [30_000, 130_000, 150_000, 400_000] {
                ws.insert(rec_for(&p, "a", t, 0), &mut dirty);
            }
            assert!(dirty.is_empty());
            // Frontier at 3 minutes: windows ending at 1, 2 and 3 minutes only.
            assert!(ws.advance(180_000, &mut out, usize::MAX));
            let got: Vec<(i64, i64, Value)> = out
                .drain(..)
                .map(|r| (r.window_start, r.window_end, r.values[1].clone()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (0, 60_000, Value::Int(1)),
                    (0, 120_000, Value::Int(1)),
                    (0, 180_000, Value::Int(3)),
                ],
                "{policy:?}"
            );
            assert!(ws.advance(u64::MAX, &mut out, usize::MAX));
            let got: Vec<(i64, i64, Value)> = out
                .drain(..)
                .map(|r| (r.window_start, r.window_end, r.values[1].clone()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (0, 240_000, Value::Int(3)),
                    (0, 300_000, Value::Int(3)),
                    // [300000, 360000) is empty: no row.
                    (300_000, 420_000, Value::Int(1)),
                    (300_000, 480_000, Value::Int(1)),
                    (300_000, 540_000, Value::Int(1)),
                    (300_000, 600_000, Value::Int(1)),
                ],
                "{policy:?}"
            );
            assert!(ws.keys.is_empty(), "{policy:?}: state freed");
        }
    }

    /// A late record in stream mode corrects every emitted window of its period that
    /// contains it and that it is on time for.
    #[test]
    fn a_late_cumulate_record_corrects_the_windows_it_is_on_time_for() {
        let p = plan(
            "SELECT k, COUNT(*) AS n FROM s GROUP BY k, CUMULATE(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)",
            "2m",
        );
        let mut ws = WindowState::new(
            0,
            &p,
            EmitPolicy::OnWatermark,
            Arc::new(RunState::default()),
        );
        let (mut dirty, mut out) = (Vec::new(), Vec::new());
        ws.insert(rec_for(&p, "a", 10_000, 0), &mut dirty);
        assert!(ws.advance(250_000, &mut out, usize::MAX));
        assert_eq!(out.len(), 4, "windows ending at 1..4 minutes");
        out.clear();
        // Read at watermark 250 s: windows ending at 1 and 2 minutes expired (end + 2 min
        // <= 250 s); 3 and 4 minutes are corrected; 5 minutes is not due yet.
        ws.insert(rec_for(&p, "a", 20_000, 250_000), &mut dirty);
        ws.corrections(&mut dirty, &mut out);
        let got: Vec<(i64, u32, Value)> = out
            .drain(..)
            .map(|r| (r.window_end, r.revision, r.values[1].clone()))
            .collect();
        assert_eq!(
            got,
            vec![(180_000, 1, Value::Int(2)), (240_000, 1, Value::Int(2))]
        );
        assert!(ws.advance(300_000, &mut out, usize::MAX));
        assert_eq!(
            out.iter()
                .map(|r| (r.window_end, r.revision, r.values[1].clone()))
                .collect::<Vec<_>>(),
            vec![(300_000, 0, Value::Int(2))]
        );
    }
}

#[cfg(test)]
mod running_tests {
    use super::*;
    use planner::{parse_job, plan_job};

    /// The running-sum operator's window values (`window_delta.rs`: add the entering
    /// deltas, subtract the leaving ones) equal the merged panes' of this operator, with
    /// late records in partial states, NULL sums and corrections.
    #[test]
    fn running_aggregates_equal_merged_panes() {
        let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, v: int, t: timestamp }, event_time: t }\nfeatures:\n  - name: f\n    allowed_lateness: 3m\n    sql: SELECT k, COUNT(*) AS n, SUM(v) AS s FROM s GROUP BY k, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";
        let job = parse_job(std::path::Path::new("t.yaml"), job).unwrap();
        let p = plan_job(&job).unwrap().physical.features.remove(0);
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let state = Arc::new(RunState::default());
            assert!(
                p.running_sums(),
                "COUNT and integer SUM run on running sums"
            );
            let mut running =
                super::super::window_delta::DeltaState::shared(&[(0, &p)], policy, state.clone());
            let mut merged = WindowState::new(0, &p, policy, state);
            let (mut d2, mut o1, mut o2) = (vec![], vec![], vec![]);
            let mut seed = 7u64;
            let mut rnd = |n: u64| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) % n
            };
            for step in 0..3_000u64 {
                let now = step * 2_000;
                let watermark = now.saturating_sub(30_000);
                let t = now.saturating_sub(rnd(6) * 60_000 * u64::from(rnd(4) == 0));
                let pane = p.window.pane_of(t);
                let Some(cut) = on_time_cut(&p.window, p.allowed_lateness_ms, pane, watermark)
                else {
                    continue;
                };
                let mut count = Acc::new(
                    planner::aggregate::AggFunc::CountStar,
                    planner::DataType::Int,
                );
                count.add(&Value::Null, true);
                let mut sum = Acc::new(planner::aggregate::AggFunc::Sum, planner::DataType::Int);
                let k = rnd(3);
                // Key k0 has only NULL sums.
                if k > 0 && rnd(3) > 0 {
                    sum.add(&Value::Int(rnd(1000) as i64 - 500), false);
                }
                let rec = PartialAggregate {
                    key: smallvec::smallvec![Value::Str(format!("k{k}").into())],
                    pane,
                    cut,
                    accs: smallvec::smallvec![count, sum],
                };
                running.insert_all(std::slice::from_ref(&rec), &mut o1);
                merged.insert(rec, &mut d2);
                merged.corrections(&mut d2, &mut o2);
                running.advance(watermark, &mut o1, usize::MAX);
                merged.advance(watermark, &mut o2, usize::MAX);
            }
            running.advance(u64::MAX, &mut o1, usize::MAX);
            merged.advance(u64::MAX, &mut o2, usize::MAX);
            assert!(o1.len() > 250, "{policy:?}: {} rows", o1.len());
            assert!(o1.iter().any(|r| r.values[2].is_null()), "NULL sums occur");
            // The same rows; the operators order keys differently within a firing.
            let by_key = |r: &FeatureRow| (format!("{:?}", r.key), r.window_end, r.revision);
            o1.sort_by_key(by_key);
            o2.sort_by_key(by_key);
            assert_eq!(o1, o2, "{policy:?}");
        }
    }
}

#[cfg(test)]
mod key_churn_tests {
    use super::tests_support::*;
    use super::*;
    use std::collections::BTreeMap;

    /// Keys that are active for a few minutes, go quiet (their state is freed and their slot
    /// reused by later keys, while stale timer and eviction entries of the earlier key are
    /// still queued), then come back: every window's final value equals a direct count of
    /// the records, in both modes (stream: the last revision), and all state is freed.
    #[test]
    fn keys_that_come_and_go_reuse_slots_without_mixing_state() {
        let p = plan(
            "SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)",
            "2m",
        );
        let (slide, size) = (60_000u64, 300_000u64);
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let mut ws = WindowState::new(0, &p, policy, Arc::new(RunState::default()));
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            let mut expected: BTreeMap<(String, u64), i64> = BTreeMap::new();
            let mut seed = 11u64;
            let mut rnd = |n: u64| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) % n
            };
            let delay = 30_000;
            let mut max_keys = 0;
            for step in 0..2_000u64 {
                let now = step * 5_000;
                let watermark = now.saturating_sub(delay);
                // 40 keys; key k is active in bursts: a 3-minute burst every 20 minutes,
                // shifted per key, so keys keep leaving and coming back.
                for k in 0..40u64 {
                    let phase = (now / 60_000 + k * 7) % 20;
                    if phase >= 3 || rnd(3) == 0 {
                        continue;
                    }
                    let t = now.saturating_sub(rnd(20_000));
                    let pane = p.window.pane_of(t);
                    let Some(cut) = on_time_cut(&p.window, p.allowed_lateness_ms, pane, watermark)
                    else {
                        continue;
                    };
                    let key = format!("k{k}");
                    // The windows this record counts in: those it was on time for.
                    let first = pane - pane % slide + slide;
                    let mut end = first;
                    while end <= pane + size {
                        if end >= cut {
                            *expected.entry((key.clone(), end)).or_default() += 1;
                        }
                        end += slide;
                    }
                    ws.insert(rec_for(&p, &key, t, watermark), &mut dirty);
                }
                ws.corrections(&mut dirty, &mut out);
                ws.advance(watermark, &mut out, usize::MAX);
                max_keys = max_keys.max(ws.keys.len());
            }
            while !ws.advance(u64::MAX, &mut out, 1000) {}
            assert!(ws.keys.is_empty(), "{policy:?}: state freed");
            assert!(
                max_keys < 40,
                "{policy:?}: quiet keys were freed ({max_keys} live at most)"
            );
            let mut got: BTreeMap<(String, u64), (u32, i64)> = BTreeMap::new();
            for r in &out {
                let Value::Str(k) = &r.key[0] else {
                    panic!("string key")
                };
                let Value::Int(n) = r.values[1] else {
                    panic!("count")
                };
                let e = got
                    .entry((k.to_string(), r.window_end as u64))
                    .or_insert((0, 0));
                assert!(r.revision >= e.0, "{policy:?}: revisions only grow");
                *e = (r.revision, n);
            }
            let got: BTreeMap<(String, u64), i64> =
                got.into_iter().map(|(k, (_, n))| (k, n)).collect();
            assert!(expected.len() > 1_000, "{} windows", expected.len());
            assert_eq!(got, expected, "{policy:?}");
        }
    }
}
