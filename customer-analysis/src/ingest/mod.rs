//! A projection-aware, parallel CSV reader for numeric columns.
//!
//! Task 1 reads four numeric columns out of a customer CSV that can be larger
//! than memory. polars' streaming CSV source splits lines on one thread, which
//! made that scan about twice as slow as Python polars on our 2-core machine
//! (see `PERF_NOTES.md`). This reader:
//!
//! - memory-maps the file and cuts it into blocks, and each block into pieces,
//!   at record boundaries (quote-aware, see `ingest/split.rs`);
//! - parses the pieces of a block on all cores, touching only the fields up to
//!   the last wanted one and converting only the wanted ones (see `ingest/parse.rs`);
//! - hands each block's frame to a consumer (a Parquet writer, say) while the
//!   next block is parsed.
//!
//! Memory stays bounded by a few blocks whatever the file size: pages of the
//! mapping are file-backed and the kernel drops them as needed.
//!
//! Cells follow polars' rules for these types (quotes stripped, leading
//! blanks skipped, empty or missing fields null, the same float and integer
//! parsers), and the tests in `tests/ingest.rs` check that both readers give
//! the same frame on the same files. A cell that is not a number is an error
//! naming the file, column, value and line.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::*;

use crate::transform::TransformError;

mod parse;
mod split;

use parse::{BadCell, Projection};

/// The type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// 64-bit float (`Float64`).
    Float64,
    /// 64-bit signed integer (`Int64`); a fractional value is an error.
    Int64,
}

impl ColumnKind {
    /// The polars data type.
    pub fn dtype(self) -> DataType {
        match self {
            ColumnKind::Float64 => DataType::Float64,
            ColumnKind::Int64 => DataType::Int64,
        }
    }
}

/// Sizes and parallelism of a read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Bytes of CSV handed to the consumer as one frame (default 32 MiB).
    pub block_bytes: usize,
    /// Bytes of CSV parsed by one thread at a time (default 2 MiB); each piece
    /// becomes one chunk of the block's frame.
    pub piece_bytes: usize,
    /// Parsing threads (default: the available parallelism).
    pub threads: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            block_bytes: 32 << 20,
            piece_bytes: 2 << 20,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What a read went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadSummary {
    /// Records read (rows of all frames).
    pub rows: usize,
    /// Blocks handed to the consumer.
    pub blocks: usize,
}

/// Reads the columns `wanted` (name and type) of the CSV at `path`, block by
/// block, calling `consume` with each block's frame (columns in the order of
/// `wanted`) in file order.
///
/// The first line is the header. Errors name the file: unreadable, empty, a
/// wanted column missing from the header, a cell that is not a number of its
/// column's type (with its line), or an error from `consume`.
pub fn read_csv_blocks(
    path: &Path,
    wanted: &[(&str, ColumnKind)],
    options: &ReadOptions,
    consume: impl FnMut(DataFrame) -> Result<(), TransformError> + Send,
) -> Result<ReadSummary, TransformError> {
    let unreadable = |error| TransformError::Unreadable {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(unreadable)?;
    // SAFETY: the map is only read. A file truncated by another process while
    // it is read would make reads fault (SIGBUS); inputs are not expected to
    // change under a running task, the same assumption polars' reader makes
    // when it maps a file.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(unreadable)?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let (projection, body_start) = header_projection(path, &map, wanted)?;
    read_body(path, &map, body_start, &projection, options, consume)
}

/// Tells the kernel this process is done with the block `map[start..end]`, so
/// the pages already parsed stop counting toward its resident memory (they stay in the
/// page cache). Without it, reading a file larger than memory would show the
/// whole file as resident.
fn release_parsed(map: &memmap2::Mmap, start: usize, end: usize) {
    #[cfg(unix)]
    {
        const PAGE: usize = 4096;
        let (start, end) = (start / PAGE * PAGE, end / PAGE * PAGE);
        if end > start {
            // SAFETY: the map is read-only and file-backed: dropping its pages
            // only means they are read from the page cache again if touched,
            // with the same content. No reference into the range is used
            // after this call except through `map`, which stays valid.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
    #[cfg(not(unix))]
    let _ = (map, start, end);
}

/// Reads the whole CSV into one frame (for files that fit in memory; tests).
pub fn read_csv(
    path: &Path,
    wanted: &[(&str, ColumnKind)],
    options: &ReadOptions,
) -> Result<DataFrame, TransformError> {
    let mut blocks = Vec::new();
    read_csv_blocks(path, wanted, options, |frame| {
        blocks.push(frame);
        Ok(())
    })?;
    let mut whole = match blocks.first() {
        Some(first) => first.clear(),
        None => DataFrame::empty_with_schema(&schema(wanted)),
    };
    for block in &blocks {
        whole
            .vstack_mut(block)
            .expect("blocks share the schema of the wanted columns");
    }
    Ok(whole)
}

/// The schema of the frames read for the columns `wanted`.
pub fn schema(wanted: &[(&str, ColumnKind)]) -> Schema {
    wanted
        .iter()
        .map(|(name, kind)| Field::new((*name).into(), kind.dtype()))
        .collect()
}

/// Finds the wanted columns in the header; returns the projection and where
/// the first record starts.
fn header_projection(
    path: &Path,
    bytes: &[u8],
    wanted: &[(&str, ColumnKind)],
) -> Result<(Projection, usize), TransformError> {
    let bytes_after_bom = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let bom = bytes.len() - bytes_after_bom.len();
    let header_end = split::record_end_after(bytes, bom, bom);
    let header = &bytes[bom..header_end];
    let header = header.strip_suffix(b"\n").unwrap_or(header);
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(TransformError::EmptyFile {
            path: path.to_owned(),
        });
    }
    let names: Vec<String> = crate::transform::header_names(header);
    let mut fields = Vec::with_capacity(wanted.len());
    for (column, _) in wanted {
        let Some(index) = names.iter().position(|name| name == column) else {
            return Err(TransformError::missing_column(path, column, &names));
        };
        fields.push(index);
    }
    let columns = wanted
        .iter()
        .map(|(name, kind)| (PlSmallStr::from(*name), *kind))
        .collect();
    Ok((Projection::new(&fields, columns), header_end))
}

/// Parses the records from `start` on, block after block, the pieces of a
/// block on `options.threads` threads, while the previous block is consumed.
fn read_body(
    path: &Path,
    map: &memmap2::Mmap,
    start: usize,
    projection: &Projection,
    options: &ReadOptions,
    mut consume: impl FnMut(DataFrame) -> Result<(), TransformError> + Send,
) -> Result<ReadSummary, TransformError> {
    let bytes: &[u8] = map;
    let mut summary = ReadSummary { rows: 0, blocks: 0 };
    let (to_consumer, blocks) = crossbeam_channel::bounded::<DataFrame>(1);
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            for frame in blocks {
                consume(frame)?;
            }
            Ok::<(), TransformError>(())
        });
        let mut at = start;
        let parsed = loop {
            if at >= bytes.len() {
                break Ok(());
            }
            let end = split::record_end_after(bytes, at, at.saturating_add(options.block_bytes));
            let frame = match parse_block(bytes, at, end, projection, options) {
                Ok(frame) => frame,
                Err((offset, bad)) => {
                    break Err(bad_cell_error(path, bytes, projection, offset, bad));
                }
            };
            release_parsed(map, at, end);
            summary.rows += frame.height();
            summary.blocks += 1;
            if to_consumer.send(frame).is_err() {
                // The consumer stopped on an error; it is reported below.
                break Ok(());
            }
            at = end;
        };
        drop(to_consumer);
        let consumed = consumer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        parsed.and(consumed)
    })?;
    Ok(summary)
}

/// Parses `bytes[start..end]` into one frame, one chunk per piece, pieces
/// spread over the threads. On a bad cell, the earliest one in the file, with
/// the byte offset of its record.
fn parse_block(
    bytes: &[u8],
    start: usize,
    end: usize,
    projection: &Projection,
    options: &ReadOptions,
) -> Result<DataFrame, (usize, BadCell)> {
    let pieces = split::pieces(bytes, start, end, options.piece_bytes);
    let results: Vec<std::sync::Mutex<Option<Result<DataFrame, BadCell>>>> =
        pieces.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(i) else { break };
            let parsed = parse::parse_piece(&bytes[piece.clone()], projection);
            *results[i].lock().expect("no panics while holding") = Some(parsed);
        }
    };
    let threads = options.threads.clamp(1, pieces.len().max(1));
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let mut frame: Option<DataFrame> = None;
    for (piece, result) in pieces.iter().zip(results) {
        let parsed = result
            .into_inner()
            .expect("no panics while holding")
            .expect("every piece was parsed");
        let part = parsed.map_err(|bad| (piece.start, bad))?;
        match &mut frame {
            None => frame = Some(part),
            Some(frame) => {
                frame
                    .vstack_mut_owned(part)
                    .expect("pieces share the projection's schema");
            }
        }
    }
    Ok(frame.unwrap_or_else(|| DataFrame::empty_with_schema(&projection.schema())))
}

/// The error for a bad cell found in the piece starting at `piece_start`.
fn bad_cell_error(
    path: &Path,
    bytes: &[u8],
    projection: &Projection,
    piece_start: usize,
    bad: BadCell,
) -> TransformError {
    let record = piece_start + bad.record_offset;
    // Lines are counted only now, on the error path: the record's line is
    // one plus the newlines before it (the header is line 1).
    let line = 1 + memchr::memchr_iter(b'\n', &bytes[..record]).count() as u64;
    let (name, kind) = projection.column(bad.column);
    TransformError::NonNumeric {
        path: path.to_owned(),
        column: name.to_string(),
        dtype: kind.dtype().to_string(),
        value: bad.value,
        line: Some(line),
    }
}
