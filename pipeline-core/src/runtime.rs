//! The runtime: a store, the version cache and the event bus, shared by every
//! scenario created from it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use dashmap::DashMap;
use parking_lot::Mutex;

use crate::cache::VersionCache;
use crate::error::{Error, Result};
use crate::events::{Event, EventBus};
use crate::file_state::FileStates;
use crate::graph::Graph;
use crate::scenario::Scenario;
use crate::store::{
    MemoryStore, STORE_ENV, ScenarioId, ScenarioMeta, SqliteOptions, SqliteStore, Store,
};

pub(crate) struct RuntimeInner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) cache: VersionCache,
    pub(crate) files: FileStates,
    pub(crate) events: EventBus,
    submit_locks: DashMap<ScenarioId, Arc<Mutex<()>>>,
}

impl RuntimeInner {
    /// The lock serializing submissions (and default writes) of one scenario in this process.
    pub(crate) fn scenario_lock(&self, id: ScenarioId) -> Arc<Mutex<()>> {
        self.submit_locks.entry(id).or_default().clone()
    }
}

/// Owns the store, the in-process version cache and the event bus. Cheap to clone.
///
/// ```
/// use pipeline_core::{GraphBuilder, NodeSpec, Runtime, TaskDef, TaskSpec};
/// let graph = GraphBuilder::new("doubling")
///     .node(NodeSpec::new::<i64>("x").with_default(21))
///     .node(NodeSpec::new::<i64>("y"))
///     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
///         .inputs(["x"]).outputs(["y"]).skippable(true))
///     .build()
///     .unwrap();
/// let runtime = Runtime::in_memory();
/// let scenario = runtime.create_scenario(graph, "first").unwrap();
/// scenario.submit().unwrap();
/// assert_eq!(*scenario.node::<i64>("y").unwrap().read().unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime over an in-memory store (nothing persists).
    pub fn in_memory() -> Self {
        Self::with_store(MemoryStore::new())
    }

    /// A runtime over the embedded store in `dir` (created if needed): see
    /// [`SqliteStore`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::with_store(SqliteStore::open(dir)?))
    }

    /// A runtime over the embedded store in `dir`, with options.
    pub fn open_with(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        Ok(Self::with_store(SqliteStore::open_with(dir, options)?))
    }

    /// The default runtime: over the store directory named by the
    /// `PIPELINE_STORE` environment variable, else `.pipeline/` in the working
    /// directory. `PIPELINE_STORE=:memory:` selects an in-memory store.
    pub fn open_default() -> Result<Self> {
        if std::env::var_os(STORE_ENV).is_some_and(|v| v == ":memory:") {
            return Ok(Self::in_memory());
        }
        Ok(Self::with_store(SqliteStore::open_default()?))
    }

    /// A runtime over the given store.
    pub fn with_store(store: impl Store + 'static) -> Self {
        Self::with_shared_store(Arc::new(store))
    }

    /// A runtime over a store shared with other code.
    pub fn with_shared_store(store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(RuntimeInner {
                store,
                cache: VersionCache::default(),
                files: FileStates::new(),
                events: EventBus::default(),
                submit_locks: DashMap::new(),
            }),
        }
    }

    /// The shared state, for modules that attach scenarios themselves.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn inner(&self) -> &Arc<RuntimeInner> {
        &self.inner
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The stat cache of the external files this runtime's values name (see
    /// [`crate::file_state`]): how many files it hashed, how many it stated.
    pub fn file_states(&self) -> &FileStates {
        &self.inner.files
    }

    /// Creates a scenario of `graph` called `name`, writing node defaults.
    pub fn create_scenario(&self, graph: impl Into<Arc<Graph>>, name: &str) -> Result<Scenario> {
        self.create_scenario_tagged(graph, name, BTreeSet::new())
    }

    /// Creates a tagged scenario of `graph` called `name`, writing node defaults.
    pub fn create_scenario_tagged(
        &self,
        graph: impl Into<Arc<Graph>>,
        name: &str,
        tags: BTreeSet<String>,
    ) -> Result<Scenario> {
        let graph = graph.into();
        let meta = self
            .inner
            .store
            .create_scenario(name, graph.name(), &tags)?;
        let scenario = Scenario::attach(self.inner.clone(), graph, meta);
        scenario.write_missing_defaults()?;
        Ok(scenario)
    }

    /// Every scenario in the store, oldest first.
    pub fn scenarios(&self) -> Result<Vec<ScenarioMeta>> {
        Ok(self.inner.store.scenarios()?)
    }

    /// Opens an existing scenario of `graph` by id.
    pub fn open_scenario(&self, graph: impl Into<Arc<Graph>>, id: ScenarioId) -> Result<Scenario> {
        let graph = graph.into();
        let meta = self
            .scenarios()?
            .into_iter()
            .find(|m| m.id == id && m.graph == graph.name())
            .ok_or_else(|| Error::UnknownScenario(format!("{id} of type `{}`", graph.name())))?;
        let scenario = Scenario::attach(self.inner.clone(), graph, meta);
        scenario.write_missing_defaults()?;
        Ok(scenario)
    }

    /// The newest scenario of `graph` called `name`, if any.
    pub fn find_scenario(
        &self,
        graph: impl Into<Arc<Graph>>,
        name: &str,
    ) -> Result<Option<Scenario>> {
        let graph = graph.into();
        let Some(meta) = self
            .scenarios()?
            .into_iter()
            .rev()
            .find(|m| m.name == name && m.graph == graph.name())
        else {
            return Ok(None);
        };
        let scenario = Scenario::attach(self.inner.clone(), graph, meta);
        scenario.write_missing_defaults()?;
        Ok(Some(scenario))
    }

    /// The newest scenario of `graph` called `name`, created if there is none.
    pub fn find_or_create_scenario(
        &self,
        graph: impl Into<Arc<Graph>>,
        name: &str,
    ) -> Result<Scenario> {
        let graph = graph.into();
        match self.find_scenario(graph.clone(), name)? {
            Some(scenario) => Ok(scenario),
            None => self.create_scenario(graph, name),
        }
    }

    /// Events of every scenario of this runtime.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.inner.events.subscribe(None)
    }
}
