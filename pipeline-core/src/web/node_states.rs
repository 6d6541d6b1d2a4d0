//! The state of each data node, and why: what a submission would do now, as
//! [`Scenario::explain`] says it (the executor's own decision: inputs, files,
//! schemas, code, environment), mapped onto the nodes each task writes.
//!
//! While a submission of this process runs the scenario, `explain` would wait
//! for it, so the state comes from lineage instead: a produced node is up to
//! date when the job that wrote its current version read exactly the current
//! values of its task's inputs (same fingerprints) with the task's current
//! code; otherwise it is stale, and the first difference says why. Outputs of
//! a task that is not skippable (it runs every time) are judged that way too.
//!
//! Either way, a node that is not up to date and whose producer's last job
//! failed shows that failure.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::error::PageError;
use crate::cache::CachedVersion;
use crate::explain::{Explanation, Verdict};
use crate::graph::{NodeId, TaskId};
use crate::job::{Job, JobStatus, Submission};
use crate::reason::Reason;
use crate::scenario::Scenario;
use crate::store::WrittenBy;
use crate::submit_options::SubmitOptions;

/// The state of a data node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum NodeState {
    /// A parameter (no task writes it) holding a value.
    Input,
    /// A parameter without a value.
    NoValue,
    /// Written by its task from the current inputs and code.
    UpToDate,
    /// Its task would compute it anew (see the reason).
    Stale,
    /// Its task never wrote it.
    NeverComputed,
    /// Its task's last job failed or was abandoned.
    FailedProducer,
    /// The store keeps no lineage, so its freshness is unknown.
    Unknown,
}

impl NodeState {
    /// The word, as in JSON and CSS classes.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::NoValue => "no_value",
            Self::UpToDate => "up_to_date",
            Self::Stale => "stale",
            Self::NeverComputed => "never_computed",
            Self::FailedProducer => "failed_producer",
            Self::Unknown => "unknown",
        }
    }

    /// For people.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::NoValue => "no value",
            Self::UpToDate => "up to date",
            Self::Stale => "stale",
            Self::NeverComputed => "never computed",
            Self::FailedProducer => "failed producer",
            Self::Unknown => "unknown",
        }
    }

    /// Whether consumers of the node are stale too.
    fn taints(self) -> bool {
        matches!(
            self,
            Self::NoValue | Self::Stale | Self::NeverComputed | Self::FailedProducer
        )
    }
}

/// The state of every node of `scenario` (by [`NodeId`]), with its reason.
pub(super) fn node_states(
    scenario: &Scenario,
    current: &[Option<Arc<CachedVersion>>],
    last_jobs: &HashMap<Arc<str>, (Job, Submission)>,
) -> Result<Vec<(NodeState, Option<String>)>, PageError> {
    let graph = scenario.graph();
    let mut states: Vec<(NodeState, Option<String>)> = current
        .iter()
        .map(|c| match c {
            Some(_) => (NodeState::Input, None),
            None => (NodeState::NoValue, None),
        })
        .collect();
    let explained = explained(scenario);
    for &task in graph.topo_order() {
        let explanation = explained
            .as_ref()
            .and_then(|plan| plan.iter().find(|e| &*e.task == graph.task(task).name()));
        for &output in graph.task_outputs(task) {
            let fresh = match explanation {
                Some(e) if e.reason != Some(Reason::NotSkippable) => {
                    explained_state(e, current[output.index()].is_some())
                }
                _ => fresh_state(scenario, task, output, current, &states)?,
            };
            states[output.index()] = with_failure(scenario, task, fresh, last_jobs);
        }
    }
    Ok(states)
}

/// What a submission of the whole scenario would do now, unless this process
/// is submitting it (then `explain` would wait for the submission to end).
fn explained(scenario: &Scenario) -> Option<Vec<Explanation>> {
    let lock = scenario.state().runtime().scenario_lock(scenario.id());
    let free = lock.try_lock().is_some();
    if !free {
        return None;
    }
    scenario.explain(&SubmitOptions::new()).ok()
}

/// The state of an output of a task `explain` judged.
fn explained_state(explanation: &Explanation, has_value: bool) -> (NodeState, Option<String>) {
    let why = explanation
        .reason
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| explanation.error.clone());
    match (explanation.verdict, &explanation.reason) {
        (Verdict::Skip, Some(Reason::UpToDate) | None) => (NodeState::UpToDate, None),
        (Verdict::Skip, Some(reused @ Reason::Reused { .. })) => (
            NodeState::Stale,
            Some(format!(
                "submitting would adopt another job's outputs: {reused}"
            )),
        ),
        (Verdict::Run, Some(Reason::FirstRun)) if !has_value => (NodeState::NeverComputed, None),
        (_, _) if !has_value => (NodeState::NeverComputed, why),
        // Would run, may run after an upstream task, would adopt an
        // identical job's outputs, or cannot run: not what it would be.
        _ => (NodeState::Stale, why),
    }
}

/// `fresh`, or the producer's failure when it is not up to date and the
/// task's last job failed or was abandoned.
fn with_failure(
    scenario: &Scenario,
    task: TaskId,
    fresh: (NodeState, Option<String>),
    last_jobs: &HashMap<Arc<str>, (Job, Submission)>,
) -> (NodeState, Option<String>) {
    let spec = scenario.graph().task(task);
    let failure = last_jobs.get(spec.name()).and_then(|(job, submission)| {
        matches!(job.status, JobStatus::Failed | JobStatus::Abandoned).then(|| {
            let what = job.error.as_deref().unwrap_or("no message");
            format!(
                "task `{}` {} in submission #{}: {what}",
                spec.name(),
                job.status,
                submission.id.0
            )
        })
    });
    match (fresh.0, failure) {
        (NodeState::UpToDate, _) | (_, None) => fresh,
        (_, Some(failure)) => (NodeState::FailedProducer, Some(failure)),
    }
}

/// Up to date, stale (and why), never computed, or unknown, from lineage.
fn fresh_state(
    scenario: &Scenario,
    task: TaskId,
    output: NodeId,
    current: &[Option<Arc<CachedVersion>>],
    states: &[(NodeState, Option<String>)],
) -> Result<(NodeState, Option<String>), PageError> {
    let graph = scenario.graph();
    let spec = graph.task(task);
    let Some(version) = &current[output.index()] else {
        return Ok((NodeState::NeverComputed, None));
    };
    let inputs = graph.task_inputs(task);
    if let Some(&tainted) = inputs.iter().find(|i| states[i.index()].0.taints()) {
        let (state, _) = states[tainted.index()];
        return Ok((
            NodeState::Stale,
            Some(format!(
                "input `{}` is {}",
                graph.node(tainted).name(),
                state.label()
            )),
        ));
    }
    if !matches!(version.meta.written_by, WrittenBy::Task { .. }) {
        return Ok((
            NodeState::Stale,
            Some(format!(
                "written by hand, not by task `{}`: submitting runs it",
                spec.name()
            )),
        ));
    }
    let store = &scenario.state().runtime().store;
    let Some(record) = store.job_record(scenario.state().slot(output), version.meta.version)?
    else {
        return Ok((
            NodeState::Unknown,
            Some("this store keeps no lineage, so what it was computed from is unknown".into()),
        ));
    };
    if record.task.as_ref() != spec.name() || record.code != spec.def().code_fingerprint() {
        return Ok((
            NodeState::Stale,
            Some(format!("the code of task `{}` changed", spec.name())),
        ));
    }
    for (&input, read) in inputs.iter().zip(&record.inputs) {
        let now = current[input.index()].as_ref();
        if now.map(|v| v.meta.fingerprint) != Some(read.fingerprint) {
            let now = now.map_or_else(|| "no value".to_owned(), |v| format!("v{}", v.meta.version));
            return Ok((
                NodeState::Stale,
                Some(format!(
                    "input `{}` changed (v{} → {now})",
                    graph.node(input).name(),
                    read.version
                )),
            ));
        }
    }
    if record.inputs.len() != inputs.len() {
        return Ok((
            NodeState::Stale,
            Some(format!("the inputs of task `{}` changed", spec.name())),
        ));
    }
    Ok((NodeState::UpToDate, None))
}
