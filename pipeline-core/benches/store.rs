//! The embedded store's costs:
//!
//! - `new_process_skips_4_tasks`: what a new process pays to open the store,
//!   find a 4-task scenario and decide that every task is skipped (target:
//!   ≤ 10 ms), next to the same decision by a warm in-memory runtime;
//! - `first_submit_10k/{memory,sqlite}`: running and recording a submission of
//!   10,000 trivial tasks (target: the store adds ≤ 50 ms over memory);
//!   `sqlite_until_closed` also counts closing the store afterwards, which
//!   folds the journal into the indexed tables and checkpoints the log (work
//!   a long-running process does in the background once the submission is
//!   recorded);
//! - `resubmit_10k_skipped/{memory,sqlite}`: deciding that 10,000 tasks are all
//!   skipped again, including the store's refresh of the scenario's versions.
//!
//! `cargo bench -p pipeline-core --bench store`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline_core::graph::Graph;
use pipeline_core::store::SqliteOptions;
use pipeline_core::synthetic::{Shape, four_tasks, graph};
use pipeline_core::{JobStatus, Runtime};

fn options() -> SqliteOptions {
    SqliteOptions::new().quiet(true)
}

fn new_process_skips_4_tasks(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let graph = Arc::new(four_tasks());
    {
        let runtime = Runtime::open_with(dir.path(), options()).unwrap();
        runtime
            .create_scenario(graph.clone(), "s")
            .unwrap()
            .submit()
            .unwrap();
    }
    let mut group = c.benchmark_group("new_process_skips_4_tasks");
    group.bench_function("sqlite_open_find_submit", |b| {
        b.iter(|| {
            let runtime = Runtime::open_with(dir.path(), options()).unwrap();
            let scenario = runtime.find_scenario(graph.clone(), "s").unwrap().unwrap();
            let submission = scenario.submit().unwrap();
            assert_eq!(submission.tasks_with(JobStatus::Skipped).len(), 4);
            black_box(submission)
        })
    });
    let warm = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    warm.submit().unwrap();
    group.bench_function("memory_warm_submit", |b| {
        b.iter(|| black_box(warm.submit().unwrap()))
    });
    group.finish();
}

/// Times `submit` (and, if `until_closed`, dropping the runtime after it): a
/// fresh runtime and scenario per iteration.
fn time_first_submits(
    graph: &Arc<Graph>,
    sqlite: bool,
    until_closed: bool,
    iterations: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let dir = tempfile::tempdir().unwrap();
        let runtime = if sqlite {
            Runtime::open_with(dir.path(), options()).unwrap()
        } else {
            Runtime::in_memory()
        };
        let scenario = runtime.create_scenario(graph.clone(), "s").unwrap();
        let start = Instant::now();
        let submission = scenario.submit().unwrap();
        let submitted = start.elapsed();
        assert!(submission.is_success());
        drop(submission);
        drop(scenario);
        drop(runtime);
        total += if until_closed {
            start.elapsed()
        } else {
            submitted
        };
    }
    total
}

fn first_submit_10k(c: &mut Criterion) {
    for shape in [Shape::Chain, Shape::FanOutFanIn] {
        let graph = Arc::new(graph(shape, 10_000));
        let mut group = c.benchmark_group(format!("first_submit_10k_{shape:?}"));
        group.sample_size(10);
        group.bench_function("memory", |b| {
            b.iter_custom(|n| time_first_submits(&graph, false, false, n))
        });
        group.bench_function("sqlite", |b| {
            b.iter_custom(|n| time_first_submits(&graph, true, false, n))
        });
        group.bench_function("sqlite_until_closed", |b| {
            b.iter_custom(|n| time_first_submits(&graph, true, true, n))
        });
        group.finish();
    }
}

fn resubmit_10k_skipped(c: &mut Criterion) {
    let graph = Arc::new(graph(Shape::Chain, 10_000));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Runtime::open_with(dir.path(), options())
        .unwrap()
        .create_scenario(graph.clone(), "s")
        .unwrap();
    sqlite.submit().unwrap();
    let memory = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    memory.submit().unwrap();
    let mut group = c.benchmark_group("resubmit_10k_skipped");
    group.sample_size(10);
    group.bench_function("memory", |b| b.iter(|| black_box(memory.submit().unwrap())));
    group.bench_function("sqlite", |b| b.iter(|| black_box(sqlite.submit().unwrap())));
    group.finish();
}

criterion_group!(
    benches,
    new_process_skips_4_tasks,
    first_submit_10k,
    resubmit_10k_skipped
);
criterion_main!(benches);
