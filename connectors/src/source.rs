//! The source model shared by every connector: a reader per worker delivers records in
//! batches ([`RecordSource::poll`]); each record carries the watermark partition it came
//! from (a Kafka partition, a Kinesis shard; files are one partition), and [`Watermarks`]
//! turns per-partition event time into the source's watermark.
//!
//! Readers know bytes, not rows or timely: decoding and time live in `dataflow`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How a source reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Read what is present at start, then finish (backfill).
    Bounded,
    /// Keep following new records (stream).
    Follow {
        /// Finish once everything present at start has been read.
        exit_at_end: bool,
    },
}

impl ReadMode {
    /// Whether the reader stops at the input present when it started.
    pub fn stops_at_end(self) -> bool {
        !matches!(self, ReadMode::Follow { exit_at_end: false })
    }
}

/// Identifies a record for error reports, resolved lazily by [`RecordSource::resolve`]
/// (only bad records pay for it): for files (split, 0-based line within the split), for
/// message sources (partition, offset or sequence index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineId {
    /// Index of the split (files) or partition (messages) in this reader.
    pub split: u32,
    /// Line within the split, or the record's offset.
    pub line: u64,
}

/// Metadata of a message (Kafka key and headers).
pub trait MessageMeta {
    /// The message key.
    fn key(&self) -> Option<&[u8]>;
    /// The first header called `name`.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

/// No key, no headers.
pub struct NoMeta;

impl MessageMeta for NoMeta {
    fn key(&self) -> Option<&[u8]> {
        None
    }
    fn header(&self, _: &str) -> Option<&[u8]> {
        None
    }
}

/// What a poll delivers.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    /// The header line of the file about to be read (CSV files only), with where it is
    /// for the first reader of the file: the one that reports the header's problems
    /// (`None` for the other splits of a file read by several workers).
    Header(&'a [u8], Option<&'a Origin>),
    /// A record line of a file (without its line terminator); watermark partition 0.
    Line(&'a [u8], LineId),
    /// A row of a typed table (a Parquet file), already decoded: the source's columns in
    /// schema order (those no feature reads are NULL), or why the row cannot be read;
    /// watermark partition 0.
    Row {
        /// The values.
        values: &'a [planner::types::Value],
        /// A value that does not fit its column (the row is then a dead letter).
        error: Option<&'a crate::RecordError>,
        /// For error reports.
        id: LineId,
    },
    /// Input that cannot be read at all, such as an S3 object that does not decompress or
    /// is not Parquet: one bad record at `id` (the line or row where reading stopped),
    /// following the source's `on_error`; the reader goes on with the next object.
    /// Watermark partition 0.
    Unreadable {
        /// Why, naming the object.
        error: &'a crate::RecordError,
        /// For error reports.
        id: LineId,
    },
    /// A message (Kafka record, Kinesis record, a line of an S3 object).
    Message {
        /// The payload.
        payload: &'a [u8],
        /// For error reports.
        id: LineId,
        /// The watermark partition, `< RecordSource::partitions()`.
        partition: usize,
        /// Key and headers.
        meta: &'a dyn MessageMeta,
    },
}

/// What a poll produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Some records were delivered.
    Lines(usize),
    /// Nothing new right now (following).
    Idle,
    /// All input is read.
    Done,
}

/// An error reading a source: a message that names the source and suggests a fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

impl From<crate::file::source::FileSourceError> for SourceError {
    fn from(e: crate::file::source::FileSourceError) -> Self {
        SourceError(e.to_string())
    }
}

/// Where a record came from: `file` and `line` of a dead letter. For files, the path and
/// 1-based line; for messages, a URL naming the partition (`kafka://cluster/topic/3`) and
/// the offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// File path or partition URL.
    pub location: String,
    /// Line (files) or offset (messages).
    pub position: u64,
}

/// A worker's reader of one source.
pub trait RecordSource {
    /// Delivers up to about `max_bytes` of records to `on_item`.
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError>;

    /// Where a delivered record came from.
    fn resolve(&mut self, id: LineId) -> Origin;

    /// Where a delivered record came from, if that is known without extra reading (a file
    /// line's number may depend on splits other workers are still reading); `None`: ask
    /// again later, or call [`RecordSource::resolve`].
    fn try_resolve(&mut self, id: LineId) -> Option<Origin> {
        Some(self.resolve(id))
    }

    /// Shares line counts with the process's other readers of the same source (files).
    fn share_line_counts(&mut self, _counts: std::sync::Arc<crate::file::line_counts::LineCounts>) {
    }

    /// Watermark partitions this reader owns (may grow, e.g. when a stream reshards).
    fn partitions(&self) -> usize {
        1
    }

    /// Whether partition `p` has been read to its end and will deliver nothing more (a
    /// bounded read reached the end offsets present at start, or a shard closed).
    fn finished(&self, _p: usize) -> bool {
        false
    }

    /// Whether partition `p` is known to have records waiting (it is behind, not idle:
    /// e.g. a Kafka partition whose high watermark is past the next offset, a Kinesis
    /// shard behind its tip). An idle timeout does not apply to such a partition.
    fn pending(&self, _p: usize) -> bool {
        false
    }

    /// Records progress (e.g. commits Kafka offsets) for everything delivered so far.
    fn commit(&mut self) {}

    /// At a stop: input the reader has seen but not delivered, for a warning (a followed
    /// file's unfinished last line).
    fn unread_at_stop(&self) -> Option<String> {
        None
    }
}

/// How long records waiting keep a partition from being idle: this many times the idle
/// timeout without a record, and at least [`PENDING_MIN`].
pub const PENDING_FACTOR: u32 = 10;

/// See [`PENDING_FACTOR`].
pub const PENDING_MIN: Duration = Duration::from_secs(10);

/// Per-partition event time to a source watermark, Flink style: the watermark is the
/// minimum over partitions of (max event time − delay); a partition that delivered nothing
/// for `idle_timeout`, and has nothing waiting, stops holding it back until it delivers
/// again; finished partitions never do. The watermark never goes backwards.
#[derive(Debug)]
pub struct Watermarks {
    delay: u64,
    idle_timeout: Option<Duration>,
    parts: Vec<PartClock>,
    current: u64,
    constrained: bool,
}

#[derive(Clone, Debug)]
struct PartClock {
    max_time: Option<u64>,
    last_record: Instant,
}

impl Watermarks {
    /// A tracker with `delay` ms of bounded out-of-orderness.
    pub fn new(delay: u64, idle_timeout: Option<Duration>) -> Self {
        Watermarks {
            delay,
            idle_timeout,
            parts: Vec::new(),
            current: 0,
            constrained: false,
        }
    }

    /// The watermark as of the last [`Watermarks::advance`].
    #[inline]
    pub fn current(&self) -> u64 {
        self.current
    }

    /// Notes a record of partition `p` at event time `t`.
    #[inline]
    pub fn observe(&mut self, p: usize, t: u64, now: Instant) {
        if p >= self.parts.len() {
            self.grow(p + 1, now);
        }
        let c = &mut self.parts[p];
        c.max_time = Some(c.max_time.map_or(t, |m| m.max(t)));
        c.last_record = now;
    }

    /// Notes an in-order stream of one partition (files): cheaper than `observe`.
    #[inline]
    pub fn observe_single(&mut self, t: u64) {
        if self.parts.is_empty() {
            self.grow(1, Instant::now());
        }
        let c = &mut self.parts[0];
        c.max_time = Some(c.max_time.map_or(t, |m| m.max(t)));
        self.current = self.current.max(t.saturating_sub(self.delay));
    }

    /// The watermark implied by the records so far, with `partitions` partitions of which
    /// those with `finished(p)` are done and those with `pending(p)` have records waiting
    /// (never idle); updates [`Watermarks::current`].
    pub fn advance(
        &mut self,
        partitions: usize,
        finished: impl Fn(usize) -> bool,
        pending: impl Fn(usize) -> bool,
        now: Instant,
    ) -> u64 {
        if partitions > self.parts.len() {
            self.grow(partitions, now);
        }
        let mut min: Option<u64> = None;
        let mut max: Option<u64> = None;
        for (p, c) in self.parts.iter().enumerate() {
            let wm = c.max_time.map(|m| m.saturating_sub(self.delay));
            if let Some(w) = wm {
                max = Some(max.map_or(w, |x: u64| x.max(w)));
            }
            // Records waiting keep a partition from being idle, for a while: offsets a
            // consumer never sees (transaction markers, aborted or expired records) look
            // like records waiting, and must not hold the watermark for ever.
            let quiet = now.saturating_duration_since(c.last_record);
            let idle = self.idle_timeout.is_some_and(|t| {
                quiet >= t && (quiet >= (t * PENDING_FACTOR).max(PENDING_MIN) || !pending(p))
            });
            if finished(p) || idle {
                continue;
            }
            let w = wm.unwrap_or(0);
            min = Some(min.map_or(w, |x: u64| x.min(w)));
        }
        // Every partition idle or finished: hold at the most advanced one.
        self.constrained = min.is_some();
        let wm = min.or(max).unwrap_or(0);
        self.current = self.current.max(wm);
        self.current
    }

    /// Whether the last [`Watermarks::advance`] was bounded by an active partition (false:
    /// no partitions, or all idle or finished; the reader has nothing holding it back).
    pub fn constrained(&self) -> bool {
        self.constrained
    }

    /// Moves the watermark up to `w` (e.g. following other readers while unconstrained).
    pub fn raise_to(&mut self, w: u64) {
        self.current = self.current.max(w);
    }

    fn grow(&mut self, n: usize, now: Instant) {
        self.parts.resize(
            n,
            PartClock {
                max_time: None,
                last_record: now,
            },
        );
    }
}

/// Whether a line is empty or only whitespace: it holds no record (an editor's trailing
/// newline, CRLF debris), in the data and before a CSV header alike. A UTF-8 byte-order
/// mark (the start of a file some Windows tools write) is no content either.
#[inline]
pub fn is_blank(line: &[u8]) -> bool {
    match line.first() {
        None => true,
        Some(b) if b.is_ascii_whitespace() => line.iter().all(u8::is_ascii_whitespace),
        Some(0xEF) => line
            .strip_prefix(b"\xEF\xBB\xBF")
            .is_some_and(|rest| rest.iter().all(u8::is_ascii_whitespace)),
        Some(_) => false,
    }
}

/// A file path as a dead-letter location.
pub fn file_origin(path: PathBuf, line: u64) -> Origin {
    Origin {
        location: path.display().to_string(),
        position: line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_is_the_slowest_partition_minus_the_delay() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(10, None);
        w.observe(0, 100, t0);
        // Partition 1 has delivered nothing: it holds the watermark at 0.
        assert_eq!(w.advance(2, |_| false, |_| false, t0), 0);
        w.observe(1, 50, t0);
        assert_eq!(w.advance(2, |_| false, |_| false, t0), 40);
        w.observe(1, 500, t0);
        assert_eq!(w.advance(2, |_| false, |_| false, t0), 90);
        // Never backwards, even if a new partition appears.
        assert_eq!(w.advance(3, |_| false, |_| false, t0), 90);
    }

    #[test]
    fn idle_and_finished_partitions_stop_holding_it_back() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(0, Some(Duration::from_secs(5)));
        w.observe(0, 100, t0);
        w.observe(1, 10, t0);
        assert_eq!(w.advance(2, |_| false, |_| false, t0), 10);
        // Partition 0 keeps delivering; partition 1 goes quiet past the timeout.
        let t1 = t0 + Duration::from_secs(6);
        w.observe(0, 200, t1);
        assert_eq!(w.advance(2, |_| false, |_| false, t1), 200);
        // A finished partition never holds it back.
        let mut f = Watermarks::new(0, None);
        f.observe(0, 100, t0);
        f.observe(1, 10, t0);
        assert_eq!(f.advance(2, |p| p == 1, |_| false, t0), 100);
        // All idle: hold at the most advanced.
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!(w.advance(2, |_| false, |_| false, t2), 200);
    }

    #[test]
    fn a_partition_with_records_waiting_is_not_idle() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(0, Some(Duration::from_secs(5)));
        w.observe(0, 100, t0);
        w.observe(1, 10, t0);
        // Partition 1 delivered nothing for longer than the timeout, but is behind.
        let t1 = t0 + Duration::from_secs(6);
        w.observe(0, 200, t1);
        assert_eq!(w.advance(2, |_| false, |p| p == 1, t1), 10);
        // Caught up and quiet: now it is idle.
        assert_eq!(w.advance(2, |_| false, |_| false, t1), 200);
    }

    /// A byte-order mark before a line break is a blank line, not a record (it had been
    /// a `malformed` dead letter holding just the mark).
    #[test]
    fn blank_lines_may_start_with_a_byte_order_mark() {
        for blank in [&b""[..], b" \t\r", b"\xEF\xBB\xBF", b"\xEF\xBB\xBF\r"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for record in [&b"{}"[..], b" x", b"\xEF\xBB\xBF{}", b"\xEF\xBB", b"\xEF"] {
            assert!(!is_blank(record), "{record:?}");
        }
    }

    #[test]
    fn records_waiting_keep_a_partition_from_idleness_only_for_a_while() {
        // (A partition whose high watermark stays past what the consumer sees: a
        // transaction marker, expired records.)
        let t0 = Instant::now();
        let mut w = Watermarks::new(0, Some(Duration::from_secs(5)));
        w.observe(0, 100, t0);
        w.observe(1, 10, t0);
        let t1 = t0 + Duration::from_secs(49);
        w.observe(0, 200, t1);
        assert_eq!(w.advance(2, |_| false, |_| true, t1), 10);
        // Ten timeouts (50 s) without a record: idle, records waiting or not.
        let t2 = t0 + Duration::from_secs(50);
        w.observe(0, 300, t2);
        assert_eq!(w.advance(2, |_| false, |_| true, t2), 300);
        // A short timeout waits at least 10 s.
        let mut s = Watermarks::new(0, Some(Duration::from_millis(100)));
        s.observe(0, 100, t0);
        s.observe(1, 10, t0);
        assert_eq!(
            s.advance(2, |_| false, |_| true, t0 + Duration::from_secs(9)),
            10
        );
        assert_eq!(
            s.advance(2, |_| false, |_| true, t0 + Duration::from_secs(10)),
            100
        );
    }
}
