//! The job file: YAML with sources, features (SQL) and sinks.
//!
//! Parsing is strict (`deny_unknown_fields`): a typo in a key is an error that names the
//! file, line and column. [`load_job`] returns a validated [`Job`]: schemas resolved,
//! durations in milliseconds, paths relative to the job file's directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::types::DataType;

/// A duration written as text in the job file (`5m`), held in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Millis(pub u64);

/// Record format of a source or sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Comma-separated values with a header line.
    Csv,
    /// Avro binary datums (one per message), writer schema from `schema_file`.
    Avro,
    /// Protobuf messages (one per message) from `descriptor_set` and `message`.
    Protobuf,
    /// Apache Parquet: file sinks write one table per file (training data); file sources
    /// read the rows of such files (history for backfills).
    Parquet,
}

impl Format {
    /// The name as written in job files.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Avro => "avro",
            Format::Protobuf => "protobuf",
            Format::Parquet => "parquet",
        }
    }
}

/// What a source does with a record it cannot decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop the job with an error naming the record.
    Fail,
    /// Drop the record, counting it.
    Skip,
    /// Write the record with the reason to the dead-letter output, counting it.
    #[default]
    DeadLetter,
}

/// `sources:` entry, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Table name used in SQL.
    pub name: String,
    /// `file`, `kafka`, `kinesis` or `s3`.
    pub connector: String,
    /// Glob of input files, relative to the job file (file connector).
    pub path: Option<String>,
    /// Kafka cluster name in the infrastructure profile (kafka connector).
    pub cluster: Option<String>,
    /// Kafka topic.
    pub topic: Option<String>,
    /// Kafka consumer group (default `freshet-<job name>`).
    pub group_id: Option<String>,
    /// AWS account name in the infrastructure profile (kinesis, s3).
    pub aws: Option<String>,
    /// Kinesis stream.
    pub stream: Option<String>,
    /// S3 bucket.
    pub bucket: Option<String>,
    /// S3 key prefix.
    pub prefix: Option<String>,
    /// S3 object compression: `auto` (by extension), `gzip` or `none`.
    pub compression: Option<String>,
    /// Where to start reading: `earliest`, `latest`, `committed` (Kafka; default) or an
    /// RFC 3339 timestamp / epoch ms. Kinesis also accepts `trim_horizon`.
    pub start: Option<String>,
    /// A partition or shard idle this long stops holding the watermark back (default 30s).
    pub idle_timeout: Option<Millis>,
    /// Column that receives the Kafka message key (converted to the column's type).
    pub key_column: Option<String>,
    /// Kafka headers to columns: `{header name: column}`, in written order (a repeated
    /// header is kept here and reported by validation).
    #[serde(default, deserialize_with = "de::header_entries")]
    pub header_columns: Vec<(String, String)>,
    /// Avro writer schema (`.avsc`), relative to the job file.
    pub schema_file: Option<String>,
    /// Protobuf descriptor set (`protoc --descriptor_set_out`), relative to the job file.
    pub descriptor_set: Option<String>,
    /// Fully qualified Protobuf message name.
    pub message: Option<String>,
    /// Record format.
    pub format: Format,
    /// Columns and types, as written; a trailing `!` marks a column required.
    #[serde(deserialize_with = "de::entries")]
    pub schema: Vec<(String, String)>,
    /// Further required columns.
    #[serde(default)]
    pub required: Vec<String>,
    /// The event-time column.
    pub event_time: String,
    /// Bounded out-of-orderness.
    #[serde(default)]
    pub watermark_delay: Millis,
    /// Bad-record policy.
    #[serde(default)]
    pub on_error: OnError,
    /// CSV field delimiter (one character), default `,`.
    pub delimiter: Option<char>,
    /// A table read completely, also in stream mode (e.g. stores, a dimension table): its
    /// rows are never late, and a join may read it without event-time bounds.
    #[serde(default)]
    pub bounded: bool,
}

/// `features:` entry, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Feature name (also the `feature` field of output rows).
    pub name: String,
    /// Feature version.
    #[serde(default = "one")]
    pub version: u32,
    /// Declared type of the feature value: one type (a feature with one value column), or
    /// a mapping of value columns to types.
    #[serde(rename = "type", default)]
    pub value_type: Option<TypeSpec>,
    /// Free text.
    pub description: Option<String>,
    /// How long after a window closes late records still correct it.
    #[serde(default)]
    pub allowed_lateness: Millis,
    /// The feature's SQL.
    pub sql: String,
    /// Sinks to write to (default: all sinks).
    pub sinks: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

/// `sinks:` entry, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    /// Sink name.
    pub name: String,
    /// `file`, `kafka`, `redis` or `dynamodb`.
    pub connector: String,
    /// Output path, relative to the job file (file connector).
    pub path: Option<String>,
    /// Backfill runs write the file around the page cache (`O_DIRECT`), file connector.
    pub direct_io: Option<bool>,
    /// Record format.
    #[serde(default = "json")]
    pub format: Format,
    /// Kafka cluster name in the infrastructure profile (kafka connector).
    pub cluster: Option<String>,
    /// Kafka topic.
    pub topic: Option<String>,
    /// Redis store name in the infrastructure profile (redis connector).
    pub store: Option<String>,
    /// AWS account name in the infrastructure profile (dynamodb).
    pub aws: Option<String>,
    /// DynamoDB table.
    pub table: Option<String>,
    /// Time to live of a written value (redis, dynamodb).
    pub ttl: Option<Millis>,
    /// Records per second, smoothed (default: unlimited).
    pub write_rate: Option<f64>,
    /// Records per write batch (default 500).
    pub batch_size: Option<usize>,
    /// Retries of a failed write, with exponential backoff, before the record goes to
    /// the dead-letter output (default 5).
    pub retry_count: Option<u32>,
}

fn json() -> Format {
    Format::Json
}

/// The whole job file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Job name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Input tables.
    pub sources: Vec<SourceSpec>,
    /// Feature definitions.
    pub features: Vec<FeatureSpec>,
    /// Outputs.
    #[serde(default)]
    pub sinks: Vec<SinkSpec>,
    /// Dead-letter file (default: `dead_letter.jsonl` beside the first file sink).
    pub dead_letter: Option<String>,
}

/// A column of a validated schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Name as written (case preserved; SQL matches case-insensitively).
    pub name: String,
    /// Type.
    pub ty: DataType,
    /// A record without it is a bad record.
    pub required: bool,
}

/// A validated source.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    /// Table name.
    pub name: String,
    /// Where records come from.
    pub connector: SourceConnector,
    /// Record format.
    pub format: Format,
    /// Columns in declared order.
    pub columns: Vec<Column>,
    /// Index of the event-time column.
    pub event_time: usize,
    /// Bounded out-of-orderness, ms.
    pub watermark_delay_ms: u64,
    /// Bad-record policy.
    pub on_error: OnError,
    /// Format details.
    pub format_options: FormatOptions,
    /// Read completely, also in stream mode (a table, never late).
    pub bounded: bool,
}

/// Format details of a source.
#[derive(Clone, Debug, Serialize)]
pub struct FormatOptions {
    /// CSV delimiter.
    pub delimiter: u8,
    /// Avro writer schema file (absolute).
    pub schema_file: Option<PathBuf>,
    /// Protobuf descriptor set file (absolute).
    pub descriptor_set: Option<PathBuf>,
    /// Protobuf message name.
    pub message: Option<String>,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            delimiter: b',',
            schema_file: None,
            descriptor_set: None,
            message: None,
        }
    }
}

/// Where a message source starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPosition {
    /// The oldest retained record (Kinesis `TRIM_HORIZON`).
    Earliest,
    /// Only records appended after the start.
    Latest,
    /// The consumer group's committed offsets, else earliest.
    Committed,
    /// The first record at or after this event/append time, epoch ms.
    Timestamp(i64),
}

impl Source {
    /// Column names and types, in schema order (the scope SQL resolves names in).
    pub fn typed_columns(&self) -> Vec<(String, DataType)> {
        self.columns
            .iter()
            .map(|c| (c.name.clone(), c.ty))
            .collect()
    }
}

/// Source connectors.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "connector", rename_all = "snake_case")]
pub enum SourceConnector {
    /// Local files matching a glob.
    File {
        /// The glob: the source's `path` joined to the job's directory, which is escaped
        /// (`jobs[1]` is `jobs[[]1[]]` here) so that it matches only itself.
        path: String,
    },
    /// A Kafka topic.
    Kafka {
        /// Cluster name (see [`Job::infra`]).
        cluster: String,
        /// Topic.
        topic: String,
        /// Consumer group.
        group_id: String,
        /// Starting position.
        start: StartPosition,
        /// Idle partitions stop holding the watermark back after this long, ms.
        idle_timeout_ms: u64,
        /// Column receiving the message key.
        key_column: Option<usize>,
        /// Header name to column index.
        header_columns: Vec<(String, usize)>,
    },
    /// A Kinesis stream.
    Kinesis {
        /// AWS account name.
        aws: String,
        /// Stream name.
        stream: String,
        /// Starting position.
        start: StartPosition,
        /// Idle shards stop holding the watermark back after this long, ms.
        idle_timeout_ms: u64,
    },
    /// Objects under an S3 prefix.
    S3 {
        /// AWS account name.
        aws: String,
        /// Bucket.
        bucket: String,
        /// Key prefix.
        prefix: String,
        /// `auto`, `gzip` or `none`.
        compression: Compression,
    },
}

/// Compression of S3 objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// By extension: `.gz` is gzip.
    Auto,
    /// Always gzip.
    Gzip,
    /// Never compressed.
    None,
}

/// Sink connectors.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "connector", rename_all = "snake_case")]
pub enum SinkConnector {
    /// A local JSON-lines file (one per worker when there are several).
    File {
        /// Absolute path.
        path: PathBuf,
        /// In backfill runs, write around the page cache (`O_DIRECT`): the bytes go from
        /// the sink's buffers to the device, and the run ends once they are there. For
        /// outputs much larger than memory, or to keep the page cache for the input.
        /// Stream runs always write through the page cache, so lines are visible at once.
        direct_io: bool,
    },
    /// A Kafka topic, keyed by (feature, version, key) for compaction.
    Kafka {
        /// Cluster name.
        cluster: String,
        /// Topic.
        topic: String,
    },
    /// Redis hashes at `<feature>:<version>:<key>`.
    Redis {
        /// Store name.
        store: String,
        /// Expiry of each hash, ms.
        ttl_ms: Option<u64>,
    },
    /// A DynamoDB table with partition key `pk` = `<feature>:<version>:<key>`.
    Dynamodb {
        /// AWS account name.
        aws: String,
        /// Table.
        table: String,
        /// Expiry (the `ttl` attribute, epoch seconds), ms from the write.
        ttl_ms: Option<u64>,
    },
}

/// Fanout controls of a sink.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fanout {
    /// Records per second, smoothed; `None`: unlimited.
    pub write_rate: Option<f64>,
    /// Records per write batch.
    pub batch_size: usize,
    /// Retries before a record goes to the dead-letter output.
    pub retry_count: u32,
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            write_rate: None,
            batch_size: 500,
            retry_count: 5,
        }
    }
}

/// A validated sink.
#[derive(Clone, Debug, Serialize)]
pub struct Sink {
    /// Name.
    pub name: String,
    /// Where rows go.
    pub connector: SinkConnector,
    /// Row format.
    pub format: Format,
    /// Rate, batching and retries.
    pub fanout: Fanout,
}

/// A feature's `type:` as written: `type: float`, or `type: { fare_sum: float, rides: int }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeSpec {
    /// The type of the feature's one value column.
    One(String),
    /// Value columns and their types, in written order.
    Columns(Vec<(String, String)>),
}

/// A feature's declared value types, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ValueTypes {
    /// The type of the feature's one value column.
    One(DataType),
    /// Value columns (by output name) and their types.
    Columns(Vec<(String, DataType)>),
}

/// A validated feature (SQL not yet planned).
#[derive(Clone, Debug, Serialize)]
pub struct Feature {
    /// Name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// Declared value types.
    pub value_type: Option<ValueTypes>,
    /// Description.
    pub description: Option<String>,
    /// Allowed lateness, ms.
    pub allowed_lateness_ms: u64,
    /// SQL text.
    pub sql: String,
    /// 1-based line in the job file where the SQL text starts (0 if unknown).
    pub sql_line: usize,
    /// Column offset of the SQL text on its lines (block indentation).
    pub sql_indent: usize,
    /// Where each SQL character is in the job file, for SQL written as a quoted, folded or
    /// plain scalar (then `sql_line` is 0).
    #[serde(skip)]
    pub sql_positions: Option<SqlPositions>,
    /// Indices into [`Job::sinks`].
    pub sinks: Vec<usize>,
}

/// A validated job.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    /// Job name.
    pub name: String,
    /// The job file.
    pub path: PathBuf,
    /// The job file's text (for diagnostics).
    #[serde(skip)]
    pub text: String,
    /// Sources.
    pub sources: Vec<Source>,
    /// Features.
    pub features: Vec<Feature>,
    /// Sinks.
    pub sinks: Vec<Sink>,
    /// Dead-letter file.
    pub dead_letter: PathBuf,
    /// The infrastructure profile the job's connectors refer to.
    pub infra: Infra,
}

/// The file worker `worker` writes when several workers share the file sink `path`:
/// `out/f.jsonl` becomes `out/f.3.jsonl` (one name for the sink that writes it and the
/// validation that keeps sinks and sources apart).
pub fn worker_file(path: &std::path::Path, worker: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{worker}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{worker}"),
    };
    path.with_file_name(name)
}

mod de;
mod infra;
pub(crate) mod locate;
mod sql_position;
mod validate;

pub use self::sql_position::SqlPositions;

/// A configuration error at the value of key `key` of source `source` (its index under
/// `sources:`) in the job file `path` whose text is `text`; naming the file alone where
/// the key is not found. For checks made outside the planner, such as a connector
/// reading a source's schema files.
pub fn source_key_error(
    path: &std::path::Path,
    text: &str,
    source: usize,
    key: &str,
    msg: impl Into<String>,
) -> crate::Diagnostic {
    use self::locate::{Doc, Seg};
    let d = crate::Diagnostic::new(crate::ErrorKind::Config, msg);
    let at = [Seg::Key("sources"), Seg::Index(source), Seg::Key(key)];
    match Doc::parse(text).find(&at) {
        Some(found) => d.at(path, text, found.value.0, found.value.1),
        None => d.in_file(path),
    }
}

pub use infra::{load_infra, parse_infra, AwsAccount, Infra, KafkaCluster, RedisStore, Secret};
pub use validate::{load_job, load_job_with_infra, parse_job, parse_job_with_infra};

impl std::fmt::Display for StartPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartPosition::Earliest => f.write_str("earliest"),
            StartPosition::Latest => f.write_str("latest"),
            StartPosition::Committed => f.write_str("committed"),
            StartPosition::Timestamp(ms) => write!(f, "timestamp({ms})"),
        }
    }
}

impl std::fmt::Display for SourceConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceConnector::File { path } => write!(f, "file path={path}"),
            SourceConnector::Kafka {
                cluster,
                topic,
                group_id,
                start,
                idle_timeout_ms,
                ..
            } => write!(
                f,
                "kafka cluster={cluster} topic={topic} group={group_id} start={start} idle_timeout={}",
                crate::duration::format_duration_ms(*idle_timeout_ms)
            ),
            SourceConnector::Kinesis {
                aws,
                stream,
                start,
                idle_timeout_ms,
            } => write!(
                f,
                "kinesis aws={aws} stream={stream} start={start} idle_timeout={}",
                crate::duration::format_duration_ms(*idle_timeout_ms)
            ),
            SourceConnector::S3 {
                aws,
                bucket,
                prefix,
                compression,
            } => write!(
                f,
                "s3 aws={aws} url=s3://{bucket}/{prefix} compression={}",
                format!("{compression:?}").to_lowercase()
            ),
        }
    }
}

impl std::fmt::Display for SinkConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ttl = |t: &Option<u64>| match t {
            Some(ms) => crate::duration::format_duration_ms(*ms),
            None => "none".to_string(),
        };
        match self {
            SinkConnector::File { path, direct_io } => {
                write!(f, "file path={}", path.display())?;
                if *direct_io {
                    write!(f, " direct_io (backfill)")?;
                }
                Ok(())
            }
            SinkConnector::Kafka { cluster, topic } => {
                write!(f, "kafka cluster={cluster} topic={topic} key=(feature, version, key)")
            }
            SinkConnector::Redis { store, ttl_ms } => write!(
                f,
                "redis store={store} hash=<feature>:<version>:<key> ttl={} newer_window_wins",
                ttl(ttl_ms)
            ),
            SinkConnector::Dynamodb { aws, table, ttl_ms } => write!(
                f,
                "dynamodb aws={aws} table={table} pk=<feature>:<version>:<key> ttl={} newer_window_wins",
                ttl(ttl_ms)
            ),
        }
    }
}
