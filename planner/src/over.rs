//! OVER aggregations in event time: per-row aggregates over the preceding rows of the
//! row's partition (`f(x) OVER (PARTITION BY k ORDER BY rowtime <frame>)`), shared by the
//! logical and physical plans. Their evaluation lives in the dataflow crate.
//!
//! Frames end at the current row, inclusive. `RANGE INTERVAL 'd' PRECEDING` holds the
//! partition's rows with event time in `[t - d, t]` (rows sharing the current row's time
//! included, as in SQL and Flink); `ROWS n PRECEDING` holds the current row and the `n`
//! rows before it in event-time order.

use std::fmt;

use serde::Serialize;

use crate::aggregate::AggFunc;
use crate::duration::format_duration_ms;
use crate::expr::Expr;
use crate::logical::NamedExpr;
use crate::types::DataType;

/// The frame of an OVER window (always ending at the current row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "units", rename_all = "snake_case")]
pub enum OverFrame {
    /// `RANGE INTERVAL .. PRECEDING`: rows with time in `[t - preceding_ms, t]`.
    Range {
        /// How far back, ms.
        preceding_ms: u64,
    },
    /// `ROWS n PRECEDING`: the current row and the `preceding` rows before it.
    Rows {
        /// Rows before the current one.
        preceding: u64,
    },
}

impl fmt::Display for OverFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverFrame::Range { preceding_ms } => {
                write!(f, "RANGE {} PRECEDING", format_duration_ms(*preceding_ms))
            }
            OverFrame::Rows { preceding } => write!(f, "ROWS {preceding} PRECEDING"),
        }
    }
}

/// OVER aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverFunc {
    /// COUNT(*), COUNT(x), SUM, AVG, MIN, MAX over the frame (NULLs ignored but by COUNT(*)).
    Agg(AggFunc),
    /// `TOP(n, x)` / `LAST_N(n, x)`: the last `n` values of the frame, oldest first.
    Top(u64),
    /// `ARRAY_AGG(x)`: every value of the frame, oldest first.
    ArrayAgg,
}

/// One OVER aggregate call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverAgg {
    /// Function.
    pub func: OverFunc,
    /// Argument over source rows (none for `COUNT(*)`).
    pub arg: Option<Expr>,
    /// Result type.
    pub ty: DataType,
}

impl fmt::Display for OverAgg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.func, &self.arg) {
            (OverFunc::Agg(a), arg) => write!(
                f,
                "{}",
                crate::aggregate::AggCall {
                    func: *a,
                    arg: arg.clone(),
                    ty: self.ty
                }
            ),
            (OverFunc::Top(n), Some(a)) => write!(f, "top({n}, {a})"),
            (OverFunc::ArrayAgg, Some(a)) => write!(f, "array_agg({a})"),
            (OverFunc::Top(n), None) => write!(f, "top({n})"),
            (OverFunc::ArrayAgg, None) => f.write_str("array_agg()"),
        }
    }
}

/// An OVER window and the aggregates computed over it.
///
/// Output rows of the OVER operator are laid out as `[source row.., aggs..]`: the current
/// row's source columns (only `carried` ones are kept; the others are NULL) followed by the
/// aggregate values, so selected expressions index the source columns unchanged and
/// aggregate `i` at `source_width + i`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverSpec {
    /// PARTITION BY expressions over source rows; rows are exchanged by their hash.
    pub keys: Vec<NamedExpr>,
    /// The frame.
    pub frame: OverFrame,
    /// Aggregates.
    pub aggs: Vec<OverAgg>,
    /// Source columns the selected expressions read from the current row.
    pub carried: Vec<usize>,
    /// Number of source columns (aggregate `i` is at `source_width + i`).
    pub source_width: usize,
}

impl OverSpec {
    /// The most rows a frame holds, if bounded by a count (`ROWS n`: n + 1; with only
    /// `TOP` aggregates over a RANGE frame, the largest n is all that is ever read).
    pub fn max_rows(&self) -> Option<u64> {
        match self.frame {
            OverFrame::Rows { preceding } => Some(preceding.saturating_add(1)),
            OverFrame::Range { .. } => {
                let mut max = 0;
                for a in &self.aggs {
                    match a.func {
                        OverFunc::Top(n) => max = max.max(n),
                        _ => return None,
                    }
                }
                Some(max)
            }
        }
    }
}

impl fmt::Display for OverSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| k.expr.to_string()).collect();
        let aggs: Vec<String> = self.aggs.iter().map(|a| a.to_string()).collect();
        write!(
            f,
            "partition=[{}] order=rowtime frame={} aggs=[{}]",
            keys.join(", "),
            self.frame,
            aggs.join(", ")
        )
    }
}
