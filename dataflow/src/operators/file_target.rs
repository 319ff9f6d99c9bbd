//! What a file sink writes, as `Sink[...]` and a fused window operator
//! (`super::fused_sink`) both use it: JSON lines (`format: json`) or a Parquet table
//! (`format: parquet`, `connectors::file::parquet`), one file per worker.

use std::io;
use std::path::{Path, PathBuf};

use connectors::file::parquet::{ParquetFile, ParquetRows};
use connectors::file::sink::{remove_stale_outputs, worker_path, FileSink, Writes};
use planner::job::{Format, SinkConnector};
use planner::types::Value;
use planner::{Plan, SinkTable};

use super::row_encoder::RowEncoder;
use crate::record::FeatureRow;
use crate::state::RunState;

/// "sink `out`: cannot create `out/f.jsonl`: ...", with a hint for a directory.
pub fn file_error(sink: &str, path: &Path, when: &str, e: &io::Error) -> String {
    // Creating the file's directory where a file of that name is fails with "File exists"
    // (or "Not a directory"): name that file instead.
    let blocking_file = path.ancestors().skip(1).find(|a| a.is_file());
    let path = path.display();
    match (e.kind(), blocking_file) {
        (io::ErrorKind::IsADirectory, _) => format!(
            "sink `{sink}`: {when} `{path}`: it is a directory (give the sink a file path, e.g. `{path}/features.jsonl`)"
        ),
        (_, Some(file)) => format!(
            "sink `{sink}`: {when} `{path}`: `{}` is a file, not a directory (hint: move it, or give the sink another path)",
            file.display()
        ),
        _ => format!("sink `{sink}`: {when} `{path}`: {e}"),
    }
}

/// How to open this worker's file of a file sink.
pub struct FileSpec {
    /// The sink's name.
    sink: String,
    /// This worker's file (`worker_path`).
    path: PathBuf,
    how: How,
    /// Worker 0's: the sink's configured path and the worker count, to remove the files
    /// of earlier runs this one does not overwrite when it opens.
    stale: Option<(PathBuf, usize)>,
}

enum How {
    Json(Writes, Box<RowEncoder>),
    Parquet(Box<ParquetRows>),
}

impl FileSpec {
    /// Sink `k` of `plan`, a file sink, for worker `worker` of `peers`; JSON lines are
    /// written as `writes` says.
    pub fn new(plan: &Plan, k: usize, worker: usize, peers: usize, writes: Writes) -> FileSpec {
        let sink = &plan.sinks[k];
        let SinkConnector::File { path, .. } = &sink.connector else {
            panic!("sink `{}` is not a file sink", sink.name);
        };
        let how = match sink.format {
            Format::Parquet => {
                let table = SinkTable::of(plan, k).expect("checked by the planner");
                How::Parquet(Box::new(ParquetRows::new(plan, &table)))
            }
            _ => How::Json(writes, Box::new(RowEncoder::new(plan))),
        };
        FileSpec {
            sink: sink.name.clone(),
            path: worker_path(path, worker, peers),
            how,
            stale: (worker == 0).then(|| (path.clone(), peers)),
        }
    }

    /// Creates the file (replacing the previous run's), and for worker 0 removes the
    /// earlier runs' files this run does not write.
    pub fn open(self) -> io::Result<FileTarget> {
        if let Some((path, peers)) = &self.stale {
            remove_stale_outputs(path, *peers)?;
        }
        match self.how {
            How::Json(writes, encoder) => Ok(FileTarget::Json(
                FileSink::create_with(&self.path, writes)?,
                encoder,
            )),
            How::Parquet(rows) => Ok(FileTarget::Parquet(Box::new(ParquetFile::create(
                &self.path, *rows,
            )?))),
        }
    }

    /// The message for the error `e` of this sink's file when `when` (e.g. "cannot
    /// create", "writing").
    pub fn error(&self, when: &str, e: &io::Error) -> String {
        file_error(&self.sink, &self.path, when, e)
    }

    /// The sink's name.
    pub fn sink(&self) -> &str {
        &self.sink
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A file sink's file, created once rows come or this process's sources have all
/// connected (`RunState::outputs_due`), not when the dataflow starts: a run that fails
/// before (a topic that does not exist, a schema that does not match) leaves the previous
/// run's file as it was.
pub struct LazyFile {
    sink: String,
    path: PathBuf,
    spec: Option<FileSpec>,
    file: Option<FileTarget>,
    failed: bool,
}

impl LazyFile {
    /// The file `spec` creates, not created yet.
    pub fn new(spec: FileSpec) -> LazyFile {
        LazyFile {
            sink: spec.sink().to_string(),
            path: spec.path().to_path_buf(),
            spec: Some(spec),
            file: None,
            failed: false,
        }
    }

    /// The file, created first if `rows` are to be written or outputs are due; `None`
    /// while neither, or when it cannot be created (then the run is failed with the
    /// reason, and [`LazyFile::failed`] says so).
    pub fn get(&mut self, rows: bool, state: &RunState) -> Option<&mut FileTarget> {
        if let Some(spec) = self.spec.take_if(|_| rows || state.outputs_due()) {
            match spec.open() {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    state.fail(file_error(&self.sink, &self.path, "cannot create", &e));
                    self.failed = true;
                }
            }
        }
        self.file.as_mut()
    }

    /// The file if it was created.
    pub fn created(&mut self) -> Option<&mut FileTarget> {
        self.file.as_mut()
    }

    /// Whether the file could not be created.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The sink's name, for messages.
    pub fn sink(&self) -> &str {
        &self.sink
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// An open file of a file sink.
pub enum FileTarget {
    /// JSON lines.
    Json(FileSink, Box<RowEncoder>),
    /// A Parquet table.
    Parquet(Box<ParquetFile>),
}

impl FileTarget {
    /// Writes a built row (buffered; see [`FileTarget::commit`]).
    #[inline]
    pub fn push(&mut self, row: &FeatureRow) -> io::Result<()> {
        match self {
            FileTarget::Json(f, encoder) => {
                encoder.encode(f.buffer(), row);
                Ok(())
            }
            FileTarget::Parquet(f) => {
                let tail = (row.window_start, row.window_end, row.revision, row.deleted);
                f.rows()
                    .push(row.feature, row.values.iter(), tail)
                    .map_err(|e| io::Error::other(e.0))
            }
        }
    }

    /// Writes a row given by its parts: feature, value outputs in order, and
    /// `(window_start, window_end, revision, deleted)`.
    #[inline]
    pub fn push_parts<'v>(
        &mut self,
        feature: u32,
        values: impl Iterator<Item = &'v Value>,
        tail: (i64, i64, u32, bool),
    ) -> io::Result<()> {
        match self {
            FileTarget::Json(f, encoder) => {
                encoder.encode_parts(f.buffer(), feature, values, tail);
                Ok(())
            }
            FileTarget::Parquet(f) => f
                .rows()
                .push(feature, values, tail)
                .map_err(|e| io::Error::other(e.0)),
        }
    }

    /// Hands buffered rows on to the writer thread once there are enough of them.
    #[inline]
    pub fn commit(&mut self) -> io::Result<()> {
        match self {
            FileTarget::Json(f, _) => f.commit(),
            FileTarget::Parquet(f) => f.commit(),
        }
    }

    /// Makes the rows so far visible in the file where the format allows (JSON lines in
    /// stream mode; a Parquet file is readable once finished).
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            FileTarget::Json(f, _) => f.flush(),
            FileTarget::Parquet(_) => Ok(()),
        }
    }

    /// Writes everything and waits until the file is whole.
    pub fn finish(&mut self) -> io::Result<()> {
        match self {
            FileTarget::Json(f, _) => f.finish(),
            FileTarget::Parquet(f) => f.finish(),
        }
    }
}
