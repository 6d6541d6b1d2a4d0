//! Executor overhead: skipping and running synthetic graphs.
//!
//! `cargo bench -p pipeline-core --bench executor`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::synthetic::{Shape, graph};
use pipeline_core::{GraphBuilder, NodeSpec, Runtime, TaskDef, TaskSpec};

/// The customer-analysis shape with trivial bodies: 4 chained-ish tasks.
fn four_task_graph() -> pipeline_core::Graph {
    GraphBuilder::new("four")
        .node(NodeSpec::new::<f64>("a").with_default(1.0))
        .node(NodeSpec::new::<f64>("p").with_default(1000.0))
        .node(NodeSpec::new::<f64>("m").with_default(2.0))
        .node(NodeSpec::new::<f64>("b"))
        .node(NodeSpec::new::<f64>("c"))
        .node(NodeSpec::new::<f64>("d"))
        .node(NodeSpec::new::<f64>("e"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("t1", "1", |a: &f64| a + 1.0))
                .inputs(["a"])
                .outputs(["b"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t2", "1", |b: &f64, p: &f64| b * p))
                .inputs(["b", "p"])
                .outputs(["c"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t3", "1", |c: &f64, m: &f64| c * m))
                .inputs(["c", "m"])
                .outputs(["d"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t4", "1", |c: &f64, d: &f64| c + d))
                .inputs(["c", "d"])
                .outputs(["e"])
                .skippable(true),
        )
        .build()
        .unwrap()
}

fn resubmit_four_tasks(c: &mut Criterion) {
    let scenario = Runtime::in_memory()
        .create_scenario(four_task_graph(), "s")
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
