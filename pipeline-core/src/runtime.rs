//! The runtime: a store, the version cache and the event bus, shared by every
//! scenario created from it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::file_state::FileStates;
use crate::graph::Graph;
use crate::memory::DEFAULT_VALUE_MEMORY;
#[cfg(all(test, feature = "polars"))]
use crate::memory::ValueMemory;
use crate::runtime_state::RuntimeState;
use crate::scenario::Scenario;
use crate::store::{
    EvictReport, MemoryStore, STORE_ENV, ScenarioId, ScenarioMeta, SqliteOptions, SqliteStore,
    Store, VerifyReport,
};

/// Owns the store, the in-process version cache and the event bus. Cheap to clone.
///
/// ```
/// use pipeline_core::{Runtime};
/// use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
/// use pipeline_core::task::TaskDef;
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
    state: Arc<RuntimeState>,
}

impl Runtime {
    /// A runtime over an in-memory store (nothing persists).
    pub fn in_memory() -> Self {
        Self::builder().in_memory()
    }

    /// A runtime over the embedded store in `dir` (created if needed): see
    /// [`SqliteStore`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder().open(dir)
    }

    /// A runtime over the embedded store in `dir`, with options.
    pub fn open_with(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        Self::builder().open_with(dir, options)
    }

    /// The default runtime: over the store directory named by the
    /// `PIPELINE_STORE` environment variable, else `.pipeline/` in the working
    /// directory. `PIPELINE_STORE=:memory:` selects an in-memory store. With
    /// the `objects` feature, values go to the object store
    /// `PIPELINE_OBJECTS` names too (see [`SqliteStore::open_default`]).
    pub fn open_default() -> Result<Self> {
        Self::builder().open_default()
    }

    /// A runtime over the given store.
    pub fn with_store(store: impl Store + 'static) -> Self {
        Self::builder().with_store(store)
    }

    /// A runtime over a store shared with other code.
    pub fn with_shared_store(store: Arc<dyn Store>) -> Self {
        Self::builder().with_shared_store(store)
    }

    /// A builder, for a runtime with options (how much decoded data it
    /// keeps in memory between tasks); its last call opens the store.
    ///
    /// ```
    /// use pipeline_core::Runtime;
    /// let dir = tempfile::tempdir().unwrap();
    /// let runtime = Runtime::builder().frame_memory(64 << 20).open(dir.path())?;
    /// assert_eq!(runtime.frame_memory(), 64 << 20);
    /// # Ok::<(), pipeline_core::Error>(())
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The shared state, for modules that attach scenarios themselves.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn state(&self) -> &Arc<RuntimeState> {
        &self.state
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// The stat cache of the external files this runtime's values name (see
    /// [`crate::file_state`]): how many files it hashed, how many it stated.
    pub fn file_states(&self) -> &FileStates {
        &self.state.files
    }

    /// The bytes of decoded data frames (and other values that know their
    /// size) this runtime keeps in memory between tasks: see
    /// [`RuntimeBuilder::frame_memory`].
    pub fn frame_memory(&self) -> usize {
        self.state.memory.budget()
    }

    /// The memory for decoded values kept between tasks.
    #[cfg(all(test, feature = "polars"))]
    pub(crate) fn memory(&self) -> &ValueMemory {
        &self.state.memory
    }

    /// Removes the local files of values that the store's object store
    /// holds (see `SqliteOptions::object_store`), uploading any it lacks
    /// first, to free local disk; later reads fetch them back, and skip
    /// decisions need none of them. A store without an object store refuses.
    pub fn evict_local(&self) -> Result<EvictReport> {
        Ok(self.state.store.evict_local()?)
    }

    /// Re-reads every value file of the store and checks it against its
    /// content hash, whatever its recorded state (a scrub). Reads otherwise
    /// trust a file checked once while its size, times and inode stay as
    /// recorded; this finds damage that left those alone. A damaged value is
    /// moved aside, so the task that produced it runs again.
    pub fn verify(&self) -> Result<VerifyReport> {
        Ok(self.state.store.verify()?)
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
            .state
            .store
            .create_scenario(name, graph.name(), &tags)?;
        let scenario = Scenario::attach(self.state.clone(), graph, meta);
        scenario.write_missing_defaults()?;
        Ok(scenario)
    }

    /// Every scenario in the store, oldest first.
    pub fn scenarios(&self) -> Result<Vec<ScenarioMeta>> {
        Ok(self.state.store.scenarios()?)
    }

    /// Opens an existing scenario of `graph` by id.
    pub fn open_scenario(&self, graph: impl Into<Arc<Graph>>, id: ScenarioId) -> Result<Scenario> {
        let graph = graph.into();
        let meta = self
            .scenarios()?
            .into_iter()
            .find(|m| m.id == id && m.graph == graph.name())
            .ok_or_else(|| Error::UnknownScenario(format!("{id} of type `{}`", graph.name())))?;
        let scenario = Scenario::attach(self.state.clone(), graph, meta);
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
        let scenario = Scenario::attach(self.state.clone(), graph, meta);
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
        self.state.events.subscribe(None)
    }
}

/// Options of a [`Runtime`], then the store it runs on. Made by
/// [`Runtime::builder`]; its last call opens or takes the store, as
/// [`Runtime`]'s own constructors do.
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    memory: usize,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            memory: DEFAULT_VALUE_MEMORY,
        }
    }
}

impl RuntimeBuilder {
    /// Keep up to `bytes` of decoded data frames in memory between tasks
    /// (default 512 MiB; 0 keeps none): a frame a task writes or reads is
    /// handed to the next tasks decoded instead of being read from its file
    /// again. Frames larger than that stream from their files, so memory
    /// stays bounded. A task writing a frame may hold up to as much again
    /// while it writes.
    pub fn frame_memory(mut self, bytes: usize) -> Self {
        self.memory = bytes;
        self
    }

    /// The runtime over an in-memory store (see [`Runtime::in_memory`]).
    pub fn in_memory(self) -> Runtime {
        self.with_store(MemoryStore::new())
    }

    /// The runtime over the embedded store in `dir` (see [`Runtime::open`]).
    pub fn open(self, dir: impl AsRef<Path>) -> Result<Runtime> {
        Ok(self.with_store(SqliteStore::open(dir)?))
    }

    /// The runtime over the embedded store in `dir`, with options.
    pub fn open_with(self, dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Runtime> {
        Ok(self.with_store(SqliteStore::open_with(dir, options)?))
    }

    /// The runtime over the default store (see [`Runtime::open_default`]).
    pub fn open_default(self) -> Result<Runtime> {
        if std::env::var_os(STORE_ENV).is_some_and(|v| v == ":memory:") {
            return Ok(self.in_memory());
        }
        Ok(self.with_store(SqliteStore::open_default()?))
    }

    /// The runtime over the given store.
    pub fn with_store(self, store: impl Store + 'static) -> Runtime {
        self.with_shared_store(Arc::new(store))
    }

    /// The runtime over a store shared with other code.
    pub fn with_shared_store(self, store: Arc<dyn Store>) -> Runtime {
        Runtime {
            state: Arc::new(RuntimeState::new(store, self.memory)),
        }
    }
}
