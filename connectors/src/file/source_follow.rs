//! The live end of a followed file: a CSV file whose header line is not complete yet
//! (empty, blank, or a header without its line break), a file truncated or replaced while
//! it is followed (handled as `tail -F` does), and what a stop leaves unread.

use std::fs::File;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use super::{
    take_unterminated, trim_cr, Cursor, FileReader, FileSourceError, Item, ReadMode, Split,
    ROTATION_GRACE,
};
use crate::source::is_blank;

/// What opening a split found.
pub(super) enum Opened {
    /// Read from this cursor.
    Cursor(Cursor),
    /// A followed file whose header line is not complete yet: ask again later.
    Wait,
    /// A complete file holding no record and no usable header (empty, blank lines, or a
    /// header without its line break and nothing after it): nothing to read.
    Nothing,
}

/// How a followed file changed under its open handle.
pub(super) enum Change {
    /// The file is shorter than what was read of it (truncated in place).
    Truncated {
        /// Its size now.
        size: u64,
        /// Bytes read of it before.
        read: u64,
    },
    /// Another file is at its path (renamed or created there).
    Replaced,
}

/// Whether the file at `path` is no longer what `cur` reads: another file (device and
/// inode differ from the open handle's), or the same one cut shorter than what was read.
/// A path that does not exist at the moment is no change (a rotation may be under way).
pub(super) fn file_change(cur: &Cursor, path: &Path) -> Option<Change> {
    let now = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = cur.file.metadata().ok()?;
        if (now.dev(), now.ino()) != (open.dev(), open.ino()) {
            return Some(Change::Replaced);
        }
    }
    let read = cur.pos + cur.end as u64;
    (now.len() < read).then_some(Change::Truncated {
        size: now.len(),
        read,
    })
}

/// A CSV file's header: its first line that is not blank (blank lines hold no record,
/// before the header too; a byte-order mark at the file's start is no part of it).
pub(super) struct Preamble {
    /// The header line, without its line end (nor a byte-order mark).
    pub header: Vec<u8>,
    /// Whether the header line is complete (ends with a newline).
    pub complete: bool,
    /// Lines up to and including the header.
    pub lines: u64,
    /// Bytes up to and including the header's newline (the file's size when the header
    /// is not complete).
    pub bytes: u64,
}

pub(super) fn read_header(path: &Path) -> Result<Preamble, FileSourceError> {
    let io = |source| FileSourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::new(f);
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        let complete = line.last() == Some(&b'\n');
        if complete {
            line.pop();
        }
        if lines == 0 && line.starts_with(BOM) {
            line.drain(..BOM.len());
        }
        if n == 0 || !complete || !is_blank(&line) {
            return Ok(Preamble {
                header: trim_cr(&line).to_vec(),
                complete,
                lines: lines + 1,
                bytes: bytes + n as u64,
            });
        }
        lines += 1;
        bytes += n as u64;
    }
}

/// A UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl FileReader {
    /// Whether followed split `i`, whose file ends before its header line is complete, is
    /// complete all the same: in an `--exit-at-end` read (the input present is all there
    /// is), or once a newer file exists (looked for here) and, if the file ends in an
    /// unfinished header line, that line has had [`ROTATION_GRACE`] for its writer.
    pub(super) fn followed_header_done(
        &mut self,
        i: usize,
        p: &Preamble,
    ) -> Result<bool, FileSourceError> {
        if matches!(self.mode, ReadMode::Follow { exit_at_end: true }) {
            return Ok(true);
        }
        if i + 1 >= self.splits.len() {
            self.scan_due_or_force(false)?;
        }
        if i + 1 >= self.splits.len() {
            self.header_since = None;
            return Ok(false);
        }
        if is_blank(&p.header) {
            // Empty or blank: there is no unfinished line to wait for.
            return Ok(true);
        }
        let since = *self.header_since.get_or_insert_with(Instant::now);
        Ok(since.elapsed() >= ROTATION_GRACE)
    }

    /// Passes over split `i`, a complete file without a complete header line: nothing
    /// to read. A header without its line break and nothing after it is warned about
    /// when a newer file took its place in a live read (it may be a writer's mistake).
    pub(super) fn skip_headerless(&mut self, i: usize, p: &Preamble) {
        self.header_since = None;
        let split = &self.splits[i];
        let live = matches!(self.mode, ReadMode::Follow { exit_at_end: false });
        if split.end.is_some() || !live {
            return;
        }
        if !is_blank(&p.header) {
            tracing::warn!(
                "`{}` holds only an unfinished CSV header line `{}` (no line break after it) and a newer file appeared {}s ago: it is taken as complete, without records, and lines appended to it later are not read (hint: end the header line with a line break, and finish writing a file before starting the next)",
                split.path.display(),
                String::from_utf8_lossy(&p.header),
                ROTATION_GRACE.as_secs()
            );
        }
        // Appends after this are reported, as for any file left for a newer one.
        self.left.push((split.path.clone(), p.bytes, false));
    }

    /// Follows the file at the followed split's path afresh after `change`, from its
    /// start, as `tail -F` does, with a warning naming the file; returns the lines
    /// delivered (the old file's unfinished last line, when it was replaced).
    pub(super) fn follow_anew(
        &mut self,
        change: Change,
        on_item: &mut impl FnMut(Item<'_>),
    ) -> usize {
        let Some(mut cur) = self.cursor.take() else {
            return 0;
        };
        let path = self.splits[cur.split].path.clone();
        let mut delivered = 0;
        match change {
            Change::Replaced => {
                // The old file is complete: its last line is read as it is.
                delivered = take_unterminated(&mut cur, on_item);
                tracing::warn!(
                    "`{}` was replaced by another file (moved or created at its path); the old file was read to its end, and the new one is read from its start: its lines are numbered from 1 again",
                    path.display()
                );
            }
            Change::Truncated { size, read } => {
                let unfinished = match cur.end - cur.head {
                    0 => String::new(),
                    n => format!("; the unfinished line at its old end ({n} bytes) is dropped"),
                };
                tracing::warn!(
                    "`{}` was truncated to {size} bytes after {read} bytes of it were read: it is read again from its start, and its lines are numbered from 1 again; anything written to it between freshet's last read and the truncation was not read{unfinished} (hint: to replace a followed file, write the new one beside it and rename it onto the path)",
                    path.display()
                );
            }
        }
        // Its old checkpoints count the newlines of the old contents.
        self.newline_index.remove(&path);
        self.splits.push(Split {
            path,
            start: 0,
            end: None,
        });
        self.line_bases.push(Some(0));
        delivered
    }

    /// What a stop leaves unread: the followed file's unfinished last line (bytes after
    /// its last line break), which a live read waits for its writer to finish.
    pub fn unread_at_stop(&self) -> Option<String> {
        let cur = self.cursor.as_ref()?;
        let split = &self.splits[cur.split];
        let tail = &cur.buf[cur.head..cur.end];
        if split.end.is_some() || tail.is_empty() || memchr::memchr(b'\n', tail).is_some() {
            return None;
        }
        Some(format!(
            "`{}` ends in an unfinished line ({} bytes without a line break) that was not read: a live run reads a line once its line break is written (or, once a newer file exists, after {}s for its writer); backfill and `--exit-at-end` read it as it is",
            split.path.display(),
            tail.len(),
            ROTATION_GRACE.as_secs()
        ))
    }
}
