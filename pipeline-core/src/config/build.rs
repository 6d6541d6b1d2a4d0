//! Turns a read [`Document`] into validated graphs, one per `[SCENARIO.<id>]`,
//! with every problem located in the file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::document::{Document, NodeDecl, ScenarioDecl, TaskDecl};
use super::location::{ConfigError, Source, did_you_mean};
use super::tasks::{RegisteredTask, TaskLookupError, TaskRegistry};
use super::types::TypeRegistry;
use crate::graph::{Graph, GraphBuilder, GraphError, NodeSpec, Role, TaskSpec};
use crate::value::ValueType;

struct Builder<'a> {
    source: &'a Source,
    document: &'a Document,
    tasks: &'a TaskRegistry,
    types: TypeRegistry,
    errors: Vec<ConfigError>,
}

impl<'a> Builder<'a> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    fn task_decl(&self, name: &str) -> Option<&'a TaskDecl> {
        self.document.tasks.iter().find(|t| t.id.value == name)
    }

    /// Resolves every `[TASK]`'s function, reporting unknown ones once.
    fn resolve_functions(&mut self) -> HashMap<String, RegisteredTask> {
        let mut resolved = HashMap::new();
        for decl in &self.document.tasks {
            let (name, span) = match &decl.function {
                Some(f) => (f.value.clone(), f.span.clone()),
                None => (decl.id.value.clone(), decl.id.span.clone()),
            };
            match self.tasks.get(&name) {
                Ok(task) => {
                    resolved.insert(decl.id.value.clone(), task.clone());
                }
                Err(TaskLookupError::Unknown) => {
                    let hint = did_you_mean(&name, self.tasks.names());
                    let message = format!(
                        "task `{}` uses function `{name}`, which no `#[task]` registers{hint}",
                        decl.id.value
                    );
                    self.errors.push(self.source.error(span, message));
                }
                Err(TaskLookupError::Ambiguous(origins)) => {
                    let message = format!(
                        "function `{name}` is registered by several modules ({}); rename one with #[task(name = \"…\")]",
                        origins.join(", ")
                    );
                    self.errors.push(self.source.error(span, message));
                }
            }
        }
        resolved
    }

    /// The node's type: declared, else the type the tasks using it agree on.
    fn node_type(
        &mut self,
        decl: &NodeDecl,
        used_as: &[ValueType],
        unresolved_user: bool,
    ) -> Option<ValueType> {
        if let Some(declared) = &decl.type_name {
            return match self.types.get(&declared.value) {
                Some(entry) => Some(entry.value_type()),
                None => {
                    let hint = did_you_mean(&declared.value, self.types.names());
                    self.error(
                        declared.span.clone(),
                        format!(
                            "data node `{}` has unknown type `{}`{hint}; register it with TypeRegistry::with_type",
                            decl.id.value, declared.value
                        ),
                    );
                    None
                }
            };
        }
        match used_as.first() {
            Some(first) => Some(*first),
            None if unresolved_user => None, // its task's unknown function is reported already
            None => {
                self.error(
                    decl.id.span.clone(),
                    format!(
                        "data node `{}` needs a `type` (no task uses it to infer one)",
                        decl.id.value
                    ),
                );
                None
            }
        }
    }

    fn node_spec(&mut self, decl: &NodeDecl, value_type: ValueType) -> NodeSpec {
        let mut spec = NodeSpec::of_type(decl.id.value.as_str(), value_type).with_scope(decl.scope);
        let Some(default) = &decl.default else {
            return spec;
        };
        let Some(entry) = self.types.get_type(value_type).cloned() else {
            return spec;
        };
        match entry.parse(&default.value) {
            None => self.error(
                default.span.clone(),
                format!(
                    "data node `{}`: TOML defaults of type {} need a parser; register one with TypeRegistry::with_from_str or ::with",
                    decl.id.value,
                    value_type.name()
                ),
            ),
            Some(Err(reason)) => self.error(
                default.span.clone(),
                format!(
                    "default of data node `{}` is not a valid {}: {reason}",
                    decl.id.value,
                    value_type.name()
                ),
            ),
            Some(Ok(_)) => {
                let value = default.value.clone();
                spec = spec.with_default_fn(Arc::new(move || {
                    entry
                        .parse(&value)
                        .and_then(Result::ok)
                        .expect("the default parsed when the file was loaded")
                }));
            }
        }
        spec
    }

    fn scenario(
        &mut self,
        scenario: &ScenarioDecl,
        functions: &HashMap<String, RegisteredTask>,
    ) -> Option<Graph> {
        let errors_before = self.errors.len();
        let mut listed: Vec<&'a TaskDecl> = Vec::new();
        let mut seen = HashSet::new();
        for name in &scenario.tasks {
            if !seen.insert(name.value.as_str()) {
                self.error(
                    name.span.clone(),
                    format!("task `{}` is listed twice", name.value),
                );
                continue;
            }
            match self.task_decl(&name.value) {
                Some(decl) => listed.push(decl),
                None => {
                    let hint = did_you_mean(
                        &name.value,
                        self.document.tasks.iter().map(|t| t.id.value.as_str()),
                    );
                    let fix = if hint.is_empty() {
                        format!("; declare it as [TASK.{}]", name.value)
                    } else {
                        hint
                    };
                    self.error(
                        name.span.clone(),
                        format!(
                            "scenario `{}` lists unknown task `{}`{fix}",
                            scenario.id.value, name.value
                        ),
                    );
                }
            }
        }

        // Which nodes the scenario uses, and as what type each task sees them.
        let mut used: BTreeMap<String, Vec<ValueType>> = BTreeMap::new();
        for decl in &listed {
            let task = functions.get(&decl.id.value);
            let (inputs, outputs) =
                task.map_or((&[][..], &[][..]), |t| (t.def.inputs(), t.def.outputs()));
            for (names, types) in [(&decl.inputs, inputs), (&decl.outputs, outputs)] {
                for (i, name) in names.iter().enumerate() {
                    let entry = used.entry(name.value.clone()).or_default();
                    if let Some(t) = types.get(i) {
                        entry.push(*t);
                    }
                }
            }
        }
        for extra in &scenario.additional_nodes {
            used.entry(extra.value.clone()).or_default();
        }

        let mut builder = GraphBuilder::new(scenario.id.value.clone());
        let mut untyped = HashSet::new();
        // In the file's order; names without a [DATA_NODE] are reported as
        // unknown nodes by the graph rules below.
        let unresolved: HashSet<&str> = listed
            .iter()
            .filter(|d| !functions.contains_key(&d.id.value))
            .map(|d| d.id.value.as_str())
            .collect();
        let declared = self
            .document
            .nodes
            .iter()
            .filter(|n| used.contains_key(&n.id.value));
        for decl in declared {
            let used_as = &used[&decl.id.value];
            let name = &decl.id.value;
            let unresolved_user = listed.iter().any(|t| {
                unresolved.contains(t.id.value.as_str())
                    && t.inputs.iter().chain(&t.outputs).any(|n| &n.value == name)
            });
            match self.node_type(decl, used_as, unresolved_user) {
                Some(value_type) => builder = builder.node(self.node_spec(decl, value_type)),
                None => {
                    untyped.insert(name.clone());
                }
            }
        }
        for decl in &listed {
            let Some(task) = functions.get(&decl.id.value) else {
                continue;
            };
            let def = task.def.clone().renamed(decl.id.value.as_str());
            builder = builder.task(
                TaskSpec::new(def)
                    .inputs(decl.inputs.iter().map(|n| n.value.as_str()))
                    .outputs(decl.outputs.iter().map(|n| n.value.as_str()))
                    .skippable(decl.skippable.unwrap_or(task.skippable)),
            );
        }
        for (name, tasks) in &scenario.sequences {
            builder = builder.sequence(name.value.clone(), tasks.iter().map(|t| t.value.as_str()));
        }

        match builder.build() {
            Ok(graph) if self.errors.len() == errors_before => Some(graph),
            Ok(_) => None,
            Err(errors) => {
                for error in errors.0 {
                    self.locate(scenario, &listed, error, &untyped, &unresolved);
                }
                None
            }
        }
    }

    fn entry_span(decl: &TaskDecl, role: Role, index: Option<usize>, node: &str) -> Range<usize> {
        let names = match role {
            Role::Input => &decl.inputs,
            Role::Output => &decl.outputs,
        };
        index
            .and_then(|i| names.get(i))
            .filter(|n| n.value == node)
            .or_else(|| names.iter().find(|n| n.value == node))
            .map_or(decl.id.span.clone(), |n| n.span.clone())
    }

    /// Turns a graph rule's error into a located one (or drops it when an
    /// earlier, more precise error already covers it).
    fn locate(
        &mut self,
        scenario: &ScenarioDecl,
        listed: &[&TaskDecl],
        error: GraphError,
        untyped: &HashSet<String>,
        unresolved: &HashSet<&str>,
    ) {
        let decl_of = |task: &str| listed.iter().copied().find(|d| d.id.value == task);
        match error {
            GraphError::UnknownNode { task, node, role } => {
                if untyped.contains(&node) || unresolved.contains(task.as_str()) {
                    return;
                }
                let Some(decl) = decl_of(&task) else { return };
                let hint = did_you_mean(
                    &node,
                    self.document.nodes.iter().map(|n| n.id.value.as_str()),
                );
                let span = Self::entry_span(decl, role, None, &node);
                let fix = if hint.is_empty() {
                    format!("; declare it as [DATA_NODE.{node}]")
                } else {
                    hint
                };
                self.error(
                    span,
                    format!("task `{task}` names unknown data node `{node}` as an {role}{fix}"),
                );
            }
            GraphError::TypeMismatch {
                task,
                node,
                role,
                position,
                node_type,
                task_type,
            } => {
                let Some(decl) = decl_of(&task) else { return };
                let span = Self::entry_span(decl, role, Some(position), &node);
                let function = decl
                    .function
                    .as_ref()
                    .map_or(task.as_str(), |f| f.value.as_str());
                let which = match role {
                    Role::Input => format!("parameter {}", position + 1),
                    Role::Output => format!("output {}", position + 1),
                };
                self.error(
                    span,
                    format!("data node `{node}` is {node_type}, but {which} of function `{function}` (task `{task}`) is {task_type}"),
                );
            }
            GraphError::TwoProducers {
                node,
                first,
                second,
            } => {
                let Some(decl) = decl_of(&second) else { return };
                let span = Self::entry_span(decl, Role::Output, None, &node);
                self.error(span, format!("data node `{node}` is produced by both `{first}` and `{second}`; a node has at most one producer"));
            }
            GraphError::Cycle { path } => {
                let span = scenario
                    .tasks
                    .iter()
                    .find(|t| Some(&t.value) == path.first())
                    .map_or(scenario.id.span.clone(), |t| t.span.clone());
                self.error(
                    span,
                    format!(
                        "scenario `{}` has a cycle: {}",
                        scenario.id.value,
                        path.join(" -> ")
                    ),
                );
            }
            GraphError::Unfed { node, task } => {
                if untyped.contains(&node) {
                    return;
                }
                let Some(decl) = decl_of(&task) else { return };
                let span = Self::entry_span(decl, Role::Input, None, &node);
                self.error(
                    span,
                    format!(
                        "data node `{node}` is read by task `{task}` but no task of scenario `{}` produces it and it has no default; give [DATA_NODE.{node}] a `default` or add its producer to the scenario's `tasks`",
                        scenario.id.value
                    ),
                );
            }
            GraphError::Arity {
                task,
                role,
                expected,
                found,
            } => {
                let Some(decl) = decl_of(&task) else { return };
                let function = decl
                    .function
                    .as_ref()
                    .map_or(task.as_str(), |f| f.value.as_str());
                self.error(
                    decl.id.span.clone(),
                    format!("task `{task}` gives {found} {role}s but function `{function}` has {expected}"),
                );
            }
            GraphError::UnknownTaskInSequence { sequence, task } => {
                if unresolved.contains(task.as_str()) {
                    return;
                }
                let span = scenario
                    .sequences
                    .iter()
                    .find(|(name, _)| name.value == sequence)
                    .and_then(|(_, tasks)| tasks.iter().find(|t| t.value == task))
                    .map_or(scenario.id.span.clone(), |t| t.span.clone());
                let hint = did_you_mean(&task, scenario.tasks.iter().map(|t| t.value.as_str()));
                self.error(
                    span,
                    format!("sequence `{sequence}` names task `{task}`, which scenario `{}` does not list{hint}", scenario.id.value),
                );
            }
            other @ (GraphError::DuplicateNode { .. }
            | GraphError::DuplicateTask { .. }
            | GraphError::DuplicateSequence { .. }) => {
                self.error(scenario.id.span.clone(), other.to_string());
            }
        }
    }
}

/// Builds every scenario of a document.
pub(crate) fn build(
    source: &Source,
    document: &Document,
    tasks: &TaskRegistry,
    types: &TypeRegistry,
) -> Result<Vec<(String, Arc<Graph>)>, Vec<ConfigError>> {
    let mut known_types = types.clone();
    for task in tasks.iter() {
        for value_type in task.def.inputs().iter().chain(task.def.outputs()) {
            known_types.learn(*value_type);
        }
    }
    let mut builder = Builder {
        source,
        document,
        tasks,
        types: known_types,
        errors: Vec::new(),
    };
    let functions = builder.resolve_functions();
    let mut graphs = Vec::new();
    for scenario in &document.scenarios {
        if let Some(graph) = builder.scenario(scenario, &functions) {
            graphs.push((scenario.id.value.clone(), Arc::new(graph)));
        }
    }
    let mut errors = builder.errors;
    if errors.is_empty() {
        Ok(graphs)
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        Err(errors)
    }
}
