//! Unit tests of the interval join's state: what expires when, and what a LEFT join pads.

use std::collections::{BTreeMap, HashMap};

use planner::join::JoinKind;
use planner::types::Value;
use smallvec::smallvec;

use super::{JoinState, JoinedRow};
use crate::record::OverInput;

fn state(kind: JoinKind, lower: i64, upper: i64, lateness: u64) -> JoinState {
    JoinState {
        kind,
        lower,
        upper,
        lateness,
        residual: None,
        left_width: 1,
        right_width: 1,
        rows: [HashMap::default(), HashMap::default()],
        table: false,
        expiry: BTreeMap::new(),
        pair: Vec::new(),
    }
}

fn row(key: &str, time: u64) -> OverInput {
    OverInput {
        key: smallvec![Value::Str(key.into())],
        time,
        values: smallvec![Value::Int(time as i64)],
    }
}

/// A LEFT join with no right rows pads every left row once it expires, whatever order
/// its rows arrived in: here the QA case whose left rows of `x` (bounds [-3s, +2s],
/// lateness 2s) came out of the expiry buckets in another order than their expiries, so
/// taking one row per expiry entry lost the row of 15635.
#[test]
fn a_left_join_pads_every_unmatched_row_whatever_the_arrival_order() {
    let times = [2171u64, 8888, 13454, 15253, 15635, 13091];
    // At once at the end of the input (a backfill), and with the frontier moving in steps.
    for steps in [&[u64::MAX][..], &[10_000, 17_100, 17_460, u64::MAX]] {
        let mut st = state(JoinKind::Left, -3000, 2000, 2000);
        let mut pairs: Vec<JoinedRow> = Vec::new();
        for t in times {
            st.insert(row("x", t), true, &mut |p| pairs.push(p));
        }
        assert!(pairs.is_empty(), "no right rows, no pairs");
        let mut padded = Vec::new();
        // Each row expires at time + 2s + 2s + 1ms.
        for f in steps {
            st.expire(*f, &mut padded);
            for (t, _) in &padded {
                assert!(
                    t + 4001 <= *f,
                    "{t} padded at frontier {f}, before it expired"
                );
            }
        }
        let mut got: Vec<u64> = padded.iter().map(|(t, _)| *t).collect();
        got.sort_unstable();
        let mut want = times.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{steps:?}: each unmatched left row padded once");
        for (t, r) in &padded {
            assert_eq!(r, &vec![Value::Int(*t as i64), Value::Null]);
        }
        assert!(
            st.rows[0].is_empty() && st.expiry.is_empty(),
            "{steps:?}: state freed"
        );
    }
}

/// Permutations of one key's rows, with matches for some: every left row comes out
/// exactly once, as pairs or padded, and no row outlives the end.
#[test]
fn every_left_row_is_paired_or_padded_exactly_once() {
    let times = [100u64, 1_500, 900, 2_950, 2_000, 4_100, 3_000, 50];
    let mut orders: Vec<Vec<u64>> = vec![times.to_vec()];
    let mut rev = times.to_vec();
    rev.reverse();
    orders.push(rev);
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    orders.push(sorted);
    for order in orders {
        let mut st = state(JoinKind::Left, 0, 500, 300);
        let mut out: Vec<JoinedRow> = Vec::new();
        for t in &order {
            st.insert(row("k", *t), true, &mut |p| out.push(p));
        }
        // One right row at 1000 matches left rows in [500, 1000]: only 900.
        st.insert(row("k", 1_000), false, &mut |p| out.push(p));
        let mut padded = Vec::new();
        for f in [1_000, 2_500, 3_000, 3_700, u64::MAX] {
            st.expire(f, &mut padded);
        }
        out.extend(padded.into_iter().map(|(_, r)| r));
        let mut lefts: Vec<i64> = out
            .iter()
            .map(|r| match r[0] {
                Value::Int(t) => t,
                ref v => panic!("{v:?}"),
            })
            .collect();
        lefts.sort_unstable();
        let mut want: Vec<i64> = times.iter().map(|t| *t as i64).collect();
        want.sort_unstable();
        assert_eq!(lefts, want, "{order:?}");
        let matched: Vec<&JoinedRow> = out.iter().filter(|r| r[1] != Value::Null).collect();
        assert_eq!(
            matched,
            vec![&vec![Value::Int(900), Value::Int(1_000)]],
            "{order:?}"
        );
        assert!(st.rows.iter().all(HashMap::is_empty), "{order:?}");
    }
}
