//! `customer-analysis`: the framework's command line (`pipeline_core::cli`)
//! over the seed pipeline, plus `generate` and `tour`; see
//! `customer-analysis --help`.

use std::process::ExitCode;

use customer_analysis::cli::{Extra, check_threshold, report, types};
use customer_analysis::pipeline::CustomerAnalysis;
use pipeline_core::cli::{Cli, ScenarioKind};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    Cli::new("customer-analysis")
        .about("The seed pipeline (score, segment, analyse, summarize customers) on polars, re-run incrementally from an embedded store.")
        .version(env!("CARGO_PKG_VERSION"))
        .types(types())
        .scenario_kind(
            ScenarioKind::of::<CustomerAnalysis>()
                .results(["segment_result", "high_value_summary_df"])
                .check("payment_threshold", check_threshold)
                .check("score_threshold", check_threshold)
                .report(report),
        )
        .node_flag("data", "path_to_data", "CSV", "The customer CSV (same as --set path_to_data=CSV)")
        .commands(Extra::run)
        .run()
}
