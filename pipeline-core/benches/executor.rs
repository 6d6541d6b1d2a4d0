//! Executor overhead: skipping and running synthetic graphs, and checking
//! unchanged external files.
//!
//! `cargo bench -p pipeline-core --bench executor`

use std::hint::black_box;
use std::sync::Arc;

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::file_state::FileStates;
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::synthetic::{Shape, four_tasks, graph};
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};

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

/// 1,000 unchanged files: checking them (one `stat` each, no hash), and a
/// resubmit of 1,000 tasks each reading one (the checks and the decisions).
fn unchanged_files(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..1_000)
        .map(|i| {
            let path = dir.path().join(format!("f{i}.csv"));
            std::fs::write(&path, format!("a,b\n{i},{i}\n")).unwrap();
            path
        })
        .collect();
    // Past the stat cache's racy window, as files written earlier would be.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let files = FileStates::new();
    for path in &paths {
        files.digest(path, None);
    }
    let mut group = c.benchmark_group("unchanged_files_1000");
    // The floor: the `stat` calls alone.
    group.bench_function("bare_stat", |b| {
        b.iter(|| {
            for path in &paths {
                black_box(std::fs::metadata(path).unwrap());
            }
        })
    });
    group.bench_function("check", |b| {
        b.iter(|| {
            for path in &paths {
                black_box(files.digest(path, None));
            }
        })
    });
    let read = TaskDef::from_fn1("read", "1", |p: &PathBuf| p.as_os_str().len() as u64);
    let mut builder = GraphBuilder::new("files");
    for (i, path) in paths.iter().enumerate() {
        builder = builder
            .node(NodeSpec::new::<PathBuf>(format!("p{i}")).with_default(path.clone()))
            .node(NodeSpec::new::<u64>(format!("n{i}")))
            .task(
                TaskSpec::new(read.clone().renamed(format!("t{i}")))
                    .inputs([format!("p{i}")])
                    .outputs([format!("n{i}")])
                    .skippable(true),
            );
    }
    let runtime = Runtime::in_memory();
    let scenario = runtime
        .create_scenario(builder.build().unwrap(), "s")
        .unwrap();
    scenario.submit().unwrap();
    group.bench_function("resubmit_all_skipped", |b| {
        b.iter(|| black_box(scenario.submit().unwrap()))
    });
    assert_eq!(
        scenario
            .submit()
            .unwrap()
            .tasks_with(JobStatus::Skipped)
            .len(),
        1_000
    );
    group.finish();
}

criterion_group!(benches, resubmit_four_tasks, synthetic, unchanged_files);
criterion_main!(benches);
