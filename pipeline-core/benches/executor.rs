//! Executor overhead: skipping and running synthetic graphs.
//!
//! `cargo bench -p pipeline-core --bench executor`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::Runtime;
use pipeline_core::synthetic::{Shape, four_tasks, graph};

fn resubmit_four_tasks(c: &mut Criterion) {
    let scenario = Runtime::in_memory()
        .create_scenario(four_tasks(), "s")
        .unwrap();
    scenario.submit().unwrap();
    c.bench_function("resubmit_4_tasks_all_skipped", |b| {
        b.iter(|| black_box(scenario.submit().unwrap()))
    });
}

fn synthetic(c: &mut Criterion) {
    for shape in [Shape::Chain, Shape::FanOutFanIn] {
        let mut group = c.benchmark_group(format!("{shape:?}"));
        group.sample_size(10);
        for tasks in [1_000usize, 10_000, 100_000] {
            let graph = Arc::new(graph(shape, tasks));
            let scenario = Runtime::in_memory()
                .create_scenario(graph.clone(), "s")
                .unwrap();
            scenario.submit().unwrap();
            group.throughput(Throughput::Elements(tasks as u64));
            group.bench_with_input(BenchmarkId::new("skip_all", tasks), &tasks, |b, _| {
                b.iter(|| black_box(scenario.submit().unwrap()))
            });
            group.bench_with_input(BenchmarkId::new("run_all_forced", tasks), &tasks, |b, _| {
                b.iter(|| black_box(scenario.submit_forced().unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, resubmit_four_tasks, synthetic);
criterion_main!(benches);
