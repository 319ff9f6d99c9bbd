//! The files a job writes must not overlap: two file sinks writing one file (or one
//! sink's per-worker file, see `connectors::file::sink::worker_path`: `out/f.jsonl`
//! becomes `out/f.0.jsonl`, `out/f.1.jsonl`, ... with several workers, and a one-worker
//! run removes those of earlier runs) lose rows, and so does the dead-letter file written
//! over a sink's. Paths are compared after resolving them against the job's directory,
//! lexically (validation does no I/O): symlinks and case-insensitive file systems are not
//! seen through.

use std::path::{Path, PathBuf};

use crate::error::Diagnostic;

use super::super::JobSpec;
use super::{lexical, resolve, Cx};

/// The file written by worker `worker` of several for the sink path `path` (as
/// `connectors::file::sink::worker_path` names it).
fn worker_file(path: &Path, worker: usize) -> PathBuf {
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

/// Which worker's file of sink path `sink` the file `file` is, if any.
fn worker_of(file: &Path, sink: &Path) -> Option<usize> {
    if file.parent() != sink.parent() {
        return None;
    }
    let name = file.file_name()?.to_str()?;
    let stem = sink.file_stem()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    let index = match sink.extension() {
        Some(ext) => rest.strip_suffix(ext.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    let n = index.parse::<usize>().ok()?;
    (worker_file(sink, n) == file).then_some(n)
}

/// How the output `file` overlaps sink path `sink`: `""` for the same file, else which
/// worker's file of the sink it is (a run with more workers writes it, one with fewer
/// removes it as a leftover).
fn overlap(file: &Path, sink: &Path) -> Option<String> {
    if file == sink {
        return Some(String::new());
    }
    worker_of(file, sink).map(|n| {
        format!(" for worker {n} (a sink writes one file per worker when the job runs on several)")
    })
}

/// A file sink: its index, name and resolved path.
struct Out<'a> {
    index: usize,
    name: &'a str,
    path: PathBuf,
}

/// Where the dead-letter file comes from, for locating an error about it.
#[derive(Clone, Copy)]
enum DeadLetter {
    /// `dead_letter:` in the job.
    Given,
    /// Beside the first file sink's file (its index).
    BesideSink(usize),
    /// In the job's directory (no file sinks).
    InJobDir,
}

/// Checks the job's file paths; `dead_letter` is where dead letters go.
pub(super) fn check_paths(
    cx: &Cx,
    base: &Path,
    spec: &JobSpec,
    dead_letter: &Path,
    errors: &mut Vec<Diagnostic>,
) {
    let outs: Vec<Out> = spec
        .sinks
        .iter()
        .enumerate()
        .filter(|(_, s)| s.connector == "file")
        .filter_map(|(index, s)| {
            let path = resolve(base, s.path.as_deref()?);
            Some(Out {
                index,
                name: &s.name,
                path,
            })
        })
        .collect();
    let dead_letter = lexical(dead_letter);
    let origin = match (&spec.dead_letter, outs.first()) {
        (Some(_), _) => DeadLetter::Given,
        (None, Some(o)) => DeadLetter::BesideSink(o.index),
        (None, None) => DeadLetter::InJobDir,
    };

    for (k, b) in outs.iter().enumerate() {
        for a in &outs[..k] {
            let msg = match (overlap(&b.path, &a.path), overlap(&a.path, &b.path)) {
                (Some(how), _) if how.is_empty() => format!(
                    "sinks `{}` and `{}` write the same file `{}`",
                    a.name,
                    b.name,
                    b.path.display()
                ),
                (Some(how), _) => format!(
                    "sink `{}` writes `{}`, sink `{}`'s file{how}",
                    b.name,
                    b.path.display(),
                    a.name
                ),
                (None, Some(how)) => format!(
                    "sink `{}`'s file{how} is `{}`, which sink `{}` writes",
                    b.name,
                    a.path.display(),
                    a.name
                ),
                (None, None) => continue,
            };
            {
                errors.push(
                    cx.item("sinks", b.index)
                        .err_at_value("path", msg)
                        .with_hint("give each file sink a path of its own: rows of one would replace or interleave with the other's"),
                );
            }
        }
    }
    for o in &outs {
        if let Some(how) = overlap(&dead_letter, &o.path) {
            let msg = format!(
                "the dead-letter file `{}` is sink `{}`'s file{how}",
                dead_letter.display(),
                o.name
            );
            errors.push(dead_letter_error(cx, origin, Some(o.index), msg));
        }
    }
}

/// An error about the dead-letter file: at `dead_letter:` when given, else at the path of
/// the sink it is beside (or `sink`'s), with a hint to give it a path of its own.
fn dead_letter_error(cx: &Cx, origin: DeadLetter, sink: Option<usize>, msg: String) -> Diagnostic {
    let d = match (origin, sink) {
        (DeadLetter::Given, _) => cx.err_at_value("dead_letter", msg),
        (_, Some(i)) | (DeadLetter::BesideSink(i), None) => {
            cx.item("sinks", i).err_at_value("path", msg)
        }
        (DeadLetter::InJobDir, None) => cx.err_at(None, msg),
    };
    d.with_hint("set `dead_letter:` to a file no sink writes (by default it is `dead_letter.jsonl` beside the first file sink's file)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_files_are_named_as_the_file_sink_names_them() {
        let p = Path::new("/o/f.jsonl");
        assert_eq!(worker_file(p, 3), Path::new("/o/f.3.jsonl"));
        assert_eq!(worker_of(Path::new("/o/f.3.jsonl"), p), Some(3));
        assert_eq!(worker_of(Path::new("/o/f.x.jsonl"), p), None);
        assert_eq!(worker_of(Path::new("/p/f.3.jsonl"), p), None);
        assert_eq!(worker_of(Path::new("/o/f.jsonl"), p), None);
        assert_eq!(worker_of(Path::new("/o/f.03.jsonl"), p), None);
        let bare = Path::new("/o/f");
        assert_eq!(worker_of(Path::new("/o/f.12"), bare), Some(12));
        assert_eq!(worker_of(Path::new("/o/f.1.jsonl"), bare), None);
    }
}
