//! The first pass's inner loop: a batch's values split into those below a
//! group's guessed range (counted) and those inside it (kept).
//!
//! Branch-free, since whether a value is inside is random and mispredicting
//! it cost more than everything else here; eight values at a time with
//! AVX-512 where the CPU has it (checked once per call), which takes the
//! loop from a few nanoseconds per value to a fraction of one. Both versions
//! compare the same way: NaN is neither below nor inside (so it counts as
//! above, as in polars' order), and `-0.0` equals `0.0`.

/// One group's guessed range, and where its kept values of a batch go.
pub(super) struct GroupSplit<'a> {
    pub(super) low: f64,
    pub(super) high: f64,
    /// How many of the batch's values are below `low`.
    pub(super) below: u64,
    /// Room for the group's values of the batch; the first `end` are kept.
    pub(super) out: &'a mut [f64],
    pub(super) end: usize,
}

impl<'a> GroupSplit<'a> {
    /// A group keeping its values in `low..=high` into `out`, none yet.
    pub(super) fn new(low: f64, high: f64, out: &'a mut [f64]) -> Self {
        Self {
            low,
            high,
            below: 0,
            out,
            end: 0,
        }
    }
}

/// Writes the values of `xs` in `low..=high` to the start of `out`, in order,
/// and returns how many are below `low` and how many were kept.
///
/// # Panics
/// If `out` is shorter than `xs`.
pub(super) fn split_inside(xs: &[f64], low: f64, high: f64, out: &mut [f64]) -> (u64, usize) {
    assert!(out.len() >= xs.len(), "room for every value");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { avx512::split_inside(xs, low, high, out) };
    }
    split_inside_scalar(xs, low, high, out)
}

/// [`split_inside`] for rows of several groups: `xs[i]` belongs to
/// `groups[codes[i]]`, whose `out` has room for all its rows of the batch.
///
/// # Panics
/// If `codes` and `xs` differ in length, a code names no group, or a group's
/// `out` is too short.
pub(super) fn split_grouped(xs: &[f64], codes: &[u32], groups: &mut [GroupSplit<'_>]) {
    assert_eq!(xs.len(), codes.len(), "a code per value");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        // SAFETY: the CPU has AVX-512F and VL.
        unsafe { avx512::split_grouped(xs, codes, groups) };
        return;
    }
    split_grouped_scalar(xs, codes, groups);
}

fn split_inside_scalar(xs: &[f64], low: f64, high: f64, out: &mut [f64]) -> (u64, usize) {
    let (mut below, mut end) = (0, 0);
    for &x in xs {
        below += u64::from(x < low);
        // Every value is written after the kept ones; the end moves past it
        // only if it is inside.
        out[end] = x;
        end += usize::from(low <= x) & usize::from(x <= high);
    }
    (below, end)
}

fn split_grouped_scalar(xs: &[f64], codes: &[u32], groups: &mut [GroupSplit<'_>]) {
    for (&x, &code) in xs.iter().zip(codes) {
        let group = &mut groups[code as usize];
        group.below += u64::from(x < group.low);
        group.out[group.end] = x;
        group.end += usize::from(group.low <= x) & usize::from(x <= group.high);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::GroupSplit;

    /// The first `n` (at most 8) lanes.
    fn first_lanes(n: u32) -> __mmask8 {
        ((1u16 << n) - 1) as __mmask8
    }

    /// Stores the lanes of `v` in `inside` at `out[end..]`, in order, and
    /// returns how many.
    ///
    /// # Safety
    /// `out` must have room for them after `end`.
    #[target_feature(enable = "avx512f")]
    unsafe fn store_inside(out: &mut [f64], end: usize, inside: __mmask8, v: __m512d) -> usize {
        let n = inside.count_ones();
        // SAFETY: the caller's promise; the mask stores only `n` lanes.
        unsafe {
            _mm512_mask_storeu_pd(
                out.as_mut_ptr().add(end),
                first_lanes(n),
                _mm512_maskz_compress_pd(inside, v),
            );
        }
        n as usize
    }

    /// [`super::split_inside`], eight values at a time: the inside ones are
    /// compressed to the front of a register and stored.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, and `out` room for `xs.len()` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn split_inside(
        xs: &[f64],
        low: f64,
        high: f64,
        out: &mut [f64],
    ) -> (u64, usize) {
        let (lo, hi) = (_mm512_set1_pd(low), _mm512_set1_pd(high));
        let (mut below, mut end) = (0u64, 0usize);
        let mut chunks = xs.chunks_exact(8);
        for chunk in &mut chunks {
            // SAFETY: `chunk` holds 8 values.
            let v = unsafe { _mm512_loadu_pd(chunk.as_ptr()) };
            below += u64::from(_mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, lo).count_ones());
            let inside =
                _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, lo) & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(v, hi);
            // SAFETY: at most the values seen so far are kept: within `out`.
            end += unsafe { store_inside(out, end, inside, v) };
        }
        let (rest_below, rest_kept) =
            super::split_inside_scalar(chunks.remainder(), low, high, &mut out[end..]);
        (below + rest_below, end + rest_kept)
    }

    /// [`super::split_grouped`], eight values at a time, each group taking
    /// the lanes whose code is its own.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and VL, and `codes` be as long as `xs`.
    #[target_feature(enable = "avx512f,avx512vl")]
    pub(super) unsafe fn split_grouped(xs: &[f64], codes: &[u32], groups: &mut [GroupSplit<'_>]) {
        let whole = xs.len() / 8 * 8;
        // Each group's code and range, in registers for the loop.
        let lanes: Vec<(__m256i, __m512d, __m512d)> = groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                (
                    _mm256_set1_epi32(g as i32),
                    _mm512_set1_pd(group.low),
                    _mm512_set1_pd(group.high),
                )
            })
            .collect();
        for start in (0..whole).step_by(8) {
            // SAFETY: `start + 8 <= whole <= xs.len() == codes.len()`.
            let (v, c) = unsafe {
                (
                    _mm512_loadu_pd(xs.as_ptr().add(start)),
                    _mm256_loadu_si256(codes.as_ptr().add(start).cast()),
                )
            };
            let mut seen: __mmask8 = 0;
            for (group, (code, lo, hi)) in groups.iter_mut().zip(&lanes) {
                let mine = _mm256_cmpeq_epi32_mask(c, *code);
                seen |= mine;
                let below = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, *lo) & mine;
                group.below += u64::from(below.count_ones());
                let inside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, *lo)
                    & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(v, *hi)
                    & mine;
                assert!(
                    group.end + inside.count_ones() as usize <= group.out.len(),
                    "room for the group's rows"
                );
                // SAFETY: checked just above.
                group.end += unsafe { store_inside(group.out, group.end, inside, v) };
            }
            assert_eq!(seen, 0xff, "every code names a group");
        }
        super::split_grouped_scalar(&xs[whole..], &codes[whole..], groups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with the awkward cases (NaN, infinities, signed zeros, the range
    /// ends) mixed into plain ones, deterministically.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut next = crate::test_rng::xorshift(seed | 1);
        (0..n)
            .map(|_| {
                let state = next();
                match state % 16 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    3 => -0.0,
                    4 => 0.0,
                    5 => -1.0,
                    6 => 1.0,
                    _ => (state >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0,
                }
            })
            .collect()
    }

    #[test]
    fn every_length_splits_as_the_scalar_loop_does() {
        for n in (0..40).chain([1000, 1003]) {
            let xs = values(n, n as u64 + 7);
            for (low, high) in [(-1.0, 1.0), (0.0, 0.0), (-0.0, 0.5), (2.0, -2.0)] {
                let mut expected = vec![0.0; n];
                let (below, kept) = split_inside_scalar(&xs, low, high, &mut expected);
                let mut out = vec![0.0; n];
                assert_eq!(
                    split_inside(&xs, low, high, &mut out),
                    (below, kept),
                    "{n} {low} {high}"
                );
                assert_eq!(
                    out[..kept].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    expected[..kept]
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<_>>()
                );
                let by_hand_below = xs.iter().filter(|&&x| x < low).count() as u64;
                let by_hand: Vec<u64> = xs
                    .iter()
                    .filter(|&&x| low <= x && x <= high)
                    .map(|x| x.to_bits())
                    .collect();
                assert_eq!(below, by_hand_below);
                assert_eq!(
                    expected[..kept]
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<_>>(),
                    by_hand
                );
            }
        }
    }

    #[test]
    fn groups_split_as_the_scalar_loop_does() {
        for (n, groups) in [(0, 1), (7, 2), (64, 2), (1001, 3), (4096, 2)] {
            let xs = values(n, 99 + n as u64);
            let codes: Vec<u32> = values(n, 5)
                .iter()
                .map(|x| (x.to_bits() % groups as u64) as u32)
                .collect();
            let ranges = [(-1.0, 1.0), (0.0, f64::INFINITY), (-0.5, -0.0)];
            let run = |simd: bool| -> Vec<(u64, Vec<u64>)> {
                let mut rooms: Vec<Vec<f64>> = (0..groups)
                    .map(|g| vec![0.0; codes.iter().filter(|&&c| c as usize == g).count()])
                    .collect();
                let mut splits: Vec<GroupSplit<'_>> = rooms
                    .iter_mut()
                    .zip(ranges)
                    .map(|(out, (low, high))| GroupSplit::new(low, high, out))
                    .collect();
                if simd {
                    split_grouped(&xs, &codes, &mut splits);
                } else {
                    split_grouped_scalar(&xs, &codes, &mut splits);
                }
                splits
                    .iter()
                    .map(|s| {
                        (
                            s.below,
                            s.out[..s.end].iter().map(|x| x.to_bits()).collect(),
                        )
                    })
                    .collect()
            };
            let expected = run(false);
            assert_eq!(run(true), expected, "{n} rows, {groups} groups");
            for (g, (below, kept)) in expected.iter().enumerate() {
                let (low, high) = ranges[g];
                let mine = || {
                    xs.iter()
                        .zip(&codes)
                        .filter(|&(_, &c)| c as usize == g)
                        .map(|(x, _)| *x)
                };
                assert_eq!(*below, mine().filter(|&x| x < low).count() as u64);
                assert_eq!(
                    *kept,
                    mine()
                        .filter(|&x| low <= x && x <= high)
                        .map(f64::to_bits)
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}
