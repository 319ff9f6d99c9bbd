//! Column references: a name, or `table.name`, resolved in the row (`rowtime` is the
//! event-time attribute), with the errors a user meets: ambiguous and unknown names, an
//! unknown table, window bounds outside grouping, a missing event time.

use sqlparser::ast;

use crate::error::{closest, ErrorKind};
use crate::expr::Expr;

use super::{Ambiguous, Lowerer, Typed, R};

impl Lowerer<'_> {
    pub(super) fn column(
        &mut self,
        node: &ast::Expr,
        qualifier: Option<&str>,
        name: &str,
    ) -> R<Typed> {
        let found = match qualifier {
            None => self.row.resolve(name).map_err(|Ambiguous(tables)| {
                let quals: Vec<String> = tables.iter().map(|t| format!("`{t}.{name}`")).collect();
                self.err(
                    ErrorKind::UnknownColumn,
                    node,
                    format!(
                        "column `{name}` is ambiguous: {} tables have it",
                        tables.len()
                    ),
                )
                .with_hint(format!("qualify it: {}", quals.join(" or ")))
            })?,
            Some(q) => self.row.resolve_qualified(q, name).map_err(|()| {
                let names: Vec<&str> = self.row.tables.iter().map(|t| t.name.as_str()).collect();
                let hint = match closest(q, names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}.{name}`?"),
                    None => format!("the tables in FROM are: {}", names.join(", ")),
                };
                self.err(
                    ErrorKind::UnknownTable,
                    node,
                    format!("unknown table `{q}` in `{q}.{name}`"),
                )
                .with_hint(hint)
            })?,
        };
        match found {
            Some(i) => {
                let (col, ty) = &self.row.columns[i];
                let col = if name.eq_ignore_ascii_case("rowtime") {
                    "rowtime"
                } else {
                    col.as_str()
                };
                let display = match qualifier {
                    Some(q) if self.row.tables.len() > 1 => format!("{q}.{col}"),
                    _ => col.to_string(),
                };
                Ok(Typed {
                    expr: Expr::column(i, display),
                    ty: Some(*ty),
                })
            }
            None => {
                let lower = name.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "window_start" | "window_end" | "window_time"
                ) {
                    return Err(self
                        .err(ErrorKind::UnknownColumn, node, format!("`{name}` cannot be used in {}", self.clause))
                        .with_hint(if self.clause == "GROUP BY" {
                            "`window_start` and `window_end` are columns of a window table function: FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(rowtime), INTERVAL '1' HOUR)); with GROUP BY TUMBLE(...) select TUMBLE_START(...) / TUMBLE_END(...)"
                        } else {
                            "window bounds exist only after grouping: use them in SELECT, GROUP BY or HAVING"
                        }));
                }
                if lower == "rowtime" && !self.row.time_attrs.is_empty() {
                    let msg = match qualifier {
                        Some(q) => format!("`{q}` has no event-time attribute here"),
                        None => "these rows have no event-time attribute".to_string(),
                    };
                    let detail = self.row.time_note.clone().unwrap_or_else(|| {
                        "a bounded table joined without time bounds (its rows take the stream side's time), or a subquery that does not select its event time, has none".into()
                    });
                    // `r.rowtime` of a table whose time is no event time here: its time
                    // column is still a value, by its name.
                    // (Not where an event time is needed: a window, an OVER's ORDER BY.)
                    let as_value = !matches!(self.clause, "a window" | "ORDER BY" | "GROUP BY");
                    let lost = qualifier.filter(|_| as_value).and_then(|q| {
                        let t = self
                            .row
                            .tables
                            .iter()
                            .find(|t| crate::names::same_name(&t.name, q))?;
                        let i = self
                            .row
                            .lost_time
                            .iter()
                            .find(|i| (t.start..t.start + t.len).contains(i))?;
                        Some(format!("`{}.{}`", t.name, self.row.columns[*i].0))
                    });
                    let hint = match lost {
                        Some(value) => format!(
                            "to read that time as a value, write {value} (NULL where a LEFT JOIN found no match); to place rows in time, use {}",
                            self.row.time_attr_names()
                        ),
                        None => format!("use {}", self.row.time_attr_names()),
                    };
                    return Err(self
                        .err(ErrorKind::UnknownColumn, node, msg)
                        .with_detail(detail)
                        .with_hint(hint));
                }
                if lower == "rowtime" && self.row.time_attrs.is_empty() {
                    return Err(self
                        .err(ErrorKind::UnknownColumn, node, "`rowtime` is not available: this subquery's rows have no event-time attribute")
                        .with_detail("a subquery keeps the event time only if it selects it unchanged")
                        .with_hint("select `rowtime` (or the event-time column itself) in the subquery in FROM"));
                }
                let mut names: Vec<&str> =
                    self.row.columns.iter().map(|(c, _)| c.as_str()).collect();
                if !self.row.time_attrs.is_empty() {
                    names.push("rowtime");
                }
                let close = closest(name, names.iter().copied());
                let d = self.err(
                    ErrorKind::UnknownColumn,
                    node,
                    format!("unknown column `{name}`"),
                );
                // `"text"` is a quoted column name in SQL, a string in many other languages.
                if matches!(node, ast::Expr::Identifier(id) if id.quote_style == Some('"')) {
                    let text = format!("'{}'", name.replace('\'', "''"));
                    let hint = match close {
                        Some(c) => {
                            format!("for the text, write {text}; for a column, did you mean `{c}`?")
                        }
                        None => format!("for the text, write {text}"),
                    };
                    return Err(d
                        .with_detail(format!("in SQL, double quotes make a column name (\"{name}\"), not a string; strings take single quotes"))
                        .with_hint(hint));
                }
                let hint = match close {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("available columns: {}", names.join(", ")),
                };
                Err(d.with_hint(hint))
            }
        }
    }
}
