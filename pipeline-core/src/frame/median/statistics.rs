//! The statistics behind [`reduce`](super::reduce): per group of a column,
//! the count of valid values, their sum (and sum as floats, for means of
//! integers), minimum and maximum, over parts of [`UNIT_ROWS`] rows on all
//! cores. At most [`MAX_LANE_GROUPS`] groups are kept in lanes, every row
//! added to its group's lanes by a comparison, not a branch; more groups
//! are added row by row. Parts are added in row order, so floating-point
//! sums are the same whatever the number of threads.

use polars::prelude::*;
use polars_arrow::array::{Array, BooleanArray, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;

use super::parallel::fold_units;
use super::search::each_valid;

/// Rows of one part of a column that a thread reduces.
const UNIT_ROWS: usize = 1 << 18;
/// Groups at most whose statistics are kept in lanes ([`Partial::add_lanes`]).
const MAX_LANE_GROUPS: usize = 4;
/// Lanes of each statistic of a group.
const LANES: usize = 4;

/// Which statistics beyond the count and sum a column's reductions need.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Needs {
    /// A minimum or maximum.
    pub(super) min_max: bool,
    /// A mean: for integers, the sum as floats too.
    pub(super) mean: bool,
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
pub(super) enum Chunks<'a> {
    /// A `Float64` column.
    Floats(Vec<&'a PrimitiveArray<f64>>),
    /// An `Int64` column.
    Integers(Vec<&'a PrimitiveArray<i64>>),
    /// A `Boolean` column, each value counted as 1 (true) or 0 (false),
    /// as cast to `Int64`.
    Flags(Vec<&'a BooleanArray>),
}

/// A part of a column: (column, chunk, start in the chunk, length, first
/// row in the frame).
type Unit = (usize, usize, usize, usize, usize);

/// One column's statistics per group.
#[derive(Debug, Clone)]
pub(super) enum Stats {
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
    pub(super) fn merge(&mut self, later: &Stats, groups: usize, needs: Needs) {
        self.grow(groups, needs);
        match (self, later) {
            (Stats::Floats(stats), Stats::Floats(later)) => stats.merge(later),
            (Stats::Integers(stats), Stats::Integers(later)) => stats.merge(later),
            _ => unreachable!("a column's rows are of one type"),
        }
    }

    /// Makes room for `groups` groups (new ones without values).
    pub(super) fn grow(&mut self, groups: usize, needs: Needs) {
        match self {
            Stats::Floats(stats) => stats.grow(groups, needs),
            Stats::Integers(stats) => stats.grow(groups, needs),
        }
    }
}

/// Statistics per group of some rows of a column.
#[derive(Debug, Clone)]
pub(super) struct Partial<T> {
    /// Valid values.
    pub(super) count: Vec<u64>,
    /// In the column's type (integers wrapping).
    pub(super) sum: Vec<T>,
    /// As floats (for means).
    float_sum: Vec<f64>,
    /// Minima (empty unless needed).
    pub(super) min: Vec<T>,
    /// Maxima (empty unless needed).
    pub(super) max: Vec<T>,
}

/// A value type of a column read.
pub(super) trait Native: Copy + Send + Sync {
    /// The minimum of no values yet (as polars starts it).
    const MIN_START: Self;
    /// The maximum of no values yet.
    const MAX_START: Self;
    /// The sum of no values.
    const ZERO: Self;
    /// The sum, as polars adds (integers wrap).
    fn add(self, other: Self) -> Self;
    /// The value as a float (as polars casts it for a mean).
    fn as_f64(self) -> f64;
    /// The lesser, as polars' `min` takes it (a float over a NaN).
    fn min(self, other: Self) -> Self;
    /// The greater, as polars' `max` takes it (a float over a NaN).
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
    pub(super) fn float_sums(&self) -> Vec<f64> {
        match T::FLOAT {
            true => self.sum.iter().map(|s| s.as_f64()).collect(),
            false => self.float_sum.clone(),
        }
    }
}

impl Partial<i64> {
    /// Adds the flags of `array` (a part of a chunk) of groups `ids`, each
    /// true as 1 and false as 0: per group, its valid rows and how many are
    /// true give every statistic.
    fn add_flags(&mut self, array: &BooleanArray, ids: &[u16]) {
        let groups = self.count.len();
        let (mut valid, mut trues) = (vec![0u64; groups], vec![0u64; groups]);
        let bits = array.values().iter();
        match array.validity().filter(|_| array.null_count() > 0) {
            None => ids.iter().zip(bits).for_each(|(&id, bit)| {
                valid[usize::from(id)] += 1;
                trues[usize::from(id)] += u64::from(bit);
            }),
            Some(validity) => {
                ids.iter()
                    .zip(bits)
                    .zip(validity.iter())
                    .for_each(|((&id, bit), is_valid)| {
                        valid[usize::from(id)] += u64::from(is_valid);
                        trues[usize::from(id)] += u64::from(bit & is_valid);
                    })
            }
        }
        for group in 0..groups {
            let (valid, trues) = (valid[group], trues[group]);
            self.count[group] += valid;
            // Fewer than 2^63 rows: the count is the wrapping sum.
            self.sum[group] = self.sum[group].wrapping_add(trues as i64);
            if !self.float_sum.is_empty() {
                self.float_sum[group] += trues as f64;
            }
            if !self.min.is_empty() && valid > 0 {
                self.min[group] = Ord::min(self.min[group], i64::from(trues == valid));
                self.max[group] = Ord::max(self.max[group], i64::from(trues > 0));
            }
        }
    }
}

/// Each column's statistics per group, every part on all cores, parts
/// added in row order.
pub(super) fn statistics(
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
            Chunks::Flags(arrays) => arrays.iter().map(|a| a.len()).collect(),
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
                Chunks::Flags(arrays) => {
                    let mut partial = Partial::new(groups, needs);
                    partial.add_flags(&arrays[chunk].clone().sliced(start, len), ids);
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
                Chunks::Integers(_) | Chunks::Flags(_) => {
                    Stats::Integers(Partial::new(groups, *needs))
                }
            };
            for (_, part) in &parts {
                total.merge(part, groups, *needs);
            }
            total
        })
        .collect()
}
