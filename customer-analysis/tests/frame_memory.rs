//! Frames kept decoded between tasks (`pipeline_core::frame::memory`), in one
//! process: Task 1 keeps the scored frame it writes, and a budget of 0 keeps
//! nothing; the results are the same either way.
//!
//! One test only: the budget is the process's.

use std::path::{Path, PathBuf};

use customer_analysis::pipeline::CustomerAnalysis;
use customer_analysis::transform::Metric;
use pipeline_core::Runtime;
use pipeline_core::frame::{collect_streaming, memory};
use polars::prelude::*;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv")
}

/// Runs the scenario with `metric` on a fresh store; returns the segment
/// result and the summary, and whether the scored frame was kept decoded.
fn run(metric: Metric) -> (DataFrame, DataFrame, bool) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path().join("store")).unwrap();
    let scenario = CustomerAnalysis::create(&runtime, "memory").unwrap();
    scenario.path_to_data().write(sample()).unwrap();
    scenario.metric().write(metric).unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let scored = scenario.scored_df().read().unwrap();
    let name = scored.stored().expect("the scored frame is stored");
    let kept = memory::get(&name).is_some_and(|frame| frame.height() == 10_000);
    let segments = collect_streaming(scenario.segment_result().read().unwrap().0.clone()).unwrap();
    let summary =
        collect_streaming(scenario.high_value_summary_df().read().unwrap().0.clone()).unwrap();
    (segments, summary, kept)
}

fn assert_close(a: &DataFrame, b: &DataFrame) {
    assert_eq!(a.schema(), b.schema());
    assert_eq!(a.height(), b.height());
    for (x, y) in a.columns().iter().zip(b.columns()) {
        if x.dtype() == &DataType::Float64 {
            for (x, y) in x.f64().unwrap().iter().zip(y.f64().unwrap().iter()) {
                let (x, y) = (x.unwrap(), y.unwrap());
                assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{x} vs {y}");
            }
        } else {
            assert!(x.equals_missing(y), "{x:?} vs {y:?}");
        }
    }
}

#[test]
fn task_1_keeps_the_scored_frame_within_the_budget_and_results_do_not_depend_on_it() {
    for metric in [Metric::Median, Metric::Mean] {
        memory::set_budget(memory::DEFAULT_BUDGET);
        let (segments, summary, kept) = run(metric);
        assert!(kept, "Task 1 keeps the 10,000 scored rows decoded");
        assert!(memory::held() > 0);

        memory::set_budget(0);
        assert_eq!(memory::held(), 0, "a budget of 0 drops what was kept");
        let (streamed_segments, streamed_summary, kept) = run(metric);
        assert!(!kept, "a budget of 0 keeps nothing");
        assert_eq!(memory::held(), 0);
        assert_close(&segments, &streamed_segments);
        assert_close(&summary, &streamed_summary);

        // A budget smaller than the frame keeps nothing either.
        memory::set_budget(100_000);
        assert!(!run(metric).2, "a frame over the budget is not kept");
    }
    memory::set_budget(memory::DEFAULT_BUDGET);
}
