//! The rides job of the diagnostics tests: one source, one TUMBLE feature whose SQL a
//! test replaces, and helpers that expect it to fail.

use std::path::Path;

use planner::{parse_job, plan_job, Diagnostics};

pub const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      geohash: string
      action: string
      fare: float
      event_time: timestamp
    event_time: event_time
    watermark_delay: 5m
features:
  - name: f
    type: int
    allowed_lateness: 1h
    sql: |
      SELECT geohash, COUNT(*) AS rides
      FROM events WHERE action = 'request_ride'
      GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl, format: json }
"#;

/// Replaces the feature's SQL (three lines at lines 20-22 of the job).
pub fn with_sql(sql: &str) -> String {
    let start = JOB.find("      SELECT geohash, COUNT(*)").unwrap();
    let end = JOB.find("sinks:").unwrap();
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    format!("{}{}{}", &JOB[..start], body, &JOB[end..])
}

pub fn errors(text: &str) -> Diagnostics {
    match parse_job(Path::new("job.yaml"), text) {
        Err(d) => d,
        Ok(job) => plan_job(&job).expect_err("the job should not plan"),
    }
}

pub fn one(text: &str) -> (planner::Diagnostic, String) {
    let d = errors(text);
    assert_eq!(d.0.len(), 1, "{d}");
    let rendered = d.to_string();
    (d.0.into_iter().next().unwrap(), rendered)
}
