//! Times task 1 (`preprocess_and_score` + a streaming collect) and variants of
//! its CSV scan, for `PERF_NOTES.md`.
//!
//! ```text
//! cargo run --release -p customer-analysis --example generate_csv -- 10000000 42 /tmp/customers_10m.csv
//! cargo run --release -p customer-analysis [--features mimalloc] --example perf_task1 -- /tmp/customers_10m.csv [VARIANT...]
//! ```
//!
//! Each variant runs once to warm up, then `PERF_REPEATS` times (default 5);
//! the minimum and the median wall time are printed, and the minimum CPU time
//! (user + system, all threads, from `/proc/self/stat`; 10 ms resolution),
//! which other processes on a shared machine disturb much less than the wall
//! time. Without variants, all run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use customer_analysis::ingest::{ReadOptions, read_csv_blocks};
use customer_analysis::transform::{
    INPUT_COLUMNS, TransformError, collect_streaming, preprocess_and_score,
    preprocess_and_score_into, sink_parquet_streaming,
};
use polars::prelude::*;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COLUMNS: [&str; 4] = [
    "TotalPurchaseAmount",
    "NumberOfPurchases",
    "TotalPurchaseTime",
    "AverageReviewScore",
];

/// The variants, each with what it measures.
const VARIANTS: &[(&str, &str)] = &[
    (
        "task1",
        "the library: preprocess_and_score + collect_streaming",
    ),
    (
        "task1-sink",
        "the library, sunk to /tmp/perf_task1.parquet instead of collected",
    ),
    ("task1-inmem", "the library's query on the in-memory engine"),
    (
        "scan4",
        "scan (library options), select the 4 raw columns, streaming collect",
    ),
    ("scan4-f64", "scan4 with all four columns Float64"),
    (
        "scan4-i64",
        "scan4 with NumberOfPurchases and TotalPurchaseTime Int64",
    ),
    (
        "scan4-infer",
        "scan4 with default type inference (100 rows) instead of fixed types",
    ),
    (
        "scan4-lossy",
        "scan4 with CsvEncoding::LossyUtf8 (no UTF-8 validation)",
    ),
    ("scan4-lowmem", "scan4 with low_memory = true"),
    ("scan4-chunk", "scan4 with chunk_size = 4 MiB"),
    ("scan4-nthreads1", "scan4 with n_threads = 1"),
    ("scan4-inmem", "scan4 on the in-memory engine"),
    ("count", "scan, count rows (no column parsed), streaming"),
    (
        "ingest4",
        "the parallel reader (ingest::read_csv_blocks), 4 columns, frames dropped",
    ),
    (
        "task1-ingest",
        "what the pipeline runs: preprocess_and_score_into (parallel reader, score, Parquet)",
    ),
];

fn scan(path: &Path, variant: &str) -> PolarsResult<LazyFrame> {
    let mut types = vec![
        DataType::Float64,
        DataType::Int64,
        DataType::Float64,
        DataType::Float64,
    ];
    match variant {
        "scan4-f64" => types[1] = DataType::Float64,
        "scan4-i64" => types[2] = DataType::Int64,
        _ => {}
    }
    let schema: Schema = COLUMNS
        .iter()
        .zip(types)
        .map(|(name, dtype)| Field::new((*name).into(), dtype))
        .collect();
    let mut reader = LazyCsvReader::new(PlRefPath::try_from_path(path)?)
        .with_has_header(true)
        .with_glob(false);
    reader = if variant == "scan4-infer" {
        reader
    } else {
        reader
            .with_infer_schema_length(Some(0))
            .with_dtype_overwrite(Some(Arc::new(schema)))
    };
    reader = match variant {
        "scan4-lossy" => reader.with_encoding(CsvEncoding::LossyUtf8),
        "scan4-lowmem" => reader.with_low_memory(true),
        "scan4-chunk" => reader.with_chunk_size(4 << 20),
        "scan4-nthreads1" => reader.with_n_threads(Some(1)),
        _ => reader,
    };
    reader.finish()
}

/// User + system CPU time of this process so far (Linux only; zero elsewhere).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let ticks: u64 = after_name
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn run(path: &Path, variant: &str) -> PolarsResult<usize> {
    let task1 = || preprocess_and_score(path).map_err(|e| polars_err!(ComputeError: "{e}"));
    let failed = |e: TransformError| polars_err!(ComputeError: "{e}");
    let df = match variant {
        "ingest4" => {
            let mut rows = 0;
            read_csv_blocks(path, &INPUT_COLUMNS, &ReadOptions::default(), |frame| {
                rows += frame.height();
                Ok(())
            })
            .map_err(failed)?;
            return Ok(rows);
        }
        "task1-ingest" => {
            let dir = tempfile::tempdir()?;
            let done = preprocess_and_score_into(path, dir.path(), &ReadOptions::default())
                .map_err(failed)?;
            return Ok(done
                .file
                .map_or(0, |f| f.metadata().map_or(0, |m| m.len() as usize)));
        }
        "task1" => collect_streaming(task1()?)?,
        "task1-sink" => {
            sink_parquet_streaming(task1()?, Path::new("/tmp/perf_task1.parquet"))?;
            return Ok(0);
        }
        "task1-inmem" => task1()?
            .collect_with_engine(Engine::InMemory)?
            .unwrap_single(),
        "count" => collect_streaming(scan(path, variant)?.select([len()]))?,
        "scan4-inmem" => scan(path, variant)?
            .select(COLUMNS.map(col))
            .collect_with_engine(Engine::InMemory)?
            .unwrap_single(),
        v if v.starts_with("scan4") => {
            collect_streaming(scan(path, variant)?.select(COLUMNS.map(col)))?
        }
        other => panic!("unknown variant {other}"),
    };
    Ok(df.height())
}

fn main() -> PolarsResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((csv, chosen)) = args.split_first() else {
        eprintln!("usage: perf_task1 CSV [VARIANT...]; variants:");
        for (name, what) in VARIANTS {
            eprintln!("  {name:16} {what}");
        }
        std::process::exit(2);
    };
    let repeats: usize = std::env::var("PERF_REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let path = Path::new(csv);
    let size = std::fs::metadata(path)?.len() as f64;
    let variants: Vec<&str> = if chosen.is_empty() {
        VARIANTS.iter().map(|(name, _)| *name).collect()
    } else {
        chosen.iter().map(String::as_str).collect()
    };
    println!(
        "allocator: {}, file: {csv} ({:.0} MB), repeats: {repeats}",
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "system"
        },
        size / 1e6
    );
    for variant in variants {
        let rows = run(path, variant)?; // warm-up
        let mut times: Vec<(Duration, Duration)> = (0..repeats)
            .map(|_| {
                let (start, cpu_start) = (Instant::now(), cpu_time());
                run(path, variant).map(|_| (start.elapsed(), cpu_time() - cpu_start))
            })
            .collect::<PolarsResult<_>>()?;
        let cpu = times.iter().map(|t| t.1).min().unwrap_or_default();
        times.sort();
        let (min, median) = (times[0].0.as_secs_f64(), times[repeats / 2].0.as_secs_f64());
        println!(
            "{variant:16} wall min {min:.3} s  median {median:.3} s  ({:.0} MB/s)  cpu min {:.2} s  rows {rows}",
            size / min / 1e6,
            cpu.as_secs_f64()
        );
    }
    Ok(())
}
