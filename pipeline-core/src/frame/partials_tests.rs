//! Partial results ([`super::partials`]): which aggregations run again when
//! a derived column changes, and that the assembled results are polars' own.

use std::collections::HashMap;

use parking_lot::Mutex;
use polars::prelude::*;
use proptest::prelude::*;

use super::partials::reuse;
use super::test_frames::stored;
use crate::fingerprint::Fingerprint;
use crate::partial_results::PartialResults;

/// Partial results in memory, counting what is recorded.
#[derive(Default)]
struct Recorded {
    results: Mutex<HashMap<Fingerprint, Vec<u8>>>,
}

impl PartialResults for Recorded {
    fn partial_result(&self, key: &Fingerprint) -> Option<Vec<u8>> {
        self.results.lock().get(key).cloned()
    }

    fn record_partial_result(&self, key: &Fingerprint, _references: &[Fingerprint], result: &[u8]) {
        self.results.lock().insert(*key, result.to_vec());
    }
}

impl Recorded {
    fn len(&self) -> usize {
        self.results.lock().len()
    }
}

/// The row-wise query the aggregations read: `z` depends on `k`, `m` does not.
fn derived(base: &LazyFrame, k: f64) -> LazyFrame {
    base.clone()
        .with_columns([
            (col("y") * lit(k)).alias("z"),
            (col("x") % lit(3)).alias("m"),
            (col("x") * lit(2)).alias("unused"),
        ])
        .filter(col("x").gt(lit(10)))
}

/// Runs a part as the executor does, remembering each part's plan.
struct Runs(Vec<String>);

impl Runs {
    fn run(&mut self, part: LazyFrame) -> PolarsResult<DataFrame> {
        self.0.push(part.describe_plan()?);
        super::collect_streaming(part)
    }
}

fn reused(query: &LazyFrame, cache: &Recorded, runs: &mut Runs) -> DataFrame {
    super::collect_streaming(reuse(query, cache, &mut |part| runs.run(part))).unwrap()
}

fn grouped(base: &LazyFrame, k: f64) -> LazyFrame {
    derived(base, k)
        .group_by([col("m")])
        .agg([col("z").sum(), col("y").median(), col("x").mean()])
        .sort(["m"], SortMultipleOptions::default())
}

#[test]
fn only_the_aggregation_that_reads_a_changed_column_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let base = stored(dir.path(), 2000);
    let cache = Recorded::default();
    let mut runs = Runs(Vec::new());

    let first = reused(&grouped(&base, 2.0), &cache, &mut runs);
    assert!(first.equals_missing(&grouped(&base, 2.0).collect().unwrap()));
    assert_eq!(runs.0.len(), 1, "one query for every part");
    assert_eq!(cache.len(), 3, "one result per aggregation");

    let second = reused(&grouped(&base, 3.0), &cache, &mut runs);
    assert!(second.equals_missing(&grouped(&base, 3.0).collect().unwrap()));
    assert_eq!(runs.0.len(), 2);
    let part = &runs.0[1];
    assert!(part.contains("col(\"z\").sum()"), "{part}");
    assert!(!part.contains("median") && !part.contains("mean"), "{part}");
    // The columns the part does not read are not computed.
    assert!(!part.contains("unused"), "{part}");

    let again = reused(&grouped(&base, 2.0), &cache, &mut runs);
    assert!(again.equals_missing(&first));
    assert_eq!(runs.0.len(), 2, "every part recorded: nothing runs");
}

#[test]
fn a_select_of_aggregations_runs_only_its_new_aggregations() {
    let dir = tempfile::tempdir().unwrap();
    let base = stored(dir.path(), 2000);
    let cache = Recorded::default();
    let mut runs = Runs(Vec::new());
    let summary = |kind: &str, stat: Expr| {
        derived(&base, 2.0).filter(col("m").eq(lit(1))).select([
            lit(kind.to_owned()).alias("kind"),
            stat.alias("stat"),
            col("y").median().alias("median_y"),
        ])
    };
    let max = reused(&summary("max", col("z").max()), &cache, &mut runs);
    assert!(max.equals_missing(&summary("max", col("z").max()).collect().unwrap()));
    let min = reused(&summary("min", col("z").min()), &cache, &mut runs);
    assert!(min.equals_missing(&summary("min", col("z").min()).collect().unwrap()));
    assert_eq!(runs.0.len(), 2);
    assert!(!runs.0[1].contains("median"), "{}", runs.0[1]);
}

#[test]
fn keys_of_a_floating_point_type_are_not_split() {
    let dir = tempfile::tempdir().unwrap();
    let base = stored(dir.path(), 2000);
    let cache = Recorded::default();
    let mut runs = Runs(Vec::new());
    let query = |k: f64| {
        derived(&base, k)
            .group_by([col("y")])
            .agg([col("z").sum(), col("x").max()])
            .sort(["y"], SortMultipleOptions::default().with_nulls_last(true))
    };
    let first = reused(&query(2.0), &cache, &mut runs);
    assert!(first.equals_missing(&query(2.0).collect().unwrap()));
    assert_eq!(cache.len(), 1, "one part for the whole aggregation");
    let second = reused(&query(4.0), &cache, &mut runs);
    assert!(second.equals_missing(&query(4.0).collect().unwrap()));
    assert!(
        runs.0[1].contains("max"),
        "the whole node runs again: {}",
        runs.0[1]
    );
}

#[test]
fn a_query_over_data_that_is_not_stored_is_left_alone() {
    let cache = Recorded::default();
    let mut runs = Runs(Vec::new());
    let query = df!("m" => [1, 1, 2], "z" => [1.0, 2.0, 3.0])
        .unwrap()
        .lazy()
        .group_by([col("m")])
        .agg([col("z").sum()]);
    let before = query.describe_plan().unwrap();
    let after = reuse(&query, &cache, &mut |part| runs.run(part));
    assert_eq!(after.describe_plan().unwrap(), before);
    assert_eq!(cache.len(), 0);
}

/// The aggregations a random query picks from.
fn pool() -> Vec<Expr> {
    vec![
        col("z").sum(),
        col("y").median(),
        col("x").mean(),
        col("z").min().alias("z_min"),
        col("y").max().alias("y_max"),
        len().alias("rows"),
        col("x").first().alias("x_first"),
        col("y").null_count().alias("y_nulls"),
        (col("z") + col("x").cast(DataType::Float64))
            .sum()
            .alias("zx"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Whatever mix of recorded and new parts a query has, its result is the
    /// one polars gives for the whole query.
    #[test]
    fn reused_results_are_polars_own(
        steps in prop::collection::vec((0u8..4, prop::collection::btree_set(0usize..9, 1..5), any::<bool>()), 1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = stored(dir.path(), 2000);
        let cache = Recorded::default();
        let mut runs = Runs(Vec::new());
        let pool = pool();
        for (k, picked, by_key) in steps {
            let aggs: Vec<Expr> = picked.iter().map(|&i| pool[i].clone()).collect();
            let view = derived(&base, f64::from(k));
            let query = if by_key {
                view.group_by_stable([col("m")]).agg(aggs)
            } else {
                view.select(aggs)
            };
            let got = reused(&query, &cache, &mut runs);
            let want = query.collect().unwrap();
            prop_assert!(got.equals_missing(&want), "{got}\n{want}");
        }
    }
}
