//! The engine's state of one scenario: its store record, graph, slots and
//! per-task statics, with the reads and writes of its data node versions
//! through the runtime's cache and store. The executor, the skip decision,
//! `explain`, writes and lineage work on it; [`Scenario`](crate::Scenario)
//! is the user's handle to it.

use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::cache::CachedVersion;
use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::graph::{Graph, NodeId, Scope, TaskId};
use crate::key::TaskStatic;
use crate::old_layout;
use crate::runtime_state::RuntimeState;
use crate::store::{
    ChangeToken, Commit, CurrentVersions, NewValue, Owner, OwnerLock, ScenarioId, ScenarioMeta,
    SlotKey, VersionMeta, WrittenBy,
};
use crate::value::{ErasedValue, MaterializeContext, ValueError};

/// A task's identity and schemas once computed, or why they cannot be.
type StaticSlot = OnceLock<std::result::Result<Arc<TaskStatic>, String>>;

/// One scenario as the engine sees it: shared by every handle to it.
pub(crate) struct ScenarioState {
    meta: ScenarioMeta,
    graph: Arc<Graph>,
    runtime: Arc<RuntimeState>,
    slots: Vec<SlotKey>,
    /// The store's state when this handle last refreshed the cache.
    refreshed: parking_lot::Mutex<Option<ChangeToken>>,
    /// Each task's identity and schemas, computed on first use.
    statics: Box<[StaticSlot]>,
    /// The nodes whose values may name external files.
    file_nodes: Box<[NodeId]>,
}

impl ScenarioState {
    /// The state of scenario `meta` of `graph` in `runtime`. Cached values
    /// this process holds as another type than the graph's are dropped.
    pub(crate) fn attach(
        runtime: Arc<RuntimeState>,
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
            meta,
            graph,
            runtime,
            slots,
            refreshed: parking_lot::Mutex::new(None),
            statics,
            file_nodes,
        }
    }

    /// The scenario's id in its store.
    pub(crate) fn id(&self) -> ScenarioId {
        self.meta.id
    }

    /// The scenario's name.
    pub(crate) fn name(&self) -> &str {
        &self.meta.name
    }

    /// The scenario's store record.
    pub(crate) fn meta(&self) -> &ScenarioMeta {
        &self.meta
    }

    /// The graph the scenario instantiates.
    pub(crate) fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    /// What the runtime's scenarios share (store, cache, events, ...).
    pub(crate) fn runtime(&self) -> &RuntimeState {
        &self.runtime
    }

    /// The store slot of a node's versions.
    pub(crate) fn slot(&self, node: NodeId) -> &SlotKey {
        &self.slots[node.index()]
    }

    /// A node's id by name, or [`Error::UnknownNode`].
    pub(crate) fn node_id(&self, name: &str) -> Result<NodeId> {
        self.graph.node_id(name).ok_or_else(|| Error::UnknownNode {
            graph: self.graph.name().to_owned(),
            node: name.to_owned(),
        })
    }

    /// A task's identity and its inputs' and outputs' schemas (an error names
    /// the node whose type has no schema).
    pub(crate) fn task_static(&self, task: TaskId) -> std::result::Result<Arc<TaskStatic>, String> {
        self.statics[task.index()]
            .get_or_init(|| TaskStatic::of(&self.graph, task).map(Arc::new))
            .clone()
    }

    /// The nodes whose values may name external files.
    pub(crate) fn file_nodes(&self) -> &[NodeId] {
        &self.file_nodes
    }

    /// The effective fingerprint of a value of `node` whose own fingerprint
    /// is `own`: covering the content of the files it names, if any.
    pub(crate) fn effective_fingerprint(
        &self,
        node: NodeId,
        value: &ErasedValue,
        own: Fingerprint,
    ) -> Fingerprint {
        let value_type = self.graph.node(node).value_type();
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

    /// Who wrote a new version of `node` holding a value of own fingerprint
    /// `own` and `schema`: `written_by`, unless the value is the current one
    /// and only a file it names changed (a path written again after its
    /// file was edited): then [`WrittenBy::FileChange`], as a submission
    /// records the same change when it finds it.
    pub(crate) fn writer_of(
        &self,
        node: NodeId,
        current: Option<&CachedVersion>,
        own: Fingerprint,
        schema: Fingerprint,
        written_by: WrittenBy,
    ) -> WrittenBy {
        let value_type = self.graph.node(node).value_type();
        let Some(current) =
            current.filter(|c| value_type.names_files() && c.meta.schema == Some(schema))
        else {
            return written_by;
        };
        let same_value = self
            .value_of(node, current)
            .ok()
            .and_then(|value| value_type.fingerprint(&**value).ok())
            == Some(own);
        if same_value {
            WrittenBy::FileChange
        } else {
            written_by
        }
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
        let mut refreshed = self.refreshed.lock();
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
        let spec = self.graph.node(node);
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
            let hint = match self.graph.producer(node) {
                Some(_) => "submit the scenario to recompute it".to_owned(),
                None => format!(
                    "write it again{}",
                    old_layout::note(
                        &*self.runtime().store,
                        &value_type,
                        &version.meta.fingerprint
                    )
                ),
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

    /// The value and metadata of a node's version (the current one for `None`).
    pub(crate) fn read_at(
        &self,
        node: NodeId,
        version: Option<u64>,
    ) -> Result<(VersionMeta, ErasedValue)> {
        let spec = self.graph.node(node);
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
        let spec = self.graph.node(node);
        let store = &self.runtime().store;
        let scratch = store.scratch_dir()?;
        let done = spec
            .value_type()
            .materialize(
                value,
                &MaterializeContext {
                    scratch_dir: scratch,
                    memory: &self.runtime().memory,
                    partials: store.partial_results(),
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
        let written_by = self.writer_of(
            node,
            current.as_deref(),
            done.fingerprint,
            schema,
            written_by,
        );
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
        old_layout::keep_text(&**store, &fingerprint, &spec.value_type(), &done.value);
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
        let nodes = self.graph.nodes();
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
        for (index, spec) in self.graph.nodes().iter().enumerate() {
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
