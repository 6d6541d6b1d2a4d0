//! Sums, means, minima, maxima and counts per group over the columns the
//! median passes already evaluated, from the same group ids: one pass per
//! column on all cores, instead of handing the rows to polars to group
//! again.
//!
//! Only aggregations whose result this module gives exactly as polars
//! defines it are taken ([`Reduction::of`]): `sum`, `mean`, `min`, `max`
//! (ignoring NaN, as polars' `min` and `max` do), `count` and `len` of an
//! `Int64` or `Float64` column, under aliases and casts; any other sends
//! the whole set back to polars. Sums of integers wrap as polars' do; a
//! mean is the sum of the values as floats over their count; a group with
//! no valid value has a null mean, minimum and maximum and a zero sum.
//! Floating-point sums are added in the same order whatever the number of
//! threads (parts of [`UNIT_ROWS`] rows, each summed in row order, then
//! the parts in row order), so a result is the same in every run; it may
//! differ from polars' in the last bits, as polars' own engines differ from
//! each other.

use std::sync::Arc;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_plan::utils::expr_output_name;

use super::parallel::fold_units;
use super::search::each_valid;

/// Rows of one part of a column that a thread reduces.
const UNIT_ROWS: usize = 1 << 18;
/// Groups at most whose statistics are kept in lanes ([`Partial::add_lanes`]).
const MAX_LANE_GROUPS: usize = 4;
/// Lanes of each statistic of a group.
const LANES: usize = 4;

/// What one aggregation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
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
pub(super) struct Reduction {
    op: Op,
    column: Option<PlSmallStr>,
    expr: Expr,
}

impl Reduction {
    /// `expr` (an aggregation of a `group_by`) as a reduction, if it is one
    /// of those this module computes, over a plain column, under aliases
    /// and casts only.
    pub(super) fn of(expr: &Expr) -> Option<Self> {
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
}

/// Each of `reductions` per group (`ids`, `groups` of them) over the
/// columns of `evaluated`: one row per group in id order, one column per
/// reduction named and typed as polars names and types it. `None` if a
/// column read is not `Int64` or `Float64` (polars then computes them).
pub(super) fn reduce(
    evaluated: &DataFrame,
    ids: &[u16],
    groups: usize,
    reductions: &[Reduction],
) -> Option<PolarsResult<DataFrame>> {
    let mut reducer = Reducer::new(reductions);
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
    /// Per column, once rows were added.
    stats: Vec<Stats>,
    /// Rows per group, if a reduction is `len`.
    lens: Vec<IdxSize>,
}

impl Reducer {
    /// No rows yet.
    pub(super) fn new(reductions: &[Reduction]) -> Self {
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
            stats: Vec::new(),
            lens: Vec::new(),
        }
    }

    /// The columns the reductions read.
    pub(super) fn columns(&self) -> impl Iterator<Item = &PlSmallStr> {
        self.columns.iter().map(|(name, _)| name)
    }

    /// Adds `rows` (holding [`Self::columns`]) of groups `ids`, `groups`
    /// seen so far. `None` if a column is not `Int64` or `Float64`.
    pub(super) fn add(&mut self, rows: &DataFrame, ids: &[u16], groups: usize) -> Option<()> {
        let mut chunks = Vec::with_capacity(self.columns.len());
        for (name, _) in &self.columns {
            let column = rows.column(name).ok()?;
            chunks.push(match column.dtype() {
                DataType::Float64 => Chunks::Floats(column.f64().ok()?.downcast_iter().collect()),
                DataType::Int64 => Chunks::Integers(column.i64().ok()?.downcast_iter().collect()),
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

/// Which statistics beyond the count and sum a column's reductions need.
#[derive(Debug, Clone, Copy, Default)]
struct Needs {
    min_max: bool,
    /// A mean: for integers, the sum as floats too.
    mean: bool,
}

impl Needs {
    /// These needs as the bits of [`Partial::add_lanes`]' `S` for values
    /// of type `T`.
    fn bits<T: Native>(self) -> u8 {
        let float_sum = self.mean && !T::FLOAT;
        (u8::from(self.min_max) * MIN_MAX) | (u8::from(float_sum) * FLOAT_SUM)
    }
}

/// Bit of [`Needs::bits`]: minima and maxima.
const MIN_MAX: u8 = 1;
/// Bit of [`Needs::bits`]: sums as floats (of integers, for means).
const FLOAT_SUM: u8 = 2;

/// The chunks of one column read.
enum Chunks<'a> {
    Floats(Vec<&'a PrimitiveArray<f64>>),
    Integers(Vec<&'a PrimitiveArray<i64>>),
}

/// A part of a column: (column, chunk, start in the chunk, length, first
/// row in the frame).
type Unit = (usize, usize, usize, usize, usize);

/// One column's statistics per group.
#[derive(Debug, Clone)]
enum Stats {
    Floats(Partial<f64>),
    Integers(Partial<i64>),
}

/// The statistics of [`Partial::add_lanes`]: `[group][lane]`.
struct Lanes<T, const G: usize> {
    count: [[u64; LANES]; G],
    sum: [[T; LANES]; G],
    float_sum: [[f64; LANES]; G],
    min: [[T; LANES]; G],
    max: [[T; LANES]; G],
}

impl<T: Native, const G: usize> Lanes<T, G> {
    fn new() -> Self {
        Self {
            count: [[0; LANES]; G],
            sum: [[T::ZERO; LANES]; G],
            float_sum: [[0.0; LANES]; G],
            min: [[T::MIN_START; LANES]; G],
            max: [[T::MAX_START; LANES]; G],
        }
    }

    /// Adds one value to each lane, to the lanes of its group.
    #[inline(always)]
    fn add<const S: u8>(&mut self, values: &[T; LANES], ids: &[u16; LANES]) {
        for g in 0..G {
            for lane in 0..LANES {
                let (value, member) = (values[lane], ids[lane] == g as u16);
                self.count[g][lane] += u64::from(member);
                self.sum[g][lane] = self.sum[g][lane].add(if member { value } else { T::ZERO });
                if S & FLOAT_SUM != 0 {
                    self.float_sum[g][lane] += if member { value.as_f64() } else { 0.0 };
                }
                if S & MIN_MAX != 0 {
                    let low = self.min[g][lane].min(value);
                    let high = self.max[g][lane].max(value);
                    self.min[g][lane] = if member { low } else { self.min[g][lane] };
                    self.max[g][lane] = if member { high } else { self.max[g][lane] };
                }
            }
        }
    }
}

impl Stats {
    /// Adds the statistics of later rows (`groups` groups seen so far).
    fn merge(&mut self, later: &Stats, groups: usize, needs: Needs) {
        self.grow(groups, needs);
        match (self, later) {
            (Stats::Floats(stats), Stats::Floats(later)) => stats.merge(later),
            (Stats::Integers(stats), Stats::Integers(later)) => stats.merge(later),
            _ => unreachable!("a column's rows are of one type"),
        }
    }

    /// Makes room for `groups` groups (new ones without values).
    fn grow(&mut self, groups: usize, needs: Needs) {
        match self {
            Stats::Floats(stats) => stats.grow(groups, needs),
            Stats::Integers(stats) => stats.grow(groups, needs),
        }
    }
}

/// Statistics per group of some rows of a column.
#[derive(Debug, Clone)]
struct Partial<T> {
    count: Vec<u64>,
    /// In the column's type (integers wrapping).
    sum: Vec<T>,
    /// As floats (for means).
    float_sum: Vec<f64>,
    min: Vec<T>,
    max: Vec<T>,
}

/// A value type of a column read.
trait Native: Copy + Send + Sync {
    /// The minimum of no values yet (as polars starts it).
    const MIN_START: Self;
    /// The maximum of no values yet.
    const MAX_START: Self;
    const ZERO: Self;
    fn add(self, other: Self) -> Self;
    fn as_f64(self) -> f64;
    fn min(self, other: Self) -> Self;
    fn max(self, other: Self) -> Self;
    /// Whether the sum as floats is the sum itself.
    const FLOAT: bool;
}

impl Native for f64 {
    // polars starts both at NaN and takes the other value over a NaN.
    const MIN_START: Self = f64::NAN;
    const MAX_START: Self = f64::NAN;
    const ZERO: Self = 0.0;
    const FLOAT: bool = true;
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        f64::min(self, other)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f64::max(self, other)
    }
}

impl Native for i64 {
    const MIN_START: Self = i64::MAX;
    const MAX_START: Self = i64::MIN;
    const ZERO: Self = 0;
    const FLOAT: bool = false;
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        Ord::min(self, other)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        Ord::max(self, other)
    }
}

impl<T: Native> Partial<T> {
    fn new(groups: usize, needs: Needs) -> Self {
        let sized = |on: bool, value: T| vec![value; if on { groups } else { 0 }];
        Self {
            count: vec![0; groups],
            sum: vec![T::ZERO; groups],
            float_sum: vec![
                0.0;
                if needs.bits::<T>() & FLOAT_SUM != 0 {
                    groups
                } else {
                    0
                }
            ],
            min: sized(needs.min_max, T::MIN_START),
            max: sized(needs.min_max, T::MAX_START),
        }
    }

    /// Adds the values of `array` (a part of a chunk) of groups `ids`.
    fn add(&mut self, array: &PrimitiveArray<T>, ids: &[u16], needs: Needs)
    where
        T: polars_arrow::types::NativeType,
    {
        let values = array.values().as_slice();
        let validity: Option<&Bitmap> = array.validity().filter(|_| array.null_count() > 0);
        if self.count.len() <= MAX_LANE_GROUPS {
            // A null row takes a group past the last, which no lane counts.
            let masked: Vec<u16>;
            let ids = match validity {
                None => ids,
                Some(valid) => {
                    let none = self.count.len() as u16;
                    masked = ids
                        .iter()
                        .zip(valid.iter())
                        .map(|(&id, valid)| if valid { id } else { none })
                        .collect();
                    &masked
                }
            };
            macro_rules! lanes {
                ($($g:literal),*) => {
                    match (self.count.len(), needs.bits::<T>()) {
                        $((groups, 0) if groups <= $g => self.add_lanes::<$g, 0>(values, ids),
                        (groups, 1) if groups <= $g => self.add_lanes::<$g, 1>(values, ids),
                        (groups, 2) if groups <= $g => self.add_lanes::<$g, 2>(values, ids),
                        (groups, _) if groups <= $g => self.add_lanes::<$g, 3>(values, ids),)*
                        _ => unreachable!("at most MAX_LANE_GROUPS groups"),
                    }
                };
            }
            return lanes!(1, 2, 3, 4);
        }
        match (validity, needs.bits::<T>()) {
            (None, 0) => (0..values.len()).for_each(|i| self.add_one::<0>(values, ids, i)),
            (None, 1) => (0..values.len()).for_each(|i| self.add_one::<1>(values, ids, i)),
            (None, 2) => (0..values.len()).for_each(|i| self.add_one::<2>(values, ids, i)),
            (None, _) => (0..values.len()).for_each(|i| self.add_one::<3>(values, ids, i)),
            (Some(valid), 0) => each_valid(valid, |i| self.add_one::<0>(values, ids, i)),
            (Some(valid), 1) => each_valid(valid, |i| self.add_one::<1>(values, ids, i)),
            (Some(valid), 2) => each_valid(valid, |i| self.add_one::<2>(values, ids, i)),
            (Some(valid), _) => each_valid(valid, |i| self.add_one::<3>(values, ids, i)),
        }
    }

    /// [`Self::add`] for at most `G` groups (ids of `G` or more are
    /// skipped): each group's statistics kept in [`LANES`] lanes, every row
    /// added to each group's lanes or not by a comparison, not a branch, so
    /// the loop is vectorized and no addition waits on the one before.
    fn add_lanes<const G: usize, const S: u8>(&mut self, values: &[T], ids: &[u16]) {
        let mut lanes = Lanes::<T, G>::new();
        let (values_rest, ids_rest) = (values.chunks_exact(LANES), ids.chunks_exact(LANES));
        let (last_values, last_ids) = (values_rest.remainder(), ids_rest.remainder());
        for (values, ids) in values_rest.zip(ids_rest) {
            let values: &[T; LANES] = values.try_into().expect("chunks of LANES");
            let ids: &[u16; LANES] = ids.try_into().expect("chunks of LANES");
            lanes.add::<S>(values, ids);
        }
        for g in 0..G.min(self.count.len()) {
            for lane in 0..LANES {
                self.count[g] += lanes.count[g][lane];
                self.sum[g] = self.sum[g].add(lanes.sum[g][lane]);
                if S & FLOAT_SUM != 0 {
                    self.float_sum[g] += lanes.float_sum[g][lane];
                }
                if S & MIN_MAX != 0 {
                    self.min[g] = self.min[g].min(lanes.min[g][lane]);
                    self.max[g] = self.max[g].max(lanes.max[g][lane]);
                }
            }
        }
        // The last rows (fewer than a lane's worth) one by one.
        for (i, &id) in last_ids.iter().enumerate() {
            if usize::from(id) < self.count.len() {
                self.add_one::<S>(last_values, last_ids, i);
            }
        }
    }

    #[inline(always)]
    fn add_one<const S: u8>(&mut self, values: &[T], ids: &[u16], i: usize) {
        let (value, group) = (values[i], usize::from(ids[i]));
        self.count[group] += 1;
        self.sum[group] = self.sum[group].add(value);
        if S & FLOAT_SUM != 0 {
            self.float_sum[group] += value.as_f64();
        }
        if S & MIN_MAX != 0 {
            self.min[group] = self.min[group].min(value);
            self.max[group] = self.max[group].max(value);
        }
    }

    /// Makes room for `groups` groups (new ones without values).
    fn grow(&mut self, groups: usize, needs: Needs) {
        let more = Self::new(groups, needs);
        let extend = |into: &mut Vec<T>, from: &[T]| {
            if into.len() < from.len() {
                into.extend_from_slice(&from[into.len()..]);
            }
        };
        if self.count.len() < groups {
            self.count.resize(groups, 0);
        }
        extend(&mut self.sum, &more.sum);
        if self.float_sum.len() < more.float_sum.len() {
            self.float_sum.resize(more.float_sum.len(), 0.0);
        }
        extend(&mut self.min, &more.min);
        extend(&mut self.max, &more.max);
    }

    /// Adds the statistics of later rows.
    fn merge(&mut self, later: &Self) {
        let pairs = |into: &mut [T], from: &[T], f: fn(T, T) -> T| {
            into.iter_mut().zip(from).for_each(|(a, &b)| *a = f(*a, b));
        };
        self.count
            .iter_mut()
            .zip(&later.count)
            .for_each(|(a, b)| *a += b);
        pairs(&mut self.sum, &later.sum, T::add);
        self.float_sum
            .iter_mut()
            .zip(&later.float_sum)
            .for_each(|(a, b)| *a += b);
        pairs(&mut self.min, &later.min, T::min);
        pairs(&mut self.max, &later.max, T::max);
    }

    /// The sums as floats.
    fn float_sums(&self) -> Vec<f64> {
        match T::FLOAT {
            true => self.sum.iter().map(|s| s.as_f64()).collect(),
            false => self.float_sum.clone(),
        }
    }
}

/// Each column's statistics per group, every part on all cores, parts
/// added in row order.
fn statistics(
    chunks: &[Chunks<'_>],
    columns: &[(PlSmallStr, Needs)],
    ids: &[u16],
    groups: usize,
) -> Vec<Stats> {
    let mut units: Vec<Unit> = Vec::new();
    for (column, chunks) in chunks.iter().enumerate() {
        let lens: Vec<usize> = match chunks {
            Chunks::Floats(arrays) => arrays.iter().map(|a| a.len()).collect(),
            Chunks::Integers(arrays) => arrays.iter().map(|a| a.len()).collect(),
        };
        let mut row = 0;
        for (chunk, len) in lens.into_iter().enumerate() {
            for start in (0..len).step_by(UNIT_ROWS) {
                units.push((
                    column,
                    chunk,
                    start,
                    UNIT_ROWS.min(len - start),
                    row + start,
                ));
            }
            row += len;
        }
    }
    // Per column: each part's statistics with its first row.
    let folded = fold_units(
        &units,
        columns.len(),
        |unit| unit.0,
        |_| Vec::<(usize, Stats)>::new(),
        |parts, &(column, chunk, start, len, row)| {
            let (ids, needs) = (&ids[row..row + len], columns[column].1);
            let stats = match &chunks[column] {
                Chunks::Floats(arrays) => {
                    let mut partial = Partial::new(groups, needs);
                    partial.add(&arrays[chunk].clone().sliced(start, len), ids, needs);
                    Stats::Floats(partial)
                }
                Chunks::Integers(arrays) => {
                    let mut partial = Partial::new(groups, needs);
                    partial.add(&arrays[chunk].clone().sliced(start, len), ids, needs);
                    Stats::Integers(partial)
                }
            };
            parts.push((row, stats));
        },
        |parts, more| parts.extend(more),
    );
    folded
        .into_iter()
        .zip(columns)
        .zip(chunks)
        .map(|((parts, (_, needs)), chunks)| {
            let mut parts = parts.unwrap_or_default();
            parts.sort_by_key(|(row, _)| *row);
            let mut total = match chunks {
                Chunks::Floats(_) => Stats::Floats(Partial::new(groups, *needs)),
                Chunks::Integers(_) => Stats::Integers(Partial::new(groups, *needs)),
            };
            for (_, part) in &parts {
                total.merge(part, groups, *needs);
            }
            total
        })
        .collect()
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
fn peel(expr: &Expr) -> &Expr {
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
