//! The search for the middle values of one column per group, pass by pass,
//! whatever feeds the passes (batches of a streaming query, or parts of a
//! frame in memory on several threads).
//!
//! The first pass counts each group's values per range of their top
//! [`BITS`] bits ([`Histograms`]); each later pass ([`Pass`]) narrows the
//! ranges holding the middle values by [`BITS`] more bits, or keeps the
//! values of a range once it holds few enough and selects the middle ones.
//! A pass's work is an accumulator per feeder, merged at the end of the
//! pass, so parts of a column can be counted on different threads. A column
//! of fewer values than a histogram has bins is not searched: its values
//! are gathered and the middle ones selected ([`Gathered`]).

use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;

use super::order::{key, median_of, middle_ranks};

/// Bits per pass.
pub(super) const BITS: u32 = 16;
/// Bins of a histogram.
const BINS: usize = 1 << BITS;
/// Values of one range kept in memory at most, per middle value sought;
/// more, and the range is narrowed by another pass first.
const COLLECT_LIMIT: u64 = 4 << 20;

/// The bytes of the first pass's histograms of `groups` groups (one column,
/// one accumulator).
pub(super) fn histogram_bytes(groups: usize) -> usize {
    groups * BINS * std::mem::size_of::<u32>()
}

/// The bytes of a later pass's counts of `ranges` ranges (one column, one
/// accumulator).
pub(super) fn counted_bytes(ranges: usize) -> usize {
    ranges * BINS * std::mem::size_of::<u64>()
}

/// Consecutive values of one column with the group of each.
pub(super) struct Run<'a> {
    values: Values<'a>,
    /// Which values are valid, if some are null.
    validity: Option<Bitmap>,
    /// The group of each value; `None`: all are of group 0.
    groups: Option<&'a [u16]>,
}

/// The values of a [`Run`]: floats, or integers (ordered as the floats
/// polars casts them to, so their middle values are the same).
enum Values<'a> {
    Floats(&'a [f64]),
    Integers(&'a [i64]),
}

impl<'a> Run<'a> {
    /// The values `start..start + len` of `array`, with their groups
    /// (`groups` is as long as `len`).
    pub(super) fn floats(
        array: &'a PrimitiveArray<f64>,
        start: usize,
        len: usize,
        groups: Option<&'a [u16]>,
    ) -> Self {
        Self {
            values: Values::Floats(&array.values()[start..start + len]),
            validity: validity(array, start, len),
            groups,
        }
    }

    /// [`Run::floats`] of integers.
    pub(super) fn integers(
        array: &'a PrimitiveArray<i64>,
        start: usize,
        len: usize,
        groups: Option<&'a [u16]>,
    ) -> Self {
        Self {
            values: Values::Integers(&array.values()[start..start + len]),
            validity: validity(array, start, len),
            groups,
        }
    }

    /// The values in the run, valid or not.
    fn len(&self) -> usize {
        match self.values {
            Values::Floats(values) => values.len(),
            Values::Integers(values) => values.len(),
        }
    }

    /// Calls `visit(group, key)` with each valid value's group and [`key`].
    #[inline(always)]
    fn for_each(&self, visit: impl FnMut(usize, u64)) {
        match self.values {
            Values::Floats(values) => each(values, &self.validity, self.groups, key, visit),
            Values::Integers(values) => each(
                values,
                &self.validity,
                self.groups,
                |x| key(x as f64),
                visit,
            ),
        }
    }
}

/// The validity of `array`'s values `start..start + len`, if some are null.
fn validity(array: &dyn Array, start: usize, len: usize) -> Option<Bitmap> {
    array
        .validity()
        .filter(|_| array.null_count() > 0)
        .map(|bits| bits.clone().sliced(start, len))
}

/// Calls `visit(group, key)` for each valid value of `values`.
#[inline(always)]
fn each<T: Copy>(
    values: &[T],
    validity: &Option<Bitmap>,
    groups: Option<&[u16]>,
    to_key: impl Fn(T) -> u64,
    mut visit: impl FnMut(usize, u64),
) {
    match (validity, groups) {
        (None, None) => values.iter().for_each(|&x| visit(0, to_key(x))),
        (None, Some(groups)) => values
            .iter()
            .zip(groups)
            .for_each(|(&x, &g)| visit(g as usize, to_key(x))),
        (Some(valid), None) => each_valid(valid, |i| visit(0, to_key(values[i]))),
        (Some(valid), Some(groups)) => {
            each_valid(valid, |i| visit(usize::from(groups[i]), to_key(values[i])))
        }
    }
}

/// Calls `visit(i)` for each set bit `i` of `valid`, in order: 64 bits a
/// word, each word of all valid values without a test per value.
#[inline(always)]
pub(super) fn each_valid(valid: &Bitmap, mut visit: impl FnMut(usize)) {
    let words = valid.chunks::<u64>();
    let (rest, rest_len) = (words.remainder(), words.remainder_len());
    let mut visit_word = |start: usize, word: u64| {
        if word == u64::MAX {
            (start..start + 64).for_each(&mut visit);
        } else {
            let mut bits = word;
            while bits != 0 {
                visit(start + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    };
    let mut start = 0;
    for word in words {
        visit_word(start, word);
        start += 64;
    }
    let mask = match rest_len {
        0 => 0,
        len => u64::MAX >> (64 - len),
    };
    visit_word(start, rest & mask);
}

/// Values of a column below which its medians are found by gathering
/// ([`Gathered`]) instead of searching: fewer values than the first pass's
/// histograms of `groups` groups have bins.
pub(super) fn gather_below(groups: usize) -> usize {
    groups * BINS
}

/// Few values of one column: each group's keys gathered, its middle ones
/// selected. One pass and memory for the values, where the first pass's
/// histograms would take more memory (zeroed, a page fault per 4 KiB) and
/// a scan of every bin.
pub(super) struct Gathered {
    /// `keys[group]`: the [`key`] of each valid value.
    keys: Vec<Vec<u64>>,
}

impl Gathered {
    /// No values yet, of `groups` groups.
    pub(super) fn new(groups: usize) -> Self {
        Self {
            keys: vec![Vec::new(); groups],
        }
    }

    /// Gathers the values of `run`.
    pub(super) fn add(&mut self, run: &Run<'_>) {
        let keys = self.keys.as_mut_slice();
        run.for_each(|g, k| keys[g].push(k));
    }

    /// The median of each group, as [`Search::medians`] gives it.
    pub(super) fn medians(self) -> Vec<Option<f64>> {
        self.keys
            .into_iter()
            .map(|mut keys| {
                let middle: Vec<u64> = middle_ranks(keys.len() as u64)
                    .into_iter()
                    .map(|rank| *keys.select_nth_unstable(rank as usize).1)
                    .collect();
                median_of(&middle)
            })
            .collect()
    }
}

/// The first pass over one column: each group's values counted per range
/// of their top [`BITS`] bits.
///
/// Counted in 32 bits, which halves the histograms (256 KiB a group) so that
/// an accumulator stays in a core's cache while values land in random bins;
/// the counts move to 64-bit totals before they could overflow, and when
/// accumulators are merged.
pub(super) struct Histograms {
    /// `bins[group * BINS + bin]`: counts since the last spill.
    bins: Vec<u32>,
    /// The counts spilled so far, as long as `bins` once anything spilled.
    totals: Vec<u64>,
    /// Values counted in `bins` since the last spill.
    unspilled: u64,
}

impl Histograms {
    /// Empty histograms of `groups` groups.
    pub(super) fn new(groups: usize) -> Self {
        Self {
            bins: vec![0; groups * BINS],
            totals: Vec::new(),
            unspilled: 0,
        }
    }

    /// Makes room for `groups` groups (new ones empty).
    pub(super) fn grow(&mut self, groups: usize) {
        if self.bins.len() < groups * BINS {
            self.bins.resize(groups * BINS, 0);
            if !self.totals.is_empty() {
                self.totals.resize(groups * BINS, 0);
            }
        }
    }

    /// Counts the values of `run` (its groups must fit).
    pub(super) fn add(&mut self, run: &Run<'_>) {
        let len = run.len() as u64;
        if self.unspilled + len > u64::from(u32::MAX) {
            self.spill();
        }
        self.unspilled += len;
        // A slice, not the vector: its start and length stay in registers.
        let bins = self.bins.as_mut_slice();
        run.for_each(|g, k| bins[g * BINS + (k >> (64 - BITS)) as usize] += 1);
    }

    /// Moves the 32-bit counts into the totals.
    fn spill(&mut self) {
        self.totals.resize(self.bins.len(), 0);
        for (total, bin) in self.totals.iter_mut().zip(&mut self.bins) {
            *total += u64::from(std::mem::take(bin));
        }
        self.unspilled = 0;
    }

    /// Adds the counts of `other` (of the same column, other values).
    pub(super) fn merge(&mut self, other: Histograms) {
        self.grow(other.bins.len() / BINS);
        self.spill();
        for (total, bin) in self.totals.iter_mut().zip(other.bins) {
            *total += u64::from(bin);
        }
        for (total, more) in self.totals.iter_mut().zip(other.totals) {
            *total += more;
        }
    }

    /// The search this first pass leaves for its column.
    pub(super) fn search(mut self, groups: usize) -> Search {
        self.spill();
        let mut search = Search {
            known: vec![Vec::new(); groups],
            pending: Vec::new(),
        };
        for (group, bins) in self.totals.chunks(BINS).enumerate().take(groups) {
            let ranks = middle_ranks(bins.iter().sum());
            search.narrow(group, 0, 64 - BITS, 0, &ranks, bins);
        }
        search
    }
}

/// What is known of one column's middle values, and the ranges the next
/// pass looks at.
pub(super) struct Search {
    /// `known[group]`: (rank, key) of the middle values found.
    known: Vec<Vec<(u64, u64)>>,
    pending: Vec<Range>,
}

/// A range of keys of one group that holds one or two middle values.
struct Range {
    group: usize,
    /// The range's lowest key; it spans `1 << (shift + BITS)` keys (when
    /// counted) or `1 << shift` (when kept).
    low: u64,
    shift: u32,
    /// Values of the group below `low`.
    below: u64,
    /// Values of the group in the range.
    count: u64,
    /// Ranks of the middle values in the range, ascending.
    ranks: Vec<u64>,
    /// Keep its values (few enough) instead of counting them.
    keep: bool,
}

impl Range {
    /// Bits of a key's offset from `low` that may be set for it to be inside.
    fn span(&self) -> u32 {
        if self.keep {
            self.shift
        } else {
            self.shift + BITS
        }
    }
}

impl Search {
    /// Whether every middle value is known.
    pub(super) fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The median of each group.
    pub(super) fn medians(&self) -> Vec<Option<f64>> {
        self.known
            .iter()
            .map(|found| {
                let mut found = found.clone();
                found.sort_unstable();
                median_of(&found.iter().map(|&(_, k)| k).collect::<Vec<_>>())
            })
            .collect()
    }

    /// Records the ranges of `bins` (a histogram of one group over
    /// `[low, ...)`, bins `1 << shift` keys wide) holding `ranks`: each
    /// known, or to be kept or narrowed by the next pass.
    fn narrow(
        &mut self,
        group: usize,
        low: u64,
        shift: u32,
        below: u64,
        ranks: &[u64],
        bins: &[u64],
    ) {
        let mut before = below;
        let mut ranks = ranks.iter().copied().peekable();
        for (bin, &count) in bins.iter().enumerate() {
            if ranks.peek().is_none() {
                break;
            }
            let mut inside = Vec::new();
            while let Some(&rank) = ranks.peek()
                && rank < before + count
            {
                inside.push(rank);
                ranks.next();
            }
            if !inside.is_empty() {
                let bin_low = low + ((bin as u64) << shift);
                if shift == 0 {
                    self.known[group].extend(inside.iter().map(|&rank| (rank, bin_low)));
                } else {
                    let keep = count <= COLLECT_LIMIT;
                    self.pending.push(Range {
                        group,
                        low: bin_low,
                        shift: if keep { shift } else { shift - BITS },
                        below: before,
                        count,
                        ranks: inside,
                        keep,
                    });
                }
            }
            before += count;
        }
    }

    /// The next pass over this column.
    pub(super) fn pass(&self) -> Pass<'_> {
        let mut of_group: Vec<Vec<usize>> = vec![Vec::new(); self.known.len()];
        let mut bounds = vec![(u64::MAX, 0); self.known.len()];
        for (i, range) in self.pending.iter().enumerate() {
            of_group[range.group].push(i);
            let (lowest, highest) = &mut bounds[range.group];
            *lowest = (*lowest).min(range.low);
            *highest = (*highest).max(range.low + ((1u64 << range.span()) - 1));
        }
        // (lowest, highest - lowest): one comparison tells whether a key is
        // inside (a group without ranges: only the NaN key, which no range takes).
        for (lowest, highest) in &mut bounds {
            *highest = highest.saturating_sub(*lowest);
        }
        Pass {
            search: self,
            of_group,
            bounds,
        }
    }

    /// Takes in what a pass found (`found`, one per pending range).
    pub(super) fn resolve(&mut self, found: Found) {
        let pending = std::mem::take(&mut self.pending);
        for (range, seen) in pending.into_iter().zip(found.0) {
            match seen {
                Seen::Kept(mut kept) => {
                    let first = (range.ranks[0] - range.below) as usize;
                    let (_, &mut lowest, above) = kept.select_nth_unstable(first);
                    let mut keys = vec![(range.ranks[0], lowest)];
                    // A second rank is the next one: the least value above.
                    if let Some(&second) = range.ranks.get(1) {
                        let next = above.iter().copied().min().unwrap_or(lowest);
                        keys.push((second, next));
                    }
                    self.known[range.group].extend(keys);
                }
                Seen::Counted(bins) => self.narrow(
                    range.group,
                    range.low,
                    range.shift,
                    range.below,
                    &range.ranks,
                    &bins,
                ),
            }
        }
    }
}

/// One pass over a column: which ranges each group's values may fall in.
pub(super) struct Pass<'a> {
    search: &'a Search,
    /// Indices of the pending ranges of each group.
    of_group: Vec<Vec<usize>>,
    /// The lowest key of each group's pending ranges and how far above it
    /// the highest is (most values are outside, and one test tells).
    bounds: Vec<(u64, u64)>,
}

/// What a pass saw of each pending range, in order.
pub(super) struct Found(Vec<Seen>);

enum Seen {
    Counted(Vec<u64>),
    Kept(Vec<u64>),
}

impl Pass<'_> {
    /// An empty accumulator for this pass. Room for all of a kept range's
    /// values is reserved (as address space: pages are only taken as they
    /// are written), so keeping them never copies them to grow.
    pub(super) fn found(&self) -> Found {
        Found(
            self.search
                .pending
                .iter()
                .map(|range| match range.keep {
                    true => Seen::Kept(Vec::with_capacity(range.count as usize)),
                    false => Seen::Counted(vec![0; BINS]),
                })
                .collect(),
        )
    }

    /// Ranges counted (not kept) by this pass.
    pub(super) fn counted_ranges(&self) -> usize {
        self.search.pending.iter().filter(|r| !r.keep).count()
    }

    /// Counts or keeps the values of `run` that fall in a pending range.
    pub(super) fn add(&self, found: &mut Found, run: &Run<'_>) {
        run.for_each(|g, k| {
            let (lowest, width) = self.bounds[g];
            // One unsigned comparison, no branch on which side a value
            // falls: random values are below or above at random.
            if k.wrapping_sub(lowest) <= width {
                self.add_inside(found, g, k);
            }
        });
    }

    /// Counts or keeps key `k` of group `g` if in one of its ranges (out
    /// of the loop over all values, which stays small).
    #[inline(never)]
    fn add_inside(&self, found: &mut Found, g: usize, k: u64) {
        for &i in &self.of_group[g] {
            let range = &self.search.pending[i];
            let offset = k.wrapping_sub(range.low);
            if offset >> range.span() == 0 {
                match &mut found.0[i] {
                    Seen::Counted(bins) => bins[(offset >> range.shift) as usize] += 1,
                    Seen::Kept(kept) => kept.push(k),
                }
            }
        }
    }
}

impl Found {
    /// What a pass over no pending range saw.
    pub(super) fn none() -> Found {
        Found(Vec::new())
    }

    /// Adds what `other` saw (of the same pass, other values).
    pub(super) fn merge(&mut self, other: Found) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            match (a, b) {
                (Seen::Counted(a), Seen::Counted(b)) => {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
                (Seen::Kept(a), Seen::Kept(mut b)) => a.append(&mut b),
                _ => unreachable!("accumulators of one pass have the same ranges"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_spilled_and_merged_are_the_counts_of_one_accumulator() {
        let rows = 5000;
        let values: Vec<f64> = (0..rows)
            .map(|i| ((i * 7919) % 1000) as f64 - 500.5)
            .collect();
        let ids: Vec<u16> = (0..rows).map(|i| (i % 3) as u16).collect();
        let array = PrimitiveArray::from_vec(values);
        let part = |h: &mut Histograms, start: usize, len: usize| {
            h.add(&Run::floats(
                &array,
                start,
                len,
                Some(&ids[start..start + len]),
            ));
        };
        let mut whole = Histograms::new(3);
        part(&mut whole, 0, rows);
        whole.spill();
        assert_eq!(whole.totals.iter().sum::<u64>(), rows as u64);

        // Spilled midway, then merged with one that grew and never spilled.
        let mut first = Histograms::new(3);
        part(&mut first, 0, 2000);
        first.spill();
        part(&mut first, 2000, 1000);
        let mut second = Histograms::new(1);
        second.grow(3);
        part(&mut second, 3000, rows - 3000);
        first.merge(second);
        first.spill();
        assert_eq!(first.totals, whole.totals);
    }
}
