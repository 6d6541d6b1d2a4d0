//! One scenario of a file as the graph rules see it, and their findings worded
//! and located at the entry they are about.

use std::collections::HashMap;
use std::ops::Range;

use pipeline_graph_rules as rules;
use rules::Finding;

use super::decl::{Document, NodeDefault, ScenarioDecl, TaskDecl};
use super::location::{Located, did_you_mean};
use crate::graph::{Role, Scope};
use crate::value::ValueType;

/// Where a data node's type comes from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// Its section's `type`.
    Declared,
    /// A task's signature: parameter or output `position` of task `task`.
    Task {
        task: String,
        role: Role,
        position: usize,
    },
    /// Nowhere: no `type`, and no task with a known function uses it.
    Unknown,
}

/// A data node of one scenario, declared by a section or inferred from the
/// task writing it.
#[derive(Debug, Clone)]
pub(super) struct ScenarioNode {
    pub(super) name: String,
    /// Its `[DATA_NODE]`'s index in the document, if a section declares it.
    pub(super) declared: Option<usize>,
    pub(super) value_type: Option<ValueType>,
    pub(super) origin: Origin,
    pub(super) default: Option<NodeDefault>,
    pub(super) scope: Scope,
}

/// A task function's parameter and output types.
pub(super) type Types = (Vec<ValueType>, Vec<ValueType>);

/// One scenario: its section, the tasks it lists (each once) with their
/// functions' types (unknown for a function no `#[task]` registers), and its nodes.
pub(super) struct ScenarioView<'a> {
    pub(super) document: &'a Document,
    pub(super) scenario: &'a ScenarioDecl,
    pub(super) listed: Vec<&'a TaskDecl>,
    pub(super) signatures: Vec<Option<Types>>,
    pub(super) nodes: Vec<ScenarioNode>,
}

impl ScenarioView<'_> {
    /// The scenario for the graph rules.
    pub(super) fn declaration(&self) -> rules::Graph<'_, ValueType> {
        fn names(list: &[Located<String>]) -> Vec<&str> {
            list.iter().map(|n| n.value.as_str()).collect()
        }
        rules::Graph {
            nodes: self
                .nodes
                .iter()
                .map(|node| rules::Node {
                    name: &node.name,
                    has_default: node.default.is_some(),
                    value_type: node.value_type,
                })
                .collect(),
            tasks: self
                .listed
                .iter()
                .zip(&self.signatures)
                .map(|(task, signature)| rules::Task {
                    name: &task.id.value,
                    inputs: names(&task.inputs),
                    outputs: names(&task.outputs),
                    signature: signature
                        .as_ref()
                        .map(|(inputs, outputs)| rules::Signature { inputs, outputs }),
                })
                .collect(),
            sequences: self
                .scenario
                .sequences
                .iter()
                .map(|(name, tasks)| rules::Sequence {
                    name: &name.value,
                    tasks: names(tasks),
                })
                .collect(),
        }
    }

    /// The listed tasks (by position in `listed`) that read or write `node`.
    pub(super) fn users(&self, node: &str) -> Vec<usize> {
        self.listed
            .iter()
            .enumerate()
            .filter(|(_, t)| t.inputs.iter().chain(&t.outputs).any(|n| n.value == node))
            .map(|(i, _)| i)
            .collect()
    }

    fn wired(&self, task: usize, role: rules::Role) -> &[Located<String>] {
        match role {
            rules::Role::Input => &self.listed[task].inputs,
            rules::Role::Output => &self.listed[task].outputs,
        }
    }

    /// The function's name as the file gives it.
    fn function(&self, task: usize) -> &str {
        let decl = self.listed[task];
        decl.function
            .as_ref()
            .map_or(decl.id.value.as_str(), |f| f.value.as_str())
    }
}

fn role(role: rules::Role) -> Role {
    match role {
        rules::Role::Input => Role::Input,
        rules::Role::Output => Role::Output,
    }
}

/// `parameter 2`, `output 1`.
fn position_of(role: Role, position: usize) -> String {
    match role {
        Role::Input => format!("parameter {}", position + 1),
        Role::Output => format!("output {}", position + 1),
    }
}

/// A finding as a message at the entry it is about, or `None` when an earlier
/// error already says it.
pub(super) fn locate(view: &ScenarioView<'_>, finding: Finding) -> Option<(Range<usize>, String)> {
    let scenario = &view.scenario.id.value;
    let task_name = |task: usize| view.listed[task].id.value.as_str();
    Some(match finding {
        // Nodes and listed tasks are distinct by construction, TOML keys too.
        Finding::DuplicateNode { .. }
        | Finding::DuplicateTask { .. }
        | Finding::DuplicateSequence { .. } => return None,
        Finding::Arity {
            task,
            role: side,
            expected,
            found,
        } => (
            view.listed[task].id.span.clone(),
            format!(
                "task `{}` gives {found} {}s but function `{}` has {expected}",
                task_name(task),
                role(side),
                view.function(task)
            ),
        ),
        Finding::UnknownNode {
            task,
            role: side,
            position,
        } => {
            let entry = &view.wired(task, side)[position];
            let node = entry.value.as_str();
            let hint = did_you_mean(
                node,
                view.nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .chain(view.document.nodes.iter().map(|n| n.id.value.as_str())),
            );
            let fix = if !hint.is_empty() {
                hint
            } else if let Some(writer) = writers(view.document).get(node).and_then(|w| w.first()) {
                format!(
                    "; task `{}` writes it: add `{}` to scenario `{scenario}`'s `tasks`",
                    writer.id.value, writer.id.value
                )
            } else {
                format!("; declare it as [DATA_NODE.{node}] with a `default`")
            };
            (
                entry.span.clone(),
                format!(
                    "task `{}` names unknown data node `{node}` as an {}{fix}",
                    task_name(task),
                    role(side)
                ),
            )
        }
        Finding::TypeMismatch {
            task,
            role: side,
            position,
            node,
        } => {
            let node = &view.nodes[node];
            let side = role(side);
            let (inputs, outputs) = view.signatures[task].as_ref()?;
            let task_type = match side {
                Role::Input => inputs[position],
                Role::Output => outputs[position],
            };
            let node_type = node.value_type?.name();
            let given_by = match &node.origin {
                Origin::Task {
                    task: from,
                    role: from_role,
                    position: from_position,
                } => format!(
                    " (the type {} of task `{from}` gives it)",
                    position_of(*from_role, *from_position)
                ),
                Origin::Declared | Origin::Unknown => String::new(),
            };
            (
                view.wired(task, rule_role(side))[position].span.clone(),
                format!(
                    "data node `{}` is {node_type}{given_by}, but {} of function `{}` (task `{}`) is {}",
                    node.name,
                    position_of(side, position),
                    view.function(task),
                    task_name(task),
                    task_type.name()
                ),
            )
        }
        Finding::OutputTwice { task, position, .. } => {
            let entry = &view.listed[task].outputs[position];
            (
                entry.span.clone(),
                format!(
                    "task `{}` writes data node `{}` twice; give each output its own data node",
                    task_name(task),
                    entry.value
                ),
            )
        }
        Finding::TwoProducers {
            task,
            position,
            node,
            producer,
        } => (
            view.listed[task].outputs[position].span.clone(),
            format!(
                "data node `{}` is produced by both `{}` and `{}`; a node has at most one producer",
                view.nodes[node].name,
                task_name(producer),
                task_name(task)
            ),
        ),
        Finding::Unfed { node, readers } => {
            let reader = readers[0];
            let node = &view.nodes[node].name;
            (
                view.listed[reader.task].inputs[reader.position]
                    .span
                    .clone(),
                format!(
                    "data node `{node}` is read by task `{}` but no task of scenario `{scenario}` produces it and it has no default; give [DATA_NODE.{node}] a `default` or add its producer to the scenario's `tasks`{}",
                    task_name(reader.task),
                    unfed_hint(view, node)
                ),
            )
        }
        Finding::Cycle { start, steps } => {
            let mut path = vec![task_name(start).to_owned()];
            for (node, task) in steps {
                path.push(view.nodes[node].name.clone());
                path.push(task_name(task).to_owned());
            }
            let span = view
                .scenario
                .tasks
                .iter()
                .find(|t| t.value == task_name(start))
                .map_or(view.scenario.id.span.clone(), |t| t.span.clone());
            (
                span,
                format!("scenario `{scenario}` has a cycle: {}", path.join(" -> ")),
            )
        }
        Finding::UnknownTaskInSequence { sequence, position } => {
            let (name, tasks) = &view.scenario.sequences[sequence];
            let entry = &tasks[position];
            if view.scenario.tasks.iter().any(|t| t.value == entry.value) {
                return None; // an unknown [TASK] the scenario lists: reported there
            }
            let hint = did_you_mean(
                &entry.value,
                view.scenario.tasks.iter().map(|t| t.value.as_str()),
            );
            (
                entry.span.clone(),
                format!(
                    "sequence `{}` names task `{}`, which scenario `{scenario}` does not list{hint}",
                    name.value, entry.value
                ),
            )
        }
        Finding::TaskTwiceInSequence {
            sequence, position, ..
        } => {
            let (name, tasks) = &view.scenario.sequences[sequence];
            (
                tasks[position].span.clone(),
                format!(
                    "task `{}` is listed twice in sequence `{}`; remove one",
                    tasks[position].value, name.value
                ),
            )
        }
    })
}

fn rule_role(side: Role) -> rules::Role {
    match side {
        Role::Input => rules::Role::Input,
        Role::Output => rules::Role::Output,
    }
}

/// Why nothing writes `node`: a task outside the scenario writes it, or a task
/// of the scenario writes a name close to it (a misspelt output).
fn unfed_hint(view: &ScenarioView<'_>, node: &str) -> String {
    let listed: Vec<&str> = view.listed.iter().map(|t| t.id.value.as_str()).collect();
    if let Some(writer) = writers(view.document)
        .get(node)
        .and_then(|w| w.iter().find(|t| !listed.contains(&t.id.value.as_str())))
    {
        return format!(" (task `{}` writes it)", writer.id.value);
    }
    let inferred = view.nodes.iter().filter(|n| n.declared.is_none());
    for candidate in inferred {
        let close = did_you_mean(node, [candidate.name.as_str()]);
        if close.is_empty() {
            continue;
        }
        if let Some(writer) = view
            .listed
            .iter()
            .find(|t| t.outputs.iter().any(|o| o.value == candidate.name))
        {
            return format!(
                "; task `{}` writes `{}`: did you mean `{node}` there?",
                writer.id.value, candidate.name
            );
        }
    }
    String::new()
}

/// Which `[TASK]`s write each name (for hints about tasks a scenario leaves out).
fn writers(document: &Document) -> HashMap<&str, Vec<&TaskDecl>> {
    let mut writers: HashMap<&str, Vec<&TaskDecl>> = HashMap::new();
    for task in &document.tasks {
        for output in &task.outputs {
            writers.entry(output.value.as_str()).or_default().push(task);
        }
    }
    writers
}
