//! Finding the field and record ends of CSV bytes 64 bytes at a time.
//!
//! Each 64-byte stretch becomes three bit masks (quotes, separators (a comma
//! or another byte), newlines),
//! one bit per byte, computed 16 bytes at a time with `wide`'s safe SIMD
//! (SSE2 compares and move-masks on x86-64). A prefix XOR of the quote mask
//! tells which bytes are inside double quotes, carried from one stretch to
//! the next, so a comma or newline inside a quoted field is never a
//! separator. Any double quote toggles the state, as in `split.rs`: for
//! well-formed CSV (quotes around whole fields, `""` inside them) this is
//! exactly the quoting rule.

use wide::u8x16;

/// The separators of one 64-byte stretch: bit `i` stands for byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Separators {
    /// Separators and newlines outside quotes: each ends a field.
    pub ends: u64,
    /// Newlines outside quotes: each also ends a record.
    pub newlines: u64,
}

/// Walks bytes 64 at a time, carrying the quoted state across stretches.
///
/// It also watches for a *stray* quote: one that opens a quoted stretch
/// inside a cell instead of at its start (`TV 55" wide`). Polars' parser
/// takes such a quote as text while its record counter toggles on it, so
/// when the stretch it opens holds a separator or a line break, polars
/// splits the file otherwise than this scanner, or refuses it ("CSV
/// malformed"). The reader refuses such a file ([`Self::stray_quote`]).
/// The watch costs a few bit operations in stretches with quotes, and a
/// walk over the quotes of a stretch only where one opens mid-cell (or a
/// stray quoted stretch goes on).
#[derive(Debug)]
pub(crate) struct Scanner {
    /// All ones when the previous stretch ended inside quotes.
    inside: u64,
    /// The byte between fields.
    separator: u8,
    /// Whether the previous stretch's last byte ended a field (a cell
    /// starts at this stretch's first byte); true at the start.
    after_end: bool,
    /// Whether the previous stretch's last byte was a quote.
    after_quote: bool,
    /// Whether the quoted stretch open now was opened by a stray quote.
    stray_open: bool,
    /// Whether the quoted stretch closed last was opened by a stray quote
    /// (a quote right after its closing quote continues it: `""`).
    stray_closed: bool,
    /// Where the stray quote open now is.
    stray_open_at: usize,
    /// The first stray quote whose quoted stretch held a separator or a
    /// line break.
    stray: Option<usize>,
}

impl Scanner {
    /// A scanner of fields separated by `separator` (not a double quote,
    /// `\r` or `\n`), starting outside quotes.
    pub(crate) fn new(separator: u8) -> Self {
        Self {
            inside: 0,
            separator,
            after_end: true,
            after_quote: false,
            stray_open: false,
            stray_closed: false,
            stray_open_at: 0,
            stray: None,
        }
    }

    /// The separators of `bytes[at..at + 64]`; bytes past the end count as
    /// neither quotes nor separators. Stretches must be given in order, each
    /// starting where the previous one ended.
    #[inline]
    pub(crate) fn stretch(&mut self, bytes: &[u8], at: usize) -> Separators {
        let masks = match bytes.get(at..at + 64) {
            Some(whole) => Masks::of(whole, self.separator),
            None => {
                let mut padded = [0u8; 64];
                let rest = &bytes[at.min(bytes.len())..];
                padded[..rest.len()].copy_from_slice(rest);
                Masks::of(&padded, self.separator)
            }
        };
        let inside = prefix_xor(masks.quotes) ^ self.inside;
        let ends = (masks.separators | masks.newlines) & !inside;
        if masks.quotes != 0 || self.stray_open {
            let starts = (ends << 1) | u64::from(self.after_end);
            // Only `inside & quotes` bits open a quoted stretch; one right
            // after a quote continues the stretch that quote closed (`""`),
            // so it is stray only if that one was (then `stray_closed`).
            let after_quote = (masks.quotes << 1) | u64::from(self.after_quote);
            if masks.quotes & inside & !starts & !after_quote != 0
                || self.stray_open
                || (self.stray_closed && self.after_quote)
            {
                self.watch_stray(&masks, inside, starts, at);
            } else {
                // Every quoted stretch closed here opened at a cell's start.
                self.stray_closed = false;
            }
        }
        // Arithmetic shift: all ones if the last byte is inside quotes.
        self.inside = ((inside as i64) >> 63) as u64;
        self.after_end = ends >> 63 == 1;
        self.after_quote = masks.quotes >> 63 == 1;
        Separators {
            ends,
            newlines: masks.newlines & !inside,
        }
    }

    /// Follows the quotes of a stretch in which one opens mid-cell (or a
    /// stray quoted stretch goes on), noting a stray one whose quoted
    /// stretch holds a separator or a line break.
    #[cold]
    #[inline(never)]
    fn watch_stray(&mut self, masks: &Masks, inside: u64, starts: u64, at: usize) {
        let held = (masks.separators | masks.newlines) & inside;
        let mut events = masks.quotes | held;
        while events != 0 {
            let bit = events & events.wrapping_neg();
            events &= events - 1;
            if masks.quotes & bit == 0 {
                if self.stray_open && self.stray.is_none() {
                    self.stray = Some(self.stray_open_at);
                }
            } else if inside & bit == 0 {
                self.stray_closed = self.stray_open;
                self.stray_open = false;
            } else {
                let after_quote = (masks.quotes << 1 | u64::from(self.after_quote)) & bit != 0;
                self.stray_open = if after_quote {
                    self.stray_closed
                } else {
                    starts & bit == 0
                };
                if self.stray_open && !after_quote {
                    self.stray_open_at = at + bit.trailing_zeros() as usize;
                }
            }
        }
    }

    /// The offset of the first stray quote (see [`Scanner`]) whose quoted
    /// stretch held a separator or a line break, in the bytes given so far.
    pub(crate) fn stray_quote(&self) -> Option<usize> {
        self.stray
    }

    /// Whether the stretches given so far end inside quotes.
    pub(crate) fn ends_inside(&self) -> bool {
        self.inside != 0
    }
}

/// Where the quotes, separators and newlines of a 64-byte stretch are.
struct Masks {
    quotes: u64,
    separators: u64,
    newlines: u64,
}

impl Masks {
    /// The masks of `stretch` (64 bytes).
    #[inline]
    fn of(stretch: &[u8], separator: u8) -> Self {
        let (quote, separator, newline) = (
            u8x16::splat(b'"'),
            u8x16::splat(separator),
            u8x16::splat(b'\n'),
        );
        let mut masks = Masks {
            quotes: 0,
            separators: 0,
            newlines: 0,
        };
        for (i, lane) in stretch.chunks_exact(16).enumerate() {
            let lane = u8x16::from(<[u8; 16]>::try_from(lane).expect("chunks of 16 bytes"));
            let shift = 16 * i;
            masks.quotes |= bits(lane.cmp_eq(quote)) << shift;
            masks.separators |= bits(lane.cmp_eq(separator)) << shift;
            masks.newlines |= bits(lane.cmp_eq(newline)) << shift;
        }
        masks
    }
}

/// The number of double quotes in `bytes`: counted in sixteen byte
/// counters, 16 bytes at a time, and the counters summed every 255 steps
/// (before one could wrap).
pub(crate) fn count_quotes(bytes: &[u8]) -> usize {
    let (quote, one) = (u8x16::splat(b'"'), u8x16::splat(1));
    let mut lanes = bytes.chunks_exact(16);
    let mut count = 0;
    loop {
        let mut counters = u8x16::splat(0);
        let mut steps = 0;
        for lane in lanes.by_ref().take(255) {
            let lane = u8x16::from(<[u8; 16]>::try_from(lane).expect("chunks of 16 bytes"));
            counters += lane.cmp_eq(quote) & one;
            steps += 1;
        }
        count += counters
            .to_array()
            .iter()
            .map(|&c| usize::from(c))
            .sum::<usize>();
        if steps < 255 {
            break;
        }
    }
    count + lanes.remainder().iter().filter(|&&b| b == b'"').count()
}

/// One bit per byte of a compare's result (bit `j` for byte `j`).
#[inline(always)]
fn bits(compared: u8x16) -> u64 {
    u64::from(compared.move_mask() as u16)
}

/// Bit `i` of the result is the parity of the set bits of `x` at `0..=i`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The separators found one byte at a time, with any quote toggling.
    fn by_hand(bytes: &[u8], separator: u8) -> Vec<(usize, bool)> {
        let mut inside = false;
        let mut found = Vec::new();
        for (at, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => inside = !inside,
                b if b == separator && !inside => found.push((at, false)),
                b'\n' if !inside => found.push((at, true)),
                _ => {}
            }
        }
        found
    }

    fn scanned(bytes: &[u8], separator: u8) -> Vec<(usize, bool)> {
        let mut scanner = Scanner::new(separator);
        let mut found = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let stretch = scanner.stretch(bytes, at);
            let mut ends = stretch.ends;
            while ends != 0 {
                let bit = ends.trailing_zeros();
                found.push((at + bit as usize, stretch.newlines >> bit & 1 == 1));
                ends &= ends - 1;
            }
            at += 64;
        }
        found
    }

    #[test]
    fn quotes_are_counted_past_what_a_byte_counter_holds() {
        // 300 steps of 16 bytes, every byte a quote, plus a remainder.
        let bytes = vec![b'"'; 16 * 300 + 5];
        assert_eq!(count_quotes(&bytes), bytes.len());
        let mut mixed = b"a\"b".repeat(2000);
        mixed.push(b'"');
        assert_eq!(count_quotes(&mixed), 2001);
    }

    #[test]
    fn quoted_separators_across_stretches_are_not_separators() {
        let mut text = b"a,\"".to_vec();
        text.extend(std::iter::repeat_n(b',', 100));
        text.extend(b"\n\",b\nc");
        assert_eq!(
            scanned(&text, b','),
            [(1, false), (105, false), (107, true)]
        );
    }

    proptest! {
        #[test]
        fn the_scanner_finds_what_a_byte_walk_finds(
            bytes in prop::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b','), Just(b';'), Just(b'\t'), Just(b'\n'), Just(b'a'),
                    any::<u8>(),
                ],
                0..300,
            ),
            separator in prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')],
        ) {
            prop_assert_eq!(scanned(&bytes, separator), by_hand(&bytes, separator));
            let quotes = bytes.iter().filter(|&&b| b == b'"').count();
            prop_assert_eq!(count_quotes(&bytes), quotes);
        }
    }

    /// The stray quote the scanner notes in `bytes`, if any.
    fn stray(bytes: &[u8]) -> Option<usize> {
        let mut scanner = Scanner::new(b',');
        let mut at = 0;
        while at < bytes.len() {
            scanner.stretch(bytes, at);
            at += 64;
        }
        scanner.stray_quote()
    }

    #[test]
    fn a_stray_quote_is_noted_where_its_quoted_stretch_holds_an_end() {
        assert_eq!(stray(b"1,TV 55\" wide,2\n3,x,4\n"), Some(7));
        assert_eq!(
            stray(b"1,a\"b\"c,2\n"),
            None,
            "opened and closed, nothing held"
        );
        assert_eq!(
            stray(b"1,\"x\"\"y,z\",2\n"),
            None,
            "quoted from the cell's start"
        );
        // A quote right after the stray stretch's closing one continues it.
        assert_eq!(stray(b"1,a\"b\"\"c,d\",2\n"), Some(3));
        // The same across two stretches: the closing quote is byte 63, the
        // next one byte 64.
        for (filler, expected) in [(b'x', Some(61)), (b',', None)] {
            let mut bytes = vec![filler; 61];
            bytes.extend_from_slice(b"\"b\"\"c,d\"\n");
            if filler == b',' {
                // The quote now opens a cell: quoted from its start.
                bytes[60] = b',';
            }
            assert_eq!(stray(&bytes), expected, "{filler}");
        }
    }
}
