//! The local runner: a task's body runs on a thread of this process, on
//! inputs borrowed from the version cache, and its outputs are materialized
//! and committed by the same thread.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Instant, SystemTime};

use super::commit::commit_outputs;
use super::{Done, Failure, Runner};
use crate::decide::Work;
use crate::error::Error;
use crate::scenario_state::ScenarioState;
use crate::store::{StoreError, SubmissionId};
use crate::task::panic_message;
use crate::task_panic;
use crate::value::{ErasedValue, MaterializeContext, Materialized};

/// Runs tasks on the submitting process's threads (the default executor).
pub(crate) struct LocalRunner;

impl Runner for LocalRunner {
    fn run(&self, scenario: &ScenarioState, submission: SubmissionId, work: Work) -> Done {
        run_task(scenario, submission, work)
    }
}

/// Runs one task and commits its outputs; any error or panic becomes the job's
/// message and leaves the previous outputs untouched.
fn run_task(scenario: &ScenarioState, submission: SubmissionId, work: Work) -> Done {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let outcome = run_and_commit(scenario, submission, &work);
    Done {
        task: work.task,
        started_at,
        duration: clock.elapsed(),
        outcome,
        remote: None,
    }
}

fn run_and_commit(
    scenario: &ScenarioState,
    submission: SubmissionId,
    work: &Work,
) -> std::result::Result<(), Failure> {
    let graph = scenario.graph();
    let spec = graph.task(work.task);
    let input_nodes = graph.task_inputs(work.task);
    let mut values: Vec<&ErasedValue> = Vec::with_capacity(work.inputs.len());
    for (&node, version) in input_nodes.iter().zip(&work.inputs) {
        values.push(scenario.value_of(node, version).map_err(|e| Failure {
            input_missing: matches!(e, Error::Store(StoreError::MissingValue { .. })),
            message: format!("cannot load input `{}`: {e}", graph.node(node).name()),
        })?);
    }
    let borrowed: Vec<&(dyn Any + Send + Sync)> = values.iter().map(|v| &***v).collect();
    let outputs = match task_panic::catch(|| spec.def().call(&borrowed)) {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(error)) => return Err(error.to_string().into()),
        Err(panicked) => return Err(panicked.into()),
    };
    let output_nodes = graph.task_outputs(work.task);
    if outputs.len() != output_nodes.len() {
        return Err(format!(
            "returned {} outputs but is wired to {}",
            outputs.len(),
            output_nodes.len()
        )
        .into());
    }
    let store = &scenario.runtime().store;
    let scratch = store.scratch_dir().map_err(|e| e.to_string())?;
    let context = MaterializeContext {
        scratch_dir: scratch,
        memory: &scenario.runtime().memory,
        partials: store.partial_results(),
    };
    let mut materialized: Vec<Materialized<ErasedValue>> = Vec::with_capacity(outputs.len());
    for (output, &node) in outputs.into_iter().zip(output_nodes) {
        let node_spec = graph.node(node);
        let value_type = node_spec.value_type();
        if !value_type.holds(output.as_ref()) {
            return Err(format!(
                "output for data node `{}` is not a {}",
                node_spec.name(),
                value_type.name()
            )
            .into());
        }
        let done = catch_unwind(AssertUnwindSafe(|| {
            value_type.materialize(output, &context)
        }))
        .map_err(|payload| {
            format!(
                "output `{}`: panicked while it was computed or stored: {}",
                node_spec.name(),
                panic_message(payload.as_ref())
            )
        })?
        .map_err(|e| e.of_output(node_spec.name()))?;
        materialized.push(done);
    }
    commit_outputs(scenario, submission, work, materialized)
}
