//! Sinks: connector keys, infrastructure names, fan-out settings, and Kafka feedback loops.

use std::path::Path;

use crate::error::Diagnostic;

use super::super::locate::Seg;

use super::super::{Fanout, Format, Infra, JobSpec, Sink, SinkConnector, SinkSpec};
use super::connectors::{check_connector_keys, check_connector_name, need};
use super::{resolve, Cx};

pub(super) fn validate_sink(cx: &Cx, base: &Path, s: &SinkSpec) -> Result<Sink, Diagnostic> {
    cx.check_name(
        &s.name,
        "name the sink: a feature's `sinks:` list refers to it",
    )?;
    let what = format!("sink `{}`", s.name);
    check_connector_name(
        cx,
        "sink",
        &s.connector,
        &["file", "kafka", "redis", "dynamodb"],
    )?;
    const STORES: &[&str] = &["kafka", "redis", "dynamodb"];
    check_connector_keys(
        cx,
        &what,
        &s.connector,
        &[
            ("path", s.path.is_some(), &["file"]),
            ("direct_io", s.direct_io.is_some(), &["file"]),
            ("cluster", s.cluster.is_some(), &["kafka"]),
            ("topic", s.topic.is_some(), &["kafka"]),
            ("store", s.store.is_some(), &["redis"]),
            ("aws", s.aws.is_some(), &["dynamodb"]),
            ("table", s.table.is_some(), &["dynamodb"]),
            ("ttl", s.ttl.is_some(), &["redis", "dynamodb"]),
            ("write_rate", s.write_rate.is_some(), STORES),
            ("batch_size", s.batch_size.is_some(), STORES),
            ("retry_count", s.retry_count.is_some(), STORES),
        ],
    )?;
    if s.ttl.is_some_and(|t| t.0 == 0) {
        return Err(cx
            .err_at_value(
                "ttl",
                format!("{what}: `ttl: 0` would mean values never expire"),
            )
            .with_detail("a ttl is how long a value is kept after its last write")
            .with_hint(
                "leave out `ttl` for values that never expire, or give a duration, e.g. `ttl: 2h`",
            ));
    }
    let file = s.connector == "file";
    let parquet_file = file && s.format == Format::Parquet;
    if s.format != Format::Json && !parquet_file {
        return Err(cx
            .err_at_value(
                "format",
                format!(
                    "sink `{}`: format {} is not supported for {} sinks",
                    s.name,
                    s.format.name(),
                    s.connector
                ),
            )
            .with_hint(if file {
                "file sinks write `format: json` (one object per line) or `format: parquet` (a table, for training data)"
            } else {
                "store and topic sinks write `format: json`"
            }));
    }
    if parquet_file && s.direct_io == Some(true) {
        return Err(cx
            .err_at_key(
                "direct_io",
                format!("sink `{}`: direct_io applies to json file sinks, not parquet", s.name),
            )
            .with_hint("remove `direct_io`: a parquet file is small (dictionary-encoded, compressed) and written through the page cache"));
    }
    let connector = match s.connector.as_str() {
        "file" => {
            let Some(p) = &s.path else {
                return Err(cx
                    .err_at_key(
                        "connector",
                        format!(
                            "sink `{}` uses the file connector but has no `path`",
                            s.name
                        ),
                    )
                    .with_hint("add `path: out/features.jsonl`"));
            };
            let path = resolve(base, p);
            // `out/` or an existing directory: the sink would write a file named `out`,
            // or fail at run time.
            if p.ends_with('/') || p.ends_with(std::path::MAIN_SEPARATOR) || path.is_dir() {
                let dir = p.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
                let ext = if parquet_file { "parquet" } else { "jsonl" };
                return Err(cx
                    .err_at_value(
                        "path",
                        format!("sink `{}`: `{p}` is a directory, not a file", s.name),
                    )
                    .with_hint(format!(
                        "name the file the sink writes, e.g. `path: {dir}/features.{ext}`"
                    )));
            }
            SinkConnector::File {
                path,
                direct_io: s.direct_io.unwrap_or(false),
            }
        }
        "kafka" => {
            let cluster = need(cx, &what, "kafka", "cluster", &s.cluster, "local")?;
            cx.infra_ref("kafka", cx.kafka_names(), "cluster", cluster, &what)?;
            let topic = need(cx, &what, "kafka", "topic", &s.topic, "features")?;
            SinkConnector::Kafka {
                cluster: cluster.into(),
                topic: topic.into(),
            }
        }
        "redis" => {
            let store = need(cx, &what, "redis", "store", &s.store, "features")?;
            cx.infra_ref("redis", cx.redis_names(), "store", store, &what)?;
            SinkConnector::Redis {
                store: store.into(),
                ttl_ms: s.ttl.map(|t| t.0),
            }
        }
        _ => {
            let aws = need(cx, &what, "dynamodb", "aws", &s.aws, "local")?;
            cx.infra_ref("aws", cx.aws_names(), "aws", aws, &what)?;
            let table = need(cx, &what, "dynamodb", "table", &s.table, "features")?;
            SinkConnector::Dynamodb {
                aws: aws.into(),
                table: table.into(),
                ttl_ms: s.ttl.map(|t| t.0),
            }
        }
    };
    let mut fanout = Fanout::default();
    if let Some(r) = s.write_rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(cx
                .err_at_value(
                    "write_rate",
                    format!("{what}: write_rate must be a positive number of records per second"),
                )
                .with_hint("e.g. `write_rate: 5000`; leave it out for no limit"));
        }
        fanout.write_rate = Some(r);
    }
    if let Some(b) = s.batch_size {
        if b == 0 {
            return Err(cx
                .err_at_value(
                    "batch_size",
                    format!("{what}: batch_size must be at least 1"),
                )
                .with_hint("e.g. `batch_size: 500`"));
        }
        fanout.batch_size = b;
    }
    if let Some(r) = s.retry_count {
        fanout.retry_count = r;
    }
    Ok(Sink {
        name: s.name.clone(),
        connector,
        format: s.format,
        fanout,
    })
}

/// No Kafka sink writes a topic a Kafka source of the job reads on the same cluster: the
/// job would read its own feature rows back as input events, a feedback loop. Reported at
/// the sink's `topic`.
pub(super) fn check_kafka_loops(cx: &Cx, spec: &JobSpec, errors: &mut Vec<Diagnostic>) {
    for (j, sink) in spec.sinks.iter().enumerate() {
        let Some((sink_cluster, topic)) = kafka_topic(&sink.connector, &sink.cluster, &sink.topic)
        else {
            continue;
        };
        for (i, source) in spec.sources.iter().enumerate() {
            let Some((source_cluster, source_topic)) =
                kafka_topic(&source.connector, &source.cluster, &source.topic)
            else {
                continue;
            };
            if source_topic != topic {
                continue;
            }
            let Some(same) = same_kafka_cluster(cx.infra, source_cluster, sink_cluster) else {
                continue;
            };
            let at = cx
                .item("sources", i)
                .find(&[Seg::Key("topic")])
                .map(|f| format!(" (line {})", f.value.0))
                .unwrap_or_default();
            errors.push(
                cx.item("sinks", j)
                    .err_at_value(
                        "topic",
                        format!(
                            "sink `{}` writes Kafka topic `{topic}` {same}, which source `{}` reads{at}",
                            sink.name, source.name
                        ),
                    )
                    .with_hint(format!(
                        "the job would read its own feature rows back as input events (a feedback loop); write the features to another topic, e.g. `topic: {topic}-features`"
                    )),
            );
        }
    }
}

/// The cluster and topic of a Kafka source or sink that names both.
fn kafka_topic<'a>(
    connector: &str,
    cluster: &'a Option<String>,
    topic: &'a Option<String>,
) -> Option<(&'a str, &'a str)> {
    match (connector, cluster, topic) {
        ("kafka", Some(c), Some(t)) => Some((c, t)),
        _ => None,
    }
}

/// Whether the Kafka clusters named `a` (a source's) and `b` (a sink's) are one, said of
/// the sink: the same name, or two profile entries listing a common bootstrap server
/// (compared as written: `localhost` and `127.0.0.1` are not seen as one).
fn same_kafka_cluster(infra: Option<&Infra>, a: &str, b: &str) -> Option<String> {
    if a == b {
        return Some(format!("on cluster `{b}`"));
    }
    let brokers = |name: &str| {
        infra.and_then(|i| i.kafka.get(name)).map(|c| {
            c.bootstrap_servers
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect::<std::collections::BTreeSet<_>>()
        })
    };
    let (x, y) = (brokers(a)?, brokers(b)?);
    let shared = x.intersection(&y).next()?;
    Some(format!(
        "on cluster `{b}` (the same cluster as `{a}`: both list the broker `{shared}`)"
    ))
}
