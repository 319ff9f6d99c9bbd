//! Date/time and string functions through the whole planner: SQL text → typed `Expr` (as a
//! grouping key, so SELECT must match it structurally) → value on a source row. Expected
//! values are written by hand (the timestamp is 2024-03-10T14:05:09.007Z, a Sunday:
//! `date -u -d @1710079509.007`).

use std::path::Path;

use planner::logical::NamedExpr;
use planner::{parse_job, plan_job, DataType, Value};

const T: i64 = 1_710_079_509_007;

/// Plans `SELECT <e> AS k, COUNT(*) AS c ... GROUP BY <e>, TUMBLE(...)` and evaluates the
/// key on the row `(s, n, t, ms)`; also returns the key's display name.
fn eval(e: &str, s: &str) -> (Value, String) {
    eval_on(e, Value::Str(s.into()))
}

fn eval_on(e: &str, s: Value) -> (Value, String) {
    let key = planned_key(e);
    (key.expr.eval(&row(s)), key.name)
}

/// The row `(s, n, t, ms)`.
fn row(s: Value) -> Vec<Value> {
    vec![s, Value::Int(7), Value::Ts(T), Value::Int(1_700_000_000)]
}

/// The planned grouping key of `SELECT <e> AS k, COUNT(*) AS c ... GROUP BY <e>, TUMBLE(...)`.
fn planned_key(e: &str) -> NamedExpr {
    let job = format!(
        r#"name: f
sources:
  - name: src
    connector: file
    path: x.jsonl
    format: json
    schema: {{ s: string, n: int, t: timestamp, ms: int }}
    event_time: t
features:
  - name: f
    sql: |
      SELECT {e} AS k, COUNT(*) AS c FROM src
      GROUP BY {e}, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: o, connector: file, path: o.jsonl }}
"#
    );
    let job = parse_job(Path::new("f.yaml"), &job).unwrap();
    let plan = plan_job(&job).unwrap_or_else(|d| panic!("{e}: {d}"));
    plan.physical.features[0].keys[0].clone()
}

fn check(e: &str, s: &str, want: Value) {
    assert_eq!(eval(e, s).0, want, "{e} on {s:?}");
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

#[test]
fn date_and_time_functions() {
    check(
        "DATE_FORMAT(rowtime, 'yyyy-MM-dd HH:mm:ss')",
        "",
        text("2024-03-10 14:05:09"),
    );
    check("DATE_FORMAT(t, 'HH:mm:ss.SSS')", "", text("14:05:09.007"));
    check("DATE_FORMAT(t, 'EEE yyyyMMdd')", "", text("Sun 20240310"));
    // 14:00:00 and 2024-03-11T00:00:00Z.
    check("FLOOR(rowtime TO HOUR)", "", Value::Ts(1_710_079_200_000));
    check("FLOOR(t TO MINUTE)", "", Value::Ts(1_710_079_500_000));
    check("CEIL(t TO DAY)", "", Value::Ts(1_710_115_200_000));
    check("EXTRACT(DOW FROM t)", "", Value::Int(1));
    check("EXTRACT(HOUR FROM rowtime)", "", Value::Int(14));
    check("EXTRACT(MINUTE FROM t)", "", Value::Int(5));
    check("EXTRACT(DAY FROM t)", "", Value::Int(10));
    check("EXTRACT(MONTH FROM t)", "", Value::Int(3));
    check("EXTRACT(YEAR FROM t)", "", Value::Int(2024));
    // 1700000000 s = 2023-11-14T22:13:20Z.
    check("TO_TIMESTAMP_LTZ(ms, 0)", "", Value::Ts(1_700_000_000_000));
    check("TO_TIMESTAMP_LTZ(ms, 3)", "", Value::Ts(1_700_000_000));
    // A negative interval is fine in an expression.
    check("rowtime + INTERVAL '-1' HOUR", "", Value::Ts(T - 3_600_000));
    check(
        "DATE_FORMAT(TO_TIMESTAMP_LTZ(ms, 0), 'yyyy-MM-dd HH:mm')",
        "",
        text("2023-11-14 22:13"),
    );
    // Numeric FLOOR/CEIL still work (sqlparser parses them as the same node).
    check("FLOOR(n / 2.0)", "", Value::Float(3.0));
    check("CEIL(n / 2.0)", "", Value::Float(4.0));
}

#[test]
fn string_functions() {
    check("SUBSTRING(s FROM 2 FOR 3)", "freshet", text("res"));
    check("SUBSTRING(s FROM 5)", "freshet", text("het"));
    check("SUBSTR(s, 2, 3)", "freshet", text("res"));
    check("SUBSTRING(s, -3)", "freshet", text("het"));
    check("CHAR_LENGTH(s)", "héllo", Value::Int(5));
    check("TRIM(s)", "  a b  ", text("a b"));
    check("TRIM(LEADING 'x' FROM s)", "xxaxx", text("axx"));
    check("TRIM(TRAILING 'x' FROM s)", "xxaxx", text("xxa"));
    check("TRIM(BOTH 'x' FROM s)", "xxaxx", text("a"));
    check("LTRIM(s)", "  a ", text("a "));
    check("REPLACE(s, 'e', 'E')", "freshet", text("frEshEt"));
    check("CONCAT(s, '-', CAST(n AS STRING))", "a", text("a-7"));
    check("POSITION('sh' IN s)", "freshet", Value::Int(4));
    check("POSITION('x' IN s)", "freshet", Value::Int(0));
    check("SPLIT_INDEX(s, ',', 1)", "a,b,c", text("b"));
    check("SPLIT_INDEX(s, ',', 3)", "a,b,c", Value::Null);
    check("UPPER(SUBSTRING(s FROM 1 FOR 1))", "freshet", text("F"));
}

#[test]
fn null_in_null_out() {
    for e in [
        "CHAR_LENGTH(s)",
        "SUBSTRING(s FROM 2 FOR 3)",
        "TRIM(s)",
        "REPLACE(s, 'a', 'b')",
        "POSITION('a' IN s)",
        "SPLIT_INDEX(s, ',', 0)",
        "CONCAT(s, 'x')",
    ] {
        assert_eq!(eval_on(e, Value::Null).0, Value::Null, "{e}");
    }
    // An empty string is not NULL; a negative length is.
    check("CHAR_LENGTH(s)", "", Value::Int(0));
    check("SUBSTRING(s FROM 2 FOR -1)", "abc", Value::Null);
}

#[test]
fn keys_display_like_sql() {
    assert_eq!(
        eval("FLOOR(rowtime TO HOUR)", "").1,
        "FLOOR(rowtime TO HOUR)"
    );
    assert_eq!(eval("EXTRACT(DOW FROM t)", "").1, "EXTRACT(DOW FROM t)");
    assert_eq!(eval("POSITION('a' IN s)", "").1, "POSITION('a' IN s)");
}

/// A float-typed CASE or COALESCE yields floats from its int branches too (an int value
/// would be written as a JSON integer, or not fit a float Parquet column).
#[test]
fn int_branches_of_float_expressions_yield_floats() {
    for (e, want) in [
        ("COALESCE(n, 2.5)", 7.0),
        ("COALESCE(CAST(NULL AS INT), n, 2.5)", 7.0),
        ("CASE WHEN n > 0 THEN 1 ELSE 2.5 END", 1.0),
        ("CASE WHEN n > 0 THEN n ELSE 2.5 END", 7.0),
        ("CASE WHEN n < 0 THEN 2.5 ELSE n END", 7.0),
        ("CASE n WHEN 7 THEN 1 WHEN 8 THEN 0.5 END", 1.0),
    ] {
        let key = planned_key(e);
        assert_eq!(key.ty, DataType::Float, "{e}");
        let v = key.expr.eval(&row(Value::Null));
        assert!(matches!(v, Value::Float(x) if x == want), "{e} gave {v:?}");
    }
}

/// ROUND of an int to negative digits rounds to tens, hundreds, ... halves away from
/// zero (Flink: `BigDecimal` `HALF_UP`); `n` is 7.
#[test]
fn round_of_an_int_honours_negative_digits() {
    check("ROUND(n, -1)", "", Value::Int(10));
    check("ROUND(n - 162, -2)", "", Value::Int(-200));
    check("ROUND(n * 100 - 50, -3)", "", Value::Int(1000));
    check("ROUND(n, -2)", "", Value::Int(0));
    check("ROUND(n, 2)", "", Value::Int(7));
    check("ROUND(n + 9223372036854775800, -1)", "", Value::Null);
    check("ROUND(n, CAST(NULL AS INT))", "", Value::Null);
}

/// `IS [NOT] TRUE` and `IS [NOT] FALSE` are never NULL (a truth table, by hand): on a
/// NULL, `IS TRUE` and `IS FALSE` are false, their negations true.
#[test]
fn is_true_and_is_false_are_never_null() {
    // `s = 'x'` is true on "x", false on "y", NULL on NULL.
    let cases = [
        ("IS TRUE", [true, false, false]),
        ("IS NOT TRUE", [false, true, true]),
        ("IS FALSE", [false, true, false]),
        ("IS NOT FALSE", [true, false, true]),
    ];
    for (op, want) in cases {
        let e = format!("(s = 'x') {op}");
        for (s, w) in [text("x"), text("y"), Value::Null].into_iter().zip(want) {
            assert_eq!(eval_on(&e, s.clone()).0, Value::Bool(w), "{e} on {s:?}");
        }
    }
}

/// Casts among numbers, booleans and timestamps, as Flink's cast rules (checked by hand;
/// `n` is 7): an int is true when non-zero, a boolean is 1 or 0 as a float too, and a
/// timestamp is its epoch milliseconds. Before, the int-to-boolean cast planned and was
/// always NULL.
#[test]
fn casts_among_numbers_booleans_and_timestamps() {
    check("CAST(n AS BOOLEAN)", "", Value::Bool(true));
    check("CAST(n - 7 AS BOOLEAN)", "", Value::Bool(false));
    check("CAST(n - 8 AS BOOLEAN)", "", Value::Bool(true));
    check("CAST(n > 0 AS DOUBLE)", "", Value::Float(1.0));
    check("CAST(n < 0 AS DOUBLE)", "", Value::Float(0.0));
    check("CAST(t AS DOUBLE)", "", Value::Float(T as f64));
    check("CAST(CAST(NULL AS INT) AS BOOLEAN)", "", Value::Null);
    // As text, as Flink writes them (`"" + x` in Java; booleans upper case since 1.15).
    check("CAST(n > 0 AS STRING)", "", text("TRUE"));
    check("CAST(n * 1e6 AS STRING)", "", text("7000000.0"));
    check("CAST(n * 1e7 AS STRING)", "", text("7.0E7"));
    check("CAST(n / 7000.0 AS STRING)", "", text("0.001"));
    check("CAST(n / 70000.0 AS STRING)", "", text("1.0E-4"));
    check(
        "CONCAT_WS('-', CAST(n < 0 AS STRING), CAST(n * 0.5 AS STRING))",
        "",
        text("FALSE-3.5"),
    );
}

/// Casts Flink has no rule for are errors at the CAST, with a hint, not NULL on every
/// row: a float to a boolean or a timestamp, between booleans and timestamps.
#[test]
fn casts_without_a_rule_are_plan_errors() {
    for (e, from, to, hint) in [
        (
            "CAST(n * 1.5 AS BOOLEAN)",
            "float",
            "bool",
            "compare instead, e.g. `x <> 0`",
        ),
        (
            "CAST(n * 1.5 AS TIMESTAMP)",
            "float",
            "timestamp",
            "cast to BIGINT first: timestamps are epoch milliseconds",
        ),
        (
            "CAST(n > 0 AS TIMESTAMP)",
            "bool",
            "timestamp",
            "cast bool to STRING or to a number first",
        ),
        (
            "CAST(t AS BOOLEAN)",
            "timestamp",
            "bool",
            "cast timestamp to STRING or to a number first",
        ),
    ] {
        let job = format!(
            "name: f\nsources:\n  - {{ name: src, connector: file, path: x.jsonl, format: json, schema: {{ n: int, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    sql: SELECT {e} AS k FROM src\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
        );
        let job = parse_job(Path::new("f.yaml"), &job).unwrap();
        let errors = plan_job(&job).expect_err(e);
        let d = &errors.0[0];
        assert_eq!(d.kind, planner::ErrorKind::TypeMismatch, "{e}");
        assert_eq!(
            d.message,
            format!("feature `f`: cannot cast {from} to {to}"),
            "{e}"
        );
        assert_eq!(d.hint.as_deref(), Some(hint), "{e}");
        // At the value cast: line 6 of the job file, after `    sql: SELECT CAST(`.
        assert_eq!(
            d.location.as_ref().map(|l| (l.line, l.column)),
            Some((6, 22)),
            "{e}"
        );
    }
}

/// A cast's length, precision or scale that Flink applies (`VARCHAR(3)` truncates,
/// `CHAR(5)` pads, `DECIMAL(10, 2)` rounds) is an error with what to write instead: it
/// was dropped, and `CAST(2.675 AS DECIMAL(10, 2))` gave 2.675. Without one, and for
/// TIMESTAMP(3), the casts plan.
#[test]
fn cast_lengths_and_scales_are_errors_not_dropped() {
    let job_with = |e: &str| {
        let job = format!(
            "name: f\nsources:\n  - {{ name: src, connector: file, path: x.jsonl, format: json, schema: {{ n: int, s: string, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    sql: SELECT s, {e} AS v FROM src\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
        );
        parse_job(Path::new("f.yaml"), &job).unwrap()
    };
    for (e, hint) in [
        ("CAST(s AS VARCHAR(3))", "SUBSTRING(x, 1, n)"),
        ("CAST(s AS CHAR(5))", "SUBSTRING(x, 1, n)"),
        ("CAST(n AS DECIMAL(10, 2))", "ROUND(x, s)"),
        ("CAST(n AS NUMERIC(10))", "ROUND(x, s)"),
    ] {
        let errors = plan_job(&job_with(e)).expect_err(e);
        let d = &errors.0[0];
        assert_eq!(d.kind, planner::ErrorKind::Unsupported, "{e}");
        assert!(
            d.message.contains("a length, precision or scale"),
            "{e}: {}",
            d.message
        );
        assert!(d.hint.as_deref().unwrap().contains(hint), "{e}");
        assert_eq!(d.location.as_ref().map(|l| l.line), Some(6), "{e}");
    }
    for e in [
        "CAST(s AS VARCHAR)",
        "CAST(n AS DECIMAL)",
        "CAST(n AS STRING)",
        "CAST(t AS TIMESTAMP(3))",
    ] {
        plan_job(&job_with(e)).unwrap_or_else(|d| panic!("{e}: {d}"));
    }
}
