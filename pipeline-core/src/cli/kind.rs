//! A scenario type as the command line knows it: its graph, which nodes `run`
//! shows, checks on the values a user writes, comparators, and the extra
//! fields of `run --json`.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::error::CliError;
use super::render;
use crate::Value;
use crate::compare::Compare;
use crate::graph::Graph;
use crate::job::Submission;
use crate::scenario::Scenario;
use crate::scenario_type::ScenarioType;

type CheckFn = Arc<dyn Fn(&(dyn Any + Send + Sync)) -> Result<(), String> + Send + Sync>;
type ComparatorFn = Arc<dyn Fn(Compare) -> Compare + Send + Sync>;
type ReportFn = Arc<dyn Fn(&RunResults<'_>) -> Result<Map<String, Json>, CliError> + Send + Sync>;

/// A check on the values a user writes into one node.
#[derive(Clone)]
struct Check {
    node: String,
    type_id: TypeId,
    check: CheckFn,
}

/// A scenario type registered with the command line: a `scenario!` type
/// ([`ScenarioKind::of`]) or a graph ([`ScenarioKind::from_graph`], what a
/// TOML configuration declares), with options.
///
/// ```
/// use pipeline_core::cli::{Cli, ScenarioKind};
/// use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
/// use pipeline_core::task::TaskDef;
/// let graph = GraphBuilder::new("pricing")
///     .node(NodeSpec::new::<f64>("rate").with_default(0.1))
///     .node(NodeSpec::new::<f64>("price"))
///     .task(TaskSpec::new(TaskDef::from_fn1("price", "1", |r: &f64| 100.0 * (1.0 - r)))
///         .inputs(["rate"]).outputs(["price"]).skippable(true))
///     .build()
///     .unwrap();
/// let kind = ScenarioKind::from_graph(graph)
///     .results(["price"])
///     .check("rate", |rate: &f64| {
///         if (0.0..1.0).contains(rate) { Ok(()) } else { Err(format!("a rate is in [0, 1), not {rate}")) }
///     });
/// let cli = Cli::new("pricing").scenario_kind(kind);
/// ```
#[derive(Clone)]
pub struct ScenarioKind {
    graph: Arc<Graph>,
    results: Option<Vec<String>>,
    checks: Vec<Check>,
    comparators: Vec<ComparatorFn>,
    report: Option<ReportFn>,
}

impl ScenarioKind {
    /// The scenario type `S` declared with `scenario!`.
    pub fn of<S: ScenarioType>() -> Self {
        Self::from_graph(S::graph())
    }

    /// The scenario type of a graph (built by hand or read from TOML).
    pub fn from_graph(graph: impl Into<Arc<Graph>>) -> Self {
        Self {
            graph: graph.into(),
            results: None,
            checks: Vec::new(),
            comparators: Vec::new(),
            report: None,
        }
    }

    /// The type's name (its graph's).
    pub fn name(&self) -> &str {
        self.graph.name()
    }

    /// The type's graph.
    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    /// The nodes whose values `run` shows after a submission (default: the
    /// results, nodes a task writes and no task reads).
    pub fn results<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.results = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Checks every value a user writes into `node` (of type `T`) with `run
    /// --set` or `set`: an `Err` refuses the command (exit code 2) before
    /// anything is written, with the message.
    pub fn check<T: Value>(
        mut self,
        node: impl Into<String>,
        check: impl Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push(Check {
            node: node.into(),
            type_id: TypeId::of::<T>(),
            check: Arc::new(move |value| match value.downcast_ref::<T>() {
                Some(value) => check(value),
                None => Ok(()),
            }),
        });
        self
    }

    /// A comparator for `compare` on a node of type `T` (see
    /// [`Compare::comparator`]).
    pub fn comparator<T: Value>(
        mut self,
        node: impl Into<String>,
        compare: impl Fn(&[&T]) -> String + Send + Sync + 'static,
    ) -> Self {
        let node = node.into();
        let compare = Arc::new(compare);
        self.comparators.push(Arc::new(move |builder: Compare| {
            let compare = compare.clone();
            builder.comparator::<T>(&node, move |values| compare(values))
        }));
        self
    }

    /// Extra fields of `run --json`, computed from a successful submission's
    /// results (for example a summary a script reads): `report` returns them
    /// as a JSON object's fields, added at the top level of the report.
    pub fn report(
        mut self,
        report: impl Fn(&RunResults<'_>) -> Result<Map<String, Json>, CliError> + Send + Sync + 'static,
    ) -> Self {
        self.report = Some(Arc::new(report));
        self
    }

    /// This kind's options on another graph of the same name (a TOML file's
    /// declaration of the type).
    pub(crate) fn with_graph(&self, graph: Arc<Graph>) -> Self {
        Self {
            graph,
            ..self.clone()
        }
    }

    /// The nodes `run` shows.
    pub(crate) fn result_nodes(&self) -> Vec<String> {
        if let Some(nodes) = &self.results {
            return nodes.clone();
        }
        let graph = &self.graph;
        graph
            .nodes()
            .iter()
            .enumerate()
            .filter(|(index, _)| {
                let id = crate::graph::NodeId(*index as u32);
                graph.producer(id).is_some() && graph.consumers(id).is_empty()
            })
            .map(|(_, spec)| spec.name().to_owned())
            .collect()
    }

    /// Runs the checks registered for `node` on a value about to be written.
    pub(crate) fn check_value(
        &self,
        node: &str,
        value: &(dyn Any + Send + Sync),
    ) -> Result<(), String> {
        for check in self.checks.iter().filter(|c| c.node == node) {
            if value.type_id() == check.type_id {
                (check.check)(value)?;
            }
        }
        Ok(())
    }

    /// `compare` with this kind's comparators.
    pub(crate) fn compare(&self, builder: Compare) -> Compare {
        self.comparators.iter().fold(builder, |b, add| add(b))
    }

    /// The report hook's fields, if there is a hook.
    pub(crate) fn report_fields(
        &self,
        results: &RunResults<'_>,
    ) -> Result<Option<Map<String, Json>>, CliError> {
        self.report
            .as_ref()
            .map(|report| report(results))
            .transpose()
    }
}

impl std::fmt::Debug for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioKind")
            .field("name", &self.name())
            .field("results", &self.results)
            .field("checks", &self.checks.len())
            .field("comparators", &self.comparators.len())
            .field("report", &self.report.is_some())
            .finish()
    }
}

/// A submission that `run` made and the values it left, as a
/// [`report`](ScenarioKind::report) hook reads them: each node at the version
/// the submission left it, whatever other processes wrote since.
pub struct RunResults<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) submission: &'a Submission,
}

impl RunResults<'_> {
    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
    }

    /// The submission.
    pub fn submission(&self) -> &Submission {
        self.submission
    }

    /// A node's value as the submission left it.
    ///
    /// # Errors
    /// If the node is unknown, of another type, or had no value.
    pub fn read<T: Value>(&self, node: &str) -> Result<Arc<T>, CliError> {
        let handle = self.scenario.node::<T>(node)?;
        let version = self.version(node)?;
        Ok(handle.read_version(version)?)
    }

    /// A node's value as the submission left it, as JSON (a data frame as
    /// `{"columns", "row_count", "rows"}` with every row; see `docs/cli.md`).
    ///
    /// # Errors
    /// If the node is unknown or had no value.
    pub fn json(&self, node: &str) -> Result<Json, CliError> {
        let version = self.version(node)?;
        let (_, value) = self.scenario.read_erased(node, Some(version))?;
        let id = self.scenario.graph().node_id(node).expect("read above");
        let value_type = self.scenario.graph().node(id).value_type();
        render::value_json(value_type, &*value, None)
    }

    /// [`json`](Self::json), or `None` where the submission left the node
    /// without a value (a `run --task` of an upstream task, say).
    ///
    /// # Errors
    /// If the node is unknown.
    pub fn json_if_any(&self, node: &str) -> Result<Option<Json>, CliError> {
        self.known(node)?;
        match self.submission.version_of(node) {
            Some(_) => self.json(node).map(Some),
            None => Ok(None),
        }
    }

    fn known(&self, node: &str) -> Result<(), CliError> {
        let graph = self.scenario.graph();
        match graph.node_id(node) {
            Some(_) => Ok(()),
            None => Err(crate::Error::UnknownNode {
                graph: graph.name().to_owned(),
                node: node.to_owned(),
            }
            .into()),
        }
    }

    fn version(&self, node: &str) -> Result<u64, CliError> {
        self.known(node)?;
        self.submission.version_of(node).ok_or_else(|| {
            CliError::failed(format!(
                "data node `{node}` had no value after submission {}",
                self.submission.id
            ))
        })
    }
}
