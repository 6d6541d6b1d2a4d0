//! The parallel CSV reader (`frame::csv::read_csv_blocks`) and the executor's
//! use of it, against polars' own CSV reader on random files: same frames,
//! numbers and text, whatever the quoting, line ends, empty cells, NaN,
//! column order, block and piece sizes; bad cells reported with their line.

use std::path::Path;

use pipeline_core::frame::LazyFrame;
use pipeline_core::frame::csv::{CsvError, ReadOptions, scan_csv};
use pipeline_core::memory::DEFAULT_VALUE_MEMORY;
use polars::prelude::*;
use proptest::prelude::*;

mod csv_support;
use csv_support::{polars_result, read_columns, run_task, write};

fn wanted() -> [(&'static str, DataType); 3] {
    [
        ("amount", DataType::Float64),
        ("count", DataType::Int64),
        ("time", DataType::Float64),
    ]
}

/// The wanted columns and the two text columns.
fn wanted_with_text() -> [(&'static str, DataType); 5] {
    let [amount, count, time] = wanted();
    [
        ("note", DataType::String),
        amount,
        count,
        time,
        ("other", DataType::String),
    ]
}

/// The whole file, read by the parallel reader.
fn read(path: &Path, options: &ReadOptions) -> Result<DataFrame, CsvError> {
    read_columns(path, &wanted(), options)
}

/// One cell of a wanted float column, as written in the file.
fn float_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-1e6f64..1e6).prop_map(|x| format!("{x}")),
        1 => (-1e6f64..1e6).prop_map(|x| format!("{x:e}")),
        1 => (0u32..5000).prop_map(|x| x.to_string()),
        1 => (-1e3f64..1e3).prop_map(|x| format!("\"{x:.2}\"")),
        1 => (0u32..100).prop_map(|x| format!(" {x}.5")),
        1 => prop_oneof![Just("NaN"), Just("inf"), Just("-inf")].prop_map(str::to_owned),
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

/// A cell of a text column: quotes, commas, line breaks, text longer than
/// a view holds inline, and UTF-8 beyond ASCII included.
fn text_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z ]{0,12}",
        1 => "[a-zäöüßé日本 ]{10,30}",
        1 => "[a-z,;|\t]{0,6}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z\n]{0,6}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z]{0,3}".prop_map(|s| format!("\"say \"\"{s}\"\"\"")),
        1 => Just("\"\"".to_owned()),
    ]
}

#[derive(Debug, Clone)]
struct CsvFile {
    text: String,
    options: ReadOptions,
}

/// How a record is written: whole, with its last fields missing, as a
/// blank line, with a field more than the header, or with a text cell
/// (`note` or `other`) opening a quote it never closes (the next quote
/// closes it, if any).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Whole,
    Short(usize),
    Blank,
    Extra,
    Unclosed(usize),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        30 => Just(Shape::Whole),
        2 => (1usize..5).prop_map(Shape::Short),
        2 => Just(Shape::Blank),
        1 => Just(Shape::Extra),
        1 => (3usize..5).prop_map(Shape::Unclosed),
    ]
}

fn csv_file() -> impl Strategy<Value = CsvFile> {
    let rows = prop::collection::vec(
        (
            (
                float_cell(),
                int_cell(),
                float_cell(),
                text_cell(),
                text_cell(),
            ),
            shape(),
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
        prop_oneof![3 => Just(","), 1 => Just(";"), 1 => Just("\t"), 1 => Just("|")],
    )
        .prop_map(
            |(rows, order, crlf, final_newline, block_bytes, piece_bytes, threads, separator)| {
                let names = ["amount", "count", "time", "note", "other"];
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = order
                    .iter()
                    .map(|&i| names[i])
                    .collect::<Vec<_>>()
                    .join(separator);
                // Around a quote never closed, no more quotes: the rest of
                // the file is the cell. (A quote that closes it would leave the
                // next one inside an unquoted field, which polars' reader
                // takes apart differently: see the CHANGELOG.)
                let mut unclosed = false;
                for ((a, c, t, n, o), shape) in rows {
                    let mut cells = [a, c, t, n, o];
                    let opens = matches!(shape, Shape::Unclosed(_)) && !unclosed;
                    if unclosed || opens {
                        cells = cells.map(|cell| cell.replace('"', ""));
                    }
                    if let Shape::Unclosed(cell) = shape
                        && opens
                    {
                        cells[cell].insert(0, '"');
                        unclosed = true;
                    }
                    text.push_str(eol);
                    let mut line: Vec<&str> = order.iter().map(|&i| cells[i].as_str()).collect();
                    match shape {
                        Shape::Whole | Shape::Unclosed(_) => {}
                        Shape::Short(missing) => line.truncate(5 - missing),
                        Shape::Blank => line.clear(),
                        Shape::Extra => line.push("extra"),
                    }
                    text.push_str(&line.join(separator));
                }
                if final_newline {
                    text.push_str(eol);
                }
                CsvFile {
                    text,
                    options: ReadOptions::default()
                        .with_block_bytes(block_bytes)
                        .with_piece_bytes(piece_bytes)
                        .with_threads(threads)
                        .with_separator(separator.as_bytes()[0]),
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
        for columns in [&wanted()[..], &wanted_with_text()[..]] {
            let ours = read_columns(&path, columns, &file.options);
            match (ours, polars_result(&path, columns, file.options.separator)) {
                (Ok(ours), Ok(theirs)) => prop_assert!(
                    ours.equals_missing(&theirs),
                    "file:\n{}\nours:\n{ours}\npolars:\n{theirs}", file.text
                ),
                // Every column read and a record longer than the header.
                (Err(CsvError::ExtraFields { .. }), Err(_)) => prop_assert_eq!(columns.len(), 5),
                // A quote never closed: a text cell read runs to the end of
                // the file, or the file ends with a line break inside it.
                (Err(CsvError::BadQuotes { .. } | CsvError::UnclosedQuote { .. }), Err(_)) => {}
                // Or a number cell read holds the rest of the file.
                (Err(CsvError::BadCell { .. }), Err(theirs))
                    if theirs.to_string().contains("could not parse") => {}
                (ours, theirs) => prop_assert!(
                    false, "file:\n{}\nours: {:?}\npolars: {:?}", file.text, ours, theirs
                ),
            }
        }
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
    let error = read(&path, &ReadOptions::default()).unwrap_err();
    match &error {
        CsvError::BadCell {
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
    let error = read(&fractional, &ReadOptions::default()).unwrap_err();
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
    let options = ReadOptions::default()
        .with_block_bytes(4096)
        .with_piece_bytes(256)
        .with_threads(4);
    match read(&path, &options).unwrap_err() {
        CsvError::BadCell { line, .. } => assert_eq!(line, Some(702)),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn header_problems_name_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let missing = write(dir.path(), "amount,time\n1,2\n");
    let error = read(&missing, &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(&error, CsvError::MissingColumn { found, .. } if found == "amount, time"),
        "{error:?}"
    );
    let empty = write(dir.path(), "");
    let error = read(&empty, &ReadOptions::default()).unwrap_err();
    assert!(matches!(error, CsvError::Empty { .. }), "{error:?}");
    let absent = dir.path().join("absent.csv");
    let error = read(&absent, &ReadOptions::default()).unwrap_err();
    assert!(error.to_string().contains("absent.csv"), "{error}");
}

#[test]
fn a_byte_order_mark_and_quoted_header_names_are_understood() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "\u{feff}\"amount\",count,\"time\"\n1.5,2,3\n");
    let frame = read(&path, &ReadOptions::default()).unwrap();
    assert_eq!(frame.height(), 1);
    assert_eq!(
        frame.column("amount").unwrap().f64().unwrap().get(0),
        Some(1.5)
    );
}

/// A row-wise query over a CSV file, as a task returns it.
fn scored(path: &Path) -> LazyFrame {
    scan_csv(path, &wanted())
        .unwrap()
        .select([
            (col("amount") * lit(0.5) + col("count").cast(DataType::Float64)).alias("score"),
            col("time"),
        ])
        .filter(col("time").gt(lit(0.0)))
}

/// A row-wise query keeping text columns, the second one unescaped from
/// quotes.
fn labelled(path: &Path) -> LazyFrame {
    scan_csv(path, &wanted())
        .unwrap()
        .filter(col("count").gt(lit(3)))
        .select([
            col("note"),
            (col("amount") * lit(2.0)).alias("double"),
            col("label"),
        ])
}

/// Runs `scored` as a task of a fresh runtime; returns the stored frame and
/// its fingerprint.
fn materialized(path: &Path) -> (DataFrame, pipeline_core::fingerprint::Fingerprint) {
    materialized_with(path, scored)
}

/// Runs `query` as a task of a fresh runtime; returns the stored frame and
/// its fingerprint.
fn materialized_with(
    path: &Path,
    query: fn(&Path) -> LazyFrame,
) -> (DataFrame, pipeline_core::fingerprint::Fingerprint) {
    run_task(path, query, DEFAULT_VALUE_MEMORY).unwrap()
}

#[test]
fn a_task_scanning_a_csv_gets_the_rows_and_bytes_polars_would_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("note,amount,count,time\n");
    for row in 0..300_000 {
        text.push_str(&format!(
            "\"n, {row}\",{}.25,{},{}\n",
            row % 977,
            row % 13,
            row % 7
        ));
    }
    let path = write(dir.path(), &text);
    let (ours, fingerprint) = materialized(&path);
    let theirs = scored(&path).collect().unwrap();
    assert_eq!(ours.height(), theirs.height());
    assert!(ours.equals_missing(&theirs));
    // The bytes polars' own engine would store: the same fingerprint.
    assert_eq!(fingerprint, scored(&path).fingerprint_via_polars());
}

#[test]
fn a_task_keeping_text_columns_gets_the_rows_and_bytes_polars_would_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("note,amount,count,time,label\r\n");
    for row in 0..200_000 {
        let note = match row % 4 {
            0 => String::new(),
            1 => format!("\"n, {row}\""),
            2 => format!("\"{row} said \"\"hi\"\"\""),
            _ => format!("Straße Nummer {row}"),
        };
        text.push_str(&format!(
            "{note},{}.5,{},{},\"l{}\"\r\n",
            row % 977,
            row % 13,
            row % 7,
            row % 3
        ));
    }
    let path = write(dir.path(), &text);
    let (ours, fingerprint) = materialized_with(&path, labelled);
    assert_eq!(fingerprint, labelled(&path).fingerprint_via_polars());
    let theirs = labelled(&path).collect().unwrap();
    assert_eq!(ours.height(), theirs.height());
    assert!(
        ours.equals_missing(&theirs),
        "ours:\n{ours}\npolars:\n{theirs}"
    );
    // Rows 4 to 7 are the first with a count above 3.
    let notes: Vec<Option<&str>> = ours.column("note").unwrap().str().unwrap().iter().collect();
    assert_eq!(
        notes[..4],
        [
            None,
            Some("n, 5"),
            Some("6 said \"hi\""),
            Some("Straße Nummer 7")
        ]
    );
}

#[test]
fn a_badly_quoted_text_cell_fails_the_task_naming_the_file_column_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "note,amount,count,time,label\nok,1,5,3,a\n\"fine\",2,5,3,b\n\"cut\"short,3,5,3,c\n",
    );
    let error = run_task(&path, labelled, DEFAULT_VALUE_MEMORY).unwrap_err();
    assert!(
        error.contains("input.csv")
            && error.contains("`note`")
            && error.contains("line 4")
            && error.contains("not properly quoted"),
        "{error}"
    );
}

/// `aggs` per note of the CSV at `path`, notes in order (nulls last).
fn per_note(path: &Path, aggs: Vec<Expr>) -> LazyFrame {
    scan_csv(path, &wanted())
        .unwrap()
        .group_by([col("note")])
        .agg(aggs)
        .sort(
            ["note"],
            SortMultipleOptions::default().with_nulls_last(true),
        )
}

/// Per note: the sum of counts, the rows, the extremes of amounts (exact
/// whatever order rows are added in).
fn grouped(path: &Path) -> LazyFrame {
    per_note(
        path,
        vec![
            col("count").sum().alias("counts"),
            len().alias("rows"),
            col("amount").min().alias("least"),
            col("amount").max().alias("most"),
        ],
    )
}

/// Per note: the distinct amounts (no partial results add up to them).
fn distinct(path: &Path) -> LazyFrame {
    per_note(path, vec![col("amount").n_unique().alias("amounts")])
}

/// Per note: the median amount, with a sum and the rows (the medians'
/// passes and the other aggregations both read the file).
fn medians(path: &Path) -> LazyFrame {
    per_note(
        path,
        vec![
            col("amount").median().alias("middle"),
            col("count").sum().alias("counts"),
            len().alias("rows"),
        ],
    )
}

/// Of all rows: the median amount, with a sum, a mean and the rows.
fn medians_of_all(path: &Path) -> LazyFrame {
    scan_csv(path, &wanted()).unwrap().select([
        col("amount").median().alias("middle"),
        col("count").sum().alias("counts"),
        col("time").mean().alias("mean_time"),
        len().alias("rows"),
    ])
}

#[test]
fn an_aggregation_over_a_csv_gets_polars_rows_read_in_memory_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("note,amount,count,time\n");
    for row in 0..100_000 {
        let note = match row % 5 {
            0 => String::new(),
            1 => "\"a, b\"".to_owned(),
            2 => "Straße".to_owned(),
            3 => "\"say \"\"x\"\"\"".to_owned(),
            _ => format!("n{}", row % 11),
        };
        text.push_str(&format!(
            "{note},{}.25,{},{}\n",
            row % 977,
            row % 13,
            row % 7
        ));
    }
    let path = write(dir.path(), &text);
    // Sums, extremes and counts add up from blocks; distinct values are read
    // whole; medians take passes over the blocks.
    type Query = fn(&Path) -> LazyFrame;
    let queries: [(Query, usize); 4] = [
        (grouped, 15),
        (distinct, 15),
        (medians, 15),
        (medians_of_all, 1),
    ];
    for (query, rows) in queries {
        let theirs = query(&path).collect().unwrap();
        for frame_memory in [DEFAULT_VALUE_MEMORY, 64 << 10, 0] {
            let ours = run_task(&path, query, frame_memory).unwrap().0;
            assert!(
                ours.equals_missing(&theirs),
                "frame memory {frame_memory}:\n{ours}\npolars:\n{theirs}"
            );
        }
        assert_eq!(theirs.height(), rows);
    }
}

#[test]
fn an_aggregation_over_a_csv_is_read_by_the_parallel_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "note,amount,count,time\nok,1,5,3\n\"cut\"short,3,5,3\n",
    );
    // Only the parallel reader words the error so. Medians' passes stream
    // the blocks whatever the frame memory.
    let streamed_medians = run_task(&path, medians, 0).unwrap_err();
    assert!(
        streamed_medians.contains("not properly quoted") && streamed_medians.contains("line 3"),
        "{streamed_medians}"
    );
    // The reader's message as it is, not as a polars failure.
    assert!(!streamed_medians.contains("polars"), "{streamed_medians}");
    for query in [grouped, distinct] {
        let read = run_task(&path, query, DEFAULT_VALUE_MEMORY).unwrap_err();
        assert!(
            read.contains("not properly quoted") && read.contains("line 3"),
            "{read}"
        );
        let streamed = run_task(&path, query, 0).unwrap_err();
        assert!(!streamed.contains("not properly quoted"), "{streamed}");
    }
}

/// The fingerprint of a query's stored file when polars' own engine computes
/// it (collected in memory, then stored).
trait ViaPolars {
    fn fingerprint_via_polars(self) -> pipeline_core::fingerprint::Fingerprint;
}

impl ViaPolars for LazyFrame {
    fn fingerprint_via_polars(self) -> pipeline_core::fingerprint::Fingerprint {
        let frame = self.collect().unwrap().lazy();
        pipeline_core::Value::fingerprint(&frame).unwrap()
    }
}

#[test]
fn a_bad_cell_fails_the_task_naming_the_file_column_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "note,amount,count,time\na,1,2,3\nb,2,zwei,3\n");
    let error = run_task(&path, scored, DEFAULT_VALUE_MEMORY).unwrap_err();
    assert!(error.contains("input.csv"), "{error}");
    assert!(
        error.contains("`count`") && error.contains("line 3") && error.contains("`zwei`"),
        "{error}"
    );
}

#[test]
fn blank_short_and_long_lines_are_read_as_polars_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let header = "amount,count,time,note,other";
    let bodies = [
        "\n1,2,3,a,b\n\n4,5,6,c,d\n",
        "\n1,2,3,a,b\n4,5,6,c,d\n\n\n",
        "\r\n1,2,3,a,b\r\n\r\n4,5,6,c,d\r\n\r\n",
        "\n1,2,3,a,b\n \n4,5,6,c,d\n",
        "\n1,2\n4,5,6,c,d\n",
        "\n\n",
        "\n\n\n1,2,3,a,b",
        // More fields than the header: refused when every column is read.
        "\n1,2,3,a,b,extra\n4,5,6,c,d\n",
        "\n1,2,3,a,b\r\n4,5,6,c,d,\r\n",
        "\n1,2,3,a,b\n4,5,6,c,\"d\",x",
        // A separator at the very end of the file is no extra field.
        "\n1,2,3,a,b\n4,5,6,c,d,",
    ];
    for body in bodies {
        let path = write(dir.path(), &format!("{header}{body}"));
        for columns in [&wanted()[..], &wanted_with_text()[..]] {
            let ours = read_columns(&path, columns, &ReadOptions::default());
            match (ours, polars_result(&path, columns, b',')) {
                (Ok(ours), Ok(theirs)) => assert!(
                    ours.equals_missing(&theirs),
                    "{body:?}\nours:\n{ours}\npolars:\n{theirs}"
                ),
                (
                    Err(CsvError::ExtraFields {
                        line,
                        header_fields,
                        ..
                    }),
                    Err(_),
                ) => {
                    assert_eq!(columns.len(), 5, "{body:?}");
                    assert_eq!(header_fields, 5);
                    assert_eq!(
                        line,
                        if body.starts_with("\n1,2,3,a,b,") {
                            2
                        } else {
                            3
                        }
                    );
                }
                (ours, theirs) => panic!("{body:?}: ours {ours:?}, polars {theirs:?}"),
            }
        }
    }
}
