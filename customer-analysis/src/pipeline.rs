//! The seed pipeline as a scenario: four skippable tasks over typed data nodes.
//!
//! Each data frame has its own newtype, so wiring one frame where another is
//! expected (the seed tutorial's Task 4 swaps `segment_result` and
//! `segmented_customer_df`) does not compile.

use std::path::{Path, PathBuf};

use pipeline_core::{scenario, serde_value, task};
use polars::prelude::IntoLazy;

pub use crate::frames::{HighValueSummary, ScoredDf, SegmentResult, SegmentedDf};
use crate::transform::{Metric, SummaryStatistic, TransformError};

serde_value!(Metric, SummaryStatistic);

/// A parameter node holds a value the pipeline cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// A threshold that is negative, infinite or NaN.
    #[error(
        "data node `{node}` must be a finite number >= 0, not {value}; set it with --set {node}=<number>"
    )]
    InvalidThreshold {
        /// The node.
        node: &'static str,
        /// Its value.
        value: f64,
    },
}

/// Checks a threshold node's value.
pub fn check_threshold(node: &'static str, value: f64) -> Result<f64, InputError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InputError::InvalidThreshold { node, value })
    }
}

/// Task 1: scans the CSV lazily and scores each customer.
#[task(skippable)]
pub fn preprocess_and_score(path_to_data: &Path) -> Result<ScoredDf, TransformError> {
    ScoredDf::from_csv(path_to_data)
}

/// Task 2: adds features and the High/Low Value segment.
#[task(skippable)]
pub fn featurization_and_segmentation(
    scored_df: &ScoredDf,
    payment_threshold: &f64,
    score_threshold: &f64,
) -> Result<SegmentedDf, InputError> {
    check_threshold("payment_threshold", *payment_threshold)?;
    check_threshold("score_threshold", *score_threshold)?;
    Ok(SegmentedDf::new(
        scored_df,
        *payment_threshold,
        *score_threshold,
    ))
}

/// Task 3: the metric of every measure per segment.
#[task(skippable)]
pub fn segment_analysis(
    segmented_customer_df: &SegmentedDf,
    metric: &Metric,
) -> Result<SegmentResult, TransformError> {
    let result = segmented_customer_df
        .segment_analysis(*metric)
        .map_err(|error| TransformError::Query {
            step: "segment_analysis",
            error,
        })?;
    Ok(SegmentResult(result.lazy()))
}

/// Task 4: the High Value segment's summary (wired as the function means it).
#[task(skippable)]
pub fn high_value_cust_summary_statistics(
    segmented_customer_df: &SegmentedDf,
    segment_result: &SegmentResult,
    summary_statistic_type: &SummaryStatistic,
) -> Result<HighValueSummary, TransformError> {
    let summary = segmented_customer_df
        .high_value_summary(segment_result.0.clone(), *summary_statistic_type)
        .map_err(|error| TransformError::Query {
            step: "high_value_cust_summary_statistics",
            error,
        })?;
    Ok(HighValueSummary(summary.lazy()))
}

/// The node types of this pipeline that a TOML configuration may give
/// defaults for (`metric = "median"`), besides the built-in scalars.
pub fn config_types() -> pipeline_core::config::TypeRegistry {
    pipeline_core::config::TypeRegistry::with_builtins()
        .with_from_str::<Metric>()
        .with_from_str::<SummaryStatistic>()
}

/// The sample CSV shipped in `data/`, relative to the workspace root.
pub const SAMPLE_DATA: &str = "data/SMALL_amazon_customers_data.csv";

scenario! {
    /// The seed tutorial's customer analysis: score, segment, analyse, summarize.
    pub struct CustomerAnalysis {
        data {
            /// The customer CSV.
            path_to_data: PathBuf = PathBuf::from(SAMPLE_DATA),
            /// Customers spending more than this are `HighSpender`s.
            payment_threshold: f64 = 1000.0,
            /// Customers scoring more than this are "High Value".
            score_threshold: f64 = 1.5,
            /// The per-segment statistic of `segment_analysis`.
            metric: Metric = Metric::Mean,
            /// The High Value summary's statistic.
            summary_statistic_type: SummaryStatistic = SummaryStatistic::Median,
            scored_df: ScoredDf,
            segmented_customer_df: SegmentedDf,
            segment_result: SegmentResult,
            high_value_summary_df: HighValueSummary,
        }
        tasks {
            preprocess_and_score(path_to_data) -> scored_df,
            featurization_and_segmentation(scored_df, payment_threshold, score_threshold) -> segmented_customer_df,
            segment_analysis(segmented_customer_df, metric) -> segment_result,
            high_value_cust_summary_statistics(segmented_customer_df, segment_result, summary_statistic_type) -> high_value_summary_df,
        }
        sequences {
            /// Scoring and segmentation only.
            scoring = [preprocess_and_score, featurization_and_segmentation],
        }
    }
}
