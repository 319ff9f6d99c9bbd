//! Unit tests of the session operator (`session.rs`): merging, emission, corrections,
//! withdrawals and freeing, driven directly (no timely).

use super::*;
use planner::{parse_job, plan_job};

const S: u64 = 1_000;

fn plan(sql: &str, lateness: &str) -> FeaturePlan {
    let job = format!(
        "name: t\nsources:\n  - {{ name: s, connector: file, path: x, format: json, schema: {{ k: string, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    allowed_lateness: {lateness}\n    sql: {sql}\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
    );
    let job = parse_job(std::path::Path::new("t.yaml"), &job).unwrap();
    plan_job(&job).unwrap().physical.features.remove(0)
}

const COUNT: &str =
    "SELECT k, COUNT(*) AS n FROM s GROUP BY k, SESSION(rowtime, INTERVAL '10' SECOND)";

/// One COUNT(*) record at `t` seconds, read at watermark `wm` seconds.
fn rec(key: &str, t: u64, wm: u64) -> SessionInput {
    let mut acc = Acc::new(
        planner::aggregate::AggFunc::CountStar,
        planner::DataType::Int,
    );
    acc.add(&Value::Null, true);
    SessionInput {
        key: smallvec::smallvec![Value::Str(key.into())],
        time: t * S,
        watermark: wm * S,
        accs: smallvec::smallvec![acc],
    }
}

/// (start s, end s, revision, n, deleted) of each row, drained.
fn rows(out: &mut Vec<FeatureRow>) -> Vec<(i64, i64, u32, Value, bool)> {
    out.drain(..)
        .map(|r| {
            (
                r.window_start / 1000,
                r.window_end / 1000,
                r.revision,
                r.values[1].clone(),
                r.deleted,
            )
        })
        .collect()
}

fn feed(ss: &mut SessionState, recs: &[(u64, u64)], out: &mut Vec<FeatureRow>) {
    for (t, wm) in recs {
        ss.insert(rec("a", *t, *wm));
    }
    ss.flush_changed(out);
}

#[test]
fn events_closer_than_the_gap_share_a_session() {
    let p = plan(COUNT, "0s");
    let mut ss = SessionState::new(0, &p, EmitPolicy::OnWatermark);
    let mut out = Vec::new();
    // 0, 5 and 14 chain (gaps 5, 9); 24 is exactly 10 after 14: a new session.
    feed(&mut ss, &[(0, 0), (14, 0), (5, 0), (24, 0)], &mut out);
    assert!(out.is_empty(), "nothing is due before the frontier moves");
    ss.advance(23 * S, &mut out);
    assert!(out.is_empty(), "emitted when the frontier reaches the end");
    ss.advance(24 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(0, 24, 0, Value::Int(3), false)]);
    ss.advance(34 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(24, 34, 0, Value::Int(1), false)]);
    assert_eq!(ss.sessions(), 0, "lateness 0: freed at the end");
    assert!(ss.keys.is_empty());
}

#[test]
fn a_late_record_merging_two_emitted_sessions_withdraws_both() {
    let p = plan(COUNT, "1m");
    let mut ss = SessionState::new(0, &p, EmitPolicy::OnWatermark);
    let mut out = Vec::new();
    feed(&mut ss, &[(0, 0), (12, 0)], &mut out);
    ss.advance(30 * S, &mut out);
    assert_eq!(
        rows(&mut out),
        vec![
            (0, 10, 0, Value::Int(1), false),
            (12, 22, 0, Value::Int(1), false)
        ]
    );
    // t = 8 read at watermark 30: [8, 18) overlaps both, which are open (end + 60 > 30).
    feed(&mut ss, &[(8, 30)], &mut out);
    assert_eq!(
        rows(&mut out),
        vec![
            (0, 10, 1, Value::Int(1), true),
            (12, 22, 1, Value::Int(1), true),
            (0, 22, 2, Value::Int(3), false),
        ],
        "withdrawals (as sent, revision + 1), then the merged session above them"
    );
    // A record inside the merged session corrects it in place.
    feed(&mut ss, &[(11, 31)], &mut out);
    assert_eq!(rows(&mut out), vec![(0, 22, 3, Value::Int(4), false)]);
    // Extending it to a not yet due end withdraws it now; the new row comes at its end.
    feed(&mut ss, &[(21, 31)], &mut out);
    assert_eq!(rows(&mut out), vec![(0, 22, 4, Value::Int(4), true)]);
    ss.advance(30 * S, &mut out);
    assert!(out.is_empty());
    ss.advance(31 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(0, 31, 5, Value::Int(5), false)]);
    // Everything is freed at end + lateness.
    ss.advance(90 * S, &mut out);
    assert!(!ss.keys.is_empty());
    ss.advance(91 * S, &mut out);
    assert!(out.is_empty());
    assert!(ss.keys.is_empty() && ss.sessions() == 0);
}

#[test]
fn backfill_emits_each_merged_session_once() {
    let p = plan(COUNT, "1m");
    let mut ss = SessionState::new(0, &p, EmitPolicy::Final);
    let mut out = Vec::new();
    feed(&mut ss, &[(0, 0), (12, 0)], &mut out);
    ss.advance(30 * S, &mut out);
    feed(&mut ss, &[(8, 30), (11, 31), (21, 31)], &mut out);
    ss.advance(90 * S, &mut out);
    assert!(out.is_empty(), "due at end + lateness = 91 s");
    ss.advance(91 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(0, 31, 0, Value::Int(5), false)]);
    assert!(ss.keys.is_empty());
}

#[test]
fn closed_sessions_are_neither_joined_nor_withdrawn() {
    let p = plan(COUNT, "5s");
    let mut ss = SessionState::new(0, &p, EmitPolicy::OnWatermark);
    let mut out = Vec::new();
    feed(&mut ss, &[(0, 0)], &mut out);
    ss.advance(12 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(0, 10, 0, Value::Int(1), false)]);
    // Read at watermark 15: [0, 10) closed (10 + 5 <= 15), though its state is still held
    // (the frontier is 12). The record is on time for its own session (6 + 10 + 5 > 15).
    feed(&mut ss, &[(6, 15)], &mut out);
    assert!(out.is_empty(), "[6, 16) is not due yet");
    ss.advance(16 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(6, 16, 0, Value::Int(1), false)]);
    ss.advance(21 * S, &mut out);
    assert!(ss.keys.is_empty());
}

#[test]
fn having_turning_false_withdraws_the_row() {
    let p = plan(
        "SELECT k, COUNT(*) AS n FROM s GROUP BY k, SESSION(rowtime, INTERVAL '10' SECOND) HAVING COUNT(*) < 2",
        "1m",
    );
    let mut ss = SessionState::new(0, &p, EmitPolicy::OnWatermark);
    let mut out = Vec::new();
    feed(&mut ss, &[(0, 0)], &mut out);
    ss.advance(10 * S, &mut out);
    assert_eq!(rows(&mut out), vec![(0, 10, 0, Value::Int(1), false)]);
    feed(&mut ss, &[(3, 10)], &mut out);
    assert_eq!(rows(&mut out), vec![(0, 10, 1, Value::Int(1), true)]);
}

/// State stays bounded on an unbounded stream: sessions in flight per key, not history.
#[test]
fn state_is_bounded_by_sessions_in_flight() {
    let p = plan(COUNT, "20s");
    for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
        let mut ss = SessionState::new(0, &p, policy);
        let mut out = Vec::new();
        let (mut max_sessions, mut emitted) = (0, 0);
        // 20 keys; bursts of 5 events 2 s apart, then 30 s of silence; watermark trails 5 s.
        for step in 0..5_000u64 {
            let t = (step / 5) * 38 + (step % 5) * 2;
            for k in 0..20 {
                ss.insert(SessionInput {
                    key: smallvec::smallvec![Value::Int(k)],
                    ..rec("", t, t.saturating_sub(5))
                });
            }
            ss.flush_changed(&mut out);
            ss.advance(t.saturating_sub(5) * S, &mut out);
            emitted += out.len();
            out.clear();
            max_sessions = max_sessions.max(ss.sessions());
        }
        assert!(
            max_sessions <= 20 * 2,
            "{policy:?}: {max_sessions} sessions held"
        );
        assert!(emitted >= 20 * 990, "{policy:?}: {emitted} rows");
        ss.advance(u64::MAX, &mut out);
        assert!(ss.keys.is_empty(), "{policy:?}: all state freed at the end");
    }
}
