//! Writes a synthetic customer CSV and reports the throughput.
//!
//! ```text
//! cargo run --release -p customer-analysis --example generate_csv -- ROWS SEED OUT.csv [--messy]
//! ```
//!
//! `--messy` adds a quoted `Name` column and an extra column
//! ([`CsvShape::MESSY`]), as the benchmarks use.
//! `data/SMALL_amazon_customers_data.csv` is `10000 42`.

use std::fs::File;
use std::io::{self, Write};
use std::time::Instant;

use customer_analysis::generate::{CsvShape, generate_csv_shaped};

/// Counts the bytes passed through to the inner writer (so `/dev/null` works).
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.iter().position(|a| a == "--messy") {
        Some(at) => {
            args.remove(at);
            CsvShape::MESSY
        }
        None => CsvShape::PLAIN,
    };
    let [rows, seed, out] = args.as_slice() else {
        eprintln!("usage: generate_csv ROWS SEED OUT.csv [--messy]");
        std::process::exit(2);
    };
    let rows: u64 = rows.parse().expect("ROWS must be a whole number");
    let seed: u64 = seed.parse().expect("SEED must be a whole number");

    let start = Instant::now();
    let mut out = Counting {
        inner: File::create(out)?,
        bytes: 0,
    };
    generate_csv_shaped(rows, seed, shape, &mut out)?;
    let seconds = start.elapsed().as_secs_f64();
    let bytes = out.bytes;
    eprintln!(
        "{rows} rows, {bytes} bytes in {seconds:.3} s: {:.0} MB/s",
        bytes as f64 / seconds / 1e6
    );
    Ok(())
}
