//! Where a feature's SQL sits in the job file when it is a quoted (`'...'`, `"..."`),
//! folded (`>`) or plain (unquoted) YAML scalar, also as a value in a flow mapping
//! (`- { name: f, sql: "..." }`). There the parsed SQL differs from the file's characters
//! (`''` and backslash escapes, lines folded into spaces), so a position in the SQL is
//! mapped to the file character by character. Block (`|`) scalars keep their text line
//! for line, and are located by line and indentation instead.
//!
//! The mapping is found by decoding each `sql:` value of the file and keeping the one
//! that decodes to exactly the feature's SQL: a scalar this decoder reads differently
//! from the YAML parser is simply not mapped (diagnostics then point into the SQL text).

/// A file position: 0-based line and 0-based column in characters.
type Pos = (usize, usize);

/// The file position of every character of a feature's SQL text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlPositions {
    /// Per SQL line, per character: 1-based file line and column.
    lines: Vec<Vec<(usize, usize)>>,
}

impl SqlPositions {
    /// The file's 1-based line and column of the SQL's `line`, `column` (1-based, counted
    /// in characters, as sqlparser does); a column past the end of a line maps just after
    /// its last character.
    pub fn locate(&self, line: usize, column: usize) -> Option<(usize, usize)> {
        let chars = self.lines.get(line.checked_sub(1)?)?;
        match chars.get(column.checked_sub(1)?) {
            Some(p) => Some(*p),
            None => chars.last().map(|&(l, c)| (l, c + 1)),
        }
    }

    fn new(decoded: &[(char, Pos)]) -> SqlPositions {
        let mut lines = vec![Vec::new()];
        for &(ch, (l, c)) in decoded {
            if ch == '\n' {
                lines.push(Vec::new());
            } else if let Some(last) = lines.last_mut() {
                last.push((l + 1, c + 1));
            }
        }
        SqlPositions { lines }
    }
}

/// Maps `sql`, the value of a `sql:` key in the job file `text` written as a quoted,
/// folded or plain scalar; `None` for block scalars, or when no `sql:` value decodes to
/// `sql`.
/// Keys before line `from` (0-based; the feature's own `sql:` key when known) are not
/// considered, so a feature with the same SQL as an earlier one maps to its own.
pub fn map_sql(text: &str, sql: &str, from: usize) -> Option<SqlPositions> {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    for (i, line) in lines.iter().enumerate().skip(from) {
        // `sql:` as a key: only indentation, or a sequence entry's `- `, before it; or in
        // a flow mapping, after its `{` or a `,`.
        for key in (0..line.len()).filter(|&k| line[k..].starts_with(&['s', 'q', 'l', ':'])) {
            let before: String = line[..key].iter().collect();
            let in_flow = before.trim_end().ends_with(['{', ',']);
            if !in_flow && !before.chars().all(|c| matches!(c, ' ' | '-')) {
                continue;
            }
            let Some(start) = (key + 4..line.len()).find(|&c| line[c] != ' ') else {
                continue;
            };
            let decoded = match line[start] {
                '\'' => flow(&lines, (i, start + 1), '\''),
                '"' => flow(&lines, (i, start + 1), '"'),
                '>' if !in_flow => folded(&lines, (i, start + 1), key),
                // A plain scalar in a flow mapping ends at a `,`: no SQL fits in one.
                c if !in_flow && !"|>#&*!%@`{[".contains(c) => plain(&lines, (i, start), key),
                _ => None,
            };
            if let Some(d) = decoded.filter(|d| d.iter().map(|(c, _)| *c).eq(sql.chars())) {
                return Some(SqlPositions::new(&d));
            }
        }
    }
    None
}

/// A plain scalar from its first character; `parent` is the indentation of its key. Its
/// lines are folded into spaces (an empty line stays a newline); it ends at a line not
/// indented more than the key, or at a comment line.
fn plain(lines: &[Vec<char>], (li, ci): Pos, parent: usize) -> Option<Vec<(char, Pos)>> {
    // The end of a line's text: before a comment, without trailing white space.
    let end = |l: &[char], from: usize| {
        let comment = (from..l.len())
            .find(|&k| l[k] == '#' && k > 0 && matches!(l[k - 1], ' ' | '\t'))
            .unwrap_or(l.len());
        (from..comment)
            .rev()
            .find(|&k| !matches!(l[k], ' ' | '\t'))
            .map_or(from, |k| k + 1)
    };
    let text = |lj: usize, from: usize, to: usize| (from..to).map(move |k| (lines[lj][k], (lj, k)));
    let first_end = end(&lines[li], ci);
    let mut out: Vec<(char, Pos)> = text(li, ci, first_end).collect();
    let mut prev_end = (li, first_end);
    let mut empty = 0;
    for (lj, l) in lines.iter().enumerate().skip(li + 1) {
        let indent = indentation(l);
        if indent == l.len() {
            empty += 1;
            continue;
        }
        if indent <= parent || l[indent] == '#' {
            break;
        }
        match empty {
            0 => out.push((' ', prev_end)),
            n => out.extend(std::iter::repeat_n(('\n', prev_end), n)),
        }
        empty = 0;
        let e = end(l, indent);
        out.extend(text(lj, indent, e));
        prev_end = (lj, e);
    }
    Some(out)
}

/// A single- or double-quoted scalar from just after its opening quote.
fn flow(lines: &[Vec<char>], (mut li, mut ci): Pos, quote: char) -> Option<Vec<(char, Pos)>> {
    let mut out = Vec::new();
    loop {
        let line = lines.get(li)?;
        let Some(&ch) = line.get(ci) else {
            // A line break inside the scalar: trailing white space goes; the break is a
            // space, or one newline per empty line that follows it.
            while out
                .last()
                .is_some_and(|&(c, (l, _))| l == li && matches!(c, ' ' | '\t'))
            {
                out.pop();
            }
            let end = (li, line.len());
            li += 1;
            let mut empty = 0;
            while lines.get(li)?.iter().all(|c| matches!(c, ' ' | '\t')) {
                empty += 1;
                li += 1;
            }
            match empty {
                0 => out.push((' ', end)),
                n => out.extend(std::iter::repeat_n(('\n', end), n)),
            }
            ci = indentation(&lines[li]);
            continue;
        };
        let at = (li, ci);
        match ch {
            '\'' if quote == '\'' && line.get(ci + 1) == Some(&'\'') => {
                out.push(('\'', at));
                ci += 2;
            }
            c if c == quote => return Some(out),
            '\\' if quote == '"' && ci + 1 == line.len() => {
                // An escaped line break: joins the lines with nothing between.
                li += 1;
                ci = indentation(lines.get(li)?);
            }
            '\\' if quote == '"' => {
                let (c, len) = escape(&line[ci + 1..])?;
                out.push((c, at));
                ci += 1 + len;
            }
            c => {
                out.push((c, at));
                ci += 1;
            }
        }
    }
}

/// A double-quoted escape after its backslash: the character and how many characters
/// the escape takes.
fn escape(rest: &[char]) -> Option<(char, usize)> {
    let hex = |n: usize| {
        let digits: String = rest.get(1..=n)?.iter().collect();
        let c = char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?;
        Some((c, 1 + n))
    };
    let c = match rest.first()? {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\x0b',
        'f' => '\x0c',
        'r' => '\r',
        'e' => '\x1b',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        'x' => return hex(2),
        'u' => return hex(4),
        'U' => return hex(8),
        c @ (' ' | '"' | '/' | '\\') => *c,
        _ => return None,
    };
    Some((c, 1))
}

/// A folded block scalar (`>`, `>-`, `>+`) from just after its `>`; `parent` is the
/// indentation of its key. Lines are joined by spaces; empty lines and the breaks around
/// more-indented lines stay newlines.
fn folded(lines: &[Vec<char>], (li, ci): Pos, parent: usize) -> Option<Vec<(char, Pos)>> {
    let header: String = lines[li][ci..].iter().collect();
    let header = header.split(" #").next().unwrap_or("").trim();
    let chomp = match header {
        "" => Chomp::Clip,
        "-" => Chomp::Strip,
        "+" => Chomp::Keep,
        // An explicit indentation indicator: not mapped.
        _ => return None,
    };
    let body = &lines[li + 1..];
    let blank = |l: &Vec<char>| l.iter().all(|c| *c == ' ');
    let indent = body.iter().find(|l| !blank(l)).map(|l| indentation(l))?;
    if indent <= parent {
        return None;
    }
    let len = body
        .iter()
        .position(|l| !blank(l) && indentation(l) < indent)
        .unwrap_or(body.len());
    let mut out = Vec::new();
    // The previous content line: whether it was more indented, and where it ended.
    let mut prev: Option<(bool, Pos)> = None;
    let mut empty = 0;
    for (j, l) in body[..len].iter().enumerate() {
        let lj = li + 1 + j;
        if blank(l) {
            empty += 1;
            continue;
        }
        let more = matches!(l.get(indent), Some(' ' | '\t'));
        match prev {
            None => out.extend(std::iter::repeat_n(('\n', (lj, 0)), empty)),
            Some((prev_more, end)) if prev_more || more => {
                out.extend(std::iter::repeat_n(('\n', end), empty + 1));
            }
            Some((_, end)) if empty == 0 => out.push((' ', end)),
            Some((_, end)) => out.extend(std::iter::repeat_n(('\n', end), empty)),
        }
        empty = 0;
        out.extend(
            l[indent..]
                .iter()
                .enumerate()
                .map(|(k, c)| (*c, (lj, indent + k))),
        );
        prev = Some((more, (lj, l.len())));
    }
    let (_, end) = prev?;
    match chomp {
        Chomp::Strip => {}
        Chomp::Clip => out.push(('\n', end)),
        Chomp::Keep => out.extend(std::iter::repeat_n(('\n', end), empty + 1)),
    }
    Some(out)
}

/// How a block scalar ends: `>` one newline, `>-` none, `>+` all.
enum Chomp {
    Clip,
    Strip,
    Keep,
}

fn indentation(line: &[char]) -> usize {
    line.iter().take_while(|c| matches!(c, ' ' | '\t')).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL value of a job text, as the YAML parser reads it.
    fn parsed_sql(text: &str) -> String {
        let v: serde_norway::Value = serde_norway::from_str(text).unwrap();
        let v = if v.is_sequence() { &v[0] } else { &v };
        v["sql"].as_str().unwrap().to_string()
    }

    /// Every character of the parsed SQL maps to the same character in the file, except
    /// escapes (to their backslash) and folded line breaks (spaces and newlines).
    fn check(text: &str) {
        let sql = parsed_sql(text);
        let map = map_sql(text, &sql, 0).unwrap_or_else(|| panic!("not mapped: {text:?}"));
        let file: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        for (i, line) in sql.split('\n').enumerate() {
            for (j, c) in line.chars().enumerate() {
                let (l, col) = map.locate(i + 1, j + 1).unwrap();
                let at = file[l - 1].get(col - 1).copied();
                if c != ' ' && at != Some('\\') {
                    assert_eq!(at, Some(c), "SQL {}:{} of {text:?}", i + 1, j + 1);
                }
            }
        }
    }

    #[test]
    fn quoted_and_folded_sql_maps_to_the_file() {
        check("sql: 'SELECT a FROM t WHERE s = ''x'' AND n > 1'\n");
        check("sql: \"SELECT a FROM t WHERE s = '\\u00e9' AND\\tn > 1\"\n");
        check("sql: \"SELECT a\n  FROM t\n\n  WHERE n > 1\"\n");
        check("sql: \"SELECT a \\\n  FROM t\"\n");
        check("sql: 'SELECT a\n   FROM t  \n   WHERE n > 1'\n");
        check("sql: >\n  SELECT a\n  FROM t\n\n  WHERE n > 1\n");
        check("sql: >-\n  SELECT a\n    FROM t\n  WHERE n > 1\n");
        check("- sql: >+\n    SELECT a\n    FROM t\n\n  x: 1\n");
    }

    #[test]
    fn positions_point_at_the_file_character() {
        // `nope` after a `''` escape, on the second folded line.
        let text = "sql: 'SELECT a FROM t WHERE s = ''x''\n  AND nope > 1'\n";
        let sql = parsed_sql(text);
        let col = sql.find("nope").unwrap() + 1;
        let map = map_sql(text, &sql, 0).unwrap();
        assert_eq!(map.locate(1, col), Some((2, 7)));
        let text = "sql: >\n  SELECT a\n  FROM t\n  WHERE nope > 1\n";
        let sql = parsed_sql(text);
        let map = map_sql(text, &sql, 0).unwrap();
        assert_eq!(map.locate(1, sql.find("nope").unwrap() + 1), Some((4, 9)));
    }

    #[test]
    fn block_scalars_are_not_mapped_here() {
        assert_eq!(map_sql("sql: |\n  SELECT a\n", "SELECT a\n", 0), None);
    }

    #[test]
    fn plain_and_flow_mapping_sql_maps_to_the_file() {
        check("sql: SELECT a FROM t WHERE n > 1\n");
        check("sql: SELECT a  \n  FROM t\n\n  WHERE n > 1   # a comment\nx: 1\n");
        check("- sql: SELECT a\n    FROM t\n  x: 1\n");
        check("- { x: 1, sql: \"SELECT a\n    FROM t\" }\n");
        check("{sql: 'SELECT a FROM t WHERE s = ''x'' AND n > 1', x: 1}\n");
        // `nope` on the second line of a plain scalar.
        let text = "sql: SELECT a\n  FROM t WHERE nope > 1\n";
        let sql = parsed_sql(text);
        let map = map_sql(text, &sql, 0).unwrap();
        assert_eq!(map.locate(1, sql.find("nope").unwrap() + 1), Some((2, 16)));
    }
}
