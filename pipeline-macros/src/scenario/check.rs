//! The graph rules `scenario!` enforces from its input alone. Each broken rule
//! is an error on the user's token; every one found is reported.
//!
//! The rules themselves (duplicate names, unknown nodes, two producers, unfed
//! inputs, cycles, sequences) live in `pipeline-graph-rules`, shared with the
//! runtime's validation; this module words their findings and adds the rules
//! that only generated code has (names that would clash with generated items).
//! Types and arities need the task functions' signatures, which only rustc
//! knows: `expand` emits spanned assertions for those.

use std::collections::{HashMap, HashSet};

use pipeline_graph_rules::{Finding, Graph, Node, Role, Sequence, Task, closest};
use syn::Ident;
use syn::ext::IdentExt;

use super::parse::ScenarioDef;
use crate::ctxt::Ctxt;
use crate::util::upper_camel;

/// Associated items `scenario!` generates on the scenario type: a data node
/// accessor of the same name would clash with them.
pub(crate) const GENERATED_ITEMS: &[&str] = &[
    "NAME",
    "graph",
    "create",
    "find",
    "find_or_create",
    "open",
    "from_scenario",
    "scenario",
    "into_scenario",
    "submit",
    "submit_forced",
    "submit_task",
    "submit_sequence",
    "submit_with",
];

/// The name of an identifier as the graph knows it (`r#type` is `type`).
pub(crate) fn name(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// Pushes one error per broken rule.
pub(crate) fn check(cx: &Ctxt, def: &ScenarioDef) {
    check_generated_names(cx, def);
    let names = Names::of(def);
    for finding in names.graph().check().findings {
        report(cx, def, &names, finding);
    }
}

/// Every name of the declaration as the graph knows it.
struct Names {
    nodes: Vec<String>,
    defaults: Vec<bool>,
    tasks: Vec<String>,
    inputs: Vec<Vec<String>>,
    outputs: Vec<Vec<String>>,
    sequences: Vec<String>,
    sequence_tasks: Vec<Vec<String>>,
}

impl Names {
    fn of(def: &ScenarioDef) -> Self {
        let all = |idents: &[Ident]| idents.iter().map(name).collect::<Vec<_>>();
        Self {
            nodes: def.nodes.iter().map(|n| name(&n.name)).collect(),
            defaults: def.nodes.iter().map(|n| n.default.is_some()).collect(),
            tasks: def.tasks.iter().map(|t| name(t.local_name())).collect(),
            inputs: def.tasks.iter().map(|t| all(&t.inputs)).collect(),
            outputs: def.tasks.iter().map(|t| all(&t.outputs)).collect(),
            sequences: def.sequences.iter().map(|s| name(&s.name)).collect(),
            sequence_tasks: def.sequences.iter().map(|s| all(&s.tasks)).collect(),
        }
    }

    /// The declaration for the shared rules; types are left to rustc.
    fn graph(&self) -> Graph<'_, ()> {
        fn strs(names: &[String]) -> Vec<&str> {
            names.iter().map(String::as_str).collect()
        }
        Graph {
            nodes: self
                .nodes
                .iter()
                .zip(&self.defaults)
                .map(|(name, &has_default)| Node {
                    name,
                    has_default,
                    value_type: None,
                })
                .collect(),
            tasks: (0..self.tasks.len())
                .map(|i| Task {
                    name: &self.tasks[i],
                    inputs: strs(&self.inputs[i]),
                    outputs: strs(&self.outputs[i]),
                    signature: None,
                })
                .collect(),
            sequences: (0..self.sequences.len())
                .map(|i| Sequence {
                    name: &self.sequences[i],
                    tasks: strs(&self.sequence_tasks[i]),
                })
                .collect(),
        }
    }

    /// Each distinct name once, in declaration order (for suggestions).
    fn distinct(names: &[String]) -> Vec<&str> {
        let mut seen = HashSet::new();
        names
            .iter()
            .map(String::as_str)
            .filter(|n| seen.insert(*n))
            .collect()
    }
}

/// Turns one finding into an error on the token it is about.
fn report(cx: &Ctxt, def: &ScenarioDef, names: &Names, finding: Finding) {
    match finding {
        Finding::DuplicateNode { node, .. } => cx.error_spanned_by(
            &def.nodes[node].name,
            format_args!(
                "data node `{}` is declared twice; remove this declaration or rename it",
                names.nodes[node]
            ),
        ),
        Finding::DuplicateTask { task, .. } => {
            let task_name = &names.tasks[task];
            let message = if def.tasks[task].alias.is_some() {
                format!(
                    "two tasks are named `{task_name}` in this scenario; give this one another name with `as`"
                )
            } else {
                format!(
                    "task `{task_name}` appears twice in this scenario; to run one function twice, name the second use: `{task_name}(…) -> … as {task_name}_2`"
                )
            };
            cx.error_spanned_by(def.tasks[task].local_name(), message);
        }
        Finding::UnknownNode {
            task,
            role,
            position,
        } => {
            let wired = wired(def, task, role);
            let node_name = name(&wired[position]);
            let hint = match closest(&node_name, Names::distinct(&names.nodes)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("declare it in `data {{ {node_name}: Type, }}`"),
            };
            let side = match role {
                Role::Input => "inputs",
                Role::Output => "outputs",
            };
            cx.error_spanned_by(
                &wired[position],
                format_args!(
                    "unknown data node `{node_name}` in the {side} of task `{}`; {hint}",
                    names.tasks[task]
                ),
            );
        }
        Finding::OutputTwice { task, position, .. } => {
            let output = &def.tasks[task].outputs[position];
            cx.error_spanned_by(
                output,
                format_args!(
                    "task `{}` writes data node `{}` twice; give each output its own data node",
                    names.tasks[task],
                    name(output)
                ),
            );
        }
        Finding::TwoProducers {
            task,
            position,
            node,
            producer,
        } => cx.error_spanned_by(
            &def.tasks[task].outputs[position],
            format_args!(
                "data node `{}` is already produced by task `{}`; a data node has one producer, so write this output to another node",
                names.nodes[node], names.tasks[producer]
            ),
        ),
        Finding::Unfed { node, readers } => {
            let node_name = &names.nodes[node];
            cx.error_spanned_by(
                &def.nodes[node].name,
                format_args!(
                    "data node `{node_name}` is read by task `{}` but no task produces it and it has no default; give it a default (`{node_name}: Type = value`) or add a task that outputs it",
                    names.tasks[readers[0].task]
                ),
            );
        }
        Finding::Cycle { start, steps } => {
            let mut path = names.tasks[start].clone();
            for (node, task) in steps {
                path.push_str(&format!(" -> {} -> {}", names.nodes[node], names.tasks[task]));
            }
            cx.error_spanned_by(
                &def.tasks[start].path,
                format_args!(
                    "cycle: {path}; a task cannot depend on its own outputs, so remove one of these inputs"
                ),
            );
        }
        Finding::DuplicateSequence { sequence, .. } => cx.error_spanned_by(
            &def.sequences[sequence].name,
            format_args!(
                "sequence `{}` is declared twice; remove this one or rename it",
                names.sequences[sequence]
            ),
        ),
        Finding::UnknownTaskInSequence { sequence, position } => {
            let task_name = &names.sequence_tasks[sequence][position];
            let hint = match closest(task_name, Names::distinct(&names.tasks)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "add it to `tasks { … }` or remove it from the sequence".to_owned(),
            };
            cx.error_spanned_by(
                &def.sequences[sequence].tasks[position],
                format_args!(
                    "sequence `{}` names task `{task_name}`, which is not in this scenario's tasks; {hint}",
                    names.sequences[sequence]
                ),
            );
        }
        Finding::TaskTwiceInSequence {
            sequence, position, ..
        } => cx.error_spanned_by(
            &def.sequences[sequence].tasks[position],
            format_args!(
                "task `{}` is listed twice in sequence `{}`; remove one",
                names.sequence_tasks[sequence][position], names.sequences[sequence]
            ),
        ),
        // No signatures or types are given to the rules: rustc checks those.
        Finding::Arity { .. } | Finding::TypeMismatch { .. } => {}
    }
}

/// The nodes wired to one side of a task.
fn wired(def: &ScenarioDef, task: usize, role: Role) -> &[Ident] {
    match role {
        Role::Input => &def.tasks[task].inputs,
        Role::Output => &def.tasks[task].outputs,
    }
}

/// Names the generated code would make clash: a node named like a generated
/// method, two tasks (or sequences) whose enum variants would be the same.
fn check_generated_names(cx: &Ctxt, def: &ScenarioDef) {
    let mut nodes = HashSet::new();
    for node in &def.nodes {
        let node_name = name(&node.name);
        if nodes.insert(node_name.clone()) && GENERATED_ITEMS.contains(&node_name.as_str()) {
            cx.error_spanned_by(
                &node.name,
                format_args!(
                    "data node `{node_name}` would clash with the generated `{}::{node_name}`; rename the node",
                    def.ident
                ),
            );
        }
    }
    let tasks = def.tasks.iter().map(|t| t.local_name());
    check_variants(cx, tasks, |other, this, variant| {
        format!(
            "tasks `{other}` and `{this}` would both be `{}Task::{variant}`; rename one with `as`",
            def.ident
        )
    });
    let sequences = def.sequences.iter().map(|s| &s.name);
    check_variants(cx, sequences, |other, this, variant| {
        format!(
            "sequences `{other}` and `{this}` would both be `{}Sequence::{variant}`; rename one",
            def.ident
        )
    });
}

/// Distinct names whose UpperCamelCase variants collide (repeated names are
/// reported by the graph rules).
fn check_variants<'a>(
    cx: &Ctxt,
    idents: impl Iterator<Item = &'a Ident>,
    message: impl Fn(&str, &str, &str) -> String,
) {
    let mut seen = HashSet::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    for ident in idents {
        let this = name(ident);
        if !seen.insert(this.clone()) {
            continue;
        }
        let variant = upper_camel(&this);
        match variants.get(&variant) {
            Some(other) => cx.error_spanned_by(ident, message(other, &this, &variant)),
            None => {
                variants.insert(variant, this);
            }
        }
    }
}
