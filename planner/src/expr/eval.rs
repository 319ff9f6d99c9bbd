//! Evaluating expressions: operators with SQL's three-valued logic, arithmetic that yields
//! NULL rather than failing, LIKE, casts and scalar function calls.

use std::cmp::Ordering;

use compact_str::{CompactString, ToCompactString};

use crate::scalar::{self};
use crate::types::{DataType, Value};

use super::{BinOp, Expr, Func};

pub(super) fn binary(op: BinOp, left: &Expr, right: &Expr, row: &[Value]) -> Value {
    use BinOp::*;
    // Three-valued logic with short-circuit.
    if op == And || op == Or {
        let l = left.eval(row);
        if op == And && l == Value::Bool(false) || op == Or && l == Value::Bool(true) {
            return l;
        }
        let r = right.eval(row);
        return match (op, &l, &r) {
            (And, _, Value::Bool(false)) => Value::Bool(false),
            (Or, _, Value::Bool(true)) => Value::Bool(true),
            (_, Value::Bool(a), Value::Bool(b)) => {
                Value::Bool(if op == And { *a && *b } else { *a || *b })
            }
            _ => Value::Null,
        };
    }
    let (l, r) = (left.eval(row), right.eval(row));
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    match op {
        Eq | NotEq | Lt | LtEq | Gt | GtEq => Value::Bool(compare(op, &l, &r)),
        Add | Sub | Mul | Div | Mod => arith(op, l, r),
        And | Or => unreachable!("handled above"),
    }
}

/// A SQL comparison (`=`, `<>`, `<`, `<=`, `>`, `>=`) of two non-NULL values; BETWEEN,
/// IN and simple CASE compare with it too.
///
/// When either side is a float, both compare as IEEE doubles, like Flink's comparison
/// of primitive doubles: `-0.0 = 0.0`, and NaN is unordered, so every comparison with
/// NaN is false except `<>`, which is true (also `NaN <> NaN`). This is deliberately
/// not [`Value`]'s `Ord`/`Eq`, which order floats by `total_cmp` (`-0.0 < 0.0`, NaN
/// equal to itself) so that values can be grouping keys and be sorted.
pub(super) fn compare(op: BinOp, l: &Value, r: &Value) -> bool {
    let ord = match (l, r) {
        (Value::Float(_), _) | (_, Value::Float(_)) => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => Some(l.cmp(r)),
        },
        _ => Some(l.cmp(r)),
    };
    use Ordering::*;
    match op {
        BinOp::Eq => ord == Some(Equal),
        BinOp::NotEq => ord != Some(Equal),
        BinOp::Lt => ord == Some(Less),
        BinOp::LtEq => matches!(ord, Some(Less | Equal)),
        BinOp::Gt => ord == Some(Greater),
        BinOp::GtEq => matches!(ord, Some(Greater | Equal)),
        _ => unreachable!("not a comparison: {op:?}"),
    }
}

fn arith(op: BinOp, l: Value, r: Value) -> Value {
    use BinOp::*;
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => {
            int_arith(op, a, b).map(Value::Int).unwrap_or(Value::Null)
        }
        (Value::Ts(a), Value::Int(b)) if matches!(op, Add | Sub) => {
            int_arith(op, a, b).map(Value::Ts).unwrap_or(Value::Null)
        }
        (Value::Int(a), Value::Ts(b)) if op == Add => Value::Ts(a.wrapping_add(b)),
        (Value::Ts(a), Value::Ts(b)) if op == Sub => Value::Int(a.wrapping_sub(b)),
        (l, r) => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => {
                let v = match op {
                    Add => a + b,
                    Sub => a - b,
                    Mul => a * b,
                    Div if b == 0.0 => return Value::Null,
                    Div => a / b,
                    Mod if b == 0.0 => return Value::Null,
                    Mod => a % b,
                    _ => return Value::Null,
                };
                // An overflow (or NaN) is NULL, as every float result.
                super::math::finite(v)
            }
            _ => Value::Null,
        },
    }
}

fn int_arith(op: BinOp, a: i64, b: i64) -> Option<i64> {
    use BinOp::*;
    match op {
        Add => a.checked_add(b),
        Sub => a.checked_sub(b),
        Mul => a.checked_mul(b),
        Div => a.checked_div(b),
        // `i64::MIN % -1` is 0 (only the quotient overflows); `checked_rem` says None.
        Mod if b == -1 => Some(0),
        Mod => a.checked_rem(b),
        _ => None,
    }
}

/// SQL LIKE: `%` any run, `_` one character; every other pattern character matches
/// itself. A `%` or `_` in the pattern is always a wildcard, even where the subject has
/// the same character (there is no ESCAPE).
pub(super) fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        // `%` first: it must not be taken for a literal match of a `%` in the subject.
        if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// A string as an integer, as Flink's `toLong`: an optional sign and digits, or a decimal
/// number whose fraction is dropped (`'1.5'` is 1, `'-2.9'` is -2; found by QA: it was
/// NULL).
fn str_to_int(t: &str) -> Option<i64> {
    if let Ok(i) = t.parse() {
        return Some(i);
    }
    let (whole, fraction) = t.split_once('.')?;
    let digits = whole.trim_start_matches(['+', '-']);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| whole.parse().ok()).flatten()
}

/// Converts a value to a type; NULL when it does not convert.
pub fn cast(v: Value, to: DataType) -> Value {
    match (v, to) {
        (Value::Null, _) => Value::Null,
        (v @ Value::Str(_), DataType::String)
        | (v @ Value::Int(_), DataType::Int)
        | (v @ Value::Float(_), DataType::Float)
        | (v @ Value::Bool(_), DataType::Bool)
        | (v @ Value::Ts(_), DataType::Timestamp)
        | (v @ Value::List(_), DataType::Array) => v,
        (Value::Int(i), DataType::Float) => Value::Float(i as f64),
        (Value::Float(f), DataType::Int) if f.is_finite() => Value::Int(f.trunc() as i64),
        (Value::Int(i) | Value::Ts(i), DataType::Timestamp | DataType::Int) => {
            if to == DataType::Int {
                Value::Int(i)
            } else {
                Value::Ts(i)
            }
        }
        (Value::Bool(b), DataType::Int) => Value::Int(b as i64),
        (Value::Bool(b), DataType::Float) => Value::Float(if b { 1.0 } else { 0.0 }),
        (Value::Int(i), DataType::Bool) => Value::Bool(i != 0),
        (Value::Ts(t), DataType::Float) => Value::Float(t as f64),
        (Value::Str(s), DataType::Int) => str_to_int(s.trim()).map_or(Value::Null, Value::Int),
        // `NaN`, `inf` and numbers past the largest double are NULL, not a value that
        // prints as null but counts.
        (Value::Str(s), DataType::Float) => {
            s.trim().parse().map_or(Value::Null, super::math::finite)
        }
        (Value::Str(s), DataType::Bool) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Value::Bool(true),
            "false" | "f" | "0" => Value::Bool(false),
            _ => Value::Null,
        },
        (Value::Str(s), DataType::Timestamp) => crate::types::parse_timestamp(&s)
            .map(Value::Ts)
            .unwrap_or(Value::Null),
        (v, DataType::String) => Value::Str(to_text(&v)),
        _ => Value::Null,
    }
}

/// Whether `CAST(x AS to)` is defined for an `x` of type `from` (checked at plan time; the
/// others are errors, not NULLs at run time): any type to and from `STRING` (an `ARRAY`
/// only to it); numbers, booleans and timestamps (epoch milliseconds) among themselves,
/// as Flink's cast rules allow them, less a float to a boolean or a timestamp and a boolean
/// to a timestamp, which Flink has no rule for.
pub fn cast_supported(from: DataType, to: DataType) -> bool {
    use DataType::*;
    match (from, to) {
        _ if from == to => true,
        (Array, String) => true,
        (Array, _) | (_, Array) => false,
        (String, _) | (_, String) => true,
        (Float, Bool | Timestamp) | (Bool, Timestamp) | (Timestamp, Bool) => false,
        (Int | Float | Bool | Timestamp, Int | Float | Bool | Timestamp) => true,
    }
}

/// A value as text (`CAST(x AS STRING)`, `CONCAT`), as Flink writes it: a float as Java's
/// `Double.toString`, a boolean as `TRUE` or `FALSE`, a timestamp as its epoch milliseconds.
fn to_text(v: &Value) -> CompactString {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) | Value::Ts(i) => i.to_compact_string(),
        Value::Float(f) => java_double(*f),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Null => CompactString::default(),
        Value::List(_) => v.to_json().into(),
    }
}

/// Java's `Double.toString`: the shortest digits that read back as `f`, written plainly
/// with at least one fractional digit when `1e-3 <= |f| < 1e7` (`100.0`, `0.001`), else as
/// `d.dddE±n` (`1.0E7`, `1.0E-4`); `NaN`, `Infinity`, `-0.0`. (Java picks the closest
/// two-digit decimal where one digit would do, which differs from padding with a zero only
/// for the smallest subnormals: Java writes `Double.MIN_VALUE` as `4.9E-324`, this
/// `5.0E-324`.)
pub(crate) fn java_double(f: f64) -> CompactString {
    use std::fmt::Write;
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}`: the shortest round-trip digits, `d[.ddd]e<exp>`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = CompactString::default();
    if f < 0.0 {
        out.push('-');
    }
    if (-3..7).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            (1..-exp).for_each(|_| out.push('0'));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            let (int, frac) = digits.split_at(digits.len().min(int_len));
            out.push_str(int);
            (int.len()..int_len).for_each(|_| out.push('0'));
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let _ = write!(
            out,
            "{first}.{}E{exp}",
            if rest.is_empty() { "0" } else { rest }
        );
    }
    out
}

pub(super) fn call(func: Func, args: &[Expr], row: &[Value]) -> Value {
    match func {
        Func::Coalesce => args
            .iter()
            .map(|a| a.eval(row))
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Func::ConcatWs => {
            let Some((sep, rest)) = args.split_first() else {
                return Value::Null;
            };
            let sep = match sep.eval(row) {
                Value::Null => return Value::Null,
                v => to_text(&v),
            };
            let mut out = CompactString::default();
            let mut first = true;
            for a in rest {
                let v = a.eval(row);
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push_str(&sep);
                }
                first = false;
                out.push_str(&to_text(&v));
            }
            Value::Str(out)
        }
        Func::Concat => {
            let mut out = CompactString::default();
            for a in args {
                match a.eval(row) {
                    Value::Null => return Value::Null,
                    v => out.push_str(&to_text(&v)),
                }
            }
            Value::Str(out)
        }
        Func::Lower | Func::Upper => match args.first().map(|a| a.eval(row)) {
            Some(Value::Str(s)) => Value::Str(if func == Func::Lower {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            }),
            _ => Value::Null,
        },
        Func::Length => match args.first().map(|a| a.eval(row)) {
            Some(Value::Str(s)) => Value::Int(s.chars().count() as i64),
            _ => Value::Null,
        },
        Func::Abs => match args.first().map(|a| a.eval(row)) {
            // `ABS(i64::MIN)` overflows: NULL, as `-i` (a wrapped value looks valid).
            Some(Value::Int(i)) => i.checked_abs().map_or(Value::Null, Value::Int),
            Some(Value::Float(f)) => Value::Float(f.abs()),
            _ => Value::Null,
        },
        Func::Floor | Func::Ceil | Func::Round => {
            // ROUND's digits (0 when absent); only ROUND has a second argument.
            let digits = match args.get(1).map(|a| a.eval(row)) {
                None => 0,
                Some(Value::Int(d)) => d,
                Some(_) => return Value::Null,
            };
            round(func, args.first().map(|a| a.eval(row)), digits)
        }
        Func::Math(m) => super::math::eval(m, args, row),
        _ => call_scalar(func, args, row),
    }
}

/// FLOOR, CEIL and ROUND (to `digits` decimal places) of a number.
fn round(func: Func, v: Option<Value>, digits: i64) -> Value {
    match v {
        Some(Value::Int(i)) if func == Func::Round => {
            scalar::round_int(i, digits).map_or(Value::Null, Value::Int)
        }
        Some(Value::Int(i)) => Value::Int(i),
        Some(Value::Float(f)) => Value::Float(match func {
            Func::Floor => f.floor(),
            Func::Ceil => f.ceil(),
            _ => scalar::round_float(f, digits),
        }),
        _ => Value::Null,
    }
}

/// The date/time and string functions of [`scalar`]; NULL in, NULL out.
fn call_scalar(func: Func, args: &[Expr], row: &[Value]) -> Value {
    let arg = |i: usize| args.get(i).map_or(Value::Null, |a| a.eval(row));
    let text = |v: Option<&str>| v.map_or(Value::Null, |s| Value::Str(s.into()));
    match (func, arg(0)) {
        (_, Value::Null) => Value::Null,
        (Func::DateFormat, Value::Ts(t)) => match arg(1) {
            Value::Str(p) => scalar::date_format(t, &p).map_or(Value::Null, Value::Str),
            _ => Value::Null,
        },
        (Func::FloorTo(u), Value::Ts(t)) => scalar::floor_to(t, u).map_or(Value::Null, Value::Ts),
        (Func::CeilTo(u), Value::Ts(t)) => scalar::ceil_to(t, u).map_or(Value::Null, Value::Ts),
        (Func::Extract(f), Value::Ts(t)) => scalar::extract(t, f).map_or(Value::Null, Value::Int),
        (Func::ToTimestampLtz, Value::Int(n)) => match arg(1) {
            Value::Int(0) => n.checked_mul(1000).map_or(Value::Null, Value::Ts),
            Value::Int(3) => Value::Ts(n),
            _ => Value::Null,
        },
        (Func::Substring, Value::Str(s)) => {
            let len = match args.get(2).map(|a| a.eval(row)) {
                None => None,
                Some(Value::Int(l)) => Some(l),
                Some(_) => return Value::Null,
            };
            match arg(1) {
                Value::Int(pos) => text(scalar::substring(&s, pos, len)),
                _ => Value::Null,
            }
        }
        (Func::Trim(side), Value::Str(s)) => match args.get(1).map(|a| a.eval(row)) {
            None => Value::Str(scalar::trim(&s, " ", side).into()),
            Some(Value::Str(chars)) => Value::Str(scalar::trim(&s, &chars, side).into()),
            Some(_) => Value::Null,
        },
        (Func::Replace, Value::Str(s)) => match (arg(1), arg(2)) {
            (Value::Str(from), Value::Str(to)) => Value::Str(s.replace(from.as_str(), &to).into()),
            _ => Value::Null,
        },
        (Func::Position, Value::Str(needle)) => match arg(1) {
            Value::Str(s) => Value::Int(scalar::position(&needle, &s)),
            _ => Value::Null,
        },
        (Func::SplitIndex, Value::Str(s)) => match (arg(1), arg(2)) {
            (Value::Str(sep), Value::Int(i)) => text(scalar::split_index(&s, &sep, i)),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{compare, like};
    use crate::expr::{BinOp, Expr};
    use crate::types::Value;

    /// LIKE by its definition, recursing on the pattern's first character (exponential,
    /// so only for short inputs): an independent reference for [`like`].
    fn like_reference(s: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|k| like_reference(&s[k..], rest)),
            Some(('_', rest)) => !s.is_empty() && like_reference(&s[1..], rest),
            Some((c, rest)) => s.first() == Some(c) && like_reference(&s[1..], rest),
        }
    }

    #[test]
    fn wildcards_in_the_pattern_match_wildcard_characters_in_the_subject() {
        assert!(like("a%c", "a%"));
        assert!(like("%x", "%"));
        assert!(like("50% off", "50%"));
        assert!(like("a%c", "a%c"));
        assert!(like("a_c", "a_c"));
        assert!(like("_", "_"));
        assert!(like("__x", "_%"));
        assert!(like("%%", "%"));
        assert!(like("a%b%c", "a%c"));
        assert!(!like("50% off", "50%x"));
        assert!(!like("_", "__"));
    }

    #[test]
    fn ilike_shares_the_wildcard_rules() {
        let ilike = |s: &str, p: &str| {
            Expr::Like {
                expr: Box::new(Expr::Literal(Value::Str(s.into()))),
                pattern: Box::new(Expr::Literal(Value::Str(p.into()))),
                negated: false,
                case_insensitive: true,
            }
            .eval(&[])
        };
        assert_eq!(ilike("50% OFF", "50%"), Value::Bool(true));
        assert_eq!(ilike("A%C", "a%"), Value::Bool(true));
        assert_eq!(ilike("A%C", "b%"), Value::Bool(false));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Subjects and patterns over an alphabet where the wildcards also occur as
        /// subject characters.
        #[test]
        fn like_agrees_with_the_reference(
            s in "[ab%_]{0,8}",
            p in "[ab%_]{0,6}",
        ) {
            let (sc, pc): (Vec<char>, Vec<char>) = (s.chars().collect(), p.chars().collect());
            prop_assert_eq!(like(&s, &p), like_reference(&sc, &pc), "{:?} LIKE {:?}", s, p);
        }
    }

    const COMPARISONS: [BinOp; 6] = [
        BinOp::Eq,
        BinOp::NotEq,
        BinOp::Lt,
        BinOp::LtEq,
        BinOp::Gt,
        BinOp::GtEq,
    ];

    /// Rust's primitive `f64` operators: IEEE 754 comparison, the reference for floats.
    fn ieee(op: BinOp, a: f64, b: f64) -> bool {
        match op {
            BinOp::Eq => a == b,
            BinOp::NotEq => a != b,
            BinOp::Lt => a < b,
            BinOp::LtEq => a <= b,
            BinOp::Gt => a > b,
            BinOp::GtEq => a >= b,
            _ => unreachable!(),
        }
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (-3i32..3).prop_map(f64::from),
            any::<f64>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn float_comparisons_are_ieee(a in float(), b in float(), i in -3i64..3) {
            for op in COMPARISONS {
                let (fa, fb) = (Value::Float(a), Value::Float(b));
                prop_assert_eq!(compare(op, &fa, &fb), ieee(op, a, b), "{} {:?} {}", a, op, b);
                prop_assert_eq!(compare(op, &Value::Int(i), &fb), ieee(op, i as f64, b));
                prop_assert_eq!(compare(op, &fa, &Value::Int(i)), ieee(op, a, i as f64));
            }
        }
    }

    fn lit(v: Value) -> Box<Expr> {
        Box::new(Expr::Literal(v))
    }

    #[test]
    fn negative_zero_equals_zero_in_between_in_and_case() {
        let neg = || lit(Value::Float(-0.0));
        let between = Expr::Between {
            expr: neg(),
            low: lit(Value::Int(0)),
            high: lit(Value::Int(1)),
            negated: false,
        };
        assert_eq!(between.eval(&[]), Value::Bool(true));
        let in_list = Expr::InList {
            expr: neg(),
            list: vec![Expr::Literal(Value::Float(0.0))],
            negated: false,
        };
        assert_eq!(in_list.eval(&[]), Value::Bool(true));
        let case = Expr::Case {
            operand: Some(neg()),
            whens: vec![(Expr::Literal(Value::Int(0)), Expr::Literal(Value::Int(1)))],
            otherwise: Some(lit(Value::Int(2))),
        };
        assert_eq!(case.eval(&[]), Value::Int(1));
        // Grouping and sorting keep the total order, where the two zeros differ.
        assert!(Value::Float(-0.0) < Value::Float(0.0));
    }

    /// Integer `+ - * / %` and `ABS` against 128-bit arithmetic (truncating division, as
    /// Java's): a result that does not fit 64 bits, or a division by zero, is NULL. Before,
    /// `ABS(i64::MIN)` was negative and `i64::MIN % -1` NULL (it is 0).
    #[test]
    fn integer_arithmetic_is_exact_or_null() {
        let edges = [
            i64::MIN,
            i64::MIN + 1,
            -7,
            -2,
            -1,
            0,
            1,
            2,
            7,
            i64::MAX - 1,
            i64::MAX,
        ];
        let fits = |r: Option<i128>| match r.map(i64::try_from) {
            Some(Ok(v)) => Value::Int(v),
            _ => Value::Null,
        };
        type Reference = fn(i128, i128) -> Option<i128>;
        let ops: [(BinOp, Reference); 5] = [
            (BinOp::Add, |a, b| Some(a + b)),
            (BinOp::Sub, |a, b| Some(a - b)),
            (BinOp::Mul, |a, b| Some(a * b)),
            (BinOp::Div, |a, b| (b != 0).then(|| a / b)),
            (BinOp::Mod, |a, b| (b != 0).then(|| a % b)),
        ];
        for a in edges {
            for b in edges {
                for (op, reference) in ops {
                    let e = Expr::Binary {
                        op,
                        left: lit(Value::Int(a)),
                        right: lit(Value::Int(b)),
                    };
                    let want = fits(reference(a.into(), b.into()));
                    assert_eq!(e.eval(&[]), want, "{a} {op:?} {b}");
                }
            }
            let abs = Expr::Call {
                func: crate::expr::Func::Abs,
                args: vec![Expr::Literal(Value::Int(a))],
            };
            assert_eq!(abs.eval(&[]), fits(Some(i128::from(a).abs())), "ABS({a})");
        }
    }

    /// Floats as text are Java's `Double.toString` (the values by hand, from the Java
    /// documentation's rules; Flink's cast is `"" + x`).
    #[test]
    fn floats_are_written_as_java_writes_doubles() {
        let cases: &[(f64, &str)] = &[
            (1e20, "1.0E20"),
            (1e-5, "1.0E-5"),
            (1e-7, "1.0E-7"),
            (1e7, "1.0E7"),
            (12_345_678.0, "1.2345678E7"),
            (9_999_999.0, "9999999.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (0.00123, "0.00123"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (-2.5, "-2.5"),
            (123_456.789, "123456.789"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (-1e-300, "-1.0E-300"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(super::java_double(*f), *want, "{f:e}");
            // What it writes reads back as the same float.
            if f.is_finite() {
                assert_eq!(
                    want.parse::<f64>().unwrap().to_bits(),
                    f.to_bits(),
                    "{want}"
                );
            }
        }
    }

    /// `v BETWEEN lo AND hi` is `v >= lo AND v <= hi`, and NOT BETWEEN `v < lo OR v > hi`,
    /// NULLs included: a NULL bound leaves its comparison unknown, which the other one can
    /// still decide (before, any NULL bound made BETWEEN NULL, and `WHERE x NOT BETWEEN lo
    /// AND hi` dropped rows outside the known bound).
    #[test]
    fn between_is_its_expansion_in_three_valued_logic() {
        let values = [
            Value::Null,
            Value::Int(1),
            Value::Int(5),
            Value::Int(9),
            Value::Float(5.0),
        ];
        let binary =
            |op, left: Box<Expr>, right: Box<Expr>| Box::new(Expr::Binary { op, left, right });
        for v in &values {
            for lo in &values {
                for hi in &values {
                    let (x, l, h) = (|| lit(v.clone()), || lit(lo.clone()), || lit(hi.clone()));
                    let inside = binary(
                        BinOp::And,
                        binary(BinOp::GtEq, x(), l()),
                        binary(BinOp::LtEq, x(), h()),
                    );
                    let outside = binary(
                        BinOp::Or,
                        binary(BinOp::Lt, x(), l()),
                        binary(BinOp::Gt, x(), h()),
                    );
                    for (negated, expansion) in [(false, &inside), (true, &outside)] {
                        let between = Expr::Between {
                            expr: x(),
                            low: l(),
                            high: h(),
                            negated,
                        };
                        assert_eq!(
                            between.eval(&[]),
                            expansion.eval(&[]),
                            "{v:?} {}BETWEEN {lo:?} AND {hi:?}",
                            if negated { "NOT " } else { "" }
                        );
                    }
                }
            }
        }
        // Hand-checked: the known side decides.
        let between = |negated| Expr::Between {
            expr: lit(Value::Int(7)),
            low: lit(Value::Null),
            high: lit(Value::Int(5)),
            negated,
        };
        assert_eq!(between(false).eval(&[]), Value::Bool(false));
        assert_eq!(between(true).eval(&[]), Value::Bool(true));
    }

    #[test]
    fn nan_is_neither_between_nor_outside_and_never_in_a_list() {
        let nan = || lit(Value::Float(f64::NAN));
        for negated in [false, true] {
            let between = Expr::Between {
                expr: nan(),
                low: lit(Value::Int(0)),
                high: lit(Value::Int(1)),
                negated,
            };
            assert_eq!(between.eval(&[]), Value::Bool(false), "negated: {negated}");
            let in_list = Expr::InList {
                expr: nan(),
                list: vec![Expr::Literal(Value::Float(f64::NAN))],
                negated,
            };
            assert_eq!(
                in_list.eval(&[]),
                Value::Bool(negated),
                "negated: {negated}"
            );
        }
    }
}
