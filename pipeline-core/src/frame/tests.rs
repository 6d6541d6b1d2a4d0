//! Frames through the runtime: how they are stored, viewed, kept in memory
//! and read back by a new runtime (a new process, as far as the store is
//! concerned).

use std::path::Path;

use polars::prelude::*;

use super::*;
use crate::graph::{GraphBuilder, NodeSpec, TaskSpec};
use crate::task::TaskDef;
use crate::{JobStatus, Runtime};

fn numbers(n: i64) -> LazyFrame {
    df!("x" => (0..n).collect::<Vec<i64>>(), "y" => (0..n).map(|v| v as f64 * 0.5).collect::<Vec<f64>>())
        .unwrap()
        .lazy()
}

/// `make(n) -> base`, `derive(base, k) -> derived` (a row-wise query over
/// `base`), `total(derived) -> summed` (an aggregation).
fn graph() -> crate::graph::Graph {
    GraphBuilder::new("frames")
        .node(NodeSpec::new::<i64>("n").with_default(1000))
        .node(NodeSpec::new::<f64>("k").with_default(2.0))
        .node(NodeSpec::new::<LazyFrame>("base"))
        .node(NodeSpec::new::<LazyFrame>("derived"))
        .node(NodeSpec::new::<LazyFrame>("summed"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| numbers(*n)))
                .inputs(["n"])
                .outputs(["base"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2(
                "derive",
                "1",
                |base: &LazyFrame, k: &f64| {
                    base.clone()
                        .with_columns([
                            (col("y") * lit(*k)).alias("z"),
                            (col("x") % lit(3)).alias("m"),
                        ])
                        .filter(col("x").gt(lit(10)))
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
                    .agg([col("z").sum(), col("y").median()])
                    .sort(["m"], SortMultipleOptions::default())
            }))
            .inputs(["derived"])
            .outputs(["summed"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

fn read(scenario: &crate::Scenario, node: &str) -> DataFrame {
    let frame = scenario.node::<LazyFrame>(node).unwrap().read().unwrap();
    collect_streaming(frame.as_ref().clone()).unwrap()
}

/// What the graph computes, by polars alone.
fn expected(n: i64, k: f64) -> DataFrame {
    numbers(n)
        .with_columns([
            (col("y") * lit(k)).alias("z"),
            (col("x") % lit(3)).alias("m"),
        ])
        .filter(col("x").gt(lit(10)))
        .group_by([col("m")])
        .agg([col("z").sum(), col("y").median()])
        .sort(["m"], SortMultipleOptions::default())
        .collect()
        .unwrap()
}

fn object_files(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store.join("objects"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_frame_is_stored_as_an_arrow_ipc_file_named_by_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let scenario = runtime.create_scenario(graph(), "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let base = scenario
        .node::<LazyFrame>("base")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    let file = dir
        .path()
        .join("objects")
        .join(format!("{}.arrow", base.to_hex()));
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"ARROW1"), "an Arrow IPC file");
    assert_eq!(crate::fingerprint::Fingerprint::of_bytes(&bytes), base);
    assert!(read(&scenario, "base").equals(&numbers(1000).collect().unwrap()));
}

#[test]
fn a_row_wise_query_over_a_stored_frame_is_stored_as_a_view_and_read_back_by_a_new_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let first = Runtime::open(dir.path()).unwrap();
    let scenario = first.create_scenario(graph(), "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let derived = scenario
        .node::<LazyFrame>("derived")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    // No file of rows for the view: only `base` and `summed` have files.
    assert_eq!(
        object_files(dir.path()).len(),
        2,
        "{:?}",
        object_files(dir.path())
    );
    assert!(
        !object_files(dir.path())
            .iter()
            .any(|f| f.starts_with(&derived.to_hex()))
    );
    let id = scenario.id();
    drop((scenario, first));

    let second = Runtime::open(dir.path()).unwrap();
    let scenario = second.open_scenario(graph(), id).unwrap();
    let view = read(&scenario, "derived");
    assert_eq!(view.height(), 989);
    assert_eq!(view.get_column_names(), ["x", "y", "z", "m"]);
    // A consumer re-run in the new runtime reads the view over the file.
    let forced = scenario
        .submit_with(&crate::SubmitOptions::new().force(true))
        .unwrap();
    assert!(forced.is_success());
    assert!(read(&scenario, "summed").equals_missing(&expected(1000, 2.0)));
}

#[test]
fn an_equal_view_keeps_its_fingerprint_and_another_recipe_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let scenario = runtime.create_scenario(graph(), "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let derived = || {
        scenario
            .node::<LazyFrame>("derived")
            .unwrap()
            .fingerprint()
            .unwrap()
            .unwrap()
    };
    let before = derived();
    let forced = scenario
        .submit_with(&crate::SubmitOptions::new().force(true))
        .unwrap();
    assert!(forced.is_success());
    assert_eq!(derived(), before, "the same recipe over the same frame");
    scenario.node::<f64>("k").unwrap().write(3.0).unwrap();
    let third = scenario.submit().unwrap();
    assert_eq!(third.status("derive"), Some(JobStatus::Completed));
    assert_eq!(third.status("total"), Some(JobStatus::Completed));
    assert_ne!(derived(), before);
    assert!(read(&scenario, "summed").equals_missing(&expected(1000, 3.0)));
}

/// A store with [`graph`] submitted once, with `budget` bytes of frame memory.
fn submitted(budget: usize) -> (tempfile::TempDir, Runtime, crate::Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .frame_memory(budget)
        .open(dir.path())
        .unwrap();
    let scenario = runtime.create_scenario(graph(), "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    (dir, runtime, scenario)
}

/// The fingerprint of frame node `node`'s value.
fn fingerprint_of(scenario: &crate::Scenario, node: &str) -> crate::fingerprint::Fingerprint {
    scenario
        .node::<LazyFrame>(node)
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap()
}

#[test]
fn results_are_the_same_with_and_without_frames_kept_in_memory() {
    for budget in [0, 64 << 20] {
        let (_dir, runtime, scenario) = submitted(budget);
        assert!(
            read(&scenario, "summed").equals_missing(&expected(1000, 2.0)),
            "{budget}"
        );
        let held = runtime.memory().held();
        if budget == 0 {
            assert_eq!(held, 0);
        } else {
            assert!(held > 0, "the frames written stay in memory");
        }
    }
}

/// Whether this process maps a file named `name` now (Linux).
#[cfg(target_os = "linux")]
fn is_mapped(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|line| line.ends_with(name))
}

#[test]
#[cfg(target_os = "linux")]
fn a_frame_of_fixed_width_columns_is_read_by_the_next_task_from_its_mapped_file() {
    // `base` (integers and floats) is not kept as a copy of its rows: the
    // next task maps the file it was written to, pages already in memory.
    let (dir, _runtime, scenario) = submitted(64 << 20);
    let file = format!("{}.arrow", fingerprint_of(&scenario, "base").to_hex());
    assert!(object_files(dir.path()).contains(&file));
    assert!(is_mapped(&file), "the next task mapped {file}");
    assert!(read(&scenario, "summed").equals_missing(&expected(1000, 2.0)));
}

#[test]
fn a_frame_over_the_budget_is_not_kept_but_still_stored() {
    let (_dir, runtime, scenario) = submitted(1024);
    // `base` (1,000 rows of two 8-byte columns) does not fit; the 3-row
    // aggregate does.
    let base = fingerprint_of(&scenario, "base");
    assert!(runtime.memory().get::<DataFrame>(&base).is_none());
    assert!(runtime.memory().held() <= 1024);
    assert!(read(&scenario, "summed").equals_missing(&expected(1000, 2.0)));
}

#[test]
fn a_task_returning_its_input_unchanged_stores_no_copy() {
    let graph = GraphBuilder::new("same")
        .node(NodeSpec::new::<i64>("n").with_default(100))
        .node(NodeSpec::new::<LazyFrame>("a"))
        .node(NodeSpec::new::<LazyFrame>("b"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| numbers(*n)))
                .inputs(["n"])
                .outputs(["a"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("same", "1", |a: &LazyFrame| a.clone()))
                .inputs(["a"])
                .outputs(["b"]),
        )
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let scenario = runtime.create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(
        fingerprint_of(&scenario, "a"),
        fingerprint_of(&scenario, "b")
    );
    assert_eq!(object_files(dir.path()).len(), 1);
}

#[test]
fn a_parquet_type_is_stored_as_parquet_and_reads_back() {
    pub struct Archive(pub LazyFrame);
    crate::lazy_frame_value!(parquet: Archive);
    let graph = std::sync::Arc::new(
        GraphBuilder::new("archive")
            .node(NodeSpec::new::<i64>("n").with_default(100))
            .node(NodeSpec::new::<Archive>("a"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| {
                    Archive(numbers(*n))
                }))
                .inputs(["n"])
                .outputs(["a"]),
            )
            .build()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let scenario = runtime.create_scenario(graph.clone(), "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let files = object_files(dir.path());
    let parquet = files
        .iter()
        .find(|f| f.ends_with(".parquet"))
        .expect("a parquet file");
    let bytes = std::fs::read(dir.path().join("objects").join(parquet)).unwrap();
    assert!(bytes.starts_with(b"PAR1"));
    let id = scenario.id();
    drop((scenario, runtime));
    let scenario = Runtime::open(dir.path())
        .unwrap()
        .open_scenario(graph, id)
        .unwrap();
    let a = scenario.node::<Archive>("a").unwrap().read().unwrap();
    assert!(
        collect_streaming(a.0.clone())
            .unwrap()
            .equals(&numbers(100).collect().unwrap())
    );
}

#[test]
fn equal_frames_get_equal_fingerprints_however_they_are_chunked() {
    let whole = df!("x" => (0..300_000i64).collect::<Vec<_>>()).unwrap();
    let mut chunked = whole.slice(0, 100_000);
    chunked.vstack_mut(&whole.slice(100_000, 200_000)).unwrap();
    assert_eq!(whole.fingerprint().unwrap(), chunked.fingerprint().unwrap());
    let lazy = |frame: &DataFrame| frame.clone().lazy().fingerprint().unwrap();
    assert_eq!(lazy(&whole), lazy(&chunked));
}

#[test]
fn data_frames_round_trip_through_ipc_bytes_and_old_parquet_bytes_still_decode() {
    let frame = df!("a" => [1.5, 2.5], "b" => ["x", "y"]).unwrap();
    let mut bytes = Vec::new();
    frame.encode(&mut bytes).unwrap();
    assert!(bytes.starts_with(b"ARROW1"));
    assert!(
        DataFrame::decode(&mut bytes.as_slice())
            .unwrap()
            .equals(&frame)
    );
    let mut parquet = Vec::new();
    format::encode(&frame, FrameFormat::Parquet, &mut parquet).unwrap();
    assert!(
        DataFrame::decode(&mut parquet.as_slice())
            .unwrap()
            .equals(&frame)
    );
}

/// `make(n) -> base` alone.
fn make_graph() -> crate::graph::Graph {
    GraphBuilder::new("makes")
        .node(NodeSpec::new::<i64>("n").with_default(1000))
        .node(NodeSpec::new::<LazyFrame>("base"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| numbers(*n)))
                .inputs(["n"])
                .outputs(["base"]),
        )
        .build()
        .unwrap()
}

/// `import(path) -> imported` (a plain scan of the Arrow IPC file the user
/// names), `derive(imported) -> derived` (a row-wise query over it).
fn import_graph(path: &Path) -> crate::graph::Graph {
    GraphBuilder::new("imports")
        .node(NodeSpec::new::<String>("path").with_default(path.to_str().unwrap().to_owned()))
        .node(NodeSpec::new::<LazyFrame>("imported"))
        .node(NodeSpec::new::<LazyFrame>("derived"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("import", "1", |path: &String| {
                LazyFrame::scan_ipc(
                    PlRefPath::new(path.as_str()),
                    Default::default(),
                    Default::default(),
                )
                .unwrap()
            }))
            .inputs(["path"])
            .outputs(["imported"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("derive", "1", |imported: &LazyFrame| {
                imported
                    .clone()
                    .with_columns([(col("x") * lit(2)).alias("twice")])
            }))
            .inputs(["imported"])
            .outputs(["derived"]),
        )
        .build()
        .unwrap()
}

#[test]
fn a_file_named_like_a_stored_frame_outside_the_store_is_read_for_its_rows() {
    // The store holds `base` (1,000 rows) under fingerprint B. The user's
    // own directory, also called `objects`, has a file named `B.arrow`
    // holding 5 other rows: its name must not make it that stored frame.
    let dir = tempfile::tempdir().unwrap();
    let users = tempfile::tempdir().unwrap();
    let objects = users.path().join("objects");
    std::fs::create_dir(&objects).unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let made = runtime.create_scenario(make_graph(), "made").unwrap();
    made.submit().unwrap().into_result().unwrap();
    let base = made
        .node::<LazyFrame>("base")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    let lookalike = objects.join(format!("{}.arrow", base.to_hex()));
    let mut five = numbers(5).collect().unwrap();
    IpcWriter::new(std::fs::File::create(&lookalike).unwrap())
        .finish(&mut five)
        .unwrap();

    let graph = std::sync::Arc::new(import_graph(&lookalike));
    let scenario = runtime.create_scenario(graph.clone(), "import").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert!(
        read(&scenario, "imported").equals(&five),
        "the file's own rows"
    );
    let imported = scenario
        .node::<LazyFrame>("imported")
        .unwrap()
        .fingerprint()
        .unwrap();
    assert_ne!(
        imported,
        Some(base),
        "not the stored frame it is named after"
    );
    assert_eq!(read(&scenario, "derived").height(), 5);
    // And in a new process, through the store only.
    drop((scenario, made, runtime));
    let again = Runtime::open(dir.path()).unwrap();
    let scenario = again.find_scenario(graph, "import").unwrap().unwrap();
    assert!(read(&scenario, "imported").equals(&five));
    assert_eq!(read(&scenario, "derived").height(), 5);
}
