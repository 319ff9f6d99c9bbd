//! SESSION windows in SQL: the `PARTITION BY` of the window table function
//! `SESSION(TABLE t PARTITION BY key, DESCRIPTOR(rowtime), gap)`, which sqlparser does not
//! parse as a function argument, and the rule that sessions are per grouping key.
//!
//! `mark_session_partition` rewrites `TABLE t PARTITION BY k` to `TABLE t =         k`
//! (same length, so positions stay right); the planner reads the first argument
//! `t = k` (or `t = (a, b)`) back as the table and its partition keys.

use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::{Span, Token};

use crate::error::{Diagnostic, ErrorKind};
use crate::expr::Expr;
use crate::types::DataType;
use crate::window::WindowKind;

use super::expr::{Lowerer, RowScope};
use super::rewrite::{is_word, respell};
use super::{GroupWindow, Planner};

/// Rewrites `TABLE <name> PARTITION BY` to `TABLE <name> =         ` (see the module docs).
pub(super) fn mark_session_partition(sql: &str) -> String {
    respell(sql, |solid, i| {
        let named = matches!(solid.get(i + 1).map(|t| &t.token), Some(Token::Word(_)));
        if is_word(solid.get(i), "TABLE")
            && named
            && is_word(solid.get(i + 2), "PARTITION")
            && is_word(solid.get(i + 3), "BY")
        {
            vec![(i + 2, "=        "), (i + 3, "  ")]
        } else {
            Vec::new()
        }
    })
}

impl Planner<'_> {
    /// The table argument of a window table function and, for SESSION, its
    /// `PARTITION BY` expressions (marked `t = keys` by [`mark_session_partition`]).
    pub(super) fn session_table_arg<'e>(
        &self,
        fname: &str,
        first: Option<&'e ast::Expr>,
    ) -> Result<(Option<&'e ast::Expr>, Vec<ast::Expr>), Diagnostic> {
        let Some(ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        }) = first
        else {
            return Ok((first, Vec::new()));
        };
        if !matches!(left.as_ref(), ast::Expr::Identifier(_)) {
            return Ok((first, Vec::new()));
        }
        if fname != "SESSION" {
            return Err(self
                .sql
                .error(
                    ErrorKind::InvalidWindow,
                    right.span(),
                    format!("{fname} takes no PARTITION BY"),
                )
                .with_detail("only SESSION windows are computed per partition")
                .with_hint(format!(
                    "{fname}(TABLE events, DESCRIPTOR(rowtime), ...) and GROUP BY key, window_start, window_end"
                )));
        }
        let keys = match right.as_ref() {
            ast::Expr::Tuple(v) => v.clone(),
            ast::Expr::Nested(e) => vec![e.as_ref().clone()],
            other => vec![other.clone()],
        };
        Ok((Some(left.as_ref()), keys))
    }

    /// For the SESSION table function: sessions are computed per grouping key, so its
    /// `PARTITION BY` must name exactly the GROUP BY keys (besides the window bounds).
    pub(super) fn check_session_partition(
        &self,
        w: &GroupWindow,
        keys: &[(Expr, String, DataType)],
        row: &RowScope,
        here: Span,
    ) -> Result<(), Diagnostic> {
        if w.window.kind != WindowKind::Session {
            return Ok(());
        }
        let sql = self.sql;
        let key_names: Vec<&str> = keys.iter().map(|(_, n, _)| n.as_str()).collect();
        let want = format!("PARTITION BY ({})", key_names.join(", "));
        let want = if key_names.len() == 1 {
            format!("PARTITION BY {}", key_names[0])
        } else {
            want
        };
        if w.partition.is_empty() {
            if keys.is_empty() {
                return Ok(());
            }
            return Err(sql
                .error(
                    ErrorKind::InvalidWindow,
                    here,
                    format!("the SESSION table function needs PARTITION BY to group by {}", key_names.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
                )
                .with_detail("without PARTITION BY, Flink's SESSION table function finds sessions over the whole table, not per key; freshet computes sessions per grouping key only")
                .with_hint(format!("write SESSION(TABLE <source> {want}, DESCRIPTOR(rowtime), <gap>)")));
        }
        let mut partition = Vec::new();
        for p in &w.partition {
            let t = Lowerer {
                sql,
                row,
                agg: None,
                over: None,
                clause: "PARTITION BY",
            }
            .lower(p)?;
            if !keys.iter().any(|(k, _, _)| *k == t.expr) {
                return Err(sql
                    .error(
                        ErrorKind::InvalidWindow,
                        p.span(),
                        format!("SESSION partition key `{p}` is not a grouping key"),
                    )
                    .with_detail("sessions are computed per grouping key")
                    .with_hint(format!("GROUP BY {p}, window_start, window_end")));
            }
            partition.push(t.expr);
        }
        if let Some((_, name, _)) = keys.iter().find(|(k, _, _)| !partition.contains(k)) {
            return Err(sql
                .error(
                    ErrorKind::InvalidWindow,
                    here,
                    format!("grouping key `{name}` is not a SESSION partition key"),
                )
                .with_detail("sessions are computed per grouping key: PARTITION BY and GROUP BY must name the same keys")
                .with_hint(format!("write SESSION(TABLE <source> {want}, ...)")));
        }
        Ok(())
    }
}
