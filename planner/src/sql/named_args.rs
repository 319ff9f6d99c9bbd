//! Flink's named arguments of the window table functions, `TUMBLE(DATA => TABLE t,
//! TIMECOL => DESCRIPTOR(rowtime), SIZE => INTERVAL '1' HOUR)`, which sqlparser does not
//! parse (it stops at `TABLE`, saying only "Expected: ), found: t"). Found in the SQL text
//! when the SQL does not parse, for an error at the call that shows it with its arguments
//! by position, in the function's order.

use sqlparser::tokenizer::Location;

/// A window table function called with named arguments.
pub(super) struct NamedCall {
    /// `TUMBLE`, `HOP`, `CUMULATE` or `SESSION`.
    pub name: &'static str,
    /// Where the function's name is.
    pub at: Location,
    /// The arguments as written: (upper-cased name, value); a positional one has no name.
    args: Vec<(Option<String>, String)>,
}

impl NamedCall {
    /// The call with its arguments by position (a placeholder for one not given), and
    /// what the intervals are.
    pub fn positional(&self) -> String {
        let order: &[&str] = match self.name {
            "HOP" => &["DATA", "TIMECOL", "SLIDE", "SIZE"],
            "CUMULATE" => &["DATA", "TIMECOL", "STEP", "SIZE"],
            "SESSION" => &["DATA", "TIMECOL", "GAP"],
            _ => &["DATA", "TIMECOL", "SIZE"],
        };
        let note = super::window::interval_note(self.name);
        let value = |name: &str, i: usize| {
            let named = self
                .args
                .iter()
                .find(|(n, _)| n.as_deref() == Some(name))
                .map(|(_, v)| v.clone());
            // Positional arguments before the first named one keep their places.
            let positional = || match self.args.get(i) {
                Some((None, v)) => Some(v.clone()),
                _ => None,
            };
            named.or_else(positional).unwrap_or_else(|| match name {
                "DATA" => "TABLE t".to_string(),
                "TIMECOL" => "DESCRIPTOR(rowtime)".to_string(),
                _ => "INTERVAL '1' HOUR".to_string(),
            })
        };
        let mut args: Vec<String> = order.iter().enumerate().map(|(i, n)| value(n, i)).collect();
        // A parsed call reads its table argument back without the `TABLE` keyword.
        if !args[0].to_ascii_uppercase().starts_with("TABLE ") {
            args[0] = format!("TABLE {}", args[0]);
        }
        let offset = self
            .args
            .iter()
            .any(|(n, _)| n.as_deref() == Some("OFFSET"));
        format!(
            "{}({}){note}{}",
            self.name,
            args.join(", "),
            if offset {
                "; OFFSET is dropped: window offsets are not supported (windows are aligned to the epoch)"
            } else {
                ""
            }
        )
    }
}

/// The first window table function call in `sql` with a named argument (`NAME => value`).
pub(super) fn find(sql: &str) -> Option<NamedCall> {
    let upper = sql.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut calls: Vec<(usize, &'static str)> = Vec::new();
    for name in ["TUMBLE", "HOP", "CUMULATE", "SESSION"] {
        calls.extend(upper.match_indices(name).map(|(i, _)| (i, name)));
    }
    calls.sort();
    for (start, name) in calls {
        let word_before = start > 0 && is_word_byte(bytes[start - 1]);
        let end = start + name.len();
        if word_before || bytes.get(end).is_some_and(|b| is_word_byte(*b)) {
            continue;
        }
        let open = end + upper[end..].len() - upper[end..].trim_start().len();
        if bytes.get(open) != Some(&b'(') {
            continue;
        }
        let Some(args) = split_args(&sql[open + 1..]) else {
            continue;
        };
        let args: Vec<(Option<String>, String)> = args.into_iter().map(named).collect();
        if args.iter().any(|(n, _)| n.is_some()) {
            return Some(NamedCall {
                name,
                at: location(sql, start),
                args,
            });
        }
    }
    None
}

/// The arguments of a call whose text (after the opening parenthesis) is `text`, split at
/// its top-level commas; `None` if the parenthesis is never closed.
fn split_args(text: &str) -> Option<Vec<&str>> {
    let (mut depth, mut quote, mut from) = (0usize, false, 0usize);
    let mut args = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quote = !quote,
            _ if quote => {}
            '(' => depth += 1,
            ')' if depth == 0 => {
                args.push(text[from..i].trim());
                return Some(args);
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(text[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// `NAME => value` as (`NAME`, value); anything else as a positional value.
fn named(arg: &str) -> (Option<String>, String) {
    if let Some((name, value)) = arg.split_once("=>") {
        let name = name.trim();
        if !name.is_empty() && name.bytes().all(is_word_byte) {
            return (Some(name.to_ascii_uppercase()), value.trim().to_string());
        }
    }
    (None, arg.to_string())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The 1-based line and column (in characters) of byte `at` of `sql`.
fn location(sql: &str, at: usize) -> Location {
    let before = &sql[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Location::new(line as u64, column as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_calls_are_found_and_put_in_order() {
        let sql = "SELECT 1\nFROM TABLE(hop(DATA => TABLE ev, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' DAY, SLIDE => INTERVAL '1' HOUR))";
        let c = find(sql).unwrap();
        assert_eq!((c.name, c.at.line, c.at.column), ("HOP", 2, 12));
        assert_eq!(
            c.positional(),
            "HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY) (slide, then size)"
        );
        // Positional arguments, then named ones; an offset is named as dropped.
        let c = find("TUMBLE(TABLE ev, DESCRIPTOR(ts), SIZE => INTERVAL '1' DAY, OFFSET => INTERVAL '8' HOUR)").unwrap();
        assert_eq!(
            c.positional(),
            "TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' DAY); OFFSET is dropped: window offsets are not supported (windows are aligned to the epoch)"
        );
        let c = find("SESSION(DATA => TABLE ev PARTITION BY k, TIMECOL => DESCRIPTOR(ts), GAP => INTERVAL '5' MINUTE)").unwrap();
        assert_eq!(
            c.positional(),
            "SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' MINUTE) (the gap)"
        );
    }

    #[test]
    fn other_arrows_are_not_named_arguments() {
        // `=>` in a string, or outside a window function, or a word containing a name.
        for sql in [
            "SELECT CONCAT(a, '=>') AS s FROM ev WHERE x > > 1",
            "SELECT f(a => 1) FROM ev",
            "SELECT HOPPER(a => 1) FROM ev",
            "SELECT TUMBLE(rowtime, INTERVAL '1' HOUR) FROM ev",
        ] {
            assert!(find(sql).is_none(), "{sql}");
        }
    }
}
