//! Turns a read [`Document`] into validated graphs, one per `[SCENARIO.<id>]`,
//! with every problem located in the file and reported once.
//!
//! A scenario's data nodes are the declared ones its tasks use (in file order)
//! and then every task output no `[DATA_NODE]` declares, typed by the task's
//! signature. The graph rules (`pipeline-graph-rules`) run on the file's own
//! declarations, tasks whose function is unknown included (with an unknown
//! signature), so one mistake is one error: an unknown function does not also
//! leave its outputs without a producer, a bad default does not also leave its
//! node without one.

use std::collections::HashSet;
use std::sync::Arc;

use super::decl::{Document, NodeDecl, NodeDefault, ScenarioDecl};
use super::findings::{self, Origin, ScenarioNode, ScenarioView};
use super::location::{ConfigError, Source, did_you_mean};
use super::tasks::{RegisteredTask, TaskLookupError, TaskRegistry};
use super::types::TypeRegistry;
use crate::graph::{Graph, GraphBuilder, NodeSpec, Role, TaskSpec};
use crate::value::ValueType;

pub(super) struct Builder<'a> {
    pub(super) source: &'a Source,
    pub(super) document: &'a Document,
    types: TypeRegistry,
    /// Each `[TASK]`'s registered function, if it resolved.
    pub(super) functions: Vec<Option<RegisteredTask>>,
    /// Defaults already checked against a type (each problem is reported once).
    checked_defaults: HashSet<(String, String)>,
    pub(super) errors: Vec<ConfigError>,
}

impl<'a> Builder<'a> {
    pub(super) fn error(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    /// Resolves every `[TASK]`'s function, reporting unknown ones once.
    fn resolve_functions(&mut self, tasks: &TaskRegistry) {
        for decl in &self.document.tasks {
            let (name, span) = match &decl.function {
                Some(f) => (f.value.clone(), f.span.clone()),
                None => (decl.id.value.clone(), decl.id.span.clone()),
            };
            let resolved = match tasks.get(&name) {
                Ok(task) => Some(task.clone()),
                Err(TaskLookupError::Unknown) => {
                    let hint = did_you_mean(&name, tasks.names());
                    let message = format!(
                        "task `{}` uses function `{name}`, which no `#[task]` registers{hint}",
                        decl.id.value
                    );
                    self.errors.push(self.source.error(span, message));
                    None
                }
                Err(TaskLookupError::Ambiguous(origins)) => {
                    let message = format!(
                        "function `{name}` is registered by several modules ({}); rename one with #[task(name = \"…\")]",
                        origins.join(", ")
                    );
                    self.errors.push(self.source.error(span, message));
                    None
                }
            };
            self.functions.push(resolved);
        }
    }

    /// The type a `[TASK]` (by index) gives the node at one position, if its function resolved.
    fn signature_type(&self, task: usize, role: Role, position: usize) -> Option<ValueType> {
        let def = &self.functions[task].as_ref()?.def;
        let types = match role {
            Role::Input => def.inputs(),
            Role::Output => def.outputs(),
        };
        types.get(position).copied()
    }

    /// The type the given tasks give `node`: the first writer's output type,
    /// else the first reader's parameter type.
    fn type_from_tasks(&self, node: &str, tasks: &[usize]) -> Option<(ValueType, Origin)> {
        for role in [Role::Output, Role::Input] {
            for &task in tasks {
                let decl = &self.document.tasks[task];
                let wired = match role {
                    Role::Input => &decl.inputs,
                    Role::Output => &decl.outputs,
                };
                for (position, name) in wired.iter().enumerate() {
                    if name.value == node
                        && let Some(value_type) = self.signature_type(task, role, position)
                    {
                        let origin = Origin::Task {
                            task: decl.id.value.clone(),
                            role,
                            position,
                        };
                        return Some((value_type, origin));
                    }
                }
            }
        }
        None
    }

    /// A declared node's type: its `type`, else what the given tasks give it.
    fn declared_type(&self, decl: &NodeDecl, tasks: &[usize]) -> Option<(ValueType, Origin)> {
        let Some(declared) = &decl.type_name else {
            return self.type_from_tasks(&decl.id.value, tasks);
        };
        self.types
            .get(&declared.value)
            .map(|entry| (entry.value_type(), Origin::Declared))
    }

    /// Unknown type names, and every default against its node's type, for
    /// every `[DATA_NODE]`, whether or not a scenario uses it.
    fn check_declared_nodes(&mut self) {
        let all_tasks: Vec<usize> = (0..self.document.tasks.len()).collect();
        for decl in &self.document.nodes {
            if let Some(declared) = &decl.type_name
                && self.types.get(&declared.value).is_none()
            {
                let hint = did_you_mean(&declared.value, self.types.names());
                self.error(
                    declared.span.clone(),
                    format!(
                        "data node `{}` has unknown type `{}`{hint}; register it with TypeRegistry::with_type",
                        decl.id.value, declared.value
                    ),
                );
                continue;
            }
            if let (Some(default), Some((value_type, _))) =
                (&decl.default, self.declared_type(decl, &all_tasks))
            {
                self.parse_default(&decl.id.value, default, value_type);
            }
        }
    }

    /// Parses a default for a type, reporting a problem once; the default's
    /// producer if it parses.
    fn parse_default(
        &mut self,
        node: &str,
        default: &NodeDefault,
        value_type: ValueType,
    ) -> Option<crate::graph::DefaultFn> {
        let entry = self.types.get_type(value_type).cloned();
        let first_time = self
            .checked_defaults
            .insert((node.to_owned(), value_type.name()));
        let origin = if default.inherited {
            " (the default comes from [DATA_NODE.default])"
        } else {
            ""
        };
        match entry
            .as_ref()
            .and_then(|e| e.parse_default(&default.value.value))
        {
            None => {
                if first_time {
                    self.error(
                        default.value.span.clone(),
                        format!(
                            "data node `{node}`: TOML defaults of type {} need a parser{origin}; register one with TypeRegistry::with_from_str or ::with",
                            value_type.name()
                        ),
                    );
                }
                None
            }
            Some(Err(reason)) => {
                if first_time {
                    self.error(
                        default.value.span.clone(),
                        format!(
                            "default of data node `{node}` is not a valid {}: {reason}{origin}",
                            value_type.name()
                        ),
                    );
                }
                None
            }
            Some(Ok(_)) => {
                let entry = entry.expect("a default parsed, so its type has an entry");
                let value = default.value.value.clone();
                Some(Arc::new(move || {
                    entry
                        .parse_default(&value)
                        .and_then(Result::ok)
                        .expect("the default parsed when the file was loaded")
                }))
            }
        }
    }

    /// The tasks a scenario lists, by index into the document, each once;
    /// unknown and repeated names are reported.
    fn listed_tasks(&mut self, scenario: &ScenarioDecl) -> Vec<usize> {
        let mut listed = Vec::new();
        let mut seen = HashSet::new();
        for name in &scenario.tasks {
            if !seen.insert(name.value.as_str()) {
                self.error(
                    name.span.clone(),
                    format!("task `{}` is listed twice", name.value),
                );
                continue;
            }
            match self
                .document
                .tasks
                .iter()
                .position(|t| t.id.value == name.value)
            {
                Some(index) => listed.push(index),
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
        listed
    }

    /// The scenario's data nodes: the declared ones its tasks or
    /// `additional_data_nodes` name, in file order, then the outputs no
    /// section declares, in the order the tasks write them.
    fn scenario_nodes(&mut self, scenario: &ScenarioDecl, listed: &[usize]) -> Vec<ScenarioNode> {
        let document = self.document;
        let mut used: HashSet<&str> = HashSet::new();
        for &task in listed {
            let decl = &document.tasks[task];
            used.extend(
                decl.inputs
                    .iter()
                    .chain(&decl.outputs)
                    .map(|n| n.value.as_str()),
            );
        }
        for extra in &scenario.additional_nodes {
            if document.nodes.iter().any(|n| n.id.value == extra.value) {
                used.insert(&extra.value);
            } else {
                let hint = did_you_mean(
                    &extra.value,
                    document.nodes.iter().map(|n| n.id.value.as_str()),
                );
                let fix = if hint.is_empty() {
                    format!("; declare it as [DATA_NODE.{}] with a `type`", extra.value)
                } else {
                    hint
                };
                self.error(
                    extra.span.clone(),
                    format!(
                        "scenario `{}` lists unknown data node `{}` in `additional_data_nodes`{fix}",
                        scenario.id.value, extra.value
                    ),
                );
            }
        }
        let mut nodes = Vec::new();
        for (index, decl) in document.nodes.iter().enumerate() {
            if !used.contains(decl.id.value.as_str()) {
                continue;
            }
            let found = self.declared_type(decl, listed).or_else(|| {
                let all: Vec<usize> = (0..document.tasks.len()).collect();
                self.declared_type(decl, &all)
            });
            nodes.push(ScenarioNode {
                name: decl.id.value.clone(),
                declared: Some(index),
                value_type: found.as_ref().map(|(t, _)| *t),
                origin: found.map_or(Origin::Unknown, |(_, origin)| origin),
                default: decl.default.clone(),
                scope: decl.scope,
            });
        }
        let template = &document.node_template;
        for &task in listed {
            for (position, output) in document.tasks[task].outputs.iter().enumerate() {
                let declared = document.nodes.iter().any(|n| n.id.value == output.value);
                if declared || nodes.iter().any(|n| n.name == output.value) {
                    continue;
                }
                nodes.push(ScenarioNode {
                    name: output.value.clone(),
                    declared: None,
                    value_type: self.signature_type(task, Role::Output, position),
                    origin: Origin::Task {
                        task: document.tasks[task].id.value.clone(),
                        role: Role::Output,
                        position,
                    },
                    default: template.default.clone(),
                    scope: template.scope,
                });
            }
        }
        nodes
    }

    fn scenario(&mut self, scenario: &'a ScenarioDecl) -> Option<Graph> {
        let document = self.document;
        let errors_before = self.errors.len();
        let listed = self.listed_tasks(scenario);
        let nodes = self.scenario_nodes(scenario, &listed);
        let view = ScenarioView {
            document,
            scenario,
            listed: listed.iter().map(|&t| &document.tasks[t]).collect(),
            signatures: listed
                .iter()
                .map(|&t| {
                    let def = &self.functions[t].as_ref()?.def;
                    Some((def.inputs().to_vec(), def.outputs().to_vec()))
                })
                .collect(),
            nodes,
        };
        for finding in view.declaration().check().findings {
            if let Some((span, message)) = findings::locate(&view, finding) {
                self.error(span, message);
            }
        }
        let unresolved: HashSet<usize> = listed
            .iter()
            .enumerate()
            .filter(|(_, t)| self.functions[**t].is_none())
            .map(|(i, _)| i)
            .collect();
        let mut specs = Vec::with_capacity(view.nodes.len());
        // A default that does not parse is reported once, maybe by another
        // scenario: this graph is not built either way.
        let mut defaults_parse = true;
        for node in &view.nodes {
            let Some(value_type) = node.value_type else {
                // Untyped because its `type` is unknown or an unknown function
                // uses it: reported there.
                let unknown_type = node
                    .declared
                    .is_some_and(|i| document.nodes[i].type_name.is_some());
                let users = view.users(&node.name);
                if !unknown_type && users.iter().all(|t| !unresolved.contains(t)) {
                    let span = node.declared.map_or(scenario.id.span.clone(), |i| {
                        document.nodes[i].id.span.clone()
                    });
                    self.error(
                        span,
                        format!(
                            "data node `{}` needs a `type` (no task uses it to infer one)",
                            node.name
                        ),
                    );
                }
                continue;
            };
            let mut spec = NodeSpec::of_type(node.name.as_str(), value_type).with_scope(node.scope);
            if let Some(default) = &node.default {
                match self.parse_default(&node.name, default, value_type) {
                    Some(default_fn) => spec = spec.with_default_fn(default_fn),
                    None => defaults_parse = false,
                }
            }
            specs.push(spec);
        }
        if self.errors.len() != errors_before || !defaults_parse {
            return None;
        }
        let mut builder = GraphBuilder::new(scenario.id.value.clone());
        for spec in specs {
            builder = builder.node(spec);
        }
        for &task in &listed {
            let decl = &document.tasks[task];
            let function = self.functions[task].as_ref()?;
            let mut def = function.def.clone().renamed(decl.id.value.as_str());
            if !decl.resources.is_empty() {
                let resources = def.resources().overridden_by(&decl.resources);
                def = def.with_resources(resources);
            }
            builder = builder.task(
                TaskSpec::new(def)
                    .inputs(decl.inputs.iter().map(|n| n.value.as_str()))
                    .outputs(decl.outputs.iter().map(|n| n.value.as_str()))
                    .skippable(decl.skippable.unwrap_or(function.skippable)),
            );
        }
        for (name, tasks) in &scenario.sequences {
            builder = builder.sequence(name.value.clone(), tasks.iter().map(|t| t.value.as_str()));
        }
        match builder.build() {
            Ok(graph) => Some(graph),
            Err(errors) => {
                // The file's own check above found nothing; say so rather than lose it.
                for error in errors.0 {
                    self.error(
                        scenario.id.span.clone(),
                        format!("scenario `{}`: {error}", scenario.id.value),
                    );
                }
                None
            }
        }
    }
}

/// Builds every scenario of a document; the graphs, and every problem found.
pub(crate) fn build(
    source: &Source,
    document: &Document,
    tasks: &TaskRegistry,
    types: &TypeRegistry,
) -> (Vec<(String, Arc<Graph>)>, Vec<ConfigError>) {
    let mut known_types = types.clone();
    for task in tasks.iter() {
        for value_type in task.def.inputs().iter().chain(task.def.outputs()) {
            known_types.learn(*value_type);
        }
    }
    let mut builder = Builder {
        source,
        document,
        types: known_types,
        functions: Vec::with_capacity(document.tasks.len()),
        checked_defaults: HashSet::new(),
        errors: Vec::new(),
    };
    builder.resolve_functions(tasks);
    builder.check_declared_nodes();
    let mut graphs = Vec::new();
    for scenario in &document.scenarios {
        if let Some(graph) = builder.scenario(scenario) {
            graphs.push((scenario.id.value.clone(), Arc::new(graph)));
        }
    }
    (graphs, builder.errors)
}
