//! Comparing scenarios of one type side by side, node by node: whether their
//! values are equal (same fingerprint), the values themselves when they are
//! small enough to show, and the result of comparator functions registered per
//! node (Taipy's comparators).
//!
//! ```
//! use pipeline_core::{Runtime};
//! use pipeline_core::compare::Compare;
//! use pipeline_core::graph::{GraphBuilder, NodeSpec};
//! let graph = GraphBuilder::new("pricing")
//!     .node(NodeSpec::new::<f64>("rate").with_default(0.1))
//!     .node(NodeSpec::new::<String>("region").with_default("north".to_owned()))
//!     .build()?;
//! let graph = std::sync::Arc::new(graph);
//! let runtime = Runtime::in_memory();
//! let low = runtime.create_scenario(graph.clone(), "low")?;
//! let high = runtime.create_scenario(graph, "high")?;
//! high.node::<f64>("rate")?.write(0.25)?;
//!
//! let comparison = Compare::new([low, high])
//!     .comparator("rate", |rates: &[&f64]| format!("spread {:.2}", rates[1] - rates[0]))
//!     .run()?;
//! let rate = comparison.node("rate").unwrap();
//! assert!(!rate.equal);
//! assert_eq!(rate.comparator.as_deref(), Some("spread 0.15"));
//! assert!(comparison.node("region").unwrap().equal);
//! let table = comparison.to_string();
//! assert!(table.contains("0.25"), "{table}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::{Any, TypeId};
use std::fmt;

use serde_json::{Value as Json, json};

use crate::Value;
use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::graph::NodeId;
use crate::history::bytes;
use crate::scenario::Scenario;
use crate::store::ScenarioMeta;

/// Values whose encoding is smaller than this are shown in a comparison.
pub const RENDER_LIMIT: u64 = 1024;

type ComparatorFn = Box<dyn Fn(&[&(dyn Any + Send + Sync)]) -> String + Send + Sync>;

struct Comparator {
    node: String,
    type_id: TypeId,
    type_name: String,
    compare: ComparatorFn,
}

/// A comparison to run: the scenarios, the nodes, the comparators.
pub struct Compare {
    scenarios: Vec<Scenario>,
    comparators: Vec<Comparator>,
    nodes: Option<Vec<String>>,
    render_limit: u64,
}

impl Compare {
    /// Compares these scenarios (at least two, all of one type).
    pub fn new(scenarios: impl IntoIterator<Item = Scenario>) -> Self {
        Self {
            scenarios: scenarios.into_iter().collect(),
            comparators: Vec::new(),
            nodes: None,
            render_limit: RENDER_LIMIT,
        }
    }

    /// Registers a comparator for a node of type `T`: it receives the node's
    /// value in every scenario (in the order given) and says what differs. It
    /// runs only when every scenario has a value.
    pub fn comparator<T: Value>(
        mut self,
        node: &str,
        compare: impl Fn(&[&T]) -> String + Send + Sync + 'static,
    ) -> Self {
        self.comparators.push(Comparator {
            node: node.to_owned(),
            type_id: TypeId::of::<T>(),
            type_name: T::type_name(),
            compare: Box::new(move |values| {
                let typed: Vec<&T> = values
                    .iter()
                    .map(|v| {
                        v.downcast_ref::<T>()
                            .expect("comparator types are checked before running")
                    })
                    .collect();
                compare(&typed)
            }),
        });
        self
    }

    /// Compares only these nodes (default: every node, in declaration order).
    pub fn nodes<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.nodes = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Shows values whose encoding is smaller than `bytes` (default 1,024).
    pub fn render_limit(mut self, bytes: u64) -> Self {
        self.render_limit = bytes;
        self
    }

    /// Runs the comparison. Only values small enough to show, and values a
    /// comparator needs, are loaded.
    pub fn run(&self) -> Result<Comparison> {
        let Some(first) = self.scenarios.first() else {
            return Err(Error::Compare("give at least two scenarios".to_owned()));
        };
        if self.scenarios.len() < 2 {
            return Err(Error::Compare(format!(
                "give at least two scenarios (only `{}` was given)",
                first.name()
            )));
        }
        let graph = first.graph();
        if let Some(other) = self
            .scenarios
            .iter()
            .find(|s| s.graph().name() != graph.name())
        {
            return Err(Error::Compare(format!(
                "`{}` ({}) is a `{}` scenario but `{}` ({}) is a `{}` one: compare scenarios \
                 of one type",
                first.name(),
                first.id(),
                graph.name(),
                other.name(),
                other.id(),
                other.graph().name()
            )));
        }
        let node_id = |name: &str| {
            graph.node_id(name).ok_or_else(|| Error::UnknownNode {
                graph: graph.name().to_owned(),
                node: name.to_owned(),
            })
        };
        for comparator in &self.comparators {
            let spec = graph.node(node_id(&comparator.node)?);
            if spec.value_type().type_id() != comparator.type_id {
                return Err(Error::NodeType {
                    node: comparator.node.clone(),
                    actual: spec.value_type().name(),
                    requested: comparator.type_name.clone(),
                });
            }
        }
        let ids: Vec<NodeId> = match &self.nodes {
            Some(names) => names.iter().map(|n| node_id(n)).collect::<Result<_>>()?,
            None => (0..graph.nodes().len() as u32).map(NodeId).collect(),
        };
        let nodes = ids
            .into_iter()
            .map(|id| self.compare_node(id))
            .collect::<Result<_>>()?;
        Ok(Comparison {
            scenarios: self.scenarios.iter().map(|s| s.meta().clone()).collect(),
            nodes,
        })
    }

    fn compare_node(&self, id: NodeId) -> Result<NodeComparison> {
        let spec = self.scenarios[0].graph().node(id);
        let value_type = spec.value_type();
        let mut cells = Vec::with_capacity(self.scenarios.len());
        let mut versions = Vec::with_capacity(self.scenarios.len());
        for scenario in &self.scenarios {
            let Some(current) = scenario.state().current(id)? else {
                cells.push(Cell::Missing);
                versions.push(None);
                continue;
            };
            let store = &scenario.state().runtime().store;
            let size = store.value_size(&current.meta.fingerprint, &value_type)?;
            let value = match size {
                Some(size) if size < self.render_limit => {
                    scenario.state().value_of(id, &current).ok()
                }
                _ => None,
            };
            let rendered = value.as_ref().and_then(|v| {
                value_type
                    .to_text(&***v)
                    .or_else(|| value_type.render(&***v))
            });
            let json = value.as_ref().and_then(|v| {
                value_type
                    .to_json(&***v)
                    .or_else(|| value_type.render(&***v).map(Json::String))
            });
            cells.push(Cell::Value {
                version: current.meta.version,
                fingerprint: current.meta.fingerprint,
                size,
                rendered,
                json,
            });
            versions.push(Some(current));
        }
        let fingerprints: Vec<Option<Fingerprint>> = cells.iter().map(Cell::fingerprint).collect();
        let equal = fingerprints.windows(2).all(|w| w[0] == w[1]);
        let mut comparator = None;
        if let Some(found) = self.comparators.iter().find(|c| c.node == spec.name())
            && versions.iter().all(Option::is_some)
        {
            let mut values = Vec::with_capacity(versions.len());
            for (scenario, version) in self.scenarios.iter().zip(&versions) {
                let version = version.as_ref().expect("checked above");
                values.push(scenario.state().value_of(id, version)?.clone());
            }
            let borrowed: Vec<&(dyn Any + Send + Sync)> = values.iter().map(|v| &**v).collect();
            comparator = Some((found.compare)(&borrowed));
        }
        Ok(NodeComparison {
            node: spec.name().to_owned(),
            cells,
            equal,
            comparator,
        })
    }
}

/// The result of [`Compare::run`]: one row per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The scenarios, in the order given (one cell per scenario in each row).
    pub scenarios: Vec<ScenarioMeta>,
    /// One row per node.
    pub nodes: Vec<NodeComparison>,
}

/// One node across the compared scenarios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeComparison {
    /// The node.
    pub node: String,
    /// Its value in each scenario.
    pub cells: Vec<Cell>,
    /// Whether every scenario has the same value (or none has a value).
    pub equal: bool,
    /// What the node's comparator said, if it has one and every scenario has a value.
    pub comparator: Option<String>,
}

/// A node's value in one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The node has no value in this scenario.
    Missing,
    /// The current version.
    Value {
        /// Its version number.
        version: u64,
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// The size of its encoding, if known.
        size: Option<u64>,
        /// The value as text, when it is small: its text form, as `get`
        /// shows it and `--set` reads it ([`Value::to_text`]), else its
        /// rendering ([`Value::render`]).
        rendered: Option<String>,
        /// The value as JSON, when it is small: its JSON form
        /// ([`Value::to_json`]: numbers as numbers, `None` as `null`, a
        /// struct as an object), else its rendering as a JSON string.
        json: Option<Json>,
    },
}

impl Cell {
    /// The fingerprint, if there is a value.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        match self {
            Cell::Missing => None,
            Cell::Value { fingerprint, .. } => Some(*fingerprint),
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Missing => "(no value)".to_owned(),
            Cell::Value {
                rendered: Some(text),
                ..
            } => text.clone(),
            Cell::Value {
                fingerprint, size, ..
            } => match size {
                Some(size) => format!("{} ({})", fingerprint.short(), bytes(*size)),
                None => fingerprint.short(),
            },
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Cell::Missing => Json::Null,
            Cell::Value {
                version,
                fingerprint,
                size,
                json,
                ..
            } => json!({
                "version": version,
                "fingerprint": fingerprint.to_hex(),
                "size": size,
                "value": json,
            }),
        }
    }
}

impl Comparison {
    /// The row of a node.
    pub fn node(&self, name: &str) -> Option<&NodeComparison> {
        self.nodes.iter().find(|n| n.node == name)
    }

    /// The nodes whose values differ.
    pub fn differences(&self) -> impl Iterator<Item = &NodeComparison> {
        self.nodes.iter().filter(|n| !n.equal)
    }

    /// The comparison as JSON: `{scenarios: [...], nodes: [{node, equal, values,
    /// comparator}]}`, each value `{version, fingerprint, size, value}` (the
    /// value in its JSON form, `null` when too large to show) or `null`
    /// where the scenario has none.
    pub fn to_json(&self) -> Json {
        json!({
            "scenarios": self.scenarios.iter().map(|m| json!({
                "id": m.id.0, "name": m.name, "type": m.graph,
            })).collect::<Vec<_>>(),
            "nodes": self.nodes.iter().map(|n| json!({
                "node": n.node,
                "equal": n.equal,
                "values": n.cells.iter().map(Cell::to_json).collect::<Vec<_>>(),
                "comparator": n.comparator,
            })).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Comparison {
    /// A table: one row per node, `=` or `≠`, one column per scenario, then the
    /// comparator's word.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 40;
        let clip = |text: String| {
            if text.chars().count() > MAX {
                format!("{}…", text.chars().take(MAX - 1).collect::<String>())
            } else {
                text
            }
        };
        let header: Vec<String> = self
            .scenarios
            .iter()
            .map(|m| clip(format!("{} ({})", m.name, m.id)))
            .collect();
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| n.cells.iter().map(|c| clip(c.text())).collect())
            .collect();
        let node_width = self
            .nodes
            .iter()
            .map(|n| n.node.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        write!(f, "{:<node_width$}   ", "node")?;
        for (title, width) in header.iter().zip(&widths) {
            write!(f, "  {title:<width$}")?;
        }
        writeln!(f)?;
        for (node, row) in self.nodes.iter().zip(&rows) {
            let mark = if node.equal { "=" } else { "≠" };
            write!(f, "{:<node_width$} {mark} ", node.node)?;
            for (cell, width) in row.iter().zip(&widths) {
                write!(f, "  {cell:<width$}")?;
            }
            if let Some(said) = &node.comparator {
                write!(f, "  {said}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
