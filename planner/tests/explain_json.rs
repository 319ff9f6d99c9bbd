//! `explain --format json` shows what runs: the physical plan's JSON has a `window` only for
//! window and session features (a session's by its gap), and `allowed_lateness_ms` only where lateness is used
//! (not for a stateless feature reading a source, which the text explain calls "no
//! lateness").

mod common;

use serde_json::Value;

/// One source, and the features a test passes (each `  - name: ...` block).
fn job(features: &str) -> String {
    format!(
        r#"name: j
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      id: string
      action: string
      amount: float
      rowtime: timestamp
    event_time: rowtime
features:
{features}sinks:
  - {{ name: out, connector: file, path: out/f.jsonl, format: json }}
"#
    )
}

/// The physical plan's JSON, one object per feature.
fn features_json(text: &str) -> Vec<Value> {
    let p = common::planned(text);
    let v = serde_json::to_value(&p.physical).unwrap();
    v["features"].as_array().unwrap().clone()
}

#[test]
fn a_stateless_feature_has_neither_window_nor_lateness() {
    let f = &features_json(&job(
        "  - name: s\n    sql: SELECT user_id, action FROM events WHERE amount > 10\n",
    ))[0];
    assert_eq!(f["kind"]["kind"], "stateless");
    assert!(f.get("window").is_none(), "{f:#}");
    assert!(f.get("allowed_lateness_ms").is_none(), "{f:#}");
}

#[test]
fn an_over_feature_shows_its_frame_and_lateness_but_no_window() {
    let fs = features_json(&job("  - name: r
    allowed_lateness: 1m
    sql: |
      SELECT user_id, TOP(5, action) OVER (PARTITION BY user_id ORDER BY rowtime
        RANGE INTERVAL '1' HOUR PRECEDING) AS recent FROM events
  - name: n
    sql: |
      SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime
        ROWS 9 PRECEDING) AS n FROM events
"));
    for f in &fs {
        assert_eq!(f["kind"]["kind"], "over");
        assert!(f.get("window").is_none(), "{f:#}");
    }
    assert_eq!(
        fs[0]["kind"]["frame"],
        serde_json::json!({ "units": "range", "preceding_ms": 3_600_000 })
    );
    assert_eq!(fs[0]["allowed_lateness_ms"], 60_000);
    assert_eq!(
        fs[1]["kind"]["frame"],
        serde_json::json!({ "units": "rows", "preceding": 9 })
    );
    assert_eq!(fs[1]["allowed_lateness_ms"], 0);
    // The state explain shows (`explain --format json` adds it as `state`).
    let p = common::planned(&job("  - name: r
    sql: SELECT user_id, TOP(5, action) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' HOUR PRECEDING) AS recent FROM events
  - name: n
    sql: SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 9 PRECEDING) AS n FROM events
  - name: s
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, SESSION(rowtime, INTERVAL '30' MINUTE)
"));
    let states: Vec<Option<String>> = p.physical.features.iter().map(|f| f.state()).collect();
    assert_eq!(
        states,
        [
            Some("rows_in_range(at_most_4_older)+lateness".into()),
            Some("last_9_rows+lateness".into()),
            Some("per_session".into())
        ]
    );
}

/// A session window is its gap (the plan's size, slide and pane of a session were
/// placeholders).
#[test]
fn a_session_window_shows_its_gap() {
    let f = &features_json(&job("  - name: s
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, SESSION(rowtime, INTERVAL '30' MINUTE)
"))[0];
    assert_eq!(
        f["window"],
        serde_json::json!({ "kind": "session", "gap_ms": 1_800_000 })
    );
}

#[test]
fn a_window_feature_keeps_its_window_and_lateness() {
    let f = &features_json(&job("  - name: w
    allowed_lateness: 10m
    sql: |
      SELECT user_id, COUNT(*) AS n FROM events
      GROUP BY user_id, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTE)
"))[0];
    assert_eq!(
        f["window"],
        serde_json::json!({ "kind": "hop", "size_ms": 1_800_000, "slide_ms": 60_000, "pane_ms": 60_000 })
    );
    assert_eq!(f["allowed_lateness_ms"], 600_000);
}

#[test]
fn a_stateless_feature_over_a_join_keeps_the_joins_lateness() {
    let f = &features_json(&job("  - name: j
    allowed_lateness: 2m
    sql: |
      SELECT a.user_id, b.action FROM events a JOIN events b
        ON a.id = b.id AND b.rowtime BETWEEN a.rowtime - INTERVAL '1' MINUTE AND a.rowtime
"))[0];
    assert_eq!(f["kind"]["kind"], "stateless");
    assert!(f.get("window").is_none(), "{f:#}");
    assert_eq!(f["allowed_lateness_ms"], 120_000);
}
