//! Kafka sources and sinks in a job: a sink may not write a topic a source of the job reads
//! on the same cluster (a feedback loop), and `header_columns` maps each header once, each
//! column filled once.

use std::path::Path;

use planner::job::{parse_infra, parse_job_with_infra, Infra};
use planner::{Diagnostic, Job};

const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: kafka
    cluster: local
    topic: ride-events
    format: json
    schema: { user_id: string, origin: string, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: kafka, cluster: local, topic: ride-features }
"#;

/// `local` and `other` share a broker; `remote` is another cluster.
const INFRA: &str = r#"kafka:
  local: { bootstrap_servers: "127.0.0.1:9092" }
  other: { bootstrap_servers: "10.0.0.7:9092, 127.0.0.1:9092" }
  remote: { bootstrap_servers: "10.0.0.8:9092" }
aws:
  local: { region: us-east-1 }
"#;

fn infra() -> Infra {
    parse_infra(Path::new("local.yaml"), INFRA, |_| None).unwrap()
}

fn parse(text: &str) -> Result<Job, planner::Diagnostics> {
    parse_job_with_infra(Path::new("job.yaml"), text, Some(infra()))
}

fn one(text: &str) -> Diagnostic {
    let d = parse(text).expect_err("the job should not validate");
    assert_eq!(d.0.len(), 1, "{d}");
    d.0.into_iter().next().unwrap()
}

fn line_col(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.as_ref().expect("a location");
    (l.line, l.column)
}

#[test]
fn the_base_job_validates() {
    parse(JOB).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_sink_writing_the_topic_a_source_reads_is_a_feedback_loop() {
    let text = JOB.replace("topic: ride-features", "topic: ride-events");
    let d = one(&text);
    assert_eq!(
        d.message,
        "sink `out` writes Kafka topic `ride-events` on cluster `local`, which source `events` reads (line 6)"
    );
    assert_eq!(line_col(&d), (14, 59), "{d}");
    let hint = d.hint.as_deref().unwrap();
    assert!(hint.contains("feedback loop"), "{d}");
    assert!(hint.contains("`topic: ride-events-features`"), "{d}");

    // Another name for the same cluster (a shared broker) is the same cluster.
    let d = one(&text.replace(
        "cluster: local, topic: ride-events",
        "cluster: other, topic: ride-events",
    ));
    assert_eq!(
        d.message,
        "sink `out` writes Kafka topic `ride-events` on cluster `other` (the same cluster as `local`: both list the broker `127.0.0.1:9092`), which source `events` reads (line 6)"
    );

    // The same topic name on another cluster is another topic.
    parse(&text.replace(
        "cluster: local, topic: ride-events",
        "cluster: remote, topic: ride-events",
    ))
    .unwrap_or_else(|d| panic!("{d}"));
}

/// A header mapped twice in `header_columns` is an error at its second mapping, which a map
/// would have kept silently in place of the first.
#[test]
fn a_header_mapped_twice_is_an_error() {
    let with = |headers: &str| {
        JOB.replace(
            "    format: json\n",
            &format!("    header_columns: {headers}\n    format: json\n"),
        )
    };
    parse(&with("{ origin: origin, Origin: user_id }")).unwrap_or_else(|d| panic!("{d}"));
    let text = with("{ origin: origin, trace: user_id, origin: user_id }");
    let d = one(&text);
    assert_eq!(
        d.message,
        "header `origin` is mapped twice in `header_columns` of source `events`: to `origin` and to `user_id`"
    );
    assert_eq!(line_col(&d), (7, 55), "{d}");
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("its first mapping is (line 7, column 23); keep one"),
        "{d}"
    );
}

/// A column is filled once: by one header or by the key; two headers into one column, or
/// a header into the key's column, is an error at the second (one value was lost).
#[test]
fn a_column_filled_twice_by_headers_or_the_key_is_an_error() {
    let with = |meta: &str| JOB.replace("    format: json\n", &format!("{meta}    format: json\n"));
    for (meta, message) in [
        (
            "    header_columns: { origin: origin, trace: origin }\n",
            "column `origin` of source `events` is filled by header `origin` and by header `trace`",
        ),
        (
            "    key_column: user_id\n    header_columns: { trace: USER_ID }\n",
            "column `USER_ID` of source `events` is filled by the message key (`key_column`) and by header `trace`",
        ),
    ] {
        let d = one(&with(meta));
        assert_eq!(d.message, message);
        assert_eq!(d.hint.as_deref(), Some("give each header and the key a column of its own"));
        assert!(d.location.is_some(), "{d}");
    }
    parse(&with(
        "    key_column: user_id\n    header_columns: { trace: origin }\n",
    ))
    .unwrap_or_else(|d| panic!("{d}"));
}

/// Parquet is a file format (local files and S3 objects): a Kafka source in it is an error
/// at `format`, with what message connectors read.
#[test]
fn a_kafka_source_cannot_read_parquet() {
    let text = JOB.replacen("format: json", "format: parquet", 1);
    let d = one(&text);
    assert!(
        d.message.contains(
            "parquet is read from files and S3 objects (`connector: file` or `s3`), not `kafka`"
        ),
        "{d}"
    );
    assert_eq!(line_col(&d), (7, 13), "{d}");
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("Kafka and Kinesis messages are read as json, csv, avro or protobuf"),
        "{d}"
    );
}

/// A start before 1970 (a negative epoch millisecond number, or such an RFC 3339 time), or
/// after 9999-12-31, is an error at its value; both passed validation.
#[test]
fn a_start_outside_event_times_is_an_error_at_its_value() {
    let with = |start: &str| {
        JOB.replace(
            "    format: json\n",
            &format!("    start: {start}\n    format: json\n"),
        )
    };
    parse(&with("0")).unwrap_or_else(|d| panic!("{d}"));
    parse(&with("1767225600000")).unwrap_or_else(|d| panic!("{d}"));
    for start in ["-5", "-1767225600000", "1960-01-01T00:00:00Z"] {
        let d = one(&with(start));
        assert_eq!(
            d.message,
            format!("source `events`: `start: {start}` is before 1970-01-01"),
            "{d}"
        );
        assert_eq!(line_col(&d), (7, 12), "{d}");
        assert!(d.hint.as_deref().unwrap().contains("`earliest`"), "{d}");
    }
    // After the last event time a record can have (9999-12-31): nothing could be read.
    parse(&with("9999-12-31T23:59:59.999Z")).unwrap_or_else(|d| panic!("{d}"));
    for start in ["253402300800000", "99999999999999999"] {
        let d = one(&with(start));
        assert_eq!(
            d.message,
            format!("source `events`: `start: {start}` is after 9999-12-31"),
            "{d}"
        );
        assert_eq!(line_col(&d), (7, 12), "{d}");
        assert!(d.hint.as_deref().unwrap().contains("`latest`"), "{d}");
    }
}

/// An empty Kafka topic (source or sink) or Kinesis stream is an error at its value; it
/// passed validation.
#[test]
fn an_empty_topic_or_stream_is_an_error_at_its_value() {
    let d = one(&JOB.replace("topic: ride-events", "topic: \"\""));
    assert_eq!(d.message, "source `events`: `topic` is empty", "{d}");
    assert_eq!(line_col(&d), (6, 12), "{d}");
    assert_eq!(d.hint.as_deref(), Some("name it, e.g. `topic: events`"));
    let d = one(&JOB.replace("topic: ride-features", "topic: \" \""));
    assert_eq!(d.message, "sink `out`: `topic` is empty", "{d}");
    assert_eq!(line_col(&d), (14, 59), "{d}");
    let kinesis = JOB.replace(
        "    connector: kafka\n    cluster: local\n    topic: ride-events\n",
        "    connector: kinesis\n    aws: local\n    stream: STREAM\n",
    );
    parse(&kinesis.replace("STREAM", "rides")).unwrap_or_else(|d| panic!("{d}"));
    let d = one(&kinesis.replace("STREAM", "''"));
    assert_eq!(d.message, "source `events`: `stream` is empty", "{d}");
    assert_eq!(line_col(&d), (6, 13), "{d}");
    // A consumer group is optional, but not blank.
    let grouped = |g: &str| {
        JOB.replace(
            "    format: json\n",
            &format!("    group_id: {g}\n    format: json\n"),
        )
    };
    parse(&grouped("features-v2")).unwrap_or_else(|d| panic!("{d}"));
    let d = one(&grouped("''"));
    assert_eq!(d.message, "source `events`: `group_id` is empty", "{d}");
    assert_eq!(line_col(&d), (7, 15), "{d}");
}
