//! Writing a file around the page cache (`O_DIRECT`): a file sink's `direct_io: true`, for
//! backfill outputs of gigabytes.
//!
//! A buffered `write` copies every byte into page-cache pages, which the kernel writes back
//! later. On the benchmark VM that copy cost 0.8-1.0 s of system time for HOP's 1.9 GB when
//! memory was warm, and up to 4.5 s right after boot or after large files were deleted
//! (`copy_folio_from_iter_atomic`: the host faults fresh guest pages in). With `O_DIRECT`
//! the device reads the bytes from the sink's own buffers, with the CPU idle; the run then
//! ends once the bytes are on the device (its metadata not yet synced), so it waits on the
//! disk (1.1-1.5 GB/s here), which made two workers slower: hence an option, off by
//! default (`benches/README.md`, session 8).
//!
//! Direct writes need the buffer address, the length and the file offset aligned to the
//! device's logical block. Whole blocks at an aligned address are written from where they
//! are (`FileSink` hands over such chunks, see [`align_start`]); anything else is staged
//! in an aligned buffer and written in whole [`STAGE`]-sized pieces. The last, partial
//! piece is padded to a block and the file cut back to its length. File systems without
//! `O_DIRECT` refuse it when the file is opened or first written; the writer then writes
//! through the page cache as usual.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Alignment of direct writes' memory, lengths and offsets: 4 KiB covers 512-byte and
/// 4 KiB logical blocks.
pub const BLOCK: usize = 4096;
/// Bytes written per direct write (a multiple of [`BLOCK`]).
const STAGE: usize = 4 << 20;

/// How a [`DirectWriter`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Around the page cache, in aligned pieces.
    Direct,
    /// Through the page cache (the file system refused `O_DIRECT`, or it was not asked for).
    Buffered,
}

/// A sequential file writer that uses `O_DIRECT` where the file system allows it.
pub struct DirectWriter {
    path: PathBuf,
    file: File,
    mode: WriteMode,
    /// Backing memory of the staging buffer; `stage[offset..offset + STAGE]` is aligned.
    stage: Vec<u8>,
    offset: usize,
    /// Bytes staged, not yet written.
    staged: usize,
    /// Bytes written to the file so far.
    written: u64,
}

impl DirectWriter {
    /// Creates (truncates) `path`; `direct` asks for `O_DIRECT`.
    pub fn create(path: &Path, direct: bool) -> std::io::Result<DirectWriter> {
        let mut file = None;
        if direct {
            match open(path, true) {
                Ok(f) => file = Some((f, WriteMode::Direct)),
                Err(e) if refused(&e) => {}
                Err(e) => return Err(e),
            }
        }
        let (file, mode) = match file {
            Some(f) => f,
            None => (open(path, false)?, WriteMode::Buffered),
        };
        // Only direct writes stage bytes.
        let stage = match mode {
            WriteMode::Direct => vec![0u8; STAGE + BLOCK],
            WriteMode::Buffered => Vec::new(),
        };
        let offset = stage.as_ptr().align_offset(BLOCK);
        Ok(DirectWriter {
            path: path.to_path_buf(),
            file,
            mode,
            stage,
            offset,
            staged: 0,
            written: 0,
        })
    }

    /// How the writer writes now.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Writes all of `bytes` (staged until a whole piece is full).
    pub fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        if self.mode == WriteMode::Buffered {
            self.written += bytes.len() as u64;
            return self.file.write_all(bytes);
        }
        // Whole blocks at an aligned address go to the device from where they are,
        // without a copy.
        let whole = bytes.len() / BLOCK * BLOCK;
        let aligned = whole > 0 && bytes.as_ptr().align_offset(BLOCK) == 0;
        if aligned && self.staged > 0 && self.staged.is_multiple_of(BLOCK) {
            // Whole blocks staged (after a chunk that was not aligned): out first.
            self.write_stage(self.staged)?;
            if self.mode == WriteMode::Buffered {
                return self.write_all(bytes);
            }
        }
        if aligned && self.staged == 0 {
            let (blocks, rest) = bytes.split_at(whole);
            match self.file.write_all(blocks) {
                Ok(()) => self.written += whole as u64,
                Err(e) if refused(&e) && self.written == 0 => {
                    self.fall_back(blocks)?;
                    return self.write_all(rest);
                }
                Err(e) => return Err(e),
            }
            bytes = rest;
        }
        while !bytes.is_empty() {
            let n = bytes.len().min(STAGE - self.staged);
            let at = self.offset + self.staged;
            self.stage[at..at + n].copy_from_slice(&bytes[..n]);
            self.staged += n;
            bytes = &bytes[n..];
            if self.staged == STAGE {
                self.write_stage(STAGE)?;
                if self.mode == WriteMode::Buffered {
                    return self.write_all(bytes);
                }
            }
        }
        Ok(())
    }

    /// Writes what is staged and sets the file's length: the file is complete.
    pub fn finish(mut self) -> std::io::Result<()> {
        if self.mode == WriteMode::Buffered || self.staged == 0 {
            return self.file.flush();
        }
        // The last piece, padded with zeros to a whole block, then cut back.
        let len = self.staged;
        let padded = len.div_ceil(BLOCK) * BLOCK;
        let at = self.offset + len;
        self.stage[at..self.offset + padded].fill(0);
        let end = self.written + len as u64;
        self.write_stage(padded)?;
        self.file.set_len(end)
    }

    /// Writes `stage[..len]` (a multiple of [`BLOCK`]) at the end of the file; if the file
    /// system refuses the direct write, switches to buffered writes for it and the rest.
    fn write_stage(&mut self, len: usize) -> std::io::Result<()> {
        let piece = &self.stage[self.offset..self.offset + len];
        match self.file.write_all(piece) {
            Ok(()) => {
                self.written += len as u64;
                self.staged = 0;
                Ok(())
            }
            Err(e) if refused(&e) && self.written == 0 => self.fall_back(&[]),
            Err(e) => Err(e),
        }
    }

    /// The file system refused the first direct write: reopens the file through the page
    /// cache and writes the staged bytes (not the padding: `finish` cuts nothing then) and
    /// `pending` there. Later writes are buffered.
    fn fall_back(&mut self, pending: &[u8]) -> std::io::Result<()> {
        let mut file = open(&self.path, false)?;
        file.seek(SeekFrom::Start(0))?;
        let staged = &self.stage[self.offset..self.offset + self.staged];
        file.write_all(staged)?;
        file.write_all(pending)?;
        self.written = (staged.len() + pending.len()) as u64;
        self.file = file;
        self.mode = WriteMode::Buffered;
        self.staged = 0;
        Ok(())
    }
}

/// Makes the empty `buf` start with the zero bytes that put its next byte at an aligned
/// address, with room for at least a block after them; returns their number. Whole blocks
/// appended after them can be written without a copy, as long as `buf` is not regrown.
pub fn align_start(buf: &mut Vec<u8>) -> usize {
    debug_assert!(buf.is_empty());
    buf.reserve(2 * BLOCK);
    let pad = buf.as_ptr().align_offset(BLOCK);
    buf.resize(pad, 0);
    pad
}

/// Opens `path` for writing from its start, truncated, with `O_DIRECT` if `direct`.
fn open(path: &Path, direct: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    if direct {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_DIRECT);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = direct;
    options.open(path)
}

/// The file system does not do direct writes (`EINVAL`).
fn refused(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::InvalidInput || e.raw_os_error() == Some(22)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that show any misplaced or lost piece: each position's value depends on it.
    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 4096) as u8).collect()
    }

    /// Writes `total` bytes in pieces of the given sizes (cycled) and reads them back.
    fn round_trip(dir: &Path, total: usize, pieces: &[usize], direct: bool) -> WriteMode {
        let path = dir.join(format!("out-{total}-{}.bin", pieces.len()));
        std::fs::write(&path, vec![b'x'; total + 3 * STAGE]).unwrap();
        let data = bytes(total);
        let mut w = DirectWriter::create(&path, direct).unwrap();
        let mode = w.mode();
        let mut at = 0;
        for &p in pieces.iter().cycle() {
            if at == total {
                break;
            }
            let n = p.min(total - at);
            w.write_all(&data[at..at + n]).unwrap();
            at += n;
        }
        w.finish().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len(), total, "file length after finish");
        assert!(
            back == data,
            "bytes differ ({total} bytes, pieces {pieces:?})"
        );
        mode
    }

    #[test]
    fn bytes_come_back_as_written_whatever_the_piece_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for direct in [true, false] {
            for total in [
                0,
                1,
                BLOCK - 1,
                BLOCK,
                BLOCK + 1,
                STAGE,
                STAGE + 1,
                3 * STAGE + 777,
            ] {
                for pieces in [&[1usize << 30][..], &[1, 4095, 4097], &[STAGE], &[100_003]] {
                    round_trip(dir.path(), total, pieces, direct);
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_direct_write_falls_back_to_buffered_writes() {
        // The kernel refuses a direct write from a misaligned buffer (EINVAL), as file
        // systems without O_DIRECT do (tmpfs before Linux 6.6 refused it at open).
        let dir = tempfile::tempdir().unwrap();
        if !takes_direct_writes(dir.path()) {
            return;
        }
        let path = dir.path().join("f");
        let data = bytes(3 * STAGE + 99);
        let mut w = DirectWriter::create(&path, true).unwrap();
        assert_eq!(w.mode(), WriteMode::Direct);
        w.offset += 1;
        w.write_all(&data[..STAGE + 5]).unwrap();
        assert_eq!(w.mode(), WriteMode::Buffered);
        w.write_all(&data[STAGE + 5..]).unwrap();
        w.finish().unwrap();
        assert!(std::fs::read(&path).unwrap() == data);
    }

    #[test]
    fn aligned_whole_blocks_are_written_without_staging_and_mixed_pieces_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = bytes(40 * BLOCK + 321);
        let mut w = DirectWriter::create(&path, true).unwrap();
        let direct = w.mode() == WriteMode::Direct;
        // (length, from an aligned buffer): aligned whole blocks, a misaligned piece, whole
        // blocks again (after staged whole blocks, and after a partial stage), the rest.
        let pieces = [
            (3 * BLOCK, true),
            (BLOCK, false),
            (2 * BLOCK, true),
            (100, true),
            (5 * BLOCK, true),
        ];
        let mut at = 0;
        for (len, aligned) in pieces {
            let mut buf = Vec::new();
            let pad = if aligned { align_start(&mut buf) } else { 1 };
            buf.resize(pad, 0);
            buf.extend_from_slice(&data[at..at + len]);
            let piece = &buf[pad..];
            let whole = aligned && len.is_multiple_of(BLOCK) && w.staged.is_multiple_of(BLOCK);
            w.write_all(piece).unwrap();
            if direct && whole {
                assert_eq!(w.staged, 0, "whole aligned blocks are not staged");
            }
            at += len;
        }
        w.write_all(&data[at..]).unwrap();
        w.finish().unwrap();
        assert!(std::fs::read(&path).unwrap() == data);
    }

    /// Whether `dir`'s file system takes an aligned direct write (asked independently of
    /// the writer).
    #[cfg(target_os = "linux")]
    fn takes_direct_writes(dir: &Path) -> bool {
        use std::os::unix::fs::OpenOptionsExt;
        let probe = dir.join("probe");
        let Ok(mut f) = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&probe)
        else {
            return false;
        };
        let block = vec![7u8; 2 * BLOCK];
        let at = block.as_ptr().align_offset(BLOCK);
        f.write_all(&block[at..at + BLOCK]).is_ok()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn writes_are_direct_exactly_where_the_file_system_takes_them() {
        // The temporary directory (ext4 here) and tmpfs (direct since Linux 6.6), where
        // there is one.
        let mut dirs = vec![tempfile::tempdir().unwrap()];
        dirs.extend(tempfile::tempdir_in("/dev/shm"));
        for dir in &dirs {
            let expected = if takes_direct_writes(dir.path()) {
                WriteMode::Direct
            } else {
                WriteMode::Buffered
            };
            let mode = round_trip(dir.path(), 2 * STAGE + 12_345, &[70_000], true);
            assert_eq!(mode, expected, "in {}", dir.path().display());
            assert_eq!(round_trip(dir.path(), 5, &[1], false), WriteMode::Buffered);
        }
    }
}
