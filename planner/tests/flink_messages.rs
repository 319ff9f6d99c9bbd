//! Flink SQL that freshet does not run, reported at its position with what to write
//! instead: a temporal join, a window offset, OFFSET, and an
//! unparsable TIMESTAMP literal.

mod common;

use planner::ErrorKind;

use common::line_col;
use common::rides::{one, with_sql};

const GROUP: &str = "GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)";

/// Flink's named arguments of a window table function: sqlparser's "Expected: ), found:
/// events" said nothing of them; the hint is the user's call by position.
#[test]
fn named_window_arguments_are_named_in_the_error() {
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM TABLE(HOP(DATA => TABLE events, TIMECOL => DESCRIPTOR(rowtime), SIZE => INTERVAL '1' DAY, SLIDE => INTERVAL '1' HOUR))\nGROUP BY geohash, window_start, window_end",
    ));
    assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
    assert_eq!(
        d.message, "feature `f`: named arguments of HOP are not supported",
        "{text}"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("pass the arguments by position: HOP(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR, INTERVAL '1' DAY) (slide, then size)"),
        "{text}"
    );
    // At `HOP`: line 21, after 6 spaces and `FROM TABLE(`.
    assert_eq!(line_col(&d), (21, 18), "{text}");
    // Positional arguments, then a named one: sqlparser parses it; the same error.
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), SIZE => INTERVAL '1' DAY))\nGROUP BY geohash, window_start, window_end",
    ));
    assert!(
        d.message
            .contains("named arguments of TUMBLE are not supported"),
        "{text}"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("pass the arguments by position: TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' DAY)"),
        "{text}"
    );
    // An arrow in a string of SQL that does not parse for another reason is not taken for
    // a named argument.
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides\nFROM events WHERE CONCAT(action, '=>') > > 'a'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)",
    ));
    assert_eq!(d.kind, ErrorKind::Syntax, "{text}");
    assert!(!text.contains("named arguments"), "{text}");
}

#[test]
fn grouping_sets_rollup_and_cube_suggest_one_feature_per_grouping() {
    for (group, what) in [
        ("GROUPING SETS ((geohash), (user_id))", "GROUPING SETS"),
        ("ROLLUP (geohash, user_id)", "ROLLUP"),
        ("CUBE (geohash, user_id)", "CUBE"),
    ] {
        let (d, text) = one(&with_sql(&format!(
            "SELECT COUNT(*) AS rides, window_start, window_end\nFROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))\nGROUP BY window_start, window_end, {group}"
        )));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
        assert_eq!(
            d.message,
            format!("feature `f`: {what} is not supported"),
            "{text}"
        );
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("one feature per grouping"),
            "{text}"
        );
        // In the grouping (sqlparser's span starts at its first column, not its keyword):
        // line 22, past `GROUP BY window_start, window_end, ` (6 spaces, then 35 characters).
        let (line, col) = line_col(&d);
        assert!(line == 22 && col > 41, "{text}");
    }
}

/// `FOR SYSTEM_TIME AS OF` was sqlparser's "Expected: one of UPDATE or SHARE".
#[test]
fn a_temporal_join_points_to_bounded_tables() {
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides\nFROM events AS e JOIN zones FOR SYSTEM_TIME AS OF e.rowtime AS z\n  ON e.geohash = z.geohash\nGROUP BY geohash, TUMBLE(e.rowtime, INTERVAL '1' HOUR)",
    ));
    assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
    assert!(d.message.contains("temporal (lookup) joins"), "{text}");
    assert_eq!(
        d.hint.as_deref(),
        Some("drop `FOR SYSTEM_TIME AS OF e.rowtime` (the join, LEFT or inner, stays as it is) and mark the table's source `bounded: true` if it is not (see docs/joins.md)"),
        "{text}"
    );
    // Line 21, at FOR (6 spaces and `FROM events AS e JOIN zones ` before it).
    assert_eq!(line_col(&d), (21, 35), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_window_offset_is_not_supported_and_the_hint_keeps_the_tvf_form() {
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' DAY, INTERVAL '8' HOUR))\nGROUP BY geohash, window_start, window_end",
    ));
    assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
    assert_eq!(
        d.hint.as_deref(),
        Some("remove the offset: TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' DAY)")
    );
    insta::assert_snapshot!(text);
    // A wrong count in the TVF form is shown in the TVF form too.
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides, window_start, window_end\nFROM TABLE(HOP(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' DAY))\nGROUP BY geohash, window_start, window_end",
    ));
    assert_eq!(
        d.hint.as_deref(),
        Some("write HOP(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '30' MINUTES) (slide, then size)"),
        "{text}"
    );
}

#[test]
fn offset_is_named_offset() {
    let (d, text) = one(&with_sql(&format!(
        "SELECT geohash, COUNT(*) AS rides\nFROM events\n{GROUP}\nOFFSET 5"
    )));
    assert_eq!(d.kind, ErrorKind::Unsupported, "{text}");
    assert!(d.message.contains("OFFSET is not supported"), "{text}");
    assert_eq!(line_col(&d).0, 23, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn an_unparsable_timestamp_literal_is_an_error_at_it() {
    let (d, text) = one(&with_sql(&format!(
        "SELECT geohash, COUNT(*) AS rides\nFROM events WHERE rowtime > TIMESTAMP '2026-01-01 25:00:00'\n{GROUP}"
    )));
    assert_eq!(d.kind, ErrorKind::Syntax, "{text}");
    // At the quoted text (6 spaces and `FROM events WHERE rowtime > TIMESTAMP ` before it).
    assert_eq!(line_col(&d), (21, 45), "{text}");
    insta::assert_snapshot!(text);
}

/// Found by QA: chrono alone took a second 60 (`10:00:60` read as 10:01:00) and fields
/// of one digit; a timestamp literal has every field in full, as Flink's does.
#[test]
fn timestamp_literals_have_every_field_in_full() {
    for bad in [
        "2026-01-01 10:00:60",
        "2026-1-01 10:00:00",
        "2026-01-01 1:00:00",
        "2026-01-01 10:0:00",
        "2026-01-01 10:00",
        "2026-01-01 10:00:00.",
        "2026-01-01 10:00:00.1234567890",
    ] {
        let (d, text) = one(&with_sql(&format!(
            "SELECT geohash, COUNT(*) AS rides\nFROM events WHERE rowtime > TIMESTAMP '{bad}'\n{GROUP}"
        )));
        assert_eq!(d.kind, ErrorKind::Syntax, "{bad}: {text}");
        assert!(d.message.contains("bad TIMESTAMP literal"), "{bad}: {text}");
    }
    // Every accepted form, as before.
    for good in [
        "2026-01-01 10:00:59",
        "2026-01-01T10:00:00Z",
        "2026-01-01 10:00:00.5",
        "2026-01-01 10:00:00.123456789",
    ] {
        let job = with_sql(&format!(
            "SELECT geohash, COUNT(*) AS rides\nFROM events WHERE rowtime > TIMESTAMP '{good}'\n{GROUP}"
        ));
        let job = planner::parse_job(std::path::Path::new("job.yaml"), &job).unwrap();
        assert!(planner::plan_job(&job).is_ok(), "{good}");
    }
}

/// Found by QA: a Flink user writes `INSERT INTO sink SELECT ...` first; the error says
/// what to write instead.
#[test]
fn insert_into_hints_at_the_sinks_key() {
    let (d, text) = one(&with_sql(&format!(
        "INSERT INTO out SELECT geohash, COUNT(*) AS rides\nFROM events\n{GROUP}"
    )));
    assert!(d.message.contains("must be a SELECT query"), "{text}");
    assert!(
        text.contains("drop `INSERT INTO ...`") && text.contains("sinks:"),
        "{text}"
    );
}

/// Found by QA: `HAVING n > 3` with `n` a SELECT alias listed the columns only; the hint
/// now gives the aliased expression.
#[test]
fn having_on_an_alias_hints_at_its_expression() {
    let (d, text) = one(&with_sql(&format!(
        "SELECT geohash, COUNT(*) AS rides\nFROM events\n{GROUP}\nHAVING rides > 3"
    )));
    assert_eq!(d.kind, ErrorKind::UnknownColumn, "{text}");
    assert_eq!(
        d.hint.as_deref(),
        Some("`rides` is a SELECT alias, which HAVING cannot use (as in Flink): write `COUNT(*)` in its place"),
        "{text}"
    );
}
