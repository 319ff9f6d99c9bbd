//! Where a run writes: `--summary-json FILE` is checked before anything is read, its
//! directory is created as a sink's is, and the printed summary does not depend on it; a
//! sink path under a file names that file.

mod common;

use common::{bad_input_job, freshet, run_ok};

/// A summary in a directory that does not exist yet is written there; before, the run
/// went to its end and then failed writing it, its printed summary lost too.
#[test]
fn the_summary_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "dead_letter");
    let summary = dir.path().join("reports/today/summary.json");
    let out = run_ok(&["run", &job, "--summary-json", summary.to_str().unwrap()]);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // The input has 5 lines: 2 good, 3 undecodable (by hand).
    assert_eq!(
        (s["events_read"].as_u64(), s["bad_records"].as_u64()),
        (Some(5), Some(3))
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("events read"));
}

/// A summary path under a file, or naming a directory, fails at once: nothing is read and
/// no sink file is written.
#[test]
fn an_unwritable_summary_path_fails_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "dead_letter");
    std::fs::write(dir.path().join("afile"), "").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    for (path, says) in [
        ("afile/summary.json", "is a file, not a directory"),
        ("afile/deeper/summary.json", "is a file, not a directory"),
        ("adir", "is a directory"),
    ] {
        let path = dir.path().join(path);
        for command in ["run", "launch"] {
            let mut args = vec![
                command,
                job.as_str(),
                "--summary-json",
                path.to_str().unwrap(),
            ];
            let hosts = dir.path().join("hosts");
            if command == "launch" {
                std::fs::write(&hosts, "127.0.0.1:1\n").unwrap();
                args.extend(["--hostfile", hosts.to_str().unwrap()]);
            }
            let out = freshet().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command} {path:?}");
            assert!(
                err.contains("--summary-json") && err.contains(says),
                "{command} {path:?}: {err}"
            );
            assert!(
                !dir.path().join("out").exists(),
                "{command} {path:?}: the run started"
            );
        }
    }
}

/// A sink path whose directory would be where a file is names that file (it said "File
/// exists (os error 17)").
#[test]
fn a_sink_path_under_a_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let job = bad_input_job(dir.path(), "skip");
    std::fs::write(dir.path().join("out"), "").unwrap();
    let out = freshet().args(["run", &job, "-q"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sink `out`: cannot create")
            && err.contains("/out` is a file, not a directory"),
        "{err}"
    );
}
