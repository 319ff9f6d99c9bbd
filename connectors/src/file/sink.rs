//! The JSON-lines file sink. With several workers each writes its own file beside the
//! configured path: `out/features.jsonl` becomes `out/features.0.jsonl`, `out/features.1.jsonl`, ...

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::direct::{align_start, DirectWriter, BLOCK};

/// Path written by worker `worker` of `peers` for a configured sink path.
pub fn worker_path(path: &Path, worker: usize, peers: usize) -> PathBuf {
    if peers == 1 {
        return path.to_path_buf();
    }
    planner::job::worker_file(path, worker)
}

/// Removes a file, if it exists, without waiting for the kernel to drop its cached pages:
/// a regular file is unlinked while held open, and closed on a thread of its own.
/// Truncating or removing the previous output of a large run (gigabytes, partly not yet
/// written back) otherwise stalls the new run for up to a second. If the process ends
/// first, the kernel frees the file as usual. Anything else (a symlink) is just removed.
pub fn remove_in_background(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let held = if meta.is_file() {
        File::open(path).ok()
    } else {
        None
    };
    std::fs::remove_file(path)?;
    if let Some(held) = held {
        // Dropping pages only; if no thread can be started, the drop happens here.
        let _ = std::thread::Builder::new()
            .name("freshet:unlink".into())
            .spawn(move || drop(held));
    }
    Ok(())
}

/// Makes ready to create the output file `path`: its directory exists, and the previous
/// run's output is unlinked, not truncated in place, its last reference closed on another
/// thread (see [`remove_in_background`]). A symlink is followed (its target truncated by
/// the `File::create` that comes next).
pub fn prepare_output(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        remove_in_background(path)?;
    }
    Ok(())
}

/// Removes output files of earlier runs that this run (with `peers` workers) will not
/// overwrite, so a directory never mixes two runs' results.
pub fn remove_stale_outputs(path: &Path, peers: usize) -> std::io::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    if peers > 1 {
        remove_in_background(path)?;
    }
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return Ok(());
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!("{stem}.")) else {
            continue;
        };
        let index = match &ext {
            Some(e) => rest.strip_suffix(&format!(".{e}")),
            None => Some(rest),
        };
        if let Some(Ok(i)) = index.map(str::parse::<usize>) {
            // Only the name this run's worker `i` would write (`f.1.jsonl`, not
            // `f.01.jsonl`, which may be another sink's file).
            let own = planner::job::worker_file(path, i);
            if (peers == 1 || i >= peers) && own.file_name() == Some(entry.file_name().as_os_str())
            {
                remove_in_background(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Bytes handed to the writer thread at a time.
const CHUNK: usize = 1 << 20;
/// Chunks queued for the writer thread before `commit` waits for it (back-pressure).
const QUEUED: usize = 32;

/// A line writer whose `write` system calls run on a thread of their own, so encoding the
/// next rows overlaps copying the last ones into the kernel (for a HOP feature that is
/// gigabytes; the copy and the page-cache bookkeeping were a fifth of a one-worker run).
///
/// Lines are appended to [`FileSink::buffer`]; every [`CHUNK`] bytes the buffer goes to the
/// writer and an emptied one comes back, so steady state allocates nothing. At most
/// [`QUEUED`] chunks wait, so memory stays bounded when the disk is slower than the rows.
/// A write error is returned by the next call, and by [`FileSink::finish`], which waits
/// for every byte to be written; nothing is dropped silently.
pub struct FileSink {
    path: PathBuf,
    writes: Writes,
    buf: Vec<u8>,
    /// Bytes at the start of `buf` that are not lines: a direct sink's lines start at an
    /// aligned address, so the writer hands whole blocks to the device without a copy.
    pad: usize,
    /// Full chunks to the writer, with their `pad` (None once finished).
    chunks: Option<SyncSender<(Vec<u8>, usize)>>,
    /// Emptied chunks back from the writer, for reuse.
    spare: Receiver<Vec<u8>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's first error; it writes nothing after one.
    error: Arc<Mutex<Option<std::io::Error>>>,
}

/// How a [`FileSink`] writes its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// The file is read after the run (a backfill's): lines reach it in whole chunks, and
    /// all of them by [`FileSink::finish`]; a flush does not make them visible sooner
    /// (shipping every small flush would only fill the writer's queue, which holds
    /// `QUEUED` chunks, not bytes, with small chunks). Otherwise each flushed line is in
    /// the file at once.
    pub batch: bool,
    /// With `batch`: around the page cache (`O_DIRECT`, see [`DirectWriter`]) where the
    /// file system allows it.
    pub direct: bool,
}

impl FileSink {
    /// Creates (truncates) the file, creating parent directories, and starts its writer,
    /// which writes through the page cache: each flushed line is in the file at once.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::create_with(path, Writes::default())
    }

    /// [`FileSink::create`], writing as `writes` says.
    pub fn create_with(path: &Path, writes: Writes) -> std::io::Result<Self> {
        let direct = writes.batch && writes.direct;
        let writes = Writes { direct, ..writes };
        prepare_output(path)?;
        let mut file = DirectWriter::create(path, direct)?;
        let (chunks, queue) = sync_channel::<(Vec<u8>, usize)>(QUEUED);
        let (give_back, spare) = channel();
        let error = Arc::new(Mutex::new(None));
        let writer_error = Arc::clone(&error);
        let writer = std::thread::Builder::new()
            .name("freshet:file-sink".into())
            .spawn(move || {
                // After the first error nothing more is written; the error is kept.
                let failed = || writer_error.lock().map(|e| e.is_some()).unwrap_or(true);
                let keep = |result: std::io::Result<()>| {
                    if let (Err(e), Ok(mut slot)) = (result, writer_error.lock()) {
                        *slot = Some(e);
                    }
                };
                for (mut chunk, pad) in queue {
                    if !failed() {
                        keep(file.write_all(&chunk[pad..]));
                    }
                    chunk.clear();
                    // The sink may be gone already; the chunk is then simply freed.
                    let _ = give_back.send(chunk);
                }
                if !failed() {
                    keep(file.finish());
                }
            })?;
        let mut buf = Vec::with_capacity(CHUNK + (CHUNK >> 4));
        let pad = if direct { align_start(&mut buf) } else { 0 };
        Ok(FileSink {
            path: path.to_path_buf(),
            writes,
            buf,
            pad,
            chunks: Some(chunks),
            spare,
            writer: Some(writer),
            error,
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The buffer to append complete lines to; call [`FileSink::commit`] after appending.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Hands the buffer to the writer once it holds a chunk's worth.
    #[inline]
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.ship(false)?;
        }
        Ok(())
    }

    /// Writes bytes (one or more complete lines).
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.commit()
    }

    /// Hands everything buffered to the writer, which writes it to the file at once; does
    /// not wait for it (see [`FileSink::finish`]). A batch sink ships whole chunks only.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending() || (self.writes.batch && self.chunks.is_some()) {
            return self.check();
        }
        self.ship(false)
    }

    /// Writes everything buffered and waits until the writer has written it all: the file
    /// is complete when this returns `Ok`.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if self.pending() {
            self.ship(true)?;
        }
        self.chunks = None;
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                return Err(std::io::Error::other("the file writer thread panicked"));
            }
        }
        self.check()
    }

    /// Whether lines are buffered.
    fn pending(&self) -> bool {
        self.buf.len() > self.pad
    }

    /// Hands the buffer to the writer. A direct sink keeps the bytes after its last whole
    /// block for the next chunk, unless this is the `last` one.
    fn ship(&mut self, last: bool) -> std::io::Result<()> {
        self.check()?;
        let Some(chunks) = &self.chunks else {
            return Err(std::io::Error::other("file sink written after finish"));
        };
        let mut next = match self.spare.try_recv() {
            Ok(spare) => spare,
            Err(_) => Vec::with_capacity(self.buf.capacity()),
        };
        let mut next_pad = 0;
        if self.writes.direct {
            next_pad = align_start(&mut next);
            if !last {
                let cut = self.pad + (self.buf.len() - self.pad) / BLOCK * BLOCK;
                next.extend_from_slice(&self.buf[cut..]);
                self.buf.truncate(cut);
            }
        }
        let full = std::mem::replace(&mut self.buf, next);
        let pad = std::mem::replace(&mut self.pad, next_pad);
        if chunks.send((full, pad)).is_err() {
            self.check()?;
            return Err(std::io::Error::other("the file writer thread stopped"));
        }
        Ok(())
    }

    /// The writer's error, if it had one (returned once; later calls see it as stopped).
    fn check(&self) -> std::io::Result<()> {
        match self.error.lock() {
            Ok(mut slot) => match slot.take() {
                Some(e) => {
                    *slot = Some(std::io::Error::new(e.kind(), e.to_string()));
                    Err(e)
                }
                None => Ok(()),
            },
            Err(_) => Err(std::io::Error::other("the file writer thread panicked")),
        }
    }
}

impl Drop for FileSink {
    /// Writes what is buffered and waits for the writer; an error here can only be
    /// logged, so sinks call [`FileSink::finish`] themselves when their input ends.
    fn drop(&mut self) {
        if self.writer.is_some() {
            if let Err(e) = self.finish() {
                tracing::error!(path = %self.path.display(), "file sink: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_paths_sit_beside_the_configured_path() {
        assert_eq!(
            worker_path(Path::new("out/f.jsonl"), 0, 1),
            PathBuf::from("out/f.jsonl")
        );
        assert_eq!(
            worker_path(Path::new("out/f.jsonl"), 3, 4),
            PathBuf::from("out/f.3.jsonl")
        );
    }

    /// Stale outputs are the files another worker count wrote under this sink's names,
    /// and only those: `f.01.jsonl` (a name no worker writes, perhaps another sink's) is
    /// kept (found by review: removal now runs while other sinks may be writing).
    #[test]
    fn stale_outputs_are_only_other_worker_counts_files() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "f.jsonl",
            "f.0.jsonl",
            "f.1.jsonl",
            "f.2.jsonl",
            "f.01.jsonl",
            "g.1.jsonl",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        remove_stale_outputs(&dir.path().join("f.jsonl"), 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["f.0.jsonl", "f.01.jsonl", "f.1.jsonl", "g.1.jsonl"]);
        remove_stale_outputs(&dir.path().join("f.jsonl"), 1).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["f.01.jsonl", "g.1.jsonl"]);
    }

    /// The ways of creating a sink: live, batch through the page cache, batch around it.
    const CREATE: [fn(&Path) -> std::io::Result<FileSink>; 3] = [
        FileSink::create,
        |p| {
            FileSink::create_with(
                p,
                Writes {
                    batch: true,
                    direct: false,
                },
            )
        },
        |p| {
            FileSink::create_with(
                p,
                Writes {
                    batch: true,
                    direct: true,
                },
            )
        },
    ];

    /// Numbered lines of varying length, enough for several chunks.
    fn lines() -> Vec<String> {
        (0..60_000)
            .map(|i| format!("{{\"line\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)))
            .collect()
    }

    #[test]
    fn every_line_reaches_the_file_in_order_once_finished() {
        for create in CREATE {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("sub/f.jsonl");
            let lines = lines();
            let mut sink = create(&p).unwrap();
            for (i, line) in lines.iter().enumerate() {
                // Both ways in: copied in, and appended to the buffer in place.
                if i % 2 == 0 {
                    sink.write(line.as_bytes()).unwrap();
                } else {
                    sink.buffer().extend_from_slice(line.as_bytes());
                    sink.commit().unwrap();
                }
                if i % 10_000 == 0 {
                    sink.flush().unwrap();
                }
            }
            sink.finish().unwrap();
            let written = std::fs::read_to_string(&p).unwrap();
            assert!(
                written.len() > 3 * CHUNK,
                "several chunks: {}",
                written.len()
            );
            assert_eq!(written, lines.concat());
            assert!(sink.write(b"late\n").and_then(|_| sink.flush()).is_err());
        }
    }

    #[test]
    fn dropping_the_sink_writes_what_it_buffered() {
        for create in CREATE {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("f.jsonl");
            let lines = lines();
            {
                let mut sink = create(&p).unwrap();
                for line in &lines {
                    sink.write(line.as_bytes()).unwrap();
                }
            }
            assert_eq!(std::fs::read_to_string(&p).unwrap(), lines.concat());
        }
    }

    #[test]
    fn a_write_error_is_returned_not_dropped() {
        // /dev/full fails every write with "no space left on device".
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        for create in CREATE {
            let mut sink = create(full).unwrap();
            let line = "y".repeat(1000) + "\n";
            let mut first_error = None;
            for _ in 0..(8 * CHUNK / line.len()) {
                if let Err(e) = sink.write(line.as_bytes()) {
                    first_error = Some(e);
                    break;
                }
            }
            // Returned by a later write once the writer has failed, or else by finish.
            let e = first_error.unwrap_or_else(|| sink.finish().unwrap_err());
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
            // And it stays failed.
            assert!(sink.finish().is_err());
        }
    }

    #[test]
    fn a_new_sink_replaces_the_previous_output_but_follows_a_symlink() {
        for create in CREATE {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("f.jsonl");
            std::fs::write(&p, "old line\n".repeat(1000)).unwrap();
            let mut sink = create(&p).unwrap();
            sink.write(b"new\n").unwrap();
            sink.finish().unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
            // Through a symlink: the target is rewritten, the link stays.
            let target = dir.path().join("target.jsonl");
            std::fs::write(&target, "old\n").unwrap();
            let link = dir.path().join("link.jsonl");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let mut sink = create(&link).unwrap();
            sink.write(b"via link\n").unwrap();
            sink.finish().unwrap();
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "via link\n");
        }
    }

    #[test]
    fn stale_outputs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        for name in [
            "f.jsonl",
            "f.0.jsonl",
            "f.1.jsonl",
            "f.2.jsonl",
            "g.0.jsonl",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("g.0.jsonl"), dir.path().join("f.5.jsonl"))
            .unwrap();
        remove_stale_outputs(&p, 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["f.0.jsonl", "f.1.jsonl", "g.0.jsonl"]);
    }
}
