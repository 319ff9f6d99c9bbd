//! Local files: the file source (glob, splits across workers, following) and the JSON-lines sink.

pub mod direct;
pub mod line_counts;
pub mod sink;
pub mod source;
