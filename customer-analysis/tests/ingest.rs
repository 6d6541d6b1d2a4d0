//! The parallel CSV reader (`customer_analysis::ingest`) against the polars CSV
//! reader on the same files: same frames, whatever the quoting, line ends,
//! empty cells, column order, block and piece sizes.

use std::path::Path;

use customer_analysis::ingest::{self, ColumnKind, ReadOptions};
use customer_analysis::transform::{self, TransformError};
use polars::prelude::*;
use proptest::prelude::*;

const WANTED: [(&str, ColumnKind); 3] = [
    ("amount", ColumnKind::Float64),
    ("count", ColumnKind::Int64),
    ("time", ColumnKind::Float64),
];

/// The same columns, read by polars with the options Task 1's query uses.
fn polars_read(path: &Path) -> DataFrame {
    let types: Schema = WANTED
        .iter()
        .map(|(name, kind)| Field::new((*name).into(), kind.dtype()))
        .collect();
    LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(std::sync::Arc::new(types)))
        .finish()
        .unwrap()
        .select(WANTED.map(|(name, _)| col(name)))
        .collect()
        .unwrap()
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// One cell of a wanted float column, as written in the file.
fn float_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-1e6f64..1e6).prop_map(|x| format!("{x}")),
        1 => (-1e6f64..1e6).prop_map(|x| format!("{x:e}")),
        1 => (0u32..5000).prop_map(|x| x.to_string()),
        1 => (-1e3f64..1e3).prop_map(|x| format!("\"{x:.2}\"")),
        1 => (0u32..100).prop_map(|x| format!(" {x}.5")),
        1 => Just(String::new()),
    ]
}

/// One cell of a wanted integer column.
fn int_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => any::<i32>().prop_map(|x| x.to_string()),
        1 => (0u16..100).prop_map(|x| format!("\"{x}\"")),
        1 => (0u16..100).prop_map(|x| format!("+{x}")),
        1 => Just(String::new()),
    ]
}

/// A cell of an unwanted text column: quotes, commas and line breaks included.
fn text_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z ]{0,12}",
        1 => "[a-z,]{0,6}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z\n]{0,6}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z]{0,3}".prop_map(|s| format!("\"say \"\"{s}\"\"\"")),
    ]
}

#[derive(Debug, Clone)]
struct CsvFile {
    text: String,
    block_bytes: usize,
    piece_bytes: usize,
    threads: usize,
}

fn csv_file() -> impl Strategy<Value = CsvFile> {
    let rows = prop::collection::vec(
        (
            float_cell(),
            int_cell(),
            float_cell(),
            text_cell(),
            text_cell(),
        ),
        0..60,
    );
    (
        rows,
        // A column order: the five columns shuffled.
        Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        any::<bool>(),
        any::<bool>(),
        1usize..300,
        1usize..80,
        1usize..4,
    )
        .prop_map(
            |(rows, order, crlf, final_newline, block_bytes, piece_bytes, threads)| {
                let names = ["amount", "count", "time", "note", "other"];
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = order
                    .iter()
                    .map(|&i| names[i])
                    .collect::<Vec<_>>()
                    .join(",");
                for (a, c, t, n, o) in rows {
                    let cells = [a, c, t, n, o];
                    text.push_str(eol);
                    let line: Vec<&str> = order.iter().map(|&i| cells[i].as_str()).collect();
                    text.push_str(&line.join(","));
                }
                if final_newline {
                    text.push_str(eol);
                }
                CsvFile {
                    text,
                    block_bytes,
                    piece_bytes,
                    threads,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_parallel_reader_and_polars_read_the_same_frame(file in csv_file()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &file.text);
        let options = ReadOptions {
            block_bytes: file.block_bytes,
            piece_bytes: file.piece_bytes,
            threads: file.threads,
        };
        let ours = ingest::read_csv(&path, &WANTED, &options).unwrap();
        let theirs = polars_read(&path);
        prop_assert!(
            ours.equals_missing(&theirs),
            "file:\n{}\nours:\n{ours}\npolars:\n{theirs}", file.text
        );
    }
}

#[test]
fn a_bad_cell_is_reported_with_column_value_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3 holds a quoted line break, so the bad record starts on line 5.
    let path = write(
        dir.path(),
        "note,amount,count,time\nok,1,2,3\n\"two\nlines\",4,5,6\nbad,7,eight,9\n",
    );
    let error = ingest::read_csv(&path, &WANTED, &ReadOptions::default()).unwrap_err();
    match &error {
        TransformError::NonNumeric {
            column,
            value,
            line,
            dtype,
            ..
        } => {
            assert_eq!((column.as_str(), value.as_str()), ("count", "eight"));
            assert_eq!(dtype, "i64");
            assert_eq!(*line, Some(5));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("input.csv") && message.contains("line 5"),
        "{message}"
    );

    let fractional = write(dir.path(), "amount,count,time\n1,2.5,3\n");
    let error = ingest::read_csv(&fractional, &WANTED, &ReadOptions::default()).unwrap_err();
    assert!(error.to_string().contains("`2.5`"), "{error}");
}

#[test]
fn the_earliest_bad_cell_is_reported_whatever_the_thread_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("amount,count,time\n");
    for row in 0..2000 {
        let count = if row == 700 || row == 1900 {
            "x".to_owned()
        } else {
            row.to_string()
        };
        text.push_str(&format!("{row}.5,{count},1\n"));
    }
    let path = write(dir.path(), &text);
    let options = ReadOptions {
        block_bytes: 4096,
        piece_bytes: 256,
        threads: 4,
    };
    match ingest::read_csv(&path, &WANTED, &options).unwrap_err() {
        TransformError::NonNumeric { line, .. } => assert_eq!(line, Some(702)),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn header_problems_name_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let missing = write(dir.path(), "amount,time\n1,2\n");
    let error = ingest::read_csv(&missing, &WANTED, &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(&error, TransformError::MissingColumn { found, .. } if found == "amount, time"),
        "{error:?}"
    );
    let empty = write(dir.path(), "");
    let error = ingest::read_csv(&empty, &WANTED, &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(error, TransformError::EmptyFile { .. }),
        "{error:?}"
    );
    let absent = dir.path().join("absent.csv");
    let error = ingest::read_csv(&absent, &WANTED, &ReadOptions::default()).unwrap_err();
    assert!(error.to_string().contains("absent.csv"), "{error}");
}

#[test]
fn a_byte_order_mark_and_quoted_header_names_are_understood() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "\u{feff}\"amount\",count,\"time\"\n1.5,2,3\n");
    let frame = ingest::read_csv(&path, &WANTED, &ReadOptions::default()).unwrap();
    assert_eq!(frame.height(), 1);
    assert_eq!(
        frame.column("amount").unwrap().f64().unwrap().get(0),
        Some(1.5)
    );
}

#[test]
fn task_one_executed_by_the_parallel_reader_equals_the_polars_query() {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv");
    let scratch = tempfile::tempdir().unwrap();
    let options = ReadOptions {
        block_bytes: 64 << 10,
        piece_bytes: 8 << 10,
        threads: 2,
    };
    let done = transform::preprocess_and_score_into(&sample, scratch.path(), &options).unwrap();
    let ours = transform::collect_streaming(done.value).unwrap();
    let theirs =
        transform::collect_streaming(transform::preprocess_and_score(&sample).unwrap()).unwrap();
    assert_eq!(ours.height(), 10_000);
    assert!(
        ours.equals_missing(&theirs),
        "ours:\n{ours}\npolars:\n{theirs}"
    );
    // The file is named by the digest of its bytes.
    let file = done.file.unwrap();
    assert_eq!(
        pipeline_core::frame::fingerprint_file(&file).unwrap(),
        done.fingerprint
    );
    // Equal input, equal bytes, whatever the number of threads: a re-run on
    // an unchanged file cuts off downstream work, on any machine.
    for threads in [1, 3] {
        let options = ReadOptions {
            threads,
            ..options.clone()
        };
        let again =
            transform::preprocess_and_score_into(&sample, scratch.path(), &options).unwrap();
        assert_eq!(again.fingerprint, done.fingerprint, "{threads} threads");
    }
}
