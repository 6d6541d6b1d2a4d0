//! Grouped sums, means, minima, maxima and counts over a CSV file, block by
//! block, in memory bounded by the groups rather than the rows.
//!
//! A `group_by(keys).agg([...])` whose input computes row by row from one
//! CSV file, and whose aggregations are all `sum`, `mean`, `min`, `max`,
//! `count` or `len` of a column (under aliases and casts), is computed from
//! the blocks of the parallel reader: each block is grouped by polars into
//! partial results (sums, counts, extremes), the partials are grouped again
//! whenever they pile up, and the last grouping gives the node's result,
//! which the rest of the query reads. A mean is the sum of its values as
//! floats over their count, so its last bits may differ from polars' own
//! (whose engines also differ from each other); the rest is exact. Groups
//! taking more than the bytes allowed, or other aggregations, are left to
//! polars.

use std::sync::Arc;

use polars::prelude::*;

use super::fast::{CsvQuery, Stop};
use super::{CsvError, ReadOptions};
use crate::frame::median::{Op, Reduction};
use crate::frame::plan::map_plan;

/// Rows of partial results at most before they are grouped again.
const COMBINE_ROWS: usize = 1 << 20;

/// `frame` with each grouped aggregation over a CSV file (see the module
/// docs) replaced by its result, if it has one; `None` if it has none, or
/// if the groups of one take more than `limit` bytes.
pub(crate) fn aggregate(frame: &LazyFrame, limit: usize) -> Result<Option<LazyFrame>, CsvError> {
    aggregate_with(frame, limit, &ReadOptions::default(), COMBINE_ROWS)
}

/// [`aggregate`] reading blocks with `options`, grouping partials again
/// past `combine_rows` rows.
fn aggregate_with(
    frame: &LazyFrame,
    limit: usize,
    options: &ReadOptions,
    combine_rows: usize,
) -> Result<Option<LazyFrame>, CsvError> {
    if limit == 0 {
        return Ok(None);
    }
    let mut outcome: Result<bool, CsvError> = Ok(false);
    let plan = map_plan(&frame.logical_plan, &mut |node| {
        if outcome.is_err() {
            return None;
        }
        let grouped = Grouped::of(node)?;
        match grouped.result(limit, options, combine_rows) {
            Ok(Some(result)) => {
                outcome = Ok(true);
                let schema = result.schema().clone();
                Some(DslPlan::DataFrameScan {
                    df: Arc::new(result),
                    schema,
                })
            }
            Ok(None) => None,
            Err(error) => {
                outcome = Err(error);
                None
            }
        }
    });
    Ok(outcome?.then(|| LazyFrame::from(plan)))
}

/// One aggregation: what it computes, of which column, and its output.
struct Part {
    op: Op,
    column: Option<PlSmallStr>,
    name: PlSmallStr,
    dtype: DataType,
}

/// A grouped aggregation node over a row-wise query of one CSV file.
struct Grouped {
    input: LazyFrame,
    keys: Vec<Expr>,
    key_names: Vec<PlSmallStr>,
    parts: Vec<Part>,
    maintain_order: bool,
}

impl Grouped {
    fn of(node: &DslPlan) -> Option<Self> {
        let group_by = crate::frame::plan::plain_group_by(node)?;
        if group_by.keys.is_empty() || group_by.aggs.is_empty() {
            return None;
        }
        let (keys, aggs) = (group_by.keys, group_by.aggs);
        let input = LazyFrame::from((**group_by.input).clone());
        if !CsvQuery::of(&input)?.is_row_wise() {
            return None;
        }
        let schema = LazyFrame::from(node.clone()).collect_schema().ok()?;
        let key_names: Vec<PlSmallStr> = schema.iter_names().take(keys.len()).cloned().collect();
        let parts = aggs
            .iter()
            .zip(schema.iter().skip(keys.len()))
            .map(|(agg, (name, dtype))| {
                let reduction = Reduction::of(agg)?;
                Some(Part {
                    op: reduction.op(),
                    column: reduction.column().cloned(),
                    name: name.clone(),
                    dtype: dtype.clone(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            input,
            keys: keys.to_vec(),
            key_names,
            parts,
            maintain_order: group_by.maintain_order,
        })
    }

    /// The node's result, or `None` if its groups take more than `limit`.
    fn result(
        &self,
        limit: usize,
        options: &ReadOptions,
        combine_rows: usize,
    ) -> Result<Option<DataFrame>, CsvError> {
        let partial = self.group(self.input.clone(), &self.keys, self.partials());
        // A grouping that reads no column of the file (`len()` by a
        // literal) is left to polars.
        let Some(query) = CsvQuery::of(&partial) else {
            return Ok(None);
        };
        let failed = |error| CsvError::Polars {
            path: query.path().to_owned(),
            error,
        };
        let mut piled: Option<DataFrame> = None;
        let read = query.run_with(&partial, options, |part| {
            let whole = match piled.take() {
                Some(mut whole) => {
                    whole.vstack_mut_owned(part).map_err(failed)?;
                    whole
                }
                None => part,
            };
            piled = Some(if whole.height() > combine_rows {
                let combined = self.combine(whole).map_err(failed)?;
                if combined.estimated_size() > limit {
                    return Err(Stop::TooLarge);
                }
                combined
            } else {
                whole
            });
            Ok(())
        });
        match read {
            Ok(()) => {}
            Err(Stop::TooLarge) => return Ok(None),
            Err(Stop::Csv(error)) => return Err(error),
        }
        let Some(piled) = piled else {
            // No records: polars computes the node over none.
            return Ok(None);
        };
        let combined = self.combine(piled).map_err(failed)?;
        self.finish(combined).map(Some).map_err(failed)
    }

    /// Partial results of each part, named `__partial{i}` (and
    /// `__partial{i}n`, the count of a mean).
    fn partials(&self) -> Vec<Expr> {
        let mut exprs = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let name = partial_name(i, "");
            let column = || col(part.column.clone().expect("only len reads no column"));
            match part.op {
                Op::Sum => exprs.push(column().sum().alias(name)),
                Op::Mean => {
                    exprs.push(column().cast(DataType::Float64).sum().alias(name));
                    exprs.push(column().count().alias(partial_name(i, "n")));
                }
                Op::Min => exprs.push(column().min().alias(name)),
                Op::Max => exprs.push(column().max().alias(name)),
                Op::Count => exprs.push(column().count().alias(name)),
                Op::Len => exprs.push(len().alias(name)),
            }
        }
        exprs
    }

    /// Partial results grouped again: fewer rows, the same partials.
    fn combine(&self, piled: DataFrame) -> PolarsResult<DataFrame> {
        let mut exprs = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let name = partial_name(i, "");
            match part.op {
                Op::Sum | Op::Count | Op::Len => exprs.push(col(name).sum()),
                Op::Mean => {
                    exprs.push(col(name).sum());
                    exprs.push(col(partial_name(i, "n")).sum());
                }
                Op::Min => exprs.push(col(name).min()),
                Op::Max => exprs.push(col(name).max()),
            }
        }
        let keys: Vec<Expr> = self.key_names.iter().cloned().map(col).collect();
        self.group(piled.lazy(), &keys, exprs).collect()
    }

    /// The node's result from the last partials: named and typed as polars
    /// names and types it.
    fn finish(&self, combined: DataFrame) -> PolarsResult<DataFrame> {
        let mut exprs: Vec<Expr> = self.key_names.iter().cloned().map(col).collect();
        for (i, part) in self.parts.iter().enumerate() {
            let value = col(partial_name(i, ""));
            let value = match part.op {
                Op::Mean => {
                    let count = col(partial_name(i, "n"));
                    when(count.clone().gt(lit(0)))
                        .then(value / count.cast(DataType::Float64))
                        .otherwise(lit(NULL))
                }
                _ => value,
            };
            exprs.push(value.cast(part.dtype.clone()).alias(part.name.clone()));
        }
        combined.lazy().select(exprs).collect()
    }

    /// `input` grouped by `keys` into `aggs`, keeping the order of first
    /// appearance where the node does.
    fn group(&self, input: LazyFrame, keys: &[Expr], aggs: Vec<Expr>) -> LazyFrame {
        let grouped = match self.maintain_order {
            true => input.group_by_stable(keys),
            false => input.group_by(keys),
        };
        grouped.agg(aggs)
    }
}

fn partial_name(i: usize, suffix: &str) -> PlSmallStr {
    format!("__partial{i}{suffix}").into()
}

#[cfg(test)]
#[path = "grouped_tests.rs"]
mod tests;
