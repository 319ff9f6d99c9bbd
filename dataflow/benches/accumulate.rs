//! Aggregate state per pane: adding records and merging panes into windows (a 30-minute
//! window sliding every minute merges up to 30 panes per emitted row).
//!
//! `cargo bench -p freshet-dataflow --bench accumulate`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use dataflow::accumulator::Acc;
use planner::aggregate::AggFunc;
use planner::types::{DataType, Value};

fn bench(c: &mut Criterion) {
    let values: Vec<Value> = (0..100_000)
        .map(|i| Value::Float((i % 977) as f64 * 0.25))
        .collect();
    let mut g = c.benchmark_group("accumulate");
    g.throughput(Throughput::Elements(values.len() as u64));
    for (name, func, ty) in [
        ("count_star", AggFunc::CountStar, DataType::Int),
        ("sum_float", AggFunc::Sum, DataType::Float),
        ("avg", AggFunc::Avg, DataType::Float),
        ("max", AggFunc::Max, DataType::Float),
        ("count_distinct", AggFunc::CountDistinct, DataType::Int),
    ] {
        g.bench_function(format!("add_{name}"), |b| {
            b.iter(|| {
                let mut acc = Acc::new(func, ty);
                for v in &values {
                    acc.add(v, func == AggFunc::CountStar);
                }
                std::hint::black_box(acc.value())
            })
        });
    }
    g.finish();

    // Merging 30 one-minute panes into a 30-minute window value.
    let panes: Vec<Acc> = (0..30)
        .map(|p| {
            let mut a = Acc::new(AggFunc::Sum, DataType::Float);
            for v in &values[p * 100..(p + 1) * 100] {
                a.add(v, false);
            }
            a
        })
        .collect();
    let mut g = c.benchmark_group("window_from_panes");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sum_merge_30_panes", |b| {
        b.iter(|| {
            let mut w = panes[0].clone();
            for p in &panes[1..] {
                w.merge(p);
            }
            std::hint::black_box(w.value())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
