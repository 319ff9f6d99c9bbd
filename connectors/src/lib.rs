//! freshet's connectors: where records come from and where feature rows go, and the
//! record formats in between.
//!
//! - [`format`]: schema-driven decoders (JSON, CSV) into rows, and the JSON row encoder.
//! - [`source`]: the reader model every source implements, and per-partition watermarks.
//! - [`file`]: the local file source (glob, splits across workers, following) and sink.
//! - [`aws`]: the S3 and Kinesis sources and the DynamoDB sink.
//!
//! Connectors know rows and bytes, not timely: `dataflow` wraps them in operators.

pub mod aws;
pub mod file;
pub mod format;
pub mod source;

pub use format::{Decoder, RecordError};

pub mod sink;

use planner::job::{Infra, Sink, SinkConnector, Source, SourceConnector};
use source::{ReadMode, RecordSource, SourceError};

/// Opens worker `worker`'s (of `peers`) reader of `source`.
pub fn open_source(
    source: &Source,
    infra: &Infra,
    worker: usize,
    peers: usize,
    mode: ReadMode,
    has_header: bool,
) -> Result<Box<dyn RecordSource>, SourceError> {
    match &source.connector {
        SourceConnector::File { path } => Ok(Box::new(file::source::FileReader::open(
            path, worker, peers, mode, has_header,
        )?)),
        SourceConnector::S3 {
            aws,
            bucket,
            prefix,
            compression,
        } => {
            let aws = aws::Aws::open(infra, aws).map_err(SourceError)?;
            let loc = aws::s3::S3Location {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                compression: *compression,
            };
            Ok(Box::new(aws::s3::S3Reader::open(
                aws, loc, worker, peers, mode, has_header,
            )?))
        }
        SourceConnector::Kinesis {
            aws, stream, start, ..
        } => {
            let aws = aws::Aws::open(infra, aws).map_err(SourceError)?;
            Ok(Box::new(aws::kinesis::KinesisReader::open(
                aws, stream, *start, worker, peers, mode,
            )?))
        }
        other => Err(SourceError(format!(
            "the {} connector is not available in this build",
            other.to_string().split(' ').next().unwrap_or("")
        ))),
    }
}

/// Opens worker `worker`'s writer of a feature-store sink (every connector but `file`).
pub fn open_sink(
    sink: &Sink,
    infra: &Infra,
    worker: usize,
) -> Result<Box<dyn sink::RowSink>, sink::SinkError> {
    let _ = worker;
    match &sink.connector {
        SinkConnector::Dynamodb { aws, table, ttl_ms } => {
            let aws = aws::Aws::open(infra, aws).map_err(sink::SinkError::permanent)?;
            Ok(Box::new(aws::dynamodb::DynamoSink::open(
                aws, table, *ttl_ms,
            )?))
        }
        SinkConnector::File { .. } => Err(sink::SinkError::permanent(
            "file sinks are written by the file sink operator",
        )),
        other => Err(sink::SinkError::permanent(format!(
            "the {} connector is not available in this build",
            other.to_string().split(' ').next().unwrap_or("")
        ))),
    }
}
