//! Parquet file sinks (`format: parquet`): a sink's feature rows as one table
//! ([`planner::SinkTable`]), for training data. Backfills of sliding windows write many
//! rows of a few distinct keys and windows; delta and dictionary encoding plus snappy
//! pages make the file about 20x smaller than the same rows as JSON lines (see
//! benches/README.md, session 9), and readers (pandas, Spark, DuckDB, DataFusion) load it
//! typed.
//!
//! Rows are gathered in arrow column builders on the worker, and every [`BATCH`] rows
//! handed as a record batch to a writer thread, which encodes and writes them with the
//! `parquet` crate (row groups of up to 1M rows). The file is a whole Parquet file only
//! once [`ParquetFile::finish`] has written its footer: at the end of the input, in
//! backfill and in stream mode with `--exit-at-end`. An unbounded stream should write
//! JSON lines or a feature store instead.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use planner::table::{LEADING, TRAILING};
use planner::types::{DataType, Value};
use planner::{Plan, SinkTable};

use crate::format::encode;

/// Rows per record batch handed to the writer thread.
pub const BATCH: usize = 64 * 1024;

/// Field metadata key of columns that hold JSON text (arrays: `LAST_N`, `TOP`,
/// `ARRAY_AGG`); the arrow schema kept in the file carries it.
pub const JSON_METADATA: &str = "freshet:json";

/// Record batches queued for the writer thread (bounded memory, back-pressure).
const QUEUED: usize = 2;

/// One value column's builder; arrays are written as their JSON text.
enum Column {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Ts(TimestampMillisecondBuilder),
    Json(StringBuilder),
}

impl Column {
    /// A builder for `rows` values (and `bytes` bytes of text).
    fn with_capacity(ty: DataType, rows: usize, bytes: usize) -> Column {
        match ty {
            DataType::Bool => Column::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Int => Column::Int(Int64Builder::with_capacity(rows)),
            DataType::Float => Column::Float(Float64Builder::with_capacity(rows)),
            DataType::String => Column::Str(StringBuilder::with_capacity(rows, bytes)),
            DataType::Timestamp => Column::Ts(timestamps(rows)),
            DataType::Array => Column::Json(StringBuilder::with_capacity(rows, bytes)),
        }
    }

    fn arrow_type(ty: DataType) -> ArrowType {
        match ty {
            DataType::Bool => ArrowType::Boolean,
            DataType::Int => ArrowType::Int64,
            DataType::Float => ArrowType::Float64,
            DataType::String | DataType::Array => ArrowType::Utf8,
            DataType::Timestamp => timestamp(),
        }
    }

    /// Appends `v`; `false` if it does not fit the column's type (nothing is appended).
    #[inline]
    fn append(&mut self, v: &Value, scratch: &mut Vec<u8>) -> bool {
        match (self, v) {
            (c, Value::Null) => c.append_null(),
            (Column::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Column::Int(b), Value::Int(x)) => b.append_value(*x),
            (Column::Float(b), Value::Float(x)) => b.append_value(*x),
            // Mixed numeric CASE and COALESCE branches are typed float but keep an
            // integer branch's value (`COALESCE(AVG(x), 0)`); JSON writes it as is.
            (Column::Float(b), Value::Int(x)) => b.append_value(*x as f64),
            (Column::Str(b), Value::Str(s)) => b.append_value(s.as_str()),
            (Column::Ts(b), Value::Ts(x) | Value::Int(x)) => b.append_value(*x),
            (Column::Json(b), v) => {
                scratch.clear();
                encode::value(scratch, v);
                b.append_value(std::str::from_utf8(scratch).expect("JSON text is UTF-8"));
            }
            _ => return false,
        }
        true
    }

    fn append_null(&mut self) {
        match self {
            Column::Bool(b) => b.append_null(),
            Column::Int(b) => b.append_null(),
            Column::Float(b) => b.append_null(),
            Column::Str(b) | Column::Json(b) => b.append_null(),
            Column::Ts(b) => b.append_null(),
        }
    }

    /// The values so far; the builder starts over with room for as many (arrow's
    /// builders give their buffers away: growing them again row by row cost a tenth of
    /// the rows' encoding).
    fn finish(&mut self) -> ArrayRef {
        let (ty, array): (DataType, ArrayRef) = match self {
            Column::Bool(b) => (DataType::Bool, Arc::new(b.finish())),
            Column::Int(b) => (DataType::Int, Arc::new(b.finish())),
            Column::Float(b) => (DataType::Float, Arc::new(b.finish())),
            Column::Str(b) => (DataType::String, Arc::new(b.finish())),
            Column::Json(b) => (DataType::Array, Arc::new(b.finish())),
            Column::Ts(b) => (DataType::Timestamp, Arc::new(b.finish())),
        };
        let bytes = array.to_data().buffers().last().map_or(0, |b| b.len());
        *self = Column::with_capacity(ty, array.len().max(BATCH), bytes);
        array
    }
}

fn timestamps(rows: usize) -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC")
}

fn timestamp() -> ArrowType {
    ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// What a feature's rows put in the table.
struct FeatureColumns {
    name: String,
    version: u32,
    /// The column of each value output, in order.
    columns: Vec<usize>,
    /// The value columns it leaves null.
    absent: Vec<usize>,
    /// Its value outputs' names, for errors.
    names: Vec<String>,
}

/// A sink's rows gathered in column builders.
pub struct ParquetRows {
    schema: SchemaRef,
    features: Vec<Option<FeatureColumns>>,
    feature: StringBuilder,
    version: Int64Builder,
    values: Vec<Column>,
    window_start: TimestampMillisecondBuilder,
    window_end: TimestampMillisecondBuilder,
    revision: Int64Builder,
    deleted: BooleanBuilder,
    len: usize,
    scratch: Vec<u8>,
}

/// A row whose value does not fit its column's type (a planner bug: the table's types come
/// from the plan's).
#[derive(Debug)]
pub struct TypeError(pub String);

impl ParquetRows {
    /// The rows of sink `k` of `plan`, laid out as `table` (`SinkTable::of(plan, k)`).
    pub fn new(plan: &Plan, table: &SinkTable) -> ParquetRows {
        let mut fields = vec![
            Field::new(LEADING[0], ArrowType::Utf8, false),
            Field::new(LEADING[1], ArrowType::Int64, false),
        ];
        fields.extend(table.columns.iter().map(|(n, t)| {
            let field = Field::new(n, Column::arrow_type(*t), true);
            if *t == DataType::Array {
                // Arrays are written as JSON text; the field says so to readers.
                let json = [(JSON_METADATA.to_string(), "true".to_string())];
                field.with_metadata(std::collections::HashMap::from(json))
            } else {
                field
            }
        }));
        fields.extend([
            Field::new(TRAILING[0], timestamp(), false),
            Field::new(TRAILING[1], timestamp(), false),
            Field::new(TRAILING[2], ArrowType::Int64, false),
            Field::new(TRAILING[3], ArrowType::Boolean, false),
        ]);
        let features = plan
            .features
            .iter()
            .zip(&table.features)
            .map(|(f, at)| {
                at.as_ref().map(|columns| FeatureColumns {
                    name: f.name.clone(),
                    version: f.version,
                    columns: columns.clone(),
                    absent: (0..table.columns.len())
                        .filter(|c| !columns.contains(c))
                        .collect(),
                    names: f.value_outputs().map(|o| o.name.clone()).collect(),
                })
            })
            .collect();
        ParquetRows {
            schema: Arc::new(Schema::new(fields)),
            features,
            feature: StringBuilder::with_capacity(BATCH, BATCH * 8),
            version: Int64Builder::with_capacity(BATCH),
            values: table
                .columns
                .iter()
                .map(|(_, t)| Column::with_capacity(*t, BATCH, BATCH * 8))
                .collect(),
            window_start: timestamps(BATCH),
            window_end: timestamps(BATCH),
            revision: Int64Builder::with_capacity(BATCH),
            deleted: BooleanBuilder::with_capacity(BATCH),
            len: 0,
            scratch: Vec::new(),
        }
    }

    /// The table's arrow schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows gathered since the last [`ParquetRows::take`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no rows are gathered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row of feature `feature` (its index in the plan) with its value outputs
    /// `values`, in order. A value that does not fit its column's type is written as null
    /// and reported (the row is still whole).
    #[inline]
    pub fn push<'v>(
        &mut self,
        feature: u32,
        values: impl Iterator<Item = &'v Value>,
        (window_start, window_end, revision, deleted): (i64, i64, u32, bool),
    ) -> Result<(), TypeError> {
        let f = self.features[feature as usize]
            .as_ref()
            .expect("rows come from the sink's features");
        let mut misfit = None;
        let mut given = 0;
        for (v, c) in values.zip(&f.columns) {
            given += 1;
            if !self.values[*c].append(v, &mut self.scratch) {
                self.values[*c].append_null();
                misfit.get_or_insert_with(|| {
                    let i = f.columns.iter().position(|x| x == c).expect("a column of f");
                    TypeError(format!(
                        "feature `{}` column `{}`: value {v:?} does not fit the parquet column's type",
                        f.name, f.names[i]
                    ))
                });
            }
        }
        if given < f.columns.len() {
            for c in &f.columns[given..] {
                self.values[*c].append_null();
            }
            misfit.get_or_insert_with(|| {
                TypeError(format!(
                    "feature `{}`: a row has {given} values for {} columns",
                    f.name,
                    f.columns.len()
                ))
            });
        }
        for c in &f.absent {
            self.values[*c].append_null();
        }
        self.feature.append_value(&f.name);
        self.version.append_value(i64::from(f.version));
        self.window_start.append_value(window_start);
        self.window_end.append_value(window_end);
        self.revision.append_value(i64::from(revision));
        self.deleted.append_value(deleted);
        self.len += 1;
        misfit.map_or(Ok(()), Err)
    }

    /// The gathered rows as a record batch; empties the builders (keeping their room).
    pub fn take(&mut self) -> RecordBatch {
        /// The builder's values; it starts over as `fresh`.
        fn renew<B: ArrayBuilder>(b: &mut B, fresh: B) -> ArrayRef {
            std::mem::replace(b, fresh).finish()
        }
        let rows = self.len.max(BATCH);
        let text = self.feature.values_slice().len();
        let mut columns = vec![
            renew(&mut self.feature, StringBuilder::with_capacity(rows, text)),
            renew(&mut self.version, Int64Builder::with_capacity(rows)),
        ];
        columns.extend(self.values.iter_mut().map(Column::finish));
        columns.extend([
            renew(&mut self.window_start, timestamps(rows)),
            renew(&mut self.window_end, timestamps(rows)),
            renew(&mut self.revision, Int64Builder::with_capacity(rows)),
            renew(&mut self.deleted, BooleanBuilder::with_capacity(rows)),
        ]);
        self.len = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .expect("columns follow the schema and have one length")
    }
}

/// How the columns are encoded. Measured with callgrind on the HOP benchmark job (1M
/// events, 1.48M rows; benches/README.md, session 9): the whole run took 7.59 G
/// instructions with the parquet crate's defaults (dictionaries for every column, page
/// statistics, snappy) and 6.50 G with these (4.08 G writing JSON lines).
/// - Integers and timestamps: delta encoding instead of dictionaries (window bounds,
///   versions and revisions repeat or grow slowly: a few bits per value, and no hashing).
/// - Strings (feature names, keys): dictionaries, which fall back to plain pages for
///   columns with too many distinct values.
/// - Statistics (min/max) only per column chunk of `window_start` and `window_end`, the
///   columns readers filter row groups by; comparing every string for statistics (even
///   the feature name) cost more than any other part of the encoding.
/// - Snappy pages: half the size for 0.4 G instructions.
fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("freshet {}", env!("CARGO_PKG_VERSION")));
    for f in schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        if matches!(f.data_type(), ArrowType::Int64 | ArrowType::Timestamp(..)) {
            props = props
                .set_column_dictionary_enabled(col.clone(), false)
                .set_column_encoding(col.clone(), Encoding::DELTA_BINARY_PACKED);
        }
        if [TRAILING[0], TRAILING[1]].contains(&f.name().as_str()) {
            props = props.set_column_statistics_enabled(col, EnabledStatistics::Chunk);
        }
    }
    props.build()
}

/// This worker's Parquet file of a sink: rows are gathered with [`ParquetFile::rows`] and
/// handed to the writer thread by [`ParquetFile::commit`].
pub struct ParquetFile {
    path: std::path::PathBuf,
    rows: ParquetRows,
    queue: Option<SyncSender<RecordBatch>>,
    writer: Option<JoinHandle<std::io::Result<()>>>,
}

impl ParquetFile {
    /// Creates (truncates) `path` for `rows`' table.
    pub fn create(path: &Path, rows: ParquetRows) -> std::io::Result<ParquetFile> {
        super::sink::prepare_output(path)?;
        let file = File::create(path)?;
        let props = writer_properties(&rows.schema());
        let mut writer = ArrowWriter::try_new(file, rows.schema(), Some(props))
            .map_err(std::io::Error::other)?;
        let (queue, batches) = sync_channel::<RecordBatch>(QUEUED);
        let writer = std::thread::Builder::new()
            .name("freshet:parquet".into())
            .spawn(move || {
                for batch in batches {
                    writer.write(&batch).map_err(std::io::Error::other)?;
                }
                writer.close().map_err(std::io::Error::other)?;
                Ok(())
            })?;
        Ok(ParquetFile {
            path: path.to_path_buf(),
            rows,
            queue: Some(queue),
            writer: Some(writer),
        })
    }

    /// The rows being gathered.
    #[inline]
    pub fn rows(&mut self) -> &mut ParquetRows {
        &mut self.rows
    }

    /// Hands the gathered rows to the writer once there are [`BATCH`] of them.
    #[inline]
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.rows.len() >= BATCH {
            self.send()
        } else {
            Ok(())
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let batch = self.rows.take();
        let sent = self.queue.as_ref().map(|q| q.send(batch).is_ok());
        if sent == Some(true) {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            self.finish()
                .and(Err(std::io::Error::other("the parquet writer stopped")))
        }
    }

    /// Writes the gathered rows and the file's footer, and waits until they are written.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if !self.rows.is_empty() && self.queue.is_some() {
            let batch = self.rows.take();
            let _ = self.queue.as_ref().map(|q| q.send(batch));
        }
        self.queue = None;
        match self.writer.take() {
            Some(w) => w
                .join()
                .map_err(|_| std::io::Error::other("the parquet writer thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ParquetFile {
    /// Writes the gathered rows and the footer and waits for the writer, as
    /// [`ParquetFile::finish`] does, if the sink did not (a run that another operator
    /// failed drops its sinks unfinished; a signal closes the sources, so sinks finish
    /// through the dataflow). The rows so far stay in a readable file; an error here can
    /// only be logged.
    fn drop(&mut self) {
        if self.writer.is_some() {
            if let Err(e) = self.finish() {
                tracing::error!(path = %self.path.display(), "parquet sink: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use planner::types::List;
    use planner::{parse_job, plan_job};

    /// Two features in one sink: a window count with an average, and an OVER aggregate
    /// with an array and a timestamp. Their columns unite to k, n, a, last3, at.
    fn plan() -> Plan {
        let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, x: float, t: timestamp }, event_time: t }\nfeatures:\n  - name: counts\n    version: 2\n    sql: SELECT k, COUNT(*) AS n, AVG(x) AS a FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\n  - name: recent\n    sql: SELECT k, TOP(3, x) OVER (PARTITION BY k ORDER BY rowtime RANGE INTERVAL '5' MINUTE PRECEDING) AS last3, t AS at FROM s\nsinks:\n  - { name: o, connector: file, path: o.parquet, format: parquet }\n";
        let job = parse_job(Path::new("t.yaml"), job).unwrap();
        plan_job(&job).unwrap().physical
    }

    /// A Parquet file at `path` for the sink of [`plan`].
    fn create(path: &Path) -> std::io::Result<ParquetFile> {
        let plan = plan();
        let table = SinkTable::of(&plan, 0).unwrap();
        ParquetFile::create(path, ParquetRows::new(&plan, &table))
    }

    /// The record batches of the finished file at `path`.
    fn read(path: &Path) -> impl Iterator<Item = arrow_array::RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
    }

    #[test]
    fn rows_read_back_as_written() {
        let plan = plan();
        let table = SinkTable::of(&plan, 0).unwrap();
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["k", "n", "a", "last3", "at"]);
        assert_eq!(
            table.features,
            vec![Some(vec![0, 1, 2]), Some(vec![0, 3, 4])]
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/o.parquet");
        let mut file = create(&path).unwrap();
        // More rows than a batch, so several batches reach the writer thread.
        let n = BATCH + 10;
        for i in 0..n as i64 {
            let key = Value::Str(format!("key{}", i % 7).into());
            if i % 2 == 0 {
                let avg = if i % 10 == 0 {
                    Value::Null
                } else {
                    Value::Float(i as f64 / 4.0)
                };
                let values = [key, Value::Int(i), avg];
                file.rows()
                    .push(
                        0,
                        values.iter(),
                        (i * 60_000, i * 60_000 + 60_000, 0, false),
                    )
                    .unwrap();
            } else {
                let last3 = Value::List(List::from(vec![Value::Float(1.5), Value::Null]));
                let values = [key, last3, Value::Ts(1_767_225_600_000 + i)];
                file.rows()
                    .push(1, values.iter(), (i, i, 3, i == 1))
                    .unwrap();
            }
            file.commit().unwrap();
        }
        file.finish().unwrap();

        let mut row = 0i64;
        for b in read(&path) {
            let col = |name: &str| b.column_by_name(name).unwrap().clone();
            let schema = b.schema();
            assert_eq!(
                schema
                    .field_with_name("last3")
                    .unwrap()
                    .metadata()
                    .get(JSON_METADATA)
                    .map(String::as_str),
                Some("true")
            );
            for r in 0..b.num_rows() {
                let i = row;
                row += 1;
                assert_eq!(
                    col("k").as_string::<i32>().value(r),
                    format!("key{}", i % 7)
                );
                let ws = col("window_start")
                    .as_primitive::<TimestampMillisecondType>()
                    .value(r);
                let rev = col("revision").as_primitive::<Int64Type>().value(r);
                let deleted = col("deleted").as_boolean().value(r);
                let version = col("version").as_primitive::<Int64Type>().value(r);
                if i % 2 == 0 {
                    assert_eq!(col("feature").as_string::<i32>().value(r), "counts");
                    assert_eq!((version, ws, rev, deleted), (2, i * 60_000, 0, false));
                    assert_eq!(col("n").as_primitive::<Int64Type>().value(r), i);
                    let a = col("a");
                    if i % 10 == 0 {
                        assert!(a.is_null(r));
                    } else {
                        assert_eq!(a.as_primitive::<Float64Type>().value(r), i as f64 / 4.0);
                    }
                    assert!(col("last3").is_null(r) && col("at").is_null(r));
                } else {
                    assert_eq!(col("feature").as_string::<i32>().value(r), "recent");
                    assert_eq!((version, ws, rev, deleted), (1, i, 3, i == 1));
                    assert_eq!(col("last3").as_string::<i32>().value(r), "[1.5,null]");
                    let at = col("at")
                        .as_primitive::<TimestampMillisecondType>()
                        .value(r);
                    assert_eq!(at, 1_767_225_600_000 + i);
                    assert!(col("n").is_null(r) && col("a").is_null(r));
                }
            }
        }
        assert_eq!(row, n as i64);
    }

    #[test]
    fn columns_are_encoded_as_chosen() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.parquet");
        let mut file = create(&path).unwrap();
        for i in 0..1000i64 {
            let values = [
                Value::Str(format!("k{}", i % 5).into()),
                Value::Int(i),
                Value::Float(0.5),
            ];
            file.rows()
                .push(0, values.iter(), (i * 1000, i * 1000 + 60_000, 0, false))
                .unwrap();
        }
        file.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert!(meta
            .file_metadata()
            .created_by()
            .unwrap()
            .starts_with("freshet "));
        let rg = meta.row_group(0);
        assert_eq!(rg.num_rows(), 1000);
        for c in rg.columns() {
            let name = c.column_path().string();
            assert_eq!(c.compression(), Compression::SNAPPY, "{name}");
            let encodings: Vec<Encoding> = c.encodings().collect();
            let delta = encodings.contains(&Encoding::DELTA_BINARY_PACKED);
            let dictionary = encodings.contains(&Encoding::RLE_DICTIONARY);
            match name.as_str() {
                "version" | "n" | "window_start" | "window_end" | "revision" | "at" => {
                    assert!(delta && !dictionary, "{name}: {encodings:?}")
                }
                "feature" | "k" => assert!(dictionary, "{name}: {encodings:?}"),
                _ => {}
            }
            let stats = c.statistics().is_some_and(|s| s.min_bytes_opt().is_some());
            let want = matches!(name.as_str(), "window_start" | "window_end");
            assert_eq!(stats, want, "{name}: statistics");
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_and_the_row_stays_whole() {
        let plan = plan();
        let table = SinkTable::of(&plan, 0).unwrap();
        let mut rows = ParquetRows::new(&plan, &table);
        let bad = [
            Value::Str("k".into()),
            Value::Str("not a count".into()),
            Value::Float(1.0),
        ];
        let err = rows.push(0, bad.iter(), (0, 60_000, 0, false)).unwrap_err();
        assert!(err.0.contains("feature `counts` column `n`"), "{}", err.0);
        // An integer in a float column (a float COALESCE or CASE with an integer branch).
        let good = [Value::Str("k".into()), Value::Int(4), Value::Int(0)];
        rows.push(0, good.iter(), (0, 60_000, 1, false)).unwrap();
        let short = [Value::Str("k".into()), Value::Int(5)];
        let err = rows
            .push(0, short.iter(), (0, 60_000, 2, false))
            .unwrap_err();
        assert!(
            err.0.contains("a row has 2 values for 3 columns"),
            "{}",
            err.0
        );
        let batch = rows.take();
        assert_eq!(batch.num_rows(), 3);
        let n = batch.column_by_name("n").unwrap();
        assert!(n.is_null(0));
        assert_eq!(n.as_primitive::<Int64Type>().value(1), 4);
        let a = batch.column_by_name("a").unwrap();
        assert_eq!(a.as_primitive::<Float64Type>().value(1), 0.0);
        assert!(a.is_null(2));
    }

    #[test]
    fn a_file_dropped_unfinished_still_holds_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.parquet");
        let mut file = create(&path).unwrap();
        for i in 0..10i64 {
            let values = [Value::Str("k".into()), Value::Int(i), Value::Null];
            file.rows()
                .push(0, values.iter(), (0, 60_000, 0, false))
                .unwrap();
        }
        drop(file);
        let rows: usize = read(&path).map(|b| b.num_rows()).sum();
        assert_eq!(rows, 10);
    }

    #[test]
    fn a_symlinked_output_is_followed_as_json_sinks_do() {
        let dir = tempfile::tempdir().unwrap();
        let (target, link) = (
            dir.path().join("target.parquet"),
            dir.path().join("o.parquet"),
        );
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut file = create(&link).unwrap();
        let values = [Value::Str("k".into()), Value::Int(1), Value::Float(1.0)];
        file.rows()
            .push(0, values.iter(), (0, 60_000, 0, false))
            .unwrap();
        file.finish().unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(read(&target).map(|b| b.num_rows()).sum::<usize>(), 1);
    }

    #[test]
    fn a_file_that_cannot_be_created_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        assert!(create(&blocker.join("o.parquet")).is_err());
    }
}
