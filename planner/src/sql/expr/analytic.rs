//! Window (analytic) functions freshet does not have: `ROW_NUMBER`, `RANK`, `DENSE_RANK`,
//! `NTILE`, `LAG`, `LEAD`, `FIRST_VALUE`, `LAST_VALUE`. Each is rejected at its name, in
//! any clause, with or without OVER, saying what to write instead where freshet has an
//! equivalent: an OVER aggregate (`TOP`, `ARRAY_AGG`, `COUNT`) over a bounded frame that
//! ends at the current row.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};

use super::super::functions::function_name;
use super::super::SqlText;

/// The window functions this module explains.
const ANALYTIC: &[&str] = &[
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "PERCENT_RANK",
    "CUME_DIST",
    "NTILE",
    "LAG",
    "LEAD",
    "FIRST_VALUE",
    "LAST_VALUE",
    "NTH_VALUE",
];

/// The diagnostic for the call `f` when it is an unsupported window function; `None` for
/// every other function.
pub(crate) fn unsupported_window_function(sql: &SqlText, f: &ast::Function) -> Option<Diagnostic> {
    let name = function_name(f);
    let name = ANALYTIC.iter().find(|a| **a == name)?;
    let spec = match &f.over {
        Some(ast::WindowType::WindowSpec(s)) => Some(s),
        _ => None,
    };
    // The user's PARTITION BY, for windows in the hints.
    let partition = match spec.map(|s| s.partition_by.as_slice()) {
        Some([]) => String::new(),
        Some(keys) => {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            format!("PARTITION BY {} ", keys.join(", "))
        }
        None => "PARTITION BY key ".into(),
    };
    let window = |frame: &str| format!("OVER ({partition}ORDER BY rowtime {frame})");
    let args: Vec<String> = match &f.args {
        ast::FunctionArguments::List(l) => l.args.iter().map(|a| a.to_string()).collect(),
        _ => Vec::new(),
    };
    let x = args.first().map_or("x", String::as_str);
    let (detail, hint) = match *name {
        "LAG" => {
            let k = args
                .get(1)
                .and_then(|k| k.parse::<u64>().ok())
                .filter(|k| (1..1000).contains(k))
                .unwrap_or(1);
            (
                "freshet's OVER windows are aggregates over a bounded frame ending at the current row".to_string(),
                format!(
                    "TOP({}, {x}) {} is the last {} values of {x}, oldest first: the first is LAG({x}, {k})",
                    k + 1,
                    window(&format!("ROWS {k} PRECEDING")),
                    k + 1
                ),
            )
        }
        "LEAD" => (
            "a row's value would wait for later rows; OVER frames end at the current row".into(),
            format!(
                "look back from the later row instead: TOP(2, {x}) {} is each row's previous and own value",
                window("ROWS 1 PRECEDING")
            ),
        ),
        "FIRST_VALUE" | "NTH_VALUE" => {
            let same = match spec {
                Some(s) if s.window_frame.is_some() => format!("OVER ({s})"),
                _ => window("RANGE INTERVAL '1' HOUR PRECEDING"),
            };
            (
                "freshet's OVER windows are aggregates over a bounded frame ending at the current row".into(),
                format!("ARRAY_AGG({x}) {same} is the frame's values of {x}, oldest first (TOP(n, {x}) keeps only the last n)"),
            )
        }
        "LAST_VALUE" => (
            "OVER frames end at the current row, so the frame's last value is the current row's"
                .into(),
            format!("select `{x}` itself"),
        ),
        "ROW_NUMBER" => (
            "numbering rows needs every earlier row of the partition; freshet's OVER windows are aggregates over a bounded frame ending at the current row".into(),
            format!(
                "for a key's latest rows, TOP(10, x) {} (the last 10 values, oldest first); to count recent rows, COUNT(*) {}",
                window("ROWS 9 PRECEDING"),
                window("RANGE INTERVAL '1' DAY PRECEDING")
            ),
        ),
        _ => (
            "ranking needs every row of the partition; freshet has no ranking functions".into(),
            format!(
                "for a key's latest values, TOP(10, x) {} (the last 10, oldest first)",
                window("ROWS 9 PRECEDING")
            ),
        ),
    };
    Some(
        sql.error(
            ErrorKind::Unsupported,
            f.span(),
            format!("window function {name} is not supported"),
        )
        .with_detail(detail)
        .with_hint(hint),
    )
}
