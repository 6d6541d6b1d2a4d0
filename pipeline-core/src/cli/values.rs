//! `get` and `set`, and the values a user writes (`--set NODE=VALUE`,
//! `set NODE=VALUE`, a node flag such as `--data FILE`): each read with its
//! node type's text form and checked before anything is written.

use std::time::SystemTime;

use serde_json::{Value as Json, json};

use super::args::{GetArgs, SetArgs};
use super::context::Context;
use super::error::CliError;
use super::kind::ScenarioKind;
use super::output::Output;
use super::render::{self, shell_word};
use crate::graph::{Graph, NodeId};
use crate::history::{time_json, written_by_json};
use crate::runtime::Runtime;
use crate::scenario::Scenario;
use crate::value::TextError;
use crate::writes::Writes;

/// How the user gave a value, for messages.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// `run --set NODE=VALUE`.
    SetOption,
    /// `set NODE=VALUE`.
    SetCommand,
    /// A node flag: `--FLAG VALUE`.
    Flag(String),
}

/// One value to write, as the user typed it.
#[derive(Debug, Clone)]
pub(crate) struct Assignment {
    pub(crate) node: String,
    pub(crate) text: String,
    pub(crate) origin: Origin,
}

impl Assignment {
    /// Reads `NODE=VALUE`.
    pub(crate) fn parse(arg: &str, origin: Origin) -> Result<Self, CliError> {
        let Some((node, text)) = arg.split_once('=') else {
            let how = match origin {
                Origin::SetCommand => "set rate=0.2",
                _ => "--set rate=0.2",
            };
            return Err(CliError::input(format!(
                "{arg:?}: expected NODE=VALUE, for example `{how}`"
            )));
        };
        Ok(Self {
            node: node.trim().to_owned(),
            text: text.to_owned(),
            origin,
        })
    }

    /// How the user wrote it: `--set x=1`, `set x=1`, `--data f.csv`.
    fn written(&self, text: &str) -> String {
        match &self.origin {
            Origin::SetOption => format!("--set {}={}", self.node, shell_word(text)),
            Origin::SetCommand => format!("set {}={}", self.node, shell_word(text)),
            Origin::Flag(flag) => format!("--{flag} {}", shell_word(text)),
        }
    }
}

/// The nodes a user may write: those no task computes.
fn settable_nodes(graph: &Graph) -> impl Iterator<Item = NodeId> + '_ {
    (0..graph.nodes().len() as u32)
        .map(NodeId)
        .filter(|&id| graph.producer(id).is_none())
}

/// The nodes a user may write, by name.
fn settable(graph: &Graph) -> String {
    let names: Vec<&str> = settable_nodes(graph)
        .map(|id| graph.node(id).name())
        .collect();
    names.join(", ")
}

/// What `run --help` and `set --help` end with: for each scenario type, the
/// nodes `--set` takes, with their types.
pub(crate) fn settable_help(kinds: &[ScenarioKind]) -> String {
    let mut help = String::new();
    for kind in kinds {
        let graph = kind.graph();
        help.push_str(&format!(
            "Data nodes of `{}` to set with --set NODE=VALUE:\n",
            kind.name()
        ));
        for id in settable_nodes(graph) {
            let node = graph.node(id);
            help.push_str(&format!(
                "  {} ({})\n",
                node.name(),
                node.value_type().name()
            ));
        }
    }
    help.trim_end().to_owned()
}

/// Reads and checks every assignment against `kind` (and the scenario's
/// current values, for examples); nothing is written.
pub(crate) fn to_writes(
    kind: &ScenarioKind,
    scenario: Option<&Scenario>,
    assignments: &[Assignment],
) -> Result<Writes, CliError> {
    let graph = kind.graph();
    let mut writes = Writes::new();
    for assignment in assignments {
        let what = assignment.written(&assignment.text);
        let node = &assignment.node;
        let Some(id) = graph.node_id(node) else {
            return Err(CliError::input(format!(
                "{what}: scenario type `{}` has no data node `{node}`; settable nodes: {}",
                graph.name(),
                settable(graph)
            )));
        };
        if let Some(producer) = graph.producer(id) {
            return Err(CliError::input(format!(
                "{what}: data node `{node}` is computed by task `{}`; settable nodes: {}",
                graph.task(producer).name(),
                settable(graph)
            )));
        }
        let value_type = graph.node(id).value_type();
        let value = value_type.parse(&assignment.text).map_err(|error| {
            CliError::input(match error {
                TextError::NoTextForm { type_name } => format!(
                    "{what}: data node `{node}` holds a {type_name}, which cannot be given as text"
                ),
                TextError::Invalid {
                    type_name,
                    text,
                    reason,
                    ..
                } => {
                    let example = example(graph, id, scenario)
                        .map(|e| format!("; for example {}", assignment.written(&e)))
                        .unwrap_or_default();
                    format!(
                        "{what}: data node `{node}` takes a {type_name}, and {text:?} is not one: \
                         {reason}{example}"
                    )
                }
            })
        })?;
        kind.check_value(node, &*value)
            .map_err(|message| CliError::input(format!("{what}: {message}")))?;
        writes = writes.erased(node.clone(), value);
    }
    Ok(writes)
}

/// A valid text for a node: its current value, else its default, else its
/// type's example.
fn example(graph: &Graph, id: NodeId, scenario: Option<&Scenario>) -> Option<String> {
    let spec = graph.node(id);
    let value_type = spec.value_type();
    let current = scenario
        .and_then(|s| s.read_erased(spec.name(), None).ok())
        .and_then(|(_, value)| value_type.to_text(&*value));
    current
        .or_else(|| {
            let default = spec.default_fn()?();
            value_type.to_text(&*default)
        })
        .or_else(|| value_type.text_example())
}

/// The node called `name`, or an error listing the graph's data nodes.
pub(crate) fn known_node(graph: &Graph, name: &str) -> Result<NodeId, CliError> {
    graph.node_id(name).ok_or_else(|| {
        let names: Vec<&str> = graph.nodes().iter().map(|n| n.name()).collect();
        CliError::input(format!(
            "scenario type `{}` has no data node `{name}`; its data nodes: {}",
            graph.name(),
            names.join(", ")
        ))
    })
}

/// Runs `get`.
pub(crate) fn get(ctx: &Context<'_>, args: &GetArgs, output: &Output) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let (scenario, _) = ctx.scenario(&runtime, &args.scenario.scenario)?;
    let graph = scenario.graph();
    let id = known_node(graph, &args.node)?;
    let value_type = graph.node(id).value_type();
    let (meta, value) = scenario.read_erased(&args.node, args.version)?;
    if output.json {
        output.json_object(json!({
            "scenario": scenario.name(),
            "scenario_id": scenario.id().0,
            "type": graph.name(),
            "node": args.node,
            "value_type": value_type.name(),
            "version": meta.version,
            "fingerprint": meta.fingerprint.to_hex(),
            "written_at": time_json(meta.written_at),
            "written_by": written_by_json(&meta.written_by),
            "value": render::value_json(value_type, &*value, Some(args.rows))?,
        }));
        return Ok(());
    }
    match render::value_text(value_type, &*value, args.rows)? {
        Some(text) if text.ends_with('\n') => print!("{text}"),
        Some(text) => println!("{text}"),
        None => println!(
            "(a {} with no text form: version {}, fingerprint {})",
            value_type.name(),
            meta.version,
            meta.fingerprint.short()
        ),
    }
    Ok(())
}

/// Values checked against the scenario type they will be written into,
/// before the store is created or anything is written.
pub(crate) struct Checked {
    /// The store, if it existed.
    pub(crate) runtime: Option<Runtime>,
    /// The scenario, if it existed.
    pub(crate) scenario: Option<Scenario>,
    /// Its type (or the type a new scenario gets).
    pub(crate) kind: ScenarioKind,
    /// The writes.
    pub(crate) writes: Writes,
}

/// Finds the scenario `which` (if the store exists) and checks the values
/// to write into it; nothing is created or written.
pub(crate) fn checked_writes(
    ctx: &Context<'_>,
    which: &str,
    assignments: &[Assignment],
) -> Result<Checked, CliError> {
    let runtime = ctx.open_existing_runtime().ok();
    let existing = match &runtime {
        Some(runtime) => ctx.find_scenario(runtime, which)?,
        None => None,
    };
    let (scenario, kind) = match existing {
        Some((scenario, kind)) => (Some(scenario), kind.clone()),
        None => (None, ctx.kind()?.clone()),
    };
    let writes = to_writes(&kind, scenario.as_ref(), assignments)?;
    Ok(Checked {
        runtime,
        scenario,
        kind,
        writes,
    })
}

/// Runs `set` (`flags`: the values of node flags, as assignments).
pub(crate) fn set(
    ctx: &Context<'_>,
    args: &SetArgs,
    flags: Vec<Assignment>,
    output: &Output,
) -> Result<(), CliError> {
    let mut assignments = args
        .assignments
        .iter()
        .map(|a| Assignment::parse(a, Origin::SetCommand))
        .collect::<Result<Vec<_>, _>>()?;
    assignments.extend(flags);
    if assignments.is_empty() {
        return Err(CliError::input(
            "nothing to set: give NODE=VALUE, for example `set rate=0.2`",
        ));
    }
    let which = &args.scenario.scenario;
    let checked = checked_writes(ctx, which, &assignments)?;
    let runtime = match checked.runtime {
        Some(runtime) => runtime,
        None => ctx.open_runtime()?,
    };
    let scenario = match checked.scenario {
        Some(scenario) => scenario,
        None => {
            ctx.scenario_or_create(&runtime, which, Some(&checked.kind))?
                .0
        }
    };
    let started = SystemTime::now();
    let written: Vec<(String, u64, bool)> = scenario
        .write_all(checked.writes)?
        .into_iter()
        .map(|(node, meta)| (node.to_string(), meta.version, meta.written_at >= started))
        .collect();
    if output.json {
        output.json_object(json!({
            "scenario": scenario.name(),
            "scenario_id": scenario.id().0,
            "type": scenario.graph().name(),
            "written": written.iter().map(|(node, version, changed)| json!({
                "node": node, "version": version, "changed": changed,
            })).collect::<Vec<Json>>(),
        }));
        return Ok(());
    }
    println!("scenario `{}` ({})", scenario.name(), scenario.id());
    for (node, version, changed) in written {
        let note = if changed { "" } else { ", unchanged" };
        println!("  {node}: version {version}{note}");
    }
    Ok(())
}
