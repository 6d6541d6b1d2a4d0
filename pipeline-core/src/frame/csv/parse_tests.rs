//! Unit tests of `parse.rs`: fields wanted and skipped, bad cells.

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
    let frame = parse_piece(piece, &projection(), b',').unwrap();
    let f: Vec<Option<f64>> = frame.column("f").unwrap().f64().unwrap().iter().collect();
    let i: Vec<Option<i64>> = frame.column("i").unwrap().i64().unwrap().iter().collect();
    assert_eq!(f, [Some(1.5), Some(2.0), None]);
    assert_eq!(i, [Some(7), Some(-3), None]);
}

#[test]
fn a_bad_cell_names_its_column_value_and_record() {
    let piece = b"a,1,b,2\na,2.5,b,x3\n";
    let bad = parse_piece(piece, &projection(), b',').unwrap_err();
    assert_eq!(
        bad,
        BadCell {
            problem: Problem::NotOfType,
            column: 1,
            value: "x3".to_owned(),
            record_offset: 8
        }
    );
    let fractional = parse_piece(b"a,1,b,2.5", &projection(), b',').unwrap_err();
    assert_eq!(fractional.value, "2.5");
}

fn texts(piece: &[u8]) -> Result<Vec<Option<String>>, BadCell> {
    let projection = Projection::new(
        &[1, 2],
        vec![
            ("t".into(), ColumnKind::Text),
            ("i".into(), ColumnKind::Int64),
        ],
    );
    let frame = parse_piece(piece, &projection, b',')?;
    Ok(frame
        .column("t")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|t| t.map(str::to_owned))
        .collect())
}

#[test]
fn text_cells_follow_polars_rules() {
    let piece = "a,,1\nb,\"\",2\nc, x ,3\nd,\" y \",4\ne,\"q\"\"r\",5\n\
                 f,\"l1\nl2\",6\ng,\"a,b\",7\r\nh,Müller und Söhne GmbH,8\ni\n\
                 j,\"\"\"\",9\nk,tail\r\n";
    let text = |t: &str| Some(t.to_owned());
    assert_eq!(
        texts(piece.as_bytes()).unwrap(),
        [
            None,
            text(""),
            text(" x "),
            text(" y "),
            text("q\"r"),
            text("l1\nl2"),
            text("a,b"),
            text("Müller und Söhne GmbH"),
            None,
            text("\""),
            text("tail"),
        ]
    );
    // A text column as the last field keeps nothing of a CRLF.
    let last = Projection::new(&[1], vec![("t".into(), ColumnKind::Text)]);
    let frame = parse_piece(b"a,x\r\nb,\"y\"\r\n", &last, b',').unwrap();
    let t: Vec<Option<&str>> = frame.column("t").unwrap().str().unwrap().iter().collect();
    assert_eq!(t, [Some("x"), Some("y")]);
}

#[test]
fn badly_quoted_and_non_utf8_text_cells_are_refused() {
    for bad in [&b"a,\"q\"x,1\n"[..], b"a,\"q\"r\",1\n", b"a,\",1\n"] {
        let error = texts(bad).unwrap_err();
        assert_eq!(error.problem, Problem::BadQuotes, "{bad:?}");
        assert_eq!(error.column, 0);
    }
    let error = texts(b"a,ok,1\nb,\xff\xfe,2\n").unwrap_err();
    assert_eq!((error.problem, error.record_offset), (Problem::NotUtf8, 7));
    // Bytes that are not UTF-8 in a column not read are no error.
    assert_eq!(texts(b"\xff,ok,1\n").unwrap(), [Some("ok".to_owned())]);
}

#[test]
fn leading_blanks_are_skipped_and_a_last_record_needs_no_newline() {
    let frame = parse_piece(b"a, 1e3,b,\t+4", &projection(), b',').unwrap();
    assert_eq!(
        frame.column("f").unwrap().f64().unwrap().get(0),
        Some(1000.0)
    );
    assert_eq!(frame.column("i").unwrap().i64().unwrap().get(0), Some(4));
}

#[test]
fn a_quote_never_closed_before_a_last_newline_is_refused_whatever_its_column() {
    // Field 4 (not read) opens a quote in the second record; the piece
    // ends with a line break inside it, past many 64-byte stretches.
    let tail = "y,".repeat(100);
    let piece = format!("a,1,b,2,z\na,2,b,3,\"q\n{tail}\n");
    let bad = parse_piece(piece.as_bytes(), &projection(), b',').unwrap_err();
    assert_eq!((bad.problem, bad.record_offset), (Problem::Unclosed, 10));
    // No line break at its end: the record is read, as polars reads it.
    let frame = parse_piece(piece.trim_end().as_bytes(), &projection(), b',').unwrap();
    assert_eq!(frame.height(), 2);
    // A cell read that holds the quote is refused for what it holds first.
    let bad = parse_piece(b"a,1,b,\"2\n3\n", &projection(), b',').unwrap_err();
    assert_eq!(bad.problem, Problem::NotOfType);
}
