//! Token-level rewrites of feature SQL before parsing, each keeping every character's
//! position (so error positions stay right): constructs the generic sqlparser dialect does
//! not read are respelled.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// Rewrites tokens of `sql` in place. `pick` sees the non-whitespace tokens and an index
/// into them, and names tokens to respell as `(index, text)`: the token's first
/// `text.len()` bytes become `text`, so every position stays. Untokenizable SQL is returned
/// as is (the parser reports it).
pub(super) fn respell(
    sql: &str,
    pick: impl Fn(&[&TokenWithSpan], usize) -> Vec<(usize, &'static str)>,
) -> String {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |t: &TokenWithSpan| -> Option<usize> {
        let (line, col) = (t.span.start.line as usize, t.span.start.column as usize);
        if line == 0 || line > line_starts.len() {
            return None;
        }
        let ls = line_starts[line - 1];
        Some(ls + sql[ls..].char_indices().nth(col - 1).map(|(b, _)| b)?)
    };
    let solid: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut out = sql.to_string();
    for i in 0..solid.len() {
        for (j, text) in pick(&solid, i) {
            if let Some(at) = offset(solid[j]) {
                out.replace_range(at..at + text.len(), text);
            }
        }
    }
    out
}

/// Whether `t` is the unquoted word `word` (any case).
pub(super) fn is_word(t: Option<&&TokenWithSpan>, word: &str) -> bool {
    matches!(t.map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// sqlparser does not parse `TABLE t` as a function argument; blank the keyword where
/// `TABLE` follows `(` or `,` and is followed by a name.
pub(super) fn blank_tvf_table_keywords(sql: &str) -> String {
    respell(sql, |solid, i| {
        let after_open = i > 0 && matches!(solid[i - 1].token, Token::LParen | Token::Comma);
        let named = matches!(solid.get(i + 1).map(|n| &n.token), Some(Token::Word(_)));
        if is_word(solid.get(i), "TABLE") && after_open && named {
            vec![(i, "     ")]
        } else {
            Vec::new()
        }
    })
}

/// How `TOP(` calls are spelled for the parser (same length, so positions stay right):
/// the generic dialect reads `TOP` after a comma as the end of a trailing-comma SELECT
/// list (`SELECT TOP n` syntax). `expr` maps the name back.
pub(crate) const TOP_FOR_PARSER: &str = "T0P";

/// Renames unquoted `TOP` words followed by `(` to [`TOP_FOR_PARSER`].
pub(super) fn rename_top_calls(sql: &str) -> String {
    respell(sql, |solid, i| {
        let call = matches!(solid.get(i + 1).map(|n| &n.token), Some(Token::LParen));
        if is_word(solid.get(i), "TOP") && call {
            vec![(i, TOP_FOR_PARSER)]
        } else {
            Vec::new()
        }
    })
}
