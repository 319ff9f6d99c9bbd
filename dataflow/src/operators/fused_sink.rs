//! A file sink fused into the window operator that is its only input (operator chaining):
//! the operator's rows are encoded into the sink's buffer as they are made, instead of
//! being built as [`FeatureRow`]s, handed on, encoded by `Sink[...]` and dropped. For a
//! HOP count that emits 1.5 rows per input event this was a quarter of a backfill's user
//! time (handing built rows on cost nothing measurable; building and dropping them did).
//! The planner decides which sinks are fused (`Plan::fused_sink`); the lines written are
//! the same as `Sink[...]`'s, one file per worker, counted the same way.

use std::path::PathBuf;
use std::sync::Arc;

use connectors::file::sink::{FileSink, Writes};
use planner::types::Value;

use super::row_encoder::RowEncoder;
use super::window_rows::{RowHead, RowOut};
use crate::record::FeatureRow;
use crate::state::RunState;

/// The file end of a fused window operator: this worker's file of a file sink.
pub struct FusedFileSink {
    path: PathBuf,
    writes: Writes,
    encoder: RowEncoder,
    /// Opened by the first activation (`None` before, and after a failure to open).
    file: Option<FileSink>,
    /// The file could not be opened, or the input is complete and the file finished.
    closed: bool,
    /// Rows encoded since the last [`FusedFileSink::end_activation`].
    taken: usize,
    /// The first write error since the last activation ended.
    error: Option<std::io::Error>,
    state: Arc<RunState>,
}

impl FusedFileSink {
    /// This worker's file `path` (see `connectors::file::sink::worker_path`), written as
    /// `writes` says, with `encoder`'s lines.
    pub fn new(path: PathBuf, writes: Writes, encoder: RowEncoder, state: Arc<RunState>) -> Self {
        FusedFileSink {
            path,
            writes,
            encoder,
            file: None,
            closed: false,
            taken: 0,
            error: None,
            state,
        }
    }

    /// Opens the file on the first call; false if it cannot be (the run is failed with
    /// the reason) or was finished.
    pub fn ready(&mut self) -> bool {
        if self.file.is_none() && !self.closed {
            match FileSink::create_with(&self.path, self.writes) {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    let path = self.path.display();
                    self.state
                        .fail(format!("sink: cannot create `{path}`: {e}"));
                    self.closed = true;
                }
            }
        }
        self.file.is_some() && !self.closed
    }

    /// Ends an activation of the operator: counts the rows written, hands them to the
    /// writer (stream mode sees them in the file at once), and once the input is
    /// `complete`, waits until the file is written whole. A write error fails the run.
    pub fn end_activation(&mut self, complete: bool) {
        RunState::add(&self.state.rows_written, self.taken as u64);
        let taken = std::mem::take(&mut self.taken);
        let Some(f) = self.file.as_mut().filter(|_| !self.closed) else {
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
            let path = self.path.display();
            self.state.fail(format!("sink: writing `{path}`: {e}"));
        }
    }

    /// Hands the buffer on once it is full; keeps the first error for `end_activation`.
    #[inline]
    fn committed(&mut self) {
        self.taken += 1;
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.commit() {
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
        if let Some(f) = self.file.as_mut() {
            self.encoder.encode(f.buffer(), &row);
        }
        self.committed();
    }

    #[inline]
    fn push_parts<'v>(&mut self, head: RowHead<'_>, values: impl Iterator<Item = &'v Value>) {
        if let Some(f) = self.file.as_mut() {
            let tail = (head.window_start, head.window_end, head.revision, false);
            self.encoder
                .encode_parts(f.buffer(), head.feature, values, tail);
        }
        self.committed();
    }
}
