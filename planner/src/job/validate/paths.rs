//! The files a job writes must not overlap each other or what it reads: two file sinks
//! writing one file (or one sink's per-worker file, see `connectors::file::sink::
//! worker_path`: `out/f.jsonl` becomes `out/f.0.jsonl`, `out/f.1.jsonl`, ... with several
//! workers, and a one-worker run removes those of earlier runs) lose rows; a sink or the
//! dead-letter file inside a file source's glob overwrites its input or reads its own
//! output. Paths are compared after resolving them against the job's directory,
//! lexically (validation does no I/O): symlinks and case-insensitive file systems are not
//! seen through.

use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

use crate::error::Diagnostic;

use super::super::locate::Seg;
use super::super::JobSpec;
use super::{lexical, resolve, source_glob, Cx};

/// Worker files checked against a source's glob: those of runs with up to this many
/// workers.
const MAX_WORKERS: usize = 1024;

/// What `glob::glob` matches: `*` and `?` stay within a path component.
const GLOB: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

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
    (crate::job::worker_file(sink, n) == file).then_some(n)
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
    // The job file itself: a sink or the dead letters would replace it with rows.
    let job = lexical(cx.path);
    for o in &outs {
        if let Some(how) = overlap(&job, &o.path) {
            errors.push(
                cx.item("sinks", o.index)
                    .err_at_value(
                        "path",
                        format!(
                            "sink `{}` would overwrite the job file `{}`{how}",
                            o.name,
                            cx.path.display()
                        ),
                    )
                    .with_hint(
                        "write features to a file of their own, e.g. `path: out/features.jsonl`",
                    ),
            );
        }
    }
    if overlap(&job, &dead_letter).is_some() {
        let msg = format!(
            "the dead-letter file `{}` is the job file",
            dead_letter.display()
        );
        errors.push(dead_letter_error(cx, origin, None, msg));
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
    check_globs(cx, base, spec, &outs, &dead_letter, origin, errors);
}

/// No output is inside a file source's glob.
fn check_globs(
    cx: &Cx,
    base: &Path,
    spec: &JobSpec,
    outs: &[Out],
    dead_letter: &Path,
    origin: DeadLetter,
    errors: &mut Vec<Diagnostic>,
) {
    for (i, s) in spec.sources.iter().enumerate() {
        let Some(p) = s.path.as_deref().filter(|_| s.connector == "file") else {
            continue;
        };
        let glob = source_glob(base, p);
        let Ok(pattern) = Pattern::new(&glob.to_string_lossy()) else {
            continue; // A bad glob is reported by the source's own checks.
        };
        let source_cx = cx.item("sources", i);
        let at = source_cx
            .find(&[Seg::Key("path")])
            .map(|f| format!(" (line {})", f.value.0))
            .unwrap_or_default();
        let reads = format!("source `{}` reads `{p}`{at}", s.name);
        for o in outs {
            let file = std::iter::once(o.path.clone())
                .chain((0..MAX_WORKERS).map(|n| crate::job::worker_file(&o.path, n)))
                .find(|f| pattern.matches_path_with(f, GLOB));
            if let Some(file) = file {
                let whose = if file == o.path {
                    String::new()
                } else {
                    " (its file for one of several workers)".to_string()
                };
                errors.push(
                    cx.item("sinks", o.index)
                        .err_at_value(
                            "path",
                            format!(
                                "sink `{}` writes `{}`{whose}, inside the glob of source `{}`",
                                o.name,
                                file.display(),
                                s.name
                            ),
                        )
                        .with_hint(format!(
                            "{reads}: the sink would replace the input or be read back as input; write it elsewhere or narrow the glob"
                        )),
                );
            }
        }
        if pattern.matches_path_with(dead_letter, GLOB) {
            let msg = format!(
                "the dead-letter file `{}` is inside the glob of source `{}`",
                dead_letter.display(),
                s.name
            );
            let d = match origin {
                DeadLetter::InJobDir => source_cx.err_at_value("path", msg),
                _ => dead_letter_error(cx, origin, None, msg),
            };
            errors.push(d.with_hint(format!(
                "{reads}: dead letters would be read back as input; set `dead_letter:` to a file outside it"
            )));
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
        assert_eq!(crate::job::worker_file(p, 3), Path::new("/o/f.3.jsonl"));
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
