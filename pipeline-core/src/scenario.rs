//! Scenarios (one instance of a graph with its own values) and their typed
//! data node handles.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crossbeam_channel::Receiver;

use crate::cache::CachedVersion;
use crate::decide::TaskStatic;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::executor;
use crate::fingerprint::Fingerprint;
use crate::graph::{Graph, NodeId, Scope, TaskId};
use crate::job::Submission;
use crate::runtime::RuntimeInner;
use crate::store::{
    ChangeToken, Commit, CurrentVersions, NewValue, Owner, OwnerLock, ScenarioId, ScenarioMeta,
    SlotKey, VersionMeta, WrittenBy,
};
use crate::submit_options::{SubmitOptions, Target};
use crate::value::{ErasedValue, MaterializeContext, Value, ValueError};

/// A task's identity and schemas once computed, or why they cannot be.
type StaticSlot = OnceLock<std::result::Result<Arc<TaskStatic>, String>>;

/// One instance of a graph: its own data node values (global nodes shared), its
/// submissions and history. Cheap to clone.
#[derive(Clone)]
pub struct Scenario {
    inner: Arc<ScenarioInner>,
}

struct ScenarioInner {
    meta: ScenarioMeta,
    graph: Arc<Graph>,
    runtime: Arc<RuntimeInner>,
    slots: Vec<SlotKey>,
    /// The store's state when this handle last refreshed the cache.
    refreshed: parking_lot::Mutex<Option<ChangeToken>>,
    /// Each task's identity and schemas, computed on first use.
    statics: Box<[StaticSlot]>,
    /// The nodes whose values may name external files.
    file_nodes: Box<[NodeId]>,
}

impl Scenario {
    pub(crate) fn attach(
        runtime: Arc<RuntimeInner>,
        graph: Arc<Graph>,
        meta: ScenarioMeta,
    ) -> Self {
        let global_owner = Owner::Global(Arc::from(graph.name()));
        let slots = graph
            .nodes()
            .iter()
            .map(|node| SlotKey {
                owner: match node.scope() {
                    Scope::Scenario => Owner::Scenario(meta.id),
                    Scope::Global => global_owner.clone(),
                },
                node: node.name_arc().clone(),
            })
            .collect();
        // Values this process holds as another type than the graph's (a
        // scenario opened again after a type changed) are read again from
        // the store, as the graph's type.
        for (node, slot) in graph.nodes().iter().zip(&slots) {
            if let Some(cached) = runtime.cache.get(slot)
                && cached
                    .loaded_value()
                    .is_some_and(|value| !node.value_type().holds(&**value))
            {
                let mut fresh = CachedVersion::without_value(cached.meta.clone());
                if let Some(job) = cached.job() {
                    fresh = fresh.written_by_job(job.clone());
                }
                runtime.cache.set(slot.clone(), Arc::new(fresh));
            }
        }
        let statics = graph.tasks().iter().map(|_| OnceLock::new()).collect();
        let file_nodes = (0..graph.nodes().len())
            .map(|i| NodeId(i as u32))
            .filter(|&node| graph.node(node).value_type().names_files())
            .collect();
        Self {
            inner: Arc::new(ScenarioInner {
                meta,
                graph,
                runtime,
                slots,
                refreshed: parking_lot::Mutex::new(None),
                statics,
                file_nodes,
            }),
        }
    }

    /// The scenario's id in its store.
    pub fn id(&self) -> ScenarioId {
        self.inner.meta.id
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.inner.meta.name
    }

    /// The scenario's store record (name, type, tags, creation time).
    pub fn meta(&self) -> &ScenarioMeta {
        &self.inner.meta
    }

    /// The graph this scenario instantiates.
    pub fn graph(&self) -> &Arc<Graph> {
        &self.inner.graph
    }

    pub(crate) fn runtime(&self) -> &RuntimeInner {
        &self.inner.runtime
    }

    pub(crate) fn slot(&self, node: NodeId) -> &SlotKey {
        &self.inner.slots[node.index()]
    }

    /// A task's identity and its inputs' and outputs' schemas (an error names
    /// the node whose type has no schema).
    pub(crate) fn task_static(&self, task: TaskId) -> std::result::Result<Arc<TaskStatic>, String> {
        self.inner.statics[task.index()]
            .get_or_init(|| TaskStatic::of(&self.inner.graph, task).map(Arc::new))
            .clone()
    }

    /// The nodes whose values may name external files.
    pub(crate) fn file_nodes(&self) -> &[NodeId] {
        &self.inner.file_nodes
    }

    /// The effective fingerprint of a value of `node` whose own fingerprint
    /// is `own`: covering the content of the files it names, if any.
    pub(crate) fn effective_fingerprint(
        &self,
        node: NodeId,
        value: &ErasedValue,
        own: Fingerprint,
    ) -> Fingerprint {
        let value_type = self.inner.graph.node(node).value_type();
        if !value_type.names_files() {
            return own;
        }
        let runtime = self.runtime();
        runtime.files.effective(
            own,
            &value_type.external_files(&**value),
            Some(&*runtime.store),
        )
    }

    /// A typed handle to a data node, checked against the node's declared type.
    pub fn node<T: Value>(&self, name: &str) -> Result<DataNode<T>> {
        let id = self
            .inner
            .graph
            .node_id(name)
            .ok_or_else(|| Error::UnknownNode {
                graph: self.inner.graph.name().to_owned(),
                node: name.to_owned(),
            })?;
        self.node_by_id(id)
    }

    /// A typed handle to a data node by id, checked against the node's declared type.
    pub fn node_by_id<T: Value>(&self, id: NodeId) -> Result<DataNode<T>> {
        let spec = self.inner.graph.node(id);
        let actual = spec.value_type();
        if actual.type_id() != std::any::TypeId::of::<T>() {
            return Err(Error::NodeType {
                node: spec.name().to_owned(),
                actual: actual.name(),
                requested: T::type_name(),
            });
        }
        Ok(DataNode {
            scenario: self.clone(),
            id,
            _type: PhantomData,
        })
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
        executor::submit(self, options)
    }

    /// Events of this scenario's submissions.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.runtime().events.subscribe(Some(self.id()))
    }

    /// The current version of a node: from the cache, else from the store.
    pub(crate) fn current(&self, node: NodeId) -> Result<Option<Arc<CachedVersion>>> {
        let runtime = self.runtime();
        let slot = self.slot(node);
        if let Some(found) = runtime.cache.get(slot) {
            return Ok(Some(found));
        }
        match runtime.store.current_version(slot)? {
            Some(meta) => {
                let version = Arc::new(CachedVersion::without_value(meta));
                runtime.cache.set(slot.clone(), version.clone());
                Ok(Some(version))
            }
            None => Ok(None),
        }
    }

    /// The current version of a node as the store has it now (another process
    /// may have written it), updating the cache if it differs.
    pub(crate) fn current_from_store(&self, node: NodeId) -> Result<Option<Arc<CachedVersion>>> {
        let runtime = self.runtime();
        let slot = self.slot(node);
        let cached = runtime.cache.get(slot);
        let Some(meta) = runtime.store.current_version(slot)? else {
            return Ok(cached);
        };
        match cached {
            Some(c) if c.meta.version == meta.version && c.meta.fingerprint == meta.fingerprint => {
                Ok(Some(c))
            }
            _ => {
                let version = Arc::new(CachedVersion::without_value(meta));
                runtime.cache.set(slot.clone(), version.clone());
                Ok(Some(version))
            }
        }
    }

    /// Takes the store's cross-process locks on this scenario and, if `global`,
    /// on its graph's global nodes (in that order, everywhere).
    pub(crate) fn lock_store(&self, global: bool) -> Result<Vec<OwnerLock>> {
        let store = &self.runtime().store;
        let mut locks = vec![store.lock(&Owner::Scenario(self.id()))?];
        if global {
            locks.push(store.lock(&Owner::Global(Arc::from(self.graph().name())))?);
        }
        Ok(locks)
    }

    /// Brings the cached current versions of this scenario's slots up to date
    /// with the store (other processes may have written them). Cheap: one query;
    /// nothing for stores only this runtime writes.
    pub(crate) fn refresh_from_store(&self) -> Result<()> {
        let graph = self.graph();
        let mut owners = vec![Owner::Scenario(self.id())];
        if graph.nodes().iter().any(|n| n.scope() == Scope::Global) {
            owners.push(Owner::Global(Arc::from(graph.name())));
        }
        let runtime = self.runtime();
        let mut refreshed = self.inner.refreshed.lock();
        let (current, token) = match runtime.store.current_versions(&owners, *refreshed)? {
            CurrentVersions::NotShared | CurrentVersions::Unchanged => return Ok(()),
            CurrentVersions::Current { versions, token } => (versions, token),
        };
        *refreshed = Some(token);
        for (slot, meta) in current {
            let fresh = runtime.cache.get(&slot).is_some_and(|c| {
                c.meta.version == meta.version && c.meta.fingerprint == meta.fingerprint
            });
            if !fresh {
                runtime
                    .cache
                    .set(slot, Arc::new(CachedVersion::without_value(meta)));
            }
        }
        Ok(())
    }

    /// The value of a cached version, loading it from the store if needed.
    /// Bytes stored under another schema than the node type's are never
    /// decoded.
    pub(crate) fn value_of<'v>(
        &self,
        node: NodeId,
        version: &'v CachedVersion,
    ) -> Result<&'v ErasedValue> {
        let spec = self.inner.graph.node(node);
        let value_type = spec.value_type();
        let schema = value_type.schema().map_err(|source| Error::Value {
            node: spec.name().to_owned(),
            source,
        })?;
        if version.meta.schema != Some(schema) {
            let stored = version.meta.schema.map_or_else(
                || "an unrecorded schema".to_owned(),
                |s| format!("schema {}", s.short()),
            );
            let hint = match self.inner.graph.producer(node) {
                Some(_) => "submit the scenario to recompute it",
                None => "write it again",
            };
            return Err(Error::Value {
                node: spec.name().to_owned(),
                source: ValueError::Decode {
                    type_name: value_type.name(),
                    reason: format!(
                        "version {} was stored under another layout of the type ({stored}, \
                         now {}), so it is not decoded: {hint}",
                        version.meta.version,
                        schema.short()
                    ),
                },
            });
        }
        version.value_or_load(|| {
            self.runtime()
                .store
                .get_value(&version.meta.fingerprint, &value_type)
                .map_err(Error::from)
        })
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
        let id = self
            .inner
            .graph
            .node_id(node)
            .ok_or_else(|| Error::UnknownNode {
                graph: self.inner.graph.name().to_owned(),
                node: node.to_owned(),
            })?;
        self.read_at(id, version)
    }

    /// The value and metadata of a node's version (the current one for `None`).
    fn read_at(&self, node: NodeId, version: Option<u64>) -> Result<(VersionMeta, ErasedValue)> {
        let spec = self.inner.graph.node(node);
        let current = self.current_from_store(node)?;
        if let Some(current) = current
            && version.is_none_or(|v| v == current.meta.version)
        {
            let value = self.value_of(node, &current)?.clone();
            return Ok((VersionMeta::clone(&current.meta), value));
        }
        let Some(version) = version else {
            return Err(Error::NoValue {
                node: spec.name().to_owned(),
            });
        };
        let store = &self.runtime().store;
        let meta =
            store
                .version(self.slot(node), version)?
                .ok_or_else(|| Error::UnknownVersion {
                    node: spec.name().to_owned(),
                    version,
                })?;
        // Through `value_of`: bytes of another schema are never decoded.
        let cached = CachedVersion::without_value(Arc::new(meta));
        let value = self.value_of(node, &cached)?.clone();
        Ok((VersionMeta::clone(&cached.meta), value))
    }

    /// Materializes and records a value written by a user or a default. Writing a
    /// value equal to the current one records nothing and returns the current version.
    pub(crate) fn write_erased(
        &self,
        node: NodeId,
        value: Box<dyn Any + Send + Sync>,
        written_by: WrittenBy,
    ) -> Result<VersionMeta> {
        let spec = self.inner.graph.node(node);
        let store = &self.runtime().store;
        let scratch = store.scratch_dir()?;
        let done = spec
            .value_type()
            .materialize(
                value,
                &MaterializeContext {
                    scratch_dir: scratch,
                    memory: &self.runtime().memory,
                },
            )
            .map_err(|source| Error::Value {
                node: spec.name().to_owned(),
                source,
            })?;
        let schema = spec.value_type().schema().map_err(|source| Error::Value {
            node: spec.name().to_owned(),
            source,
        })?;
        let fingerprint = self.effective_fingerprint(node, &done.value, done.fingerprint);
        let current = self.current_from_store(node)?;
        // An equal value: nothing to record. (A file it wrote is named by its
        // fingerprint, so it is the current value's own file: keep it.)
        if let Some(current) = &current
            && current.meta.fingerprint == fingerprint
            && current.meta.schema == Some(schema)
        {
            return Ok(VersionMeta::clone(&current.meta));
        }
        let meta = Arc::new(VersionMeta {
            version: current.map_or(1, |c| c.meta.version + 1),
            fingerprint,
            written_by,
            written_at: SystemTime::now(),
            schema: Some(schema),
        });
        let slot = self.slot(node).clone();
        store.commit(Commit {
            values: &[NewValue {
                fingerprint,
                value_type: spec.value_type(),
                value: &done.value,
                file: done.file.as_deref(),
            }],
            versions: &[(slot.clone(), meta.clone())],
            memo: None,
            job: None,
        })?;
        self.runtime().cache.set(
            slot,
            Arc::new(CachedVersion::with_value(meta.clone(), done.value)),
        );
        if spec.value_type().names_files() {
            self.runtime().files.save(&**store);
        }
        Ok(VersionMeta::clone(&meta))
    }

    /// Writes the default of every node that has one and no value yet, holding
    /// the scenario's locks (and the graph's, for global defaults) so that two
    /// processes opening one scenario write each default once.
    pub(crate) fn write_missing_defaults(&self) -> Result<()> {
        let nodes = self.inner.graph.nodes();
        let mut missing = false;
        for (index, spec) in nodes.iter().enumerate() {
            if spec.has_default() && self.current(NodeId(index as u32))?.is_none() {
                missing = true;
                break;
            }
        }
        if !missing {
            return Ok(());
        }
        let lock = self.runtime().scenario_lock(self.id());
        let _guard = lock.lock();
        let global = nodes
            .iter()
            .any(|n| n.has_default() && n.scope() == Scope::Global);
        let _store_locks = self.lock_store(global)?;
        self.refresh_from_store()?;
        for (index, spec) in self.inner.graph.nodes().iter().enumerate() {
            let id = NodeId(index as u32);
            if let Some(default) = spec.default_fn()
                && self.current(id)?.is_none()
            {
                self.write_erased(id, default(), WrittenBy::Default)?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("graph", &self.inner.graph.name())
            .finish()
    }
}

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
    scenario: Scenario,
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
