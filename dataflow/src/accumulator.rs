//! Aggregate state per pane, mergeable so a window is the merge of its panes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use planner::aggregate::AggFunc;
use planner::types::{DataType, Value};

/// The state of one aggregate over one pane (or a merge of panes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Acc {
    /// COUNT(*), COUNT(x).
    Count(i64),
    /// SUM over ints (exact); `None` until a non-null value arrives.
    SumInt(Option<i64>),
    /// SUM over floats.
    SumFloat(Option<f64>),
    /// AVG over floats: sum and count of non-null values.
    Avg(f64, i64),
    /// AVG over ints: exact sum (so the value does not depend on the order of adding, or
    /// on the workers) and count of non-null values. An empty `Avg` becomes one when the
    /// first int comes (an AVG's values are all ints or all floats: one column's type).
    AvgInt(Sum128, i64),
    /// MIN.
    Min(Value),
    /// MAX.
    Max(Value),
    /// COUNT(DISTINCT x): the distinct non-null values.
    Distinct(BTreeSet<Value>),
}

impl Acc {
    /// Empty state for an aggregate.
    pub fn new(func: AggFunc, ty: DataType) -> Acc {
        match func {
            AggFunc::CountStar | AggFunc::Count => Acc::Count(0),
            AggFunc::Sum if ty == DataType::Int => Acc::SumInt(None),
            AggFunc::Sum => Acc::SumFloat(None),
            AggFunc::Avg => Acc::Avg(0.0, 0),
            AggFunc::Min => Acc::Min(Value::Null),
            AggFunc::Max => Acc::Max(Value::Null),
            AggFunc::CountDistinct => Acc::Distinct(BTreeSet::new()),
        }
    }

    /// Adds one input value (`star`: COUNT(*) counts rows, not values).
    #[inline]
    pub fn add(&mut self, v: &Value, star: bool) {
        if v.is_null() && !star {
            return;
        }
        match self {
            Acc::Count(n) => *n += 1,
            Acc::SumInt(s) => *s = Some(s.unwrap_or(0).wrapping_add(v.as_i64().unwrap_or(0))),
            Acc::SumFloat(s) => *s = Some(s.unwrap_or(0.0) + v.as_f64().unwrap_or(0.0)),
            Acc::Avg(_, 0) if matches!(v, Value::Int(_)) => {
                let mut sum = Sum128::default();
                sum.add(v.as_i64().unwrap_or(0));
                *self = Acc::AvgInt(sum, 1);
            }
            Acc::Avg(s, n) => {
                *s += v.as_f64().unwrap_or(0.0);
                *n += 1;
            }
            Acc::AvgInt(s, n) => {
                s.add(v.as_i64().unwrap_or(0));
                *n += 1;
            }
            Acc::Min(m) => {
                if m.is_null() || v < m {
                    *m = v.clone();
                }
            }
            Acc::Max(m) => {
                if m.is_null() || v > m {
                    *m = v.clone();
                }
            }
            Acc::Distinct(set) => {
                if !set.contains(v) {
                    set.insert(v.clone());
                }
            }
        }
    }

    /// Merges another pane's state into this one.
    pub fn merge(&mut self, other: &Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::SumInt(a), Acc::SumInt(b)) => {
                if let Some(b) = b {
                    *a = Some(a.unwrap_or(0).wrapping_add(*b));
                }
            }
            (Acc::SumFloat(a), Acc::SumFloat(b)) => {
                if let Some(b) = b {
                    *a = Some(a.unwrap_or(0.0) + b);
                }
            }
            (Acc::Avg(s, n), Acc::Avg(s2, n2)) => {
                *s += s2;
                *n += n2;
            }
            (Acc::AvgInt(s, n), Acc::AvgInt(s2, n2)) => {
                s.merge(s2);
                *n += n2;
            }
            // An empty AVG is either kind.
            (a @ Acc::Avg(_, 0), b @ Acc::AvgInt(..)) => *a = b.clone(),
            (Acc::AvgInt(..), Acc::Avg(_, 0)) => {}
            (Acc::Min(a), Acc::Min(b)) => {
                if !b.is_null() && (a.is_null() || b < a) {
                    *a = b.clone();
                }
            }
            (Acc::Max(a), Acc::Max(b)) => {
                if !b.is_null() && (a.is_null() || b > a) {
                    *a = b.clone();
                }
            }
            (Acc::Distinct(a), Acc::Distinct(b)) => a.extend(b.iter().cloned()),
            (a, b) => unreachable!("merging different aggregates {a:?} and {b:?}"),
        }
    }

    /// The aggregate's value.
    pub fn value(&self) -> Value {
        match self {
            Acc::Count(n) => Value::Int(*n),
            Acc::SumInt(s) => s.map(Value::Int).unwrap_or(Value::Null),
            // A float sum past the largest double is NULL, as any non-finite result.
            Acc::SumFloat(s) => s.map_or(Value::Null, finite),
            Acc::Avg(_, 0) | Acc::AvgInt(_, 0) => Value::Null,
            Acc::Avg(s, n) => finite(*s / *n as f64),
            Acc::AvgInt(s, n) => finite(s.to_f64() / *n as f64),
            Acc::Min(v) | Acc::Max(v) => v.clone(),
            Acc::Distinct(set) => Value::Int(set.len() as i64),
        }
    }
}

/// A float value, NULL when it is NaN or infinite (as every float result: the file sink
/// would write `null`, and NULL is what SQL after it must see).
fn finite(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

/// An exact sum of i64 values, as a 128-bit two's-complement number in two 8-byte halves
/// (an `i128` would make every `Acc` 16-byte aligned, and larger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum128 {
    hi: i64,
    lo: u64,
}

impl Sum128 {
    /// Adds `x`.
    pub fn add(&mut self, x: i64) {
        self.merge(&Sum128 {
            hi: if x < 0 { -1 } else { 0 },
            lo: x as u64,
        });
    }

    /// Adds another sum.
    pub fn merge(&mut self, o: &Sum128) {
        let (lo, carry) = self.lo.overflowing_add(o.lo);
        self.lo = lo;
        self.hi = self.hi.wrapping_add(o.hi).wrapping_add(carry as i64);
    }

    /// The sum, rounded once to the nearest double.
    pub fn to_f64(self) -> f64 {
        (((self.hi as i128) << 64) | self.lo as i128) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_panes_equals_adding_everything_once() {
        let vals = [
            Value::Int(3),
            Value::Null,
            Value::Int(-1),
            Value::Int(3),
            Value::Int(7),
        ];
        for (func, ty) in [
            (AggFunc::CountStar, DataType::Int),
            (AggFunc::Count, DataType::Int),
            (AggFunc::Sum, DataType::Int),
            (AggFunc::Avg, DataType::Float),
            (AggFunc::Min, DataType::Int),
            (AggFunc::Max, DataType::Int),
            (AggFunc::CountDistinct, DataType::Int),
        ] {
            let star = func == AggFunc::CountStar;
            let mut whole = Acc::new(func, ty);
            vals.iter().for_each(|v| whole.add(v, star));
            let (mut a, mut b) = (Acc::new(func, ty), Acc::new(func, ty));
            vals[..2].iter().for_each(|v| a.add(v, star));
            vals[2..].iter().for_each(|v| b.add(v, star));
            a.merge(&b);
            assert_eq!(a.value(), whole.value(), "{func:?}");
        }
    }

    /// Found by QA: AVG over ints added them up as doubles, so large values that cancel
    /// lost the small ones (and the result depended on the order of adding, hence on the
    /// workers). The sum is exact now: one rounding, at the end.
    #[test]
    fn avg_of_ints_is_exact_in_any_order_and_merge() {
        let vals = [i64::MAX, 1, -i64::MAX, i64::MIN, 5, i64::MAX];
        let want =
            (i64::MAX as i128 + 1 - i64::MAX as i128 + i64::MIN as i128 + 5 + i64::MAX as i128)
                as f64
                / 6.0;
        let mut order: Vec<i64> = vals.to_vec();
        for round in 0..vals.len() {
            order.rotate_left(1);
            let mut whole = Acc::new(AggFunc::Avg, DataType::Float);
            order.iter().for_each(|v| whole.add(&Value::Int(*v), false));
            assert_eq!(whole.value(), Value::Float(want), "{order:?}");
            // Panes merged, the empty one on either side.
            let (mut a, mut b) = (
                Acc::new(AggFunc::Avg, DataType::Float),
                Acc::new(AggFunc::Avg, DataType::Float),
            );
            order[..round]
                .iter()
                .for_each(|v| a.add(&Value::Int(*v), false));
            order[round..]
                .iter()
                .for_each(|v| b.add(&Value::Int(*v), false));
            a.merge(&b);
            assert_eq!(a.value(), Value::Float(want), "{order:?} split at {round}");
        }
        let mut three = Acc::new(AggFunc::Avg, DataType::Float);
        for v in [i64::MAX, 1, -i64::MAX] {
            three.add(&Value::Int(v), false);
        }
        assert_eq!(three.value(), Value::Float(1.0 / 3.0));
    }

    /// Found by QA: a float sum past the largest double was written as `null` but was
    /// infinite for the SQL after it (`IS NULL` false, COALESCE not applied).
    #[test]
    fn float_sums_past_the_largest_double_are_null() {
        for func in [AggFunc::Sum, AggFunc::Avg] {
            let mut acc = Acc::new(func, DataType::Float);
            acc.add(&Value::Float(f64::MAX), false);
            acc.add(&Value::Float(f64::MAX), false);
            assert_eq!(acc.value(), Value::Null, "{func:?}");
        }
    }

    #[test]
    fn empty_aggregates_follow_sql() {
        assert_eq!(Acc::new(AggFunc::Sum, DataType::Int).value(), Value::Null);
        assert_eq!(
            Acc::new(AggFunc::Count, DataType::Int).value(),
            Value::Int(0)
        );
        assert_eq!(Acc::new(AggFunc::Avg, DataType::Float).value(), Value::Null);
    }
}
