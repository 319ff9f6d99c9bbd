//! Scalar expressions: typed at plan time, plain data afterwards, evaluated per row.
//!
//! Column references are indices into the row the expression is evaluated against
//! (a source row, or the output row of a window aggregate); names ride along for EXPLAIN.

use std::fmt;

use serde::Serialize;

use crate::scalar::{TimeField, TimeUnit, TrimSide};
use crate::types::{DataType, Value};

mod eval;
mod math;

use self::eval::{binary, call, compare, like};
pub use self::eval::{cast, cast_supported};
pub use self::math::{timestamp_diff, DiffUnit, MathFunc};

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
    /// Numeric functions, `GREATEST` / `LEAST` and `TIMESTAMPDIFF` ([`MathFunc`]).
    Math(MathFunc),
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
            other => return MathFunc::from_name(other).map(Func::Math),
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
            Func::Math(m) => m.name(),
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
                (UnaryOp::Neg, Value::Int(i)) => i.checked_neg().map_or(Value::Null, Value::Int),
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
                    } else if compare(BinOp::Eq, &c, &v) {
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
                if v.is_null() {
                    return Value::Null;
                }
                // As `v >= lo AND v <= hi` and `v < lo OR v > hi` (not the negation of
                // BETWEEN: with NaN, both are false), in three-valued logic: a NULL bound
                // makes its comparison unknown, which the other one can still decide
                // (`7 BETWEEN NULL AND 5` is false, `7 NOT BETWEEN NULL AND 5` true).
                let side = |op, bound: &Value| (!bound.is_null()).then(|| compare(op, &v, bound));
                let (decides, sides) = if *negated {
                    (true, [side(BinOp::Lt, &lo), side(BinOp::Gt, &hi)])
                } else {
                    (false, [side(BinOp::GtEq, &lo), side(BinOp::LtEq, &hi)])
                };
                if sides.contains(&Some(decides)) {
                    Value::Bool(decides)
                } else if sides.contains(&None) {
                    Value::Null
                } else {
                    Value::Bool(!decides)
                }
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
                            !s.is_null() && !c.is_null() && compare(BinOp::Eq, s, &c)
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
            Expr::Call {
                func: Func::Math(MathFunc::TimestampDiff(u)),
                args,
            } if args.len() == 2 => {
                write!(f, "TIMESTAMPDIFF({}, {}, {})", u.name(), args[0], args[1])
            }
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
    fn integer_overflow_is_null_for_negation_as_for_arithmetic() {
        let neg = |i: i64| {
            Expr::Unary {
                op: UnaryOp::Neg,
                expr: lit(Value::Int(i)),
            }
            .eval(&[])
        };
        assert_eq!(neg(i64::MIN), Value::Null);
        assert_eq!(neg(i64::MAX), Value::Int(-i64::MAX));
        assert_eq!(neg(-7), Value::Int(7));
        let add = Expr::Binary {
            op: BinOp::Add,
            left: lit(Value::Int(i64::MAX)),
            right: lit(Value::Int(1)),
        };
        assert_eq!(add.eval(&[]), Value::Null);
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
