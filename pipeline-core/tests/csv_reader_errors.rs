//! Files the parallel CSV reader refuses, as polars' own reader does, and
//! what its messages quote of them: a quote never closed, a binary file
//! given as the CSV, cells with control characters or very long.

use std::path::Path;

use pipeline_core::frame::LazyFrame;
use pipeline_core::frame::csv::{CsvError, ReadOptions, scan_csv};
use pipeline_core::memory::DEFAULT_VALUE_MEMORY;
use polars::prelude::*;

mod csv_support;
use csv_support::{polars_result, read_columns, run_task, write};

const HEADER: &str = "amount,count,time,note,other";

/// The number columns only, and every column (`note` and `other` text).
fn column_sets() -> [Vec<(&'static str, DataType)>; 2] {
    let numbers = vec![
        ("amount", DataType::Float64),
        ("count", DataType::Int64),
        ("time", DataType::Float64),
    ];
    let mut all = numbers.clone();
    all.extend([("note", DataType::String), ("other", DataType::String)]);
    [numbers, all]
}

#[test]
fn a_quote_never_closed_is_refused_when_polars_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    // (body, the column and line of the quote polars refuses, reading the
    // number columns only)
    let bodies = [
        // The file ends with a line break inside the quote: polars counts a
        // record fewer than it parses and refuses the file.
        ("\n1,2,3,\"a\n4,5,6,c,d\n", Some(("note", 2))),
        ("\r\n1,2,3,a,\"b\r\n4,5,6,c,d\r\n", Some(("other", 2))),
        (
            "\n1,2,3,\"a,\"\"b\"\"\n4,5,6,c,d\n7,8,9,e,f\n",
            Some(("note", 2)),
        ),
        ("\n1,2,3,a,b\n4,5,6,c,\"d\n", Some(("other", 3))),
        // No line break at the end: polars reads the cell as the rest of
        // the file, and the record's later cells as missing.
        ("\n1,2,3,\"a\n4,5,6,c,d", None),
        ("\n1,2,3,a,b\n4,5,6,\"c,d\n7,8", None),
        // Closed by the next quote, at the start of a cell: no error.
        ("\n1,2,3,\"a\n4,5,6,\"c,d\n", None),
    ];
    for (body, refused_at) in bodies {
        let refused = refused_at.is_some();
        let path = write(dir.path(), &format!("{HEADER}{body}"));
        for columns in column_sets() {
            let ours = read_columns(&path, &columns, &ReadOptions::default());
            let theirs = polars_result(&path, &columns, b',');
            let every_column = columns.len() == 5;
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) if !refused => assert!(
                    ours.equals_missing(&theirs),
                    "{body:?}\nours:\n{ours}\npolars:\n{theirs}"
                ),
                (Err(CsvError::UnclosedQuote { column, line, .. }), Err(_)) if !every_column => {
                    assert_eq!(Some((column.as_str(), line)), refused_at, "{body:?}");
                }
                // A text cell read holds the quote: badly quoted.
                (Err(CsvError::BadQuotes { .. }), Err(_)) if every_column => {}
                (ours, theirs) => panic!("{body:?}: ours {ours:?}, polars {theirs:?}"),
            }
        }
    }
}

/// The number columns of the CSV at `path`, as a user's task selects them.
fn numbers(path: &Path) -> LazyFrame {
    let [columns, _] = column_sets();
    scan_csv(path, &columns)
        .unwrap()
        .select([col("amount"), col("count"), col("time")])
}

#[test]
fn a_task_over_a_quote_never_closed_fails_naming_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let body = "\n1,2,3,a,b\n4,5,6,c,\"x\n99,zz\n100,\"y\",1,2,3\n";
    let path = write(dir.path(), &format!("{HEADER}{body}"));
    let error = run_task(&path, numbers, DEFAULT_VALUE_MEMORY).unwrap_err();
    for part in [
        "input.csv",
        "column `other`",
        "line 3",
        "never closed",
        "`\"x\\n99,zz",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }
    // Without the last line break polars reads the cell as the rest of the
    // file; ours refuses the quote after `y`, which opens a quoted stretch
    // inside a cell (a refusal, never other rows than polars').
    std::fs::write(&path, format!("{HEADER}{}", body.trim_end())).unwrap();
    let error = run_task(&path, numbers, DEFAULT_VALUE_MEMORY).unwrap_err();
    assert!(error.contains("line 5: a quote inside a cell"), "{error}");
    std::fs::write(&path, format!("{HEADER}\n1,2,3,a,b\n4,5,6,c,\"x\n99,zz")).unwrap();
    let (frame, _) = run_task(&path, numbers, DEFAULT_VALUE_MEMORY).unwrap();
    assert_eq!(frame.height(), 2, "read as polars reads it");
}

/// The start of a Parquet file: its magic bytes and control characters,
/// bytes that are not UTF-8, then a line break.
const PARQUET_START: &[u8] = b"PAR1\x15\x04\x15\xc0\x19\x00\x00L\x15\xff\x03\tname,price\n\x01\x02";

#[test]
fn a_binary_file_is_said_not_to_look_like_text_its_start_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("products.parquet");
    let mut bytes = PARQUET_START.to_vec();
    bytes.extend(std::iter::repeat_n(0xfe, 500));
    std::fs::write(&path, bytes).unwrap();
    let [columns, _] = column_sets();
    let errors = [
        scan_csv(&path, &columns).err().unwrap(),
        read_columns(&path, &columns, &ReadOptions::default()).unwrap_err(),
    ];
    for error in errors {
        assert!(matches!(error, CsvError::NotText { .. }), "{error:?}");
        let message = error.to_string();
        assert!(!message.chars().any(char::is_control), "{message:?}");
        for part in ["products.parquet", "(a Parquet file)", "`PAR1\\u{15}\\u{4}"] {
            assert!(message.contains(part), "{part}: {message}");
        }
        assert!(message.len() < 300, "{message}");
    }
    // A text header without the column is listed, its names as they are.
    let text = write(dir.path(), "Straße,日本\tX\n1,2\n");
    let message = scan_csv(&text, &columns).err().unwrap().to_string();
    assert!(
        message.contains("its header has: Straße, 日本\\tX)"),
        "{message}"
    );
}

#[test]
fn cells_quoted_by_messages_have_control_characters_escaped_and_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let long = "9".repeat(500);
    let path = write(dir.path(), &format!("amount\n1\nab\x07\x1bcd\n{long}x\n"));
    let columns = [("amount", DataType::Float64)];
    let message = read_columns(&path, &columns, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("line 3 holds `ab\\u{7}\\u{1b}cd`"),
        "{message}"
    );
    let path = write(dir.path(), &format!("amount\n1\n{long}x\n"));
    let error = read_columns(&path, &columns, &ReadOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, CsvError::BadCell { value, .. } if value.len() == 501),
        "the error keeps the whole cell: {error:?}"
    );
    assert!(
        message.contains(&format!("`{}… (421 more characters)`", &long[..80])),
        "{message}"
    );
    assert!(message.len() < 300, "{message}");
}

#[test]
fn a_quote_inside_a_cell_is_refused_where_it_would_split_records_otherwise_than_polars() {
    let dir = tempfile::tempdir().unwrap();
    let columns = [
        vec![("amount", DataType::Int64)],
        vec![
            ("id", DataType::Int64),
            ("name", DataType::String),
            ("amount", DataType::Int64),
        ],
    ];
    // Quoted stretches opened inside a cell that hold a line break: polars
    // refuses these files ("CSV malformed"); ours must not read them.
    for body in [
        "1,TV 55\" wide,10\n2,plain,20\n3,TV 32\" small,30\n4,last,40\n",
        "1,TV 55\" wide,10\n2,plain,20\n4,last,40\n",
        "1,a\"\"b,10\n2,x\"y,20\n3,z\",30\n",
    ] {
        let path = write(dir.path(), &format!("id,name,amount\n{body}"));
        for columns in &columns {
            assert!(polars_result(&path, columns, b',').is_err(), "{body:?}");
            match read_columns(&path, columns, &ReadOptions::default()) {
                Err(error @ CsvError::StrayQuote { line: 2 | 3, .. }) => {
                    let message = error.to_string();
                    assert!(
                        message.contains("a quote inside a cell that does not start with one"),
                        "{message}"
                    );
                }
                // A stray quote that no later one closes: never closed.
                Err(CsvError::UnclosedQuote { line: 2, .. }) if body.matches('"').count() == 1 => {}
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }
    // Quotes inside a cell that open and close on one line, with no
    // separator between: text to polars, and to ours.
    for body in [
        "1,a\"b\"c,10\n2,plain,20\n",
        "1,ab\"\"c,10\n2,\"q\"\"uoted\",20\n",
    ] {
        let path = write(dir.path(), &format!("id,name,amount\n{body}"));
        for columns in &columns {
            let ours = read_columns(&path, columns, &ReadOptions::default()).unwrap();
            let theirs = polars_result(&path, columns, b',').unwrap();
            assert!(
                ours.equals_missing(&theirs),
                "{body:?}: {ours:?} {theirs:?}"
            );
        }
    }
}
