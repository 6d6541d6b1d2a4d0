//! Values written into a scenario's data nodes together: all or none, under
//! the scenario's locks, alone ([`Scenario::write_all`](crate::Scenario::write_all))
//! or as the first step of a submission
//! ([`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes)), so that the submission
//! computes from exactly these values whatever other processes write meanwhile,
//! and its [`versions`](crate::Submission::versions) read its own results.
//!
//! ```
//! use pipeline_core::{Runtime, SubmitOptions, Writes};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
//! use pipeline_core::task::TaskDef;
//! let graph = GraphBuilder::new("doubling")
//!     .node(NodeSpec::new::<i64>("x").with_default(1))
//!     .node(NodeSpec::new::<i64>("y"))
//!     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
//!         .inputs(["x"]).outputs(["y"]).skippable(true))
//!     .build()?;
//! let scenario = Runtime::in_memory().create_scenario(graph, "s")?;
//!
//! let submission =
//!     scenario.submit_with_writes(Writes::new().value("x", 21_i64), &SubmitOptions::new())?;
//! let y = scenario.node::<i64>("y")?;
//! scenario.node::<i64>("x")?.write(5)?; // another writer, later
//! scenario.submit()?;
//! // The first submission's result, as it left it.
//! assert_eq!(*y.read_version(submission.version_of("y").unwrap())?, 42);
//! assert_eq!(*y.read()?, 10);
//!
//! // A write that does not fit writes nothing.
//! let refused = scenario.write_all(Writes::new().value("x", 7_i64).value("y", "text".to_owned()));
//! assert!(refused.is_err());
//! assert_eq!(*scenario.node::<i64>("x")?.read()?, 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::Any;
use std::sync::Arc;
use std::time::SystemTime;

use crate::Value;
use crate::cache::CachedVersion;
use crate::error::{Error, Result};
use crate::executor;
use crate::fingerprint::Fingerprint;
use crate::graph::{NodeId, Scope};
use crate::job::Submission;
use crate::old_layout;
use crate::scenario_state::ScenarioState;
use crate::store::{Commit, NewValue, VersionMeta, WrittenBy};
use crate::submit_options::SubmitOptions;
use crate::value::{ErasedValue, MaterializeContext, Materialized};

/// Values to write into data nodes, by node name, in order (a later value
/// for the same node wins). Built with chained calls; checked against the
/// graph when written.
#[derive(Default)]
pub struct Writes {
    items: Vec<Item>,
}

struct Item {
    node: String,
    value: Box<dyn Any + Send + Sync>,
    /// The value's type name, for messages.
    type_name: String,
}

impl Writes {
    /// No writes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` into `node`.
    pub fn value<T: Value>(mut self, node: impl Into<String>, value: T) -> Self {
        self.items.push(Item {
            node: node.into(),
            value: Box::new(value),
            type_name: T::type_name(),
        });
        self
    }

    /// Writes a type-erased value (for example one that
    /// [`ValueType::parse`](crate::value::ValueType::parse) read) into `node`.
    pub fn erased(mut self, node: impl Into<String>, value: Box<dyn Any + Send + Sync>) -> Self {
        self.items.push(Item {
            node: node.into(),
            value,
            type_name: "a value of another type".to_owned(),
        });
        self
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The nodes written, in order.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|item| item.node.as_str())
    }
}

impl std::fmt::Debug for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.nodes()).finish()
    }
}

/// Writes checked against the graph and materialized, ready to commit.
struct Prepared {
    values: Vec<PreparedValue>,
    global: bool,
}

/// One materialized value, with its type's schema.
struct PreparedValue {
    node: NodeId,
    done: Materialized<ErasedValue>,
    schema: Fingerprint,
}

/// Writes every value, all or none (see
/// [`Scenario::write_all`](crate::Scenario::write_all)): checked and
/// materialized first, then recorded in one commit under the scenario's locks.
pub(crate) fn write_all(
    scenario: &ScenarioState,
    writes: Writes,
) -> Result<Vec<(Arc<str>, VersionMeta)>> {
    let prepared = prepare(scenario, writes)?;
    let lock = scenario.runtime().scenario_lock(scenario.id());
    let _guard = lock.lock();
    let _store_locks = scenario.lock_store(prepared.global)?;
    scenario.refresh_from_store()?;
    commit_prepared(scenario, prepared)
}

/// Writes every value as [`write_all`] does, then submits, holding the
/// scenario's locks from the first write to the last job (see
/// [`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes)).
pub(crate) fn submit_with_writes(
    scenario: &ScenarioState,
    writes: Writes,
    options: &SubmitOptions,
) -> Result<Submission> {
    let prepared = prepare(scenario, writes)?;
    let global = prepared.global;
    let options = options.clone().record_versions(true);
    executor::submit_after(scenario, &options, global, || {
        commit_prepared(scenario, prepared).map(drop)
    })
}

/// Checks and materializes writes, outside any lock.
fn prepare(scenario: &ScenarioState, writes: Writes) -> Result<Prepared> {
    let graph = scenario.graph();
    let store = &scenario.runtime().store;
    let scratch = store.scratch_dir()?;
    let context = MaterializeContext {
        scratch_dir: scratch,
        memory: &scenario.runtime().memory,
        partials: store.partial_results(),
    };
    let mut checked = Vec::with_capacity(writes.items.len());
    for item in writes.items {
        let id = graph
            .node_id(&item.node)
            .ok_or_else(|| Error::UnknownNode {
                graph: graph.name().to_owned(),
                node: item.node.clone(),
            })?;
        let value_type = graph.node(id).value_type();
        if !value_type.holds(&*item.value) {
            return Err(Error::NodeType {
                node: item.node,
                actual: value_type.name(),
                requested: item.type_name,
            });
        }
        checked.push((id, item.value));
    }
    let mut global = false;
    let mut values: Vec<PreparedValue> = Vec::new();
    for (id, value) in checked {
        let spec = graph.node(id);
        let value_error = |source| Error::Value {
            node: spec.name().to_owned(),
            source,
        };
        let done = spec
            .value_type()
            .materialize(value, &context)
            .map_err(value_error)?;
        let schema = spec.value_type().schema().map_err(value_error)?;
        global |= spec.scope() == Scope::Global;
        values.retain(|earlier| earlier.node != id);
        values.push(PreparedValue {
            node: id,
            done,
            schema,
        });
    }
    Ok(Prepared { values, global })
}

/// Records prepared writes in one commit; the caller holds the locks and
/// brought the cache up to date.
fn commit_prepared(
    scenario: &ScenarioState,
    prepared: Prepared,
) -> Result<Vec<(Arc<str>, VersionMeta)>> {
    let graph = scenario.graph();
    let now = SystemTime::now();
    let mut after = Vec::with_capacity(prepared.values.len());
    let mut changed = Vec::new();
    for value in &prepared.values {
        let id = value.node;
        let name = graph.node(id).name_arc().clone();
        // As `write_erased` records a value: under the fingerprint that
        // covers the files it names, an equal value of the same schema
        // recording nothing.
        let fingerprint =
            scenario.effective_fingerprint(id, &value.done.value, value.done.fingerprint);
        let current = scenario.current(id)?;
        if let Some(current) = &current
            && current.meta.fingerprint == fingerprint
            && current.meta.schema == Some(value.schema)
        {
            after.push((name, VersionMeta::clone(&current.meta)));
            continue;
        }
        let written_by = scenario.writer_of(
            id,
            current.as_deref(),
            value.done.fingerprint,
            value.schema,
            WrittenBy::User,
        );
        let meta = Arc::new(VersionMeta {
            version: current.map_or(1, |c| c.meta.version + 1),
            fingerprint,
            written_by,
            written_at: now,
            schema: Some(value.schema),
        });
        after.push((name, VersionMeta::clone(&meta)));
        changed.push((meta, value));
    }
    if changed.is_empty() {
        return Ok(after);
    }
    let values: Vec<NewValue<'_>> = changed
        .iter()
        .map(|(meta, value)| NewValue {
            fingerprint: meta.fingerprint,
            value_type: graph.node(value.node).value_type(),
            value: &value.done.value,
            file: value.done.file.as_deref(),
        })
        .collect();
    let versions: Vec<_> = changed
        .iter()
        .map(|(meta, value)| (scenario.slot(value.node).clone(), meta.clone()))
        .collect();
    let store = &scenario.runtime().store;
    store.commit(Commit {
        values: &values,
        versions: &versions,
        memo: None,
        job: None,
    })?;
    let mut names_files = false;
    for (meta, value) in changed {
        let value_type = graph.node(value.node).value_type();
        old_layout::keep_text(&**store, &meta.fingerprint, &value_type, &value.done.value);
        names_files |= value_type.names_files();
        scenario.runtime().cache.set(
            scenario.slot(value.node).clone(),
            Arc::new(CachedVersion::with_value(meta, value.done.value.clone())),
        );
    }
    if names_files {
        scenario.runtime().files.save(&**store);
    }
    Ok(after)
}
