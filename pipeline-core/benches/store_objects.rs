//! What keeping a store's values in an object store costs
//! (`SqliteOptions::object_store`; numbers in BENCHMARKS.md):
//!
//! - `submit/<N>x<S>/<where>`: a submission of N independent tasks, each
//!   writing a new value of S bytes (a file: larger than the inline limit),
//!   with values only in local files, also in a directory object store, and
//!   also in an S3 server (`moto_server` on 127.0.0.1, started here; skipped
//!   with the reason when moto is not installed: `.ci/s3.sh start`);
//! - `refetch/<N>x<S>/<where>`: after `evict_local`, a new runtime reading
//!   the N values back (fetched, checked against their content hash, read).
//!
//! Each iteration runs on a fresh scenario, deleted (and its values
//! collected, in the object store too) afterwards, so every value is new.
//!
//! `cargo bench -p pipeline-core --features s3 --bench store_objects`

#[path = "../tests/remote_support/mod.rs"]
mod remote_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::objects::{ObjectStore, ObjectStoreOptions};
use pipeline_core::store::SqliteOptions;
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};
use remote_support::S3Server;

/// seed → make_i → v_i for i < `count`: each value `size` bytes, distinct
/// per seed and i.
fn values_graph(count: usize, size: usize) -> Graph {
    let mut builder =
        GraphBuilder::new("values").node(NodeSpec::new::<u64>("seed").with_default(0));
    for i in 0..count {
        let node = format!("v{i}");
        builder = builder.node(NodeSpec::new::<Vec<u8>>(node.as_str())).task(
            TaskSpec::new(TaskDef::from_fn1(
                &format!("make{i}"),
                "1",
                move |seed: &u64| {
                    let mut bytes = vec![(i % 251) as u8; size];
                    bytes[..8].copy_from_slice(&seed.to_le_bytes());
                    bytes[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                    bytes
                },
            ))
            .inputs(["seed"])
            .outputs([node.as_str()])
            .skippable(true),
        );
    }
    builder.build().unwrap()
}

/// Where the values go besides local files.
enum Values {
    Local,
    Objects(ObjectStore),
}

impl Values {
    fn options(&self) -> SqliteOptions {
        let options = SqliteOptions::new().quiet(true);
        match self {
            Values::Local => options,
            Values::Objects(store) => options.object_store(store.clone()),
        }
    }
}

fn bench_store(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    values: &Values,
    graph: &Arc<Graph>,
) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open_with(dir.path(), values.options()).unwrap();
    let mut round = 0u64;
    let mut fresh = |runtime: &Runtime| {
        round += 1;
        let scenario = runtime
            .create_scenario(graph.clone(), &format!("s{round}"))
            .unwrap();
        scenario.node::<u64>("seed").unwrap().write(round).unwrap();
        scenario
    };
    let clean = |runtime: &Runtime, scenario: pipeline_core::Scenario| {
        runtime.store().delete_scenario(scenario.id()).unwrap();
        runtime.gc().unwrap();
    };
    group.bench_function(format!("submit/{label}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let scenario = fresh(&runtime);
                let start = Instant::now();
                let submission = scenario.submit().unwrap();
                spent += start.elapsed();
                assert!(submission.tasks_with(JobStatus::Failed).is_empty());
                clean(&runtime, scenario);
            }
            spent
        })
    });
    let Values::Objects(_) = values else {
        return;
    };
    group.bench_function(format!("refetch/{label}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let scenario = fresh(&runtime);
                scenario.submit().unwrap().into_result().unwrap();
                runtime.evict_local().unwrap();
                let start = Instant::now();
                read_all(dir.path(), values, graph, scenario.name());
                spent += start.elapsed();
                clean(&runtime, scenario);
            }
            spent
        })
    });
}

/// A new runtime reads every value of scenario `name`.
fn read_all(dir: &Path, values: &Values, graph: &Arc<Graph>, name: &str) {
    let runtime = Runtime::open_with(dir, values.options()).unwrap();
    let scenario = runtime.find_scenario(graph.clone(), name).unwrap().unwrap();
    for spec in graph.nodes().iter().filter(|n| n.name() != "seed") {
        let value = scenario
            .node::<Vec<u8>>(spec.name())
            .unwrap()
            .read()
            .unwrap();
        std::hint::black_box(value);
    }
}

fn store_objects(c: &mut Criterion) {
    let buckets = tempfile::tempdir().unwrap();
    let server = S3Server::start()
        .inspect_err(|reason| eprintln!("store_objects bench: s3 part skipped: needs {reason}"))
        .ok();
    for (count, size) in [(16, 64 << 10), (8, 4 << 20)] {
        let graph = Arc::new(values_graph(count, size));
        let shape = format!("{count}x{}KiB", size >> 10);
        let mut group = c.benchmark_group(format!("store_objects/{shape}"));
        group.throughput(Throughput::Bytes((count * size) as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        bench_store(&mut group, "local", &Values::Local, &graph);
        let directory = buckets.path().join(&shape);
        let directory = ObjectStore::open(directory.to_str().unwrap()).unwrap();
        bench_store(&mut group, "directory", &Values::Objects(directory), &graph);
        if let Some(server) = &server {
            let bucket = format!("bench{}", count);
            server.create_bucket(&bucket);
            let options = ObjectStoreOptions::default()
                .with_s3_setting("aws_endpoint", server.endpoint())
                .with_s3_setting("aws_allow_http", "true")
                .with_s3_setting("aws_access_key_id", "test")
                .with_s3_setting("aws_secret_access_key", "test")
                .with_s3_setting("aws_region", "us-east-1");
            let url = format!("s3://{bucket}/values").parse().unwrap();
            let s3 = ObjectStore::open_with(url, options).unwrap();
            bench_store(&mut group, "s3_moto_loopback", &Values::Objects(s3), &graph);
        }
        group.finish();
    }
}

criterion_group!(benches, store_objects);
criterion_main!(benches);
