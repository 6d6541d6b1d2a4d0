//! Step 3 with a mean, minimum, maximum or sum over a view, in one streaming
//! pass over the scored file's four columns.
//!
//! A [`crate::frames::SegmentedDf`] view is `scored_df`'s file plus a recipe,
//! so step 3 can read the four scored columns and compute the features it
//! aggregates (`AverageTimeBetweenPurchases`, `HighSpender`, the segment) as
//! it folds each batch, instead of having polars build them as columns and
//! then group them with a hash table: on 10M rows, 0.10–0.19 s against
//! 0.22–0.25 s (in the `tour`, same windows).
//! The result is [`crate::transform::segment_analysis_executed`]'s frame:
//! the same rows, columns and types, and values equal up to the order of
//! floating-point additions (the tests compare both within 1e-12).

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::median::Fold;
use crate::transform::{self, Metric};

/// The measures step 3 aggregates with the metric, in output order:
/// `CUSTOMER_SCORE`, `TotalPurchaseAmount`, `NumberOfPurchases`,
/// `TotalPurchaseTime`, `AverageTimeBetweenPurchases`.
pub(crate) const MEASURES: usize = 5;

/// What one segment's rows add up to.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegmentFolds {
    /// Rows in the segment (whatever their nulls).
    pub(crate) rows: u64,
    /// One fold per measure, of its non-null values.
    pub(crate) measures: [Fold; MEASURES],
    /// Rows whose amount is above the payment threshold.
    pub(crate) high_spenders: i64,
}

/// Per segment, Low Value then High Value.
pub(crate) type Segments = [SegmentFolds; 2];

/// One measure of one segment over one batch: a plain sum (its batch is
/// small enough for that; batches are then added with compensation).
#[derive(Debug, Clone, Copy)]
struct BatchFold {
    count: u64,
    nans: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for BatchFold {
    fn default() -> Self {
        Self {
            count: 0,
            nans: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl BatchFold {
    #[inline(always)]
    fn add(&mut self, x: f64) {
        self.count += 1;
        self.nans += u64::from(x.is_nan());
        self.sum += x;
        // NaN compares false: it never becomes an extreme.
        self.min = if x < self.min { x } else { self.min };
        self.max = if x > self.max { x } else { self.max };
    }

    fn add_to(self, fold: &mut Fold) {
        fold.add_slice_fold(self.count, self.nans, self.sum, self.min, self.max);
    }
}

/// Step 3 with `metric` over the scored columns `scored`, segmented by
/// `score_threshold` and counting high spenders by `payment_threshold` as
/// [`transform::feature_columns`] does: the frame of
/// [`transform::segment_analysis_executed`] over the segmented frame.
///
/// # Panics
/// If `metric` is the median, which a fold cannot give
/// ([`transform::segment_medians_by_rule`] finds it).
pub fn segment_analysis_folded(
    scored: LazyFrame,
    payment_threshold: f64,
    score_threshold: f64,
    metric: Metric,
) -> PolarsResult<DataFrame> {
    let rule = Rule::new(payment_threshold, score_threshold, metric);
    let state = Arc::new(Mutex::new(Segments::default()));
    let batches = state.clone();
    scored
        .select(scored_columns())
        .sink_batches(
            PlanCallback::new(move |batch: DataFrame| {
                let mut segments = batches.lock().expect("not poisoned");
                rule.add_batch(&batch, &mut segments)?;
                Ok(false)
            }),
            // In order: the sums are then the same from run to run.
            true,
            None,
        )?
        .collect_with_engine(Engine::Streaming)?;
    let segments = std::mem::take(&mut *state.lock().expect("not poisoned"));
    segment_rows(&segments, metric)
}

/// The four scored columns as [`segment_analysis_folded_of_batches`] takes
/// them: `CUSTOMER_SCORE`, `TotalPurchaseAmount`, `NumberOfPurchases`,
/// `TotalPurchaseTime`, in that order, as `Float64`.
pub fn scored_columns() -> [Expr; 4] {
    [
        col(transform::SCORE).cast(DataType::Float64),
        col(transform::AMOUNT).cast(DataType::Float64),
        col(transform::PURCHASES).cast(DataType::Float64),
        col(transform::TIME).cast(DataType::Float64),
    ]
}

/// [`segment_analysis_folded`] over batches already at hand: `batches`
/// hands each batch of [`scored_columns`], in order, to the function it is
/// given.
///
/// # Panics
/// If `metric` is the median.
pub fn segment_analysis_folded_of_batches(
    batches: impl FnOnce(&mut dyn FnMut(&DataFrame) -> PolarsResult<()>) -> PolarsResult<()>,
    payment_threshold: f64,
    score_threshold: f64,
    metric: Metric,
) -> PolarsResult<DataFrame> {
    let rule = Rule::new(payment_threshold, score_threshold, metric);
    let mut segments = Segments::default();
    batches(&mut |batch| rule.add_batch(batch, &mut segments))?;
    segment_rows(&segments, metric)
}

/// How rows are segmented and counted ([`transform::feature_columns`]).
#[derive(Debug, Clone, Copy)]
struct Rule {
    payment_threshold: f64,
    score_threshold: f64,
    metric: Metric,
}

impl Rule {
    /// # Panics
    /// If `metric` is the median, which a fold cannot give.
    fn new(payment_threshold: f64, score_threshold: f64, metric: Metric) -> Self {
        assert!(metric != Metric::Median, "a fold cannot give a median");
        Self {
            payment_threshold,
            score_threshold,
            metric,
        }
    }

    /// Folds one batch of the four scored columns (as `Float64`).
    fn add_batch(&self, batch: &DataFrame, segments: &mut Segments) -> PolarsResult<()> {
        let columns: Vec<Float64Chunked> = batch
            .columns()
            .iter()
            .map(|column| Ok(column.f64()?.rechunk().into_owned()))
            .collect::<PolarsResult<_>>()?;
        let [score, amount, purchases, time] = columns.as_slice() else {
            polars_bail!(ComputeError: "step 3 expects 4 scored columns, got {}", columns.len());
        };
        // `folds[measure][segment]`, and per segment its rows and high spenders.
        let mut folds = [[BatchFold::default(); 2]; MEASURES];
        let mut rows = [0u64; 2];
        let mut high_spenders = [0i64; 2];
        let all_present = columns.iter().all(|c| c.null_count() == 0);
        match (
            score.cont_slice(),
            amount.cont_slice(),
            purchases.cont_slice(),
            time.cont_slice(),
        ) {
            (Ok(score), Ok(amount), Ok(purchases), Ok(time)) if all_present => {
                // Only what the metric needs, per row: every field kept costs
                // a read and a write of memory per row and measure.
                let mut sums = [[0.0f64; MEASURES]; 2];
                let mut mins = [[f64::INFINITY; MEASURES]; 2];
                let mut maxs = [[f64::NEG_INFINITY; MEASURES]; 2];
                let extremes = matches!(self.metric, Metric::Min | Metric::Max);
                for row in 0..score.len() {
                    let segment = usize::from(gt(score[row], self.score_threshold));
                    rows[segment] += 1;
                    high_spenders[segment] += i64::from(gt(amount[row], self.payment_threshold));
                    let xs = [
                        score[row],
                        amount[row],
                        purchases[row],
                        time[row],
                        time[row] / purchases[row],
                    ];
                    if extremes {
                        let (min, max) = (&mut mins[segment], &mut maxs[segment]);
                        for m in 0..MEASURES {
                            // NaN compares false: it never becomes an extreme.
                            min[m] = if xs[m] < min[m] { xs[m] } else { min[m] };
                            max[m] = if xs[m] > max[m] { xs[m] } else { max[m] };
                        }
                    } else {
                        let sum = &mut sums[segment];
                        for m in 0..MEASURES {
                            sum[m] += xs[m];
                        }
                    }
                }
                for segment in 0..2 {
                    for m in 0..MEASURES {
                        let (min, max) = (mins[segment][m], maxs[segment][m]);
                        folds[m][segment] = BatchFold {
                            count: rows[segment],
                            // Only "all of them" matters (see `Fold::min`):
                            // extremes left untouched mean no value but NaN.
                            nans: if extremes && min > max {
                                rows[segment]
                            } else {
                                0
                            },
                            sum: sums[segment][m],
                            min,
                            max,
                        };
                    }
                }
            }
            _ => {
                let values = score
                    .iter()
                    .zip(amount.iter())
                    .zip(purchases.iter())
                    .zip(time.iter());
                for (((score, amount), purchases), time) in values {
                    // A null score is Low Value, as `otherwise` makes it.
                    let segment = usize::from(score.is_some_and(|s| gt(s, self.score_threshold)));
                    rows[segment] += 1;
                    high_spenders[segment] +=
                        i64::from(amount.is_some_and(|a| gt(a, self.payment_threshold)));
                    let average = time.zip(purchases).map(|(t, p)| t / p);
                    let measures = [score, amount, purchases, time, average];
                    for (fold, value) in folds.iter_mut().zip(measures) {
                        if let Some(x) = value {
                            fold[segment].add(x);
                        }
                    }
                }
            }
        }
        for (segment, totals) in segments.iter_mut().enumerate() {
            totals.rows += rows[segment];
            totals.high_spenders += high_spenders[segment];
            for (batch, fold) in folds.iter().zip(&mut totals.measures) {
                batch[segment].add_to(fold);
            }
        }
        Ok(())
    }
}

/// `x > threshold` as polars compares floats: NaN above every number.
#[inline(always)]
pub(crate) fn gt(x: f64, threshold: f64) -> bool {
    x > threshold || (x.is_nan() && !threshold.is_nan())
}

/// Step 3's frame: one row per segment with rows.
pub(crate) fn segment_rows(segments: &Segments, metric: Metric) -> PolarsResult<DataFrame> {
    let present: Vec<(&str, &SegmentFolds)> = [
        (transform::LOW_VALUE, &segments[0]),
        (transform::HIGH_VALUE, &segments[1]),
    ]
    .into_iter()
    .filter(|(_, folds)| folds.rows > 0)
    .collect();
    let measures: Vec<Vec<Option<f64>>> = (0..MEASURES)
        .map(|m| {
            present
                .iter()
                .map(|(_, folds)| {
                    let fold = &folds.measures[m];
                    match metric {
                        Metric::Mean => fold.mean(),
                        Metric::Min => fold.min(),
                        Metric::Max => fold.max(),
                        // polars sums no values to 0.
                        Metric::Sum => Some(fold.sum()),
                        Metric::Median => unreachable!("checked on entry"),
                    }
                })
                .collect()
        })
        .collect();
    let labels: Vec<Option<String>> = present
        .iter()
        .map(|(label, _)| Some((*label).to_owned()))
        .collect();
    let high_spenders: Vec<i64> = present.iter().map(|(_, f)| f.high_spenders).collect();
    transform::segment_rows(&labels, &measures, &high_spenders)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::transform::{featurization_and_segmentation, segment_analysis_executed};

    /// A scored frame of `n` pseudo-random rows; with `odd`, some values are
    /// NaN, infinite or zero, and with `holes` some cells of every column are
    /// also null (batches with nulls take the row-by-row path).
    fn scored(n: usize, odd: bool, holes: bool) -> LazyFrame {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut cell = |scale: f64| -> Option<f64> {
            let r = next();
            match (odd, r % 97) {
                (true, 0) if holes => None,
                (true, 1) => Some(f64::NAN),
                (true, 2) => Some(f64::INFINITY),
                (true, 3) => Some(0.0),
                _ => Some((r >> 11) as f64 / (1u64 << 53) as f64 * scale),
            }
        };
        let score: Vec<Option<f64>> = (0..n).map(|_| cell(3.0)).collect();
        let amount: Vec<Option<f64>> = (0..n).map(|_| cell(2000.0)).collect();
        let purchases: Vec<Option<i64>> = (0..n)
            .map(|_| cell(40.0).map(|x| if x.is_finite() { x as i64 } else { 7 }))
            .collect();
        let time: Vec<Option<f64>> = (0..n).map(|_| cell(500.0)).collect();
        df!(
            transform::SCORE => score,
            transform::AMOUNT => amount,
            transform::PURCHASES => purchases,
            transform::TIME => time,
        )
        .unwrap()
        .lazy()
    }

    /// Equal schemas, labels and counts; floats equal within 1e-12 relative
    /// (the sums add in another order), NaN equal to NaN, null to null.
    pub(crate) fn assert_close(ours: &DataFrame, polars: &DataFrame, what: &str) {
        assert_eq!(ours.schema(), polars.schema(), "{what}");
        assert_eq!(ours.height(), polars.height(), "{what}");
        for (a, b) in ours.columns().iter().zip(polars.columns()) {
            match a.dtype() {
                DataType::Float64 => {
                    let pairs = a.f64().unwrap().iter().zip(b.f64().unwrap().iter());
                    for (x, y) in pairs {
                        let close = match (x, y) {
                            (Some(x), Some(y)) => {
                                x == y
                                    || (x.is_nan() && y.is_nan())
                                    || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
                            }
                            (x, y) => x == y,
                        };
                        assert!(close, "{what}: {} {x:?} vs {y:?}", a.name());
                    }
                }
                _ => assert!(a.equals_missing(b), "{what}: {}\n{a:?}\n{b:?}", a.name()),
            }
        }
    }

    fn check(frame: LazyFrame, payment_threshold: f64, score_threshold: f64, what: &str) {
        for metric in [Metric::Mean, Metric::Min, Metric::Max, Metric::Sum] {
            let ours =
                segment_analysis_folded(frame.clone(), payment_threshold, score_threshold, metric)
                    .unwrap();
            let segmented =
                featurization_and_segmentation(frame.clone(), payment_threshold, score_threshold);
            let polars = segment_analysis_executed(segmented, metric).unwrap();
            assert_close(&ours, &polars, &format!("{what}, {metric}"));
        }
    }

    #[test]
    fn folding_the_scored_columns_gives_polars_frame_for_every_metric_nan_and_infinities_too() {
        check(scored(300_000, false, false), 1000.0, 1.5, "plain numbers");
        check(
            scored(300_000, true, false),
            1000.0,
            1.5,
            "NaN, infinities, zeros",
        );
    }

    #[test]
    fn null_cells_fold_like_polars() {
        check(scored(300_000, true, true), 1000.0, 1.5, "with nulls");
    }

    #[test]
    fn one_segment_or_no_rows_give_polars_rows() {
        check(scored(5_000, false, true), 1000.0, 100.0, "all Low Value");
        check(scored(5_000, false, false), 1000.0, -1.0, "all High Value");
        check(scored(0, false, false), 1000.0, 1.5, "no rows");
        // Only NaN scores: polars ranks NaN above every threshold.
        check(
            df!(
                transform::SCORE => [f64::NAN, f64::NAN],
                transform::AMOUNT => [f64::NAN, 5.0],
                transform::PURCHASES => [1i64, 0],
                transform::TIME => [f64::NAN, f64::NAN],
            )
            .unwrap()
            .lazy(),
            1000.0,
            1.5,
            "only NaN",
        );
    }

    #[test]
    #[should_panic(expected = "median")]
    fn the_median_is_not_a_fold() {
        let _ = segment_analysis_folded(scored(10, false, false), 1000.0, 1.5, Metric::Median);
    }
}
