//! Times steps 3 and 4 over a scored frame decoded in memory
//! ([`customer_analysis::resident`]) against streaming it from its file.
//!
//! `cargo run --release -p customer-analysis --example perf_resident -- SCORED.parquet`
//! (a `scored_df` file from a store's `objects/`: the largest file there after
//! a `run`). Prints the best of 5 of each step both ways.

use std::time::Instant;

use customer_analysis::resident;
use customer_analysis::segment_scan;
use customer_analysis::transform::{self, Metric, SummaryStatistic};
use pipeline_core::frame;
use polars::prelude::*;

fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: perf_resident SCORED.parquet");
    let scan = frame::scan_parquet(path.as_ref()).unwrap();
    let start = Instant::now();
    let scored = frame::collect_streaming(scan.clone()).unwrap();
    println!("decode into memory: {:.3} s", start.elapsed().as_secs_f64());
    println!("chunks: {}", scored.first_col_n_chunks());
    let t = Instant::now();
    let mut n = 0usize;
    for c in scored.columns() {
        n += c.as_materialized_series().chunks().len();
    }
    println!("materialized {:?} {n}", t.elapsed());
    let segments = df!("ValueSegment" => ["High Value"], "TotalPurchaseAmount" => [1.0]).unwrap();
    let runs = 5;
    // `ONLY=median` (or another metric): step 3 from memory 20 times, nothing
    // else, for a profiler.
    if let Ok(only) = std::env::var("ONLY") {
        let metric: Metric = only.parse().unwrap();
        for _ in 0..20 {
            resident::segment_analysis(&scored, 1000.0, 1.5, metric).unwrap();
        }
        return;
    }
    for metric in [Metric::Mean, Metric::Median] {
        let memory = best(runs, || {
            resident::segment_analysis(&scored, 1000.0, 1.5, metric).unwrap();
        });
        let streamed = best(runs, || {
            let segmented = transform::featurization_and_segmentation(scan.clone(), 1000.0, 1.5);
            if metric == Metric::Median {
                transform::segment_medians_by_rule(segmented, transform::scores_high_value(1.5))
                    .unwrap();
            } else {
                segment_scan::segment_analysis_folded(scan.clone(), 1000.0, 1.5, metric).unwrap();
            }
        });
        println!("step 3 {metric}: memory {memory:.3} s, streamed {streamed:.3} s");
    }
    for stat in [SummaryStatistic::Median, SummaryStatistic::Max] {
        let memory = best(runs, || {
            resident::high_value_summary(&scored, 1.5, segments.clone().lazy(), stat).unwrap();
        });
        let streamed = best(runs, || {
            let high = scan.clone().filter(transform::scores_high_value(1.5));
            transform::high_value_summary_executed(high, segments.clone().lazy(), stat).unwrap();
        });
        println!("step 4 {stat}: memory {memory:.3} s, streamed {streamed:.3} s");
    }
}
