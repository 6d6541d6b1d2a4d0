//! Frames the frame tests share: a stored frame read back as a task's
//! consumer gets it.

use polars::prelude::*;

use crate::Runtime;
use crate::graph::{GraphBuilder, NodeSpec, TaskSpec};
use crate::task::TaskDef;

/// A stored frame of `rows` rows of `x` (i64) and `y` (f64, with nulls),
/// written by a task into the store at `dir` (in record batches of
/// `FRAME_BATCH_ROWS`) and read back from it: a scan of its file.
pub(super) fn stored(dir: &std::path::Path, rows: i64) -> LazyFrame {
    let graph = GraphBuilder::new("base")
        .node(NodeSpec::new::<i64>("n").with_default(rows))
        .node(NodeSpec::new::<LazyFrame>("base"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| {
                df!(
                    "x" => (0..*n).collect::<Vec<_>>(),
                    "y" => (0..*n).map(|v| (v % 7 != 0).then_some((v * 37 % 101) as f64 * 0.5)).collect::<Vec<_>>(),
                )
                .unwrap()
                .lazy()
            }))
            .inputs(["n"])
            .outputs(["base"]),
        )
        .build()
        .unwrap();
    let runtime = Runtime::open(dir).unwrap();
    let scenario = runtime.create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let base = scenario.node::<LazyFrame>("base").unwrap().read().unwrap();
    base.as_ref().clone()
}

/// A CSV file `input.csv` in `dir` of `rows` records: `note` (a quoted text
/// holding a comma, one of `notes`), `amount` (a float) and `count` (an
/// integer).
pub(super) fn notes_csv(dir: &std::path::Path, rows: usize, notes: usize) -> std::path::PathBuf {
    let mut text = String::from("note,amount,count\n");
    for row in 0..rows {
        text.push_str(&format!(
            "\"n, {}\",{}.5,{}\n",
            row % notes,
            (row * 7919) % 1000,
            row % 13
        ));
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}
