//! Parsing the records of one piece of a CSV file into typed columns.
//!
//! Cell rules, the same as the polars CSV reader's for these types: an
//! empty field, or a field missing from a short record, is null; a `\r`
//! before the newline is dropped.
//! - Numbers: a field may be double-quoted (the quotes are removed); leading
//!   spaces and tabs are skipped. Floats are parsed with `fast-float2` and
//!   integers with `atoi_simd`, the parsers polars uses, so both readers
//!   agree on every value; an integer out of its type's range is an error.
//! - Booleans: a field may be double-quoted (the quotes are removed); then
//!   it is `true` or `false` in any case, nothing else (no spaces).
//! - Text: a field is taken as it is, spaces included, unless it starts with
//!   a double quote: then it must end with one, and a quote inside it must be
//!   written twice; the outer quotes are removed and each doubled quote
//!   becomes one (`""` is the empty text, not null). The text must be UTF-8.

use std::borrow::Cow;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::array::{BooleanArray, MutableBinaryViewArray, PrimitiveArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use super::cells::{NullMarkers, comma_as_point, unquote};
use super::decimal::plain_decimal;
use super::separators::Scanner;

/// The type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// 64-bit float (`Float64`).
    Float64,
    /// 32-bit float (`Float32`).
    Float32,
    /// 64-bit signed integer (`Int64`); a fractional value is an error.
    Int64,
    /// 32-bit signed integer (`Int32`).
    Int32,
    /// 64-bit unsigned integer (`UInt64`).
    UInt64,
    /// 32-bit unsigned integer (`UInt32`).
    UInt32,
    /// `true` or `false` (`Boolean`).
    Boolean,
    /// UTF-8 text (`String`).
    Text,
}

impl ColumnKind {
    /// Every kind, in the order of [`ColumnKind::dtype`]'s match.
    pub(crate) const ALL: [ColumnKind; 8] = [
        ColumnKind::Float64,
        ColumnKind::Float32,
        ColumnKind::Int64,
        ColumnKind::Int32,
        ColumnKind::UInt64,
        ColumnKind::UInt32,
        ColumnKind::Boolean,
        ColumnKind::Text,
    ];

    /// The kind of a polars type, if the reader reads it.
    pub(crate) fn of(dtype: &DataType) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.dtype() == *dtype)
    }

    /// The polars type.
    pub(crate) fn dtype(self) -> DataType {
        match self {
            ColumnKind::Float64 => DataType::Float64,
            ColumnKind::Float32 => DataType::Float32,
            ColumnKind::Int64 => DataType::Int64,
            ColumnKind::Int32 => DataType::Int32,
            ColumnKind::UInt64 => DataType::UInt64,
            ColumnKind::UInt32 => DataType::UInt32,
            ColumnKind::Boolean => DataType::Boolean,
            ColumnKind::Text => DataType::String,
        }
    }
}

/// Which fields of a record go to which output column.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    /// For each field index up to the last wanted one, the output column it
    /// feeds, if any.
    targets: Vec<Option<usize>>,
    /// The output columns: name and kind.
    columns: Vec<(PlSmallStr, ColumnKind)>,
    /// Each output column's null markers.
    null_markers: Vec<NullMarkers>,
    /// Whether a float's commas are decimal points.
    decimal_comma: bool,
    /// Whether a record with more fields than the header is refused.
    refuses_extra_fields: bool,
    /// The header's column names, for errors about a field not read.
    header: Vec<String>,
}

impl Projection {
    /// A projection feeding output column `i` from field `fields[i]`.
    pub(crate) fn new(fields: &[usize], columns: Vec<(PlSmallStr, ColumnKind)>) -> Self {
        let last = fields.iter().copied().max().unwrap_or(0);
        let mut targets = vec![None; last + 1];
        for (column, &field) in fields.iter().enumerate() {
            targets[field] = Some(column);
        }
        Self {
            targets,
            null_markers: vec![NullMarkers::default(); columns.len()],
            columns,
            decimal_comma: false,
            refuses_extra_fields: false,
            header: Vec::new(),
        }
    }

    /// The projection of a file whose header names the columns `header`:
    /// it refuses records with more fields, if it reads every one of them
    /// (as polars does).
    pub(crate) fn with_header(mut self, header: &[String]) -> Self {
        self.refuses_extra_fields =
            self.targets.len() == header.len() && self.targets.iter().all(Option::is_some);
        self.header = header.to_vec();
        self
    }

    /// The name of the header's field `index`, if it has one.
    pub(crate) fn header_name(&self, index: usize) -> Option<&str> {
        self.header.get(index).map(String::as_str)
    }

    /// The projection with each output column's null markers, and floats
    /// read with a decimal comma or not (see `cells.rs`).
    pub(crate) fn with_cell_rules(
        mut self,
        null_markers: Vec<NullMarkers>,
        decimal_comma: bool,
    ) -> Self {
        assert_eq!(
            null_markers.len(),
            self.columns.len(),
            "markers for each column"
        );
        self.null_markers = null_markers;
        self.decimal_comma = decimal_comma;
        self
    }

    /// The fields up to the last one read: the header's fields when it
    /// refuses extra ones.
    pub(crate) fn header_fields(&self) -> usize {
        self.targets.len()
    }

    /// Whether some output column is text.
    pub(crate) fn has_text(&self) -> bool {
        self.columns
            .iter()
            .any(|(_, kind)| *kind == ColumnKind::Text)
    }

    /// Output column `i`: name and kind.
    pub(crate) fn column(&self, i: usize) -> (&PlSmallStr, ColumnKind) {
        let (name, kind) = &self.columns[i];
        (name, *kind)
    }

    /// The output schema.
    pub(crate) fn schema(&self) -> Schema {
        self.columns
            .iter()
            .map(|(name, kind)| Field::new(name.clone(), kind.dtype()))
            .collect()
    }
}

/// What is wrong with a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// It does not hold a value of its column's type.
    NotOfType,
    /// A quoted text cell does not end at its closing quote, or holds a
    /// quote that is not doubled.
    BadQuotes,
    /// A text cell is not UTF-8.
    NotUtf8,
    /// The record has more fields than the header, and every field of the
    /// header is read (polars refuses such a record then, and drops the
    /// extra fields when only some columns are read).
    ExtraFields,
    /// A quote opens a field that is never closed, and the piece (the
    /// file's last) ends with a newline, inside the quotes: polars counts
    /// one record fewer than it parses then, and refuses the file whichever
    /// columns are read. The bad cell's record is the one holding the
    /// field; its column is not known (the reader finds it again).
    Unclosed,
    /// A quote inside a cell that does not start with one opens a quoted
    /// stretch holding a separator or a line break (see
    /// [`Scanner`](super::separators::Scanner)): polars splits such a file
    /// otherwise, or refuses it. The bad cell's record offset is the
    /// quote's own offset; its column is not known.
    StrayQuote,
}

/// A cell that cannot be read as its column's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadCell {
    /// What is wrong.
    pub problem: Problem,
    /// The output column index.
    pub column: usize,
    /// The cell's text (lossily decoded): unquoted for a number, as written
    /// for text.
    pub value: String,
    /// The byte offset, in the piece, of the record holding the cell.
    pub record_offset: usize,
}

/// The values of one output column for the records of a piece (a null
/// row holds a placeholder in all but texts).
enum Values {
    Float64(Vec<f64>),
    Float32(Vec<f32>),
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    UInt64(Vec<u64>),
    UInt32(Vec<u32>),
    Boolean(Vec<bool>),
    /// Texts and their nulls.
    Text(MutableBinaryViewArray<str>),
}

/// One output column being filled: values, and the rows that are null (of
/// numbers; texts keep their own).
struct ColumnBuffer {
    values: Values,
    nulls: Vec<usize>,
    /// Cells read as null.
    null_markers: NullMarkers,
    /// Whether a float's commas are decimal points.
    decimal_comma: bool,
    /// A float cell with its commas made points.
    scratch: Vec<u8>,
}

impl ColumnBuffer {
    fn new(
        kind: ColumnKind,
        capacity: usize,
        null_markers: NullMarkers,
        decimal_comma: bool,
    ) -> Self {
        let values = match kind {
            ColumnKind::Float64 => Values::Float64(Vec::with_capacity(capacity)),
            ColumnKind::Float32 => Values::Float32(Vec::with_capacity(capacity)),
            ColumnKind::Int64 => Values::Int64(Vec::with_capacity(capacity)),
            ColumnKind::Int32 => Values::Int32(Vec::with_capacity(capacity)),
            ColumnKind::UInt64 => Values::UInt64(Vec::with_capacity(capacity)),
            ColumnKind::UInt32 => Values::UInt32(Vec::with_capacity(capacity)),
            ColumnKind::Boolean => Values::Boolean(Vec::with_capacity(capacity)),
            ColumnKind::Text => Values::Text(MutableBinaryViewArray::with_capacity(capacity)),
        };
        Self {
            values,
            nulls: Vec::new(),
            null_markers,
            decimal_comma,
            scratch: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Float64(v) => v.len(),
            Values::Float32(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Int32(v) => v.len(),
            Values::UInt64(v) => v.len(),
            Values::UInt32(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::Text(texts) => texts.len(),
        }
    }

    fn push_null(&mut self) {
        if let Values::Text(texts) = &mut self.values {
            texts.push_null();
            return;
        }
        self.nulls.push(self.len());
        match &mut self.values {
            Values::Float64(v) => v.push(0.0),
            Values::Float32(v) => v.push(0.0),
            Values::Int64(v) => v.push(0),
            Values::Int32(v) => v.push(0),
            Values::UInt64(v) => v.push(0),
            Values::UInt32(v) => v.push(0),
            Values::Boolean(v) => v.push(false),
            Values::Text(_) => unreachable!("texts keep their own nulls"),
        }
    }

    /// Parses `field` (raw bytes, quotes and all) and appends it, or says
    /// what is wrong with it. `checked` is the same field as text, if it is
    /// known to be UTF-8.
    #[inline]
    fn push_field(&mut self, field: &[u8], checked: Option<&str>) -> Result<(), Problem> {
        if !self.null_markers.is_empty() && self.null_markers.matches(field) {
            self.push_null();
            return Ok(());
        }
        if let Values::Text(texts) = &mut self.values {
            let field = match checked {
                Some(field) => field,
                None => std::str::from_utf8(field).map_err(|_| Problem::NotUtf8)?,
            };
            if field.is_empty() {
                texts.push_null();
            } else {
                texts.push_value(&*text_cell(field)?);
            }
            return Ok(());
        }
        let field = unquote(field);
        if let Values::Boolean(v) = &mut self.values {
            // No blanks are skipped: polars takes the cell as it is.
            match field {
                [] => self.push_null(),
                _ if field.eq_ignore_ascii_case(b"true") => v.push(true),
                _ if field.eq_ignore_ascii_case(b"false") => v.push(false),
                _ => return Err(Problem::NotOfType),
            }
            return Ok(());
        }
        let start = field
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(field.len());
        let text = &field[start..];
        if text.is_empty() {
            self.push_null();
            return Ok(());
        }
        let not_of_type = |_| Problem::NotOfType;
        let Self {
            values,
            decimal_comma,
            scratch,
            ..
        } = self;
        match values {
            Values::Float64(v) => {
                let point = if *decimal_comma { b',' } else { b'.' };
                match plain_decimal(text, point) {
                    Some(x) => v.push(x),
                    None => {
                        let text = if *decimal_comma {
                            comma_as_point(text, scratch)
                        } else {
                            text
                        };
                        v.push(fast_float2::parse(text).map_err(not_of_type)?)
                    }
                }
            }
            Values::Float32(v) => {
                let text = if *decimal_comma {
                    comma_as_point(text, scratch)
                } else {
                    text
                };
                v.push(fast_float2::parse(text).map_err(not_of_type)?)
            }
            Values::Int64(v) => v.push(parse_integer(text)?),
            Values::Int32(v) => v.push(parse_integer(text)?),
            Values::UInt64(v) => v.push(parse_integer(text)?),
            Values::UInt32(v) => v.push(parse_integer(text)?),
            Values::Boolean(_) | Values::Text(_) => unreachable!("pushed above"),
        }
        Ok(())
    }

    fn into_series(self, name: PlSmallStr) -> Series {
        let nulls = self.nulls;
        match self.values {
            Values::Float64(v) => with_nulls::<Float64Type>(name, v, &nulls),
            Values::Float32(v) => with_nulls::<Float32Type>(name, v, &nulls),
            Values::Int64(v) => with_nulls::<Int64Type>(name, v, &nulls),
            Values::Int32(v) => with_nulls::<Int32Type>(name, v, &nulls),
            Values::UInt64(v) => with_nulls::<UInt64Type>(name, v, &nulls),
            Values::UInt32(v) => with_nulls::<UInt32Type>(name, v, &nulls),
            Values::Boolean(v) => {
                let validity = validity(v.len(), &nulls);
                let values = MutableBitmap::from_iter(v).into();
                let array = BooleanArray::new(ArrowDataType::Boolean, values, validity);
                BooleanChunked::with_chunk(name, array).into_series()
            }
            Values::Text(texts) => StringChunked::with_chunk(name, texts.freeze()).into_series(),
        }
    }
}

/// An integer of type `T`, parsed as polars parses it (`atoi_simd`, a
/// leading `+` or `-`); out of `T`'s range is an error.
#[inline]
fn parse_integer<T: atoi_simd::Parse>(text: &[u8]) -> Result<T, Problem> {
    atoi_simd::parse::<T, true, true>(text).map_err(|_| Problem::NotOfType)
}

/// The validity of `len` rows of which those in `nulls` are null (`None`
/// if none is).
fn validity(len: usize, nulls: &[usize]) -> Option<Bitmap> {
    if nulls.is_empty() {
        return None;
    }
    let mut validity = MutableBitmap::from_len_set(len);
    for &row in nulls {
        validity.set(row, false);
    }
    Some(validity.into())
}

/// A series from `values`, with the rows in `nulls` set to null.
fn with_nulls<T>(name: PlSmallStr, values: Vec<T::Native>, nulls: &[usize]) -> Series
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoSeries,
{
    if nulls.is_empty() {
        return ChunkedArray::<T>::from_vec(name, values).into_series();
    }
    let validity = validity(values.len(), nulls);
    let array = PrimitiveArray::from_vec(values).with_validity(validity);
    ChunkedArray::<T>::with_chunk(name, array).into_series()
}

/// The text of a text cell as written, quotes and all (see the module
/// docs).
#[inline]
fn text_cell(field: &str) -> Result<Cow<'_, str>, Problem> {
    let Some(quoted) = field.strip_prefix('"') else {
        return Ok(Cow::Borrowed(field));
    };
    let inner = quoted.strip_suffix('"').ok_or(Problem::BadQuotes)?;
    if !inner.contains('"') {
        return Ok(Cow::Borrowed(inner));
    }
    // Quotes inside come in pairs, each pair one quote of the text.
    let mut unescaped = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find('"') {
        if rest.as_bytes().get(at + 1) != Some(&b'"') {
            return Err(Problem::BadQuotes);
        }
        unescaped.push_str(&rest[..=at]);
        rest = &rest[at + 2..];
    }
    unescaped.push_str(rest);
    Ok(Cow::Owned(unescaped))
}

/// Parses every record of `piece` (whole records, the last one possibly
/// without its newline) into a data frame with `projection`'s columns,
/// fields separated by `separator`.
///
/// Field and record ends are found 64 bytes at a time (`separators.rs`); a
/// record's fields past the last wanted one are passed over unparsed.
///
/// A piece with text columns is checked to be UTF-8 once, whole, rather than
/// cell by cell; only a piece that is not has its text cells checked one by
/// one (to tell which, and so that other columns may hold any bytes).
pub(crate) fn parse_piece(
    piece: &[u8],
    projection: &Projection,
    separator: u8,
) -> Result<DataFrame, BadCell> {
    // About 40 bytes a record is a fair guess for a capacity; vectors grow if not.
    let capacity = piece.len() / 40 + 1;
    let mut record = Record {
        buffers: projection
            .columns
            .iter()
            .zip(&projection.null_markers)
            .map(|((_, kind), markers)| {
                ColumnBuffer::new(*kind, capacity, markers.clone(), projection.decimal_comma)
            })
            .collect(),
        targets: &projection.targets,
        piece,
        checked: projection
            .has_text()
            .then(|| std::str::from_utf8(piece).ok())
            .flatten(),
        start: 0,
        field_index: 0,
        filled: 0,
    };
    let mut scanner = Scanner::new(separator);
    let mut field_start = 0;
    let mut at = 0;
    while at < piece.len() {
        let stretch = scanner.stretch(piece, at);
        let mut ends = stretch.ends;
        while ends != 0 {
            if record.past_wanted() {
                if projection.refuses_extra_fields {
                    // The last field of the header ended at a separator.
                    return Err(stray_first(&scanner, record.extra_fields()));
                }
                // The rest of the record is not read: on to its newline,
                // in this stretch or a later one.
                let newlines = ends & stretch.newlines;
                if newlines == 0 {
                    break;
                }
                ends &= !((newlines & newlines.wrapping_neg()) - 1);
            }
            let bit = ends.trailing_zeros();
            ends &= ends - 1;
            let end = at + bit as usize;
            let end_of_record = stretch.newlines >> bit & 1 == 1;
            if let Err(bad) = record.field(field_start..end, end_of_record) {
                return Err(stray_first(&scanner, bad));
            }
            field_start = end + 1;
            if end_of_record {
                record.finish(field_start);
            }
        }
        at += 64;
    }
    // The piece ends inside quotes only if a quote is never closed: then
    // it is the file's last piece, and its last record runs to the end.
    let unclosed = scanner.ends_inside() && piece.last() == Some(&b'\n');
    let last_start = record.start;
    if field_start < piece.len() || record.field_index > 0 {
        // The last record has no newline. A separator after its header's
        // last field is no extra field unless something follows it.
        if projection.refuses_extra_fields && record.past_wanted() && field_start < piece.len() {
            return Err(stray_first(&scanner, record.extra_fields()));
        }
        if let Err(bad) = record.field(field_start..piece.len(), true) {
            return Err(stray_first(&scanner, bad));
        }
        record.finish(piece.len());
    }
    if unclosed {
        // After the record's own cells: a wanted one is refused as polars
        // refuses it, for what it holds.
        return Err(BadCell {
            problem: Problem::Unclosed,
            column: 0,
            value: String::new(),
            record_offset: last_start,
        });
    }
    // A quote never closed first: a stray quote after it may only be its
    // closing quote taken for one.
    if let Some(offset) = scanner.stray_quote() {
        return Err(stray_quote(offset));
    }
    let columns = record
        .buffers
        .into_iter()
        .zip(&projection.columns)
        .map(|(buffer, (name, _))| buffer.into_series(name.clone()).into_column())
        .collect();
    Ok(DataFrame::new_infer_height(columns).expect("all columns have one value per record"))
}

/// The error of a stray quote at `offset` (see [`Scanner`]).
fn stray_quote(offset: usize) -> BadCell {
    BadCell {
        problem: Problem::StrayQuote,
        column: 0,
        value: String::new(),
        record_offset: offset,
    }
}

/// `bad`, or a stray quote found before its record, which split the
/// records otherwise than polars would (and so may be why `bad` is bad).
/// A bad cell in the stray quote's own record is refused for what it holds.
fn stray_first(scanner: &Scanner, bad: BadCell) -> BadCell {
    match scanner.stray_quote() {
        Some(offset) if offset < bad.record_offset => stray_quote(offset),
        _ => bad,
    }
}

/// The record being parsed, and the columns filled so far.
struct Record<'a> {
    buffers: Vec<ColumnBuffer>,
    /// For each field index up to the last wanted one, its output column.
    targets: &'a [Option<usize>],
    /// The piece's bytes.
    piece: &'a [u8],
    /// The piece as text, if it has text columns and is UTF-8.
    checked: Option<&'a str>,
    /// The byte offset of the record in the piece.
    start: usize,
    /// The index of the next field in the record.
    field_index: usize,
    /// The wanted fields of the record parsed so far.
    filled: usize,
}

impl Record<'_> {
    /// Takes the record's next field (the piece's bytes `field`, quotes and
    /// all). Inlined into the loop over separators: most fields are not
    /// wanted, and for them this is a lookup and an increment, not a call.
    #[inline(always)]
    fn field(&mut self, field: Range<usize>, end_of_record: bool) -> Result<(), BadCell> {
        let target = self.targets.get(self.field_index).copied().flatten();
        self.field_index += 1;
        match target {
            Some(column) => self.wanted(column, field, end_of_record),
            None => Ok(()),
        }
    }

    /// Whether the record's wanted fields are all behind it.
    #[inline(always)]
    fn past_wanted(&self) -> bool {
        self.field_index >= self.targets.len()
    }

    /// Parses a wanted field into output column `column`.
    fn wanted(
        &mut self,
        column: usize,
        mut field: Range<usize>,
        end_of_record: bool,
    ) -> Result<(), BadCell> {
        if end_of_record && field.end > field.start && self.piece[field.end - 1] == b'\r' {
            field.end -= 1;
        }
        // Cut at separators, which are ASCII: the same cell as text.
        let checked = self.checked.map(|text| &text[field.clone()]);
        let field = &self.piece[field];
        if let Err(problem) = self.buffers[column].push_field(field, checked) {
            let shown = match problem {
                Problem::NotOfType => unquote(field),
                Problem::BadQuotes
                | Problem::NotUtf8
                | Problem::ExtraFields
                | Problem::Unclosed
                | Problem::StrayQuote => field,
            };
            return Err(BadCell {
                problem,
                column,
                value: String::from_utf8_lossy(shown).into_owned(),
                record_offset: self.start,
            });
        }
        self.filled += 1;
        Ok(())
    }

    /// The record has more fields than its header.
    fn extra_fields(&self) -> BadCell {
        BadCell {
            problem: Problem::ExtraFields,
            column: self.buffers.len() - 1,
            value: String::new(),
            record_offset: self.start,
        }
    }

    /// Ends the record (the next one starts at `next_start`): the columns it
    /// did not reach are null.
    #[inline]
    fn finish(&mut self, next_start: usize) {
        if self.filled < self.buffers.len() {
            let rows = self
                .buffers
                .iter()
                .map(ColumnBuffer::len)
                .max()
                .unwrap_or(0);
            let rows = if self.filled == 0 { rows + 1 } else { rows };
            for buffer in &mut self.buffers {
                while buffer.len() < rows {
                    buffer.push_null();
                }
            }
        }
        self.start = next_start;
        self.field_index = 0;
        self.filled = 0;
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
