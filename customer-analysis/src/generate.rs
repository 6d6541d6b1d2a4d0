//! A fast, deterministic generator of synthetic customer CSV files.
//!
//! The output has the columns of the original "Amazon customers" data set:
//!
//! ```text
//! CustomerID,Age,Gender,Country,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore
//! 1,47,Female,Germany,2316.07,58,412,3.9
//! ```
//!
//! | column | values |
//! |---|---|
//! | `CustomerID` | 1, 2, 3, … (the row number) |
//! | `Age` | integer 18–80 |
//! | `Gender` | `Male`, `Female` or `Other` |
//! | `Country` | one of [`COUNTRIES`] |
//! | `TotalPurchaseAmount` | 10.00–5000.00, always two decimals |
//! | `NumberOfPurchases` | integer 1–100 (never 0, so per-purchase ratios are finite) |
//! | `TotalPurchaseTime` | integer 1–1000 (minutes) |
//! | `AverageReviewScore` | 1.0–5.0, always one decimal |
//!
//! The same `(rows, seed)` always gives the same bytes, on every platform: the
//! random numbers come from an inline SplitMix64 generator and every number is
//! formatted by hand (no float formatting is involved), so the output does not
//! depend on a crate version or on the standard library's float printing.
//! Values never contain commas or quotes, so a plain `split(',')` parses them.
//!
//! Real exports are messier: [`generate_csv_shaped`] with a [`CsvShape`] adds
//! a quoted `Name` column (`"Lee, Ann"`, now and then with an escaped quote:
//! `"Lee, Ann ""Annie"""`) and extra columns the pipeline never reads, some
//! quoted with commas inside. The customer columns keep the values of the
//! plain file of the same seed, so both give the same results.
//!
//! Memory use is constant: rows are formatted into one reused buffer that is
//! handed to the writer in large blocks, so the writer needs no extra buffering.

use std::io::{self, Write};

/// The header row written by [`generate_csv`] (without the line feed).
pub const HEADER: &str = "CustomerID,Age,Gender,Country,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore";

/// The values of the `Gender` column.
pub const GENDERS: [&str; 3] = ["Male", "Female", "Other"];

/// The values of the `Country` column.
pub const COUNTRIES: [&str; 8] = [
    "United States",
    "United Kingdom",
    "Germany",
    "France",
    "India",
    "Japan",
    "Canada",
    "Brazil",
];

/// Bytes gathered before they are handed to the writer.
const FLUSH_AT: usize = 1 << 20;
/// Upper bound of one formatted row (the longest is well under 100 bytes).
const MAX_ROW_LEN: usize = 128;

/// Which columns [`generate_csv_shaped`] writes besides the customer columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvShape {
    /// A quoted `Name` column after `CustomerID`: `"Last, First"`, one name in
    /// sixteen with a nickname in escaped quotes.
    pub quoted_names: bool,
    /// This many extra columns at the end, `Extra1`, `Extra2`, …: odd ones a
    /// date (`2021-07-04`), even ones a quoted note with a comma inside.
    pub extra_columns: usize,
}

impl CsvShape {
    /// The columns of the original data set only (what [`generate_csv`] writes).
    pub const PLAIN: Self = Self {
        quoted_names: false,
        extra_columns: 0,
    };

    /// Quoted names and one extra column (about 77 bytes a row): the shape
    /// the benchmarks use.
    pub const MESSY: Self = Self {
        quoted_names: true,
        extra_columns: 1,
    };
}

/// Last names of the `Name` column.
const LAST_NAMES: [&str; 8] = [
    "Smith", "García", "Müller", "Lee", "O'Brien", "Nguyen", "Rossi", "Kowalski",
];
/// First names of the `Name` column.
const FIRST_NAMES: [&str; 8] = [
    "Ann",
    "José",
    "Wei",
    "Fatima",
    "John",
    "Olga",
    "Kwame",
    "Mary Jane",
];
/// Notes of the even extra columns (each quoted; commas inside).
const NOTES: [&str; 4] = [
    "called, no answer",
    "prefers email, not phone",
    "vip since 2019, gold tier",
    "returned 2 items, refunded",
];

/// Writes a header row and `rows` data rows of synthetic customers to `out`.
///
/// The output depends only on `rows` and `seed`. Rows end with `\n`. Errors
/// are those of `out`; nothing is written after the first one.
///
/// ```
/// let mut csv = Vec::new();
/// customer_analysis::generate::generate_csv(3, 42, &mut csv).unwrap();
/// let text = String::from_utf8(csv).unwrap();
/// assert_eq!(text.lines().count(), 4);
/// assert!(text.starts_with("CustomerID,Age,Gender,Country,"));
/// ```
pub fn generate_csv(rows: u64, seed: u64, out: &mut impl Write) -> io::Result<()> {
    generate_csv_shaped(rows, seed, CsvShape::PLAIN, out)
}

/// [`generate_csv`] with the extra columns of `shape`. The customer columns
/// hold the same values as in [`generate_csv`]'s output for the same `seed`.
///
/// ```
/// use customer_analysis::generate::{CsvShape, generate_csv_shaped};
/// let mut csv = Vec::new();
/// generate_csv_shaped(2, 42, CsvShape::MESSY, &mut csv).unwrap();
/// let text = String::from_utf8(csv).unwrap();
/// assert!(text.starts_with("CustomerID,Name,Age,"));
/// assert!(text.lines().nth(1).unwrap().contains(", ")); // a quoted name
/// ```
pub fn generate_csv_shaped(
    rows: u64,
    seed: u64,
    shape: CsvShape,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut rng = SplitMix64::new(seed);
    // Text comes from a stream of its own, so the numbers stay those of the
    // plain file.
    let mut text_rng = SplitMix64::new(seed ^ 0x5EED_7E47);
    let row_len = MAX_ROW_LEN + 48 * (usize::from(shape.quoted_names) + shape.extra_columns);
    let mut buf = Vec::with_capacity(FLUSH_AT + row_len);
    push_header(&mut buf, shape);

    for id in 1..=rows {
        push_row(&mut buf, id, &mut rng, shape, &mut text_rng);
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

/// The header row of `shape`, with its line feed.
fn push_header(buf: &mut Vec<u8>, shape: CsvShape) {
    let (id, rest) = HEADER
        .split_once(',')
        .expect("the header has several columns");
    buf.extend_from_slice(id.as_bytes());
    if shape.quoted_names {
        buf.extend_from_slice(b",Name");
    }
    buf.push(b',');
    buf.extend_from_slice(rest.as_bytes());
    for n in 1..=shape.extra_columns {
        buf.extend_from_slice(b",Extra");
        push_u64(buf, n as u64);
    }
    buf.push(b'\n');
}

/// A quoted `"Last, First"` name, now and then with a quoted nickname.
fn push_name(buf: &mut Vec<u8>, rng: &mut SplitMix64) {
    let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
    let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
    buf.push(b'"');
    buf.extend_from_slice(last.as_bytes());
    buf.extend_from_slice(b", ");
    buf.extend_from_slice(first.as_bytes());
    if rng.below(16) == 0 {
        buf.extend_from_slice(b" \"\"");
        buf.extend_from_slice(&first.as_bytes()[..2]);
        buf.extend_from_slice(b"y\"\"");
    }
    buf.push(b'"');
}

/// The `n`th extra column (1-based): a date, or a quoted note.
fn push_extra(buf: &mut Vec<u8>, n: usize, rng: &mut SplitMix64) {
    if n % 2 == 1 {
        push_u64(buf, 2015 + rng.below(10));
        for upto in [12, 28] {
            let part = 1 + rng.below(upto);
            buf.push(b'-');
            if part < 10 {
                buf.push(b'0');
            }
            push_u64(buf, part);
        }
    } else {
        buf.push(b'"');
        buf.extend_from_slice(NOTES[rng.below(NOTES.len() as u64) as usize].as_bytes());
        buf.push(b'"');
    }
}

/// Formats one data row (with its line feed) at the end of `buf`: the
/// customer columns from `rng`, the text of `shape`'s columns from `text`.
fn push_row(
    buf: &mut Vec<u8>,
    id: u64,
    rng: &mut SplitMix64,
    shape: CsvShape,
    text: &mut SplitMix64,
) {
    let age = 18 + rng.below(63); // 18..=80
    let gender = GENDERS[rng.below(GENDERS.len() as u64) as usize];
    let country = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];
    let amount_cents = 1_000 + rng.below(499_001); // 10.00..=5000.00
    let purchases = 1 + rng.below(100); // 1..=100
    let minutes = 1 + rng.below(1_000); // 1..=1000
    let review_tenths = 10 + rng.below(41); // 1.0..=5.0

    push_u64(buf, id);
    buf.push(b',');
    if shape.quoted_names {
        push_name(buf, text);
        buf.push(b',');
    }
    push_u64(buf, age);
    buf.push(b',');
    buf.extend_from_slice(gender.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(country.as_bytes());
    buf.push(b',');
    push_u64(buf, amount_cents / 100);
    buf.push(b'.');
    let cents = (amount_cents % 100) as u8;
    buf.extend_from_slice(&[b'0' + cents / 10, b'0' + cents % 10]);
    buf.push(b',');
    push_u64(buf, purchases);
    buf.push(b',');
    push_u64(buf, minutes);
    buf.push(b',');
    buf.extend_from_slice(&[
        b'0' + (review_tenths / 10) as u8,
        b'.',
        b'0' + (review_tenths % 10) as u8,
    ]);
    for n in 1..=shape.extra_columns {
        buf.push(b',');
        push_extra(buf, n, text);
    }
    buf.push(b'\n');
}

/// Appends the decimal digits of `n` to `buf`.
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast generator whose
/// output is fully determined by its seed. Not for cryptography.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (multiply-shift; the bias, below `n / 2^64`, is
    /// irrelevant for synthetic data).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_u64_formats_edge_values() {
        for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            let mut buf = Vec::new();
            push_u64(&mut buf, n);
            assert_eq!(buf, n.to_string().into_bytes());
        }
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        for n in [1, 2, 3, 63, 1000] {
            for _ in 0..10_000 {
                assert!(rng.below(n) < n);
            }
        }
    }
}
