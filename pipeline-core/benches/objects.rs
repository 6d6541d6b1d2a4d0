//! Object store throughput (docs/distributed.md): a 64 MiB file
//! uploaded with `put_file` (in 8 MiB parts, 4 in flight, then published by
//! a create-only copy) and fetched with `get_to_file` (streamed, hashed,
//! flushed), to a directory store and to an S3-compatible server
//! (`moto_server` on 127.0.0.1, started by the bench; that part is skipped,
//! with the reason, when moto is not installed: `.ci/s3.sh start`).
//!
//! These are the inputs of the paper estimate in docs/distributed.md: moto
//! is a Python server on loopback, so its numbers bound the client's
//! overhead from above, not a real S3 service's bandwidth.
//!
//! `cargo bench -p pipeline-core --features s3 --bench objects`

#[path = "../tests/remote_support/mod.rs"]
mod remote_support;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::objects::{ObjectStore, ObjectStoreOptions};
use remote_support::{S3Server, write_random_file};

const SIZE: u64 = 64 << 20;

fn transfers(c: &mut Criterion, label: &str, store: &ObjectStore, source: &Path) {
    let counter = AtomicU64::new(0);
    let back = source.with_extension("back");
    let mut group = c.benchmark_group(format!("objects_64MiB/{label}"));
    group.throughput(Throughput::Bytes(SIZE));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("put_file", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let name = format!("bench/{}.bin", counter.fetch_add(1, Ordering::Relaxed));
                let start = Instant::now();
                store.put_file(&name, source).unwrap();
                spent += start.elapsed();
                store.delete(&name).unwrap();
            }
            spent
        })
    });
    store.put_file("bench/read.bin", source).unwrap();
    group.bench_function("get_to_file", |b| {
        b.iter(|| store.get_to_file("bench/read.bin", &back).unwrap())
    });
    group.finish();
    store.delete("bench/read.bin").unwrap();
    let _ = std::fs::remove_file(back);
}

fn objects(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.bin");
    write_random_file(&source, SIZE, 3);

    let directory = dir.path().join("store");
    let location = directory.to_str().unwrap().parse().unwrap();
    let local = ObjectStore::open_with(location, ObjectStoreOptions::default()).unwrap();
    transfers(c, "directory", &local, &source);

    match S3Server::start() {
        Ok(server) => {
            server.create_bucket("bench");
            let options = ObjectStoreOptions::default()
                .with_s3_setting("aws_endpoint", server.endpoint())
                .with_s3_setting("aws_allow_http", "true")
                .with_s3_setting("aws_access_key_id", "test")
                .with_s3_setting("aws_secret_access_key", "test")
                .with_s3_setting("aws_region", "us-east-1");
            let s3 = ObjectStore::open_with("s3://bench".parse().unwrap(), options).unwrap();
            transfers(c, "s3_moto_loopback", &s3, &source);
        }
        Err(reason) => eprintln!("objects bench: s3 part skipped: needs {reason}"),
    }
}

criterion_group!(benches, objects);
criterion_main!(benches);
