//! Which window state the planner picks: running sums when every aggregate can be
//! subtracted exactly (COUNT, COUNT(x), integer SUM), panes otherwise; `explain` shows it.

mod common;

use common::{planned, with_sql};

const JOB: &str = r#"name: w
sources:
  - name: s
    connector: file
    path: x.jsonl
    format: json
    schema: { k: string, n: int, f: float, t: timestamp }
    event_time: t
features:
  - name: w
    sql: |
      SQL
sinks:
  - { name: o, connector: file, path: o.jsonl }
"#;

fn state(aggs: &str) -> (bool, String) {
    let sql = format!(
        "SELECT k, {aggs} FROM s GROUP BY k, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES)"
    );
    let p = planned(&with_sql(JOB, &sql));
    let explained = p.physical.to_string();
    let state = explained
        .split_whitespace()
        .find_map(|w| w.strip_prefix("state="))
        .expect("explain names the window state")
        .to_string();
    (p.physical.features[0].running_sums(), state)
}

#[test]
fn counts_and_integer_sums_run_as_running_sums() {
    for aggs in [
        "COUNT(*) AS c",
        "COUNT(n) AS c",
        "SUM(n) AS s",
        "COUNT(*) AS c, SUM(n) AS s, COUNT(f) AS cf",
    ] {
        assert_eq!(state(aggs), (true, "running_sums".into()), "{aggs}");
    }
}

#[test]
fn float_sums_averages_and_extrema_keep_panes() {
    for aggs in [
        "SUM(f) AS s",
        "AVG(n) AS a",
        "MIN(n) AS m",
        "MAX(k) AS m",
        "COUNT(DISTINCT k) AS d",
        "COUNT(*) AS c, AVG(f) AS a",
    ] {
        assert_eq!(state(aggs), (false, "per_pane".into()), "{aggs}");
    }
}
