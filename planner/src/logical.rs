//! The logical plan: a typed relational tree with names resolved, as SQL said it.
//!
//! It differs from the physical plan in shape, not meaning: the logical plan is a tree of
//! relational operators per feature; the physical plan is a fixed pipeline per feature
//! (source → filter → key → window aggregate → project → sinks, or its OVER and stateless
//! variants) with the time semantics (watermarks, panes, lateness) made explicit.

use std::fmt::{self, Write};

use serde::Serialize;

use crate::aggregate::AggCall;
use crate::duration::format_duration_ms;
use crate::expr::Expr;
use crate::join::{JoinKind, TimeBounds};
use crate::over::OverSpec;
use crate::types::DataType;
use crate::window::Window;

/// A named, typed expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedExpr {
    /// Output name.
    pub name: String,
    /// Expression.
    pub expr: Expr,
    /// Type.
    pub ty: DataType,
}

/// Logical operators.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LogicalPlan {
    /// Read a source table.
    Scan {
        /// Index of the source in the job.
        source: usize,
        /// Table name.
        table: String,
        /// Columns.
        columns: Vec<(String, DataType)>,
        /// Event-time column.
        event_time: String,
        /// Watermark delay, ms.
        watermark_delay_ms: u64,
    },
    /// Keep rows where the predicate is true.
    Filter {
        /// Input.
        input: Box<LogicalPlan>,
        /// Predicate.
        predicate: Expr,
    },
    /// Group by keys and an event-time window; aggregate.
    /// Output columns: keys, `window_start`, `window_end`, aggregates.
    WindowAggregate {
        /// Input.
        input: Box<LogicalPlan>,
        /// Window.
        window: Window,
        /// Event-time column the window is on.
        time_column: String,
        /// Its index in the input row.
        time: usize,
        /// Grouping keys.
        keys: Vec<NamedExpr>,
        /// Aggregates.
        aggs: Vec<AggCall>,
        /// Allowed lateness, ms.
        allowed_lateness_ms: u64,
    },
    /// Per-row aggregates over the preceding rows of each row's partition (OVER).
    /// Output columns: the input's columns, then the aggregates.
    OverAggregate {
        /// Input.
        input: Box<LogicalPlan>,
        /// Event-time column the rows are ordered by.
        time_column: String,
        /// Its index in the input row.
        time: usize,
        /// Window, partition keys and aggregates.
        over: OverSpec,
        /// Allowed lateness, ms.
        allowed_lateness_ms: u64,
    },
    /// An event-time interval join. Output columns: the left input's, then the right's
    /// (NULL for an unmatched left row of a LEFT join).
    IntervalJoin {
        /// Left input.
        left: Box<LogicalPlan>,
        /// Right input.
        right: Box<LogicalPlan>,
        /// Inner or left outer.
        kind: JoinKind,
        /// Equi-join keys over the left input's row.
        left_keys: Vec<Expr>,
        /// Equi-join keys over the right input's row, pairwise equal to `left_keys`.
        right_keys: Vec<Expr>,
        /// Event-time attribute of the left row (index).
        left_time: usize,
        /// Event-time attribute of the right row (index).
        right_time: usize,
        /// `lower <= right_time - left_time <= upper`.
        bounds: TimeBounds,
        /// Other ON conditions, over `[left.., right..]`.
        residual: Option<Expr>,
        /// The right input is a bounded table joined without time bounds (`bounds` is
        /// then unbounded and the event time is the left's).
        table: bool,
    },
    /// The rows of every input, one after the other (`UNION ALL`); the inputs have the
    /// same columns.
    Union {
        /// Inputs.
        inputs: Vec<LogicalPlan>,
    },
    /// Compute output columns.
    Project {
        /// Input.
        input: Box<LogicalPlan>,
        /// Output columns.
        columns: Vec<NamedExpr>,
    },
}

impl LogicalPlan {
    /// Whether the plan joins anywhere.
    pub fn has_join(&self) -> bool {
        match self {
            LogicalPlan::Scan { .. } => false,
            LogicalPlan::IntervalJoin { .. } => true,
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::WindowAggregate { input, .. }
            | LogicalPlan::OverAggregate { input, .. }
            | LogicalPlan::Project { input, .. } => input.has_join(),
            LogicalPlan::Union { inputs } => inputs.iter().any(LogicalPlan::has_join),
        }
    }

    fn render(&self, depth: usize, out: &mut String) -> fmt::Result {
        let pad = "  ".repeat(depth);
        match self {
            LogicalPlan::Scan {
                table,
                columns,
                event_time,
                watermark_delay_ms,
                ..
            } => {
                let cols: Vec<String> = columns.iter().map(|(n, t)| format!("{n}: {t}")).collect();
                writeln!(
                    out,
                    "{pad}Scan {table} [{}] event_time={event_time} watermark_delay={}",
                    cols.join(", "),
                    format_duration_ms(*watermark_delay_ms)
                )
            }
            LogicalPlan::Filter { input, predicate } => {
                writeln!(out, "{pad}Filter {predicate}")?;
                input.render(depth + 1, out)
            }
            LogicalPlan::WindowAggregate {
                input,
                window,
                time_column,
                keys,
                aggs,
                allowed_lateness_ms,
                ..
            } => {
                let ks: Vec<String> = keys.iter().map(|k| k.expr.to_string()).collect();
                let as_: Vec<String> = aggs.iter().map(|a| a.to_string()).collect();
                writeln!(
                    out,
                    "{pad}WindowAggregate {window} time={time_column} lateness={} keys=[{}] aggs=[{}]",
                    format_duration_ms(*allowed_lateness_ms),
                    ks.join(", "),
                    as_.join(", ")
                )?;
                input.render(depth + 1, out)
            }
            LogicalPlan::OverAggregate {
                input,
                time_column,
                over,
                allowed_lateness_ms,
                ..
            } => {
                writeln!(
                    out,
                    "{pad}OverAggregate {over} time={time_column} lateness={}",
                    format_duration_ms(*allowed_lateness_ms)
                )?;
                input.render(depth + 1, out)
            }
            LogicalPlan::IntervalJoin {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                bounds,
                residual,
                table,
                ..
            } => {
                let on: Vec<String> = left_keys
                    .iter()
                    .zip(right_keys)
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect();
                if *table {
                    write!(
                        out,
                        "{pad}TableJoin {kind} on=[{}] right=bounded table",
                        on.join(", ")
                    )?;
                } else {
                    write!(
                        out,
                        "{pad}IntervalJoin {kind} on=[{}] {bounds}",
                        on.join(", ")
                    )?;
                }
                if let Some(r) = residual {
                    write!(out, " residual={r}")?;
                }
                writeln!(out)?;
                left.render(depth + 1, out)?;
                right.render(depth + 1, out)
            }
            LogicalPlan::Union { inputs } => {
                writeln!(out, "{pad}UnionAll")?;
                for i in inputs {
                    i.render(depth + 1, out)?;
                }
                Ok(())
            }
            LogicalPlan::Project { input, columns } => {
                let cs: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} := {}", c.name, c.expr))
                    .collect();
                writeln!(out, "{pad}Project [{}]", cs.join(", "))?;
                input.render(depth + 1, out)
            }
        }
    }
}

impl fmt::Display for LogicalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.render(0, &mut s)?;
        f.write_str(s.trim_end())
    }
}
