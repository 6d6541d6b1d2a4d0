//! [`DataNode`]: a typed handle to one data node of one scenario, made by
//! [`Scenario::node`](crate::Scenario::node) or a `scenario!` type's accessor.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::Value;
use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::graph::NodeId;
use crate::scenario_state::ScenarioState;
use crate::store::{VersionMeta, WrittenBy};

/// A typed handle to one data node of one scenario.
///
/// ```
/// use pipeline_core::{Runtime};
/// use pipeline_core::graph::{GraphBuilder, NodeSpec};
/// let graph = GraphBuilder::new("g").node(NodeSpec::new::<f64>("threshold").with_default(1.5)).build().unwrap();
/// let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
/// let threshold = scenario.node::<f64>("threshold").unwrap();
/// assert_eq!(*threshold.read().unwrap(), 1.5);
/// threshold.write(2.0).unwrap();
/// assert_eq!(threshold.version().unwrap(), Some(2));
/// threshold.write(2.0).unwrap(); // an equal value records no new version
/// assert_eq!(threshold.history().unwrap().len(), 2);
/// ```
pub struct DataNode<T> {
    scenario: Arc<ScenarioState>,
    id: NodeId,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for DataNode<T> {
    fn clone(&self) -> Self {
        Self {
            scenario: self.scenario.clone(),
            id: self.id,
            _type: PhantomData,
        }
    }
}

impl<T> DataNode<T> {
    /// The handle to node `id` of `scenario`, whose type the caller checked
    /// is `T`.
    pub(crate) fn new(scenario: Arc<ScenarioState>, id: NodeId) -> Self {
        Self {
            scenario,
            id,
            _type: PhantomData,
        }
    }
}

impl<T: Value> DataNode<T> {
    /// The node's name.
    pub fn name(&self) -> &str {
        self.scenario.graph().node(self.id).name()
    }

    /// The node's id in its graph.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The current value (as the store has it now: another process may have
    /// written it), shared (no copy is made).
    pub fn read(&self) -> Result<Arc<T>> {
        let current = self
            .scenario
            .current_from_store(self.id)?
            .ok_or_else(|| Error::NoValue {
                node: self.name().to_owned(),
            })?;
        let value = self.scenario.value_of(self.id, &current)?.clone();
        Ok(value.downcast::<T>().unwrap_or_else(|_| {
            panic!(
                "pipeline-core bug: node `{}` holds another type",
                self.name()
            )
        }))
    }

    /// The value of one version of the node, such as the version a
    /// submission left it at ([`Submission::version_of`](crate::Submission::version_of)),
    /// whatever was written since.
    ///
    /// # Errors
    /// [`Error::UnknownVersion`] if the node has no such version, or a store
    /// failure.
    pub fn read_version(&self, version: u64) -> Result<Arc<T>> {
        let (_, value) = self.scenario.read_at(self.id, Some(version))?;
        Ok(value.downcast::<T>().unwrap_or_else(|_| {
            panic!(
                "pipeline-core bug: node `{}` holds another type",
                self.name()
            )
        }))
    }

    /// Writes a new value and returns its version number. An equal value (same
    /// fingerprint) records nothing and invalidates nothing.
    pub fn write(&self, value: T) -> Result<u64> {
        Ok(self
            .scenario
            .write_erased(self.id, Box::new(value), WrittenBy::User)?
            .version)
    }

    /// The current version number, if the node has a value.
    pub fn version(&self) -> Result<Option<u64>> {
        Ok(self
            .scenario
            .current_from_store(self.id)?
            .map(|c| c.meta.version))
    }

    /// The current value's fingerprint, if the node has a value.
    pub fn fingerprint(&self) -> Result<Option<Fingerprint>> {
        Ok(self
            .scenario
            .current_from_store(self.id)?
            .map(|c| c.meta.fingerprint))
    }

    /// The current version's metadata, if the node has a value.
    pub fn current(&self) -> Result<Option<VersionMeta>> {
        Ok(self
            .scenario
            .current_from_store(self.id)?
            .map(|c| VersionMeta::clone(&c.meta)))
    }

    /// Every version of the node, oldest first.
    pub fn history(&self) -> Result<Vec<VersionMeta>> {
        Ok(self
            .scenario
            .runtime()
            .store
            .history(self.scenario.slot(self.id))?)
    }
}

impl<T> std::fmt::Debug for DataNode<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataNode")
            .field("scenario", &self.scenario.id())
            .field("node", &self.scenario.graph().node(self.id).name())
            .finish()
    }
}
