//! A parallel, quote-aware reader of the number, boolean and text columns of
//! a CSV file.
//!
//! polars' streaming CSV source (0.55, built on stable Rust) finds the record
//! boundaries on one thread, which on two cores made a scan about twice as
//! slow as Python polars. This reader:
//!
//! - maps the file and cuts it into blocks, and each block into pieces, at
//!   record boundaries: the quotes before each cut are counted on all cores,
//!   so a cut's quoted state is known without a serial walk (`split.rs`);
//! - parses the pieces of a block on all cores, finding separators 64 bytes
//!   at a time (`separators.rs`) and converting only the wanted fields, with
//!   polars' own number parsers and cell rules (see `parse.rs`);
//! - hands each block's frame to a consumer while the next block is parsed.
//!
//! Memory stays bounded by a few blocks whatever the file size: the pages of
//! the map already parsed are released. The executor uses it for queries
//! that compute row by row from number, boolean and text columns of one CSV file
//! (see [`read_csv_blocks`]); the tests check it against polars on random
//! files.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_mmap::FileMap;
use polars::prelude::*;

use super::CsvError;
use super::cells::NullMarkers;
use super::parse::{self, BadCell, ColumnKind, Problem, Projection};
use super::split;

/// How a file is read: its separator and cell rules, and the sizes and
/// parallelism of the read. Built from [`ReadOptions::default`] with the
/// `with_` methods (or by setting fields), so that new options do not break
/// callers.
///
/// ```
/// use pipeline_core::frame::csv::ReadOptions;
/// use polars::prelude::NullValues;
///
/// // A European export: `;` between fields, `1,5` for 1.5, `NA` for nothing.
/// let options = ReadOptions::default()
///     .with_separator(b';')
///     .with_decimal_comma(true)
///     .with_null_values(Some(NullValues::AllColumnsSingle("NA".into())));
/// assert_eq!(options.separator, b';');
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Bytes of CSV handed to the consumer as one frame at most (default
    /// 32 MiB); the last blocks of a file are smaller.
    pub block_bytes: usize,
    /// Bytes of CSV parsed by one thread at a time (default 2 MiB); each piece
    /// becomes one chunk of the block's frame.
    pub piece_bytes: usize,
    /// Parsing threads (default: the available parallelism).
    pub threads: usize,
    /// The byte between fields (default `,`; `;`, a tab and `|` are
    /// common too). Not a double quote, `\r` or `\n`.
    pub separator: u8,
    /// Cells read as null besides empty ones, as polars' `null_values`
    /// (default none): compared with the cell as written, only its
    /// surrounding quotes removed. With [`NullValues::Named`], the columns
    /// not named take a quoted empty text (`""`) as null too, as polars
    /// does; a name the header does not have is an error.
    pub null_values: Option<NullValues>,
    /// Whether a float cell's commas are decimal points (`1,5` is 1.5), as
    /// polars' `decimal_comma` (default `false`).
    pub decimal_comma: bool,
}

impl ReadOptions {
    /// With `block_bytes` of CSV handed to the consumer as one frame at most.
    pub fn with_block_bytes(mut self, block_bytes: usize) -> Self {
        self.block_bytes = block_bytes;
        self
    }

    /// With `piece_bytes` of CSV parsed by one thread at a time.
    pub fn with_piece_bytes(mut self, piece_bytes: usize) -> Self {
        self.piece_bytes = piece_bytes;
        self
    }

    /// With `threads` parsing threads.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// With `separator` between fields.
    pub fn with_separator(mut self, separator: u8) -> Self {
        self.separator = separator;
        self
    }

    /// With `null_values` read as null (see [`ReadOptions::null_values`]).
    pub fn with_null_values(mut self, null_values: Option<NullValues>) -> Self {
        self.null_values = null_values;
        self
    }

    /// With a float cell's commas read as decimal points, or not.
    pub fn with_decimal_comma(mut self, decimal_comma: bool) -> Self {
        self.decimal_comma = decimal_comma;
        self
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            block_bytes: 32 << 20,
            piece_bytes: 2 << 20,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            separator: b',',
            null_values: None,
            decimal_comma: false,
        }
    }
}

/// Reads the `columns` (name and type: `Float64`, `Float32`, `Int64`, `Int32`,
/// `UInt64`, `UInt32`, `Boolean` or `String`) of the CSV at
/// `path` block by block, calling `consume` with each block's frame (columns
/// in the order given) in file order, and returns the rows read. The first
/// error of `consume` stops the read and is returned.
///
/// The file is read as [`scan_csv`](super::scan_csv) reads it (header row,
/// fields separated by `options.separator`, double quotes, UTF-8, empty
/// cells null, and `options`' null values and decimal comma) and gives the
/// same frame as polars' reader with those options. Errors name the file:
/// unreadable, empty, a column missing from the header (or named by
/// `options.null_values`), a cell that is not a number of its
/// column's type or a badly quoted text cell (with its line), a quote never
/// closed in a file ending with a line break, whatever column holds it
/// (polars refuses such a file too), text that is not UTF-8, or the error of
/// `consume`.
///
/// ```
/// use pipeline_core::frame::csv::{CsvError, ReadOptions, read_csv_blocks};
/// use polars::prelude::*;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("prices.csv");
/// std::fs::write(&path, "Name,Price\n\"Tea, green\",2.5\nCoffee,3\n").unwrap();
/// let mut total = 0.0;
/// let mut names = Vec::new();
/// let columns = [("Name", DataType::String), ("Price", DataType::Float64)];
/// read_csv_blocks(&path, &columns, &ReadOptions::default(), |block| {
///     total += block.column("Price").unwrap().f64().unwrap().sum().unwrap_or(0.0);
///     names.extend(block.column("Name").unwrap().str().unwrap().iter().flatten().map(str::to_owned));
///     Ok::<(), CsvError>(())
/// })?;
/// assert_eq!(total, 5.5);
/// assert_eq!(names, ["Tea, green", "Coffee"]);
/// # Ok::<(), pipeline_core::frame::csv::CsvError>(())
/// ```
///
/// # Panics
/// If a column's type is none of those, or if the separator is a double
/// quote, `\r` or `\n`.
pub fn read_csv_blocks<E: From<CsvError> + Send>(
    path: &Path,
    columns: &[(&str, DataType)],
    options: &ReadOptions,
    consume: impl FnMut(DataFrame) -> Result<(), E> + Send,
) -> Result<usize, E> {
    let unreadable = |error| {
        E::from(CsvError::Unreadable {
            path: path.to_owned(),
            error,
        })
    };
    assert!(
        !matches!(options.separator, b'"' | b'\r' | b'\n'),
        "a CSV separator cannot be a double quote or a line end"
    );
    let kinds: Vec<(&str, ColumnKind)> = columns
        .iter()
        .map(|(name, dtype)| {
            let kind =
                ColumnKind::of(dtype).expect("read_csv_blocks reads the types its docs list");
            (*name, kind)
        })
        .collect();
    let file = File::open(path).map_err(unreadable)?;
    // An input of a running task, which does not change under it (see
    // `FileMap` for what happens if it does).
    let map = FileMap::open(&file).map_err(unreadable)?;
    map.advise_sequential();
    let (projection, body_start) =
        header_projection(path, &map, &kinds, options).map_err(E::from)?;
    read_body(path, &map, body_start, &projection, options, consume)
}

/// Finds the wanted columns in the header; returns the projection and where
/// the first record starts.
fn header_projection(
    path: &Path,
    bytes: &[u8],
    wanted: &[(&str, ColumnKind)],
    options: &ReadOptions,
) -> Result<(Projection, usize), CsvError> {
    let required = || {
        wanted
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bytes_after_bom = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let bom = bytes.len() - bytes_after_bom.len();
    let header_end = split::record_end_from(bytes, bom, false);
    let header = &bytes[bom..header_end];
    let header = header.strip_suffix(b"\n").unwrap_or(header);
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty {
            path: path.to_owned(),
            required: required(),
        });
    }
    let names = super::header_names(header, options.separator);
    let mut fields = Vec::with_capacity(wanted.len());
    for (column, _) in wanted {
        let Some(index) = names.iter().position(|name| name == column) else {
            return Err(super::missing_column(
                path,
                header,
                &names,
                column,
                required(),
            ));
        };
        fields.push(index);
    }
    let columns = wanted
        .iter()
        .map(|(name, kind)| (PlSmallStr::from(*name), *kind))
        .collect();
    let wanted_names: Vec<&str> = wanted.iter().map(|(name, _)| *name).collect();
    let null_markers = NullMarkers::of_columns(options.null_values.as_ref(), &names, &wanted_names)
        .map_err(|column| CsvError::MissingColumn {
            path: path.to_owned(),
            column: column.to_owned(),
            found: names.join(", "),
            required: format!("{column}, named by the null values"),
        })?;
    let projection = Projection::new(&fields, columns)
        .with_cell_rules(null_markers, options.decimal_comma)
        .with_header(&names);
    Ok((projection, header_end))
}

/// Parses the records from `start` on, block after block, the pieces of a
/// block on `options.threads` threads, while the previous block is consumed.
fn read_body<E: From<CsvError> + Send>(
    path: &Path,
    map: &FileMap,
    start: usize,
    projection: &Projection,
    options: &ReadOptions,
    mut consume: impl FnMut(DataFrame) -> Result<(), E> + Send,
) -> Result<usize, E> {
    let bytes: &[u8] = map;
    let mut rows = 0;
    let (to_consumer, blocks) = crossbeam_channel::bounded::<DataFrame>(1);
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            for frame in blocks {
                consume(frame)?;
            }
            Ok::<(), E>(())
        });
        let mut at = start;
        let parsed = loop {
            if at >= bytes.len() {
                break Ok(());
            }
            // Blocks shrink towards the end of the file (a quarter of what
            // is left, down to a piece), so the consumer, a block behind
            // the parsing, finishes soon after it.
            let block_bytes = options
                .block_bytes
                .min(((bytes.len() - at) / 4).max(options.piece_bytes));
            let pieces =
                split::pieces(bytes, at, block_bytes, options.piece_bytes, options.threads);
            let end = pieces.last().map_or(bytes.len(), |piece| piece.end);
            let frame = match parse_block(bytes, &pieces, projection, options) {
                Ok(frame) => frame,
                Err((offset, bad)) => {
                    break Err(E::from(bad_cell_error(
                        path,
                        bytes,
                        projection,
                        options.separator,
                        offset,
                        bad,
                    )));
                }
            };
            // Done with these pages: they stop counting as resident.
            map.release(at..end);
            rows += frame.height();
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
    Ok(rows)
}

/// Parses the `pieces` of `bytes` into one frame, one chunk per piece, pieces
/// spread over the threads. On a bad cell, the earliest one in the file, with
/// the byte offset of its piece.
fn parse_block(
    bytes: &[u8],
    pieces: &[Range<usize>],
    projection: &Projection,
    options: &ReadOptions,
) -> Result<DataFrame, (usize, BadCell)> {
    let results: Vec<std::sync::Mutex<Option<Result<DataFrame, BadCell>>>> =
        pieces.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(i) else { break };
            let parsed = parse::parse_piece(&bytes[piece.clone()], projection, options.separator);
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
    separator: u8,
    piece_start: usize,
    bad: BadCell,
) -> CsvError {
    let record = piece_start + bad.record_offset;
    if bad.problem == Problem::Unclosed {
        return unclosed_error(path, bytes, projection, separator, record);
    }
    // Lines are counted only now, on the error path: the record's line is
    // one plus the newlines before it (the header is line 1).
    let line = 1 + memchr::memchr_iter(b'\n', &bytes[..record]).count() as u64;
    let (name, kind) = projection.column(bad.column);
    match bad.problem {
        Problem::NotOfType => CsvError::BadCell {
            path: path.to_owned(),
            column: name.to_string(),
            dtype: kind.dtype().to_string(),
            value: bad.value,
            line: Some(line),
        },
        Problem::BadQuotes => CsvError::BadQuotes {
            path: path.to_owned(),
            column: name.to_string(),
            value: bad.value,
            line,
        },
        Problem::ExtraFields => CsvError::ExtraFields {
            path: path.to_owned(),
            line,
            header_fields: projection.header_fields(),
        },
        Problem::NotUtf8 => CsvError::InvalidUtf8 {
            path: path.to_owned(),
        },
        Problem::StrayQuote => {
            let line_start = memchr::memrchr(b'\n', &bytes[..record]).map_or(0, |at| at + 1);
            let shown_end = bytes.len().min(record + 24);
            let line_end = memchr::memchr(b'\n', &bytes[record..shown_end])
                .map_or(shown_end, |at| record + at);
            CsvError::StrayQuote {
                path: path.to_owned(),
                line,
                text: String::from_utf8_lossy(
                    &bytes[line_start.max(record.saturating_sub(40))..line_end],
                )
                .into_owned(),
            }
        }
        Problem::Unclosed => unreachable!("reported above"),
    }
}

/// The error for a quote never closed in the record starting at `record`,
/// which runs to the end of `bytes`: its fields are split again to find
/// the one the quote opens (the last) and the line where it starts.
fn unclosed_error(
    path: &Path,
    bytes: &[u8],
    projection: &Projection,
    separator: u8,
    record: usize,
) -> CsvError {
    let fields: Vec<&[u8]> = super::split_line(&bytes[record..], separator).collect();
    let cell = fields.last().copied().unwrap_or_default();
    let cell_start = bytes.len() - cell.len();
    let line = 1 + memchr::memchr_iter(b'\n', &bytes[..cell_start]).count() as u64;
    let index = fields.len().saturating_sub(1);
    CsvError::UnclosedQuote {
        path: path.to_owned(),
        column: projection
            .header_name(index)
            .map_or_else(|| format!("field {}", index + 1), str::to_owned),
        value: String::from_utf8_lossy(cell).into_owned(),
        line,
    }
}
