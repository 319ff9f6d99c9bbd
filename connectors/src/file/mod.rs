//! Local files: the file source (glob, splits across workers, following), the JSON-lines
//! sink and the Parquet sink.

pub mod direct;
pub mod line_counts;
pub mod parquet;
pub mod sink;
pub mod source;
