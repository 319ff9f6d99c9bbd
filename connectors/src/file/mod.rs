//! Local files: the file source (glob, splits across workers, following) and the JSON-lines sink.

pub mod sink;
pub mod source;
