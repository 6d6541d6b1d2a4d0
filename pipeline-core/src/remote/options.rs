//! How the Slurm executor submits jobs: where values go, what each task
//! asks for, how failed attempts are retried.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::objects::ObjectStoreOptions;
use crate::resources::Resources;

/// The environment variable naming the object store of remote executors
/// (`s3://bucket/prefix`, `file:///shared/dir` or a path), read when
/// [`SlurmOptions::objects`] was not given.
pub const OBJECTS_ENV: &str = crate::store::OBJECTS_ENV;

/// Why an attempt ended without its task's result, as far as the engine
/// tells: what [`SlurmOptions::retry_on`] chooses among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureKind {
    /// The node running it failed (`NODE_FAIL`).
    NodeFail,
    /// A higher-priority job preempted it (`PREEMPTED`).
    Preempted,
    /// It ran out of memory (`OUT_OF_MEMORY`).
    OutOfMemory,
    /// It reached its time limit (`TIMEOUT`, `DEADLINE`).
    Timeout,
    /// The worker was killed by a signal (`kill -9`, the kernel's OOM killer).
    Killed,
    /// Someone cancelled the job (`scancel`).
    Cancelled,
    /// The worker exited with an error before writing a result (the object
    /// store unreachable, a bad manifest).
    WorkerError,
    /// The task itself failed (its `Err` or a panic): deterministic, so not
    /// retried unless asked for.
    TaskError,
}

impl FailureKind {
    /// Every kind, in order.
    pub const ALL: [FailureKind; 8] = [
        FailureKind::NodeFail,
        FailureKind::Preempted,
        FailureKind::OutOfMemory,
        FailureKind::Timeout,
        FailureKind::Killed,
        FailureKind::Cancelled,
        FailureKind::WorkerError,
        FailureKind::TaskError,
    ];

    /// The name used in configurations (`"node_fail"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NodeFail => "node_fail",
            FailureKind::Preempted => "preempted",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::Timeout => "timeout",
            FailureKind::Killed => "killed",
            FailureKind::Cancelled => "cancelled",
            FailureKind::WorkerError => "worker_error",
            FailureKind::TaskError => "error",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "`{text}` is not a failure kind; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The settings of [`Executor::Slurm`](crate::Executor::Slurm), built with
/// chained setters.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::resources::Resources;
/// use pipeline_core::remote::{FailureKind, SlurmOptions};
///
/// let options = SlurmOptions::new()
///     .objects("s3://team-bucket/pipelines")
///     .partition("batch")
///     .retries(2)
///     .retry_on([FailureKind::NodeFail, FailureKind::Killed])
///     .task_resources("score", Resources::new().cpus(8).memory("16G")?);
/// assert_eq!(options.retry_count(), 2);
/// assert_eq!(options.resources_of("score").cpu_count(), Some(8));
/// # Ok::<(), pipeline_core::resources::ResourceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    pub(crate) objects: Option<String>,
    pub(crate) object_options: ObjectStoreOptions,
    pub(crate) program: Option<PathBuf>,
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) defaults: Resources,
    pub(crate) per_task: BTreeMap<String, Resources>,
    pub(crate) retries: u32,
    pub(crate) retry_on: Vec<FailureKind>,
    pub(crate) poll_interval: Duration,
    pub(crate) max_jobs: usize,
    pub(crate) sbatch_args: Vec<String>,
    pub(crate) cancel_stale: bool,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        Self {
            objects: None,
            object_options: ObjectStoreOptions::default(),
            program: None,
            log_dir: None,
            defaults: Resources::new(),
            per_task: BTreeMap::new(),
            retries: 0,
            retry_on: vec![
                FailureKind::NodeFail,
                FailureKind::Preempted,
                FailureKind::OutOfMemory,
                FailureKind::Timeout,
                FailureKind::Killed,
            ],
            poll_interval: Duration::from_millis(250),
            max_jobs: 1000,
            sbatch_args: Vec::new(),
            cancel_stale: false,
        }
    }
}

impl SlurmOptions {
    /// The defaults: values in the store named by `PIPELINE_OBJECTS`, the
    /// workers are this program, no retries (when some are allowed: after
    /// node failures, preemption, out of memory, time limits and kills),
    /// the queue polled every 250 ms, at most 1,000 jobs at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// The object store that carries values between this process and the
    /// workers: `s3://bucket/prefix`, `file:///shared/dir` or a path on a
    /// file system every node mounts.
    pub fn objects(mut self, location: impl Into<String>) -> Self {
        self.objects = Some(location.into());
        self
    }

    /// How the object store client moves data (part sizes, retries, S3
    /// settings).
    pub fn object_store_options(mut self, options: ObjectStoreOptions) -> Self {
        self.object_options = options;
        self
    }

    /// The program workers run (default: this one, `std::env::current_exe`),
    /// as `<program> __pipeline-worker <manifest>`. It must register the same
    /// tasks built from the same code: a worker checks that.
    pub fn worker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Where jobs write their output (Slurm's `--output`; read for the tail
    /// of a failed worker's stderr). Every node must see it. Default: `slurm/`
    /// in the store directory, or `.pipeline/slurm/` for an in-memory store.
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// The partition of every job whose task names none.
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.defaults = self.defaults.partition(partition);
        self
    }

    /// Resources of every job, overridden by the task's own and then by
    /// [`task_resources`](Self::task_resources).
    pub fn default_resources(mut self, resources: Resources) -> Self {
        self.defaults = resources;
        self
    }

    /// Resources for the task called `task`, overriding what its definition
    /// asks for (from a configuration, say).
    pub fn task_resources(mut self, task: impl Into<String>, resources: Resources) -> Self {
        let entry = self.per_task.entry(task.into()).or_default();
        *entry = entry.overridden_by(&resources);
        self
    }

    /// How many more attempts a task gets after a failed one (default 0).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Which failures are retried (see [`FailureKind`]).
    pub fn retry_on(mut self, kinds: impl IntoIterator<Item = FailureKind>) -> Self {
        self.retry_on = kinds.into_iter().collect();
        self
    }

    /// How often the queue is polled (one `squeue` for all jobs).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// At most this many jobs of one submission are queued or running at once.
    pub fn max_jobs(mut self, jobs: usize) -> Self {
        self.max_jobs = jobs.max(1);
        self
    }

    /// Extra arguments for every `sbatch` (`--account=…`, `--qos=…`).
    pub fn sbatch_arg(mut self, arg: impl Into<String>) -> Self {
        self.sbatch_args.push(arg.into());
        self
    }

    /// Cancels (`scancel`) jobs that an interrupted earlier submission left
    /// queued or running for a task this one must run, and submits afresh;
    /// by default such jobs are adopted (waited for) instead.
    pub fn cancel_stale(mut self, cancel: bool) -> Self {
        self.cancel_stale = cancel;
        self
    }

    /// The retries allowed per task.
    pub fn retry_count(&self) -> u32 {
        self.retries
    }

    /// Whether a failure of this kind is retried.
    pub fn retries_on(&self, kind: FailureKind) -> bool {
        self.retry_on.contains(&kind)
    }

    /// The resources a task's jobs ask for, given only its name: the
    /// defaults overridden by [`task_resources`](Self::task_resources). (A
    /// job also takes the task definition's own, between the two.)
    pub fn resources_of(&self, task: &str) -> Resources {
        self.resources_for(task, &Resources::new())
    }

    /// The resources of a job of `task` whose definition asks for `declared`.
    pub(crate) fn resources_for(&self, task: &str, declared: &Resources) -> Resources {
        let mut resources = self.defaults.overridden_by(declared);
        if let Some(configured) = self.per_task.get(task) {
            resources = resources.overridden_by(configured);
        }
        resources
    }
}
