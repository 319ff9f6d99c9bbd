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
    /// AVG: sum and count of non-null values.
    Avg(f64, i64),
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
            Acc::Avg(s, n) => {
                *s += v.as_f64().unwrap_or(0.0);
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
            Acc::SumFloat(s) => s.map(Value::Float).unwrap_or(Value::Null),
            Acc::Avg(_, 0) => Value::Null,
            Acc::Avg(s, n) => Value::Float(*s / *n as f64),
            Acc::Min(v) | Acc::Max(v) => v.clone(),
            Acc::Distinct(set) => Value::Int(set.len() as i64),
        }
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
