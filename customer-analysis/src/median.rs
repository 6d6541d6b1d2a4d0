//! Exact medians in bounded memory, by a guessed range, then histogram
//! refinement if the guess misses.
//!
//! polars 0.55 computes a grouped median by holding and sorting every group
//! (about 2.4 s and 1.5 GB for the five medians of `segment_analysis` over
//! 10M rows on our 2-core machine, against 0.24 s for the means). Here each
//! median is found in a few streaming passes over the data:
//!
//! 1. from the first values (the first batch, or as many batches as it takes
//!    to see 1,024 values, held until then), guess a range of values around
//!    the median (the sample's quantiles six standard errors either side of
//!    the middle: `0.5 ± 0.023` for a sample of 16,384); then, for every
//!    value of the pass, count it if it lies below the range and keep it if
//!    inside: two float comparisons per value, no branch, no histogram. A
//!    group with fewer values than that in all is selected from them at the
//!    end of the pass;
//! 2. if both middle ranks fall inside the range (the usual case), select
//!    them from the values kept: done in one pass. If not (say, sorted data,
//!    whose first batch is unlike the rest), the counts tell on which side of
//!    the range the median lies, and the next pass counts that side's values
//!    in 2^20 buckets of an order-preserving integer key of the float (its
//!    top 20 bits), then finer inside the buckets that hold the middle ranks,
//!    until at most [`COLLECT_LIMIT`] values fall in the range (a range that
//!    comes to hold more than [`COLLECT_LIMIT`] values is counted in a
//!    histogram of its own from then on, instead of kept);
//! 3. collect those values and select the middle ones (`select_nth_unstable`).
//!
//! Memory is a histogram or the kept values, at most [`COLLECT_LIMIT`] per
//! median, whatever the number of rows. [`grouped_medians`] streams each
//! pass of a query in batches on polars' streaming engine;
//! [`grouped_medians_of_batches`] and [`medians_of_slices`] take batches
//! already in memory. The result follows polars' definition
//! exactly (`quantile(0.5, Linear)`): nulls skipped, NaN above every number,
//! and for an even count `lower + 0.5 * (upper - lower)`; the tests compare
//! both.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use self::split::GroupSplit;

mod split;

/// Values collected for the final selection of one median, at most.
pub const COLLECT_LIMIT: u64 = 1 << 22;

/// Batches waiting for the median worker, at most.
const QUEUED_BATCHES: usize = 4;

/// Buckets of a refining pass.
const BUCKETS: usize = 1 << 16;

/// Key bits of the first pass's buckets: 20, so a bucket spans 1/256 of an
/// octave (sign, 11 exponent bits, 8 mantissa bits) and values of a
/// realistic range land in few-thousand-value buckets, collected at once.
const FIRST_BITS: u32 = 20;

/// polars' total order on floats: NaN above everything, NaNs equal.
fn total_order(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(b).expect("neither is NaN"),
    }
}

/// A key whose integer order is [`total_order`] (`-0.0` and `0.0` share one).
fn key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    let bits = if x == 0.0 { 0 } else { x.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Whether `low <= k <= high`, in one unsigned comparison: one branch the
/// processor predicts well (most values are outside), not two it cannot.
#[inline(always)]
fn in_range(k: u64, low: u64, high: u64) -> bool {
    k.wrapping_sub(low) <= high - low
}

/// The median of `values` (reordered in place), `None` if there are none.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (lower_rank, upper_rank) = middle_ranks(n as u64);
    let (lower, upper) = select_middle(values, lower_rank as usize, upper_rank as usize);
    Some(interpolate(n as u64, lower, upper))
}

/// The values of rank `lower_rank` and `upper_rank` (equal, or the next one)
/// of `values`, reordering them.
fn select_middle(values: &mut [f64], lower_rank: usize, upper_rank: usize) -> (f64, f64) {
    let (_, &mut lower, above) = values.select_nth_unstable_by(lower_rank, total_order);
    let upper = if upper_rank == lower_rank {
        lower
    } else {
        above
            .iter()
            .copied()
            .min_by(total_order)
            .expect("the upper middle is above the lower one")
    };
    (lower, upper)
}

/// The 0-based ranks of the lower and upper middle of `n > 0` values.
fn middle_ranks(n: u64) -> (u64, u64) {
    let lower = (n - 1) / 2;
    if n.is_multiple_of(2) {
        (lower, lower + 1)
    } else {
        (lower, lower)
    }
}

/// polars' linear interpolation between the middle values of `n` values.
fn interpolate(n: u64, lower: f64, upper: f64) -> f64 {
    let float_index = (n - 1) as f64 * 0.5;
    let proportion = float_index - float_index.floor();
    if lower == upper || proportion == 0.0 {
        lower
    } else {
        proportion * (upper - lower) + lower
    }
}

/// Where the search for one median stands.
#[derive(Debug, Clone)]
enum Search {
    /// First pass: counting all values in top-level buckets, and collecting
    /// those in a guessed range of buckets around the median.
    Counting {
        histogram: Vec<u64>,
        count: u64,
        guess: Guess,
    },
    /// Counting the values whose key lies in `low..=high`, in buckets of
    /// `2^shift` keys; `below` values have smaller keys.
    Refining {
        count: u64,
        low: u64,
        high: u64,
        shift: u32,
        below: u64,
        histogram: Vec<u64>,
    },
    /// Collecting the values whose key lies in `low..=high`.
    Collecting {
        count: u64,
        low: u64,
        high: u64,
        below: u64,
        values: Vec<f64>,
    },
    /// The lower middle value is the largest whose key lies in `lower_keys`,
    /// the upper middle the smallest in `upper_keys`: the middle ranks
    /// straddle two buckets (an even count), or lie in a bucket of a single
    /// key (any value of it will do). One pass of two comparisons per value
    /// finds them, however many values share those keys.
    Bounds {
        count: u64,
        lower_keys: (u64, u64),
        upper_keys: (u64, u64),
        lower: Option<f64>,
        upper: Option<f64>,
    },
    /// Found (`None`: no values).
    Done(Option<f64>),
}

/// The first pass's bet on where the median lies: a range of values
/// (estimated from the first batch) whose values are kept as they stream by,
/// while those below it are counted. If both middle ranks then fall inside
/// the range, the median is selected from the values kept and no second pass
/// is needed; if not (a first batch unlike the rest, say sorted data), the
/// search goes on with histograms on the side of the range that holds them.
/// Either way the result is exact.
#[derive(Debug, Clone)]
enum Guess {
    /// Not made yet: the values seen so far (fewer than
    /// [`GUESS_MIN_SAMPLE`] before the last batch), which make it once there
    /// are enough and are then counted into it. A group that never has
    /// enough is selected from these values alone.
    Pending { early: Vec<f64> },
    /// Keeping the values in `low..=high` (neither is NaN), counting those
    /// below `low`.
    Active {
        low: f64,
        high: f64,
        below: u64,
        values: Vec<f64>,
    },
    /// No guess (too few values to guess from): the pass counts every value
    /// in the histogram.
    Off,
    /// More than [`COLLECT_LIMIT`] values fell in the range (many rows, or
    /// many equal values): instead of the values, the range's keys are
    /// counted from then on in [`BUCKETS`] buckets of `2^shift` keys from
    /// `key(low)`, so that the next pass collects only the bucket(s) holding
    /// the middle ranks.
    Dense {
        low: f64,
        high: f64,
        shift: u32,
        below: u64,
        inside: u64,
        histogram: Vec<u64>,
    },
}

/// Values a guess needs, at least, to be made.
const GUESS_MIN_SAMPLE: usize = 1024;

/// Values of the first batch a guess looks at, at most.
const GUESS_SAMPLE: usize = 16 * 1024;

/// Ranks around the middle a guess covers, as a fraction of a sample of `n`
/// values: six standard errors of the sample median's rank (`0.5 / √n`), so
/// that a first batch like the rest practically never misses (a miss costs
/// passes, never the answer), and as few values as that allows are kept
/// (2.3 % of the ranks on either side for a full sample).
fn guess_half_width(n: usize) -> f64 {
    3.0 / (n as f64).sqrt()
}

impl Guess {
    /// A guess from the first values seen: the values between the sample's
    /// `0.5 ± guess_half_width` quantiles.
    fn from_sample(xs: &[f64]) -> Self {
        if xs.len() < GUESS_MIN_SAMPLE {
            return Guess::Off;
        }
        let step = xs.len().div_ceil(GUESS_SAMPLE);
        let mut sample: Vec<f64> = xs.iter().step_by(step).copied().collect();
        sample.sort_unstable_by(total_order);
        let half_width = guess_half_width(sample.len());
        let at = |q: f64| sample[((sample.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize];
        let (low, high) = (at(0.5 - half_width), at(0.5 + half_width));
        // NaN compares false: a range that reaches it would miscount.
        if low.is_nan() || high.is_nan() {
            return Guess::Off;
        }
        Guess::Active {
            low,
            high,
            below: 0,
            values: Vec::new(),
        }
    }

    /// Counts the range in a histogram instead of keeping its values once it
    /// holds more than [`COLLECT_LIMIT`] of them.
    fn check_limit(&mut self) {
        let Guess::Active {
            low,
            high,
            below,
            values,
        } = self
        else {
            return;
        };
        if values.len() as u64 <= COLLECT_LIMIT {
            return;
        }
        let (key_low, span) = (key(*low), key(*high) - key(*low));
        let mut shift = 0;
        while (span >> shift) >= BUCKETS as u64 {
            shift += 1;
        }
        let mut histogram = vec![0; BUCKETS];
        for &x in values.iter() {
            histogram[((key(x) - key_low) >> shift) as usize] += 1;
        }
        *self = Guess::Dense {
            low: *low,
            high: *high,
            shift,
            below: *below,
            inside: values.len() as u64,
            histogram,
        };
    }

    /// Adds `xs` to a dense guess's counts.
    fn count_dense(
        xs: &[f64],
        low: f64,
        high: f64,
        shift: u32,
        histogram: &mut [u64],
    ) -> (u64, u64) {
        let key_low = key(low);
        let (mut below, mut inside) = (0, 0);
        for &x in xs {
            below += u64::from(x < low);
            if (low <= x) & (x <= high) {
                inside += 1;
                histogram[((key(x) - key_low) >> shift) as usize] += 1;
            }
        }
        (below, inside)
    }

    /// The search after a first pass over `count` values with this guess
    /// ([`Guess::Off`]'s pass counted a histogram of its own).
    fn settle(self, count: u64) -> Search {
        let (lower_rank, upper_rank) = middle_ranks(count);
        let (low, high, below, inside) = match self {
            Guess::Active {
                low,
                high,
                below,
                mut values,
            } => {
                let inside = values.len() as u64;
                if lower_rank >= below && upper_rank < below + inside {
                    let (lower, upper) = select_middle(
                        &mut values,
                        (lower_rank - below) as usize,
                        (upper_rank - below) as usize,
                    );
                    return Search::Done(Some(interpolate(count, lower, upper)));
                }
                (low, high, below, inside)
            }
            Guess::Dense {
                low,
                high,
                shift,
                below,
                inside,
                histogram,
            } => {
                if lower_rank >= below && upper_rank < below + inside {
                    return narrow(count, (key(low), key(high)), shift, below, &histogram);
                }
                (low, high, below, inside)
            }
            Guess::Pending { .. } | Guess::Off => return Search::refining_all(count),
        };
        // Keys order values as the floats do (see `key`), so the keys below
        // `key(low)` are exactly the values below `low`; neither bound is NaN.
        let side = if upper_rank < below {
            (0, key(low) - 1, 0)
        } else if lower_rank >= below + inside {
            (key(high) + 1, u64::MAX, below + inside)
        } else {
            return Search::refining_all(count);
        };
        let (low, high, below) = side;
        Search::Refining {
            count,
            low,
            high,
            shift: 64 - FIRST_BITS,
            below,
            histogram: vec![0; 1 << FIRST_BITS],
        }
    }
}

impl Search {
    fn new() -> Self {
        Search::Counting {
            histogram: Vec::new(),
            count: 0,
            guess: Guess::Pending { early: Vec::new() },
        }
    }

    /// A counting pass over every key, as a first pass without a guess.
    fn refining_all(count: u64) -> Self {
        Search::Refining {
            count,
            low: 0,
            high: u64::MAX,
            shift: 64 - FIRST_BITS,
            below: 0,
            histogram: vec![0; 1 << FIRST_BITS],
        }
    }

    fn is_done(&self) -> bool {
        matches!(self, Search::Done(_))
    }

    /// Takes values into the current pass (one dispatch, then a tight loop).
    fn add_all(&mut self, xs: &[f64]) {
        match self {
            Search::Counting {
                histogram,
                count,
                guess,
            } => {
                *count += xs.len() as u64;
                // Until a guess can be made from enough values, they wait;
                // then they make it and are counted into it.
                let early;
                let xs = match guess {
                    Guess::Pending { early: waiting } => {
                        waiting.extend_from_slice(xs);
                        if waiting.len() < GUESS_MIN_SAMPLE {
                            return;
                        }
                        early = std::mem::take(waiting);
                        *guess = Guess::from_sample(&early);
                        &early[..]
                    }
                    _ => xs,
                };
                match guess {
                    Guess::Active {
                        low,
                        high,
                        below,
                        values,
                    } => *below += keep_inside(xs, *low, *high, values),
                    Guess::Off => {
                        if histogram.is_empty() {
                            *histogram = vec![0; 1 << FIRST_BITS];
                        }
                        for &x in xs {
                            histogram[(key(x) >> (64 - FIRST_BITS)) as usize] += 1;
                        }
                    }
                    Guess::Dense {
                        low,
                        high,
                        shift,
                        below,
                        inside,
                        histogram,
                    } => {
                        let (more_below, more_inside) =
                            Guess::count_dense(xs, *low, *high, *shift, histogram);
                        *below += more_below;
                        *inside += more_inside;
                    }
                    Guess::Pending { .. } => unreachable!("made above"),
                }
                guess.check_limit();
            }
            Search::Refining {
                low,
                high,
                shift,
                histogram,
                ..
            } => {
                let (low, high, shift) = (*low, *high, *shift);
                for &x in xs {
                    let k = key(x);
                    if in_range(k, low, high) {
                        histogram[((k - low) >> shift) as usize] += 1;
                    }
                }
            }
            Search::Collecting {
                low, high, values, ..
            } => {
                let (low, high) = (*low, *high);
                values.extend(xs.iter().copied().filter(|&x| {
                    let k = key(x);
                    in_range(k, low, high)
                }));
            }
            Search::Bounds {
                lower_keys,
                upper_keys,
                lower,
                upper,
                ..
            } => {
                for &x in xs {
                    let k = key(x);
                    if in_range(k, lower_keys.0, lower_keys.1)
                        && lower.is_none_or(|l| total_order(&x, &l) == Ordering::Greater)
                    {
                        *lower = Some(x);
                    }
                    if in_range(k, upper_keys.0, upper_keys.1)
                        && upper.is_none_or(|u| total_order(&x, &u) == Ordering::Less)
                    {
                        *upper = Some(x);
                    }
                }
            }
            Search::Done(_) => {}
        }
    }

    /// Moves on after a pass.
    fn next_pass(&mut self) {
        *self = match std::mem::replace(self, Search::Done(None)) {
            Search::Counting {
                histogram,
                count,
                guess,
            } => match guess {
                _ if count == 0 => Search::Done(None),
                // Too few values to guess from: all of them are here.
                Guess::Pending { mut early } => {
                    debug_assert_eq!(early.len() as u64, count);
                    Search::Done(median(&mut early))
                }
                Guess::Off => narrow(count, (0, u64::MAX), 64 - FIRST_BITS, 0, &histogram),
                guess => guess.settle(count),
            },
            Search::Refining {
                count,
                low,
                high,
                shift,
                below,
                histogram,
            } => narrow(count, (low, high), shift, below, &histogram),
            Search::Collecting {
                count,
                below,
                mut values,
                ..
            } => {
                let (lower_rank, upper_rank) = middle_ranks(count);
                let (lower_rank, upper_rank) =
                    ((lower_rank - below) as usize, (upper_rank - below) as usize);
                let (lower, upper) = select_middle(&mut values, lower_rank, upper_rank);
                Search::Done(Some(interpolate(count, lower, upper)))
            }
            Search::Bounds {
                count,
                lower,
                upper,
                ..
            } => {
                let lower = lower.expect("the counts put the lower middle in its range");
                let upper = upper.expect("the counts put the upper middle in its range");
                Search::Done(Some(interpolate(count, lower, upper)))
            }
            done @ Search::Done(_) => done,
        };
    }

    fn result(&self) -> Option<f64> {
        match self {
            Search::Done(found) => *found,
            _ => None,
        }
    }
}

/// Pushes the values of `xs` in `low..=high` (neither NaN) to `kept` and
/// returns how many are below `low`. NaN compares false both ways: it is
/// neither below nor inside, so it counts as above, as in polars' order
/// (see [`split`]).
fn keep_inside(xs: &[f64], low: f64, high: f64, kept: &mut Vec<f64>) -> u64 {
    let start = kept.len();
    kept.resize(start + xs.len(), 0.0);
    let (below, end) = split::split_inside(xs, low, high, &mut kept[start..]);
    kept.truncate(start + end);
    below
}

/// After a counting pass over the keys `range` in buckets of `2^shift` keys
/// (`below` values under the range): the key range holding both middle
/// ranks, to be refined or collected next.
fn narrow(count: u64, range: (u64, u64), shift: u32, below: u64, histogram: &[u64]) -> Search {
    let (low, high) = range;
    let (lower_rank, upper_rank) = middle_ranks(count);
    let mut seen = below;
    let mut first = None;
    let mut last = 0;
    let mut below_first = below;
    for (bucket, &n) in histogram.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if first.is_none() && seen + n > lower_rank {
            first = Some(bucket);
            below_first = seen;
        }
        if seen + n > upper_rank {
            last = bucket;
            break;
        }
        seen += n;
    }
    let first = first.expect("the ranks are below the count");
    let bucket = |b: usize| -> (u64, u64) {
        let start = low + ((b as u64) << shift);
        (start, start.saturating_add((1u64 << shift) - 1).min(high))
    };
    let new_low = bucket(first).0;
    let new_high = bucket(last).1;
    let in_buckets: u64 = histogram[first..=last].iter().sum();
    // Two buckets (the lower middle is then the last value of the first, the
    // upper the first of the last: nothing lies between), or one bucket of a
    // single key holding too many values to collect: the middle values are
    // extremes of their buckets. (Collecting or refining those would find
    // the same span again and again when both hold many equal values.)
    if first != last || (shift == 0 && in_buckets > COLLECT_LIMIT) {
        return Search::Bounds {
            count,
            lower_keys: bucket(first),
            upper_keys: bucket(last),
            lower: None,
            upper: None,
        };
    }
    if in_buckets <= COLLECT_LIMIT || shift == 0 {
        return Search::Collecting {
            count,
            low: new_low,
            high: new_high,
            below: below_first,
            values: Vec::with_capacity(in_buckets as usize),
        };
    }
    // Buckets fine enough that the range fits the histogram.
    let span = new_high - new_low;
    let mut new_shift = 0;
    while (span >> new_shift) >= BUCKETS as u64 {
        new_shift += 1;
    }
    Search::Refining {
        count,
        low: new_low,
        high: new_high,
        shift: new_shift,
        below: below_first,
        histogram: vec![0; BUCKETS],
    }
}

/// Count, sum, minimum and maximum of one column in one group, folded while
/// the medians' first pass streams by: what polars' `mean`, `sum`, `min`
/// and `max` give, without a pass of their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fold {
    /// Values seen (nulls skipped, NaN included).
    count: u64,
    /// NaN values seen.
    nans: u64,
    /// Compensated (Neumaier) sum of per-slice partial sums.
    sum: f64,
    compensation: f64,
    /// Extremes of the values other than NaN.
    min: f64,
    max: f64,
}

impl Default for Fold {
    fn default() -> Self {
        Self {
            count: 0,
            nans: 0,
            sum: 0.0,
            compensation: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Fold {
    /// Takes a slice of values, in eight independent lanes (no dependency
    /// from one value to the next, so the loop runs at memory speed).
    pub fn add_all(&mut self, xs: &[f64]) {
        const LANES: usize = 8;
        let mut sum = [0.0; LANES];
        let mut min = [f64::INFINITY; LANES];
        let mut max = [f64::NEG_INFINITY; LANES];
        let mut nans = [0u64; LANES];
        let mut chunks = xs.chunks_exact(LANES);
        for chunk in &mut chunks {
            for lane in 0..LANES {
                let x = chunk[lane];
                sum[lane] += x;
                // NaN compares false: it never becomes an extreme.
                min[lane] = if x < min[lane] { x } else { min[lane] };
                max[lane] = if x > max[lane] { x } else { max[lane] };
                nans[lane] += u64::from(x.is_nan());
            }
        }
        for &x in chunks.remainder() {
            sum[0] += x;
            min[0] = if x < min[0] { x } else { min[0] };
            max[0] = if x > max[0] { x } else { max[0] };
            nans[0] += u64::from(x.is_nan());
        }
        self.add_slice_fold(
            xs.len() as u64,
            nans.iter().sum(),
            sum.iter().sum(),
            min.into_iter().fold(f64::INFINITY, f64::min),
            max.into_iter().fold(f64::NEG_INFINITY, f64::max),
        );
    }

    /// Takes the fold of a slice computed elsewhere: `count` values (`nans`
    /// of them NaN) summing to `sum`, with extremes `min` and `max` among
    /// those that are not NaN (infinities if none).
    pub fn add_slice_fold(&mut self, count: u64, nans: u64, sum: f64, min: f64, max: f64) {
        if count == 0 {
            return;
        }
        self.add_partial(sum);
        self.count += count;
        self.nans += nans;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }

    fn add_partial(&mut self, x: f64) {
        let total = self.sum + x;
        if total.is_finite() {
            self.compensation += if self.sum.abs() >= x.abs() {
                (self.sum - total) + x
            } else {
                (x - total) + self.sum
            };
        }
        self.sum = total;
    }

    /// The sum (0 for no values, as polars sums an empty or all-null column).
    pub fn sum(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }

    /// The mean, `None` for no values.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum() / self.count as f64)
    }

    /// The minimum, NaN skipped unless every value is NaN; `None` for no values.
    pub fn min(&self) -> Option<f64> {
        self.extreme(self.min)
    }

    /// The maximum, NaN skipped unless every value is NaN; `None` for no values.
    pub fn max(&self) -> Option<f64> {
        self.extreme(self.max)
    }

    fn extreme(&self, found: f64) -> Option<f64> {
        match self.count {
            0 => None,
            n if n == self.nans => Some(f64::NAN),
            _ => Some(found),
        }
    }
}

/// Medians of several columns of a frame, per group of a string column.
#[derive(Debug, Clone)]
pub struct GroupedMedians {
    /// The groups found (null included, as `None`), sorted nulls first.
    pub labels: Vec<Option<String>>,
    /// For each column asked, the median in each group, in label order.
    pub medians: Vec<Vec<Option<f64>>>,
    /// For each column to sum, its sum in each group (nulls skipped), in
    /// label order.
    pub sums: Vec<Vec<i64>>,
    /// For each column to fold, its [`Fold`] in each group, in label order.
    pub folds: Vec<Vec<Fold>>,
}

/// The columns of a [`grouped_medians`] call besides the medians: summed
/// (cast to `Int64`, exact) and folded (cast to `Float64`: count, sum,
/// minimum, maximum), all in the first pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlsoFold<'a> {
    /// Columns whose integer sum is wanted.
    pub summed: &'a [&'a str],
    /// Columns whose [`Fold`] is wanted.
    pub folded: &'a [&'a str],
}

/// The medians of `columns` (cast to `Float64`) of `frame`, and the sums and
/// folds of the columns in `also`, per value of the string (or boolean:
/// labels `"false"` and `"true"`) column `group_by`, or over all rows (one
/// unnamed group) if `None`.
///
/// Streams `frame` on polars' streaming engine, usually once, in bounded
/// memory (see the module docs); sums and folds come with the first pass.
pub fn grouped_medians(
    frame: &LazyFrame,
    group_by: Option<&str>,
    columns: &[&str],
    also: AlsoFold<'_>,
) -> PolarsResult<GroupedMedians> {
    let query = frame.clone().select(selection(group_by, columns, also));
    let state = Arc::new(Mutex::new(Passes::new(group_by, columns, also)));
    let names: Arc<[String]> = columns.iter().map(|c| (*c).to_owned()).collect();
    let by: Option<Arc<str>> = group_by.map(Arc::from);
    loop {
        // polars hands each batch to the callback and waits for it to
        // return, so the callback only queues the batch: a worker thread
        // takes the values while polars decodes the next batches. The queue
        // is short, so memory stays bounded.
        let (sender, receiver) = crossbeam_channel::bounded::<DataFrame>(QUEUED_BATCHES);
        let (pass_state, names, by) = (state.clone(), names.clone(), by.clone());
        let worker = std::thread::spawn(move || -> PolarsResult<()> {
            let mut state = pass_state.lock().expect("not poisoned");
            for batch in receiver {
                state.add_batch(&batch, by.as_deref(), &names)?;
            }
            Ok(())
        });
        // The callback's handle on the queue, closed below once the pass is
        // over, whatever polars does with the callback itself.
        let queue = Arc::new(Mutex::new(Some(sender)));
        let callback_queue = queue.clone();
        let streamed = query
            .clone()
            .sink_batches(
                PlanCallback::new(move |batch: DataFrame| {
                    let queue = callback_queue.lock().expect("not poisoned");
                    // A closed queue means the worker failed: stop, and
                    // report its error below.
                    Ok(queue
                        .as_ref()
                        .is_none_or(|sender| sender.send(batch).is_err()))
                }),
                // In order: the first batch (the guess's sample) and the
                // folds' sums are then the same from run to run.
                true,
                None,
            )
            .and_then(|sink| sink.collect_with_engine(Engine::Streaming));
        queue.lock().expect("not poisoned").take();
        let taken = match worker.join() {
            Ok(taken) => taken,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        streamed?;
        taken?;
        if state.lock().expect("not poisoned").end_pass() {
            break;
        }
    }
    let state = std::mem::replace(
        &mut *state.lock().expect("not poisoned"),
        Passes::new(None, &[], AlsoFold::default()),
    );
    Ok(state.finish())
}

/// What [`grouped_medians`] computes, over batches that are already in
/// memory instead of a query: `batches` hands every batch, in the same order
/// each time, to the function it is given, once per pass.
///
/// A batch holds the columns `columns` and `also.folded` as `Float64`, the
/// columns `also.summed` as `Int64` and the column `group_by` (string or
/// boolean), under those names; other columns are ignored. No query runs and
/// no thread is started besides the one a large batch's columns are split
/// over, so this is the faster way when the data is in memory already.
pub fn grouped_medians_of_batches(
    mut batches: impl FnMut(&mut dyn FnMut(&DataFrame) -> PolarsResult<()>) -> PolarsResult<()>,
    group_by: Option<&str>,
    columns: &[&str],
    also: AlsoFold<'_>,
) -> PolarsResult<GroupedMedians> {
    let mut state = Passes::new(group_by, columns, also);
    let names: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    loop {
        batches(&mut |batch| state.add_batch(batch, group_by, &names))?;
        if state.end_pass() {
            return Ok(state.finish());
        }
    }
}

/// The columns a [`grouped_medians`] pass reads, cast as
/// [`grouped_medians_of_batches`] expects them.
fn selection(group_by: Option<&str>, columns: &[&str], also: AlsoFold<'_>) -> Vec<Expr> {
    let AlsoFold { summed, folded } = also;
    // A column may be both a median and a fold: select it once.
    let mut floats: Vec<&str> = Vec::new();
    for name in columns.iter().chain(folded) {
        if !floats.contains(name) {
            floats.push(name);
        }
    }
    let mut selected: Vec<Expr> = floats
        .iter()
        .map(|name| col(*name).cast(DataType::Float64))
        .collect();
    selected.extend(summed.iter().map(|name| col(*name).cast(DataType::Int64)));
    if let Some(by) = group_by {
        selected.push(col(by));
    }
    selected
}

/// The searches of one [`grouped_medians`] call, between and during passes.
struct Passes {
    labels: Vec<Option<String>>,
    /// `searches[column][group]`.
    searches: Vec<Vec<Search>>,
    /// `sums[summed column][group]`, filled in the first pass.
    sums: Vec<Vec<i64>>,
    /// The columns to sum.
    summed: Vec<String>,
    /// `folds[folded column][group]`, filled in the first pass.
    folds: Vec<Vec<Fold>>,
    /// The columns to fold.
    folded: Vec<String>,
    first_pass: bool,
}

impl Passes {
    /// The state before the first pass.
    fn new(group_by: Option<&str>, columns: &[&str], also: AlsoFold<'_>) -> Self {
        let AlsoFold { summed, folded } = also;
        let mut state = Passes {
            labels: Vec::new(),
            searches: vec![Vec::new(); columns.len()],
            sums: vec![Vec::new(); summed.len()],
            summed: summed.iter().map(|c| (*c).to_owned()).collect(),
            folds: vec![Vec::new(); folded.len()],
            folded: folded.iter().map(|c| (*c).to_owned()).collect(),
            first_pass: true,
        };
        if group_by.is_none() {
            // The one group exists even if no row does.
            state.labels.push(None);
            state.searches = vec![vec![Search::new()]; columns.len()];
            state.sums = vec![vec![0]; summed.len()];
            state.folds = vec![vec![Fold::default()]; folded.len()];
        }
        state
    }

    /// Ends a pass over every batch; returns whether every median is found.
    fn end_pass(&mut self) -> bool {
        for search in self.searches.iter_mut().flatten() {
            search.next_pass();
        }
        self.first_pass = false;
        self.searches.iter().flatten().all(Search::is_done)
    }

    /// The medians, sums and folds found, groups sorted by label.
    fn finish(self) -> GroupedMedians {
        let Passes {
            labels,
            searches,
            sums,
            folds,
            ..
        } = self;
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
        let medians = searches
            .iter()
            .map(|column| order.iter().map(|&g| column[g].result()).collect())
            .collect();
        let sums = sums
            .iter()
            .map(|column| order.iter().map(|&g| column[g]).collect())
            .collect();
        let folds = folds
            .iter()
            .map(|column| order.iter().map(|&g| column[g]).collect())
            .collect();
        let labels = order.into_iter().map(|g| labels[g].clone()).collect();
        GroupedMedians {
            labels,
            medians,
            sums,
            folds,
        }
    }

    /// Takes the values of one batch (the columns `names`, then `by`).
    fn add_batch(
        &mut self,
        batch: &DataFrame,
        by: Option<&str>,
        names: &[String],
    ) -> PolarsResult<()> {
        let codes = match by.map(|by| batch.column(by)).transpose()? {
            Some(column) if column.dtype() == &DataType::Boolean => bool_codes(
                column.bool()?,
                &mut self.labels,
                &mut self.searches,
                self.first_pass,
            )?,
            Some(column) => group_codes(
                column.str()?,
                &mut self.labels,
                &mut self.searches,
                self.first_pass,
            )?,
            None => vec![0; batch.height()],
        };
        if self.first_pass {
            self.add_sums(batch, &codes)?;
            self.add_folds(batch, &codes)?;
        }
        // Columns are independent: half of them on another thread.
        let columns: Vec<&Float64Chunked> = names
            .iter()
            .map(|name| batch.column(name)?.f64())
            .collect::<PolarsResult<_>>()?;
        let rows = group_rows(&codes, self.labels.len());
        let mid = columns.len() / 2;
        let (first, second) = self.searches.split_at_mut(mid);
        let (codes, rows) = (&codes, &rows);
        if batch.height() >= 16 * 1024 && mid > 0 {
            std::thread::scope(|scope| {
                scope.spawn(|| add_columns(first, &columns[..mid], codes, rows));
                add_columns(second, &columns[mid..], codes, rows);
            });
        } else {
            add_columns(first, &columns[..mid], codes, rows);
            add_columns(second, &columns[mid..], codes, rows);
        }
        Ok(())
    }
}

impl Passes {
    /// Adds a batch's values of the folded columns to their groups' folds.
    fn add_folds(&mut self, batch: &DataFrame, codes: &[u32]) -> PolarsResult<()> {
        let groups = self.labels.len();
        for (folds, name) in self.folds.iter_mut().zip(&self.folded) {
            folds.resize(groups, Fold::default());
            let values = batch.column(name)?.f64()?;
            if groups == 1 {
                for array in values.downcast_iter() {
                    if array.validity().is_none_or(|v| v.unset_bits() == 0) {
                        folds[0].add_all(array.values());
                    } else {
                        let present: Vec<f64> = array.iter().flatten().copied().collect();
                        folds[0].add_all(&present);
                    }
                }
                continue;
            }
            let mut by_group: Vec<Vec<f64>> = vec![Vec::with_capacity(codes.len()); groups];
            match values.cont_slice() {
                Ok(xs) => {
                    for (&x, &code) in xs.iter().zip(codes) {
                        by_group[code as usize].push(x);
                    }
                }
                Err(_) => {
                    for (value, &code) in values.iter().zip(codes) {
                        if let Some(x) = value {
                            by_group[code as usize].push(x);
                        }
                    }
                }
            }
            for (fold, xs) in folds.iter_mut().zip(&by_group) {
                fold.add_all(xs);
            }
        }
        Ok(())
    }

    /// Adds a batch's values of the summed columns to their groups' sums.
    fn add_sums(&mut self, batch: &DataFrame, codes: &[u32]) -> PolarsResult<()> {
        let groups = self.labels.len();
        for (sums, name) in self.sums.iter_mut().zip(&self.summed) {
            sums.resize(groups, 0);
            let values = batch.column(name)?.i64()?;
            let mut row = 0;
            for array in values.downcast_iter() {
                let codes = &codes[row..row + array.len()];
                if array.validity().is_none_or(|v| v.unset_bits() == 0) {
                    // Group by group: adding into `sums[code]` row by row
                    // would chain every row's add through memory.
                    for (group, sum) in sums.iter_mut().enumerate() {
                        *sum += array
                            .values()
                            .iter()
                            .zip(codes)
                            .map(|(&value, &code)| value * i64::from(code as usize == group))
                            .sum::<i64>();
                    }
                } else {
                    for (value, &code) in array.iter().zip(codes) {
                        sums[code as usize] += value.copied().unwrap_or(0);
                    }
                }
                row += array.len();
            }
        }
        Ok(())
    }
}

/// Adds a batch's `columns` (row `i` in group `codes[i]`) to their
/// `searches[column][group]`.
fn add_columns(
    searches: &mut [Vec<Search>],
    columns: &[&Float64Chunked],
    codes: &[u32],
    rows: &[usize],
) {
    for (column_searches, values) in searches.iter_mut().zip(columns) {
        if column_searches.iter().all(Search::is_done) {
            continue;
        }
        let groups = column_searches.len();
        if groups == 1 {
            let mut scratch = Vec::new();
            for array in values.downcast_iter() {
                if array.validity().is_none_or(|v| v.unset_bits() == 0) {
                    column_searches[0].add_all(array.values());
                } else {
                    scratch.clear();
                    scratch.extend(array.iter().flatten().copied());
                    column_searches[0].add_all(&scratch);
                }
            }
            continue;
        }
        if values.null_count() == 0 && values.chunks().len() == 1 {
            let xs = values.cont_slice().expect("one chunk without nulls");
            add_plain(column_searches, xs, codes, rows);
            continue;
        }
        let mut by_group: Vec<Vec<f64>> = (0..groups)
            .map(|_| Vec::with_capacity(codes.len()))
            .collect();
        let mut row = 0;
        for array in values.downcast_iter() {
            let codes = &codes[row..row + array.len()];
            if array.validity().is_none_or(|v| v.unset_bits() == 0) {
                for (&x, &code) in array.values().iter().zip(codes) {
                    by_group[code as usize].push(x);
                }
            } else {
                for (value, &code) in array.iter().zip(codes) {
                    if let Some(&x) = value {
                        by_group[code as usize].push(x);
                    }
                }
            }
            row += array.len();
        }
        for (search, xs) in column_searches.iter_mut().zip(&by_group) {
            search.add_all(xs);
        }
    }
}

/// Adds the values `xs` (row `i` in group `codes[i]`, `rows[g]` rows in
/// group `g`) to their groups' searches.
fn add_plain(searches: &mut [Search], xs: &[f64], codes: &[u32], rows: &[usize]) {
    if searches.len() == 1 {
        searches[0].add_all(xs);
        return;
    }
    if count_grouped(searches, xs, codes, rows) {
        return;
    }
    let mut by_group: Vec<Vec<f64>> = rows.iter().map(|&n| Vec::with_capacity(n)).collect();
    for (&x, &code) in xs.iter().zip(codes) {
        by_group[code as usize].push(x);
    }
    for (search, xs) in searches.iter_mut().zip(&by_group) {
        search.add_all(xs);
    }
}

/// How many of `codes` are `g`, for each group `g < groups`. Counted group
/// by group: a counter per row would chain every row's increment through
/// memory; this is a comparison the compiler vectorizes.
fn group_rows(codes: &[u32], groups: usize) -> Vec<usize> {
    match groups {
        0 => Vec::new(),
        1 => vec![codes.len()],
        2 => {
            // Codes are 0 or 1: their sum counts the ones.
            let ones = codes.iter().map(|&c| c as usize).sum::<usize>();
            vec![codes.len() - ones, ones]
        }
        _ => (0..groups)
            .map(|g| codes.iter().filter(|&&c| c as usize == g).count())
            .collect(),
    }
}

/// A batch of [`medians_of_slices`]: equally long columns of plain values
/// (no nulls; NaN is a value, above every number), and each row's group.
pub struct SliceBatch<'a> {
    /// The columns, in the order of the medians asked.
    pub columns: &'a [&'a [f64]],
    /// Row `i` is in group `codes[i]` (`< groups`); ignored (may be empty)
    /// with one group.
    pub codes: &'a [u32],
}

/// The median of each of `columns` columns in each of `groups` groups
/// (`medians[column][group]`, `None` for a group without values), over the
/// batches `batches` hands to the function it is given, in the same order on
/// every call: once per pass, usually once (see the module docs).
///
/// The way for data already in memory without nulls: no polars frame per
/// batch, no query, no thread: callers run calls for different columns on
/// threads of their own.
pub fn medians_of_slices(
    groups: usize,
    columns: usize,
    mut batches: impl FnMut(&mut dyn FnMut(SliceBatch<'_>)) -> PolarsResult<()>,
) -> PolarsResult<Vec<Vec<Option<f64>>>> {
    let mut searches = vec![vec![Search::new(); groups]; columns];
    loop {
        batches(&mut |batch: SliceBatch<'_>| {
            debug_assert_eq!(batch.columns.len(), columns);
            let rows = group_rows(batch.codes, groups);
            for (column_searches, xs) in searches.iter_mut().zip(batch.columns) {
                if !column_searches.iter().all(Search::is_done) {
                    add_plain(column_searches, xs, batch.codes, &rows);
                }
            }
        })?;
        for search in searches.iter_mut().flatten() {
            search.next_pass();
        }
        if searches.iter().flatten().all(Search::is_done) {
            return Ok(searches
                .iter()
                .map(|column| column.iter().map(Search::result).collect())
                .collect());
        }
    }
}

thread_local! {
    /// Room for one batch's values of each group in [`count_grouped`].
    static SPLIT_ROOM: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// First-pass counting of `xs[i]` in group `codes[i]`, straight into each
/// group's guess (no per-group copy of the batch). Only once every group has
/// an active guess; returns whether it took the values.
fn count_grouped(searches: &mut [Search], xs: &[f64], codes: &[u32], rows: &[usize]) -> bool {
    let mut guesses: Vec<(&mut u64, &mut u64, &mut Vec<f64>, f64, f64)> =
        Vec::with_capacity(searches.len());
    for search in searches.iter_mut() {
        let Search::Counting {
            count,
            guess:
                Guess::Active {
                    low,
                    high,
                    below,
                    values,
                },
            ..
        } = search
        else {
            return false;
        };
        guesses.push((count, below, values, *low, *high));
    }
    // The values go to room reused from batch to batch, then only the kept
    // ones (a few percent) are copied: growing each kept list by the
    // batch's rows would zero-fill that room on every batch.
    SPLIT_ROOM.with_borrow_mut(|room| {
        room.resize_with(guesses.len(), Vec::new);
        let mut groups: Vec<GroupSplit<'_>> = guesses
            .iter()
            .zip(room.iter_mut())
            .zip(rows)
            .map(|((&(_, _, _, low, high), out), &rows)| {
                if out.len() < rows {
                    out.resize(rows, 0.0);
                }
                GroupSplit::new(low, high, out)
            })
            .collect();
        split::split_grouped(xs, codes, &mut groups);
        for (g, ((count, below, kept, ..), split)) in guesses.iter_mut().zip(groups).enumerate() {
            **count += rows[g] as u64;
            **below += split.below;
            kept.extend_from_slice(&split.out[..split.end]);
        }
    });
    for search in searches.iter_mut() {
        if let Search::Counting { guess, .. } = search {
            guess.check_limit();
        }
    }
    true
}

/// The group index of `label`, a new group (with a fresh search per column)
/// if it has none yet; new labels are only expected in the first pass (later
/// passes see the same rows again).
fn code_of(
    label: Option<&str>,
    labels: &mut Vec<Option<String>>,
    searches: &mut [Vec<Search>],
    first_pass: bool,
) -> PolarsResult<u32> {
    if let Some(i) = labels.iter().position(|l| l.as_deref() == label) {
        return Ok(i as u32);
    }
    polars_ensure!(
        first_pass,
        ComputeError: "the frame changed between passes (new group {label:?})"
    );
    labels.push(label.map(str::to_owned));
    for column in searches.iter_mut() {
        column.push(Search::new());
    }
    Ok((labels.len() - 1) as u32)
}

/// The group index of each row of a batch grouped by a boolean column, whose
/// labels are `"false"`, `"true"` and null. New labels are only expected in
/// the first pass.
fn bool_codes(
    flags: &BooleanChunked,
    labels: &mut Vec<Option<String>>,
    searches: &mut [Vec<Search>],
    first_pass: bool,
) -> PolarsResult<Vec<u32>> {
    // The code of false, true and null, once seen.
    let mut known: [Option<u32>; 3] = [None; 3];
    let mut codes = Vec::with_capacity(flags.len());
    if flags.null_count() == 0 {
        // Straight from the bits: which labels occur is in the counts.
        let set = flags.sum().unwrap_or(0) as usize;
        let mut code = |flag: bool, occurs: bool| -> PolarsResult<u32> {
            if !occurs {
                return Ok(0);
            }
            let label = if flag { "true" } else { "false" };
            code_of(Some(label), labels, searches, first_pass)
        };
        let no = code(false, set < flags.len())?;
        let yes = code(true, set > 0)?;
        for array in flags.downcast_iter() {
            codes.extend(
                array
                    .values()
                    .iter()
                    .map(|flag| if flag { yes } else { no }),
            );
        }
        return Ok(codes);
    }
    for flag in flags.iter() {
        let slot = match flag {
            Some(false) => 0,
            Some(true) => 1,
            None => 2,
        };
        let code = match known[slot] {
            Some(code) => code,
            None => {
                let label = flag.map(|b| if b { "true" } else { "false" });
                let code = code_of(label, labels, searches, first_pass)?;
                known[slot] = Some(code);
                code
            }
        };
        codes.push(code);
    }
    Ok(codes)
}

/// The group index of each row of a batch, by its label. New labels are only
/// expected in the first pass (later passes see the same rows again).
fn group_codes(
    labels_column: &StringChunked,
    labels: &mut Vec<Option<String>>,
    searches: &mut [Vec<Search>],
    first_pass: bool,
) -> PolarsResult<Vec<u32>> {
    let mut codes = Vec::with_capacity(labels_column.len());
    // A label of at most 12 bytes lives entirely in its 16-byte string view,
    // so equal views mean equal labels: most rows cost one integer compare.
    let mut inline: Vec<(u128, u32)> = Vec::new();
    let no_nulls = labels_column.null_count() == 0;
    for array in labels_column.downcast_iter() {
        for (row, view) in array.views().iter().enumerate() {
            let bits = view.as_u128();
            if let Some(&(_, code)) = inline.iter().find(|(v, _)| *v == bits) {
                codes.push(code);
                continue;
            }
            let code = code_of(array.get(row), labels, searches, first_pass)?;
            if no_nulls && view.length <= 12 && inline.len() < 16 {
                inline.push((bits, code));
            }
            codes.push(code);
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polars_median(values: &[Option<f64>]) -> Option<f64> {
        Series::new("x".into(), values).f64().unwrap().median()
    }

    fn cases() -> Vec<Vec<Option<f64>>> {
        vec![
            vec![],
            vec![None],
            vec![Some(3.0)],
            vec![Some(1.0), Some(2.0)],
            vec![Some(5.0), None, Some(1.0), Some(4.0)],
            vec![
                Some(0.1),
                Some(0.7),
                Some(0.2),
                Some(1e300),
                Some(-1e300),
                Some(3.3),
            ],
            vec![Some(f64::NAN), Some(1.0), Some(2.0)],
            vec![Some(f64::NAN), Some(1.0)],
            vec![Some(2.0), Some(2.0), Some(2.0), Some(7.0)],
            vec![Some(-0.0), Some(0.0), Some(-1.5), Some(f64::INFINITY)],
        ]
    }

    #[test]
    fn median_agrees_with_polars() {
        for values in cases() {
            let mut present: Vec<f64> = values.iter().flatten().copied().collect();
            let ours = median(&mut present);
            let theirs = polars_median(&values);
            assert_eq!(
                ours.map(f64::to_bits),
                theirs.map(f64::to_bits),
                "{values:?}: {ours:?} vs {theirs:?}"
            );
        }
    }

    #[test]
    fn keys_order_like_the_total_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            1.0,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in xs.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        assert_eq!(key(-0.0), key(0.0));
    }

    #[test]
    fn streaming_medians_agree_with_polars_per_group() {
        for values in cases() {
            let n = values.len();
            let groups: Vec<Option<&str>> = (0..n)
                .map(|i| [Some("b"), Some("a"), None][i % 3])
                .collect();
            let frame = df!("g" => groups.clone(), "x" => values.clone())
                .unwrap()
                .lazy();
            let ours = grouped_medians(
                &frame,
                Some("g"),
                &["x"],
                AlsoFold {
                    folded: &["x"],
                    ..AlsoFold::default()
                },
            )
            .unwrap();
            let theirs = frame
                .clone()
                .group_by([col("g")])
                .agg([
                    col("x").median(),
                    col("x").mean().alias("mean"),
                    col("x").sum().alias("sum"),
                    col("x").min().alias("min"),
                    col("x").max().alias("max"),
                ])
                .sort(["g"], SortMultipleOptions::default())
                .collect()
                .unwrap();
            let their_labels: Vec<Option<String>> = theirs
                .column("g")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|l| l.map(str::to_owned))
                .collect();
            assert_eq!(ours.labels, their_labels, "{values:?}");
            let their_medians: Vec<Option<u64>> = theirs
                .column("x")
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .map(|m| m.map(f64::to_bits))
                .collect();
            let our_medians: Vec<Option<u64>> = ours.medians[0]
                .iter()
                .map(|m| m.map(f64::to_bits))
                .collect();
            assert_eq!(our_medians, their_medians, "{values:?}");
            let theirs_of = |name: &str| -> Vec<Option<f64>> {
                theirs.column(name).unwrap().f64().unwrap().iter().collect()
            };
            let folds = &ours.folds[0];
            let same = |ours: Vec<Option<f64>>, theirs: Vec<Option<f64>>, what: &str| {
                let equal = |a: &Option<f64>, b: &Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => {
                        (a.is_nan() && b.is_nan())
                            || a == b
                            || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
                    }
                    _ => a == b,
                };
                assert!(
                    ours.iter().zip(&theirs).all(|(a, b)| equal(a, b)),
                    "{what} of {values:?}: {ours:?} vs {theirs:?}"
                );
            };
            same(
                folds.iter().map(Fold::mean).collect(),
                theirs_of("mean"),
                "mean",
            );
            same(
                folds.iter().map(|f| Some(f.sum())).collect(),
                theirs_of("sum"),
                "sum",
            );
            same(
                folds.iter().map(Fold::min).collect(),
                theirs_of("min"),
                "min",
            );
            same(
                folds.iter().map(Fold::max).collect(),
                theirs_of("max"),
                "max",
            );
        }
    }

    /// Medians of `values` (nulls skipped) in `groups` groups, value `i` in
    /// group `codes[i]`, fed in batches of `batch` as `add_columns` feeds a
    /// column (the grouped path once every group has its guess), and how
    /// many batches took the grouped path.
    fn streamed_grouped(
        values: &[Option<f64>],
        codes: &[u32],
        groups: usize,
        batch: usize,
    ) -> (Vec<Option<f64>>, usize) {
        let present: Vec<(f64, u32)> = values
            .iter()
            .zip(codes)
            .filter_map(|(x, &c)| x.map(|x| (x, c)))
            .collect();
        let mut searches = vec![Search::new(); groups];
        let (mut passes, mut grouped_batches) = (0, 0);
        while !searches.iter().all(Search::is_done) {
            passes += 1;
            assert!(passes < 6, "no end in sight");
            for chunk in present.chunks(batch) {
                let xs: Vec<f64> = chunk.iter().map(|(x, _)| *x).collect();
                let codes: Vec<u32> = chunk.iter().map(|(_, c)| *c).collect();
                if count_grouped(&mut searches, &xs, &codes, &group_rows(&codes, groups)) {
                    grouped_batches += 1;
                    continue;
                }
                for (g, search) in searches.iter_mut().enumerate() {
                    let mine: Vec<f64> = chunk
                        .iter()
                        .filter(|(_, c)| *c as usize == g)
                        .map(|(x, _)| *x)
                        .collect();
                    search.add_all(&mine);
                }
            }
            for search in &mut searches {
                search.next_pass();
            }
        }
        (
            searches.iter().map(Search::result).collect(),
            grouped_batches,
        )
    }

    /// Medians of `values` in one group, and how many passes they took.
    fn streamed(values: &[f64]) -> (Option<f64>, usize) {
        let frame = df!("x" => values).unwrap().lazy();
        let mut search = Search::new();
        let mut passes = 0;
        while !search.is_done() {
            passes += 1;
            assert!(passes < 20, "no end in sight");
            for batch in frame.clone().collect().unwrap().split_chunks_by_n(8, false) {
                search.add_all(
                    batch
                        .column("x")
                        .unwrap()
                        .f64()
                        .unwrap()
                        .cont_slice()
                        .unwrap(),
                );
            }
            search.next_pass();
        }
        (search.result(), passes)
    }

    /// Runs [`medians_of_slices`] over `values` (row `i` in group
    /// `codes[i]`) in batches of `batch` rows; returns the medians and the
    /// passes taken.
    fn sliced(
        values: &[f64],
        codes: &[u32],
        groups: usize,
        batch: usize,
    ) -> (Vec<Option<f64>>, usize) {
        let mut passes = 0;
        let medians = medians_of_slices(groups, 1, |add| {
            passes += 1;
            for (xs, codes) in values.chunks(batch).zip(codes.chunks(batch)) {
                add(SliceBatch {
                    columns: &[xs],
                    codes,
                });
            }
            Ok(())
        })
        .unwrap();
        (medians.into_iter().next().unwrap(), passes)
    }

    /// Spread values in no particular order.
    fn shuffled_values(n: usize) -> Vec<f64> {
        let mut next = crate::test_rng::unit(0x2545_f491_4f6c_dd1d);
        (0..n).map(|_| next() * 1000.0).collect()
    }

    #[test]
    fn a_rare_group_guesses_from_values_gathered_over_batches() {
        // Group 1 holds one row in 20: ~205 of a 4,096-row batch, too few to
        // guess from in any one batch. Its values wait until there are
        // enough, then make the guess: one pass, as for the common group.
        let values = shuffled_values(200_000);
        let codes: Vec<u32> = (0..values.len()).map(|i| u32::from(i % 20 == 0)).collect();
        let (found, passes) = sliced(&values, &codes, 2, 4096);
        assert_eq!(passes, 1);
        for (group, found) in found.iter().enumerate() {
            let mut mine: Vec<f64> = values
                .iter()
                .zip(&codes)
                .filter(|(_, c)| **c as usize == group)
                .map(|(x, _)| *x)
                .collect();
            assert_eq!(*found, median(&mut mine), "group {group}");
        }
    }

    #[test]
    fn a_group_too_small_to_guess_from_is_selected_in_one_pass() {
        for n in [1, 2, 500, 1023] {
            let mut values = shuffled_values(n);
            let (found, passes) = sliced(&values, &vec![0; n], 1, 300);
            assert_eq!(passes, 1, "{n} values");
            assert_eq!(found[0], median(&mut values), "{n} values");
        }
        // Exactly enough for a guess, arriving in small batches.
        let mut values = shuffled_values(1024);
        let (found, _) = sliced(&values, &vec![0; 1024], 1, 100);
        assert_eq!(found[0], median(&mut values));
    }

    #[test]
    fn a_good_guess_finds_the_median_in_one_pass() {
        // Shuffled: the first batch looks like the rest.
        let n = 100_001;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 * 0.37).collect();
        let (found, passes) = streamed(&values);
        assert_eq!(found, median(&mut values.clone()));
        assert_eq!(passes, 1);
        // Even count, many ties.
        let values: Vec<f64> = (0..100_000).map(|i| ((i * 7919) % 101) as f64).collect();
        let (found, passes) = streamed(&values);
        assert_eq!(found, median(&mut values.clone()));
        assert_eq!(passes, 1);
    }

    #[test]
    fn a_wrong_guess_costs_passes_not_the_answer() {
        // Sorted: the first batch holds the smallest values only, so the
        // guessed range lies below the middle: a pass counts the values
        // above it, a third collects the middle ones.
        let values: Vec<f64> = (0..100_000).map(|i| i as f64 / 3.0).collect();
        let (found, passes) = streamed(&values);
        assert_eq!(found, median(&mut values.clone()));
        assert_eq!(passes, 3);
        // Sorted the other way (with NaN last, as polars ranks it): the
        // range lies above the middle.
        let mut values: Vec<f64> = (0..100_001).map(|i| 1e6 - i as f64 * 0.5).collect();
        values.push(f64::NAN);
        let (found, passes) = streamed(&values);
        assert_eq!(found, median(&mut values.clone()));
        assert_eq!(passes, 3);
    }

    #[test]
    fn guessed_ranges_agree_with_polars_on_nan_zeros_infinities_and_ties() {
        // Groups big enough for guesses, fed in many batches; each
        // distribution against polars' own median of each group.
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let n = 60_000;
        let specials = [f64::NAN, -0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY];
        let distributions: Vec<Vec<Option<f64>>> = vec![
            // Spread values with every special value sprinkled in.
            (0..n)
                .map(|_| {
                    let r = next();
                    match r % 50 {
                        0 => None,
                        1..=5 => Some(specials[(r % 5) as usize]),
                        _ => Some(((r >> 11) as f64 / (1u64 << 53) as f64 - 0.4) * 1e3),
                    }
                })
                .collect(),
            // Few distinct values, zeros of both signs among them: ties at
            // the median and at the range's ends.
            (0..n)
                .map(|_| Some([-2.0, -0.0, 0.0, 0.0, 1.0, 3.0][(next() % 6) as usize]))
                .collect(),
            // Descending, NaN at the end: the first batch is the largest values.
            (0..n)
                .map(|i| {
                    Some(if i >= n - 500 {
                        f64::NAN
                    } else {
                        -(i as f64) * 0.25
                    })
                })
                .collect(),
        ];
        for values in distributions {
            let groups: Vec<&str> = (0..n)
                .map(|i| ["a", "b", "c"][(i * 7 + i / 3) % 3])
                .collect();
            let frame = df!("g" => groups.clone(), "x" => values.clone())
                .unwrap()
                .lazy();
            // Batches of a few thousand rows: the guess sees the first only.
            let batched = frame.clone().collect().unwrap();
            let batched = concat(
                batched
                    .split_chunks_by_n(16, false)
                    .into_iter()
                    .map(|b| b.lazy())
                    .collect::<Vec<_>>(),
                UnionArgs::default(),
            )
            .unwrap();
            let ours = grouped_medians(&batched, Some("g"), &["x"], AlsoFold::default()).unwrap();
            // The same values fed by hand in batches of 4,000, so that every
            // batch after the first takes the grouped path (`count_grouped`).
            let codes: Vec<u32> = groups
                .iter()
                .map(|g| ["a", "b", "c"].iter().position(|l| l == g).unwrap() as u32)
                .collect();
            let (by_hand, grouped_batches) = streamed_grouped(&values, &codes, 3, 4_000);
            assert!(grouped_batches > 0, "the grouped path was not taken");
            for (g, label) in ours.labels.iter().enumerate() {
                assert_eq!(
                    by_hand[["a", "b", "c"]
                        .iter()
                        .position(|l| Some(*l) == label.as_deref())
                        .unwrap()]
                    .map(f64::to_bits),
                    ours.medians[0][g].map(f64::to_bits),
                    "group {label:?}, fed by hand"
                );
                let mine: Vec<Option<f64>> = values
                    .iter()
                    .zip(&groups)
                    .filter(|(_, l)| Some(**l) == label.as_deref())
                    .map(|(x, _)| *x)
                    .collect();
                let theirs = polars_median(&mine);
                let ours = ours.medians[0][g];
                let same = match (ours, theirs) {
                    (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
                    (a, b) => a == b,
                };
                assert!(same, "group {label:?}: {ours:?} vs polars {theirs:?}");
            }
        }
    }

    #[test]
    fn two_big_blocks_of_equal_values_around_the_middle_take_two_passes() {
        // An even count split between two values, each block bigger than
        // what a pass may collect: the middle values are the largest of the
        // lower block and the smallest of the upper one. (Refining the span
        // between them once went on forever.)
        let n = COLLECT_LIMIT as usize + 1_000_000;
        let values: Vec<f64> = (0..n)
            .map(|i| if (i * 7919) % n < n / 2 { 7.0 } else { 8.0 })
            .collect();
        let (found, passes) = streamed(&values);
        assert_eq!(found, Some(7.5));
        assert_eq!(found, median(&mut values.clone()));
        assert_eq!(passes, 2);
        // The same without a guess (a first batch too small to guess from):
        // the histogram pass, then the extremes.
        let mut search = Search::new();
        let mut passes = 0;
        while !search.is_done() {
            passes += 1;
            assert!(passes < 5, "no end in sight");
            search.add_all(&values[..10]);
            search.add_all(&values[10..]);
            search.next_pass();
        }
        assert_eq!(search.result(), Some(7.5));
        assert_eq!(passes, 2);
    }

    #[test]
    fn a_guessed_range_holding_too_many_values_is_counted_not_kept() {
        // More than COLLECT_LIMIT values equal the guessed middle: the guess
        // gives up, and histograms find the median exactly.
        let n = COLLECT_LIMIT as usize * 11 / 10;
        let values: Vec<f64> = (0..n)
            .map(|i| if i % 1000 == 0 { i as f64 } else { 7.0 })
            .collect();
        let (found, passes) = streamed(&values);
        assert_eq!(found, Some(7.0));
        assert_eq!(found, median(&mut values.clone()));
        // The range's values were counted once they overflowed, so one more
        // pass collects the middle bucket (never the whole range again).
        assert_eq!(passes, 2, "the overflowing guess was trusted, or cost more");
    }

    #[test]
    fn many_batches_of_interleaved_groups_give_each_group_its_exact_median() {
        // Enough rows for several batches and for guesses; one column whose
        // guesses hold, one sorted column whose guesses miss.
        let n = 300_000usize;
        let labels: Vec<Option<&str>> = (0..n)
            .map(|i| [Some("Low"), Some("High"), None, Some("High")][(i * 31 + i / 7) % 4])
            .collect();
        let shuffled: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 * 0.25).collect();
        let sorted: Vec<f64> = (0..n).map(|i| i as f64 - 1000.0).collect();
        let frame = df!("g" => labels.clone(), "x" => shuffled.clone(), "y" => sorted.clone())
            .unwrap()
            .lazy();
        let ours = grouped_medians(&frame, Some("g"), &["x", "y"], AlsoFold::default()).unwrap();
        assert_eq!(
            ours.labels,
            [None, Some("High".to_owned()), Some("Low".to_owned())]
        );
        for (g, label) in ours.labels.iter().enumerate() {
            for (c, column) in [&shuffled, &sorted].into_iter().enumerate() {
                let mut mine: Vec<f64> = column
                    .iter()
                    .zip(&labels)
                    .filter(|(_, l)| l.map(str::to_owned) == *label)
                    .map(|(x, _)| *x)
                    .collect();
                assert_eq!(
                    ours.medians[c][g],
                    median(&mut mine),
                    "{label:?} column {c}"
                );
            }
        }
    }

    #[test]
    fn no_rows_give_no_median_and_empty_folds() {
        let frame = df!("x" => Vec::<f64>::new(), "n" => Vec::<i64>::new())
            .unwrap()
            .lazy();
        let found = grouped_medians(
            &frame,
            None,
            &["x"],
            AlsoFold {
                summed: &["n"],
                folded: &["x"],
            },
        )
        .unwrap();
        assert_eq!(found.medians, vec![vec![None]]);
        assert_eq!(found.sums, vec![vec![0]]);
        assert_eq!(found.folds[0][0].max(), None);
        assert_eq!(found.folds[0][0].mean(), None);
        assert_eq!(found.folds[0][0].sum(), 0.0);
    }

    /// Grouping by a boolean column, with and without nulls in it (the
    /// codes come straight from the bits when there are none), and summing a
    /// column per group, against polars' own group-by.
    #[test]
    fn boolean_groups_and_sums_agree_with_polars() {
        let n = 200_000;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1013) as f64 / 7.0).collect();
        let amount: Vec<i64> = (0..n).map(|i| (i % 97) as i64 - 40).collect();
        let flag_cases: Vec<(&str, Vec<Option<bool>>)> = vec![
            ("mixed", (0..n).map(|i| Some(i % 3 == 0)).collect()),
            ("all true", vec![Some(true); n]),
            ("all false", vec![Some(false); n]),
            (
                "with nulls",
                (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect(),
            ),
        ];
        for (what, flags) in flag_cases {
            let frame = df!("flag" => flags, "x" => x.clone(), "n" => amount.clone())
                .unwrap()
                .lazy();
            let ours = grouped_medians(
                &frame,
                Some("flag"),
                &["x"],
                AlsoFold {
                    summed: &["n"],
                    ..AlsoFold::default()
                },
            )
            .unwrap();
            let polars = frame
                .group_by([col("flag")])
                .agg([col("x").median(), col("n").sum()])
                .sort(
                    ["flag"],
                    SortMultipleOptions::default().with_nulls_last(false),
                )
                .collect()
                .unwrap();
            let labels: Vec<Option<String>> = polars
                .column("flag")
                .unwrap()
                .bool()
                .unwrap()
                .iter()
                .map(|f| f.map(|f| f.to_string()))
                .collect();
            assert_eq!(ours.labels, labels, "{what}");
            let medians: Vec<Option<f64>> =
                polars.column("x").unwrap().f64().unwrap().iter().collect();
            assert_eq!(ours.medians, vec![medians], "{what}");
            let sums: Vec<i64> = polars
                .column("n")
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .map(|s| s.unwrap_or(0))
                .collect();
            assert_eq!(ours.sums, vec![sums], "{what}");
        }
    }

    #[test]
    fn refinement_finds_the_exact_median_of_many_close_values() {
        // More values than the collect limit, most within one top-level
        // bucket, so the search must refine before collecting.
        let n = COLLECT_LIMIT as usize + 1001;
        let values: Vec<f64> = (0..n)
            .map(|i| 1000.0 + ((i * 7919) % n) as f64 * 1e-9)
            .collect();
        let frame = df!("x" => values.clone()).unwrap().lazy();
        let ours = grouped_medians(&frame, None, &["x"], AlsoFold::default()).unwrap();
        let mut copy = values;
        assert_eq!(ours.medians[0][0], median(&mut copy));
    }

    /// Values from a small pool (ties, signed zeros, NaN, infinities) or
    /// spread, in runs so that batches can be unlike each other.
    fn value() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            1 => prop::sample::select(vec![
                -2.0,
                -0.0,
                0.0,
                1.0,
                1.5,
                7.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ]),
            3 => -1e6f64..1e6,
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any values, fed in any batches (sorted or not, so guesses hit or
        /// miss), in one group or several: the median of each group is the
        /// one selecting among all its values gives.
        #[test]
        fn streamed_medians_equal_selected_ones(
            values in proptest::collection::vec(value(), 0..6000),
            sorted in proptest::bool::ANY,
            batch in 1usize..3000,
            groups in 1usize..4,
        ) {
            let mut values = values;
            if sorted {
                values.sort_by(total_order);
            }
            let codes: Vec<u32> = (0..values.len()).map(|i| ((i * 7 + i / 5) % groups) as u32).collect();
            let present: Vec<Option<f64>> = values.iter().map(|&x| Some(x)).collect();
            let ours = if groups == 1 {
                let mut search = Search::new();
                let mut passes = 0;
                while !search.is_done() {
                    passes += 1;
                    proptest::prop_assert!(passes < 6, "no end in sight");
                    for chunk in values.chunks(batch) {
                        search.add_all(chunk);
                    }
                    search.next_pass();
                }
                vec![search.result()]
            } else {
                streamed_grouped(&present, &codes, groups, batch).0
            };
            for (g, found) in ours.into_iter().enumerate() {
                let mut mine: Vec<f64> = values
                    .iter()
                    .zip(&codes)
                    .filter(|(_, c)| **c as usize == g)
                    .map(|(x, _)| *x)
                    .collect();
                let expected = median(&mut mine);
                let same = match (found, expected) {
                    (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
                    (a, b) => a == b,
                };
                proptest::prop_assert!(same, "group {}: {:?} vs {:?}", g, found, expected);
            }
        }
    }
}
