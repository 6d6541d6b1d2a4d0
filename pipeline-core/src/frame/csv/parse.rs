//! Parsing the records of one piece of a CSV file into numeric columns.
//!
//! Cell rules, the same as the polars CSV reader's for these types: a field
//! may be double-quoted (the quotes are removed); leading spaces and tabs are
//! skipped; an empty field, or a field missing from a short record, is null;
//! a `\r` before the newline is dropped. Floats are parsed with `fast-float2`
//! and integers with `atoi_simd`, the parsers polars uses, so both readers
//! agree on every value.

use polars::prelude::*;

/// The type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// 64-bit float (`Float64`).
    Float64,
    /// 64-bit signed integer (`Int64`); a fractional value is an error.
    Int64,
}

impl ColumnKind {
    /// The kind of a polars type, if the reader reads it.
    pub(crate) fn of(dtype: &DataType) -> Option<Self> {
        match dtype {
            DataType::Float64 => Some(ColumnKind::Float64),
            DataType::Int64 => Some(ColumnKind::Int64),
            _ => None,
        }
    }

    /// The polars type.
    pub(crate) fn dtype(self) -> DataType {
        match self {
            ColumnKind::Float64 => DataType::Float64,
            ColumnKind::Int64 => DataType::Int64,
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
}

impl Projection {
    /// A projection feeding output column `i` from field `fields[i]`.
    pub(crate) fn new(fields: &[usize], columns: Vec<(PlSmallStr, ColumnKind)>) -> Self {
        let last = fields.iter().copied().max().unwrap_or(0);
        let mut targets = vec![None; last + 1];
        for (column, &field) in fields.iter().enumerate() {
            targets[field] = Some(column);
        }
        Self { targets, columns }
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

/// A cell that does not hold a number of its column's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadCell {
    /// The output column index.
    pub column: usize,
    /// The cell's text (lossily decoded).
    pub value: String,
    /// The byte offset, in the piece, of the record holding the cell.
    pub record_offset: usize,
}

/// The values of one output column for the records of a piece.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

/// One output column being filled: values, and the rows that are null.
struct ColumnBuffer {
    values: Values,
    nulls: Vec<usize>,
}

impl ColumnBuffer {
    fn new(kind: ColumnKind, capacity: usize) -> Self {
        let values = match kind {
            ColumnKind::Float64 => Values::Float(Vec::with_capacity(capacity)),
            ColumnKind::Int64 => Values::Int(Vec::with_capacity(capacity)),
        };
        Self {
            values,
            nulls: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
        }
    }

    fn push_null(&mut self) {
        self.nulls.push(self.len());
        match &mut self.values {
            Values::Float(v) => v.push(0.0),
            Values::Int(v) => v.push(0),
        }
    }

    /// Parses `field` (raw bytes, quotes and all) and appends it; `false` if
    /// it is not a number of the column's type.
    #[inline]
    fn push_field(&mut self, field: &[u8]) -> bool {
        let field = unquote(field);
        let start = field
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(field.len());
        let text = &field[start..];
        if text.is_empty() {
            self.push_null();
            return true;
        }
        match &mut self.values {
            Values::Float(v) => match fast_float2::parse::<f64, _>(text) {
                Ok(x) => v.push(x),
                Err(_) => return false,
            },
            Values::Int(v) => match atoi_simd::parse::<i64, true, true>(text) {
                Ok(x) => v.push(x),
                Err(_) => return false,
            },
        }
        true
    }

    fn into_series(self, name: PlSmallStr) -> Series {
        let nulls = self.nulls;
        match self.values {
            Values::Float(v) => with_nulls::<Float64Type>(name, v, &nulls),
            Values::Int(v) => with_nulls::<Int64Type>(name, v, &nulls),
        }
    }
}

/// A series from `values`, with the rows in `nulls` (ascending) set to null.
fn with_nulls<T>(name: PlSmallStr, values: Vec<T::Native>, nulls: &[usize]) -> Series
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoSeries,
{
    if nulls.is_empty() {
        return ChunkedArray::<T>::from_vec(name, values).into_series();
    }
    let mut next_null = nulls.iter().copied().peekable();
    let options = values.into_iter().enumerate().map(|(row, value)| {
        if next_null.peek() == Some(&row) {
            next_null.next();
            None
        } else {
            Some(value)
        }
    });
    ChunkedArray::<T>::from_iter_options(name, options).into_series()
}

/// The field without its surrounding double quotes, if it starts with one
/// (as polars does, the last byte is then dropped whatever it is).
#[inline]
fn unquote(field: &[u8]) -> &[u8] {
    match field {
        [b'"', inner @ .., _] => inner,
        [b'"'] => &[],
        _ => field,
    }
}

/// Parses every record of `piece` (whole records, the last one possibly
/// without its newline) into a data frame with `projection`'s columns.
pub(crate) fn parse_piece(piece: &[u8], projection: &Projection) -> Result<DataFrame, BadCell> {
    // About 40 bytes a record is a fair guess for a capacity; vectors grow if not.
    let capacity = piece.len() / 40 + 1;
    let mut buffers: Vec<ColumnBuffer> = projection
        .columns
        .iter()
        .map(|(_, kind)| ColumnBuffer::new(*kind, capacity))
        .collect();
    let targets = &projection.targets;
    let mut at = 0;
    while at < piece.len() {
        let record_start = at;
        let mut field_index = 0;
        let mut filled = 0;
        // Walk the fields up to the last wanted one.
        let record_done = loop {
            let (field, next, end_of_record) = next_field(piece, at);
            at = next;
            if let Some(&Some(column)) = targets.get(field_index) {
                let field = if end_of_record {
                    field.strip_suffix(b"\r").unwrap_or(field)
                } else {
                    field
                };
                if !buffers[column].push_field(field) {
                    return Err(BadCell {
                        column,
                        value: String::from_utf8_lossy(unquote(field)).into_owned(),
                        record_offset: record_start,
                    });
                }
                filled += 1;
            }
            field_index += 1;
            if end_of_record {
                break true;
            }
            if field_index == targets.len() {
                break false;
            }
        };
        if !record_done {
            at = skip_record(piece, at);
        }
        if filled < buffers.len() {
            // A short record: the columns it did not reach are null.
            let rows = buffers.iter().map(ColumnBuffer::len).max().unwrap_or(0);
            let rows = if filled == 0 { rows + 1 } else { rows };
            for buffer in &mut buffers {
                while buffer.len() < rows {
                    buffer.push_null();
                }
            }
        }
    }
    let columns = buffers
        .into_iter()
        .zip(&projection.columns)
        .map(|(buffer, (name, _))| buffer.into_series(name.clone()).into_column())
        .collect();
    Ok(DataFrame::new_infer_height(columns).expect("all columns have one value per record"))
}

/// The field starting at `at`: its bytes (quotes included), where the next
/// field or record starts, and whether the field ended its record.
#[inline]
fn next_field(piece: &[u8], at: usize) -> (&[u8], usize, bool) {
    let rest = &piece[at..];
    if rest.first() == Some(&b'"') {
        return next_quoted_field(piece, at);
    }
    match memchr::memchr2(b',', b'\n', rest) {
        Some(i) => (&rest[..i], at + i + 1, rest[i] == b'\n'),
        None => (rest, piece.len(), true),
    }
}

/// [`next_field`] for a field starting with a double quote: the field runs to
/// the first comma or newline after the closing quote (`""` is an escaped
/// quote, not a closing one).
fn next_quoted_field(piece: &[u8], at: usize) -> (&[u8], usize, bool) {
    let rest = &piece[at..];
    let mut in_quotes = false;
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' | b'\n' if !in_quotes => return (&rest[..i], at + i + 1, b == b'\n'),
            _ => {}
        }
    }
    (rest, piece.len(), true)
}

/// Where the record containing `at` ends (one past its newline), `at` being
/// at a field start.
fn skip_record(piece: &[u8], at: usize) -> usize {
    super::split::record_end_after(piece, at, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projection() -> Projection {
        Projection::new(
            &[1, 3],
            vec![
                ("f".into(), ColumnKind::Float64),
                ("i".into(), ColumnKind::Int64),
            ],
        )
    }

    #[test]
    fn wanted_fields_are_parsed_and_others_skipped() {
        let piece = b"x,1.5,y,7,z\n\"q,q\",\"2\",\"w\nw\",-3\r\n,,\n";
        let frame = parse_piece(piece, &projection()).unwrap();
        let f: Vec<Option<f64>> = frame.column("f").unwrap().f64().unwrap().iter().collect();
        let i: Vec<Option<i64>> = frame.column("i").unwrap().i64().unwrap().iter().collect();
        assert_eq!(f, [Some(1.5), Some(2.0), None]);
        assert_eq!(i, [Some(7), Some(-3), None]);
    }

    #[test]
    fn a_bad_cell_names_its_column_value_and_record() {
        let piece = b"a,1,b,2\na,2.5,b,x3\n";
        let bad = parse_piece(piece, &projection()).unwrap_err();
        assert_eq!(
            bad,
            BadCell {
                column: 1,
                value: "x3".to_owned(),
                record_offset: 8
            }
        );
        let fractional = parse_piece(b"a,1,b,2.5", &projection()).unwrap_err();
        assert_eq!(fractional.value, "2.5");
    }

    #[test]
    fn leading_blanks_are_skipped_and_a_last_record_needs_no_newline() {
        let frame = parse_piece(b"a, 1e3,b,\t+4", &projection()).unwrap();
        assert_eq!(
            frame.column("f").unwrap().f64().unwrap().get(0),
            Some(1000.0)
        );
        assert_eq!(frame.column("i").unwrap().i64().unwrap().get(0), Some(4));
    }
}
