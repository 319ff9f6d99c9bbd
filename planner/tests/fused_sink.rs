//! Which file sinks a window operator writes itself (`Plan::fused_sink`): a running-sums
//! window state whose features, and nothing else, write to exactly that one file sink.

use std::path::Path;

/// A job with `features` (name, SELECT list, sinks; grouped by `k` and a HOP unless the
/// list brings its own FROM) over one source and the sinks `o` and `p` (files) and `q` (a
/// Kafka topic of the local infrastructure profile).
fn job(features: &[(&str, &str, &str)]) -> String {
    let mut text = String::from(
        "name: j\nsources:\n  - { name: s, connector: file, path: x.jsonl, format: json, schema: { k: string, n: int, f: float, t: timestamp }, event_time: t }\nfeatures:\n",
    );
    for (name, select, sinks) in features {
        // `select` may bring its own FROM ... GROUP BY.
        let tail = if select.contains(" FROM ") {
            ""
        } else {
            " FROM s GROUP BY k, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '10' MINUTES)"
        };
        text.push_str(&format!(
            "  - name: {name}\n    sinks: [{sinks}]\n    sql: SELECT k, {select}{tail}\n"
        ));
    }
    text.push_str("sinks:\n  - { name: o, connector: file, path: o.jsonl }\n  - { name: p, connector: file, path: p.jsonl }\n  - { name: q, connector: kafka, cluster: local, topic: t }\n");
    text
}

/// The fused sink's name per feature.
fn fused(features: &[(&str, &str, &str)]) -> Vec<Option<String>> {
    let infra = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/infra/local.yaml"
    ))
    .unwrap();
    let infra = planner::job::parse_infra(Path::new("local.yaml"), &infra, |_| None).unwrap();
    let job =
        planner::job::parse_job_with_infra(Path::new("job.yaml"), &job(features), Some(infra))
            .unwrap_or_else(|d| panic!("{d}"));
    let p = planner::plan_job(&job)
        .unwrap_or_else(|d| panic!("{d}"))
        .physical;
    (0..p.features.len())
        .map(|fi| p.fused_sink(fi).map(|k| p.sinks[k].name.clone()))
        .collect()
}

fn named(names: &[Option<&str>]) -> Vec<Option<String>> {
    names.iter().map(|n| n.map(str::to_string)).collect()
}

#[test]
fn a_running_sums_window_alone_in_its_file_sink_writes_it_itself() {
    assert_eq!(fused(&[("a", "COUNT(*) AS c", "o")]), named(&[Some("o")]));
    // Two states (different windows), each in a sink of its own: both fused.
    let tumble = "SUM(n) AS s FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' HOUR)";
    assert_eq!(
        fused(&[("a", "COUNT(*) AS c", "o"), ("b", tumble, "p")]),
        named(&[Some("o"), Some("p")])
    );
}

#[test]
fn a_sink_with_other_writers_or_a_window_with_other_sinks_is_not_fused() {
    // Two states into one sink.
    assert_eq!(
        fused(&[("a", "COUNT(*) AS c", "o"), ("b", "AVG(f) AS v", "o")]),
        named(&[None, None])
    );
    // One state into two sinks.
    assert_eq!(fused(&[("a", "COUNT(*) AS c", "o, p")]), named(&[None]));
    // Per-pane state (AVG) is never fused.
    assert_eq!(fused(&[("a", "AVG(f) AS v", "o")]), named(&[None]));
    // Only file sinks are.
    assert_eq!(fused(&[("a", "COUNT(*) AS c", "q")]), named(&[None]));
}

#[test]
fn features_sharing_one_state_are_fused_only_if_all_write_only_there() {
    // Same source, keys and window: one state, led by `a`; written by the window operator
    // when both features write only to `o`, not when they write to different sinks.
    assert_eq!(
        fused(&[("a", "COUNT(*) AS c", "o"), ("b", "SUM(n) AS s", "o")]),
        named(&[Some("o"), None])
    );
    assert_eq!(
        fused(&[("a", "COUNT(*) AS c", "o"), ("b", "SUM(n) AS s", "p")]),
        named(&[None, None])
    );
}
