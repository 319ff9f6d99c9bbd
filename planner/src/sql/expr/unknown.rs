//! The error for a function freshet does not have: aggregates and scalar functions Flink
//! has get what to write instead; others, the list of what there is.

use sqlparser::ast;

use crate::error::{Diagnostic, ErrorKind};

use super::Lowerer;

impl Lowerer<'_> {
    /// The diagnostic for a call of unknown function `name` at `e`.
    pub(super) fn unknown_function(&self, e: &ast::Expr, name: &str) -> Diagnostic {
        // Aggregates Flink has and freshet has not: an aggregate's error, with what to
        // write instead.
        let variance = "VAR_POP(x) is AVG(x * x) - AVG(x) * AVG(x), and VAR_SAMP(x) that times COUNT(x) / (COUNT(x) - 1); a standard deviation is the SQRT of one";
        let unsupported_aggregate = match name {
            "STDDEV_POP" | "STDDEV_SAMP" | "STDDEV" | "VAR_POP" | "VAR_SAMP" | "VARIANCE" => {
                Some(variance)
            }
            "LISTAGG" | "COLLECT" => {
                Some("over an OVER window, ARRAY_AGG(x) or LAST_N(n, x) collect values")
            }
            "APPROX_COUNT_DISTINCT" => Some("COUNT(DISTINCT x) is exact"),
            _ => None,
        };
        if let Some(hint) = unsupported_aggregate {
            return self
                .err(
                    ErrorKind::Unsupported,
                    e,
                    format!("aggregate function {name} is not supported"),
                )
                .with_hint(hint);
        }
        // Scalar functions Flink has, with what to write instead.
        let instead = match name {
            "LOG" => Some("LOG(x) is LN(x); LOG(b, x) is LN(x) / LN(b)"),
            "LOG2" => Some("LOG2(x) is LN(x) / LN(2)"),
            "TIMESTAMPADD" => Some("add milliseconds to a timestamp: t + 3600000 is an hour later"),
            _ => None,
        };
        if let Some(hint) = instead {
            return self
                .err(
                    ErrorKind::Unsupported,
                    e,
                    format!("function {name} is not supported"),
                )
                .with_hint(hint);
        }
        self.err(ErrorKind::Unsupported, e, format!("unknown function {name}")).with_hint(
            "aggregates: COUNT, SUM, AVG, MIN, MAX (over an OVER window also TOP, LAST_N, ARRAY_AGG); scalar functions: COALESCE, NULLIF, IF, GREATEST, LEAST, CONCAT, CONCAT_WS, LOWER, UPPER, CHAR_LENGTH, SUBSTRING, TRIM, REPLACE, POSITION, SPLIT_INDEX, ABS, FLOOR, CEIL, ROUND, MOD, POWER, SQRT, LN, LOG10, EXP, SIGN, DATE_FORMAT, EXTRACT, TIMESTAMPDIFF, TO_TIMESTAMP_LTZ",
        )
    }
}
