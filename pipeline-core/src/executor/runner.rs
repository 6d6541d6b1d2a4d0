//! The seam between the coordinator and where task bodies execute: a
//! [`Runner`] runs one task that must run and reports how it ended.

use std::time::SystemTime;

use crate::decide::Work;
use crate::graph::TaskId;
use crate::job::RemoteJob;
use crate::scenario_state::ScenarioState;
use crate::store::SubmissionId;

/// Runs one task that must run and records it: the seam between the
/// coordinator and where task bodies execute.
pub(crate) trait Runner: Sync {
    /// Runs `work`, commits its outputs (see [`commit_outputs`](super::commit::commit_outputs)) and reports.
    /// Called from the coordinating thread or a worker thread, at most
    /// [`SubmitOptions::workers`](crate::SubmitOptions::workers) at a time.
    fn run(&self, scenario: &ScenarioState, submission: SubmissionId, work: Work) -> Done;
}

/// What a runner reports back.
pub(crate) struct Done {
    pub(crate) task: TaskId,
    pub(crate) started_at: SystemTime,
    pub(crate) duration: std::time::Duration,
    pub(crate) outcome: std::result::Result<(), Failure>,
    /// Where the job ran, when not in this process.
    pub(crate) remote: Option<Box<RemoteJob>>,
}

/// Why a job failed.
pub(crate) struct Failure {
    pub(crate) message: String,
    /// An input's value was missing or damaged in the store (and has been
    /// removed from it, so its producer runs again on the next submission).
    pub(crate) input_missing: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self {
            message,
            input_missing: false,
        }
    }
}
