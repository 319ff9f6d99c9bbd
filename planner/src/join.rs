//! Event-time interval joins, shared by the logical and physical plans; their evaluation
//! lives in the dataflow crate (`operators/interval_join.rs`).
//!
//! An interval join pairs rows of two inputs with equal keys whose event times satisfy
//! `lower_ms <= right_time - left_time <= upper_ms`. Both bounds are required: they are
//! what lets the frontier free join state (a left row can only meet right rows up to
//! `left_time + upper_ms`), so an equi-join without them is rejected at planning.
//!
//! Time: a row is accepted while the watermark has not passed its time plus the feature's
//! allowed lateness (judged at the source, like OVER rows), and kept while a row of the
//! other side that could still be accepted could match it. The join's output watermark
//! trails its inputs' by [`JoinPlan::delay_ms`], so that rows it emits are on time for the
//! windows downstream whenever the rows they were made of were on time.

use std::fmt;

use serde::Serialize;

use crate::duration::format_duration_ms;
use crate::expr::Expr;
use crate::logical::NamedExpr;

/// Inner or left outer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Matched pairs only.
    Inner,
    /// Matched pairs, and each left row that no right row matched, padded with NULLs, once
    /// the frontier proves no match can come any more.
    Left,
}

impl fmt::Display for JoinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinKind::Inner => "inner",
            JoinKind::Left => "left_outer",
        })
    }
}

/// The time condition `lower_ms <= right_time - left_time <= upper_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeBounds {
    /// Smallest allowed `right_time - left_time`, ms.
    pub lower_ms: i64,
    /// Largest allowed `right_time - left_time`, ms.
    pub upper_ms: i64,
}

impl TimeBounds {
    /// Whether a pair with these times matches.
    pub fn contains(&self, left_time: u64, right_time: u64) -> bool {
        let d = right_time as i128 - left_time as i128;
        self.lower_ms as i128 <= d && d <= self.upper_ms as i128
    }
}

/// A signed duration for display: `-4h`, `+1m`, `0s`.
fn signed(ms: i64) -> String {
    let mag = format_duration_ms(ms.unsigned_abs());
    match ms.signum() {
        -1 => format!("-{mag}"),
        1 => format!("+{mag}"),
        _ => mag,
    }
}

impl fmt::Display for TimeBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "right.time - left.time in [{}, {}]",
            signed(self.lower_ms),
            signed(self.upper_ms)
        )
    }
}

/// One input of a join, read from a source.
#[derive(Clone, Debug, Serialize)]
pub struct JoinSide {
    /// Index of the source.
    pub source: usize,
    /// Qualifier in SQL (alias or table name).
    pub name: String,
    /// Row filter over source rows.
    pub filter: Option<Expr>,
    /// The side's row, over source rows: the columns of the subquery's SELECT (or of the
    /// source) that the feature reads; the others are not kept in join state.
    pub columns: Vec<NamedExpr>,
    /// Join key, over source rows.
    pub key: Vec<Expr>,
    /// Name of the side's event-time attribute (its time is kept with each row).
    pub time_name: String,
}

/// An interval join of two sources, as the physical plan runs it. Its rows are
/// `[left side row.., right side row..]`.
#[derive(Clone, Debug, Serialize)]
pub struct JoinPlan {
    /// Inner or left outer.
    pub kind: JoinKind,
    /// Left input.
    pub left: JoinSide,
    /// Right input.
    pub right: JoinSide,
    /// Time condition.
    pub bounds: TimeBounds,
    /// Other ON conditions, over `[left.., right..]`: a pair matches only if this holds.
    pub residual: Option<Expr>,
    /// How far the join's output watermark trails its inputs', ms.
    pub delay_ms: u64,
    /// The right side is a bounded table joined without time bounds (`bounds` is then
    /// unbounded): its rows are kept for the whole run, left rows are matched once the
    /// table is loaded and not kept.
    pub table: bool,
}

impl JoinPlan {
    /// Width of a joined row.
    pub fn width(&self) -> usize {
        self.left.columns.len() + self.right.columns.len()
    }

    /// The output-watermark delay that keeps rows on time downstream, for a feature whose
    /// event time is column `time` of the joined row and whose lateness is `lateness_ms`.
    ///
    /// A matched pair is emitted when its second row arrives (on time: at or after the
    /// watermark, less the lateness when late); the chosen time may be older than that row
    /// by up to `upper` (left time, right row arriving) or `-lower` (right time, left row
    /// arriving). An unmatched left row of a LEFT join is emitted once the frontier passes
    /// `left_time + upper + lateness`, so its time may be that far behind.
    pub fn delay_for(&self, time: usize, lateness_ms: u64) -> u64 {
        // (Called before unread columns are pruned: `time` indexes the full joined row.)
        if self.table {
            // Rows are stamped with the stream row's own stamp; padded rows too.
            return 0;
        }
        let left_time = time < self.left.columns.len();
        let matched = if left_time {
            self.bounds.upper_ms.max(0)
        } else {
            self.bounds.lower_ms.saturating_neg().max(0)
        } as u64;
        match self.kind {
            JoinKind::Inner => matched,
            JoinKind::Left => {
                matched.max((self.bounds.upper_ms.max(0) as u64).saturating_add(lateness_ms))
            }
        }
    }
}

impl fmt::Display for JoinSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let key: Vec<String> = self.key.iter().map(|k| k.to_string()).collect();
        write!(
            f,
            "{} = source #{} [{}] key=[{}] time={}",
            self.name,
            self.source,
            cols.join(", "),
            key.join(", "),
            self.time_name
        )?;
        if let Some(p) = &self.filter {
            write!(f, " filter={p}")?;
        }
        Ok(())
    }
}
