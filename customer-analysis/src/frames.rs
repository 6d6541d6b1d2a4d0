//! The pipeline's data frames, one newtype each, so that wiring one frame
//! where another is expected (the seed tutorial's Task 4 swaps
//! `segment_result` and `segmented_customer_df`) does not compile.
//!
//! `segmented_customer_df` is stored as a *view*: six columns computed from
//! `scored_df`'s file by a fixed recipe, named in the store by `scored_df`'s
//! fingerprint and the two thresholds (96 bytes), instead of a second copy of
//! every row. Writing that copy was most of a full run and all of a threshold
//! change; reading the view costs a few arithmetic operations per row.

use std::path::{Path, PathBuf};

use pipeline_core::frame::{self, LazyFrame, memory};
use pipeline_core::{
    Fingerprint, MaterializeContext, Materialized, StoreContext, Value, ValueError,
    lazy_frame_value,
};
use polars::prelude::{DataFrame, PolarsResult};

use crate::ingest::ReadOptions;
use crate::resident;
use crate::segment_scan;
use crate::transform::{self, TransformError};

/// Scored customers: `CUSTOMER_SCORE`, `TotalPurchaseAmount`,
/// `NumberOfPurchases`, `TotalPurchaseTime`.
pub struct ScoredDf {
    frame: LazyFrame,
    /// The CSV the frame reads, while it is still a query over it. The
    /// executor then materializes it with the parallel reader
    /// ([`transform::preprocess_and_score_keeping`], which also keeps the
    /// frame decoded in [`pipeline_core::frame::memory`] when it fits)
    /// instead of running the query.
    source: Option<PathBuf>,
    /// The fingerprint the frame is stored under, once it is stored: what a
    /// [`SegmentedDf`] view over it names.
    stored: Option<Fingerprint>,
}

impl ScoredDf {
    /// Scores the customers of the CSV at `path` when materialized.
    pub fn from_csv(path: &Path) -> Result<Self, TransformError> {
        Ok(Self {
            frame: transform::preprocess_and_score(path)?,
            source: Some(path.to_path_buf()),
            stored: None,
        })
    }

    /// The frame.
    pub fn frame(&self) -> &LazyFrame {
        &self.frame
    }

    /// The fingerprint the frame is stored under, if it is stored.
    pub fn stored(&self) -> Option<Fingerprint> {
        self.stored
    }
}

impl From<LazyFrame> for ScoredDf {
    fn from(frame: LazyFrame) -> Self {
        Self {
            frame,
            source: None,
            stored: None,
        }
    }
}

impl Value for ScoredDf {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        self.frame.encode(out)
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.frame.clone())
    }

    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        LazyFrame::decode(input).map(Self::from)
    }

    fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let mut value = Self::decode(input)?;
        value.stored = Some(ctx.fingerprint());
        Ok(value)
    }

    fn extension() -> &'static str {
        "parquet"
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        let done = match &self.source {
            Some(csv) => {
                // Kept decoded for the tasks that read it next, if it fits.
                let (done, decoded) = transform::preprocess_and_score_keeping(
                    csv,
                    ctx.scratch_dir,
                    &ReadOptions::default(),
                    memory::budget(),
                )
                .map_err(|error| match error {
                    TransformError::Output { error, .. } => error,
                    other => ValueError::Materialize(other.to_string()),
                })?;
                if let Some(decoded) = decoded {
                    memory::insert(done.fingerprint, decoded);
                }
                done
            }
            None => frame::materialize_lazy(self.frame, ctx.scratch_dir)?,
        };
        Ok(Materialized {
            value: Self {
                frame: done.value,
                source: None,
                stored: Some(done.fingerprint),
            },
            fingerprint: done.fingerprint,
            file: done.file,
        })
    }

    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        self.frame.write_file(path)
    }

    fn read_file(path: &Path) -> Result<Self, ValueError> {
        LazyFrame::read_file(path).map(Self::from)
    }

    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let mut value = Self::read_file(path)?;
        value.stored = Some(ctx.fingerprint());
        Ok(value)
    }
}

/// Scored customers with features and a `ValueSegment`
/// ([`transform::featurization_and_segmentation`]).
pub struct SegmentedDf {
    frame: LazyFrame,
    /// How the frame is computed from a stored [`ScoredDf`], if it is a view.
    view: Option<View>,
}

/// A [`SegmentedDf`] view: its recipe and the scored frame it reads (the
/// four columns, without features).
struct View {
    recipe: SegmentView,
    scored: LazyFrame,
}

/// The recipe of a [`SegmentedDf`] view.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SegmentView {
    scored: Fingerprint,
    payment_threshold: f64,
    score_threshold: f64,
}

/// The first bytes of a stored view (a Parquet file starts with `PAR1`).
const VIEW_MAGIC: &[u8; 16] = b"ca-segment-view1";
/// Magic, scored fingerprint, recipe hash, two thresholds.
const VIEW_LEN: usize = 16 + 32 + 32 + 8 + 8;

impl SegmentView {
    /// A digest of the expressions the view adds: a stored view made by other
    /// code (other expressions) does not match it, so it is never read as if
    /// the code had not changed.
    fn recipe(&self) -> Fingerprint {
        let columns = transform::feature_columns(self.payment_threshold, self.score_threshold);
        Fingerprint::of_bytes(format!("{columns:?}").as_bytes())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(VIEW_MAGIC);
        out.extend_from_slice(self.scored.as_bytes());
        out.extend_from_slice(self.recipe().as_bytes());
        out.extend_from_slice(&self.payment_threshold.to_le_bytes());
        out.extend_from_slice(&self.score_threshold.to_le_bytes());
    }

    /// Decodes a view's encoding (`None` if `bytes` is not one).
    fn decode(bytes: &[u8]) -> Option<Result<Self, ValueError>> {
        if !bytes.starts_with(VIEW_MAGIC) {
            return None;
        }
        if bytes.len() != VIEW_LEN {
            return Some(Err(ValueError::decode::<SegmentedDf>(format!(
                "a view is {VIEW_LEN} bytes, not {}",
                bytes.len()
            ))));
        }
        let field = |at: usize| -> [u8; 8] { bytes[at..at + 8].try_into().expect("8 bytes") };
        let view = Self {
            scored: Fingerprint::from_bytes(bytes[16..48].try_into().expect("32 bytes")),
            payment_threshold: f64::from_le_bytes(field(80)),
            score_threshold: f64::from_le_bytes(field(88)),
        };
        if view.recipe().as_bytes() != &bytes[48..80] {
            return Some(Err(ValueError::decode::<SegmentedDf>(
                "the view was made by another version of featurization_and_segmentation",
            )));
        }
        Some(Ok(view))
    }

    /// The view's frame over the scored frame `scored`.
    fn frame(&self, scored: LazyFrame) -> LazyFrame {
        transform::featurization_and_segmentation(
            scored,
            self.payment_threshold,
            self.score_threshold,
        )
    }
}

impl SegmentedDf {
    /// Features and segments over `scored`: a view when `scored` is stored,
    /// else a query to materialize.
    pub fn new(scored: &ScoredDf, payment_threshold: f64, score_threshold: f64) -> Self {
        let frame = transform::featurization_and_segmentation(
            scored.frame.clone(),
            payment_threshold,
            score_threshold,
        );
        let view = scored.stored.map(|fingerprint| View {
            recipe: SegmentView {
                scored: fingerprint,
                payment_threshold,
                score_threshold,
            },
            scored: scored.frame.clone(),
        });
        Self { frame, view }
    }

    /// The frame.
    pub fn frame(&self) -> &LazyFrame {
        &self.frame
    }

    /// Whether the frame is stored as a view over the scored frame's file.
    pub fn is_view(&self) -> bool {
        self.view.is_some()
    }

    /// Step 3, executed ([`transform::segment_analysis_executed`]). A view
    /// folds the scored columns itself for a mean, minimum, maximum or sum
    /// ([`segment_scan`]), and groups them by its segmentation rule for a
    /// median ([`transform::segment_medians_by_rule`]), so that polars builds
    /// no `ValueSegment` string per row; the frame is the same.
    ///
    /// A view whose scored frame is decoded in memory
    /// ([`pipeline_core::frame::memory`]; for the median, decoded now if it
    /// fits the budget) computes it from there ([`resident::segment_analysis`]).
    pub fn segment_analysis(&self, metric: transform::Metric) -> PolarsResult<DataFrame> {
        // Decoding costs about what one streamed fold does (~0.15 s on 10M
        // rows), so it pays for the median (and Task 4 after it: both from
        // memory then), not for a fold.
        let load = metric == transform::Metric::Median;
        if let (Some(view), Some(scored)) = (&self.view, self.decoded(load)?) {
            let recipe = &view.recipe;
            return resident::segment_analysis(
                &scored,
                recipe.payment_threshold,
                recipe.score_threshold,
                metric,
            );
        }
        match &self.view {
            Some(View { recipe, .. }) if metric == transform::Metric::Median => {
                transform::segment_medians_by_rule(
                    self.frame.clone(),
                    transform::scores_high_value(recipe.score_threshold),
                )
            }
            Some(View { recipe, scored }) => segment_scan::segment_analysis_folded(
                scored.clone(),
                recipe.payment_threshold,
                recipe.score_threshold,
                metric,
            ),
            None => transform::segment_analysis_executed(self.frame.clone(), metric),
        }
    }

    /// Step 4 ([`transform::high_value_summary_executed`]) over this frame's
    /// High Value rows ([`Self::high_value_rows`]), or, for a view whose
    /// scored frame is decoded in memory already, over those rows of it
    /// ([`resident::high_value_summary`]).
    pub fn high_value_summary(
        &self,
        segment_result: LazyFrame,
        stat: transform::SummaryStatistic,
    ) -> PolarsResult<DataFrame> {
        // Not decoded for this task alone: streaming the two columns it
        // reads costs less than decoding all four.
        if let (Some(view), Some(scored)) = (&self.view, self.decoded(false)?) {
            return resident::high_value_summary(
                &scored,
                view.recipe.score_threshold,
                segment_result,
                stat,
            );
        }
        transform::high_value_summary_executed(self.high_value_rows(), segment_result, stat)
    }

    /// A view's scored frame, decoded: from [`pipeline_core::frame::memory`],
    /// or, with `load`, decoded from its file now and kept there if it fits
    /// the memory budget.
    fn decoded(&self, load: bool) -> PolarsResult<Option<DataFrame>> {
        let Some(view) = &self.view else {
            return Ok(None);
        };
        let name = view.recipe.scored;
        if let Some(frame) = memory::get(&name) {
            return Ok(Some(frame));
        }
        if !load || memory::budget() == 0 {
            return Ok(None);
        }
        // Its file's row count (from the footer) times 8 bytes per column:
        // the scored columns are 8-byte numbers.
        let rows = view
            .scored
            .clone()
            .select([polars::prelude::len()])
            .collect()?
            .column("len")?
            .cast(&polars::prelude::DataType::UInt64)?
            .u64()?
            .get(0)
            .unwrap_or(0) as usize;
        let columns = view.scored.clone().collect_schema()?.len();
        memory::get_or_load(&name, rows * columns * 8, || {
            frame::collect_streaming(view.scored.clone())
        })
    }

    /// The High Value rows. A view selects them by its segmentation rule
    /// ([`transform::scores_high_value`]), so that polars neither builds nor
    /// compares a `ValueSegment` string per row; the rows are the same.
    pub fn high_value_rows(&self) -> LazyFrame {
        match &self.view {
            Some(view) => self
                .frame
                .clone()
                .filter(transform::scores_high_value(view.recipe.score_threshold)),
            None => transform::high_value_rows(self.frame.clone()),
        }
    }

    fn from_bytes(bytes: &[u8], ctx: Option<&StoreContext<'_>>) -> Result<Self, ValueError> {
        match (SegmentView::decode(bytes), ctx) {
            (None, _) => LazyFrame::decode(&mut &bytes[..]).map(Self::from),
            (Some(view), Some(ctx)) => {
                let view = view?;
                let scored = ctx.file_of(&view.scored)?;
                let frame = frame::scan_parquet(&scored)
                    .map_err(|e| ValueError::decode::<Self>(e.to_string()))?;
                Ok(Self {
                    frame: view.frame(frame.clone()),
                    view: Some(View {
                        recipe: view,
                        scored: frame,
                    }),
                })
            }
            (Some(_), None) => Err(ValueError::decode::<Self>(
                "a view is read through the store that holds the frame it reads",
            )),
        }
    }
}

impl From<LazyFrame> for SegmentedDf {
    fn from(frame: LazyFrame) -> Self {
        Self { frame, view: None }
    }
}

impl Value for SegmentedDf {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        match &self.view {
            Some(view) => {
                view.recipe.encode(out);
                Ok(())
            }
            None => self.frame.encode(out),
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let value = Self::from_bytes(input, None)?;
        *input = &[];
        Ok(value)
    }

    fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let value = Self::from_bytes(input, Some(ctx))?;
        *input = &[];
        Ok(value)
    }

    fn extension() -> &'static str {
        "parquet"
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.frame.clone())
    }

    fn references(&self) -> Vec<Fingerprint> {
        self.view.iter().map(|view| view.recipe.scored).collect()
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        if self.view.is_some() {
            let fingerprint = self.fingerprint()?;
            return Ok(Materialized {
                value: self,
                fingerprint,
                file: None,
            });
        }
        let done = frame::materialize_lazy(self.frame, ctx.scratch_dir)?;
        Ok(Materialized {
            value: Self::from(done.value),
            fingerprint: done.fingerprint,
            file: done.file,
        })
    }

    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        match &self.view {
            Some(view) => {
                let mut bytes = Vec::with_capacity(VIEW_LEN);
                view.recipe.encode(&mut bytes);
                std::fs::write(path, bytes).map_err(|source| ValueError::Io {
                    action: "cannot write",
                    path: path.to_owned(),
                    source,
                })
            }
            None => self.frame.write_file(path),
        }
    }

    fn read_file(path: &Path) -> Result<Self, ValueError> {
        LazyFrame::read_file(path).map(Self::from)
    }

    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        // A view in a file of its own (a store that keeps nothing inline).
        let is_view = std::fs::metadata(path).is_ok_and(|m| m.len() == VIEW_LEN as u64);
        if !is_view {
            return Self::read_file(path);
        }
        let bytes = std::fs::read(path).map_err(|source| ValueError::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, Some(ctx))
    }
}

/// Per `ValueSegment`: the chosen metric of each measure.
pub struct SegmentResult(pub LazyFrame);

/// One row summarizing the High Value segment.
pub struct HighValueSummary(pub LazyFrame);

lazy_frame_value!(SegmentResult, HighValueSummary);

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    /// Scores around the threshold, a null among them.
    fn scored() -> ScoredDf {
        let frame = df!(
            "CUSTOMER_SCORE" => [Some(1.4), Some(1.5), Some(1.6), None, Some(3.0)],
            "TotalPurchaseAmount" => [100.0, 200.0, 300.0, 400.0, 500.0],
            "NumberOfPurchases" => [1i64, 2, 3, 4, 5],
            "TotalPurchaseTime" => [10.0, 20.0, 30.0, 40.0, 50.0],
        )
        .unwrap()
        .lazy();
        ScoredDf {
            frame,
            source: None,
            stored: Some(Fingerprint::of_bytes(b"a stored frame")),
        }
    }

    #[test]
    fn a_view_selects_the_same_high_value_rows_as_the_strings_do() {
        let view = SegmentedDf::new(&scored(), 250.0, 1.5);
        assert!(view.is_view());
        let by_rule = view.high_value_rows().collect().unwrap();
        let by_label = transform::high_value_rows(view.frame().clone())
            .collect()
            .unwrap();
        assert!(by_rule.equals_missing(&by_label), "{by_rule}\n{by_label}");
        assert_eq!(by_rule.height(), 2);
    }

    #[test]
    fn a_view_analyses_segments_like_the_strings_do_for_every_metric() {
        let view = SegmentedDf::new(&scored(), 250.0, 1.5);
        for metric in transform::Metric::ALL {
            let by_rule = view.segment_analysis(metric).unwrap();
            let by_label =
                transform::segment_analysis_executed(view.frame().clone(), metric).unwrap();
            assert!(
                by_rule.equals_missing(&by_label),
                "{metric}:\n{by_rule}\n{by_label}"
            );
        }
        // One segment only (every score below the threshold, one null).
        let low = SegmentedDf::new(&scored(), 250.0, 100.0);
        let by_rule = low.segment_analysis(transform::Metric::Median).unwrap();
        assert_eq!(by_rule.height(), 1);
        assert!(
            by_rule.equals_missing(
                &transform::segment_analysis_executed(
                    low.frame().clone(),
                    transform::Metric::Median
                )
                .unwrap()
            )
        );
    }

    #[test]
    fn a_view_encodes_its_recipe_and_refuses_other_code() {
        let view = SegmentedDf::new(&scored(), 250.0, 1.5);
        let mut bytes = Vec::new();
        view.encode(&mut bytes).unwrap();
        assert_eq!(bytes.len(), VIEW_LEN);
        assert_eq!(
            SegmentView::decode(&bytes).unwrap().unwrap(),
            view.view.as_ref().unwrap().recipe
        );
        assert_eq!(view.references(), vec![scored().stored.unwrap()]);
        // Another recipe digest (code that computes other columns).
        bytes[60] ^= 1;
        let error = SegmentView::decode(&bytes).unwrap().unwrap_err();
        assert!(error.to_string().contains("another version"), "{error}");
        // Not a view at all.
        assert!(SegmentView::decode(b"PAR1").is_none());
    }
}
