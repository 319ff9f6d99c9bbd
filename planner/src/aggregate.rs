//! Aggregate function descriptions (their evaluation lives in the dataflow crate).

use std::fmt;

use serde::Serialize;

use crate::expr::Expr;
use crate::types::DataType;

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT(x)`: non-null values.
    Count,
    /// `COUNT(DISTINCT x)`.
    CountDistinct,
    /// `SUM(x)`.
    Sum,
    /// `AVG(x)`.
    Avg,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
}

impl AggFunc {
    /// Looks an aggregate up by SQL name (`distinct` for `COUNT(DISTINCT ..)`).
    pub fn from_name(name: &str, distinct: bool) -> Option<AggFunc> {
        Some(match (name.to_ascii_uppercase().as_str(), distinct) {
            ("COUNT", false) => AggFunc::Count,
            ("COUNT", true) => AggFunc::CountDistinct,
            ("SUM", false) => AggFunc::Sum,
            ("AVG", false) => AggFunc::Avg,
            ("MIN", _) => AggFunc::Min,
            ("MAX", _) => AggFunc::Max,
            _ => return None,
        })
    }

    /// True if `name` is an aggregate function name.
    pub fn is_aggregate_name(name: &str) -> bool {
        matches!(
            name.to_ascii_uppercase().as_str(),
            "COUNT" | "SUM" | "AVG" | "MIN" | "MAX"
        )
    }

    /// Result type for an argument type.
    pub fn result_type(self, arg: Option<DataType>) -> DataType {
        match self {
            AggFunc::CountStar | AggFunc::Count | AggFunc::CountDistinct => DataType::Int,
            AggFunc::Avg => DataType::Float,
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => arg.unwrap_or(DataType::Int),
        }
    }
}

/// One aggregate call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggCall {
    /// Function.
    pub func: AggFunc,
    /// Argument (none for `COUNT(*)`).
    pub arg: Option<Expr>,
    /// Result type.
    pub ty: DataType,
}

impl AggCall {
    /// Whether the aggregate's pane states can be subtracted exactly, so a sliding window
    /// can keep a running value that panes enter and leave: COUNT(*), COUNT(x) and SUM over
    /// integers (wrapping arithmetic). Not float SUM or AVG (subtracting would change their
    /// rounding), nor MIN, MAX and COUNT(DISTINCT).
    pub fn subtractable(&self) -> bool {
        match self.func {
            AggFunc::CountStar | AggFunc::Count => true,
            AggFunc::Sum => self.ty == DataType::Int,
            _ => false,
        }
    }
}

impl fmt::Display for AggCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.func, &self.arg) {
            (AggFunc::CountStar, _) => f.write_str("count(*)"),
            (AggFunc::CountDistinct, Some(a)) => write!(f, "count(distinct {a})"),
            (func, Some(a)) => write!(f, "{}({a})", format!("{func:?}").to_lowercase()),
            (func, None) => write!(f, "{}()", format!("{func:?}").to_lowercase()),
        }
    }
}
