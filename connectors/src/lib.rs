//! freshet's connectors: where records come from and where feature rows go, and the
//! record formats in between.
//!
//! - [`format`]: schema-driven decoders (JSON, CSV) into rows, and the JSON row encoder.
//! - [`source`]: the reader model every source implements, and per-partition watermarks.
//! - [`file`]: the local file source (glob, splits across workers, following) and sink.
//!
//! Connectors know rows and bytes, not timely: `dataflow` wraps them in operators.

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
    let _ = infra;
    match &source.connector {
        SourceConnector::File { path } => Ok(Box::new(file::source::FileReader::open(
            path, worker, peers, mode, has_header,
        )?)),
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
    let _ = (infra, worker);
    match &sink.connector {
        SinkConnector::File { .. } => Err(sink::SinkError::permanent(
            "file sinks are written by the file sink operator",
        )),
        other => Err(sink::SinkError::permanent(format!(
            "the {} connector is not available in this build",
            other.to_string().split(' ').next().unwrap_or("")
        ))),
    }
}
