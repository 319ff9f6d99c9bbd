//! The Parquet source (`format: parquet`): the rows of Parquet files matching a glob, or of
//! the objects under an S3 prefix, for backfills from history (and live: new files and
//! objects are read as they appear).
//!
//! **S3 objects** are dealt out whole (by a hash of the key, as the S3 line source does),
//! fetched when their turn comes into an unnamed temporary file (`TMPDIR`; a Parquet file is
//! read from its footer back, so the object is fetched whole, but never held in memory),
//! removed once its row groups are read; their rows' origin is `s3://bucket/key`.
//!
//! **Row groups are the splits** (local files). Each file's row groups are dealt out to the workers in
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
//! cannot be read as Parquet is one bad record (naming it) in a bounded read, where the
//! input present is all there is, and is retried in a live one.

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
use crate::aws::s3::{list_keys, spool_object, S3Location};
use crate::aws::{fnv1a, Aws};
use crate::source::{file_origin, Item, LineId, Origin, Poll, ReadMode, SourceError};
use crate::RecordError;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 4096;
/// What a row counts for against a poll's byte budget (about a JSON line's size).
const ROW_BYTES: usize = 100;
/// How often a live reader lists the glob again.
const SCAN_EVERY: Duration = Duration::from_secs(1);

/// Where a Parquet source's tables are (one per reader: the size of its variants does not
/// matter).
#[allow(clippy::large_enum_variant)]
pub enum TableStore {
    /// Local files matching a glob.
    Files {
        /// The glob.
        pattern: String,
    },
    /// The objects under an S3 prefix.
    S3 {
        /// The account.
        aws: Aws,
        /// Bucket and prefix.
        loc: S3Location,
    },
}

/// A table this reader knows: a file (metadata read when listed) or an S3 object
/// (fetched when its turn comes).
struct ParquetFile {
    /// Its path, or `s3://bucket/key`.
    location: String,
    /// The file's path, or the object's key.
    place: Place,
    /// Its metadata, once read.
    table: Option<Table>,
    /// Why a local file of a bounded read is not Parquet: one bad record, delivered by the
    /// worker that would read its first row group.
    unreadable: Option<String>,
}

enum Place {
    Path(PathBuf),
    Key(String),
}

struct Table {
    /// The object, spooled to a temporary file, while its row groups are read (S3).
    object: Option<File>,
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
    store: TableStore,
    /// S3: the client, and the newest key listed (listing goes on after it).
    s3: Option<(aws_sdk_s3::Client, Option<String>)>,
    mode: ReadMode,
    worker: usize,
    peers: usize,
    columns: Vec<Column>,
    needed: Vec<bool>,
    files: Vec<ParquetFile>,
    known: BTreeSet<PathBuf>,
    /// Files not readable as Parquet yet (live reads retry them), warned about once.
    unreadable: BTreeSet<PathBuf>,
    /// This worker's row groups still to read: (file, group; `None`: every group of an
    /// object not fetched yet).
    units: VecDeque<(usize, Option<usize>)>,
    current: Option<Current>,
    last_scan: Instant,
    row: Vec<Value>,
}

/// A stable choice of the worker that reads a file's first row group (a hash of its name).
fn first_worker(path: &std::path::Path, peers: usize) -> usize {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    (fnv1a(&name) % peers as u64) as usize
}

/// A table's metadata: row group starts and how its fields fill the columns.
fn table_of(
    meta: ArrowReaderMetadata,
    object: Option<File>,
    columns: &[Column],
    needed: &[bool],
) -> Table {
    let mut group_starts = Vec::new();
    let mut rows = 0u64;
    for g in meta.metadata().row_groups() {
        group_starts.push(rows);
        rows += g.num_rows().max(0) as u64;
    }
    let mapping = map_fields(meta.schema(), columns, needed);
    Table {
        object,
        meta,
        group_starts,
        mapping,
    }
}

impl ParquetReader {
    /// Opens worker `worker` of `peers` for the tables of `store`.
    pub fn open(
        store: TableStore,
        plan: &SourcePlan,
        worker: usize,
        peers: usize,
        mode: ReadMode,
    ) -> Result<Self, SourceError> {
        let s3 = match &store {
            TableStore::S3 { aws, .. } => Some((aws.s3(), None)),
            TableStore::Files { .. } => None,
        };
        let mut r = ParquetReader {
            store,
            s3,
            mode,
            worker,
            peers: peers.max(1),
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
            let (what, hint) = match &r.store {
                TableStore::Files { pattern } => (
                    format!("no files match `{pattern}`"),
                    "check the source's `path`; it is a glob relative to the job file",
                ),
                TableStore::S3 { loc, .. } => (
                    format!("no objects under s3://{}/{}", loc.bucket, loc.prefix),
                    "check the source's `bucket` and `prefix`",
                ),
            };
            if mode.stops_at_end() {
                return Err(SourceError(format!("{what} (hint: {hint})")));
            }
            if worker == 0 {
                tracing::warn!("{what} yet; waiting for them to appear (hint: {hint})");
            }
        }
        Ok(r)
    }

    /// Lists the store and takes in the tables not known yet; returns how many (of every
    /// worker's).
    fn scan(&mut self) -> Result<usize, SourceError> {
        self.last_scan = Instant::now();
        match &self.store {
            TableStore::Files { pattern } => {
                let files = list_files(pattern)?;
                self.scan_files(files.into_iter().map(|(p, _)| p).collect())
            }
            TableStore::S3 { aws, loc } => {
                let (client, newest) = self.s3.as_mut().expect("an S3 client");
                let keys = list_keys(aws, client, loc, newest.as_deref())?;
                if let Some(k) = keys.last() {
                    *newest = Some(k.clone());
                }
                let url = |k: &str| format!("s3://{}/{k}", loc.bucket);
                let mut added = 0;
                for key in keys {
                    added += 1;
                    // Whole objects, by a hash of the key (independent of when listed).
                    if (fnv1a(&key) % self.peers as u64) as usize != self.worker {
                        continue;
                    }
                    self.units.push_back((self.files.len(), None));
                    self.files.push(ParquetFile {
                        location: url(&key),
                        place: Place::Key(key),
                        table: None,
                        unreadable: None,
                    });
                }
                Ok(added)
            }
        }
    }

    /// Takes in the files not known yet: reads their metadata and deals their row groups.
    fn scan_files(&mut self, paths: Vec<PathBuf>) -> Result<usize, SourceError> {
        let mut added = 0;
        for path in paths {
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
                    // The input present is all there is: this file will not become
                    // readable. Like an S3 object that is not Parquet, one bad record.
                    let why = format!(
                        "cannot read `{}` as Parquet: {e}; none of its rows are read (hint: the source's `path` should match only Parquet files)",
                        path.display()
                    );
                    if first_worker(&path, self.peers) == self.worker {
                        self.units.push_back((self.files.len(), None));
                    }
                    self.known.insert(path.clone());
                    self.files.push(ParquetFile {
                        location: path.display().to_string(),
                        place: Place::Path(path),
                        table: None,
                        unreadable: Some(why),
                    });
                    added += 1;
                    continue;
                }
                Err(e) => {
                    // Perhaps still being written: try again at the next listing. (The
                    // worker that would read its first row group warns.)
                    let new = self.unreadable.insert(path.clone());
                    if new && first_worker(&path, self.peers) == self.worker {
                        tracing::warn!(
                            "cannot read `{}` as Parquet yet ({e}); it is read once it can be",
                            path.display()
                        );
                    }
                    continue;
                }
            };
            self.unreadable.remove(&path);
            let table = table_of(meta, None, &self.columns, &self.needed);
            let first = first_worker(&path, self.peers);
            if first == self.worker {
                for p in &table.mapping.problems {
                    tracing::warn!("{}: {p}", path.display());
                }
            }
            let index = self.files.len();
            for g in 0..table.group_starts.len() {
                if (first + g) % self.peers == self.worker {
                    self.units.push_back((index, Some(g)));
                }
            }
            self.known.insert(path.clone());
            self.files.push(ParquetFile {
                location: path.display().to_string(),
                place: Place::Path(path),
                table: Some(table),
                unreadable: None,
            });
            added += 1;
        }
        Ok(added)
    }

    /// Fetches S3 object `f` and queues its row groups first. `Ok(Some(why))`: it is not
    /// a Parquet object (none of its rows are read).
    fn fetch(&mut self, f: usize) -> Result<Option<String>, SourceError> {
        let (TableStore::S3 { aws, loc }, Some((client, _))) = (&self.store, &self.s3) else {
            unreachable!("only S3 objects are fetched");
        };
        let Place::Key(key) = &self.files[f].place else {
            unreachable!("an S3 object has a key");
        };
        let location = &self.files[f].location;
        let object = spool_object(aws, client, &loc.bucket, key)?;
        let meta = match ArrowReaderMetadata::load(&object, ArrowReaderOptions::default()) {
            Ok(m) => m,
            // Objects are written whole: this one will not become readable. Like an
            // object that does not decompress, it is one bad record.
            Err(e) => {
                return Ok(Some(format!(
                    "cannot read {location} as Parquet: {e}; none of its rows are read (hint: the source's `prefix` should hold only Parquet objects)"
                )))
            }
        };
        let table = table_of(meta, Some(object), &self.columns, &self.needed);
        for p in &table.mapping.problems {
            tracing::warn!("{location}: {p}");
        }
        for g in (0..table.group_starts.len()).rev() {
            self.units.push_front((f, Some(g)));
        }
        self.files[f].table = Some(table);
        Ok(None)
    }

    /// Starts reading row group `g` of file `f`.
    fn open_group(&mut self, f: usize, g: usize) -> Result<(), SourceError> {
        let file = &self.files[f];
        let location = &file.location;
        let io = |e: &dyn std::fmt::Display| SourceError(format!("cannot read `{location}`: {e}"));
        let table = file
            .table
            .as_ref()
            .expect("a table's metadata is read before its groups");
        let input = match (&file.place, &table.object) {
            (_, Some(f)) => f.try_clone().map_err(|e| io(&e))?,
            (Place::Path(p), None) => File::open(p).map_err(|e| io(&e))?,
            (Place::Key(_), None) => unreachable!("an object's file is kept while it is read"),
        };
        let mask = ProjectionMask::roots(
            table.meta.parquet_schema(),
            table.mapping.fields.iter().map(|(field, _, _)| *field),
        );
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(input, table.meta.clone())
            .with_projection(mask)
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| io(&e))?;
        self.current = Some(Current {
            file: f,
            next_row: table.group_starts[g],
            reader,
            columns: Vec::new(),
            errors: VecDeque::new(),
            rows: 0,
            at: 0,
        });
        Ok(())
    }

    /// Done with the current row group: an object whose last group it was lets go of its
    /// temporary file (which removes it).
    fn finish_group(&mut self) {
        let Some(cur) = self.current.take() else {
            return;
        };
        let more = self.units.front().is_some_and(|(f, _)| *f == cur.file);
        if !more {
            if let Some(t) = self.files[cur.file].table.as_mut() {
                t.object = None;
            }
        }
    }

    /// Decodes a batch of the current row group (columns in field order, as projected).
    fn take_batch(&mut self, batch: RecordBatch) {
        let cur = self.current.as_mut().expect("a row group is open");
        let mapping = &self.files[cur.file]
            .table
            .as_ref()
            .expect("an open table")
            .mapping;
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
                match self.units.pop_front() {
                    Some((f, Some(g))) => self.open_group(f, g)?,
                    Some((f, None)) => {
                        let why = match self.files[f].place {
                            Place::Path(_) => self.files[f].unreadable.take(),
                            Place::Key(_) => self.fetch(f)?,
                        };
                        if let Some(why) = why {
                            let error = RecordError::Malformed(why);
                            let id = LineId {
                                split: f as u32,
                                line: 0,
                            };
                            on_item(Item::Unreadable { error: &error, id });
                            delivered += 1;
                        }
                    }
                    None => {
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
                    }
                }
                continue;
            };
            if cur.at == cur.rows {
                match cur.reader.next() {
                    Some(Ok(batch)) => self.take_batch(batch),
                    Some(Err(e)) => {
                        return Err(SourceError(format!(
                            "cannot read `{}`: {e}",
                            self.files[cur.file].location
                        )))
                    }
                    None => self.finish_group(),
                }
                continue;
            }
            let table = self.files[cur.file].table.as_ref().expect("an open table");
            let unusable = table.mapping.unusable.clone().map(RecordError::Malformed);
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

    /// Where row `id` is: its file (or object) and 1-based row number.
    pub fn origin(&self, id: LineId) -> Origin {
        match self.files.get(id.split as usize) {
            Some(ParquetFile {
                place: Place::Path(p),
                ..
            }) => file_origin(p.clone(), id.line + 1),
            Some(f) => Origin {
                location: f.location.clone(),
                position: id.line + 1,
            },
            None => file_origin(PathBuf::new(), id.line + 1),
        }
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
