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

pub mod kafka;
pub mod redis_store;
pub mod sink;

use planner::job::{Format, Infra, Sink, SinkConnector, SourceConnector};
use planner::SourcePlan;
use source::{ReadMode, RecordSource, SourceError};

/// Opens worker `worker`'s (of `peers`) reader of `plan`'s source.
pub fn open_source(
    plan: &SourcePlan,
    infra: &Infra,
    worker: usize,
    peers: usize,
    mode: ReadMode,
    has_header: bool,
    stopping: &dyn Fn() -> bool,
) -> Result<Box<dyn RecordSource>, SourceError> {
    let source = &plan.source;
    match &source.connector {
        SourceConnector::File { path } if source.format == Format::Parquet => {
            let store = file::parquet_source::TableStore::Files {
                pattern: path.clone(),
            };
            Ok(Box::new(file::parquet_source::ParquetReader::open(
                store, plan, worker, peers, mode,
            )?))
        }
        SourceConnector::File { path } => Ok(Box::new(file::source::FileReader::open(
            path, worker, peers, mode, has_header,
        )?)),
        SourceConnector::Kafka {
            cluster,
            topic,
            group_id,
            start,
            ..
        } => {
            let conn = infra.kafka.get(cluster).ok_or_else(|| {
                SourceError(format!(
                    "kafka cluster `{cluster}` is not in the infrastructure profile"
                ))
            })?;
            let spec = kafka::source::KafkaSourceSpec {
                cluster,
                conn,
                topic,
                group_id,
                start: *start,
                stopping,
            };
            Ok(Box::new(kafka::source::KafkaReader::open(
                &spec, worker, peers, mode,
            )?))
        }
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
            if source.format == Format::Parquet {
                let store = file::parquet_source::TableStore::S3 { aws, loc };
                return Ok(Box::new(file::parquet_source::ParquetReader::open(
                    store, plan, worker, peers, mode,
                )?));
            }
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
    }
}

/// Opens worker `worker`'s writer of a feature-store sink (every connector but `file`);
/// connection retries give up once `stopping()`.
pub fn open_sink(
    sink: &Sink,
    infra: &Infra,
    worker: usize,
    stopping: &dyn Fn() -> bool,
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
        SinkConnector::Kafka { cluster, topic } => {
            let conn = infra.kafka.get(cluster).ok_or_else(|| {
                sink::SinkError::permanent(format!(
                    "kafka cluster `{cluster}` is not in the infrastructure profile"
                ))
            })?;
            Ok(Box::new(kafka::sink::KafkaSink::open(
                cluster, conn, topic, stopping,
            )?))
        }
        SinkConnector::Redis { store, ttl_ms } => {
            let conn = infra.redis.get(store).ok_or_else(|| {
                sink::SinkError::permanent(format!(
                    "redis store `{store}` is not in the infrastructure profile"
                ))
            })?;
            Ok(Box::new(redis_store::RedisSink::open(
                store, conn, *ttl_ms,
            )?))
        }
    }
}
