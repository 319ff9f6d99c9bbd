//! Encoding feature rows as JSON lines and as Parquet (the file sink's per-row work: a HOP
//! feature writes a row per key per slide, 14.8M rows for the 10M-event benchmark).
//!
//! `cargo bench -p freshet-dataflow --bench encode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smallvec::smallvec;

use connectors::file::parquet::{ParquetFile, ParquetRows};
use dataflow::operators::sink::RowEncoder;
use dataflow::record::FeatureRow;
use planner::types::Value;

const JOB: &str = "name: b\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { user_id: string, t: timestamp }, event_time: t }\nfeatures:\n  - name: hop\n    sql: SELECT user_id, COUNT(*) AS rides FROM s GROUP BY user_id, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES)\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";

fn bench(c: &mut Criterion) {
    let job = planner::parse_job(std::path::Path::new("b.yaml"), JOB).expect("job");
    let plan = planner::plan_job(&job).expect("plan").physical;
    // Rows as a HOP firing emits them: many keys, one window end, then the next.
    let rows: Vec<FeatureRow> = (0..10_000u32)
        .map(|i| {
            let key = Value::Str(format!("u{:07}", (i * 7919) % 200_000).into());
            let end = 1_767_225_660_000 + i64::from(i / 2000) * 60_000;
            FeatureRow {
                feature: 0,
                window_start: end - 1_800_000,
                window_end: end,
                revision: 0,
                values: smallvec![key.clone(), Value::Int(i64::from(i % 3000))],
                key: smallvec![key],
                deleted: false,
            }
        })
        .collect();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(rows.len() as u64));
    let mut encoder = RowEncoder::new(&plan);
    let mut out = Vec::with_capacity(2 << 20);
    g.bench_function("hop_rows", |b| {
        b.iter(|| {
            out.clear();
            for r in &rows {
                encoder.encode(&mut out, r);
            }
            std::hint::black_box(out.len())
        })
    });
    // The same rows as a Parquet file: arrow builders on this thread, the parquet crate's
    // encoding on the writer thread, and the file's footer (a file per iteration).
    let parquet_job = JOB.replace("path: o.jsonl }", "path: o.parquet, format: parquet }");
    let job = planner::parse_job(std::path::Path::new("b.yaml"), &parquet_job).expect("job");
    let plan = planner::plan_job(&job).expect("plan").physical;
    let table = planner::SinkTable::of(&plan, 0).expect("table");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("o.parquet");
    g.bench_function("hop_rows_parquet", |b| {
        b.iter(|| {
            let rows_out = ParquetRows::new(&plan, &table);
            let mut file = ParquetFile::create(&path, rows_out).expect("parquet file");
            for r in &rows {
                let tail = (r.window_start, r.window_end, r.revision, r.deleted);
                file.rows()
                    .push(r.feature, r.values.iter(), tail)
                    .expect("typed");
                file.commit().expect("written");
            }
            file.finish().expect("finished");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
