//! S3 sources in a job: the formats they read, and keys that belong to other formats.

use std::path::Path;

use planner::job::{parse_infra, parse_job_with_infra, Format};

const JOB: &str = r#"name: history
sources:
  - name: events
    connector: s3
    aws: local
    bucket: history
    prefix: events/
    format: parquet
    schema: { user_id: string, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#;

fn parse(text: &str) -> Result<planner::Job, planner::Diagnostics> {
    let infra = parse_infra(
        Path::new("local.yaml"),
        "aws:\n  local: { region: us-east-1, endpoint: \"http://127.0.0.1:5000\" }\n",
        |_| None,
    )
    .unwrap();
    parse_job_with_infra(Path::new("job.yaml"), text, Some(infra))
}

#[test]
fn an_s3_source_reads_parquet_objects() {
    let job = parse(JOB).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(job.sources[0].format, Format::Parquet);
}

/// Parquet pages carry their own compression: `compression:` is an error at its key.
#[test]
fn compression_is_not_for_parquet() {
    let text = JOB.replace(
        "    format: parquet\n",
        "    format: parquet\n    compression: gzip\n",
    );
    let d = parse(&text).expect_err("compression with parquet");
    let d = &d.0[0];
    assert!(
        d.message.contains(
            "source `events` has format parquet, whose pages carry their own compression"
        ),
        "{d}"
    );
    let at = d.location.as_ref().map(|l| (l.line, l.column));
    assert_eq!(at, Some((9, 5)), "{d}");
    // JSON objects may be gzipped.
    parse(&text.replace("format: parquet", "format: json")).unwrap_or_else(|d| panic!("{d}"));
}

/// Avro on an S3 source: the hint names the formats objects can have, parquet too.
#[test]
fn avro_objects_are_an_error_naming_every_object_format() {
    let d = parse(&JOB.replace(
        "format: parquet",
        "format: avro\n    schema_file: event.avsc",
    ))
    .expect_err("avro on S3");
    let d = &d.0[0];
    assert_eq!(
        d.hint.as_deref(),
        Some("use json, csv or parquet for files and S3 objects"),
        "{d}"
    );
}
