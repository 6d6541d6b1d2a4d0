//! How a stored frame's file is laid out, and reading one back.

use std::io::{Cursor, Read};
use std::path::Path;

use polars::prelude::*;

/// Rows per record batch (Arrow IPC) or row group (Parquet) of a stored
/// frame: small enough that a writer never buffers much, large enough for
/// fast scans.
pub const FRAME_BATCH_ROWS: usize = 128 * 1024;

/// Files at least this large are scanned through read buffers instead of a
/// memory map: polars maps a local file, and every page a scan touches then
/// counts toward the process's resident memory, so a scan of a frame of
/// several GB would show several GB of RSS (clean pages, but reported).
pub const BUFFERED_SCAN_BYTES: u64 = 1 << 30;

/// The file format of a stored frame, chosen per type (see
/// [`lazy_frame_value!`](crate::lazy_frame_value)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameFormat {
    /// Arrow IPC, uncompressed (the default): a new process reads the
    /// columns as they lie in the file, without decoding them.
    Ipc,
    /// Parquet, uncompressed pages: a little smaller, but every read decodes it.
    Parquet,
}

impl FrameFormat {
    /// The file extension: `arrow` or `parquet`.
    pub fn extension(self) -> &'static str {
        match self {
            FrameFormat::Ipc => "arrow",
            FrameFormat::Parquet => "parquet",
        }
    }

    /// The format of these bytes (a whole file), by its first bytes.
    pub fn of_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"ARROW1") {
            Some(FrameFormat::Ipc)
        } else if bytes.starts_with(b"PAR1") {
            Some(FrameFormat::Parquet)
        } else {
            None
        }
    }

    /// The format of the file at `path`, by its first bytes.
    pub fn of_file(path: &Path) -> std::io::Result<Option<Self>> {
        let mut head = [0u8; 6];
        let mut file = std::fs::File::open(path)?;
        let mut read = 0;
        while read < head.len() {
            match file.read(&mut head[read..])? {
                0 => break,
                n => read += n,
            }
        }
        Ok(Self::of_bytes(&head[..read]))
    }
}

/// How Parquet frames are written: uncompressed pages, null counts but no
/// min/max statistics (intermediate frames are scanned whole), row groups of
/// [`FRAME_BATCH_ROWS`].
pub(super) fn parquet_options() -> ParquetWriteOptions {
    ParquetWriteOptions {
        compression: ParquetCompression::Uncompressed,
        row_group_size: Some(FRAME_BATCH_ROWS),
        statistics: StatisticsOptions {
            min_value: false,
            max_value: false,
            distinct_count: false,
            null_count: true,
            ..StatisticsOptions::default()
        },
        ..ParquetWriteOptions::default()
    }
}

/// A lazy scan of a stored frame's file (Arrow IPC or Parquet, by its first
/// bytes). Files of [`BUFFERED_SCAN_BYTES`] or more are scanned as `file://`
/// URLs, which polars reads into buffers instead of mapping.
pub fn scan_file(path: &Path) -> PolarsResult<LazyFrame> {
    let format = FrameFormat::of_file(path)
        .map_err(|e| polars_err!(ComputeError: "cannot read {}: {e}", path.display()))?
        .ok_or_else(
            || polars_err!(ComputeError: "{} is neither Arrow IPC nor Parquet", path.display()),
        )?;
    let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= BUFFERED_SCAN_BYTES);
    scan_as(format, &source(path, large)?)
}

/// The path polars scans for `path`: a `file://` URL if `buffered`.
pub(super) fn source(path: &Path, buffered: bool) -> PolarsResult<PlRefPath> {
    // Unix paths only: a `file://` URL of a Windows path is not well formed.
    match std::path::absolute(path) {
        Ok(absolute) if buffered && cfg!(unix) && absolute.to_str().is_some() => Ok(
            PlRefPath::new(format!("file://{}", absolute.to_str().expect("checked"))),
        ),
        _ => PlRefPath::try_from_path(path),
    }
}

/// A scan of `source` in `format`, with polars' default options.
pub(super) fn scan_as(format: FrameFormat, source: &PlRefPath) -> PolarsResult<LazyFrame> {
    match format {
        FrameFormat::Ipc => LazyFrame::scan_ipc(
            source.clone(),
            IpcScanOptions::default(),
            UnifiedScanArgs::default(),
        ),
        FrameFormat::Parquet => LazyFrame::scan_parquet(source.clone(), ScanArgsParquet::default()),
    }
}

/// Encodes `frame` whole, in one chunk, so that equal frames encode to equal
/// bytes however they were chunked.
pub(super) fn encode(
    frame: &DataFrame,
    format: FrameFormat,
    out: &mut Vec<u8>,
) -> PolarsResult<()> {
    let mut frame = frame.clone();
    frame.rechunk_mut_par();
    match format {
        FrameFormat::Ipc => IpcWriter::new(Cursor::new(out))
            .with_compression(None)
            .finish(&mut frame),
        FrameFormat::Parquet => parquet_options()
            .to_writer(Cursor::new(out))
            .finish(&mut frame)
            .map(|_| ()),
    }
}

/// Decodes a whole file's bytes (Arrow IPC or Parquet).
pub(super) fn decode(bytes: &[u8]) -> PolarsResult<DataFrame> {
    match FrameFormat::of_bytes(bytes) {
        Some(FrameFormat::Ipc) => IpcReader::new(Cursor::new(bytes)).finish(),
        Some(FrameFormat::Parquet) => ParquetReader::new(Cursor::new(bytes)).finish(),
        None => polars_bail!(ComputeError: "the bytes are neither Arrow IPC nor Parquet"),
    }
}
