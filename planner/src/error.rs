//! Diagnostics: every planning or configuration error names where it happened
//! (file, line, column, or a position in the SQL), what is wrong, and how to fix it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// What kind of problem a [`Diagnostic`] reports; tests match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The job file could not be read.
    Io,
    /// The job file is not valid YAML or does not match the job format.
    Config,
    /// The SQL does not parse.
    Syntax,
    /// A column that no source has.
    UnknownColumn,
    /// A table that no source defines.
    UnknownTable,
    /// A selected column that is neither grouped nor aggregated.
    NotGrouped,
    /// A grouping key that is not selected: rows of different keys would look alike.
    KeyNotSelected,
    /// Operand or result types do not fit.
    TypeMismatch,
    /// A window definition that cannot be right (e.g. HOP with gaps).
    InvalidWindow,
    /// A construct freshet does not support (yet).
    Unsupported,
}

/// A position in a file: 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The job file.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
}

/// A user-facing error with position, detail and hint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Classification.
    pub kind: ErrorKind,
    /// One line saying what is wrong.
    pub message: String,
    /// Where: file, line and column of the job file (SQL positions are mapped into it).
    pub location: Option<Location>,
    /// The offending source line and a caret under the position.
    pub snippet: Option<String>,
    /// Longer explanation.
    pub detail: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with only a kind and message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            message: message.into(),
            location: None,
            snippet: None,
            detail: None,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the location (file, line, column) and a caret snippet from the file's text.
    pub fn at(mut self, file: impl Into<PathBuf>, text: &str, line: usize, column: usize) -> Self {
        if line > 0 {
            if let Some(src) = text.lines().nth(line - 1) {
                self.snippet = Some(snippet(src, column));
            }
        }
        self.location = Some(Location {
            file: file.into(),
            line,
            column,
        });
        self
    }

    /// Sets only the file.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        if self.location.is_none() {
            self.location = Some(Location {
                file: file.into(),
                line: 0,
                column: 0,
            });
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("error: ")?;
        if let Some(loc) = &self.location {
            write!(f, "{}", loc.file.display())?;
            if loc.line > 0 {
                write!(f, ":{}", loc.line)?;
                if loc.column > 0 {
                    write!(f, ":{}", loc.column)?;
                }
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if let Some(snippet) = &self.snippet {
            for l in snippet.lines() {
                write!(f, "\n  | {l}")?;
            }
        }
        if let Some(detail) = &self.detail {
            write!(f, "\n  detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The line `src` with a caret under `column` (1-based, in characters); a long line is
/// cut to [`SNIPPET_CHARS`] around the column, with `…` where it was cut (an SQL of
/// thousands of characters on one line is not echoed whole).
fn snippet(src: &str, column: usize) -> String {
    let chars: Vec<char> = src.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    let (from, to) = if chars.len() <= SNIPPET_CHARS {
        (0, chars.len())
    } else {
        let from = at.saturating_sub(SNIPPET_CHARS / 2);
        let to = (from + SNIPPET_CHARS).min(chars.len());
        (to.saturating_sub(SNIPPET_CHARS), to)
    };
    let head = if from > 0 { "…" } else { "" };
    let tail = if to < chars.len() { "…" } else { "" };
    let shown: String = chars[from..to].iter().collect();
    let pad: String = head
        .chars()
        .map(|_| ' ')
        .chain(
            chars[from..at]
                .iter()
                .map(|&c| if c == '\t' { '\t' } else { ' ' }),
        )
        .collect();
    format!("{head}{shown}{tail}\n{pad}^")
}

/// Characters of a line a snippet shows at most.
const SNIPPET_CHARS: usize = 160;

/// Several diagnostics from one validation pass (all features are checked, not just the first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Closest candidate by edit distance, for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        // Not a guess that changes every letter: `s` is no typo of `k`.
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(lower.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::{closest, snippet, SNIPPET_CHARS};

    /// A short line is shown whole; a long one around the column, cut with `…`, the caret
    /// under the same character.
    #[test]
    fn snippets_of_long_lines_are_cut_around_the_column() {
        assert_eq!(snippet("sql: SELECT x", 6), "sql: SELECT x\n     ^");
        let long: String = (0..6400)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for column in [1, 100, 3200, 6400] {
            let s = snippet(&long, column);
            let (line, caret) = s.split_once('\n').unwrap();
            assert!(
                line.chars().count() <= SNIPPET_CHARS + 2,
                "{column}: {line}"
            );
            let under = caret.chars().count() - 1;
            let want = long.chars().nth(column - 1).unwrap();
            assert_eq!(line.chars().nth(under), Some(want), "{column}");
            assert_eq!(
                line.starts_with('…'),
                column > SNIPPET_CHARS / 2 + 1,
                "{column}"
            );
        }
    }

    /// Typos find their name; a guess that replaces every letter of a short name is none.
    #[test]
    fn closest_suggests_typos_not_strangers() {
        assert_eq!(closest("fares", ["fare", "user_id"]), Some("fare"));
        assert_eq!(closest("USERID", ["fare", "user_id"]), Some("user_id"));
        assert_eq!(closest("s", ["k", "t"]), None);
        assert_eq!(closest("ab", ["xy"]), None);
        assert_eq!(closest("ab", ["ac"]), Some("ac"));
    }
}
