//! A LEFT interval join over two sources where each key has many left rows, most of them
//! unmatched, arriving out of order: every left row must come out exactly once, joined or
//! padded, in every mode and on any number of workers. (equivalence_join.rs has one left
//! row per key, which cannot show a key's rows being expired in the wrong order.)
//!
//! The reference pairs rows by nested loops over their times; it knows nothing of join
//! state, expiry or watermarks.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use common::{assert_every_mode_gives, RowKey, MIN, T0};

const USERS: u32 = 8;
const BOUND: i64 = 2 * MIN;
const WINDOW: i64 = 10 * MIN;

/// A request (left) or a response (right) of a user at `t`.
#[derive(Clone, Debug)]
struct Ev {
    user: String,
    request: bool,
    t: i64,
}

/// Requests about every 10 s (so about every 80 s per user); 3 in 10 get a response 0 to 4
/// minutes later, which the 2-minute bound matches to none, one or several requests. In
/// arrival order, shuffled within `disorder` ms.
fn events(seed: u64, n: usize, disorder: i64) -> Vec<Ev> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = T0 + rng.random_range(0..MIN);
    let mut evs: Vec<(i64, Ev)> = Vec::new();
    for _ in 0..n {
        t += rng.random_range(0..20_000);
        let user = format!("u{}", rng.random_range(0..USERS));
        let arrive = t + rng.random_range(0..=disorder);
        evs.push((
            arrive,
            Ev {
                user: user.clone(),
                request: true,
                t,
            },
        ));
        if rng.random_range(0..10) < 3 {
            let rt = t + rng.random_range(0..=4 * MIN);
            let arrive = rt + rng.random_range(0..=disorder);
            evs.push((
                arrive,
                Ev {
                    user,
                    request: false,
                    t: rt,
                },
            ));
        }
    }
    evs.sort_by_key(|(a, e)| (*a, e.t));
    evs.into_iter().map(|(_, e)| e).collect()
}

/// Each source's events, in arrival order, over `files` files.
fn write_inputs(dir: &Path, evs: &[Ev], files: usize) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for (name, request) in [("requests", true), ("responses", false)] {
        let mine: Vec<&Ev> = evs.iter().filter(|e| e.request == request).collect();
        for (i, chunk) in mine.chunks(mine.len().div_ceil(files)).enumerate() {
            let path = dir.join(format!("data/{name}-{i:03}.jsonl"));
            let mut f = std::fs::File::create(path).unwrap();
            for e in chunk {
                writeln!(f, "{}", json!({"user_id": e.user, "t": e.t})).unwrap();
            }
        }
    }
}

fn write_job(dir: &Path, delay_s: i64, lateness_s: i64) {
    let source = |name: &str| {
        format!(
            "  - {{ name: {name}, connector: file, path: data/{name}-*.jsonl, format: json, schema: {{ user_id: string!, t: timestamp }}, event_time: t, watermark_delay: {delay_s}s }}\n"
        )
    };
    let job = format!(
        r#"name: left_join
sources:
{}{}features:
  - name: answered
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT q.user_id AS u, COUNT(*) AS requests, COUNT(r.user_id) AS answered
      FROM requests AS q LEFT JOIN responses AS r
        ON q.user_id = r.user_id
       AND r.rowtime >= q.rowtime AND r.rowtime <= q.rowtime + INTERVAL '2' MINUTE
      GROUP BY q.user_id, TUMBLE(q.rowtime, INTERVAL '10' MINUTE)
  # No join: its windows take corrections in stream mode (the join's output trails by
  # its bound plus the lateness, so the joined windows do not), which shows the input
  # is really out of order.
  - name: asked
    allowed_lateness: {lateness_s}s
    sql: |
      SELECT user_id AS u, COUNT(*) AS n
      FROM requests GROUP BY user_id, TUMBLE(rowtime, INTERVAL '10' MINUTE)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl, format: json }}
dead_letter: out/dead_letter.jsonl
"#,
        source("requests"),
        source("responses")
    );
    std::fs::write(dir.join("job.yaml"), job).unwrap();
}

/// Per (user, window): joined rows (one per matching response, or one padded row per
/// request without any) and matches; and requests.
fn reference(evs: &[Ev]) -> BTreeMap<RowKey, BTreeMap<String, Value>> {
    let responses: Vec<&Ev> = evs.iter().filter(|e| !e.request).collect();
    let mut groups: BTreeMap<(String, i64), (i64, i64, i64)> = BTreeMap::new();
    for q in evs.iter().filter(|e| e.request) {
        let matches = responses
            .iter()
            .filter(|r| r.user == q.user && r.t >= q.t && r.t <= q.t + BOUND)
            .count() as i64;
        let g = groups
            .entry((q.user.clone(), q.t.div_euclid(WINDOW) * WINDOW))
            .or_default();
        g.0 += matches.max(1);
        g.1 += matches;
        g.2 += 1;
    }
    let mut want = BTreeMap::new();
    for ((u, start), (rows, matched, asked)) in groups {
        let key = |f: &str| (f.to_string(), json!([u]).to_string(), start, start + WINDOW);
        want.insert(
            key("answered"),
            BTreeMap::from([
                ("requests".into(), json!(rows)),
                ("answered".into(), json!(matched)),
            ]),
        );
        want.insert(key("asked"), BTreeMap::from([("n".into(), json!(asked))]));
    }
    want
}

#[test]
fn a_left_join_pads_every_unmatched_row_of_busy_keys_in_every_mode() {
    for seed in [61u64, 62] {
        let dir = tempfile::tempdir().unwrap();
        let disorder = 5 * MIN;
        let evs = events(seed, 1_500, disorder);
        write_inputs(dir.path(), &evs, 2);
        write_job(dir.path(), [0, 60][seed as usize % 2], disorder / 1000 + 1);
        let want = reference(&evs);
        let (rows, matched): (i64, i64) =
            want.iter()
                .filter(|(k, _)| k.0 == "answered")
                .fold((0, 0), |(r, m), (_, v)| {
                    (
                        r + v["requests"].as_i64().unwrap(),
                        m + v["answered"].as_i64().unwrap(),
                    )
                });
        let padded = rows - matched;
        assert!(
            padded > 500 && matched > 300,
            "too small to mean anything: {padded} padded rows, {matched} matches"
        );
        let keys = BTreeMap::from([("answered", vec!["u"]), ("asked", vec!["u"])]);
        assert_every_mode_gives(dir.path(), seed, &want, &keys);
    }
}
