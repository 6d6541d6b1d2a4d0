//! The parallel CSV reader's null values and decimal comma (polars'
//! `null_values` and `decimal_comma`) against polars' own reader on random
//! files, and a user's scan with them fed by the reader.

use std::path::Path;

use pipeline_core::frame::LazyFrame;
use pipeline_core::frame::csv::{CsvError, ReadOptions};
use pipeline_core::memory::DEFAULT_VALUE_MEMORY;
use polars::prelude::*;
use proptest::prelude::*;

mod csv_support;
use csv_support::{read_columns, run_task, write};

const NAMES: [&str; 5] = ["price", "ratio", "count", "flag", "label"];

fn columns() -> [(&'static str, DataType); 5] {
    [
        ("price", DataType::Float64),
        ("ratio", DataType::Float32),
        ("count", DataType::Int64),
        ("flag", DataType::Boolean),
        ("label", DataType::String),
    ]
}

/// The markers drawn for cells: some are null under a rule, some not.
const MARKERS: [&str; 4] = ["NA", "null", "-", ""];

/// How null values are given (`rule` picks one).
fn null_values(rule: usize) -> Option<NullValues> {
    match rule {
        0 => None,
        1 => Some(NullValues::AllColumnsSingle("NA".into())),
        2 => Some(NullValues::AllColumns(vec!["NA".into(), "null".into()])),
        // `label` is not named: a quoted empty text is null in it.
        _ => Some(NullValues::Named(vec![
            ("price".into(), "-".into()),
            ("flag".into(), "null".into()),
        ])),
    }
}

/// Whether `marker` is null in `column` under `rule` (an empty cell always is).
fn is_null(rule: usize, column: &str, marker: &str) -> bool {
    marker.is_empty()
        || match rule {
            0 => false,
            1 => marker == "NA",
            2 => marker == "NA" || marker == "null",
            _ => matches!((column, marker), ("price", "-") | ("flag", "null")),
        }
}

/// One cell of column `column` (index into [`NAMES`]): a value of its type
/// (a float written with a decimal comma when `comma`), or a marker,
/// quoted or not. Markers that are not null under `rule` are drawn only
/// for the text column, where they are text.
fn cell(column: usize, rule: usize, comma: bool) -> impl Strategy<Value = String> {
    let name = NAMES[column];
    let value: BoxedStrategy<String> = match column {
        0 | 1 => (-1e5f64..1e5)
            .prop_map(move |x| {
                let text = format!("{x:.3}");
                if comma { text.replace('.', ",") } else { text }
            })
            .boxed(),
        2 => (-1000i64..1000).prop_map(|x| x.to_string()).boxed(),
        3 => prop_oneof![Just("true"), Just("False")]
            .prop_map(str::to_owned)
            .boxed(),
        _ => "[a-z ,;\"]{0,6}"
            .prop_map(|text| {
                if text.is_empty() {
                    text
                } else {
                    format!("\"{}\"", text.replace('"', "\"\""))
                }
            })
            .boxed(),
    };
    let markers: Vec<&'static str> = MARKERS
        .into_iter()
        .filter(|marker| name == "label" || is_null(rule, name, marker))
        .collect();
    prop_oneof![
        3 => value,
        2 => (prop::sample::select(markers), any::<bool>()).prop_map(|(marker, quoted)| {
            if quoted { format!("\"{marker}\"") } else { marker.to_owned() }
        }),
    ]
}

/// A file of the five columns, its separator, its null values' rule and
/// whether floats have a decimal comma; and the reader's sizes.
fn file() -> impl Strategy<Value = (String, ReadOptions, usize)> {
    (
        0usize..4,
        any::<bool>(),
        prop::sample::select(vec![b',', b';', b'\t']),
    )
        .prop_flat_map(|(rule, comma, separator)| {
            let row = (
                cell(0, rule, comma),
                cell(1, rule, comma),
                cell(2, rule, comma),
                cell(3, rule, comma),
                cell(4, rule, comma),
            );
            (
                prop::collection::vec(row, 0..50),
                Just((rule, comma, separator)),
                any::<bool>(),
                1usize..300,
                1usize..80,
                1usize..4,
            )
        })
        .prop_map(
            |(rows, (rule, comma, separator), crlf, block_bytes, piece_bytes, threads)| {
                let eol = if crlf { "\r\n" } else { "\n" };
                let sep = char::from(separator).to_string();
                let mut text = NAMES.join(&sep);
                for (price, ratio, count, flag, label) in rows {
                    let cells: Vec<String> = [price, ratio, count, flag, label]
                        .into_iter()
                        .map(|cell| {
                            // A cell holding the separator must be quoted.
                            if cell.contains(&sep) && !cell.starts_with('"') {
                                format!("\"{cell}\"")
                            } else {
                                cell
                            }
                        })
                        .collect();
                    text.push_str(eol);
                    text.push_str(&cells.join(&sep));
                }
                text.push_str(eol);
                let options = ReadOptions::default()
                    .with_block_bytes(block_bytes)
                    .with_piece_bytes(piece_bytes)
                    .with_threads(threads)
                    .with_separator(separator)
                    .with_null_values(null_values(rule))
                    .with_decimal_comma(comma);
                (text, options, rule)
            },
        )
}

/// `columns` read by polars with the same separator, null values and
/// decimal comma.
fn polars_read(
    path: &Path,
    columns: &[(&str, DataType)],
    options: &ReadOptions,
) -> PolarsResult<DataFrame> {
    let types: Schema = columns
        .iter()
        .map(|(name, dtype)| Field::new((*name).into(), dtype.clone()))
        .collect();
    LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
        .with_has_header(true)
        .with_separator(options.separator)
        .with_null_values(options.null_values.clone())
        .with_decimal_comma(options.decimal_comma)
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(std::sync::Arc::new(types)))
        .finish()?
        .select(
            columns
                .iter()
                .map(|(name, _)| col(*name))
                .collect::<Vec<_>>(),
        )
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn null_values_and_decimal_commas_are_read_as_polars_reads_them(
        (text, options, _rule) in file(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &text);
        let ours = read_columns(&path, &columns(), &options).unwrap();
        let theirs = polars_read(&path, &columns(), &options).unwrap();
        prop_assert_eq!(ours.schema(), theirs.schema());
        prop_assert!(
            ours.equals_missing(&theirs),
            "file:\n{}\nours:\n{}\npolars:\n{}", text, ours, theirs
        );
    }
}

#[test]
fn a_marker_that_is_not_a_null_value_is_a_bad_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "price,count\n1.5,NA\n-,2\n");
    let options = ReadOptions::default().with_null_values(null_values(1));
    let wanted = [("price", DataType::Float64), ("count", DataType::Int64)];
    match read_columns(&path, &wanted, &options).unwrap_err() {
        CsvError::BadCell {
            column,
            value,
            line,
            ..
        } => {
            assert_eq!(
                (column.as_str(), value.as_str(), line),
                ("price", "-", Some(3))
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(polars_read(&path, &wanted, &options).is_err());
}

#[test]
fn null_values_naming_a_column_the_file_lacks_are_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "price,count\n1.5,1\n");
    let options = ReadOptions::default()
        .with_null_values(Some(NullValues::Named(vec![("cost".into(), "-".into())])));
    let error = read_columns(&path, &[("price", DataType::Float64)], &options).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("no column `cost`") && message.contains("price, count"),
        "{message}"
    );
}

/// A user's own scan of a European export: `;` between fields, decimal
/// commas, `NA` for nothing, types inferred.
fn export_scan(path: &Path) -> LazyFrame {
    LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
        .with_has_header(true)
        .with_separator(b';')
        .with_decimal_comma(true)
        .with_null_values(Some(NullValues::AllColumnsSingle("NA".into())))
        .finish()
        .unwrap()
}

/// Names, amounts doubled and counts of the export.
fn european(path: &Path) -> LazyFrame {
    export_scan(path).select([
        col("name"),
        (col("amount") * lit(2.0)).alias("double"),
        col("count"),
    ])
}

#[test]
fn a_task_over_a_european_export_is_fed_by_the_parallel_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id;name;amount;count\n");
    for row in 0..500 {
        let amount = if row % 11 == 0 {
            "NA".to_owned()
        } else {
            format!("{row},25")
        };
        let count = if row % 7 == 0 {
            "NA".to_owned()
        } else {
            row.to_string()
        };
        text.push_str(&format!("{row};\"n; {row}, x\";{amount};{count}\n"));
    }
    let path = write(dir.path(), &text);
    let (frame, _) = run_task(&path, european, DEFAULT_VALUE_MEMORY).unwrap();
    let theirs = european(&path).collect().unwrap();
    assert_eq!(frame.schema(), theirs.schema());
    assert!(frame.equals_missing(&theirs), "{frame}\n{theirs}");
    assert_eq!(frame.column("double").unwrap().null_count(), 46);
    assert_eq!(frame.column("count").unwrap().null_count(), 72);
    // Only the parallel reader refuses a badly quoted text cell so: the
    // task was fed by it.
    let late = write(dir.path(), &format!("{text}1;\"late\"x;2,5;3\n"));
    let error = run_task(&late, european, DEFAULT_VALUE_MEMORY).unwrap_err();
    assert!(
        error.contains("not properly quoted") && error.contains("line 502"),
        "{error}"
    );
}

/// Per key of the same export: medians, sums and counts (the median passes
/// and the grouped reads take the scan's cell rules too).
fn european_by_key(path: &Path) -> LazyFrame {
    export_scan(path).group_by_stable([col("key")]).agg([
        col("amount").median().alias("median"),
        col("amount").sum().alias("sum"),
        col("count").count().alias("counted"),
    ])
}

/// The aggregations of all rows of the same export.
fn european_overall(path: &Path) -> LazyFrame {
    export_scan(path).select([
        col("amount").median().alias("median"),
        col("amount").mean().alias("mean"),
        col("count").sum().alias("sum"),
    ])
}

#[test]
fn aggregations_over_a_european_export_get_polars_rows_in_memory_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("key;amount;count\n");
    for row in 0u64..20_000 {
        let amount = if row % 13 == 0 {
            "NA".to_owned()
        } else {
            format!("\"{},{}\"", (row * 7919) % 1000, row % 100)
        };
        let count = if row % 5 == 0 {
            "NA".to_owned()
        } else {
            (row % 17).to_string()
        };
        text.push_str(&format!("k{};{amount};{count}\n", row % 9));
    }
    let path = write(dir.path(), &text);
    for query in [european_by_key, european_overall] {
        let theirs = query(&path).collect().unwrap();
        for frame_memory in [DEFAULT_VALUE_MEMORY, 0] {
            let (ours, _) = run_task(&path, query, frame_memory).unwrap();
            assert_eq!(ours.schema(), theirs.schema());
            // Sums and means of blocks add up in another order.
            let close = ours.columns().iter().zip(theirs.columns()).all(|(a, b)| {
                match (
                    a.as_materialized_series().f64(),
                    b.as_materialized_series().f64(),
                ) {
                    (Ok(a), Ok(b)) => a.iter().zip(b.iter()).all(|(x, y)| match (x, y) {
                        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                        (x, y) => x == y,
                    }),
                    _ => a == b,
                }
            });
            assert!(
                close,
                "frame memory {frame_memory}:\n{ours}\npolars:\n{theirs}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_said_so_whatever_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    for query in [european, european_by_key, european_overall] {
        let error = run_task(&missing, query, DEFAULT_VALUE_MEMORY).unwrap_err();
        assert!(
            error.contains(&format!(
                "cannot read csv file `{}`: No such file",
                missing.display()
            )),
            "{error}"
        );
        assert!(!error.contains("polars"), "{error}");
    }
}
