//! Exact grouped medians over a frame in memory: the demo's `segment_analysis`
//! with `metric = median` (5 medians, 4 of floats and 1 of integers, one
//! value computed as a ratio, 2 groups from a `when/then` key, 10M rows),
//! by `grouped_medians` and by polars' own `median`.
//!
//! `cargo bench -p pipeline-core --features polars --bench medians`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline_core::frame::grouped_medians;
use polars::prelude::*;

const ROWS: usize = 10_000_000;

/// Deterministic pseudo-random columns shaped like the demo's customers.
fn customers() -> DataFrame {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut score = Vec::with_capacity(ROWS);
    let mut amount = Vec::with_capacity(ROWS);
    let mut purchases = Vec::with_capacity(ROWS);
    let mut time = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        score.push(next() * 100.0);
        amount.push((next() * 5000.0 * 100.0).round() / 100.0);
        purchases.push(1 + (next() * 50.0) as i64);
        time.push(next() * 600.0);
    }
    df!(
        "CUSTOMER_SCORE" => score,
        "PURCHASE_AMOUNT" => amount,
        "PURCHASES" => purchases,
        "TIME_SPENT" => time,
    )
    .unwrap()
}

/// The demo's segmented frame: the key and the ratio column, over the stored frame.
fn segmented(frame: &DataFrame) -> LazyFrame {
    frame.clone().lazy().with_columns([
        (col("TIME_SPENT") / col("PURCHASES").cast(DataType::Float64)).alias("AvgTime"),
        when(col("CUSTOMER_SCORE").gt(lit(50.0)))
            .then(lit("High Value"))
            .otherwise(lit("Low Value"))
            .alias("ValueSegment"),
    ])
}

const MEASURES: [&str; 5] = [
    "CUSTOMER_SCORE",
    "PURCHASE_AMOUNT",
    "PURCHASES",
    "TIME_SPENT",
    "AvgTime",
];

fn medians(c: &mut Criterion) {
    let frame = customers();
    let mut group = c.benchmark_group("medians_5x2_groups_10M_rows_in_memory");
    group.sample_size(10);
    let columns: Vec<Expr> = MEASURES.iter().map(|&m| col(m)).collect();
    group.bench_function("grouped_medians", |b| {
        b.iter(|| {
            black_box(grouped_medians(segmented(&frame), &[col("ValueSegment")], &columns).unwrap())
        })
    });
    group.bench_function("polars_median", |b| {
        b.iter(|| {
            black_box(
                segmented(&frame)
                    .group_by_stable([col("ValueSegment")])
                    .agg(
                        columns
                            .iter()
                            .map(|c| c.clone().median())
                            .collect::<Vec<_>>(),
                    )
                    .collect()
                    .unwrap(),
            )
        })
    });
    // The same with a null in every 17th row of the stored columns, as a
    // CSV with empty cells gives.
    let with_nulls = with_nulls(&frame);
    group.bench_function("grouped_medians_with_nulls", |b| {
        b.iter(|| {
            black_box(
                grouped_medians(segmented(&with_nulls), &[col("ValueSegment")], &columns).unwrap(),
            )
        })
    });
    group.finish();
}

/// `frame` with its measures null in every 17th row.
fn with_nulls(frame: &DataFrame) -> DataFrame {
    let stored = ["PURCHASE_AMOUNT", "PURCHASES", "TIME_SPENT"];
    frame
        .clone()
        .lazy()
        .with_row_index("row", None)
        .with_columns(stored.map(|name| {
            when((col("row") % lit(17)).eq(lit(0)))
                .then(lit(NULL))
                .otherwise(col(name))
                .alias(name)
        }))
        .collect()
        .unwrap()
        .drop("row")
        .unwrap()
}

criterion_group!(benches, medians);
criterion_main!(benches);
