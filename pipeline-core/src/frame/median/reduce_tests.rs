//! Grouped reductions ([`super::reduce`]) against polars' own: every
//! reduction, nulls, NaN, signed zeros and infinities, empty input, one
//! group, many groups (beside medians) and many rows.

use super::accelerate;
use super::label_key::segment;
use super::reduce::{Reducer, Reduction};
use polars::prelude::*;
use proptest::prelude::*;

/// A row of the tests' frames: score, amount, count.
type Row = (Option<f64>, Option<f64>, Option<i64>);

/// The frame of `rows`: columns `score`, `amount` and `n`.
fn frame_of(rows: &[Row]) -> LazyFrame {
    let score: Vec<Option<f64>> = rows.iter().map(|r| r.0).collect();
    let amount: Vec<Option<f64>> = rows.iter().map(|r| r.1).collect();
    let count: Vec<Option<i64>> = rows.iter().map(|r| r.2).collect();
    df!("score" => score, "amount" => amount, "n" => count)
        .unwrap()
        .lazy()
}

/// A frame of `rows` (score, amount, count) with a label column chosen
/// by the score, grouped by it with every reduction this module takes.
fn query(rows: &[Row], threshold: f64) -> LazyFrame {
    frame_of(rows)
        .with_columns([segment("score", threshold)])
        .group_by([col("segment")])
        .agg([
            col("amount").sum().alias("amount_sum"),
            col("amount").mean().alias("amount_mean"),
            col("amount").min().alias("amount_min"),
            col("amount").max().alias("amount_max"),
            col("amount").count().alias("amount_count"),
            col("n").sum().alias("n_sum"),
            col("n").mean().cast(DataType::Float32).alias("n_mean"),
            col("n").min().alias("n_min"),
            col("n").max().cast(DataType::Float64).alias("n_max"),
            col("score").mean(),
            len().alias("rows"),
        ])
}

/// The query through [`accelerate`] (checked to have computed it) and
/// by polars, both sorted by segment.
fn both(frame: LazyFrame) -> (DataFrame, DataFrame) {
    let accelerated = accelerate(&frame.logical_plan).unwrap();
    assert!(
        matches!(accelerated, DslPlan::DataFrameScan { .. }),
        "the reductions were computed by this module"
    );
    let sorted = |f: LazyFrame| f.sort(["segment"], Default::default()).collect().unwrap();
    (sorted(LazyFrame::from(accelerated)), sorted(frame))
}

/// The sum of the finite amounts' magnitudes: a sum of terms of both signs,
/// added in another order, can differ by a few ulps of that, however small
/// the sum itself (the terms cancel).
fn magnitude(amounts: impl Iterator<Item = Option<f64>>) -> f64 {
    amounts
        .flatten()
        .filter(|x| x.is_finite())
        .map(f64::abs)
        .sum()
}

/// Whether two columns hold the same values: floats within 1e-12 of the
/// larger value plus `terms` (see [`magnitude`]; sums are added in another
/// order), NaN as NaN, nulls as nulls.
fn same(ours: &Column, theirs: &Column, terms: f64) -> bool {
    if ours.dtype() != theirs.dtype() || ours.name() != theirs.name() {
        return false;
    }
    if !ours.dtype().is_float() {
        return ours
            .as_materialized_series()
            .equals_missing(theirs.as_materialized_series());
    }
    let (a, b) = (
        ours.cast(&DataType::Float64).unwrap(),
        theirs.cast(&DataType::Float64).unwrap(),
    );
    a.f64()
        .unwrap()
        .iter()
        .zip(b.f64().unwrap().iter())
        .all(|pair| match pair {
            (None, None) => true,
            (Some(x), Some(y)) => {
                (x.is_nan() && y.is_nan())
                    || x == y
                    || (x - y).abs() <= 1e-12 * (x.abs().max(y.abs()) + terms)
            }
            _ => false,
        })
}

/// Asserts that each column of `ours` is [`same`] as `theirs`'.
fn assert_columns_same(ours: &DataFrame, theirs: &DataFrame, terms: f64) {
    for (a, b) in ours.columns().iter().zip(theirs.columns()) {
        assert!(
            same(a, b, terms),
            "column {}: ours {:?}, theirs {:?}",
            a.name(),
            a.as_materialized_series(),
            b.as_materialized_series()
        );
    }
}

fn assert_same(rows: &[Row], threshold: f64) {
    let (ours, theirs) = both(query(rows, threshold));
    assert_eq!(ours.get_column_names(), theirs.get_column_names());
    assert_eq!(
        ours.height(),
        theirs.height(),
        "ours:\n{ours}\ntheirs:\n{theirs}"
    );
    assert_columns_same(&ours, &theirs, magnitude(rows.iter().map(|r| r.1)));
}

fn value() -> impl Strategy<Value = Option<f64>> {
    prop::option::weighted(
        0.85,
        prop_oneof![
            20 => -1e6f64..1e6,
            1 => Just(f64::NAN),
            1 => Just(-0.0),
            1 => Just(f64::INFINITY),
        ],
    )
}

/// A row: a score mostly in -5..5, an amount ([`value`]), a count that
/// fits a float exactly; each sometimes null.
fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.9, -5.0f64..5.0),
        value(),
        prop::option::weighted(0.8, -(1i64 << 52)..(1i64 << 52)),
    )
}

proptest! {
    #[test]
    fn label_keyed_reductions_are_polars_own(
        rows in prop::collection::vec(row(), 0..300),
        threshold in -6.0f64..6.0,
    ) {
        assert_same(&rows, threshold);
    }
}

proptest! {
    #[test]
    fn reductions_beside_medians_of_any_number_of_groups_are_polars_own(
        rows in prop::collection::vec((0u8..12, value(), prop::option::weighted(0.8, -1000i64..1000)), 0..300),
    ) {
        // Medians take any key: up to 12 groups, each in lanes or not.
        let key: Vec<i64> = rows.iter().map(|r| i64::from(r.0)).collect();
        let amount: Vec<Option<f64>> = rows.iter().map(|r| r.1).collect();
        let n: Vec<Option<i64>> = rows.iter().map(|r| r.2).collect();
        let frame = df!("segment" => key, "amount" => amount, "n" => n)
            .unwrap()
            .lazy()
            .group_by([col("segment")])
            .agg([
                col("amount").median().alias("amount_median"),
                col("amount").sum().alias("amount_sum"),
                col("amount").max().alias("amount_max"),
                col("n").mean().alias("n_mean"),
                col("n").min().alias("n_min"),
                col("n").count().alias("n_count"),
                len().alias("rows"),
            ]);
        let (ours, theirs) = both(frame);
        prop_assert_eq!(ours.height(), theirs.height());
        let terms = magnitude(rows.iter().map(|r| r.1));
        for (a, b) in ours.columns().iter().zip(theirs.columns()) {
            prop_assert!(same(a, b, terms), "column {}: ours:\n{}\ntheirs:\n{}", a.name(), ours, theirs);
        }
    }
}

#[test]
fn empty_input_one_group_and_groups_of_only_nulls() {
    assert_same(&[], 0.0);
    // One group (every score above), and a group whose amounts are all
    // null or NaN. (Sums that overflow wrap in both, but polars panics
    // on overflow where debug assertions are on, as in this test.)
    let rows = [
        (Some(1.0), None, Some(i64::MAX / 2)),
        (Some(2.0), Some(f64::NAN), Some(1)),
        (Some(-1.0), None, None),
    ];
    assert_same(&rows[..2], 0.0);
    assert_same(&rows, 0.0);
}

#[test]
fn parts_of_many_rows_add_up_in_every_thread_count() {
    // More rows than one part, over several chunks.
    let rows: Vec<_> = (0..700_000i64)
        .map(|i| {
            (
                Some((i % 7) as f64 - 3.0),
                Some((i % 1000) as f64 * 0.1),
                (i % 13 != 0).then_some(i),
            )
        })
        .collect();
    let (ours, theirs) = both(query(&rows, 0.5));
    assert_columns_same(&ours, &theirs, magnitude(rows.iter().map(|r| r.1)));
}

#[test]
fn other_aggregations_are_left_to_polars() {
    let frame = df!("x" => [1.0, 2.0])
        .unwrap()
        .lazy()
        .with_columns([when(col("x").gt(lit(1.0)))
            .then(lit("a"))
            .otherwise(lit("b"))
            .alias("k")]);
    let std = frame.clone().group_by([col("k")]).agg([col("x").std(1)]);
    assert!(!matches!(
        accelerate(&std.logical_plan).unwrap(),
        DslPlan::DataFrameScan { .. }
    ));
    let plain_key = frame.group_by([col("x")]).agg([col("x").sum().alias("s")]);
    assert!(!matches!(
        accelerate(&plain_key.logical_plan).unwrap(),
        DslPlan::DataFrameScan { .. }
    ));
}

#[test]
fn an_aggregation_reading_the_label_column_gets_its_labels() {
    // `first` of the key column itself, beside a median and a sum: the key
    // stays the strings it is, not its condition's bits.
    let frame = df!("x" => [1.0, 5.0, 3.0, 8.0])
        .unwrap()
        .lazy()
        .with_columns([segment("x", 2.0)])
        .group_by([col("segment")])
        .agg([
            col("x").median().alias("median"),
            col("x").sum().alias("sum"),
            col("segment").first().alias("first"),
        ]);
    let (ours, theirs) = both(frame);
    assert_eq!(ours, theirs);
    assert_eq!(
        ours.column("first").unwrap().str().unwrap().get(0),
        Some("High")
    );
}

/// Every reduction this module takes over all rows of `rows` whose score is
/// above `threshold` (none, some or all), a flag and literals among them, by
/// [`accelerate::ungrouped_reductions`] and by polars.
fn assert_same_ungrouped(rows: &[Row], threshold: f64) {
    let input = frame_of(rows)
        .with_columns([col("amount")
            .gt(lit(100.0))
            .cast(DataType::Int64)
            .alias("high")])
        .filter(col("score").gt(lit(threshold)));
    let aggs = [
        lit("max").alias("kind"),
        col("amount").sum().alias("amount_sum"),
        col("amount").mean().alias("amount_mean"),
        lit(2.5).cast(DataType::Float32).alias("weight"),
        col("amount").min().alias("amount_min"),
        col("amount")
            .max()
            .cast(DataType::Float64)
            .alias("amount_max"),
        col("amount").count().alias("amount_count"),
        col("n").sum().alias("n_sum"),
        col("n").mean().cast(DataType::Float32).alias("n_mean"),
        col("n").min().alias("n_min"),
        col("n").max().alias("n_max"),
        col("high").sum().alias("high_sum"),
        len().alias("rows"),
    ];
    let node = input.clone().select(aggs.clone());
    let theirs = node.clone().collect().unwrap();
    // Left to polars only when no batch came at all: polars' streaming
    // engine sends none when no row passes the filter.
    let Some(ours) = accelerate::ungrouped_reductions(input, &aggs, &node).unwrap() else {
        let passing = rows.iter().filter(|r| r.0.is_some_and(|s| s > threshold));
        assert_eq!(passing.count(), 0, "left to polars although rows pass");
        return;
    };
    assert_eq!(ours.get_column_names(), theirs.get_column_names());
    assert_eq!((ours.height(), theirs.height()), (1, 1));
    assert_columns_same(&ours, &theirs, magnitude(rows.iter().map(|r| r.1)));
}

proptest! {
    #[test]
    fn ungrouped_reductions_are_polars_own(
        rows in prop::collection::vec(row(), 0..300),
        threshold in -6.0f64..6.0,
    ) {
        assert_same_ungrouped(&rows, threshold);
    }
}

#[test]
fn ungrouped_reductions_of_no_rows_and_of_only_nulls() {
    assert_same_ungrouped(&[], 0.0);
    let rows = [
        (Some(1.0), None, None),
        (Some(2.0), Some(f64::NAN), None),
        (Some(-1.0), Some(3.0), Some(4)),
    ];
    // No row passes, only nulls and NaN pass, every row passes.
    assert_same_ungrouped(&rows, 5.0);
    assert_same_ungrouped(&rows, 0.0);
    assert_same_ungrouped(&rows, -5.0);
}

#[test]
fn a_batch_of_no_rows_reduces_to_polars_empty_aggregations() {
    // What a step of mapped batches that no row passes hands over.
    let empty = df!("amount" => Vec::<f64>::new(), "n" => Vec::<i64>::new()).unwrap();
    let aggs = [
        col("amount").sum().alias("amount_sum"),
        col("amount").mean().alias("amount_mean"),
        col("amount")
            .max()
            .cast(DataType::Float64)
            .alias("amount_max"),
        col("amount").count().alias("amount_count"),
        col("n").sum().alias("n_sum"),
        col("n").min().alias("n_min"),
        len().alias("rows"),
    ];
    let reductions: Vec<Reduction> = aggs.iter().filter_map(Reduction::of).collect();
    let mut reducer = Reducer::new(&reductions, &[]);
    reducer.add(&empty, &[], 1).unwrap();
    let ours = reducer.finish(1).unwrap();
    let theirs = empty.lazy().select(aggs).collect().unwrap();
    assert_columns_same(&ours, &theirs, 0.0);
}
