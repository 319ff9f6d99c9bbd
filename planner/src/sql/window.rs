//! Group windows in SQL: `TUMBLE`/`HOP`/`CUMULATE`/`SESSION` in GROUP BY and the window
//! table functions in FROM, checked (positive sizes, HOP size >= slide, CUMULATE multiples,
//! at most [`MAX_WINDOWS_PER_RECORD`] windows per record, the event-time attribute) with the
//! swapped call as a hint where the arguments look reversed.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::window::Window;

use super::expr::{Lowerer, RowScope};
use super::functions::{function_args, function_name, interval_ms};
use super::{GroupWindow, Planner, SqlText};

/// What the intervals of window function `name` are, for hints: ` (slide, then size)`.
pub(super) fn interval_note(name: &str) -> &'static str {
    match name {
        "SESSION" => " (the gap)",
        "HOP" => " (slide, then size)",
        "CUMULATE" => " (step, then max size)",
        _ => "",
    }
}

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
        let intervals = match name {
            "SESSION" => "INTERVAL '30' MINUTES",
            "HOP" => "INTERVAL '1' MINUTE, INTERVAL '30' MINUTES",
            "CUMULATE" => "INTERVAL '10' MINUTES, INTERVAL '1' DAY",
            _ => "INTERVAL '1' HOUR",
        };
        let note = interval_note(name);
        // The call as it is written in this form: the TVF form keeps the table and
        // descriptor written (`TUMBLE(TABLE ev, DESCRIPTOR(rowtime), ...)`).
        let example = match (skip, args.as_slice()) {
            (1, [table, time, ..]) => {
                // The table argument reads back without its `TABLE` keyword, and a
                // SESSION's `PARTITION BY` as the planner's marker `=` (session.rs).
                let table = match (name, table) {
                    (
                        "SESSION",
                        ast::Expr::BinaryOp {
                            left,
                            op: ast::BinaryOperator::Eq,
                            right,
                        },
                    ) => {
                        format!("{left} PARTITION BY {right}")
                    }
                    _ => table.to_string(),
                };
                let table = if table.to_ascii_uppercase().starts_with("TABLE ") {
                    table
                } else {
                    format!("TABLE {table}")
                };
                format!("{name}({table}, {time}, {intervals}){note}")
            }
            (1, _) => format!("{name}(TABLE events, DESCRIPTOR(rowtime), {intervals}){note}"),
            _ => format!("{name}(rowtime, {intervals}){note}"),
        };
        // Flink's optional last argument of TUMBLE, HOP and CUMULATE shifts the windows.
        if args.len() == want + 1 && name != "SESSION" {
            let mut written: Vec<String> = args[..want].iter().map(|a| a.to_string()).collect();
            if skip == 1 && !written[0].to_ascii_uppercase().starts_with("TABLE ") {
                written[0] = format!("TABLE {}", written[0]);
            }
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    args[want].span(),
                    format!("a window offset is not supported: `{}`", args[want]),
                )
                .with_detail("windows are aligned to the epoch (UTC midnight for a day)")
                .with_hint(format!("remove the offset: {name}({})", written.join(", "))));
        }
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
                    (_, [_]) => format!("use {}", row.time_attr_names()),
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
        // The call with the given two intervals, for hints.
        let call = |a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            let prefix: Vec<String> = args[..skip + 1].iter().map(|x| x.to_string()).collect();
            let prefix = if skip == 1 {
                format!("TABLE {}", prefix.join(", "))
            } else {
                prefix.join(", ")
            };
            format!("{name}({prefix}, {a}, {b})")
        };
        let swapped = || call(args[skip + 2], args[skip + 1]);
        let count = |slide: u64, size: u64| {
            let (slide_arg, size_arg) = (args[skip + 1], args[skip + 2]);
            check_windows_per_record(sql, name, slide_arg, size_arg, slide, size, |s| {
                call(&s, size_arg)
            })
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
                count(slide, size)?;
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
                count(step, size)?;
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

/// A HOP (`slide`, `size`) or CUMULATE (`slide` the step, `size` the max size) putting a
/// record in more than [`MAX_WINDOWS_PER_RECORD`] windows is an error at its slide (step),
/// with a round coarser one (`example` writes the call with it) and, for HOP, an OVER
/// window as hints.
fn check_windows_per_record(
    sql: &SqlText,
    name: &str,
    slide_arg: &ast::Expr,
    size_arg: &ast::Expr,
    slide: u64,
    size: u64,
    example: impl Fn(String) -> String,
) -> Result<(), Diagnostic> {
    let n = size.div_ceil(slide);
    if n <= MAX_WINDOWS_PER_RECORD {
        return Ok(());
    }
    let dur = crate::duration::format_duration_ms;
    let hop = name == "HOP";
    // A CUMULATE step must divide the max size.
    let coarser = match coarser_slide(size, !hop) {
        Some((ms, interval)) => format!("{} or more, e.g. {}", dur(ms), example(interval)),
        None => format!(
            "{} or more{}",
            dur(size.div_ceil(MAX_WINDOWS_PER_RECORD)),
            if hop {
                ""
            } else {
                " that divides the max size"
            }
        ),
    };
    let (message, hint) = if hop {
        (
            format!("{} sliding every {}", dur(size), dur(slide)),
            format!("slide by {coarser}; or, for a value as of each event, use an OVER window: `OVER (PARTITION BY ... ORDER BY rowtime RANGE {size_arg} PRECEDING)`"),
        )
    } else {
        (
            format!("{} growing every {}", dur(size), dur(slide)),
            format!("use a step of {coarser}"),
        )
    };
    Err(sql
        .error(
            ErrorKind::InvalidWindow,
            slide_arg.span(),
            format!(
                "{name} puts each record in up to {} windows ({message}); at most {} are allowed",
                thousands(n),
                thousands(MAX_WINDOWS_PER_RECORD)
            ),
        )
        .with_detail(format!(
            "a record counts in every window that covers it, and each window is emitted per key: one event may become up to {} rows of its key, and a late one as many corrections",
            thousands(n)
        ))
        .with_hint(hint))
}

/// The most windows a HOP or CUMULATE window may put each record in (`size / slide`, rounded
/// up; `max size / step`). A record counts in every window covering it and each window is
/// emitted per key, so this bounds the rows one event makes, the corrections a late one
/// makes, and the per-key work of each emission. Generous for features ("30 days sliding
/// hourly" is 720, "7 days by the minute" 10,080, "30 days by the minute" 43,200) while
/// refusing the accidental second-level slide over days (`HOP(rowtime, INTERVAL '1'
/// SECOND, INTERVAL '30' DAY)`: 2,592,000).
pub const MAX_WINDOWS_PER_RECORD: u64 = 50_000;

/// The finest round slide (as an interval literal) giving `size` at most
/// [`MAX_WINDOWS_PER_RECORD`] windows, preferring one that divides `size` (one pane per
/// slide); with `divides` (a CUMULATE step) only one that divides it.
fn coarser_slide(size: u64, divides: bool) -> Option<(u64, String)> {
    const S: u64 = 1_000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    const ROUND: [(u64, u64, &str); 20] = [
        (1, S, "SECOND"),
        (2, S, "SECOND"),
        (5, S, "SECOND"),
        (10, S, "SECOND"),
        (15, S, "SECOND"),
        (30, S, "SECOND"),
        (1, M, "MINUTE"),
        (2, M, "MINUTE"),
        (5, M, "MINUTE"),
        (10, M, "MINUTE"),
        (15, M, "MINUTE"),
        (30, M, "MINUTE"),
        (1, H, "HOUR"),
        (2, H, "HOUR"),
        (3, H, "HOUR"),
        (6, H, "HOUR"),
        (12, H, "HOUR"),
        (1, D, "DAY"),
        (7, D, "DAY"),
        (30, D, "DAY"),
    ];
    let fits = ROUND
        .iter()
        .map(|&(n, unit, name)| (n * unit, format!("INTERVAL '{n}' {name}")))
        .filter(|(ms, _)| size.div_ceil(*ms) <= MAX_WINDOWS_PER_RECORD);
    let dividing = fits.clone().find(|(ms, _)| size.is_multiple_of(*ms));
    if divides {
        dividing
    } else {
        dividing.or_else(|| fits.clone().next())
    }
}

/// `n` with thousands separated by commas.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
