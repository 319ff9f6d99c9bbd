//! Local files: the line file source (glob, splits across workers, following), the Parquet
//! file source, the JSON-lines sink and the Parquet sink.

pub mod direct;
pub mod line_counts;
pub mod parquet;
mod parquet_columns;
pub mod parquet_source;
pub mod sink;
pub mod source;
