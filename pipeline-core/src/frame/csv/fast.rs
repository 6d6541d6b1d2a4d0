//! Running a query over a CSV file with the parallel reader.
//!
//! A task's query that scans one CSV file and computes row by row from its
//! number, boolean and text columns (`scan_csv(..).select([col("Country"), score,
//! ..])`) is executed by the executor with
//! [`read_csv_blocks`](super::read_csv_blocks) instead of polars' CSV
//! source: each block the reader parses goes through the rest of the query
//! and into the stored file. The rows are the same (the reader follows
//! polars' cell rules, and the file is written in the same batches), so is
//! the fingerprint.
//!
//! A query over such a scan that does not compute row by row is fed by the
//! reader too, within the bytes it is given (the runtime's frame memory): a
//! `group_by` whose aggregations add up from partial results block by
//! block (see [`grouped`](super::grouped)); any other (a sort, other
//! aggregations) over the columns it needs, read into memory, polars
//! running the rest. Larger ones, and anything else (columns typed
//! otherwise, other read options, other sources), run on polars' streaming
//! engine as usual.

use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;
use polars_plan::plans::{ArenaLpIter, IR};

use super::reader::{ReadOptions, read_csv_blocks};
use super::{CsvError, parse::ColumnKind};
use crate::frame::plan::map_plan;

/// A query the parallel reader can feed: one local CSV file, read with
/// options it follows, number, boolean and text columns only.
pub(crate) struct CsvQuery {
    path: PathBuf,
    /// The byte between fields.
    separator: u8,
    /// Cells read as null besides empty ones.
    null_values: Option<NullValues>,
    /// Whether a float's commas are decimal points.
    decimal_comma: bool,
    columns: Vec<(PlSmallStr, DataType)>,
    /// Whether the query computes row by row, so blocks can go through it
    /// one by one.
    row_wise: bool,
}

/// Why reading a CSV's blocks stopped before its end.
pub(super) enum Stop {
    Csv(CsvError),
    /// What was read takes more than the bytes allowed.
    TooLarge,
}

impl From<CsvError> for Stop {
    fn from(error: CsvError) -> Self {
        Stop::Csv(error)
    }
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
        let parse = &options.parse_options;
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
                if let Some(NullValues::Named(named)) = &parse.null_values
                    && named
                        .iter()
                        .any(|(name, _)| !file_info.schema.contains(name))
                {
                    // Polars' own error says which.
                    return None;
                }
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
            separator: parse.separator,
            null_values: parse.null_values.clone(),
            decimal_comma: parse.decimal_comma,
            columns: columns.filter(|c| !c.is_empty())?,
            row_wise: crate::frame::view::row_wise(frame),
        })
    }

    /// Whether the query computes row by row: [`CsvQuery::run`] takes it.
    pub(crate) fn is_row_wise(&self) -> bool {
        self.row_wise
    }

    /// The CSV file.
    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `frame` over the columns it reads from the CSV file, read into memory
    /// by the parallel reader, if they take at most `limit` bytes; `None`
    /// if they take more. The read stops as soon as the columns take more,
    /// or as the blocks read so far say they will (blocks are all of one
    /// size but the last few).
    pub(crate) fn in_memory(
        &self,
        frame: &LazyFrame,
        limit: usize,
    ) -> Result<Option<LazyFrame>, CsvError> {
        if limit == 0 {
            return Ok(None);
        }
        let file_bytes = std::fs::metadata(&self.path)
            .map_err(|error| CsvError::Unreadable {
                path: self.path.clone(),
                error,
            })?
            .len() as f64;
        let options = self.read_options(&ReadOptions::default());
        let mut whole: Option<DataFrame> = None;
        let (mut bytes, mut blocks) = (0, 0);
        let read = read_csv_blocks(&self.path, &self.wanted(), &options, |block| {
            bytes += block.estimated_size();
            blocks += 1;
            let read_so_far = (blocks * options.block_bytes) as f64;
            let expected = bytes as f64 * (file_bytes / read_so_far).max(1.0);
            if bytes > limit || expected > limit as f64 {
                return Err(Stop::TooLarge);
            }
            match &mut whole {
                Some(whole) => {
                    whole
                        .vstack_mut_owned(block)
                        .expect("blocks share the reader's schema");
                }
                None => whole = Some(block),
            }
            Ok(())
        });
        match read {
            Ok(_) => {}
            Err(Stop::TooLarge) => return Ok(None),
            Err(Stop::Csv(error)) => return Err(error),
        }
        let Some(whole) = whole else {
            // No records: polars' own scan gives the empty frame's types.
            return Ok(Some(frame.clone()));
        };
        Ok(Some(scanning(frame, whole)))
    }

    /// `options` with the scan's separator and cell rules.
    fn read_options(&self, options: &ReadOptions) -> ReadOptions {
        options
            .clone()
            .with_separator(self.separator)
            .with_null_values(self.null_values.clone())
            .with_decimal_comma(self.decimal_comma)
    }

    /// The columns to read, as the reader takes them.
    fn wanted(&self) -> Vec<(&str, DataType)> {
        self.columns
            .iter()
            .map(|(name, dtype)| (name.as_str(), dtype.clone()))
            .collect()
    }

    /// Runs a row-wise query, handing each batch of its result to `write` in
    /// order.
    pub(crate) fn run<E: From<CsvError> + Send>(
        &self,
        frame: &LazyFrame,
        write: impl FnMut(DataFrame) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        self.run_with(frame, &ReadOptions::default(), write)
    }

    /// Runs `frame` over each block read with `options`' sizes (a row-wise
    /// query, or one whose result over a block is what the caller wants),
    /// handing each result to `write` in order.
    pub(super) fn run_with<E: From<CsvError> + Send>(
        &self,
        frame: &LazyFrame,
        options: &ReadOptions,
        mut write: impl FnMut(DataFrame) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        let columns = self.wanted();
        let polars_error = |error| {
            E::from(CsvError::Polars {
                path: self.path.clone(),
                error,
            })
        };
        read_csv_blocks(&self.path, &columns, &self.read_options(options), |block| {
            let out = scanning(frame, block).collect().map_err(polars_error)?;
            write(out)
        })?;
        Ok(())
    }
}

/// `frame` reading `rows` where it scans its file.
fn scanning(frame: &LazyFrame, rows: DataFrame) -> LazyFrame {
    let schema = rows.schema().clone();
    let rows = Arc::new(rows);
    let plan = map_plan(&frame.logical_plan, &mut |node| {
        matches!(node, DslPlan::Scan { .. }).then(|| DslPlan::DataFrameScan {
            df: rows.clone(),
            schema: schema.clone(),
        })
    });
    LazyFrame::from(plan)
}

/// Whether the parallel reader follows these read options: a header row,
/// any separator, double quotes, `\n` line ends (a `\r` before it is
/// dropped), UTF-8, empty cells null, any null values, a decimal comma or
/// point, every record read.
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
        && !matches!(parse.separator, b'"' | b'\r' | b'\n')
        && parse.quote_char == Some(b'"')
        && parse.eol_char == b'\n'
        && matches!(parse.encoding, CsvEncoding::Utf8)
        && parse.missing_is_null
        && parse.comment_prefix.is_none()
        && args.row_index.is_none()
        && args.pre_slice.is_none()
        && args.include_file_paths.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::csv::scan_csv;
    use crate::frame::test_frames::notes_csv;

    #[test]
    fn a_sort_over_a_csv_is_read_into_memory_only_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = notes_csv(dir.path(), 2000, 17);
        let sorted = scan_csv(&path, &[("amount", DataType::Float64)])
            .unwrap()
            .sort(["amount", "note"], SortMultipleOptions::default());
        let query = CsvQuery::of(&sorted).unwrap();
        assert!(!query.is_row_wise());
        assert!(
            query.in_memory(&sorted, 1000).unwrap().is_none(),
            "2000 rows take more than 1 kB"
        );
        assert!(query.in_memory(&sorted, 0).unwrap().is_none());
        let read = query.in_memory(&sorted, usize::MAX).unwrap().unwrap();
        // Reads the file no more: the rows are in the plan.
        std::fs::remove_file(&path).unwrap();
        let ours = read.collect().unwrap();
        assert_eq!(ours.height(), 2000);
        let amounts = ours.column("amount").unwrap().f64().unwrap();
        assert!(amounts.iter().is_sorted());
    }
}
