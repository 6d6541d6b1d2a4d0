//! Cutting CSV bytes into pieces that end at record boundaries, so the pieces
//! can be parsed independently.
//!
//! A newline ends a record unless it is inside a double-quoted field. Pieces
//! always start at a record start (outside quotes), so the quoted state at a
//! piece's start is known; where a stretch of bytes holds no quote character
//! at all (the common case, checked with SIMD `memchr`), any newline in it is
//! a record end.

use std::ops::Range;

/// The end (one past the newline) of the record containing `target`, for
/// bytes where `from` is a record start and `from <= target`. `bytes.len()` if
/// the last record runs to the end.
pub(crate) fn record_end_after(bytes: &[u8], from: usize, target: usize) -> usize {
    if target >= bytes.len() {
        return bytes.len();
    }
    let Some(newline) = memchr::memchr(b'\n', &bytes[target..]).map(|i| target + i) else {
        return bytes.len();
    };
    if memchr::memchr(b'"', &bytes[from..newline]).is_none() {
        return newline + 1;
    }
    record_end_after_quoted(bytes, from, target)
}

/// [`record_end_after`] for bytes with quotes: walks quotes and newlines from
/// the record start, tracking whether it is inside a quoted field.
fn record_end_after_quoted(bytes: &[u8], from: usize, target: usize) -> usize {
    let mut in_quotes = false;
    for at in memchr::memchr2_iter(b'"', b'\n', &bytes[from..]).map(|i| from + i) {
        match bytes[at] {
            b'"' => in_quotes = !in_quotes,
            _ if !in_quotes && at >= target => return at + 1,
            _ => {}
        }
    }
    bytes.len()
}

/// Cuts `bytes[start..end]` (`start` and `end` at record boundaries) into
/// consecutive pieces of about `piece_bytes`, each ending at a record end.
pub(crate) fn pieces(
    bytes: &[u8],
    start: usize,
    end: usize,
    piece_bytes: usize,
) -> Vec<Range<usize>> {
    let bytes = &bytes[..end];
    let mut pieces = Vec::new();
    let mut at = start;
    while at < end {
        let next = record_end_after(bytes, at, at.saturating_add(piece_bytes).min(end));
        pieces.push(at..next);
        at = next;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_inside_quotes_does_not_end_a_record() {
        let csv = b"a,b\n1,\"x\ny\"\n2,z\n";
        // The record starting at 4 holds a quoted newline at 8.
        assert_eq!(record_end_after(csv, 4, 6), 12);
        assert_eq!(record_end_after(csv, 4, 4), 12);
        assert_eq!(record_end_after(csv, 12, 12), csv.len());
        assert_eq!(record_end_after(csv, 0, 0), 4);
    }

    #[test]
    fn pieces_cover_the_range_and_end_at_record_ends() {
        let csv = b"h\n1,\"a\nb\"\n22\n333\n4444";
        for size in 1..csv.len() + 2 {
            let cut = pieces(csv, 2, csv.len(), size);
            assert_eq!(cut.first().unwrap().start, 2);
            assert_eq!(cut.last().unwrap().end, csv.len());
            for pair in cut.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!([10, 13, 17].contains(&pair[0].end), "{size}: {cut:?}");
            }
        }
    }
}
