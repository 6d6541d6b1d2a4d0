//! The demo pipeline on a 1M-row CSV generated here (quoted names and extra
//! columns: `CsvShape::MESSY`): a full run, the work left after each kind of
//! change (what the skip rule lets run), and an unchanged re-submit, all in
//! one process (frames kept in memory between tasks).
//!
//! `cargo bench -p customer-analysis --bench pipeline`

use std::hint::black_box;
use std::io::BufWriter;

use criterion::{Criterion, criterion_group, criterion_main};
use customer_analysis::generate::{CsvShape, generate_csv_shaped};
use customer_analysis::pipeline::{CustomerAnalysis, CustomerAnalysisTask};
use pipeline_core::{Runtime, SubmitOptions, Target};

const ROWS: u64 = 1_000_000;

/// Forces `tasks` in order, as a submission after the matching change would run them.
fn run_tasks(scenario: &CustomerAnalysis, tasks: &[CustomerAnalysisTask]) {
    for task in tasks {
        let options = SubmitOptions::new()
            .force(true)
            .target(Target::Task(task.name().to_owned()));
        let submission = scenario.submit_with(&options).unwrap();
        assert!(submission.is_success());
        black_box(submission);
    }
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    let mut out = BufWriter::new(std::fs::File::create(&csv).unwrap());
    generate_csv_shaped(ROWS, 42, CsvShape::MESSY, &mut out).unwrap();
    drop(out);

    let runtime = Runtime::open(dir.path().join("store")).unwrap();
    let scenario = CustomerAnalysis::create(&runtime, "bench").unwrap();
    scenario.path_to_data().write(csv).unwrap();
    scenario.submit().unwrap().into_result().unwrap();

    use CustomerAnalysisTask::*;
    let mut group = c.benchmark_group("customer_analysis_1m_rows");
    group.sample_size(10);
    group.bench_function("full_run", |b| {
        b.iter(|| {
            let submission = scenario.submit_forced().unwrap();
            assert!(submission.is_success());
            black_box(submission)
        })
    });
    group.bench_function("after_payment_threshold_change", |b| {
        b.iter(|| {
            run_tasks(
                &scenario,
                &[
                    FeaturizationAndSegmentation,
                    SegmentAnalysis,
                    HighValueCustSummaryStatistics,
                ],
            )
        })
    });
    group.bench_function("after_metric_change", |b| {
        b.iter(|| {
            run_tasks(
                &scenario,
                &[SegmentAnalysis, HighValueCustSummaryStatistics],
            )
        })
    });
    group.bench_function("after_summary_change", |b| {
        b.iter(|| run_tasks(&scenario, &[HighValueCustSummaryStatistics]))
    });
    group.sample_size(100);
    group.bench_function("unchanged_resubmit", |b| {
        b.iter(|| black_box(scenario.submit().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
