//! Output names a sink writes itself: a DynamoDB item's `pk` and `ttl` (found by QA: a
//! value column of either name was dropped silently); `ttl: 0` on a store sink.

use std::path::Path;

use planner::job::{parse_infra, parse_job_with_infra};

const JOB: &str = r#"name: names
sources:
  - name: ev
    connector: file
    path: in/*.jsonl
    format: json
    schema: { user_id: string, amt: float, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    sql: |
      SQL
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
  - { name: online, connector: redis, store: features }
  - { name: table, connector: dynamodb, aws: local, table: features }
"#;

fn plan(sql: &str, extra: &str) -> Result<planner::PlannedJob, planner::Diagnostics> {
    let infra = parse_infra(
        Path::new("local.yaml"),
        "aws:\n  local: { region: us-east-1, endpoint: \"http://127.0.0.1:5000\" }\nredis:\n  features: { url: \"redis://127.0.0.1:6379\" }\n",
        |_| None,
    )
    .unwrap();
    let text = JOB
        .replace("      SQL\n", &format!("      {sql}\n"))
        .replace("  - name: f\n", &format!("  - name: f\n{extra}"));
    let job = parse_job_with_infra(Path::new("job.yaml"), &text, Some(infra))?;
    planner::plan_job(&job)
}

#[test]
fn pk_and_ttl_are_errors_for_a_feature_going_to_dynamodb() {
    let grouped = "SELECT user_id, COUNT(*) AS pk FROM ev GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)";
    let stateless = "SELECT user_id, amt AS ttl FROM ev";
    for (sql, name, column) in [(grouped, "pk", 23), (stateless, "ttl", 23)] {
        let d = plan(sql, "").expect_err("a DynamoDB attribute name");
        assert_eq!(d.0.len(), 1, "{d}");
        let d = &d.0[0];
        assert_eq!(
            d.message,
            format!("feature `f`: output column `{name}` of feature `f` would be dropped by DynamoDB sink `table`"),
            "{d}"
        );
        let l = d.location.as_ref().expect("a location");
        assert_eq!(
            (l.file.as_path(), l.line, l.column),
            (Path::new("job.yaml"), 12, column),
            "{d}"
        );
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("rename the column with AS"),
            "{d}"
        );
    }
    // Not going to the DynamoDB sink, or another case (DynamoDB names are case-sensitive):
    // no conflict.
    plan(grouped, "    sinks: [out, online]\n").unwrap_or_else(|d| panic!("{d}"));
    plan(&stateless.replace("AS ttl", "AS \"TTL\""), "").unwrap_or_else(|d| panic!("{d}"));
}

/// `_run`, the run that wrote a value, is a field of Redis hashes and an attribute of
/// DynamoDB items: a value column of that name going to either is an error.
#[test]
fn run_is_an_error_for_a_feature_going_to_a_store() {
    let sql = "SELECT user_id, amt AS _run FROM ev";
    for (sinks, kind, sink) in [
        ("    sinks: [out, online]\n", "Redis", "online"),
        ("    sinks: [table]\n", "DynamoDB", "table"),
    ] {
        let d = plan(sql, sinks).expect_err("a store's own name");
        assert_eq!(
            d.0[0].message,
            format!("feature `f`: output column `_run` of feature `f` would be dropped by {kind} sink `{sink}`"),
            "{d}"
        );
    }
    plan(sql, "    sinks: [out]\n").unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_ttl_of_zero_is_an_error_with_a_hint() {
    for sink in [
        "redis, store: features",
        "dynamodb, aws: local, table: features",
    ] {
        let infra = parse_infra(
            Path::new("local.yaml"),
            "aws:\n  local: { region: us-east-1 }\nredis:\n  features: { url: \"redis://127.0.0.1:6379\" }\n",
            |_| None,
        )
        .unwrap();
        let text = JOB
            .replace("      SQL\n", "      SELECT user_id, amt FROM ev\n")
            .replace(
                "  - { name: out, connector: file, path: out/f.jsonl }\n",
                &format!("  - {{ name: s, connector: {sink}, ttl: 0s }}\n"),
            );
        let text = text.split("  - { name: online").next().unwrap().to_string();
        let d =
            parse_job_with_infra(Path::new("job.yaml"), &text, Some(infra)).expect_err("ttl: 0s");
        let d = &d.0[0];
        assert!(
            d.message
                .contains("sink `s`: `ttl: 0` would mean values never expire"),
            "{d}"
        );
        assert!(
            d.hint.as_deref().unwrap().starts_with("leave out `ttl`"),
            "{d}"
        );
        assert_eq!(d.location.as_ref().map(|l| l.line), Some(14), "{d}");
    }
}
