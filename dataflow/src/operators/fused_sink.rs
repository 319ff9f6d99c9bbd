//! A file sink fused into the window operator that is its only input (operator chaining):
//! the operator's rows are encoded into the sink's buffer as they are made, instead of
//! being built as [`FeatureRow`]s, handed on, encoded by `Sink[...]` and dropped. For a
//! HOP count that emits 1.5 rows per input event this was a quarter of a backfill's user
//! time (handing built rows on cost nothing measurable; building and dropping them did).
//! The planner decides which sinks are fused (`Plan::fused_sink`); the lines written are
//! the same as `Sink[...]`'s (JSON lines or Parquet), one file per worker, counted the
//! same way.

use std::sync::Arc;

use planner::types::Value;

use super::file_target::{file_error, FileSpec, LazyFile};
use super::window_rows::{RowHead, RowOut};
use crate::record::FeatureRow;
use crate::state::RunState;

/// The file end of a fused window operator: this worker's file of a file sink (JSON lines
/// or Parquet, see `super::file_target`).
pub struct FusedFileSink {
    /// Created once rows come or the sources have connected (see [`LazyFile`]).
    file: LazyFile,
    /// The file could not be created, or the input is complete and the file finished.
    closed: bool,
    /// Rows written since the last [`FusedFileSink::end_activation`].
    taken: usize,
    /// The first write error since the last activation ended.
    error: Option<std::io::Error>,
    state: Arc<RunState>,
}

impl FusedFileSink {
    /// The file `spec` creates.
    pub fn new(spec: FileSpec, state: Arc<RunState>) -> Self {
        FusedFileSink {
            file: LazyFile::new(spec),
            closed: false,
            taken: 0,
            error: None,
            state,
        }
    }

    /// Whether rows can be written: the file is created (first, if `rows` are to be
    /// written or outputs are due, see [`LazyFile::get`]) and not finished.
    pub fn ready(&mut self, rows: bool) -> bool {
        if self.closed {
            return false;
        }
        let created = self.file.get(rows, &self.state).is_some();
        self.closed = self.file.failed();
        created
    }

    /// Whether nothing more will be written: the file could not be created, or it was
    /// finished.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Ends an activation of the operator: counts the rows written, hands them to the
    /// writer (stream mode sees JSON lines in the file at once), and once the input is
    /// `complete`, waits until the file is written whole. A write error fails the run.
    pub fn end_activation(&mut self, complete: bool) {
        RunState::add(&self.state.rows_written, self.taken as u64);
        let taken = std::mem::take(&mut self.taken);
        if self.closed {
            return;
        }
        let Some(f) = self.file.created() else {
            return;
        };
        let mut result = match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        };
        if complete {
            self.closed = true;
            result = result.and_then(|_| f.finish());
        } else if taken > 0 {
            result = result.and_then(|_| f.flush());
        }
        if let Err(e) = result {
            let msg = file_error(self.file.sink(), self.file.path(), "writing", &e);
            self.state.fail(msg);
        }
    }

    /// Counts a row and hands the buffer on once it is full; keeps the first error for
    /// `end_activation`.
    #[inline]
    fn committed(&mut self, pushed: std::io::Result<()>) {
        self.taken += 1;
        if let Some(f) = self.file.created() {
            if let Err(e) = pushed.and_then(|_| f.commit()) {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl RowOut for FusedFileSink {
    const PARTS: bool = true;

    fn len(&self) -> usize {
        self.taken
    }

    fn push(&mut self, row: FeatureRow) {
        let pushed = match self.file.created() {
            Some(f) => f.push(&row),
            None => Ok(()),
        };
        self.committed(pushed);
    }

    #[inline]
    fn push_parts<'v>(&mut self, head: RowHead<'_>, values: impl Iterator<Item = &'v Value>) {
        let pushed = match self.file.created() {
            Some(f) => {
                let tail = (head.window_start, head.window_end, head.revision, false);
                f.push_parts(head.feature, values, tail)
            }
            None => Ok(()),
        };
        self.committed(pushed);
    }
}
