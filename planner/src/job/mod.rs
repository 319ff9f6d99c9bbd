//! The job file: YAML with sources, features (SQL) and sinks.
//!
//! Parsing is strict (`deny_unknown_fields`): a typo in a key is an error that names the
//! file, line and column. [`load_job`] returns a validated [`Job`]: schemas resolved,
//! durations in milliseconds, paths relative to the job file's directory.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration_ms;
use crate::types::DataType;

/// A duration written as text in the job file (`5m`), held in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Millis(pub u64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => parse_duration_ms(&t)
                .map(Millis)
                .map_err(serde::de::Error::custom),
            Raw::Number(0) => Ok(Millis(0)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!(
                "`{n}` has no unit; write e.g. `{n}s` or `{n}ms`"
            ))),
        }
    }
}

/// Record format of a source or sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Comma-separated values with a header line.
    Csv,
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
    /// `file` (later: kafka, kinesis, s3).
    pub connector: String,
    /// Glob of input files, relative to the job file (file connector).
    pub path: Option<String>,
    /// Record format.
    pub format: Format,
    /// Columns and types; a trailing `!` marks a column required.
    pub schema: IndexMap<String, String>,
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
    /// Declared type of the feature value.
    #[serde(rename = "type")]
    pub value_type: Option<String>,
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
    /// `file` (later: kafka, redis, dynamodb).
    pub connector: String,
    /// Output path, relative to the job file (file connector).
    pub path: Option<String>,
    /// Record format.
    #[serde(default = "json")]
    pub format: Format,
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
    /// CSV delimiter.
    pub delimiter: u8,
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
        /// Absolute glob.
        path: String,
    },
}

/// Sink connectors.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "connector", rename_all = "snake_case")]
pub enum SinkConnector {
    /// A local JSON-lines file (one per worker when there are several).
    File {
        /// Absolute path.
        path: PathBuf,
    },
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
}

/// A validated feature (SQL not yet planned).
#[derive(Clone, Debug, Serialize)]
pub struct Feature {
    /// Name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// Declared value type.
    pub value_type: Option<DataType>,
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
}

mod validate;

pub use validate::{load_job, parse_job};
