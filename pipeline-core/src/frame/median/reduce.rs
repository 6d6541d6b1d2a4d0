//! Sums, means, minima, maxima and counts per group over the columns the
//! median passes already evaluated, from the same group ids: one pass per
//! column on all cores, instead of handing the rows to polars to group
//! again.
//!
//! Only aggregations whose result this module gives exactly as polars
//! defines it are taken ([`Reduction::of`]): `sum`, `mean`, `min`, `max`
//! (ignoring NaN, as polars' `min` and `max` do), `count` and `len` of an
//! `Int64` or `Float64` column, or of a flag computed as its condition
//! ([`flags`](super::flags): each true as 1, each false as 0), under
//! aliases and casts; any other sends the whole set back to polars. Sums
//! of integers wrap as polars' do; a
//! mean is the sum of the values as floats over their count; a group with
//! no valid value has a null mean, minimum and maximum and a zero sum.
//! Floating-point sums are added in the same order whatever the number of
//! threads (see [`statistics`](super::statistics)), so a result is the
//! same in every run; it may
//! differ from polars' in the last bits, as polars' own engines differ from
//! each other.

use std::sync::Arc;

use polars::prelude::*;
use polars_plan::utils::expr_output_name;

use super::statistics::{Chunks, Native, Needs, Partial, Stats, statistics};

/// What one aggregation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::frame) enum Op {
    Sum,
    Mean,
    Min,
    Max,
    /// Valid values.
    Count,
    /// Rows.
    Len,
}

/// An aggregation of `others` this module computes: its operation, the
/// column it reads (`None` for `len`) and the expression around it.
#[derive(Debug, Clone)]
pub(in crate::frame) struct Reduction {
    op: Op,
    column: Option<PlSmallStr>,
    expr: Expr,
}

impl Reduction {
    /// `expr` (an aggregation of a `group_by`) as a reduction, if it is one
    /// of those this module computes, over a plain column, under aliases
    /// and casts only.
    pub(in crate::frame) fn of(expr: &Expr) -> Option<Self> {
        let column = |input: &Expr| match input {
            Expr::Column(name) => Some(name.clone()),
            _ => None,
        };
        let (op, column) = match peel(expr) {
            Expr::Len => (Op::Len, None),
            Expr::Agg(agg) => match agg {
                AggExpr::Sum(input) => (Op::Sum, Some(column(input)?)),
                AggExpr::Mean(input) => (Op::Mean, Some(column(input)?)),
                AggExpr::Min {
                    input,
                    propagate_nans: false,
                } => (Op::Min, Some(column(input)?)),
                AggExpr::Max {
                    input,
                    propagate_nans: false,
                } => (Op::Max, Some(column(input)?)),
                AggExpr::Count {
                    input,
                    include_nulls: false,
                } => (Op::Count, Some(column(input)?)),
                AggExpr::Count {
                    include_nulls: true,
                    ..
                } => (Op::Len, None),
                _ => return None,
            },
            _ => return None,
        };
        Some(Self {
            op,
            column,
            expr: expr.clone(),
        })
    }

    /// The column it reads (`None` for `len`).
    pub(in crate::frame) fn column(&self) -> Option<&PlSmallStr> {
        self.column.as_ref()
    }

    /// What it computes.
    pub(in crate::frame) fn op(&self) -> Op {
        self.op
    }
}

/// Each of `reductions` per group (`ids`, `groups` of them) over the
/// columns of `evaluated`: one row per group in id order, one column per
/// reduction named and typed as polars names and types it; `flags` are
/// columns of `evaluated` computed as conditions instead of their numbers
/// ([`flags`](super::flags)). `None` if a column read is not `Int64`,
/// `Float64` or one of `flags` (polars then computes them).
pub(super) fn reduce(
    evaluated: &DataFrame,
    ids: &[u16],
    groups: usize,
    reductions: &[Reduction],
    flags: &[PlSmallStr],
) -> Option<PolarsResult<DataFrame>> {
    let mut reducer = Reducer::new(reductions, flags);
    reducer.add(evaluated, ids, groups)?;
    Some(reducer.finish(groups))
}

/// The statistics of some reductions, added rows after rows (a frame in
/// memory at once, or the batches of a streaming query in order), and
/// their result at the end.
pub(super) struct Reducer {
    reductions: Vec<Reduction>,
    /// Each column read once, with every statistic its reductions need.
    columns: Vec<(PlSmallStr, Needs)>,
    /// Columns that are flags computed as their conditions (`Boolean`), each
    /// value counted as 1 or 0. A `Boolean` column that is not one is left to
    /// polars, whose results for it have other types (`min` a `Boolean`).
    flags: Vec<PlSmallStr>,
    /// Per column, once rows were added.
    stats: Vec<Stats>,
    /// Rows per group, if a reduction is `len`.
    lens: Vec<IdxSize>,
}

impl Reducer {
    /// No rows yet; `flags` as in [`reduce`].
    pub(super) fn new(reductions: &[Reduction], flags: &[PlSmallStr]) -> Self {
        let mut columns: Vec<(PlSmallStr, Needs)> = Vec::new();
        for reduction in reductions {
            let Some(name) = &reduction.column else {
                continue;
            };
            let at = match columns.iter().position(|(n, _)| n == name) {
                Some(at) => at,
                None => {
                    columns.push((name.clone(), Needs::default()));
                    columns.len() - 1
                }
            };
            columns[at].1.min_max |= matches!(reduction.op, Op::Min | Op::Max);
            columns[at].1.mean |= reduction.op == Op::Mean;
        }
        Self {
            reductions: reductions.to_vec(),
            columns,
            flags: flags.to_vec(),
            stats: Vec::new(),
            lens: Vec::new(),
        }
    }

    /// The columns the reductions read.
    pub(super) fn columns(&self) -> impl Iterator<Item = &PlSmallStr> {
        self.columns.iter().map(|(name, _)| name)
    }

    /// Adds `rows` (holding [`Self::columns`]) of groups `ids`, `groups`
    /// seen so far. `None` if a column is not `Int64`, `Float64` or a flag
    /// (`Boolean`, each value as 1 or 0: see [`flags`](super::flags)).
    pub(super) fn add(&mut self, rows: &DataFrame, ids: &[u16], groups: usize) -> Option<()> {
        let mut chunks = Vec::with_capacity(self.columns.len());
        for (name, _) in &self.columns {
            let column = rows.column(name).ok()?;
            chunks.push(match column.dtype() {
                DataType::Float64 => Chunks::Floats(column.f64().ok()?.downcast_iter().collect()),
                DataType::Int64 => Chunks::Integers(column.i64().ok()?.downcast_iter().collect()),
                DataType::Boolean if self.flags.contains(name) => {
                    Chunks::Flags(column.bool().ok()?.downcast_iter().collect())
                }
                _ => return None,
            });
        }
        let added = statistics(&chunks, &self.columns, ids, groups);
        if self.stats.is_empty() {
            self.stats = added;
        } else {
            for ((stats, later), (_, needs)) in self.stats.iter_mut().zip(&added).zip(&self.columns)
            {
                stats.merge(later, groups, *needs);
            }
        }
        if self.reductions.iter().any(|r| r.op == Op::Len) {
            self.lens.resize(groups, 0);
            ids.iter().for_each(|&id| self.lens[usize::from(id)] += 1);
        }
        Some(())
    }

    /// The result (see [`reduce`]) over `groups` groups.
    pub(super) fn finish(mut self, groups: usize) -> PolarsResult<DataFrame> {
        self.lens.resize(groups, 0);
        for (stats, (_, needs)) in self.stats.iter_mut().zip(&self.columns) {
            stats.grow(groups, *needs);
        }
        assemble(
            &self.reductions,
            &self.columns,
            &self.stats,
            &self.lens,
            groups,
        )
    }
}

/// The result frame: each reduction's values per group, with the aliases
/// and casts around it applied by polars.
fn assemble(
    reductions: &[Reduction],
    columns: &[(PlSmallStr, Needs)],
    stats: &[Stats],
    lens: &[IdxSize],
    groups: usize,
) -> PolarsResult<DataFrame> {
    let inner: PlSmallStr = "__reduced".into();
    let mut out = Vec::with_capacity(reductions.len());
    for reduction in reductions {
        let stats = reduction
            .column
            .as_ref()
            .and_then(|name| stats.get(columns.iter().position(|(n, _)| n == name)?));
        let raw = raw_values(reduction.op, stats, lens, inner.clone());
        let name = expr_output_name(&reduction.expr)?;
        let frame = DataFrame::new(groups, vec![raw.into_column()])?;
        let expr = around(&reduction.expr, col(inner.clone())).alias(name);
        out.push(frame.lazy().select([expr]).collect()?.columns()[0].clone());
    }
    DataFrame::new(groups, out)
}

/// One reduction's values per group as polars types them.
fn raw_values(op: Op, stats: Option<&Stats>, lens: &[IdxSize], name: PlSmallStr) -> Series {
    fn of<T>(partial: &Partial<T>, op: Op, name: PlSmallStr) -> Series
    where
        T: Native + NumericNative,
        Series: NamedFromOwned<Vec<T>>,
        Series: NamedFrom<Vec<Option<T>>, [Option<T>]>,
    {
        let valid = |values: &[T]| -> Vec<Option<T>> {
            values
                .iter()
                .zip(&partial.count)
                .map(|(&v, &n)| (n > 0).then_some(v))
                .collect()
        };
        match op {
            Op::Sum => Series::from_vec(name, partial.sum.clone()),
            Op::Mean => {
                let means = partial
                    .float_sums()
                    .into_iter()
                    .zip(&partial.count)
                    .map(|(s, &n)| (n > 0).then(|| s / n as f64));
                Float64Chunked::from_iter_options(name, means).into_series()
            }
            Op::Min => Series::new(name, valid(&partial.min)),
            Op::Max => Series::new(name, valid(&partial.max)),
            Op::Count => {
                let counts = partial.count.iter().map(|&n| n as IdxSize).collect();
                IdxCa::from_vec(name, counts).into_series()
            }
            Op::Len => unreachable!("len reads no column"),
        }
    }
    match (op, stats) {
        (Op::Len, _) | (_, None) => Series::from_vec(name, lens.to_vec()),
        (_, Some(Stats::Floats(partial))) => of(partial, op, name),
        (_, Some(Stats::Integers(partial))) => of(partial, op, name),
    }
}

/// `expr` without its aliases and casts.
pub(super) fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(inner, _) | Expr::Cast { expr: inner, .. } => peel(inner),
        _ => expr,
    }
}

/// `expr`'s aliases and casts around `inner` instead of the aggregation.
fn around(expr: &Expr, inner: Expr) -> Expr {
    match expr {
        Expr::Alias(e, name) => Expr::Alias(Arc::new(around(e, inner)), name.clone()),
        Expr::Cast {
            expr: e,
            dtype,
            options,
        } => Expr::Cast {
            expr: Arc::new(around(e, inner)),
            dtype: dtype.clone(),
            options: *options,
        },
        _ => inner,
    }
}
