//! Aggregate context (SELECT and HAVING of a grouped query): window bounds, aggregates and
//! grouping keys are the leaves of an expression.

use sqlparser::ast::{self};

use crate::aggregate::{AggCall, AggFunc};
use crate::error::ErrorKind;
use crate::expr::{BinOp, Expr};
use crate::types::{DataType, Value};

use super::super::functions::{
    function_args, function_name, interval_ms, window_aux, window_bound_column, Bound,
};
use super::filter::filtered_arg;
use super::{Lowerer, Typed, R};

impl Lowerer<'_> {
    /// In aggregate context: window bounds, aggregates and grouping keys are leaves.
    pub(super) fn lower_grouped_leaf(&mut self, e: &ast::Expr) -> R<Option<Typed>> {
        let agg = self.agg.as_deref().expect("aggregate context");
        // Window bound columns of the TVF form.
        if let Some(bound) = window_bound_column(e, self.row) {
            if agg.group_fn.is_some() {
                return Err(self
                    .err(
                        ErrorKind::UnknownColumn,
                        e,
                        format!("`{e}` exists only with the window table functions"),
                    )
                    .with_hint(
                        "with GROUP BY TUMBLE(...) use TUMBLE_START(...) / TUMBLE_END(...)",
                    ));
            }
            return Ok(Some(self.window_bound(bound)));
        }
        if let ast::Expr::Function(f) = e {
            let name = function_name(f);
            if let Some(bound) = window_aux(&name) {
                return self.lower_window_aux(f, &name, bound).map(Some);
            }
            if AggFunc::is_aggregate_name(&name) {
                return self.lower_aggregate(f, &name).map(Some);
            }
        }
        // A grouping key, matched structurally.
        let mut probe = Lowerer {
            sql: self.sql,
            row: self.row,
            agg: None,
            over: None,
            clause: self.clause,
        };
        if let Ok(t) = probe.lower(e) {
            let agg = self.agg.as_deref().expect("aggregate context");
            if let Some(i) = agg.keys.iter().position(|(k, _, _)| *k == t.expr) {
                let (_, name, ty) = &agg.keys[i];
                return Ok(Some(Typed {
                    expr: Expr::column(i, name.clone()),
                    ty: Some(*ty),
                }));
            }
            if let Expr::Column { name, .. } = &t.expr {
                let keys: Vec<String> = agg.keys.iter().map(|(_, n, _)| format!("`{n}`")).collect();
                return Err(self
                    .err(ErrorKind::NotGrouped, e, format!("column `{name}` must appear in GROUP BY or be used in an aggregate function"))
                    .with_detail(format!("the query groups by {} and a window", if keys.is_empty() { "nothing".into() } else { keys.join(", ") }))
                    .with_hint(format!("add `{name}` to GROUP BY, or aggregate it, e.g. `MAX({name})`")));
            }
        }
        Ok(None)
    }

    pub(super) fn lower_window_aux(
        &mut self,
        f: &ast::Function,
        name: &str,
        bound: Bound,
    ) -> R<Typed> {
        let agg = self.agg.as_deref().expect("aggregate context");
        let family = name.split('_').next().unwrap_or("").to_string();
        match agg.group_fn {
            Some(g) if g == family => {}
            Some(g) => {
                return Err(self
                    .err(
                        ErrorKind::InvalidWindow,
                        f,
                        format!("{name} does not match the group window {g}(...)"),
                    )
                    .with_hint(format!(
                        "use {g}_START / {g}_END with the same arguments as GROUP BY {g}(...)"
                    )))
            }
            None => {
                return Err(self
                    .err(
                        ErrorKind::InvalidWindow,
                        f,
                        format!("{name} needs GROUP BY {family}(...)"),
                    )
                    .with_hint(
                        "with the window table functions, select `window_start` / `window_end`",
                    ))
            }
        }
        let args = function_args(self.sql, f)?;
        let single = matches!(family.as_str(), "TUMBLE" | "SESSION");
        let expected = if single { 2 } else { 3 };
        if args.len() != expected {
            return Err(self.err(
                ErrorKind::InvalidWindow,
                f,
                format!("{name} takes {expected} arguments, like GROUP BY {family}(...)"),
            ));
        }
        let mut sizes = Vec::new();
        for a in &args[1..] {
            sizes.push(interval_ms(self.sql, a)?);
        }
        let w = agg.window;
        let same = if single {
            sizes == [w.size_ms]
        } else {
            sizes == [w.slide_ms, w.size_ms]
        };
        if !same {
            return Err(self
                .err(
                    ErrorKind::InvalidWindow,
                    f,
                    format!("{name} has other intervals than GROUP BY {family}(...)"),
                )
                .with_hint("repeat the GROUP BY window's arguments exactly"));
        }
        let mut probe = Lowerer {
            sql: self.sql,
            row: self.row,
            agg: None,
            over: None,
            clause: self.clause,
        };
        let time = probe.lower(args[0])?;
        if !matches!(&time.expr, Expr::Column { index, .. } if self.row.is_time_attr(*index)) {
            return Err(self
                .err(
                    ErrorKind::InvalidWindow,
                    args[0],
                    format!(
                        "{name} must name the event-time attribute, like GROUP BY {family}(...)"
                    ),
                )
                .with_hint(format!("write {name}(rowtime, ...)")));
        }
        Ok(self.window_bound(bound))
    }

    /// The window bound `bound` of the group at hand.
    fn window_bound(&self, bound: Bound) -> Typed {
        let agg = self.agg.as_deref().expect("aggregate context");
        let expr = match bound {
            Bound::Start => Expr::column(agg.window_start_index(), "window_start"),
            Bound::End => Expr::column(agg.window_end_index(), "window_end"),
            Bound::Rowtime => Expr::Binary {
                op: BinOp::Sub,
                left: Box::new(Expr::column(agg.window_end_index(), "window_end")),
                right: Box::new(Expr::Literal(Value::Int(1))),
            },
        };
        Typed {
            expr,
            ty: Some(DataType::Timestamp),
        }
    }

    /// A call's arguments, and whether they are `DISTINCT`; `what` names them in the error
    /// for a subquery argument ("aggregate arguments", "arguments").
    pub(super) fn call_args<'f>(
        &self,
        f: &'f ast::Function,
        what: &str,
    ) -> R<(bool, &'f [ast::FunctionArg])> {
        super::super::functions::call_modifiers(self.sql, f)?;
        match &f.args {
            ast::FunctionArguments::List(l) => Ok((
                matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                ),
                l.args.as_slice(),
            )),
            ast::FunctionArguments::None => Ok((false, &[][..])),
            ast::FunctionArguments::Subquery(_) => Err(self.err(
                ErrorKind::Unsupported,
                f,
                format!("subqueries as {what} are not supported"),
            )),
        }
    }

    pub(super) fn lower_aggregate(&mut self, f: &ast::Function, name: &str) -> R<Typed> {
        let (distinct, args) = self.call_args(f, "aggregate arguments")?;
        if f.over.is_some() {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    f,
                    format!("OVER is not allowed in {} of a grouped query", self.clause),
                )
                .with_hint("a query either groups by a window or computes OVER aggregates per row, not both"));
        }
        let filter = self.aggregate_filter(f)?;
        let upper = name.to_ascii_uppercase();
        // Every row of a group has the group's window bounds: MIN and MAX of one
        // (`MAX(w.window_end)` in HAVING) are the bound itself.
        if let (None, [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))]) = (&filter, args)
        {
            let tvf = self
                .agg
                .as_deref()
                .is_some_and(|agg| agg.group_fn.is_none());
            if tvf && matches!(upper.as_str(), "MIN" | "MAX") {
                if let Some(bound) = window_bound_column(a, self.row) {
                    return Ok(self.window_bound(bound));
                }
            }
        }
        let call = match args {
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]
                if upper == "COUNT" && !distinct =>
            {
                AggCall {
                    func: AggFunc::CountStar,
                    arg: None,
                    ty: DataType::Int,
                }
            }
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))] => {
                let func = AggFunc::from_name(&upper, distinct).ok_or_else(|| {
                    self.err(
                        ErrorKind::Unsupported,
                        f,
                        format!("{upper}(DISTINCT ...) is not supported"),
                    )
                    .with_hint("DISTINCT is supported in COUNT(DISTINCT x)")
                })?;
                let mut inner = Lowerer {
                    sql: self.sql,
                    row: self.row,
                    agg: None,
                    over: None,
                    clause: "an aggregate argument",
                };
                let arg = inner.lower(a).map_err(|d| {
                    if d.kind == ErrorKind::Unsupported && d.message.contains("aggregate") {
                        d.with_hint("aggregates cannot be nested")
                    } else {
                        d
                    }
                })?;
                if matches!(func, AggFunc::Sum | AggFunc::Avg)
                    && !arg.ty.is_none_or(DataType::is_numeric)
                {
                    return Err(self
                        .err(
                            ErrorKind::TypeMismatch,
                            a,
                            format!(
                                "{upper} needs a numeric argument, `{a}` has type {}",
                                arg.ty.unwrap_or(DataType::String)
                            ),
                        )
                        .with_hint(format!("use COUNT, MIN or MAX, or CAST({a} AS float)")));
                }
                AggCall {
                    func,
                    ty: func.result_type(arg.ty),
                    arg: Some(arg.expr),
                }
            }
            _ if upper == "COUNT" && distinct && args.len() > 1 => {
                let mut lowered = Vec::with_capacity(args.len());
                for a in args {
                    let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)) = a else {
                        return Err(self.err(
                            ErrorKind::Syntax,
                            f,
                            "COUNT(DISTINCT ...) takes expressions",
                        ));
                    };
                    let mut inner = Lowerer {
                        sql: self.sql,
                        row: self.row,
                        agg: None,
                        over: None,
                        clause: "an aggregate argument",
                    };
                    let t = inner.lower(a)?;
                    if t.ty == Some(DataType::Array) {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            a,
                            format!("COUNT(DISTINCT ...) cannot compare arrays: `{a}` is one"),
                        ));
                    }
                    lowered.push(t.expr);
                }
                AggCall {
                    func: AggFunc::CountDistinct,
                    ty: DataType::Int,
                    arg: Some(super::distinct_tuple::tuple_key(lowered)),
                }
            }
            _ => return Err(self.err(ErrorKind::Syntax, f, format!("{upper} takes one argument"))),
        };
        let call = match filter {
            None => call,
            Some(cond) => AggCall {
                // `COUNT(*) FILTER (WHERE p)` counts the rows where `p` holds.
                func: if call.func == AggFunc::CountStar {
                    AggFunc::Count
                } else {
                    call.func
                },
                arg: Some(filtered_arg(call.arg, cond)),
                ty: call.ty,
            },
        };
        let agg = self.agg.as_deref_mut().expect("aggregate context");
        let i = match agg.aggs.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                agg.aggs.push(call.clone());
                agg.aggs.len() - 1
            }
        };
        let idx = agg.agg_index(i);
        Ok(Typed {
            expr: Expr::column(idx, call.to_string()),
            ty: Some(call.ty),
        })
    }
}
