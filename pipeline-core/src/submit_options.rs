//! What a submission runs and how: [`SubmitOptions`], its [`Target`], the
//! [`Executor`] its tasks run on, and the [`CancelToken`] that stops it
//! between tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which part of a scenario a submission runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// Every task.
    #[default]
    Scenario,
    /// One task.
    Task(String),
    /// A named sequence.
    Sequence(String),
}

/// Where the tasks of a submission that must run are executed. The
/// coordinating process keeps the graph, the skip decisions, the memo and
/// the registry whichever is chosen.
///
/// ```
/// use pipeline_core::{Executor, SubmitOptions};
/// let options = SubmitOptions::new().executor(Executor::Local);
/// assert!(matches!(options.executor_setting(), Executor::Local));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Executor {
    /// Threads of the submitting process (the default).
    #[default]
    Local,
    /// Each task that must run becomes a Slurm job running the same program
    /// in worker mode, with values passed through an object store (cargo
    /// feature `remote`; see [`crate::remote`]).
    #[cfg(feature = "remote")]
    Slurm(Box<crate::remote::SlurmOptions>),
}

#[cfg(feature = "remote")]
impl Executor {
    /// [`Executor::Slurm`] with these options.
    pub fn slurm(options: crate::remote::SlurmOptions) -> Self {
        Self::Slurm(Box::new(options))
    }
}

#[cfg(feature = "remote")]
impl From<crate::remote::SlurmOptions> for Executor {
    fn from(options: crate::remote::SlurmOptions) -> Self {
        Self::slurm(options)
    }
}

/// Cancels a running submission: tasks not yet started end `Canceled`.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not canceled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether cancellation was requested.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Options of one submission, set with builder methods.
///
/// ```
/// use pipeline_core::{SubmitOptions, Target};
/// let options = SubmitOptions::new().force(true).max_workers(1).target(Target::Task("t".into()));
/// assert_eq!(options.workers(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    pub(crate) target: Target,
    pub(crate) force: bool,
    pub(crate) max_workers: Option<usize>,
    pub(crate) cancel: Option<CancelToken>,
    pub(crate) record_versions: bool,
    pub(crate) executor: Executor,
}

impl SubmitOptions {
    /// The whole scenario, skipping what can be skipped, on all cores.
    pub fn new() -> Self {
        Self::default()
    }

    /// What to run.
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Runs skippable tasks even when their outputs are current.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// At most this many tasks run at once (at least 1).
    pub fn max_workers(mut self, workers: usize) -> Self {
        self.max_workers = Some(workers.max(1));
        self
    }

    /// Records in the submission the version of every data node as it left
    /// them ([`Submission::versions`](crate::Submission::versions)), to read
    /// its results later whatever is written since. Off by default (it costs
    /// a cache lookup per node); [`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes) always
    /// records them.
    pub fn record_versions(mut self, record: bool) -> Self {
        self.record_versions = record;
        self
    }

    /// Cancels the submission when `token` is canceled.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Where the tasks that must run are executed (default:
    /// [`Executor::Local`], threads of this process).
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// The executor in effect.
    pub fn executor_setting(&self) -> &Executor {
        &self.executor
    }

    /// The worker limit in effect: as set, else the machine's available parallelism.
    pub fn workers(&self) -> usize {
        // available_parallelism() reads cgroup files on every call: ask once.
        static AVAILABLE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        self.max_workers.unwrap_or_else(|| {
            *AVAILABLE.get_or_init(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
        })
    }
}
