//! Sliding OVER frames: aggregates over a window of a partition's rows that moves forward
//! (rows enter at the end, leave at the start), updated per row entering or leaving instead
//! of recomputed from the whole frame.
//!
//! Each aggregate's value equals [`Acc`] over the window's rows in order, exactly:
//! COUNT and integer SUM add and subtract (wrapping, as `Acc`); AVG keeps an exact integer
//! sum while every value is an integer and the sum of magnitudes stays within 2^53 (then
//! `Acc`'s float additions are all exact too), and otherwise asks for a recomputation; float
//! SUM always does (float additions do not invert); MIN and MAX keep a monotonic deque (the
//! earliest of equal extremes wins, as in `Acc`); COUNT(DISTINCT) counts values.
//!
//! Rows are named by absolute index (position in the partition since it began), so the
//! window survives evictions at the partition's front.

use std::collections::{BTreeMap, VecDeque};

use planner::aggregate::AggFunc;
use planner::types::{DataType, Value};

/// One aggregate's running state over the window.
#[derive(Debug)]
pub(crate) enum SlideAgg {
    /// COUNT(*) (`star`) or COUNT(x).
    Count { star: bool, n: i64 },
    /// SUM over ints: wrapping sum and count of non-null values.
    SumInt { sum: i64, n: i64 },
    /// AVG: exact sum, sum of magnitudes, count of non-null values, and how many of them
    /// are not integers.
    Avg {
        sum: i128,
        magnitude: u128,
        n: i64,
        inexact: i64,
    },
    /// MIN (`max == false`) or MAX: (index, value) with values monotonic from the front.
    Extreme {
        max: bool,
        deque: VecDeque<(u64, Value)>,
    },
    /// COUNT(DISTINCT x): occurrences per value.
    Distinct(BTreeMap<Value, u32>),
    /// Float SUM: recomputed from the frame.
    Recompute,
}

/// Largest integer up to which every integer is an exact f64.
const EXACT: u128 = 1 << 53;

impl SlideAgg {
    /// The empty state of an aggregate (`star`: COUNT(*)).
    pub(crate) fn new(func: AggFunc, ty: DataType, star: bool) -> SlideAgg {
        match func {
            AggFunc::CountStar | AggFunc::Count => SlideAgg::Count { star, n: 0 },
            AggFunc::Sum if ty == DataType::Int => SlideAgg::SumInt { sum: 0, n: 0 },
            AggFunc::Sum => SlideAgg::Recompute,
            AggFunc::Avg => SlideAgg::Avg {
                sum: 0,
                magnitude: 0,
                n: 0,
                inexact: 0,
            },
            AggFunc::Min => SlideAgg::Extreme {
                max: false,
                deque: VecDeque::new(),
            },
            AggFunc::Max => SlideAgg::Extreme {
                max: true,
                deque: VecDeque::new(),
            },
            AggFunc::CountDistinct => SlideAgg::Distinct(BTreeMap::new()),
        }
    }

    /// Row `index` (the window's new last row) enters with value `v`.
    pub(crate) fn add(&mut self, index: u64, v: &Value) {
        if let SlideAgg::Count { star, n } = self {
            if *star || !v.is_null() {
                *n += 1;
            }
            return;
        }
        if v.is_null() {
            return;
        }
        match self {
            SlideAgg::Count { .. } | SlideAgg::Recompute => {}
            SlideAgg::SumInt { sum, n } => {
                *sum = sum.wrapping_add(v.as_i64().unwrap_or(0));
                *n += 1;
            }
            SlideAgg::Avg {
                sum,
                magnitude,
                n,
                inexact,
            } => {
                *n += 1;
                match v {
                    Value::Int(i) | Value::Ts(i) => {
                        *sum += *i as i128;
                        *magnitude += i.unsigned_abs() as u128;
                    }
                    _ => *inexact += 1,
                }
            }
            SlideAgg::Extreme { max, deque } => {
                // Drop the values the new one beats for good (strictly: of equal values the
                // earliest is the aggregate's value, as in `Acc`).
                while deque
                    .back()
                    .is_some_and(|(_, b)| if *max { b < v } else { b > v })
                {
                    deque.pop_back();
                }
                deque.push_back((index, v.clone()));
            }
            SlideAgg::Distinct(counts) => {
                if let Some(c) = counts.get_mut(v) {
                    *c += 1;
                } else {
                    counts.insert(v.clone(), 1);
                }
            }
        }
    }

    /// Row `index` (the window's first row) leaves; `v` is its value.
    pub(crate) fn remove(&mut self, index: u64, v: &Value) {
        if let SlideAgg::Count { star, n } = self {
            if *star || !v.is_null() {
                *n -= 1;
            }
            return;
        }
        if v.is_null() {
            return;
        }
        match self {
            SlideAgg::Count { .. } | SlideAgg::Recompute => {}
            SlideAgg::SumInt { sum, n } => {
                *sum = sum.wrapping_sub(v.as_i64().unwrap_or(0));
                *n -= 1;
            }
            SlideAgg::Avg {
                sum,
                magnitude,
                n,
                inexact,
            } => {
                *n -= 1;
                match v {
                    Value::Int(i) | Value::Ts(i) => {
                        *sum -= *i as i128;
                        *magnitude -= i.unsigned_abs() as u128;
                    }
                    _ => *inexact -= 1,
                }
            }
            SlideAgg::Extreme { deque, .. } => {
                if deque.front().is_some_and(|(i, _)| *i == index) {
                    deque.pop_front();
                }
            }
            SlideAgg::Distinct(counts) => {
                if let Some(c) = counts.get_mut(v) {
                    *c -= 1;
                    if *c == 0 {
                        counts.remove(v);
                    }
                }
            }
        }
    }

    /// The aggregate over the window, or `None` when it must be recomputed from the rows.
    pub(crate) fn value(&self) -> Option<Value> {
        Some(match self {
            SlideAgg::Count { n, .. } => Value::Int(*n),
            SlideAgg::SumInt { n: 0, .. } => Value::Null,
            SlideAgg::SumInt { sum, .. } => Value::Int(*sum),
            SlideAgg::Avg { n: 0, .. } => Value::Null,
            SlideAgg::Avg {
                sum,
                magnitude,
                n,
                inexact,
            } => {
                if *inexact > 0 || *magnitude > EXACT {
                    return None;
                }
                Value::Float(*sum as f64 / *n as f64)
            }
            SlideAgg::Extreme { deque, .. } => {
                deque.front().map_or(Value::Null, |(_, v)| v.clone())
            }
            SlideAgg::Distinct(counts) => Value::Int(counts.len() as i64),
            SlideAgg::Recompute => return None,
        })
    }
}

/// The aggregates of one partition over the window `lo..hi` (absolute row indices).
#[derive(Debug)]
pub(crate) struct Sliding {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
    pub(crate) aggs: Vec<SlideAgg>,
}

impl Sliding {
    /// An empty window at `at`.
    pub(crate) fn new(at: u64, aggs: Vec<SlideAgg>) -> Sliding {
        Sliding {
            lo: at,
            hi: at,
            aggs,
        }
    }

    /// Whether the window can move to `lo..hi` (forward only, overlapping or adjacent);
    /// otherwise it is rebuilt from an empty window at `lo`.
    pub(crate) fn reaches(&self, lo: u64, hi: u64) -> bool {
        lo >= self.lo && hi >= self.hi && lo <= self.hi
    }

    /// Moves the window to `lo..hi` (see [`Sliding::reaches`]); `value(index, agg)` reads
    /// a row's value.
    pub(crate) fn slide<'a>(&mut self, lo: u64, hi: u64, value: impl Fn(u64, usize) -> &'a Value) {
        debug_assert!(self.reaches(lo, hi));
        for i in self.hi..hi {
            for (a, agg) in self.aggs.iter_mut().enumerate() {
                agg.add(i, value(i, a));
            }
        }
        for i in self.lo..lo {
            for (a, agg) in self.aggs.iter_mut().enumerate() {
                agg.remove(i, value(i, a));
            }
        }
        self.lo = lo;
        self.hi = hi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accumulator::Acc;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (-5i64..5).prop_map(Value::Int),
            (-3i64..3).prop_map(|i| Value::Float(i as f64 * 0.5)),
            (-2i64..2).prop_map(Value::Ts),
            prop_oneof![
                Just(i64::MAX),
                Just(i64::MIN),
                Just(1 << 52),
                Just(-(1 << 52))
            ]
            .prop_map(Value::Int),
        ]
    }

    fn funcs() -> Vec<(AggFunc, DataType, bool)> {
        vec![
            (AggFunc::CountStar, DataType::Int, true),
            (AggFunc::Count, DataType::Int, false),
            (AggFunc::Sum, DataType::Int, false),
            (AggFunc::Sum, DataType::Float, false),
            (AggFunc::Avg, DataType::Float, false),
            (AggFunc::Min, DataType::Int, false),
            (AggFunc::Max, DataType::Int, false),
            (AggFunc::CountDistinct, DataType::Int, false),
        ]
    }

    /// The naive value: `Acc` over the window's rows in order.
    fn direct(f: AggFunc, ty: DataType, star: bool, rows: &[Value]) -> Value {
        let mut acc = Acc::new(f, ty);
        for v in rows {
            acc.add(v, star);
        }
        acc.value()
    }

    /// Compares values including the variant (Int 1 and Float 1.0 compare equal as
    /// values, but the sliding value must be the very value `Acc` gives).
    fn same(a: &Value, b: &Value) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random forward moves of the window (growing, shrinking, jumping, emptying,
        /// rebuilding when it cannot reach): every aggregate equals the direct computation.
        #[test]
        fn sliding_aggregates_equal_direct_computation(
            rows in proptest::collection::vec(value(), 1..60),
            moves in proptest::collection::vec((0usize..8, 0usize..8), 1..40),
        ) {
            let n = rows.len() as u64;
            let fs = funcs();
            let new_aggs = || fs.iter().map(|(f, t, s)| SlideAgg::new(*f, *t, *s)).collect();
            let mut w = Sliding::new(0, new_aggs());
            let (mut lo, mut hi) = (0u64, 0u64);
            for (dl, dh) in moves {
                hi = (hi + dh as u64).min(n);
                lo = (lo + dl as u64).min(hi);
                if !w.reaches(lo, hi) {
                    w = Sliding::new(lo, new_aggs());
                }
                w.slide(lo, hi, |i, _| &rows[i as usize]);
                let frame = &rows[lo as usize..hi as usize];
                for ((f, t, s), agg) in fs.iter().zip(&w.aggs) {
                    let want = direct(*f, *t, *s, frame);
                    match agg.value() {
                        Some(got) => prop_assert!(same(&got, &want), "{f:?} over {frame:?}: {got:?} != {want:?}"),
                        None => prop_assert!(matches!(f, AggFunc::Sum | AggFunc::Avg), "{f:?} asked for a recomputation"),
                    }
                }
            }
        }
    }

    /// AVG over integers slides without recomputation while exact, and asks for one
    /// when a float is in the window or the magnitudes exceed 2^53.
    #[test]
    fn avg_recomputes_only_when_inexact() {
        let mut a = SlideAgg::new(AggFunc::Avg, DataType::Float, false);
        a.add(0, &Value::Int(3));
        a.add(1, &Value::Int(4));
        assert!(same(&a.value().unwrap(), &Value::Float(3.5)));
        a.add(2, &Value::Float(1.0));
        assert_eq!(a.value(), None);
        a.remove(0, &Value::Int(3));
        a.remove(1, &Value::Int(4));
        a.remove(2, &Value::Float(1.0));
        assert!(same(&a.value().unwrap(), &Value::Null));
        a.add(3, &Value::Int(1 << 53));
        assert!(a.value().is_some());
        a.add(4, &Value::Int(1));
        assert_eq!(a.value(), None);
    }
}
