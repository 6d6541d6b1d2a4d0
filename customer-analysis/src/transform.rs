//! The four steps of the customer-analysis pipeline, as plain functions over
//! polars [`LazyFrame`]s, plus the streaming helpers that execute them.
//!
//! ```text
//! CSV ─ preprocess_and_score ─ featurization_and_segmentation ─┬─ segment_analysis ─┐
//!                                                              └────────────────────┴─ high_value_cust_summary_statistics
//! ```
//!
//! Nothing is read or computed until a frame is executed with
//! [`collect_streaming`] or [`sink_parquet_streaming`], which use polars'
//! streaming engine, so a CSV much larger than memory passes through with
//! bounded memory. An execution error on the CSV (a non-numeric cell, say)
//! becomes a readable [`TransformError`] with [`explain_polars_error`].
//!
//! # Column types
//!
//! The input columns are read with fixed types, never inferred, so that a
//! non-numeric cell is an error instead of turning the column into strings:
//!
//! | column | type | why |
//! |---|---|---|
//! | `TotalPurchaseAmount` | `Float64` | money with decimals |
//! | `NumberOfPurchases` | `Int64` | a count; `12.5` purchases is a data error and is reported |
//! | `TotalPurchaseTime` | `Float64` | a duration: fractional minutes are accepted |
//! | `AverageReviewScore` | `Float64` | an average |
//!
//! Every other column of the file is read as text, and only if a query needs
//! it (projection pushdown: the pipeline never does). Empty cells are nulls;
//! aggregations skip nulls, like pandas.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pipeline_core::frame::FrameFileWriter;
use pipeline_core::{Materialized, ValueError};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::{self, ColumnKind, ReadOptions};
use crate::median::{AlsoFold, Fold, GroupedMedians, grouped_medians};

/// `CUSTOMER_SCORE`: the score computed by [`preprocess_and_score`].
pub(crate) const SCORE: &str = "CUSTOMER_SCORE";
/// `TotalPurchaseAmount` input column.
pub(crate) const AMOUNT: &str = "TotalPurchaseAmount";
/// `NumberOfPurchases` input column.
pub(crate) const PURCHASES: &str = "NumberOfPurchases";
/// `TotalPurchaseTime` input column.
pub(crate) const TIME: &str = "TotalPurchaseTime";
/// `AverageReviewScore` input column.
const REVIEW: &str = "AverageReviewScore";
/// `HighSpender` feature.
pub(crate) const HIGH_SPENDER: &str = "HighSpender";
/// `AverageTimeBetweenPurchases` feature.
pub(crate) const AVG_TIME: &str = "AverageTimeBetweenPurchases";
/// `ValueSegment` label column.
const SEGMENT: &str = "ValueSegment";
/// The `ValueSegment` of customers whose score is above the threshold.
pub(crate) const HIGH_VALUE: &str = "High Value";
/// The `ValueSegment` of the other customers.
pub(crate) const LOW_VALUE: &str = "Low Value";

/// The input columns the pipeline reads, with the type each is read as.
pub const INPUT_COLUMNS: [(&str, ColumnKind); 4] = [
    (AMOUNT, ColumnKind::Float64),
    (PURCHASES, ColumnKind::Int64),
    (TIME, ColumnKind::Float64),
    (REVIEW, ColumnKind::Float64),
];

/// The longest header line [`preprocess_and_score`] reads while checking the columns.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Why a pipeline step could not read or process its input.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The CSV file could not be opened or read.
    #[error(
        "cannot read input csv `{}`: {error}; check that the file exists and is readable",
        path.display()
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },

    /// The CSV file has no header row.
    #[error(
        "input csv `{}` is empty; it needs a header row naming at least the columns {}",
        path.display(),
        required_columns()
    )]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },

    /// The header of the CSV file lacks a column the pipeline needs.
    #[error(
        "input csv `{}` has no column `{column}` (its header has: {found}); \
         add the column or point the pipeline at the right file (required: {})",
        path.display(),
        required_columns()
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: &'static str,
        /// The columns the header does have, comma-separated.
        found: String,
    },

    /// A cell of a numeric column does not hold a number.
    #[error(
        "input csv `{}`: column `{column}` must hold numbers ({dtype}), but {} holds `{value}`; \
         fix or remove that cell",
        path.display(),
        line.map_or_else(|| "a cell".to_owned(), |l| format!("line {l}"))
    )]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// The column of the bad cell.
        column: String,
        /// The type the column is read as.
        dtype: String,
        /// The text of the bad cell.
        value: String,
        /// The 1-based line of the bad cell (the header is line 1), when it
        /// could be found again.
        line: Option<u64>,
    },

    /// The CSV file is not valid UTF-8.
    #[error("input csv `{}` is not valid UTF-8; re-encode it as UTF-8", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
    },

    /// Any other error polars reported while processing the file.
    #[error("polars failed while processing `{}`: {error}", path.display())]
    Polars {
        /// The file being processed.
        path: PathBuf,
        /// The polars error.
        error: PolarsError,
    },

    /// The scored frame could not be written (a full disk, say).
    #[error("cannot write the scores of `{}`: {error}", path.display())]
    Output {
        /// The CSV being scored.
        path: PathBuf,
        /// What went wrong.
        error: ValueError,
    },

    /// A query over frames the pipeline produced failed.
    #[error("polars failed in {step}: {error}")]
    Query {
        /// The pipeline step.
        step: &'static str,
        /// The polars error.
        error: PolarsError,
    },

    /// A [`Metric`] or [`SummaryStatistic`] name was not recognised.
    #[error("unknown {kind} `{given}`; expected one of: {expected}")]
    UnknownName {
        /// What was being parsed: `metric` or `summary statistic`.
        kind: &'static str,
        /// The text that was given.
        given: String,
        /// The accepted names, comma-separated.
        expected: String,
    },
}

/// The required input columns, for error messages.
fn required_columns() -> String {
    INPUT_COLUMNS.map(|(name, _)| name).join(", ")
}

impl TransformError {
    /// The error for a header (with the column `names`) that lacks `column`.
    pub fn missing_column(path: &Path, column: &str, names: &[String]) -> Self {
        let column = INPUT_COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| *name == column)
            .unwrap_or("<unknown>");
        TransformError::MissingColumn {
            path: path.to_owned(),
            column,
            found: names.join(", "),
        }
    }
}

/// The aggregation [`segment_analysis`] applies to each column per segment.
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

    /// The aggregation of `expr` by this metric.
    fn aggregate(self, expr: Expr) -> Expr {
        match self {
            Metric::Mean => expr.mean(),
            Metric::Median => expr.median(),
            Metric::Min => expr.min(),
            Metric::Max => expr.max(),
            Metric::Sum => expr.sum(),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = TransformError;

    /// Parses a metric name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, &Metric::ALL, Metric::as_str, "metric")
    }
}

/// The statistic of the high-value customers' purchase amounts reported by
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

    /// The aggregation of `expr` by this statistic.
    fn aggregate(self, expr: Expr) -> Expr {
        match self {
            SummaryStatistic::Mean => expr.mean(),
            SummaryStatistic::Median => expr.median(),
            SummaryStatistic::Max => expr.max(),
            SummaryStatistic::Min => expr.min(),
        }
    }

    /// This statistic of a folded column (`None` for the median, which a
    /// fold cannot give).
    fn of(self, fold: &Fold) -> Option<f64> {
        match self {
            SummaryStatistic::Mean => fold.mean(),
            SummaryStatistic::Median => None,
            SummaryStatistic::Max => fold.max(),
            SummaryStatistic::Min => fold.min(),
        }
    }
}

impl fmt::Display for SummaryStatistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SummaryStatistic {
    type Err = TransformError;

    /// Parses a summary statistic name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(
            s,
            &SummaryStatistic::ALL,
            SummaryStatistic::as_str,
            "summary statistic",
        )
    }
}

/// Finds the variant of `all` whose name is `given` (ASCII case-insensitive).
fn parse_name<T: Copy>(
    given: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    kind: &'static str,
) -> Result<T, TransformError> {
    all.iter()
        .copied()
        .find(|&v| name(v).eq_ignore_ascii_case(given.trim()))
        .ok_or_else(|| TransformError::UnknownName {
            kind,
            given: given.to_owned(),
            expected: all.iter().map(|&v| name(v)).collect::<Vec<_>>().join(", "),
        })
}

/// Step 1: scans the customer CSV at `path` and scores every customer.
///
/// The result has the columns
/// `CUSTOMER_SCORE = 0.5 * TotalPurchaseAmount / 1000 + 0.3 * NumberOfPurchases / 10
/// + 0.2 * AverageReviewScore` (`Float64`), `TotalPurchaseAmount` (`Float64`),
/// `NumberOfPurchases` (`Int64`) and `TotalPurchaseTime` (`Float64`).
///
/// The CSV must have a header row; fields may be quoted; it must be UTF-8.
/// Other columns are allowed and never parsed. The file is scanned lazily,
/// but its header is checked now: a file that cannot be read, is empty, or
/// lacks one of the four input columns is an error naming the file (and the
/// column). A non-numeric cell is only found when the frame is executed; pass
/// that error to [`explain_polars_error`].
pub fn preprocess_and_score(path: &Path) -> Result<LazyFrame, TransformError> {
    check_header(path)?;

    let polars_error = |error| TransformError::Polars {
        path: path.to_owned(),
        error,
    };
    let input_types = ingest::schema(&INPUT_COLUMNS);
    let scan = LazyCsvReader::new(PlRefPath::try_from_path(path).map_err(polars_error)?)
        .with_has_header(true)
        .with_glob(false)
        // Read every column as text unless overridden below: no type inference,
        // so a stray value can never change a column's type.
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(Arc::new(input_types)))
        .finish()
        .map_err(polars_error)?;
    Ok(scan.select(score_columns()))
}

/// The columns of step 1's result, computed from the four input columns.
fn score_columns() -> [Expr; 4] {
    let score = lit(0.5) * col(AMOUNT) / lit(1000.0)
        + lit(0.3) * col(PURCHASES).cast(DataType::Float64) / lit(10.0)
        + lit(0.2) * col(REVIEW);
    [score.alias(SCORE), col(AMOUNT), col(PURCHASES), col(TIME)]
}

/// Step 1, executed: reads the CSV at `path` with the parallel reader of
/// [`crate::ingest`], scores each block as it arrives and writes the scores
/// into a Parquet file in `dir`, named by its fingerprint.
///
/// The result is the same frame as executing [`preprocess_and_score`] (the
/// tests check it), in bounded memory and on all cores. Errors name the file,
/// and for a bad cell the column, value and line.
pub fn preprocess_and_score_into(
    path: &Path,
    dir: &Path,
    options: &ReadOptions,
) -> Result<Materialized<LazyFrame>, TransformError> {
    preprocess_and_score_keeping(path, dir, options, 0).map(|(done, _)| done)
}

/// [`preprocess_and_score_into`], also returning the scored frame decoded
/// in memory if it takes at most `keep_bytes` (by
/// [`DataFrame::estimated_size`]): the blocks written are kept, not copied,
/// until they add up to more, then dropped.
pub fn preprocess_and_score_keeping(
    path: &Path,
    dir: &Path,
    options: &ReadOptions,
    keep_bytes: usize,
) -> Result<(Materialized<LazyFrame>, Option<DataFrame>), TransformError> {
    let output = |error| TransformError::Output {
        path: path.to_owned(),
        error,
    };
    let polars_error = |error| TransformError::Polars {
        path: path.to_owned(),
        error,
    };
    let scored_schema = DataFrame::empty_with_schema(&ingest::schema(&INPUT_COLUMNS))
        .lazy()
        .select(score_columns())
        .collect_schema()
        .map_err(polars_error)?;
    let mut writer = FrameFileWriter::create(dir, &scored_schema).map_err(output)?;
    let mut kept = Kept::new(keep_bytes);
    ingest::read_csv_blocks(path, &INPUT_COLUMNS, options, |block| {
        let scored = block
            .lazy()
            .select(score_columns())
            .collect()
            .map_err(polars_error)?;
        writer.write(&scored).map_err(output)?;
        kept.push(scored);
        Ok(())
    })?;
    let done = writer.finish().map_err(output)?;
    // Keeping the frame only saves later decoding: if the blocks cannot be
    // put together, the frame is stored all the same.
    let decoded = kept.finish(&scored_schema).ok().flatten();
    Ok((done, decoded))
}

/// The blocks of a frame kept while they add up to at most a limit.
struct Kept {
    limit: usize,
    bytes: usize,
    /// `None` once over the limit.
    blocks: Option<Vec<DataFrame>>,
}

impl Kept {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            blocks: (limit > 0).then(Vec::new),
        }
    }

    fn push(&mut self, block: DataFrame) {
        let Some(blocks) = &mut self.blocks else {
            return;
        };
        self.bytes += block.estimated_size();
        if self.bytes > self.limit {
            self.blocks = None;
        } else {
            blocks.push(block);
        }
    }

    /// The blocks as one frame (their chunks, not copied).
    fn finish(self, schema: &Schema) -> PolarsResult<Option<DataFrame>> {
        let Some(blocks) = self.blocks else {
            return Ok(None);
        };
        let mut frame = DataFrame::empty_with_schema(schema);
        for block in &blocks {
            frame.vstack_mut(block)?;
        }
        Ok(Some(frame))
    }
}

/// Step 2: adds features and the value segment to the output of
/// [`preprocess_and_score`].
///
/// Added columns:
/// - `HighSpender` (`Int64`): 1 if `TotalPurchaseAmount > payment_threshold`, else 0;
/// - `AverageTimeBetweenPurchases` (`Float64`): `TotalPurchaseTime / NumberOfPurchases`;
/// - `Interaction1` (`Float64`): `TotalPurchaseAmount * NumberOfPurchases`;
/// - `Interaction2` (`Float64`): `TotalPurchaseTime * CUSTOMER_SCORE`;
/// - `PolynomialFeature` (`Float64`): `TotalPurchaseAmount²`;
/// - `ValueSegment` (`String`): `"High Value"` if `CUSTOMER_SCORE > score_threshold`,
///   else `"Low Value"` (also for a null score).
pub fn featurization_and_segmentation(
    scored: LazyFrame,
    payment_threshold: f64,
    score_threshold: f64,
) -> LazyFrame {
    scored.with_columns(feature_columns(payment_threshold, score_threshold))
}

/// The six columns [`featurization_and_segmentation`] adds, as expressions
/// over the scored columns.
pub fn feature_columns(payment_threshold: f64, score_threshold: f64) -> [Expr; 6] {
    let purchases = || col(PURCHASES).cast(DataType::Float64);
    [
        col(AMOUNT)
            .gt(lit(payment_threshold))
            .fill_null(lit(false))
            .cast(DataType::Int64)
            .alias(HIGH_SPENDER),
        (col(TIME) / purchases()).alias(AVG_TIME),
        (col(AMOUNT) * purchases()).alias("Interaction1"),
        (col(TIME) * col(SCORE)).alias("Interaction2"),
        (col(AMOUNT) * col(AMOUNT)).alias("PolynomialFeature"),
        when(scores_high_value(score_threshold))
            .then(lit(HIGH_VALUE))
            .otherwise(lit(LOW_VALUE))
            .alias(SEGMENT),
    ]
}

/// Step 3: per `ValueSegment`, the `metric` of each customer measure.
///
/// One row per segment present, sorted by `ValueSegment` (so `High Value`
/// comes before `Low Value`), with the columns `ValueSegment`, then the metric
/// of `CUSTOMER_SCORE`, `TotalPurchaseAmount`, `NumberOfPurchases` and
/// `TotalPurchaseTime`, then `HighSpender` (always the *sum*: the number of
/// high spenders, `Int64`), then the metric of `AverageTimeBetweenPurchases`.
/// The metric columns are all `Float64`, whatever the metric, so the schema
/// does not depend on it.
pub fn segment_analysis(segmented: LazyFrame, metric: Metric) -> LazyFrame {
    segment_aggregates(segmented.group_by([col(SEGMENT)]), metric)
        .sort([SEGMENT], SortMultipleOptions::default())
}

/// Step 3's aggregations over groups: the `metric` of each measure (as
/// `Float64`) and the sum of `HighSpender`.
fn segment_aggregates(groups: LazyGroupBy, metric: Metric) -> LazyFrame {
    let by_metric = |name: &str| {
        metric
            .aggregate(col(name))
            .cast(DataType::Float64)
            .alias(name)
    };
    groups.agg([
        by_metric(SCORE),
        by_metric(AMOUNT),
        by_metric(PURCHASES),
        by_metric(TIME),
        col(HIGH_SPENDER).sum().alias(HIGH_SPENDER),
        by_metric(AVG_TIME),
    ])
}

/// Step 4: a one-row summary of the high-value customers.
///
/// Columns:
/// - `SummaryStatisticType` (`String`): the name of `stat`, e.g. `"median"`;
/// - `AveragePurchaseHighValue` (`Float64`): `stat` of `TotalPurchaseAmount`
///   over the rows of `segmented` whose `ValueSegment` is `"High Value"`;
/// - `MedianScoreHighValue` (`Float64`): the median `CUSTOMER_SCORE` of those rows;
/// - `SegmentAnalysisHighValue` (`Float64`): `TotalPurchaseAmount` of the
///   `"High Value"` row of `segment_result` (the output of [`segment_analysis`]).
///
/// Without high-value customers the row is still there, with nulls in the
/// three number columns.
pub fn high_value_cust_summary_statistics(
    segmented: LazyFrame,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> LazyFrame {
    let high_value = || col(SEGMENT).eq(lit(HIGH_VALUE));
    let stats = segmented.filter(high_value()).select([
        lit(stat.as_str()).alias("SummaryStatisticType"),
        stat.aggregate(col(AMOUNT))
            .cast(DataType::Float64)
            .alias("AveragePurchaseHighValue"),
        col(SCORE).median().alias("MedianScoreHighValue"),
    ]);
    let from_segments = segment_result.filter(high_value()).select([col(AMOUNT)
        .first()
        .cast(DataType::Float64)
        .alias("SegmentAnalysisHighValue")]);
    // Both sides have exactly one row, so the horizontal concatenation has one.
    concat_lf_horizontal([stats, from_segments], HConcatOptions::default())
        .expect("two inputs are given, so horizontal concatenation cannot fail")
}

/// Step 3, executed: the result of [`segment_analysis`] as a data frame.
///
/// Medians are found by [`crate::median`] in bounded memory, because polars
/// holds and sorts every group for a grouped median; the other metrics run
/// [`segment_analysis`]'s query on the streaming engine. Both give the same
/// frame (the tests compare them).
pub fn segment_analysis_executed(segmented: LazyFrame, metric: Metric) -> PolarsResult<DataFrame> {
    if metric != Metric::Median {
        return collect_streaming(segment_analysis(segmented, metric));
    }
    let (columns, also) = SEGMENT_MEDIANS;
    let found = grouped_medians(&segmented, Some(SEGMENT), &columns, also)?;
    segment_rows(&found.labels, &found.medians, &found.sums[0])
}

/// [`segment_analysis_executed`] with the median over the scored columns,
/// with the segments given by their rule (`high_value`, see
/// [`scores_high_value`]) instead of the `ValueSegment` strings, which polars
/// then never builds. The frame is the same (the tests compare them). The
/// other metrics over the scored columns: [`crate::segment_scan`].
pub fn segment_medians_by_rule(segmented: LazyFrame, high_value: Expr) -> PolarsResult<DataFrame> {
    // A null score is Low Value, as `otherwise` makes it in the strings.
    let flagged = segmented.with_column(high_value.fill_null(lit(false)).alias(SEGMENT_RULE));
    let (columns, also) = SEGMENT_MEDIANS;
    let found = grouped_medians(&flagged, Some(SEGMENT_RULE), &columns, also)?;
    segment_rows_by_rule(&found)
}

/// [`segment_medians_by_rule`] over batches already at hand, each holding
/// the five measures as `Float64`, `HighSpender` as `Int64` and the rule's
/// flag (`SEGMENT_RULE`, null as false) as a boolean (see
/// [`crate::median::grouped_medians_of_batches`]).
pub fn segment_medians_by_rule_of_batches(
    batches: impl FnMut(&mut dyn FnMut(&DataFrame) -> PolarsResult<()>) -> PolarsResult<()>,
) -> PolarsResult<DataFrame> {
    let (columns, also) = SEGMENT_MEDIANS;
    let found =
        crate::median::grouped_medians_of_batches(batches, Some(SEGMENT_RULE), &columns, also)?;
    segment_rows_by_rule(&found)
}

/// The medians and sums of step 3: its five measures, and `HighSpender`.
const SEGMENT_MEDIANS: ([&str; 5], AlsoFold<'static>) = (
    [SCORE, AMOUNT, PURCHASES, TIME, AVG_TIME],
    AlsoFold {
        summed: &[HIGH_SPENDER],
        folded: &[],
    },
);

/// Step 3's frame from medians grouped by the rule's flag.
fn segment_rows_by_rule(found: &GroupedMedians) -> PolarsResult<DataFrame> {
    let labels: Vec<Option<String>> = found
        .labels
        .iter()
        .map(|flag| {
            Some(
                if flag.as_deref() == Some("true") {
                    HIGH_VALUE
                } else {
                    LOW_VALUE
                }
                .to_owned(),
            )
        })
        .collect();
    segment_rows(&labels, &found.medians, &found.sums[0])
}

/// The column [`segment_medians_by_rule`] groups by.
pub(crate) const SEGMENT_RULE: &str = "__high_value";

/// Step 3's frame, one row per label, sorted by label: `measures[m][g]` is
/// measure `m` (score, amount, purchases, time, average time between
/// purchases) of group `g`, and `high_spenders[g]` its high spender count.
pub(crate) fn segment_rows(
    labels: &[Option<String>],
    measures: &[Vec<Option<f64>>],
    high_spenders: &[i64],
) -> PolarsResult<DataFrame> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
    let pick = |m: usize| -> Vec<Option<f64>> { order.iter().map(|&g| measures[m][g]).collect() };
    let columns = vec![
        Column::new(
            SEGMENT.into(),
            order.iter().map(|&g| labels[g].clone()).collect::<Vec<_>>(),
        ),
        Column::new(SCORE.into(), pick(0)),
        Column::new(AMOUNT.into(), pick(1)),
        Column::new(PURCHASES.into(), pick(2)),
        Column::new(TIME.into(), pick(3)),
        Column::new(
            HIGH_SPENDER.into(),
            order
                .iter()
                .map(|&g| high_spenders[g])
                .collect::<Vec<i64>>(),
        ),
        Column::new(AVG_TIME.into(), pick(4)),
    ];
    DataFrame::new_infer_height(columns)
}

/// The rule [`feature_columns`] segments by, over the scored columns:
/// `CUSTOMER_SCORE > score_threshold` is exactly the rows whose
/// `ValueSegment` is `"High Value"` (a null score is neither).
pub fn scores_high_value(score_threshold: f64) -> Expr {
    col(SCORE).gt(lit(score_threshold))
}

/// The High Value rows of a segmented frame, by its `ValueSegment` column.
pub fn high_value_rows(segmented: LazyFrame) -> LazyFrame {
    segmented.filter(col(SEGMENT).eq(lit(HIGH_VALUE)))
}

/// Step 4, executed: the result of [`high_value_cust_summary_statistics`] as
/// a data frame, with medians found by [`crate::median`] in bounded memory.
pub fn high_value_cust_summary_statistics_executed(
    segmented: LazyFrame,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> PolarsResult<DataFrame> {
    high_value_summary_executed(high_value_rows(segmented), segment_result, stat)
}

/// [`high_value_cust_summary_statistics_executed`] over the High Value rows
/// already selected (`high`), for a caller that selects them more cheaply
/// than by comparing `ValueSegment` strings (see [`scores_high_value`]).
pub fn high_value_summary_executed(
    high: LazyFrame,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> PolarsResult<DataFrame> {
    let (columns, also) = high_value_medians(stat);
    let found = grouped_medians(&high, None, columns, also)?;
    high_value_summary_of(&found, segment_result, stat)
}

/// What step 4 needs of the High Value rows for `stat`: the medians of these
/// columns and the folds of those (see [`high_value_summary_of`]).
pub fn high_value_medians(stat: SummaryStatistic) -> (&'static [&'static str], AlsoFold<'static>) {
    if stat == SummaryStatistic::Median {
        (&[AMOUNT, SCORE], AlsoFold::default())
    } else {
        (
            &[SCORE],
            AlsoFold {
                folded: &[AMOUNT],
                summed: &[],
            },
        )
    }
}

/// Step 4's frame from `found`, the medians and folds of
/// [`high_value_medians`] over the High Value rows (one group).
pub fn high_value_summary_of(
    found: &GroupedMedians,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> PolarsResult<DataFrame> {
    let high_value = || col(SEGMENT).eq(lit(HIGH_VALUE));
    let (average, median_score) = if stat == SummaryStatistic::Median {
        (found.medians[0][0], found.medians[1][0])
    } else {
        (stat.of(&found.folds[0][0]), found.medians[0][0])
    };
    let from_segments = collect_streaming(
        segment_result.filter(high_value()).select([col(AMOUNT)
            .first()
            .cast(DataType::Float64)
            .alias("SegmentAnalysisHighValue")]),
    )?;
    let segment_amount = from_segments
        .column("SegmentAnalysisHighValue")?
        .f64()?
        .get(0);
    df!(
        "SummaryStatisticType" => [stat.as_str()],
        "AveragePurchaseHighValue" => [average],
        "MedianScoreHighValue" => [median_score],
        "SegmentAnalysisHighValue" => [segment_amount],
    )
}

/// Executes `lf` with polars' streaming engine and returns the result.
///
/// Uses `LazyFrame::collect_with_engine(Engine::Streaming)` (polars 0.55),
/// which runs the query on the streaming engine whatever the environment says.
pub fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// Executes `lf` with polars' streaming engine, writing the result to a
/// Parquet file at `path` (zstd-compressed, the polars default) without
/// materializing it in memory.
///
/// Uses, in polars 0.55, `LazyFrame::sink(SinkDestination::File { target:
/// SinkTarget::Path(..) }, FileWriteFormat::Parquet(..), UnifiedSinkArgs::default())`
/// followed by `collect_with_engine(Engine::Streaming)`. Row order is kept
/// (`UnifiedSinkArgs::maintain_order` defaults to `true`). An existing file
/// is replaced; the parent directory must exist.
pub fn sink_parquet_streaming(lf: LazyFrame, path: &Path) -> PolarsResult<()> {
    let target = SinkTarget::Path(PlRefPath::try_from_path(path)?);
    lf.sink(
        SinkDestination::File { target },
        FileWriteFormat::Parquet(Arc::new(ParquetWriteOptions::default())),
        UnifiedSinkArgs::default(),
    )?
    .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// Turns a polars error from executing a query over the CSV at `path` into a
/// [`TransformError`] a user can act on.
///
/// A cell that does not parse as its column's type becomes
/// [`TransformError::NonNumeric`] naming the file, the column and the value;
/// the file is then read once more to find the line of that cell (only on
/// this error path; a plain line scan, so it is skipped if the file holds
/// quoted line breaks). Invalid UTF-8 becomes [`TransformError::InvalidUtf8`];
/// anything else [`TransformError::Polars`].
pub fn explain_polars_error(err: PolarsError, path: &Path) -> TransformError {
    let message = err.to_string();
    if let Some((value, dtype, column)) = parse_cell_error(&message) {
        let line = find_cell_line(path, &column, &value).ok().flatten();
        return TransformError::NonNumeric {
            path: path.to_owned(),
            column,
            dtype,
            value,
            line,
        };
    }
    if message.contains("invalid utf-8") {
        return TransformError::InvalidUtf8 {
            path: path.to_owned(),
        };
    }
    TransformError::Polars {
        path: path.to_owned(),
        error: err,
    }
}

/// Extracts `(value, dtype, column)` from polars' CSV parse error, which reads
/// ``could not parse `VALUE` as dtype `DTYPE` at column 'COLUMN' (column number N)…``.
fn parse_cell_error(message: &str) -> Option<(String, String, String)> {
    let rest = &message[message.find("could not parse `")? + "could not parse `".len()..];
    let (value, rest) = rest.split_once("` as dtype `")?;
    let (dtype, rest) = rest.split_once("` at column '")?;
    let (column, _) = rest.split_once("' (column number")?;
    Some((value.to_owned(), dtype.to_owned(), column.to_owned()))
}

/// Checks that the CSV at `path` can be read and that its header names every
/// input column.
fn check_header(path: &Path) -> Result<(), TransformError> {
    let unreadable = |error| TransformError::Unreadable {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(unreadable)?;
    let mut header = Vec::new();
    BufReader::new(file)
        .take(MAX_HEADER_BYTES)
        .read_until(b'\n', &mut header)
        .map_err(unreadable)?;
    let header = String::from_utf8_lossy(&header);
    let header = header.strip_prefix('\u{feff}').unwrap_or(&header);
    if header.trim().is_empty() {
        return Err(TransformError::EmptyFile {
            path: path.to_owned(),
        });
    }
    let names = header_names(header.trim_end_matches(['\n', '\r']).as_bytes());
    for (column, _) in INPUT_COLUMNS {
        if !names.iter().any(|name| name == column) {
            return Err(TransformError::missing_column(path, column, &names));
        }
    }
    Ok(())
}

/// The column names of a header line (without its line end): fields split at
/// commas outside quotes, unquoted.
pub(crate) fn header_names(header: &[u8]) -> Vec<String> {
    split_csv_line(header)
        .map(|field| String::from_utf8_lossy(&unquote(field)).into_owned())
        .collect()
}

/// The 1-based line of the first row whose `column` holds `value` (raw or
/// unquoted). `None` if there is no such row, or if the file has quoted line
/// breaks (line numbers would then be ambiguous to a reader).
fn find_cell_line(path: &Path, column: &str, value: &str) -> io::Result<Option<u64>> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    let header = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&line);
    let Some(index) =
        split_csv_line(trim_eol(header)).position(|f| *unquote(f) == *column.as_bytes())
    else {
        return Ok(None);
    };
    let mut line_number = 1;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        line_number += 1;
        if line.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
            return Ok(None);
        }
        if let Some(field) = split_csv_line(trim_eol(&line)).nth(index)
            && (field == value.as_bytes() || *unquote(field) == *value.as_bytes())
        {
            return Ok(Some(line_number));
        }
    }
}

/// `line` without its trailing `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The raw fields of one CSV line, split at commas outside double quotes.
fn split_csv_line(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let line = rest?;
        let mut in_quotes = false;
        for (i, &b) in line.iter().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b',' if !in_quotes => {
                    rest = Some(&line[i + 1..]);
                    return Some(&line[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(line)
    })
}

/// A field without its surrounding double quotes, with `""` unescaped.
fn unquote(field: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
    {
        Some(inner) if inner.windows(2).any(|w| w == b"\"\"") => {
            let text = String::from_utf8_lossy(inner).replace("\"\"", "\"");
            std::borrow::Cow::Owned(text.into_bytes())
        }
        Some(inner) => std::borrow::Cow::Borrowed(inner),
        None => std::borrow::Cow::Borrowed(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_csv_line_keeps_quoted_commas() {
        let fields: Vec<&[u8]> = split_csv_line(br#"a,"b,c",,"d""e""#).collect();
        assert_eq!(fields, [&b"a"[..], br#""b,c""#, b"", br#""d""e""#]);
        assert_eq!(*unquote(br#""d""e""#), *b"d\"e");
    }

    #[test]
    fn parse_cell_error_reads_polars_message() {
        let message = "could not parse `abc` as dtype `f64` at column 'TotalPurchaseAmount' \
                       (column number 5)\n\nThe current offset in the file is 3 bytes.";
        assert_eq!(
            parse_cell_error(message),
            Some((
                "abc".to_owned(),
                "f64".to_owned(),
                "TotalPurchaseAmount".to_owned()
            ))
        );
    }

    #[test]
    fn names_parse_case_insensitively_and_list_valid_names_on_error() {
        assert_eq!("Median".parse::<Metric>().unwrap(), Metric::Median);
        assert_eq!(
            " max ".parse::<SummaryStatistic>().unwrap(),
            SummaryStatistic::Max
        );
        let err = "avg".parse::<Metric>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown metric `avg`; expected one of: mean, median, min, max, sum"
        );
    }
}
