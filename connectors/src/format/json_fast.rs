//! A fast path for the common record shape: one flat JSON object per line, no escapes.
//!
//! It accepts only input it can decode exactly as the general serde_json path would, and
//! answers `None` for anything else (escapes, nested values, control characters, unusual
//! numbers, type errors), in which case the caller runs the general path. A property test
//! (`tests::fast_path_agrees_with_serde`) checks the two paths agree on arbitrary input.

use planner::types::{DataType, Value};

use super::value_from_text;
use planner::job::Column;

/// Decodes `line` into `row` for the `wanted` (name, column) pairs, or `None` to defer.
#[inline]
pub(crate) fn decode(
    line: &[u8],
    columns: &[Column],
    wanted: &[(String, usize)],
    row: &mut [Value],
) -> Option<()> {
    // Invalid UTF-8: let serde_json decide. (Raw control characters, which JSON forbids
    // in strings, are rejected by `string`; outside strings only exact tokens and spaces
    // are accepted, so tabs and newlines between tokens also go to the general path.)
    let text = std::str::from_utf8(line).ok()?;
    let mut p = Parser {
        s: line,
        text,
        i: 0,
    };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        p.i += 1;
        return p.end();
    }
    loop {
        p.ws();
        let (ks, ke) = p.string()?;
        let key = &line[ks..ke];
        p.ws();
        p.eat(b':')?;
        p.ws();
        let mut col = None;
        for (n, i) in wanted {
            let n = n.as_bytes();
            if n.len() == key.len() && (n.is_empty() || n[0].eq_ignore_ascii_case(&key[0])) {
                if n == key {
                    col = Some(*i);
                    break;
                }
                if n.eq_ignore_ascii_case(key) {
                    // Case-insensitive matches go through the general path (rare).
                    return None;
                }
            }
        }
        match col {
            Some(c) => row[c] = p.value(&columns[c])?,
            None => p.skip_scalar()?,
        }
        p.ws();
        match p.next()? {
            b',' => continue,
            b'}' => return p.end(),
            _ => return None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    /// The same bytes, known to be UTF-8 (string values are sliced from it).
    text: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    #[inline]
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ')) {
            self.i += 1;
        }
    }

    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.s.len()).then_some(())
    }

    /// A string without escapes; returns its byte range (quotes excluded).
    #[inline]
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        // Eight bytes at a time: find the first `"`, `\` or control byte.
        while let Some(chunk) = self.s.get(self.i..self.i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            let hits = has_byte(word, b'"') | has_byte(word, b'\\') | has_less_than(word, 0x20);
            if hits != 0 {
                self.i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            self.i += 8;
        }
        loop {
            match self.next()? {
                b'"' => return Some((start, self.i - 1)),
                b'\\' | 0..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// A JSON number token, validated against the JSON grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        self.text.get(start..self.i)
    }

    #[inline]
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.s.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => None, // objects and arrays: general path
        }
    }

    /// A value for a column; `None` for anything the general path must judge (including
    /// type errors, so error messages come from one place).
    fn value(&mut self, col: &Column) -> Option<Value> {
        match self.peek()? {
            b'"' => {
                let (a, b) = self.string()?;
                let text = self.text.get(a..b)?;
                match col.ty {
                    DataType::String => Some(Value::Str(text.into())),
                    DataType::Timestamp => value_from_text(col, text).ok(),
                    _ => None,
                }
            }
            b'n' => self.literal(b"null").map(|_| Value::Null),
            b't' | b'f' => {
                let v = self.peek()? == b't';
                self.literal(if v { b"true" } else { b"false" })?;
                (col.ty == DataType::Bool).then_some(Value::Bool(v))
            }
            b'-' | b'0'..=b'9' => {
                let tok = self.number()?;
                let integral = !tok.contains(['.', 'e', 'E']);
                match col.ty {
                    DataType::Int if integral && tok.len() <= 18 => Some(Value::Int(int(tok))),
                    DataType::Timestamp if integral && tok.len() <= 18 => Some(Value::Ts(int(tok))),
                    // `-0` is a float zero with a sign for serde_json: let it decide.
                    DataType::Float if integral && tok.len() <= 15 && tok != "-0" => {
                        Some(Value::Float(int(tok) as f64))
                    }
                    DataType::Float if !integral => tok
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(Value::Float),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The value of an integer token already checked against the JSON grammar
/// (`-?(0|[1-9][0-9]*)`), at most 18 bytes long, so it cannot overflow.
#[inline]
fn int(tok: &str) -> i64 {
    let (neg, digits) = match tok.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    let v = digits
        .iter()
        .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
    if neg {
        -v
    } else {
        v
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Nonzero iff some byte of `word` equals `byte`; the lowest set bit marks the first one.
#[inline]
fn has_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Nonzero iff some byte of `word` is below `n` (n <= 128); the lowest set bit marks the first.
#[inline]
fn has_less_than(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * n as u64) & !word & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_tokens_parse_like_std() {
        for tok in [
            "0",
            "-0",
            "7",
            "-7",
            "1767225600000",
            "999999999999999999",
            "-99999999999999999",
        ] {
            assert_eq!(int(tok), tok.parse::<i64>().unwrap(), "{tok}");
        }
    }

    #[test]
    fn word_scans_find_the_first_match() {
        let w = |b: &[u8; 8]| u64::from_le_bytes(*b);
        assert_eq!(has_byte(w(b"abc\"xyz\""), b'"').trailing_zeros() / 8, 3);
        assert_eq!(has_byte(w(b"abcdefgh"), b'"'), 0);
        assert_eq!(has_less_than(w(b"ab\tdefgh"), 0x20).trailing_zeros() / 8, 2);
        assert_eq!(has_less_than(w(b"abcdefgh"), 0x20), 0);
        // Bytes >= 0x80 (UTF-8) are not control bytes.
        assert_eq!(
            has_less_than(w(&[0xC3, 0xA9, b'a', b'b', b'c', b'd', b'e', b'f']), 0x20),
            0
        );
    }
}
