//! Cutting CSV bytes into pieces that end at record boundaries, so the pieces
//! can be parsed independently.
//!
//! A newline ends a record unless it is inside double quotes; any double
//! quote toggles that state (exact for well-formed CSV). Pieces always start
//! at a record start, outside quotes. A cut's quoted state is the parity of
//! the quotes between the block's start and the cut, counted in parallel.

use std::ops::Range;

/// The end (one past the newline) of the first record ending at or after
/// `at`, where `inside` says whether `at` is inside double quotes.
/// `bytes.len()` if no newline ends a record after `at`.
pub(crate) fn record_end_from(bytes: &[u8], at: usize, mut inside: bool) -> usize {
    for at in memchr::memchr2_iter(b'"', b'\n', &bytes[at..]).map(|i| at + i) {
        match bytes[at] {
            b'"' => inside = !inside,
            _ if !inside => return at + 1,
            _ => {}
        }
    }
    bytes.len()
}

/// Cuts a block from `start` (a record start) of about `block_bytes` into
/// consecutive pieces of about `piece_bytes`, each ending at a record end;
/// the block ends where its last piece does. Empty if `start` is the end.
///
/// Where a cut falls inside quotes is known without walking the bytes
/// before it: the quotes of each stretch between cuts are counted on up to
/// `threads` threads, and the parity of the counts before a cut is its
/// quoted state. Each cut then moves to the first record end after it.
pub(crate) fn pieces(
    bytes: &[u8],
    start: usize,
    block_bytes: usize,
    piece_bytes: usize,
    threads: usize,
) -> Vec<Range<usize>> {
    let limit = start.saturating_add(block_bytes.max(1)).min(bytes.len());
    let piece_bytes = piece_bytes.max(1);
    let cuts: Vec<usize> = (start..limit)
        .step_by(piece_bytes)
        .skip(1)
        .chain([limit])
        .collect();
    let stretches: Vec<Range<usize>> = std::iter::once(start)
        .chain(cuts.iter().copied())
        .zip(cuts.iter().copied())
        .map(|(from, to)| from..to)
        .collect();
    let counts = quote_counts(bytes, &stretches, threads);
    let mut pieces = Vec::new();
    let mut piece_start = start;
    let mut inside = false;
    for (&cut, count) in cuts.iter().zip(counts) {
        inside ^= count % 2 == 1;
        if cut < piece_start {
            // A record longer than the stretch: this cut fell within a piece.
            continue;
        }
        let end = if cut == bytes.len() {
            cut
        } else {
            record_end_from(bytes, cut, inside)
        };
        if end > piece_start {
            pieces.push(piece_start..end);
            piece_start = end;
        }
    }
    pieces
}

/// The number of double quotes in each stretch, counted on up to `threads`
/// threads.
fn quote_counts(bytes: &[u8], stretches: &[Range<usize>], threads: usize) -> Vec<usize> {
    let count = |stretch: &Range<usize>| super::separators::count_quotes(&bytes[stretch.clone()]);
    let threads = threads.clamp(1, stretches.len().max(1));
    if threads == 1 {
        return stretches.iter().map(count).collect();
    }
    let per_thread = stretches.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = stretches
            .chunks(per_thread)
            .map(|group| scope.spawn(move || group.iter().map(count).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_inside_quotes_does_not_end_a_record() {
        let csv = b"a,b\n1,\"x\ny\"\n2,z\n";
        // The record starting at 4 holds a quoted newline at 8.
        assert_eq!(record_end_from(csv, 8, true), 12);
        assert_eq!(record_end_from(csv, 4, false), 12);
        assert_eq!(record_end_from(csv, 12, false), csv.len());
        assert_eq!(record_end_from(csv, 0, false), 4);
    }

    #[test]
    fn pieces_cover_the_range_and_end_at_record_ends() {
        let csv = b"h\n1,\"a\nb\"\n22\n333\n4444";
        for (size, threads) in (1..csv.len() + 2).zip((1..4).cycle()) {
            let cut = pieces(csv, 2, csv.len(), size, threads);
            assert_eq!(cut.first().unwrap().start, 2);
            assert_eq!(cut.last().unwrap().end, csv.len());
            for pair in cut.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!([10, 13, 17].contains(&pair[0].end), "{size}: {cut:?}");
            }
        }
    }

    /// Record ends found by walking every byte from the start.
    fn record_ends(bytes: &[u8]) -> Vec<usize> {
        let mut inside = false;
        let mut ends = Vec::new();
        for (at, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => inside = !inside,
                b'\n' if !inside => ends.push(at + 1),
                _ => {}
            }
        }
        ends
    }

    proptest::proptest! {
        #[test]
        fn blocks_of_pieces_cover_the_bytes_and_end_at_record_ends(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b','),
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'a'),
                ],
                0..400,
            ),
            block_bytes in 1usize..200,
            piece_bytes in 1usize..60,
            threads in 1usize..4,
        ) {
            let ends = record_ends(&bytes);
            let mut at = 0;
            while at < bytes.len() {
                let cut = pieces(&bytes, at, block_bytes, piece_bytes, threads);
                proptest::prop_assert!(!cut.is_empty());
                for piece in &cut {
                    proptest::prop_assert_eq!(piece.start, at);
                    proptest::prop_assert!(piece.end > piece.start);
                    proptest::prop_assert!(
                        piece.end == bytes.len() || ends.contains(&piece.end),
                        "{:?} does not end at a record end ({:?})", piece, ends
                    );
                    at = piece.end;
                }
            }
            proptest::prop_assert!(pieces(&bytes, bytes.len(), block_bytes, piece_bytes, threads).is_empty());
        }
    }
}
