//! SESSION windows: how the GROUP BY form and the table-function form plan (logical and
//! physical, snapshot), and the diagnostics for what is not allowed (snapshot, with the
//! facts that matter asserted directly).

mod common;

use planner::physical::FeatureKind;
use planner::window::WindowKind;
use planner::ErrorKind;

fn job(sql: &str) -> String {
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"name: sessions
sources:
  - name: clicks
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      page: string
      amount: float
      ts: timestamp
    event_time: ts
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
fn group_by_session_plans_as_a_session_feature() {
    let p = planned(
        "SELECT user_id, COUNT(*) AS clicks, SUM(amount) AS spent,\n       SESSION_START(rowtime, INTERVAL '30' MINUTE) AS started,\n       SESSION_END(ts, INTERVAL '30' MINUTES) AS ended\nFROM clicks\nGROUP BY user_id, SESSION(rowtime, INTERVAL '30' MINUTE)\nHAVING COUNT(*) > 1",
    );
    let f = &p.physical.features[0];
    assert!(matches!(f.kind, FeatureKind::Session), "{:?}", f.kind);
    assert_eq!(f.window.kind, WindowKind::Session);
    assert_eq!(f.window.session_gap_ms(), Some(30 * 60_000));
    assert!(f.having.is_some());
    insta::assert_snapshot!(format!("{}\n\n{}", p.logical[0].plan, p.physical));
}

#[test]
fn the_session_table_function_takes_partition_by() {
    for sql in [
        "SELECT user_id, COUNT(*) AS clicks, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(rowtime), INTERVAL '30' MINUTES))\nGROUP BY user_id, window_start, window_end",
        "SELECT page, user_id, COUNT(*) AS clicks, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks PARTITION BY (user_id, page), DESCRIPTOR(ts), INTERVAL '30' MINUTES))\nGROUP BY page, user_id, window_start, window_end",
        "SELECT COUNT(*) AS clicks, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks, DESCRIPTOR(rowtime), INTERVAL '30' MINUTES))\nGROUP BY window_start, window_end",
    ] {
        let p = planned(sql);
        let f = &p.physical.features[0];
        assert!(matches!(f.kind, FeatureKind::Session), "{sql}");
        assert_eq!(f.window.session_gap_ms(), Some(30 * 60_000));
    }
    let p = planned(
        "SELECT user_id, COUNT(*) AS clicks, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(rowtime), INTERVAL '30' MINUTES))\nGROUP BY user_id, window_start, window_end",
    );
    insta::assert_snapshot!(p.physical.to_string());
}

#[test]
fn a_session_gap_must_be_positive() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n\nFROM clicks\nGROUP BY user_id, SESSION(rowtime, INTERVAL '0' MINUTES)",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(common::line_col(&d), (20, 51), "at the gap");
    assert!(d.hint.as_deref().unwrap().contains("positive gap"));
    insta::assert_snapshot!(text);
}

#[test]
fn a_session_must_be_on_the_event_time_attribute() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n\nFROM clicks\nGROUP BY user_id, SESSION(amount, INTERVAL '5' MINUTES)",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(d.hint.as_deref(), Some("use `rowtime` or `ts`"));
    insta::assert_snapshot!(text);
}

#[test]
fn session_takes_one_interval() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n\nFROM clicks\nGROUP BY user_id, SESSION(rowtime, INTERVAL '5' MINUTES, INTERVAL '1' HOUR)",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    insta::assert_snapshot!(text);
}

/// The hint of the table-function form shows `PARTITION BY` as written (it showed the
/// planner's marker: `TABLE clicks = user_id`; found by QA).
#[test]
fn the_session_table_function_hint_keeps_partition_by() {
    for (partition, shown) in [
        ("user_id", "user_id"),
        ("(user_id, page)", "(user_id, page)"),
    ] {
        let (d, text) = error(&format!(
            "SELECT user_id, COUNT(*) AS n, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks PARTITION BY {partition}, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL '1' HOUR))\nGROUP BY user_id, window_start, window_end"
        ));
        assert_eq!(d.kind, ErrorKind::InvalidWindow, "{text}");
        assert_eq!(
            d.hint.as_deref(),
            Some(format!("write SESSION(TABLE clicks PARTITION BY {shown}, DESCRIPTOR(ts), INTERVAL '30' MINUTES) (the gap)").as_str()),
            "{text}"
        );
    }
}

#[test]
fn session_end_must_repeat_the_gap() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n, SESSION_END(rowtime, INTERVAL '10' MINUTES) AS e\nFROM clicks\nGROUP BY user_id, SESSION(rowtime, INTERVAL '5' MINUTES)",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    insta::assert_snapshot!(text);
}

#[test]
fn the_session_table_function_partitions_by_the_grouping_keys() {
    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks, DESCRIPTOR(rowtime), INTERVAL '5' MINUTES))\nGROUP BY user_id, window_start, window_end",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert!(d.hint.as_deref().unwrap().contains("PARTITION BY user_id"));
    insta::assert_snapshot!(text);

    let (d, text) = error(
        "SELECT user_id, COUNT(*) AS n, window_start, window_end\nFROM TABLE(SESSION(TABLE clicks PARTITION BY page, DESCRIPTOR(rowtime), INTERVAL '5' MINUTES))\nGROUP BY user_id, window_start, window_end",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(common::line_col(&d), (19, 52), "at `page`");
    insta::assert_snapshot!("partition_key_not_grouped", text);

    let (d, _) = error(
        "SELECT user_id, COUNT(*) AS n, window_start, window_end\nFROM TABLE(TUMBLE(TABLE clicks PARTITION BY user_id, DESCRIPTOR(rowtime), INTERVAL '5' MINUTES))\nGROUP BY user_id, window_start, window_end",
    );
    assert_eq!(d.kind, ErrorKind::InvalidWindow);
    assert_eq!(d.message, "feature `f`: TUMBLE takes no PARTITION BY");
}
