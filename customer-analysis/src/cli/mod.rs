//! What the `customer-analysis` binary adds to the framework's command line
//! (`pipeline_core::cli`): its own commands, `generate` and `tour`, the
//! fields of `run --json` that scripts read (`segment_result`,
//! `high_value_summary`), and checks of the threshold parameters.

mod tour;

use std::path::PathBuf;

use pipeline_core::cli::{CliError, Context, RunResults, clap};
use pipeline_core::config::TypeRegistry;
use serde_json::{Map, Value as Json};

use crate::generate::{CsvShape, generate_csv_shaped};

/// The demo's own commands.
#[derive(Debug, clap::Subcommand)]
pub enum Extra {
    /// Write a deterministic synthetic customer CSV.
    Generate(GenerateArgs),
    /// Replay the seed tutorial's section 6 and show which tasks each step ran.
    Tour(tour::TourArgs),
}

/// Arguments of `generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of customer rows.
    #[arg(long)]
    rows: u64,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the generator (same seed, same bytes).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Add a quoted `Name` column ("Last, First", some with escaped quotes)
    /// and an extra date column; the customer columns keep their values.
    #[arg(long)]
    messy: bool,
}

impl Extra {
    /// Runs the command.
    pub fn run(self, ctx: &Context<'_>) -> Result<(), CliError> {
        match self {
            Extra::Generate(args) => generate(&args),
            Extra::Tour(args) => tour::tour(&args, ctx),
        }
    }
}

fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    let io =
        |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", args.out.display()));
    let file = std::fs::File::create(&args.out).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let shape = if args.messy {
        CsvShape::MESSY
    } else {
        CsvShape::PLAIN
    };
    generate_csv_shaped(args.rows, args.seed, shape, &mut out).map_err(io)?;
    std::io::Write::flush(&mut out).map_err(io)?;
    Ok(())
}

/// The node types a TOML configuration may give defaults for
/// (`metric = "median"`), besides the built-in scalars.
pub fn types() -> TypeRegistry {
    crate::pipeline::config_types()
}

/// Refuses a threshold that is negative, infinite or NaN before it is written.
pub fn check_threshold(value: &f64) -> Result<(), String> {
    if value.is_finite() && *value >= 0.0 {
        Ok(())
    } else {
        Err(format!("a threshold is a finite number >= 0, not {value}"))
    }
}

/// The fields of `run --json` that scripts read: `segment_result` (every
/// row, one object per segment) and `high_value_summary` (the summary's one
/// row as an object).
pub fn report(results: &RunResults<'_>) -> Result<Map<String, Json>, CliError> {
    // A run of one upstream task leaves these without a value: `null`.
    let segments = results.json_if_any("segment_result")?;
    let summary = results.json_if_any("high_value_summary_df")?;
    let mut fields = Map::new();
    fields.insert(
        "segment_result".to_owned(),
        segments.map_or(Json::Null, |s| s["rows"].clone()),
    );
    fields.insert(
        "high_value_summary".to_owned(),
        summary
            .and_then(|s| s["rows"].get(0).cloned())
            .unwrap_or(Json::Null),
    );
    Ok(fields)
}
