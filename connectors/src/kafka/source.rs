//! The Kafka source: a worker reads the topic's partitions `p` with `index(p) % peers ==
//! worker` (assigned, not group-balanced, so the split is deterministic and every
//! partition is read by exactly one worker); each partition is a watermark partition.
//!
//! - Starting position: `earliest`, `latest`, `committed` (the group's committed offsets,
//!   else earliest) or a timestamp (the first offset at or after it).
//! - Bounded reads (backfill, `--exit-at-end`) stop at the end of the input present when
//!   the reader started. A partition's end is fixed when its first record (or its EOF) is
//!   handled: the larger of the end offset listed at start and the high watermark
//!   librdkafka has then, from its latest fetch (a little past the start with a busy
//!   writer and deep prefetching). The listed end alone is not enough: some brokers'
//!   ListOffsets under-reports it (tansu 0.6 answers the base offset of the last batch +
//!   1, so a batched topic looks shorter than it is). Records at or past the
//!   end are not read, and the partition is paused; it is also finished when the broker
//!   says it is at its end (partition EOF), which covers a compacted tail whose last
//!   offsets are gone. A topic written all the while is read up to its end at start, not
//!   until the writing stops. The reader is done when every partition is finished.
//!   A bounded read takes its partitions in turns of `ORDERED_CHUNK` records, each from a
//!   queue of its own: the order of records (and so the watermark each meets, and which
//!   are too late) depends on the topic, not on which fetch came back first, so one
//!   worker's backfill is the same run after run.
//! - Offsets of delivered records are committed to the group (asynchronously, at most
//!   once a second) after each batch is handed downstream.
//! - A broker that is down at start is retried for `CONNECT_ATTEMPTS`; librdkafka then
//!   reconnects by itself when a broker restarts mid-run, resuming at the next offset.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use planner::job::{KafkaCluster, StartPosition};

use crate::source::{Item, LineId, MessageMeta, Origin, Poll, ReadMode, RecordSource, SourceError};

use super::{client_config, topic_partitions};

/// Logs client errors, except the partition EOF a bounded read asks for; the same error
/// once per [`REPEAT_EVERY`] (a broker that is down is reported on every connection
/// attempt of every thread: hundreds of identical lines a second; found by QA).
#[derive(Default)]
struct Quiet {
    /// The last error logged, when, and how many like it were not logged since.
    last: std::sync::Mutex<Option<(String, Instant, u64)>>,
}

/// How often one repeated client error is logged.
const REPEAT_EVERY: Duration = Duration::from_secs(10);

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF);
        if eof {
            return;
        }
        let text = format!("librdkafka: {error}: {reason}");
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match last.as_mut() {
            Some((t, at, skipped)) if *t == text && at.elapsed() < REPEAT_EVERY => *skipped += 1,
            _ => {
                match last.as_ref() {
                    Some((prev, _, n)) if *n > 0 && *prev == text => {
                        tracing::warn!("{text} (and {n} more times since it was last shown)")
                    }
                    Some((prev, _, n)) if *n > 0 => {
                        tracing::warn!("{prev} (repeated {n} more times)");
                        tracing::warn!("{text}");
                    }
                    _ => tracing::warn!("{text}"),
                }
                *last = Some((text, Instant::now(), 0));
            }
        }
    }
}

impl ConsumerContext for Quiet {}

/// A worker's reader of a Kafka topic.
pub struct KafkaReader {
    consumer: Arc<BaseConsumer<Quiet>>,
    /// A bounded read takes the partitions in turn, [`ORDERED_CHUNK`] records of each, from
    /// a queue per partition: what is read before what depends on the topic, not on
    /// which fetch came back first, so a backfill is the same run after run.
    ordered: Option<Ordered>,
    cluster: String,
    topic: String,
    /// Assigned partition ids, in watermark-partition order.
    partitions: Vec<i32>,
    index: HashMap<i32, usize>,
    /// Next offset to read, per assigned partition (after delivery).
    next: Vec<Option<i64>>,
    /// Per assigned partition read from its first offset (`next` unknown until then):
    /// the first offset and the end listed at start.
    from_beginning: Vec<Option<(i64, i64)>>,
    /// Where a bounded read ends.
    bounds: Option<Bounds>,
    /// The topic for librdkafka's C API (made once: `pending` asks it every step).
    topic_c: CString,
    last_commit: Instant,
    dirty: bool,
    /// The bounded read ended: the next `commit` is the last, synchronous.
    ended: bool,
}

/// Settings of a Kafka reader.
pub struct KafkaSourceSpec<'a> {
    /// Cluster name (for messages).
    pub cluster: &'a str,
    /// Connection.
    pub conn: &'a KafkaCluster,
    /// Topic.
    pub topic: &'a str,
    /// Consumer group.
    pub group_id: &'a str,
    /// Starting position.
    pub start: StartPosition,
    /// Whether the run is stopping (connection retries give up at once).
    pub stopping: &'a dyn Fn() -> bool,
}

impl KafkaReader {
    /// Connects and assigns worker `worker`'s share of the partitions.
    pub fn open(
        spec: &KafkaSourceSpec<'_>,
        worker: usize,
        peers: usize,
        mode: ReadMode,
    ) -> Result<Self, SourceError> {
        let mut cfg = client_config(spec.conn);
        cfg.set("group.id", spec.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "enable.partition.eof",
                if mode.stops_at_end() { "true" } else { "false" },
            );
        let consumer: Arc<BaseConsumer<Quiet>> = cfg
            .create_with_context(Quiet::default())
            .map(Arc::new)
            .map_err(|e| {
                SourceError(format!(
                    "kafka cluster `{}`: cannot create a consumer: {e}",
                    spec.cluster
                ))
            })?;
        let all = topic_partitions(
            consumer.client(),
            spec.cluster,
            spec.conn,
            spec.topic,
            spec.stopping,
        )
        .map_err(SourceError)?;
        let timeout = Duration::from_secs(3);
        let partitions: Vec<i32> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % peers == worker)
            .map(|(_, p)| *p)
            .collect();
        let index = partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i))
            .collect();
        let err = |what: &str, e: KafkaError| {
            SourceError(format!(
                "kafka cluster `{}` topic `{}`: {what}: {e}",
                spec.cluster, spec.topic
            ))
        };

        // Offsets first: the end is what "the input present at start" means (for a
        // bounded read); the first offset and the end tell whether a partition read
        // from its beginning has records waiting before it delivers any.
        let stops_at_end = mode.stops_at_end();
        let mut listed = Vec::new();
        for p in &partitions {
            listed.push(
                consumer
                    .fetch_watermarks(spec.topic, *p, timeout)
                    .map_err(|e| err("reading end offsets", e))?,
            );
        }
        tracing::debug!(
            topic = spec.topic,
            ?partitions,
            ?listed,
            "kafka offsets at start"
        );
        let end: Option<Vec<i64>> = stops_at_end.then(|| listed.iter().map(|(_, h)| *h).collect());

        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition(spec.topic, *p);
        }
        let offsets: Vec<Offset> = match spec.start {
            StartPosition::Earliest => vec![Offset::Beginning; partitions.len()],
            StartPosition::Latest => vec![Offset::End; partitions.len()],
            StartPosition::Committed => {
                let committed = consumer
                    .committed_offsets(tpl.clone(), timeout)
                    .map_err(|e| err("reading committed offsets", e))?;
                partitions
                    .iter()
                    .map(
                        |p| match committed.find_partition(spec.topic, *p).map(|e| e.offset()) {
                            Some(Offset::Offset(o)) => Offset::Offset(o),
                            _ => Offset::Beginning,
                        },
                    )
                    .collect()
            }
            StartPosition::Timestamp(ms) => {
                let mut q = TopicPartitionList::new();
                for p in &partitions {
                    q.add_partition_offset(spec.topic, *p, Offset::Offset(ms))
                        .map_err(|e| err("looking up offsets by time", e))?;
                }
                let found = consumer
                    .offsets_for_times(q, timeout)
                    .map_err(|e| err("looking up offsets by time", e))?;
                partitions
                    .iter()
                    .map(
                        |p| match found.find_partition(spec.topic, *p).map(|e| e.offset()) {
                            Some(Offset::Offset(o)) => Offset::Offset(o),
                            _ => Offset::End,
                        },
                    )
                    .collect()
            }
        };
        let mut assign = TopicPartitionList::new();
        let mut next = Vec::new();
        for (p, o) in partitions.iter().zip(&offsets) {
            assign
                .add_partition_offset(spec.topic, *p, *o)
                .map_err(|e| err("assigning partitions", e))?;
            next.push(match o {
                Offset::Offset(o) => Some(*o),
                // Starting at the end: a bounded read has nothing to read before it.
                Offset::End => end.as_ref().map(|e| e[next.len()]),
                _ => None,
            });
        }
        consumer
            .assign(&assign)
            .map_err(|e| err("assigning partitions", e))?;
        let ordered = if stops_at_end {
            // Paused while the queues are split off, so that (as far as librdkafka's
            // ordering of its operations goes) no fetch lands on the main queue first.
            consumer
                .pause(&assign)
                .map_err(|e| err("pausing partitions", e))?;
            let ordered = Ordered::split(&consumer, spec, &partitions)?;
            consumer
                .resume(&assign)
                .map_err(|e| err("resuming partitions", e))?;
            Some(ordered)
        } else {
            None
        };
        Ok(KafkaReader {
            consumer,
            ordered,
            cluster: spec.cluster.to_string(),
            topic: spec.topic.to_string(),
            partitions,
            index,
            from_beginning: offsets
                .iter()
                .zip(&listed)
                .map(|(o, l)| (*o == Offset::Beginning).then_some(*l))
                .collect(),
            bounds: end.map(|end| Bounds {
                fixed: vec![false; end.len()],
                done: vec![false; end.len()],
                end,
            }),
            next,
            topic_c: CString::new(spec.topic).map_err(|_| {
                SourceError(format!("kafka topic `{}` contains a NUL byte", spec.topic))
            })?,
            last_commit: Instant::now(),
            ended: false,
            dirty: false,
        })
    }

    fn partition_finished(&self, i: usize) -> bool {
        self.bounds.as_ref().is_some_and(|b| b.done[i])
    }

    fn all_finished(&self) -> bool {
        self.bounds.as_ref().is_some_and(Bounds::all_done)
    }
}

/// Records a bounded read takes from a partition before the next one's turn.
const ORDERED_CHUNK: usize = 256;

/// The partitions' turns of a bounded read.
struct Ordered {
    /// One queue per assigned partition.
    queues: Vec<PartitionQueue<Quiet>>,
    /// Whose turn it is, and how many records it has had.
    turn: usize,
    taken: usize,
}

impl Ordered {
    /// A queue per partition, split off the consumer's (after `assign`, which undoes it).
    fn split(
        consumer: &Arc<BaseConsumer<Quiet>>,
        spec: &KafkaSourceSpec<'_>,
        partitions: &[i32],
    ) -> Result<Self, SourceError> {
        let mut queues = Vec::new();
        for p in partitions {
            let queue = consumer
                .split_partition_queue(spec.topic, *p)
                .ok_or_else(|| {
                    SourceError(format!(
                        "kafka cluster `{}` topic `{}`: cannot read partition {p} on its own",
                        spec.cluster, spec.topic
                    ))
                })?;
            queues.push(queue);
        }
        Ok(Ordered {
            queues,
            turn: 0,
            taken: 0,
        })
    }

    /// The next unfinished partition's turn.
    fn pass(&mut self, done: &[bool]) {
        self.taken = 0;
        for _ in 0..done.len() {
            self.turn = (self.turn + 1) % done.len();
            if !done[self.turn] {
                return;
            }
        }
    }
}

/// Where a bounded read ends, per assigned partition.
struct Bounds {
    /// End offsets: listed at start, then fixed at each partition's first fetch.
    end: Vec<i64>,
    /// The end is fixed (a record or an EOF came from the partition).
    fixed: Vec<bool>,
    /// Finished: the end was reached, or the broker said the partition is at its end.
    done: Vec<bool>,
}

impl Bounds {
    /// Every partition is finished.
    fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    /// Fixes partition `i`'s end at its first fetch: the listed end, or the fetch
    /// response's high watermark if larger (see the module docs).
    fn fix_end(&mut self, i: usize, consumer: &BaseConsumer<Quiet>, topic: &CStr, partition: i32) {
        if std::mem::replace(&mut self.fixed[i], true) {
            return;
        }
        if let Some((_, high)) = cached_watermarks(consumer, topic, partition) {
            if high > self.end[i] {
                tracing::debug!(
                    ?topic,
                    partition,
                    listed = self.end[i],
                    fetched = high,
                    "kafka end offset from the first fetch"
                );
                self.end[i] = high;
            }
        }
    }

    /// Partition `i` is finished: stop fetching it.
    fn finish(&mut self, i: usize, consumer: &BaseConsumer<Quiet>, topic: &str, partition: i32) {
        if std::mem::replace(&mut self.done[i], true) {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        if let Err(e) = consumer.pause(&tpl) {
            tracing::debug!("kafka: pausing a finished partition: {e}");
        }
    }
}

/// The low and high watermarks of the partition's last fetch response, as librdkafka
/// caches them (`rd_kafka_get_watermark_offsets`; the rdkafka crate only wraps the
/// ListOffsets query, which is what under-reports).
#[allow(unsafe_code)]
fn cached_watermarks(
    consumer: &BaseConsumer<Quiet>,
    topic: &CStr,
    partition: i32,
) -> Option<(i64, i64)> {
    use rdkafka::bindings::{rd_kafka_get_watermark_offsets, rd_kafka_resp_err_t};
    let (mut low, mut high) = (0i64, 0i64);
    // SAFETY: the client pointer is valid while `consumer` is borrowed; `topic`, `low` and
    // `high` outlive the call, which only reads librdkafka's cached offsets into them.
    let err = unsafe {
        rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some((low, high))
}

struct Meta<'a>(&'a BorrowedMessage<'a>);

impl MessageMeta for Meta<'_> {
    fn key(&self) -> Option<&[u8]> {
        self.0.key()
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        let h = self.0.headers()?;
        h.iter().find(|h| h.key == name).and_then(|h| h.value)
    }
}

/// What became of one polled message.
enum Polled {
    /// Delivered from partition `i`.
    Delivered(usize),
    /// Not a record of this read (past its end, a partition EOF, another partition).
    Skipped,
    /// An error librdkafka retries by itself.
    Retrying,
}

/// One poll's view of the reader: hands messages downstream and keeps the offsets.
struct Step<'r> {
    consumer: &'r BaseConsumer<Quiet>,
    cluster: &'r str,
    topic: &'r str,
    topic_c: &'r CStr,
    index: &'r HashMap<i32, usize>,
    next: &'r mut [Option<i64>],
    bounds: &'r mut Option<Bounds>,
    dirty: &'r mut bool,
    bytes: usize,
    delivered: usize,
}

impl Step<'_> {
    fn all_done(&self) -> bool {
        self.bounds.as_ref().is_some_and(Bounds::all_done)
    }

    fn handle(
        &mut self,
        m: Result<BorrowedMessage<'_>, KafkaError>,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Polled {
        let (consumer, topic, topic_c) = (self.consumer, self.topic, self.topic_c);
        let m = match m {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(p)) => {
                if let (Some(&i), Some(b)) = (self.index.get(&p), self.bounds.as_mut()) {
                    b.fix_end(i, consumer, topic_c, p);
                    b.finish(i, consumer, topic, p);
                }
                return Polled::Skipped;
            }
            Err(e) => {
                // Transport errors are retried by librdkafka itself; say so and go on.
                tracing::warn!("kafka cluster `{}` topic `{topic}`: {e}", self.cluster);
                return Polled::Retrying;
            }
        };
        let Some(&i) = self.index.get(&m.partition()) else {
            return Polled::Skipped;
        };
        let offset = m.offset();
        if let Some(b) = self.bounds.as_mut() {
            b.fix_end(i, consumer, topic_c, m.partition());
            if b.done[i] || offset >= b.end[i] {
                // Past the end at start (written since): not this read's.
                b.finish(i, consumer, topic, m.partition());
                return Polled::Skipped;
            }
        }
        let payload = m.payload().unwrap_or(&[]);
        self.bytes += payload.len() + 64;
        self.delivered += 1;
        on_item(Item::Message {
            payload,
            id: LineId {
                split: i as u32,
                line: offset as u64,
            },
            partition: i,
            meta: &Meta(&m),
        });
        self.next[i] = Some(offset + 1);
        *self.dirty = true;
        if let Some(b) = self.bounds.as_mut() {
            if offset + 1 >= b.end[i] {
                b.finish(i, consumer, topic, m.partition());
            }
        }
        Polled::Delivered(i)
    }
}

impl RecordSource for KafkaReader {
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError> {
        if self.partitions.is_empty() || self.all_finished() {
            return Ok(Poll::Done);
        }
        let mut step = Step {
            consumer: &self.consumer,
            cluster: &self.cluster,
            topic: &self.topic,
            topic_c: &self.topic_c,
            index: &self.index,
            next: &mut self.next,
            bounds: &mut self.bounds,
            dirty: &mut self.dirty,
            bytes: 0,
            delivered: 0,
        };
        let ordered = &mut self.ordered;
        if ordered.is_some() {
            // Serves callbacks. Messages fetched before the queues were split (if any)
            // still come here: delivered, not lost.
            while let Some(m) = step.consumer.poll(Duration::ZERO) {
                step.handle(m, on_item);
            }
        }
        let mut wait = Duration::from_millis(100);
        while step.bytes < max_bytes && !step.all_done() {
            let polled = match ordered.as_mut() {
                Some(o) => {
                    let done = &step
                        .bounds
                        .as_ref()
                        .expect("an ordered read is bounded")
                        .done;
                    if done[o.turn] {
                        o.pass(done);
                        continue;
                    }
                    o.queues[o.turn].poll(wait)
                }
                None => step.consumer.poll(wait),
            };
            let Some(m) = polled else {
                break;
            };
            wait = Duration::ZERO;
            match step.handle(m, on_item) {
                Polled::Retrying => break,
                Polled::Skipped => {}
                Polled::Delivered(i) => {
                    if let (Some(o), Some(b)) = (ordered.as_mut(), step.bounds.as_ref()) {
                        if i == o.turn {
                            o.taken += 1;
                            if o.taken >= ORDERED_CHUNK {
                                o.pass(&b.done);
                            }
                        }
                    }
                }
            }
        }
        let delivered = step.delivered;
        if self.all_finished() {
            // Committed (synchronously) by the next `commit`, once the dataflow has taken
            // this last batch: not if a record of it failed the run.
            self.ended = true;
            return Ok(Poll::Done);
        }
        Ok(if delivered > 0 {
            Poll::Lines(delivered)
        } else {
            Poll::Idle
        })
    }

    fn resolve(&mut self, id: LineId) -> Origin {
        Origin {
            location: format!(
                "kafka://{}/{}/{}",
                self.cluster, self.topic, self.partitions[id.split as usize]
            ),
            position: id.line,
        }
    }

    fn partitions(&self) -> usize {
        self.partitions.len()
    }

    fn finished(&self, p: usize) -> bool {
        self.partition_finished(p)
    }

    /// Records are waiting when the last fetch saw a high watermark past the next offset;
    /// before a partition read from its beginning delivers anything, when it was not
    /// empty at start (or a fetch has seen records since).
    fn pending(&self, p: usize) -> bool {
        let high =
            cached_watermarks(&self.consumer, &self.topic_c, self.partitions[p]).map(|(_, h)| h);
        match (self.next[p], self.from_beginning[p]) {
            (Some(n), _) => high.is_some_and(|h| h > n),
            (None, Some((low, listed_high))) => high.unwrap_or(listed_high).max(listed_high) > low,
            (None, None) => false,
        }
    }

    fn commit(&mut self) {
        if self.ended {
            self.commit_now(CommitMode::Sync);
        } else if self.dirty && self.last_commit.elapsed() >= Duration::from_secs(1) {
            self.commit_now(CommitMode::Async);
        }
    }
}

impl KafkaReader {
    fn commit_now(&mut self, mode: CommitMode) {
        if !self.dirty {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, n) in self.partitions.iter().zip(&self.next) {
            if let Some(n) = n {
                let _ = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*n));
            }
        }
        if let Err(e) = self.consumer.commit(&tpl, mode) {
            tracing::warn!(
                "kafka cluster `{}` topic `{}`: committing offsets: {e}",
                self.cluster,
                self.topic
            );
        }
        self.dirty = false;
        self.last_commit = Instant::now();
    }
}
