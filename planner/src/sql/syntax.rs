//! SQL that does not parse: sqlparser's message and position, mapped into the job file.
//!
//! An unterminated string literal is reported by sqlparser at the last quote of the SQL,
//! which is rarely the one left open: once a quote is missing, every later quote pairs
//! with the wrong one, and the last left over is often the closing quote of a correct
//! literal (`INTERVAL '1' HOUR`). The quote that was left open is found here instead: the
//! first literal that runs past the end of its line, or that is followed directly by a
//! word (`'a AND b = 'x'` pairs `' AND b = '` and leaves `x'`).
//!
//! An error at the end of the SQL (`found: EOF`) comes without a position; it is put just
//! after the SQL's last character, where the missing word or parenthesis goes.

use sqlparser::tokenizer::Location;

use crate::error::{Diagnostic, ErrorKind};

use super::SqlText;

/// The diagnostic for sqlparser's error `msg` on `sql`.
pub(super) fn parse_error(sql: &SqlText, msg: &str) -> Diagnostic {
    // sqlparser: "sql parser error: Expected: ..., found: x at Line: 1, Column: 34"
    let clean = msg.trim_start_matches("sql parser error: ");
    let (text, at) = match clean.rfind(" at Line: ") {
        Some(i) => {
            let pos = &clean[i + " at Line: ".len()..];
            let mut parts = pos.split(", Column: ");
            let line = parts
                .next()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            let column = parts
                .next()
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(0);
            (&clean[..i], Location { line, column })
        }
        None => (clean, Location { line: 0, column: 0 }),
    };
    if text == "Unterminated string literal" {
        return unterminated_string(sql, at);
    }
    // An unclosed `/*` is reported at the end of input: point at the comment's opening.
    if text.contains("multi-line comment") {
        if let Some(open) = unclosed_comment(&sql.text) {
            return sql
                .error_at(ErrorKind::Syntax, open, format!("SQL syntax error: {text}"))
                .with_detail("this `/*` opens a comment that is never closed: the rest of the SQL is inside it")
                .with_hint("close the comment with `*/`, or comment out one line with `--`");
        }
    }
    // `JOIN t FOR SYSTEM_TIME AS OF e.rowtime`: sqlparser reads `FOR` as `FOR UPDATE`.
    if text.ends_with("found: SYSTEM_TIME") {
        // Point at `FOR` and quote the clause as written: `FOR SYSTEM_TIME AS OF e.rowtime`.
        let (at, clause) = match temporal_clause(&sql.text, at) {
            Some((for_at, clause)) => (for_at, clause),
            None => (at, "FOR SYSTEM_TIME AS OF ...".to_string()),
        };
        return sql
            .error_at(
                ErrorKind::Unsupported,
                at,
                "temporal (lookup) joins, FOR SYSTEM_TIME AS OF, are not supported",
            )
            .with_detail("freshet joins a stream with a table source marked `bounded: true`, read completely before stream rows are matched (one version of the table, not versioned by time), or two streams within time bounds")
            .with_hint(format!("drop `{clause}` (the join, LEFT or inner, stays as it is) and mark the table's source `bounded: true` if it is not (see docs/joins.md)"));
    }
    // sqlparser gives no position for the end of input: it is just after the last word.
    let (text, at) = match text.strip_suffix("found: EOF") {
        Some(expected) if at.line == 0 => (
            format!("{expected}found: the end of the SQL"),
            end_of(&sql.text),
        ),
        _ => (text.to_string(), at),
    };
    // Past the SQL's last character (the tokenizer's end of input, after the final
    // newline): that is outside the SQL in the job file, so put it just after the SQL.
    let end = end_of(&sql.text);
    let at = if (at.line, at.column) > (end.line, end.column) {
        end
    } else {
        at
    };
    // Flink's named arguments, `TUMBLE(DATA => TABLE t, ...)`: sqlparser stops at `TABLE`.
    if let Some(named) = super::named_args::find(&sql.text) {
        return sql
            .error_at(
                ErrorKind::Unsupported,
                named.at,
                format!("named arguments of {} are not supported", named.name),
            )
            .with_detail(format!("sqlparser: {text}"))
            .with_hint(format!(
                "pass the arguments by position: {}",
                named.positional()
            ));
    }
    sql.error_at(ErrorKind::Syntax, at, format!("SQL syntax error: {text}"))
        .with_hint("feature SQL is a single SELECT; check commas, parentheses and quotes ('text', `column`)")
}

/// An unterminated string literal, at the quote left open (`reported` is sqlparser's
/// position, kept when no literal looks wrong).
fn unterminated_string(sql: &SqlText, reported: Location) -> Diagnostic {
    let open = string_literals(&sql.text)
        .into_iter()
        .find(|l| l.content.contains('\n') || l.followed_by_word);
    let (at, content) = match &open {
        Some(l) => (l.at, l.content.as_str()),
        None => (reported, ""),
    };
    // What the string probably was: its first line, up to SQL punctuation.
    let first = content.lines().next().unwrap_or("");
    let guess = first[..first.find(['(', ')', '=', ',', ';']).unwrap_or(first.len())].trim();
    let example = if guess.is_empty() {
        "'text'".to_string()
    } else {
        format!("'{}'", guess.replace('\'', "''"))
    };
    let d = sql.error_at(
        ErrorKind::Syntax,
        at,
        "SQL syntax error: unterminated string literal",
    );
    let d = match &open {
        Some(l) if l.content.contains('\n') => d.with_detail(
            "this quote opens a string that runs on past the end of its line, so the quotes after it pair up wrongly",
        ),
        Some(_) => d.with_detail(
            "this quote opens a string that ends at the next quote, which was meant to open another string",
        ),
        None => d.with_detail("this quote opens a string that is never closed"),
    };
    d.with_hint(format!(
        "end the string with a quote, e.g. {example}; a quote inside a string is written twice ('it''s')"
    ))
}

/// Just after the last character of `sql` that is not white space (line 0 for none).
/// Where the comment left open starts: the first `/*` after the last `*/`.
fn unclosed_comment(sql: &str) -> Option<Location> {
    let from = sql.rfind("*/").map_or(0, |i| i + 2);
    let at = from + sql[from..].find("/*")?;
    let before = &sql[..at];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count() as u64
        + 1;
    Some(Location::new(line, column))
}

fn end_of(sql: &str) -> Location {
    sql.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let len = l.trim_end().chars().count();
            (len > 0).then(|| Location::new(i as u64 + 1, len as u64 + 1))
        })
        .last()
        .unwrap_or(Location { line: 0, column: 0 })
}

/// A single-quoted literal as sqlparser pairs its quotes.
#[derive(Debug, PartialEq)]
struct Literal {
    /// The opening quote (1-based line and column, in characters, as sqlparser counts).
    at: Location,
    /// The text between the quotes (`''` kept as written).
    content: String,
    /// The closing quote is directly followed by a letter, digit or `_`.
    followed_by_word: bool,
}

/// The closed single-quoted literals of `sql`, skipping comments and quoted names.
fn string_literals(sql: &str) -> Vec<Literal> {
    let chars: Vec<char> = sql.chars().collect();
    let (mut line, mut column) = (1u64, 1u64);
    let mut out = Vec::new();
    let mut i = 0;
    // Advances past `n` characters, counting lines and columns.
    let step = |i: &mut usize, line: &mut u64, column: &mut u64, n: usize| {
        for _ in 0..n {
            if chars.get(*i) == Some(&'\n') {
                *line += 1;
                *column = 1;
            } else {
                *column += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let rest = &chars[i..];
        let end_of = |close: &[char], from: usize| {
            (from..=rest.len().saturating_sub(close.len()))
                .find(|&k| rest[k..].starts_with(close))
                .map(|k| k + close.len())
        };
        let len = match rest[0] {
            '-' if rest.get(1) == Some(&'-') => end_of(&['\n'], 2).unwrap_or(rest.len()),
            '/' if rest.get(1) == Some(&'*') => end_of(&['*', '/'], 2).unwrap_or(rest.len()),
            q @ ('"' | '`') => end_of(&[q], 1).unwrap_or(rest.len()),
            '\'' => {
                let mut k = 1;
                let mut content = String::new();
                loop {
                    match rest.get(k) {
                        None => return out,
                        Some('\'') if rest.get(k + 1) == Some(&'\'') => {
                            content.push_str("''");
                            k += 2;
                        }
                        Some('\'') => break,
                        Some(&c) => {
                            content.push(c);
                            k += 1;
                        }
                    }
                }
                out.push(Literal {
                    at: Location { line, column },
                    content,
                    followed_by_word: rest
                        .get(k + 1)
                        .is_some_and(|c| c.is_alphanumeric() || *c == '_'),
                });
                k + 1
            }
            _ => 1,
        };
        step(&mut i, &mut line, &mut column, len);
    }
    out
}

/// An alias as an output column's name: it must have text (`` AS ` ` `` wrote a field
/// named "" or " ").
pub(crate) fn alias_name(
    sql: &SqlText,
    alias: &sqlparser::ast::Ident,
) -> Result<String, Diagnostic> {
    if alias.value.trim().is_empty() {
        return Err(sql
            .error(
                ErrorKind::Syntax,
                alias.span,
                "an output column name cannot be blank",
            )
            .with_hint("write a name after AS"));
    }
    Ok(alias.value.clone())
}

/// Where the `FOR` of a `FOR SYSTEM_TIME AS OF <expr>` whose `SYSTEM_TIME` is at `at` is,
/// and the clause as written.
fn temporal_clause(sql: &str, at: Location) -> Option<(Location, String)> {
    let line = sql.lines().nth((at.line as usize).checked_sub(1)?)?;
    let chars: Vec<char> = line.chars().collect();
    let col = (at.column as usize).checked_sub(1)?;
    let before: String = chars.get(..col)?.iter().collect();
    let for_col = before.trim_end().len().checked_sub(3)?;
    if !before[for_col..].trim_end().eq_ignore_ascii_case("FOR") {
        return None;
    }
    let rest: String = chars.get(col..)?.iter().collect();
    // `SYSTEM_TIME AS OF <expr>`: four words.
    let words: Vec<&str> = rest.split_whitespace().take(4).collect();
    if words.len() < 4
        || !words[1].eq_ignore_ascii_case("AS")
        || !words[2].eq_ignore_ascii_case("OF")
    {
        return None;
    }
    let for_at = Location::new(at.line, before[..for_col].chars().count() as u64 + 1);
    Some((for_at, format!("FOR {}", words.join(" "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opens(sql: &str) -> Vec<(u64, u64, bool)> {
        string_literals(sql)
            .iter()
            .map(|l| {
                (
                    l.at.line,
                    l.at.column,
                    l.content.contains('\n') || l.followed_by_word,
                )
            })
            .collect()
    }

    #[test]
    fn literals_pair_quotes_as_sqlparser_does() {
        assert_eq!(
            opens("SELECT 'a''b', \"x'\" -- 'c\n, 'd'"),
            [(1, 8, false), (2, 3, false)]
        );
        assert_eq!(
            opens("/* ' */ `'` 'é' 'x'y"),
            [(1, 13, false), (1, 17, true)]
        );
        // The open quote of a broken SQL runs on to the next line.
        assert_eq!(
            opens("WHERE a = 'r\nGROUP BY INTERVAL '1' HOUR"),
            [(1, 11, true)]
        );
    }
}
