//! Parquet sink files read back as the JSON objects a `format: json` sink would write for
//! the same rows (plus nulls for the columns of the sink's other features), independently
//! of freshet's own code: the `parquet` crate's reader and arrow's arrays.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::Array;
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

/// Every row of the Parquet file `path`, as a JSON object by column name. Floats that are
/// not finite become null (as JSON sinks write them), and columns marked as JSON text
/// (`freshet:json`) are parsed.
pub fn parquet_rows(path: &Path) -> Vec<Map<String, Value>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{} is not a parquet file: {e}", path.display()))
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut obj = Map::new();
            for (field, col) in schema.fields().iter().zip(batch.columns()) {
                let v = if col.is_null(row) {
                    Value::Null
                } else {
                    match field.data_type() {
                        DataType::Utf8 => {
                            let s = col.as_string::<i32>().value(row);
                            if field.metadata().get("freshet:json").map(String::as_str)
                                == Some("true")
                            {
                                serde_json::from_str(s).unwrap()
                            } else {
                                Value::String(s.to_string())
                            }
                        }
                        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).into(),
                        DataType::Float64 => {
                            let f = col
                                .as_primitive::<arrow_array::types::Float64Type>()
                                .value(row);
                            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                        }
                        DataType::Boolean => col.as_boolean().value(row).into(),
                        DataType::Timestamp(TimeUnit::Millisecond, Some(tz)) if &**tz == "UTC" => {
                            col.as_primitive::<TimestampMillisecondType>()
                                .value(row)
                                .into()
                        }
                        other => panic!("{}: unexpected column type {other}", path.display()),
                    }
                };
                obj.insert(field.name().clone(), v);
            }
            rows.push(obj);
        }
    }
    rows
}
