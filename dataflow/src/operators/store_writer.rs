//! A store or topic sink's writes, on a thread of their own: the timely worker hands each
//! batch of rows over and goes on, so a slow store (a low `write_rate`, a store retrying
//! its connection) no longer holds back the other sinks of the process. The thread opens
//! the sink, writes the batches in the order they came with the sink's fanout controls
//! (see `connectors::sink::Fanout`) and hands back, per batch, how many rows were written
//! and the rows that failed; it wakes the sink operator when it does.
//!
//! At most [`QUEUED_BATCHES`] batches wait: a store slower than the job's output then
//! holds the worker back (backpressure), instead of the process buffering without bound.
//!
//! After a stop, the thread goes on writing what was emitted before it, for the run's
//! stop timeout; then the rows not yet written fail with that reason (they become
//! `sink_failed` dead letters: a stop loses nothing silently).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use timely::scheduling::SyncActivator;

use connectors::sink::{FailedRow, Fanout, FeatureUpdate};
use planner::job::{Infra, Sink};

use crate::state::RunState;

/// Batches that may wait for the writer thread before the worker waits for it.
pub const QUEUED_BATCHES: usize = 64;

/// How long past the stop timeout the worker waits for a writer that has not reported:
/// then the store is taken for hung (no answer, no error), and the rows it was given are
/// dead letters.
pub const HUNG_MARGIN: Duration = Duration::from_secs(2);

/// A batch of rows, shared by the worker (which dead-letters it if the writer never
/// reports) and the writer thread.
pub type Batch = Arc<Vec<FeatureUpdate>>;

/// What the worker asks of the writer thread.
enum Order {
    /// Write these rows.
    Write(Batch),
    /// No row for a window ending before this will come any more (see
    /// `connectors::sink::RowSink::forget_before`).
    Forget(i64),
}

/// What became of one batch.
pub struct Written {
    /// Rows the store confirmed.
    pub written: u64,
    /// Rows that could not be written, and why.
    pub failed: Vec<FailedRow>,
}

/// The worker's end of a sink's writer thread.
pub struct StoreWriter {
    orders: SyncSender<Order>,
    results: Receiver<Written>,
    pending: Pending,
    state: Arc<RunState>,
    stop_timeout: Duration,
}

/// What [`StoreWriter::next`] found.
pub enum Next {
    /// A batch's outcome, in the order the batches were sent.
    Done(Written),
    /// Nothing yet.
    Waiting,
    /// The thread ended: the sink could not be opened (the run failed or was stopped).
    Gone,
}

/// Why a batch was not handed to the writer thread.
pub enum Refused {
    /// The thread has ended (see [`Next::Gone`]).
    Gone,
    /// Stopping, the writer took nothing for longer than the stop timeout: hung.
    Hung,
}

impl StoreWriter {
    /// Starts the thread that opens `spec`'s sink for `worker` and writes to it; it wakes
    /// the operator with `activator` when a batch is done.
    pub fn spawn(
        spec: Sink,
        infra: Infra,
        worker: usize,
        state: Arc<RunState>,
        activator: SyncActivator,
        stop_timeout: Duration,
    ) -> std::io::Result<Self> {
        let (orders, orders_rx) = sync_channel(QUEUED_BATCHES);
        let (results_tx, results) = std::sync::mpsc::channel();
        let pending = Pending::new(Arc::clone(&state));
        let thread_pending = pending.clone();
        let thread_state = Arc::clone(&state);
        std::thread::Builder::new()
            .name(format!("sink-{}-{worker}", spec.name))
            .spawn(move || {
                let state = thread_state;
                let name = spec.name.clone();
                let run = std::panic::AssertUnwindSafe(|| {
                    let writing = Writing {
                        spec: &spec,
                        state: &state,
                        pending: &thread_pending,
                        stop_timeout,
                    };
                    writing.run(&infra, worker, orders_rx, |w| {
                        // (An error: the worker has dropped the dataflow; nobody waits.)
                        let _ = results_tx.send(w);
                        let _ = activator.activate();
                    })
                });
                if std::panic::catch_unwind(run).is_err() {
                    // The rows it had are not written: the run must not pass for complete.
                    state.fail(format!(
                        "sink `{name}`: its writer panicked (a bug: please report it with the job)"
                    ));
                }
                let _ = activator.activate();
            })?;
        Ok(StoreWriter {
            orders,
            results,
            pending,
            state,
            stop_timeout,
        })
    }

    /// Hands `rows` to the thread, waiting while [`QUEUED_BATCHES`] wait (backpressure),
    /// but not past the stop timeout of a stopped run.
    pub fn write(&self, rows: Batch) -> Result<(), Refused> {
        let n = rows.len() as u64;
        self.pending.add(n);
        let mut order = Order::Write(rows);
        loop {
            match self.orders.try_send(order) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => {
                    self.pending.settle(n);
                    return Err(Refused::Gone);
                }
                Err(TrySendError::Full(back)) => {
                    if self.hung() {
                        self.pending.settle(n);
                        return Err(Refused::Hung);
                    }
                    order = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Whether the run stopped longer ago than the stop timeout and [`HUNG_MARGIN`]: a
    /// writer that has still not reported by then is not going to.
    pub fn hung(&self) -> bool {
        self.state
            .stopped_for()
            .is_some_and(|t| t >= self.stop_timeout + HUNG_MARGIN)
    }

    /// Gives up on the thread (hung): its rows no longer count as pending.
    pub fn abandon(self) {
        self.pending.abandon();
    }

    /// Tells the thread that no row for a window ending before `end` comes any more.
    pub fn forget_before(&self, end: i64) {
        // (Dropped when the queue is full: a later frontier's forgets more.)
        let _ = self.orders.try_send(Order::Forget(end));
    }

    /// The next batch's outcome, if there is one.
    pub fn next(&self) -> Next {
        match self.results.try_recv() {
            Ok(w) => Next::Done(w),
            Err(TryRecvError::Empty) => Next::Waiting,
            Err(TryRecvError::Disconnected) => Next::Gone,
        }
    }
}

/// Rows handed to one writer and not yet written or failed, kept in this process's total
/// too (`RunState::store_rows_pending`, which a stopping process reports).
#[derive(Clone)]
struct Pending {
    mine: Arc<AtomicU64>,
    state: Arc<RunState>,
}

impl Pending {
    fn new(state: Arc<RunState>) -> Self {
        Pending {
            mine: Arc::new(AtomicU64::new(0)),
            state,
        }
    }

    fn add(&self, n: u64) {
        self.mine.fetch_add(n, Ordering::Relaxed);
        self.state
            .store_rows_pending
            .fetch_add(n, Ordering::Relaxed);
    }

    /// `n` rows are done; none once the writer was abandoned (its rows were taken off).
    fn settle(&self, n: u64) {
        if self
            .mine
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(n))
            .is_ok()
        {
            self.state
                .store_rows_pending
                .fetch_sub(n, Ordering::Relaxed);
        }
    }

    fn abandon(&self) {
        let rest = self.mine.swap(0, Ordering::Relaxed);
        self.state
            .store_rows_pending
            .fetch_sub(rest, Ordering::Relaxed);
    }
}

/// The writer thread's side.
struct Writing<'a> {
    spec: &'a Sink,
    state: &'a Arc<RunState>,
    pending: &'a Pending,
    stop_timeout: Duration,
}

impl Writing<'_> {
    /// Opens the sink (failing the run when it cannot), then writes each batch and
    /// reports it with `done`, until the worker drops its end.
    fn run(
        &self,
        infra: &Infra,
        worker: usize,
        orders: Receiver<Order>,
        mut done: impl FnMut(Written),
    ) {
        let state = self.state;
        let stopping = || state.stop_requested();
        let sink = match connectors::open_sink(self.spec, infra, worker, &stopping) {
            Ok(s) => s,
            Err(e) => {
                // (A stop while connecting is a stop, not a failure: the worker
                // dead-letters the rows it had for this sink.)
                if !state.stop_requested() {
                    state.fail(format!("sink `{}`: {e}", self.spec.name));
                }
                return;
            }
        };
        state.note_sink_open();
        let mut fanout = Fanout::new(sink, self.spec.fanout.clone());
        let deadline = Arc::clone(state);
        let timeout = self.stop_timeout;
        fanout.give_up_when(Box::new(move || {
            deadline
                .stopped_for()
                .is_some_and(|t| t >= timeout)
                .then(|| {
                    deadline.note_stop_cut_writes();
                    format!(
                        "not written: the run was stopped, and its stop timeout ({}s, --stop-timeout) passed first",
                        timeout.as_secs_f64()
                    )
                })
        }));
        for order in orders {
            match order {
                Order::Write(rows) => {
                    let mut failed = Vec::new();
                    // Rows leave the fanout's queue a batch at a time (it is empty
                    // between orders: each ends with a flush).
                    let mut settled = 0;
                    for (i, row) in rows.iter().enumerate() {
                        failed.extend(fanout.push(row.clone()));
                        let out = (i + 1 - fanout.queued()) as u64;
                        self.pending.settle(out - settled);
                        settled = out;
                    }
                    // Confirmed by the store before the batch counts as written.
                    failed.extend(fanout.flush());
                    self.pending.settle(rows.len() as u64 - settled);
                    done(Written {
                        written: (rows.len() - failed.len()) as u64,
                        failed,
                    });
                }
                Order::Forget(end) => fanout.inner().forget_before(end),
            }
        }
    }
}
