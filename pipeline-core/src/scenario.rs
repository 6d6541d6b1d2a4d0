//! [`Scenario`]: the user's handle to one instance of a graph, with its own
//! data node values. Its methods delegate to the engine, which works on the
//! scenario's state.

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::Value;
use crate::data_node::DataNode;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::executor;
use crate::explain::{self, Explanation};
use crate::graph::{Graph, NodeId};
use crate::history::{self, JobHistory, VersionRecord};
use crate::job::Submission;
use crate::lineage::{self, Lineage};
use crate::runtime_state::RuntimeState;
use crate::scenario_state::ScenarioState;
use crate::stale::{self, StaleUpstream};
use crate::store::{ScenarioId, ScenarioMeta, VersionMeta};
use crate::submit_options::{SubmitOptions, Target};
use crate::value::ErasedValue;
use crate::writes::{self, Writes};

/// One instance of a graph: its own data node values (global nodes shared), its
/// submissions and history. Cheap to clone.
#[derive(Clone)]
pub struct Scenario {
    state: Arc<ScenarioState>,
}

impl Scenario {
    /// A handle to scenario `meta` of `graph` in `runtime`; writes nothing
    /// (see [`write_missing_defaults`](Self::write_missing_defaults)).
    pub(crate) fn attach(
        runtime: Arc<RuntimeState>,
        graph: Arc<Graph>,
        meta: ScenarioMeta,
    ) -> Self {
        Self {
            state: Arc::new(ScenarioState::attach(runtime, graph, meta)),
        }
    }

    /// The engine's state of this scenario, for the modules above the engine
    /// (the web pages, the command line, comparisons).
    pub(crate) fn state(&self) -> &ScenarioState {
        &self.state
    }

    /// Writes the default of every node that has one and no value yet.
    pub(crate) fn write_missing_defaults(&self) -> Result<()> {
        self.state.write_missing_defaults()
    }

    /// The scenario's id in its store.
    pub fn id(&self) -> ScenarioId {
        self.state.id()
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        self.state.name()
    }

    /// The scenario's store record (name, type, tags, creation time).
    pub fn meta(&self) -> &ScenarioMeta {
        self.state.meta()
    }

    /// The graph this scenario instantiates.
    pub fn graph(&self) -> &Arc<Graph> {
        self.state.graph()
    }

    /// A typed handle to a data node, checked against the node's declared type.
    pub fn node<T: Value>(&self, name: &str) -> Result<DataNode<T>> {
        self.node_by_id(self.state.node_id(name)?)
    }

    /// A typed handle to a data node by id, checked against the node's declared type.
    pub fn node_by_id<T: Value>(&self, id: NodeId) -> Result<DataNode<T>> {
        let spec = self.graph().node(id);
        let actual = spec.value_type();
        if actual.type_id() != std::any::TypeId::of::<T>() {
            return Err(Error::NodeType {
                node: spec.name().to_owned(),
                actual: actual.name(),
                requested: T::type_name(),
            });
        }
        Ok(DataNode::new(self.state.clone(), id))
    }

    /// Submits every task.
    pub fn submit(&self) -> Result<Submission> {
        self.submit_with(&SubmitOptions::new())
    }

    /// Submits every task, running even those that could be skipped.
    pub fn submit_forced(&self) -> Result<Submission> {
        self.submit_with(&SubmitOptions::new().force(true))
    }

    /// Submits one task alone; its inputs must already have values.
    pub fn submit_task(&self, task: &str) -> Result<Submission> {
        self.submit_with(&SubmitOptions::new().target(Target::Task(task.to_owned())))
    }

    /// Submits a named sequence of tasks alone.
    pub fn submit_sequence(&self, sequence: &str) -> Result<Submission> {
        self.submit_with(&SubmitOptions::new().target(Target::Sequence(sequence.to_owned())))
    }

    /// Submits with explicit options (target, force, workers, cancellation).
    pub fn submit_with(&self, options: &SubmitOptions) -> Result<Submission> {
        executor::submit(&self.state, options)
    }

    /// Writes every value, all or none: each is checked against its node's
    /// type and materialized before anything is recorded; then, holding the
    /// scenario's locks (waiting for a submission of another process), the
    /// changed ones are recorded in one commit. Returns each node written,
    /// once, with its version after the writes (an equal value records
    /// nothing and keeps the current version). See [`Writes`].
    ///
    /// # Errors
    /// An unknown node or a value of another type ([`Error::UnknownNode`],
    /// [`Error::NodeType`]), a value that cannot be materialized, or a store
    /// failure; nothing is written then.
    pub fn write_all(&self, writes: Writes) -> Result<Vec<(Arc<str>, VersionMeta)>> {
        writes::write_all(&self.state, writes)
    }

    /// Writes every value as [`write_all`](Self::write_all) does, then
    /// submits, holding the scenario's locks from the first write to the last
    /// job: the submission computes from exactly these values, and its
    /// [`versions`](Submission::versions) (always recorded) are its own
    /// results, whatever other processes write before or after. A second
    /// process doing the same waits for the first.
    ///
    /// # Errors
    /// As [`write_all`](Self::write_all) (nothing is written or submitted),
    /// or as [`submit_with`](Self::submit_with).
    pub fn submit_with_writes(
        &self,
        writes: Writes,
        options: &SubmitOptions,
    ) -> Result<Submission> {
        writes::submit_with_writes(&self.state, writes, options)
    }

    /// Says, for each task a submission with `options` would cover (in
    /// topological order), whether it would run now and why, without running
    /// anything or recording anything in the store: files are looked at,
    /// changed ones are not recorded. A task downstream of one that would run
    /// says so: it may run if that task's output changes. See
    /// [`explain`](crate::explain).
    pub fn explain(&self, options: &SubmitOptions) -> Result<Vec<Explanation>> {
        explain::explain(&self.state, options)
    }

    /// For a submission of one task or sequence with `options`: the
    /// upstream tasks it would not cover that would run now, so that its
    /// tasks would read their outputs as they are, not as a whole
    /// submission would make them (empty for a whole scenario's). Records
    /// nothing, as [`explain`](Self::explain); a submission reports the
    /// same after its jobs in
    /// [`Submission::stale_upstream`](crate::Submission::stale_upstream).
    pub fn stale_upstream(&self, options: &SubmitOptions) -> Result<Vec<StaleUpstream>> {
        if options.target == Target::Scenario {
            return Ok(Vec::new());
        }
        let state = &self.state;
        let graph = state.graph().clone();
        let planned = executor::plan(&graph, &options.target)?;
        let lock = state.runtime().scenario_lock(state.id());
        let _guard = lock.lock();
        state.refresh_from_store()?;
        stale::stale_upstream(state, &graph, &planned)
    }

    /// Events of this scenario's submissions.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.state.runtime().events.subscribe(Some(self.id()))
    }

    /// A data node's value at `version` (the current one for `None`), with
    /// that version's metadata, type-erased (render it with its
    /// [`ValueType`](crate::value::ValueType), from the graph).
    ///
    /// # Errors
    /// [`Error::UnknownNode`], [`Error::NoValue`],
    /// [`Error::UnknownVersion`], or a store failure.
    pub fn read_erased(
        &self,
        node: &str,
        version: Option<u64>,
    ) -> Result<(VersionMeta, ErasedValue)> {
        self.state.read_at(self.state.node_id(node)?, version)
    }

    /// Every version of a data node, oldest first, with sizes, without loading
    /// any value.
    pub fn node_history(&self, node: &str) -> Result<Vec<VersionRecord>> {
        history::node_history(&self.state, node)
    }

    /// Every submission of this scenario with its jobs, oldest first.
    pub fn job_history(&self) -> Result<JobHistory> {
        history::job_history(&self.state)
    }

    /// The lineage of a data node's current version.
    pub fn lineage(&self, node: &str) -> Result<Lineage> {
        lineage::lineage(&self.state, node)
    }

    /// The lineage of one version of a data node.
    pub fn lineage_of(&self, node: &str, version: u64) -> Result<Lineage> {
        lineage::lineage_of(&self.state, node, version)
    }
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("graph", &self.graph().name())
            .finish()
    }
}
