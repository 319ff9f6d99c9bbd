//! The S3 source: newline-delimited records (JSON lines or CSV) from the objects under
//! `s3://bucket/prefix`.
//!
//! **Order.** Objects are listed (all pages) and sorted by key, so hour-partitioned keys
//! such as `events/dt=2026-11-01/hr=05/part-0.jsonl.gz` are read in event-time order. Each
//! worker reads its objects one after another, in key order, as one in-order watermark
//! partition (like a file).
//!
//! **Splitting.** Whole objects are dealt out: in a bounded read (backfill), object `i` of
//! the sorted listing goes to worker `i % peers`, so workers move through time together.
//! When following, the listing can change between two workers' listings, so an object goes
//! to worker `fnv1a(key) % peers` instead, which does not depend on when it was listed.
//! Either way every object is read by exactly one worker.
//!
//! **Following.** In follow mode the reader re-lists every second for keys sorting after
//! the newest key seen (S3 `StartAfter`): new objects must be written with keys sorting
//! after the existing ones. An object that appears with an older key is not read: every
//! [`FULL_LIST_EVERY`] (or 20 times as long as the last full listing took, if that is
//! longer: a prefix of millions of keys is not listed back to back) worker 0 lists the
//! whole prefix and warns, once, naming each such object; the other workers do not list
//! it. Worker 0 remembers a 64-bit hash of every key listed, not the keys, to know which
//! are new. With `exit_at_end` only the objects present at start are read.
//!
//! **Objects.** A body is streamed and decoded chunk by chunk, never held whole. It is
//! gzip when `compression: gzip`, or `auto` and the key ends in `.gz` (concatenated gzip
//! members are read through); an object that does not decompress is one bad record
//! ([`Item::Unreadable`]) at the line where it broke, following `on_error`, and the next
//! object is read. For CSV the first line of every object is its header,
//! delivered as [`Item::Header`] before the object's records. A record's origin is
//! `s3://bucket/key` and its 1-based line in the (decompressed) object.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use flate2::write::MultiGzDecoder;
use planner::job::Compression;

use super::{error_text, fnv1a, is_transport, Aws};
use crate::source::{Item, LineId, Origin, Poll, ReadMode, RecordSource, SourceError};

/// How often a following reader re-lists the prefix after the newest key.
const RELIST_EVERY: Duration = Duration::from_secs(1);
/// How often a following reader lists the whole prefix, for objects written with a key
/// sorting before the newest (not read: warned about).
pub const FULL_LIST_EVERY: Duration = Duration::from_secs(10);

/// Where a reader reads from.
#[derive(Clone, Debug)]
pub struct S3Location {
    /// Bucket.
    pub bucket: String,
    /// Key prefix (may be empty).
    pub prefix: String,
    /// Compression of the objects.
    pub compression: Compression,
}

struct Cursor {
    /// Index into `S3Reader::objects`.
    index: usize,
    /// The object's `s3://` URL, for reports on its header.
    url: String,
    body: ByteStream,
    gz: Option<MultiGzDecoder<Vec<u8>>>,
    /// Decoded bytes; `buf[head..]` is unconsumed.
    buf: Vec<u8>,
    head: usize,
    /// 0-based line of the next line.
    line: u64,
    header_pending: bool,
    eof: bool,
}

/// All keys under `loc`'s prefix sorting after `after`, sorted (every page); folder
/// markers are not objects. Errors say what to check.
pub(crate) fn list_keys(
    aws: &Aws,
    client: &aws_sdk_s3::Client,
    loc: &S3Location,
    after: Option<&str>,
) -> Result<Vec<String>, SourceError> {
    let url = format!("s3://{}/{}", loc.bucket, loc.prefix);
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = client
            .list_objects_v2()
            .bucket(&loc.bucket)
            .prefix(&loc.prefix)
            .set_start_after(after.map(str::to_string))
            .set_continuation_token(token.clone());
        let resp = aws.block_on(req.send()).map_err(|e| {
            let hint = if e.code() == Some("NoSuchBucket") {
                format!(
                    "bucket `{}` does not exist in {}: check the source's `bucket` (and the profile's region/endpoint)",
                    loc.bucket,
                    aws.describe()
                )
            } else if is_transport(&e) {
                format!(
                    "cannot reach S3 ({}): is the endpoint right and the service running?",
                    aws.describe()
                )
            } else {
                format!("cannot list {url}")
            };
            SourceError(format!("{hint} ({})", error_text(&e)))
        })?;
        for o in resp.contents() {
            if let Some(k) = o.key() {
                if !k.ends_with('/') {
                    keys.push(k.to_string());
                }
            }
        }
        token = resp.next_continuation_token().map(str::to_string);
        if !resp.is_truncated().unwrap_or(false) || token.is_none() {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Asks for object `key`; the error names it and says what to check.
fn request_object(
    aws: &Aws,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, SourceError> {
    aws.block_on(client.get_object().bucket(bucket).key(key).send())
        .map_err(|e| cannot_read(bucket, key, &error_text(&e)))
}

fn cannot_read(bucket: &str, key: &str, why: &str) -> SourceError {
    SourceError(format!(
        "cannot read s3://{bucket}/{key}: {why} (hint: was it deleted after it was listed?)"
    ))
}

/// Object `key`, streamed into an unnamed temporary file (in `TMPDIR`; removed when the
/// file is dropped): a Parquet object is read from its footer back, so it is fetched
/// whole, but not held in memory.
pub(crate) fn spool_object(
    aws: &Aws,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<std::fs::File, SourceError> {
    let mut resp = request_object(aws, client, bucket, key)?;
    let spool_err = |e: std::io::Error| {
        SourceError(format!(
            "cannot spool s3://{bucket}/{key} to a temporary file: {e} (hint: point TMPDIR at a directory with room for the largest object)"
        ))
    };
    let mut file = tempfile::tempfile().map_err(spool_err)?;
    while let Some(chunk) = aws.block_on(resp.body.next()) {
        let chunk = chunk.map_err(|e| cannot_read(bucket, key, &error_text(&e)))?;
        file.write_all(&chunk).map_err(spool_err)?;
    }
    file.flush().map_err(spool_err)?;
    Ok(file)
}

/// One worker's reader of an S3 prefix.
pub struct S3Reader {
    aws: Aws,
    client: aws_sdk_s3::Client,
    loc: S3Location,
    mode: ReadMode,
    headers: bool,
    worker: usize,
    peers: usize,
    /// This worker's objects, in reading order (`LineId::split` indexes it).
    objects: Vec<String>,
    next: usize,
    cursor: Option<Cursor>,
    /// The newest key listed (of any worker): re-listing starts after it.
    newest: Option<String>,
    last_list: Instant,
    /// Hashes of every key listed (worker 0, following only), to tell new keys in a full
    /// listing.
    listed: HashSet<u64>,
    last_full_list: Instant,
    /// How long to wait from `last_full_list` to the next full listing.
    full_list_every: Duration,
    /// Objects not read because their keys sorted before the newest (worker 0 reports
    /// them all): the first few, and how many.
    not_read: (Vec<String>, u64),
}

impl S3Reader {
    /// Lists the prefix and opens worker `worker`'s (of `peers`) share. `headers`: each
    /// object starts with a header line (CSV).
    pub fn open(
        aws: Aws,
        loc: S3Location,
        worker: usize,
        peers: usize,
        mode: ReadMode,
        headers: bool,
    ) -> Result<Self, SourceError> {
        let client = aws.s3();
        let mut r = S3Reader {
            aws,
            client,
            loc,
            mode,
            headers,
            worker,
            peers: peers.max(1),
            objects: Vec::new(),
            next: 0,
            cursor: None,
            newest: None,
            last_list: Instant::now(),
            listed: HashSet::new(),
            last_full_list: Instant::now(),
            full_list_every: FULL_LIST_EVERY,
            not_read: (Vec::new(), 0),
        };
        let keys = r.list(None)?;
        if keys.is_empty() && mode == ReadMode::Bounded {
            return Err(SourceError(format!(
                "no objects under {} (hint: check the source's `bucket` and `prefix`; a backfill needs at least one object)",
                r.url("")
            )));
        }
        r.take(keys, mode == ReadMode::Bounded);
        Ok(r)
    }

    /// The keys this reader reads, in order (for tests and EXPLAIN).
    pub fn objects(&self) -> &[String] {
        &self.objects
    }

    /// Objects that a live read did not read because they appeared with a key sorting
    /// before the newest one (the first 100), and how many: worker 0 reports them all,
    /// the other workers none.
    pub fn not_read(&self) -> (&[String], u64) {
        (&self.not_read.0, self.not_read.1)
    }

    fn url(&self, key: &str) -> String {
        if key.is_empty() {
            format!("s3://{}/{}", self.loc.bucket, self.loc.prefix)
        } else {
            format!("s3://{}/{key}", self.loc.bucket)
        }
    }

    /// Keeps this worker's share of newly listed `keys` (sorted); `by_index` deals them
    /// round-robin by position, else by key hash.
    fn take(&mut self, keys: Vec<String>, by_index: bool) -> usize {
        if let Some(last) = keys.last() {
            self.newest = Some(last.clone());
        }
        if self.lists_all() {
            self.listed.extend(keys.iter().map(|k| fnv1a(k)));
        }
        let before = self.objects.len();
        for (i, k) in keys.into_iter().enumerate() {
            let owner = if by_index {
                i % self.peers
            } else {
                (fnv1a(&k) % self.peers as u64) as usize
            };
            if owner == self.worker {
                self.objects.push(k);
            }
        }
        self.objects.len() - before
    }

    /// All keys under the prefix sorting after `after`, sorted (every page).
    fn list(&self, after: Option<&str>) -> Result<Vec<String>, SourceError> {
        list_keys(&self.aws, &self.client, &self.loc, after)
    }

    fn open_object(&mut self, index: usize) -> Result<Cursor, SourceError> {
        let key = &self.objects[index];
        let resp = request_object(&self.aws, &self.client, &self.loc.bucket, key)?;
        let gzip = match self.loc.compression {
            Compression::Gzip => true,
            Compression::None => false,
            Compression::Auto => key.ends_with(".gz"),
        };
        Ok(Cursor {
            index,
            url: self.url(&self.objects[index]),
            body: resp.body,
            gz: gzip.then(|| MultiGzDecoder::new(Vec::new())),
            buf: Vec::new(),
            head: 0,
            line: 0,
            header_pending: self.headers,
            eof: false,
        })
    }

    /// Reads the next chunk of the cursor's body into its buffer. `Ok(Some(why))`: the
    /// object cannot be decompressed (the rest of it is not read).
    fn fill(&mut self) -> Result<Option<String>, SourceError> {
        let Some(cur) = self.cursor.as_mut() else {
            return Ok(None);
        };
        let key = &self.objects[cur.index];
        let url = format!("s3://{}/{key}", self.loc.bucket);
        if cur.head > 0 {
            cur.buf.drain(..cur.head);
            cur.head = 0;
        }
        let chunk = self.aws.block_on(cur.body.next());
        let gz_err = |e: std::io::Error| {
            Some(format!(
                "cannot decompress {url}: {e}; the rest of the object is not read (hint: set the source's `compression: none` if the object is not gzip)"
            ))
        };
        match chunk {
            Some(Ok(bytes)) => match cur.gz.as_mut() {
                Some(gz) => {
                    if let Err(e) = gz.write_all(&bytes) {
                        return Ok(gz_err(e));
                    }
                    cur.buf.append(gz.get_mut());
                }
                None => cur.buf.extend_from_slice(&bytes),
            },
            Some(Err(e)) => {
                return Err(SourceError(format!(
                    "error reading {url}: {}",
                    error_text(&e)
                )))
            }
            None => {
                if let Some(gz) = cur.gz.as_mut() {
                    if let Err(e) = gz.try_finish() {
                        return Ok(gz_err(e));
                    }
                    cur.buf.append(gz.get_mut());
                }
                cur.eof = true;
            }
        }
        Ok(None)
    }

    /// Whether this reader lists the whole prefix now and then: worker 0 of a live read
    /// (one listing for the cluster, not one per worker).
    fn lists_all(&self) -> bool {
        self.worker == 0 && self.mode == (ReadMode::Follow { exit_at_end: false })
    }

    /// Lists the whole prefix for objects that appeared sorting before the newest key
    /// and warns about them, once each (worker 0 only).
    fn full_list_if_due(&mut self) {
        if !self.lists_all() || self.last_full_list.elapsed() < self.full_list_every {
            return;
        }
        let Some(newest) = self.newest.clone() else {
            return;
        };
        let started = Instant::now();
        let listed = self.list(None);
        self.last_full_list = Instant::now();
        self.full_list_every = FULL_LIST_EVERY.max(started.elapsed() * 20);
        let keys = match listed {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!("listing {} failed, retrying: {e}", self.url(""));
                return;
            }
        };
        let mut missed = Vec::new();
        for k in keys.into_iter().take_while(|k| *k < newest) {
            if self.listed.insert(fnv1a(&k)) {
                missed.push(k);
            }
        }
        if missed.is_empty() {
            return;
        }
        let shown: Vec<String> = missed.iter().take(10).map(|k| self.url(k)).collect();
        let more = missed.len().saturating_sub(shown.len());
        tracing::warn!(
            "{} not read: written after {} with a key sorting before it{} (hint: a live S3 source reads new objects whose keys sort after the newest one, e.g. time-partitioned keys; a backfill reads them all)",
            shown.join(", "),
            self.url(&newest),
            if more > 0 { format!(", and {more} more") } else { String::new() }
        );
        self.not_read.1 += missed.len() as u64;
        let room = 100usize.saturating_sub(self.not_read.0.len());
        self.not_read.0.extend(missed.into_iter().take(room));
    }

    fn relist_if_due(&mut self) -> Result<usize, SourceError> {
        self.full_list_if_due();
        if self.last_list.elapsed() < RELIST_EVERY {
            return Ok(0);
        }
        self.last_list = Instant::now();
        // A failed re-listing (a network blip) is retried at the next one.
        match self.list(self.newest.clone().as_deref()) {
            Ok(keys) => Ok(self.take(keys, false)),
            Err(e) => {
                tracing::warn!("re-listing {} failed, retrying: {e}", self.url(""));
                Ok(0)
            }
        }
    }
}

/// Delivers one line of the cursor: the header (first line of a CSV object) or a record.
fn deliver(cur: &mut Cursor, line: &[u8], on_item: &mut dyn FnMut(Item<'_>)) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A UTF-8 byte-order mark opening the object (spreadsheet exports) is not data.
    let line = match cur.line {
        0 => line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line),
        _ => line,
    };
    let id = LineId {
        split: cur.index as u32,
        line: cur.line,
    };
    cur.line += 1;
    // Blank lines hold no record, before the header too: it is the first other line.
    if cur.header_pending && crate::source::is_blank(line) {
        return false;
    }
    if cur.header_pending {
        cur.header_pending = false;
        // Objects are not split: every reader of one reports on its header.
        let origin = crate::source::Origin {
            location: cur.url.clone(),
            position: id.line + 1,
        };
        on_item(Item::Header(line, Some(&origin)));
        false
    } else {
        on_item(Item::Line(line, id));
        true
    }
}

impl RecordSource for S3Reader {
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, SourceError> {
        let mut delivered = 0usize;
        let mut bytes = 0usize;
        loop {
            if delivered > 0 && bytes >= max_bytes {
                return Ok(Poll::Lines(delivered));
            }
            let Some(cur) = self.cursor.as_mut() else {
                if self.next < self.objects.len() {
                    let c = self.open_object(self.next)?;
                    self.next += 1;
                    self.cursor = Some(c);
                    continue;
                }
                let follow = matches!(self.mode, ReadMode::Follow { exit_at_end: false });
                if follow && self.relist_if_due()? > 0 {
                    continue;
                }
                let rest = if follow { Poll::Idle } else { Poll::Done };
                return Ok(if delivered > 0 {
                    Poll::Lines(delivered)
                } else {
                    rest
                });
            };
            // Complete lines in the buffer.
            while bytes < max_bytes || delivered == 0 {
                let Some(nl) = memchr::memchr(b'\n', &cur.buf[cur.head..]) else {
                    break;
                };
                let start = cur.head;
                cur.head += nl + 1;
                bytes += nl + 1;
                let buf = std::mem::take(&mut cur.buf);
                if deliver(cur, &buf[start..start + nl], on_item) {
                    delivered += 1;
                }
                cur.buf = buf;
            }
            if delivered > 0 && bytes >= max_bytes {
                continue;
            }
            if cur.eof {
                // An unterminated last line.
                if cur.head < cur.buf.len() {
                    let buf = std::mem::take(&mut cur.buf);
                    bytes += buf.len() - cur.head;
                    if deliver(cur, &buf[cur.head..], on_item) {
                        delivered += 1;
                    }
                }
                self.cursor = None;
                continue;
            }
            if let Some(why) = self.fill()? {
                // A bad object is a bad record where reading stopped, as a line that
                // does not decode is; the next object is read.
                let cur = self.cursor.take().expect("an open object");
                let error = crate::RecordError::Malformed(why);
                on_item(Item::Unreadable {
                    error: &error,
                    id: LineId {
                        split: cur.index as u32,
                        line: cur.line,
                    },
                });
                delivered += 1;
            }
        }
    }

    fn resolve(&mut self, id: LineId) -> Origin {
        let key = self
            .objects
            .get(id.split as usize)
            .map(String::as_str)
            .unwrap_or("?");
        Origin {
            location: self.url(key),
            position: id.line + 1,
        }
    }
}
