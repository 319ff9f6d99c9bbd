//! `AGG(x) FILTER (WHERE p)` in a grouped query, rewritten at plan time into the argument:
//! `AGG(CASE WHEN p THEN x END)`, and `COUNT(*) FILTER (WHERE p)` into
//! `COUNT(CASE WHEN p THEN 1 END)`. The rewrite is exact because every window aggregate
//! (COUNT, COUNT(DISTINCT), SUM, AVG, MIN, MAX) skips NULL arguments, and a row the
//! condition does not accept (false or NULL) gives a NULL argument. The sequence aggregates
//! (TOP, ARRAY_AGG) keep NULLs, and exist only over an OVER window, which rejects FILTER.

use sqlparser::ast;

use crate::expr::Expr;
use crate::types::Value;

use super::{Lowerer, R};

impl Lowerer<'_> {
    /// The condition of `f`'s `FILTER (WHERE ...)`, lowered over source rows and checked to
    /// be a predicate; `None` without one.
    pub(super) fn aggregate_filter(&self, f: &ast::Function) -> R<Option<Expr>> {
        let Some(cond) = f.filter.as_deref() else {
            return Ok(None);
        };
        let mut inner = Lowerer {
            sql: self.sql,
            row: self.row,
            agg: None,
            over: None,
            clause: "FILTER (WHERE ...)",
        };
        inner.lower_predicate(cond).map(Some)
    }
}

/// `CASE WHEN cond THEN arg END`: the argument an aggregate sees for a row, NULL (skipped)
/// when the row fails the filter. `arg` is `None` for `COUNT(*)`, which counts the rows.
pub(super) fn filtered_arg(arg: Option<Expr>, cond: Expr) -> Expr {
    Expr::Case {
        operand: None,
        whens: vec![(cond, arg.unwrap_or(Expr::Literal(Value::Int(1))))],
        otherwise: None,
    }
}
