//! Golden end-to-end cases: `tests/golden/<case>/` holds a job, its input, the hand-checked
//! `expected.jsonl` (backfill output) and `expected_dead_letter.jsonl` (kind, line and
//! feature of each dead letter); each case's README shows the arithmetic.
//!
//! Each case runs in backfill (exact rows) and in stream mode with one record per watermark
//! step (final values after corrections must equal the backfill rows); cases with an
//! `expected_stream.jsonl` must give exactly those stream rows (revisions and withdrawals
//! included). Cases with a `same_on_more_workers` marker also run on 2 and 3 workers.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use common::run_ok;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("job.yaml").exists())
        .collect();
    v.sort();
    assert!(
        v.len() >= 2,
        "golden cases missing under {}",
        root.display()
    );
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// Feature rows of every worker file under `out/`.
fn feature_rows(dir: &Path) -> Vec<Value> {
    let mut rows = Vec::new();
    for e in std::fs::read_dir(dir.join("out")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("features")
        {
            rows.extend(read_jsonl(&p));
        }
    }
    rows
}

/// The latest revision of each (feature, key, window), with `revision` removed. Key
/// columns are the text columns (arrays, like numbers, are values).
fn finals(rows: Vec<Value>) -> Vec<Value> {
    let mut latest: BTreeMap<String, (u64, Value)> = BTreeMap::new();
    for mut r in rows {
        let obj = r.as_object_mut().unwrap();
        let rev = obj.remove("revision").unwrap().as_u64().unwrap();
        let key = obj
            .iter()
            .filter(|(k, v)| {
                (!(v.is_number() || v.is_array()) || k.starts_with("window"))
                    && k.as_str() != "deleted"
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        if latest.get(&key).is_none_or(|(r0, _)| rev > *r0) {
            latest.insert(key, (rev, r));
        }
    }
    sorted(
        latest
            .into_values()
            .map(|(_, v)| v)
            .filter(|v| v.get("deleted").is_none())
            .collect(),
    )
}

fn dead_letters(dir: &Path) -> Vec<Value> {
    sorted(
        read_jsonl(&dir.join("out/dead_letter.jsonl"))
            .into_iter()
            .map(|d| {
                let mut m = serde_json::Map::new();
                for k in ["kind", "line", "feature"] {
                    if let Some(v) = d.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[test]
fn golden_cases() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&case, dir.path());
        let job = dir.path().join("job.yaml");
        let job = job.to_str().unwrap();
        let expected = sorted(read_jsonl(&case.join("expected.jsonl")));
        let expected_dl = sorted(read_jsonl(&case.join("expected_dead_letter.jsonl")));
        let expected_finals = finals(expected.clone());

        run_ok(&["run", job, "-q", "--mode", "backfill"]);
        assert_eq!(
            sorted(feature_rows(dir.path())),
            expected,
            "{name}: backfill rows"
        );
        assert_eq!(
            dead_letters(dir.path()),
            expected_dl,
            "{name}: backfill dead letters"
        );

        run_ok(&[
            "run",
            job,
            "-q",
            "--mode",
            "stream",
            "--exit-at-end",
            "--batch-bytes",
            "1",
        ]);
        let stream_rows = feature_rows(dir.path());
        let expected_stream = case.join("expected_stream.jsonl");
        if expected_stream.exists() {
            assert_eq!(
                sorted(stream_rows.clone()),
                sorted(read_jsonl(&expected_stream)),
                "{name}: stream rows"
            );
        }
        assert_eq!(
            finals(stream_rows),
            expected_finals,
            "{name}: stream final values"
        );
        assert_eq!(
            dead_letters(dir.path()),
            expected_dl,
            "{name}: stream dead letters"
        );

        if case.join("same_on_more_workers").exists() {
            for workers in ["2", "3"] {
                for mode in [
                    &["--mode", "backfill"][..],
                    &["--mode", "stream", "--exit-at-end"][..],
                ] {
                    let mut args = vec!["run", job, "-q", "--workers", workers];
                    args.extend_from_slice(mode);
                    run_ok(&args);
                    assert_eq!(
                        finals(feature_rows(dir.path())),
                        expected_finals,
                        "{name}: {workers} workers {mode:?}"
                    );
                    assert_eq!(
                        dead_letters(dir.path()),
                        expected_dl,
                        "{name}: {workers} workers {mode:?} dead letters"
                    );
                }
            }
        }
    }
}
