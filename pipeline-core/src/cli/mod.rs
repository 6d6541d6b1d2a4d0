//! The command line every pipeline gets (cargo feature `cli`): a user's
//! `main` registers its scenario types and, if it likes, commands of its own.
//!
//! ```no_run
//! use pipeline_core::cli::Cli;
//! use pipeline_core::{scenario, task};
//!
//! #[task(skippable)]
//! fn discount(price: &f64, rate: &f64) -> f64 {
//!     price * (1.0 - rate)
//! }
//!
//! scenario! {
//!     pub struct Pricing {
//!         data { price: f64 = 100.0, rate: f64 = 0.1, discounted: f64 }
//!         tasks { discount(price, rate) -> discounted }
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Cli::new("pricing").scenario::<Pricing>().run()
//! }
//! ```
//!
//! Then `pricing run --set rate=0.2` writes `rate` into the scenario
//! `default` (created on first use) and submits it, `pricing get discounted`
//! prints the result, `pricing history` lists what ran, and so on:
//!
//! | command | does |
//! |---|---|
//! | `run [--scenario S] [--set NODE=VALUE]… [--sequence Q \| --task T] [--force] [--json]` | writes the values and submits, under the scenario's locks; shows the jobs (task, status, seconds, reason) and the results |
//! | `get NODE [--version N]` / `set NODE=VALUE…` | reads one value / writes values without running |
//! | `list [--limit N]`, `scenario create\|tag\|rename\|delete` | the scenarios in the store |
//! | `history [NODE] [--limit N]`, `lineage NODE`, `compare A B…` | what happened |
//! | `explain [--sequence Q \| --task T] [--force]` | whether each task would run now, and why, without running anything |
//! | `graph --format mermaid\|dot\|toml`, `gc [--verify] [--evict-local]` | the pipeline as a picture; collecting unused values |
//! | `serve [--addr 127.0.0.1:8080]` | the web view of the store (feature `web`) |
//!
//! With the `objects` feature (`s3` for buckets), every command takes
//! `--objects URL` (or `PIPELINE_OBJECTS`): the store's values live in that
//! object store too (see `SqliteOptions::object_store`),
//! which the store records for later commands; `--store s3://bucket/prefix`
//! says the same with the registry in `.pipeline`; `gc --evict-local`
//! drops the local copies the object store holds.
//!
//! With the `remote` feature, `run --executor slurm --objects s3://bucket/prefix`
//! runs each task that must run as a Slurm batch job of the same program,
//! which [`Cli::run`] turns into a worker when Slurm starts it.
//!
//! Every command takes `--store DIR` (or `PIPELINE_STORE`), `--config FILE`
//! (scenario types declared in TOML instead of the program's own), `--type`
//! (where the program knows several types) and `--lock-timeout SECONDS`, and
//! has `--help`. Values on the command line are read with the node type's
//! `FromStr`, else as JSON (see [`Value::from_text`](crate::Value::from_text)).
//! `--json` prints exactly one JSON object (schemas in `docs/cli.md`);
//! progress shows on a terminal only.
//!
//! Exit codes: [`EXIT_SUCCESS`] (0), [`EXIT_TASK_FAILED`] (1: a task
//! failed, or the store failed while working), [`EXIT_BAD_INPUT`] (2: bad
//! usage or input, refused before anything was written).

mod args;
mod catalog;
mod context;
mod error;
#[cfg(feature = "polars")]
pub mod frames;
mod gc;
mod inspect;
mod kind;
mod output;
mod progress;
pub mod render;
mod run;
#[cfg(feature = "web")]
mod serve;
mod values;
mod warnings;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::builder::{Resettable, StyledStr};
use clap::{Arg, ArgMatches, Args as _, FromArgMatches as _, Subcommand};

pub use args::Globals;
/// The `clap` this command line is built on, for the program's own
/// commands ([`Cli::commands`]) and [`Cli::command`]: derive with
/// `use pipeline_core::cli::clap;` and `#[derive(clap::Subcommand)]`, and
/// the program needs no `clap` dependency of its own, nor one whose
/// version matches.
pub use clap;
pub use context::Context;
pub use error::{CliError, EXIT_BAD_INPUT, EXIT_SUCCESS, EXIT_TASK_FAILED};
pub use kind::{RunResults, ScenarioKind};
use output::Output;

use crate::config::{Config, TaskRegistry, TypeRegistry};
use crate::graph::Graph;
use crate::scenario_type::ScenarioType;
use values::{Assignment, Origin};

type RunExtension = Box<dyn Fn(&ArgMatches, &Context<'_>) -> Result<(), CliError>>;

/// Commands of the program's own, registered with [`Cli::commands`].
struct Extension {
    augment: fn(clap::Command) -> clap::Command,
    has: fn(&str) -> bool,
    run: RunExtension,
}

/// A `--FLAG VALUE` option of `run` and `set` that writes a data node.
#[derive(Debug, Clone)]
struct NodeFlag {
    flag: String,
    node: String,
    value_name: String,
    help: String,
}

impl NodeFlag {
    fn id(&self) -> String {
        format!("node-flag-{}", self.flag)
    }

    fn arg(&self) -> Arg {
        Arg::new(self.id())
            .long(self.flag.clone())
            .value_name(self.value_name.clone())
            .help(self.help.clone())
    }
}

/// A command line over scenario types, built with chained calls and run
/// with [`run`](Self::run) (see the [module docs](self)).
pub struct Cli {
    name: String,
    about: Option<String>,
    version: Option<String>,
    kinds: Vec<ScenarioKind>,
    types: TypeRegistry,
    node_flags: Vec<NodeFlag>,
    extensions: Vec<Extension>,
}

impl Cli {
    /// A command line called `name` (in `--help`) that knows no scenario
    /// type yet. Messages that suggest a command (`… run --scenario x`)
    /// name the program as it was started, as clap's usage line does.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            about: None,
            version: None,
            kinds: Vec::new(),
            types: TypeRegistry::with_builtins(),
            node_flags: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// The one-line description `--help` shows.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// The program's version (e.g. `env!("CARGO_PKG_VERSION")`): `--version`
    /// prints `<name> <version> (pipeline-core <its version>)`; without one,
    /// `<name> (pipeline-core <its version>)`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Knows the scenario type `S` (declared with `scenario!`).
    pub fn scenario<S: ScenarioType>(self) -> Self {
        self.scenario_kind(ScenarioKind::of::<S>())
    }

    /// Knows the scenario type of a graph (built by hand, or read from TOML).
    pub fn graph(self, graph: impl Into<Arc<Graph>>) -> Self {
        self.scenario_kind(ScenarioKind::from_graph(graph))
    }

    /// Knows a scenario type with options (results, checks, comparators, a
    /// report; see [`ScenarioKind`]). A type registered twice keeps the
    /// later registration.
    pub fn scenario_kind(mut self, kind: ScenarioKind) -> Self {
        self.kinds.retain(|k| k.name() != kind.name());
        self.kinds.push(kind);
        self
    }

    /// The node types a `--config` file may give defaults for, and that
    /// `graph --format toml` writes (default: the std scalars,
    /// [`TypeRegistry::with_builtins`]).
    pub fn types(mut self, types: TypeRegistry) -> Self {
        self.types = types;
        self
    }

    /// Adds `--FLAG VALUE` to `run` and `set`, a shorthand for
    /// `--set NODE=VALUE` (for example `--data FILE` for `path_to_data`).
    pub fn node_flag(
        mut self,
        flag: impl Into<String>,
        node: impl Into<String>,
        value_name: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        self.node_flags.push(NodeFlag {
            flag: flag.into(),
            node: node.into(),
            value_name: value_name.into(),
            help: help.into(),
        });
        self
    }

    /// Adds the program's own commands: the variants of a clap
    /// [`Subcommand`] enum, each run by `run` with the [`Context`] (store,
    /// scenario types) of the framework's commands.
    ///
    /// The enum derives clap's traits through the re-export [`pipeline_core::cli::clap`](crate::cli::clap)
    /// (no `clap` dependency of the program's own):
    ///
    /// ```no_run
    /// use pipeline_core::cli::{Cli, CliError, Context, clap};
    ///
    /// #[derive(clap::Subcommand)]
    /// enum Extra {
    ///     /// Prints where the store is.
    ///     Where,
    /// }
    ///
    /// fn extra(command: Extra, ctx: &Context<'_>) -> Result<(), CliError> {
    ///     match command {
    ///         Extra::Where => println!("{}", ctx.store_dir().display()),
    ///     }
    ///     Ok(())
    /// }
    ///
    /// let code = Cli::new("tool").commands(extra).run();
    /// ```
    pub fn commands<C: Subcommand + 'static>(
        mut self,
        run: impl Fn(C, &Context<'_>) -> Result<(), CliError> + 'static,
    ) -> Self {
        self.extensions.push(Extension {
            augment: C::augment_subcommands,
            has: C::has_subcommand,
            run: Box::new(move |matches, ctx| {
                let command =
                    C::from_arg_matches(matches).map_err(|e| CliError::input(e.to_string()))?;
                run(command, ctx)
            }),
        });
        self
    }

    /// The clap command: every command and option, for `--help` and shell
    /// completions.
    pub fn command(&self) -> clap::Command {
        let mut command = clap::Command::new(self.name.clone())
            .subcommand_required(true)
            .arg_required_else_help(true)
            .version(version_text(self.version.as_deref()));
        command = Globals::augment_args(command);
        command = args::Command::augment_subcommands(command);
        for extension in &self.extensions {
            command = (extension.augment)(command);
        }
        // After the enums, whose doc comments clap would take for the about.
        let about = self
            .about
            .clone()
            .map_or(Resettable::Reset, |a| Resettable::Value(StyledStr::from(a)));
        command = command
            .about(about)
            .long_about(Resettable::<StyledStr>::Reset);
        for flag in &self.node_flags {
            command = command
                .mut_subcommand("run", |c| c.arg(flag.arg()))
                .mut_subcommand("set", |c| c.arg(flag.arg()));
        }
        let settable = values::settable_help(&self.kinds);
        if !settable.is_empty() {
            command = command
                .mut_subcommand("run", |c| c.after_help(settable.clone()))
                .mut_subcommand("set", |c| c.after_help(settable.clone()));
        }
        command
    }

    /// Parses the process's arguments and runs the command; returns the
    /// exit code to end `main` with. With the `remote` feature, a program
    /// started as `<program> __pipeline-worker <manifest URL>` (by `run
    /// --executor slurm`, on a cluster node) runs that one task attempt
    /// instead (see `pipeline_core::worker`, feature `remote`).
    ///
    /// A task whose body panics fails its job with the panic's message and
    /// where it happened (`panicked at src/tasks.rs:12:5: …`), which the
    /// command shows as it shows any failed job: Rust's own panic message is
    /// not printed for it. A panic anywhere else is reported as usual.
    ///
    /// Output piped into a reader that stops early (`… | head`, stderr too)
    /// ends the command quietly with exit code 141, as a process killed by
    /// `SIGPIPE` would, instead of a panic message. A CSV input truncated
    /// or rewritten in place while a task reads it (feature `polars`, on
    /// Linux) ends the command with a message saying so and exit code 135,
    /// instead of a bare "Bus error".
    pub fn run(self) -> ExitCode {
        #[cfg(feature = "polars")]
        pipeline_mmap::explain_sigbus();
        #[cfg(feature = "remote")]
        if let Some(code) = crate::worker::main_if_worker() {
            return code;
        }
        quiet_on_closed_stdout(|| self.run_from(std::env::args_os()))
    }

    /// Parses `args` (the first is the program as started: messages name it
    /// by its file name, as clap's usage does) and runs the command.
    pub fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        warnings::show();
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // Messages name the program as it was started, as clap's usage does.
        let program = args
            .first()
            .and_then(|first| Path::new(first).file_name())
            .map_or_else(
                || self.name.clone(),
                |name| name.to_string_lossy().into_owned(),
            );
        let matches = match self.command().try_get_matches_from(&args) {
            Ok(matches) => matches,
            Err(error) => {
                let _ = error.print();
                return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_BAD_INPUT));
            }
        };
        let output = Output::new(json_flag(&matches));
        match self.dispatch(&matches, &output, &program) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                output.fail(&error);
                error.into()
            }
        }
    }

    fn dispatch(
        &self,
        matches: &ArgMatches,
        output: &Output,
        program: &str,
    ) -> Result<(), CliError> {
        let globals =
            Globals::from_arg_matches(leaf(matches)).map_err(|e| CliError::input(e.to_string()))?;
        let kinds = self.kinds_for(&globals)?;
        let ctx = Context {
            program,
            globals: &globals,
            kinds: &kinds,
            types: &self.types,
            output,
        };
        let (name, sub) = matches.subcommand().expect("a subcommand is required");
        if let Some(extension) = self.extensions.iter().find(|e| (e.has)(name)) {
            return (extension.run)(matches, &ctx);
        }
        let command =
            args::Command::from_arg_matches(matches).map_err(|e| CliError::input(e.to_string()))?;
        let flags = self.flag_values(sub);
        match command {
            args::Command::Run(args) => run::run(&ctx, &args, flags, output),
            args::Command::Get(args) => values::get(&ctx, &args, output),
            args::Command::Set(args) => values::set(&ctx, &args, flags, output),
            args::Command::List(args) => catalog::list(&ctx, &args, output),
            args::Command::Scenario(command) => catalog::scenario(&ctx, &command, output),
            args::Command::History(args) => inspect::history(&ctx, &args, output),
            args::Command::Lineage(args) => inspect::lineage(&ctx, &args, output),
            args::Command::Explain(args) => inspect::explain(&ctx, &args, output),
            args::Command::Compare(args) => inspect::compare(&ctx, &args, output),
            args::Command::Graph(args) => inspect::graph(&ctx, &args),
            args::Command::Gc(args) => gc::gc(&ctx, &args, output),
            #[cfg(feature = "web")]
            args::Command::Serve(args) => serve::serve(&ctx, &args, output),
        }
    }

    /// The scenario types in effect: the `--config` file's (each with the
    /// options of the program's type of the same name), else the program's.
    fn kinds_for(&self, globals: &Globals) -> Result<Vec<ScenarioKind>, CliError> {
        let Some(path) = &globals.config else {
            return Ok(self.kinds.clone());
        };
        let config = Config::load(path, &TaskRegistry::collected(), &self.types)?;
        Ok(config
            .scenarios()
            .map(
                |(_, graph)| match self.kinds.iter().find(|k| k.name() == graph.name()) {
                    Some(kind) => kind.with_graph(graph.clone()),
                    None => ScenarioKind::from_graph(graph.clone()),
                },
            )
            .collect())
    }

    /// The node flags given to `run` or `set`, as assignments.
    fn flag_values(&self, sub: &ArgMatches) -> Vec<Assignment> {
        self.node_flags
            .iter()
            .filter_map(|flag| {
                let value = sub.try_get_one::<String>(&flag.id()).ok().flatten()?;
                Some(Assignment {
                    node: flag.node.clone(),
                    text: value.clone(),
                    origin: Origin::Flag(flag.flag.clone()),
                })
            })
            .collect()
    }
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("node_flags", &self.node_flags)
            .field("extensions", &self.extensions.len())
            .finish_non_exhaustive()
    }
}

/// What `--version` prints after the program's name: its version, if it
/// has one, and the framework's.
fn version_text(version: Option<&str>) -> String {
    let framework = concat!("(pipeline-core ", env!("CARGO_PKG_VERSION"), ")");
    match version {
        Some(version) => format!("{version} {framework}"),
        None => framework.to_owned(),
    }
}

/// The innermost subcommand's matches (global options reach every level).
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

/// Whether the command given has `--json` set.
fn json_flag(matches: &ArgMatches) -> bool {
    matches
        .try_get_one::<bool>("json")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
        || matches.subcommand().is_some_and(|(_, sub)| json_flag(sub))
}

/// What `print!` and `eprint!` panic with when the reader of stdout or
/// stderr went away.
const CLOSED_OUTPUT: [&str; 2] = ["failed printing to stdout", "failed printing to stderr"];

/// Runs `command`; if printing to stdout or stderr fails because its reader
/// is gone (`… | head`, `… 2>&1 | head`), ends with exit code 141 and no
/// message. A panic in a task's body is caught by the executor and shown
/// as the job's error, which names where it happened, without Rust's panic
/// message; any other panic (a bug) is reported as usual.
fn quiet_on_closed_stdout(command: impl FnOnce() -> ExitCode) -> ExitCode {
    fn closed_stdout(payload: &(dyn std::any::Any + Send)) -> bool {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        CLOSED_OUTPUT
            .iter()
            .any(|closed| message.starts_with(closed))
    }
    let report = std::panic::take_hook();
    // A task's panic is the job's error (with where it happened), which the
    // command shows: Rust's message would say it twice.
    std::panic::set_hook(crate::task_panic::hook(
        Box::new(move |info| {
            if !closed_stdout(info.payload()) {
                report(info);
            }
        }),
        true,
    ));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(command)) {
        Ok(code) => code,
        Err(payload) if closed_stdout(&*payload) => ExitCode::from(141),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
