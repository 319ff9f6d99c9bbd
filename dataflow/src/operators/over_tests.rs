//! Unit tests of the OVER operator's state (over.rs).

use super::*;
use planner::{parse_job, plan_job};

fn plan(sql: &str, lateness: &str) -> FeaturePlan {
    let job = format!(
        "name: t\nsources:\n  - {{ name: s, connector: file, path: x, format: json, schema: {{ k: string, v: int, t: timestamp }}, event_time: t }}\nfeatures:\n  - name: f\n    allowed_lateness: {lateness}\n    sql: {sql}\nsinks:\n  - {{ name: o, connector: file, path: o.jsonl }}\n"
    );
    let job = parse_job(std::path::Path::new("t.yaml"), &job).unwrap();
    plan_job(&job).unwrap().physical.features.remove(0)
}

fn rec(key: &str, time: u64, v: i64) -> OverInput {
    OverInput {
        key: smallvec::smallvec![Value::Str(key.into())],
        time,
        // args: COUNT(*) (NULL), v; carried: k
        values: smallvec::smallvec![Value::Null, Value::Int(v), Value::Str(key.into())],
    }
}

/// State stays bounded on an unbounded stream: by the frame and lateness per key.
#[test]
fn state_is_bounded_by_frame_and_lateness_not_history() {
    for (sql, bound_per_key) in [
        ("SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY rowtime RANGE INTERVAL '1' MINUTE PRECEDING) AS n, SUM(v) OVER (PARTITION BY k ORDER BY rowtime RANGE INTERVAL '1' MINUTE PRECEDING) AS s FROM s", 6 * 3 + 2),
        ("SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY rowtime ROWS 4 PRECEDING) AS n, SUM(v) OVER (PARTITION BY k ORDER BY rowtime ROWS 4 PRECEDING) AS s FROM s", 5 + 6 * 2 + 2),
    ] {
        let p = plan(sql, "1m");
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let mut os = OverState::new(0, &p, policy);
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            let mut max_rows = 0;
            let mut emitted = 0;
            // One row per key every 10 s for 6 hours; the watermark trails by 30 s.
            for step in 0..2160u64 {
                let t = step * 10_000;
                for k in 0..10 {
                    os.insert(rec(&format!("k{k}"), t, step as i64), &mut dirty);
                }
                os.corrections(&mut dirty, &mut out);
                os.advance(t.saturating_sub(30_000), &mut out);
                emitted += out.len();
                out.clear();
                max_rows = max_rows.max(os.rows());
            }
            assert!(
                max_rows <= 10 * bound_per_key,
                "{policy:?} {sql}: {max_rows} rows held"
            );
            assert!(emitted > 10 * 2000, "{policy:?}: rows were emitted ({emitted})");
            os.advance(u64::MAX, &mut out);
            assert!(
                os.parts.is_empty() && os.timers.is_empty(),
                "{policy:?}: all state freed at the end"
            );
        }
    }
}

/// A late row is emitted at once and the emitted rows whose frame holds it are
/// corrected with revision + 1; nothing is emitted before its trigger.
#[test]
fn late_rows_correct_the_rows_whose_frame_holds_them() {
    let p = plan(
        "SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY rowtime RANGE INTERVAL '10' SECOND PRECEDING) AS n, SUM(v) OVER (PARTITION BY k ORDER BY rowtime RANGE INTERVAL '10' SECOND PRECEDING) AS s FROM s",
        "1m",
    );
    let mut os = OverState::new(0, &p, EmitPolicy::OnWatermark);
    let (mut dirty, mut out) = (Vec::new(), Vec::new());
    for (t, v) in [(1_000, 1), (5_000, 2), (20_000, 4)] {
        os.insert(rec("a", t, v), &mut dirty);
    }
    os.advance(5_000, &mut out);
    assert_eq!(out.len(), 1, "only the row at 1 s is due: {out:?}");
    os.advance(30_000, &mut out);
    let vals = end_revision_and_two_values(&mut out);
    assert_eq!(
        vals,
        vec![
            (1_000, 0, Value::Int(1), Value::Int(1)),
            (5_000, 0, Value::Int(2), Value::Int(3)),
            (20_000, 0, Value::Int(1), Value::Int(4)),
        ]
    );
    // Late row at 12 s: frames of 12 s..22 s hold it: its own row (with the row at 5 s
    // in its frame [2 s, 12 s]) and the row at 20 s.
    os.insert(rec("a", 12_000, 8), &mut dirty);
    os.corrections(&mut dirty, &mut out);
    let vals = end_revision_and_two_values(&mut out);
    assert_eq!(
        vals,
        vec![
            (12_000, 0, Value::Int(2), Value::Int(10)),
            (20_000, 1, Value::Int(2), Value::Int(12)),
        ]
    );
}

/// A record for `spec`'s aggregates and carried columns from the source row (k, v, t).
fn rec_for(spec: &OverSpec, key: &str, time: u64, v: &Value) -> OverInput {
    let src = vec![Value::Str(key.into()), v.clone(), Value::Ts(time as i64)];
    let mut values: Vals = spec
        .aggs
        .iter()
        .map(|a| a.arg.as_ref().map_or(Value::Null, |e| e.eval(&src)))
        .collect();
    values.extend(spec.carried.iter().map(|c| src[*c].clone()));
    OverInput {
        key: smallvec::smallvec![Value::Str(key.into())],
        time,
        values,
    }
}

/// Rows emitted in order (sliding frames; TOP and ARRAY_AGG slicing shared buffers)
/// and their corrections equal each row's aggregates computed from scratch over the
/// rows kept (on time when inserted), with integer values (exact sliding sums), NULLs,
/// late rows that reset the sliding frame, and evictions, in both modes.
#[test]
fn emitted_rows_equal_recomputation_from_scratch() {
    for frame in ["RANGE INTERVAL '20' SECOND PRECEDING", "ROWS 3 PRECEDING"] {
        let w = format!("OVER (PARTITION BY k ORDER BY rowtime {frame})");
        let sql = format!(
            "SELECT k, COUNT(*) {w} AS n, COUNT(v) {w} AS nv, SUM(v) {w} AS s, AVG(v) {w} AS a, MIN(v) {w} AS lo, MAX(v) {w} AS hi, TOP(3, v) {w} AS t3, ARRAY_AGG(v) {w} AS xs FROM s"
        );
        let p = plan(&sql, "30s");
        let spec = p.over().unwrap().clone();
        for policy in [EmitPolicy::OnWatermark, EmitPolicy::Final] {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = |m: u64| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) % m
            };
            // Distinct times 500 ms apart over 3 keys, arriving up to 40 s late.
            let mut events: Vec<(u64, u64, String, Value)> = (0..3000u64)
                .map(|i| {
                    let t = 100_000 + i * 500;
                    let key = format!("k{}", next(3));
                    let v = match next(10) {
                        0 => Value::Null,
                        x => Value::Int(x as i64 - 5),
                    };
                    (t + next(40_000), t, key, v)
                })
                .collect();
            events.sort();
            let mut os = OverState::new(0, &p, policy);
            let (mut dirty, mut out) = (Vec::new(), Vec::new());
            let mut kept: BTreeMap<String, Vec<(u64, Value)>> = BTreeMap::new();
            let mut last: BTreeMap<(String, i64), (u32, Vec<Value>)> = BTreeMap::new();
            let mut watermark = 0u64;
            let mut collect = |out: &mut Vec<FeatureRow>| {
                for r in out.drain(..) {
                    let k = format!("{}", r.key[0]);
                    let k = k.trim_matches('\'').to_string();
                    let e = last.entry((k, r.window_end)).or_insert((0, Vec::new()));
                    assert!(r.revision >= e.0, "revisions increase");
                    *e = (r.revision, r.values[1..].to_vec());
                }
            };
            for (n, (arrival, t, key, v)) in events.into_iter().enumerate() {
                if t + 1 + 30_000 > watermark {
                    os.insert(rec_for(&spec, &key, t, &v), &mut dirty);
                    kept.entry(key).or_default().push((t, v));
                    os.corrections(&mut dirty, &mut out);
                    collect(&mut out);
                }
                if n % 7 == 0 && arrival.saturating_sub(5_000) > watermark {
                    watermark = arrival - 5_000;
                    os.advance(watermark, &mut out);
                    collect(&mut out);
                }
            }
            os.advance(u64::MAX, &mut out);
            collect(&mut out);
            let mut expected = 0;
            for (key, rows) in &mut kept {
                rows.sort_by_key(|r| r.0);
                for (j, (t, _)) in rows.iter().enumerate() {
                    let lo = if frame.starts_with("RANGE") {
                        rows.partition_point(|r| r.0 + 20_000 < *t)
                    } else {
                        j.saturating_sub(3)
                    };
                    let f: Vec<&Value> = rows[lo..=j].iter().map(|r| &r.1).collect();
                    let ints: Vec<i64> = f.iter().filter_map(|v| v.as_i64()).collect();
                    let sum: i64 = ints.iter().sum();
                    let want = vec![
                        Value::Int(f.len() as i64),
                        Value::Int(ints.len() as i64),
                        if ints.is_empty() {
                            Value::Null
                        } else {
                            Value::Int(sum)
                        },
                        if ints.is_empty() {
                            Value::Null
                        } else {
                            Value::Float(sum as f64 / ints.len() as f64)
                        },
                        ints.iter().min().map_or(Value::Null, |m| Value::Int(*m)),
                        ints.iter().max().map_or(Value::Null, |m| Value::Int(*m)),
                        Value::List(
                            f[f.len().saturating_sub(3)..]
                                .iter()
                                .map(|v| (*v).clone())
                                .collect::<Vec<_>>()
                                .into(),
                        ),
                        Value::List(f.iter().map(|v| (*v).clone()).collect::<Vec<_>>().into()),
                    ];
                    let got = last.get(&(key.clone(), *t as i64));
                    assert_eq!(
                        got.map(|g| format!("{:?}", g.1)),
                        Some(format!("{want:?}")),
                        "{policy:?} {frame}: {key} at {t}"
                    );
                    expected += 1;
                }
            }
            assert_eq!(last.len(), expected, "{policy:?} {frame}: no other rows");
            assert!(expected > 2000, "most rows were on time: {expected}");
        }
    }
}

/// Drains `out` into (row time, revision, second value, third value) tuples.
fn end_revision_and_two_values(out: &mut Vec<FeatureRow>) -> Vec<(i64, u32, Value, Value)> {
    out.drain(..)
        .map(|r| {
            (
                r.window_end,
                r.revision,
                r.values[1].clone(),
                r.values[2].clone(),
            )
        })
        .collect()
}
