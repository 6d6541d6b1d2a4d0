//! The records several pages show, each serializable as the JSON twins send
//! them: a scenario's identity, a submission in one line, a job.

use serde::Serialize;

use crate::history::rfc3339;
use crate::job::{Job, JobStatus, Submission};
use crate::store::ScenarioMeta;

/// A scenario's identity.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ScenarioInfo {
    pub(super) id: u64,
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) scenario_type: String,
    pub(super) tags: Vec<String>,
    pub(super) created_at: String,
}

impl ScenarioInfo {
    pub(super) fn of(meta: &ScenarioMeta) -> Self {
        Self {
            id: meta.id.0,
            name: meta.name.clone(),
            scenario_type: meta.graph.clone(),
            tags: meta.tags.iter().cloned().collect(),
            created_at: rfc3339(meta.created_at),
        }
    }
}

/// How a submission went, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum SubmissionStatus {
    /// Its process is still running it.
    Running,
    /// Its process died before recording it.
    Interrupted,
    /// A job failed (its dependents were abandoned).
    Failed,
    /// It was canceled before every job ran.
    Canceled,
    /// Every job completed or was skipped.
    Completed,
}

impl SubmissionStatus {
    /// The word, as in JSON.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Completed => "completed",
        }
    }

    /// The status of a recorded submission (the store marks an unrecorded
    /// one's target `(running)` or `(interrupted)`).
    pub(super) fn of(submission: &Submission) -> Self {
        if submission.target.ends_with("(running)") {
            Self::Running
        } else if submission.target.ends_with("(interrupted)") {
            Self::Interrupted
        } else if submission
            .jobs
            .iter()
            .any(|j| matches!(j.status, JobStatus::Failed | JobStatus::Abandoned))
        {
            Self::Failed
        } else if submission
            .jobs
            .iter()
            .any(|j| j.status == JobStatus::Canceled)
        {
            Self::Canceled
        } else {
            Self::Completed
        }
    }
}

/// A submission in one line.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SubmissionSummary {
    pub(super) id: u64,
    pub(super) target: String,
    pub(super) status: SubmissionStatus,
    pub(super) started_at: String,
    pub(super) duration_s: f64,
    pub(super) jobs: usize,
    pub(super) completed: usize,
    pub(super) skipped: usize,
    pub(super) failed: usize,
}

/// What a submission ran (`scenario`, `task clean`), without the state the
/// store appends to one it has not recorded yet (whose target it does not
/// know: `submission`).
pub(super) fn plain_target(submission: &Submission) -> String {
    let target = submission
        .target
        .trim_end_matches("(running)")
        .trim_end_matches("(interrupted)")
        .trim_end();
    if target.is_empty() {
        "submission".to_owned()
    } else {
        target.to_owned()
    }
}

impl SubmissionSummary {
    pub(super) fn of(submission: &Submission) -> Self {
        let count = |status| {
            submission
                .jobs
                .iter()
                .filter(|j| j.status == status)
                .count()
        };
        Self {
            id: submission.id.0,
            target: plain_target(submission),
            status: SubmissionStatus::of(submission),
            started_at: rfc3339(submission.started_at),
            duration_s: submission.duration.as_secs_f64(),
            jobs: submission.jobs.len(),
            completed: count(JobStatus::Completed),
            skipped: count(JobStatus::Skipped),
            failed: count(JobStatus::Failed),
        }
    }
}

/// One job of a submission, with why it ran or was skipped (`reason`, as
/// [`Reason::to_json`](crate::Reason::to_json); `reason_text` for people).
#[derive(Debug, Clone, Serialize)]
pub(super) struct JobModel {
    pub(super) task: String,
    pub(super) submission: u64,
    pub(super) status: &'static str,
    pub(super) started_at: Option<String>,
    pub(super) ended_at: Option<String>,
    pub(super) duration_s: Option<f64>,
    pub(super) reused: bool,
    pub(super) reason: Option<serde_json::Value>,
    pub(super) reason_text: Option<String>,
    pub(super) error: Option<String>,
}

impl JobModel {
    pub(super) fn of(job: &Job, submission: &Submission) -> Self {
        Self {
            task: job.task.to_string(),
            submission: submission.id.0,
            status: job.status.as_str(),
            started_at: job.started_at.map(rfc3339),
            ended_at: job.ended_at().map(rfc3339),
            duration_s: job.duration.map(|d| d.as_secs_f64()),
            reused: job.reused,
            reason: job.reason.as_ref().map(crate::reason::Reason::to_json),
            reason_text: job.reason.as_ref().map(ToString::to_string),
            error: job.error.as_deref().map(str::to_owned),
        }
    }
}
