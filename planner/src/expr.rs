//! Scalar expressions: typed at plan time, plain data afterwards, evaluated per row.
//!
//! Column references are indices into the row the expression is evaluated against
//! (a source row, or the output row of a window aggregate); names ride along for EXPLAIN.

use std::fmt;

use compact_str::{CompactString, ToCompactString};
use serde::Serialize;

use crate::scalar::{self, TimeField, TimeUnit, TrimSide};
use crate::types::{DataType, Value};

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// Logical NOT.
    Not,
    /// Arithmetic negation.
    Neg,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Eq => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            And => "AND",
            Or => "OR",
        }
    }
}

/// Scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum Func {
    Coalesce,
    ConcatWs,
    Concat,
    Lower,
    Upper,
    Length,
    Abs,
    Floor,
    Ceil,
    Round,
    /// `DATE_FORMAT(ts, pattern)`.
    DateFormat,
    /// `FLOOR(ts TO unit)`.
    FloorTo(TimeUnit),
    /// `CEIL(ts TO unit)`.
    CeilTo(TimeUnit),
    /// `EXTRACT(field FROM ts)`.
    Extract(TimeField),
    /// `TO_TIMESTAMP_LTZ(n, precision)`: args `[n, 0 | 3]`.
    ToTimestampLtz,
    /// `SUBSTRING(s FROM pos [FOR len])`: args `[s, pos]` or `[s, pos, len]`.
    Substring,
    /// `TRIM`: args `[s]` (spaces) or `[s, characters]`.
    Trim(TrimSide),
    /// `REPLACE(s, from, to)`.
    Replace,
    /// `POSITION(needle IN s)`: args `[needle, s]`.
    Position,
    /// `SPLIT_INDEX(s, separator, index)`.
    SplitIndex,
}

impl Func {
    /// Looks a function up by SQL name.
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COALESCE" => Func::Coalesce,
            "CONCAT_WS" => Func::ConcatWs,
            "CONCAT" => Func::Concat,
            "LOWER" => Func::Lower,
            "UPPER" => Func::Upper,
            "CHAR_LENGTH" | "CHARACTER_LENGTH" | "LENGTH" => Func::Length,
            "ABS" => Func::Abs,
            "FLOOR" => Func::Floor,
            "CEIL" | "CEILING" => Func::Ceil,
            "ROUND" => Func::Round,
            "DATE_FORMAT" => Func::DateFormat,
            "TO_TIMESTAMP_LTZ" => Func::ToTimestampLtz,
            "SUBSTRING" | "SUBSTR" => Func::Substring,
            "TRIM" | "BTRIM" => Func::Trim(TrimSide::Both),
            "LTRIM" => Func::Trim(TrimSide::Leading),
            "RTRIM" => Func::Trim(TrimSide::Trailing),
            "REPLACE" => Func::Replace,
            "SPLIT_INDEX" => Func::SplitIndex,
            _ => return None,
        })
    }

    /// SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Func::Coalesce => "COALESCE",
            Func::ConcatWs => "CONCAT_WS",
            Func::Concat => "CONCAT",
            Func::Lower => "LOWER",
            Func::Upper => "UPPER",
            Func::Length => "CHAR_LENGTH",
            Func::Abs => "ABS",
            Func::Floor => "FLOOR",
            Func::Ceil => "CEIL",
            Func::Round => "ROUND",
            Func::DateFormat => "DATE_FORMAT",
            Func::FloorTo(_) => "FLOOR",
            Func::CeilTo(_) => "CEIL",
            Func::Extract(_) => "EXTRACT",
            Func::ToTimestampLtz => "TO_TIMESTAMP_LTZ",
            Func::Substring => "SUBSTRING",
            Func::Trim(TrimSide::Both) => "TRIM",
            Func::Trim(TrimSide::Leading) => "LTRIM",
            Func::Trim(TrimSide::Trailing) => "RTRIM",
            Func::Replace => "REPLACE",
            Func::Position => "POSITION",
            Func::SplitIndex => "SPLIT_INDEX",
        }
    }
}

/// A scalar expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// The value of a column of the input row.
    Column {
        /// Index in the input row.
        index: usize,
        /// Name, for display.
        name: String,
    },
    /// A constant.
    Literal(Value),
    /// `NOT e`, `-e`.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        expr: Box<Expr>,
    },
    /// `l op r`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `e IS [NOT] NULL`.
    IsNull {
        /// Operand.
        expr: Box<Expr>,
        /// IS NOT NULL.
        negated: bool,
    },
    /// `e [NOT] IN (list)`.
    InList {
        /// Operand.
        expr: Box<Expr>,
        /// Candidates.
        list: Vec<Expr>,
        /// NOT IN.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high`.
    Between {
        /// Operand.
        expr: Box<Expr>,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
        /// NOT BETWEEN.
        negated: bool,
    },
    /// `e [NOT] [I]LIKE pattern`.
    Like {
        /// Operand.
        expr: Box<Expr>,
        /// Pattern (`%`, `_`).
        pattern: Box<Expr>,
        /// NOT LIKE.
        negated: bool,
        /// ILIKE.
        case_insensitive: bool,
    },
    /// `CASE [operand] WHEN .. THEN .. [ELSE ..] END`.
    Case {
        /// Simple-CASE operand.
        operand: Option<Box<Expr>>,
        /// (condition or value, result) pairs.
        whens: Vec<(Expr, Expr)>,
        /// ELSE result.
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(e AS ty)`.
    Cast {
        /// Operand.
        expr: Box<Expr>,
        /// Target type.
        to: DataType,
    },
    /// A scalar function call.
    Call {
        /// Function.
        func: Func,
        /// Arguments.
        args: Vec<Expr>,
    },
}

impl Expr {
    /// A column reference.
    pub fn column(index: usize, name: impl Into<String>) -> Expr {
        Expr::Column {
            index,
            name: name.into(),
        }
    }

    /// This expression with every column `i` replaced by `columns[i]` (composing a
    /// projection into the expressions that read its output).
    pub fn substitute(&self, columns: &[Expr]) -> Expr {
        self.map_columns(&|i, _| columns[i].clone())
    }

    /// This expression with every column reference `(index, name)` replaced by `f(index, name)`.
    pub fn map_columns(&self, f: &impl Fn(usize, &str) -> Expr) -> Expr {
        let sub = |e: &Expr| Box::new(e.map_columns(f));
        let columns = f;
        match self {
            Expr::Column { index, name } => f(*index, name),
            Expr::Literal(_) => self.clone(),
            Expr::Unary { op, expr } => Expr::Unary {
                op: *op,
                expr: sub(expr),
            },
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: sub(expr),
                negated: *negated,
            },
            Expr::Cast { expr, to } => Expr::Cast {
                expr: sub(expr),
                to: *to,
            },
            Expr::Binary { op, left, right } => Expr::Binary {
                op: *op,
                left: sub(left),
                right: sub(right),
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: sub(expr),
                list: list.iter().map(|e| e.map_columns(columns)).collect(),
                negated: *negated,
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Expr::Between {
                expr: sub(expr),
                low: sub(low),
                high: sub(high),
                negated: *negated,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Expr::Like {
                expr: sub(expr),
                pattern: sub(pattern),
                negated: *negated,
                case_insensitive: *case_insensitive,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => Expr::Case {
                operand: operand.as_deref().map(sub),
                whens: whens
                    .iter()
                    .map(|(w, t)| (w.map_columns(columns), t.map_columns(columns)))
                    .collect(),
                otherwise: otherwise.as_deref().map(sub),
            },
            Expr::Call { func, args } => Expr::Call {
                func: *func,
                args: args.iter().map(|e| e.map_columns(columns)).collect(),
            },
        }
    }

    /// `a AND b`, either of which may be absent.
    pub fn and(a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Expr::Binary {
                op: BinOp::And,
                left: Box::new(a),
                right: Box::new(b),
            }),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// Column indices this expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Column { index, .. } => out.push(*index),
            Expr::Literal(_) => {}
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => {
                expr.columns(out)
            }
            Expr::Binary { left, right, .. } => {
                left.columns(out);
                right.columns(out);
            }
            Expr::InList { expr, list, .. } => {
                expr.columns(out);
                list.iter().for_each(|e| e.columns(out));
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                expr.columns(out);
                low.columns(out);
                high.columns(out);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.columns(out);
                pattern.columns(out);
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.columns(out);
                }
                for (w, t) in whens {
                    w.columns(out);
                    t.columns(out);
                }
                if let Some(o) = otherwise {
                    o.columns(out);
                }
            }
            Expr::Call { args, .. } => args.iter().for_each(|e| e.columns(out)),
        }
    }

    /// Evaluates against a row. Never panics: type errors were ruled out at plan time,
    /// and runtime failures (division by zero, bad casts) yield NULL.
    pub fn eval(&self, row: &[Value]) -> Value {
        match self {
            Expr::Column { index, .. } => row.get(*index).cloned().unwrap_or(Value::Null),
            Expr::Literal(v) => v.clone(),
            Expr::Unary { op, expr } => match (op, expr.eval(row)) {
                (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
                (UnaryOp::Neg, Value::Int(i)) => Value::Int(i.wrapping_neg()),
                (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
                _ => Value::Null,
            },
            Expr::Binary { op, left, right } => binary(*op, left, right, row),
            Expr::IsNull { expr, negated } => Value::Bool(expr.eval(row).is_null() != *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row);
                if v.is_null() {
                    return Value::Null;
                }
                let mut saw_null = false;
                for e in list {
                    let c = e.eval(row);
                    if c.is_null() {
                        saw_null = true;
                    } else if c == v {
                        return Value::Bool(!negated);
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let (v, lo, hi) = (expr.eval(row), low.eval(row), high.eval(row));
                if v.is_null() || lo.is_null() || hi.is_null() {
                    return Value::Null;
                }
                Value::Bool((lo <= v && v <= hi) != *negated)
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => match (expr.eval(row), pattern.eval(row)) {
                (Value::Str(s), Value::Str(p)) => {
                    let hit = if *case_insensitive {
                        like(&s.to_lowercase(), &p.to_lowercase())
                    } else {
                        like(&s, &p)
                    };
                    Value::Bool(hit != *negated)
                }
                _ => Value::Null,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let subject = operand.as_ref().map(|o| o.eval(row));
                for (w, t) in whens {
                    let hit = match &subject {
                        Some(s) => {
                            let c = w.eval(row);
                            !s.is_null() && !c.is_null() && *s == c
                        }
                        None => w.eval(row).is_true(),
                    };
                    if hit {
                        return t.eval(row);
                    }
                }
                otherwise
                    .as_ref()
                    .map(|o| o.eval(row))
                    .unwrap_or(Value::Null)
            }
            Expr::Cast { expr, to } => cast(expr.eval(row), *to),
            Expr::Call { func, args } => call(*func, args, row),
        }
    }
}

fn binary(op: BinOp, left: &Expr, right: &Expr, row: &[Value]) -> Value {
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
        Eq => Value::Bool(l == r),
        NotEq => Value::Bool(l != r),
        Lt => Value::Bool(l < r),
        LtEq => Value::Bool(l <= r),
        Gt => Value::Bool(l > r),
        GtEq => Value::Bool(l >= r),
        Add | Sub | Mul | Div | Mod => arith(op, l, r),
        And | Or => unreachable!("handled above"),
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
                Value::Float(v)
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
        Mod => a.checked_rem(b),
        _ => None,
    }
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = si;
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
        (Value::Str(s), DataType::Int) => s.trim().parse().map(Value::Int).unwrap_or(Value::Null),
        (Value::Str(s), DataType::Float) => {
            s.trim().parse().map(Value::Float).unwrap_or(Value::Null)
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

fn to_text(v: &Value) -> CompactString {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) | Value::Ts(i) => i.to_compact_string(),
        Value::Float(f) => f.to_compact_string(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Null => CompactString::default(),
        Value::List(_) => v.to_json().into(),
    }
}

fn call(func: Func, args: &[Expr], row: &[Value]) -> Value {
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
            Some(Value::Int(i)) => Value::Int(i.wrapping_abs()),
            Some(Value::Float(f)) => Value::Float(f.abs()),
            _ => Value::Null,
        },
        Func::Floor | Func::Ceil | Func::Round => match args.first().map(|a| a.eval(row)) {
            Some(Value::Int(i)) => Value::Int(i),
            Some(Value::Float(f)) => {
                let digits = match args.get(1).map(|a| a.eval(row)) {
                    Some(Value::Int(d)) => d as i32,
                    _ => 0,
                };
                let scale = 10f64.powi(digits);
                Value::Float(match func {
                    Func::Floor => f.floor(),
                    Func::Ceil => f.ceil(),
                    _ => (f * scale).round() / scale,
                })
            }
            _ => Value::Null,
        },
        _ => call_scalar(func, args, row),
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

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { name, .. } => write!(f, "{name}"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Unary {
                op: UnaryOp::Not,
                expr,
            } => write!(f, "NOT {expr}"),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => write!(f, "-{expr}"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::IsNull { expr, negated } => {
                write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" })
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(|e| e.to_string()).collect();
                write!(
                    f,
                    "{expr} {}IN ({})",
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                write!(
                    f,
                    "{expr} {}BETWEEN {low} AND {high}",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => write!(
                f,
                "{expr} {}{} {pattern}",
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" }
            ),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {o}")?;
                }
                f.write_str(" END")
            }
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Call {
                func: Func::FloorTo(u) | Func::CeilTo(u),
                args,
            } if args.len() == 1 => {
                let name = if matches!(
                    self,
                    Expr::Call {
                        func: Func::FloorTo(_),
                        ..
                    }
                ) {
                    "FLOOR"
                } else {
                    "CEIL"
                };
                write!(f, "{name}({} TO {})", args[0], u.name())
            }
            Expr::Call {
                func: Func::Extract(field),
                args,
            } if args.len() == 1 => write!(f, "EXTRACT({} FROM {})", field.name(), args[0]),
            Expr::Call {
                func: Func::Position,
                args,
            } if args.len() == 2 => write!(f, "POSITION({} IN {})", args[0], args[1]),
            Expr::Call { func, args } => {
                let items: Vec<String> = args.iter().map(|e| e.to_string()).collect();
                write!(f, "{}({})", func.name(), items.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> Box<Expr> {
        Box::new(Expr::Literal(v))
    }

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("request_ride", "request%"));
        assert!(like("abc", "a_c"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "a_"));
        assert!(like("a%b", "a%b"));
        assert!(!like("", "_"));
    }

    #[test]
    fn three_valued_logic() {
        let null_and_false = Expr::Binary {
            op: BinOp::And,
            left: lit(Value::Null),
            right: lit(Value::Bool(false)),
        };
        assert_eq!(null_and_false.eval(&[]), Value::Bool(false));
        let null_or_false = Expr::Binary {
            op: BinOp::Or,
            left: lit(Value::Null),
            right: lit(Value::Bool(false)),
        };
        assert_eq!(null_or_false.eval(&[]), Value::Null);
        let not_in_with_null = Expr::InList {
            expr: lit(Value::Int(1)),
            list: vec![Expr::Literal(Value::Int(2)), Expr::Literal(Value::Null)],
            negated: true,
        };
        assert_eq!(not_in_with_null.eval(&[]), Value::Null);
    }

    #[test]
    fn arithmetic_promotes_and_nulls_on_division_by_zero() {
        let e = |op, l, r| {
            Expr::Binary {
                op,
                left: lit(l),
                right: lit(r),
            }
            .eval(&[])
        };
        assert_eq!(e(BinOp::Div, Value::Int(7), Value::Int(2)), Value::Int(3));
        assert_eq!(
            e(BinOp::Div, Value::Int(7), Value::Float(2.0)),
            Value::Float(3.5)
        );
        assert_eq!(e(BinOp::Div, Value::Int(7), Value::Int(0)), Value::Null);
        assert_eq!(
            e(BinOp::Sub, Value::Ts(5000), Value::Ts(2000)),
            Value::Int(3000)
        );
    }

    #[test]
    fn concat_ws_skips_nulls() {
        let e = Expr::Call {
            func: Func::ConcatWs,
            args: vec![
                Expr::Literal(Value::Str("|".into())),
                Expr::Literal(Value::Str("a".into())),
                Expr::Literal(Value::Null),
                Expr::Literal(Value::Int(3)),
            ],
        };
        assert_eq!(e.eval(&[]), Value::Str("a|3".into()));
    }
}
