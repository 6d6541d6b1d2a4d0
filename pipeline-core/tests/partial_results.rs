//! Partial results through a store on disk, across runtimes (as a new
//! process sees them): an aggregation recorded by one runtime is taken by the
//! next from the store, unless its bytes changed; gc drops the results
//! computed from values it collects.

use std::path::Path;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::{Runtime, Scenario};
use polars::prelude::*;
use rusqlite::Connection;

/// `make(n) -> base`; `derive(base, k) -> derived`, a view whose `z`
/// depends on `k`; `total(derived) -> summed`: per `m`, the sum of `z` and
/// the median of `y` (which does not depend on `k`).
fn graph() -> Graph {
    GraphBuilder::new("partials")
        .node(NodeSpec::new::<i64>("n").with_default(3000))
        .node(NodeSpec::new::<f64>("k").with_default(2.0))
        .node(NodeSpec::new::<LazyFrame>("base"))
        .node(NodeSpec::new::<LazyFrame>("derived"))
        .node(NodeSpec::new::<LazyFrame>("summed"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| {
                df!(
                    "x" => (0..*n).collect::<Vec<i64>>(),
                    "y" => (0..*n).map(|v| (v * 37 % 101) as f64).collect::<Vec<f64>>(),
                )
                .unwrap()
                .lazy()
            }))
            .inputs(["n"])
            .outputs(["base"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2(
                "derive",
                "1",
                |base: &LazyFrame, k: &f64| {
                    base.clone().with_columns([
                        (col("y") * lit(*k)).alias("z"),
                        (col("x") % lit(3)).alias("m"),
                    ])
                },
            ))
            .inputs(["base", "k"])
            .outputs(["derived"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("total", "1", |derived: &LazyFrame| {
                derived
                    .clone()
                    .group_by([col("m")])
                    .agg([col("z").sum(), col("y").median().alias("median_y")])
                    .sort(["m"], SortMultipleOptions::default())
            }))
            .inputs(["derived"])
            .outputs(["summed"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// A new runtime on the store at `dir` and its scenario `s`.
fn open(dir: &Path) -> (Runtime, Scenario) {
    let runtime = Runtime::open(dir).unwrap();
    let scenario = runtime.find_or_create_scenario(graph(), "s").unwrap();
    (runtime, scenario)
}

fn run_with_k(dir: &Path, k: f64) -> DataFrame {
    let (_runtime, scenario) = open(dir);
    scenario.node::<f64>("k").unwrap().write(k).unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let summed = scenario
        .node::<LazyFrame>("summed")
        .unwrap()
        .read()
        .unwrap();
    summed.as_ref().clone().collect().unwrap()
}

/// What polars computes for `k`, without the store.
fn expected(k: f64) -> DataFrame {
    let n = 3000i64;
    df!(
        "x" => (0..n).collect::<Vec<i64>>(),
        "y" => (0..n).map(|v| (v * 37 % 101) as f64).collect::<Vec<f64>>(),
    )
    .unwrap()
    .lazy()
    .with_columns([
        (col("y") * lit(k)).alias("z"),
        (col("x") % lit(3)).alias("m"),
    ])
    .group_by([col("m")])
    .agg([col("z").sum(), col("y").median().alias("median_y")])
    .sort(["m"], SortMultipleOptions::default())
    .collect()
    .unwrap()
}

fn database(dir: &Path) -> Connection {
    Connection::open(dir.join("pipeline.db")).unwrap()
}

/// The recorded part holding `column`: its key and frame.
fn recorded_part(dir: &Path, column: &str) -> (Vec<u8>, DataFrame) {
    let db = database(dir);
    let mut query = db.prepare("SELECT key, result FROM partials").unwrap();
    let rows: Vec<(Vec<u8>, Vec<u8>)> = query
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter()
        .map(|(key, bytes)| {
            let frame = IpcReader::new(std::io::Cursor::new(bytes))
                .finish()
                .unwrap();
            (key, frame)
        })
        .find(|(_, frame)| frame.column(column).is_ok())
        .unwrap_or_else(|| panic!("no recorded part holds `{column}`"))
}

/// Replaces the recorded part under `key` by `frame`, with `digest` as the
/// digest of its bytes (`None`: the right one).
fn rewrite_part(dir: &Path, key: &[u8], frame: &mut DataFrame, digest: Option<[u8; 32]>) {
    let mut bytes = Vec::new();
    IpcWriter::new(&mut bytes).finish(frame).unwrap();
    let digest = digest.unwrap_or(*blake3::hash(&bytes).as_bytes());
    database(dir)
        .execute(
            "UPDATE partials SET result = ?1, digest = ?2 WHERE key = ?3",
            rusqlite::params![bytes, digest.as_slice(), key],
        )
        .unwrap();
}

#[test]
fn a_new_runtime_takes_the_aggregations_that_did_not_change_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run_with_k(dir.path(), 2.0).equals(&expected(2.0)));
    let count: i64 = database(dir.path())
        .query_row("SELECT count(*) FROM partials", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2, "one recorded part per aggregation");

    // A probe: the recorded median, altered (with a right digest), is what
    // the next runtime's result holds, since only `sum(z)` reads `k`.
    let (key, mut part) = recorded_part(dir.path(), "median_y");
    let probe = Column::new("median_y".into(), vec![-1.0; part.height()]);
    part.with_column(probe).unwrap();
    rewrite_part(dir.path(), &key, &mut part, None);
    let changed = run_with_k(dir.path(), 3.0);
    assert_eq!(
        changed.column("z").unwrap(),
        expected(3.0).column("z").unwrap()
    );
    let medians: Vec<Option<f64>> = changed.column("median_y").unwrap().f64().unwrap().to_vec();
    assert!(medians.iter().all(|m| *m == Some(-1.0)), "{changed}");
}

#[test]
fn a_recorded_part_whose_bytes_changed_is_computed_again() {
    let dir = tempfile::tempdir().unwrap();
    run_with_k(dir.path(), 2.0);
    let (key, mut part) = recorded_part(dir.path(), "median_y");
    let probe = Column::new("median_y".into(), vec![-1.0; part.height()]);
    part.with_column(probe).unwrap();
    rewrite_part(dir.path(), &key, &mut part, Some([0; 32]));
    assert!(run_with_k(dir.path(), 3.0).equals(&expected(3.0)));
}

#[test]
fn gc_drops_the_parts_of_values_it_collects() {
    let dir = tempfile::tempdir().unwrap();
    run_with_k(dir.path(), 2.0);
    let (runtime, scenario) = open(dir.path());
    runtime.store().delete_scenario(scenario.id()).unwrap();
    let report = runtime.store().gc().unwrap();
    assert_eq!(report.partial_results_removed, 2, "{report:?}");
    let count: i64 = database(dir.path())
        .query_row("SELECT count(*) FROM partials", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0);
}
