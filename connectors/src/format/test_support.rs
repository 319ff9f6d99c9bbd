//! Fixtures shared by the decoders' unit tests.

use planner::job::{Column, Format, FormatOptions, OnError, Source, SourceConnector};
use planner::types::DataType;
use planner::SourcePlan;

/// A column.
pub fn col(name: &str, ty: DataType, required: bool) -> Column {
    Column {
        name: name.into(),
        ty,
        required,
    }
}

/// A source `name` of `format` with `columns` (event time: column 1), every column needed.
pub fn plan_with(name: &str, format: Format, columns: Vec<Column>) -> SourcePlan {
    let n = columns.len();
    SourcePlan {
        source: Source {
            name: name.into(),
            connector: SourceConnector::File { path: "x".into() },
            format,
            columns,
            event_time: 1,
            watermark_delay_ms: 0,
            on_error: OnError::DeadLetter,
            format_options: FormatOptions::default(),
            bounded: false,
        },
        needed: vec![true; n],
    }
}
