//! Running a query over a CSV file with the parallel reader.
//!
//! A task's query that scans one CSV file and computes row by row from its
//! number and text columns (`scan_csv(..).select([col("Country"), score,
//! ..])`) is executed by the executor with
//! [`read_csv_blocks`](super::read_csv_blocks) instead of polars' CSV
//! source: each block the reader parses goes through the rest of the query
//! and into the stored file. The rows are the same (the reader follows
//! polars' cell rules, and the file is written in the same batches), so is
//! the fingerprint. Anything else (columns typed otherwise, other read
//! options, aggregations) runs on polars' streaming engine as usual.

use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;
use polars_plan::plans::{ArenaLpIter, IR};

use super::reader::{ReadOptions, read_csv_blocks};
use super::{CsvError, parse::ColumnKind};
use crate::frame::plan::map_plan;

/// A query the parallel reader can feed: one local CSV file, read with
/// options it follows, number and text columns only, row-wise operations
/// only.
pub(crate) struct CsvQuery {
    path: PathBuf,
    columns: Vec<(PlSmallStr, DataType)>,
}

impl CsvQuery {
    /// Recognizes such a query (see the module docs).
    pub(crate) fn of(frame: &LazyFrame) -> Option<Self> {
        let mut sources = Vec::new();
        crate::frame::plan::for_each_source(&frame.logical_plan, &mut |node| {
            sources.push(node.clone())
        });
        let [
            DslPlan::Scan {
                sources: ScanSources::Paths(paths),
                unified_scan_args,
                scan_type,
                ..
            },
        ] = &sources[..]
        else {
            return None;
        };
        let FileScanDsl::Csv { options } = &**scan_type else {
            return None;
        };
        let [path] = &paths[..] else { return None };
        if path.has_scheme() || !supported(options, unified_scan_args) {
            return None;
        }
        if !crate::frame::view::row_wise(frame) {
            return None;
        }
        let plan = frame.clone().to_alp_optimized().ok()?;
        let mut columns = None;
        for node in plan.lp_arena.iter(plan.lp_top) {
            if let (
                _,
                IR::Scan {
                    output_schema,
                    file_info,
                    ..
                },
            ) = node
            {
                let schema = output_schema
                    .clone()
                    .unwrap_or_else(|| file_info.schema.clone());
                columns = Some(
                    schema
                        .iter()
                        .map(|(name, dtype)| {
                            ColumnKind::of(dtype).map(|_| (name.clone(), dtype.clone()))
                        })
                        .collect::<Option<Vec<_>>>()?,
                );
            }
        }
        Some(Self {
            path: path.as_std_path().to_path_buf(),
            columns: columns.filter(|c| !c.is_empty())?,
        })
    }

    /// Runs the query, handing each batch of its result to `write` in order.
    pub(crate) fn run<E: From<CsvError> + Send>(
        &self,
        frame: &LazyFrame,
        mut write: impl FnMut(DataFrame) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        let columns: Vec<(&str, DataType)> = self
            .columns
            .iter()
            .map(|(name, dtype)| (name.as_str(), dtype.clone()))
            .collect();
        let polars_error = |error| {
            E::from(CsvError::Polars {
                path: self.path.clone(),
                error,
            })
        };
        read_csv_blocks(&self.path, &columns, &ReadOptions::default(), |block| {
            let schema = block.schema().clone();
            let block = Arc::new(block);
            let plan = map_plan(&frame.logical_plan, &mut |node| {
                matches!(node, DslPlan::Scan { .. }).then(|| DslPlan::DataFrameScan {
                    df: block.clone(),
                    schema: schema.clone(),
                })
            });
            let out = LazyFrame::from(plan).collect().map_err(polars_error)?;
            write(out)
        })?;
        Ok(())
    }
}

/// Whether the parallel reader follows these read options: a header row,
/// commas, double quotes, `\n` line ends (a `\r` before it is dropped),
/// UTF-8, empty cells null, every record read.
fn supported(options: &CsvReadOptions, args: &UnifiedScanArgs) -> bool {
    let parse = &options.parse_options;
    options.has_header
        && options.skip_rows == 0
        && options.skip_lines == 0
        && options.skip_rows_after_header == 0
        && options.n_rows.is_none()
        && options.row_index.is_none()
        && !options.ignore_errors
        && options.column_names_overwrite.is_none()
        && parse.separator == b','
        && parse.quote_char == Some(b'"')
        && parse.eol_char == b'\n'
        && matches!(parse.encoding, CsvEncoding::Utf8)
        && parse.null_values.is_none()
        && parse.missing_is_null
        && parse.comment_prefix.is_none()
        && !parse.decimal_comma
        && args.row_index.is_none()
        && args.pre_slice.is_none()
        && args.include_file_paths.is_none()
}
