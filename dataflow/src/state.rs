//! State shared by all workers of one process: counters, the first fatal error, a stop flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use connectors::file::line_counts::LineCounts;

/// Counters and control shared by the workers of a process.
#[derive(Debug, Default)]
pub struct RunState {
    /// Records read from sources (good and bad).
    pub events_read: AtomicU64,
    /// Records that could not be decoded (dead-lettered or skipped).
    pub bad_records: AtomicU64,
    /// Of which dropped by `on_error: skip`.
    pub skipped: AtomicU64,
    /// (record, feature) pairs that arrived after every window they belong to had expired.
    pub too_late: AtomicU64,
    /// Feature rows written.
    pub rows_written: AtomicU64,
    /// Rows with revision > 0.
    pub corrections: AtomicU64,
    /// Dead-letter entries written.
    pub dead_letters: AtomicU64,
    /// Feature rows a store or topic sink could not write (dead-lettered as `sink_failed`).
    pub sink_failed: AtomicU64,
    /// Feature rows handed to store and topic sinks and not yet written (or failed).
    pub store_rows_pending: AtomicU64,
    stop: AtomicBool,
    /// When the stop was first requested.
    stop_at: std::sync::OnceLock<std::time::Instant>,
    started: AtomicBool,
    error: Mutex<Option<String>>,
    watermarks: Mutex<HashMap<String, Arc<AtomicU64>>>,
    /// Per source, the workers (of the cluster) that announced they stop reading it.
    stopping: WorkerSets,
    /// Per source, the workers (of the cluster) that read it to its end.
    finished: WorkerSets,
    line_counts: Mutex<HashMap<String, Arc<LineCounts>>>,
    /// Source operators of this process (0: not yet known), and how many have connected.
    sources_expected: AtomicUsize,
    sources_open: AtomicUsize,
    /// Store and topic sink writers of this process, and how many have opened their store.
    sinks_expected: AtomicUsize,
    sinks_open: AtomicUsize,
    /// A stop's timeout cut store writes short (rows went to the dead letters instead).
    stop_cut_writes: AtomicBool,
}

impl RunState {
    /// Asks every worker to stop (signal, or a fatal error elsewhere).
    pub fn request_stop(&self) {
        self.stop_at.get_or_init(std::time::Instant::now);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// How long ago the stop was requested (`None`: it was not).
    pub fn stopped_for(&self) -> Option<std::time::Duration> {
        self.stop_at.get().map(|t| t.elapsed())
    }

    /// Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Worker `worker` of the cluster announced that it stops reading `source` (it knows
    /// of the stop).
    pub fn note_stopping(&self, source: &str, worker: usize) {
        note(&self.stopping, source, worker);
    }

    /// How many workers of the cluster announced that they stop reading `source`.
    pub fn stopping(&self, source: &str) -> usize {
        count(&self.stopping, source)
    }

    /// Worker `worker` of the cluster read `source` to its end.
    pub fn note_finished(&self, source: &str, worker: usize) {
        note(&self.finished, source, worker);
    }

    /// How many workers of the cluster read `source` to its end.
    pub fn finished(&self, source: &str) -> usize {
        count(&self.finished, source)
    }

    /// Marks the workers as running: in a cluster, every process has connected.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// Whether the workers are running (a cluster process is still connecting until then).
    pub fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// This process runs `n` source operators (over all its workers).
    pub fn expect_sources(&self, n: usize) {
        self.sources_expected.store(n, Ordering::SeqCst);
    }

    /// This process runs `n` store or topic sink writers (over all its workers).
    pub fn expect_sinks(&self, n: usize) {
        self.sinks_expected.store(n, Ordering::SeqCst);
    }

    /// A store or topic sink writer opened its store.
    pub fn note_sink_open(&self) {
        self.sinks_open.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether every store or topic sink writer of this process has opened its store.
    pub fn sinks_ready(&self) -> bool {
        self.sinks_open.load(Ordering::SeqCst) >= self.sinks_expected.load(Ordering::SeqCst)
    }

    /// A stopped run's timeout cut store writes short.
    pub fn note_stop_cut_writes(&self) {
        self.stop_cut_writes.store(true, Ordering::SeqCst);
    }

    /// Whether a stopped run's timeout cut store writes short: rows emitted before the stop
    /// are dead letters instead of in their store.
    pub fn stop_cut_writes(&self) -> bool {
        self.stop_cut_writes.load(Ordering::SeqCst)
    }

    /// A source operator connected its source (and built its decoder).
    pub fn note_source_open(&self) {
        self.sources_open.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether every source operator and every store or topic sink of this process has
    /// connected: from then on rows may come, and sinks replace the previous run's files. A
    /// run that fails before (a topic that does not exist, a schema that does not match, a
    /// Redis that cannot be reached) leaves them as they were.
    pub fn outputs_due(&self) -> bool {
        let expected = self.sources_expected.load(Ordering::SeqCst);
        expected > 0 && self.sources_open.load(Ordering::SeqCst) >= expected && self.sinks_ready()
    }

    /// Records a fatal error (the first wins) and stops.
    pub fn fail(&self, message: String) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(message);
        }
        self.request_stop();
    }

    /// The fatal error, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The most advanced watermark any worker of the cluster has for `source`: this
    /// process's workers raise it directly, other processes' workers by announcing theirs
    /// (see `operators::source`). A worker whose partitions are all idle follows it
    /// instead of holding the frontier back (Flink's source idleness).
    pub fn shared_watermark(&self, source: &str) -> Arc<AtomicU64> {
        let mut m = self.watermarks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(m.entry(source.to_string()).or_default())
    }

    /// The line counts the workers of this process share for `source` (file sources
    /// number dead letters' lines from them instead of re-reading each other's blocks).
    pub fn line_counts(&self, source: &str) -> Arc<LineCounts> {
        let mut m = self.line_counts.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(m.entry(source.to_string()).or_default())
    }

    /// Adds to a counter.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A snapshot of the counters.
    pub fn summary(&self) -> Counters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            events_read: g(&self.events_read),
            bad_records: g(&self.bad_records),
            skipped: g(&self.skipped),
            too_late: g(&self.too_late),
            rows_written: g(&self.rows_written),
            corrections: g(&self.corrections),
            dead_letters: g(&self.dead_letters),
            sink_failed: g(&self.sink_failed),
        }
    }
}

/// Counter values, as reported in the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Records read.
    pub events_read: u64,
    /// Undecodable records.
    pub bad_records: u64,
    /// Of which dropped by `on_error: skip` (not dead-lettered).
    pub skipped: u64,
    /// Records too late for a feature.
    pub too_late: u64,
    /// Feature rows written.
    pub rows_written: u64,
    /// Of which corrections.
    pub corrections: u64,
    /// Dead-letter entries written.
    pub dead_letters: u64,
    /// Of which feature rows a store or topic sink could not write.
    #[serde(default)]
    pub sink_failed: u64,
}

impl std::ops::AddAssign for Counters {
    /// Adds another process's counters (a cluster's totals).
    fn add_assign(&mut self, o: Counters) {
        // Destructured in full: a new counter cannot be left out of the sum.
        let Counters {
            events_read,
            bad_records,
            skipped,
            too_late,
            rows_written,
            corrections,
            dead_letters,
            sink_failed,
        } = o;
        self.events_read += events_read;
        self.bad_records += bad_records;
        self.skipped += skipped;
        self.too_late += too_late;
        self.rows_written += rows_written;
        self.corrections += corrections;
        self.dead_letters += dead_letters;
        self.sink_failed += sink_failed;
    }
}

type WorkerSets = Mutex<HashMap<String, std::collections::BTreeSet<usize>>>;

fn note(sets: &WorkerSets, source: &str, worker: usize) {
    let mut m = sets.lock().unwrap_or_else(|p| p.into_inner());
    m.entry(source.to_string()).or_default().insert(worker);
}

fn count(sets: &WorkerSets, source: &str) -> usize {
    let m = sets.lock().unwrap_or_else(|p| p.into_inner());
    m.get(source).map_or(0, |s| s.len())
}
