//! The parallel CSV reader's other column types (`Float32`, `Int32`,
//! `UInt32`, `UInt64`, `Boolean`) against polars' own reader on random
//! files, their bad cells reported with their line, and a task whose scan
//! infers its types or reads another separator (`LazyCsvReader` as a user
//! writes it) fed by the reader.

use std::path::Path;

use pipeline_core::frame::LazyFrame;
use pipeline_core::frame::csv::{CsvError, ReadOptions};
use pipeline_core::memory::DEFAULT_VALUE_MEMORY;
use polars::prelude::*;
use proptest::prelude::*;

mod csv_support;
use csv_support::{polars_read, read_columns, run_task, write};

const NAMES: [&str; 5] = ["ratio", "small", "n", "big", "flag"];

fn columns() -> [(&'static str, DataType); 5] {
    [
        ("ratio", DataType::Float32),
        ("small", DataType::Int32),
        ("n", DataType::UInt32),
        ("big", DataType::UInt64),
        ("flag", DataType::Boolean),
    ]
}

/// A cell of a `Float32` column: values that round differently as 32-bit
/// floats, beyond its range, quoted, padded, special or empty.
fn f32_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (-1e6f64..1e6).prop_map(|x| format!("{x}")),
        1 => (-1e3f64..1e3).prop_map(|x| format!("{x:e}")),
        1 => prop_oneof![Just("0.1"), Just("16777217"), Just("1e-45"), Just("3.5e38")]
            .prop_map(str::to_owned),
        1 => (-1e3f64..1e3).prop_map(|x| format!("\"{x:.3}\"")),
        1 => (0u32..100).prop_map(|x| format!(" {x}.25")),
        1 => prop_oneof![Just("NaN"), Just("-inf")].prop_map(str::to_owned),
        1 => Just(String::new()),
    ]
}

/// A cell of an integer column holding values from `values`: quoted, with
/// a plus sign, or empty too.
fn integer_cell<T: std::fmt::Display + std::fmt::Debug + 'static>(
    values: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = String> {
    prop_oneof![
        5 => values.clone().prop_map(|x| x.to_string()),
        1 => values.prop_map(|x| format!("\"{x}\"")),
        1 => (0u16..100).prop_map(|x| format!("+{x}")),
        1 => Just(String::new()),
    ]
}

/// A cell of a `Boolean` column: any case, quoted, or empty.
fn bool_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop_oneof![Just("true"), Just("false"), Just("True"), Just("FALSE"), Just("tRuE")]
            .prop_map(str::to_owned),
        1 => prop_oneof![Just("\"true\""), Just("\"False\""), Just("\"\"")].prop_map(str::to_owned),
        1 => Just(String::new()),
    ]
}

/// A file of the five columns in a random order, and how to read it.
fn typed_file() -> impl Strategy<Value = (String, ReadOptions)> {
    let row = (
        f32_cell(),
        integer_cell(any::<i32>()),
        integer_cell(any::<u32>()),
        integer_cell(any::<u64>()),
        bool_cell(),
    );
    (
        prop::collection::vec(row, 0..60),
        Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        any::<bool>(),
        1usize..300,
        1usize..80,
        1usize..4,
    )
        .prop_map(|(rows, order, crlf, block_bytes, piece_bytes, threads)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let header: Vec<&str> = order.iter().map(|&i| NAMES[i]).collect();
            let mut text = header.join(",");
            for (ratio, small, n, big, flag) in rows {
                let cells = [ratio, small, n, big, flag];
                let line: Vec<&str> = order.iter().map(|&i| cells[i].as_str()).collect();
                text.push_str(eol);
                text.push_str(&line.join(","));
            }
            text.push_str(eol);
            let options = ReadOptions::default()
                .with_block_bytes(block_bytes)
                .with_piece_bytes(piece_bytes)
                .with_threads(threads);
            (text, options)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_parallel_reader_reads_other_types_as_polars_does((text, options) in typed_file()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &text);
        let ours = read_columns(&path, &columns(), &options).unwrap();
        let theirs = polars_read(&path, &columns());
        prop_assert_eq!(ours.schema(), theirs.schema());
        prop_assert!(
            ours.equals_missing(&theirs),
            "file:\n{}\nours:\n{}\npolars:\n{}", text, ours, theirs
        );
    }
}

#[test]
fn a_value_out_of_its_type_is_a_bad_cell_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("small", DataType::Int32, "3000000000", "i32"),
        ("n", DataType::UInt32, "-1", "u32"),
        ("big", DataType::UInt64, "1.5", "u64"),
        ("flag", DataType::Boolean, " true", "bool"),
        ("flag", DataType::Boolean, "yes", "bool"),
        ("ratio", DataType::Float32, "1,5", "f32"),
    ];
    for (column, dtype, bad, shown) in cases {
        let quoted = if bad.contains(',') {
            format!("\"{bad}\"")
        } else {
            bad.to_owned()
        };
        let good = if dtype == DataType::Boolean {
            "true"
        } else {
            "1"
        };
        let path = write(
            dir.path(),
            &format!("id,{column}\n1,{good}\n2,{good}\n3,{quoted}\n"),
        );
        let wanted = [(column, dtype.clone())];
        match read_columns(&path, &wanted, &ReadOptions::default()).unwrap_err() {
            CsvError::BadCell {
                column: named,
                dtype: named_type,
                value,
                line,
                ..
            } => {
                assert_eq!(named, column);
                assert_eq!(named_type, shown);
                assert_eq!(value, bad);
                assert_eq!(line, Some(4));
            }
            other => panic!("{column} `{bad}`: unexpected error {other:?}"),
        }
        // polars refuses it too.
        let theirs = pipeline_core::frame::csv::scan_csv(&path, &wanted)
            .unwrap()
            .collect();
        assert!(theirs.is_err(), "{column} `{bad}`: polars read {theirs:?}");
    }
}

/// A user's own scan, types inferred from the first rows: `flag` is a
/// `Boolean`, `count` an `Int64`, `name` text.
fn inferred(path: &Path) -> LazyFrame {
    LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
        .with_has_header(true)
        .finish()
        .unwrap()
        .filter(col("flag"))
        .select([col("name"), col("count") * lit(2)])
}

#[test]
fn a_task_over_inferred_booleans_is_fed_by_the_parallel_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name,flag,count\n");
    for row in 0..500 {
        let flag = if row % 3 == 0 { "false" } else { "true" };
        text.push_str(&format!("\"n, {row}\",{flag},{row}\n"));
    }
    assert_task_gets_polars_rows(&write(dir.path(), &text), inferred, 333);

    // Only the parallel reader refuses a badly quoted text cell, naming its
    // line; past the rows polars infers from, a cell that is no boolean is
    // refused by both, with its line.
    for (record, wording) in [
        ("\"late\"x,true,1\n", "not properly quoted"),
        (
            "late,maybe,1\n",
            "column `flag` must hold bool values, but line 502 holds `maybe`",
        ),
    ] {
        let error = task_error(&write(dir.path(), &format!("{text}{record}")), inferred);
        assert!(
            error.contains(wording) && error.contains("line 502"),
            "{error}"
        );
        // The output is named, then the reader's own message.
        assert!(error.starts_with("output `result`: csv file `"), "{error}");
    }
}

/// Runs `query` over the file at `path` as a task; asserts that it stores
/// polars' own `rows` rows.
fn assert_task_gets_polars_rows(path: &Path, query: fn(&Path) -> LazyFrame, rows: usize) {
    let (frame, _) = run_task(path, query, DEFAULT_VALUE_MEMORY).unwrap();
    let theirs = query(path).collect().unwrap();
    assert!(frame.equals_missing(&theirs), "{frame}\n{theirs}");
    assert_eq!(frame.height(), rows);
}

/// The error of `query` run as a task over the file at `path`.
fn task_error(path: &Path, query: fn(&Path) -> LazyFrame) -> String {
    run_task(path, query, DEFAULT_VALUE_MEMORY).unwrap_err()
}

/// Per key, sums, means and extremes of the other types.
fn grouped(path: &Path) -> LazyFrame {
    pipeline_core::frame::csv::scan_csv(path, &columns())
        .unwrap()
        .group_by_stable([col("key")])
        .agg([
            col("small").sum().alias("small_sum"),
            col("ratio").mean().alias("ratio_mean"),
            col("ratio").max().alias("ratio_max"),
            col("n").min().alias("n_min"),
            col("big").max().alias("big_max"),
            col("flag").sum().alias("flags"),
            col("flag").min().alias("all_flags"),
        ])
}

#[test]
fn a_group_by_over_other_types_gets_polars_rows_in_blocks_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("key,ratio,small,n,big,flag\n");
    for row in 0u64..20_000 {
        let flag = if row % 7 == 0 {
            ""
        } else if row % 3 == 0 {
            "false"
        } else {
            "true"
        };
        text.push_str(&format!(
            "k{},{}.{},{},{},{},{flag}\n",
            row % 13,
            row % 101,
            row % 7,
            (row as i64 * 7919) % 2001 - 1000,
            row % 4001,
            row * 1_000_003,
        ));
    }
    let path = write(dir.path(), &text);
    let theirs = grouped(&path).collect().unwrap();
    assert_eq!(theirs.height(), 13);
    for frame_memory in [DEFAULT_VALUE_MEMORY, 0] {
        let (ours, _) = run_task(&path, grouped, frame_memory).unwrap();
        assert_eq!(ours.schema(), theirs.schema());
        assert!(
            ours.equals_missing(&theirs),
            "frame memory {frame_memory}:\n{ours}\npolars:\n{theirs}"
        );
    }
}

/// A user's own scan of a semicolon-separated file (decimal points, text
/// with commas and quoted semicolons).
fn semicolons(path: &Path) -> LazyFrame {
    LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
        .with_has_header(true)
        .with_separator(b';')
        .finish()
        .unwrap()
        .select([col("name"), col("amount") * lit(2.0)])
}

#[test]
fn a_task_over_a_semicolon_separated_csv_is_fed_by_the_parallel_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id;name;amount\n");
    for row in 0..500 {
        text.push_str(&format!("{row};\"n; {row}, x\";{row}.5\n"));
    }
    assert_task_gets_polars_rows(&write(dir.path(), &text), semicolons, 500);
    // Only the parallel reader refuses a badly quoted text cell so.
    let error = task_error(
        &write(dir.path(), &format!("{text}1;\"late\"x;2\n")),
        semicolons,
    );
    assert!(
        error.contains("not properly quoted") && error.contains("line 502"),
        "{error}"
    );
}
