//! Clauses the SQL parser accepts (it reads many dialects) that a feature query cannot
//! honour: each is an error at its position, never silently dropped (`FETCH FIRST 1 ROWS
//! ONLY` used to emit every row).

use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{Diagnostic, ErrorKind};

use super::SqlText;

type R<T> = Result<T, Diagnostic>;

/// `span`, or `fallback` where the parser recorded no position.
fn or(span: Span, fallback: Span) -> Span {
    if span.start.line == 0 {
        fallback
    } else {
        span
    }
}

fn unsupported(sql: &SqlText, span: Span, what: &str, hint: &str) -> Diagnostic {
    let d = sql.error(
        ErrorKind::Unsupported,
        span,
        format!("{what} is not supported on a feature query"),
    );
    if hint.is_empty() {
        d
    } else {
        d.with_hint(hint)
    }
}

/// Rejects a query's WITH, ORDER BY, LIMIT, FETCH, FOR UPDATE and dialect clauses.
pub(crate) fn query_clauses(sql: &SqlText, query: &ast::Query) -> R<()> {
    let here = query.span();
    if query.with.is_some() {
        return Err(sql
            .error(ErrorKind::Unsupported, here, "WITH is not supported yet")
            .with_hint("inline the subquery"));
    }
    if let Some(o) = &query.order_by {
        return Err(unsupported(
            sql,
            or(o.span(), here),
            "ORDER BY",
            "feature rows are emitted in window order; remove ORDER BY",
        ));
    }
    if let Some(l) = &query.limit_clause {
        // `OFFSET n` alone parses as a LIMIT clause without a limit.
        let (what, hint) = match l {
            ast::LimitClause::LimitOffset {
                limit: None,
                offset: Some(_),
                ..
            } => (
                "OFFSET",
                "a feature keeps every key's rows, and a stream has no first rows to skip; filter rows in WHERE",
            ),
            _ => (
                "LIMIT",
                "a feature keeps every key's rows; for the last N events of a key use TOP(N, x) OVER (...) or LAST_N",
            ),
        };
        return Err(unsupported(sql, or(l.span(), here), what, hint));
    }
    if let Some(f) = &query.fetch {
        return Err(unsupported(
            sql,
            or(f.span(), here),
            "FETCH FIRST",
            "a feature keeps every key's rows; for the last N events of a key use TOP(N, x) OVER (...) or LAST_N",
        ));
    }
    if !query.locks.is_empty() {
        return Err(unsupported(
            sql,
            here,
            "FOR UPDATE / FOR SHARE",
            "remove it",
        ));
    }
    if query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(unsupported(
            sql,
            here,
            "a FOR, SETTINGS, FORMAT or pipe (`|>`) clause",
            "remove it",
        ));
    }
    Ok(())
}

/// Rejects the SELECT clauses of other dialects: TOP, INTO, CONNECT BY, SORT / CLUSTER /
/// DISTRIBUTE BY, EXCLUDE, QUALIFY, LATERAL VIEW, PREWHERE, SELECT modifiers.
pub(crate) fn select_clauses(sql: &SqlText, s: &ast::Select) -> R<()> {
    let here = s.select_token.0.span;
    if s.top.is_some() {
        return Err(unsupported(
            sql,
            here,
            "SELECT TOP n",
            "a feature keeps every key's rows; for the last N events of a key use TOP(N, x) OVER (...) or LAST_N",
        ));
    }
    if let Some(into) = &s.into {
        return Err(unsupported(
            sql,
            or(into.span(), here),
            "SELECT ... INTO",
            "rows go to the job's sinks; name them under `sinks:`",
        ));
    }
    if let Some(c) = s.connect_by.first() {
        return Err(unsupported(sql, or(c.span(), here), "CONNECT BY", ""));
    }
    let order_like = [
        ("SORT BY", s.sort_by.first().map(|e| e.span())),
        ("CLUSTER BY", s.cluster_by.first().map(|e| e.span())),
        ("DISTRIBUTE BY", s.distribute_by.first().map(|e| e.span())),
    ];
    for (what, span) in order_like {
        if let Some(span) = span {
            return Err(unsupported(
                sql,
                or(span, here),
                what,
                "rows are partitioned by the GROUP BY key and emitted in window order; remove it",
            ));
        }
    }
    if let Some(e) = &s.exclude {
        return Err(unsupported(
            sql,
            or(e.span(), here),
            "SELECT * EXCLUDE",
            "list the columns to select",
        ));
    }
    // Optimizer hints (`/*+ BROADCAST(d) */`) are ignored, as they change no result; the
    // parser also reads a comment such as `--total+fees` right after SELECT as one.
    if s.select_modifiers.is_some() {
        return Err(unsupported(
            sql,
            here,
            "a SELECT modifier (HIGH_PRIORITY, SQL_CALC_FOUND_ROWS, ...)",
            "remove it",
        ));
    }
    if s.value_table_mode.is_some() {
        return Err(unsupported(sql, here, "SELECT AS STRUCT / AS VALUE", ""));
    }
    if s.qualify.is_some() || !s.lateral_views.is_empty() || s.prewhere.is_some() {
        return Err(sql.error(
            ErrorKind::Unsupported,
            here,
            "QUALIFY, LATERAL VIEW and PREWHERE are not supported",
        ));
    }
    Ok(())
}

/// Rejects what may follow a FROM item besides an alias: column aliases, TABLESAMPLE,
/// table hints, time travel, partitions and the like.
pub(crate) fn table_clauses(sql: &SqlText, factor: &ast::TableFactor) -> R<()> {
    let here = factor.span();
    // A subquery's column aliases have their own error, in from.rs.
    let (alias, sample) = match factor {
        ast::TableFactor::Table { alias, sample, .. } => (alias.as_ref(), sample.is_some()),
        ast::TableFactor::Derived { sample, .. } => (None, sample.is_some()),
        ast::TableFactor::TableFunction { alias, .. } => (alias.as_ref(), false),
        _ => return Ok(()),
    };
    if let Some(a) = alias.filter(|a| !a.columns.is_empty()) {
        return Err(sql
            .error(
                ErrorKind::Unsupported,
                or(a.span(), here),
                "column aliases on a source are not supported",
            )
            .with_hint("refer to the source's columns by their names, renamed with AS in SELECT"));
    }
    if sample {
        return Err(unsupported(
            sql,
            here,
            "TABLESAMPLE",
            "filter in WHERE instead, e.g. on a hash of the key",
        ));
    }
    let ast::TableFactor::Table {
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        index_directives,
        inheritance,
        ..
    } = factor
    else {
        return Ok(());
    };
    if !with_hints.is_empty() || !index_directives.is_empty() {
        return Err(unsupported(sql, here, "a table hint", "remove it"));
    }
    if version.is_some() {
        return Err(unsupported(
            sql,
            here,
            "FOR SYSTEM_TIME AS OF / a table version",
            "a source is read as a stream; join a table source for lookups",
        ));
    }
    if *with_ordinality || !partitions.is_empty() || json_path.is_some() || inheritance.is_some() {
        return Err(unsupported(
            sql,
            here,
            "WITH ORDINALITY, PARTITION (...), ONLY or a JSON path after a source",
            "remove it",
        ));
    }
    Ok(())
}
