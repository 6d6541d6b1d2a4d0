//! What a submission looks at outside the store before deciding: the files
//! that the values of its nodes name (see [`crate::file_state`]).
//!
//! Each node read or written by a planned task whose value names files gets
//! its effective fingerprint (the value's own, combined with each file's
//! content digest) computed again. Where the files changed, a submission
//! records a new version of the node (the same value, written by
//! [`WrittenBy::FileChange`]), so that history, lineage and the reasons of
//! the jobs that read it show the change;
//! [`Scenario::explain`](crate::Scenario::explain) only collects the new
//! fingerprints.

use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::CachedVersion;
use crate::decide::Overrides;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, TaskId};
use crate::old_layout;
use crate::scenario_state::ScenarioState;
use crate::store::{Commit, NewValue, VersionMeta, WrittenBy};

/// The nodes of `planned` tasks (inputs and outputs) whose values may name
/// files; none, without allocating, for graphs that have no such node.
pub(crate) fn nodes_naming_files(
    scenario: &ScenarioState,
    graph: &Graph,
    planned: &[TaskId],
) -> Vec<NodeId> {
    let candidates = scenario.file_nodes();
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut touched = vec![false; graph.nodes().len()];
    for &task in planned {
        for &node in graph
            .task_inputs(task)
            .iter()
            .chain(graph.task_outputs(task))
        {
            touched[node.index()] = true;
        }
    }
    candidates
        .iter()
        .copied()
        .filter(|node| touched[node.index()])
        .collect()
}

/// Computes the effective fingerprints of `nodes` as their files are now;
/// records a new version of each that changed (`record`), or returns them.
pub(crate) fn refresh(
    scenario: &ScenarioState,
    graph: &Graph,
    nodes: &[NodeId],
    record: bool,
) -> Result<Overrides> {
    let mut overrides = Overrides::new();
    if nodes.is_empty() {
        return Ok(overrides);
    }
    let runtime = scenario.runtime();
    for &node in nodes {
        let spec = graph.node(node);
        let value_type = spec.value_type();
        let Some(version) = scenario.current(node)? else {
            continue;
        };
        // A value stored under another schema is not decoded: its readers
        // fail, or its producer runs again, as decided later.
        if value_type.schema().ok() != version.meta.schema {
            continue;
        }
        // A value the store lost: its producer runs again, as decided later.
        let Ok(value) = scenario.value_of(node, &version).cloned() else {
            continue;
        };
        let own = value_type
            .fingerprint(&*value)
            .map_err(|source| Error::Value {
                node: spec.name().to_owned(),
                source,
            })?;
        let effective = runtime.files.effective(
            own,
            &value_type.external_files(&*value),
            Some(&*runtime.store),
        );
        if effective == version.meta.fingerprint {
            continue;
        }
        if !record {
            overrides.insert(node, effective);
            continue;
        }
        let meta = Arc::new(VersionMeta {
            version: version.meta.version + 1,
            fingerprint: effective,
            written_by: WrittenBy::FileChange,
            written_at: SystemTime::now(),
            schema: version.meta.schema,
        });
        let slot = scenario.slot(node).clone();
        runtime.store.commit(Commit {
            values: &[NewValue {
                fingerprint: effective,
                value_type,
                value: &value,
                file: None,
            }],
            versions: &[(slot.clone(), meta.clone())],
            memo: None,
            job: None,
        })?;
        old_layout::keep_text(&*runtime.store, &effective, &value_type, &value);
        runtime
            .cache
            .set(slot, Arc::new(CachedVersion::with_value(meta, value)));
    }
    if record {
        runtime.files.save(&*runtime.store);
    }
    Ok(overrides)
}
