//! Interval joins and subqueries in FROM at planning time: what plans (bounds, side
//! filters, watermark delay), and every diagnostic a user can hit (snapshots reviewed by
//! hand, plus the facts that matter asserted directly).

mod common;

use std::path::Path;

use planner::join::JoinKind;
use planner::{parse_job, plan_job, ErrorKind};

const JOB: &str = r#"name: deliveries
sources:
  - name: deliveries
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      delivery_id: string!
      store_id: string
      created_at: int
      delivered_at: int
      has_create: bool
      has_dropoff: bool
      event_time: timestamp
    event_time: event_time
    watermark_delay: 5m
features:
  - name: f
    allowed_lateness: 10m
    sql: |
      SQL
sinks:
  - { name: out, connector: file, path: out/f.jsonl, format: json }
"#;

fn with_sql(sql: &str) -> String {
    common::with_sql(JOB, sql)
}

fn plan(sql: &str) -> planner::PlannedJob {
    common::planned(&with_sql(sql))
}

fn one(sql: &str) -> (planner::Diagnostic, String) {
    common::error(&with_sql(sql))
}

const ISSUE_SQL: &str = "SELECT st, AVG(w) AS asap_seconds_avg
FROM (
  SELECT r.store_id AS st, l.rowtime AS t,
         (l.delivered_at - r.created_at) / 1000.0 AS w
  FROM (SELECT delivery_id, delivered_at, rowtime FROM deliveries WHERE has_dropoff) AS l
  JOIN (SELECT delivery_id, store_id, created_at, rowtime FROM deliveries WHERE has_create) AS r
    ON l.delivery_id = r.delivery_id
   AND r.rowtime BETWEEN l.rowtime - INTERVAL '4' HOUR AND l.rowtime - INTERVAL '1' MINUTE)
GROUP BY st, HOP(t, INTERVAL '1' MINUTE, INTERVAL '20' MINUTE)";

#[test]
fn the_issue_feature_plans_with_its_bounds_and_side_filters() {
    let p = plan(ISSUE_SQL);
    let f = &p.physical.features[0];
    let j = f.join().expect("a join");
    assert_eq!(j.kind, JoinKind::Inner);
    assert_eq!(
        (j.bounds.lower_ms, j.bounds.upper_ms),
        (-4 * 3_600_000, -60_000)
    );
    assert_eq!(j.left.filter.as_ref().unwrap().to_string(), "has_dropoff");
    assert_eq!(j.right.filter.as_ref().unwrap().to_string(), "has_create");
    // The window is on the left time; a right row can only complete a pair with an older
    // left row when upper > 0, so nothing trails.
    assert_eq!(j.delay_ms, 0);
    let cols: Vec<&str> = f
        .project
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(cols, ["st", "t", "w"]);
    assert_eq!(f.event_time, 1);
}

#[test]
fn bounds_written_with_comparisons_either_way_round_are_the_same() {
    let a = plan("SELECT a.store_id AS s, COUNT(*) AS n FROM deliveries AS a JOIN deliveries AS b ON a.delivery_id = b.delivery_id AND b.rowtime >= a.rowtime - INTERVAL '5' MINUTE AND b.rowtime < a.rowtime + INTERVAL '10' MINUTE GROUP BY a.store_id, TUMBLE(a.rowtime, INTERVAL '1' HOUR)");
    let b = plan("SELECT a.store_id AS s, COUNT(*) AS n FROM deliveries AS a JOIN deliveries AS b ON b.delivery_id = a.delivery_id AND a.rowtime + INTERVAL '10' MINUTE > b.rowtime AND a.rowtime - INTERVAL '5' MINUTE <= b.rowtime GROUP BY a.store_id, TUMBLE(a.rowtime, INTERVAL '1' HOUR)");
    for p in [a, b] {
        let j = p.physical.features[0].join().unwrap().clone();
        assert_eq!((j.bounds.lower_ms, j.bounds.upper_ms), (-300_000, 599_999));
        // Window on the left time: a right row may pair with a left row up to `upper` older.
        assert_eq!(j.delay_ms, 599_999);
    }
}

#[test]
fn a_left_join_trails_by_its_upper_bound_plus_the_lateness() {
    let p = plan("SELECT c.store_id AS s, COUNT(d.delivery_id) AS n FROM deliveries AS c LEFT JOIN deliveries AS d ON c.delivery_id = d.delivery_id AND d.has_dropoff AND d.rowtime BETWEEN c.rowtime AND c.rowtime + INTERVAL '30' MINUTE WHERE c.has_create GROUP BY c.store_id, TUMBLE(c.rowtime, INTERVAL '1' HOUR)");
    let j = p.physical.features[0].join().unwrap();
    assert_eq!(j.kind, JoinKind::Left);
    assert_eq!(j.delay_ms, 30 * 60_000 + 10 * 60_000);
    // WHERE on the preserved side and ON on the other side become side filters.
    assert_eq!(j.left.filter.as_ref().unwrap().to_string(), "has_create");
    assert_eq!(j.right.filter.as_ref().unwrap().to_string(), "has_dropoff");
    assert!(j.residual.is_none() && p.physical.features[0].filter.is_none());
}

#[test]
fn a_subquery_in_from_without_a_join_plans_as_a_projection() {
    let p = plan("SELECT s, COUNT(*) AS n FROM (SELECT store_id AS s, rowtime FROM deliveries WHERE has_create) AS c GROUP BY s, TUMBLE(rowtime, INTERVAL '1' HOUR)");
    let f = &p.physical.features[0];
    assert_eq!(f.source(), Some(0));
    assert_eq!(f.filter.as_ref().unwrap().to_string(), "has_create");
    assert_eq!(f.keys[0].expr.to_string(), "s");
}

#[test]
fn a_join_without_time_bounds_is_rejected() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l JOIN deliveries AS r ON l.delivery_id = r.delivery_id\nGROUP BY l.store_id, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(d.hint.as_deref().unwrap().contains("BETWEEN"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_join_bounded_on_one_side_only_is_rejected() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime >= l.rowtime\nGROUP BY l.store_id, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(d.message.contains("no upper bound"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_join_needs_an_equality() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l JOIN deliveries AS r ON r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE\nGROUP BY l.store_id, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

#[test]
fn an_unqualified_column_of_both_sides_is_ambiguous() {
    let (d, text) = one("SELECT store_id, COUNT(*) AS n\nFROM deliveries AS l JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE\nGROUP BY store_id, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    assert_eq!(
        d.hint.as_deref(),
        Some("qualify it: `l.store_id` or `r.store_id`")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn an_unknown_qualifier_suggests_the_closest_table() {
    let (d, text) = one("SELECT lf.store_id AS s, COUNT(*) AS n\nFROM deliveries AS lft JOIN deliveries AS r ON lft.delivery_id = r.delivery_id AND r.rowtime BETWEEN lft.rowtime AND lft.rowtime + INTERVAL '1' MINUTE\nGROUP BY lft.store_id, TUMBLE(lft.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::UnknownTable);
    assert_eq!(d.hint.as_deref(), Some("did you mean `lft.store_id`?"));
    insta::assert_snapshot!(text);
}

#[test]
fn a_self_join_needs_two_aliases() {
    let (d, text) = one("SELECT COUNT(*) AS n\nFROM deliveries JOIN deliveries ON deliveries.delivery_id = deliveries.delivery_id\nGROUP BY TUMBLE(rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Syntax);
    insta::assert_snapshot!(text);
}

#[test]
fn a_window_must_be_on_a_time_attribute_of_the_join() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE\nGROUP BY l.store_id, TUMBLE(r.created_at, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(
        d.hint.as_deref(),
        Some("use one of `l.event_time`, `r.event_time`")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_left_join_feature_must_use_the_left_time() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l LEFT JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE\nGROUP BY l.store_id, TUMBLE(r.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    insta::assert_snapshot!(text);
}

/// `r.rowtime` as a value in a LEFT JOIN (r's time is no event time there): the hint
/// names the column to read it by, and that plans.
#[test]
fn the_right_rowtime_of_a_left_join_as_a_value_points_to_its_column() {
    let join = "FROM deliveries AS l LEFT JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE";
    let (d, _) = one(&format!("SELECT l.store_id AS s, r.rowtime AS t\n{join}"));
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    let hint = d.hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains("write `r.event_time`") && hint.contains("use `l.event_time`"),
        "{hint}"
    );
    plan(&format!(
        "SELECT l.store_id AS s, r.event_time AS t\n{join}"
    ));
}

/// The right side's time of a LEFT JOIN, named by its column, in a window and an OVER
/// window: each error points at it in the SQL and says why. (A stateless feature may
/// select it: it is a nullable column, and rows keep the left side's time.)
#[test]
fn the_right_time_of_a_left_join_is_located_wherever_it_is_used() {
    let join = "FROM deliveries AS l LEFT JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE";
    let cases = [
        format!("SELECT l.store_id AS s, COUNT(*) AS n\n{join}\nGROUP BY l.store_id, HOP(r.event_time, INTERVAL '1' MINUTE, INTERVAL '1' HOUR)"),
        format!("SELECT l.store_id AS s, COUNT(*) OVER (PARTITION BY l.store_id ORDER BY r.event_time RANGE INTERVAL '1' HOUR PRECEDING) AS n\n{join}"),
    ];
    let mut texts = Vec::new();
    for sql in &cases {
        let (_, text) = one(sql);
        texts.push(text);
    }
    insta::assert_snapshot!(texts.join("\n---\n"));
    assert!(
        plan(&format!(
            "SELECT l.store_id AS s, r.event_time AS t\n{join}"
        ))
        .physical
        .features[0]
            .event_time
            < 7,
        "the left time: the first 7 columns"
    );
}

#[test]
fn right_and_full_joins_are_not_supported() {
    let (d, text) = one("SELECT l.store_id AS s, COUNT(*) AS n\nFROM deliveries AS l RIGHT JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE\nGROUP BY l.store_id, TUMBLE(l.rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

#[test]
fn a_subquery_that_drops_rowtime_cannot_be_windowed() {
    let (d, text) = one("SELECT s, COUNT(*) AS n\nFROM (SELECT store_id AS s FROM deliveries) AS c\nGROUP BY s, TUMBLE(rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    insta::assert_snapshot!(text);
}

#[test]
fn an_aggregating_subquery_is_rejected() {
    let (d, text) = one("SELECT s, COUNT(*) AS n\nFROM (SELECT store_id AS s, COUNT(*) AS k, rowtime FROM deliveries GROUP BY store_id, rowtime) AS c\nGROUP BY s, TUMBLE(rowtime, INTERVAL '1' HOUR)");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

const TABLE_JOB: &str = r#"name: orders
sources:
  - name: orders
    connector: file
    path: o/*.jsonl
    format: json
    schema: { order_id: string!, store_id: string, event_time: timestamp }
    event_time: event_time
  - name: stores
    connector: file
    path: s/*.jsonl
    format: json
    schema: { store_id: string!, city: string, updated_at: timestamp }
    event_time: updated_at
    bounded: true
features:
  - name: f
    allowed_lateness: 1m
    sql: |
      SQL
sinks:
  - { name: out, connector: file, path: out/f.jsonl, format: json }
"#;

fn table_job(sql: &str) -> Result<planner::PlannedJob, (planner::Diagnostic, String)> {
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    let text = TABLE_JOB.replace("      SQL\n", &body);
    let job = parse_job(Path::new("job.yaml"), &text).map_err(|d| {
        let s = d.to_string();
        (d.0.into_iter().next().unwrap(), s)
    })?;
    plan_job(&job).map_err(|d| {
        let s = d.to_string();
        (d.0.into_iter().next().unwrap(), s)
    })
}

#[test]
fn a_bounded_table_joins_without_time_bounds() {
    let p = table_job("SELECT s.city, COUNT(*) AS n FROM orders AS o JOIN stores AS s ON o.store_id = s.store_id GROUP BY s.city, TUMBLE(o.rowtime, INTERVAL '1' MINUTE)").unwrap();
    let j = p.physical.features[0].join().unwrap();
    assert!(j.table);
    assert_eq!(j.delay_ms, 0);
    assert!(p.physical.sources[1].source.bounded);
}

#[test]
fn a_bounded_table_on_the_left_is_rejected_with_a_hint() {
    let (d, text) = table_job("SELECT s.city, COUNT(*) AS n\nFROM stores AS s JOIN orders AS o ON o.store_id = s.store_id\nGROUP BY s.city, TUMBLE(o.rowtime, INTERVAL '1' MINUTE)").unwrap_err();
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(d.hint.as_deref().unwrap().contains("right side"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_feature_cannot_use_the_tables_time() {
    let (d, text) = table_job("SELECT s.city, COUNT(*) AS n\nFROM orders AS o JOIN stores AS s ON o.store_id = s.store_id\nGROUP BY s.city, TUMBLE(s.rowtime, INTERVAL '1' MINUTE)").unwrap_err();
    assert_eq!(d.kind, ErrorKind::UnknownColumn);
    insta::assert_snapshot!(text);
}

#[test]
fn only_file_and_s3_sources_can_be_bounded() {
    let text = TABLE_JOB
        .replace(
            "connector: file\n    path: s/*.jsonl",
            "connector: kafka\n    cluster: local\n    topic: stores",
        )
        .replace("      SQL\n", "      SELECT order_id FROM orders\n");
    let infra = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/infra/local.yaml"
    ))
    .unwrap();
    let infra = planner::job::parse_infra(Path::new("local.yaml"), &infra, |_| None).unwrap();
    let d = planner::job::parse_job_with_infra(Path::new("job.yaml"), &text, Some(infra))
        .expect_err("a bounded kafka source");
    let rendered = d.to_string();
    assert!(rendered.contains("cannot be bounded"), "{rendered}");
}

/// Time bounds add their intervals with overflow checks: two intervals that together
/// pass 64-bit milliseconds are an error at the bound, not a wrapped offset.
#[test]
fn a_time_bound_past_64_bit_milliseconds_is_an_error() {
    let sql = ISSUE_SQL.replace(
        "l.rowtime - INTERVAL '4' HOUR",
        "l.rowtime - INTERVAL '106751991167' DAY - INTERVAL '1' DAY",
    );
    let (d, _) = one(&sql);
    assert_eq!(d.kind, ErrorKind::Syntax);
    assert!(d.message.contains("time bound too far"), "{}", d.message);
}

/// OVER aggregates over an inner join's rows, ordered by different sides' times, are two
/// windows (an error), not one ordered by the last call's time (a review found that the
/// planned comparison of windows had left the ORDER BY out).
#[test]
fn over_windows_ordered_by_different_times_are_different_windows() {
    let join = "FROM deliveries AS l JOIN deliveries AS r ON l.delivery_id = r.delivery_id AND r.rowtime BETWEEN l.rowtime AND l.rowtime + INTERVAL '1' MINUTE";
    let over = |t: &str| {
        format!("OVER (PARTITION BY l.store_id ORDER BY {t}.event_time ROWS 2 PRECEDING)")
    };
    let (d, text) = one(&format!(
        "SELECT l.store_id AS s, COUNT(*) {} AS n, COUNT(*) {} AS m\n{join}",
        over("l"),
        over("r")
    ));
    assert_eq!(d.kind, planner::ErrorKind::InvalidWindow, "{text}");
    assert!(d.message.contains("must use the same window"), "{text}");
    plan(&format!(
        "SELECT l.store_id AS s, COUNT(*) {} AS n, COUNT(*) {} AS m\n{join}",
        over("r"),
        over("r")
    ));
}
