//! A fast path for the common record shape: one flat JSON object per line, no escapes.
//!
//! It accepts only input it can decode exactly as the general serde_json path would, and
//! answers `None` for anything else (escapes, nested values, control characters, unusual
//! numbers, type errors), in which case the caller runs the general path. A property test
//! (`tests::fast_path_agrees_with_serde`) checks the two paths agree on arbitrary input.
//!
//! It does not check the whole line as UTF-8, only what serde_json checks: outside strings
//! only ASCII tokens are accepted; a field name that matches a wanted column is that
//! column's (valid) name, other names are checked once per position (see `Fields`); kept
//! strings are checked (the whole line at once when several are kept); skipped strings are
//! not checked, as serde_json does not. A field is first checked against the `"name":` seen
//! at the same position in the previous line, in three word comparisons, without scanning
//! for the name's end; otherwise its name is scanned and compared as two words. Integers are folded while
//! they are scanned, eight digits at a time where possible.

use planner::job::Column;
use planner::types::{DataType, Value};

use super::value_from_text;

/// The wanted fields of a decoder, prepared for matching field names a word at a time,
/// and what the names at each position of the last lines turned out to be (records of a
/// source mostly list the same fields in the same order).
pub(crate) struct Fields {
    fields: Vec<Field>,
    /// Per field position in a line: a name of up to 16 bytes seen there and its column
    /// (`None`: no column wants it, and no name differs from it only in case).
    slots: Vec<Option<Slot>>,
    /// Whether a line's text is checked as a whole (more than one string column wanted)
    /// rather than string by string (timestamps given as text are checked one by one).
    whole_line: bool,
}

struct Field {
    name: Box<[u8]>,
    /// The name's first 16 bytes, little-endian, zero-padded (names of up to 16 bytes are
    /// compared as two words).
    words: [u64; 2],
    col: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    len: usize,
    words: [u64; 2],
    col: Option<usize>,
    /// `"name":` as three little-endian words, zero-padded, and the masks of its bytes:
    /// the next line's field at this position is checked against it in three word
    /// comparisons, without scanning for the name's end (`Fields::predict`).
    quoted: [u64; 3],
    mask: [u64; 3],
}

impl Slot {
    fn new(name: &[u8], words: [u64; 2], col: Option<usize>) -> Slot {
        let mut bytes = [0u8; 24];
        let mut ones = [0u8; 24];
        let quoted_len = name.len() + 3;
        bytes[0] = b'"';
        bytes[1..=name.len()].copy_from_slice(name);
        bytes[name.len() + 1] = b'"';
        bytes[name.len() + 2] = b':';
        ones[..quoted_len].fill(0xFF);
        let word = |b: &[u8; 24], i: usize| {
            u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        };
        Slot {
            len: name.len(),
            words,
            col,
            quoted: [word(&bytes, 0), word(&bytes, 1), word(&bytes, 2)],
            mask: [word(&ones, 0), word(&ones, 1), word(&ones, 2)],
        }
    }
}

/// At most this many field positions are remembered.
const SLOTS: usize = 64;

impl Fields {
    /// Prepares the wanted (name, column index) pairs of `columns`.
    pub(crate) fn new(columns: &[Column], wanted: &[(String, usize)]) -> Fields {
        let fields = wanted
            .iter()
            .map(|(name, col)| {
                let mut pad = [0u8; 16];
                let n = name.len().min(16);
                pad[..n].copy_from_slice(&name.as_bytes()[..n]);
                Field {
                    name: name.as_bytes().into(),
                    words: [
                        u64::from_le_bytes(pad[..8].try_into().expect("8 bytes")),
                        u64::from_le_bytes(pad[8..].try_into().expect("8 bytes")),
                    ],
                    col: *col,
                }
            })
            .collect();
        // Timestamps are not counted: they are mostly numbers, and a line checked whole
        // for one kept string costs more than checking that string (~2% of a HOP run).
        let strings = wanted
            .iter()
            .filter(|(_, c)| columns[*c].ty == DataType::String)
            .count();
        Fields {
            fields,
            slots: Vec::new(),
            whole_line: strings > 1,
        }
    }

    /// The column wanting the field named `line[start..end]`, the `pos`-th field of its
    /// line: `Ok(Some)` for an exact match, `Ok(None)` for a name no column wants, `Err` for
    /// a case-insensitive match (general path).
    #[inline]
    fn find(
        &mut self,
        line: &[u8],
        start: usize,
        end: usize,
        pos: usize,
    ) -> Result<Option<usize>, ()> {
        let len = end - start;
        if len <= 16 {
            if let Some(chunk) = line.get(start..start + 16) {
                let (lo, hi) = chunk.split_at(8);
                let mut key = [
                    u64::from_le_bytes(lo.try_into().expect("8 bytes")),
                    u64::from_le_bytes(hi.try_into().expect("8 bytes")),
                ];
                // Keep the name's bytes only.
                if len < 8 {
                    key[0] &= (1u64 << (8 * len)) - 1;
                    key[1] = 0;
                } else if len < 16 {
                    key[1] &= (1u64 << (8 * (len - 8))) - 1;
                }
                if let Some(Some(slot)) = self.slots.get(pos) {
                    if slot.len == len && slot.words == key {
                        return Ok(slot.col);
                    }
                }
                let col = self
                    .fields
                    .iter()
                    .find(|f| f.name.len() == len && f.words == key)
                    .map(|f| f.col);
                if col.is_none() {
                    self.unknown(&line[start..end])?;
                }
                if pos < SLOTS {
                    if self.slots.len() <= pos {
                        self.slots.resize(pos + 1, None);
                    }
                    self.slots[pos] = Some(Slot::new(&line[start..end], key, col));
                }
                return Ok(col);
            }
        }
        let key = &line[start..end];
        if let Some(f) = self.fields.iter().find(|f| *f.name == *key) {
            return Ok(Some(f.col));
        }
        self.unknown(key)?;
        Ok(None)
    }

    /// If the `pos`-th field of `line`, at `i`, is `"name":` for the name last seen at that
    /// position (records of a source mostly repeat their layout), the bytes it takes and the
    /// name's column: what scanning the name, `find` and eating the colon would give, in
    /// three word comparisons. `None`: read the field the long way.
    #[inline]
    fn predict(&self, line: &[u8], i: usize, pos: usize) -> Option<(usize, Option<usize>)> {
        let slot = self.slots.get(pos)?.as_ref()?;
        let chunk = line.get(i..i + 24)?;
        let word = |k: usize| u64::from_le_bytes(chunk[8 * k..8 * k + 8].try_into().expect("8"));
        let diff = ((word(0) ^ slot.quoted[0]) & slot.mask[0])
            | ((word(1) ^ slot.quoted[1]) & slot.mask[1])
            | ((word(2) ^ slot.quoted[2]) & slot.mask[2]);
        (diff == 0).then_some((slot.len + 3, slot.col))
    }

    /// Checks a name no column wants exactly: names that match one case-insensitively go
    /// through the general path (rare), and so do names that are not UTF-8 (serde_json
    /// checks names, though not skipped values). A name remembered in a slot was checked.
    fn unknown(&self, key: &[u8]) -> Result<(), ()> {
        for f in &self.fields {
            if f.name.len() == key.len() && f.name.eq_ignore_ascii_case(key) {
                return Err(());
            }
        }
        std::str::from_utf8(key).map(|_| ()).map_err(|_| ())
    }
}

/// Decodes `line` into `row` for the wanted `fields`, or `None` to defer.
#[inline]
pub(crate) fn decode(
    line: &[u8],
    columns: &[Column],
    fields: &mut Fields,
    row: &mut [Value],
) -> Option<()> {
    let mut p = Parser {
        s: line,
        i: 0,
        text: None,
        whole_line: fields.whole_line,
    };
    let mut pos = 0;
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        p.i += 1;
        return p.end();
    }
    loop {
        let field = match fields.predict(line, p.i, pos) {
            Some((taken, field)) => {
                p.i += taken;
                field
            }
            None => {
                if p.peek()? != b'"' {
                    p.ws();
                }
                let (ks, ke) = p.string()?;
                let field = fields.find(line, ks, ke, pos).ok()?;
                if p.peek()? != b':' {
                    p.ws();
                }
                p.eat(b':')?;
                field
            }
        };
        pos += 1;
        if p.peek()? == b' ' {
            p.ws();
        }
        match field {
            Some(c) => row[c] = p.value(&columns[c])?,
            None => p.skip_scalar()?,
        }
        match p.next()? {
            b',' => continue,
            b'}' => return p.end(),
            b' ' => {
                p.ws();
                match p.next()? {
                    b',' => continue,
                    b'}' => return p.end(),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// The whole line as text, once some string needed it and the line was long enough
    /// to be checked at once.
    text: Option<&'a str>,
    /// Check the whole line at the first string that needs checking.
    whole_line: bool,
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

    /// `s[a..b]` as text, or `None` if it is not UTF-8. When several strings are kept
    /// and the line has 64 bytes or more, the first call checks the whole line (with SIMD,
    /// at about the cost of checking one short string byte by byte).
    #[inline]
    fn str(&mut self, a: usize, b: usize) -> Option<&'a str> {
        if let Some(text) = self.text {
            return text.get(a..b);
        }
        if self.whole_line && self.s.len() >= 64 {
            let text = simdutf8::basic::from_utf8(self.s).ok()?;
            self.text = Some(text);
            return text.get(a..b);
        }
        std::str::from_utf8(&self.s[a..b]).ok()
    }

    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.s.len()).then_some(())
    }

    /// A string without escapes: its byte range (quotes excluded). Not checked as UTF-8.
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

    /// Skips a JSON number token, checked against the JSON grammar.
    #[inline]
    fn skip_number(&mut self) -> Option<()> {
        self.number().map(|_| ())
    }

    /// A JSON number token, checked against the JSON grammar: its value when it is an
    /// integer of at most 18 digits (which cannot overflow), and whether it is integral.
    #[inline]
    fn number(&mut self) -> Option<(Option<i64>, bool)> {
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let digits_start = self.i;
        let mut v: u64 = match self.next()? {
            b'0' => 0,
            d @ b'1'..=b'9' => {
                let mut v = u64::from(d - b'0');
                while let Some(chunk) = self.s.get(self.i..self.i + 8) {
                    let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                    match eight_digits(word) {
                        Some(d8) => {
                            v = v.wrapping_mul(100_000_000).wrapping_add(d8);
                            self.i += 8;
                        }
                        None => break,
                    }
                }
                while let Some(d) = self
                    .peek()
                    .map(|b| b.wrapping_sub(b'0'))
                    .filter(|d| *d < 10)
                {
                    v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                    self.i += 1;
                }
                v
            }
            _ => return None,
        };
        let digits = self.i - digits_start;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            integral = false;
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
            integral = false;
        }
        if !integral || digits > 18 {
            return Some((None, integral));
        }
        if neg {
            v = v.wrapping_neg();
        }
        Some((Some(v as i64), true))
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

    #[inline]
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            // Like serde_json, skipped strings are not checked as UTF-8.
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None, // objects and arrays: general path
        }
    }

    /// A value for a column; `None` for anything the general path must judge (including
    /// type errors, so error messages come from one place).
    #[inline]
    fn value(&mut self, col: &Column) -> Option<Value> {
        match self.peek()? {
            b'"' => {
                let (a, b) = self.string()?;
                let text = self.str(a, b)?;
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
                let start = self.i;
                let (int, integral) = self.number()?;
                match (col.ty, int) {
                    (DataType::Int, Some(v)) => Some(Value::Int(v)),
                    (DataType::Timestamp, Some(v)) => Some(Value::Ts(v)),
                    // `-0` is a float zero with a sign for serde_json; past 15 digits an
                    // integer may not convert exactly: let it decide.
                    (DataType::Float, Some(v))
                        if self.i - start <= 15 && !(v == 0 && self.s[start] == b'-') =>
                    {
                        Some(Value::Float(v as f64))
                    }
                    (DataType::Float, None) if !integral => self
                        .str(start, self.i)?
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

/// The value of eight ASCII digits (little-endian word), or `None` if some byte is not a digit.
#[inline]
fn eight_digits(word: u64) -> Option<u64> {
    // A byte is a digit iff its high nibble is 3 and adding 6 keeps it so.
    let all = (word & 0xF0F0_F0F0_F0F0_F0F0)
        | ((word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4);
    if all != 0x3333_3333_3333_3333 {
        return None;
    }
    let mut v = word - 0x3030_3030_3030_3030;
    // Pairs, then fours, then all eight (the first byte is the most significant digit).
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    v = (v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v)
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
            "12345678",
            "123456789",
            "1767225600000",
            "999999999999999999",
            "-999999999999999999",
            "-99999999999999999",
        ] {
            let line = format!("{tok},");
            let mut p = Parser {
                s: line.as_bytes(),
                i: 0,
                text: None,
                whole_line: false,
            };
            assert_eq!(
                p.number(),
                Some((Some(tok.parse::<i64>().unwrap()), true)),
                "{tok}"
            );
            assert_eq!(p.i, tok.len(), "{tok}");
        }
        // Too long to fold without overflow, or not integers: no value.
        for tok in ["1000000000000000000", "1.5", "1e3", "-0.0"] {
            let mut p = Parser {
                s: tok.as_bytes(),
                i: 0,
                text: None,
                whole_line: false,
            };
            assert_eq!(p.number().unwrap().0, None, "{tok}");
            assert_eq!(p.i, tok.len(), "{tok}");
        }
    }

    #[test]
    fn eight_digits_at_once() {
        let w = |b: &[u8; 8]| u64::from_le_bytes(*b);
        assert_eq!(eight_digits(w(b"12345678")), Some(12_345_678));
        assert_eq!(eight_digits(w(b"00000000")), Some(0));
        assert_eq!(eight_digits(w(b"99999999")), Some(99_999_999));
        for b in 0..=255u8 {
            let mut bytes = *b"11111111";
            bytes[3] = b;
            let expect = b
                .is_ascii_digit()
                .then(|| 11_101_111 + u64::from(b - b'0') * 10_000);
            assert_eq!(eight_digits(w(&bytes)), expect, "{b}");
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
