//! `customer-analysis graph`: the pipeline as a picture or a TOML file.

use clap::ValueEnum;
use pipeline_core::config::{to_dot, to_mermaid, to_toml};

use super::{CliError, types};
use crate::pipeline::CustomerAnalysis;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A Mermaid flowchart (paste into Markdown).
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`).
    Dot,
    /// A TOML configuration that `run --config` loads.
    Toml,
}

/// Prints the macro-declared scenario in `format`.
pub fn graph(format: Format) -> Result<(), CliError> {
    let graph = CustomerAnalysis::graph();
    let text = match format {
        Format::Mermaid => to_mermaid(&graph),
        Format::Dot => to_dot(&graph),
        Format::Toml => to_toml(&graph, &types()).map_err(|e| CliError::Message(e.to_string()))?,
    };
    print!("{text}");
    Ok(())
}
