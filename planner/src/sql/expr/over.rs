//! OVER aggregates in SELECT: the window (validated once, then required to be the same)
//! and the aggregate calls, leaves of the SELECT expression.

use sqlparser::ast::{self, Spanned};

use crate::aggregate::AggFunc;
use crate::error::ErrorKind;
use crate::expr::Expr;
use crate::logical::NamedExpr;
use crate::over::{OverAgg, OverFrame, OverFunc};
use crate::types::DataType;

use super::super::functions::{function_args, interval_ms};
use super::{is_over_only, Lowerer, Typed, R};

impl Lowerer<'_> {
    /// The OVER window of `f`: validated the first time, then required to be the same.
    pub(super) fn over_window(&mut self, f: &ast::Function) -> R<()> {
        let et = self.row.time_detail();
        let spec = match f.over.as_ref().expect("an OVER call") {
            ast::WindowType::WindowSpec(s) if s.window_name.is_none() => s,
            _ => {
                return Err(self
                    .err(ErrorKind::Unsupported, f, "named windows are not supported")
                    .with_hint("write the window inline: OVER (PARTITION BY key ORDER BY rowtime RANGE INTERVAL '1' DAY PRECEDING)"))
            }
        };
        let text = spec.to_string();
        // ORDER BY the event-time attribute, ascending.
        let mut this_time = None;
        let order_ok = match spec.order_by.as_slice() {
            [o] => {
                let mut probe = Lowerer {
                    sql: self.sql,
                    row: self.row,
                    agg: None,
                    over: None,
                    clause: "ORDER BY",
                };
                let t = probe.lower(&o.expr)?;
                let time = match &t.expr {
                    Expr::Column { index, .. } if self.row.is_time_attr(*index) => Some(*index),
                    _ => None,
                };
                this_time = time;
                time.is_some() && matches!(o.options.sort, None | Some(ast::OrderBySort::Asc))
            }
            _ => false,
        };
        if !order_ok {
            let node: &dyn Spanned = match spec.order_by.first() {
                Some(o) => &o.expr,
                None => f,
            };
            return Err(self
                .sql
                .error(
                    ErrorKind::InvalidWindow,
                    node.span(),
                    "an OVER window must be ordered by the event-time attribute, ascending",
                )
                .with_detail(format!(
                    "{et}; rows are emitted in event-time order as its watermark passes"
                ))
                .with_hint("write ORDER BY rowtime"));
        }
        let frame_hint = "end the window with RANGE INTERVAL '1' DAY PRECEDING or ROWS 10 PRECEDING (frames end at the current row)";
        let Some(frame) = &spec.window_frame else {
            return Err(self
                .err(
                    ErrorKind::InvalidWindow,
                    f,
                    "an OVER window needs a bounded frame",
                )
                .with_detail(
                    "without one the frame is every earlier row, and the state would grow forever",
                )
                .with_hint(frame_hint));
        };
        let following =
            |b: &ast::WindowFrameBound| matches!(b, ast::WindowFrameBound::Following(_));
        if following(&frame.start_bound) || frame.end_bound.as_ref().is_some_and(following) {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    f,
                    "FOLLOWING frames are not supported",
                )
                .with_detail(
                    "a row's value would wait for later rows; OVER frames end at the current row",
                )
                .with_hint(frame_hint));
        }
        if matches!(frame.end_bound, Some(ast::WindowFrameBound::Preceding(_))) {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    f,
                    "an OVER frame must end at CURRENT ROW",
                )
                .with_hint(frame_hint));
        }
        let bound =
            match &frame.start_bound {
                ast::WindowFrameBound::CurrentRow => None,
                ast::WindowFrameBound::Preceding(Some(b)) => Some(b.as_ref()),
                _ => return Err(self
                    .err(
                        ErrorKind::InvalidWindow,
                        f,
                        "UNBOUNDED PRECEDING is not supported",
                    )
                    .with_detail(
                        "the frame would be every earlier row, and the state would grow forever",
                    )
                    .with_hint(frame_hint)),
            };
        let frame = match frame.units {
            ast::WindowFrameUnits::Range => OverFrame::Range {
                preceding_ms: match bound {
                    Some(b) => interval_ms(self.sql, b)?,
                    None => 0,
                },
            },
            ast::WindowFrameUnits::Rows => {
                let n = match bound {
                    None => 0,
                    Some(b) => match b {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::Number(n, _) => n.parse::<u64>().ok(),
                            _ => None,
                        },
                        _ => None,
                    }
                    .ok_or_else(|| {
                        self.err(
                            ErrorKind::Syntax,
                            b,
                            "ROWS needs a row count, e.g. ROWS 10 PRECEDING",
                        )
                    })?,
                };
                OverFrame::Rows { preceding: n }
            }
            ast::WindowFrameUnits::Groups => {
                return Err(self
                    .err(ErrorKind::Unsupported, f, "GROUPS frames are not supported")
                    .with_hint(frame_hint))
            }
        };
        let mut keys = Vec::new();
        for p in &spec.partition_by {
            let mut probe = Lowerer {
                sql: self.sql,
                row: self.row,
                agg: None,
                over: None,
                clause: "PARTITION BY",
            };
            let t = probe.lower(p)?;
            let name = match &t.expr {
                Expr::Column { name, .. } => name.clone(),
                other => other.to_string(),
            };
            keys.push(NamedExpr {
                name,
                expr: t.expr,
                ty: t.ty.unwrap_or(DataType::String),
            });
        }
        // The same window as the first OVER aggregate's: compared planned, so `ROWS 2
        // PRECEDING` and `ROWS BETWEEN 2 PRECEDING AND CURRENT ROW`, or `INTERVAL '1'
        // MINUTE` and `INTERVAL '60' SECOND`, are one window.
        if let Some((first, first_frame, first_keys)) =
            self.over.as_deref().and_then(|o| o.spec.as_ref())
        {
            let same_keys = first_keys.len() == keys.len()
                && first_keys.iter().zip(&keys).all(|(a, b)| a.expr == b.expr);
            let same_time = self.over.as_deref().is_some_and(|o| o.time == this_time);
            if *first_frame == frame && same_keys && same_time {
                return Ok(());
            }
            return Err(self
                .err(
                    ErrorKind::InvalidWindow,
                    f,
                    "all OVER aggregates of a query must use the same window",
                )
                .with_detail(format!(
                    "this one is OVER ({text}), the first is OVER ({first})"
                ))
                .with_hint(format!(
                    "repeat OVER ({first}), or compute this aggregate in another feature"
                )));
        }
        let over = self.over.as_deref_mut().expect("over context");
        over.time = this_time;
        over.spec = Some((text, frame, keys));
        Ok(())
    }

    /// `f(..) OVER (..)`: an OVER aggregate, a leaf of the SELECT expression.
    pub(super) fn lower_over(&mut self, f: &ast::Function, name: &str) -> R<Typed> {
        self.over_window(f)?;
        let (distinct, args) = self.call_args(f, "arguments")?;
        if distinct {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    f,
                    format!("{name}(DISTINCT ...) is not supported over an OVER window"),
                )
                .with_hint("COUNT(DISTINCT x) works in a window (GROUP BY) query"));
        }
        if let Some(cond) = &f.filter {
            // COUNT, SUM, AVG, MIN and MAX skip NULLs, TOP and ARRAY_AGG keep them.
            let hint = if matches!(name, "TOP" | "LAST_N" | "ARRAY_AGG") {
                format!("{name} keeps NULLs: keep the rows in a subquery in FROM, `(SELECT ... FROM t WHERE {cond})`")
            } else {
                let value = match args {
                    [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))] => a.to_string(),
                    _ => "1".to_string(),
                };
                format!("put the condition in the argument (NULLs are skipped): {name}(CASE WHEN {cond} THEN {value} END) OVER (...)")
            };
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    f,
                    format!("{name}(...) FILTER (WHERE ...) is not supported over an OVER window"),
                )
                .with_hint(hint));
        }
        let supported =
            "OVER aggregates: COUNT, SUM, AVG, MIN, MAX, TOP(n, x) (alias LAST_N), ARRAY_AGG(x)";
        let (func, arg_expr) = match (name, args) {
            ("COUNT", [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]) => {
                (OverFunc::Agg(AggFunc::CountStar), None)
            }
            ("TOP" | "LAST_N", _) => {
                let a = function_args(self.sql, f)?;
                let n = match a.as_slice() {
                    [ast::Expr::Value(v), _] => match &v.value {
                        ast::Value::Number(n, _) => n.parse::<u64>().ok().filter(|n| *n > 0),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(n) = n else {
                    return Err(self
                        .err(
                            ErrorKind::Syntax,
                            f,
                            format!("{name} takes a positive row count and a value"),
                        )
                        .with_hint(format!("{name}(100, action) OVER (...)")));
                };
                (OverFunc::Top(n), Some(a[1]))
            }
            (_, [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))]) => {
                let func = match name {
                    "ARRAY_AGG" => OverFunc::ArrayAgg,
                    other => match AggFunc::from_name(other, false) {
                        Some(a) => OverFunc::Agg(a),
                        None => {
                            return Err(self
                                .err(
                                    ErrorKind::Unsupported,
                                    f,
                                    format!("{name} cannot be used with OVER"),
                                )
                                .with_hint(supported))
                        }
                    },
                };
                (func, Some(a))
            }
            _ if is_over_only(name) || AggFunc::is_aggregate_name(name) => {
                return Err(self.err(ErrorKind::Syntax, f, format!("{name} takes one argument")))
            }
            _ => {
                return Err(self
                    .err(
                        ErrorKind::Unsupported,
                        f,
                        format!("{name} cannot be used with OVER"),
                    )
                    .with_hint(supported))
            }
        };
        let (arg, arg_ty) = match arg_expr {
            Some(a) => {
                let mut inner = Lowerer {
                    sql: self.sql,
                    row: self.row,
                    agg: None,
                    over: None,
                    clause: "an OVER aggregate argument",
                };
                let t = inner.lower(a)?;
                if matches!(func, OverFunc::Agg(AggFunc::Sum | AggFunc::Avg))
                    && !t.ty.is_none_or(DataType::is_numeric)
                {
                    return Err(self
                        .err(
                            ErrorKind::TypeMismatch,
                            a,
                            format!(
                                "{name} needs a numeric argument, `{a}` has type {}",
                                t.ty.unwrap_or(DataType::String)
                            ),
                        )
                        .with_hint(format!("use COUNT, MIN, MAX or TOP, or CAST({a} AS float)")));
                }
                (Some(t.expr), t.ty)
            }
            None => (None, None),
        };
        let ty = match func {
            OverFunc::Agg(a) => a.result_type(arg_ty),
            OverFunc::Top(_) | OverFunc::ArrayAgg => DataType::Array,
        };
        let call = OverAgg { func, arg, ty };
        let scope = self.over.as_deref_mut().expect("over context");
        let i = match scope.aggs.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                scope.aggs.push(call.clone());
                scope.aggs.len() - 1
            }
        };
        Ok(Typed {
            expr: Expr::column(scope.source_width + i, call.to_string()),
            ty: Some(ty),
        })
    }
}
