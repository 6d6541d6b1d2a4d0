//! Recording a job that ran: its outputs' versions, values, memo entry and
//! lineage, committed together, then the version cache. The same path for
//! every runner, so that a task run elsewhere is recorded exactly as one run
//! here.

use std::sync::Arc;
use std::time::SystemTime;

use super::Failure;
use crate::cache::{CachedVersion, JobBasis};
use crate::decide::{Work, job_record};
use crate::fingerprint::Fingerprint;
use crate::scenario_state::ScenarioState;
use crate::store::{Commit, NewValue, SlotKey, SubmissionId, VersionMeta, WrittenBy};
use crate::value::{ErasedValue, Materialized};

/// Commits the materialized outputs of `work` (one per output node, in
/// order) as the new versions of its output nodes, produced under its key.
pub(crate) fn commit_outputs(
    scenario: &ScenarioState,
    submission: SubmissionId,
    work: &Work,
    mut materialized: Vec<Materialized<ErasedValue>>,
) -> std::result::Result<(), Failure> {
    let graph = scenario.graph();
    let spec = graph.task(work.task);
    let output_nodes = graph.task_outputs(work.task);
    let store = &scenario.runtime().store;
    // A value naming files stands for their content too.
    for (done, &node) in materialized.iter_mut().zip(output_nodes) {
        done.fingerprint = scenario.effective_fingerprint(node, &done.value, done.fingerprint);
    }
    let now = SystemTime::now();
    let name = spec.def().name_arc().clone();
    let mut versions: Vec<(SlotKey, Arc<VersionMeta>)> = Vec::with_capacity(materialized.len());
    let mut varied: Vec<&str> = Vec::new();
    for (i, (&node, done)) in output_nodes.iter().zip(&materialized).enumerate() {
        let previous = scenario.current(node).map_err(|e| e.to_string())?;
        if let Some(previous) = &previous
            && spec.is_skippable()
            && previous.meta.producer_key() == Some(&work.key)
            && previous.meta.fingerprint != done.fingerprint
        {
            varied.push(graph.node(node).name());
        }
        versions.push((
            scenario.slot(node).clone(),
            Arc::new(VersionMeta {
                version: previous.map_or(1, |p| p.meta.version + 1),
                fingerprint: done.fingerprint,
                written_by: WrittenBy::Task {
                    task: name.clone(),
                    key: work.key,
                    submission,
                    reused: false,
                },
                written_at: now,
                schema: Some(work.statics.outputs[i]),
            }),
        ));
    }
    let fingerprints: Vec<Fingerprint> = materialized.iter().map(|m| m.fingerprint).collect();
    let new_values: Vec<NewValue<'_>> = output_nodes
        .iter()
        .zip(&materialized)
        .map(|(&node, done)| NewValue {
            fingerprint: done.fingerprint,
            value_type: graph.node(node).value_type(),
            value: &done.value,
            file: done.file.as_deref(),
        })
        .collect();
    let memo = spec
        .is_skippable()
        .then_some((work.key, fingerprints.as_slice()));
    let job = job_record(
        scenario,
        graph,
        work.task,
        work.key,
        submission,
        &work.inputs,
        &work.env,
        &work.statics,
    );
    store
        .commit(Commit {
            values: &new_values,
            versions: &versions,
            memo,
            job: Some(&job),
        })
        .map_err(|e| e.to_string())?;
    drop(new_values);
    if !varied.is_empty() {
        warn_not_deterministic(&name, &varied);
    }
    let job = Arc::new(JobBasis::from(&job));
    for ((slot, meta), done) in versions.into_iter().zip(materialized) {
        scenario.runtime().cache.set(
            slot,
            Arc::new(CachedVersion::with_value(meta, done.value).written_by_job(job.clone())),
        );
    }
    Ok(())
}

/// Says that a skippable task gave other outputs than its last run from the
/// same key (inputs, code, environment): what it gives is not a function of
/// them, so early cutoff cannot stop its re-runs from reaching the tasks
/// after it (docs/skipping.md, "Outputs that are not deterministic").
fn warn_not_deterministic(task: &str, outputs: &[&str]) {
    let outputs: Vec<String> = outputs.iter().map(|node| format!("`{node}`")).collect();
    tracing::warn!(
        "task `{task}` gave another {} than its last run from the same inputs and code: \
         its output is not deterministic (a join's or group-by's row order, sums in parallel), \
         so the tasks that read it run again each time it runs; sort its rows or keep their \
         order (polars' `maintain_order`) to let them be skipped",
        outputs.join(", ")
    );
}
