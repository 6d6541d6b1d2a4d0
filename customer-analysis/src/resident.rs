//! Steps 3 and 4 of a segmented view whose scored frame is decoded in memory
//! ([`pipeline_core::frame::memory`]).
//!
//! Streaming a view's scored file means decoding its Parquet pages again in
//! every task that reads it (~0.12 s for 10M rows on two cores) and running
//! polars' streaming engine for a few arithmetic columns per batch. When the
//! decoded frame is at hand, these functions walk it in batches of at most
//! [`BATCH_ROWS`] rows (slices of its chunks, no copy):
//!
//! - when its four columns have no nulls and Task 1's types (the usual
//!   case), each batch's values are read as plain slices, the derived values
//!   (segment, `HighSpender`, `AverageTimeBetweenPurchases`) computed into
//!   buffers reused from batch to batch, and folded or searched at once
//!   ([`median::medians_of_slices`]), on two threads that each read every
//!   batch and take half of the measures; the loops are compiled a second
//!   time for AVX-512 ([`crate::wide!`]);
//! - otherwise each batch's columns are built with polars' own kernels and
//!   fed to the same searches and folds as the streaming path.
//!
//! Either way the frame is the streaming path's (the tests compare them with
//! polars' own group-by).

use polars::prelude::*;

use crate::median::{self, Fold, GroupedMedians, SliceBatch};
use crate::segment_scan;
use crate::transform::{self, Metric, SummaryStatistic};

/// Rows per batch: a batch's columns stay in the CPU's caches while they are
/// computed and consumed.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Step 3 (`segment_analysis`) of the view over `scored` with these
/// thresholds: the frame of [`segment_scan::segment_analysis_folded`] (or
/// [`transform::segment_medians_by_rule`] for the median) over its file.
pub fn segment_analysis(
    scored: &DataFrame,
    payment_threshold: f64,
    score_threshold: f64,
    metric: Metric,
) -> PolarsResult<DataFrame> {
    let scored = &*aligned(scored);
    if metric == Metric::Median {
        if let Some(plain) = PlainColumns::of(scored) {
            return plain.segment_medians(payment_threshold, score_threshold);
        }
        return transform::segment_medians_by_rule_of_batches(|add| {
            for_each_batch(scored, |batch| {
                let [score, amount, purchases, time] = float_columns(batch)?;
                let average = (&time / &purchases)?.with_name(transform::AVG_TIME.into());
                let high_spender = above(&amount, payment_threshold)?
                    .cast(&DataType::Int64)?
                    .with_name(transform::HIGH_SPENDER.into());
                let high_value =
                    above(&score, score_threshold)?.with_name(transform::SEGMENT_RULE.into());
                add(&DataFrame::new_infer_height(vec![
                    score,
                    amount,
                    purchases,
                    time,
                    average,
                    high_spender,
                    high_value,
                ])?)
            })
        });
    }
    if let Some(plain) = PlainColumns::of(scored) {
        let extremes = matches!(metric, Metric::Min | Metric::Max);
        let segments = plain.segment_folds(payment_threshold, score_threshold, extremes)?;
        return segment_scan::segment_rows(&segments, metric);
    }
    segment_scan::segment_analysis_folded_of_batches(
        |add| {
            for_each_batch(scored, |batch| {
                add(&DataFrame::new_infer_height(
                    float_columns(batch)?.to_vec(),
                )?)
            })
        },
        payment_threshold,
        score_threshold,
        metric,
    )
}

/// Step 4 (`high_value_cust_summary_statistics`) of the view over `scored`
/// whose segments are split at `score_threshold`: the frame of
/// [`transform::high_value_summary_executed`] over its High Value rows.
pub fn high_value_summary(
    scored: &DataFrame,
    score_threshold: f64,
    segment_result: LazyFrame,
    stat: SummaryStatistic,
) -> PolarsResult<DataFrame> {
    let scored = &*aligned(scored);
    if let Some(plain) = PlainColumns::of(scored) {
        let found = plain.high_value_medians(score_threshold, stat)?;
        return transform::high_value_summary_of(&found, segment_result, stat);
    }
    let (columns, also) = transform::high_value_medians(stat);
    let found = median::grouped_medians_of_batches(
        |add| {
            for_each_batch(scored, |batch| {
                let [score, amount, ..] = float_columns(batch)?;
                let high_value = above(&score, score_threshold)?;
                let high_value = high_value.bool()?;
                add(&DataFrame::new_infer_height(vec![
                    score.filter(high_value)?,
                    amount.filter(high_value)?,
                ])?)
            })
        },
        None,
        columns,
        also,
    )?;
    transform::high_value_summary_of(&found, segment_result, stat)
}

/// A batch's `CUSTOMER_SCORE`, `TotalPurchaseAmount`, `NumberOfPurchases`
/// and `TotalPurchaseTime`, as `Float64`.
fn float_columns(batch: &DataFrame) -> PolarsResult<[Column; 4]> {
    let float = |name: &str| batch.column(name)?.cast(&DataType::Float64);
    Ok([
        float(transform::SCORE)?,
        float(transform::AMOUNT)?,
        float(transform::PURCHASES)?,
        float(transform::TIME)?,
    ])
}

/// `values > threshold`, a null value false: what the view's expressions
/// give ([`transform::feature_columns`], [`transform::scores_high_value`]).
fn above(values: &Column, threshold: f64) -> PolarsResult<Column> {
    let flags = values.f64()?.gt(threshold);
    Ok(Column::from(
        flags.fill_null_with_values(false)?.into_series(),
    ))
}

/// `frame` with its columns chunked alike: itself, or a copy with its chunks
/// aligned ([`DataFrame::align_chunks_par`]).
fn aligned(frame: &DataFrame) -> std::borrow::Cow<'_, DataFrame> {
    if frame.should_rechunk() {
        let mut copy = frame.clone();
        copy.align_chunks_par();
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(frame)
    }
}

/// Calls `f` with each batch of `frame` (chunked alike, see [`aligned`]), in
/// order: its chunks, cut into slices of at most [`BATCH_ROWS`] rows. A
/// batch is then one chunk per column, which reads as plain slices.
fn for_each_batch(
    frame: &DataFrame,
    mut f: impl FnMut(&DataFrame) -> PolarsResult<()>,
) -> PolarsResult<()> {
    debug_assert!(!frame.should_rechunk(), "aligned chunks");
    let Some(first) = frame.columns().first() else {
        return Ok(());
    };
    let mut offset = 0;
    for chunk in first.as_materialized_series().chunk_lengths() {
        let mut start = 0;
        while start < chunk {
            let batch = frame.slice((offset + start) as i64, BATCH_ROWS.min(chunk - start));
            start += batch.height();
            f(&batch)?;
        }
        offset += chunk;
    }
    Ok(())
}

/// A scored frame whose four columns have no nulls and the types Task 1
/// writes (`NumberOfPurchases` `Int64`, the others `Float64`): its batches
/// read as plain slices, and each batch's derived values (the segment,
/// `HighSpender`, `AverageTimeBetweenPurchases`) go into buffers reused
/// from batch to batch.
struct PlainColumns<'a> {
    frame: &'a DataFrame,
}

/// One batch's four scored columns as slices.
struct PlainBatch<'a> {
    score: &'a [f64],
    amount: &'a [f64],
    purchases: &'a [i64],
    time: &'a [f64],
}

impl<'a> PlainColumns<'a> {
    fn of(frame: &'a DataFrame) -> Option<Self> {
        let plain = |name: &str, dtype: DataType| {
            frame
                .column(name)
                .is_ok_and(|c| c.dtype() == &dtype && c.null_count() == 0)
        };
        let all = plain(transform::SCORE, DataType::Float64)
            && plain(transform::AMOUNT, DataType::Float64)
            && plain(transform::PURCHASES, DataType::Int64)
            && plain(transform::TIME, DataType::Float64);
        all.then_some(Self { frame })
    }

    /// Calls `f` with each batch of [`for_each_batch`] as slices.
    fn for_each(&self, mut f: impl FnMut(PlainBatch<'_>)) -> PolarsResult<()> {
        for_each_batch(self.frame, |batch| {
            // A slice of one chunk is one chunk, unless polars kept an empty
            // chunk beside it: then copy the batch into one.
            let single;
            let batch = if batch.first_col_n_chunks() > 1 {
                let mut copy = batch.clone();
                copy.rechunk_mut();
                single = copy;
                &single
            } else {
                batch
            };
            let floats =
                |name: &str| -> PolarsResult<&[f64]> { batch.column(name)?.f64()?.cont_slice() };
            f(PlainBatch {
                score: floats(transform::SCORE)?,
                amount: floats(transform::AMOUNT)?,
                purchases: batch.column(transform::PURCHASES)?.i64()?.cont_slice()?,
                time: floats(transform::TIME)?,
            });
            Ok(())
        })
    }

    /// Step 3 with the median: per segment (`CUSTOMER_SCORE >
    /// score_threshold`), the medians of the five measures and the number of
    /// high spenders, as [`transform::segment_medians_by_rule`] gives them.
    ///
    /// Two threads, each reading every batch: one searches the score,
    /// amount and time; the other converts the purchases to floats, divides
    /// the time by them, searches both and counts the segments' rows and high
    /// spenders (the two threads then take about as long). Neither waits for
    /// the other until the end.
    fn segment_medians(
        &self,
        payment_threshold: f64,
        score_threshold: f64,
    ) -> PolarsResult<DataFrame> {
        let (read, derived) = std::thread::scope(|scope| {
            let derived = scope.spawn(|| self.derived_medians(payment_threshold, score_threshold));
            let read = self.read_medians(score_threshold);
            let derived = derived
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, derived)
        });
        let (
            derived,
            SegmentCounts {
                rows,
                high_spenders,
            },
        ) = derived?;
        let [purchases, average] = <[_; 2]>::try_from(derived).expect("two medians");
        let [score, amount, time] = <[_; 3]>::try_from(read?).expect("three medians");
        let medians = [score, amount, purchases, time, average];
        // Only the segments that have rows, as a group-by gives them.
        let present: Vec<usize> = (0..2).filter(|&g| rows[g] > 0).collect();
        let labels: Vec<Option<String>> = present
            .iter()
            .map(|&g| Some([transform::LOW_VALUE, transform::HIGH_VALUE][g].to_owned()))
            .collect();
        let measures: Vec<Vec<Option<f64>>> = medians
            .iter()
            .map(|column| present.iter().map(|&g| column[g]).collect())
            .collect();
        let high_spenders: Vec<i64> = present.iter().map(|&g| high_spenders[g]).collect();
        transform::segment_rows(&labels, &measures, &high_spenders)
    }

    /// Step 3 with a mean, minimum, maximum or sum: per segment, its rows,
    /// high spenders and the fold of each measure (sums, or with `extremes`
    /// minima, maxima and NaN counts), as
    /// [`segment_scan::segment_analysis_folded`] finds them. Two threads as
    /// for the medians ([`Self::segment_medians`]).
    fn segment_folds(
        &self,
        payment_threshold: f64,
        score_threshold: f64,
        extremes: bool,
    ) -> PolarsResult<segment_scan::Segments> {
        let (read, derived) = std::thread::scope(|scope| {
            let derived = scope.spawn(|| {
                let mut folds = [[Fold::default(); 2]; 2];
                let (mut purchases, mut average, mut codes) = (Vec::new(), Vec::new(), Vec::new());
                self.for_each(|batch| {
                    codes_above(batch.score, score_threshold, &mut codes);
                    purchases_and_average(&batch, &mut purchases, &mut average);
                    add_by_segment(&purchases, &codes, &mut folds[0], extremes);
                    add_by_segment(&average, &codes, &mut folds[1], extremes);
                })
                .map(|()| folds)
            });
            let mut folds = [[Fold::default(); 2]; 3];
            let mut counts = SegmentCounts::default();
            let mut codes = Vec::new();
            let read = self
                .for_each(|batch| {
                    codes_above(batch.score, score_threshold, &mut codes);
                    counts.add(&codes, batch.amount, payment_threshold);
                    add_by_segment(batch.score, &codes, &mut folds[0], extremes);
                    add_by_segment(batch.amount, &codes, &mut folds[1], extremes);
                    add_by_segment(batch.time, &codes, &mut folds[2], extremes);
                })
                .map(|()| (folds, counts));
            let derived = derived
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, derived)
        });
        let ([score, amount, time], counts) = read?;
        let [purchases, average] = derived?;
        let measures = [score, amount, purchases, time, average];
        Ok(std::array::from_fn(|segment| segment_scan::SegmentFolds {
            rows: counts.rows[segment],
            measures: std::array::from_fn(|m| measures[m][segment]),
            high_spenders: counts.high_spenders[segment],
        }))
    }

    /// Per segment, the medians of the score, amount and time.
    fn read_medians(&self, score_threshold: f64) -> PolarsResult<Vec<Vec<Option<f64>>>> {
        let mut codes = Vec::new();
        median::medians_of_slices(2, 3, |add| {
            self.for_each(|batch| {
                codes_above(batch.score, score_threshold, &mut codes);
                add(SliceBatch {
                    columns: &[batch.score, batch.amount, batch.time],
                    codes: &codes,
                });
            })
        })
    }

    /// Per segment, the medians of the purchases (as floats) and of the
    /// average time between purchases, and the rows and high spenders.
    fn derived_medians(
        &self,
        payment_threshold: f64,
        score_threshold: f64,
    ) -> PolarsResult<(Vec<Vec<Option<f64>>>, SegmentCounts)> {
        let mut counts = SegmentCounts::default();
        let mut first_pass = true;
        let (mut purchases, mut average, mut codes) = (Vec::new(), Vec::new(), Vec::new());
        let medians = median::medians_of_slices(2, 2, |add| {
            self.for_each(|batch| {
                codes_above(batch.score, score_threshold, &mut codes);
                if first_pass {
                    counts.add(&codes, batch.amount, payment_threshold);
                }
                purchases_and_average(&batch, &mut purchases, &mut average);
                add(SliceBatch {
                    columns: &[&purchases, &average],
                    codes: &codes,
                });
            })?;
            first_pass = false;
            Ok(())
        })?;
        Ok((medians, counts))
    }

    /// What step 4 needs ([`transform::high_value_medians`]) over the rows
    /// with `CUSTOMER_SCORE > score_threshold`: the median of their scores,
    /// and the median or the fold of their amounts, on two threads.
    fn high_value_medians(
        &self,
        score_threshold: f64,
        stat: SummaryStatistic,
    ) -> PolarsResult<GroupedMedians> {
        let (score, amount) = std::thread::scope(|scope| {
            let amount = scope.spawn(|| {
                if stat == SummaryStatistic::Median {
                    self.high_value_median(score_threshold, transform::AMOUNT)
                        .map(Ok)
                } else {
                    self.high_value_fold(score_threshold).map(Err)
                }
            });
            let score = self.high_value_median(score_threshold, transform::SCORE);
            let amount = amount
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (score, amount)
        });
        let score = score?;
        // The shape of `grouped_medians` for `transform::high_value_medians`.
        Ok(match amount? {
            Ok(amount) => GroupedMedians {
                labels: vec![None],
                medians: vec![vec![amount], vec![score]],
                sums: Vec::new(),
                folds: Vec::new(),
            },
            Err(fold) => GroupedMedians {
                labels: vec![None],
                medians: vec![vec![score]],
                sums: Vec::new(),
                folds: vec![vec![fold]],
            },
        })
    }

    /// The median of the column `name` (the score or the amount) over the
    /// rows with `CUSTOMER_SCORE > score_threshold`, gathered batch by batch
    /// into a buffer.
    fn high_value_median(&self, score_threshold: f64, name: &str) -> PolarsResult<Option<f64>> {
        let (mut kept, mut codes) = (Vec::new(), Vec::new());
        let medians = median::medians_of_slices(1, 1, |add| {
            self.for_each(|batch| {
                let values = if name == transform::SCORE {
                    batch.score
                } else {
                    batch.amount
                };
                let n = gather_above(batch.score, score_threshold, values, &mut codes, &mut kept);
                add(SliceBatch {
                    columns: &[&kept[..n]],
                    codes: &[],
                });
            })
        })?;
        Ok(medians[0][0])
    }

    /// The fold of the amounts of the rows with `CUSTOMER_SCORE >
    /// score_threshold`.
    fn high_value_fold(&self, score_threshold: f64) -> PolarsResult<Fold> {
        let (mut kept, mut codes) = (Vec::new(), Vec::new());
        let mut fold = Fold::default();
        self.for_each(|batch| {
            let n = gather_above(
                batch.score,
                score_threshold,
                batch.amount,
                &mut codes,
                &mut kept,
            );
            fold.add_all(&kept[..n]);
        })?;
        Ok(fold)
    }
}

crate::wide! {
    /// Gathers into `kept` the `values` of the rows whose `score > threshold`
    /// ([`codes_above`], into `codes`), in order; returns how many.
    fn gather_above(
        score: &[f64],
        threshold: f64,
        values: &[f64],
        codes: &mut Vec<u32>,
        kept: &mut Vec<f64>,
    ) -> usize {
        kept.resize(score.len(), 0.0);
        codes_above(score, threshold, codes);
        // Branch-free: every value is written, and the next one over it
        // unless its row is kept.
        let mut n = 0;
        for (&value, &code) in values.iter().zip(codes.iter()) {
            kept[n] = value;
            n += code as usize;
        }
        n
    }
}

/// Per segment (Low Value, High Value): its rows and high spenders.
#[derive(Debug, Default)]
struct SegmentCounts {
    rows: [u64; 2],
    high_spenders: [i64; 2],
}

impl SegmentCounts {
    /// Adds a batch whose rows are in segments `codes`.
    fn add(&mut self, codes: &[u32], amount: &[f64], payment_threshold: f64) {
        let high: u64 = codes.iter().map(|&c| u64::from(c)).sum();
        let (mut spenders, mut high_spenders) = (0i64, 0i64);
        let nan_is_above = !payment_threshold.is_nan();
        for (&amount, &code) in amount.iter().zip(codes) {
            let spender =
                i64::from((amount > payment_threshold) | (nan_is_above & amount.is_nan()));
            spenders += spender;
            high_spenders += spender & i64::from(code);
        }
        self.rows[1] += high;
        self.rows[0] += codes.len() as u64 - high;
        self.high_spenders[1] += high_spenders;
        self.high_spenders[0] += spenders - high_spenders;
    }
}

crate::wide! {
    /// `codes[i] = 1` if `values[i] > threshold` as polars compares floats (NaN
    /// above every number), else 0, for every `i` of `values`.
    fn codes_above(values: &[f64], threshold: f64, codes: &mut Vec<u32>) {
        codes.resize(values.len(), 0);
        // Branch-free and vectorized: NaN's place is decided once, not per value.
        let nan_is_above = !threshold.is_nan();
        for (code, &x) in codes.iter_mut().zip(values) {
            *code = u32::from((x > threshold) | (nan_is_above & x.is_nan()));
        }
    }
}

crate::wide! {
    /// A batch's purchases as floats and its average time between purchases,
    /// into `purchases` and `average`, as polars casts and divides (`i64 as
    /// f64`, then IEEE division).
    fn purchases_and_average(batch: &PlainBatch<'_>, purchases: &mut Vec<f64>, average: &mut Vec<f64>) {
        let n = batch.purchases.len();
        purchases.resize(n, 0.0);
        average.resize(n, 0.0);
        for (to, &from) in purchases.iter_mut().zip(batch.purchases) {
            *to = from as f64;
        }
        for ((to, &time), &bought) in average.iter_mut().zip(batch.time).zip(purchases.iter()) {
            *to = time / bought;
        }
    }
}

crate::wide! {
    /// Adds `xs` to the folds of their segments (`codes`: 0 Low Value, 1 High
    /// Value): their sums, or with `extremes` their minimum, maximum and NaN
    /// count instead (what the metric reads, see [`segment_scan`]). Eight
    /// independent lanes per segment, each value added to both segments' lanes
    /// (as nothing to the other's), so no row waits for the previous one and
    /// the loop vectorizes.
    fn add_by_segment(xs: &[f64], codes: &[u32], folds: &mut [Fold; 2], extremes: bool) {
        const LANES: usize = 8;
        let high = codes.iter().map(|&c| u64::from(c)).sum::<u64>();
        let counts = [xs.len() as u64 - high, high];
        let values = xs.chunks_exact(LANES);
        let segments = codes.chunks_exact(LANES);
        let rest = values.remainder().iter().zip(segments.remainder());
        if !extremes {
            let mut sums = [[0.0f64; LANES]; 2];
            for (chunk, chunk_codes) in values.zip(segments) {
                for lane in 0..LANES {
                    let (x, is_high) = (chunk[lane], chunk_codes[lane] != 0);
                    sums[0][lane] += if is_high { 0.0 } else { x };
                    sums[1][lane] += if is_high { x } else { 0.0 };
                }
            }
            for (&x, &code) in rest {
                sums[usize::from(code != 0)][0] += x;
            }
            for (segment, fold) in folds.iter_mut().enumerate() {
                let sum = sums[segment].iter().sum();
                fold.add_slice_fold(counts[segment], 0, sum, f64::INFINITY, f64::NEG_INFINITY);
            }
            return;
        }
        let mut min = [[f64::INFINITY; LANES]; 2];
        let mut max = [[f64::NEG_INFINITY; LANES]; 2];
        let mut not_nan = [[0u64; LANES]; 2];
        for (chunk, chunk_codes) in values.zip(segments) {
            for lane in 0..LANES {
                let (x, is_high) = (chunk[lane], chunk_codes[lane] != 0);
                // NaN compares false: it never becomes an extreme.
                let (low_x, high_x) = if is_high {
                    (f64::NAN, x)
                } else {
                    (x, f64::NAN)
                };
                min[0][lane] = if low_x < min[0][lane] { low_x } else { min[0][lane] };
                max[0][lane] = if low_x > max[0][lane] { low_x } else { max[0][lane] };
                min[1][lane] = if high_x < min[1][lane] { high_x } else { min[1][lane] };
                max[1][lane] = if high_x > max[1][lane] { high_x } else { max[1][lane] };
                not_nan[0][lane] += u64::from(!low_x.is_nan());
                not_nan[1][lane] += u64::from(!high_x.is_nan());
            }
        }
        for (&x, &code) in rest {
            let segment = usize::from(code != 0);
            min[segment][0] = if x < min[segment][0] { x } else { min[segment][0] };
            max[segment][0] = if x > max[segment][0] { x } else { max[segment][0] };
            not_nan[segment][0] += u64::from(!x.is_nan());
        }
        for (segment, fold) in folds.iter_mut().enumerate() {
            let min = min[segment].iter().copied().fold(f64::INFINITY, f64::min);
            let max = max[segment].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let nans = counts[segment] - not_nan[segment].iter().sum::<u64>();
            fold.add_slice_fold(counts[segment], nans, 0.0, min, max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment_scan::tests::assert_close;

    /// A scored frame of `n` rows in chunks of uneven sizes (the first of
    /// one row with `tiny_first_chunk`), the columns chunked alike unless
    /// `misaligned`. Scores spread around 1.5, amounts
    /// around 1000, some purchases 0 (an infinite or NaN average); with
    /// `odd`, NaN and infinities here and there.
    fn scored(n: usize, odd: bool, misaligned: bool, tiny_first_chunk: bool) -> DataFrame {
        let mut next = crate::test_rng::unit(0x9e37_79b9_7f4a_7c15);
        let mut rows: Vec<(f64, f64, i64, f64)> = (0..n)
            .map(|_| {
                let score = 3.0 * next();
                let amount = (2000.0 * next() * 100.0).round() / 100.0;
                let purchases = (next() * 20.0) as i64;
                let time = (500.0 * next()).round();
                (score, amount, purchases, time)
            })
            .collect();
        if odd {
            for (i, row) in rows.iter_mut().enumerate() {
                // Infinite amounts and a NaN time among Low Value rows only
                // (the High Value sums stay finite, so a Low Value value
                // leaking into them shows).
                match i % 997 {
                    3 => row.0 = f64::NAN,
                    5 => (row.0, row.1) = (0.1, f64::INFINITY),
                    7 => (row.0, row.3) = (0.3, f64::NAN),
                    11 => (row.0, row.1) = (0.2, f64::NEG_INFINITY),
                    13 => row.0 = f64::INFINITY,
                    _ => {}
                }
            }
        }
        let column = |name: &str, cuts: &[usize], values: Series| -> Column {
            let mut pieces = Vec::new();
            let mut start = 0;
            for &cut in cuts.iter().chain([&n]) {
                let cut = cut.min(n);
                if cut > start {
                    pieces.push(values.slice(start as i64, cut - start));
                    start = cut;
                }
            }
            let mut whole = pieces.remove(0);
            for piece in &pieces {
                whole.append(piece).unwrap();
            }
            whole.with_name(name.into()).into_column()
        };
        // A first chunk of one row leaves the medians no sample to guess
        // from (they count histograms instead); else the first batch guesses.
        let cuts: Vec<usize> = if tiny_first_chunk {
            vec![1, 70_000, 70_001, 150_000]
        } else {
            vec![50_000, 70_000, 70_001, 150_000]
        };
        let other_cuts: &[usize] = if misaligned {
            &[40_000, 100_000]
        } else {
            &cuts
        };
        let df = DataFrame::new_infer_height(vec![
            column(
                transform::SCORE,
                &cuts,
                Series::new("".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            ),
            column(
                transform::AMOUNT,
                other_cuts,
                Series::new("".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            ),
            column(
                transform::PURCHASES,
                &cuts,
                Series::new("".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            ),
            column(
                transform::TIME,
                &cuts,
                Series::new("".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
            ),
        ])
        .unwrap();
        assert_eq!(df.should_rechunk(), misaligned && n > 40_000);
        df
    }

    /// Step 3 and step 4 from memory against polars' own group-by over the
    /// `ValueSegment` strings, for every metric and statistic.
    fn check(scored: &DataFrame, payment_threshold: f64, score_threshold: f64, what: &str) {
        let segmented = transform::featurization_and_segmentation(
            scored.clone().lazy(),
            payment_threshold,
            score_threshold,
        );
        // polars alone: its group-by and its median, over the strings.
        for metric in Metric::ALL {
            let ours =
                segment_analysis(scored, payment_threshold, score_threshold, metric).unwrap();
            let polars = transform::segment_analysis(segmented.clone(), metric)
                .collect()
                .unwrap();
            assert_close(&ours, &polars, &format!("{what} {metric}"));
        }
        let segments = transform::segment_analysis(segmented.clone(), Metric::Mean)
            .collect()
            .unwrap()
            .lazy();
        for stat in [
            SummaryStatistic::Median,
            SummaryStatistic::Mean,
            SummaryStatistic::Max,
            SummaryStatistic::Min,
        ] {
            let ours = high_value_summary(scored, score_threshold, segments.clone(), stat).unwrap();
            let polars = transform::high_value_cust_summary_statistics(
                segmented.clone(),
                segments.clone(),
                stat,
            )
            .collect()
            .unwrap();
            assert_close(&ours, &polars, &format!("{what} {stat}"));
        }
    }

    #[test]
    fn steps_3_and_4_from_memory_equal_polars_group_by() {
        let plain = scored(200_000, false, false, false);
        assert!(PlainColumns::of(&plain).is_some());
        // The loops' AVX-512 copies where the CPU has them, then the baseline
        // copies (see `crate::wide`).
        for baseline_only in [false, true] {
            crate::wide::set_baseline_only(baseline_only);
            let what = |case: &str| format!("{case} (baseline copies only: {baseline_only})");
            check(&plain, 1000.0, 1.5, &what("plain"));
            check(
                &scored(200_000, true, false, false),
                1000.0,
                1.5,
                &what("NaN and infinities"),
            );
            check(
                &scored(3_000, true, false, false),
                1000.0,
                1.5,
                &what("one small batch"),
            );
        }
        crate::wide::set_baseline_only(false);
        check(
            &scored(200_000, false, true, false),
            500.0,
            2.0,
            "misaligned chunks",
        );
        check(
            &scored(200_000, true, false, true),
            1000.0,
            1.5,
            "no sample to guess from",
        );
    }

    #[test]
    fn a_segment_whose_values_are_all_nan_has_nan_extremes() {
        // Enough rows for the eight-lane loops, not only their remainder.
        let repeat = |row: [f64; 4]| -> Vec<f64> { row.repeat(5) };
        let frame = df!(
            transform::SCORE => repeat([0.5, 2.0, 2.5, 0.7]),
            transform::AMOUNT => repeat([10.0, f64::NAN, f64::NAN, 20.0]),
            transform::PURCHASES => (1..=20).collect::<Vec<i64>>(),
            transform::TIME => repeat([f64::NAN, 5.0, 6.0, f64::NAN]),
        )
        .unwrap();
        assert!(PlainColumns::of(&frame).is_some());
        check(&frame, 1000.0, 1.5, "all NaN in a segment");
    }

    #[test]
    fn one_segment_or_no_rows_give_polars_rows() {
        let frame = scored(50_000, false, false, false);
        // Every score is below 3: one segment, and no High Value rows.
        check(&frame, 1000.0, 3.0, "Low Value only");
        check(&frame, 1000.0, -1.0, "High Value only");
        check(&frame.head(Some(0)), 1000.0, 1.5, "no rows");
    }

    #[test]
    fn null_cells_take_the_general_path_and_agree() {
        let frame = scored(100_000, true, false, false);
        let with_nulls = frame
            .lazy()
            .with_columns([
                when(col(transform::PURCHASES).eq(lit(3)))
                    .then(lit(NULL))
                    .otherwise(col(transform::SCORE))
                    .alias(transform::SCORE),
                when(col(transform::PURCHASES).eq(lit(4)))
                    .then(lit(NULL))
                    .otherwise(col(transform::AMOUNT))
                    .alias(transform::AMOUNT),
                when(col(transform::PURCHASES).eq(lit(5)))
                    .then(lit(NULL))
                    .otherwise(col(transform::TIME))
                    .alias(transform::TIME),
            ])
            .collect()
            .unwrap();
        assert!(PlainColumns::of(&with_nulls).is_none());
        check(&with_nulls, 1000.0, 1.5, "nulls");
    }
}
