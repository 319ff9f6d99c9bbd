//! Files a job reads and writes: a source's glob is valid, and no two outputs (file sinks,
//! their per-worker files, the dead-letter file) are the same file or inside a source's
//! glob.

use std::path::Path;

use planner::{parse_job, Diagnostic};

const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema: { user_id: string, event_time: timestamp }
    event_time: event_time
features:
  - name: f
    sql: SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
  - name: other
    connector: file
    path: out/g.jsonl
"#;

fn one(text: &str) -> Diagnostic {
    one_at("/jobs/job.yaml", text)
}

/// The one diagnostic of `text` as the job file `job`.
fn one_at(job: &str, text: &str) -> Diagnostic {
    let d = parse_job(Path::new(job), text).expect_err("the job should not validate");
    assert_eq!(d.0.len(), 1, "{d}");
    d.0.into_iter().next().unwrap()
}

fn line(d: &Diagnostic) -> usize {
    d.location.as_ref().expect("a location").line
}

#[test]
fn the_base_job_validates() {
    parse_job(Path::new("/jobs/job.yaml"), JOB).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_bad_glob_is_an_error_at_the_path() {
    for bad in ["data/[*.jsonl", "data/***.jsonl", "data/a**/b.jsonl"] {
        let d = one(&JOB.replace("path: data/*.jsonl", &format!("path: {bad}")));
        assert!(
            d.message
                .starts_with(&format!("source `events`: `{bad}` is not a valid glob: ")),
            "{d}"
        );
        assert_eq!(line(&d), 5, "{d}");
        assert!(d.hint.as_deref().unwrap().contains("`[[]`"), "{d}");
    }
    // Escaped brackets are fine.
    parse_job(
        Path::new("/jobs/job.yaml"),
        &JOB.replace("path: data/*.jsonl", "path: data/[[]1]/*.jsonl"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
}

fn validates(text: &str) {
    parse_job(Path::new("/jobs/job.yaml"), text).unwrap_or_else(|d| panic!("{d}\n{text}"));
}

/// Two file sinks writing one file (after resolving their paths, and counting the
/// per-worker files `out/f.0.jsonl`, ... of `out/f.jsonl`) would lose rows.
#[test]
fn two_sinks_writing_one_file_are_an_error() {
    for (first, second, message) in [
        (
            "out/f.jsonl",
            "out/f.jsonl",
            "sinks `out` and `other` write the same file `/jobs/out/f.jsonl`",
        ),
        (
            "out/f.jsonl",
            "./out/../out/f.jsonl",
            "sinks `out` and `other` write the same file `/jobs/out/f.jsonl`",
        ),
        (
            "out/f.jsonl",
            "/jobs/out/f.jsonl",
            "sinks `out` and `other` write the same file `/jobs/out/f.jsonl`",
        ),
        (
            "out/f.jsonl",
            "out/f.2.jsonl",
            "sink `other` writes `/jobs/out/f.2.jsonl`, sink `out`'s file for worker 2",
        ),
        (
            "out/f.0.jsonl",
            "out/f.jsonl",
            "sink `other`'s file for worker 0 (a sink writes one file per worker when the job runs on several) is `/jobs/out/f.0.jsonl`, which sink `out` writes",
        ),
        (
            "out/f.parquet",
            "out/f.1.parquet",
            "sink `other` writes `/jobs/out/f.1.parquet`, sink `out`'s file for worker 1",
        ),
    ] {
        let text = JOB
            .replace("path: out/f.jsonl", &format!("path: {first}"))
            .replace("path: out/g.jsonl", &format!("path: {second}"));
        let d = one(&text);
        assert!(d.message.starts_with(message), "{d}");
        assert_eq!(line(&d), 16, "{d}");
        assert!(d.hint.as_deref().unwrap().contains("a path of its own"), "{d}");
    }
    for (first, second) in [
        ("out/f.jsonl", "out/f.x.jsonl"),
        ("out/f.jsonl", "other/f.jsonl"),
        ("out/f.jsonl", "out/f.jsonl.1"),
        ("out/f.jsonl", "out/f.json"),
    ] {
        validates(
            &JOB.replace("path: out/f.jsonl", &format!("path: {first}"))
                .replace("path: out/g.jsonl", &format!("path: {second}")),
        );
    }
}

/// The dead-letter file is written by worker 0 alone; it must not be a sink's file.
#[test]
fn the_dead_letter_file_must_not_be_a_sink_s_file() {
    let text = format!("{JOB}dead_letter: out/g.jsonl\n");
    let d = one(&text);
    assert!(
        d.message
            .starts_with("the dead-letter file `/jobs/out/g.jsonl` is sink `other`'s file"),
        "{d}"
    );
    assert_eq!(line(&d), 17, "{d}");
    assert!(d.hint.as_deref().unwrap().contains("dead_letter:"), "{d}");
    let d = one(&format!("{JOB}dead_letter: out/g.5.jsonl\n"));
    assert!(
        d.message.contains("is sink `other`'s file for worker 5"),
        "{d}"
    );
    // By default it is `dead_letter.jsonl` beside the first file sink's file.
    let d = one(&JOB.replace("path: out/g.jsonl", "path: out/dead_letter.jsonl"));
    assert!(
        d.message.starts_with(
            "the dead-letter file `/jobs/out/dead_letter.jsonl` is sink `other`'s file"
        ),
        "{d}"
    );
    assert_eq!(line(&d), 16, "{d}");
    validates(&format!("{JOB}dead_letter: out/dead.jsonl\n"));
}

/// A sink, one of its per-worker files or the dead-letter file matching a file source's
/// glob would overwrite the input or be read back as input.
#[test]
fn an_output_inside_a_source_s_glob_is_an_error() {
    let d = one(&JOB.replace("path: out/g.jsonl", "path: data/g.jsonl"));
    assert!(
        d.message.starts_with(
            "sink `other` writes `/jobs/data/g.jsonl`, inside the glob of source `events`"
        ),
        "{d}"
    );
    assert_eq!(line(&d), 16, "{d}");
    let hint = d.hint.as_deref().unwrap();
    assert!(
        hint.starts_with("source `events` reads `data/*.jsonl` (line 5)"),
        "{d}"
    );

    // Only its per-worker files match.
    let text = JOB
        .replace("path: data/*.jsonl", "path: data/*.[0-9].jsonl")
        .replace("path: out/g.jsonl", "path: data/g.jsonl");
    let d = one(&text);
    assert!(
        d.message.starts_with(
            "sink `other` writes `/jobs/data/g.0.jsonl` (its file for one of several workers), inside"
        ),
        "{d}"
    );

    // A recursive glob reaches subdirectories; `*` does not.
    let text = JOB.replace("path: out/g.jsonl", "path: data/sub/g.jsonl");
    validates(&text);
    let d = one(&text.replace("path: data/*.jsonl", "path: data/**/*.jsonl"));
    assert!(
        d.message.contains("inside the glob of source `events`"),
        "{d}"
    );

    // The dead-letter file, given or by default beside the first file sink.
    let d = one(&format!("{JOB}dead_letter: data/dead.jsonl\n"));
    assert!(
        d.message.starts_with(
            "the dead-letter file `/jobs/data/dead.jsonl` is inside the glob of source `events`"
        ),
        "{d}"
    );
    assert_eq!(line(&d), 17, "{d}");
    assert!(
        d.hint.as_deref().unwrap().contains("set `dead_letter:`"),
        "{d}"
    );
    let text = JOB.replace(
        "{ name: out, connector: file, path: out/f.jsonl }",
        "{ name: out, connector: file, path: data/f.parquet, format: parquet }",
    );
    let d = one(&text);
    assert!(
        d.message.starts_with(
            "the dead-letter file `/jobs/data/dead_letter.jsonl` is inside the glob of source `events`"
        ),
        "{d}"
    );
    assert_eq!(line(&d), 13, "{d}");
}

/// The job's directory is a literal part of a file source's glob: `[`, `]`, `*` and `?` in
/// it match themselves (the source's own `path` is still a glob).
#[test]
fn wildcards_in_the_job_s_directory_match_only_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jobs[1]");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/a.jsonl"), "{}\n").unwrap();
    // `jobs[1]` as a glob is `jobs1`: a directory that must not be read.
    std::fs::create_dir_all(tmp.path().join("jobs1/data")).unwrap();
    std::fs::write(tmp.path().join("jobs1/data/b.jsonl"), "{}\n").unwrap();
    let job = parse_job(&dir.join("job.yaml"), JOB).unwrap_or_else(|d| panic!("{d}"));
    let planner::job::SourceConnector::File { path } = &job.sources[0].connector else {
        panic!("{}", job.sources[0].connector);
    };
    let read: Vec<_> = glob::glob(path).unwrap().map(Result::unwrap).collect();
    assert_eq!(read, [dir.join("data/a.jsonl")], "{path}");

    // The check that no output is inside a source's glob sees the same files: a sink in
    // `jobs[1]/data` is inside it, one in `jobs1/data` is not.
    let d = one_at(
        "/jobs[1]/job.yaml",
        &JOB.replace("path: out/g.jsonl", "path: data/g.jsonl"),
    );
    assert!(
        d.message.starts_with(
            "sink `other` writes `/jobs[1]/data/g.jsonl`, inside the glob of source `events`"
        ),
        "{d}"
    );
    for job_dir in ["/jobs[1]", "/jobs?", "/jobs*"] {
        parse_job(
            Path::new(&format!("{job_dir}/job.yaml")),
            &JOB.replace("path: out/g.jsonl", "path: /jobs1/data/g.jsonl"),
        )
        .unwrap_or_else(|d| panic!("{job_dir}: {d}"));
    }
}
