//! Grouped aggregations from blocks against polars' own, on random files
//! read in small blocks, with partials grouped again often.

use std::path::Path;

use polars::prelude::*;
use proptest::prelude::*;

use super::aggregate_with;
use crate::frame::csv::{ReadOptions, scan_csv};

fn options(block_bytes: usize) -> ReadOptions {
    ReadOptions::default()
        .with_block_bytes(block_bytes)
        .with_piece_bytes(64)
        .with_threads(2)
}

fn typed() -> [(&'static str, DataType); 2] {
    [("amount", DataType::Float64), ("count", DataType::Int64)]
}

/// Sums, means, extremes and counts per `key` (and per `key` and a flag).
fn query(path: &Path, stable: bool) -> LazyFrame {
    let scan = scan_csv(path, &typed())
        .unwrap()
        .filter(col("count").neq(lit(7)));
    let keys = [col("key"), (col("count") % lit(2)).alias("odd")];
    let grouped = match stable {
        true => scan.group_by_stable(keys),
        false => scan.group_by(keys),
    };
    let aggs = grouped.agg([
        col("count").sum().alias("counts"),
        col("amount").mean(),
        col("amount").min().alias("least"),
        col("count").max().cast(DataType::Float64).alias("most"),
        col("amount").count().alias("amounts"),
        len().alias("rows"),
    ]);
    match stable {
        true => aggs,
        false => aggs.sort(
            ["key", "odd"],
            SortMultipleOptions::default().with_nulls_last(true),
        ),
    }
}

/// Whether two frames hold the same values, means within 1e-9 relative.
fn same(ours: &DataFrame, theirs: &DataFrame) -> bool {
    let mean = |frame: &DataFrame| -> Vec<Option<f64>> {
        frame
            .column("amount")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect()
    };
    let close = mean(ours)
        .iter()
        .zip(mean(theirs))
        .all(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            (a, b) => *a == b,
        });
    let rest = |frame: &DataFrame| frame.drop("amount").unwrap();
    close && ours.schema() == theirs.schema() && rest(ours).equals_missing(&rest(theirs))
}

fn key_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\"a, b\"".to_owned()),
        Just("Straße".to_owned()),
        Just("\"say \"\"x\"\"\"".to_owned()),
        "[a-c]{1,2}",
    ]
}

fn rows() -> impl Strategy<Value = Vec<(String, Option<f64>, Option<i64>)>> {
    prop::collection::vec(
        (
            key_cell(),
            prop::option::weighted(
                0.9,
                (-1e4f64..1e4).prop_map(|x| (x * 100.0).round() / 100.0),
            ),
            prop::option::weighted(0.9, -20i64..20),
        ),
        0..300,
    )
}

fn write(dir: &Path, rows: &[(String, Option<f64>, Option<i64>)]) -> std::path::PathBuf {
    let mut text = String::from("key,amount,note,count\n");
    for (key, amount, count) in rows {
        let show = |v: Option<String>| v.unwrap_or_default();
        text.push_str(&format!(
            "{key},{},\"n, 1\",{}\n",
            show(amount.map(|x| x.to_string())),
            show(count.map(|x| x.to_string()))
        ));
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn grouped_from_blocks_are_polars_own(
        rows in rows(),
        block_bytes in 64usize..2048,
        combine_rows in 1usize..40,
        stable in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &rows);
        let frame = query(&path, stable);
        let theirs = frame.clone().collect().unwrap();
        match aggregate_with(&frame, usize::MAX, &options(block_bytes), combine_rows).unwrap() {
            Some(ours) => {
                let ours = ours.collect().unwrap();
                prop_assert!(same(&ours, &theirs), "ours:\n{ours}\npolars:\n{theirs}");
            }
            // Only a file without records is left to polars.
            None => prop_assert!(rows.is_empty()),
        }
    }
}

#[test]
fn groups_larger_than_allowed_and_other_aggregations_are_left_to_polars() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..2000)
        .map(|i| (format!("k{i}"), Some(i as f64), Some(i as i64)))
        .collect();
    let path = write(dir.path(), &rows);
    let frame = query(&path, false);
    assert!(
        aggregate_with(&frame, 10_000, &options(1024), 100)
            .unwrap()
            .is_none(),
        "2000 groups take more than 10 kB"
    );
    assert!(
        aggregate_with(&frame, usize::MAX, &options(1024), 100)
            .unwrap()
            .is_some()
    );
    let scan = || scan_csv(&path, &typed()).unwrap();
    let by_key = || scan().group_by([col("key")]);
    for other in [
        by_key().agg([col("amount").median()]),
        by_key().agg([(col("amount") * lit(2.0)).sum()]),
        by_key().agg([col("amount").std(1)]),
        // Reads no column of the file.
        scan().group_by([lit(1).alias("one")]).agg([len()]),
    ] {
        assert!(
            aggregate_with(&other, usize::MAX, &options(1024), 100)
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn a_bad_cell_is_the_reader_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.csv");
    std::fs::write(&path, "key,amount,note,count\na,1,x,2\nb,two,x,3\n").unwrap();
    let error = aggregate_with(&query(&path, false), usize::MAX, &options(1024), 100)
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(
        message.contains("`amount`") && message.contains("line 3"),
        "{message}"
    );
}
