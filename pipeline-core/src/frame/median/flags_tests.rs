//! Flag columns ([`super::flags`]) reduced from their conditions' bits
//! against polars' own results: sums, means, extremes and counts of a
//! condition cast to `Int64` or `Float64`, with nulls, NaN, beside medians
//! and alone, and a flag another aggregation reads as the number it is.

use super::accelerate;
use super::label_key::segment;
use polars::prelude::*;
use proptest::prelude::*;

/// `rows` of (score, amount) with a segment chosen by the score and two
/// flags of the amount (one null where the amount is), in one
/// `with_columns`.
fn flagged(rows: &[(Option<f64>, Option<f64>)], threshold: f64) -> LazyFrame {
    flagged_with(rows, threshold, [])
}

/// [`flagged`] with `more` columns in the same `with_columns`.
fn flagged_with(
    rows: &[(Option<f64>, Option<f64>)],
    threshold: f64,
    more: impl IntoIterator<Item = Expr>,
) -> LazyFrame {
    let score: Vec<Option<f64>> = rows.iter().map(|r| r.0).collect();
    let amount: Vec<Option<f64>> = rows.iter().map(|r| r.1).collect();
    df!("score" => score, "amount" => amount)
        .unwrap()
        .lazy()
        .with_columns(
            [
                segment("score", threshold),
                col("amount")
                    .gt(lit(10.0))
                    .fill_null(lit(false))
                    .cast(DataType::Int64)
                    .alias("big"),
                col("amount")
                    .lt_eq(lit(0.0))
                    .cast(DataType::Float64)
                    .alias("small"),
            ]
            .into_iter()
            .chain(more)
            .collect::<Vec<_>>(),
        )
}

/// Three rows: one of each group, one with no amount.
const FEW: [(Option<f64>, Option<f64>); 3] = [
    (Some(1.0), Some(20.0)),
    (Some(2.0), Some(1.0)),
    (Some(-1.0), None),
];

/// Every reduction of both flags per segment, with a median of the score
/// if `median`.
fn flag_reductions(frame: LazyFrame, median: bool) -> LazyFrame {
    let mut aggs = vec![
        col("big").sum().alias("big_sum"),
        col("big").mean().alias("big_mean"),
        col("big").min().alias("big_min"),
        col("big").max().alias("big_max"),
        col("big").count().alias("big_count"),
        col("small").sum().alias("small_sum"),
        col("small").mean().alias("small_mean"),
        col("small").min().alias("small_min"),
        col("small").max().cast(DataType::Int64).alias("small_max"),
        col("small").count().alias("small_count"),
        col("amount").mean().alias("amount_mean"),
    ];
    if median {
        aggs.push(col("score").median().alias("score_median"));
    }
    frame.group_by([col("segment")]).agg(aggs)
}

/// `frame` through [`accelerate`] (checked to have computed it) and by
/// polars, sorted by segment; they must be equal (means of flags are
/// counts over counts, exact in both).
fn assert_polars_own(frame: LazyFrame) {
    let accelerated = accelerate(&frame.logical_plan).unwrap();
    assert!(
        matches!(accelerated, DslPlan::DataFrameScan { .. }),
        "computed by this module"
    );
    let sorted = |f: LazyFrame| f.sort(["segment"], Default::default()).collect().unwrap();
    let (ours, theirs) = (sorted(LazyFrame::from(accelerated)), sorted(frame));
    assert_eq!(ours.schema(), theirs.schema());
    for name in theirs.get_column_names() {
        if name == "amount_mean" {
            continue;
        }
        let (a, b) = (ours.column(name).unwrap(), theirs.column(name).unwrap());
        assert!(
            a.as_materialized_series()
                .equals_missing(b.as_materialized_series()),
            "{name}: ours:\n{ours}\ntheirs:\n{theirs}"
        );
    }
}

fn amount() -> impl Strategy<Value = Option<f64>> {
    prop::option::weighted(
        0.8,
        prop_oneof![
            20 => -20.0f64..40.0,
            1 => Just(f64::NAN),
            1 => Just(-0.0),
        ],
    )
}

proptest! {
    #[test]
    fn flags_reduced_from_their_bits_are_polars_own(
        rows in prop::collection::vec((prop::option::weighted(0.9, -5.0f64..5.0), amount()), 0..300),
        threshold in -6.0f64..6.0,
        median: bool,
    ) {
        assert_polars_own(flag_reductions(flagged(&rows, threshold), median));
    }
}

#[test]
fn flags_over_several_parts_and_a_group_of_only_nulls() {
    // More rows than one part of the statistics, several chunks; the
    // "Low" rows' `small` flags all null.
    let rows: Vec<_> = (0..600_000i64)
        .map(|i| {
            let score = (i % 5) as f64;
            let amount = (score > 1.0).then_some((i % 31) as f64 - 5.0);
            (Some(score), amount)
        })
        .collect();
    assert_polars_own(flag_reductions(flagged(&rows, 1.0), false));
    assert_polars_own(flag_reductions(flagged(&rows, 1.0), true));
}

#[test]
fn a_flag_another_aggregation_reads_stays_a_number() {
    // `first` of the flag as text, beside a sum and a median of it: the
    // flag is not replaced by its condition, so `first` reads "1" and "0",
    // not "true" and "false".
    let frame = flagged(&FEW, 0.0).group_by([col("segment")]).agg([
        col("big").sum().alias("big_sum"),
        col("big").first().cast(DataType::String).alias("big_first"),
        col("big").median().alias("big_median"),
    ]);
    assert_polars_own(frame.clone());
    let ours = LazyFrame::from(accelerate(&frame.logical_plan).unwrap())
        .sort(["segment"], Default::default())
        .collect()
        .unwrap();
    let first: Vec<Option<&str>> = ours
        .column("big_first")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(first, [Some("1"), Some("0")], "{ours}");
}

#[test]
fn a_boolean_column_that_is_not_a_flag_is_left_to_polars() {
    // polars' `min` of a `Boolean` is a `Boolean`: as text "false", not "0".
    let frame = df!("x" => [1.0, 5.0, 3.0, 8.0], "b" => [true, false, true, true])
        .unwrap()
        .lazy()
        .with_columns([segment("x", 2.0)])
        .group_by([col("segment")])
        .agg([
            col("b").sum().alias("b_sum"),
            col("b").min().cast(DataType::String).alias("b_min"),
        ]);
    assert_polars_own(frame);
}

#[test]
fn flags_left_to_polars_with_another_column_are_their_numbers() {
    // An `Int32` column the reductions do not take sends every aggregation
    // to polars, over the evaluated columns: the flag is cast back first,
    // so its `min` as text is "0" or "1".
    let frame = flagged_with(&FEW, 0.0, [lit(7i32).alias("small_int")])
        .group_by([col("segment")])
        .agg([
            col("big").min().cast(DataType::String).alias("big_min"),
            col("big").sum().alias("big_sum"),
            col("small_int").sum().alias("int_sum"),
            col("score").median().alias("score_median"),
        ]);
    assert_polars_own(frame);
}
