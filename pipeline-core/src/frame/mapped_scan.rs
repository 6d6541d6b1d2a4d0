//! Row-wise queries over one stored frame too large for the frame memory,
//! run a step of record batches at a time straight from the file's map.
//!
//! polars' streaming engine reads such a file through buffers (a `file://`
//! scan, [`BUFFERED_SCAN_BYTES`]), so that the file's pages do not all end
//! up counted in the process's memory: each batch is zeroed, copied out of
//! the page cache and decoded. A query that only computes, selects or
//! filters row by row ([`view::row_wise`]) over an Arrow IPC file of
//! fixed-width columns gives the same rows evaluated on each part of the
//! file alone, in order. Here each part is a frame over the map's pages
//! ([`pipeline_mmap::MappedBatches`]), evaluated in memory (the next step
//! while this one is consumed), handed on, and its pages given back: no
//! copy, and resident memory bounded by two steps.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::{DataFrame, LazyFrame, PolarsResult};

use super::format::{BUFFERED_SCAN_BYTES, FrameFormat};
use super::view;

/// Record batches evaluated at a time: 16 of `FRAME_BATCH_ROWS` (128K)
/// rows, 2M rows, 16 MB a column of 8-byte values. Two steps are in
/// memory at once: one consumed while the next is evaluated.
const STEP_BATCHES: usize = 16;

/// Runs `frame` a step at a time over the map of the one stored frame it
/// scans, handing each step's rows to `consume` in order; `None` (nothing
/// run) unless `frame` is row-wise over one stored Arrow IPC frame of
/// fixed-width columns of [`BUFFERED_SCAN_BYTES`] or more.
pub(super) fn for_each_step(
    frame: &LazyFrame,
    consume: &mut dyn FnMut(DataFrame) -> PolarsResult<()>,
) -> Option<PolarsResult<()>> {
    in_steps(frame, BUFFERED_SCAN_BYTES, STEP_BATCHES, consume)
}

/// Whether [`for_each_step`] would run `frame` in steps (whether the
/// stored frame's columns are all fixed-width is only known once it is
/// opened).
pub(super) fn steppable(frame: &LazyFrame) -> bool {
    source(frame, BUFFERED_SCAN_BYTES).is_some()
}

/// The file of the one stored Arrow IPC frame of `min_bytes` or more that
/// `frame` reads row-wise, if it is such a query.
fn source(frame: &LazyFrame, min_bytes: u64) -> Option<PathBuf> {
    let (scans, other) = view::stored_scans(&frame.logical_plan);
    let first = scans.first()?;
    let one_file = !other && scans.iter().all(|scan| scan.path == first.path);
    let large = std::fs::metadata(&first.path).is_ok_and(|m| m.len() >= min_bytes);
    (one_file && large && first.format == FrameFormat::Ipc && view::row_wise(frame))
        .then(|| first.path.clone())
}

/// [`for_each_step`] over files of `min_bytes` or more, `step_batches`
/// record batches a step.
fn in_steps(
    frame: &LazyFrame,
    min_bytes: u64,
    step_batches: usize,
    consume: &mut dyn FnMut(DataFrame) -> PolarsResult<()>,
) -> Option<PolarsResult<()>> {
    let path = source(frame, min_bytes)?;
    let mapped = pipeline_mmap::MappedBatches::open(&path)?;
    if mapped.batches() == 0 {
        return None;
    }
    let evaluate = |batches: Range<usize>| {
        let rows = Arc::new(mapped.frame(batches)?);
        view::substitute(frame, &mut |scan| (scan.path == path).then(|| rows.clone())).collect()
    };
    let steps: Vec<Range<usize>> = (0..mapped.batches())
        .step_by(step_batches)
        .map(|start| start..(start + step_batches).min(mapped.batches()))
        .collect();
    // The next step is evaluated while this one is consumed.
    let (to_consumer, evaluated) = crossbeam_channel::bounded(1);
    Some(std::thread::scope(|scope| {
        scope.spawn(move || {
            for batches in steps {
                let result = evaluate(batches.clone());
                let failed = result.is_err();
                if to_consumer.send((batches, result)).is_err() || failed {
                    return;
                }
            }
        });
        let mut outcome = Ok(());
        for (batches, result) in evaluated.iter() {
            // Given back once consumed: the result's columns may be the
            // step's own pages, which the consumer reads.
            let consumed = result.and_then(&mut *consume);
            mapped.release(batches);
            if let Err(error) = consumed {
                outcome = Err(error);
                break;
            }
        }
        // Stops the evaluation of further steps after an error.
        drop(evaluated);
        outcome
    }))
}

#[cfg(test)]
#[path = "mapped_scan_tests.rs"]
mod tests;
