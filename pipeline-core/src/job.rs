//! Jobs and submissions: what one `submit()` did, task by task.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::ids::{ScenarioId, SubmissionId};
use crate::key::TaskKey;
use crate::reason::Reason;
use crate::stale::report::StaleUpstream;

/// The state of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for its inputs.
    Pending,
    /// Its function is running.
    Running,
    /// It ran and wrote its outputs.
    Completed,
    /// Its outputs were already up to date (or reused from an identical job).
    Skipped,
    /// Its function returned an error or panicked.
    Failed,
    /// An upstream job failed, so it did not run.
    Abandoned,
    /// The submission was canceled before it started.
    Canceled,
}

impl JobStatus {
    /// The lowercase name (`"completed"`), as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Skipped => "skipped",
            JobStatus::Failed => "failed",
            JobStatus::Abandoned => "abandoned",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Whether the status is final.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }

    /// Whether the job's outputs are now valid (`Completed` or `Skipped`).
    pub fn is_success(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Skipped)
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobStatus::Pending,
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "skipped" => JobStatus::Skipped,
            "failed" => JobStatus::Failed,
            "abandoned" => JobStatus::Abandoned,
            "canceled" => JobStatus::Canceled,
            _ => return None,
        })
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one task in a submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The task's name.
    pub task: Arc<str>,
    /// Its final status.
    pub status: JobStatus,
    /// The task key it was decided under (absent when it never got that far).
    pub key: Option<TaskKey>,
    /// When its function started (or when it was skipped, abandoned or canceled).
    pub started_at: Option<SystemTime>,
    /// How long the function and writing its outputs took (zero for a job that
    /// did not run; absent while pending).
    pub duration: Option<Duration>,
    /// The error or panic message of a failed job, or why it was abandoned.
    pub error: Option<Box<str>>,
    /// Whether a skipped job took its outputs from an identical job (same task key)
    /// of another scenario instead of finding its own outputs current.
    pub reused: bool,
    /// Why it ran or was skipped (`None` for a job never decided: abandoned,
    /// canceled, failed before its inputs were read, or recorded by an
    /// earlier version of this library).
    pub reason: Option<Reason>,
    /// Where it ran when a remote executor ran it (`None`: in the submitting
    /// process, or not at all).
    pub remote: Option<Box<RemoteJob>>,
}

/// Where a job ran when an executor other than the local one ran it: the
/// engine's job, which attempt it was, and the machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteJob {
    /// The engine (`"slurm"`).
    pub executor: String,
    /// The engine's id of the (last) attempt's job (a Slurm job id).
    pub id: String,
    /// The attempt, from 1 (retries count up).
    pub attempt: u32,
    /// The machine the attempt ran on, when known.
    pub host: Option<String>,
    /// Whether this submission adopted the job from an earlier one that was
    /// interrupted (instead of submitting it).
    pub adopted: bool,
    /// The worker's peak resident memory in bytes, as it measured itself
    /// (`VmHWM` on Linux) after storing its outputs: what to ask for with
    /// `#[task(memory = …)]`. `None` where the worker could not tell, for an
    /// attempt that ended without a result, and in records written before
    /// this was measured.
    #[serde(default)]
    pub peak_rss: Option<u64>,
}

impl Job {
    /// When the job reached its final status.
    pub fn ended_at(&self) -> Option<SystemTime> {
        Some(self.started_at? + self.duration?)
    }

    /// The error text, if any.
    pub fn error_text(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub(crate) fn pending(task: Arc<str>) -> Self {
        Self {
            task,
            status: JobStatus::Pending,
            key: None,
            started_at: None,
            duration: None,
            error: None,
            reused: false,
            reason: None,
            remote: None,
        }
    }
}

/// The report of one submission: every job's status, times and errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Its id.
    pub id: SubmissionId,
    /// The submitted scenario.
    pub scenario: ScenarioId,
    /// What was submitted: `"scenario"`, `"task <name>"` or `"sequence <name>"`.
    pub target: String,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took in all.
    pub duration: Duration,
    /// One job per submitted task, in topological order.
    pub jobs: Vec<Job>,
    /// The version of every data node of the scenario that had a value when
    /// the submission ended, taken under its locks: the inputs its jobs read
    /// and the outputs they wrote or found current, whatever another process
    /// writes afterwards. Read one with
    /// [`DataNode::read_version`](crate::DataNode::read_version). Recorded
    /// when asked for ([`SubmitOptions::record_versions`](crate::SubmitOptions::record_versions),
    /// always by [`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes));
    /// empty otherwise, and in submissions read back from a store's history.
    pub versions: Vec<NodeVersion>,
    /// For a submission of one task or sequence: the upstream tasks it did
    /// not cover that would run now, so that its tasks read their outputs
    /// as they were, not as a whole submission would make them (see
    /// [`StaleUpstream`]). Empty for a whole scenario's submission, when
    /// every upstream task is up to date, and in submissions read back
    /// from a store's history.
    pub stale_upstream: Vec<StaleUpstream>,
}

/// One data node's version as a submission left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVersion {
    /// The node's name.
    pub node: Arc<str>,
    /// Its version number.
    pub version: u64,
    /// That version's fingerprint.
    pub fingerprint: Fingerprint,
}

impl Submission {
    /// The job of a task.
    pub fn job(&self, task: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| &*j.task == task)
    }

    /// The status of a task's job.
    pub fn status(&self, task: &str) -> Option<JobStatus> {
        self.job(task).map(|j| j.status)
    }

    /// Names of the tasks with the given status, in topological order.
    pub fn tasks_with(&self, status: JobStatus) -> Vec<&str> {
        self.jobs
            .iter()
            .filter(|j| j.status == status)
            .map(|j| &*j.task)
            .collect()
    }

    /// The version of a data node when the submission ended (see
    /// [`versions`](Self::versions)).
    pub fn version_of(&self, node: &str) -> Option<u64> {
        self.versions
            .iter()
            .find(|v| &*v.node == node)
            .map(|v| v.version)
    }

    /// Whether every job completed or was skipped.
    pub fn is_success(&self) -> bool {
        self.jobs.iter().all(|j| j.status.is_success())
    }

    /// `Ok(self)` if every job succeeded, else the first failure as an [`Error`].
    pub fn into_result(self) -> Result<Self, Error> {
        match self.jobs.iter().find(|j| !j.status.is_success()) {
            None => Ok(self),
            Some(job) => Err(Error::JobFailed {
                task: job.task.to_string(),
                message: job
                    .error
                    .as_deref()
                    .map_or_else(|| format!("job ended {}", job.status), str::to_owned),
            }),
        }
    }
}
