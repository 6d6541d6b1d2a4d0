//! Reading a CSV file as a lazy frame with typed columns, and errors that
//! name the file, the column, the cell and its line.
//!
//! [`scan_csv`] checks the header now (the file exists, is not empty and has
//! every typed column) and returns a polars scan that reads those columns
//! with their types and every other column as text, never inferring a type,
//! so a stray value cannot change a column's type. A cell that does not parse
//! is only found when the frame runs: the executor then reports it through
//! [`explain`], as `csv file `customers.csv`: column `Amount` must hold f64
//! values, but line 4 holds `lots``.
//!
//! ```
//! use pipeline_core::frame::csv::{CsvError, scan_csv};
//! use polars::prelude::*;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("prices.csv");
//! std::fs::write(&path, "Name,Price\n\"Tea, green\",2.5\nCoffee,3\n").unwrap();
//! let prices = scan_csv(&path, &[("Price", DataType::Float64)])?;
//! let total = prices.select([col("Price").sum()]).collect().unwrap();
//! assert_eq!(total.column("Price").unwrap().f64().unwrap().get(0), Some(5.5));
//!
//! let missing = scan_csv(&path, &[("Quantity", DataType::Int64)]).err().unwrap();
//! assert!(missing.to_string().contains("has no column `Quantity`"));
//! # Ok::<(), CsvError>(())
//! ```

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

mod cells;
mod decimal;
mod fast;
mod grouped;
mod parse;
mod reader;
mod separators;
mod split;

pub(crate) use fast::CsvQuery;
pub(crate) use grouped::aggregate as aggregate_grouped;
pub use reader::{ReadOptions, read_csv_blocks};

/// The longest header line [`scan_csv`] reads while checking the columns.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// The characters of a cell an error message quotes at most.
const MAX_SHOWN_CELL: usize = 80;

/// The characters of a file that does not look like text an error message
/// quotes at most.
const MAX_SHOWN_START: usize = 16;

/// The characters of a header an error message quotes at most.
const MAX_SHOWN_HEADER: usize = 300;

/// `text` as an error message quotes it: control characters escaped (`\n`,
/// `\0`, `\u{15}`) and at most `max` characters, then `…` and how many
/// more there are.
fn shown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            let more = text.chars().count() - max;
            out.push_str(&format!("… ({more} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// `" (a Parquet file)"` and the like, if `start` (a file's start, lossily
/// decoded) begins with a known format's magic bytes; empty if not.
fn binary_format(start: &str) -> &'static str {
    let formats = [
        ("PAR1", " (a Parquet file)"),
        ("ARROW1", " (an Arrow IPC file)"),
        ("PK\u{3}\u{4}", " (a zip archive, or an Excel workbook)"),
        ("\u{1f}\u{fffd}", " (a gzip-compressed file)"),
    ];
    formats
        .iter()
        .find(|(magic, _)| start.starts_with(magic))
        .map_or("", |(_, name)| name)
}

/// Whether a header line (without its line end) looks like a binary file's
/// start rather than text: bytes that are not UTF-8, or control characters
/// other than tabs.
fn looks_binary(header: &[u8]) -> bool {
    match std::str::from_utf8(header) {
        Ok(text) => text.chars().any(|c| c.is_control() && c != '\t'),
        Err(_) => true,
    }
}

/// The error for the header `header` (the first line, without its line
/// end) lacking `column`: [`CsvError::NotText`] if it looks binary,
/// [`CsvError::MissingColumn`] (listing `names`) if not.
fn missing_column(
    path: &Path,
    header: &[u8],
    names: &[String],
    column: &str,
    required: String,
) -> CsvError {
    if looks_binary(header) {
        return CsvError::NotText {
            path: path.to_owned(),
            column: column.to_owned(),
            start: String::from_utf8_lossy(&header[..header.len().min(4 * MAX_SHOWN_START)])
                .chars()
                .take(MAX_SHOWN_START)
                .collect(),
        };
    }
    CsvError::MissingColumn {
        path: path.to_owned(),
        column: column.to_owned(),
        found: names.join(", "),
        required,
    }
}

/// Why a CSV file could not be read as a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error(
        "cannot read csv file `{}`: {error}; check that the file exists and is readable",
        path.display()
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },

    /// The file has no header row.
    #[error(
        "csv file `{}` is empty; it needs a header row naming at least the columns {required}",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
        /// The typed columns, comma-separated.
        required: String,
    },

    /// The header lacks a typed column.
    #[error(
        "csv file `{}` has no column `{column}` (its header has: {}); add the column or \
         read another file (required: {required})",
        path.display(),
        shown(found, MAX_SHOWN_HEADER)
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The columns the header has, comma-separated.
        found: String,
        /// The typed columns, comma-separated.
        required: String,
    },

    /// A cell of a typed column does not hold a value of its type.
    #[error(
        "csv file `{}`: column `{column}` must hold {dtype} values, but {} holds `{}`; \
         fix or remove that cell",
        path.display(),
        line.map_or_else(|| "a cell".to_owned(), |l| format!("line {l}")),
        shown(value, MAX_SHOWN_CELL)
    )]
    BadCell {
        /// The file.
        path: PathBuf,
        /// The column of the cell.
        column: String,
        /// The type the column is read as, as polars names it (`f64`, `i64`).
        dtype: String,
        /// The text of the cell.
        value: String,
        /// The 1-based line of the cell (the header is line 1), when it could
        /// be found again.
        line: Option<u64>,
    },

    /// A quoted cell of a text column does not end at its closing quote, or
    /// holds a quote that is not doubled.
    #[error(
        "csv file `{}`: column `{column}`, line {line}: the cell `{}` is not properly \
         quoted; a quoted cell ends at its closing quote, and a quote inside it is written \
         twice (`\"\"`)",
        path.display(),
        shown(value, MAX_SHOWN_CELL)
    )]
    BadQuotes {
        /// The file.
        path: PathBuf,
        /// The column of the cell.
        column: String,
        /// The cell as written (lossily decoded).
        value: String,
        /// The 1-based line where the cell's record starts (the header is
        /// line 1).
        line: u64,
    },

    /// A record has more fields than the header, and every column of the
    /// header is read (polars refuses it too; reading only some columns
    /// drops the extra fields, as polars does).
    #[error(
        "csv file `{}`: line {line} has more fields than the header's {header_fields}; \
         remove the extra fields (a separator at the end of the line counts as one), \
         or read fewer columns",
        path.display()
    )]
    ExtraFields {
        /// The file.
        path: PathBuf,
        /// The 1-based line where the record starts (the header is line 1).
        line: u64,
        /// The fields of the header.
        header_fields: usize,
    },

    /// A quote opens a cell that is never closed, so that the cell would run
    /// to the end of the file, and the file ends with a line break (polars
    /// refuses such a file whichever columns are read; without the final
    /// line break, it reads the cell as the rest of the file, and so does
    /// the parallel reader unless the cell's column is read).
    #[error(
        "csv file `{}`: column `{column}`, line {line}: the cell `{}` opens a quote that is \
         never closed, so it would run to the end of the file; close the quote, and write a \
         quote inside a quoted cell twice (`\"\"`)",
        path.display(),
        shown(value, MAX_SHOWN_CELL)
    )]
    UnclosedQuote {
        /// The file.
        path: PathBuf,
        /// The column of the cell, as the header names it.
        column: String,
        /// The cell as written, to the end of the file (lossily decoded).
        value: String,
        /// The 1-based line where the cell starts (the header is line 1).
        line: u64,
    },

    /// A quote inside a cell that does not start with one (`TV 55" wide`)
    /// opens a quoted stretch that holds a separator or a line break.
    /// Polars' parser takes such a quote as text while its record counter
    /// toggles on it, so it splits the file otherwise than the quote says,
    /// or refuses it ("CSV malformed"); the parallel reader refuses it.
    #[error(
        "csv file `{}`, line {line}: a quote inside a cell that does not start with one \
         (`{}`) opens a quoted stretch holding a separator or a line break, which polars \
         reads otherwise or refuses; quote the whole cell and double the quote inside it \
         (`\"TV 55\"\" wide\"`)",
        path.display(),
        shown(text, MAX_SHOWN_CELL)
    )]
    StrayQuote {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the quote (the header is line 1).
        line: u64,
        /// The quote's line as written, to the quote and a little after.
        text: String,
    },

    /// The header lacks a typed column and does not look like text: control
    /// characters or bytes that are not UTF-8 (a Parquet, Excel or
    /// compressed file given as the CSV).
    #[error(
        "csv file `{}` does not look like a CSV text file{}: it starts with `{}…`, and has no \
         column `{column}`; give the CSV file (another format needs its own reader)",
        path.display(),
        binary_format(start),
        shown(start, usize::MAX)
    )]
    NotText {
        /// The file.
        path: PathBuf,
        /// The first typed column the header lacks.
        column: String,
        /// The first characters of the file (lossily decoded, after a
        /// byte order mark).
        start: String,
    },

    /// The file is not valid UTF-8.
    #[error("csv file `{}` is not valid UTF-8; re-encode it as UTF-8", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
    },

    /// Any other error polars reported for the file.
    #[error("polars failed on csv file `{}`: {error}", path.display())]
    Polars {
        /// The file.
        path: PathBuf,
        /// The polars error.
        error: PolarsError,
    },
}

impl From<CsvError> for crate::value::ValueError {
    /// A CSV file a query reads is unusable: the query fails with that message.
    fn from(error: CsvError) -> Self {
        crate::value::ValueError::Materialize(error.to_string())
    }
}

/// A lazy scan of the CSV file at `path` (header row, comma-separated,
/// optionally quoted, UTF-8) reading the `typed` columns with their types and
/// every other column as text.
///
/// # Errors
/// Checks the header now: [`CsvError::Unreadable`], [`CsvError::Empty`], or
/// [`CsvError::MissingColumn`] for the first typed column it lacks.
pub fn scan_csv(path: impl AsRef<Path>, typed: &[(&str, DataType)]) -> Result<LazyFrame, CsvError> {
    let path = path.as_ref();
    check_header(path, typed)?;
    let polars_error = |error| CsvError::Polars {
        path: path.to_owned(),
        error,
    };
    let types: Schema = typed
        .iter()
        .map(|(name, dtype)| Field::new((*name).into(), dtype.clone()))
        .collect();
    LazyCsvReader::new(PlRefPath::try_from_path(path).map_err(polars_error)?)
        .with_has_header(true)
        .with_glob(false)
        // Every column is text unless typed here: no type inference.
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(Arc::new(types)))
        .finish()
        .map_err(polars_error)
}

/// `error` carried through polars, from inside a query's own functions (a
/// median pass reading the file's blocks): [`carried`] finds it again, so
/// that the task reports the reader's message as it is.
pub(crate) fn carry(error: CsvError) -> PolarsError {
    PolarsError::IO {
        error: Arc::new(io::Error::other(error)),
        msg: None,
    }
}

/// The reader's error `error` carries (see [`carry`]), under any context
/// polars added on the way out.
pub(crate) fn carried(error: &PolarsError) -> Option<&CsvError> {
    match error {
        PolarsError::IO { error, .. } => error.get_ref()?.downcast_ref::<CsvError>(),
        PolarsError::Context { error, .. } => carried(error),
        _ => None,
    }
}

/// Turns a polars error from running `frame` into a [`CsvError`] naming the
/// CSV file `frame` scans, if it scans exactly one: a cell that does not
/// parse becomes [`CsvError::BadCell`] (the file is then read once more to
/// find the cell's line), invalid UTF-8 [`CsvError::InvalidUtf8`], a file
/// that cannot be opened [`CsvError::Unreadable`], anything else
/// [`CsvError::Polars`]. The error comes back unchanged if `frame`
/// scans no CSV file or several, or if it is the parallel reader's own
/// error, carried through polars from inside the framework's own steps.
pub fn explain(error: PolarsError, frame: &LazyFrame) -> Result<CsvError, PolarsError> {
    if carried(&error).is_some() {
        return Err(error);
    }
    let Some(path) = single_csv_source(&frame.logical_plan) else {
        return Err(error);
    };
    let message = error.to_string();
    if let Some((value, dtype, column)) = parse_cell_error(&message) {
        let line = find_cell_line(&path, &column, &value).ok().flatten();
        return Ok(CsvError::BadCell {
            path,
            column,
            dtype,
            value,
            line,
        });
    }
    if message.contains("invalid utf-8") {
        return Ok(CsvError::InvalidUtf8 { path });
    }
    // A file that cannot be opened is said so, as `scan_csv` says it.
    if let Err(unreadable) = std::fs::File::open(&path) {
        return Ok(CsvError::Unreadable {
            path,
            error: unreadable,
        });
    }
    Ok(CsvError::Polars { path, error })
}

/// The one local CSV file the plan scans, if it scans exactly one.
fn single_csv_source(plan: &DslPlan) -> Option<PathBuf> {
    let mut found = Vec::new();
    super::plan::for_each_source(plan, &mut |node| {
        if let DslPlan::Scan {
            sources: ScanSources::Paths(paths),
            scan_type,
            ..
        } = node
            && matches!(**scan_type, FileScanDsl::Csv { .. })
        {
            found.extend(
                paths
                    .iter()
                    .filter(|p| !p.has_scheme())
                    .map(|p| p.as_std_path().to_path_buf()),
            );
        }
    });
    found.dedup();
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Checks that the CSV at `path` can be read and that its header names every
/// typed column.
fn check_header(path: &Path, typed: &[(&str, DataType)]) -> Result<(), CsvError> {
    let required = || {
        typed
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unreadable = |error| CsvError::Unreadable {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(unreadable)?;
    let mut header = Vec::new();
    BufReader::new(file)
        .take(MAX_HEADER_BYTES)
        .read_until(b'\n', &mut header)
        .map_err(unreadable)?;
    let header = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&header);
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty {
            path: path.to_owned(),
            required: required(),
        });
    }
    let header = trim_eol(header);
    let names = header_names(header, b',');
    match typed
        .iter()
        .find(|(name, _)| !names.iter().any(|n| n == name))
    {
        Some((column, _)) => Err(missing_column(path, header, &names, column, required())),
        None => Ok(()),
    }
}

/// The column names of a header line (without its line end): fields split at
/// `separator`s outside quotes, unquoted.
fn header_names(header: &[u8], separator: u8) -> Vec<String> {
    split_line(header, separator)
        .map(|field| String::from_utf8_lossy(&unquote(field)).into_owned())
        .collect()
}

/// Extracts `(value, dtype, column)` from polars' CSV parse error, which reads
/// ``could not parse `VALUE` as dtype `DTYPE` at column 'COLUMN' (column number N)…``.
fn parse_cell_error(message: &str) -> Option<(String, String, String)> {
    let rest = &message[message.find("could not parse `")? + "could not parse `".len()..];
    let (value, rest) = rest.split_once("` as dtype `")?;
    let (dtype, rest) = rest.split_once("` at column '")?;
    let (column, _) = rest.split_once("' (column number")?;
    Some((value.to_owned(), dtype.to_owned(), column.to_owned()))
}

/// The 1-based line of the first row whose `column` holds `value` (raw or
/// unquoted). `None` if there is no such row, or if the file has quoted line
/// breaks (line numbers would then be ambiguous to a reader).
fn find_cell_line(path: &Path, column: &str, value: &str) -> io::Result<Option<u64>> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    let header = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&line);
    let Some(index) =
        split_line(trim_eol(header), b',').position(|f| *unquote(f) == *column.as_bytes())
    else {
        return Ok(None);
    };
    let mut line_number = 1;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        line_number += 1;
        if line.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
            return Ok(None);
        }
        if let Some(field) = split_line(trim_eol(&line), b',').nth(index)
            && (field == value.as_bytes() || *unquote(field) == *value.as_bytes())
        {
            return Ok(Some(line_number));
        }
    }
}

/// `line` without its trailing `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The raw fields of one CSV line, split at `separator`s outside double
/// quotes.
fn split_line(line: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let line = rest?;
        let mut in_quotes = false;
        for (i, &b) in line.iter().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b if b == separator && !in_quotes => {
                    rest = Some(&line[i + 1..]);
                    return Some(&line[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(line)
    })
}

/// A field without its surrounding double quotes, with `""` unescaped.
fn unquote(field: &[u8]) -> Cow<'_, [u8]> {
    match field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
    {
        Some(inner) if inner.windows(2).any(|w| w == b"\"\"") => Cow::Owned(
            String::from_utf8_lossy(inner)
                .replace("\"\"", "\"")
                .into_bytes(),
        ),
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(content: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        std::fs::write(file.path(), content).unwrap();
        file
    }

    #[test]
    fn split_line_keeps_quoted_commas_and_unquote_unescapes() {
        let fields: Vec<&[u8]> = split_line(br#"a,"b,c",,"d""e""#, b',').collect();
        assert_eq!(fields, [&b"a"[..], br#""b,c""#, b"", br#""d""e""#]);
        assert_eq!(*unquote(br#""d""e""#), *b"d\"e");
    }

    #[test]
    fn a_bad_cell_is_reported_with_its_column_value_and_line() {
        let file = csv("Id,Amount\n1,2.5\n2,\"3\"\n3,lots\n");
        let frame = scan_csv(file.path(), &[("Amount", DataType::Float64)]).unwrap();
        let error = frame.clone().collect().unwrap_err();
        match explain(error, &frame).unwrap() {
            CsvError::BadCell {
                column,
                value,
                line,
                path,
                ..
            } => {
                assert_eq!(
                    (column.as_str(), value.as_str(), line),
                    ("Amount", "lots", Some(4))
                );
                assert_eq!(path, file.path());
            }
            other => panic!("expected a bad cell, got {other:?}"),
        }
    }

    #[test]
    fn header_problems_name_the_file_and_the_column() {
        let empty = csv("");
        let error = scan_csv(empty.path(), &[("A", DataType::Int64)])
            .err()
            .unwrap();
        assert!(matches!(error, CsvError::Empty { .. }), "{error}");
        let other = csv("\"B\",C\n1,2\n");
        let error = scan_csv(
            other.path(),
            &[("B", DataType::Int64), ("A", DataType::Int64)],
        )
        .err()
        .unwrap();
        let message = error.to_string();
        assert!(message.contains("has no column `A`"), "{message}");
        assert!(message.contains("its header has: B, C"), "{message}");
        assert!(
            message.contains(&other.path().display().to_string()),
            "{message}"
        );
        let gone = scan_csv("no/such/file.csv", &[]).err().unwrap();
        assert!(matches!(gone, CsvError::Unreadable { .. }), "{gone}");
    }

    #[test]
    fn a_frame_over_no_single_csv_is_not_explained() {
        let frame = df!("x" => [1]).unwrap().lazy();
        let error = polars_err!(ComputeError: "boom");
        assert!(explain(error, &frame).is_err());
    }
}
