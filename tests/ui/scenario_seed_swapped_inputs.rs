//! The seed tutorial's config wires Task 4 as
//! `input=[segment_result, segmented_customer_df, ...]` while the function is
//! `high_value_cust_summary_statistics(df, segment_analysis, ...)`. With one
//! type per frame, the swap is a compile error on the two swapped node names.
use std::path::{Path, PathBuf};

use pipeline_core::{scenario, serde_value, task};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ScoredDf(Vec<f64>);
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SegmentedDf(Vec<f64>);
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SegmentResult(Vec<f64>);
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary(Vec<f64>);
serde_value!(ScoredDf, SegmentedDf, SegmentResult, Summary);

#[task(skippable)]
fn preprocess_and_score(path: &Path) -> ScoredDf {
    ScoredDf(vec![path.as_os_str().len() as f64])
}

#[task(skippable)]
fn featurization_and_segmentation(
    scored: &ScoredDf,
    payment_threshold: &f64,
    score_threshold: &f64,
) -> SegmentedDf {
    SegmentedDf(scored.0.iter().map(|s| s + payment_threshold + score_threshold).collect())
}

#[task(skippable)]
fn segment_analysis(segmented: &SegmentedDf, metric: &String) -> SegmentResult {
    let _ = metric;
    SegmentResult(segmented.0.clone())
}

#[task(skippable)]
fn high_value_cust_summary_statistics(
    df: &SegmentedDf,
    segment_analysis: &SegmentResult,
    summary_statistic_type: &String,
) -> Summary {
    let _ = summary_statistic_type;
    Summary(df.0.iter().chain(&segment_analysis.0).copied().collect())
}

scenario! {
    pub struct CustomerAnalysis {
        data {
            path_to_data: PathBuf = PathBuf::from("data/SMALL_amazon_customers_data.csv"),
            payment_threshold: f64 = 1000.0,
            score_threshold: f64 = 1.5,
            measurement_metric: String = "median".to_owned(),
            summary_statistic_type: String = "median".to_owned(),
            scored_df: ScoredDf,
            segmented_customer_df: SegmentedDf,
            segment_result: SegmentResult,
            high_value_summary_df: Summary,
        }
        tasks {
            preprocess_and_score(path_to_data) -> scored_df,
            featurization_and_segmentation(scored_df, payment_threshold, score_threshold)
                -> segmented_customer_df,
            segment_analysis(segmented_customer_df, measurement_metric) -> segment_result,
            high_value_cust_summary_statistics(
                segment_result,
                segmented_customer_df,
                summary_statistic_type,
            ) -> high_value_summary_df,
        }
    }
}

fn main() {}
