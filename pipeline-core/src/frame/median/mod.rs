//! Exact medians per group, fast over frames in memory and in bounded
//! memory over the rest.
//!
//! polars computes a median by holding every value of a group and selecting
//! the middle one, so a median over a frame larger than memory (a group_by
//! `median` over 100M rows, say) holds the frame. [`grouped_medians`] reads
//! the data a few times instead: the first pass counts each group's values
//! per range of their bits (a histogram over the top 16 bits of an
//! order-preserving integer form of each value), which tells in which range
//! the middle values lie; the next passes narrow that range by 16 more bits,
//! or, once it holds few enough values, keep just those values and select
//! the middle ones (`search`).
//!
//! When every source of the query is a frame in memory, its key and value
//! columns are evaluated once by polars' in-memory engine and every pass
//! runs over them on all cores (`in_memory`); a column in memory with fewer
//! values than its groups' histograms would have bins (65,536 a group) is
//! not searched at all: each group's values are gathered and the middle
//! ones selected. Otherwise each pass runs the query on polars' streaming
//! engine, batch by batch (`streaming`), and memory holds a group id per
//! row (2 bytes), the histograms and the values of the final ranges, never
//! the frame.
//!
//! The results are polars' own, to the bit: nulls are skipped, NaN sorts
//! after every number, `-0.0` counts as `0.0`, and the median of an even
//! count is `lower + 0.5 * (upper - lower)` (the same interpolation). The
//! executor uses it for every `median` aggregation (in `group_by(..).agg(..)`
//! or a `select` of aggregations, see `accelerate`); a task body may call it
//! directly.
//!
//! Sums, means, minima, maxima and counts per group asked beside medians
//! over frames in memory come from the same evaluated columns and group ids
//! (`reduce`), as do those of a `group_by` by a key of two labels (see
//! `label_key`) over frames in memory, which has no median at all: polars
//! would build a string per row and hash it to find two groups. A flag
//! column (a condition cast to a number) that only those reductions read
//! is reduced from the condition's bits (`flags`).

mod accelerate;
mod flags;
#[cfg(test)]
mod flags_tests;
mod groups;
mod in_memory;
mod label_key;
mod order;
mod parallel;
mod reduce;
#[cfg(test)]
mod reduce_tests;
mod search;
mod statistics;
mod streaming;

use polars::prelude::*;

pub(super) use accelerate::{accelerate, holds_median};
use groups::GroupIndex;
pub(in crate::frame) use reduce::{Op, Reduction};
use search::Found;

/// The exact median of each of `columns` (numeric expressions) per group of
/// `by` (no keys: one group of all rows) over `frame` (see the module docs).
///
/// The result has one row per group, in the order of first appearance: the
/// key columns, then one column per median, named and typed as polars names
/// and types `expr.median()` (`Float64` for integers). A group whose values
/// are all null has a null median.
///
/// ```
/// use pipeline_core::frame::grouped_medians;
/// use polars::prelude::*;
///
/// let frame = df!("g" => ["a", "b", "a", "a"], "x" => [1.0, 10.0, 3.0, 2.0])?.lazy();
/// let medians = grouped_medians(frame, &[col("g")], &[col("x")])?;
/// assert_eq!(medians, df!("g" => ["a", "b"], "x" => [2.0, 10.0])?);
/// # Ok::<(), PolarsError>(())
/// ```
///
/// # Errors
/// A polars error of the frame's query; or, with more than 1,024 group ×
/// column pairs, an error saying so (polars' own median holds them better).
pub fn grouped_medians(frame: LazyFrame, by: &[Expr], columns: &[Expr]) -> PolarsResult<DataFrame> {
    let schemas = Schemas::of(&frame, by, columns)?;
    let medians = if in_memory::is_in_memory(&frame.logical_plan) {
        in_memory::medians(frame, by, columns, None)?.0
    } else {
        streaming::medians(frame, by, columns)?
    };
    medians.into_frame(&schemas, by.is_empty())
}

/// Names and types of the result's columns, as polars would give them.
struct Schemas {
    keys: SchemaRef,
    medians: SchemaRef,
}

impl Schemas {
    fn of(frame: &LazyFrame, by: &[Expr], columns: &[Expr]) -> PolarsResult<Self> {
        let medians: Vec<Expr> = columns.iter().map(|c| c.clone().median()).collect();
        Ok(Self {
            keys: frame.clone().select(by).collect_schema()?,
            medians: frame.clone().select(medians).collect_schema()?,
        })
    }
}

/// The names the evaluated key and value columns take.
struct Names {
    keys: Vec<PlSmallStr>,
    values: Vec<PlSmallStr>,
}

impl Names {
    fn new(keys: usize, values: usize) -> Self {
        Self {
            keys: (0..keys)
                .map(|i| format!("__median_key{i}").into())
                .collect(),
            values: (0..values)
                .map(|j| format!("__median_value{j}").into())
                .collect(),
        }
    }

    /// The key expressions under their names.
    fn keyed<'a>(&'a self, by: &'a [Expr]) -> impl Iterator<Item = Expr> + 'a {
        by.iter()
            .zip(&self.keys)
            .map(|(e, n)| e.clone().alias(n.clone()))
    }

    /// The value expressions as floats, under their names.
    fn valued<'a>(&'a self, columns: &'a [Expr]) -> impl Iterator<Item = Expr> + 'a {
        columns
            .iter()
            .zip(&self.values)
            .map(|(e, n)| e.clone().cast(DataType::Float64).alias(n.clone()))
    }
}

/// The groups found and each column's median per group.
struct Medians {
    index: GroupIndex,
    /// `medians[column][group]`.
    medians: Vec<Vec<Option<f64>>>,
}

impl Medians {
    /// The result frame: keys, then each column's median (see
    /// [`grouped_medians`]). With no keys, one row even of no rows.
    fn into_frame(self, schemas: &Schemas, ungrouped: bool) -> PolarsResult<DataFrame> {
        let mut columns = self.index.key_columns(&schemas.keys)?;
        for ((name, dtype), medians) in schemas.medians.iter().zip(self.medians) {
            let medians = match ungrouped {
                true => medians,
                false => medians.into_iter().take(self.index.len()).collect(),
            };
            let column = Series::new(name.clone(), medians).cast(dtype)?;
            columns.push(column.into_column());
        }
        let height = if ungrouped { 1 } else { self.index.len() };
        DataFrame::new(height, columns)
    }
}
