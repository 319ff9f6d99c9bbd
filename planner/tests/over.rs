//! OVER aggregations and stateless features: how they plan (logical and physical), and the
//! diagnostics for what is not supported.

mod common;

use planner::over::{OverFrame, OverFunc};
use planner::physical::FeatureKind;
use planner::{DataType, ErrorKind};

fn job(sql: &str) -> String {
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"name: fraud
sources:
  - name: event_user_action
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      device: string
      action: string
      amount: float
      skipped: string
      rowtime: timestamp
    event_time: rowtime
    watermark_delay: 5s
features:
  - name: f
    allowed_lateness: 1m
    sql: |
{body}sinks:
  - {{ name: out, connector: file, path: out/f.jsonl, format: json }}
"#
    )
}

fn planned(sql: &str) -> planner::PlannedJob {
    common::planned(&job(sql))
}

fn error(sql: &str) -> (planner::Diagnostic, String) {
    common::error(&job(sql))
}

#[test]
fn top_over_a_range_plans_as_an_over_feature() {
    let p = planned(
        "SELECT user_id,\n       TOP(2000, action) OVER (PARTITION BY user_id ORDER BY rowtime\n                               RANGE INTERVAL '90' DAY PRECEDING) AS recent_actions\nFROM event_user_action",
    );
    let f = &p.physical.features[0];
    let FeatureKind::Over(o) = &f.kind else {
        panic!("not an OVER feature: {:?}", f.kind)
    };
    assert_eq!(
        o.frame,
        OverFrame::Range {
            preceding_ms: 90 * 86_400_000
        }
    );
    assert_eq!(o.aggs.len(), 1);
    assert_eq!(o.aggs[0].func, OverFunc::Top(2000));
    assert_eq!(o.aggs[0].ty, DataType::Array);
    assert_eq!(o.keys.len(), 1);
    assert_eq!(f.keys.len(), 1, "the partition key is the exchange key");
    // user_id is carried from the current row; action is an aggregate argument.
    assert_eq!(o.carried, vec![0]);
    assert_eq!(f.outputs[1].ty, DataType::Array);
    // Only the needed columns are decoded (plus required ones and the event time).
    let needed = &p.physical.sources[0].needed;
    assert_eq!(needed, &vec![true, false, true, false, false, true]);
    insta::assert_snapshot!(format!("{}\n\n{}", p.logical[0].plan, p.physical));
}

#[test]
fn several_over_aggregates_with_a_filter_and_two_partition_keys() {
    let p = planned(
        "SELECT user_id, device, amount,\n  COUNT(*) OVER w1 AS n\nFROM event_user_action"
            .replace(
                "OVER w1",
                "OVER (PARTITION BY user_id, device ORDER BY rowtime ROWS 3 PRECEDING)",
            )
            .replace(
                "AS n\n",
                "AS n, SUM(amount) OVER (PARTITION BY user_id, device ORDER BY rowtime ROWS 3 PRECEDING) + 1 AS s1,\n  LAST_N(2, action) OVER (PARTITION BY user_id, device ORDER BY rowtime ROWS 3 PRECEDING) AS last2\n",
            )
            .replace("FROM event_user_action", "FROM event_user_action WHERE action <> 'noop'")
            .as_str(),
    );
    let f = &p.physical.features[0];
    let o = f.over().expect("an OVER feature");
    assert_eq!(o.frame, OverFrame::Rows { preceding: 3 });
    assert_eq!(o.keys.len(), 2);
    assert_eq!(o.aggs.len(), 3);
    assert!(f.filter.is_some());
    assert_eq!(o.max_rows(), Some(4));
    insta::assert_snapshot!(p.physical.to_string());
}

#[test]
fn a_query_without_group_by_or_over_is_stateless() {
    let sql = "SELECT CONCAT_WS(' ', user_id, CAST(amount AS STRING)) AS key, action AS value\nFROM event_user_action WHERE action IS NOT NULL";
    let p = common::planned(&without_lateness(&job(sql)));
    let f = &p.physical.features[0];
    assert!(matches!(f.kind, FeatureKind::Stateless));
    assert!(f.keys.is_empty() && f.aggs.is_empty());
    insta::assert_snapshot!(p.physical.to_string());
}

/// The job without its feature's `allowed_lateness: 1m`.
fn without_lateness(job: &str) -> String {
    let text = job.replace("    allowed_lateness: 1m\n", "");
    assert_ne!(text, job);
    text
}

#[test]
fn allowed_lateness_on_a_stateless_feature_is_an_error_at_the_key() {
    let (d, text) = error("SELECT user_id, action FROM event_user_action");
    assert_eq!(d.kind, ErrorKind::Config);
    assert!(
        d.message
            .contains("`allowed_lateness` has no effect on a stateless feature"),
        "{text}"
    );
    assert_eq!(common::line_col(&d), (18, 5), "{text}");
    assert_eq!(
        d.hint.as_deref(),
        Some("remove `allowed_lateness:` from this feature")
    );
    insta::assert_snapshot!(text);
    // `0s`, the default, says what happens and is accepted; so is lateness on an OVER feature.
    let zero = job("SELECT user_id, action FROM event_user_action")
        .replace("allowed_lateness: 1m", "allowed_lateness: 0s");
    common::planned(&zero);
    planned("SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS n\nFROM event_user_action");
}

#[test]
fn over_ordered_by_another_column_is_rejected() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY amount ROWS 2 PRECEDING) AS n\nFROM event_user_action",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert!(d.hint.as_deref().unwrap().contains("ORDER BY rowtime"));
    insta::assert_snapshot!(text);
}

#[test]
fn following_frames_are_rejected() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime\n  ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS n\nFROM event_user_action",
    );
    assert_eq!(d.kind, ErrorKind::Unsupported);
    insta::assert_snapshot!(text);
}

/// A named window (`WINDOW w AS (...)`) is pointed at, with the inline form as the hint.
#[test]
fn named_windows_are_rejected_with_the_inline_form() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) OVER w AS n\nFROM event_user_action\nWINDOW w AS (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' HOUR PRECEDING)",
    );
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(
        d.message.contains("named windows (`WINDOW w AS (...)`)"),
        "{text}"
    );
    assert!(
        d.hint.as_deref().unwrap().contains("instead of `OVER w`"),
        "{text}"
    );
    let snippet = d.snippet.as_deref().unwrap();
    assert!(
        snippet.contains("WINDOW w AS"),
        "points at the WINDOW clause: {text}"
    );
}

#[test]
fn mixed_window_specs_are_rejected() {
    let (d, text) = error(
        "SELECT user_id,\n  COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS n,\n  MAX(amount) OVER (PARTITION BY user_id ORDER BY rowtime RANGE INTERVAL '1' HOUR PRECEDING) AS m\nFROM event_user_action",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    let loc = d.location.as_ref().unwrap();
    assert_eq!(loc.line, 22, "points at the second OVER call");
    insta::assert_snapshot!(text);
}

#[test]
fn unbounded_and_missing_frames_are_rejected() {
    for sql in [
        "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime) AS n\nFROM event_user_action",
        "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime RANGE UNBOUNDED PRECEDING) AS n\nFROM event_user_action",
    ] {
        let (d, _) = error(sql);
        assert_eq!(d.kind, ErrorKind::InvalidWindow, "{sql}");
        assert!(d.hint.as_deref().unwrap().contains("PRECEDING"));
    }
}

#[test]
fn the_partition_key_must_be_selected() {
    let (d, text) = error(
        "SELECT action, COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS n\nFROM event_user_action",
    );
    assert_eq!(d.kind, ErrorKind::KeyNotSelected);
    insta::assert_snapshot!(text);
}

#[test]
fn over_only_functions_need_over_and_over_needs_no_group_by() {
    let (d, _) = error("SELECT user_id, TOP(3, action) AS t\nFROM event_user_action");
    assert_eq!(d.kind, ErrorKind::Unsupported);
    assert!(d.message.contains("needs an OVER window"), "{}", d.message);
    let (d, _) = error(
        "SELECT user_id, TOP(3, action) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS t\nFROM event_user_action\nGROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)",
    );
    assert!(d.message.contains("OVER"), "{}", d.message);
    let (d, _) = error(
        "SELECT user_id, SUM(action) OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING) AS t\nFROM event_user_action",
    );
    assert_eq!(d.kind, ErrorKind::TypeMismatch);
    // Aggregates without OVER and without a window keep their diagnostic.
    let (d, _) = error("SELECT user_id, COUNT(*) AS n\nFROM event_user_action");
    assert!(
        d.message
            .contains("must aggregate over an event-time window"),
        "{}",
        d.message
    );
}

/// What a call may carry besides its arguments is an error, not dropped: `IGNORE NULLS`
/// (after the call or inside it), `ORDER BY` inside the parentheses, `WITHIN GROUP`.
/// `ARRAY_AGG(x) IGNORE NULLS OVER (...)` used to keep the NULLs. `RESPECT NULLS`, the
/// default, plans.
#[test]
fn null_treatment_and_ordering_inside_a_call_are_errors() {
    let over = "OVER (PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING)";
    for (call, what) in [
        ("ARRAY_AGG(action) IGNORE NULLS", "IGNORE NULLS"),
        ("ARRAY_AGG(action IGNORE NULLS)", "IGNORE NULLS"),
        ("TOP(2, action) IGNORE NULLS", "IGNORE NULLS"),
        ("ARRAY_AGG(action ORDER BY amount DESC)", "ORDER BY"),
        ("MAX(amount ORDER BY action)", "ORDER BY"),
    ] {
        let (d, text) = error(&format!(
            "SELECT user_id,\n  {call} {over} AS a\nFROM event_user_action"
        ));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{call}\n{text}");
        assert!(d.message.contains(what), "{call}\n{text}");
        assert_eq!(d.location.as_ref().unwrap().line, 21, "{call}\n{text}");
    }
    planned(&format!(
        "SELECT user_id,\n  ARRAY_AGG(action) RESPECT NULLS {over} AS a\nFROM event_user_action"
    ));
    // In a group window's aggregate and in a scalar function too.
    let rides = common::rides::with_sql(
        "SELECT geohash, MAX(fare) WITHIN GROUP (ORDER BY fare) AS m\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)",
    );
    let (d, text) = common::error(&rides);
    assert!(d.message.contains("WITHIN GROUP"), "{text}");
    let rides = common::rides::with_sql(
        "SELECT geohash, MAX(fare + CHAR_LENGTH(UPPER(action ORDER BY fare))) AS m\nFROM events\nGROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)",
    );
    let (d, text) = common::error(&rides);
    assert!(d.message.contains("ORDER BY"), "{text}");
}

/// OVER windows written differently but equal plan as one window: they used to be
/// compared as text and rejected as "different windows". Different frames or partition
/// keys are still rejected.
#[test]
fn equal_over_windows_written_differently_are_one_window() {
    for (a, b) in [
        (
            "ROWS 2 PRECEDING",
            "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW",
        ),
        (
            "RANGE INTERVAL '1' MINUTE PRECEDING",
            "RANGE BETWEEN INTERVAL '60' SECOND PRECEDING AND CURRENT ROW",
        ),
    ] {
        let p = planned(&format!(
            "SELECT user_id,\n  COUNT(*) OVER (PARTITION BY user_id ORDER BY rowtime {a}) AS n,\n  MAX(amount) OVER (PARTITION BY `user_id` ORDER BY rowtime {b}) AS m\nFROM event_user_action"
        ));
        let FeatureKind::Over(o) = &p.physical.features[0].kind else {
            panic!("not OVER")
        };
        assert_eq!(o.aggs.len(), 2, "{a} / {b}");
    }
    for (a, b) in [
        (
            "PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING",
            "PARTITION BY user_id ORDER BY rowtime ROWS 3 PRECEDING",
        ),
        (
            "PARTITION BY user_id ORDER BY rowtime ROWS 2 PRECEDING",
            "PARTITION BY device ORDER BY rowtime ROWS 2 PRECEDING",
        ),
    ] {
        let (d, text) = error(&format!(
            "SELECT user_id,\n  COUNT(*) OVER ({a}) AS n,\n  MAX(amount) OVER ({b}) AS m\nFROM event_user_action"
        ));
        assert_eq!(d.kind, ErrorKind::InvalidWindow, "{text}");
        assert!(d.message.contains("must use the same window"), "{text}");
    }
}
