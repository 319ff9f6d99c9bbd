//! Numeric functions (`POWER`, `SQRT`, `LN`, `LOG10`, `EXP`, `SIGN`), `GREATEST` / `LEAST`
//! and `TIMESTAMPDIFF`, as Flink has them, but NULL where Flink gives NaN or an infinity
//! (`SQRT(-1)`, `LN(0)`, `EXP(1000)`): a feature value must stay valid JSON.

use chrono::{DateTime, Datelike, Months, NaiveDateTime};
use serde::Serialize;

use crate::types::Value;

use super::eval::compare;
use super::{BinOp, Expr};

/// The functions of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MathFunc {
    /// `POWER(a, b)`: `a` to the power `b`, a float.
    Power,
    /// `SQRT(x)`.
    Sqrt,
    /// `LN(x)`: the natural logarithm.
    Ln,
    /// `LOG10(x)`.
    Log10,
    /// `EXP(x)`: e to the power `x`.
    Exp,
    /// `SIGN(x)`: -1, 0 or 1, of `x`'s type.
    Sign,
    /// `GREATEST(a, b, ...)`: NULL if any argument is.
    Greatest,
    /// `LEAST(a, b, ...)`: NULL if any argument is.
    Least,
    /// `TIMESTAMPDIFF(unit, t1, t2)`: args `[t1, t2]`, whole units from `t1` to `t2`.
    TimestampDiff(DiffUnit),
}

/// The units of `TIMESTAMPDIFF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum DiffUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl DiffUnit {
    /// Looks a unit up by SQL name (singular, as Flink writes them).
    pub fn from_name(name: &str) -> Option<DiffUnit> {
        Some(match name.to_ascii_uppercase().as_str() {
            "SECOND" => DiffUnit::Second,
            "MINUTE" => DiffUnit::Minute,
            "HOUR" => DiffUnit::Hour,
            "DAY" => DiffUnit::Day,
            "WEEK" => DiffUnit::Week,
            "MONTH" => DiffUnit::Month,
            "QUARTER" => DiffUnit::Quarter,
            "YEAR" => DiffUnit::Year,
            _ => return None,
        })
    }

    /// SQL name.
    pub fn name(self) -> &'static str {
        match self {
            DiffUnit::Second => "SECOND",
            DiffUnit::Minute => "MINUTE",
            DiffUnit::Hour => "HOUR",
            DiffUnit::Day => "DAY",
            DiffUnit::Week => "WEEK",
            DiffUnit::Month => "MONTH",
            DiffUnit::Quarter => "QUARTER",
            DiffUnit::Year => "YEAR",
        }
    }
}

impl MathFunc {
    /// Looks a function up by SQL name (TIMESTAMPDIFF, whose first argument is a unit, is
    /// looked up where it is parsed).
    pub fn from_name(name: &str) -> Option<MathFunc> {
        Some(match name.to_ascii_uppercase().as_str() {
            "POWER" | "POW" => MathFunc::Power,
            "SQRT" => MathFunc::Sqrt,
            "LN" => MathFunc::Ln,
            "LOG10" => MathFunc::Log10,
            "EXP" => MathFunc::Exp,
            "SIGN" => MathFunc::Sign,
            "GREATEST" => MathFunc::Greatest,
            "LEAST" => MathFunc::Least,
            _ => return None,
        })
    }

    /// SQL name.
    pub fn name(self) -> &'static str {
        match self {
            MathFunc::Power => "POWER",
            MathFunc::Sqrt => "SQRT",
            MathFunc::Ln => "LN",
            MathFunc::Log10 => "LOG10",
            MathFunc::Exp => "EXP",
            MathFunc::Sign => "SIGN",
            MathFunc::Greatest => "GREATEST",
            MathFunc::Least => "LEAST",
            MathFunc::TimestampDiff(_) => "TIMESTAMPDIFF",
        }
    }
}

/// A float result, NULL when it is NaN or infinite.
pub(super) fn finite(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

/// Evaluates a call on a row; NULL in, NULL out.
pub(super) fn eval(func: MathFunc, args: &[Expr], row: &[Value]) -> Value {
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        match a.eval(row) {
            Value::Null => return Value::Null,
            v => values.push(v),
        }
    }
    let num = |i: usize| values.get(i).and_then(Value::as_f64);
    match func {
        MathFunc::Power => match (num(0), num(1)) {
            (Some(a), Some(b)) => finite(a.powf(b)),
            _ => Value::Null,
        },
        MathFunc::Sqrt => num(0).map_or(Value::Null, |x| finite(x.sqrt())),
        MathFunc::Ln => num(0).map_or(Value::Null, |x| finite(x.ln())),
        MathFunc::Log10 => num(0).map_or(Value::Null, |x| finite(x.log10())),
        MathFunc::Exp => num(0).map_or(Value::Null, |x| finite(x.exp())),
        MathFunc::Sign => match values.first() {
            Some(Value::Int(i)) => Value::Int(i.signum()),
            // `f64::signum(0.0)` is 1.0; SQL's (Java's `Math.signum`) is the zero itself.
            Some(Value::Float(f)) if *f == 0.0 => Value::Float(*f),
            Some(Value::Float(f)) => finite(f.signum()),
            _ => Value::Null,
        },
        MathFunc::Greatest | MathFunc::Least => {
            let op = if func == MathFunc::Greatest {
                BinOp::Gt
            } else {
                BinOp::Lt
            };
            let mut it = values.into_iter();
            let Some(mut best) = it.next() else {
                return Value::Null;
            };
            for v in it {
                if compare(op, &v, &best) {
                    best = v;
                }
            }
            best
        }
        MathFunc::TimestampDiff(unit) => match (values.first(), values.get(1)) {
            (Some(Value::Ts(a)), Some(Value::Ts(b))) => {
                timestamp_diff(unit, *a, *b).map_or(Value::Null, Value::Int)
            }
            _ => Value::Null,
        },
    }
}

/// Whole `unit`s from `t1` to `t2` (epoch ms, UTC), truncated toward zero: negative when
/// `t2` is before `t1`. Months, quarters and years count calendar months: the largest `m`
/// with `t1 + m months <= t2` (a day past the end of a month is its last day, so Jan 31 +
/// 1 month is Feb 28 or 29). None when out of range.
pub fn timestamp_diff(unit: DiffUnit, t1: i64, t2: i64) -> Option<i64> {
    let ms = match unit {
        DiffUnit::Second => 1_000,
        DiffUnit::Minute => 60_000,
        DiffUnit::Hour => 3_600_000,
        DiffUnit::Day => 86_400_000,
        DiffUnit::Week => 7 * 86_400_000,
        DiffUnit::Month => return months_between(t1, t2),
        DiffUnit::Quarter => return months_between(t1, t2).map(|m| m / 3),
        DiffUnit::Year => return months_between(t1, t2).map(|m| m / 12),
    };
    // Rust's integer division truncates toward zero.
    t2.checked_sub(t1).map(|d| d / ms)
}

fn months_between(t1: i64, t2: i64) -> Option<i64> {
    if t2 < t1 {
        return months_between(t2, t1).map(|m| -m);
    }
    let at = |t: i64| DateTime::from_timestamp_millis(t).map(|d| d.naive_utc());
    let (a, b): (NaiveDateTime, NaiveDateTime) = (at(t1)?, at(t2)?);
    let mut m = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month())
        - i64::from(a.month());
    // `a + m months` is in `b`'s month: past `b` by its day or time, one month fewer is not.
    let shifted = a.checked_add_months(Months::new(u32::try_from(m).ok()?));
    if shifted.is_none_or(|s| s > b) {
        m -= 1;
    }
    Some(m)
}
