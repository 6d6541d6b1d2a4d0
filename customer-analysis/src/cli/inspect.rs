//! `history`, `lineage` and `compare`: thin front-ends over the store's registry.

use pipeline_core::{Compare, Scenario};

use super::{CliError, StoreArgs};

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `lineage`.
#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// The data node, e.g. `high_value_summary_df`.
    node: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of a tree.
    #[arg(long)]
    json: bool,
}

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Two or more scenario names (or `#id`s).
    #[arg(required = true, num_args = 2..)]
    scenarios: Vec<String>,
    /// The store directory [default: $PIPELINE_STORE, else .pipeline].
    #[arg(long, value_name = "DIR")]
    store: Option<std::path::PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The existing scenario `args` names; an error if it was never run.
fn existing(args: &StoreArgs, name: &str) -> Result<Scenario, CliError> {
    let runtime = args.runtime()?;
    runtime.find_scenario(args.graph()?, name)?.ok_or_else(|| {
        CliError::Message(format!(
            "no scenario `{name}` in {}; create it with `customer-analysis run --scenario {name}`",
            args.store_dir().display()
        ))
    })
}

/// Runs `history`.
pub fn history(args: &HistoryArgs) -> Result<(), CliError> {
    let scenario = existing(&args.store, &args.store.scenario)?;
    let history = scenario.job_history()?;
    if args.json {
        println!("{}", history.to_json());
    } else {
        print!("{history}");
    }
    Ok(())
}

/// Runs `lineage`.
pub fn lineage(args: &LineageArgs) -> Result<(), CliError> {
    let scenario = existing(&args.store, &args.store.scenario)?;
    let lineage = scenario.lineage(&args.node)?;
    if args.json {
        println!("{}", lineage.to_json());
    } else {
        print!("{lineage}");
    }
    Ok(())
}

/// Runs `compare`.
pub fn compare(args: &CompareArgs) -> Result<(), CliError> {
    let store = StoreArgs {
        store: args.store.clone(),
        scenario: String::new(),
        config: None,
    };
    let scenarios = args
        .scenarios
        .iter()
        .map(|name| existing(&store, name))
        .collect::<Result<Vec<_>, _>>()?;
    let comparison = Compare::new(scenarios).run()?;
    if args.json {
        println!("{}", comparison.to_json());
    } else {
        print!("{comparison}");
    }
    Ok(())
}
