//! Writes a synthetic customer CSV and reports the throughput.
//!
//! ```text
//! cargo run --release -p customer-analysis --example generate_csv -- ROWS SEED OUT.csv
//! ```
//!
//! `data/SMALL_amazon_customers_data.csv` is `10000 42`.

use std::fs::File;
use std::io::{self, Write};
use std::time::Instant;

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rows, seed, out] = args.as_slice() else {
        eprintln!("usage: generate_csv ROWS SEED OUT.csv");
        std::process::exit(2);
    };
    let rows: u64 = rows.parse().expect("ROWS must be a whole number");
    let seed: u64 = seed.parse().expect("SEED must be a whole number");

    let start = Instant::now();
    let mut out = Counting {
        inner: File::create(out)?,
        bytes: 0,
    };
    customer_analysis::generate::generate_csv(rows, seed, &mut out)?;
    let seconds = start.elapsed().as_secs_f64();
    let bytes = out.bytes;
    eprintln!(
        "{rows} rows, {bytes} bytes in {seconds:.3} s: {:.0} MB/s",
        bytes as f64 / seconds / 1e6
    );
    Ok(())
}
