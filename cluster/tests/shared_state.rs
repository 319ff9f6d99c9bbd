//! Features that read the same rows and group them by the same keys and window share one
//! window state. Sharing must change nothing but the work done: the same job with sharing
//! defeated (a no-op `WHERE 1 = 1` makes one feature's rows look different to the planner)
//! gives the same final values and emits the same rows, per sink, in every mode; and the
//! naive reference agrees on the aggregates both compute.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{events, read_finals, run_ok, write_inputs, Finals, MIN};

fn write_job(dir: &Path, share: bool) {
    let no_op = if share { "" } else { "WHERE 1 = 1" };
    let job = format!(
        r#"name: shared
sources:
  - name: ev
    connector: file
    path: data/*.jsonl
    format: json
    schema: {{ user_id: string!, geohash: string, action: string, fare: float, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 30s
features:
  - name: counts
    allowed_lateness: 7m
    sql: |
      SELECT geohash, COUNT(*) AS n, SUM(fare) AS s
      FROM ev GROUP BY geohash, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)
      HAVING COUNT(*) > 3
  - name: fares
    allowed_lateness: 7m
    sql: |
      SELECT geohash AS g, MAX(fare) AS hi, COUNT(*) AS n, AVG(fare) AS a
      FROM ev {no_op} GROUP BY geohash, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)
  - name: other_window
    allowed_lateness: 7m
    sql: |
      SELECT geohash, COUNT(*) AS n FROM ev GROUP BY geohash, TUMBLE(rowtime, INTERVAL '5' MINUTES)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}
  - {{ name: side, connector: file, path: out/side.jsonl, format: json }}
dead_letter: out/dead_letter.jsonl
"#
    );
    // counts and other_window write to `out`, fares to `side`.
    let job = job
        .replace("  - name: fares\n", "  - name: fares\n    sinks: [side]\n")
        .replace("  - name: counts\n", "  - name: counts\n    sinks: [out]\n")
        .replace(
            "  - name: other_window\n",
            "  - name: other_window\n    sinks: [out]\n",
        );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

fn keys() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("counts", vec!["geohash"]),
        ("fares", vec!["g"]),
        ("other_window", vec!["geohash"]),
    ])
}

fn run(dir: &Path, args: &[&str]) -> (Finals, Finals) {
    let _ = std::fs::remove_dir_all(dir.join("out"));
    let job = dir.join("job.yaml");
    let mut all = vec!["run", job.to_str().unwrap(), "-q"];
    all.extend_from_slice(args);
    run_ok(&all);
    (
        read_finals(&dir.join("out"), "features", &keys()),
        read_finals(&dir.join("out"), "side", &keys()),
    )
}

#[test]
fn shared_window_state_changes_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(61, 3_000, 5 * MIN);
    write_inputs(dir.path(), &evs, 2);

    write_job(dir.path(), true);
    let explain = run_ok(&["explain", dir.path().join("job.yaml").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("state=shared_with=counts"), "{text}");
    assert!(text.contains("Window[counts, fares]"), "{text}");

    for args in [
        vec!["--mode", "backfill"],
        vec!["--mode", "stream", "--exit-at-end", "--batch-bytes", "400"],
        vec![
            "--mode",
            "stream",
            "--exit-at-end",
            "--workers",
            "2",
            "--batch-bytes",
            "3000",
        ],
    ] {
        write_job(dir.path(), true);
        let (out_shared, side_shared) = run(dir.path(), &args);
        write_job(dir.path(), false);
        let explain = run_ok(&["explain", dir.path().join("job.yaml").to_str().unwrap()]);
        assert!(!String::from_utf8_lossy(&explain.stdout).contains("shared_with"));
        let (out_alone, side_alone) = run(dir.path(), &args);
        for (label, a, b) in [
            ("out", &out_shared, &out_alone),
            ("side", &side_shared, &side_alone),
        ] {
            assert!(b.rows.len() > 100, "{label}: too small to mean anything");
            let strip = |f: &Finals| -> BTreeMap<_, _> {
                f.rows
                    .iter()
                    .map(|(k, (_, v))| (k.clone(), v.clone()))
                    .collect()
            };
            assert_eq!(
                strip(a),
                strip(b),
                "{args:?} {label}: shared and unshared final values differ"
            );
            if args[1] == "backfill" {
                assert_eq!(
                    a.emitted, b.emitted,
                    "{label}: backfill emits the same rows"
                );
            }
        }
        // Each sink holds only its own features.
        assert!(side_shared.rows.keys().all(|k| k.0 == "fares"));
        assert!(out_shared.rows.keys().all(|k| k.0 != "fares"));
    }
}
