//! Validation of a job file: YAML to [`Job`], with every problem reported at its line.

use std::path::{Path, PathBuf};

use crate::error::{closest, Diagnostic, Diagnostics, ErrorKind};
use crate::types::DataType;

use super::{
    Column, Compression, Fanout, Feature, FeatureSpec, Format, FormatOptions, Infra, Job, JobSpec,
    Sink, SinkConnector, SinkSpec, Source, SourceConnector, SourceSpec, StartPosition,
};

/// Reads and validates a job file that uses only local connectors (files).
pub fn load_job(path: &Path) -> Result<Job, Diagnostics> {
    load_job_with_infra(path, None)
}

/// Reads and validates a job file; its connectors' names are resolved in `infra`.
pub fn load_job_with_infra(path: &Path, infra: Option<Infra>) -> Result<Job, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(ErrorKind::Io, format!("cannot read job file: {e}"))
            .in_file(path)
            .with_hint("check the path; job files are YAML")
    })?;
    parse_job_with_infra(path, &text, infra)
}

/// Validates a job from its text; `path` locates relative paths and names the file in errors.
pub fn parse_job(path: &Path, text: &str) -> Result<Job, Diagnostics> {
    parse_job_with_infra(path, text, None)
}

/// [`parse_job`] with an infrastructure profile for Kafka, Redis and AWS names.
pub fn parse_job_with_infra(
    path: &Path,
    text: &str,
    infra: Option<Infra>,
) -> Result<Job, Diagnostics> {
    let spec: JobSpec = serde_norway::from_str(text).map_err(|e| yaml_error(path, text, &e))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let mut errors = Vec::new();
    let cx = Cx {
        path,
        text,
        infra: infra.as_ref(),
        job: &spec.name,
    };

    let sources = validate_all(&spec.sources, &mut errors, |s| {
        validate_source(&cx, &base, s)
    });
    check_unique(
        &cx,
        "source",
        spec.sources.iter().map(|s| s.name.as_str()),
        &mut errors,
    );

    let sinks = validate_all(&spec.sinks, &mut errors, |s| validate_sink(&cx, &base, s));
    check_unique(
        &cx,
        "sink",
        spec.sinks.iter().map(|s| s.name.as_str()),
        &mut errors,
    );
    if spec.sinks.is_empty() {
        errors.push(cx.err_at_key("features", "the job has no sinks").with_hint(
            "add a `sinks:` list, e.g. `- { name: out, connector: file, path: out/features.jsonl, format: json }`",
        ));
    }

    let sink_names: Vec<&str> = spec.sinks.iter().map(|s| s.name.as_str()).collect();
    let features = validate_all(&spec.features, &mut errors, |f| {
        validate_feature(&cx, f, &sink_names)
    });
    if spec.features.is_empty() {
        errors.push(cx.err_at_key("features", "the job defines no features"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in &spec.features {
        if !seen.insert((f.name.as_str(), f.version)) {
            errors.push(
                cx.err_at_value(
                    &f.name,
                    format!(
                        "feature `{}` version {} is defined twice",
                        f.name, f.version
                    ),
                )
                .with_hint("give each feature a distinct name or version"),
            );
        }
    }

    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let dead_letter = match &spec.dead_letter {
        Some(p) => resolve(&base, p),
        None => sinks
            .iter()
            .find_map(|s| match &s.connector {
                SinkConnector::File { path } => Some(
                    path.parent()
                        .unwrap_or(Path::new("."))
                        .join("dead_letter.jsonl"),
                ),
                _ => None,
            })
            .unwrap_or_else(|| base.join("dead_letter.jsonl")),
    };
    Ok(Job {
        name: spec.name,
        path: path.to_path_buf(),
        text: text.to_string(),
        sources,
        features,
        sinks,
        dead_letter,
        infra: infra.unwrap_or_default(),
    })
}

/// Validates every item, keeping the good ones and collecting every error (a job's
/// problems are all reported at once, not one per run).
fn validate_all<S, T>(
    items: &[S],
    errors: &mut Vec<Diagnostic>,
    check: impl Fn(&S) -> Result<T, Diagnostic>,
) -> Vec<T> {
    let mut ok = Vec::new();
    for item in items {
        match check(item) {
            Ok(v) => ok.push(v),
            Err(d) => errors.push(d),
        }
    }
    ok
}

/// Joins a path to the job's directory and removes `.` and `..` lexically (no I/O).
fn resolve(base: &Path, p: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
    infra: Option<&'a Infra>,
    job: &'a str,
}

impl Cx<'_> {
    /// Checks that `name` is an entry of the profile's `section`, naming `what` uses it.
    fn infra_ref(
        &self,
        section: &str,
        names: Option<Vec<&str>>,
        name: &str,
        what: &str,
    ) -> Result<(), Diagnostic> {
        let Some(names) = names else {
            return Err(self
                .err_at_value(
                    name,
                    format!("{what} refers to {section} `{name}`, but no infrastructure profile was given"),
                )
                .with_hint("pass --infra configs/infra/local.yaml (or set FRESHET_INFRA)"));
        };
        if names.contains(&name) {
            return Ok(());
        }
        let file = self
            .infra
            .map(|i| i.path.display().to_string())
            .unwrap_or_default();
        let hint = match closest(name, names.iter().copied()) {
            Some(c) => format!(
                "did you mean `{c}`? `{section}:` in {file} has: {}",
                names.join(", ")
            ),
            None if names.is_empty() => format!("add `{section}: {{ {name}: ... }}` to {file}"),
            None => format!("`{section}:` in {file} has: {}", names.join(", ")),
        };
        Err(self
            .err_at_value(name, format!("{what} refers to unknown {section} `{name}`"))
            .with_hint(hint))
    }

    fn kafka_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.kafka.keys().map(String::as_str).collect())
    }

    fn redis_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.redis.keys().map(String::as_str).collect())
    }

    fn aws_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.aws.keys().map(String::as_str).collect())
    }

    /// An error located at the first line containing `key:` (best effort).
    fn err_at_key(&self, key: &str, msg: impl Into<String>) -> Diagnostic {
        let needle = format!("{key}:");
        self.err_at(
            |l| l.trim_start().trim_start_matches("- ").starts_with(&needle),
            msg,
        )
    }

    /// An error located at the first line mentioning `value` as a YAML value or key.
    fn err_at_value(&self, value: &str, msg: impl Into<String>) -> Diagnostic {
        self.err_at(|l| l.contains(value), msg)
    }

    fn err_at(&self, pred: impl Fn(&str) -> bool, msg: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(ErrorKind::Config, msg);
        match self.text.lines().position(pred) {
            Some(i) => {
                let line = self.text.lines().nth(i).unwrap_or("");
                let col = line.len() - line.trim_start().len() + 1;
                d.at(self.path, self.text, i + 1, col)
            }
            None => d.in_file(self.path),
        }
    }
}

fn yaml_error(path: &Path, text: &str, e: &serde_norway::Error) -> Diagnostics {
    let msg = e.to_string();
    // serde_norway appends " at line L column C"; keep the message clean and use the location.
    let clean = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.clone(),
    };
    let mut d = Diagnostic::new(ErrorKind::Config, clean.clone());
    if let Some(loc) = e.location() {
        d = d.at(path, text, loc.line(), loc.column());
    } else {
        d = d.in_file(path);
    }
    if clean.contains("unknown field") {
        d = d.with_hint("check the spelling of the key; the expected keys are listed above");
    } else if clean.contains("missing field") {
        d = d.with_hint("add the missing key");
    }
    Diagnostics(vec![d])
}

fn check_unique<'a>(
    cx: &Cx,
    what: &str,
    names: impl Iterator<Item = &'a str>,
    errors: &mut Vec<Diagnostic>,
) {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n.to_ascii_lowercase()) {
            errors.push(cx.err_at_value(n, format!("{what} `{n}` is defined twice")));
        }
    }
}

/// A key given for a connector that does not use it is an error (a typo or a leftover).
/// `keys`: each connector-specific key, whether the spec gives it, and the connectors that
/// take it.
fn check_connector_keys(
    cx: &Cx,
    what: &str,
    connector: &str,
    keys: &[(&str, bool, &[&str])],
) -> Result<(), Diagnostic> {
    for (key, _, takes) in keys.iter().filter(|(_, given, _)| *given) {
        if !takes.contains(&connector) {
            return Err(cx
                .err_at_key(
                    key,
                    format!("{what} uses the {connector} connector, which has no `{key}`"),
                )
                .with_hint(format!(
                    "`{key}` applies to: {}; remove it or change `connector`",
                    takes.join(", ")
                )));
        }
    }
    Ok(())
}

/// A key a connector needs.
fn need<'a>(
    cx: &Cx,
    what: &str,
    connector: &str,
    key: &str,
    v: &'a Option<String>,
    example: &str,
) -> Result<&'a str, Diagnostic> {
    v.as_deref().ok_or_else(|| {
        cx.err_at_key(
            "connector",
            format!("{what} uses the {connector} connector but has no `{key}`"),
        )
        .with_hint(format!("add `{key}: {example}`"))
    })
}

fn parse_start(cx: &Cx, text: &str, connector: &str) -> Result<StartPosition, Diagnostic> {
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
            Some(ms) => StartPosition::Timestamp(ms),
            None => return Err(cx
                .err_at_key("start", format!("`start: {t}` is not a starting position"))
                .with_hint(if connector == "kafka" {
                    "write earliest, latest, committed, or a timestamp (RFC 3339 or epoch ms)"
                } else {
                    "write trim_horizon (earliest), latest, or a timestamp (RFC 3339 or epoch ms)"
                })),
        },
    })
}

fn validate_source(cx: &Cx, base: &Path, s: &SourceSpec) -> Result<Source, Diagnostic> {
    let what = format!("source `{}`", s.name);
    let known = ["file", "kafka", "kinesis", "s3"];
    if !known.contains(&s.connector.as_str()) {
        let other = s.connector.as_str();
        let mut d = cx.err_at_value(other, format!("unknown source connector `{other}`"));
        d = d.with_hint(match closest(other, known) {
            Some(c) => format!("did you mean `{c}`? available: {}", known.join(", ")),
            None => format!("available source connectors: {}", known.join(", ")),
        });
        return Err(d);
    }
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
        Some(t) => parse_start(cx, t, &s.connector),
        None => Ok(default),
    };
    let connector = match s.connector.as_str() {
        "file" => {
            let Some(p) = &s.path else {
                return Err(cx
                    .err_at_value(
                        &s.name,
                        format!(
                            "source `{}` uses the file connector but has no `path`",
                            s.name
                        ),
                    )
                    .with_hint(
                        "add `path: data/events/*.jsonl` (a glob relative to the job file)",
                    ));
            };
            SourceConnector::File {
                path: resolve(base, p).to_string_lossy().into_owned(),
            }
        }
        "kafka" => {
            let cluster = need(cx, &what, "kafka", "cluster", &s.cluster, "local")?;
            cx.infra_ref("kafka", cx.kafka_names(), cluster, &what)?;
            let topic = need(cx, &what, "kafka", "topic", &s.topic, "events")?;
            SourceConnector::Kafka {
                cluster: cluster.to_string(),
                topic: topic.to_string(),
                group_id: s
                    .group_id
                    .clone()
                    .unwrap_or_else(|| format!("freshet-{}", cx.job)),
                start: start(StartPosition::Committed)?,
                idle_timeout_ms,
                key_column: None,
                header_columns: Vec::new(),
            }
        }
        "kinesis" => {
            let aws = need(cx, &what, "kinesis", "aws", &s.aws, "local")?;
            cx.infra_ref("aws", cx.aws_names(), aws, &what)?;
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
            cx.infra_ref("aws", cx.aws_names(), aws, &what)?;
            let bucket = need(cx, &what, "s3", "bucket", &s.bucket, "history")?;
            let compression = match s.compression.as_deref().unwrap_or("auto") {
                "auto" => Compression::Auto,
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                other => {
                    return Err(cx
                        .err_at_key("compression", format!("unknown compression `{other}`"))
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
    let mut columns = Vec::new();
    for (name, ty) in &s.schema {
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
                .err_at(
                    |l| l.trim_start().starts_with(&format!("{name}:")) && l.contains(ty.as_str()),
                    format!(
                        "unknown type `{ty_name}` for column `{name}` of source `{}`",
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
    let find =
        |columns: &[Column], n: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(n));
    for r in &s.required {
        match find(&columns, r) {
            Some(i) => columns[i].required = true,
            None => {
                return Err(cx
                    .err_at_value(
                        r,
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
            .err_at(
                |l| l.trim_start().starts_with("event_time:") && l.contains(s.event_time.as_str()),
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
                &s.event_time,
                format!(
                    "event_time column `{}` has type {}; it must be a timestamp",
                    s.event_time, columns[et].ty
                ),
            )
            .with_hint(format!("declare it as `{}: timestamp`", s.event_time)));
    }
    columns[et].ty = DataType::Timestamp;
    columns[et].required = true;
    if columns
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case("rowtime"))
        && !columns[et].name.eq_ignore_ascii_case("rowtime")
    {
        return Err(cx
            .err_at_value(
                "rowtime",
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
                .err_at_key("delimiter", format!("delimiter `{c}` is not allowed here"))
                .with_hint("`delimiter` is a single ASCII character and applies to format: csv"))
        }
    };
    let format_options = validate_format(cx, base, s, delimiter)?;
    let connector = match connector {
        SourceConnector::Kafka {
            cluster,
            topic,
            group_id,
            start,
            idle_timeout_ms,
            ..
        } => {
            let col = |n: &str| {
                find(&columns, n).ok_or_else(|| {
                    cx.err_at_value(
                        n,
                        format!("column `{n}` is not in the schema of source `{}`", s.name),
                    )
                    .with_hint(suggest_column(n, &columns))
                })
            };
            let key_column = s.key_column.as_deref().map(col).transpose()?;
            let header_columns = s
                .header_columns
                .iter()
                .map(|(h, c)| col(c).map(|i| (h.clone(), i)))
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
        Format::Json | Format::Csv => {
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
            .err_at_key(
                "format",
                format!(
                    "{what}: format {} is read from message connectors (kafka, kinesis), not `{}`",
                    s.format.name(),
                    s.connector
                ),
            )
            .with_hint("use json or csv for files and S3 objects"));
    }
    Ok(FormatOptions {
        delimiter,
        schema_file: s.schema_file.as_deref().map(|p| resolve(base, p)),
        descriptor_set: s.descriptor_set.as_deref().map(|p| resolve(base, p)),
        message: s.message.clone(),
    })
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

fn validate_sink(cx: &Cx, base: &Path, s: &SinkSpec) -> Result<Sink, Diagnostic> {
    let what = format!("sink `{}`", s.name);
    let known = ["file", "kafka", "redis", "dynamodb"];
    if !known.contains(&s.connector.as_str()) {
        let other = s.connector.as_str();
        return Err(cx
            .err_at_value(other, format!("unknown sink connector `{other}`"))
            .with_hint(match closest(other, known) {
                Some(c) => format!("did you mean `{c}`? available: {}", known.join(", ")),
                None => format!("available sink connectors: {}", known.join(", ")),
            }));
    }
    const STORES: &[&str] = &["kafka", "redis", "dynamodb"];
    check_connector_keys(
        cx,
        &what,
        &s.connector,
        &[
            ("path", s.path.is_some(), &["file"]),
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
    let connector = match s.connector.as_str() {
        "file" => {
            let Some(p) = &s.path else {
                return Err(cx
                    .err_at_value(
                        &s.name,
                        format!(
                            "sink `{}` uses the file connector but has no `path`",
                            s.name
                        ),
                    )
                    .with_hint("add `path: out/features.jsonl`"));
            };
            SinkConnector::File {
                path: resolve(base, p),
            }
        }
        "kafka" => {
            let cluster = need(cx, &what, "kafka", "cluster", &s.cluster, "local")?;
            cx.infra_ref("kafka", cx.kafka_names(), cluster, &what)?;
            let topic = need(cx, &what, "kafka", "topic", &s.topic, "features")?;
            SinkConnector::Kafka {
                cluster: cluster.into(),
                topic: topic.into(),
            }
        }
        "redis" => {
            let store = need(cx, &what, "redis", "store", &s.store, "features")?;
            cx.infra_ref("redis", cx.redis_names(), store, &what)?;
            SinkConnector::Redis {
                store: store.into(),
                ttl_ms: s.ttl.map(|t| t.0),
            }
        }
        _ => {
            let aws = need(cx, &what, "dynamodb", "aws", &s.aws, "local")?;
            cx.infra_ref("aws", cx.aws_names(), aws, &what)?;
            let table = need(cx, &what, "dynamodb", "table", &s.table, "features")?;
            SinkConnector::Dynamodb {
                aws: aws.into(),
                table: table.into(),
                ttl_ms: s.ttl.map(|t| t.0),
            }
        }
    };
    if s.format != Format::Json {
        return Err(cx
            .err_at_value(
                &s.name,
                format!(
                    "sink `{}`: format {} is not supported for sinks",
                    s.name,
                    s.format.name()
                ),
            )
            .with_hint("sinks write `format: json` (one object per line)"));
    }
    let mut fanout = Fanout::default();
    if let Some(r) = s.write_rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(cx
                .err_at_key(
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
                .err_at_key(
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

fn validate_feature(cx: &Cx, f: &FeatureSpec, sinks: &[&str]) -> Result<Feature, Diagnostic> {
    let value_type = match &f.value_type {
        None => None,
        Some(t) => Some(DataType::parse(t).ok_or_else(|| {
            cx.err_at(
                |l| l.trim_start().starts_with("type:") && l.contains(t.as_str()),
                format!("unknown type `{t}` for feature `{}`", f.name),
            )
            .with_hint("types: string, int, float, bool, timestamp")
        })?),
    };
    let sink_idx = match &f.sinks {
        None => (0..sinks.len()).collect(),
        Some(names) => {
            let mut idx = Vec::new();
            for n in names {
                match sinks.iter().position(|s| s == n) {
                    Some(i) => idx.push(i),
                    None => {
                        return Err(cx
                            .err_at_value(
                                n,
                                format!("feature `{}` writes to unknown sink `{n}`", f.name),
                            )
                            .with_hint(format!("sinks: {}", sinks.join(", "))))
                    }
                }
            }
            idx
        }
    };
    let (sql_line, sql_indent) = locate_sql(cx.text, &f.sql);
    Ok(Feature {
        name: f.name.clone(),
        version: f.version,
        value_type,
        description: f.description.clone(),
        allowed_lateness_ms: f.allowed_lateness.0,
        sql: f.sql.clone(),
        sql_line,
        sql_indent,
        sinks: sink_idx,
    })
}

/// Finds the job-file line where the SQL text begins, and its indentation.
fn locate_sql(text: &str, sql: &str) -> (usize, usize) {
    let Some(first) = sql.lines().find(|l| !l.trim().is_empty()) else {
        return (0, 0);
    };
    let first_trim = first.trim();
    let offset = sql.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(col) = l.find(first_trim) {
            // Either a block scalar line (only the SQL) or an inline `sql: ...`.
            let before = &l[..col];
            if before.trim().is_empty() || before.trim_end().ends_with("sql:") {
                let indent = col
                    - first
                        .len()
                        .saturating_sub(first.trim_start().len())
                        .min(col);
                return ((i + 1).saturating_sub(offset), indent);
            }
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema:
      user_id: string!
      fare: float
      event_time: timestamp
    event_time: event_time
    watermark_delay: 5m
features:
  - name: f
    allowed_lateness: 1h
    sql: |
      SELECT user_id, COUNT(*) AS n
      FROM events
      GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - name: out
    connector: file
    path: out/f.jsonl
    format: json
"#;

    #[test]
    fn a_good_job_validates() {
        let job = parse_job(Path::new("/jobs/j.yaml"), GOOD).unwrap();
        let s = &job.sources[0];
        assert_eq!(s.watermark_delay_ms, 300_000);
        assert!(s.columns[0].required && !s.columns[1].required && s.columns[2].required);
        assert_eq!(job.features[0].allowed_lateness_ms, 3_600_000);
        assert_eq!(job.features[0].version, 1);
        assert_eq!(job.features[0].sql_line, 18);
        assert_eq!(job.features[0].sql_indent, 6);
        assert_eq!(
            job.dead_letter,
            PathBuf::from("/jobs/out/dead_letter.jsonl")
        );
    }

    #[test]
    fn a_key_typo_is_an_error_with_its_line() {
        let bad = GOOD.replace("watermark_delay: 5m", "watermark_dealy: 5m");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(d.message.contains("unknown field `watermark_dealy`"), "{d}");
        assert_eq!(d.location.as_ref().unwrap().line, 13);
    }

    #[test]
    fn a_type_typo_suggests_the_type() {
        let bad = GOOD.replace("fare: float", "fare: flaot");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert_eq!(d.location.as_ref().unwrap().line, 10);
        assert!(d.hint.as_ref().unwrap().contains("`float`"), "{d}");
    }

    #[test]
    fn a_key_of_another_connector_is_an_error() {
        let bad = GOOD.replace(
            "    path: data/*.jsonl",
            "    path: data/*.jsonl\n    topic: events",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message.contains("file connector, which has no `topic`"),
            "{d}"
        );
        assert!(
            d.hint.as_ref().unwrap().contains("applies to: kafka"),
            "{d}"
        );
        let bad = GOOD.replace(
            "    path: out/f.jsonl",
            "    path: out/f.jsonl\n    ttl: 1h",
        );
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        assert!(err.0[0].message.contains("which has no `ttl`"), "{}", err);
    }

    #[test]
    fn a_bad_duration_names_the_units() {
        let bad = GOOD.replace("watermark_delay: 5m", "watermark_delay: 5 parsecs");
        let err = parse_job(Path::new("j.yaml"), &bad).unwrap_err();
        assert!(err.0[0].message.contains("unknown unit"), "{}", err);
    }
}
