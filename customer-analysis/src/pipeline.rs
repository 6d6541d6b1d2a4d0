//! The seed pipeline: four tasks, each one step in lazy polars, wired by
//! `scenario!`.
//!
//! ```text
//! CSV ─ preprocess_and_score ─ featurization_and_segmentation ─┬─ segment_analysis ─┐
//!                                                              └────────────────────┴─ high_value_cust_summary_statistics
//! ```
//!
//! Each task builds a query and returns it; the runtime executes it on
//! polars' streaming engine and stores the result, so a CSV larger than
//! memory passes through in bounded memory. Each frame has its own newtype,
//! so wiring one frame where another is expected (the seed tutorial's Task 4
//! swaps `segment_result` and `segmented_customer_df`) does not compile.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pipeline_core::frame::csv::{CsvError, scan_csv};
use pipeline_core::{lazy_frame_value, scenario, serde_value, task};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// `CUSTOMER_SCORE`: the score of Task 1.
pub const SCORE: &str = "CUSTOMER_SCORE";
/// `TotalPurchaseAmount` input column.
pub const AMOUNT: &str = "TotalPurchaseAmount";
/// `NumberOfPurchases` input column.
pub const PURCHASES: &str = "NumberOfPurchases";
/// `TotalPurchaseTime` input column.
pub const TIME: &str = "TotalPurchaseTime";
/// `AverageReviewScore` input column.
pub const REVIEW: &str = "AverageReviewScore";
/// `HighSpender` feature.
pub const HIGH_SPENDER: &str = "HighSpender";
/// `AverageTimeBetweenPurchases` feature.
pub const AVG_TIME: &str = "AverageTimeBetweenPurchases";
/// `ValueSegment` label column.
pub const SEGMENT: &str = "ValueSegment";
/// The `ValueSegment` of customers whose score is above the threshold.
pub const HIGH_VALUE: &str = "High Value";
/// The `ValueSegment` of the other customers.
pub const LOW_VALUE: &str = "Low Value";

/// Scored customers: `CUSTOMER_SCORE`, `TotalPurchaseAmount`,
/// `NumberOfPurchases`, `TotalPurchaseTime`.
pub struct ScoredDf(pub LazyFrame);
/// Scored customers with features and a `ValueSegment`.
pub struct SegmentedDf(pub LazyFrame);
/// Per `ValueSegment`: the chosen metric of each measure.
pub struct SegmentResult(pub LazyFrame);
/// One row summarizing the High Value segment.
pub struct HighValueSummary(pub LazyFrame);

lazy_frame_value!(ScoredDf, SegmentedDf, SegmentResult, HighValueSummary);

/// Task 1: scores every customer of the CSV.
///
/// The input columns are read with fixed types, never inferred
/// (`NumberOfPurchases` as `Int64`, the other three as `Float64`), so a
/// non-numeric cell is an error naming its line instead of turning the column
/// into text. Other columns are allowed and never parsed; empty cells are
/// nulls. The result has `CUSTOMER_SCORE = 0.5 * TotalPurchaseAmount / 1000
/// + 0.3 * NumberOfPurchases / 10 + 0.2 * AverageReviewScore` and three of
/// the input columns.
#[task(skippable)]
pub fn preprocess_and_score(path_to_data: &Path) -> Result<ScoredDf, CsvError> {
    let customers = scan_csv(
        path_to_data,
        &[
            (AMOUNT, DataType::Float64),
            (PURCHASES, DataType::Int64),
            (TIME, DataType::Float64),
            (REVIEW, DataType::Float64),
        ],
    )?;
    let score = lit(0.5) * col(AMOUNT) / lit(1000.0)
        + lit(0.3) * col(PURCHASES).cast(DataType::Float64) / lit(10.0)
        + lit(0.2) * col(REVIEW);
    Ok(ScoredDf(customers.select([
        score.alias(SCORE),
        col(AMOUNT),
        col(PURCHASES),
        col(TIME),
    ])))
}

/// Task 2: adds features and the High/Low Value segment.
///
/// `HighSpender` is 1 where `TotalPurchaseAmount > payment_threshold` (0 for
/// a missing amount); `ValueSegment` is "High Value" where `CUSTOMER_SCORE >
/// score_threshold`, else "Low Value" (also for a missing score).
#[task(skippable)]
pub fn featurization_and_segmentation(
    scored_df: &ScoredDf,
    payment_threshold: &f64,
    score_threshold: &f64,
) -> Result<SegmentedDf, InputError> {
    let payment_threshold = check_threshold("payment_threshold", *payment_threshold)?;
    let score_threshold = check_threshold("score_threshold", *score_threshold)?;
    let purchases = || col(PURCHASES).cast(DataType::Float64);
    Ok(SegmentedDf(
        scored_df.0.clone().with_columns([
            col(AMOUNT)
                .gt(lit(payment_threshold))
                .fill_null(lit(false))
                .cast(DataType::Int64)
                .alias(HIGH_SPENDER),
            (col(TIME) / purchases()).alias(AVG_TIME),
            (col(AMOUNT) * purchases()).alias("Interaction1"),
            (col(TIME) * col(SCORE)).alias("Interaction2"),
            (col(AMOUNT) * col(AMOUNT)).alias("PolynomialFeature"),
            when(col(SCORE).gt(lit(score_threshold)))
                .then(lit(HIGH_VALUE))
                .otherwise(lit(LOW_VALUE))
                .alias(SEGMENT),
        ]),
    ))
}

/// Task 3: per `ValueSegment`, the `metric` of each measure.
///
/// One row per segment present, sorted by `ValueSegment`; the metric columns
/// are `Float64` whatever the metric, and `HighSpender` is always the sum
/// (the number of high spenders).
#[task(skippable)]
pub fn segment_analysis(segmented_customer_df: &SegmentedDf, metric: &Metric) -> SegmentResult {
    let by_metric = |name: &str| metric.of(col(name)).cast(DataType::Float64).alias(name);
    SegmentResult(
        segmented_customer_df
            .0
            .clone()
            .group_by([col(SEGMENT)])
            .agg([
                by_metric(SCORE),
                by_metric(AMOUNT),
                by_metric(PURCHASES),
                by_metric(TIME),
                col(HIGH_SPENDER).sum(),
                by_metric(AVG_TIME),
            ])
            .sort([SEGMENT], SortMultipleOptions::default()),
    )
}

/// Task 4: one row about the High Value segment: the `summary_statistic_type`
/// of its purchase amounts, its median score, and its amount in
/// `segment_result`. Nulls when there are no High Value customers.
#[task(skippable)]
pub fn high_value_cust_summary_statistics(
    segmented_customer_df: &SegmentedDf,
    segment_result: &SegmentResult,
    summary_statistic_type: &SummaryStatistic,
) -> HighValueSummary {
    let high_value = || col(SEGMENT).eq(lit(HIGH_VALUE));
    let stats = segmented_customer_df
        .0
        .clone()
        .filter(high_value())
        .select([
            lit(summary_statistic_type.as_str()).alias("SummaryStatisticType"),
            summary_statistic_type
                .of(col(AMOUNT))
                .cast(DataType::Float64)
                .alias("AveragePurchaseHighValue"),
            col(SCORE).median().alias("MedianScoreHighValue"),
        ]);
    let from_segments = segment_result
        .0
        .clone()
        .filter(high_value())
        .select([col(AMOUNT)
            .first()
            .cast(DataType::Float64)
            .alias("SegmentAnalysisHighValue")]);
    // Both sides have exactly one row.
    HighValueSummary(
        concat_lf_horizontal([stats, from_segments], HConcatOptions::default())
            .expect("two inputs are given, so horizontal concatenation cannot fail"),
    )
}

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

/// An unknown [`Metric`] or [`SummaryStatistic`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`; expected one of: {expected}")]
pub struct UnknownName {
    /// What was being parsed: `metric` or `summary statistic`.
    pub kind: &'static str,
    /// The text that was given.
    pub given: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

/// The aggregation [`segment_analysis`] applies to each measure per segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Arithmetic mean.
    Mean,
    /// Median (the mean of the two middle values for an even count).
    Median,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
}

impl Metric {
    /// Every metric, in declaration order.
    pub const ALL: [Metric; 5] = [
        Metric::Mean,
        Metric::Median,
        Metric::Min,
        Metric::Max,
        Metric::Sum,
    ];

    /// The lowercase name: `mean`, `median`, `min`, `max` or `sum`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Mean => "mean",
            Metric::Median => "median",
            Metric::Min => "min",
            Metric::Max => "max",
            Metric::Sum => "sum",
        }
    }

    /// This metric of `expr`.
    pub fn of(self, expr: Expr) -> Expr {
        match self {
            Metric::Mean => expr.mean(),
            Metric::Median => expr.median(),
            Metric::Min => expr.min(),
            Metric::Max => expr.max(),
            Metric::Sum => expr.sum(),
        }
    }
}

/// The statistic of the High Value purchase amounts in
/// [`high_value_cust_summary_statistics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryStatistic {
    /// Arithmetic mean.
    Mean,
    /// Median (the mean of the two middle values for an even count).
    Median,
    /// Largest value.
    Max,
    /// Smallest value.
    Min,
}

impl SummaryStatistic {
    /// Every summary statistic, in declaration order.
    pub const ALL: [SummaryStatistic; 4] = [
        SummaryStatistic::Mean,
        SummaryStatistic::Median,
        SummaryStatistic::Max,
        SummaryStatistic::Min,
    ];

    /// The lowercase name: `mean`, `median`, `max` or `min`.
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryStatistic::Mean => "mean",
            SummaryStatistic::Median => "median",
            SummaryStatistic::Max => "max",
            SummaryStatistic::Min => "min",
        }
    }

    /// This statistic of `expr`.
    pub fn of(self, expr: Expr) -> Expr {
        match self {
            SummaryStatistic::Mean => expr.mean(),
            SummaryStatistic::Median => expr.median(),
            SummaryStatistic::Max => expr.max(),
            SummaryStatistic::Min => expr.min(),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SummaryStatistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = UnknownName;

    /// Parses a metric name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, &Metric::ALL, Metric::as_str, "metric")
    }
}

impl FromStr for SummaryStatistic {
    type Err = UnknownName;

    /// Parses a summary statistic name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let names = SummaryStatistic::as_str;
        parse_name(s, &SummaryStatistic::ALL, names, "summary statistic")
    }
}

/// The variant of `all` whose name is `given` (ASCII case-insensitive).
fn parse_name<T: Copy>(
    given: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    kind: &'static str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|&v| name(v).eq_ignore_ascii_case(given.trim()))
        .ok_or_else(|| UnknownName {
            kind,
            given: given.to_owned(),
            expected: all.iter().map(|&v| name(v)).collect::<Vec<_>>().join(", "),
        })
}

serde_value!(Metric, SummaryStatistic);

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
