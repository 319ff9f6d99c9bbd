//! The core promise: after all corrections, stream mode equals backfill mode equals a naive,
//! independent batch computation, whatever the arrival order, batch sizes, watermark delay
//! and worker count (when allowed_lateness covers the disorder); and with less lateness, a
//! single reader's results follow the watermark rule exactly, in both modes.
//!
//! The reference (`common::reference`) knows nothing of panes, timely or frontiers: for
//! every record it enumerates the windows containing its event time and adds it to those whose
//! `end + allowed_lateness` exceeds the watermark at the time the record was read.

mod common;

use common::reference::reference;
use common::{
    assert_every_mode_gives, assert_watermark_rule, events, key_columns, run_ok, write_inputs,
    write_job, write_job_with_own_sinks, write_job_with_parquet_sinks, MIN,
};

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

        assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
    }
}

/// Window operators that write their file sink themselves (a running-sums state alone in
/// its sink: HOP counts, and a count with HAVING) give the naive results too, in every mode
/// and worker count; the per-pane feature beside them keeps its `Sink[...]` operator.
#[test]
fn windows_writing_their_own_file_sinks_give_naive_results() {
    let seed = 4;
    let dir = tempfile::tempdir().unwrap();
    let disorder = 6 * MIN;
    let evs = events(seed, 2_500, disorder);
    write_inputs(dir.path(), &evs, 3);
    write_job_with_own_sinks(dir.path(), 30, disorder / 1000 + 1);
    let job = dir.path().join("job.yaml");
    let explain = run_ok(&["explain", job.to_str().unwrap(), "--format", "json"]);
    let explain: serde_json::Value = serde_json::from_slice(&explain.stdout).unwrap();
    let fused: Vec<(String, Option<String>)> = explain["physical"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let sink = f.get("fused_sink").map(|s| s.as_str().unwrap().to_string());
            (f["name"].as_str().unwrap().to_string(), sink)
        })
        .collect();
    let named = |n: &str, s: Option<&str>| (n.to_string(), s.map(str::to_string));
    assert_eq!(
        fused,
        vec![
            named("tumble_stats", None),
            named("hop_counts", Some("hop_counts")),
            named("tvf_having", Some("tvf_having")),
        ]
    );
    let text = run_ok(&["explain", job.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    for sink in ["hop_counts", "tvf_having"] {
        let line = format!("─▶ Sink[{sink}] fused");
        assert!(text.contains(&line), "explain lacks `{line}`:\n{text}");
    }
    assert!(text.contains("─▶ Sink[tumble_stats] pipeline"), "{text}");
    assert_eq!(
        text.matches(".jsonl direct_io (backfill)").count(),
        2,
        "{text}"
    );
    let (want, _) = reference(&evs, 30, None);
    assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
}

/// Parquet file sinks give the naive results in every mode and worker count, read back
/// with the `parquet` crate's reader: one written by its window operator (HOP counts), one
/// shared by two features whose columns it unites (nulls where a feature has no column).
#[test]
fn parquet_sinks_give_naive_results() {
    let seed = 5;
    let dir = tempfile::tempdir().unwrap();
    let disorder = 6 * MIN;
    let evs = events(seed, 2_500, disorder);
    write_inputs(dir.path(), &evs, 3);
    write_job_with_parquet_sinks(dir.path(), 30, disorder / 1000 + 1);
    let job = dir.path().join("job.yaml");
    let text = String::from_utf8(run_ok(&["explain", job.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("─▶ Sink[hop] fused"), "{text}");
    assert!(text.contains("─▶ Sink[rest] pipeline"), "{text}");
    let want_columns = "format=parquet columns=[feature: string, version: int, geohash: string, n: int, s: float, lo: float, hi: float, a: float, users: int, action: string, window_start: timestamp, window_end: timestamp, revision: int, deleted: bool]";
    let json = run_ok(&["explain", job.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let table: Vec<String> = json["physical"]["sinks"][0]["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        table.join(", "),
        "feature: string, version: int, user_id: string, n: int, window_start: timestamp, window_end: timestamp, revision: int, deleted: bool"
    );
    assert!(
        text.contains(want_columns),
        "explain lacks `{want_columns}`:\n{text}"
    );
    let (want, _) = reference(&evs, 30, None);
    assert_every_mode_gives(dir.path(), seed, &want, &key_columns());
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
        assert_watermark_rule(dir.path(), seed, &want, too_late, &key_columns());
    }
}
