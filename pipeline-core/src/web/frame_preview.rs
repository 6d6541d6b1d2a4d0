//! A data frame as the data node page shows it (cargo feature `polars`): its
//! schema, its row count and its first rows, each read lazily (the first
//! rows only are decoded, the count comes from the file's metadata when
//! polars can tell).

use std::any::Any;

use polars::prelude::*;
use serde::Serialize;

use crate::value::ValueType;

/// Rows shown.
pub(super) const HEAD_ROWS: usize = 20;

/// Longest cell shown, in characters.
const CELL: usize = 80;

/// A column of the schema.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) dtype: String,
}

/// What the page shows of a frame.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FramePreview {
    pub(super) columns: Vec<Column>,
    pub(super) rows: u64,
    /// The first rows, each cell as text (nulls as `null`).
    pub(super) head: Vec<Vec<String>>,
}

/// The preview of `value` if its type is a frame (`None` otherwise), or the
/// reason polars could not read it.
pub(super) fn preview(
    value_type: &ValueType,
    value: &(dyn Any + Send + Sync),
) -> Option<Result<FramePreview, String>> {
    let frame = value_type.as_lazy_frame(value)?;
    Some(read(frame).map_err(|e| format!("polars could not read the frame: {e}")))
}

fn read(frame: LazyFrame) -> PolarsResult<FramePreview> {
    let schema = frame.clone().collect_schema()?;
    let columns = schema
        .iter()
        .map(|(name, dtype)| Column {
            name: name.to_string(),
            dtype: dtype.to_string(),
        })
        .collect();
    let count = frame.clone().select([len().alias("rows")]).collect()?;
    let rows = count.column("rows")?.get(0)?.extract::<u64>().unwrap_or(0);
    let head = frame.slice(0, HEAD_ROWS as IdxSize).collect()?;
    let mut cells = vec![Vec::with_capacity(head.width()); head.height()];
    for column in head.columns() {
        for (row, cell) in cells.iter_mut().enumerate() {
            let text = match column.get(row)? {
                AnyValue::Null => "null".to_owned(),
                AnyValue::String(s) => s.to_owned(),
                AnyValue::StringOwned(s) => s.to_string(),
                other => other.to_string(),
            };
            cell.push(clip(text));
        }
    }
    Ok(FramePreview {
        columns,
        rows,
        head: cells,
    })
}

fn clip(text: String) -> String {
    if text.chars().count() <= CELL {
        text
    } else {
        let mut cut: String = text.chars().take(CELL - 1).collect();
        cut.push('…');
        cut
    }
}
