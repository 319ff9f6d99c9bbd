//! The running-sum window operator (`window_delta.rs`) against the pane operator
//! (`window.rs`), which merges each window's panes: fed the same batches and frontiers,
//! both must emit the same rows (values, revisions, withdrawals) at the same steps.

use proptest::prelude::*;

use super::*;
use crate::operators::window_delta::DeltaState;
use planner::aggregate::AggFunc;
use planner::types::Value;
use planner::{parse_job, plan_job};

fn plan(sql: &str, lateness_s: u64) -> FeaturePlan {
    let job = format!(
        "name: t\nsources:\n  - {{ name: s, connector: file, path: x, format: json, schema: {{ k: string, v: int, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    allowed_lateness: {lateness_s}s\n    sql: \"{sql}\"\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
    );
    let job = parse_job(std::path::Path::new("t.yaml"), &job).unwrap();
    plan_job(&job).unwrap().physical.features.remove(0)
}

const QUERIES: &[&str] = &[
    "SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '10' SECOND, INTERVAL '40' SECOND)",
    "SELECT k, COUNT(*) AS n, SUM(v) AS total, COUNT(v) AS nv FROM s GROUP BY k, HOP(rowtime, INTERVAL '20' SECOND, INTERVAL '50' SECOND)",
    "SELECT k, SUM(v) AS total FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '30' SECOND)",
    "SELECT k, COUNT(*) AS n, SUM(v) AS total FROM s GROUP BY k, CUMULATE(rowtime, INTERVAL '10' SECOND, INTERVAL '40' SECOND)",
    "SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '10' SECOND, INTERVAL '30' SECOND) HAVING COUNT(*) > 1",
    "SELECT k, SUM(v) * 2 AS twice, TUMBLE_START(rowtime, INTERVAL '20' SECOND) AS ws FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '20' SECOND) HAVING SUM(v) > 0",
];

/// One event: key, event time, value (`None`: NULL).
type Event = (u16, u64, Option<i64>);

/// What the source's combiner would send for one event read at `watermark`, or `None` if
/// it is too late for every window.
fn partial(p: &FeaturePlan, (k, t, v): Event, watermark: u64) -> Option<PartialAggregate> {
    let pane = p.window.pane_of(t);
    let cut = on_time_cut(&p.window, p.allowed_lateness_ms, pane, watermark)?;
    let accs = p
        .aggs
        .iter()
        .map(|a| {
            let mut acc = Acc::new(a.func, a.ty);
            let value = v.map_or(Value::Null, Value::Int);
            acc.add(&value, a.func == AggFunc::CountStar);
            acc
        })
        .collect();
    Some(PartialAggregate {
        key: smallvec::smallvec![Value::Str(format!("k{k}").into())],
        pane,
        cut,
        accs,
    })
}

fn sorted(mut rows: Vec<FeatureRow>) -> Vec<String> {
    let mut out: Vec<String> = rows.drain(..).map(|r| format!("{r:?}")).collect();
    out.sort();
    out
}

/// Events in read order: event times drift forward with disorder up to `disorder` ms;
/// batches of `batch` events share a stamp (the watermark before the batch).
fn run_both(
    p: &FeaturePlan,
    policy: EmitPolicy,
    events: &[Event],
    batch: usize,
    delay: u64,
) -> Result<(), TestCaseError> {
    run_both_shared(&[(0, p)], policy, events, batch, delay).map(|_| ())
}

/// `run_both` for a state that `members` share (the first one's plan runs); returns the
/// features of the rows emitted.
fn run_both_shared(
    members: &[(u32, &FeaturePlan)],
    policy: EmitPolicy,
    events: &[Event],
    batch: usize,
    delay: u64,
) -> Result<Vec<u32>, TestCaseError> {
    let mut features = Vec::new();
    let p = members[0].1;
    let state = Arc::new(RunState::default());
    let mut ws = WindowState::shared(members, policy, Arc::clone(&state));
    let mut ds = DeltaState::shared(members, policy, Arc::clone(&state));
    let (mut dirty, mut out_ws, mut out_ds) = (Vec::new(), Vec::new(), Vec::new());
    let mut max_t = 0u64;
    let watermark = |max_t: u64| max_t.saturating_sub(delay);
    for (step, chunk) in events.chunks(batch).enumerate() {
        let mut recs = Vec::new();
        for &e in chunk {
            if let Some(r) = partial(p, e, watermark(max_t)) {
                recs.push(r);
            }
            max_t = max_t.max(e.1);
        }
        for r in &recs {
            ws.insert(r.clone(), &mut dirty);
        }
        ws.corrections(&mut dirty, &mut out_ws);
        ds.insert_all(&recs, &mut out_ds);
        // The frontier moves to the watermark after the batch: the next batch's stamp.
        let frontier = watermark(max_t);
        prop_assert!(ws.advance(frontier, &mut out_ws, usize::MAX));
        prop_assert!(ds.advance(frontier, &mut out_ds, usize::MAX));
        features.extend(out_ds.iter().map(|r| r.feature));
        prop_assert_eq!(
            sorted(std::mem::take(&mut out_ws)),
            sorted(std::mem::take(&mut out_ds)),
            "step {} (frontier {})",
            step,
            frontier
        );
    }
    prop_assert!(ws.advance(u64::MAX, &mut out_ws, usize::MAX));
    prop_assert!(ds.advance(u64::MAX, &mut out_ds, usize::MAX));
    features.extend(out_ds.iter().map(|r| r.feature));
    prop_assert_eq!(sorted(out_ws), sorted(out_ds), "at the end of input");
    prop_assert!(ds.is_empty(), "all state freed at the end");
    Ok(features)
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    // Event time advances ~2.5 s per event on average; each event may be up to 90 s late.
    prop::collection::vec(
        (
            0u16..5,
            0u64..5_000,
            prop::option::weighted(0.2, 0u64..90_000),
            prop::option::weighted(0.8, -5i64..20),
        ),
        1..160,
    )
    .prop_map(|raw| {
        let mut t = 1_000_000u64;
        raw.into_iter()
            .map(|(k, dt, late, v)| {
                t += dt;
                (k, t - late.unwrap_or(0), v)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn running_sums_emit_what_merged_panes_emit(
        query in 0..QUERIES.len(),
        lateness_s in prop::sample::select(vec![0u64, 20, 60]),
        stream in any::<bool>(),
        events in events(),
        batch in 1usize..12,
        delay in prop::sample::select(vec![0u64, 5_000, 30_000]),
    ) {
        let p = plan(QUERIES[query], lateness_s);
        prop_assert!(p.running_sums());
        let policy = if stream { EmitPolicy::OnWatermark } else { EmitPolicy::Final };
        run_both(&p, policy, &events, batch, delay)?;
    }
}

/// Two features that share one state (same rows, keys and window; the planner gives the
/// first the union of their aggregates): one with HAVING, one renaming the key and
/// computing over the aggregates.
fn shared_members() -> Vec<FeaturePlan> {
    let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, v: int, t: timestamp }, event_time: t }\nfeatures:\n  - name: a\n    allowed_lateness: 20s\n    sql: \"SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '10' SECOND, INTERVAL '30' SECOND) HAVING COUNT(*) > 2\"\n  - name: b\n    allowed_lateness: 20s\n    sql: \"SELECT k AS key, SUM(v) + COUNT(v) AS x FROM s GROUP BY k, HOP(rowtime, INTERVAL '10' SECOND, INTERVAL '30' SECOND)\"\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";
    let job = parse_job(std::path::Path::new("t.yaml"), job).unwrap();
    plan_job(&job).unwrap().physical.features
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shared_states_emit_each_members_rows_like_merged_panes(
        stream in any::<bool>(),
        events in events(),
        batch in 1usize..12,
    ) {
        let features = shared_members();
        prop_assert_eq!(features[1].shares_state_with, Some(0), "the planner shares the state");
        prop_assert!(features[0].running_sums());
        let members = [(0, &features[0]), (1, &features[1])];
        let policy = if stream { EmitPolicy::OnWatermark } else { EmitPolicy::Final };
        let emitted = run_both_shared(&members, policy, &events, batch, 5_000)?;
        // The member without HAVING emits every non-empty window.
        prop_assert!(emitted.contains(&1), "rows of the second member");
    }
}

/// Chunked emission with batches arriving mid-window (they wait): the final value of every
/// (key, window) is the pane operator's.
#[test]
fn chunked_emission_with_batches_in_between_keeps_final_values() {
    let p = plan(QUERIES[1], 20);
    for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
        let state = Arc::new(RunState::default());
        let mut ws = WindowState::new(0, &p, policy, Arc::clone(&state));
        let mut ds = DeltaState::shared(&[(0, &p)], policy, Arc::clone(&state));
        let (mut dirty, mut out_ws, mut out_ds) = (Vec::new(), Vec::new(), Vec::new());
        let mut max_t = 0u64;
        for step in 0..3_000u64 {
            let t = 1_000_000 + step * 700;
            let late = if step % 13 == 0 { 25_000 } else { 0 };
            let e = ((step * 7 % 40) as u16, t - late, Some((step % 9) as i64));
            let wm = max_t.saturating_sub(5_000);
            max_t = max_t.max(e.1);
            let Some(r) = partial(&p, e, wm) else {
                continue;
            };
            ws.insert(r.clone(), &mut dirty);
            ws.corrections(&mut dirty, &mut out_ws);
            ds.insert_all(&[r], &mut out_ds);
            let frontier = max_t.saturating_sub(5_000);
            while !ws.advance(frontier, &mut out_ws, usize::MAX) {}
            // At most 3 rows per call: emissions span many calls and records.
            let limit = out_ds.len() + 3;
            ds.advance(frontier, &mut out_ds, limit);
        }
        while !ws.advance(u64::MAX, &mut out_ws, usize::MAX) {}
        loop {
            let limit = out_ds.len() + 3;
            if ds.advance(u64::MAX, &mut out_ds, limit) {
                break;
            }
        }
        let finals = |rows: &[FeatureRow]| {
            let mut last = std::collections::BTreeMap::new();
            for r in rows {
                last.insert(
                    (format!("{:?}", r.key), r.window_end),
                    (!r.deleted).then(|| format!("{:?}", r.values)),
                );
            }
            last
        };
        // Each (key, window) is emitted once with revision 0, then corrected with
        // revisions 1, 2, ... in order: a late record for the window being emitted is
        // either in its first emission or a correction, never both.
        let mut revisions = std::collections::BTreeMap::new();
        for r in &out_ds {
            let next = revisions
                .entry((format!("{:?}", r.key), r.window_end))
                .or_insert(0);
            assert_eq!(r.revision, *next, "{policy:?}: {r:?}");
            *next += 1;
        }
        let (a, b) = (finals(&out_ws), finals(&out_ds));
        assert!(
            a.len() > 1_000,
            "{policy:?}: windows were emitted ({})",
            a.len()
        );
        assert_eq!(a, b, "{policy:?}");
        assert!(ds.is_empty(), "{policy:?}: all state freed");
    }
}

/// State stays bounded on an unbounded stream: keys and deltas depend on the windows in
/// flight, not on how much history went by.
#[test]
fn running_state_is_bounded_by_windows_in_flight() {
    let p = plan(
        "SELECT k, COUNT(*) AS n FROM s GROUP BY k, HOP(rowtime, INTERVAL '60' SECOND, INTERVAL '1800' SECOND)",
        600,
    );
    for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
        let mut ds = DeltaState::shared(&[(0, &p)], policy, Arc::new(RunState::default()));
        let mut out = Vec::new();
        let (mut max_deltas, mut emitted) = (0, 0);
        // 12 hours of event time; 50 keys at a time, each key active for one hour, one
        // event per key every 10 s, some 5 minutes late.
        for step in 0..(12 * 360u64) {
            let t = step * 10_000;
            let recs: Vec<_> = (0..50u64)
                .filter_map(|k| {
                    let key = (k + 50 * (step / 360)) as u16;
                    let late = if (step + k) % 7 == 0 { 300_000 } else { 0 };
                    partial(
                        &p,
                        (key, t.saturating_sub(late), None),
                        t.saturating_sub(60_000),
                    )
                })
                .collect();
            ds.insert_all(&recs, &mut out);
            ds.advance(t.saturating_sub(60_000), &mut out, usize::MAX);
            emitted += out.len();
            out.clear();
            max_deltas = max_deltas.max(ds.deltas());
            assert!(ds.keys() <= 100, "{policy:?}: {} keys live", ds.keys());
        }
        // Two deltas per (key, 10 s event): those of the 30-minute window, the lateness and
        // the watermark delay, for 50 keys.
        let bound = 2 * 50 * 6 * (30 + 10 + 1 + 5);
        assert!(
            max_deltas <= bound,
            "{policy:?}: {max_deltas} deltas held, bound {bound}"
        );
        assert!(
            emitted > 50 * 11 * 60,
            "{policy:?}: windows were emitted ({emitted})"
        );
        assert!(ds.advance(u64::MAX, &mut out, usize::MAX));
        assert!(ds.is_empty(), "{policy:?}: all state freed at the end");
    }
}

/// A key's records of one pane arrive over many batches; they are kept as one delta per
/// key and bucket, not one per batch (else a day-long window's leaving bucket would hold
/// one per batch), and still count once each.
#[test]
fn records_of_a_pane_in_many_batches_share_one_delta() {
    let p = plan(
        "SELECT k, COUNT(*) AS n, SUM(v) AS total FROM s GROUP BY k, HOP(rowtime, INTERVAL '3600' SECOND, INTERVAL '86400' SECOND)",
        0,
    );
    let mut ds = DeltaState::shared(&[(0, &p)], EmitPolicy::Final, Arc::new(RunState::default()));
    let mut out = Vec::new();
    // Three hours, one batch per second, each with one record of each of 3 keys.
    let hours = 3u64;
    for sec in 0..hours * 3600 {
        let t = sec * 1000;
        let recs: Vec<_> = (0..3u16)
            .filter_map(|k| partial(&p, (k, t, Some(i64::from(k))), t))
            .collect();
        ds.insert_all(&recs, &mut out);
        assert!(ds.advance(t, &mut out, usize::MAX));
        // Per key: one entering and one leaving delta per pane seen so far.
        let panes = sec / 3600 + 1;
        assert!(
            ds.deltas() <= (3 * 2 * panes) as usize,
            "{} deltas after {sec} s",
            ds.deltas()
        );
    }
    assert!(ds.advance(u64::MAX, &mut out, usize::MAX));
    // Every window of a key counts the seconds of the hours it covers.
    assert_eq!(
        out.len(),
        3 * 24 + 3 * (hours as usize - 1),
        "a row per key and window"
    );
    for r in &out {
        let covered = (0..hours)
            .filter(|h| {
                let start = h * 3_600_000;
                start as i64 >= r.window_start && start < r.window_end as u64
            })
            .count() as i64;
        let Value::Str(k) = &r.key[0] else {
            unreachable!()
        };
        let k: i64 = k[1..].parse().unwrap();
        assert_eq!(r.values[1], Value::Int(3600 * covered), "{r:?}");
        assert_eq!(r.values[2], Value::Int(3600 * covered * k), "{r:?}");
    }
    assert!(ds.is_empty());
}
