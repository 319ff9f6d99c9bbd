//! SQL the parser refuses, and constructs freshet does not have: where each error points
//! in the job file (block, quoted, folded, plain and flow-mapping SQL), and the SQL to
//! write instead. Snapshots reviewed by hand, plus the facts asserted directly.

mod common;

use std::path::Path;

use planner::{parse_job, plan_job, ErrorKind};

use common::line_col;
use common::rides::{one, with_sql, JOB};

#[test]
fn syntax_errors_point_into_the_job_file() {
    let (d, text) = one(&with_sql("SELECT geohash COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(d.kind, ErrorKind::Syntax);
    assert_eq!(line_col(&d).0, 20);
    insta::assert_snapshot!(text);
}

/// Diagnostics in SQL written as a quoted or folded YAML scalar point at the file's
/// character, through `''` and backslash escapes and folded lines; the expected position
/// is where `nope` is in the file text.
#[test]
fn quoted_and_folded_sql_keeps_line_and_column() {
    let sql_values = [
        "    sql: \"SELECT geohash, COUNT(*) AS rides FROM events WHERE action = '\\u00e9\\\\' AND nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\"\n",
        "    sql: 'SELECT geohash, COUNT(*) AS rides FROM events WHERE action = ''x'' AND nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL ''1'' HOUR)'\n",
        "    sql: >\n      SELECT geohash, COUNT(*) AS rides\n      FROM events\n      WHERE action = 'x' AND nope > 1\n      GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\n",
        "    sql: \"SELECT geohash, COUNT(*) AS rides\n      FROM events WHERE action = 'x'\n\n      AND nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\"\n",
    ];
    for value in sql_values {
        let start = JOB.find("    sql: |").unwrap();
        let end = JOB.find("sinks:").unwrap();
        let text = format!("{}{value}{}", &JOB[..start], &JOB[end..]);
        let (d, _) = one(&text);
        assert_eq!(d.kind, ErrorKind::UnknownColumn, "{value}");
        let (i, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("nope"))
            .unwrap();
        let col = line[..line.find("nope").unwrap()].chars().count() + 1;
        assert_eq!(line_col(&d), (i + 1, col), "{value}");
    }
}

/// Window functions freshet does not have (ROW_NUMBER, RANK, LAG, ...) are rejected at
/// their name, with or without OVER, in any query shape, and say what to write instead;
/// the windows the hints suggest plan.
#[test]
fn unsupported_window_functions_say_so_and_what_to_use() {
    let over = "OVER (PARTITION BY user_id ORDER BY rowtime ROWS 3 PRECEDING)";
    for call in [
        "ROW_NUMBER()",
        "RANK()",
        "DENSE_RANK()",
        "NTILE(4)",
        "LAG(fare)",
        "LEAD(fare, 1)",
        "FIRST_VALUE(fare)",
        "LAST_VALUE(fare)",
    ] {
        let name = &call[..call.find('(').unwrap()];
        let (d, rendered) = one(&with_sql(&format!(
            "SELECT user_id, {call} {over} AS v\nFROM events"
        )));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{rendered}");
        assert_eq!(
            d.message,
            format!("feature `f`: window function {name} is not supported"),
            "{rendered}"
        );
        assert_eq!(line_col(&d), (20, 23), "{rendered}");
        assert!(d.hint.is_some(), "{rendered}");
    }
    let (d, rendered) = one(&with_sql(
        "SELECT user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY rowtime) AS n\nFROM events",
    ));
    assert_eq!(
        d.hint.as_deref(),
        Some("for a key's latest rows, TOP(10, x) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 9 PRECEDING) (the last 10 values, oldest first); to count recent rows, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' DAY PRECEDING)")
    );
    insta::assert_snapshot!(rendered);
    let (d, _) = one(&with_sql(
        "SELECT user_id, LAG(fare, 2) OVER (PARTITION BY user_id ORDER BY rowtime) AS prev\nFROM events",
    ));
    assert_eq!(
        d.hint.as_deref(),
        Some("TOP(3, fare) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) is the last 3 values of fare, oldest first: the first is LAG(fare, 2)")
    );
    let (d, _) = one(&with_sql(&format!(
        "SELECT user_id, LAST_VALUE(fare) {over} AS v\nFROM events"
    )));
    assert_eq!(d.hint.as_deref(), Some("select `fare` itself"));
    // Without OVER, in a grouped query and in a subquery (Flink's Top-N): the same error
    // at the name, not "unknown function", "needs a bounded frame" or "not in a subquery".
    for (sql, at) in [
        ("SELECT user_id, ROW_NUMBER() AS n\nFROM events", (20, 23)),
        ("SELECT geohash, COUNT(*) AS rides, RANK() OVER (ORDER BY rowtime) AS r\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)", (20, 42)),
        ("SELECT user_id, fare FROM (\nSELECT user_id, fare, rowtime, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY rowtime DESC) AS rn\nFROM events) AS t WHERE rn <= 3", (21, 38)),
    ] {
        let (d, rendered) = one(&with_sql(sql));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{rendered}");
        assert!(d.message.contains("is not supported"), "{rendered}");
        assert_eq!(line_col(&d), at, "{rendered}");
    }
    // The suggested windows plan.
    for sql in [
        "SELECT user_id, TOP(3, fare) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS v\nFROM events",
        "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' DAY PRECEDING) AS v\nFROM events",
        "SELECT user_id, ARRAY_AGG(fare) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' HOUR PRECEDING) AS v\nFROM events",
    ] {
        let text = with_sql(sql).replace("    type: int\n", "");
        let job = parse_job(Path::new("job.yaml"), &text).unwrap();
        plan_job(&job).unwrap_or_else(|d| panic!("{sql}: {d}"));
    }
}

/// An unterminated string is reported at the quote left open, not at the last quote of
/// the SQL (which sqlparser reports: here the closing quote of `INTERVAL '1'`).
#[test]
fn an_unterminated_string_points_at_its_opening_quote() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE action = 'request_ride )\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(line_col(&d), (21, 34), "{text}");
    assert_eq!(d.kind, ErrorKind::Syntax);
    assert_eq!(
        d.message,
        "feature `f`: SQL syntax error: unterminated string literal"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("end the string with a quote, e.g. 'request_ride'; a quote inside a string is written twice ('it''s')")
    );
    insta::assert_snapshot!(text);
    // On one line: the open quote's string ends at the quote meant to open the next one.
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE action = 'request_ride AND geohash = '9q8yyk'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(line_col(&d), (21, 34), "{text}");
    // The last string left open: sqlparser's position, which is its quote.
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR) HAVING MAX(action) = 'x"));
    assert_eq!(line_col(&d), (22, 81), "{text}");
    // In a quoted YAML scalar, at the quote's place in the file.
    let start = JOB.find("    sql: |").unwrap();
    let end = JOB.find("sinks:").unwrap();
    let value = "    sql: \"SELECT geohash, COUNT(*) AS rides FROM events\n      WHERE action = 'request_ride GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\"\n";
    let (d, text) = one(&format!("{}{value}{}", &JOB[..start], &JOB[end..]));
    assert_eq!(line_col(&d), (20, 22), "{text}");
}

/// An integer literal past 64 bits is an error quoted as written, at its position; before,
/// it became a float that is not the number written. The smallest int still is one.
#[test]
fn an_integer_literal_past_64_bits_is_out_of_range() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE fare > 99999999999999999999\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(line_col(&d), (21, 32), "{text}");
    assert_eq!(d.kind, ErrorKind::Syntax);
    assert_eq!(
        d.message,
        "feature `f`: integer literal 99999999999999999999 is out of range"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("for a float, write 99999999999999999999.0")
    );
    insta::assert_snapshot!(text);
    let (d, _) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events WHERE fare > -9223372036854775809\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(
        d.message,
        "feature `f`: integer literal 9223372036854775809 is out of range"
    );
    assert_eq!(line_col(&d), (21, 33));
    let value = |lit: &str| {
        let sql = format!("SELECT user_id, {lit} AS x\nFROM events");
        let job = parse_job(
            Path::new("job.yaml"),
            &with_sql(&sql)
                .replace("    type: int\n", "")
                .replace("    allowed_lateness: 1h\n", ""),
        )
        .unwrap();
        let plan = plan_job(&job).unwrap_or_else(|d| panic!("{lit}: {d}"));
        let x = plan.physical.features[0]
            .outputs
            .iter()
            .find(|o| o.name == "x")
            .unwrap();
        (x.expr.to_string(), x.ty)
    };
    assert_eq!(
        value("-9223372036854775808"),
        ("-9223372036854775808".into(), planner::DataType::Int)
    );
    assert_eq!(
        value("9223372036854775807"),
        ("9223372036854775807".into(), planner::DataType::Int)
    );
    assert_eq!(value("99999999999999999999.0").1, planner::DataType::Float);
}

/// `JOIN ... USING (...)` and `NATURAL JOIN` say they are not supported and show the ON
/// condition to write, with the real columns and aliases; the condition shown plans.
#[test]
fn join_using_and_natural_join_show_the_on_condition() {
    let (d, text) = one(&with_sql("SELECT l.geohash, COUNT(*) AS rides\nFROM events AS l JOIN events AS r USING (user_id, geohash)\nGROUP BY l.geohash, TUMBLE(l.rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(line_col(&d), (21, 48), "{text}");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert_eq!(d.message, "feature `f`: JOIN ... USING is not supported");
    let on = "ON l.user_id = r.user_id AND l.geohash = r.geohash";
    let bound = "AND r.rowtime BETWEEN l.rowtime - INTERVAL '4' HOUR AND l.rowtime";
    assert_eq!(
        d.hint.as_deref(),
        Some(format!("write the condition with ON: JOIN events AS r {on}, and bound the other side's time on both ends, e.g. `{bound}`").as_str())
    );
    insta::assert_snapshot!(text);
    let fixed = format!("SELECT l.geohash, COUNT(*) AS rides\nFROM events AS l JOIN events AS r {on} {bound}\nGROUP BY l.geohash, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    let job = parse_job(Path::new("job.yaml"), &with_sql(&fixed)).unwrap();
    plan_job(&job).unwrap_or_else(|d| panic!("{d}"));
    // A LEFT JOIN stays one.
    let (d, _) = one(&with_sql("SELECT l.geohash, COUNT(*) AS rides\nFROM events AS l LEFT JOIN events AS r USING (user_id)\nGROUP BY l.geohash, TUMBLE(l.rowtime, INTERVAL '1' HOUR)"));
    assert!(
        d.hint.as_deref().unwrap_or("").starts_with(
            "write the condition with ON: LEFT JOIN events AS r ON l.user_id = r.user_id, "
        ),
        "{d}"
    );
    // NATURAL: the columns the sides share, without the event time.
    let (d, text) = one(&with_sql("SELECT l.geohash, COUNT(*) AS rides\nFROM events AS l NATURAL JOIN events AS r\nGROUP BY l.geohash, TUMBLE(l.rowtime, INTERVAL '1' HOUR)"));
    assert_eq!(line_col(&d), (21, 37), "{text}");
    assert_eq!(d.message, "feature `f`: NATURAL JOIN is not supported");
    assert_eq!(
        d.detail.as_deref(),
        Some("it would join on every column the two sides share (user_id, geohash, action, fare, event_time), event times included")
    );
    assert!(
        d.hint.as_deref().unwrap_or("").starts_with("write the condition with ON: JOIN events AS r ON l.user_id = r.user_id AND l.geohash = r.geohash AND l.action = r.action AND l.fare = r.fare, "),
        "{text}"
    );
}

/// SQL written as a plain (unquoted) scalar over several lines, or as a value in a flow
/// mapping, is located in the job file too; before, such errors had no line, only the
/// column in the SQL folded into one line.
#[test]
fn plain_and_flow_mapping_sql_keeps_line_and_column() {
    let start = JOB.find("  - name: f\n").unwrap();
    let end = JOB.find("sinks:").unwrap();
    let features = [
        "  - name: f\n    type: int\n    sql: SELECT geohash, COUNT(*) AS rides\n      FROM events WHERE nope > 1\n\n      GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\n",
        "  - name: f\n    type: int\n    sql: SELECT geohash, COUNT(*) AS rides FROM events WHERE action = 'é' AND nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\n",
        "  - { name: f, type: int, sql: \"SELECT geohash, COUNT(*) AS rides FROM events WHERE nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)\" }\n",
        "  - { name: f, type: int,\n      sql: 'SELECT geohash, COUNT(*) AS rides FROM events\n        WHERE action = ''x'' AND nope > 1 GROUP BY geohash, TUMBLE(rowtime, INTERVAL ''1'' HOUR)' }\n",
    ];
    for feature in features {
        let text = format!("{}{feature}{}", &JOB[..start], &JOB[end..]);
        let (d, rendered) = one(&text);
        assert_eq!(d.kind, ErrorKind::UnknownColumn, "{rendered}");
        let (i, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("nope"))
            .unwrap();
        let col = line[..line.find("nope").unwrap()].chars().count() + 1;
        assert_eq!(line_col(&d), (i + 1, col), "{rendered}");
    }
}

/// SQL that ends too early (a missing `)`, a WHERE without its condition) is an error just
/// after its last character; before, sqlparser's "found: EOF" had no position at all.
#[test]
fn sql_ending_too_early_points_at_its_end() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR"));
    assert_eq!(line_col(&d), (22, 58), "{text}");
    assert_eq!(d.kind, ErrorKind::Syntax);
    assert_eq!(
        d.message,
        "feature `f`: SQL syntax error: Expected: ), found: the end of the SQL"
    );
    insta::assert_snapshot!(text);
    let (d, text) = one(&with_sql(
        "SELECT geohash, COUNT(*) AS rides\nFROM events WHERE\n\n",
    ));
    assert_eq!(line_col(&d), (21, 24), "{text}");
    // In a quoted scalar: after its last SQL character, in the file.
    let start = JOB.find("    sql: |").unwrap();
    let end = JOB.find("sinks:").unwrap();
    let value = "    sql: 'SELECT geohash, COUNT(*) AS rides FROM events WHERE'\n";
    let (d, text) = one(&format!("{}{value}{}", &JOB[..start], &JOB[end..]));
    assert_eq!(line_col(&d), (19, 62), "{text}");
}

/// An unclosed comment, which the tokenizer reports at the end of input (past the SQL's
/// last line, at the next key of the job file), points at the `/*` left open.
#[test]
fn an_unclosed_comment_points_at_its_opening() {
    let (d, text) = one(&with_sql("SELECT geohash, COUNT(*) AS rides\nFROM events /* WHERE action = 'x'\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
    // At the `/*` left open, not at the end of the SQL.
    assert_eq!(line_col(&d), (21, 19), "{text}");
    assert!(d.message.contains("multi-line comment"), "{text}");
    assert!(
        d.hint.as_deref().is_some_and(|h| h.contains("*/")),
        "{text}"
    );
}
