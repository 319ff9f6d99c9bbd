//! Every diagnostic a user can hit while writing a job: the rendered message (snapshot,
//! reviewed by hand) plus the facts that matter asserted directly (kind, line, column, hint).

mod common;

use std::path::Path;

use planner::{parse_job, plan_job, ErrorKind};

use common::line_col;
use common::rides::{errors, one, with_sql, JOB};

#[test]
fn the_base_job_plans() {
    let job = parse_job(Path::new("job.yaml"), JOB).unwrap();
    plan_job(&job).unwrap();
}

#[test]
fn unknown_column_points_at_it_and_suggests_the_closest() {
    let (d, text) = one(&with_sql("SELECT geohsh, COUNT(*) AS rides\nFROM events\nGROUP BY geohsh, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    assert_eq!(line_col(&d), (22, 16));
    assert_eq!(d.hint.as_deref(), Some("did you mean `geohash`?"));
    insta::assert_snapshot!(text);
}

/// `"request_ride"` is a quoted column name in SQL: an unknown one says that strings take
/// single quotes, and shows the literal.
#[test]
fn an_unknown_double_quoted_name_suggests_single_quotes() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE action = \"request_ride\"\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    assert_eq!(line_col(&d), (21, 34));
    assert_eq!(
        d.hint.as_deref(),
        Some("for the text, write 'request_ride'")
    );
    insta::assert_snapshot!(text);
    // A close column name is still offered, beside the literal.
    let (d, _) = one(&with_sql("SELECT \"geohsh\", COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(
        d.hint.as_deref(),
        Some("for the text, write 'geohsh'; for a column, did you mean `geohash`?")
    );
}

#[test]
fn a_selected_column_must_be_grouped_or_aggregated() {
    let (d, text) = one(&with_sql("SELECT geohash, user_id, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::NotGrouped);
    assert_eq!(line_col(&d), (20, 23));
    insta::assert_snapshot!(text);
}

/// A SELECT alias in GROUP BY is not a column: the error says so at the alias and shows
/// the expression to group by; the alias of an aggregate is not a key at all.
#[test]
fn grouping_by_a_select_alias_shows_the_aliased_expression() {
    let (d, text) = one(&with_sql("SELECT UPPER(geohash) AS g, COUNT(*) AS rides\nFROM events\nGROUP BY g, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    assert_eq!(line_col(&d), (22, 16));
    assert_eq!(
        d.hint.as_deref(),
        Some("group by the aliased expression: GROUP BY UPPER(geohash) (keep `AS g` in SELECT)")
    );
    insta::assert_snapshot!(text);
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, rides, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(
        d.hint.as_deref(),
        Some("`rides` is `COUNT(*)`, an aggregate or a window bound, not a key: remove it from GROUP BY")
    );
    // An alias that is also a column's name groups by the column, as in SQL (which is
    // then not selected).
    let (d, _) = one(&with_sql("SELECT geohash AS action, geohash, COUNT(*) AS rides\nFROM events\nGROUP BY action, geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::KeyNotSelected, "{d}");
}

/// `GROUP BY 1` is rejected at the `1`, naming the column it would mean.
#[test]
fn positional_group_by_is_rejected_at_the_position() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY 1, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert_eq!(
        d.message,
        "feature `f`: positional GROUP BY is not supported"
    );
    assert_eq!(line_col(&d), (22, 16));
    assert_eq!(
        d.hint.as_deref(),
        Some("name the column, e.g. GROUP BY geohash")
    );
    insta::assert_snapshot!(text);
    // A position of an aggregate, or past the SELECT list, suggests a column that can be one.
    for position in ["2", "7"] {
        let (d, _) = one(&with_sql(&format!("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY {position}, TUMBLE(rowtime, INTERVAL '1' HOUR)")));
        assert_eq!(
            d.hint.as_deref(),
            Some("name the column, e.g. GROUP BY geohash"),
            "{position}"
        );
    }
    // A literal selected and grouped is not its own example (found by QA: the hint was
    // `GROUP BY 1000`).
    let (d, _) = one(&with_sql("SELECT 1000 AS c, COUNT(*) AS rides\nFROM events\nGROUP BY 1000, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(
        d.hint.as_deref(),
        Some("name the grouping columns (a constant groups nothing: drop it)")
    );
}

#[test]
fn window_functions_must_name_the_time_attribute() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides, TUMBLE_END(fare, INTERVAL '1' HOUR) AS e\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(line_col(&d), (20, 53));
    insta::assert_snapshot!(text);
}

#[test]
fn rowtime_of_a_window_is_its_last_millisecond() {
    let job = parse_job(Path::new("job.yaml"), &with_sql("SELECT geohash, COUNT(*) AS rides, TUMBLE_ROWTIME(rowtime, INTERVAL '1' HOUR) AS t\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)")).unwrap();
    let plan = plan_job(&job).unwrap();
    let t = plan.physical.features[0]
        .outputs
        .iter()
        .find(|o| o.name == "t")
        .unwrap();
    assert_eq!(t.expr.to_string(), "(window_end - 1)");
    assert_eq!(t.ty, planner::DataType::Timestamp);
}

/// A window table function's `window_time` column is the same last millisecond (Flink's
/// TVF columns: `window_start`, `window_end`, `window_time`), selected and grouped by as
/// the other bounds; it was an unknown column.
#[test]
fn window_time_of_a_window_table_function_is_its_last_millisecond() {
    for group_by in [
        "window_start, window_end",
        "window_start, window_end, window_time",
    ] {
        let sql = format!("SELECT geohash, COUNT(*) AS rides, window_time\nFROM TABLE(HOP(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '1' HOUR))\nGROUP BY geohash, {group_by}");
        let job = parse_job(Path::new("job.yaml"), &with_sql(&sql)).unwrap();
        let plan = plan_job(&job).unwrap_or_else(|d| panic!("{group_by}: {d}"));
        let f = &plan.physical.features[0];
        let t = f.outputs.iter().find(|o| o.name == "window_time").unwrap();
        assert_eq!(t.expr.to_string(), "(window_end - 1)", "{group_by}");
        assert_eq!(t.ty, planner::DataType::Timestamp);
        assert_eq!(f.keys.len(), 1, "{group_by}: the window is not a key");
    }
    // Before grouping it does not exist, as the other bounds.
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR)) WHERE window_time > 0\nGROUP BY geohash, window_start, window_end"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    assert!(
        d.message.contains("`window_time` cannot be used in WHERE"),
        "{}",
        d.message
    );
}

#[test]
fn every_grouping_key_must_be_selected() {
    let (d, text) = one(&with_sql("SELECT COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::KeyNotSelected);
    assert_eq!(
        d.hint.as_deref(),
        Some("add `geohash` to SELECT (an alias is fine)")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn comparing_a_float_with_text_is_a_type_error() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE fare > 'cheap'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(line_col(&d), (21, 32));
    insta::assert_snapshot!(text);
}

#[test]
fn summing_text_is_a_type_error() {
    let (d, text) = one(&with_sql("SELECT geohash, SUM(action) AS s\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    insta::assert_snapshot!(text);
}

#[test]
fn hop_with_size_below_slide_shows_the_swapped_call() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, HOP(rowtime, INTERVAL '30' MINUTES, INTERVAL '1' MINUTE)"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES)?")
    );
    insta::assert_snapshot!(text);
}

/// A HOP putting each record in more than 50,000 windows (here 2,592,000) is an error at its
/// slide, with a round coarser slide and an OVER window as hints; 30 days sliding hourly
/// (720, the README's example), 7 days by the minute (10,080) and exactly 50,000 windows plan.
#[test]
fn hop_with_too_many_windows_per_record_suggests_a_coarser_slide() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, HOP(rowtime, INTERVAL '1' SECOND, INTERVAL '30' DAY)"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(line_col(&d), (22, 47));
    assert_eq!(
        d.hint.as_deref(),
        Some("slide by 1m or more, e.g. HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' DAY); or, for a value as of each event, use an OVER window: `OVER (PARTITION BY ... ORDER BY rowtime RANGE INTERVAL '30' DAY PRECEDING)`")
    );
    insta::assert_snapshot!(text);

    for window in [
        "HOP(rowtime, INTERVAL '1' HOUR, INTERVAL '30' DAY)",
        "HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '7' DAY)",
        "HOP(rowtime, INTERVAL '1' SECOND, INTERVAL '50000' SECOND)",
    ] {
        let job = with_sql(&format!(
            "SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, {window}"
        ));
        plan_job(&parse_job(Path::new("job.yaml"), &job).unwrap())
            .unwrap_or_else(|d| panic!("{window}: {d}"));
    }
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, HOP(rowtime, INTERVAL '1' SECOND, INTERVAL '50001' SECOND)"));
    assert!(
        d.message
            .contains("HOP puts each record in up to 50,001 windows (50001s sliding every 1s)"),
        "{d}"
    );
}

/// The same limit for CUMULATE (windows per period), in the table-function form; the
/// suggested step divides the max size.
#[test]
fn cumulate_with_too_many_windows_per_record_suggests_a_coarser_step() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides, window_end\nFROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' SECOND, INTERVAL '1' DAY))\nGROUP BY geohash, window_start, window_end"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(line_col(&d), (21, 71));
    assert_eq!(
        d.hint.as_deref(),
        Some("use a step of 2s or more, e.g. CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '2' SECOND, INTERVAL '1' DAY)")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_query_without_a_window_is_rejected_with_a_hint() {
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash",
    ));
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

#[test]
fn unknown_table_suggests_the_source() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM event\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::UnknownTable);
    assert_eq!(d.hint.as_deref(), Some("did you mean `events`?"));
    insta::assert_snapshot!(text);
}

/// With one table in FROM, a qualifier naming another table (or a source the query does
/// not read) is an error; it used to read this table's column of that name. The table's
/// name, or its alias once aliased, is accepted.
#[test]
fn a_qualifier_must_name_the_table_in_from() {
    let group = "GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)";
    for (sql, want) in [
        (
            format!("SELECT nosuch.geohash, COUNT(*) AS rides\nFROM events\n{group}"),
            "unknown table `nosuch` in `nosuch.geohash`",
        ),
        (
            format!(
                "SELECT geohash, COUNT(*) AS rides\nFROM events\nWHERE other.fare > 0\n{group}"
            ),
            "unknown table `other` in `other.fare`",
        ),
        (
            format!("SELECT events.geohash, COUNT(*) AS rides\nFROM events AS e\n{group}"),
            "unknown table `events` in `events.geohash`",
        ),
    ] {
        let (d, text) = one(&with_sql(&sql));
        assert_eq!(d.kind, ErrorKind::UnknownTable, "{text}");
        assert!(d.message.ends_with(want), "{text}");
        assert!(line_col(&d).0 >= 20, "{text}");
    }
    for sql in [
        format!("SELECT events.geohash, COUNT(*) AS rides\nFROM events\n{group}"),
        format!("SELECT e.geohash, COUNT(*) AS rides\nFROM events AS e\n{group}"),
    ] {
        let job = parse_job(Path::new("job.yaml"), &with_sql(&sql)).unwrap();
        plan_job(&job).unwrap_or_else(|d| panic!("{sql}: {d}"));
    }
}

#[test]
fn a_misspelled_key_is_an_error_not_ignored() {
    let (d, text) = one(&JOB.replace("allowed_lateness: 1h", "allowed_latenes: 1h"));
    assert_eq!(d.kind, ErrorKind::Config);
    assert_eq!(line_col(&d).0, 18);
    insta::assert_snapshot!(text);
}

#[test]
fn the_event_time_column_must_exist() {
    let (d, text) = one(&JOB.replace(
        "    event_time: event_time\n",
        "    event_time: evnt_time\n",
    ));
    assert_eq!(d.kind, ErrorKind::Config);
    assert_eq!(d.hint.as_deref(), Some("did you mean `event_time`?"));
    insta::assert_snapshot!(text);
}

#[test]
fn the_declared_type_must_match_the_value() {
    // A float value of an int feature would lose its fraction: an error at the value.
    let (d, text) = one(&with_sql("SELECT geohash, AVG(fare) AS avg_fare\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(line_col(&d), (20, 23));
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .contains("`CAST(AVG(fare) AS BIGINT) AS avg_fare`"),
        "{text}"
    );
    insta::assert_snapshot!(text);
    // A string value too, and in the feature that declares it (here the second one).
    let second = JOB.replace(
        "sinks:",
        "  - name: g\n    type: int\n    sql: SELECT geohash, MAX(action) AS last_action FROM events GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\nsinks:",
    );
    let (d, text) = one(&second);
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert!(text.contains("feature `g`"), "{text}");
    assert_eq!(line_col(&d), (25, 26), "{text}");
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .contains("`CAST(MAX(action) AS BIGINT) AS last_action`"),
        "{text}"
    );
}

/// A feature with several value columns declares a type per column; one `type:` for
/// several values, a column that is not a value, a repeated or unknown type are errors
/// at the `type:` entry.
#[test]
fn a_feature_with_several_values_declares_a_type_per_column() {
    let two = with_sql("SELECT geohash, SUM(fare) AS fare_sum, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)");
    let (d, _) = one(&two);
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert!(
        d.message.contains(
            "declares `type: int` for its value, but it has 2 value columns (fare_sum, rides)"
        ),
        "{d}"
    );
    assert_eq!(line_col(&d), (17, 5), "{d}");
    assert_eq!(
        d.hint.as_deref(),
        Some("declare a type per value column, e.g. `type: { fare_sum: float, rides: int }`, or remove `type:`")
    );

    // Per column: `rides` (an int) widened to float, `fare_sum` as it is.
    let per_column = two.replace("type: int", "type: { fare_sum: float, rides: float }");
    let job = parse_job(Path::new("job.yaml"), &per_column).unwrap_or_else(|d| panic!("{d}"));
    let planned = plan_job(&job).unwrap_or_else(|e| panic!("{e}"));
    let f = &planned.physical.features[0];
    let ty = |n: &str| f.outputs.iter().find(|o| o.name == n).unwrap().ty;
    assert_eq!(ty("rides"), planner::DataType::Float);
    assert_eq!(ty("fare_sum"), planner::DataType::Float);
    // Listing some columns checks those only.
    let some = two.replace("type: int", "type: { RIDES: int }");
    plan_job(&parse_job(Path::new("job.yaml"), &some).unwrap()).unwrap_or_else(|e| panic!("{e}"));

    for (types, message, at) in [
        (
            "{ fare_sum: float, ride: int }",
            "`type:` names `ride`, which is not one of its value columns",
            (17, 30),
        ),
        (
            "{ fare_sum: int }",
            "declared `type: int`, but its value `fare_sum` has type float",
            (20, 23),
        ),
        (
            "{ fare_sum: flaot }",
            "unknown type `flaot` for column `fare_sum` of feature `f`",
            (17, 23),
        ),
        (
            "{ rides: int, Rides: int }",
            "`type:` of feature `f` gives column `Rides` twice",
            (17, 25),
        ),
    ] {
        let (d, text) = one(&two.replace("type: int", &format!("type: {types}")));
        assert!(d.message.contains(message), "{types}: {text}");
        assert_eq!(line_col(&d), at, "{types}: {text}");
    }
    let (d, _) = one(&two.replace("type: int", "type: { fare_sum: float, ride: int }"));
    assert!(
        d.hint.as_deref().unwrap().contains("did you mean `rides`?"),
        "{d}"
    );
}

#[test]
fn an_int_value_of_a_float_feature_is_written_as_a_float() {
    let job = parse_job(
        Path::new("job.yaml"),
        &JOB.replace("type: int", "type: float"),
    )
    .unwrap();
    let planned = plan_job(&job).unwrap_or_else(|e| panic!("{e}"));
    let f = &planned.physical.features[0];
    let rides = f.outputs.iter().find(|o| o.name == "rides").unwrap();
    assert_eq!(rides.ty, planner::DataType::Float);
    assert_eq!(rides.expr.to_string(), "CAST(count(*) AS float)");
}

#[test]
fn every_feature_is_checked_not_just_the_first() {
    let twice = JOB.replace(
        "sinks:",
        "  - name: g\n    sql: SELECT nope FROM events GROUP BY nope, TUMBLE(rowtime, INTERVAL '1' HOUR)\n  - name: h\n    sql: SELECT geohash FROM nowhere\nsinks:",
    );
    let d = errors(&twice);
    assert_eq!(d.0.len(), 2, "{d}");
    assert_eq!(d.0[0].kind, ErrorKind::UnknownColumn);
    assert_eq!(d.0[1].kind, ErrorKind::UnknownTable);
    // Inline SQL: positions are on the `sql:` line.
    assert_eq!(d.0[0].location.as_ref().unwrap().line, 24);
}

#[test]
fn cumulate_windows_plan_in_both_forms() {
    for sql in [
        "SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '10' MINUTES, INTERVAL '1' DAY))\nGROUP BY geohash, window_start, window_end",
        "SELECT geohash, COUNT(*) AS rides, CUMULATE_START(rowtime, INTERVAL '10' MINUTES, INTERVAL '1' DAY) AS s\nFROM events\nGROUP BY geohash, CUMULATE(rowtime, INTERVAL '10' MINUTES, INTERVAL '1' DAY)",
    ] {
        let job = parse_job(Path::new("job.yaml"), &with_sql(sql)).unwrap();
        let plan = plan_job(&job).unwrap_or_else(|d| panic!("{d}"));
        let w = plan.physical.features[0].window;
        assert_eq!(w, planner::window::Window::cumulate(600_000, 86_400_000));
        assert!(plan.physical.to_string().contains("cumulate size=1d step=10m"));
    }
}

#[test]
fn cumulate_max_size_must_be_a_multiple_of_the_step() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, CUMULATE(rowtime, INTERVAL '7' MINUTES, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(line_col(&d), (22, 25));
    assert_eq!(
        d.hint.as_deref(),
        Some("use a max size of 56m or 63m, or a step that divides 1h")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn cumulate_with_step_above_size_shows_the_swapped_call() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides, window_end\nFROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' DAY, INTERVAL '1' HOUR))\nGROUP BY geohash, window_start, window_end"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR, INTERVAL '1' DAY)?")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn date_format_of_an_int_suggests_to_timestamp_ltz() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE DATE_FORMAT(CAST(fare AS BIGINT), 'yyyy') = '2024'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(line_col(&d), (21, 42)); // sqlparser spans a CAST from its operand
    assert_eq!(
        d.hint.as_deref(),
        Some("if `CAST(fare AS BIGINT)` holds epoch milliseconds, write TO_TIMESTAMP_LTZ(CAST(fare AS BIGINT), 3)")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_string_function_given_a_number_is_a_type_error() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE SUBSTRING(fare FROM 1 FOR 2) = 'ab'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(line_col(&d), (21, 35));
    insta::assert_snapshot!(text);
}

#[test]
fn a_bad_date_format_pattern_is_caught_at_plan_time() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE DATE_FORMAT(rowtime, 'yyyy-ww') = '2024-01'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::Syntax);
    insta::assert_snapshot!(text);
}

#[test]
fn round_digits_must_be_an_int() {
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE ROUND(fare, 1.5) > 2\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(line_col(&d), (21, 37));
    assert!(d.message.contains("ROUND expects int"), "{}", d.message);
}

/// i64::MAX ms is 106751991167.3 days: one day more does not fit. Before, the
/// multiplication wrapped and the window silently got another size.
#[test]
fn an_interval_past_64_bit_milliseconds_is_too_large() {
    let tumble = |iv: &str| {
        with_sql(&format!(
            "SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL {iv})"
        ))
    };
    let (d, text) = one(&tumble("'106751991168' DAY"));
    assert_eq!(d.kind, ErrorKind::Syntax);
    // At the interval's value (sqlparser's span of an interval starts there).
    assert_eq!(line_col(&d), (22, 50));
    assert_eq!(
        d.hint.as_deref(),
        Some("the largest is INTERVAL '106751991167' DAY")
    );
    insta::assert_snapshot!(text);
    for iv in [
        "'9007199254740992' DAY",
        "'106751991167301' DAY",
        "'99999999999999999999' SECOND",
        "'-9223372036854775808' SECOND",
    ] {
        let (d, _) = one(&tumble(iv));
        assert!(d.message.contains("interval too large"), "{iv}: {d:?}");
    }
}

/// A window interval is at most 1000 years, so that an event time plus one is a valid
/// timestamp. Before, a SESSION gap of 106751991167 days planned and its windows ended at a
/// negative time (the sum wrapped), written as if valid.
#[test]
fn a_window_interval_past_1000_years_is_too_large() {
    let job = |group_by: &str| {
        with_sql(&format!(
            "SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, {group_by}"
        ))
    };
    let plans = |group_by: &str| {
        let job = parse_job(Path::new("job.yaml"), &job(group_by)).unwrap();
        plan_job(&job).unwrap_or_else(|d| panic!("{group_by}: {d}"));
    };
    plans("TUMBLE(rowtime, INTERVAL '365000' DAY)");
    plans("SESSION(rowtime, INTERVAL '365000' DAY)");
    for group_by in [
        "TUMBLE(rowtime, INTERVAL '365001' DAY)",
        "SESSION(rowtime, INTERVAL '106751991167' DAY)",
        "HOP(rowtime, INTERVAL '1' HOUR, INTERVAL '365001' DAY)",
    ] {
        let (d, _) = one(&job(group_by));
        assert_eq!(d.kind, ErrorKind::InvalidWindow, "{group_by}");
        assert_eq!(
            d.message,
            format!(
                "feature `f`: interval too large for a window: `{}`",
                &group_by[group_by.rfind("INTERVAL").unwrap()..group_by.len() - 1]
            ),
            "{group_by}"
        );
        assert_eq!(
            d.hint.as_deref(),
            Some("the largest is INTERVAL '365000' DAY")
        );
    }
}

#[test]
fn a_negative_window_interval_says_so() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '-1' MINUTE)"));
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(line_col(&d), (22, 50));
    assert_eq!(d.hint.as_deref(), Some("did you mean INTERVAL '1' MINUTE?"));
    insta::assert_snapshot!(text);
}

/// `GROUP BY k, k` is `GROUP BY k` (Flink accepts it); it used to report the selected key
/// as not selected.
#[test]
fn a_repeated_grouping_key_counts_once() {
    let plan = |group_by: &str| {
        let sql = format!("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY {group_by}, TUMBLE(rowtime, INTERVAL '1' HOUR)");
        let job = parse_job(Path::new("job.yaml"), &with_sql(&sql)).unwrap();
        let planned = plan_job(&job).unwrap_or_else(|d| panic!("{group_by}: {d}"));
        format!("{}\n{}", planned.logical[0].plan, planned.physical)
    };
    assert_eq!(plan("geohash, geohash"), plan("geohash"));
    assert_eq!(plan("geohash, GEOHASH, events.geohash"), plan("geohash"));
}

/// A window table function's bounds may be qualified by its alias, as in Flink, in
/// GROUP BY, SELECT, HAVING (also inside MIN/MAX) and SELECT DISTINCT: the plan is that
/// of the unqualified query.
#[test]
fn window_bounds_qualified_by_the_table_function_alias_plan_like_bare_ones() {
    let plan = |sql: &str| {
        // Some of these features have no value column to declare a type of.
        let text = with_sql(sql).replace("    type: int\n", "");
        let job = parse_job(Path::new("job.yaml"), &text).unwrap();
        let planned = plan_job(&job).unwrap_or_else(|d| panic!("{sql}: {d}"));
        format!("{}\n{}", planned.logical[0].plan, planned.physical)
    };
    let tvf = "TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))";
    assert_eq!(
        plan(&format!("SELECT w.geohash, COUNT(*) AS rides, w.window_start, w.window_end\nFROM {tvf} AS w\nGROUP BY w.geohash, w.window_start, w.window_end\nHAVING MAX(w.window_end) > w.window_start")),
        plan(&format!("SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM {tvf}\nGROUP BY geohash, window_start, window_end\nHAVING window_end > window_start")),
    );
    assert_eq!(
        plan(&format!(
            "SELECT DISTINCT w.geohash, w.window_start, w.window_end\nFROM {tvf} AS w"
        )),
        plan(&format!(
            "SELECT DISTINCT geohash, window_start, window_end\nFROM {tvf}"
        )),
    );
}

/// `window_start` in GROUP BY without a window table function: the hint no longer says
/// to use it in GROUP BY.
#[test]
fn window_start_in_group_by_without_a_table_function_points_to_one() {
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, window_start, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    let hint = d.hint.unwrap();
    assert!(
        hint.contains("FROM TABLE(TUMBLE(") && !hint.contains("use them in SELECT, GROUP BY"),
        "{hint}"
    );
}

#[test]
fn a_sink_that_would_overwrite_the_job_file_is_an_error() {
    for path in ["job.yaml", "./out/../job.yaml"] {
        let text = JOB.replace("path: out/f.jsonl", &format!("path: {path}"));
        let (d, rendered) = one(&text);
        assert_eq!(d.kind, ErrorKind::Config);
        assert!(
            d.message.contains("would overwrite the job file"),
            "{rendered}"
        );
        assert_eq!(line_col(&d).0, 24, "{rendered}");
    }
    // The dead letters too.
    let text = format!("{JOB}dead_letter: job.yaml\n");
    let (d, rendered) = one(&text);
    assert!(d.message.contains("is the job file"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_sink_path_naming_a_directory_is_an_error() {
    let text = JOB.replace("path: out/f.jsonl", "path: out/");
    let (d, rendered) = one(&text);
    assert!(d.message.contains("`out/` is a directory"), "{rendered}");
    assert_eq!(
        d.hint.as_deref(),
        Some("name the file the sink writes, e.g. `path: out/features.jsonl`")
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_feature_writing_to_no_sink_is_an_error() {
    let text = JOB.replace("    type: int\n", "    type: int\n    sinks: []\n");
    let (d, rendered) = one(&text);
    assert!(d.message.contains("writes to no sink"), "{rendered}");
    assert_eq!(line_col(&d), (18, 12), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_join_of_a_join_is_an_error_at_the_inner_join() {
    let sql = "SELECT x.geohash, COUNT(*) AS rides\nFROM (SELECT l.geohash AS geohash, l.user_id AS user_id, l.rowtime AS t\n      FROM events AS l JOIN events AS r ON l.user_id = r.user_id\n        AND r.rowtime BETWEEN l.rowtime - INTERVAL '1' MINUTE AND l.rowtime) AS x\nJOIN events AS y ON x.user_id = y.user_id AND y.rowtime BETWEEN x.t AND x.t + INTERVAL '1' MINUTE\nGROUP BY x.geohash, TUMBLE(x.t, INTERVAL '1' HOUR)";
    let (d, rendered) = one(&with_sql(sql));
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(d.message.contains("cannot itself be a join"), "{rendered}");
    assert_eq!(line_col(&d), (21, 13), "{rendered}");
    insta::assert_snapshot!(rendered);
}

/// A hint's fix works: the declared type it suggests for a TOP value is accepted.
#[test]
fn the_type_a_hint_suggests_for_a_top_value_is_accepted() {
    let sql = "SELECT user_id, TOP(3, action) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS actions\nFROM events";
    let (d, rendered) = one(&with_sql(sql));
    let hint = d.hint.clone().unwrap_or_default();
    assert!(hint.contains("declare `type: array`"), "{rendered}");
    let fixed = with_sql(sql).replace("type: int", "type: array");
    let job = parse_job(Path::new("job.yaml"), &fixed).expect("`type: array` is a type");
    plan_job(&job).expect("and the job plans");
    // Not a schema type, though: a source column cannot be an array.
    let bad = JOB.replace("action: string", "action: array");
    assert!(errors(&bad).to_string().contains("unknown type `array`"));
}

/// An aggregate Flink has and freshet has not says so, with what to write instead; an
/// unknown function's hint lists the aggregates too (it listed scalar functions only).
#[test]
fn unsupported_aggregates_say_what_to_write_instead() {
    let sql = |call: &str| {
        with_sql(&format!("SELECT geohash, {call} AS v\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"))
    };
    for (call, name) in [
        ("STDDEV_POP(fare)", "STDDEV_POP"),
        ("var_samp(fare)", "VAR_SAMP"),
    ] {
        let (d, _) = one(&sql(call));
        assert_eq!(d.kind, ErrorKind::Unsupported);
        assert_eq!(
            d.message,
            format!("feature `f`: aggregate function {name} is not supported")
        );
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .starts_with("VAR_POP(x) is AVG(x * x) - AVG(x) * AVG(x)"),
            "{d:?}"
        );
        assert_eq!(line_col(&d), (20, 23), "at the call");
    }
    let (d, _) = one(&sql("LISTAGG(geohash)"));
    assert!(d.hint.as_deref().unwrap().contains("ARRAY_AGG(x)"), "{d:?}");
    let (d, _) = one(&sql("MEDIAN(fare)"));
    assert_eq!(d.message, "feature `f`: unknown function MEDIAN");
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("aggregates: COUNT, SUM, AVG, MIN, MAX"),
        "{d:?}"
    );
}

/// An empty `sql:` (or only `;`) is an error at its value, with an example (it had no
/// location when empty).
#[test]
fn an_empty_sql_points_at_it() {
    for sql in ["\"\"", "\"  ;  \"", "''"] {
        let job = format!("name: e\nsources:\n  - {{ name: s, connector: file, path: x.jsonl, format: json, schema: {{ k: string, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    sql: {sql}\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n");
        let (d, _) = one(&job);
        assert_eq!(d.kind, ErrorKind::Syntax, "{sql}");
        assert_eq!(d.message, "feature `f`: a feature's sql is empty", "{sql}");
        assert_eq!(line_col(&d), (6, 10), "{sql}: at the value");
        assert!(d.hint.as_deref().unwrap().contains("SELECT"), "{sql}");
    }
}
