//! `AGG(x) FILTER (WHERE p)` in window queries: planned as `AGG(CASE WHEN p THEN x END)`
//! (every window aggregate skips NULLs), shown so by `explain`, with the condition typed as
//! a predicate; rejected, with what to write, over an OVER window.

mod common;

use planner::aggregate::AggFunc;
use planner::{ErrorKind, Value};

fn job(sql: &str) -> String {
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      action: string
      fare: float
      event_time: timestamp
    event_time: event_time
features:
  - name: f
    sql: |
{body}sinks:
  - {{ name: out, connector: file, path: out/f.jsonl, format: json }}
"#
    )
}

const GROUP: &str = "FROM events\nGROUP BY TUMBLE(rowtime, INTERVAL '1' HOUR)";

fn row(user: &str, action: Option<&str>, fare: Option<f64>) -> Vec<Value> {
    vec![
        Value::Str(user.into()),
        action.map_or(Value::Null, |a| Value::Str(a.into())),
        fare.map_or(Value::Null, Value::Float),
        Value::Ts(0),
    ]
}

/// A SQL aggregate over the argument values of a group, NULLs skipped (but by COUNT(*)):
/// the reference the planned arguments are folded with.
fn fold(func: AggFunc, values: &[Value]) -> Value {
    let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    let floats = || present.iter().map(|v| v.as_f64().unwrap());
    match func {
        AggFunc::CountStar => Value::Int(values.len() as i64),
        AggFunc::Count => Value::Int(present.len() as i64),
        AggFunc::CountDistinct => {
            let set: std::collections::BTreeSet<&Value> = present.into_iter().collect();
            Value::Int(set.len() as i64)
        }
        _ if present.is_empty() => Value::Null,
        AggFunc::Sum => Value::Float(floats().sum()),
        AggFunc::Avg => Value::Float(floats().sum::<f64>() / present.len() as f64),
        AggFunc::Min => Value::Float(floats().fold(f64::INFINITY, f64::min)),
        AggFunc::Max => Value::Float(floats().fold(f64::NEG_INFINITY, f64::max)),
    }
}

/// Each aggregate of the planned feature, evaluated on `rows` and folded.
fn aggregate(sql: &str, rows: &[Vec<Value>]) -> Vec<Value> {
    let p = common::planned(&job(sql));
    let f = &p.physical.features[0];
    f.aggs
        .iter()
        .map(|a| {
            let values: Vec<Value> = rows
                .iter()
                .map(|r| a.arg.as_ref().map_or(Value::Int(1), |e| e.eval(r)))
                .collect();
            fold(a.func, &values)
        })
        .collect()
}

#[test]
fn filtered_aggregates_see_only_the_rows_the_condition_accepts() {
    let sql = format!(
        "SELECT COUNT(*) FILTER (WHERE action = 'ride') AS rides,\n\
         SUM(fare) FILTER (WHERE action = 'ride') AS fares,\n\
         COUNT(DISTINCT user_id) FILTER (WHERE fare > 10) AS big_riders,\n\
         AVG(fare) FILTER (WHERE action <> 'ride') AS other_avg,\n\
         MAX(fare) FILTER (WHERE action = 'ride') AS max_ride,\n\
         MIN(fare) FILTER (WHERE action = 'none') AS no_row\n{GROUP}"
    );
    let rows = [
        row("u1", Some("ride"), Some(12.0)),
        row("u2", Some("ride"), Some(5.0)),
        row("u1", Some("view"), Some(20.0)),
        row("u3", Some("ride"), None),
        // A NULL action: `action = 'ride'` and `action <> 'ride'` are both unknown.
        row("u2", None, Some(30.0)),
    ];
    let want = [
        // rows 1, 2 and 4 are rides (row 4 counts though its fare is NULL)
        Value::Int(3),
        // 12 + 5
        Value::Float(17.0),
        // fares 12 (u1), 20 (u1), 30 (u2): users u1 and u2
        Value::Int(2),
        // only row 3 is a known non-ride: 20 / 1
        Value::Float(20.0),
        Value::Float(12.0),
        // no row matches: NULL, as for an empty SUM/MIN
        Value::Null,
    ];
    assert_eq!(aggregate(&sql, &rows), want);
}

#[test]
fn explain_shows_the_filter_as_a_case_in_the_argument() {
    let sql = format!(
        "SELECT COUNT(*) FILTER (WHERE action = 'ride') AS rides,\n\
         SUM(fare) FILTER (WHERE fare > 1) AS fares\n{GROUP}"
    );
    let p = common::planned(&job(&sql));
    let explained = p.physical.to_string();
    assert!(
        explained.contains("count(CASE WHEN (action = 'ride') THEN 1 END)"),
        "{explained}"
    );
    assert!(
        explained.contains("sum(CASE WHEN (fare > 1) THEN fare END)"),
        "{explained}"
    );
    let f = &p.physical.features[0];
    assert_eq!(f.aggs[0].func, AggFunc::Count);
    assert_eq!(f.aggs[1].ty, planner::DataType::Float);
}

#[test]
fn the_filter_condition_is_a_predicate_over_source_rows() {
    let (d, text) = common::error(&job(&format!(
        "SELECT COUNT(*) FILTER (WHERE fare) AS n\n{GROUP}"
    )));
    assert_eq!(d.kind, ErrorKind::TypeMismatch, "{text}");
    assert_eq!(
        d.message,
        "feature `f`: FILTER (WHERE ...) condition has type float, expected bool"
    );
    // The SQL starts on line 16 of the job, indented by 6; `fare` is its 31st character.
    assert_eq!(common::line_col(&d), (16, 37), "{text}");

    let (d, text) = common::error(&job(&format!(
        "SELECT SUM(fare) FILTER (WHERE COUNT(*) > 1) AS n\n{GROUP}"
    )));
    assert_eq!(
        d.message, "feature `f`: aggregate function COUNT is not allowed in FILTER (WHERE ...)",
        "{text}"
    );

    let (d, text) = common::error(&job(&format!(
        "SELECT SUM(action) FILTER (WHERE fare > 1) AS n\n{GROUP}"
    )));
    assert_eq!(d.kind, ErrorKind::TypeMismatch, "{text}");
    assert!(d.message.contains("SUM needs a numeric argument"), "{text}");
}

#[test]
fn filter_over_an_over_window_says_what_to_write() {
    let over = "OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING)";
    let (d, text) = common::error(&job(&format!(
        "SELECT user_id, SUM(fare) FILTER (WHERE action = 'ride') {over} AS s\nFROM events"
    )));
    assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
    assert_eq!(
        d.message,
        "feature `f`: SUM(...) FILTER (WHERE ...) is not supported over an OVER window"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("put the condition in the argument (NULLs are skipped): SUM(CASE WHEN action = 'ride' THEN fare END) OVER (...)")
    );
    let (d, text) = common::error(&job(&format!(
        "SELECT user_id, ARRAY_AGG(fare) FILTER (WHERE action = 'ride') {over} AS s\nFROM events"
    )));
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("ARRAY_AGG keeps NULLs"),
        "{text}"
    );
    let (d, text) = common::error(&job(&format!(
        "SELECT user_id, COUNT(DISTINCT action) {over} AS s\nFROM events"
    )));
    assert_eq!(
        d.message, "feature `f`: COUNT(DISTINCT ...) is not supported over an OVER window",
        "{text}"
    );
}

/// An OVER aggregate in a grouped query names OVER, not FILTER.
#[test]
fn over_in_a_grouped_query_names_over() {
    let (d, text) = common::error(&job(&format!(
        "SELECT COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS n\n{GROUP}"
    )));
    assert!(!d.message.contains("FILTER"), "{text}");
    assert!(
        d.message
            .contains("OVER is not allowed in SELECT of a grouped query"),
        "{text}"
    );
}

/// FILTER after a call that is not an aggregate was accepted and dropped: the values were
/// those of every row (found by QA), in SELECT, HAVING, WHERE and GROUP BY, windowed or
/// not.
#[test]
fn filter_after_a_call_that_is_not_an_aggregate_is_an_error() {
    for (sql, name) in [
        (format!("SELECT ROUND(SUM(fare), 2) FILTER (WHERE action = 'r') AS s\n{GROUP}"), "ROUND"),
        (
            format!("SELECT TUMBLE_END(rowtime, INTERVAL '1' HOUR) FILTER (WHERE action = 'r') AS we, COUNT(*) AS n\n{GROUP}"),
            "TUMBLE_END",
        ),
        (format!("SELECT COUNT(*) AS n\n{GROUP}\nHAVING ABS(COUNT(*)) FILTER (WHERE action = 'r') > 0"), "ABS"),
        (
            "SELECT COUNT(*) AS n\nFROM events WHERE CHAR_LENGTH(action) FILTER (WHERE fare > 0) > 1\nGROUP BY TUMBLE(rowtime, INTERVAL '1' HOUR)".to_string(),
            "CHAR_LENGTH",
        ),
        (
            "SELECT COUNT(*) AS n\nFROM events\nGROUP BY UPPER(user_id) FILTER (WHERE fare > 0), TUMBLE(rowtime, INTERVAL '1' HOUR)".to_string(),
            "UPPER",
        ),
        ("SELECT user_id, UPPER(action) FILTER (WHERE action = 'r') AS ua\nFROM events".to_string(), "UPPER"),
        ("SELECT user_id, NULLIF(action, 'x') FILTER (WHERE fare > 0) AS a\nFROM events".to_string(), "NULLIF"),
    ] {
        let (d, text) = common::error(&job(&sql));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
        assert_eq!(
            d.message,
            format!("feature `f`: FILTER (WHERE ...) applies to an aggregate function, and {name} is not one"),
            "{text}"
        );
        assert!(d.hint.as_deref().unwrap().contains("right after the aggregate call"), "{text}");
    }
}

/// `COUNT(DISTINCT a, b)` counts the distinct combinations among the rows where neither is
/// NULL, as Flink does (it was rejected, with a CONCAT_WS hint that counted rows with NULLs
/// and let `('x|y', 'z')` meet `('x', 'y|z')`; found by QA).
#[test]
fn count_distinct_of_several_arguments_counts_combinations_without_nulls() {
    let rows = [
        row("x|y", Some("z"), Some(1.0)),
        row("x", Some("y|z"), Some(1.0)),
        row("x", Some("y|z"), Some(1.0)),
        row("u", None, Some(1.0)),
        row("u", Some("a"), None),
        row("u", Some("a"), Some(-0.0)),
        row("u", Some("a"), Some(0.0)),
        row("u", Some("a"), Some(0.5)),
    ];
    // (user_id, action): (x|y, z), (x, y|z), (u, a) — the NULL action is not counted: 3.
    // (user_id, action, fare): (x|y, z, 1), (x, y|z, 1), (u, a, -0.0), (u, a, 0.0),
    // (u, a, 0.5) — -0.0 and 0.0 are distinct values, as for COUNT(DISTINCT fare): 5.
    // With FILTER (WHERE fare > 0.25): (x|y, z), (x, y|z), (u, a): 3.
    let got = aggregate(
        &format!(
            "SELECT COUNT(DISTINCT user_id, action) AS a, COUNT(DISTINCT user_id, action, fare) AS b,\n  COUNT(DISTINCT user_id, action) FILTER (WHERE fare > 0.25) AS c\n{GROUP}"
        ),
        &rows,
    );
    assert_eq!(got, [Value::Int(3), Value::Int(5), Value::Int(3)]);
}
