//! Human durations in job files: whole numbers each followed by a unit, `500ms`, `30s`,
//! `5m`, `5 minutes`, `1h`, `7d`, and combinations like `1h30m`. The units and their
//! spellings are [`UNITS`]; error hints list them from there ([`units_help`]), so what is
//! accepted and what the hint says cannot drift apart.
//!
//! Like Flink's `TimeUtils.parseDuration`, a unit may follow its number after spaces, in
//! any case, singular or plural (`5 min`, `5 MINUTES`). Unlike Flink, a number without a
//! unit is an error (Flink reads it as milliseconds) except zero, which is zero in any unit.

/// Every unit: milliseconds per unit, and its spellings (the short one first).
pub const UNITS: [(u64, &[&str]); 5] = [
    (1, &["ms", "milli", "millis", "millisecond", "milliseconds"]),
    (1_000, &["s", "sec", "secs", "second", "seconds"]),
    (60_000, &["m", "min", "mins", "minute", "minutes"]),
    (3_600_000, &["h", "hr", "hrs", "hour", "hours"]),
    (86_400_000, &["d", "day", "days"]),
];

/// What a duration may look like, for error hints: every spelling in [`UNITS`].
pub fn units_help() -> String {
    let units: Vec<String> = UNITS
        .iter()
        .map(|(_, names)| format!("{} ({})", names[0], names[1..].join(", ")))
        .collect();
    format!(
        "a duration is whole numbers, each with a unit: {}; e.g. `500ms`, `30s`, `5 min`, `1h30m`, `7 days`; `0` needs no unit",
        units.join(", ")
    )
}

/// Milliseconds per `unit` (any case), if it is one.
fn scale_of(unit: &str) -> Option<u64> {
    let unit = unit.to_ascii_lowercase();
    UNITS
        .iter()
        .find(|(_, names)| names.contains(&unit.as_str()))
        .map(|(scale, _)| *scale)
}

/// Parses a duration into milliseconds. Returns a message saying what is wrong on error
/// (job files add [`units_help`] as the hint).
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. `5m`, `30s`, `1h`, `500ms`".into());
    }
    if t.starts_with('-') {
        return Err(format!("`{t}`: a duration cannot be negative"));
    }
    // Zero is zero in any unit: `0`, `00`.
    if t.bytes().all(|b| b.is_ascii_digit()) && t.bytes().all(|b| b == b'0') {
        return Ok(0);
    }
    let mut total: u64 = 0;
    let mut rest = t;
    // Each unit once, largest first (`1h30m`); `5m5m` or `5s1h` is most likely a typo.
    let mut last_scale = u64::MAX;
    let mut out_of_order = false;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{t}` is not a duration; write e.g. `5m`, `30s`, `1h`, `500ms`"
            ));
        }
        let number = &rest[..digits];
        rest = &rest[digits..];
        if rest.starts_with(['.', ',']) {
            return Err(format!(
                "`{t}`: a duration is whole numbers; write e.g. `1h30m` for 1.5 hours, `1500ms` for 1.5 seconds"
            ));
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{t}`: number too large"))?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => return Err(format!("`{t}` has no unit; write e.g. `{n}s` or `{n}ms`")),
            _ => scale_of(unit).ok_or_else(|| format!("`{t}`: unknown unit `{unit}`"))?,
        };
        out_of_order |= scale >= last_scale;
        last_scale = scale;
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{t}`: duration too large"))?;
    }
    if out_of_order {
        return Err(format!(
            "`{t}`: each unit at most once, largest first (e.g. `1h30m`); for their sum, write `{}`",
            format_duration_ms(total)
        ));
    }
    Ok(total)
}

/// Formats milliseconds in the shortest exact unit (`3600000` → `1h`).
pub fn format_duration_ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    if ms == 0 {
        return "0s".into();
    }
    for (scale, unit) in UNITS {
        if ms.is_multiple_of(scale) {
            return format!("{}{unit}", ms / scale);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit given twice or after a smaller one is an error naming the sum (it was
    /// added up: `5m5m` was 10 minutes).
    #[test]
    fn units_go_largest_first_each_once() {
        for (text, sum) in [("5m5m", "10m"), ("5s1h", "3605s"), ("5 m 5 s 1 ms", "")] {
            match parse_duration_ms(text) {
                Err(e) if !sum.is_empty() => {
                    assert!(
                        e.contains("each unit at most once, largest first"),
                        "{text}: {e}"
                    );
                    assert!(e.ends_with(&format!("write `{sum}`")), "{text}: {e}");
                }
                Err(e) => panic!("{text}: {e}"),
                Ok(ms) => assert!(sum.is_empty(), "{text} gave {ms}"),
            }
        }
        assert_eq!(parse_duration_ms("1d2h3m4s5ms"), Ok(93_784_005));
    }

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("2 days"), Ok(172_800_000));
        assert!(parse_duration_ms("5").unwrap_err().contains("no unit"));
        assert!(parse_duration_ms("5y")
            .unwrap_err()
            .contains("unknown unit"));
    }

    /// The spellings Flink's `TimeUtils.parseDuration` takes for these units, in any case,
    /// with or without a space.
    #[test]
    fn takes_flinks_spellings_in_any_case() {
        for (text, ms) in [
            ("5 min", 300_000),
            ("5 minutes", 300_000),
            ("5m", 300_000),
            ("300s", 300_000),
            ("300 sec", 300_000),
            ("300 SECONDS", 300_000),
            ("5 MIN", 300_000),
            ("1 hour", 3_600_000),
            ("1H", 3_600_000),
            ("1 d", 86_400_000),
            ("1 Day", 86_400_000),
            ("500 millis", 500),
            ("500 milliseconds", 500),
            ("500MS", 500),
        ] {
            assert_eq!(parse_duration_ms(text), Ok(ms), "{text}");
        }
    }

    #[test]
    fn every_spelling_parses_and_the_help_lists_it() {
        let help = units_help();
        for (scale, names) in UNITS {
            for name in names {
                assert_eq!(
                    parse_duration_ms(&format!("2{name}")),
                    Ok(2 * scale),
                    "{name}"
                );
                assert_eq!(
                    parse_duration_ms(&format!("2 {name}")),
                    Ok(2 * scale),
                    "{name}"
                );
                let listed = help
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .any(|w| w == *name);
                assert!(listed, "`{name}` is missing from the help: {help}");
            }
        }
        // The examples in the help parse too.
        for example in help.split('`').skip(1).step_by(2) {
            assert!(parse_duration_ms(example).is_ok(), "{example}");
        }
    }

    #[test]
    fn zero_needs_no_unit_however_many_zeros() {
        for zero in ["0", "00", "000", " 0 ", "0s", "0 ms", "0h0m"] {
            assert_eq!(parse_duration_ms(zero), Ok(0), "{zero}");
        }
        assert!(parse_duration_ms("01").unwrap_err().contains("no unit"));
    }

    #[test]
    fn fractions_and_negatives_say_so() {
        let e = parse_duration_ms("1.5h").unwrap_err();
        assert!(e.contains("whole numbers") && e.contains("`1h30m`"), "{e}");
        let e = parse_duration_ms("-5m").unwrap_err();
        assert!(e.contains("cannot be negative"), "{e}");
    }

    #[test]
    fn formats_shortest_unit() {
        assert_eq!(format_duration_ms(3_600_000), "1h");
        assert_eq!(format_duration_ms(90_000), "90s");
        assert_eq!(format_duration_ms(1_500), "1500ms");
        assert_eq!(format_duration_ms(30 * 86_400_000), "30d");
    }
}
