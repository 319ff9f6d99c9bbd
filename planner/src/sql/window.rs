//! Group windows in SQL: `TUMBLE`/`HOP`/`CUMULATE`/`SESSION` in GROUP BY and the window
//! table functions in FROM, checked (positive sizes, HOP size >= slide, CUMULATE multiples,
//! the event-time attribute) with the swapped call as a hint where the arguments look reversed.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::window::Window;

use super::expr::{Lowerer, RowScope};
use super::functions::{function_args, function_name, interval_ms};
use super::{GroupWindow, Planner};

impl Planner<'_> {
    /// `TUMBLE(TABLE t, DESCRIPTOR(col), size)` and the other window table functions in FROM.
    pub(crate) fn window_tvf(&self, f: &ast::Function) -> Result<(usize, GroupWindow), Diagnostic> {
        let sql = self.sql;
        let fname = function_name(f);
        if !matches!(fname.as_str(), "TUMBLE" | "HOP" | "CUMULATE" | "SESSION") {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    f.span(),
                    format!("table function {fname} is not supported"),
                )
                .with_hint("window table functions: TUMBLE, HOP, CUMULATE, SESSION"));
        }
        let args = function_args(sql, f)?;
        let (table_arg, partition) = self.session_table_arg(&fname, args.first().copied())?;
        let Some(ast::Expr::Identifier(table)) = table_arg else {
            return Err(sql
                .error(
                    ErrorKind::Syntax,
                    f.span(),
                    format!("{fname} needs `TABLE <source>` as its first argument"),
                )
                .with_hint(format!(
                    "{fname}(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR)"
                )));
        };
        let idx = self.source(&table.value, args[0].span())?;
        let source = &self.job.sources[idx];
        let row = RowScope::table(
            &source.name,
            source.typed_columns(),
            vec![source.event_time],
        );
        let w = self.group_window(f, &fname, &row, 1)?;
        Ok((
            idx,
            GroupWindow {
                group_fn: None,
                partition,
                ..w
            },
        ))
    }

    /// `TUMBLE(t, size)` / `HOP(t, slide, size)` / `CUMULATE(t, step, max_size)`; in the TVF
    /// form the time argument is `DESCRIPTOR(t)` and comes after the table (`skip` = 1).
    pub(super) fn group_window(
        &self,
        f: &ast::Function,
        name: &str,
        row: &RowScope,
        skip: usize,
    ) -> Result<GroupWindow, Diagnostic> {
        let sql = self.sql;
        let args = function_args(sql, f)?;
        let want = skip
            + if matches!(name, "TUMBLE" | "SESSION") {
                2
            } else {
                3
            };
        let example = match name {
            "SESSION" => "SESSION(rowtime, INTERVAL '30' MINUTES) (the gap)",
            "HOP" => "HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES) (slide, then size)",
            "CUMULATE" => {
                "CUMULATE(rowtime, INTERVAL '10' MINUTES, INTERVAL '1' DAY) (step, then max size)"
            }
            _ => "TUMBLE(rowtime, INTERVAL '1' HOUR)",
        };
        if args.len() != want {
            return Err(sql
                .error(
                    ErrorKind::InvalidWindow,
                    f.span(),
                    format!("{name} takes {want} arguments, got {}", args.len()),
                )
                .with_hint(format!("write {example}")));
        }
        let time_arg = args[skip];
        let time_expr = match (skip, time_arg) {
            (1, ast::Expr::Function(d)) if function_name(d) == "DESCRIPTOR" => {
                let inner = function_args(sql, d)?;
                let [col] = inner.as_slice() else {
                    return Err(sql.error(
                        ErrorKind::Syntax,
                        d.span(),
                        "DESCRIPTOR takes one column",
                    ));
                };
                *col
            }
            (1, other) => {
                return Err(sql
                    .error(
                        ErrorKind::Syntax,
                        other.span(),
                        "the time column of a window table function is written DESCRIPTOR(col)",
                    )
                    .with_hint(format!("{name}(TABLE events, DESCRIPTOR(rowtime), ...)")))
            }
            _ => time_arg,
        };
        let t = Lowerer {
            sql,
            row,
            agg: None,
            over: None,
            clause: "a window",
        }
        .lower(time_expr)?;
        let time = match &t.expr {
            crate::expr::Expr::Column { index, .. } if row.is_time_attr(*index) => *index,
            _ => {
                let hint = match (row.tables.as_slice(), row.time_attrs.as_slice()) {
                    ([_], [one]) => format!("use `rowtime` or `{}`", row.columns[*one].0),
                    _ => format!("use one of {}", row.time_attr_names()),
                };
                return Err(sql
                    .error(
                        ErrorKind::InvalidWindow,
                        time_expr.span(),
                        format!("{name} must be on the event-time attribute, not `{time_expr}`"),
                    )
                    .with_detail(format!(
                        "{}; windows fire as its watermark passes",
                        row.time_detail()
                    ))
                    .with_hint(hint));
            }
        };
        let sizes: Vec<u64> = args[skip + 1..]
            .iter()
            .map(|a| interval_ms(sql, a))
            .collect::<Result<_, _>>()?;
        for (a, s) in args[skip + 1..].iter().zip(&sizes) {
            if *s == 0 && name == "SESSION" {
                return Err(sql
                    .error(ErrorKind::InvalidWindow, a.span(), "a SESSION gap must be positive")
                    .with_detail("events closer than the gap share a session; with no gap every event would be a session of zero length")
                    .with_hint("write a positive gap, e.g. INTERVAL '30' MINUTES"));
            }
            if *s == 0 {
                return Err(sql.error(
                    ErrorKind::InvalidWindow,
                    a.span(),
                    "a window interval must be positive",
                ));
            }
        }
        // The call with its two intervals swapped, for hints.
        let swapped = || {
            let (a, b) = (args[skip + 1], args[skip + 2]);
            let prefix: Vec<String> = args[..skip + 1].iter().map(|x| x.to_string()).collect();
            let prefix = if skip == 1 {
                format!("TABLE {}", prefix.join(", "))
            } else {
                prefix.join(", ")
            };
            format!("{name}({prefix}, {b}, {a})")
        };
        let dur = crate::duration::format_duration_ms;
        let (window, group_fn) = match name {
            "HOP" => {
                let (slide, size) = (sizes[0], sizes[1]);
                if size < slide {
                    return Err(sql
                        .error(ErrorKind::InvalidWindow, f.span(), format!(
                            "HOP size {} is smaller than its slide {}: windows would leave gaps",
                            dur(size),
                            dur(slide)
                        ))
                        .with_detail("HOP takes the slide first and the size second; events between windows would belong to none")
                        .with_hint(format!("did you mean {}?", swapped())));
                }
                (Window::hop(slide, size), "HOP")
            }
            "CUMULATE" => {
                let (step, size) = (sizes[0], sizes[1]);
                if size < step {
                    return Err(sql
                        .error(ErrorKind::InvalidWindow, f.span(), format!(
                            "CUMULATE max size {} is smaller than its step {}",
                            dur(size),
                            dur(step)
                        ))
                        .with_detail("CUMULATE takes the step first and the max size second; windows grow by one step until they reach the max size")
                        .with_hint(format!("did you mean {}?", swapped())));
                }
                if !size.is_multiple_of(step) {
                    let (lo, hi) = (size / step * step, size.div_ceil(step) * step);
                    return Err(sql
                        .error(ErrorKind::InvalidWindow, f.span(), format!(
                            "CUMULATE max size {} is not a multiple of its step {}",
                            dur(size),
                            dur(step)
                        ))
                        .with_detail("every cumulating window ends at a whole number of steps after the period start; the last one must end exactly at the max size")
                        .with_hint(format!(
                            "use a max size of {} or {}, or a step that divides {}",
                            dur(lo),
                            dur(hi),
                            dur(size)
                        )));
                }
                (Window::cumulate(step, size), "CUMULATE")
            }
            "SESSION" => (Window::session(sizes[0]), "SESSION"),
            _ => (Window::tumble(sizes[0]), "TUMBLE"),
        };
        Ok(GroupWindow {
            window,
            time,
            group_fn: Some(group_fn),
            partition: Vec::new(),
        })
    }
}
