//! GROUP BY items that are not expressions over the row but mean something in other SQL
//! engines: a position (`GROUP BY 1`), a SELECT alias (`GROUP BY g`), or several
//! groupings (`GROUPING SETS`, `ROLLUP`, `CUBE`). None is resolved; each is an error that
//! shows what to write instead.

use sqlparser::ast::{self, Spanned};

use crate::aggregate::AggFunc;
use crate::error::{Diagnostic, ErrorKind};

use super::expr::RowScope;
use super::functions::{function_name, window_aux};
use super::{visit_functions, Planner};

impl Planner<'_> {
    /// Rejects `g` if it is a position or a SELECT alias (that is not also a column).
    pub(super) fn check_group_item(
        &self,
        g: &ast::Expr,
        s: &ast::Select,
        row: &RowScope,
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
                // (A literal is no example: `GROUP BY 1000` beside `SELECT 1000` was hinted
                // as itself, found by QA.)
                let example = example.filter(|e| !matches!(e, ast::Expr::Value(_)));
                let hint = match example {
                    Some(e) => format!("name the column, e.g. GROUP BY {e}"),
                    None => {
                        "name the grouping columns (a constant groups nothing: drop it)".to_string()
                    }
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
            ast::Expr::Identifier(id) if matches!(row.resolve(&id.value), Ok(None)) => {
                let aliased = s.projection.iter().find_map(|item| match item {
                    ast::SelectItem::ExprWithAlias { expr, alias }
                        if crate::names::same_name(&alias.value, &id.value) =>
                    {
                        Some(expr)
                    }
                    _ => None,
                });
                let Some(expr) = aliased else {
                    return Ok(());
                };
                let name = &id.value;
                let hint = if groupable(expr) {
                    format!("group by the aliased expression: GROUP BY {expr} (keep `AS {name}` in SELECT)")
                } else {
                    format!("`{name}` is `{expr}`, an aggregate or a window bound, not a key: remove it from GROUP BY")
                };
                Err(self
                    .sql
                    .error(
                        ErrorKind::UnknownColumn,
                        g.span(),
                        format!("`{name}` is a SELECT alias; aliases are not visible in GROUP BY"),
                    )
                    .with_detail("GROUP BY is evaluated before SELECT: it sees the columns of FROM, not the names given with AS")
                    .with_hint(hint))
            }
            ast::Expr::GroupingSets(_) | ast::Expr::Rollup(_) | ast::Expr::Cube(_) => {
                let what = match g {
                    ast::Expr::GroupingSets(_) => "GROUPING SETS",
                    ast::Expr::Rollup(_) => "ROLLUP",
                    _ => "CUBE",
                };
                Err(self
                    .sql
                    .error(
                        ErrorKind::Unsupported,
                        g.span(),
                        format!("{what} is not supported"),
                    )
                    .with_detail("a feature has one grouping: its rows are upserted by (feature, version, key, window), so rows of several groupings would share one key space")
                    .with_hint("write one feature per grouping, e.g. one GROUP BY user_id, TUMBLE(...) and one GROUP BY geohash, TUMBLE(...)"))
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
