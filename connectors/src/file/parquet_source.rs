//! The Parquet file source (`format: parquet`): the rows of Parquet files matching a glob,
//! for backfills from history (and live: new files are read as they appear).
//!
//! **Row groups are the splits.** Each file's row groups are dealt out to the workers in
//! turn, starting at a worker picked by the file's name, so every worker reads about the
//! same share of each file and, for time-ordered files, about the same stretch of time (no
//! worker races ahead of the global watermark). A worker reads its row groups in (file,
//! group) order, a batch of rows at a time, decoding only the columns the job reads. Each
//! worker is one in-order watermark partition, as for line files.
//!
//! **Columns** are the file's top-level fields, matched to the schema by name; what types
//! fit is in [`super::parquet_columns`]. A file without a column the job reads is warned
//! about (the column is NULL in its rows); a file without a required column, naming one
//! twice or holding one of a type that does not fit makes each of its rows a `malformed`
//! record that says why: nothing is dropped without a word. A record's `line` is its
//! 1-based row number in the file.
//!
//! **Following.** In follow mode the glob is listed again every second; a file is read
//! once its footer can be read (a file still being written has none yet). A file that
//! cannot be read as Parquet fails a bounded read (naming it), and is retried in a live one.

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use planner::job::Column;
use planner::types::Value;
use planner::SourcePlan;

use super::parquet_columns::{convert, map_fields, Mapping};
use super::source::list_files;
use crate::source::{file_origin, Item, LineId, Origin, Poll, ReadMode, SourceError};
use crate::RecordError;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 4096;
/// What a row counts for against a poll's byte budget (about a JSON line's size).
const ROW_BYTES: usize = 100;
/// How often a live reader lists the glob again.
const SCAN_EVERY: Duration = Duration::from_secs(1);

/// A file this reader knows.
struct ParquetFile {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    /// First row of each row group.
    group_starts: Vec<u64>,
    /// How its fields fill the columns.
    mapping: Mapping,
}

/// The row group being read.
struct Current {
    file: usize,
    /// Row (in the file) of the next row to deliver.
    next_row: u64,
    reader: ParquetRecordBatchReader,
    /// The batch being delivered: per mapped column, its values; and bad values.
    columns: Vec<(usize, Vec<Value>)>,
    errors: VecDeque<(usize, RecordError)>,
    rows: usize,
    at: usize,
}

/// One worker's reader of a Parquet source.
pub struct ParquetReader {
    pattern: String,
    mode: ReadMode,
    worker: usize,
    peers: usize,
    columns: Vec<Column>,
    needed: Vec<bool>,
    files: Vec<ParquetFile>,
    known: BTreeSet<PathBuf>,
    /// Files not readable as Parquet yet (live reads retry them), warned about once.
    unreadable: BTreeSet<PathBuf>,
    /// This worker's row groups still to read: (file, group).
    units: VecDeque<(usize, usize)>,
    current: Option<Current>,
    last_scan: Instant,
    row: Vec<Value>,
}

/// A stable choice of the worker that reads a file's first row group (FNV-1a of its name).
fn first_worker(path: &std::path::Path, peers: usize) -> usize {
    let name = path
        .file_name()
        .map_or_else(Vec::new, |n| n.to_string_lossy().as_bytes().to_vec());
    let h = name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % peers as u64) as usize
}

impl ParquetReader {
    /// Opens worker `worker` of `peers` for the files of `pattern`.
    pub fn open(
        pattern: &str,
        plan: &SourcePlan,
        worker: usize,
        peers: usize,
        mode: ReadMode,
    ) -> Result<Self, SourceError> {
        let mut r = ParquetReader {
            pattern: pattern.into(),
            mode,
            worker,
            peers,
            columns: plan.source.columns.clone(),
            needed: plan.needed.clone(),
            files: Vec::new(),
            known: BTreeSet::new(),
            unreadable: BTreeSet::new(),
            units: VecDeque::new(),
            current: None,
            last_scan: Instant::now(),
            row: vec![Value::Null; plan.source.columns.len()],
        };
        let found = r.scan()?;
        if found == 0 && r.files.is_empty() {
            if mode.stops_at_end() {
                return Err(super::source::FileSourceError::NoFiles {
                    pattern: pattern.into(),
                }
                .into());
            }
            if worker == 0 {
                tracing::warn!(
                    "no files match `{pattern}` yet; waiting for them to appear (hint: check the source's `path`; it is a glob relative to the job file)"
                );
            }
        }
        Ok(r)
    }

    /// Lists the glob and takes in the files not known yet; returns how many.
    fn scan(&mut self) -> Result<usize, SourceError> {
        self.last_scan = Instant::now();
        let mut added = 0;
        for (path, _) in list_files(&self.pattern)? {
            if self.known.contains(&path) {
                continue;
            }
            let meta = File::open(&path).map_err(|e| e.to_string()).and_then(|f| {
                ArrowReaderMetadata::load(&f, ArrowReaderOptions::default())
                    .map_err(|e| e.to_string())
            });
            let meta = match meta {
                Ok(m) => m,
                Err(e) if self.mode.stops_at_end() => {
                    return Err(SourceError(format!(
                        "cannot read `{}` as Parquet: {e} (hint: the source's `path` should match only Parquet files)",
                        path.display()
                    )))
                }
                Err(e) => {
                    // Perhaps still being written: try again at the next listing.
                    if self.unreadable.insert(path.clone()) {
                        tracing::warn!(
                            "cannot read `{}` as Parquet yet ({e}); it is read once it can be",
                            path.display()
                        );
                    }
                    continue;
                }
            };
            self.unreadable.remove(&path);
            let mut group_starts = Vec::new();
            let mut rows = 0u64;
            for g in meta.metadata().row_groups() {
                group_starts.push(rows);
                rows += g.num_rows().max(0) as u64;
            }
            let mapping = map_fields(meta.schema(), &self.columns, &self.needed);
            let first = first_worker(&path, self.peers);
            if first == self.worker {
                for p in &mapping.problems {
                    tracing::warn!("{}: {p}", path.display());
                }
            }
            let index = self.files.len();
            for g in 0..group_starts.len() {
                if (first + g) % self.peers == self.worker {
                    self.units.push_back((index, g));
                }
            }
            self.known.insert(path.clone());
            self.files.push(ParquetFile {
                path,
                meta,
                group_starts,
                mapping,
            });
            added += 1;
        }
        Ok(added)
    }

    /// Starts reading row group `g` of file `f`.
    fn open_group(&mut self, f: usize, g: usize) -> Result<(), SourceError> {
        let file = &self.files[f];
        let io = |e: &dyn std::fmt::Display| {
            SourceError(format!("cannot read `{}`: {e}", file.path.display()))
        };
        let handle = File::open(&file.path).map_err(|e| io(&e))?;
        let mask = ProjectionMask::roots(
            file.meta.parquet_schema(),
            file.mapping.fields.iter().map(|(field, _, _)| *field),
        );
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, file.meta.clone())
            .with_projection(mask)
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| io(&e))?;
        self.current = Some(Current {
            file: f,
            next_row: file.group_starts[g],
            reader,
            columns: Vec::new(),
            errors: VecDeque::new(),
            rows: 0,
            at: 0,
        });
        Ok(())
    }

    /// Decodes a batch of the current row group (columns in field order, as projected).
    fn take_batch(&mut self, batch: RecordBatch) {
        let cur = self.current.as_mut().expect("a row group is open");
        let mapping = &self.files[cur.file].mapping;
        let mut errors = Vec::new();
        cur.columns.clear();
        // Columns this file lacks are NULL, not the last value another file had.
        self.row.fill(Value::Null);
        for (k, (_, ci, conv)) in mapping.fields.iter().enumerate() {
            let mut values = Vec::with_capacity(batch.num_rows());
            convert(
                batch.column(k),
                *conv,
                &self.columns[*ci],
                &mut values,
                &mut errors,
            );
            cur.columns.push((*ci, values));
        }
        errors.sort_by_key(|(row, _)| *row);
        cur.errors = errors.into();
        cur.rows = batch.num_rows();
        cur.at = 0;
    }

    /// Delivers up to about `max_bytes` of rows.
    pub fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError> {
        let budget = (max_bytes / ROW_BYTES).max(1);
        let mut delivered = 0;
        while delivered < budget {
            let Some(cur) = self.current.as_mut() else {
                if let Some((f, g)) = self.units.pop_front() {
                    self.open_group(f, g)?;
                    continue;
                }
                let live = self.mode == ReadMode::Follow { exit_at_end: false };
                if live && self.last_scan.elapsed() >= SCAN_EVERY && self.scan()? > 0 {
                    continue;
                }
                let rest = if live { Poll::Idle } else { Poll::Done };
                return Ok(if delivered > 0 {
                    Poll::Lines(delivered)
                } else {
                    rest
                });
            };
            if cur.at == cur.rows {
                match cur.reader.next() {
                    Some(Ok(batch)) => self.take_batch(batch),
                    Some(Err(e)) => {
                        return Err(SourceError(format!(
                            "cannot read `{}`: {e}",
                            self.files[cur.file].path.display()
                        )))
                    }
                    None => self.current = None,
                }
                continue;
            }
            let unusable = self.files[cur.file]
                .mapping
                .unusable
                .clone()
                .map(RecordError::Malformed);
            while cur.at < cur.rows && delivered < budget {
                let i = cur.at;
                for (ci, values) in &mut cur.columns {
                    self.row[*ci] = std::mem::take(&mut values[i]);
                }
                let bad = match cur.errors.front() {
                    Some((row, _)) if *row == i => cur.errors.pop_front().map(|(_, e)| e),
                    _ => None,
                };
                // A row with several bad values reports the first.
                while cur.errors.front().is_some_and(|(row, _)| *row == i) {
                    cur.errors.pop_front();
                }
                let error = unusable.as_ref().or(bad.as_ref());
                let id = LineId {
                    split: cur.file as u32,
                    line: cur.next_row,
                };
                on_item(Item::Row {
                    values: &self.row,
                    error,
                    id,
                });
                cur.at += 1;
                cur.next_row += 1;
                delivered += 1;
            }
        }
        Ok(Poll::Lines(delivered))
    }

    /// Where row `id` is: its file and 1-based row number.
    pub fn origin(&self, id: LineId) -> Origin {
        let path = self
            .files
            .get(id.split as usize)
            .map_or_else(PathBuf::new, |f| f.path.clone());
        file_origin(path, id.line + 1)
    }
}

impl crate::source::RecordSource for ParquetReader {
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError> {
        ParquetReader::poll(self, max_bytes, on_item)
    }

    fn resolve(&mut self, id: LineId) -> Origin {
        self.origin(id)
    }
}
