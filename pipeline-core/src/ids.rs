//! Ids of what the store keeps: scenarios, submissions, and the slots data
//! node versions live in.

use std::fmt;
use std::sync::Arc;

/// A scenario's id, unique within a store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ScenarioId(pub u64);

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A submission's id, unique within a store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SubmissionId(pub u64);

impl fmt::Display for SubmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Who owns a data node's value: one scenario, or every scenario of a graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A scenario-scoped node.
    Scenario(ScenarioId),
    /// A global node, shared by all scenarios of the named graph.
    Global(Arc<str>),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Scenario(id) => write!(f, "scenario {id}"),
            Owner::Global(graph) => write!(f, "the global nodes of `{graph}`"),
        }
    }
}

/// The place a data node's versions live: owner plus node name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    /// The owner.
    pub owner: Owner,
    /// The node's name.
    pub node: Arc<str>,
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Owner::Scenario(id) => write!(f, "data node `{}` of scenario {id}", self.node),
            Owner::Global(graph) => write!(f, "global data node `{}` of `{graph}`", self.node),
        }
    }
}
