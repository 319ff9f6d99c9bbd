//! Fast JSON writing for output rows: no intermediate document, numbers via itoa/ryu.

use planner::types::Value;

/// Appends `"key":` to `out`.
#[inline]
pub fn key(out: &mut Vec<u8>, k: &str) {
    string(out, k);
    out.push(b':');
}

/// Appends a JSON string literal.
#[inline]
pub fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: one pass without early exit (vectorizes), one copy.
    let plain = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    escaped(out, bytes);
}

#[cold]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a value; timestamps as epoch milliseconds, non-finite floats as null.
#[inline]
pub fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) | Value::Ts(i) => int(out, *i),
        Value::Float(f) if f.is_finite() => {
            let mut buf = ryu::Buffer::new();
            out.extend_from_slice(buf.format_finite(*f).as_bytes());
        }
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::Str(s) => string(out, s),
        Value::List(l) => {
            out.push(b'[');
            // Lists sharing a buffer (OVER frames of one partition) are cut from the
            // buffer's JSON text, encoded once.
            if l.len() >= 8 {
                if let Some(text) = l.shared_json(value) {
                    out.extend_from_slice(text);
                    out.push(b']');
                    return;
                }
            }
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, x);
            }
            out.push(b']');
        }
    }
}

/// Appends an integer.
#[inline]
pub fn int(out: &mut Vec<u8>, i: i64) {
    // Single digits (revisions, small counts) are most integers in output rows.
    if (0..10).contains(&i) {
        out.push(b'0' + i as u8);
        return;
    }
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(i).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_like_itoa() {
        for i in [
            0,
            1,
            9,
            10,
            -1,
            -9,
            99,
            1_767_225_600_000,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            int(&mut out, i);
            assert_eq!(out, i.to_string().as_bytes());
        }
    }

    /// Slices of a shared buffer are written from its JSON text exactly as item by item.
    #[test]
    fn shared_list_slices_encode_like_their_items() {
        use planner::types::{List, ListBuf};
        let items: Vec<Value> = (0..40)
            .map(|i| match i % 4 {
                0 => Value::Str(format!("a\"{i}").into()),
                1 => Value::Int(i),
                2 => Value::Float(i as f64 / 3.0),
                _ => Value::Null,
            })
            .collect();
        let buf = ListBuf::new(items.clone());
        let slices: Vec<List> = (0..=40)
            .flat_map(|a| (0..=40 - a).map(move |n| (a, n)))
            .map(|(a, n)| List::slice(&buf, a, n))
            .collect();
        for l in &slices {
            let mut shared = Vec::new();
            value(&mut shared, &Value::List(l.clone()));
            let mut direct = Vec::new();
            value(&mut direct, &Value::List(l.as_slice().to_vec().into()));
            assert_eq!(
                String::from_utf8(shared).unwrap(),
                String::from_utf8(direct).unwrap()
            );
        }
    }

    proptest::proptest! {
        /// Strings of every length around the word-at-a-time path (8-16 bytes), made of
        /// plain ASCII, every byte that needs escaping and multi-byte UTF-8, read back as
        /// themselves.
        #[test]
        fn strings_are_written_like_serde_json(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::char::range('a', 'z'),
                    1 => proptest::char::range('\u{0}', '\u{20}'),
                    1 => proptest::prop_oneof![proptest::strategy::Just('"'), proptest::strategy::Just('\\'), proptest::strategy::Just('é'), proptest::strategy::Just('\u{7f}'), proptest::strategy::Just('\u{2028}')],
                ],
                0..24,
            )
        ) {
            let s: String = parts.into_iter().collect();
            let mut out = b"x".to_vec();
            string(&mut out, &s);
            let text = std::str::from_utf8(&out[1..]).unwrap();
            let back: String = serde_json::from_str(text).unwrap();
            proptest::prop_assert_eq!(&back, &s);
            // Without escapes, exactly serde_json's text (escapes may differ in form:
            // `\u0008` for `\b`).
            if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
                proptest::prop_assert_eq!(text, serde_json::to_string(&s).unwrap());
            }
        }
    }

    #[test]
    fn plain_strings_of_every_length_are_copied_whole() {
        let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789é€ü";
        for len in 0..=alphabet.chars().count() {
            for skip in [0, 3, 26] {
                let s: String = alphabet.chars().cycle().skip(skip).take(len).collect();
                let mut out = b"x".to_vec();
                string(&mut out, &s);
                assert_eq!(
                    out[1..],
                    *serde_json::to_string(&s).unwrap().as_bytes(),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn output_is_valid_json() {
        let mut out = Vec::new();
        out.push(b'{');
        key(&mut out, "s");
        value(&mut out, &Value::Str("a\"b\\c\n\u{1}é".into()));
        out.push(b',');
        key(&mut out, "f");
        value(&mut out, &Value::Float(0.1));
        out.push(b',');
        key(&mut out, "n");
        value(&mut out, &Value::Float(f64::NAN));
        out.push(b',');
        key(&mut out, "l");
        value(
            &mut out,
            &Value::List(vec![Value::Str("x".into()), Value::Int(2), Value::Null].into()),
        );
        out.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["l"], serde_json::json!(["x", 2, null]));
        assert_eq!(v["s"], "a\"b\\c\n\u{1}é");
        assert_eq!(v["f"], 0.1);
        assert!(v["n"].is_null());
    }
}
