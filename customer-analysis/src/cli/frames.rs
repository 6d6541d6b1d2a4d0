//! Small result frames as JSON rows and as text tables.

use polars::prelude::*;
use serde_json::{Map, Number, Value as Json};

/// One cell as JSON: integers stay integers, floats keep full precision.
fn cell(value: AnyValue<'_>, dtype: &DataType) -> Json {
    if value.is_null() {
        return Json::Null;
    }
    if let Some(text) = value.get_str() {
        return Json::String(text.to_owned());
    }
    if dtype.is_integer()
        && let Some(n) = value.extract::<i64>()
    {
        return Json::Number(n.into());
    }
    match value.extract::<f64>().and_then(Number::from_f64) {
        Some(n) => Json::Number(n),
        None => Json::String(value.to_string()),
    }
}

/// Every row as a JSON object, columns in frame order.
pub fn rows(frame: &DataFrame) -> PolarsResult<Vec<Json>> {
    let columns: Vec<&Column> = frame.columns().iter().collect();
    (0..frame.height())
        .map(|row| {
            let mut object = Map::new();
            for column in &columns {
                object.insert(
                    column.name().to_string(),
                    cell(column.get(row)?, column.dtype()),
                );
            }
            Ok(Json::Object(object))
        })
        .collect()
}

/// A plain text table (no box drawing, so it pastes well into logs).
pub fn table(frame: &DataFrame) -> PolarsResult<String> {
    let mut cells: Vec<Vec<String>> = vec![
        frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
    ];
    for row in 0..frame.height() {
        let mut line = Vec::with_capacity(frame.width());
        for column in frame.columns() {
            line.push(match cell(column.get(row)?, column.dtype()) {
                Json::String(s) => s,
                Json::Number(n) if n.is_f64() => format!("{:.4}", n.as_f64().unwrap_or(f64::NAN)),
                other => other.to_string(),
            });
        }
        cells.push(line);
    }
    let widths: Vec<usize> = (0..frame.width())
        .map(|c| cells.iter().map(|r| r[c].len()).max().unwrap_or(0))
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
    Ok(out)
}
