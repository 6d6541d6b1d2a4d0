//! The seed pipeline as a scenario: four skippable tasks over typed data nodes.
//!
//! Each data frame has its own newtype, so wiring one frame where another is
//! expected (the seed tutorial's Task 4 swaps `segment_result` and
//! `segmented_customer_df`) does not compile.

use std::path::{Path, PathBuf};

use pipeline_core::frame::{self, LazyFrame};
use pipeline_core::{
    MaterializeContext, Materialized, Value, ValueError, lazy_frame_value, scenario, serde_value,
    task,
};
use polars::prelude::IntoLazy;

use crate::ingest::ReadOptions;
use crate::transform::{self, Metric, SummaryStatistic, TransformError};

/// Scored customers: `CUSTOMER_SCORE`, `TotalPurchaseAmount`,
/// `NumberOfPurchases`, `TotalPurchaseTime`.
pub struct ScoredDf {
    frame: LazyFrame,
    /// The CSV the frame reads, while it is still a query over it. The
    /// executor then materializes it with the parallel reader
    /// ([`transform::preprocess_and_score_into`]) instead of running the query.
    source: Option<PathBuf>,
}

impl ScoredDf {
    /// The frame.
    pub fn frame(&self) -> &LazyFrame {
        &self.frame
    }
}

impl From<LazyFrame> for ScoredDf {
    fn from(frame: LazyFrame) -> Self {
        Self {
            frame,
            source: None,
        }
    }
}

impl Value for ScoredDf {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        self.frame.encode(out)
    }

    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        LazyFrame::decode(input).map(Self::from)
    }

    fn extension() -> &'static str {
        "parquet"
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        let done = match &self.source {
            Some(csv) => {
                transform::preprocess_and_score_into(csv, ctx.scratch_dir, &ReadOptions::default())
                    .map_err(|error| match error {
                        TransformError::Output { error, .. } => error,
                        other => ValueError::Materialize(other.to_string()),
                    })?
            }
            None => frame::materialize_lazy(self.frame, ctx.scratch_dir)?,
        };
        Ok(Materialized {
            value: Self::from(done.value),
            fingerprint: done.fingerprint,
            file: done.file,
        })
    }

    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        self.frame.write_file(path)
    }

    fn read_file(path: &Path) -> Result<Self, ValueError> {
        LazyFrame::read_file(path).map(Self::from)
    }
}

/// Scored customers with features and a `ValueSegment`.
pub struct SegmentedDf(pub LazyFrame);

/// Per `ValueSegment`: the chosen metric of each measure.
pub struct SegmentResult(pub LazyFrame);

/// One row summarizing the High Value segment.
pub struct HighValueSummary(pub LazyFrame);

lazy_frame_value!(SegmentedDf, SegmentResult, HighValueSummary);
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
    let frame = transform::preprocess_and_score(path_to_data)?;
    Ok(ScoredDf {
        frame,
        source: Some(path_to_data.to_path_buf()),
    })
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
    Ok(SegmentedDf(transform::featurization_and_segmentation(
        scored_df.frame.clone(),
        *payment_threshold,
        *score_threshold,
    )))
}

/// Task 3: the metric of every measure per segment.
#[task(skippable)]
pub fn segment_analysis(
    segmented_customer_df: &SegmentedDf,
    metric: &Metric,
) -> Result<SegmentResult, TransformError> {
    let result = transform::segment_analysis_executed(segmented_customer_df.0.clone(), *metric)
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
    let summary = transform::high_value_cust_summary_statistics_executed(
        segmented_customer_df.0.clone(),
        segment_result.0.clone(),
        *summary_statistic_type,
    )
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
