//! Helpers shared by the CSV reader tests: a file written, read whole by
//! the parallel reader, and read by polars with `scan_csv`'s options.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use pipeline_core::Runtime;
use pipeline_core::frame::csv::{CsvError, ReadOptions, read_csv_blocks};
use pipeline_core::frame::{LazyFrame, collect_streaming};
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use polars::prelude::*;

/// `columns` of the whole file, read by the parallel reader.
pub fn read_columns(
    path: &Path,
    columns: &[(&str, DataType)],
    options: &ReadOptions,
) -> Result<DataFrame, CsvError> {
    let mut blocks: Vec<DataFrame> = Vec::new();
    read_csv_blocks(path, columns, options, |block| {
        blocks.push(block);
        Ok::<(), CsvError>(())
    })?;
    let schema: Schema = columns
        .iter()
        .map(|(n, t)| Field::new((*n).into(), t.clone()))
        .collect();
    let mut whole = DataFrame::empty_with_schema(&schema);
    for block in &blocks {
        whole.vstack_mut(block).unwrap();
    }
    Ok(whole)
}

/// The same columns, read by polars with `scan_csv`'s options.
pub fn polars_read(path: &Path, columns: &[(&str, DataType)]) -> DataFrame {
    polars_read_separated(path, columns, b',')
}

/// The same columns, read by polars with `scan_csv`'s options but fields
/// separated by `separator`.
pub fn polars_read_separated(
    path: &Path,
    columns: &[(&str, DataType)],
    separator: u8,
) -> DataFrame {
    polars_result(path, columns, separator).unwrap()
}

/// The same columns, read by polars with `scan_csv`'s options but fields
/// separated by `separator`, or polars' error.
pub fn polars_result(
    path: &Path,
    columns: &[(&str, DataType)],
    separator: u8,
) -> PolarsResult<DataFrame> {
    let types: Schema = columns
        .iter()
        .map(|(name, dtype)| Field::new((*name).into(), dtype.clone()))
        .collect();
    LazyCsvReader::new(PlRefPath::try_from_path(path)?)
        .with_has_header(true)
        .with_separator(separator)
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(std::sync::Arc::new(types)))
        .finish()?
        .select(
            columns
                .iter()
                .map(|(name, _)| col(*name))
                .collect::<Vec<_>>(),
        )
        .collect()
}

/// `text` written to `input.csv` in `dir`.
pub fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `query` over the CSV at `path` as a task of a fresh runtime keeping
/// `frame_memory` bytes of frames: the stored frame and its fingerprint, or
/// the job's error.
pub fn run_task(
    path: &Path,
    query: fn(&Path) -> LazyFrame,
    frame_memory: usize,
) -> Result<(DataFrame, pipeline_core::fingerprint::Fingerprint), String> {
    let path = path.to_owned();
    let graph = GraphBuilder::new("csv")
        .node(NodeSpec::new::<PathBuf>("csv").with_default(path))
        .node(NodeSpec::new::<LazyFrame>("result"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("query", "1", move |p: &PathBuf| query(p)))
                .inputs(["csv"])
                .outputs(["result"]),
        )
        .build()
        .unwrap();
    let store = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .frame_memory(frame_memory)
        .open(store.path())
        .unwrap();
    let scenario = runtime.create_scenario(graph, "s").unwrap();
    let submission = scenario.submit().unwrap();
    if let Some(error) = submission.jobs[0].error_text() {
        return Err(error.to_owned());
    }
    let node = scenario.node::<LazyFrame>("result").unwrap();
    let frame = collect_streaming(node.read().unwrap().as_ref().clone()).unwrap();
    Ok((frame, node.fingerprint().unwrap().unwrap()))
}
