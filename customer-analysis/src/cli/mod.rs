//! The `customer-analysis` command line: run the pipeline on a persistent store,
//! generate data, replay the seed tutorial, and look at what happened.

mod frames;
mod graph;
mod inspect;
mod progress;
mod run;
mod settings;
mod tour;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use pipeline_core::config::{Config, TaskRegistry, TypeRegistry};
use pipeline_core::{Graph, Runtime};

use crate::pipeline::CustomerAnalysis;

/// The seed pipeline (score, segment, analyse, summarize customers) on polars
/// streaming, with incremental re-runs recorded in an embedded store.
#[derive(Debug, Parser)]
#[command(name = "customer-analysis", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write inputs into a scenario, submit it, and show what ran and the results.
    Run(run::RunArgs),
    /// Write a deterministic synthetic customer CSV.
    Generate(GenerateArgs),
    /// Replay the seed tutorial's section 6 and show which tasks each step ran.
    Tour(tour::TourArgs),
    /// List the submissions of a scenario, job by job.
    History(inspect::HistoryArgs),
    /// Show which job made a data node's current value, from which inputs.
    Lineage(inspect::LineageArgs),
    /// Compare scenarios node by node.
    Compare(inspect::CompareArgs),
    /// Print the pipeline as a Mermaid or Graphviz picture, or as TOML.
    Graph {
        /// The output format.
        #[arg(long, value_enum, default_value = "mermaid")]
        format: graph::Format,
    },
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Number of customer rows.
    #[arg(long)]
    rows: u64,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the generator (same seed, same bytes).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Where the store lives and which scenario to use: shared by several commands.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The store directory [default: $PIPELINE_STORE, else .pipeline].
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// The scenario's name.
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Use the scenario declared in this TOML file instead of the built-in one.
    #[arg(long, value_name = "TOML")]
    config: Option<PathBuf>,
}

/// How much decoded data the tasks may keep in memory: shared by the
/// commands that submit.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// Keep decoded data frames of up to this many MiB in memory between
    /// tasks, so that a task reading a frame another task wrote or read need
    /// not decode its file again (0: always read frames from their files).
    /// A task writing a frame may hold up to as much again while it writes.
    #[arg(long, value_name = "MiB", default_value_t = pipeline_core::frame::memory::DEFAULT_BUDGET >> 20)]
    frame_memory: usize,
}

impl MemoryArgs {
    /// Sets the process's budget ([`pipeline_core::frame::memory::set_budget`]).
    fn apply(&self) {
        pipeline_core::frame::memory::set_budget(self.frame_memory.saturating_mul(1 << 20));
    }
}

/// Everything a command can fail with; printed as `error: …`, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The runtime or the store failed.
    #[error(transparent)]
    Pipeline(#[from] pipeline_core::Error),
    /// The TOML configuration has problems.
    #[error("{0}")]
    Config(#[from] pipeline_core::config::ConfigErrors),
    /// The input data is unusable.
    #[error(transparent)]
    Transform(#[from] crate::transform::TransformError),
    /// Reading results failed.
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Message(String),
}

/// The node types a configuration file may give defaults for.
pub(crate) fn types() -> TypeRegistry {
    crate::pipeline::config_types()
}

impl StoreArgs {
    /// The store directory in use.
    fn store_dir(&self) -> PathBuf {
        self.store
            .clone()
            .or_else(|| std::env::var_os("PIPELINE_STORE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".pipeline"))
    }

    /// Opens the persistent store.
    fn runtime(&self) -> Result<Runtime, CliError> {
        Ok(Runtime::open(self.store_dir())?)
    }

    /// The graph: the built-in scenario type, or the one a TOML file declares.
    fn graph(&self) -> Result<Arc<Graph>, CliError> {
        let Some(path) = &self.config else {
            return Ok(CustomerAnalysis::graph());
        };
        let config = Config::load(path, &TaskRegistry::collected(), &types())?;
        let mut scenarios = config.scenarios();
        match (scenarios.next(), scenarios.next()) {
            (Some((_, graph)), None) => Ok(graph.clone()),
            _ => Err(CliError::Message(format!(
                "{} must declare exactly one [SCENARIO.<id>]",
                path.display()
            ))),
        }
    }
}

/// Parses the command line and runs the command; exit code 1 on any error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => {
            args.memory.apply();
            run::run(&args)
        }
        Command::Generate(args) => generate(&args),
        Command::Tour(args) => {
            args.memory.apply();
            tour::tour(&args)
        }
        Command::History(args) => inspect::history(&args),
        Command::Lineage(args) => inspect::lineage(&args),
        Command::Compare(args) => inspect::compare(&args),
        Command::Graph { format } => graph::graph(format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Io(format!("cannot write {}: {e}", args.out.display()));
    let file = std::fs::File::create(&args.out).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    crate::generate::generate_csv(args.rows, args.seed, &mut out).map_err(io)?;
    std::io::Write::flush(&mut out).map_err(io)?;
    Ok(())
}
