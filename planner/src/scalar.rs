//! Date/time, string and integer rounding scalar functions (Flink semantics, UTC), evaluated by
//! [`Expr::eval`](crate::expr::Expr::eval).
//!
//! Timestamps are epoch milliseconds (`Value::Ts`), possibly negative; every calendar
//! computation is in UTC.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use compact_str::CompactString;
use serde::Serialize;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A unit of `FLOOR(ts TO unit)` / `CEIL(ts TO unit)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

impl TimeUnit {
    /// SQL name.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Second => "SECOND",
            TimeUnit::Minute => "MINUTE",
            TimeUnit::Hour => "HOUR",
            TimeUnit::Day => "DAY",
            TimeUnit::Month => "MONTH",
            TimeUnit::Year => "YEAR",
        }
    }

    fn fixed_ms(self) -> Option<i64> {
        match self {
            TimeUnit::Second => Some(SECOND),
            TimeUnit::Minute => Some(MINUTE),
            TimeUnit::Hour => Some(HOUR),
            TimeUnit::Day => Some(DAY),
            TimeUnit::Month | TimeUnit::Year => None,
        }
    }
}

/// A field of `EXTRACT(field FROM ts)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeField {
    /// Year, e.g. 2024.
    Year,
    /// Quarter, 1 to 4.
    Quarter,
    /// Month, 1 to 12.
    Month,
    /// ISO week of the year, 1 to 53.
    Week,
    /// Day of the month, 1 to 31.
    Day,
    /// Day of the week, 1 (Sunday) to 7 (Saturday), as Flink's `DAYOFWEEK`.
    Dow,
    /// ISO day of the week, 1 (Monday) to 7 (Sunday).
    IsoDow,
    /// Day of the year, 1 to 366.
    Doy,
    /// Hour, 0 to 23.
    Hour,
    /// Minute, 0 to 59.
    Minute,
    /// Second, 0 to 59.
    Second,
    /// Whole seconds since the epoch.
    Epoch,
}

impl TimeField {
    /// SQL name.
    pub fn name(self) -> &'static str {
        match self {
            TimeField::Year => "YEAR",
            TimeField::Quarter => "QUARTER",
            TimeField::Month => "MONTH",
            TimeField::Week => "WEEK",
            TimeField::Day => "DAY",
            TimeField::Dow => "DOW",
            TimeField::IsoDow => "ISODOW",
            TimeField::Doy => "DOY",
            TimeField::Hour => "HOUR",
            TimeField::Minute => "MINUTE",
            TimeField::Second => "SECOND",
            TimeField::Epoch => "EPOCH",
        }
    }
}

/// Which ends `TRIM` trims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

fn datetime(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn month_start(year: i32, month: u32) -> Option<i64> {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// `FLOOR(ts TO unit)`: the start of the unit holding `ms`.
pub fn floor_to(ms: i64, unit: TimeUnit) -> Option<i64> {
    if let Some(u) = unit.fixed_ms() {
        return Some(ms.div_euclid(u) * u);
    }
    let d = datetime(ms)?;
    match unit {
        TimeUnit::Month => month_start(d.year(), d.month()),
        _ => month_start(d.year(), 1),
    }
}

/// `CEIL(ts TO unit)`: `ms` itself on a unit boundary, else the start of the next unit.
pub fn ceil_to(ms: i64, unit: TimeUnit) -> Option<i64> {
    let f = floor_to(ms, unit)?;
    if f == ms {
        return Some(ms);
    }
    if let Some(u) = unit.fixed_ms() {
        return f.checked_add(u);
    }
    let d = datetime(f)?;
    match unit {
        TimeUnit::Month if d.month() == 12 => month_start(d.year() + 1, 1),
        TimeUnit::Month => month_start(d.year(), d.month() + 1),
        _ => month_start(d.year() + 1, 1),
    }
}

/// `EXTRACT(field FROM ts)`.
pub fn extract(ms: i64, field: TimeField) -> Option<i64> {
    if field == TimeField::Epoch {
        return Some(ms.div_euclid(SECOND));
    }
    let d = datetime(ms)?;
    Some(match field {
        TimeField::Year => d.year() as i64,
        TimeField::Quarter => (d.month0() / 3 + 1) as i64,
        TimeField::Month => d.month() as i64,
        TimeField::Week => d.iso_week().week() as i64,
        TimeField::Day => d.day() as i64,
        TimeField::Dow => d.weekday().number_from_sunday() as i64,
        TimeField::IsoDow => d.weekday().number_from_monday() as i64,
        TimeField::Doy => d.ordinal() as i64,
        TimeField::Hour => d.hour() as i64,
        TimeField::Minute => d.minute() as i64,
        TimeField::Second => d.second() as i64,
        TimeField::Epoch => unreachable!("handled above"),
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A piece of a `DATE_FORMAT` pattern.
enum Piece<'p> {
    Literal(&'p str),
    /// A quoted `''`: one single quote.
    Quote,
    /// A run of one pattern letter.
    Field(char, usize),
}

/// Splits a pattern into pieces; `Err((byte offset, letter))` on an unsupported letter or
/// `Err((offset, '\''))` on an unterminated quote.
fn pieces(pattern: &str, mut each: impl FnMut(Piece<'_>)) -> Result<(), (usize, char)> {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '\'' {
            if b.get(i + 1) == Some(&b'\'') {
                each(Piece::Quote);
                i += 2;
                continue;
            }
            // Quoted text up to the closing quote; `''` inside is one quote.
            let open = i;
            i += 1;
            loop {
                let Some(q) = pattern[i..].find('\'') else {
                    return Err((open, '\''));
                };
                each(Piece::Literal(&pattern[i..i + q]));
                i += q + 1;
                if b.get(i) == Some(&b'\'') {
                    each(Piece::Quote);
                    i += 1;
                } else {
                    break;
                }
            }
        } else if c.is_ascii_alphabetic() {
            if !"yMdHhmsSEaDZX".contains(c) {
                return Err((i, c));
            }
            let n = b[i..].iter().take_while(|&&x| x == b[i]).count();
            each(Piece::Field(c, n));
            i += n;
        } else {
            // Literal text up to the next letter or quote (may be multi-byte UTF-8).
            let n = pattern[i..]
                .find(|ch: char| ch == '\'' || ch.is_ascii_alphabetic())
                .unwrap_or(pattern.len() - i);
            each(Piece::Literal(&pattern[i..i + n]));
            i += n;
        }
    }
    Ok(())
}

/// Checks a `DATE_FORMAT` pattern: `Err(message)` naming the first problem.
pub fn check_date_format(pattern: &str) -> Result<(), String> {
    pieces(pattern, |_| {}).map_err(|(at, c)| {
        if c == '\'' {
            format!("unterminated quote at position {}", at + 1)
        } else {
            format!(
                "pattern letter `{c}` at position {} is not supported (supported: yyyy, yy, MM, MMM, MMMM, dd, D, HH, hh, a, mm, ss, SSS, E, EEEE, Z, X; quote literal text with '...')",
                at + 1
            )
        }
    })
}

fn pad(out: &mut CompactString, v: i64, width: usize) {
    let _ = write!(out, "{v:0width$}");
}

/// `DATE_FORMAT(ts, pattern)`: Java `DateTimeFormatter` pattern letters, UTC. `None` for an
/// unsupported pattern or a timestamp out of range.
pub fn date_format(ms: i64, pattern: &str) -> Option<CompactString> {
    let d = datetime(ms)?;
    let mut out = CompactString::default();
    let millis = ms.rem_euclid(SECOND);
    pieces(pattern, |p| match p {
        Piece::Literal(s) => out.push_str(s),
        Piece::Quote => out.push('\''),
        Piece::Field(c, n) => match c {
            'y' if n == 2 => pad(&mut out, (d.year() as i64).rem_euclid(100), 2),
            'y' => pad(&mut out, d.year() as i64, n),
            'M' if n >= 4 => out.push_str(MONTHS[d.month0() as usize]),
            'M' if n == 3 => out.push_str(&MONTHS[d.month0() as usize][..3]),
            'M' => pad(&mut out, d.month() as i64, n),
            'd' => pad(&mut out, d.day() as i64, n),
            'D' => pad(&mut out, d.ordinal() as i64, n),
            'H' => pad(&mut out, d.hour() as i64, n),
            'h' => pad(&mut out, d.hour12().1 as i64, n),
            'a' => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
            'm' => pad(&mut out, d.minute() as i64, n),
            's' => pad(&mut out, d.second() as i64, n),
            // Fraction of the second, `n` digits (SSS: milliseconds).
            'S' => {
                let digits = format!("{millis:03}");
                for i in 0..n {
                    out.push(digits.as_bytes().get(i).map_or('0', |&b| b as char));
                }
            }
            'E' if n >= 4 => out.push_str(DAYS[d.weekday().num_days_from_monday() as usize]),
            'E' => out.push_str(&DAYS[d.weekday().num_days_from_monday() as usize][..3]),
            'Z' => out.push_str("+0000"),
            _ => out.push('Z'), // 'X': UTC
        },
    })
    .ok()?;
    Some(out)
}

/// `SUBSTRING(s FROM pos FOR len)`, Flink's rules: positions count characters from 1; a
/// negative `pos` counts from the end (one before the first character: empty), 0 acts as
/// 1; no `len`: to the end; negative `len`: NULL.
pub fn substring(s: &str, pos: i64, len: Option<i64>) -> Option<&str> {
    if len.is_some_and(|l| l < 0) {
        return None;
    }
    let n = s.chars().count() as i64;
    let start = match pos {
        p if p > 0 => p - 1,
        // Before the first character: empty, as Flink's `substringSQL` (found by QA: it
        // started at the first character).
        p if p < 0 && n + p < 0 => return Some(""),
        p if p < 0 => n + p,
        _ => 0,
    };
    let end = match len {
        None => n,
        Some(l) => start.saturating_add(l).min(n),
    };
    if start >= end {
        return Some("");
    }
    let byte = |c: i64| s.char_indices().nth(c as usize).map_or(s.len(), |(b, _)| b);
    Some(&s[byte(start)..byte(end)])
}

/// `TRIM([side] [chars FROM] s)`: removes characters in `chars` from the chosen ends.
pub fn trim<'s>(s: &'s str, chars: &str, side: TrimSide) -> &'s str {
    let hit = |c: char| chars.contains(c);
    match side {
        TrimSide::Both => s.trim_matches(hit),
        TrimSide::Leading => s.trim_start_matches(hit),
        TrimSide::Trailing => s.trim_end_matches(hit),
    }
}

/// `POSITION(needle IN s)`: 1-based character position of the first occurrence, 0 if none.
pub fn position(needle: &str, s: &str) -> i64 {
    match s.find(needle) {
        Some(b) => s[..b].chars().count() as i64 + 1,
        None => 0,
    }
}

/// `SPLIT_INDEX(s, sep, i)`: the `i`-th (from 0) piece of `s` split by `sep`; `None` when
/// `i` is negative or past the last piece. An empty separator does not split.
pub fn split_index<'s>(s: &'s str, sep: &str, i: i64) -> Option<&'s str> {
    if i < 0 {
        return None;
    }
    if sep.is_empty() {
        return (i == 0).then_some(s);
    }
    s.split(sep).nth(i as usize)
}

/// `ROUND(i, digits)` of an integer: unchanged for `digits >= 0`; otherwise rounded to a
/// multiple of `10^-digits`, halves away from zero (Java's `BigDecimal` `HALF_UP`, as in
/// Flink): `ROUND(7, -1)` is 10, `ROUND(-155, -2)` is -200. `None` when the result does
/// not fit an i64 (`ROUND(i64::MAX, -1)`), as integer arithmetic overflows to NULL.
pub fn round_int(i: i64, digits: i64) -> Option<i64> {
    if digits >= 0 {
        return Some(i);
    }
    // |i| < 10^19, so from 10^20 on every value rounds to 0; i128 holds 10^20 and the
    // rounded results (at most 10^19 in magnitude).
    let Some(unit) = u32::try_from(digits.unsigned_abs())
        .ok()
        .filter(|n| *n <= 20)
        .map(|n| 10i128.pow(n))
    else {
        return Some(0);
    };
    let i = i128::from(i);
    let rest = i % unit;
    let mut rounded = i - rest;
    if 2 * rest.abs() >= unit {
        rounded += i.signum() * unit;
    }
    i64::try_from(rounded).ok()
}

/// `ROUND(f, digits)` of a float, on its decimal value as written (the shortest decimal
/// that reads back as `f`, Java's `BigDecimal.valueOf` as Flink uses it), halves away
/// from zero: `ROUND(2.675, 2)` is 2.68 and `ROUND(1.005, 2)` 1.01, where rounding the
/// binary value (2.67499999...) would give 2.67 and 1.0. NaN and infinities are unchanged.
pub fn round_float(f: f64, digits: i64) -> f64 {
    if !f.is_finite() || f == 0.0 {
        return f;
    }
    // `d.ddd...e<exp>`: digit k of the mantissa has the place value 10^(exp - k).
    let text = format!("{:e}", f.abs());
    let Some((mantissa, exp)) = text.split_once('e') else {
        return f;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return f;
    };
    let mantissa: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    // Digits whose place value is at least 10^-digits.
    let keep = exp.saturating_add(digits).saturating_add(1);
    let Ok(keep) = usize::try_from(keep) else {
        return 0.0; // below half of the last kept place
    };
    if keep >= mantissa.len() {
        return f; // already exact at this precision
    }
    // At most 17 significant digits, so the kept ones fit a u64.
    let mut n = mantissa[..keep]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(*d));
    if mantissa[keep] >= 5 {
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let rounded: f64 = format!("{n}e{}", digits.saturating_neg())
        .parse()
        .unwrap_or(f);
    rounded.copysign(f)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_float_rounds_the_decimal_value_halves_away_from_zero() {
        for (f, digits, want) in [
            (2.675, 2, 2.68),
            (-2.675, 2, -2.68),
            (1.005, 2, 1.01),
            (0.125, 2, 0.13),
            (0.5, 0, 1.0),
            (2.5, 0, 3.0),
            (-2.5, 0, -3.0),
            (2.4999, 0, 2.0),
            (1234.5, -2, 1200.0),
            (1250.0, -2, 1300.0),
            (0.004, 2, 0.0),
            (0.004, 20, 0.004),
            (1e300, 2, 1e300),
            (1e300, -300, 1e300),
            (4e300, -301, 0.0),
            (6e300, -301, 1e301),
            (123.456, i64::MAX, 123.456),
            (123.456, i64::MIN, 0.0),
        ] {
            assert_eq!(round_float(f, digits), want, "ROUND({f}, {digits})");
        }
        assert!(round_float(f64::NAN, 2).is_nan());
        assert_eq!(round_float(f64::INFINITY, 2), f64::INFINITY);
    }

    proptest! {
        /// Against integer arithmetic: `n / 10^k` rounded to `d` places is
        /// `round_int(n, d - k) / 10^k`.
        #[test]
        fn round_float_agrees_with_integer_rounding(
            n in -10_000_000_000i64..10_000_000_000,
            k in 0i64..8,
            d in -3i64..8,
        ) {
            let f: f64 = format!("{n}e-{k}").parse().unwrap();
            let want: f64 = match round_int(n, d - k) {
                Some(m) => format!("{m}e-{k}").parse().unwrap(),
                None => unreachable!("in range"),
            };
            prop_assert_eq!(round_float(f, d), want, "ROUND({}, {})", f, d);
        }
    }

    /// HALF_UP by its textbook recipe: add half a unit to the magnitude, drop the rest,
    /// restore the sign (an independent reference for [`round_int`]).
    fn round_half_up_reference(i: i64, digits: i64) -> Option<i64> {
        if digits >= 0 {
            return Some(i);
        }
        let unit = 10u128.checked_pow(u32::try_from(-digits).ok()?)?;
        let magnitude = (u128::from(i.unsigned_abs()) + unit / 2) / unit * unit;
        let signed = i128::try_from(magnitude).ok()?;
        i64::try_from(if i < 0 { -signed } else { signed }).ok()
    }

    #[test]
    fn round_int_rounds_halves_away_from_zero() {
        assert_eq!(round_int(7, -1), Some(10));
        assert_eq!(round_int(-155, -2), Some(-200));
        assert_eq!(round_int(-150, -2), Some(-200));
        assert_eq!(round_int(150, -2), Some(200));
        assert_eq!(round_int(149, -2), Some(100));
        assert_eq!(round_int(-149, -2), Some(-100));
        assert_eq!(round_int(7, 2), Some(7));
        assert_eq!(round_int(7, -40), Some(0));
        assert_eq!(round_int(7, i64::MIN), Some(0));
        // 9223372036854775807 rounds to ...810, past i64::MAX.
        assert_eq!(round_int(i64::MAX, -1), None);
        assert_eq!(round_int(i64::MIN, -1), None);
        assert_eq!(round_int(i64::MAX, -19), None);
        assert_eq!(round_int(i64::MAX, -20), Some(0));
    }

    proptest! {
        #[test]
        fn round_int_agrees_with_the_reference(
            i in prop_oneof![any::<i64>(), -1_000i64..1_000],
            digits in -21i64..3,
        ) {
            prop_assert_eq!(round_int(i, digits), round_half_up_reference(i, digits));
        }
    }

    /// 2024-03-10T14:05:09.007Z, a Sunday (checked with `date -u -d @1710079509.007`).
    const T: i64 = 1_710_079_509_007;

    #[test]
    fn date_format_follows_java_pattern_letters() {
        let f = |p: &str| date_format(T, p).unwrap().to_string();
        assert_eq!(f("yyyy-MM-dd HH:mm:ss"), "2024-03-10 14:05:09");
        assert_eq!(f("yyyy-MM-dd HH:mm:ss.SSS"), "2024-03-10 14:05:09.007");
        assert_eq!(f("yy/M/d H"), "24/3/10 14");
        assert_eq!(f("EEE, dd MMM yyyy hh a"), "Sun, 10 Mar 2024 02 PM");
        assert_eq!(f("EEEE MMMM D"), "Sunday March 70");
        assert_eq!(f("yyyy-MM-dd'T'HH:mm:ssX"), "2024-03-10T14:05:09Z");
        assert_eq!(f("HH 'o''clock' ''"), "14 o'clock '");
        assert_eq!(f("S SS"), "0 00");
        assert_eq!(
            date_format(0, "yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "1970-01-01 00:00:00.000"
        );
        // Before the epoch: 1969-12-31 23:59:59.999.
        assert_eq!(
            date_format(-1, "yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "1969-12-31 23:59:59.999"
        );
        assert!(date_format(T, "yyyy-QQ").is_none());
        assert!(check_date_format("yyyy-MM-dd").is_ok());
        assert!(check_date_format("yyyy 'open")
            .unwrap_err()
            .contains("unterminated"));
        assert!(check_date_format("yyyy-ww")
            .unwrap_err()
            .contains("`w` at position 6"));
    }

    #[test]
    fn floor_and_ceil_to_units() {
        // 2024-03-10T14:05:09.007Z
        assert_eq!(floor_to(T, TimeUnit::Second), Some(1_710_079_509_000));
        assert_eq!(floor_to(T, TimeUnit::Minute), Some(1_710_079_500_000)); // 14:05:00
        assert_eq!(floor_to(T, TimeUnit::Hour), Some(1_710_079_200_000)); // 14:00:00
        assert_eq!(floor_to(T, TimeUnit::Day), Some(1_710_028_800_000)); // 2024-03-10
        assert_eq!(floor_to(T, TimeUnit::Month), Some(1_709_251_200_000)); // 2024-03-01
        assert_eq!(floor_to(T, TimeUnit::Year), Some(1_704_067_200_000)); // 2024-01-01
        assert_eq!(ceil_to(T, TimeUnit::Hour), Some(1_710_082_800_000)); // 15:00:00
        assert_eq!(ceil_to(T, TimeUnit::Month), Some(1_711_929_600_000)); // 2024-04-01
        assert_eq!(ceil_to(T, TimeUnit::Year), Some(1_735_689_600_000)); // 2025-01-01
                                                                         // On a boundary CEIL is the identity.
        assert_eq!(
            ceil_to(1_710_079_200_000, TimeUnit::Hour),
            Some(1_710_079_200_000)
        );
        // December rolls over into the next year: 2023-12-15 → 2024-01-01.
        assert_eq!(
            ceil_to(1_702_598_400_000, TimeUnit::Month),
            Some(1_704_067_200_000)
        );
        // Before the epoch, floors go down: -1 ms is in the hour starting -3600000.
        assert_eq!(floor_to(-1, TimeUnit::Hour), Some(-3_600_000));
        assert_eq!(ceil_to(-1, TimeUnit::Hour), Some(0));
    }

    #[test]
    fn extract_fields() {
        let e = |f| extract(T, f).unwrap();
        assert_eq!(e(TimeField::Year), 2024);
        assert_eq!(e(TimeField::Quarter), 1);
        assert_eq!(e(TimeField::Month), 3);
        assert_eq!(e(TimeField::Day), 10);
        assert_eq!(e(TimeField::Hour), 14);
        assert_eq!(e(TimeField::Minute), 5);
        assert_eq!(e(TimeField::Second), 9);
        assert_eq!(e(TimeField::Dow), 1, "Sunday is 1, as Flink's DAYOFWEEK");
        assert_eq!(e(TimeField::IsoDow), 7, "Sunday is 7 in ISO");
        assert_eq!(e(TimeField::Doy), 31 + 29 + 10);
        assert_eq!(e(TimeField::Week), 10, "ISO week of 2024-03-10");
        assert_eq!(e(TimeField::Epoch), 1_710_079_509);
        // 1970-01-01 was a Thursday.
        assert_eq!(extract(0, TimeField::Dow), Some(5));
        assert_eq!(extract(-1, TimeField::Epoch), Some(-1));
    }

    #[test]
    fn string_functions() {
        assert_eq!(substring("freshet", 2, Some(3)), Some("res"));
        assert_eq!(substring("freshet", 5, None), Some("het"));
        assert_eq!(substring("freshet", 0, Some(2)), Some("fr"));
        assert_eq!(substring("freshet", -3, None), Some("het"));
        assert_eq!(substring("freshet", -3, Some(2)), Some("he"));
        assert_eq!(substring("freshet", 9, Some(2)), Some(""));
        assert_eq!(substring("freshet", 2, Some(-1)), None);
        // Flink's `substringSQL`: a negative position before the start gives ''.
        assert_eq!(substring("abc", -5, Some(2)), Some(""));
        assert_eq!(substring("abc", -4, None), Some(""));
        assert_eq!(substring("abc", -3, None), Some("abc"));
        assert_eq!(substring("héllo", 2, Some(2)), Some("él"));
        assert_eq!(trim("  a b  ", " ", TrimSide::Both), "a b");
        assert_eq!(trim("xxaxx", "x", TrimSide::Leading), "axx");
        assert_eq!(trim("xyaxy", "xy", TrimSide::Trailing), "xya");
        assert_eq!(position("sh", "freshet"), 4);
        assert_eq!(position("z", "freshet"), 0);
        assert_eq!(position("l", "héllo"), 3);
        assert_eq!(position("", "abc"), 1);
        assert_eq!(split_index("a,b,,c", ",", 1), Some("b"));
        assert_eq!(split_index("a,b,,c", ",", 2), Some(""));
        assert_eq!(split_index("a,b,,c", ",", 4), None);
        assert_eq!(split_index("a,b", ",", -1), None);
        assert_eq!(split_index("a::b", "::", 1), Some("b"));
    }
}
