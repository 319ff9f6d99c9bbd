//! NULLIF, IF, GREATEST, LEAST, MOD, POWER, SQRT, LN, LOG10, EXP, SIGN, TIMESTAMPDIFF and
//! TIMESTAMP literals through the whole planner (SQL text → typed `Expr`, as a grouping
//! key → value on a row). Expected values are worked out by hand in the comments, or by
//! Rust's `f64` methods written out here, with NULL for what is not a finite number.

use std::path::Path;

use planner::expr::Expr;
use planner::types::parse_timestamp;
use planner::{parse_job, plan_job, Diagnostic, ErrorKind, Value};

/// The job grouping by `<e>`; the row is `(s, n, x, t, u)`.
fn job(e: &str) -> String {
    format!(
        r#"name: f
sources:
  - name: src
    connector: file
    path: x.jsonl
    format: json
    schema: {{ s: string, n: int, x: float, t: timestamp, u: timestamp }}
    event_time: t
features:
  - name: f
    sql: |
      SELECT {e} AS k, COUNT(*) AS c FROM src
      GROUP BY {e}, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: o, connector: file, path: o.jsonl }}
"#
    )
}

/// The planned grouping key `e`.
fn key(e: &str) -> Expr {
    let job = parse_job(Path::new("f.yaml"), &job(e)).unwrap();
    let plan = plan_job(&job).unwrap_or_else(|d| panic!("{e}: {d}"));
    plan.physical.features[0].keys[0].expr.clone()
}

fn error(e: &str) -> Diagnostic {
    let job = parse_job(Path::new("f.yaml"), &job(e)).unwrap();
    let d = plan_job(&job).expect_err(e);
    d.0.into_iter().next().unwrap()
}

fn row(s: &str, n: i64, x: f64) -> Vec<Value> {
    vec![
        Value::Str(s.into()),
        Value::Int(n),
        Value::Float(x),
        Value::Ts(0),
        Value::Ts(0),
    ]
}

/// `e` on the row `(s, n, x)`.
fn eval(e: &str, s: &str, n: i64, x: f64) -> Value {
    key(e).eval(&row(s, n, x))
}

/// A float, or NULL where it is NaN or infinite.
fn finite(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

/// Rust's `f64` computation of a function.
type Reference = fn(f64) -> f64;

#[test]
fn float_functions_agree_with_rust_and_are_null_off_their_domain() {
    let xs = [
        -2.0, -1.0, -0.0, 0.0, 1e-300, 0.5, 1.0, 2.25, 10.0, 709.0, 710.0, 1e308,
    ];
    let cases: [(&str, Reference); 6] = [
        ("SQRT(x)", f64::sqrt),
        ("LN(x)", f64::ln),
        ("LOG10(x)", f64::log10),
        ("EXP(x)", f64::exp),
        ("POWER(x, 2)", |x| x.powf(2.0)),
        ("POWER(2, x)", |x| 2f64.powf(x)),
    ];
    for (e, reference) in cases {
        let k = key(e);
        for x in xs {
            assert_eq!(k.eval(&row("", 0, x)), finite(reference(x)), "{e} at {x}");
        }
        assert_eq!(k.eval(&vec![Value::Null; 5]), Value::Null, "{e} of NULL");
    }
}

#[test]
fn float_functions_by_hand() {
    assert_eq!(eval("SQRT(x)", "", 0, 2.25), Value::Float(1.5));
    assert_eq!(eval("SQRT(n)", "", 49, 0.0), Value::Float(7.0));
    assert_eq!(eval("LN(x)", "", 0, 1.0), Value::Float(0.0));
    assert_eq!(eval("LOG10(n)", "", 1000, 0.0), Value::Float(3.0));
    assert_eq!(eval("EXP(n)", "", 0, 0.0), Value::Float(1.0));
    assert_eq!(eval("POWER(n, 10)", "", 2, 0.0), Value::Float(1024.0));
    assert_eq!(eval("POWER(x, 0.5)", "", 0, 6.25), Value::Float(2.5));
    // Off the domain: NaN or an infinity in Flink, NULL here.
    assert_eq!(eval("SQRT(x)", "", 0, -1.0), Value::Null);
    assert_eq!(eval("LN(n)", "", 0, 0.0), Value::Null);
    assert_eq!(eval("LOG10(x)", "", 0, -5.0), Value::Null);
    assert_eq!(eval("POWER(n, -1)", "", 0, 0.0), Value::Null);
    assert_eq!(eval("POWER(x, 0.5)", "", 0, -8.0), Value::Null);
    assert_eq!(eval("EXP(n)", "", 1000, 0.0), Value::Null);
}

#[test]
fn sign_keeps_the_argument_type() {
    assert_eq!(eval("SIGN(n)", "", -7, 0.0), Value::Int(-1));
    assert_eq!(eval("SIGN(n)", "", 0, 0.0), Value::Int(0));
    assert_eq!(eval("SIGN(n)", "", 9, 0.0), Value::Int(1));
    assert_eq!(eval("SIGN(x)", "", 0, -0.25), Value::Float(-1.0));
    assert_eq!(eval("SIGN(x)", "", 0, 3.5), Value::Float(1.0));
    // Zero is its own sign (Java's Math.signum), not 1.0 as Rust's f64::signum.
    assert_eq!(eval("SIGN(x)", "", 0, 0.0), Value::Float(0.0));
}

#[test]
fn mod_is_the_remainder_with_the_sign_of_the_dividend_and_null_for_zero() {
    // 7 = 2 * 3 + 1; -7 = -2 * 3 - 1 (truncated division, as Java's %).
    assert_eq!(eval("MOD(n, 3)", "", 7, 0.0), Value::Int(1));
    assert_eq!(eval("MOD(n, 3)", "", -7, 0.0), Value::Int(-1));
    assert_eq!(eval("MOD(n, -3)", "", 7, 0.0), Value::Int(1));
    assert_eq!(eval("MOD(n, 0)", "", 7, 0.0), Value::Null);
    assert_eq!(eval("MOD(n, -1)", "", i64::MIN, 0.0), Value::Int(0));
    // The same as `%`, which EXPLAIN shows.
    assert_eq!(key("MOD(n, 3)").to_string(), "(n % 3)");
    let d = error("MOD(x, 2)");
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(d.hint.as_deref(), Some("for floats, write x % 2"));
}

#[test]
fn greatest_and_least_are_null_if_any_argument_is() {
    assert_eq!(eval("GREATEST(n, 3, 5)", "", 7, 0.0), Value::Int(7));
    assert_eq!(eval("GREATEST(n, 3, 5)", "", 1, 0.0), Value::Int(5));
    assert_eq!(eval("LEAST(n, 3, 5)", "", 1, 0.0), Value::Int(1));
    // An int and a float compare as floats: 7 < 7.5.
    assert_eq!(eval("GREATEST(n, x)", "", 7, 7.5), Value::Float(7.5));
    assert_eq!(eval("LEAST(n, x)", "", 7, 7.5), Value::Float(7.0));
    assert_eq!(
        eval("LEAST(s, 'm')", "apple", 0, 0.0),
        Value::Str("apple".into())
    );
    assert_eq!(
        eval("GREATEST(s, 'm')", "apple", 0, 0.0),
        Value::Str("m".into())
    );
    assert_eq!(eval("GREATEST(n, NULL)", "", 7, 0.0), Value::Null);
    let k = key("LEAST(t, u)");
    let r = [
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Ts(5),
        Value::Ts(3),
    ];
    assert_eq!(k.eval(&r), Value::Ts(3));
    let d = error("GREATEST(n, s)");
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
}

#[test]
fn nullif_and_if_are_case_expressions() {
    assert_eq!(eval("NULLIF(n, 7)", "", 7, 0.0), Value::Null);
    assert_eq!(eval("NULLIF(n, 7)", "", 8, 0.0), Value::Int(8));
    assert_eq!(eval("NULLIF(s, '')", "", 0, 0.0), Value::Null);
    assert_eq!(eval("NULLIF(s, '')", "a", 0, 0.0), Value::Str("a".into()));
    assert_eq!(
        key("NULLIF(s, '')").to_string(),
        "CASE s WHEN '' THEN NULL ELSE s END"
    );
    assert_eq!(
        eval("IF(n > 5, 'big', 'small')", "", 7, 0.0),
        Value::Str("big".into())
    );
    assert_eq!(
        eval("IF(n > 5, 'big', 'small')", "", 2, 0.0),
        Value::Str("small".into())
    );
    // A NULL condition (x is NULL) takes the ELSE branch.
    let null_x = [
        Value::Null,
        Value::Int(0),
        Value::Null,
        Value::Ts(0),
        Value::Ts(0),
    ];
    assert_eq!(key("IF(x > 5, 1, 2)").eval(&null_x), Value::Int(2));
    // Branches of int and float are floats.
    assert_eq!(eval("IF(n > 5, n, x)", "", 7, 0.5), Value::Float(7.0));
    assert_eq!(
        key("IF(n > 5, 'big', 'small')").to_string(),
        "CASE WHEN (n > 5) THEN 'big' ELSE 'small' END"
    );
    assert_eq!(error("IF(n, 1, 2)").kind, ErrorKind::TypeMismatch);
    assert_eq!(error("NULLIF(n, s)").kind, ErrorKind::TypeMismatch);
}

/// `TIMESTAMPDIFF(unit, t, u)` on the times `t` and `u` (RFC 3339, UTC).
fn diff(unit: &str, t: &str, u: &str) -> Value {
    let ts = |s: &str| Value::Ts(parse_timestamp(s).unwrap());
    let r = [Value::Null, Value::Null, Value::Null, ts(t), ts(u)];
    key(&format!("TIMESTAMPDIFF({unit}, t, u)")).eval(&r)
}

#[test]
fn timestampdiff_counts_whole_units_toward_zero() {
    let cases: &[(&str, &str, &str, i64)] = &[
        // 999 ms, 1000 ms, and -1500 ms truncated toward zero.
        (
            "SECOND",
            "2024-03-10T14:05:09.007Z",
            "2024-03-10T14:05:10.006Z",
            0,
        ),
        (
            "SECOND",
            "2024-03-10T14:05:09.007Z",
            "2024-03-10T14:05:10.007Z",
            1,
        ),
        (
            "SECOND",
            "2024-03-10T14:05:09.007Z",
            "2024-03-10T14:05:07.507Z",
            -1,
        ),
        // 1 h 59 min 59 s.
        (
            "MINUTE",
            "2024-03-10T14:00:00Z",
            "2024-03-10T15:59:59Z",
            119,
        ),
        ("HOUR", "2024-03-10T00:00:00Z", "2024-03-11T23:00:00Z", 47),
        ("HOUR", "2024-03-11T23:00:00Z", "2024-03-10T00:00:00Z", -47),
        // January has 31 days and February 2024 29.
        ("DAY", "2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z", 60),
        ("WEEK", "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z", 2),
        ("WEEK", "2024-01-01T00:00:00Z", "2024-01-14T23:59:59Z", 1),
        // Jan 31 + 1 month is the last day of February.
        ("MONTH", "2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", 1),
        ("MONTH", "2023-01-31T00:00:00Z", "2023-02-28T00:00:00Z", 1),
        // ... at 10:00, so 09:00 on Feb 29 is not a whole month yet.
        ("MONTH", "2024-01-31T10:00:00Z", "2024-02-29T09:00:00Z", 0),
        ("MONTH", "2024-01-15T00:00:00Z", "2024-03-14T00:00:00Z", 1),
        // From Feb 29 to Mar 31 is one month (Feb 29 + 1 month = Mar 29), negated.
        ("MONTH", "2024-03-31T00:00:00Z", "2024-02-29T00:00:00Z", -1),
        // 5 months, then 6.
        ("QUARTER", "2024-01-15T00:00:00Z", "2024-07-14T00:00:00Z", 1),
        ("QUARTER", "2024-01-15T00:00:00Z", "2024-07-15T00:00:00Z", 2),
        // Feb 29 2020 + 12 months = Feb 28 2021; Mar 1 2020 to Feb 28 2021 is 11 months.
        ("YEAR", "2020-02-29T00:00:00Z", "2021-02-28T00:00:00Z", 1),
        ("YEAR", "2020-03-01T00:00:00Z", "2021-02-28T00:00:00Z", 0),
        ("YEAR", "2021-02-28T00:00:00Z", "2020-02-29T00:00:00Z", -1),
    ];
    for (unit, t, u, want) in cases {
        assert_eq!(diff(unit, t, u), Value::Int(*want), "{unit} {t} {u}");
    }
    assert_eq!(
        key("TIMESTAMPDIFF(HOUR, t, u)").to_string(),
        "TIMESTAMPDIFF(HOUR, t, u)"
    );
    let d = error("TIMESTAMPDIFF(MILLISECOND, t, u)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    let d = error("TIMESTAMPDIFF(SECOND, n, u)");
    assert_eq!(
        d.hint.as_deref(),
        Some("if `n` holds epoch milliseconds, write TO_TIMESTAMP_LTZ(n, 3)")
    );
}

#[test]
fn timestamp_literals_are_utc_epoch_milliseconds() {
    // 2024-03-10T14:05:09.007Z is 1710079509007 ms (`date -u -d @1710079509.007`).
    let t = Value::Ts(1_710_079_509_007);
    let r = [
        Value::Null,
        Value::Null,
        Value::Null,
        t.clone(),
        Value::Null,
    ];
    for lit in [
        "'2024-03-10 14:05:09.007'",
        "'2024-03-10T14:05:09.007'",
        "'2024-03-10T14:05:09.007Z'",
        // Past the millisecond is dropped.
        "'2024-03-10 14:05:09.0079'",
    ] {
        let e = format!("t - TIMESTAMP {lit}");
        assert_eq!(key(&e).eval(&r), Value::Int(0), "{e}");
    }
    // Without a fraction: 7 ms before.
    assert_eq!(
        key("t - TIMESTAMP '2024-03-10 14:05:09'").eval(&r),
        Value::Int(7)
    );
    // The epoch, and before it.
    let r0 = [
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Ts(0),
        Value::Null,
    ];
    assert_eq!(
        key("t - TIMESTAMP '1970-01-01 00:00:01.5'").eval(&r0),
        Value::Int(-1500)
    );
    assert_eq!(
        key("t - TIMESTAMP '1969-12-31 23:59:59'").eval(&r0),
        Value::Int(1000)
    );
    for bad in [
        "'2024-13-01 00:00:00'",
        "'2024-03-10'",
        "'yesterday'",
        "'2024-03-10 14:05'",
    ] {
        let d = error(&format!("t - TIMESTAMP {bad}"));
        assert_eq!(d.kind, ErrorKind::Syntax, "{bad}");
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("TIMESTAMP '2026-01-01 10:00:00'"),
            "{bad}"
        );
    }
    assert_eq!(error("t - DATE '2024-03-10'").kind, ErrorKind::Unsupported);
    // Shown (explain) as a literal that reads back, not as epoch milliseconds (QA).
    let shown = key("t - TIMESTAMP '2024-03-10T14:05:09.007Z'").to_string();
    assert_eq!(shown, "(t - TIMESTAMP '2024-03-10 14:05:09.007')");
    assert_eq!(key(&shown).to_string(), shown);
}

/// The errors of IF, GREATEST and COALESCE name them, not CASE's branches or the clause
/// (QA: `IF(n, 1, 2)` said "SELECT condition", `GREATEST('a', 1)` "branches"), and no hint
/// reads "use a a number column".
#[test]
fn type_errors_name_the_function() {
    let d = error("IF(n, 1, 2)");
    assert_eq!(
        d.message, "feature `f`: IF condition has type int, expected bool",
        "{d}"
    );
    let d = error("IF(n > 1, 1, 'a')");
    assert_eq!(
        d.message, "feature `f`: IF's results have different types: int and string",
        "{d}"
    );
    let d = error("GREATEST(s, 1)");
    assert_eq!(
        d.message, "feature `f`: GREATEST's arguments have different types: string and int",
        "{d}"
    );
    let d = error("COALESCE(s, 1)");
    assert_eq!(
        d.message, "feature `f`: COALESCE's arguments have different types: string and int",
        "{d}"
    );
    let d = error("SQRT(s)");
    assert_eq!(
        d.hint.as_deref(),
        Some("convert it with CAST(s AS ...), or use a number instead"),
        "{d}"
    );
}

/// Flink functions freshet has not: what to write instead (QA: only the list of functions).
#[test]
fn flink_log_functions_say_what_to_write() {
    for (call, hint) in [
        ("LOG(x)", "LOG(x) is LN(x); LOG(b, x) is LN(x) / LN(b)"),
        ("LOG2(x)", "LOG2(x) is LN(x) / LN(2)"),
    ] {
        let d = error(call);
        assert!(d.message.ends_with("is not supported"), "{d}");
        assert_eq!(d.hint.as_deref(), Some(hint), "{d}");
    }
}

/// Found by QA: `*`, `+`, `-` and `/` past the largest double, and a CAST of `'NaN'`,
/// `'inf'` or `'1e400'` to DOUBLE, gave an infinity or NaN that the file sink writes as
/// `null` but that SQL saw as a value (`IS NULL` false, COALESCE not applied, CAST to
/// STRING `Infinity`). They are NULL, as every float result that is not a finite number.
#[test]
fn float_arithmetic_past_the_largest_double_is_null() {
    for e in [
        "x * x",
        "x + x * 1e10",
        "-x - x * 1e10",
        "x / 1e-300",
        "CAST('NaN' AS DOUBLE)",
        "CAST('inf' AS DOUBLE)",
        "CAST('-Infinity' AS DOUBLE)",
        "CAST('1e400' AS DOUBLE)",
        "CAST(CAST('1e400' AS DOUBLE) AS STRING)",
    ] {
        assert_eq!(eval(e, "", 0, 1e300), Value::Null, "{e}");
    }
    assert_eq!(eval("(x * x) IS NULL", "", 0, 1e300), Value::Bool(true));
    assert_eq!(
        eval("COALESCE(x * x, -1.0)", "", 0, 1e300),
        Value::Float(-1.0)
    );
    // Below the largest double nothing changes.
    assert_eq!(eval("x * 10", "", 0, 1e300), Value::Float(1e301));
    assert_eq!(
        eval("CAST('1e300' AS DOUBLE)", "", 0, 0.0),
        Value::Float(1e300)
    );
}

/// Found by QA: `CAST('1.5' AS BIGINT)` was NULL; Flink's `toLong` drops the fraction.
#[test]
fn a_decimal_string_casts_to_an_integer_by_truncation() {
    for (text, want) in [
        ("1.5", Value::Int(1)),
        ("-2.9", Value::Int(-2)),
        ("+4.0", Value::Int(4)),
        (" 7 ", Value::Int(7)),
        ("12.", Value::Int(12)),
        (".5", Value::Null),
        ("1.5e3", Value::Null),
        ("1.2.3", Value::Null),
        ("abc", Value::Null),
        ("-", Value::Null),
    ] {
        assert_eq!(
            eval(&format!("CAST('{text}' AS BIGINT)"), "", 0, 0.0),
            want,
            "{text}"
        );
    }
}
