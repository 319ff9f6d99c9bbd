//! UNION ALL (in a subquery in FROM) and SELECT DISTINCT at planning time: what plans, and
//! every diagnostic (snapshots reviewed by hand).

mod common;

use std::path::Path;

use planner::physical::FeatureInput;
use planner::{parse_job, plan_job, ErrorKind};

const JOB: &str = r#"name: u
sources:
  - name: app
    connector: file
    path: a/*.jsonl
    format: json
    schema: { user_id: string!, action: string, n: int, event_time: timestamp }
    event_time: event_time
  - name: web
    connector: file
    path: w/*.jsonl
    format: json
    schema: { user: string!, action: string, n: float, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    allowed_lateness: 1m
    sql: |
      SQL
sinks:
  - { name: out, connector: file, path: out/f.jsonl, format: json }
"#;

fn with_sql(sql: &str) -> String {
    common::with_sql(JOB, sql)
}

fn one(sql: &str) -> (planner::Diagnostic, String) {
    common::error(&with_sql(sql))
}

#[test]
fn a_union_all_reads_each_source_through_its_branch() {
    let job = parse_job(
        Path::new("job.yaml"),
        &with_sql("SELECT u, COUNT(*) AS c FROM (SELECT user_id AS u, rowtime FROM app WHERE action = 'x' UNION ALL SELECT `user` AS u, rowtime FROM web) AS t WHERE u <> 'bot' GROUP BY u, TUMBLE(rowtime, INTERVAL '1' MINUTE)"),
    )
    .unwrap();
    let p = plan_job(&job).unwrap();
    let f = &p.physical.features[0];
    let FeatureInput::Union { branches } = &f.input else {
        panic!("{:?}", f.input)
    };
    assert_eq!(
        branches.iter().map(|b| b.source).collect::<Vec<_>>(),
        [0, 1]
    );
    // The outer WHERE is composed into each branch's filter, over that source's columns.
    assert_eq!(
        branches[0].filter.as_ref().unwrap().to_string(),
        "((action = 'x') AND (user_id <> 'bot'))"
    );
    assert_eq!(
        branches[1].filter.as_ref().unwrap().to_string(),
        "(user <> 'bot')"
    );
    // Both sources decode only what the branches read.
    assert_eq!(p.physical.sources[1].needed, [true, false, false, true]);
}

#[test]
fn union_branches_must_have_the_same_columns() {
    let (d, text) = one("SELECT u, COUNT(*) AS c\nFROM (SELECT user_id AS u, rowtime FROM app UNION ALL SELECT `user` AS u, action, rowtime FROM web) AS t\nGROUP BY u, TUMBLE(rowtime, INTERVAL '1' MINUTE)");
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    insta::assert_snapshot!(text);
}

#[test]
fn union_branches_must_have_the_same_types() {
    let (d, text) = one("SELECT u, SUM(n) AS s\nFROM (SELECT user_id AS u, n, rowtime FROM app UNION ALL SELECT `user` AS u, n, rowtime FROM web) AS t\nGROUP BY u, TUMBLE(rowtime, INTERVAL '1' MINUTE)");
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    assert_eq!(d.hint.as_deref(), Some("CAST(`n` AS int)"));
    insta::assert_snapshot!(text);
}

#[test]
fn union_without_all_is_rejected() {
    let (d, text) = one("SELECT u, COUNT(*) AS c\nFROM (SELECT user_id AS u, rowtime FROM app UNION SELECT `user` AS u, rowtime FROM web) AS t\nGROUP BY u, TUMBLE(rowtime, INTERVAL '1' MINUTE)");
    assert_eq!(d.hint.as_deref(), Some("write UNION ALL"));
    insta::assert_snapshot!(text);
}

#[test]
fn a_top_level_union_points_to_a_subquery() {
    let (d, text) = one("SELECT user_id AS u FROM app\nUNION ALL\nSELECT `user` AS u FROM web");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

#[test]
fn select_distinct_groups_by_the_selected_columns_of_a_window() {
    let job = parse_job(
        Path::new("job.yaml"),
        &with_sql("SELECT DISTINCT user_id, action, window_start, window_end FROM TABLE(TUMBLE(TABLE app, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))"),
    )
    .unwrap();
    let p = plan_job(&job).unwrap();
    let keys: Vec<String> = p.physical.features[0]
        .keys
        .iter()
        .map(|k| k.expr.to_string())
        .collect();
    assert_eq!(keys, ["user_id", "action"]);
    assert!(p.physical.features[0].aggs.is_empty());
}

#[test]
fn select_distinct_without_a_window_is_rejected() {
    let (d, text) = one("SELECT DISTINCT user_id, action FROM app");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}
