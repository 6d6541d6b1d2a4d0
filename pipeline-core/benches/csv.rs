//! The parallel CSV reader (`frame::csv::read_csv_blocks`) against polars'
//! own CSV reader, on a generated 2M-row file shaped like the demo's messy
//! input: a quoted name holding a comma in every record, text columns before
//! and after the four numeric columns read.
//!
//! `cargo bench -p pipeline-core --features polars --bench csv`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pipeline_core::frame::csv::{CsvError, ReadOptions, read_csv_blocks, scan_csv};
use polars::prelude::*;

const ROWS: usize = 2_000_000;

/// The columns read, with their types.
fn wanted() -> [(&'static str, DataType); 4] {
    [
        ("TotalPurchaseAmount", DataType::Float64),
        ("NumberOfPurchases", DataType::Int64),
        ("TotalPurchaseTime", DataType::Float64),
        ("AverageReviewScore", DataType::Float64),
    ]
}

/// Writes the file: deterministic pseudo-random values.
fn write_customers(path: &Path) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    let names = [
        "Müller, Mary Jane",
        "Rossi, José",
        "Lee, Ann",
        "O'Brien, John",
    ];
    let countries = ["Germany", "India", "United States", "Japan"];
    let mut text = String::from(
        "CustomerID,Name,Age,Country,TotalPurchaseAmount,NumberOfPurchases,\
         TotalPurchaseTime,AverageReviewScore,Joined\n",
    );
    for id in 0..ROWS {
        writeln!(
            text,
            "{id},\"{}\",{},{},{}.{:02},{},{},{}.{},2021-{:02}-{:02}",
            names[next(4) as usize],
            18 + next(70),
            countries[next(4) as usize],
            next(5000),
            next(100),
            1 + next(99),
            next(1000),
            1 + next(4),
            next(10),
            1 + next(12),
            1 + next(28),
        )
        .unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customers.csv");
    write_customers(&path);
    let bytes = std::fs::metadata(&path).unwrap().len();
    let mut group = c.benchmark_group("csv");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("read_csv_blocks", |b| {
        b.iter(|| {
            let mut rows = 0;
            read_csv_blocks(&path, &wanted(), &ReadOptions::default(), |block| {
                rows += black_box(block).height();
                Ok::<(), CsvError>(())
            })
            .unwrap();
            assert_eq!(rows, ROWS);
        })
    });
    group.bench_function("polars", |b| {
        b.iter(|| {
            let frame = scan_csv(&path, &wanted())
                .unwrap()
                .select(wanted().map(|(name, _)| col(name)))
                .collect()
                .unwrap();
            assert_eq!(black_box(frame).height(), ROWS);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
