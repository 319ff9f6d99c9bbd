//! The core promise: after all corrections, stream mode equals backfill mode equals a naive,
//! independent batch computation, whatever the arrival order, batch sizes, watermark delay
//! and worker count (when allowed_lateness covers the disorder); and with less lateness, a
//! single reader's results follow the watermark rule exactly, in both modes.
//!
//! The reference (`common::reference`) knows nothing of panes, timely or frontiers: for
//! every record it enumerates the windows containing its event time and adds it to those whose
//! `end + allowed_lateness` exceeds the watermark at the time the record was read.

mod common;

use std::path::Path;

use common::reference::reference;
use common::{assert_same, events, key_columns, read_finals, run_ok, write_inputs, write_job, MIN};

fn run(dir: &Path, args: &[&str]) -> common::Finals {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let job = dir.join("job.yaml");
    let mut all = vec!["run", job.to_str().unwrap(), "-q"];
    all.extend_from_slice(args);
    run_ok(&all);
    read_finals(&out, "features", &key_columns())
}

fn dead_letter_count(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("out/dead_letter.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn lateness_covering_disorder_gives_naive_results_in_every_mode_and_worker_count() {
    for seed in [1u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 6 * MIN;
        let evs = events(seed, 2_500, disorder);
        let delay_s = [0, 30, 120][seed as usize % 3];
        write_inputs(dir.path(), &evs, 3);
        write_job(dir.path(), delay_s, disorder / 1000 + 1);
        let (want, _) = reference(&evs, delay_s, None);
        assert!(
            want.len() > 100,
            "the test input is too small to mean anything"
        );

        let backfill = run(dir.path(), &["--mode", "backfill"]);
        assert_same(&format!("seed {seed} backfill"), &backfill, &want);
        assert_eq!(backfill.max_revision, 0, "backfill emits final values only");
        assert_eq!(
            backfill.emitted,
            want.len(),
            "backfill emits each window once"
        );

        let mut saw_corrections = false;
        for (workers, batch) in [(1, "1"), (2, "300"), (4, "2000"), (2, "4194304")] {
            let got = run(
                dir.path(),
                &[
                    "--mode",
                    "stream",
                    "--exit-at-end",
                    "--workers",
                    &workers.to_string(),
                    "--batch-bytes",
                    batch,
                ],
            );
            assert_same(
                &format!("seed {seed} stream workers={workers} batch={batch}"),
                &got,
                &want,
            );
            saw_corrections |= got.max_revision > 0;
            let b = run(
                dir.path(),
                &[
                    "--mode",
                    "backfill",
                    "--workers",
                    &workers.to_string(),
                    "--batch-bytes",
                    batch,
                ],
            );
            assert_same(
                &format!("seed {seed} backfill workers={workers} batch={batch}"),
                &b,
                &want,
            );
            assert_eq!(
                (b.max_revision, b.emitted),
                (0, want.len()),
                "seed {seed} backfill workers={workers} batch={batch}: each window once, final"
            );
            assert_eq!(dead_letter_count(dir.path()), 0);
        }
        assert!(
            saw_corrections,
            "seed {seed}: small batches with disorder must produce corrections"
        );
    }
}

#[test]
fn with_short_lateness_one_reader_follows_the_watermark_rule_exactly() {
    for seed in [11u64, 12] {
        let dir = tempfile::tempdir().unwrap();
        let evs = events(seed, 2_000, 8 * MIN);
        let (delay_s, lateness_s) = (60, 90);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), delay_s, lateness_s);
        let (want, too_late) = reference(&evs, delay_s, Some(lateness_s));
        assert!(
            too_late > 10,
            "the disorder must exceed the lateness for this test to mean anything"
        );
        for args in [
            vec!["--mode", "backfill"],
            vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "1"],
            vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "5000"],
        ] {
            let got = run(dir.path(), &args);
            assert_same(&format!("seed {seed} {args:?}"), &got, &want);
            if args[1] == "backfill" {
                assert_eq!(got.max_revision, 0, "backfill emits final values only");
            }
            assert_eq!(
                dead_letter_count(dir.path()),
                too_late,
                "seed {seed} {args:?}: every too-late (record, feature) is a dead letter"
            );
        }
    }
}
