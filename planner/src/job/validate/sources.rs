//! Sources: connector keys, infrastructure names, start positions, schemas and formats.

use std::path::Path;

use crate::error::{closest, Diagnostic};
use crate::types::DataType;

use super::super::locate::Seg;

use super::super::{
    Column, Compression, Format, FormatOptions, Source, SourceConnector, SourceSpec, StartPosition,
};
use super::connectors::{check_connector_keys, check_connector_name, need};
use super::{resolve, source_glob, Cx};

fn parse_start(
    cx: &Cx,
    what: &str,
    text: &str,
    connector: &str,
) -> Result<StartPosition, Diagnostic> {
    let t = text.trim();
    Ok(match t.to_ascii_lowercase().as_str() {
        "earliest" | "trim_horizon" => StartPosition::Earliest,
        "latest" => StartPosition::Latest,
        "committed" if connector == "kafka" => StartPosition::Committed,
        _ => match t
            .parse::<i64>()
            .ok()
            .or_else(|| crate::types::parse_timestamp(t))
        {
            Some(ms) if ms < 0 => {
                return Err(cx
                    .err_at_value("start", format!("{what}: `start: {t}` is before 1970-01-01"))
                    .with_detail("a start timestamp is epoch milliseconds (or RFC 3339) from 1970 on; record times before it cannot be read either")
                    .with_hint("write `earliest` to read from the beginning, or a timestamp such as `2026-01-01T00:00:00Z`"))
            }
            // 9999-12-31T23:59:59.999Z, the last event time a record can have.
            Some(ms) if ms > 253_402_300_799_999 => {
                return Err(cx
                    .err_at_value("start", format!("{what}: `start: {t}` is after 9999-12-31"))
                    .with_detail("a start timestamp is epoch milliseconds (or RFC 3339); event times end at 9999-12-31, so nothing could be read")
                    .with_hint("write `latest` to read only what arrives from now on, or a timestamp such as `2026-01-01T00:00:00Z`"))
            }
            Some(ms) => StartPosition::Timestamp(ms),
            None => return Err(cx
                .err_at_value("start", format!("{what}: `start: {t}` is not a starting position"))
                .with_hint(if connector == "kafka" {
                    "write earliest, latest, committed, or a timestamp (RFC 3339 or epoch ms)"
                } else {
                    "write trim_horizon (earliest), latest, or a timestamp (RFC 3339 or epoch ms)"
                })),
        },
    })
}

pub(super) fn validate_source(cx: &Cx, base: &Path, s: &SourceSpec) -> Result<Source, Diagnostic> {
    cx.check_name(
        &s.name,
        "name the source: SQL reads it as a table of that name",
    )?;
    let what = format!("source `{}`", s.name);
    check_connector_name(
        cx,
        "source",
        &s.connector,
        &["file", "kafka", "kinesis", "s3"],
    )?;
    check_connector_keys(
        cx,
        &what,
        &s.connector,
        &[
            ("path", s.path.is_some(), &["file"]),
            ("cluster", s.cluster.is_some(), &["kafka"]),
            ("topic", s.topic.is_some(), &["kafka"]),
            ("group_id", s.group_id.is_some(), &["kafka"]),
            ("key_column", s.key_column.is_some(), &["kafka"]),
            ("header_columns", !s.header_columns.is_empty(), &["kafka"]),
            ("aws", s.aws.is_some(), &["kinesis", "s3"]),
            ("stream", s.stream.is_some(), &["kinesis"]),
            ("bucket", s.bucket.is_some(), &["s3"]),
            ("prefix", s.prefix.is_some(), &["s3"]),
            ("compression", s.compression.is_some(), &["s3"]),
            ("start", s.start.is_some(), &["kafka", "kinesis"]),
            (
                "idle_timeout",
                s.idle_timeout.is_some(),
                &["kafka", "kinesis"],
            ),
        ],
    )?;
    let idle_timeout_ms = s.idle_timeout.map_or(30_000, |m| m.0);
    let start = |default| match &s.start {
        Some(t) => parse_start(cx, &what, t, &s.connector),
        None => Ok(default),
    };
    let connector = match s.connector.as_str() {
        "file" => {
            let Some(p) = &s.path else {
                return Err(cx
                    .err_at_key(
                        "connector",
                        format!(
                            "source `{}` uses the file connector but has no `path`",
                            s.name
                        ),
                    )
                    .with_hint(
                        "add `path: data/events/*.jsonl` (a glob relative to the job file)",
                    ));
            };
            if let Err(e) = glob::Pattern::new(p) {
                return Err(cx
                    .err_at_value(
                        "path",
                        format!(
                            "{what}: `{p}` is not a valid glob: {} (at character {})",
                            e.msg,
                            e.pos + 1
                        ),
                    )
                    .with_hint("`*`, `?` and `[...]` are wildcards, `**` a whole path component; write `[[]` for a `[` and `[]]` for a `]` in a name"));
            }
            SourceConnector::File {
                path: source_glob(base, p).to_string_lossy().into_owned(),
            }
        }
        "kafka" => {
            let cluster = need(cx, &what, "kafka", "cluster", &s.cluster, "local")?;
            cx.infra_ref("kafka", cx.kafka_names(), "cluster", cluster, &what)?;
            let topic = need(cx, &what, "kafka", "topic", &s.topic, "events")?;
            // Optional, but not blank (librdkafka then fails with "consumer queue not
            // available" at the run).
            let group_id = match &s.group_id {
                Some(_) => {
                    need(cx, &what, "kafka", "group_id", &s.group_id, "my-features")?.to_string()
                }
                None => format!("freshet-{}", cx.job),
            };
            SourceConnector::Kafka {
                cluster: cluster.to_string(),
                topic: topic.to_string(),
                group_id,
                start: start(StartPosition::Committed)?,
                idle_timeout_ms,
                key_column: None,
                header_columns: Vec::new(),
            }
        }
        "kinesis" => {
            let aws = need(cx, &what, "kinesis", "aws", &s.aws, "local")?;
            cx.infra_ref("aws", cx.aws_names(), "aws", aws, &what)?;
            let stream = need(cx, &what, "kinesis", "stream", &s.stream, "events")?;
            SourceConnector::Kinesis {
                aws: aws.to_string(),
                stream: stream.to_string(),
                start: start(StartPosition::Earliest)?,
                idle_timeout_ms,
            }
        }
        _ => {
            let aws = need(cx, &what, "s3", "aws", &s.aws, "local")?;
            cx.infra_ref("aws", cx.aws_names(), "aws", aws, &what)?;
            let bucket = need(cx, &what, "s3", "bucket", &s.bucket, "history")?;
            let compression = match s.compression.as_deref().unwrap_or("auto") {
                "auto" => Compression::Auto,
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                other => {
                    return Err(cx
                        .err_at_value("compression", format!("unknown compression `{other}`"))
                        .with_hint("write auto (by extension: .gz is gzip), gzip or none"))
                }
            };
            SourceConnector::S3 {
                aws: aws.to_string(),
                bucket: bucket.to_string(),
                prefix: s.prefix.clone().unwrap_or_default(),
                compression,
            }
        }
    };
    check_schema_names(cx, s)?;
    if s.schema.is_empty() {
        let et = match s.event_time.trim() {
            "" => "event_time",
            et => et,
        };
        return Err(cx
            .err_at_key(
                "schema",
                format!("the schema of source `{}` has no columns", s.name),
            )
            .with_detail(
                "a schema needs at least the event-time column; SQL reads only the columns it declares",
            )
            .with_hint(format!(
                "declare the columns the features read, with their types, e.g. `schema: {{ {et}: timestamp, user_id: string }}`"
            )));
    }
    let mut columns = Vec::new();
    for (k, (name, ty)) in s.schema.iter().enumerate() {
        let (ty_name, required) = match ty.trim().strip_suffix('!') {
            Some(t) => (t, true),
            None => (ty.as_str(), false),
        };
        let Some(dt) = DataType::parse(ty_name) else {
            let hint = match closest(ty_name, ["string", "int", "float", "bool", "timestamp"]) {
                Some(c) => format!("did you mean `{c}`? types: string, int, float, bool, timestamp (append `!` for required)"),
                None => "types: string, int, float, bool, timestamp (append `!` for required)".into(),
            };
            return Err(cx
                .err_value(
                    &[Seg::Key("schema"), Seg::Entry(k, name)],
                    format!(
                        "unknown type `{ty}` for column `{name}` of source `{}`",
                        s.name
                    ),
                )
                .with_hint(hint));
        };
        columns.push(Column {
            name: name.clone(),
            ty: dt,
            required,
        });
    }
    let find = |columns: &[Column], n: &str| {
        columns
            .iter()
            .position(|c| crate::names::same_name(&c.name, n))
    };
    for (k, r) in s.required.iter().enumerate() {
        match find(&columns, r) {
            Some(i) => columns[i].required = true,
            None => {
                return Err(cx
                    .err_value(
                        &[Seg::Key("required"), Seg::Index(k)],
                        format!(
                            "required column `{r}` is not in the schema of source `{}`",
                            s.name
                        ),
                    )
                    .with_hint(suggest_column(r, &columns)))
            }
        }
    }
    let Some(et) = find(&columns, &s.event_time) else {
        return Err(cx
            .err_at_value(
                "event_time",
                format!(
                    "event_time column `{}` is not in the schema of source `{}`",
                    s.event_time, s.name
                ),
            )
            .with_hint(suggest_column(&s.event_time, &columns)));
    };
    if !matches!(columns[et].ty, DataType::Timestamp | DataType::Int) {
        return Err(cx
            .err_at_value(
                "event_time",
                format!(
                    "event_time column `{}` has type {}; it must be a timestamp",
                    s.event_time, columns[et].ty
                ),
            )
            .with_hint(format!("declare it as `{}: timestamp`", s.event_time)));
    }
    columns[et].ty = DataType::Timestamp;
    columns[et].required = true;
    if let Some(k) = columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case("rowtime"))
        .filter(|_| !columns[et].name.eq_ignore_ascii_case("rowtime"))
    {
        return Err(cx
            .err_key(
                &[Seg::Key("schema"), Seg::Entry(k, &columns[k].name)],
                format!(
                    "source `{}` declares a column `rowtime`, which is reserved",
                    s.name
                ),
            )
            .with_hint("`rowtime` names the event-time attribute in SQL; rename the column"));
    }
    let delimiter = match s.delimiter {
        None => b',',
        Some(c) if c.is_ascii() && s.format == Format::Csv => c as u8,
        Some(c) => {
            return Err(cx
                .err_at_value("delimiter", format!("delimiter `{c}` is not allowed here"))
                .with_hint("`delimiter` is a single ASCII character and applies to format: csv"))
        }
    };
    let format_options = validate_format(cx, base, s, delimiter)?;
    if s.bounded
        && !matches!(
            connector,
            SourceConnector::File { .. } | SourceConnector::S3 { .. }
        )
    {
        return Err(cx
            .err_at_key(
                "bounded",
                format!(
                    "source `{}` cannot be bounded: its connector follows a stream",
                    s.name
                ),
            )
            .with_hint("`bounded: true` is for tables read completely: connector file or s3"));
    }
    let connector = match connector {
        SourceConnector::Kafka {
            cluster,
            topic,
            group_id,
            start,
            idle_timeout_ms,
            ..
        } => {
            let col = |n: &str, at: &[Seg]| {
                find(&columns, n).ok_or_else(|| {
                    cx.err_value(
                        at,
                        format!("column `{n}` is not in the schema of source `{}`", s.name),
                    )
                    .with_hint(suggest_column(n, &columns))
                })
            };
            let key_column = match s.key_column.as_deref() {
                Some(n) => Some(col(n, &[Seg::Key("key_column")])?),
                None => None,
            };
            check_header_names(cx, s)?;
            let header_columns = s
                .header_columns
                .iter()
                .enumerate()
                .map(|(k, (h, c))| {
                    col(c, &[Seg::Key("header_columns"), Seg::Entry(k, h)]).map(|i| (h.clone(), i))
                })
                .collect::<Result<Vec<_>, _>>()?;
            SourceConnector::Kafka {
                cluster,
                topic,
                group_id,
                start,
                idle_timeout_ms,
                key_column,
                header_columns,
            }
        }
        other => other,
    };
    Ok(Source {
        name: s.name.clone(),
        connector,
        format: s.format,
        columns,
        event_time: et,
        watermark_delay_ms: s.watermark_delay.0,
        on_error: s.on_error,
        format_options,
        bounded: s.bounded,
    })
}

/// Format keys: Avro needs `schema_file`, Protobuf `descriptor_set` and `message`; line
/// formats take neither, and binary formats need a message connector.
fn validate_format(
    cx: &Cx,
    base: &Path,
    s: &SourceSpec,
    delimiter: u8,
) -> Result<FormatOptions, Diagnostic> {
    let what = format!("source `{}`", s.name);
    let stray = |key: &str, applies: &str| {
        Err(cx
            .err_at_key(
                key,
                format!(
                    "{what} has format {}, which takes no `{key}`",
                    s.format.name()
                ),
            )
            .with_hint(format!("`{key}` applies to format: {applies}")))
    };
    match s.format {
        Format::Parquet if !matches!(s.connector.as_str(), "file" | "s3") => {
            return Err(cx
                .err_at_value(
                    "format",
                    format!(
                        "{what}: parquet is read from files and S3 objects (`connector: file` or `s3`), not `{}`",
                        s.connector
                    ),
                )
                .with_hint("Kafka and Kinesis messages are read as json, csv, avro or protobuf"));
        }
        Format::Avro => {
            if s.descriptor_set.is_some() {
                return stray("descriptor_set", "protobuf");
            }
            if s.message.is_some() {
                return stray("message", "protobuf");
            }
            if s.schema_file.is_none() {
                return Err(cx
                    .err_at_key("format", format!("{what} has format avro but no `schema_file`"))
                    .with_hint("add `schema_file: schemas/event.avsc` (the writer schema, relative to the job file)"));
            }
        }
        Format::Protobuf => {
            if s.schema_file.is_some() {
                return stray("schema_file", "avro");
            }
            if s.descriptor_set.is_none() || s.message.is_none() {
                return Err(cx
                    .err_at_key("format", format!("{what} has format protobuf but no `descriptor_set` and `message`"))
                    .with_hint("add `descriptor_set: schemas/events.desc` (from `protoc --include_imports --descriptor_set_out`) and `message: pkg.DeliveryEvent`"));
            }
        }
        Format::Parquet if s.compression.is_some() => {
            return Err(cx
                .err_at_key(
                    "compression",
                    format!("{what} has format parquet, whose pages carry their own compression"),
                )
                .with_hint("remove `compression`: it applies to json and csv objects"));
        }
        Format::Json | Format::Csv | Format::Parquet => {
            if s.schema_file.is_some() {
                return stray("schema_file", "avro");
            }
            if s.descriptor_set.is_some() {
                return stray("descriptor_set", "protobuf");
            }
            if s.message.is_some() {
                return stray("message", "protobuf");
            }
        }
    }
    if matches!(s.format, Format::Avro | Format::Protobuf)
        && !matches!(s.connector.as_str(), "kafka" | "kinesis")
    {
        return Err(cx
            .err_at_value(
                "format",
                format!(
                    "{what}: format {} is read from message connectors (kafka, kinesis), not `{}`",
                    s.format.name(),
                    s.connector
                ),
            )
            .with_hint("use json, csv or parquet for files and S3 objects"));
    }
    Ok(FormatOptions {
        delimiter,
        schema_file: s.schema_file.as_deref().map(|p| resolve(base, p)),
        descriptor_set: s.descriptor_set.as_deref().map(|p| resolve(base, p)),
        message: s.message.clone(),
    })
}

/// A column declared twice, also in another case (SQL names are case-insensitive), is an
/// error at its second declaration: a map would keep only the last type.
fn check_schema_names(cx: &Cx, s: &SourceSpec) -> Result<(), Diagnostic> {
    for (k, (name, _)) in s.schema.iter().enumerate() {
        let Some(first) = s.schema[..k]
            .iter()
            .position(|(n, _)| crate::names::same_name(n, name))
        else {
            continue;
        };
        let earlier = &s.schema[first].0;
        let msg = if earlier == name {
            format!(
                "column `{name}` is declared twice in the schema of source `{}`",
                s.name
            )
        } else {
            format!(
                "column `{name}` of source `{}` is column `{earlier}` again: SQL names are case-insensitive",
                s.name
            )
        };
        let at = cx
            .find(&[Seg::Key("schema"), Seg::Entry(first, earlier)])
            .map(|f| format!(" (line {}, column {})", f.key.0, f.key.1))
            .unwrap_or_default();
        return Err(cx
            .err_key(&[Seg::Key("schema"), Seg::Entry(k, name)], msg)
            .with_hint(format!(
                "`{earlier}` is declared first{at}; remove one, or rename it"
            )));
    }
    Ok(())
}

/// Each Kafka header of `header_columns` is mapped once: a map would keep only the last of
/// a repeated one, and the message's header goes to one column. Header names are compared
/// exactly, as Kafka does.
fn check_header_names(cx: &Cx, s: &SourceSpec) -> Result<(), Diagnostic> {
    for (k, (header, column)) in s.header_columns.iter().enumerate() {
        let Some(first) = s.header_columns[..k].iter().position(|(h, _)| h == header) else {
            continue;
        };
        let earlier = &s.header_columns[first].1;
        let at = cx
            .find(&[Seg::Key("header_columns"), Seg::Entry(first, header)])
            .map(|f| format!(" (line {}, column {})", f.key.0, f.key.1))
            .unwrap_or_default();
        return Err(cx
            .err_key(
                &[Seg::Key("header_columns"), Seg::Entry(k, header)],
                format!(
                    "header `{header}` is mapped twice in `header_columns` of source `{}`: to `{earlier}` and to `{column}`",
                    s.name
                ),
            )
            .with_hint(format!(
                "its first mapping is{at}; keep one: a header fills one column (copy the column in SQL if two are needed)"
            )));
    }
    for (k, (header, column)) in s.header_columns.iter().enumerate() {
        // A column is filled once: by one header, or by the key.
        let other = s.header_columns[..k]
            .iter()
            .find(|(_, c)| crate::names::same_name(c, column))
            .map(|(h, _)| format!("header `{h}`"))
            .or_else(|| {
                s.key_column
                    .as_ref()
                    .filter(|c| crate::names::same_name(c, column))
                    .map(|_| "the message key (`key_column`)".to_string())
            });
        if let Some(other) = other {
            return Err(cx
                .err_key(
                    &[Seg::Key("header_columns"), Seg::Entry(k, header)],
                    format!(
                        "column `{column}` of source `{}` is filled by {other} and by header `{header}`",
                        s.name
                    ),
                )
                .with_hint("give each header and the key a column of its own"));
        }
    }
    Ok(())
}

fn suggest_column(name: &str, columns: &[Column]) -> String {
    match closest(name, columns.iter().map(|c| c.name.as_str())) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!(
            "the schema has: {}",
            columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
