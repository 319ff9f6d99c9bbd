//! Token-level rewrites of feature SQL before parsing, each keeping every character's
//! position (so error positions stay right): constructs the generic sqlparser dialect does
//! not read are respelled.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// sqlparser does not parse `TABLE t` as a function argument; blank the keyword (same
/// length, so positions stay right) where `TABLE` is followed by a name, not by `(`.
pub(super) fn blank_tvf_table_keywords(sql: &str) -> String {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut out = sql.to_string();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Word(w) = &t.token else { continue };
        if !w.value.eq_ignore_ascii_case("TABLE") || w.quote_style.is_some() {
            continue;
        }
        let next = tokens[i + 1..]
            .iter()
            .find(|n| !matches!(n.token, Token::Whitespace(_)));
        let prev = tokens[..i]
            .iter()
            .rev()
            .find(|n| !matches!(n.token, Token::Whitespace(_)));
        let after_open = matches!(
            prev.map(|p| &p.token),
            Some(Token::LParen) | Some(Token::Comma)
        );
        if after_open && matches!(next.map(|n| &n.token), Some(Token::Word(_))) {
            let (line, col) = (t.span.start.line as usize, t.span.start.column as usize);
            if line == 0 || line > line_starts.len() {
                continue;
            }
            let start = line_starts[line - 1]
                + sql[line_starts[line - 1]..]
                    .char_indices()
                    .nth(col - 1)
                    .map(|(b, _)| b)
                    .unwrap_or(0);
            out.replace_range(start..start + 5, "     ");
        }
    }
    out
}

/// How `TOP(` calls are spelled for the parser (same length, so positions stay right):
/// the generic dialect reads `TOP` after a comma as the end of a trailing-comma SELECT
/// list (`SELECT TOP n` syntax). `expr` maps the name back.
pub(crate) const TOP_FOR_PARSER: &str = "T0P";

/// Renames unquoted `TOP` words followed by `(` to [`TOP_FOR_PARSER`].
pub(super) fn rename_top_calls(sql: &str) -> String {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut out = sql.to_string();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Word(w) = &t.token else { continue };
        if !w.value.eq_ignore_ascii_case("TOP") || w.quote_style.is_some() {
            continue;
        }
        let next = tokens[i + 1..]
            .iter()
            .find(|n| !matches!(n.token, Token::Whitespace(_)));
        if !matches!(next.map(|n| &n.token), Some(Token::LParen)) {
            continue;
        }
        let (line, col) = (t.span.start.line as usize, t.span.start.column as usize);
        if line == 0 || line > line_starts.len() {
            continue;
        }
        let start = line_starts[line - 1]
            + sql[line_starts[line - 1]..]
                .char_indices()
                .nth(col - 1)
                .map(|(b, _)| b)
                .unwrap_or(0);
        out.replace_range(start..start + 3, TOP_FOR_PARSER);
    }
    out
}
