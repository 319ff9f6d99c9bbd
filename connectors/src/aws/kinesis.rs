//! The Kinesis source: records of a stream's shards.
//!
//! **Splitting.** Shard `shardId-<n>` goes to worker `n % peers` (the shard number does not
//! change when shards are added or expire, so every worker agrees whatever it listed).
//! Each shard a reader owns is one watermark partition, in the order the reader took them.
//!
//! **Start.** Shards present at open start at the source's `start`: `earliest` is
//! `TRIM_HORIZON`, `latest` is `LATEST`, a timestamp is `AT_TIMESTAMP` (approximate
//! arrival time). Shards that appear later (resharding) are read from their beginning.
//!
//! **Resharding.** A shard whose `NextShardIterator` is absent is closed: it is
//! [`RecordSource::finished`]; so is a shard the listing shows closed (an ending sequence
//! number) once a `GetRecords` at its end returns nothing, and a finished shard triggers a
//! re-listing for its children. A child shard starts only once its parents owned by the
//! same reader are finished, so one reader reads a key's records in order across a split
//! or merge (a parent owned by another worker is not waited for). When following, the
//! reader re-lists shards every few seconds to pick up children.
//!
//! **End.** A bounded read (or `--exit-at-end`) reads the shards present at open up to
//! their tip: a shard is finished when it is closed, or when `GetRecords` returns no record
//! and `MillisBehindLatest` is 0; the reader is [`Poll::Done`] when all are. Records
//! appended while the reader catches up may be read too. A bounded read takes the shards
//! strictly in turn, one `GetRecords` with records each (see `fetch_round`), so the order
//! of what it reads does not depend on timing.
//!
//! **Rate.** Each shard is polled at most every 200 ms (Kinesis allows 5 `GetRecords` per
//! shard per second); a throttled shard backs off for a second. An expired iterator is
//! renewed after the last sequence number read. A record's origin is
//! `kinesis://stream/shardId` (with its sequence number while it is known) and its 1-based
//! index among the records this reader read from the shard.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use planner::job::StartPosition;

use super::{error_text, fnv1a, is_transport, Aws};
use crate::source::{Item, LineId, MessageMeta, Origin, Poll, ReadMode, RecordSource, SourceError};

/// Minimum interval between two `GetRecords` of one shard.
const SHARD_POLL: Duration = Duration::from_millis(200);
/// Back-off of a throttled shard.
const THROTTLED: Duration = Duration::from_secs(1);
/// How often a following reader re-lists shards.
const RELIST_EVERY: Duration = Duration::from_secs(5);
/// Records per `GetRecords`.
const GET_LIMIT: i32 = 1000;

struct Shard {
    id: String,
    parents: Vec<String>,
    /// Where to start when the shard is opened.
    start: StartPosition,
    iterator: Option<String>,
    started: bool,
    finished: bool,
    /// Read up to the tip present at open, then finish.
    bounded: bool,
    /// Closed by a split or merge (the listing shows an ending sequence number): once read
    /// to its end it is finished, even when the service still returns an iterator.
    closed: bool,
    /// Records delivered so far.
    count: u64,
    /// `MillisBehindLatest` of the last `GetRecords` (> 0: records are waiting).
    behind: i64,
    last_seq: Option<String>,
    next_poll: Instant,
}

/// One worker's reader of a Kinesis stream.
pub struct KinesisReader {
    aws: Aws,
    client: aws_sdk_kinesis::Client,
    stream: String,
    mode: ReadMode,
    worker: usize,
    peers: usize,
    shards: Vec<Shard>,
    known: HashSet<String>,
    /// Fetched, not yet delivered: (shard index, index in shard, record).
    pending: VecDeque<(usize, u64, Record)>,
    /// The records delivered by the last poll (for `resolve`).
    delivered: Vec<(usize, u64, Record)>,
    last_list: Instant,
    /// Re-list at the next poll (a shard closed: its children are due).
    relist_now: bool,
    /// Where the next round of `GetRecords` starts (fairness across shards).
    rr: usize,
}

/// The partition key as the message key.
struct KeyMeta<'a>(Option<&'a str>);

impl MessageMeta for KeyMeta<'_> {
    fn key(&self) -> Option<&[u8]> {
        self.0.map(str::as_bytes)
    }
    fn header(&self, _: &str) -> Option<&[u8]> {
        None
    }
}

/// The worker owning `shard_id` of `peers`.
pub fn shard_owner(shard_id: &str, peers: usize) -> usize {
    let peers = peers.max(1) as u64;
    let n = shard_id
        .rsplit('-')
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| fnv1a(shard_id));
    (n % peers) as usize
}

impl KinesisReader {
    /// Lists the stream's shards and opens worker `worker`'s (of `peers`) share.
    pub fn open(
        aws: Aws,
        stream: &str,
        start: StartPosition,
        worker: usize,
        peers: usize,
        mode: ReadMode,
    ) -> Result<Self, SourceError> {
        let client = aws.kinesis();
        let mut r = KinesisReader {
            aws,
            client,
            stream: stream.to_string(),
            mode,
            worker,
            peers: peers.max(1),
            shards: Vec::new(),
            known: HashSet::new(),
            pending: VecDeque::new(),
            delivered: Vec::new(),
            last_list: Instant::now(),
            relist_now: false,
            rr: 0,
        };
        let start = match start {
            StartPosition::Committed => StartPosition::Earliest,
            s => s,
        };
        r.add_shards(start, mode.stops_at_end())?;
        Ok(r)
    }

    /// The shard ids this reader owns, in partition order.
    pub fn shard_ids(&self) -> Vec<&str> {
        self.shards.iter().map(|s| s.id.as_str()).collect()
    }

    /// Lists the shards and adds this worker's new ones, starting at `start`.
    fn add_shards(&mut self, start: StartPosition, bounded: bool) -> Result<usize, SourceError> {
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self.client.list_shards();
            req = match &token {
                Some(t) => req.next_token(t),
                None => req.stream_name(&self.stream),
            };
            let resp = self.aws.block_on(req.send()).map_err(|e| {
                let what = if e.code() == Some("ResourceNotFoundException") {
                    format!(
                        "Kinesis stream `{}` does not exist in {}: check the source's `stream` (and the profile's region/endpoint), or create it",
                        self.stream,
                        self.aws.describe()
                    )
                } else if is_transport(&e) {
                    format!(
                        "cannot reach Kinesis ({}): is the endpoint right and the service running?",
                        self.aws.describe()
                    )
                } else {
                    format!("cannot list the shards of Kinesis stream `{}`", self.stream)
                };
                SourceError(format!("{what} ({})", error_text(&e)))
            })?;
            for s in resp.shards() {
                let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .map(str::to_string)
                    .collect();
                let closed = s
                    .sequence_number_range()
                    .is_some_and(|r| r.ending_sequence_number().is_some());
                listed.push((s.shard_id().to_string(), parents, closed));
            }
            token = resp.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        listed.sort();
        let now = Instant::now();
        let mut added = 0;
        for (id, parents, closed) in listed {
            if self.known.contains(&id) {
                if let Some(s) = self.shards.iter_mut().find(|s| s.id == id) {
                    s.closed |= closed;
                }
                continue;
            }
            self.known.insert(id.clone());
            if shard_owner(&id, self.peers) != self.worker {
                continue;
            }
            self.shards.push(Shard {
                id,
                parents,
                start,
                iterator: None,
                started: false,
                finished: false,
                bounded,
                closed,
                count: 0,
                // Unknown until its first GetRecords: waiting, not idle.
                behind: 1,
                last_seq: None,
                next_poll: now,
            });
            added += 1;
        }
        Ok(added)
    }

    /// Whether shard `i` may start: its parents that this reader owns are finished.
    fn ready(&self, i: usize) -> bool {
        self.shards[i].parents.iter().all(|p| {
            self.shards
                .iter()
                .find(|s| &s.id == p)
                .is_none_or(|s| s.finished)
        })
    }

    fn shard_url(&self, i: usize) -> String {
        format!("kinesis://{}/{}", self.stream, self.shards[i].id)
    }

    /// A fresh iterator for shard `i`: after the last record read, else at its start.
    fn get_iterator(&self, i: usize) -> Result<Option<String>, SourceError> {
        let s = &self.shards[i];
        let mut req = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&s.id);
        req = match (&s.last_seq, s.start) {
            (Some(seq), _) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            (None, StartPosition::Latest) => req.shard_iterator_type(ShardIteratorType::Latest),
            (None, StartPosition::Timestamp(ms)) => req
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(ms)),
            (None, _) => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let resp = self.aws.block_on(req.send()).map_err(|e| {
            SourceError(format!(
                "cannot get an iterator for {}: {}",
                self.shard_url(i),
                error_text(&e)
            ))
        })?;
        Ok(resp.shard_iterator().map(str::to_string))
    }

    /// One `GetRecords` of shard `i`; queues what it returns. Returns records queued.
    fn fetch(&mut self, i: usize, now: Instant) -> Result<usize, SourceError> {
        if !self.shards[i].started {
            let it = self.get_iterator(i)?;
            let s = &mut self.shards[i];
            s.started = true;
            s.iterator = it;
            if s.iterator.is_none() {
                s.finished = true;
                return Ok(0);
            }
        }
        let Some(it) = self.shards[i].iterator.clone() else {
            self.shards[i].finished = true;
            return Ok(0);
        };
        self.shards[i].next_poll = now + SHARD_POLL;
        let req = self
            .client
            .get_records()
            .shard_iterator(it)
            .limit(GET_LIMIT);
        let resp = match self.aws.block_on(req.send()) {
            Ok(r) => r,
            Err(e) => {
                match e.code() {
                    Some("ProvisionedThroughputExceededException" | "ThrottlingException") => {
                        self.shards[i].next_poll = now + THROTTLED;
                        return Ok(0);
                    }
                    Some("ExpiredIteratorException") => {
                        self.shards[i].iterator = self.get_iterator(i)?;
                        return Ok(0);
                    }
                    _ if is_transport(&e) => {
                        tracing::warn!(
                            "Kinesis GetRecords of {} failed, retrying: {}",
                            self.shard_url(i),
                            error_text(&e)
                        );
                        self.shards[i].next_poll = now + THROTTLED;
                        return Ok(0);
                    }
                    _ => {}
                }
                return Err(SourceError(format!(
                    "cannot read {}: {}",
                    self.shard_url(i),
                    error_text(&e)
                )));
            }
        };
        let behind = resp.millis_behind_latest().unwrap_or(0);
        let next = resp.next_shard_iterator().map(str::to_string);
        let records = resp.records;
        let n = records.len();
        let s = &mut self.shards[i];
        s.behind = behind;
        for rec in records {
            s.last_seq = Some(rec.sequence_number.clone());
            self.pending.push_back((i, s.count, rec));
            s.count += 1;
        }
        s.iterator = next;
        if s.iterator.is_none() || ((s.bounded || s.closed) && n == 0 && behind == 0) {
            s.finished = true;
            if !s.bounded {
                self.relist_now = true;
            }
        }
        Ok(n)
    }

    /// `GetRecords` on due shards, round-robin, until one returns records. A bounded read
    /// takes the shards strictly in turn instead: the shard whose turn it is keeps it (a
    /// throttled shard is waited for) until a `GetRecords` of it returns records or it is
    /// finished, so the order of records does not depend on timing, and one worker's
    /// backfill of a stream that is not written meanwhile is the same every run.
    fn fetch_round(&mut self) -> Result<(), SourceError> {
        let now = Instant::now();
        let n = self.shards.len();
        if self.mode.stops_at_end() {
            let Some(i) = (0..n)
                .map(|k| (self.rr + k) % n)
                .find(|&i| !self.shards[i].finished && (self.shards[i].started || self.ready(i)))
            else {
                return Ok(());
            };
            self.rr = i;
            if self.shards[i].next_poll > now {
                return Ok(());
            }
            if self.fetch(i, now)? > 0 || self.shards[i].finished {
                self.rr = (i + 1) % n;
            }
            return Ok(());
        }
        for k in 0..n {
            let i = (self.rr + k) % n;
            let s = &self.shards[i];
            if s.finished || s.next_poll > now || (!s.started && !self.ready(i)) {
                continue;
            }
            if self.fetch(i, now)? > 0 {
                self.rr = (i + 1) % n;
                return Ok(());
            }
        }
        Ok(())
    }
}

impl RecordSource for KinesisReader {
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError> {
        self.delivered.clear();
        if self.pending.is_empty() {
            if matches!(self.mode, ReadMode::Follow { exit_at_end: false })
                && (self.relist_now || self.last_list.elapsed() >= RELIST_EVERY)
            {
                self.relist_now = false;
                self.last_list = Instant::now();
                // A failed re-listing (a network blip) is retried at the next one.
                if let Err(e) = self.add_shards(StartPosition::Earliest, false) {
                    tracing::warn!(
                        "re-listing the shards of `{}` failed, retrying: {e}",
                        self.stream
                    );
                }
            }
            self.fetch_round()?;
        }
        let mut bytes = 0;
        while let Some(entry) = self.pending.pop_front() {
            let (shard, index, rec) = &entry;
            bytes += rec.data.as_ref().len();
            on_item(Item::Message {
                payload: rec.data.as_ref(),
                id: LineId {
                    split: *shard as u32,
                    line: *index,
                },
                partition: *shard,
                meta: &KeyMeta(rec.partition_key.as_deref()),
            });
            self.delivered.push(entry);
            if bytes >= max_bytes {
                break;
            }
        }
        if !self.delivered.is_empty() {
            return Ok(Poll::Lines(self.delivered.len()));
        }
        if self.mode.stops_at_end() && self.shards.iter().all(|s| s.finished || !s.bounded) {
            return Ok(Poll::Done);
        }
        Ok(Poll::Idle)
    }

    fn resolve(&mut self, id: LineId) -> Origin {
        let i = id.split as usize;
        let mut location = match self.shards.get(i) {
            Some(_) => self.shard_url(i),
            None => format!("kinesis://{}/?", self.stream),
        };
        if let Some((_, _, rec)) = self
            .delivered
            .iter()
            .find(|(s, n, _)| *s == i && *n == id.line)
        {
            location.push_str("?sequence=");
            location.push_str(&rec.sequence_number);
        }
        Origin {
            location,
            position: id.line + 1,
        }
    }

    fn partitions(&self) -> usize {
        self.shards.len()
    }

    fn finished(&self, p: usize) -> bool {
        self.shards.get(p).is_some_and(|s| s.finished)
    }

    /// Records are waiting: the shard was behind its tip at the last `GetRecords`, or
    /// records of it were fetched and not delivered yet.
    fn pending(&self, p: usize) -> bool {
        self.shards.get(p).is_some_and(|s| s.behind > 0)
            || self.pending.iter().any(|(s, _, _)| *s == p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_split_by_their_number() {
        assert_eq!(shard_owner("shardId-000000000000", 2), 0);
        assert_eq!(shard_owner("shardId-000000000001", 2), 1);
        assert_eq!(shard_owner("shardId-000000000007", 3), 1);
        assert_eq!(shard_owner("shardId-000000000007", 1), 0);
    }
}
