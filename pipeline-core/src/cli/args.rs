//! The command line's grammar (clap derive): the options every command
//! takes, the framework's commands and their arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Options every command takes (before or after its name).
#[derive(Debug, Clone, Default, Args)]
pub struct Globals {
    /// The store directory [default: .pipeline]; `s3://bucket/prefix`
    /// keeps the registry in .pipeline and the values in that bucket, as
    /// `--objects` does
    #[arg(long, global = true, value_name = "DIR", env = "PIPELINE_STORE")]
    pub store: Option<PathBuf>,
    /// Keep the store's values in this object store too: `s3://bucket/prefix`
    /// (endpoint and credentials from the `AWS_*` variables) or a directory;
    /// the store records it, so later commands use it without this option.
    /// Local copies stay as a cache (`gc --evict-local` drops them); values
    /// missing here are fetched back. With `run --executor slurm`, also
    /// where the values travel
    #[cfg(feature = "objects")]
    #[arg(long, global = true, value_name = "URL", env = "PIPELINE_OBJECTS")]
    pub objects: Option<String>,
    /// Use the scenario types declared in this TOML file instead of the
    /// program's own
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The scenario type to use where the program knows several
    #[arg(long = "type", global = true, value_name = "TYPE")]
    pub scenario_type: Option<String>,
    /// Wait at most this long for another process working on the same
    /// scenario, then give up (exit code 2) [default: wait as long as it
    /// takes]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub lock_timeout: Option<f64>,
    /// Keep decoded values (data frames) of up to this many MiB in memory
    /// between tasks (0: always read them from their files) [default: 512]
    #[arg(long, global = true, value_name = "MiB")]
    pub frame_memory: Option<usize>,
}

/// The framework's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write values into a scenario, submit it, and show what ran and the
    /// results (creates the scenario if it does not exist)
    Run(RunArgs),
    /// Print a data node's current value (or one version of it)
    Get(GetArgs),
    /// Write data node values without running anything (creates the scenario
    /// if it does not exist)
    Set(SetArgs),
    /// List the scenarios in the store: type, name, tags, created, last status
    List(ListArgs),
    /// Create, tag, rename or delete a scenario
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Show a scenario's submissions job by job, or a data node's versions
    History(HistoryArgs),
    /// Show how a data node's value was made, down to the exact input versions
    Lineage(LineageArgs),
    /// Say whether each task would run now, and why, without running anything
    Explain(ExplainArgs),
    /// Compare scenarios of one type node by node
    Compare(CompareArgs),
    /// Print a scenario type's graph as Mermaid, Graphviz DOT or TOML
    Graph(GraphArgs),
    /// Remove stored values that no data node version refers to any more
    Gc(GcArgs),
    /// Serve the store's web view: scenarios, live runs, values and lineage
    /// in the browser (feature `web`)
    #[cfg(feature = "web")]
    Serve(ServeArgs),
}

/// Which scenario a command works on.
#[derive(Debug, Clone, Args)]
pub struct ScenarioArg {
    /// The scenario: its name, or `#ID`
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub scenario: String,
}

/// `--json`.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonArg {
    /// Print exactly one JSON object instead of text (schema: docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArg,
    /// Write a data node before submitting, e.g. `--set rate=0.2` or
    /// `--set weights='[1,2,3]'` (the node type's text form, else JSON)
    ///
    /// Text is taken as typed, or as a JSON string when it starts with `"`
    /// (`region=North` and `region='"North"'` are both North). An optional
    /// node takes `null` or nothing (`--set region=`) for no value; the text
    /// "null" or "" is written quoted (`region='"null"'`).
    #[arg(long = "set", value_name = "NODE=VALUE")]
    pub sets: Vec<String>,
    /// Run only this sequence of tasks
    #[arg(long, value_name = "SEQUENCE", conflicts_with = "task")]
    pub sequence: Option<String>,
    /// Run only this task (its inputs must have values)
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// Run every task, even those whose inputs and code did not change
    #[arg(long)]
    pub force: bool,
    /// Run at most this many tasks at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Show at most this many rows of each data frame
    #[arg(long, value_name = "N", default_value_t = super::render::DEFAULT_ROWS)]
    pub rows: usize,
    /// Where the tasks that must run are run: here, or as Slurm batch jobs
    /// of this same program (feature `remote`)
    #[cfg(feature = "remote")]
    #[arg(long, value_enum, default_value_t = ExecutorArg::Local)]
    pub executor: ExecutorArg,
    /// With `--executor slurm`: the partition to submit to [default: the
    /// cluster's]
    #[cfg(feature = "remote")]
    #[arg(long, value_name = "PARTITION")]
    pub partition: Option<String>,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Where `run` runs the tasks that must run.
#[cfg(feature = "remote")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// On this machine's cores.
    Local,
    /// As Slurm batch jobs of this same program, values through `--objects`.
    Slurm,
}

/// Arguments of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The data node
    pub node: String,
    #[command(flatten)]
    pub scenario: ScenarioArg,
    /// This version instead of the current one
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    /// Show at most this many rows of a data frame
    #[arg(long, value_name = "N", default_value_t = super::render::DEFAULT_ROWS)]
    pub rows: usize,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The values to write, e.g. `rate=0.2` (the node type's text form,
    /// else JSON)
    ///
    /// Text is taken as typed, or as a JSON string when it starts with `"`
    /// (`region=North` and `region='"North"'` are both North). An optional
    /// node takes `null` or nothing (`region=`) for no value; the text
    /// "null" or "" is written quoted (`region='"null"'`).
    #[arg(value_name = "NODE=VALUE")]
    pub assignments: Vec<String>,
    #[command(flatten)]
    pub scenario: ScenarioArg,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only scenarios with this tag (several: all of them)
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Only the N scenarios created last (the text says how many older ones
    /// are left out)
    #[arg(long, value_name = "N", value_parser = limit_value)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `scenario create|tag|rename|delete`.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Create a scenario (of the type `--type` names, where there are several)
    Create {
        /// Its name (unique among the scenarios of its type)
        name: String,
        /// Tags to give it
        #[arg(long, value_name = "TAG")]
        tag: Vec<String>,
        #[command(flatten)]
        output: JsonArg,
    },
    /// Add tags to a scenario, or remove them with `--remove`
    Tag {
        /// The scenario: its name, or `#ID`
        name: String,
        /// The tags
        #[arg(required = true)]
        tags: Vec<String>,
        /// Remove the tags instead
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        output: JsonArg,
    },
    /// Rename a scenario
    Rename {
        /// The scenario: its name, or `#ID`
        name: String,
        /// The new name
        new_name: String,
        #[command(flatten)]
        output: JsonArg,
    },
    /// Delete a scenario with its versions and submissions (its values stay
    /// until `gc`)
    Delete {
        /// The scenario: its name, or `#ID`
        name: String,
        #[command(flatten)]
        output: JsonArg,
    },
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A data node: list its versions instead of the submissions
    pub node: Option<String>,
    #[command(flatten)]
    pub scenario: ScenarioArg,
    /// Only the N most recent submissions (or versions of the node); the
    /// text says how many older ones are left out
    #[arg(long, value_name = "N", value_parser = limit_value)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `lineage`.
#[derive(Debug, Args)]
pub struct LineageArgs {
    /// The data node
    pub node: String,
    #[command(flatten)]
    pub scenario: ScenarioArg,
    /// This version instead of the current one
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub scenario: ScenarioArg,
    /// Only this sequence of tasks
    #[arg(long, value_name = "SEQUENCE", conflicts_with = "task")]
    pub sequence: Option<String>,
    /// Only this task
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// As a forced submission would
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `serve`.
#[cfg(feature = "web")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; an address other than loopback is
    /// reachable from other machines (a warning says so)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more scenarios of one type: names, or `#ID`s
    #[arg(required = true, num_args = 2.., value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Compare only this node (several: these nodes)
    #[arg(long, value_name = "NODE")]
    pub node: Vec<String>,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Arguments of `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The output format
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
}

/// What `graph` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (paste into Markdown)
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`)
    Dot,
    /// A TOML configuration that `--config` loads
    Toml,
}

/// Arguments of `gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Also read every stored value's file and check it against its content
    /// hash (reads otherwise trust a file checked once while its size, times
    /// and inode are unchanged); damaged values are moved aside, so the
    /// tasks that produced them run again
    #[arg(long)]
    pub verify: bool,
    /// Then remove the local files of values the store's object store holds
    /// (uploading any it lacks first); reads fetch them back when needed
    #[arg(long)]
    pub evict_local: bool,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Reads `--limit N`: a count of at least 1.
fn limit_value(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("give 1 or more (leave --limit out to show every entry)".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The last `limit` of `items`, oldest first (all of them for `None`), and
/// how many older ones were left out.
pub(crate) fn most_recent<T>(mut items: Vec<T>, limit: Option<usize>) -> (Vec<T>, usize) {
    let left_out = limit.map_or(0, |limit| items.len().saturating_sub(limit));
    items.drain(..left_out);
    (items, left_out)
}
