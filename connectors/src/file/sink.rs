//! The JSON-lines file sink. With several workers each writes its own file beside the
//! configured path: `out/features.jsonl` becomes `out/features.0.jsonl`, `out/features.1.jsonl`, ...

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Path written by worker `worker` of `peers` for a configured sink path.
pub fn worker_path(path: &Path, worker: usize, peers: usize) -> PathBuf {
    if peers == 1 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{worker}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{worker}"),
    };
    path.with_file_name(name)
}

/// Removes output files of earlier runs that this run (with `peers` workers) will not
/// overwrite, so a directory never mixes two runs' results.
pub fn remove_stale_outputs(path: &Path, peers: usize) -> std::io::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    if peers > 1 && path.exists() {
        std::fs::remove_file(path)?;
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
            if peers == 1 || i >= peers {
                std::fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

/// A buffered line writer.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl FileSink {
    /// Creates (truncates) the file, creating parent directories.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let file = File::create(path)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes bytes (one or more complete lines).
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Flushes buffered lines to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
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
        remove_stale_outputs(&p, 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["f.0.jsonl", "f.1.jsonl", "g.0.jsonl"]);
    }
}
