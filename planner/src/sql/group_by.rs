//! GROUP BY items that are not expressions over the row but mean something in other SQL
//! engines: a position (`GROUP BY 1`). It is not resolved; it is an error that shows the
//! expression to group by instead.

use sqlparser::ast::{self, Spanned};

use crate::aggregate::AggFunc;
use crate::error::{Diagnostic, ErrorKind};

use super::functions::{function_name, window_aux};
use super::{visit_functions, Planner};

impl Planner<'_> {
    /// Rejects `g` if it is a position.
    pub(super) fn check_group_item(
        &self,
        g: &ast::Expr,
        s: &ast::Select,
    ) -> Result<(), Diagnostic> {
        match g {
            ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                let position = v.value.to_string().parse::<usize>().ok();
                let named = position
                    .and_then(|p| p.checked_sub(1))
                    .and_then(|i| s.projection.get(i))
                    .and_then(item_expr)
                    .filter(|e| groupable(e));
                let example = named.or_else(|| {
                    s.projection
                        .iter()
                        .filter_map(item_expr)
                        .find(|e| groupable(e))
                });
                let hint = match example {
                    Some(e) => format!("name the column, e.g. GROUP BY {e}"),
                    None => "name the grouping columns".to_string(),
                };
                Err(self
                    .sql
                    .error(
                        ErrorKind::Unsupported,
                        g.span(),
                        "positional GROUP BY is not supported",
                    )
                    .with_hint(hint))
            }
            _ => Ok(()),
        }
    }
}

/// The expression of a SELECT item (`None` for `*`).
fn item_expr(item: &ast::SelectItem) -> Option<&ast::Expr> {
    match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }
}

/// Whether `e` can be a grouping key: no aggregate, OVER call or window bound in it.
fn groupable(e: &ast::Expr) -> bool {
    let mut ok = true;
    visit_functions(e, &mut |f| {
        let name = function_name(f);
        if f.over.is_some()
            || AggFunc::is_aggregate_name(&name)
            || super::expr::is_over_only(&name)
            || window_aux(&name).is_some()
        {
            ok = false;
        }
    });
    ok
}
