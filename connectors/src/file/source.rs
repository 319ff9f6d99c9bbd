//! The file source: newline-delimited records from files matching a glob.
//!
//! **Splits.** At start, the files present (sorted by name) are cut into blocks of
//! [`BLOCK_BYTES`] and the blocks are dealt out to the workers round-robin; each worker
//! reads its blocks in order. A block that starts inside a line begins at the next line,
//! and a line belongs to the block its first byte is in, so every line is read exactly once
//! whatever the number of workers. Dealing out small blocks (rather than one contiguous
//! piece per worker) keeps all workers at about the same point of a time-ordered input, so
//! no worker races ahead of the global watermark and buffers state for nothing.
//!
//! **Following.** In follow mode the worker holding the last block also follows the live
//! end: it keeps reading what is appended to the last file and picks up new files (names
//! sorting after the known ones) as they appear; a file is opened once its first line (the
//! header, for CSV) is complete. When a newer file appears, the older one is taken as
//! complete once its last line is: an unterminated last line gets [`ROTATION_GRACE`] for
//! its writer to finish it, and is then read as it is. Bytes appended to a file after
//! that, and new files whose names sort before the one being followed, are not read: a
//! warning names them (nothing goes missing without a word). A CSV file that is empty,
//! blank or only an unfinished header is complete, with nothing to read, on the same terms
//! (see `source_follow.rs`, which also re-reads a followed file truncated or replaced under
//! it, as `tail -F` does). With `exit_at_end` the
//! source stops once everything present is read, and, as in a bounded read, a glob that
//! matches nothing is an error; without it a warning says the source waits for files.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::line_counts::LineCounts;
use crate::source::is_blank;
use follow::{file_change, read_header, Opened};

/// Errors opening or reading files.
#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    /// The glob is not valid.
    #[error("bad path pattern `{pattern}`: {message}")]
    BadPattern {
        /// Pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// No file matches.
    #[error("no files match `{pattern}` (hint: {hint})")]
    NoFiles {
        /// Pattern.
        pattern: String,
        /// What to check: see [`no_files_hint`].
        hint: String,
    },
    /// I/O failure.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What to check when a source's path matches no file: a directory names no file (its
/// files do, with a glob), `~` is not the home directory here, else the glob itself.
pub fn no_files_hint(pattern: &str) -> String {
    let path = std::path::Path::new(pattern);
    if path.is_dir() {
        let shown = pattern.trim_end_matches('/');
        return format!(
            "`{shown}` is a directory: name its files with a glob, e.g. `{shown}/*.jsonl`"
        );
    }
    if let Some(i) = pattern.find('~') {
        if i == 0 || pattern[..i].ends_with('/') {
            return "`~` is not expanded to the home directory: write the path relative to the job file, or absolute".into();
        }
    }
    "check the source's `path`; it is a glob relative to the job file".into()
}

/// A byte range of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The file.
    pub path: PathBuf,
    /// First byte (lines starting at or after it).
    pub start: u64,
    /// End (exclusive) for lines' first bytes; `None` follows the file's growth.
    pub end: Option<u64>,
}

pub use crate::source::{Item, LineId, Poll, ReadMode};

/// Size of the blocks input is dealt out in.
pub const BLOCK_BYTES: u64 = 8 << 20;

/// Deals `files` (path, size, in order) out to `peers` workers in blocks of `block` bytes,
/// round-robin, so all workers move through the input (and its event time)
/// together: a worker that raced ahead would only buffer state waiting for the slowest
/// watermark. Returns each worker's splits in reading order, and the index of the worker
/// holding the last block (the one that follows the live end).
pub fn plan_splits(files: &[(PathBuf, u64)], peers: usize, block: u64) -> (Vec<Vec<Split>>, usize) {
    let mut out = vec![Vec::new(); peers];
    let mut n = 0usize;
    for (path, size) in files {
        let mut s = 0;
        while s < *size {
            let e = (s + block).min(*size);
            out[n % peers].push(Split {
                path: path.clone(),
                start: s,
                end: Some(e),
            });
            n += 1;
            s = e;
        }
    }
    let last = if n == 0 { peers - 1 } else { (n - 1) % peers };
    (out, last)
}

/// Lists files matching a glob, sorted, with sizes.
pub fn list_files(pattern: &str) -> Result<Vec<(PathBuf, u64)>, FileSourceError> {
    let paths = glob::glob(pattern).map_err(|e| FileSourceError::BadPattern {
        pattern: pattern.into(),
        message: e.to_string(),
    })?;
    let mut files = Vec::new();
    for p in paths {
        let p = p.map_err(|e| FileSourceError::Io {
            path: e.path().to_path_buf(),
            source: e.into(),
        })?;
        let meta = std::fs::metadata(&p).map_err(|source| FileSourceError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_file() {
            files.push((p, meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

struct Cursor {
    split: usize,
    file: File,
    /// File offset of `buf[0]`.
    pos: u64,
    /// Read buffer; `buf[..end]` holds data, `buf[head..end]` is unconsumed.
    buf: Vec<u8>,
    end: usize,
    head: usize,
    line: u64,
    eof: bool,
    /// Since when a newer file exists while this one ends in an unterminated line.
    tail_since: Option<Instant>,
}

/// How long a followed file's unterminated last line may wait for its writer once a newer
/// file has appeared, before it is read as it is.
pub const ROTATION_GRACE: Duration = Duration::from_secs(2);

/// Reads one worker's share of a file source.
pub struct FileReader {
    pattern: String,
    mode: ReadMode,
    live: bool,
    splits: Vec<Split>,
    line_bases: Vec<Option<u64>>,
    next: usize,
    cursor: Option<Cursor>,
    known: BTreeSet<PathBuf>,
    last_scan: Instant,
    /// The header line of the file being read, and where it is.
    header: Option<(Vec<u8>, crate::source::Origin)>,
    headers: bool,
    /// Per file: (offset, newlines before it) checkpoints, so line numbers cost one pass.
    newline_index: std::collections::HashMap<PathBuf, Vec<(u64, u64)>>,
    /// Line counts of the splits this process's workers finished, when shared.
    shared: Option<Arc<LineCounts>>,
    /// Passes over a file to count newlines (what sharing and checkpoints avoid).
    newline_passes: usize,
    /// Followed files left for a newer one: their size then, and whether their growth
    /// since was reported.
    left: Vec<(PathBuf, u64, bool)>,
    /// New files skipped (and reported) because they sort before the followed one.
    skipped: BTreeSet<PathBuf>,
    /// Since when a newer file exists while the followed one's header line is unfinished.
    header_since: Option<Instant>,
}

const CHUNK: usize = 1 << 20;

impl FileReader {
    /// Opens worker `worker` of `peers`. `headers`: each file starts with a header line
    /// (CSV), delivered through [`FileReader::header`] rather than as a record.
    pub fn open(
        pattern: &str,
        worker: usize,
        peers: usize,
        mode: ReadMode,
        headers: bool,
    ) -> Result<Self, FileSourceError> {
        let files = list_files(pattern)?;
        // A run that stops at the input present (backfill, `--exit-at-end`) would read
        // nothing: an error. A live run waits for files to appear, and says so.
        if files.is_empty() && mode.stops_at_end() {
            return Err(FileSourceError::NoFiles {
                pattern: pattern.into(),
                hint: no_files_hint(pattern),
            });
        }
        let (mut all, last_owner) = plan_splits(&files, peers, BLOCK_BYTES);
        let live = matches!(mode, ReadMode::Follow { .. }) && worker == last_owner;
        if files.is_empty() && live {
            tracing::warn!(
                "no files match `{pattern}` yet; waiting for them to appear (hint: {})",
                no_files_hint(pattern)
            );
        }
        let mut splits = all.swap_remove(worker);
        if live {
            if let Some((last, size)) = files.last() {
                match splits.last_mut() {
                    Some(s) if &s.path == last => s.end = None,
                    _ => splits.push(Split {
                        path: last.clone(),
                        start: *size,
                        end: None,
                    }),
                }
            }
        }
        Ok(FileReader {
            pattern: pattern.into(),
            mode,
            live,
            line_bases: vec![None; splits.len()],
            splits,
            next: 0,
            cursor: None,
            known: files.into_iter().map(|(p, _)| p).collect(),
            last_scan: Instant::now(),
            header: None,
            headers,
            newline_index: Default::default(),
            shared: None,
            newline_passes: 0,
            left: Vec::new(),
            skipped: BTreeSet::new(),
            header_since: None,
        })
    }

    /// Shares line counts with the other readers of this source in the process: this
    /// reader publishes the count of each split it finishes, and numbers its own lines from
    /// theirs (see [`FileReader::try_resolve`]).
    pub fn share_line_counts(&mut self, counts: Arc<LineCounts>) {
        self.shared = Some(counts);
    }

    /// The splits this reader owns (for tests and EXPLAIN).
    pub fn splits(&self) -> &[Split] {
        &self.splits
    }

    /// The header line of the file being read (when `headers`).
    pub fn header(&self) -> Option<&[u8]> {
        self.header.as_ref().map(|(h, _)| h.as_slice())
    }

    /// Delivers up to about `max_bytes` of complete lines (and file headers) to `on_item`.
    pub fn poll(
        &mut self,
        max_bytes: usize,
        mut on_item: impl FnMut(Item<'_>),
    ) -> Result<Poll, FileSourceError> {
        let mut delivered = 0;
        let mut bytes = 0;
        let exit_at_end = matches!(self.mode, ReadMode::Follow { exit_at_end: true });
        loop {
            // Open the next split (after looking for new files when all are read).
            if self.cursor.is_none() {
                if self.next >= self.splits.len() && self.scan_due_or_force(true)? == 0 {
                    return Ok(self.idle_or_done(delivered));
                }
                let c = match self.open_split(self.next)? {
                    Opened::Cursor(c) => c,
                    // A followed file whose header line is not complete yet: wait.
                    Opened::Wait => return Ok(lines_or(delivered, Poll::Idle)),
                    Opened::Nothing => {
                        self.next += 1;
                        continue;
                    }
                };
                self.next += 1;
                self.cursor = Some(c);
                if let Some((h, origin)) = &self.header {
                    // The split at the file's start reports on its header.
                    let first = self.splits[self.next - 1].start == 0;
                    on_item(Item::Header(h, first.then_some(origin)));
                }
            }
            let cur = self.cursor.as_mut().expect("cursor");
            let split_end = self.splits[cur.split].end;
            // Deliver the complete lines that start inside the split.
            let mut past_end = false;
            while let Some(nl) = memchr::memchr(b'\n', &cur.buf[cur.head..cur.end]) {
                if split_end.is_some_and(|e| cur.pos + cur.head as u64 >= e) {
                    past_end = true;
                    break;
                }
                let line = trim_cr(&cur.buf[cur.head..cur.head + nl]);
                on_item(Item::Line(
                    line,
                    LineId {
                        split: cur.split as u32,
                        line: cur.line,
                    },
                ));
                cur.line += 1;
                cur.head += nl + 1;
                delivered += 1;
                bytes += nl + 1;
                if bytes >= max_bytes {
                    return Ok(Poll::Lines(delivered));
                }
            }
            if past_end {
                self.finish_split(true);
                continue;
            }
            if !cur.eof {
                fill(cur, &self.splits[cur.split].path)?;
                continue;
            }
            // End of file; the buffer may hold an unterminated last line.
            match split_end {
                Some(e) => {
                    // A bounded split: the file is complete as far as this run is concerned.
                    if cur.pos + (cur.head as u64) < e {
                        delivered += take_unterminated(cur, &mut on_item);
                    }
                    self.finish_split(false);
                }
                None if self.next < self.splits.len() => {
                    // Following, and a newer file exists: this one is complete, once an
                    // unterminated last line has had its grace to be finished.
                    if cur.head < cur.end && !exit_at_end {
                        cur.eof = false;
                        if fill(cur, &self.splits[cur.split].path)? > 0 {
                            cur.tail_since = None;
                            continue;
                        }
                        let since = *cur.tail_since.get_or_insert_with(Instant::now);
                        if since.elapsed() < ROTATION_GRACE {
                            return Ok(lines_or(delivered, Poll::Idle));
                        }
                    }
                    delivered += take_unterminated(cur, &mut on_item);
                    let size = cur.pos + cur.end as u64;
                    self.left
                        .push((self.splits[cur.split].path.clone(), size, false));
                    self.cursor = None;
                }
                None => {
                    // Following the live end: wait for more bytes or a newer file.
                    cur.eof = false;
                    if fill(cur, &self.splits[cur.split].path)? > 0 {
                        continue;
                    }
                    if let Some(change) = file_change(cur, &self.splits[cur.split].path) {
                        delivered += self.follow_anew(change, &mut on_item);
                        continue;
                    }
                    if exit_at_end {
                        if self.scan_due_or_force(true)? > 0 {
                            continue;
                        }
                        let cur = self.cursor.as_mut().expect("cursor");
                        delivered += take_unterminated(cur, &mut on_item);
                        self.cursor = None;
                        return Ok(lines_or(delivered, Poll::Done));
                    }
                    if self.scan_due_or_force(false)? > 0 {
                        continue;
                    }
                    return Ok(lines_or(delivered, Poll::Idle));
                }
            }
        }
    }

    fn idle_or_done(&self, delivered: usize) -> Poll {
        let done = match self.mode {
            ReadMode::Bounded => true,
            ReadMode::Follow { exit_at_end } => !self.live || exit_at_end,
        };
        lines_or(delivered, if done { Poll::Done } else { Poll::Idle })
    }

    fn scan_due_or_force(&mut self, force: bool) -> Result<usize, FileSourceError> {
        if !self.live || (!force && self.last_scan.elapsed() < Duration::from_millis(200)) {
            return Ok(0);
        }
        self.last_scan = Instant::now();
        self.report_unread_appends();
        let newest = self.known.iter().next_back().cloned();
        let mut added = 0;
        for (p, _) in list_files(&self.pattern)? {
            if self.known.contains(&p) {
                continue;
            }
            if let Some(n) = newest.as_ref().filter(|n| &p < *n) {
                if self.skipped.insert(p.clone()) {
                    tracing::warn!(
                        "file `{}` appeared after `{}`, which sorts after it and is already being read; it is not read (hint: name files so that newer ones sort last, e.g. by a zero-padded sequence number or timestamp)",
                        p.display(),
                        n.display()
                    );
                }
                continue;
            }
            self.known.insert(p.clone());
            self.splits.push(Split {
                path: p,
                start: 0,
                end: None,
            });
            self.line_bases.push(Some(0));
            added += 1;
        }
        Ok(added)
    }

    /// Warns (once per file) about bytes appended to a followed file after a newer file
    /// took its place: they are not read.
    fn report_unread_appends(&mut self) {
        for (path, size, reported) in self.left.iter_mut().filter(|l| !l.2) {
            let Ok(now) = std::fs::metadata(&*path).map(|m| m.len()) else {
                continue;
            };
            if now > *size {
                *reported = true;
                tracing::warn!(
                    "`{}` grew by {} bytes after a newer file appeared; freshet follows only the newest file of a source, so they are not read (hint: finish writing a file before starting the next)",
                    path.display(),
                    now - *size
                );
            }
        }
    }

    /// Opens split `i`.
    fn open_split(&mut self, i: usize) -> Result<Opened, FileSourceError> {
        let split = &self.splits[i];
        let io = |source| FileSourceError::Io {
            path: split.path.clone(),
            source,
        };
        let mut file = File::open(&split.path).map_err(io)?;
        if split.start == 0 {
            self.line_bases[i] = Some(0);
        }
        self.header = None;
        let mut preamble = (0, 0);
        if self.headers {
            let p = read_header(&split.path)?;
            if !p.complete && (split.end.is_none() || is_blank(&p.header)) {
                // The file ends before its header line is complete: empty, blank lines, or
                // a header without its line break.
                if split.end.is_none() && !self.followed_header_done(i, &p)? {
                    // A growing file: the writer has not finished the header line yet.
                    return Ok(Opened::Wait);
                }
                self.skip_headerless(i, &p);
                return Ok(Opened::Nothing);
            }
            self.header_since = None;
            // (A complete file ending in an unterminated line: that line is the header.)
            let origin = crate::source::file_origin(split.path.clone(), p.lines);
            self.header = Some((p.header, origin));
            preamble = (p.lines, p.bytes);
        }
        let mut cur = Cursor {
            split: i,
            file: File::open(&split.path).map_err(io)?,
            pos: 0,
            buf: vec![0; CHUNK],
            end: 0,
            head: 0,
            line: 0,
            eof: false,
            tail_since: None,
        };
        if split.start > 0 {
            // Begin at the first line that starts at or after `start`, and after the header
            // (a split may start among the blank lines before it).
            let start = split.start.max(preamble.1);
            file.seek(SeekFrom::Start(start - 1)).map_err(io)?;
            cur.file = file;
            cur.pos = start - 1;
            loop {
                if let Some(nl) = memchr::memchr(b'\n', &cur.buf[cur.head..cur.end]) {
                    cur.head += nl + 1;
                    break;
                }
                cur.head = cur.end;
                if fill(&mut cur, &self.splits[i].path)? == 0 {
                    break;
                }
            }
        } else if self.headers {
            // Skip the header line (and blank lines before it) of a split that starts the file.
            while cur.line < preamble.0 {
                if let Some(nl) = memchr::memchr(b'\n', &cur.buf[cur.head..cur.end]) {
                    cur.head += nl + 1;
                    cur.line += 1;
                    continue;
                }
                if fill(&mut cur, &self.splits[i].path)? == 0 {
                    cur.head = cur.end;
                    break;
                }
            }
        }
        Ok(Opened::Cursor(cur))
    }
}

/// `Lines(n)` if anything was delivered, else `otherwise`.
fn lines_or(delivered: usize, otherwise: Poll) -> Poll {
    if delivered > 0 {
        Poll::Lines(delivered)
    } else {
        otherwise
    }
}

/// Delivers the buffered bytes after the last newline as a line (a file's unterminated last
/// line); returns how many lines were delivered (0 or 1).
fn take_unterminated(cur: &mut Cursor, on_item: &mut impl FnMut(Item<'_>)) -> usize {
    if cur.head >= cur.end {
        return 0;
    }
    let line = trim_cr(&cur.buf[cur.head..cur.end]);
    on_item(Item::Line(
        line,
        LineId {
            split: cur.split as u32,
            line: cur.line,
        },
    ));
    cur.line += 1;
    cur.head = cur.end;
    1
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads more bytes into the cursor's buffer, compacting consumed bytes. Returns bytes read.
fn fill(cur: &mut Cursor, path: &Path) -> Result<usize, FileSourceError> {
    if cur.head > 0 {
        cur.buf.copy_within(cur.head..cur.end, 0);
        cur.end -= cur.head;
        cur.pos += cur.head as u64;
        cur.head = 0;
    }
    if cur.end == cur.buf.len() {
        // A line longer than the buffer: grow it.
        let len = cur.buf.len();
        cur.buf.resize(len * 2, 0);
    }
    let n = loop {
        match cur.file.read(&mut cur.buf[cur.end..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(FileSourceError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    };
    cur.end += n;
    if n == 0 {
        cur.eof = true;
    }
    Ok(n)
}

impl crate::source::RecordSource for FileReader {
    fn poll(
        &mut self,
        max_bytes: usize,
        on_item: &mut dyn FnMut(Item<'_>),
    ) -> Result<Poll, crate::source::SourceError> {
        Ok(FileReader::poll(self, max_bytes, on_item)?)
    }

    fn resolve(&mut self, id: LineId) -> crate::source::Origin {
        let (path, line) = FileReader::resolve(self, id);
        crate::source::file_origin(path, line)
    }

    fn try_resolve(&mut self, id: LineId) -> Option<crate::source::Origin> {
        let (path, line) = FileReader::try_resolve(self, id)?;
        Some(crate::source::file_origin(path, line))
    }

    fn share_line_counts(&mut self, counts: Arc<LineCounts>) {
        FileReader::share_line_counts(self, counts)
    }

    fn unread_at_stop(&self) -> Option<String> {
        FileReader::unread_at_stop(self)
    }
}

#[path = "source_follow.rs"]
mod follow;
#[path = "source_lines.rs"]
mod lines;

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
