//! Helpers shared by the planner's integration tests: plan a job text, or get its single
//! diagnostic (and the diagnostic rendered as the user sees it).

#![allow(dead_code)]

pub mod rides;

use std::path::Path;

use planner::{parse_job, plan_job, Diagnostic, PlannedJob};

/// `template` with its `      SQL\n` line replaced by `sql`, indented as a YAML block.
pub fn with_sql(template: &str, sql: &str) -> String {
    let body: String = sql.lines().map(|l| format!("      {l}\n")).collect();
    assert!(
        template.contains("      SQL\n"),
        "the template has no SQL line"
    );
    template.replace("      SQL\n", &body)
}

/// Parses and plans a job; panics with the diagnostics if it does not plan.
pub fn planned(text: &str) -> PlannedJob {
    let job = parse_job(Path::new("job.yaml"), text).unwrap_or_else(|d| panic!("{d}"));
    plan_job(&job).unwrap_or_else(|d| panic!("{d}"))
}

/// The one diagnostic of a job that parses but does not plan, and its rendering.
pub fn error(text: &str) -> (Diagnostic, String) {
    let job = parse_job(Path::new("job.yaml"), text).unwrap_or_else(|d| panic!("{d}"));
    let d = plan_job(&job).expect_err("the job should not plan");
    assert_eq!(d.0.len(), 1, "{d}");
    let rendered = d.to_string();
    (d.0.into_iter().next().unwrap(), rendered)
}

/// Line and column of a diagnostic.
pub fn line_col(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.as_ref().expect("a location");
    (l.line, l.column)
}
