//! Data frames in the command line's output (cargo feature `polars`): the
//! first rows as a plain text table, or as JSON rows.

use polars::prelude::*;
use serde_json::{Map, Number, Value as Json, json};

use crate::frame::collect_streaming;

/// A frame as JSON: `{"columns": [names], "row_count": n, "rows": [{column:
/// cell}]}` with at most `rows` rows (every row for `None`). Integers stay
/// integers, floats keep full precision, nulls are `null`.
///
/// # Errors
/// If the frame's query fails.
pub fn frame_json(frame: &LazyFrame, rows: Option<usize>) -> PolarsResult<Json> {
    let (head, row_count) = head_and_count(frame, rows)?;
    let columns: Vec<String> = head
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    Ok(json!({
        "columns": columns,
        "row_count": row_count,
        "rows": rows_json(&head)?,
    }))
}

/// A frame's first `rows` rows as a plain text table (no box drawing, so it
/// pastes well into logs), then how many rows it has when it has more.
///
/// # Errors
/// If the frame's query fails.
pub fn frame_table(frame: &LazyFrame, rows: usize) -> PolarsResult<String> {
    let (head, row_count) = head_and_count(frame, Some(rows))?;
    let mut cells: Vec<Vec<String>> = vec![
        head.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
    ];
    for row in 0..head.height() {
        let mut line = Vec::with_capacity(head.width());
        for column in head.columns() {
            line.push(match cell(column.get(row)?, column.dtype()) {
                // One line per row: line breaks and tabs inside a cell are
                // shown escaped.
                Json::String(s) if s.contains(['\n', '\r', '\t']) => s
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
                    .replace('\t', "\\t"),
                Json::String(s) => s,
                Json::Number(n) if n.is_f64() => format!("{:.4}", n.as_f64().unwrap_or(f64::NAN)),
                other => other.to_string(),
            });
        }
        cells.push(line);
    }
    let widths: Vec<usize> = (0..head.width())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, text)| format!("{text:>width$}", width = widths[c]))
            .collect();
        out.push_str("  ");
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if row_count > head.height() as u64 {
        out.push_str(&format!(
            "  … {} rows in all ({} shown)\n",
            row_count,
            head.height()
        ));
    }
    Ok(out)
}

/// Stored frames up to this size are read whole to be shown (see
/// [`head_and_count`]).
const READ_WHOLE_BYTES: u64 = 8 << 20;

/// The first `rows` rows (all for `None`) and the frame's row count. A small
/// stored frame (a task's result table, typically) is read whole, without
/// the query engine; any other frame is queried for its head and count.
fn head_and_count(frame: &LazyFrame, rows: Option<usize>) -> PolarsResult<(DataFrame, u64)> {
    if let Some(all) = crate::frame::read_small_stored(frame, READ_WHOLE_BYTES) {
        let all = all?;
        let count = all.height() as u64;
        let head = match rows {
            Some(rows) if rows < all.height() => all.head(Some(rows)),
            _ => all,
        };
        return Ok((head, count));
    }
    match rows {
        None => {
            let all = collect_streaming(frame.clone())?;
            let count = all.height() as u64;
            Ok((all, count))
        }
        Some(rows) => {
            let limit = IdxSize::try_from(rows).unwrap_or(IdxSize::MAX);
            let head = collect_streaming(frame.clone().slice(0, limit))?;
            if head.height() < rows {
                let count = head.height() as u64;
                return Ok((head, count));
            }
            let counted = collect_streaming(frame.clone().select([len().alias("rows")]))?;
            let count = counted
                .column("rows")?
                .get(0)?
                .extract::<u64>()
                .unwrap_or(head.height() as u64);
            Ok((head, count))
        }
    }
}

/// Every row as a JSON object, columns in frame order.
fn rows_json(frame: &DataFrame) -> PolarsResult<Vec<Json>> {
    let columns = frame.columns();
    (0..frame.height())
        .map(|row| {
            let mut object = Map::new();
            for column in columns {
                object.insert(
                    column.name().to_string(),
                    cell(column.get(row)?, column.dtype()),
                );
            }
            Ok(Json::Object(object))
        })
        .collect()
}

/// One cell as JSON: integers stay integers, floats keep full precision.
fn cell(value: AnyValue<'_>, dtype: &DataType) -> Json {
    if value.is_null() {
        return Json::Null;
    }
    if let Some(text) = value.get_str() {
        return Json::String(text.to_owned());
    }
    if let AnyValue::Boolean(b) = value {
        return Json::Bool(b);
    }
    if dtype.is_integer()
        && let Some(n) = value.extract::<i64>()
    {
        return Json::Number(n.into());
    }
    if dtype.is_primitive_numeric()
        && let Some(n) = value.extract::<f64>().and_then(Number::from_f64)
    {
        return Json::Number(n);
    }
    Json::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: i64) -> LazyFrame {
        df!(
            "id" => (0..n).collect::<Vec<i64>>(),
            "score" => (0..n).map(|i| i as f64 / 3.0).collect::<Vec<f64>>(),
            "name" => (0..n).map(|i| format!("c{i}")).collect::<Vec<String>>(),
        )
        .unwrap()
        .lazy()
    }

    #[test]
    fn a_frame_as_json_keeps_integers_and_full_precision() {
        let json = frame_json(&numbers(3), None).unwrap();
        assert_eq!(json["columns"], json!(["id", "score", "name"]));
        assert_eq!(json["row_count"], 3);
        assert_eq!(
            json["rows"][2],
            json!({"id": 2, "score": 2.0 / 3.0, "name": "c2"})
        );
    }

    #[test]
    fn a_table_keeps_one_line_per_row_whatever_its_cells_hold() {
        let notes = df!(
            "id" => [1i64, 2],
            "note" => ["Deliver to back door,\r\nring twice", "tab\there"],
        )
        .unwrap()
        .lazy();
        let table = frame_table(&notes, 10).unwrap();
        assert_eq!(table.lines().count(), 3, "{table}");
        assert!(
            table.contains("Deliver to back door,\\r\\nring twice"),
            "{table}"
        );
        assert!(table.contains("tab\\there"), "{table}");
    }

    #[test]
    fn a_long_frame_shows_its_first_rows_and_its_length() {
        let json = frame_json(&numbers(50), Some(4)).unwrap();
        assert_eq!(json["row_count"], 50);
        assert_eq!(json["rows"].as_array().unwrap().len(), 4);
        let table = frame_table(&numbers(50), 2).unwrap();
        assert_eq!(
            table,
            "  id   score  name\n   0  0.0000    c0\n   1  0.3333    c1\n  … 50 rows in all (2 shown)\n"
        );
        assert!(!frame_table(&numbers(2), 2).unwrap().contains("in all"));
    }
}
