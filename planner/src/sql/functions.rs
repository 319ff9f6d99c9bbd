//! Leaves of SQL expressions: literals, intervals, cast targets, function names and
//! arguments, and Flink's window auxiliary functions (`TUMBLE_END`, ...).

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::expr::Expr;
use crate::types::{DataType, Value};

use super::expr::{RowScope, Typed};
use super::SqlText;

type R<T> = Result<T, Diagnostic>;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    Start,
    End,
    /// The window's last millisecond (`end - 1`), Flink's `*_ROWTIME`.
    Rowtime,
}

pub(crate) fn window_aux(name: &str) -> Option<Bound> {
    match name {
        "TUMBLE_START" | "HOP_START" | "CUMULATE_START" | "SESSION_START" => Some(Bound::Start),
        "TUMBLE_END" | "HOP_END" | "CUMULATE_END" | "SESSION_END" => Some(Bound::End),
        "TUMBLE_ROWTIME" | "HOP_ROWTIME" | "CUMULATE_ROWTIME" | "SESSION_ROWTIME" => {
            Some(Bound::Rowtime)
        }
        _ => None,
    }
}

/// The window bound a column reference names: `window_start`, `window_end` or `window_time`
/// (`window_end - 1`, the window's rowtime) of a window table function, bare or qualified by its alias (`w.window_end`); qualifiers resolve as
/// for columns (any qualifier when FROM has one table). Whether the query has a window
/// table function is for the caller to check.
pub(crate) fn window_bound_column(e: &ast::Expr, row: &RowScope) -> Option<Bound> {
    let name = match e {
        ast::Expr::Identifier(id) => &id.value,
        ast::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, name] if row.resolve_qualified(&q.value, &name.value).is_ok() => &name.value,
            _ => return None,
        },
        _ => return None,
    };
    if name.eq_ignore_ascii_case("window_start") {
        Some(Bound::Start)
    } else if name.eq_ignore_ascii_case("window_end") {
        Some(Bound::End)
    } else if name.eq_ignore_ascii_case("window_time") {
        Some(Bound::Rowtime)
    } else {
        None
    }
}

/// Upper-cased function name.
pub(crate) fn function_name(f: &ast::Function) -> String {
    f.name.to_string().to_ascii_uppercase()
}

/// Rejects what a call may carry besides its arguments and `DISTINCT`: `IGNORE NULLS`,
/// `ORDER BY` / `LIMIT` / `SEPARATOR` inside the parentheses, `WITHIN GROUP (...)` and
/// parametric calls. Each used to be dropped: `ARRAY_AGG(x) IGNORE NULLS OVER (...)` kept
/// the NULLs. `RESPECT NULLS`, the default, is accepted.
pub(crate) fn call_modifiers(sql: &SqlText, f: &ast::Function) -> R<()> {
    let name = function_name(f);
    let at = f.span();
    let err = |what: &str, hint: &str| {
        sql.error(
            ErrorKind::Unsupported,
            at,
            format!("{what} in a call of {name} is not supported"),
        )
        .with_hint(hint.to_string())
    };
    // FILTER belongs to an aggregate call; after any other call it used to be dropped
    // (`ROUND(SUM(x), 2) FILTER (WHERE ...)` summed every row; found by QA).
    if let Some(cond) = f.filter.as_deref() {
        if !crate::aggregate::AggFunc::is_aggregate_name(&name) && !super::expr::is_over_only(&name)
        {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    cond.span(),
                    format!("FILTER (WHERE ...) applies to an aggregate function, and {name} is not one"),
                )
                .with_hint(format!(
                    "put FILTER right after the aggregate call inside it, e.g. {name}(SUM(x) FILTER (WHERE {cond}), ...), or write CASE WHEN {cond} THEN ... END"
                )));
        }
    }
    let nulls_hint = "NULLs are kept; to leave them out of a sequence, compute it over the non-NULL rows: a subquery `(SELECT ... FROM t WHERE x IS NOT NULL)` in FROM";
    if f.null_treatment == Some(ast::NullTreatment::IgnoreNulls) {
        return Err(err("IGNORE NULLS", nulls_hint));
    }
    if !f.within_group.is_empty() {
        return Err(err("WITHIN GROUP (ORDER BY ...)", "remove it"));
    }
    if !matches!(f.parameters, ast::FunctionArguments::None) {
        return Err(err(
            "a parametric call `f(...)(...)`",
            "remove the first argument list",
        ));
    }
    if let ast::FunctionArguments::List(l) = &f.args {
        for clause in &l.clauses {
            match clause {
                ast::FunctionArgumentClause::IgnoreOrRespectNulls(
                    ast::NullTreatment::RespectNulls,
                ) => {}
                ast::FunctionArgumentClause::IgnoreOrRespectNulls(_) => {
                    return Err(err("IGNORE NULLS", nulls_hint))
                }
                ast::FunctionArgumentClause::OrderBy(_) => {
                    return Err(err(
                        "ORDER BY inside the parentheses",
                        "sequence functions (TOP, LAST_N, ARRAY_AGG) order by event time, the OVER window's ORDER BY; remove it",
                    ))
                }
                other => return Err(err(&format!("`{other}`"), "remove it")),
            }
        }
    }
    Ok(())
}

/// Plain positional arguments of a call.
pub(crate) fn function_args<'f>(sql: &SqlText, f: &'f ast::Function) -> R<Vec<&'f ast::Expr>> {
    call_modifiers(sql, f)?;
    match &f.args {
        ast::FunctionArguments::None => Ok(vec![]),
        ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
                ast::FunctionArg::Named { .. } | ast::FunctionArg::ExprNamed { .. } => {
                    let name = function_name(f);
                    let d = sql.error(
                        ErrorKind::Unsupported,
                        f.span(),
                        format!("named arguments of {name} are not supported: `{a}`"),
                    );
                    Err(match super::named_args::find(&f.to_string()) {
                        Some(call) => d.with_hint(format!(
                            "pass the arguments by position: {}",
                            call.positional()
                        )),
                        None => d.with_hint("pass the arguments by position"),
                    })
                }
                other => Err(sql.error(
                    ErrorKind::Unsupported,
                    f.span(),
                    format!("unsupported argument `{other}`"),
                )),
            })
            .collect(),
        ast::FunctionArguments::Subquery(_) => Err(sql.error(
            ErrorKind::Unsupported,
            f.span(),
            "subquery arguments are not supported",
        )),
    }
}

/// The largest window size, slide, gap or OVER range: 1000 years of 365 days.
pub(crate) const MAX_WINDOW_INTERVAL_MS: i64 = 1000 * 365 * 86_400_000;

/// A window size, slide, gap or OVER range: `INTERVAL '1' HOUR` (also
/// `INTERVAL '30' MINUTES`, `INTERVAL '1 hour'`) in ms, which must not be negative.
pub(crate) fn interval_ms(sql: &SqlText, e: &ast::Expr) -> R<u64> {
    let ms = signed_interval_ms(sql, e)?;
    if ms > MAX_WINDOW_INTERVAL_MS {
        // A window's end is an event time plus such an interval: far past this, it would
        // not fit in the 64-bit milliseconds of a timestamp, and would wrap to a negative
        // one that looks valid.
        return Err(sql
            .error(
                ErrorKind::InvalidWindow,
                e.span(),
                format!("interval too large for a window: `{e}`"),
            )
            .with_detail("window sizes, slides, gaps and OVER ranges are at most 1000 years, so that an event time plus one stays a valid timestamp")
            .with_hint(format!(
                "the largest is INTERVAL '{}' DAY",
                MAX_WINDOW_INTERVAL_MS / 86_400_000
            )));
    }
    u64::try_from(ms).map_err(|_| {
        sql.error(
            ErrorKind::InvalidWindow,
            e.span(),
            format!(
                "negative interval `{e}`: window sizes, slides, gaps and OVER ranges cannot be negative"
            ),
        )
        .with_hint(format!(
            "did you mean {}?",
            e.to_string().replacen("'-", "'", 1)
        ))
    })
}

/// `INTERVAL '1' HOUR` (also `INTERVAL '30' MINUTES`, `INTERVAL '1 hour'`,
/// `INTERVAL '-1' HOUR`) in ms, which may be negative (`rowtime + INTERVAL '-1' HOUR`).
/// An interval must fit in an i64 of milliseconds (about 292 million years).
pub(crate) fn signed_interval_ms(sql: &SqlText, e: &ast::Expr) -> R<i64> {
    let bad = |msg: String| {
        sql.error(ErrorKind::Syntax, e.span(), msg).with_hint(
            "write intervals like INTERVAL '1' HOUR, INTERVAL '30' MINUTES or INTERVAL '10' SECOND",
        )
    };
    // Names the largest value in the interval's unit (`scale` ms).
    let too_large = |scale: i64, unit: &str| {
        sql.error(
            ErrorKind::Syntax,
            e.span(),
            format!("interval too large: `{e}`"),
        )
        .with_detail("intervals are counted in milliseconds, in a 64-bit integer")
        .with_hint(format!(
            "the largest is INTERVAL '{}' {unit}",
            i64::MAX / scale
        ))
    };
    let ast::Expr::Interval(iv) = e else {
        return Err(bad(format!("expected an interval, found `{e}`")));
    };
    if iv.last_field.is_some() {
        return Err(bad(
            "interval ranges (e.g. HOUR TO MINUTE) are not supported".into(),
        ));
    }
    let text = match iv.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.to_string(),
            other => return Err(bad(format!("unsupported interval value {other}"))),
        },
        other => return Err(bad(format!("unsupported interval value {other}"))),
    };
    use ast::DateTimeField as F;
    let scale = match &iv.leading_field {
        None => {
            let ms = crate::duration::parse_duration_ms(&text.replace(' ', ""))
                .map_err(|m| bad(format!("bad interval: {m}")))?;
            return i64::try_from(ms).map_err(|_| too_large(1, "MILLISECOND"));
        }
        Some(F::Millisecond | F::Milliseconds) => 1,
        Some(F::Second | F::Seconds) => 1_000,
        Some(F::Minute | F::Minutes) => 60_000,
        Some(F::Hour | F::Hours) => 3_600_000,
        Some(F::Day | F::Days) => 86_400_000,
        Some(F::Week(_) | F::Weeks) => 7 * 86_400_000,
        Some(other) => {
            return Err(bad(format!(
                "interval unit {other} is not supported (months and years vary in length)"
            )))
        }
    };
    let unit = iv
        .leading_field
        .as_ref()
        .map_or(String::new(), |f| f.to_string());
    let digits = text.trim();
    let n: i64 = digits.parse().map_err(|_| {
        let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            too_large(scale, &unit)
        } else {
            bad(format!("interval value '{text}' is not a whole number"))
        }
    })?;
    n.checked_mul(scale).ok_or_else(|| too_large(scale, &unit))
}

pub(crate) fn literal(sql: &SqlText, e: &ast::Expr, v: &ast::Value) -> R<Typed> {
    let (value, ty) = match v {
        ast::Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => (Value::Int(i), DataType::Int),
            Err(_) if n.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(int_out_of_range(sql, e, n))
            }
            Err(_) => match n.parse::<f64>() {
                Ok(f) => (Value::Float(f), DataType::Float),
                Err(_) => {
                    return Err(sql.error(ErrorKind::Syntax, e.span(), format!("bad number {n}")))
                }
            },
        },
        ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
            (Value::Str(s.as_str().into()), DataType::String)
        }
        ast::Value::Boolean(b) => (Value::Bool(*b), DataType::Bool),
        ast::Value::Null => {
            return Ok(Typed {
                expr: Expr::Literal(Value::Null),
                ty: None,
            })
        }
        other => {
            return Err(sql.error(
                ErrorKind::Unsupported,
                e.span(),
                format!("unsupported literal {other}"),
            ))
        }
    };
    Ok(Typed {
        expr: Expr::Literal(value),
        ty: Some(ty),
    })
}

/// `TIMESTAMP 'yyyy-MM-dd HH:mm:ss[.fff]'` (also with `T` for the space, and a trailing `Z`):
/// UTC epoch milliseconds, digits past the millisecond dropped. Other typed literals
/// (`DATE '...'`, `TIME '...'`) are errors.
pub(crate) fn typed_literal(sql: &SqlText, e: &ast::Expr, ts: &ast::TypedString) -> R<Typed> {
    let example = "TIMESTAMP '2026-01-01 10:00:00' (UTC; also '2026-01-01 10:00:00.250')";
    if cast_target(&ts.data_type) != Some(DataType::Timestamp) {
        return Err(sql
            .error(
                ErrorKind::Unsupported,
                e.span(),
                format!("{} literals are not supported", ts.data_type),
            )
            .with_hint(format!("timestamps are written {example}")));
    }
    let text = match &ts.value.value {
        ast::Value::SingleQuotedString(s) => Some(s.as_str()),
        _ => None,
    };
    let ms = text.and_then(|t| {
        let t = t.trim();
        let t = t.strip_suffix(['Z', 'z']).unwrap_or(t);
        let t = t.replacen('T', " ", 1);
        // chrono alone also takes one-digit fields and second 60 (a leap second).
        if !timestamp_shape(&t) {
            return None;
        }
        chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|d| d.and_utc().timestamp_millis())
    });
    let Some(ms) = ms else {
        return Err(sql
            .error(
                ErrorKind::Syntax,
                e.span(),
                format!("bad TIMESTAMP literal `{e}`: expected 'yyyy-MM-dd HH:mm:ss[.fff]'"),
            )
            .with_hint(format!("write {example}")));
    };
    Ok(Typed {
        expr: Expr::Literal(Value::Ts(ms)),
        ty: Some(DataType::Timestamp),
    })
}

/// Whether `t` is `yyyy-MM-dd HH:mm:ss` with every field in full, seconds below 60, and
/// an optional fraction of 1 to 9 digits.
fn timestamp_shape(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[17] < b'6';
    let fraction = match &b[19.min(b.len())..] {
        [] => true,
        [b'.', rest @ ..] => (1..=9).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    fixed && fraction
}

/// An integer literal past 64 bits, quoted as written: an error rather than a float that
/// is not the number written.
fn int_out_of_range(sql: &SqlText, e: &ast::Expr, n: &str) -> Diagnostic {
    sql.error(
        ErrorKind::Syntax,
        e.span(),
        format!("integer literal {n} is out of range"),
    )
    .with_detail(format!(
        "ints are 64-bit, from {} to {}",
        i64::MIN,
        i64::MAX
    ))
    .with_hint(format!("for a float, write {n}.0"))
}

/// `-n` for an integer literal `n`: the literal's value, `i64::MIN` included (whose
/// magnitude alone is out of range).
pub(crate) fn negative_int_literal(e: &ast::Expr) -> Option<i64> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) if n.bytes().all(|b| b.is_ascii_digit()) => {
                format!("-{n}").parse().ok()
            }
            _ => None,
        },
        _ => None,
    }
}

/// For a cast target with a length, precision or scale that would change the value
/// (`VARCHAR(3)` truncates, `CHAR(5)` pads, `DECIMAL(10, 2)` rounds in Flink), what to
/// write instead: freshet's strings have no length and its DECIMAL is a DOUBLE, so the
/// argument was dropped and the value came out unchanged.
pub(crate) fn cast_size_hint(t: &ast::DataType) -> Option<&'static str> {
    let s = t.to_string().to_ascii_uppercase();
    let (head, args) = s.split_once('(')?;
    match head.trim() {
        "VARCHAR" | "CHAR" | "CHARACTER" | "CHARACTER VARYING" | "STRING" => Some(
            "strings have no length here: CAST(x AS STRING), and SUBSTRING(x, 1, n) to keep the first n characters",
        ),
        "DECIMAL" | "NUMERIC" | "DEC" if args.trim_end_matches(')').trim() != "" => Some(
            "DECIMAL is a DOUBLE here: CAST(x AS DOUBLE), and ROUND(x, s) for s decimal places",
        ),
        _ => None,
    }
}

pub(crate) fn cast_target(t: &ast::DataType) -> Option<DataType> {
    let s = t.to_string().to_ascii_uppercase();
    let head = s.split(['(', ' ']).next().unwrap_or("");
    Some(match head {
        "STRING" | "VARCHAR" | "TEXT" | "CHAR" => DataType::String,
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "INT64" => DataType::Int,
        "DOUBLE" | "FLOAT" | "REAL" | "DECIMAL" | "NUMERIC" | "FLOAT64" => DataType::Float,
        "BOOLEAN" | "BOOL" => DataType::Bool,
        "TIMESTAMP" | "TIMESTAMP_LTZ" => DataType::Timestamp,
        _ => return None,
    })
}
