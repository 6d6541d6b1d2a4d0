//! The pipeline steps (the task functions, called directly) checked against
//! an independent computation: a plain Rust fold over the same CSV (split at
//! commas, aggregated by hand), compared with a relative tolerance of 1e-9.
//! Also the error messages for bad input, and the generator's determinism.

use std::io::Write;
use std::path::{Path, PathBuf};

use customer_analysis::generate::{CsvShape, generate_csv, generate_csv_shaped};
use customer_analysis::pipeline::{
    self, Metric, ScoredDf, SegmentResult, SegmentedDf, SummaryStatistic,
};
use pipeline_core::frame::collect_streaming;
use pipeline_core::frame::csv::{self, CsvError};
use polars::prelude::*;

/// Task 1's frame.
fn preprocess_and_score(path: &Path) -> Result<LazyFrame, CsvError> {
    pipeline::preprocess_and_score(path).map(|scored| scored.0)
}

/// Task 2's frame.
fn featurization_and_segmentation(
    scored: LazyFrame,
    payment_threshold: f64,
    score_threshold: f64,
) -> LazyFrame {
    pipeline::featurization_and_segmentation(
        &ScoredDf(scored),
        &payment_threshold,
        &score_threshold,
    )
    .unwrap()
    .0
}

/// Task 3's frame.
fn segment_analysis(segmented: LazyFrame, metric: Metric) -> LazyFrame {
    pipeline::segment_analysis(&SegmentedDf(segmented), &metric).0
}

/// Task 4's frame.
fn high_value_cust_summary_statistics(
    segmented: LazyFrame,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> LazyFrame {
    pipeline::high_value_cust_summary_statistics(
        &SegmentedDf(segmented),
        &SegmentResult(segment_result),
        &stat,
    )
    .0
}

/// Thresholds used by the demo configuration.
const PAYMENT_THRESHOLD: f64 = 1000.0;
const SCORE_THRESHOLD: f64 = 1.5;
/// Other thresholds, which split the customers roughly in half.
const OTHER_PAYMENT_THRESHOLD: f64 = 2500.0;
const OTHER_SCORE_THRESHOLD: f64 = 3.4;

fn small_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv")
}

// ---------------------------------------------------------------------------
// The independent computation.

/// One customer as computed by hand from a CSV line.
#[derive(Debug, Clone)]
struct Customer {
    score: f64,
    amount: f64,
    purchases: f64,
    time: f64,
    high_spender: i64,
    avg_time: f64,
    interaction1: f64,
    interaction2: f64,
    polynomial: f64,
    high_value: bool,
}

/// Reads the CSV with `str::split` and computes every feature by hand.
fn fold_csv(path: &Path, payment_threshold: f64, score_threshold: f64) -> Vec<Customer> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let index = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (i_amount, i_purchases, i_time, i_review) = (
        index("TotalPurchaseAmount"),
        index("NumberOfPurchases"),
        index("TotalPurchaseTime"),
        index("AverageReviewScore"),
    );
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let number = |i: usize| fields[i].parse::<f64>().unwrap();
            let (amount, purchases, time, review) = (
                number(i_amount),
                number(i_purchases),
                number(i_time),
                number(i_review),
            );
            let score = 0.5 * amount / 1000.0 + 0.3 * purchases / 10.0 + 0.2 * review;
            Customer {
                score,
                amount,
                purchases,
                time,
                high_spender: i64::from(amount > payment_threshold),
                avg_time: time / purchases,
                interaction1: amount * purchases,
                interaction2: time * score,
                polynomial: amount * amount,
                high_value: score > score_threshold,
            }
        })
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn by_metric(values: &[f64], metric: Metric) -> f64 {
    match metric {
        Metric::Mean => mean(values),
        Metric::Median => median(values),
        Metric::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Metric::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Metric::Sum => values.iter().sum(),
    }
}

fn by_stat(values: &[f64], stat: SummaryStatistic) -> f64 {
    let metric = match stat {
        SummaryStatistic::Mean => Metric::Mean,
        SummaryStatistic::Median => Metric::Median,
        SummaryStatistic::Max => Metric::Max,
        SummaryStatistic::Min => Metric::Min,
    };
    by_metric(values, metric)
}

/// One expected row of `segment_analysis`.
struct SegmentRow {
    segment: &'static str,
    score: f64,
    amount: f64,
    purchases: f64,
    time: f64,
    high_spenders: i64,
    avg_time: f64,
}

fn expected_segments(customers: &[Customer], metric: Metric) -> Vec<SegmentRow> {
    // Sorted by name: "High Value" < "Low Value"; empty segments are absent.
    [("High Value", true), ("Low Value", false)]
        .into_iter()
        .filter_map(|(segment, high)| {
            let rows: Vec<&Customer> = customers.iter().filter(|c| c.high_value == high).collect();
            if rows.is_empty() {
                return None;
            }
            let column = |f: fn(&Customer) -> f64| {
                by_metric(&rows.iter().map(|c| f(c)).collect::<Vec<_>>(), metric)
            };
            Some(SegmentRow {
                segment,
                score: column(|c| c.score),
                amount: column(|c| c.amount),
                purchases: column(|c| c.purchases),
                time: column(|c| c.time),
                high_spenders: rows.iter().map(|c| c.high_spender).sum(),
                avg_time: column(|c| c.avg_time),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Helpers to read polars results.

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * actual.abs().max(expected.abs());
    assert!(
        actual == expected || (actual - expected).abs() <= tolerance,
        "{what}: pipeline gave {actual}, independent fold gave {expected}"
    );
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    let column = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
    column.f64().unwrap().into_no_null_iter().collect()
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    let column = df.column(name).unwrap().str().unwrap();
    column.iter().map(|s| s.unwrap().to_owned()).collect()
}

fn segmented(path: &Path, payment_threshold: f64, score_threshold: f64) -> LazyFrame {
    let scored = preprocess_and_score(path).unwrap();
    featurization_and_segmentation(scored, payment_threshold, score_threshold)
}

/// Step 3 on the CSV at `path`, executed.
fn run_segment_analysis(path: &Path, metric: Metric, thresholds: (f64, f64)) -> DataFrame {
    let segmented = segmented(path, thresholds.0, thresholds.1);
    collect_streaming(segment_analysis(segmented, metric)).unwrap()
}

fn check_segment_analysis(metric: Metric, thresholds: (f64, f64)) {
    let path = small_csv();
    let df = run_segment_analysis(&path, metric, thresholds);
    let expected = expected_segments(&fold_csv(&path, thresholds.0, thresholds.1), metric);

    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ValueSegment",
            "CUSTOMER_SCORE",
            "TotalPurchaseAmount",
            "NumberOfPurchases",
            "TotalPurchaseTime",
            "HighSpender",
            "AverageTimeBetweenPurchases"
        ]
    );
    assert_eq!(df.height(), expected.len(), "one row per segment");
    let segments = strs(&df, "ValueSegment");
    let high_spenders: Vec<i64> = df
        .column("HighSpender")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    for (i, row) in expected.iter().enumerate() {
        let what = |column: &str| format!("{metric} of {column} in {}", row.segment);
        assert_eq!(segments[i], row.segment);
        assert_close(
            f64s(&df, "CUSTOMER_SCORE")[i],
            row.score,
            &what("CUSTOMER_SCORE"),
        );
        assert_close(
            f64s(&df, "TotalPurchaseAmount")[i],
            row.amount,
            &what("amount"),
        );
        assert_close(
            f64s(&df, "NumberOfPurchases")[i],
            row.purchases,
            &what("purchases"),
        );
        assert_close(f64s(&df, "TotalPurchaseTime")[i], row.time, &what("time"));
        assert_eq!(
            high_spenders[i],
            row.high_spenders,
            "{}",
            what("HighSpender")
        );
        assert_close(
            f64s(&df, "AverageTimeBetweenPurchases")[i],
            row.avg_time,
            &what("avg time"),
        );
    }
}

fn check_summary(stat: SummaryStatistic, metric: Metric, thresholds: (f64, f64)) {
    let path = small_csv();
    let segmented = segmented(&path, thresholds.0, thresholds.1);
    let segments = segment_analysis(segmented.clone(), metric);
    let df = collect_streaming(high_value_cust_summary_statistics(
        segmented, segments, stat,
    ))
    .unwrap();

    let customers = fold_csv(&path, thresholds.0, thresholds.1);
    let high: Vec<&Customer> = customers.iter().filter(|c| c.high_value).collect();
    let amounts: Vec<f64> = high.iter().map(|c| c.amount).collect();
    let scores: Vec<f64> = high.iter().map(|c| c.score).collect();
    let segment_amount = expected_segments(&customers, metric)
        .into_iter()
        .find(|r| r.segment == "High Value")
        .unwrap()
        .amount;

    assert_eq!(df.height(), 1);
    assert_eq!(strs(&df, "SummaryStatisticType"), [stat.as_str()]);
    assert_close(
        f64s(&df, "AveragePurchaseHighValue")[0],
        by_stat(&amounts, stat),
        &format!("{stat} of high-value amounts"),
    );
    assert_close(
        f64s(&df, "MedianScoreHighValue")[0],
        median(&scores),
        "median high-value score",
    );
    assert_close(
        f64s(&df, "SegmentAnalysisHighValue")[0],
        segment_amount,
        &format!("{metric} amount of the High Value segment"),
    );
}

/// The error `preprocess_and_score` gives for `path` (it must give one).
fn scan_error(path: &Path) -> CsvError {
    match preprocess_and_score(path) {
        Ok(_) => panic!("preprocess_and_score accepted {}", path.display()),
        Err(err) => err,
    }
}

fn write_temp_csv(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file.flush().unwrap();
    file
}

// ---------------------------------------------------------------------------
// Step 1 and 2: row by row.

/// A column name and how the fold computes that column for one customer.
type ColumnCheck = (&'static str, fn(&Customer) -> f64);

#[test]
fn preprocess_and_featurization_match_independent_fold_row_by_row() {
    let path = small_csv();
    let df = collect_streaming(segmented(&path, PAYMENT_THRESHOLD, SCORE_THRESHOLD)).unwrap();
    let expected = fold_csv(&path, PAYMENT_THRESHOLD, SCORE_THRESHOLD);

    assert_eq!(df.height(), expected.len());
    assert_eq!(df.height(), 10_000);
    let checks: [ColumnCheck; 9] = [
        ("CUSTOMER_SCORE", |c| c.score),
        ("TotalPurchaseAmount", |c| c.amount),
        ("NumberOfPurchases", |c| c.purchases),
        ("TotalPurchaseTime", |c| c.time),
        ("AverageTimeBetweenPurchases", |c| c.avg_time),
        ("Interaction1", |c| c.interaction1),
        ("Interaction2", |c| c.interaction2),
        ("PolynomialFeature", |c| c.polynomial),
        ("HighSpender", |c| c.high_spender as f64),
    ];
    for (column, expected_value) in checks {
        for (i, (actual, customer)) in f64s(&df, column).into_iter().zip(&expected).enumerate() {
            assert_close(
                actual,
                expected_value(customer),
                &format!("{column} of row {i}"),
            );
        }
    }
    let segments = strs(&df, "ValueSegment");
    for (segment, customer) in segments.iter().zip(&expected) {
        let want = if customer.high_value {
            "High Value"
        } else {
            "Low Value"
        };
        assert_eq!(segment, want);
    }
}

#[test]
fn preprocess_and_score_keeps_exactly_the_scored_columns_with_numeric_types() {
    let schema = preprocess_and_score(&small_csv())
        .unwrap()
        .collect_schema()
        .unwrap();
    let columns: Vec<(&str, &DataType)> = schema.iter().map(|(n, t)| (n.as_str(), t)).collect();
    assert_eq!(
        columns,
        [
            ("CUSTOMER_SCORE", &DataType::Float64),
            ("TotalPurchaseAmount", &DataType::Float64),
            ("NumberOfPurchases", &DataType::Int64),
            ("TotalPurchaseTime", &DataType::Float64),
        ]
    );
}

// ---------------------------------------------------------------------------
// Step 3: every metric.

#[test]
fn segment_analysis_mean_matches_independent_fold() {
    check_segment_analysis(Metric::Mean, (PAYMENT_THRESHOLD, SCORE_THRESHOLD));
}

#[test]
fn segment_analysis_median_matches_independent_fold() {
    check_segment_analysis(Metric::Median, (PAYMENT_THRESHOLD, SCORE_THRESHOLD));
}

#[test]
fn segment_analysis_min_matches_independent_fold() {
    check_segment_analysis(Metric::Min, (PAYMENT_THRESHOLD, SCORE_THRESHOLD));
}

#[test]
fn segment_analysis_max_matches_independent_fold() {
    check_segment_analysis(Metric::Max, (PAYMENT_THRESHOLD, SCORE_THRESHOLD));
}

#[test]
fn segment_analysis_sum_matches_independent_fold() {
    check_segment_analysis(Metric::Sum, (PAYMENT_THRESHOLD, SCORE_THRESHOLD));
}

#[test]
fn segment_analysis_with_other_thresholds_matches_independent_fold_for_every_metric() {
    for metric in Metric::ALL {
        check_segment_analysis(metric, (OTHER_PAYMENT_THRESHOLD, OTHER_SCORE_THRESHOLD));
    }
}

#[test]
fn other_score_threshold_splits_customers_into_two_sizeable_segments() {
    let customers = fold_csv(&small_csv(), OTHER_PAYMENT_THRESHOLD, OTHER_SCORE_THRESHOLD);
    let high = customers.iter().filter(|c| c.high_value).count();
    assert!(
        (2_000..8_000).contains(&high),
        "{high} high-value customers"
    );
}

#[test]
fn segment_analysis_omits_an_empty_segment() {
    // No score exceeds 100: everyone is "Low Value".
    let df = run_segment_analysis(&small_csv(), Metric::Sum, (PAYMENT_THRESHOLD, 100.0));
    assert_eq!(strs(&df, "ValueSegment"), ["Low Value"]);
}

// ---------------------------------------------------------------------------
// Step 4: every summary statistic.

#[test]
fn summary_of_an_empty_high_value_segment_is_null_for_every_statistic() {
    // No score exceeds 100: no High Value row, for every statistic.
    let segmented = segmented(&small_csv(), PAYMENT_THRESHOLD, 100.0);
    let segments = segment_analysis(segmented.clone(), Metric::Mean);
    for stat in SummaryStatistic::ALL {
        let df = collect_streaming(high_value_cust_summary_statistics(
            segmented.clone(),
            segments.clone(),
            stat,
        ))
        .unwrap();
        for column in ["AveragePurchaseHighValue", "MedianScoreHighValue"] {
            assert_eq!(
                df.column(column).unwrap().null_count(),
                1,
                "{stat} {column}"
            );
        }
    }
}

#[test]
fn summary_mean_matches_independent_fold() {
    check_summary(
        SummaryStatistic::Mean,
        Metric::Mean,
        (PAYMENT_THRESHOLD, SCORE_THRESHOLD),
    );
}

#[test]
fn summary_median_matches_independent_fold() {
    check_summary(
        SummaryStatistic::Median,
        Metric::Median,
        (PAYMENT_THRESHOLD, SCORE_THRESHOLD),
    );
}

#[test]
fn summary_max_matches_independent_fold() {
    check_summary(
        SummaryStatistic::Max,
        Metric::Sum,
        (PAYMENT_THRESHOLD, SCORE_THRESHOLD),
    );
}

#[test]
fn summary_min_matches_independent_fold() {
    check_summary(
        SummaryStatistic::Min,
        Metric::Max,
        (PAYMENT_THRESHOLD, SCORE_THRESHOLD),
    );
}

#[test]
fn summary_with_other_thresholds_matches_independent_fold_for_every_statistic() {
    for stat in SummaryStatistic::ALL {
        check_summary(
            stat,
            Metric::Median,
            (OTHER_PAYMENT_THRESHOLD, OTHER_SCORE_THRESHOLD),
        );
    }
}

#[test]
fn summary_without_high_value_customers_is_one_row_of_nulls() {
    let segmented = segmented(&small_csv(), PAYMENT_THRESHOLD, 100.0);
    let segments = segment_analysis(segmented.clone(), Metric::Mean);
    let df = collect_streaming(high_value_cust_summary_statistics(
        segmented,
        segments,
        SummaryStatistic::Mean,
    ))
    .unwrap();
    assert_eq!(df.height(), 1);
    assert_eq!(strs(&df, "SummaryStatisticType"), ["mean"]);
    for column in [
        "AveragePurchaseHighValue",
        "MedianScoreHighValue",
        "SegmentAnalysisHighValue",
    ] {
        assert_eq!(df.column(column).unwrap().null_count(), 1, "{column}");
    }
}

// ---------------------------------------------------------------------------
// Bad and unusual input.

#[test]
fn missing_file_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_such_customers.csv");
    let err = scan_error(&path);
    assert!(matches!(err, CsvError::Unreadable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no_such_customers.csv"), "{message}");
    assert!(message.contains("exists"), "{message}");
}

#[test]
fn empty_file_error_names_the_file() {
    let file = write_temp_csv("");
    let message = scan_error(file.path()).to_string();
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn missing_column_error_names_the_column_and_the_file() {
    let file = write_temp_csv(
        "CustomerID,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime\n1,10.5,3,40\n",
    );
    let err = scan_error(file.path());
    match &err {
        CsvError::MissingColumn { column, .. } => assert_eq!(column, "AverageReviewScore"),
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("`AverageReviewScore`"), "{message}");
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn non_numeric_cell_error_names_the_column_the_file_and_the_line() {
    let file = write_temp_csv(
        "CustomerID,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore\n\
         1,10.50,3,40,4.5\n\
         2,12.00,1,20,3.0\n\
         3,lots,2,30,2.5\n\
         4,1.00,2,30,2.5\n",
    );
    let lf = segment_analysis(
        featurization_and_segmentation(preprocess_and_score(file.path()).unwrap(), 10.0, 1.0),
        Metric::Mean,
    );
    let polars_err = collect_streaming(lf.clone()).unwrap_err();
    let err = csv::explain(polars_err, &lf).unwrap();
    match &err {
        CsvError::BadCell {
            column,
            value,
            line,
            ..
        } => {
            assert_eq!(column, "TotalPurchaseAmount");
            assert_eq!(value, "lots");
            assert_eq!(*line, Some(4));
        }
        other => panic!("expected BadCell, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("`TotalPurchaseAmount`"), "{message}");
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn fractional_purchase_count_is_reported_not_truncated() {
    let file = write_temp_csv(
        "TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore\n\
         10.50,2.5,40,4.5\n",
    );
    let scored = preprocess_and_score(file.path()).unwrap();
    let polars_err = collect_streaming(scored.clone()).unwrap_err();
    let err = csv::explain(polars_err, &scored).unwrap();
    assert!(
        matches!(&err, CsvError::BadCell { column, line: Some(2), .. } if column == "NumberOfPurchases"),
        "{err:?}"
    );
}

#[test]
fn extra_columns_and_quoted_fields_are_accepted() {
    let file = write_temp_csv(
        "\"Name\",Note,TotalPurchaseAmount,\"NumberOfPurchases\",TotalPurchaseTime,AverageReviewScore,Extra\n\
         \"Doe, Jane\",\"says \"\"hi\"\"\",\"2000.00\",4,100,5.0,x\n\
         \"Roe, Rick\",,10.00,\"1\",7.5,1.0,\n",
    );
    let df = collect_streaming(preprocess_and_score(file.path()).unwrap()).unwrap();
    assert_eq!(df.height(), 2);
    assert_eq!(f64s(&df, "TotalPurchaseAmount"), [2000.0, 10.0]);
    assert_eq!(f64s(&df, "TotalPurchaseTime"), [100.0, 7.5]);
    let expected_scores = [
        0.5 * 2000.0 / 1000.0 + 0.3 * 4.0 / 10.0 + 0.2 * 5.0,
        0.5 * 10.0 / 1000.0 + 0.3 * 1.0 / 10.0 + 0.2 * 1.0,
    ];
    for (actual, expected) in f64s(&df, "CUSTOMER_SCORE").into_iter().zip(expected_scores) {
        assert_close(actual, expected, "score");
    }
}

// ---------------------------------------------------------------------------
// Names.

#[test]
fn metric_and_statistic_names_round_trip_through_display_fromstr_and_serde() {
    for metric in Metric::ALL {
        assert_eq!(metric.to_string().parse::<Metric>().unwrap(), metric);
        let json = serde_json::to_string(&metric).unwrap();
        assert_eq!(json, format!("\"{}\"", metric.as_str()));
        assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), metric);
    }
    for stat in SummaryStatistic::ALL {
        assert_eq!(stat.to_string().parse::<SummaryStatistic>().unwrap(), stat);
        let json = serde_json::to_string(&stat).unwrap();
        assert_eq!(json, format!("\"{}\"", stat.as_str()));
        assert_eq!(
            serde_json::from_str::<SummaryStatistic>(&json).unwrap(),
            stat
        );
    }
}

#[test]
fn unknown_statistic_error_lists_the_valid_names() {
    let message = "average"
        .parse::<SummaryStatistic>()
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "unknown summary statistic `average`; expected one of: mean, median, max, min"
    );
}

// ---------------------------------------------------------------------------
// The generator.

fn generated(rows: u64, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    generate_csv(rows, seed, &mut out).unwrap();
    out
}

#[test]
fn generator_gives_the_same_bytes_for_the_same_seed() {
    assert_eq!(generated(5_000, 7), generated(5_000, 7));
}

#[test]
fn generator_gives_different_bytes_for_a_different_seed() {
    assert_ne!(generated(100, 7), generated(100, 8));
}

#[test]
fn generator_writes_a_header_and_values_in_range() {
    let text = String::from_utf8(generated(20_000, 3)).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "CustomerID,Age,Gender,Country,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore"
    );
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 8, "{line}");
        assert_eq!(f[0].parse::<usize>().unwrap(), i + 1);
        assert!((18..=80).contains(&f[1].parse::<u32>().unwrap()), "{line}");
        assert!(["Male", "Female", "Other"].contains(&f[2]), "{line}");
        assert!(!f[3].is_empty());
        let amount: f64 = f[4].parse().unwrap();
        assert!((10.0..=5000.0).contains(&amount) && f[4].split('.').nth(1).unwrap().len() == 2);
        assert!((1..=100).contains(&f[5].parse::<u32>().unwrap()), "{line}");
        assert!((1..=1000).contains(&f[6].parse::<u32>().unwrap()), "{line}");
        let review: f64 = f[7].parse().unwrap();
        assert!((1.0..=5.0).contains(&review) && f[7].len() == 3, "{line}");
        rows += 1;
    }
    assert_eq!(rows, 20_000);
}

#[test]
fn small_data_file_is_the_generator_output_for_10000_rows_and_seed_42() {
    let committed = std::fs::read(small_csv()).unwrap();
    assert!(
        committed == generated(10_000, 42),
        "regenerate data/SMALL_amazon_customers_data.csv"
    );
}

#[test]
fn a_messy_file_has_quoted_names_and_extra_columns_and_gives_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, messy) = (dir.path().join("plain.csv"), dir.path().join("messy.csv"));
    generate_csv(3_000, 5, &mut std::fs::File::create(&plain).unwrap()).unwrap();
    let shape = CsvShape {
        quoted_names: true,
        extra_columns: 3,
    };
    generate_csv_shaped(3_000, 5, shape, &mut std::fs::File::create(&messy).unwrap()).unwrap();
    let text = std::fs::read_to_string(&messy).unwrap();
    assert!(
        text.starts_with(
            "CustomerID,Name,Age,Gender,Country,TotalPurchaseAmount,NumberOfPurchases,\
             TotalPurchaseTime,AverageReviewScore,Extra1,Extra2,Extra3\n"
        ),
        "{}",
        text.lines().next().unwrap()
    );
    assert!(
        text.contains(", ") && text.contains("\"\""),
        "quoted commas and escaped quotes"
    );
    for metric in [Metric::Mean, Metric::Median] {
        let thresholds = (PAYMENT_THRESHOLD, SCORE_THRESHOLD);
        let a = run_segment_analysis(&plain, metric, thresholds);
        let b = run_segment_analysis(&messy, metric, thresholds);
        // The files split into other blocks, so sums add up in another
        // order: equal to 1e-9, not to the bit.
        assert_eq!(
            strs(&a, "ValueSegment"),
            strs(&b, "ValueSegment"),
            "{metric}"
        );
        for name in a.get_column_names().into_iter().skip(1) {
            let column = |frame: &DataFrame| -> Vec<f64> {
                let values = frame
                    .column(name)
                    .unwrap()
                    .cast(&DataType::Float64)
                    .unwrap();
                values.f64().unwrap().into_no_null_iter().collect()
            };
            for (x, y) in column(&a).into_iter().zip(column(&b)) {
                assert_close(y, x, &format!("{metric} {name}"));
            }
        }
    }
}
