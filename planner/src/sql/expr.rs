//! Lowering SQL expressions (sqlparser AST) to typed [`Expr`]s.
//!
//! Two contexts: *row* context (WHERE, GROUP BY keys, aggregate arguments), where names
//! resolve to source columns; and *aggregate* context (SELECT, HAVING of a grouped query),
//! where an expression must be a grouping key, an aggregate, a window bound, or built
//! from those. The scopes live in [`scope`], aggregate context in [`aggregate`], OVER
//! aggregates in [`over`], column names in [`column`]; this file holds the structural lowering shared by all.

use sqlparser::ast::{self, Spanned};

use crate::aggregate::AggFunc;
use crate::error::{Diagnostic, ErrorKind};
use crate::expr::{BinOp, Expr, Func, UnaryOp};
use crate::scalar::{TimeField, TimeUnit, TrimSide};
use crate::types::{DataType, Value};

use super::functions::{
    cast_target, function_args, function_name, literal, negative_int_literal, signed_interval_ms,
    window_aux,
};
use super::SqlText;

mod aggregate;
mod analytic;
mod column;
mod distinct_tuple;
mod filter;
mod math;
mod over;
mod scope;
mod unknown;

pub(crate) use self::analytic::unsupported_window_function;
pub(crate) use self::scope::{
    is_over_only, AggScope, Ambiguous, OverScope, RowScope, TableRef, Typed,
};

/// Lowers expressions in one context.
pub(crate) struct Lowerer<'a> {
    pub sql: &'a SqlText<'a>,
    pub row: &'a RowScope,
    pub agg: Option<&'a mut AggScope>,
    /// OVER aggregates are allowed (SELECT of an ungrouped query).
    pub over: Option<&'a mut OverScope>,
    /// What the expression is part of, for messages ("WHERE", "GROUP BY", ...).
    pub clause: &'static str,
}

type R<T> = Result<T, Diagnostic>;

impl<'a> Lowerer<'a> {
    fn err(&self, kind: ErrorKind, node: &impl Spanned, msg: impl Into<String>) -> Diagnostic {
        self.sql.error(kind, node.span(), msg)
    }

    /// Lowers an expression in this context.
    pub fn lower(&mut self, e: &ast::Expr) -> R<Typed> {
        if self.agg.is_some() {
            if let Some(t) = self.lower_grouped_leaf(e)? {
                return Ok(t);
            }
        }
        self.lower_structural(e)
    }

    /// Lowers a predicate and checks it is boolean.
    pub fn lower_predicate(&mut self, e: &ast::Expr) -> R<Expr> {
        let t = self.lower(e)?;
        match t.ty {
            Some(DataType::Bool) | None => Ok(t.expr),
            Some(other) => Err(self
                .err(
                    ErrorKind::TypeMismatch,
                    e,
                    format!("{} condition has type {other}, expected bool", self.clause),
                )
                .with_hint(format!(
                    "compare it, e.g. `{e} = ...`, or use a boolean column"
                ))),
        }
    }

    fn lower_structural(&mut self, e: &ast::Expr) -> R<Typed> {
        use ast::Expr as E;
        match e {
            E::Identifier(id) => self.column(e, None, &id.value),
            E::CompoundIdentifier(parts) => {
                // `t.col`; with a single table in FROM any qualifier is accepted.
                let last = parts.last().map(|p| p.value.as_str()).unwrap_or("");
                let qualifier = parts.len().checked_sub(2).map(|i| parts[i].value.as_str());
                self.column(e, qualifier, last)
            }
            E::Nested(inner) => self.lower(inner),
            E::Value(v) => literal(self.sql, e, &v.value),
            E::TypedString(ts) => super::functions::typed_literal(self.sql, e, ts),
            E::Interval(_) => Ok(Typed { expr: Expr::Literal(Value::Int(signed_interval_ms(self.sql, e)?)), ty: Some(DataType::Int) }),
            E::UnaryOp { op, expr } => {
                // `-9223372036854775808` is an int, though its magnitude alone is not.
                if let (ast::UnaryOperator::Minus, Some(i)) = (op, negative_int_literal(expr)) {
                    return Ok(Typed { expr: Expr::Literal(Value::Int(i)), ty: Some(DataType::Int) });
                }
                let t = self.lower(expr)?;
                match op {
                    ast::UnaryOperator::Not => {
                        self.expect(expr, &t, DataType::Bool, "NOT")?;
                        Ok(Typed { expr: Expr::Unary { op: UnaryOp::Not, expr: Box::new(t.expr) }, ty: Some(DataType::Bool) })
                    }
                    ast::UnaryOperator::Minus => {
                        if !t.ty.is_none_or(DataType::is_numeric) {
                            return Err(self.mismatch(expr, &t, "a number", "unary minus"));
                        }
                        Ok(Typed { expr: Expr::Unary { op: UnaryOp::Neg, expr: Box::new(t.expr) }, ty: t.ty })
                    }
                    ast::UnaryOperator::Plus => Ok(t),
                    other => Err(self.err(ErrorKind::Unsupported, e, format!("operator {other} is not supported"))),
                }
            }
            E::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            E::IsNull(x) | E::IsNotNull(x) => {
                let t = self.lower(x)?;
                Ok(Typed { expr: Expr::IsNull { expr: Box::new(t.expr), negated: matches!(e, E::IsNotNull(_)) }, ty: Some(DataType::Bool) })
            }
            // Never NULL: `x IS TRUE` is false for a NULL `x`, `x IS NOT TRUE` true.
            E::IsTrue(x) | E::IsFalse(x) | E::IsNotTrue(x) | E::IsNotFalse(x) => {
                let t = self.lower(x)?;
                self.expect(x, &t, DataType::Bool, "IS [NOT] TRUE / IS [NOT] FALSE")?;
                let want = Expr::Literal(Value::Bool(matches!(e, E::IsTrue(_) | E::IsNotTrue(_))));
                let eq = Expr::Binary { op: BinOp::Eq, left: Box::new(t.expr), right: Box::new(want) };
                let is = Expr::Call { func: Func::Coalesce, args: vec![eq, Expr::Literal(Value::Bool(false))] };
                let expr = match e {
                    E::IsNotTrue(_) | E::IsNotFalse(_) => Expr::Unary { op: UnaryOp::Not, expr: Box::new(is) },
                    _ => is,
                };
                Ok(Typed { expr, ty: Some(DataType::Bool) })
            }
            E::In { expr, target, negated, .. } => {
                let ast::InTarget::List(list) = target else {
                    return Err(self.err(ErrorKind::Unsupported, e, "IN supports only a list of values").with_hint("write x IN ('a', 'b')"));
                };
                let t = self.lower(expr)?;
                let mut items = Vec::new();
                for item in list {
                    let it = self.lower(item)?;
                    self.comparable(item, &t, &it)?;
                    items.push(it.expr);
                }
                Ok(Typed { expr: Expr::InList { expr: Box::new(t.expr), list: items, negated: *negated }, ty: Some(DataType::Bool) })
            }
            E::Between { expr, negated, low, high } => {
                let t = self.lower(expr)?;
                let lo = self.lower(low)?;
                let hi = self.lower(high)?;
                self.comparable(low, &t, &lo)?;
                self.comparable(high, &t, &hi)?;
                Ok(Typed {
                    expr: Expr::Between { expr: Box::new(t.expr), low: Box::new(lo.expr), high: Box::new(hi.expr), negated: *negated },
                    ty: Some(DataType::Bool),
                })
            }
            E::Like { negated, expr, pattern, escape_char, any, .. } | E::ILike { negated, expr, pattern, escape_char, any, .. } => {
                if escape_char.is_some() || *any {
                    return Err(self.err(ErrorKind::Unsupported, e, "LIKE with ESCAPE or ANY is not supported"));
                }
                let t = self.lower(expr)?;
                let p = self.lower(pattern)?;
                self.expect(expr, &t, DataType::String, "LIKE")?;
                self.expect(pattern, &p, DataType::String, "LIKE")?;
                Ok(Typed {
                    expr: Expr::Like { expr: Box::new(t.expr), pattern: Box::new(p.expr), negated: *negated, case_insensitive: matches!(e, E::ILike { .. }) },
                    ty: Some(DataType::Bool),
                })
            }
            E::Case { operand, conditions, else_result, .. } => {
                let op = match operand {
                    Some(o) => Some(self.lower(o)?),
                    None => None,
                };
                let mut whens = Vec::new();
                let mut ty: Option<DataType> = None;
                for cw in conditions {
                    let c = match &op {
                        Some(o) => {
                            let c = self.lower(&cw.condition)?;
                            self.comparable(&cw.condition, o, &c)?;
                            c.expr
                        }
                        None => self.lower_predicate(&cw.condition)?,
                    };
                    let r = self.lower(&cw.result)?;
                    ty = self.unify(&cw.result, ty, r.ty)?;
                    whens.push((c, r));
                }
                let otherwise = match else_result {
                    Some(x) => {
                        let r = self.lower(x)?;
                        ty = self.unify(x, ty, r.ty)?;
                        Some(r)
                    }
                    None => None,
                };
                let whens = whens.into_iter().map(|(c, r)| (c, r.widened_to(ty))).collect();
                let otherwise = otherwise.map(|r| Box::new(r.widened_to(ty)));
                Ok(Typed { expr: Expr::Case { operand: op.map(|o| Box::new(o.expr)), whens, otherwise }, ty })
            }
            E::Cast { expr, data_type, kind, .. } => {
                if !matches!(kind, ast::CastKind::Cast | ast::CastKind::TryCast | ast::CastKind::SafeCast) {
                    return Err(self.err(ErrorKind::Unsupported, e, "only CAST(x AS type) is supported"));
                }
                let t = self.lower(expr)?;
                let to = cast_target(data_type).ok_or_else(|| {
                    self.err(ErrorKind::Unsupported, e, format!("cannot cast to {data_type}"))
                        .with_hint("cast to STRING, BIGINT/INT, DOUBLE/FLOAT, BOOLEAN or TIMESTAMP")
                })?;
                if let Some(hint) = super::functions::cast_size_hint(data_type) {
                    return Err(self
                        .err(ErrorKind::Unsupported, e, format!("CAST to {data_type}: a length, precision or scale is not supported"))
                        .with_hint(hint));
                }
                if let Some(from) = t.ty.filter(|from| !crate::expr::cast_supported(*from, to)) {
                    return Err(self
                        .err(ErrorKind::TypeMismatch, e, format!("cannot cast {from} to {to}"))
                        .with_hint(match (from, to) {
                            (DataType::Float, DataType::Bool) => "compare instead, e.g. `x <> 0`".to_string(),
                            (DataType::Float, DataType::Timestamp) => {
                                "cast to BIGINT first: timestamps are epoch milliseconds".to_string()
                            }
                            _ => format!("cast {from} to STRING or to a number first"),
                        }));
                }
                Ok(Typed { expr: Expr::Cast { expr: Box::new(t.expr), to }, ty: Some(to) })
            }
            E::Function(f) => self.function(e, f),
            E::Floor { expr, field } => self.floor_ceil(e, expr, field, false),
            E::Ceil { expr, field } => self.floor_ceil(e, expr, field, true),
            E::Extract { field, expr, .. } => self.extract(e, field, expr),
            E::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![(expr.as_ref(), self.lower(expr)?)];
                match substring_from {
                    Some(from) => args.push((from.as_ref(), self.lower(from)?)),
                    None => args.push((e, Typed { expr: Expr::Literal(Value::Int(1)), ty: Some(DataType::Int) })),
                }
                if let Some(n) = substring_for {
                    args.push((n.as_ref(), self.lower(n)?));
                }
                self.call(e, Func::Substring, "SUBSTRING", args)
            }
            E::Position { expr, r#in } => {
                let args = vec![(expr.as_ref(), self.lower(expr)?), (r#in.as_ref(), self.lower(r#in)?)];
                self.call(e, Func::Position, "POSITION", args)
            }
            E::Trim { expr, trim_where, trim_what, trim_characters } => {
                if trim_characters.is_some() {
                    return Err(self.err(ErrorKind::Unsupported, e, "TRIM(s, characters) is not supported").with_hint("write TRIM(BOTH 'xy' FROM s)"));
                }
                let side = match trim_where {
                    None | Some(ast::TrimWhereField::Both) => TrimSide::Both,
                    Some(ast::TrimWhereField::Leading) => TrimSide::Leading,
                    Some(ast::TrimWhereField::Trailing) => TrimSide::Trailing,
                };
                let mut args = vec![(expr.as_ref(), self.lower(expr)?)];
                if let Some(w) = trim_what {
                    args.push((w.as_ref(), self.lower(w)?));
                }
                self.call(e, Func::Trim(side), "TRIM", args)
            }
            other => Err(self
                .err(ErrorKind::Unsupported, other, format!("this expression is not supported: `{other}`"))
                .with_hint("supported: columns, literals, arithmetic, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, CASE, CAST and scalar functions")),
        }
    }

    fn binary(
        &mut self,
        e: &ast::Expr,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> R<Typed> {
        use ast::BinaryOperator as B;
        let l = self.lower(left)?;
        let r = self.lower(right)?;
        let (bop, ty) = match op {
            B::And | B::Or => {
                self.expect(left, &l, DataType::Bool, &op.to_string())?;
                self.expect(right, &r, DataType::Bool, &op.to_string())?;
                (
                    if matches!(op, B::And) {
                        BinOp::And
                    } else {
                        BinOp::Or
                    },
                    Some(DataType::Bool),
                )
            }
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => {
                self.comparable(right, &l, &r)?;
                let b = match op {
                    B::Eq => BinOp::Eq,
                    B::NotEq => BinOp::NotEq,
                    B::Lt => BinOp::Lt,
                    B::LtEq => BinOp::LtEq,
                    B::Gt => BinOp::Gt,
                    _ => BinOp::GtEq,
                };
                (b, Some(DataType::Bool))
            }
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                let b = match op {
                    B::Plus => BinOp::Add,
                    B::Minus => BinOp::Sub,
                    B::Multiply => BinOp::Mul,
                    B::Divide => BinOp::Div,
                    _ => BinOp::Mod,
                };
                use DataType::*;
                let ty = match (l.ty, r.ty) {
                    (None, t) | (t, None) => t,
                    (Some(Int), Some(Int)) => Some(Int),
                    (Some(a), Some(b2)) if a.is_numeric() && b2.is_numeric() => Some(Float),
                    (Some(Timestamp), Some(Int)) if matches!(b, BinOp::Add | BinOp::Sub) => Some(Timestamp),
                    (Some(Int), Some(Timestamp)) if b == BinOp::Add => Some(Timestamp),
                    (Some(Timestamp), Some(Timestamp)) if b == BinOp::Sub => Some(Int),
                    (Some(a), Some(b2)) => {
                        return Err(self
                            .err(ErrorKind::TypeMismatch, e, format!("cannot apply `{op}` to {a} and {b2}"))
                            .with_hint("arithmetic needs numbers (timestamps accept + and - of intervals); use CAST(x AS float)"))
                    }
                };
                (b, ty)
            }
            B::StringConcat => {
                return Ok(Typed {
                    expr: Expr::Call {
                        func: Func::Concat,
                        args: vec![l.expr, r.expr],
                    },
                    ty: Some(DataType::String),
                });
            }
            other => {
                return Err(self.err(
                    ErrorKind::Unsupported,
                    e,
                    format!("operator `{other}` is not supported"),
                ))
            }
        };
        Ok(Typed {
            expr: Expr::Binary {
                op: bop,
                left: Box::new(l.expr),
                right: Box::new(r.expr),
            },
            ty,
        })
    }

    fn function(&mut self, e: &ast::Expr, f: &ast::Function) -> R<Typed> {
        let mut name = function_name(f);
        if name == super::TOP_FOR_PARSER {
            name = "TOP".into();
        }
        if let Some(d) = unsupported_window_function(self.sql, f) {
            return Err(d);
        }
        super::functions::call_modifiers(self.sql, f)?;
        if f.over.is_some() {
            if self.over.is_some() {
                return self.lower_over(f, &name);
            }
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    e,
                    format!("OVER is not allowed in {}", self.clause),
                )
                .with_hint(if self.agg.is_some() {
                    "a query either groups by a window or computes OVER aggregates per row, not both"
                } else {
                    "OVER aggregates belong in SELECT"
                }));
        }
        if is_over_only(&name) {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    e,
                    format!("{name} needs an OVER window"),
                )
                .with_hint(format!(
                    "{name}(...) OVER (PARTITION BY key ORDER BY rowtime RANGE INTERVAL '1' DAY PRECEDING)"
                )));
        }
        if AggFunc::is_aggregate_name(&name) {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    e,
                    format!(
                        "aggregate function {name} is not allowed in {}",
                        self.clause
                    ),
                )
                .with_hint("aggregates belong in SELECT or HAVING of a grouped query"));
        }
        if window_aux(&name).is_some()
            || matches!(name.as_str(), "TUMBLE" | "HOP" | "CUMULATE" | "SESSION")
        {
            return Err(self
                .err(
                    ErrorKind::InvalidWindow,
                    e,
                    format!("{name}(...) is not allowed in {}", self.clause),
                )
                .with_hint(
                    "group windows go in GROUP BY; their bounds (TUMBLE_END, ...) in SELECT",
                ));
        }
        if let Some(t) = self.rewritten_function(e, f, &name)? {
            return Ok(t);
        }
        let Some(func) = Func::from_name(&name) else {
            return Err(self.unknown_function(e, &name));
        };
        let mut args = Vec::new();
        for a in function_args(self.sql, f)? {
            let t = self.lower(a)?;
            args.push((a, t));
        }
        self.call(e, func, &name, args)
    }

    /// `FLOOR(x)`, `FLOOR(ts TO unit)` (and CEIL).
    fn floor_ceil(
        &mut self,
        e: &ast::Expr,
        expr: &ast::Expr,
        field: &ast::CeilFloorKind,
        ceil: bool,
    ) -> R<Typed> {
        use ast::DateTimeField as F;
        let name = if ceil { "CEIL" } else { "FLOOR" };
        let unit = match field {
            ast::CeilFloorKind::Scale(_) => {
                return Err(self
                    .err(ErrorKind::Unsupported, e, format!("{name}(x, scale) is not supported"))
                    .with_hint("use ROUND(x, digits)"))
            }
            ast::CeilFloorKind::DateTimeField(F::NoDateTime) => None,
            ast::CeilFloorKind::DateTimeField(f) => Some(match f {
                F::Second | F::Seconds => TimeUnit::Second,
                F::Minute | F::Minutes => TimeUnit::Minute,
                F::Hour | F::Hours => TimeUnit::Hour,
                F::Day | F::Days => TimeUnit::Day,
                F::Month | F::Months => TimeUnit::Month,
                F::Year | F::Years => TimeUnit::Year,
                other => {
                    return Err(self
                        .err(ErrorKind::Unsupported, e, format!("{name}(... TO {other}) is not supported"))
                        .with_hint(format!("units: SECOND, MINUTE, HOUR, DAY, MONTH, YEAR, e.g. {name}(rowtime TO HOUR)")))
                }
            }),
        };
        let t = self.lower(expr)?;
        let func = match (unit, ceil) {
            (None, false) => Func::Floor,
            (None, true) => Func::Ceil,
            (Some(u), false) => Func::FloorTo(u),
            (Some(u), true) => Func::CeilTo(u),
        };
        self.call(e, func, name, vec![(expr, t)])
    }

    /// `EXTRACT(field FROM ts)`.
    fn extract(&mut self, e: &ast::Expr, field: &ast::DateTimeField, expr: &ast::Expr) -> R<Typed> {
        use ast::DateTimeField as F;
        let field = match field {
            F::Year | F::Years => TimeField::Year,
            F::Quarter => TimeField::Quarter,
            F::Month | F::Months => TimeField::Month,
            F::Week(None) | F::Weeks | F::IsoWeek => TimeField::Week,
            F::Day | F::Days => TimeField::Day,
            F::Dow | F::DayOfWeek => TimeField::Dow,
            F::Isodow => TimeField::IsoDow,
            F::Doy | F::DayOfYear => TimeField::Doy,
            F::Hour | F::Hours => TimeField::Hour,
            F::Minute | F::Minutes => TimeField::Minute,
            F::Second | F::Seconds => TimeField::Second,
            F::Epoch => TimeField::Epoch,
            other => {
                return Err(self
                    .err(ErrorKind::Unsupported, e, format!("EXTRACT({other} FROM ...) is not supported"))
                    .with_hint("fields: YEAR, QUARTER, MONTH, WEEK, DAY, DOW, ISODOW, DOY, HOUR, MINUTE, SECOND, EPOCH"))
            }
        };
        let t = self.lower(expr)?;
        self.call(e, Func::Extract(field), "EXTRACT", vec![(expr, t)])
    }

    /// Type-checks a scalar function call on lowered arguments.
    fn call(
        &mut self,
        e: &ast::Expr,
        func: Func,
        name: &str,
        args: Vec<(&ast::Expr, Typed)>,
    ) -> R<Typed> {
        if let Func::Math(m) = func {
            self.math_arity(e, m, args.len())?;
            return self.math_call(m, name, args);
        }
        let arity_err = |lo: usize, hi: usize| -> R<()> {
            if args.len() < lo || args.len() > hi {
                Err(self.err(
                    ErrorKind::Syntax,
                    e,
                    format!(
                        "{name} takes {} argument(s), got {}",
                        if lo == hi {
                            lo.to_string()
                        } else if hi == usize::MAX {
                            format!("{lo} or more")
                        } else {
                            format!("{lo} to {hi}")
                        },
                        args.len()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        // Checks argument `i` has type `want` (untyped NULL passes).
        let want = |i: usize, want: DataType| -> R<()> {
            let (node, t) = &args[i];
            self.expect_arg(node, t, want, name)
        };
        use DataType::{Int, String as Str, Timestamp};
        let ty = match func {
            Func::Coalesce => {
                arity_err(1, usize::MAX)?;
                let mut ty = None;
                for (a, t) in &args {
                    ty = self.unify_as(a, ty, t.ty, "COALESCE's arguments")?;
                }
                ty
            }
            Func::ConcatWs => {
                arity_err(2, usize::MAX)?;
                Some(Str)
            }
            Func::Concat => {
                arity_err(1, usize::MAX)?;
                Some(Str)
            }
            Func::Lower | Func::Upper | Func::Length => {
                arity_err(1, 1)?;
                want(0, Str)?;
                Some(if func == Func::Length { Int } else { Str })
            }
            Func::Abs | Func::Floor | Func::Ceil | Func::Round => {
                arity_err(1, if func == Func::Round { 2 } else { 1 })?;
                let (node, t) = &args[0];
                if !t.ty.is_none_or(DataType::is_numeric) {
                    let mut d = self.mismatch(node, t, "a number", name);
                    if t.ty == Some(Timestamp) && matches!(func, Func::Floor | Func::Ceil) {
                        d = d.with_hint(format!("to round a timestamp, write {name}({node} TO HOUR) (or SECOND, MINUTE, DAY, MONTH, YEAR)"));
                    }
                    return Err(d);
                }
                if args.len() == 2 {
                    want(1, Int)?;
                }
                args[0].1.ty
            }
            Func::DateFormat => {
                arity_err(2, 2)?;
                want(0, Timestamp)?;
                want(1, Str)?;
                if let (
                    node,
                    Typed {
                        expr: Expr::Literal(Value::Str(p)),
                        ..
                    },
                ) = &args[1]
                {
                    if let Err(m) = crate::scalar::check_date_format(p) {
                        return Err(self
                            .err(
                                ErrorKind::Syntax,
                                *node,
                                format!("bad DATE_FORMAT pattern: {m}"),
                            )
                            .with_hint(
                                "Java DateTimeFormatter letters, e.g. 'yyyy-MM-dd HH:mm:ss'",
                            ));
                    }
                }
                Some(Str)
            }
            Func::FloorTo(_) | Func::CeilTo(_) | Func::Extract(_) => {
                arity_err(1, 1)?;
                want(0, Timestamp)?;
                Some(if matches!(func, Func::Extract(_)) {
                    Int
                } else {
                    Timestamp
                })
            }
            Func::ToTimestampLtz => {
                arity_err(2, 2)?;
                want(0, Int)?;
                let (node, p) = &args[1];
                if !matches!(p.expr, Expr::Literal(Value::Int(0 | 3))) {
                    return Err(self
                        .err(ErrorKind::Unsupported, *node, format!("TO_TIMESTAMP_LTZ precision must be 0 (seconds) or 3 (milliseconds), not `{node}`"))
                        .with_hint("TO_TIMESTAMP_LTZ(ms, 3)"));
                }
                Some(Timestamp)
            }
            Func::Substring => {
                arity_err(2, 3)?;
                want(0, Str)?;
                want(1, Int)?;
                if args.len() == 3 {
                    want(2, Int)?;
                }
                Some(Str)
            }
            Func::Trim(_) => {
                arity_err(1, 2)?;
                want(0, Str)?;
                if args.len() == 2 {
                    want(1, Str)?;
                }
                Some(Str)
            }
            Func::Replace => {
                arity_err(3, 3)?;
                (0..3).try_for_each(|i| want(i, Str))?;
                Some(Str)
            }
            Func::Position => {
                arity_err(2, 2)?;
                want(0, Str)?;
                want(1, Str)?;
                Some(Int)
            }
            Func::SplitIndex => {
                arity_err(3, 3)?;
                want(0, Str)?;
                want(1, Str)?;
                want(2, Int)?;
                Some(Str)
            }
            Func::Math(_) => unreachable!("typed by math_call above"),
        };
        // Only COALESCE unifies its arguments' types: the others keep theirs.
        let arg_ty = if func == Func::Coalesce { ty } else { None };
        Ok(Typed {
            expr: Expr::Call {
                func,
                args: args
                    .into_iter()
                    .map(|(_, t)| t.widened_to(arg_ty))
                    .collect(),
            },
            ty,
        })
    }

    fn expect(&self, node: &ast::Expr, t: &Typed, want: DataType, what: &str) -> R<()> {
        match t.ty {
            None => Ok(()),
            Some(ty) if ty == want => Ok(()),
            Some(_) => Err(self.mismatch(node, t, want.name(), what)),
        }
    }

    /// [`Self::expect`] for a function's argument: an int where a timestamp is expected
    /// gets the hint to read it as epoch milliseconds.
    pub(super) fn expect_arg(
        &self,
        node: &ast::Expr,
        t: &Typed,
        want: DataType,
        what: &str,
    ) -> R<()> {
        if want == DataType::Timestamp && t.ty == Some(DataType::Int) {
            return Err(self
                .err(
                    ErrorKind::TypeMismatch,
                    node,
                    format!("{what} expects a timestamp, but `{node}` has type int"),
                )
                .with_hint(format!(
                    "if `{node}` holds epoch milliseconds, write TO_TIMESTAMP_LTZ({node}, 3)"
                )));
        }
        self.expect(node, t, want, what)
    }

    fn mismatch(&self, node: &ast::Expr, t: &Typed, want: &str, what: &str) -> Diagnostic {
        let has = t.ty.map(|d| d.name()).unwrap_or("null");
        self.err(
            ErrorKind::TypeMismatch,
            node,
            format!("{what} expects {want}, but `{node}` has type {has}"),
        )
        .with_hint(if want.starts_with("a ") || want.starts_with("an ") {
            format!("convert it with CAST({node} AS ...), or use {want} instead")
        } else {
            format!("convert it with CAST({node} AS ...) or use a {want} column")
        })
    }

    fn comparable(&self, node: &ast::Expr, a: &Typed, b: &Typed) -> R<()> {
        use DataType::*;
        match (a.ty, b.ty) {
            (None, _) | (_, None) => Ok(()),
            (Some(x), Some(y)) if x == y => Ok(()),
            (Some(x), Some(y)) if x.is_numeric() && y.is_numeric() => Ok(()),
            (Some(Timestamp), Some(Int)) | (Some(Int), Some(Timestamp)) => Ok(()),
            (Some(x), Some(y)) => Err(self
                .err(
                    ErrorKind::TypeMismatch,
                    node,
                    format!("cannot compare {x} with {y}"),
                )
                .with_hint(format!(
                    "both sides must have one type; use CAST(... AS {x})"
                ))),
        }
    }

    /// The common type of CASE branches.
    fn unify(
        &self,
        node: &ast::Expr,
        a: Option<DataType>,
        b: Option<DataType>,
    ) -> R<Option<DataType>> {
        self.unify_as(node, a, b, "CASE branches")
    }

    /// The common type of `what` (`CASE branches`, `COALESCE's arguments`, ...): equal
    /// types, or numbers (a float); NULL takes the other's.
    pub(super) fn unify_as(
        &self,
        node: &ast::Expr,
        a: Option<DataType>,
        b: Option<DataType>,
        what: &str,
    ) -> R<Option<DataType>> {
        use DataType::*;
        Ok(match (a, b) {
            (None, t) | (t, None) => t,
            (Some(x), Some(y)) if x == y => Some(x),
            (Some(x), Some(y)) if x.is_numeric() && y.is_numeric() => Some(Float),
            (Some(x), Some(y)) => {
                return Err(self
                    .err(
                        ErrorKind::TypeMismatch,
                        node,
                        format!("{what} have different types: {x} and {y}"),
                    )
                    .with_hint("give them one type, e.g. with CAST(... AS STRING)"))
            }
        })
    }
}
