//! freshet's connectors: where records come from and where feature rows go, and the
//! record formats in between.
//!
//! - [`format`]: schema-driven decoders (JSON, CSV) into rows, and the JSON row encoder.
//! - [`file`]: the local file source (glob, splits across workers, following) and sink.
//!
//! Connectors know rows and bytes, not timely: `dataflow` wraps them in operators.

pub mod file;
pub mod format;

pub use format::{Decoder, RecordError};
