//! Turning a task's query into a stored frame: a frame it already is, a
//! view, or the rows it computes, written once and kept in memory for the
//! next tasks (as rows, or as the file's pages where the file is mapped).

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use polars::prelude::*;

use super::csv::{self, CsvQuery};
use super::file_writer::FrameFileWriter;
use super::format::{FRAME_BATCH_ROWS, FrameFormat};
use super::polars_error;
use super::view::{self, StoredScan};
use crate::fingerprint::Fingerprint;
use crate::memory::ValueMemory;
use crate::value::{MaterializeContext, Materialized, ValueError};

/// Materializes `frame` (see the [module docs](super)): a plain scan of a
/// stored frame is that frame; a row-wise query over stored frames is
/// stored as a view; any other query runs on the streaming engine, over the
/// decoded frames `ctx.memory` holds where it holds them, into a file in
/// `format`, and its result stays in `ctx.memory` if it fits and will not be
/// mapped from the file when read ([`mapped_when_read`]).
pub(crate) fn materialize(
    frame: LazyFrame,
    format: FrameFormat,
    ctx: &MaterializeContext<'_>,
) -> Result<Materialized<LazyFrame>, ValueError> {
    if let Some(stored) = view::identity(&frame) {
        return Ok(Materialized {
            value: frame,
            fingerprint: stored.fingerprint,
            file: Some(stored.path),
        });
    }
    if let Some(recipe) = view::recipe(&frame) {
        return Ok(Materialized {
            value: frame,
            fingerprint: Fingerprint::of_bytes(&recipe),
            file: None,
        });
    }
    // Aggregations over stored frames: from the partial results recorded,
    // the others computed now (and recorded).
    let reused = match ctx.partials {
        Some(cache) => super::partials::reuse(&frame, cache, &mut |part| {
            super::collect_streaming(in_memory_where_kept(&part, ctx.memory)?)
        }),
        None => frame.clone(),
    };
    let runnable =
        in_memory_where_kept(&reused, ctx.memory).map_err(|error| query_error(error, &frame))?;
    // Rows the next tasks can map from the file need no copy in memory.
    let keep_bytes = match mapped_when_read(&runnable, format) {
        true => 0,
        false => ctx.memory.budget(),
    };
    let (done, kept) = run(
        runnable,
        &frame,
        format,
        ctx.scratch_dir,
        keep_bytes,
        ctx.memory.budget(),
    )?;
    if let Some(kept) = kept {
        let bytes = kept.estimated_size();
        ctx.memory.insert(done.fingerprint, Arc::new(kept), bytes);
    }
    Ok(done)
}

/// Whether the file `frame` is stored in will be memory-mapped when read
/// (Arrow IPC of fixed-width columns only, see [`resident`]): its pages,
/// in the page cache since they were written, are then the frame, and
/// keeping a copy of the rows in memory would only cost the copy.
fn mapped_when_read(frame: &LazyFrame, format: FrameFormat) -> bool {
    format == FrameFormat::Ipc
        && frame
            .clone()
            .collect_schema()
            .is_ok_and(|schema| pipeline_mmap::is_fixed_width(&schema))
}

/// `frame` over the decoded frames `memory` holds (or now reads) in place of
/// their files (and over a CSV file's columns read into memory, for
/// medians, where they fit), medians computed by [`grouped_medians`](super::grouped_medians),
/// and filters and other `group_by`s on label columns using their condition
/// ([`labels`](super::labels)).
fn in_memory_where_kept(frame: &LazyFrame, memory: &ValueMemory) -> PolarsResult<LazyFrame> {
    let frame = view::substitute(frame, &mut |scan| resident(scan, memory));
    let frame = csv_in_memory_for_medians(frame, memory.budget())?;
    let plan = super::labels::filters(&frame.logical_plan);
    let plan = super::median::accelerate(&plan)?;
    Ok(LazyFrame::from(super::labels::group_bys(&plan)))
}

/// `frame` over the columns it reads from a CSV file read into memory by
/// the parallel reader, if it holds a median and they take at most half of
/// `limit` bytes (the medians' grouping of them can take as much again):
/// the medians then take one evaluation over memory, not passes over the
/// file, each parsing it again. Any other `frame` as it is.
fn csv_in_memory_for_medians(frame: LazyFrame, limit: usize) -> PolarsResult<LazyFrame> {
    if !super::median::holds_median(&frame.logical_plan) {
        return Ok(frame);
    }
    let Some(query) = CsvQuery::of(&frame) else {
        return Ok(frame);
    };
    Ok(query
        .in_memory(&frame, limit / 2)
        .map_err(csv::carry)?
        .unwrap_or(frame))
}

/// The frame of a stored scan in memory: from `memory`, or read now and kept
/// there if its file fits the budget. `None` if it does not fit (the query
/// then streams the file) or cannot be read (the query then reports it).
fn resident(scan: &StoredScan, memory: &ValueMemory) -> Option<Arc<DataFrame>> {
    if let Some(frame) = memory.get::<DataFrame>(&scan.fingerprint) {
        return Some(frame);
    }
    let bytes = std::fs::metadata(&scan.path).ok()?.len() as usize;
    if !memory.fits(bytes) {
        return None;
    }
    // An IPC file of fixed-width columns is mapped: its pages are the frame.
    let mapped = match scan.format {
        FrameFormat::Ipc => pipeline_mmap::map_fixed_width_ipc(&scan.path),
        FrameFormat::Parquet => None,
    };
    let frame = match mapped {
        Some(mapped) => mapped,
        None => super::collect_streaming(scan.scan().ok()?).ok()?,
    };
    let frame = Arc::new(frame);
    memory.insert(
        scan.fingerprint,
        frame.clone(),
        bytes.max(frame.estimated_size()),
    );
    Some(frame)
}

/// The error of running `frame` (the query as the task built it), naming
/// the CSV file it reads where the error is about that file.
fn query_error(error: PolarsError, frame: &LazyFrame) -> ValueError {
    match csv::explain(error, frame) {
        Ok(explained) => ValueError::Materialize(explained.to_string()),
        Err(error) => polars_error(error),
    }
}

/// Runs `frame` into a file in `dir`, in batches of [`FRAME_BATCH_ROWS`]
/// rows in order (deterministic bytes, so equal frames get equal
/// fingerprints), and returns it with its rows if they take at most
/// `keep_bytes`. A query over a CSV file that the parallel reader can feed
/// ([`CsvQuery`]) is run with it, block by block if it computes row by row,
/// else over the columns it reads if they take at most `csv_bytes`; any
/// other on polars' streaming engine. `explain` is the query as the task
/// built it, for messages about the CSV files it reads.
pub(super) fn run(
    frame: LazyFrame,
    explain: &LazyFrame,
    format: FrameFormat,
    dir: &Path,
    keep_bytes: usize,
    csv_bytes: usize,
) -> Result<(Materialized<LazyFrame>, Option<DataFrame>), ValueError> {
    let failed = |error: PolarsError| query_error(error, explain);
    let schema = frame.clone().collect_schema().map_err(failed)?;
    let output = Output::create(dir, &schema, format, keep_bytes)?;
    let mut frame = frame;
    if let Some(query) = CsvQuery::of(&frame) {
        if query.is_row_wise() {
            let mut output = output;
            query.run(&frame, |batch| output.push(batch))?;
            return output.finish();
        }
        if let Some(grouped) = csv::aggregate_grouped(&frame, csv_bytes)? {
            frame = grouped;
        } else if let Some(in_memory) = query.in_memory(&frame, csv_bytes)? {
            frame = in_memory;
        }
    }
    let output = Arc::new(Mutex::new(output));
    let write_error = Arc::new(Mutex::new(None::<ValueError>));
    let sink = {
        let (output, write_error) = (output.clone(), write_error.clone());
        PlanCallback::new(move |batch: DataFrame| match output.lock().push(batch) {
            Ok(()) => Ok(false),
            Err(error) => {
                *write_error.lock() = Some(error);
                Ok(true) // stop the query
            }
        })
    };
    let ran = frame
        .sink_batches(sink, true, std::num::NonZeroUsize::new(FRAME_BATCH_ROWS))
        .and_then(|query| query.collect_with_engine(Engine::Streaming));
    if let Some(error) = write_error.lock().take() {
        return Err(error);
    }
    ran.map_err(failed)?;
    Arc::try_unwrap(output)
        .map_err(|_| ValueError::Materialize("polars kept the frame writer".to_owned()))?
        .into_inner()
        .finish()
}

/// Where a query's rows go: the file, in batches of exactly
/// [`FRAME_BATCH_ROWS`] rows (the last one shorter), and the rows kept in
/// memory while they fit.
struct Output {
    writer: FrameFileWriter,
    kept: Kept,
    /// Rows not written yet: fewer than a batch.
    pending: Option<DataFrame>,
    schema: Schema,
}

impl Output {
    fn create(
        dir: &Path,
        schema: &Schema,
        format: FrameFormat,
        keep_bytes: usize,
    ) -> Result<Self, ValueError> {
        Ok(Self {
            writer: FrameFileWriter::create(dir, schema, format)?,
            kept: Kept::new(keep_bytes),
            pending: None,
            schema: schema.clone(),
        })
    }

    fn push(&mut self, rows: DataFrame) -> Result<(), ValueError> {
        let mut rows = match self.pending.take() {
            Some(mut pending) => {
                pending.vstack_mut_owned(rows).map_err(polars_error)?;
                pending
            }
            None => rows,
        };
        while rows.height() >= FRAME_BATCH_ROWS {
            let rest = rows.slice(FRAME_BATCH_ROWS as i64, usize::MAX);
            self.write(rows.slice(0, FRAME_BATCH_ROWS))?;
            rows = rest;
        }
        self.pending = Some(rows);
        Ok(())
    }

    /// Writes one batch as one record batch (or row group).
    fn write(&mut self, mut batch: DataFrame) -> Result<(), ValueError> {
        batch.rechunk_mut_par();
        self.writer.write(&batch)?;
        self.kept.push(batch);
        Ok(())
    }

    fn finish(mut self) -> Result<(Materialized<LazyFrame>, Option<DataFrame>), ValueError> {
        if let Some(rest) = self.pending.take()
            && rest.height() > 0
        {
            self.write(rest)?;
        }
        let done = self.writer.finish()?;
        // Keeping the rows only saves a later read: if they cannot be put
        // together, the frame is stored all the same.
        Ok((done, self.kept.finish(&self.schema)))
    }
}

/// The batches of a frame, kept while they add up to at most a limit.
struct Kept {
    limit: usize,
    bytes: usize,
    /// `None` once over the limit.
    batches: Option<Vec<DataFrame>>,
}

impl Kept {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            batches: (limit > 0).then(Vec::new),
        }
    }

    fn push(&mut self, batch: DataFrame) {
        let Some(batches) = &mut self.batches else {
            return;
        };
        self.bytes += batch.estimated_size();
        if self.bytes > self.limit {
            self.batches = None;
        } else {
            batches.push(batch);
        }
    }

    /// The batches as one frame (their chunks, not copied): the first batch
    /// with the others stacked on it. Stacking onto an empty frame instead
    /// made polars materialize the empty frame's columns, at times for
    /// milliseconds.
    fn finish(self, schema: &Schema) -> Option<DataFrame> {
        let mut batches = self.batches?.into_iter();
        let Some(mut frame) = batches.next() else {
            return Some(DataFrame::empty_with_schema(schema));
        };
        for batch in batches {
            frame.vstack_mut(&batch).ok()?;
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::csv::scan_csv;
    use crate::frame::test_frames::notes_csv;

    /// Whether `frame` still scans a file.
    fn scans_a_file(frame: &LazyFrame) -> bool {
        let mut found = false;
        crate::frame::plan::for_each_source(&frame.logical_plan, &mut |node| {
            found |= matches!(node, DslPlan::Scan { .. })
        });
        found
    }

    #[test]
    fn medians_over_a_csv_read_its_columns_into_memory_once_when_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = notes_csv(dir.path(), 2000, 7);
        let scan = || scan_csv(&path, &[("amount", DataType::Float64)]).unwrap();
        let medians = scan()
            .group_by([col("note")])
            .agg([col("amount").median(), len()]);
        let read = csv_in_memory_for_medians(medians.clone(), 2 << 20).unwrap();
        assert!(!scans_a_file(&read), "the columns are in the plan");
        let sorted = |frame: LazyFrame| frame.sort(["note"], Default::default()).collect().unwrap();
        assert!(sorted(read).equals_missing(&sorted(medians.clone())));

        // Larger than half the limit, or no median: the query is left as it is.
        let too_large = csv_in_memory_for_medians(medians, 2000).unwrap();
        assert!(scans_a_file(&too_large));
        let sums = scan().group_by([col("note")]).agg([col("amount").sum()]);
        assert!(scans_a_file(
            &csv_in_memory_for_medians(sums, 1 << 20).unwrap()
        ));
    }
}
