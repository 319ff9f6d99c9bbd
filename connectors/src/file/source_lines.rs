//! Line numbers of a file reader's lines: a split's first line number comes from the split
//! before it in the same file (read by this reader), from the counts the process's other
//! readers published, or, failing both, from counting newlines (once, from the nearest
//! checkpoint).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{FileReader, LineId, CHUNK};

impl FileReader {
    /// Closes the split being read (`at_line_start`: the cursor stopped at the first line
    /// past the split). When the next split continues it in the same file, its first line
    /// number follows from this one's: resolving a line there then needs no pass over the
    /// file (with one worker, dead letters had re-read the whole input). Otherwise the
    /// split's end becomes a checkpoint, so a later pass starts there, not further back.
    pub(super) fn finish_split(&mut self, at_line_start: bool) {
        let Some(cur) = self.cursor.take() else {
            return;
        };
        let i = cur.split;
        let split = &self.splits[i];
        if let (Some(shared), Some(end)) = (&self.shared, split.end) {
            shared.publish(&split.path, split.start, end, cur.line);
        }
        let known = self.line_bases[i].or_else(|| {
            let shared = self.shared.as_ref()?;
            shared.lines_before(&split.path, split.start)
        });
        let Some(base) = known else {
            return;
        };
        self.line_bases[i] = Some(base);
        match self.splits.get(i + 1) {
            Some(next) if next.path == split.path && split.end == Some(next.start) => {
                self.line_bases[i + 1].get_or_insert(base + cur.line);
            }
            _ if at_line_start => {
                // Every line of the split ended with a newline before `offset`.
                let offset = cur.pos + cur.head as u64;
                let checkpoints = self
                    .newline_index
                    .entry(split.path.clone())
                    .or_insert_with(|| vec![(0, 0)]);
                let at = checkpoints.partition_point(|(o, _)| *o < offset);
                if checkpoints.get(at).is_none_or(|(o, _)| *o != offset) {
                    checkpoints.insert(at, (offset, base + cur.line));
                }
            }
            _ => {}
        }
    }

    /// The file and 1-based line number of a delivered line, if they are known without
    /// reading: the lines before its split were counted by this reader or published by
    /// the others. `None`: ask again once more splits are finished, or call `resolve`.
    pub fn try_resolve(&mut self, id: LineId) -> Option<(PathBuf, u64)> {
        let i = id.split as usize;
        let split = &self.splits[i];
        if self.line_bases[i].is_none() {
            let base = match split.start {
                0 => 0,
                start => self.shared.as_ref()?.lines_before(&split.path, start)?,
            };
            self.line_bases[i] = Some(base);
        }
        Some(self.resolve(id))
    }

    /// The file and 1-based line number of a delivered line (counting newlines in the file
    /// up to its split if that is not known yet).
    pub fn resolve(&mut self, id: LineId) -> (PathBuf, u64) {
        let i = id.split as usize;
        let split = &self.splits[i];
        let path = split.path.clone();
        let start = split.start;
        let base = match self.line_bases[i] {
            Some(b) => b,
            None => {
                // Lines before the split's first line: every newline before `start - 1`, plus
                // the line containing byte `start - 1` (complete, or skipped as partial).
                let shared = self.shared.as_ref();
                let b = if start == 0 {
                    0
                } else if let Some(b) = shared.and_then(|c| c.lines_before(&path, start)) {
                    b
                } else {
                    self.newlines_before(&path, start - 1).unwrap_or(0) + 1
                };
                self.line_bases[i] = Some(b);
                b
            }
        };
        (path, base + id.line + 1)
    }

    /// Number of `\n` bytes in `[0, offset)` of a file, counted from the nearest checkpoint.
    fn newlines_before(&mut self, path: &Path, offset: u64) -> std::io::Result<u64> {
        self.newline_passes += 1;
        let checkpoints = self
            .newline_index
            .entry(path.to_path_buf())
            .or_insert_with(|| vec![(0, 0)]);
        let i = checkpoints.partition_point(|(o, _)| *o <= offset) - 1;
        let (from, mut count) = checkpoints[i];
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(from))?;
        let mut remaining = offset - from;
        let mut buf = vec![0u8; CHUNK];
        while remaining > 0 {
            let want = remaining.min(buf.len() as u64) as usize;
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            remaining -= n as u64;
        }
        checkpoints.insert(i + 1, (offset, count));
        Ok(count)
    }
}
