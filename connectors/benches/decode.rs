//! Record decoding, the cost that dominates end-to-end throughput: the schema-driven fast
//! path, the general serde path it falls back to, and a serde_json::Value baseline.
//!
//! `cargo bench -p freshet-connectors --bench decode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use connectors::format::json::JsonDecoder;
use connectors::Decoder;
use planner::job::{Column, Format, OnError, Source, SourceConnector};
use planner::types::{DataType, Value};
use planner::SourcePlan;

fn plan(format: Format, needed: &[bool]) -> SourcePlan {
    let col = |name: &str, ty| Column {
        name: name.into(),
        ty,
        required: false,
    };
    SourcePlan {
        source: Source {
            name: "event_user_action".into(),
            connector: SourceConnector::File { path: "x".into() },
            format,
            columns: vec![
                col("event_id", DataType::String),
                col("user_id", DataType::String),
                col("geohash", DataType::String),
                col("action", DataType::String),
                col("fare", DataType::Float),
                col("event_time", DataType::Timestamp),
            ],
            event_time: 5,
            watermark_delay_ms: 0,
            on_error: OnError::DeadLetter,
            format_options: Default::default(),
            bounded: false,
        },
        needed: needed.to_vec(),
    }
}

fn lines() -> Vec<String> {
    (0..10_000)
        .map(|i| {
            format!(
                r#"{{"event_id":"e{i:09}","user_id":"u{:07}","geohash":"9q8{:03}","action":"request_ride","fare":{}.25,"event_time":{}}}"#,
                i * 7919 % 200_000,
                i % 997,
                i % 80,
                1_767_225_600_000i64 + i as i64 * 500
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("decode_10k_events");
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut row = vec![Value::Null; 6];

    let p = plan(Format::Json, &[false, true, true, true, false, true]);
    let mut fast = Decoder::new(&p).unwrap();
    g.bench_function("json_fast_path_4_of_6_columns", |b| {
        b.iter(|| {
            for l in &lines {
                fast.decode(l.as_bytes(), &mut row).unwrap();
            }
        })
    });
    let mut general = JsonDecoder::new(&p);
    g.bench_function("json_general_serde_path_4_of_6_columns", |b| {
        b.iter(|| {
            for l in &lines {
                general.decode_general(l.as_bytes(), &mut row).unwrap();
            }
        })
    });
    g.bench_function("serde_json_value_baseline", |b| {
        b.iter(|| {
            for l in &lines {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                std::hint::black_box(v);
            }
        })
    });

    let csv: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{},{},{},{},{},{}",
                v["event_id"].as_str().unwrap(),
                v["user_id"].as_str().unwrap(),
                v["geohash"].as_str().unwrap(),
                v["action"].as_str().unwrap(),
                v["fare"],
                v["event_time"]
            )
        })
        .collect();
    let mut dec =
        Decoder::new(&plan(Format::Csv, &[false, true, true, true, false, true])).unwrap();
    let problems = dec.set_header(b"event_id,user_id,geohash,action,fare,event_time");
    assert!(problems.is_empty(), "{problems:?}");
    g.bench_function("csv_4_of_6_columns", |b| {
        b.iter(|| {
            for l in &csv {
                dec.decode(l.as_bytes(), &mut row).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
