//! Worker mode: one attempt of one task, run by a remote executor's job as
//! `<the user's program> __pipeline-worker <task manifest URL>` (cargo
//! feature `remote`; the contract is in docs/distributed.md, section 3).
//!
//! The worker reads the task manifest, finds the task among the program's
//! `#[task]` functions (and any given to [`Worker::task`]), and checks that
//! its own build of the task is the one the coordinator decided on: same
//! code fingerprint (a mismatch names the differing part), same input and
//! output schemas, same declared environment. A stale binary therefore never
//! produces outputs under a key whose code did not run. It then fetches the
//! inputs by fingerprint from the object store (checking each against its
//! content hash), runs the task, materializes its outputs (a lazy frame is
//! sunk to a file), uploads them content-addressed and create-only, and
//! writes the result manifest, create-only, last.
//!
//! A program built on the framework's CLI is a worker with nothing to write;
//! any other calls [`main_if_worker`] first thing in `main`:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     if let Some(code) = pipeline_core::worker::main_if_worker() {
//!         return code;
//!     }
//!     // … the program's own work, submitting with `Executor::Slurm` …
//!     std::process::ExitCode::SUCCESS
//! }
//! ```

mod run;
mod scratch;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::TaskRegistry;
use crate::objects::ObjectError;
use crate::task::TaskDef;

/// The subcommand that makes a program a worker.
pub const WORKER_COMMAND: &str = "__pipeline-worker";

/// How an attempt ended, when the worker could write its result manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerOutcome {
    /// The outputs and the result manifest are stored.
    Completed {
        /// The task's name.
        task: String,
    },
    /// The result manifest says the attempt failed, and why.
    Failed {
        /// The task's name (as the manifest gives it).
        task: String,
        /// Why.
        message: String,
    },
    /// Another attempt of the same task had already written the result
    /// manifest; this one changed nothing.
    Duplicate {
        /// The task's name.
        task: String,
    },
}

impl WorkerOutcome {
    /// The process exit code for this outcome: 0, or 1 for a failed task.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            WorkerOutcome::Completed { .. } | WorkerOutcome::Duplicate { .. } => ExitCode::SUCCESS,
            WorkerOutcome::Failed { .. } => ExitCode::from(1),
        }
    }
}

/// Why a worker could not even write a result manifest (the process exits
/// with code 2; the coordinator reads this message in the job's output).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The manifest URL is not of the form `<store>/jobs/…/task.json`.
    #[error(
        "worker: '{0}' is not a task manifest URL (expected <store URL>/jobs/<key>/<attempt>/task.json)"
    )]
    ManifestUrl(String),
    /// The manifest cannot be read or is not a task manifest.
    #[error("worker: task manifest {url}: {reason}")]
    Manifest {
        /// The manifest's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The object store failed (its message names the store and object).
    #[error("worker: {0}")]
    Objects(Box<ObjectError>),
    /// A local scratch directory could not be made.
    #[error("worker: cannot create a scratch directory in {dir}: {source}")]
    Scratch {
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The attempt failed and its result manifest could not be written.
    #[error(
        "worker: task `{task}` failed ({failure}), and its result could not be stored: {store}"
    )]
    ResultNotStored {
        /// The task.
        task: String,
        /// Why the attempt failed.
        failure: String,
        /// Why the result could not be written.
        store: Box<ObjectError>,
    },
}

impl From<ObjectError> for WorkerError {
    fn from(error: ObjectError) -> Self {
        Self::Objects(Box::new(error))
    }
}

impl WorkerError {
    /// The process exit code for a worker that could not write a result: 2.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}

/// The tasks a worker can run: every `#[task]` function linked into the
/// program, plus hand-built definitions.
///
/// ```
/// use pipeline_core::task::TaskDef;
/// use pipeline_core::worker::Worker;
/// let worker = Worker::new().task(TaskDef::from_fn1("double", "1", |x: &i64| x * 2));
/// assert!(worker.knows("double"));
/// ```
#[derive(Debug, Clone)]
pub struct Worker {
    tasks: TaskRegistry,
}

impl Default for Worker {
    fn default() -> Self {
        Self::new()
    }
}

impl Worker {
    /// A worker for every `#[task]` function of the program.
    pub fn new() -> Self {
        Self {
            tasks: TaskRegistry::collected(),
        }
    }

    /// Adds a hand-built task, found by its [`function_name`](TaskDef::function_name).
    pub fn task(mut self, def: TaskDef) -> Self {
        self.tasks = self.tasks.with(def, false);
        self
    }

    /// Whether a task of that (function) name is known.
    pub fn knows(&self, function: &str) -> bool {
        self.tasks.get(function).is_ok()
            || self.tasks.iter().any(|t| t.def.function_name() == function)
    }

    /// Runs the attempt described by the task manifest at `manifest_url`.
    ///
    /// # Errors
    /// [`WorkerError`] when no result manifest could be written; every other
    /// failure is in the result manifest and in [`WorkerOutcome::Failed`].
    pub fn run(&self, manifest_url: &str) -> Result<WorkerOutcome, WorkerError> {
        run::attempt(self, manifest_url)
    }

    /// The candidates for a manifest's function.
    fn candidates(&self, function: &str) -> Vec<&TaskDef> {
        self.tasks
            .iter()
            .map(|t| &t.def)
            .filter(|def| def.function_name() == function || def.name() == function)
            .collect()
    }
}

/// Runs the attempt at `manifest_url` with the program's `#[task]` functions.
///
/// # Errors
/// See [`Worker::run`].
pub fn run(manifest_url: &str) -> Result<WorkerOutcome, WorkerError> {
    Worker::new().run(manifest_url)
}

/// For a program's `main`: when the program was started as
/// `<program> __pipeline-worker <manifest URL>`, runs that attempt with
/// [`Worker::new`], says what happened on stderr, and returns the exit code
/// (0 completed, 1 the task failed, 2 no result could be written); `None`
/// when the program was started otherwise. In worker mode it installs a
/// panic hook (wrapping the one in place) that records where a panic of the
/// task's body happened, so that the job's error says it (`panicked at
/// src/lib.rs:12:5: …`); the panic is still reported on stderr, in the
/// job's log.
pub fn main_if_worker() -> Option<ExitCode> {
    main_if_worker_with(&Worker::new())
}

/// [`main_if_worker`] with a worker of your own (hand-built tasks).
pub fn main_if_worker_with(worker: &Worker) -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != WORKER_COMMAND {
        return None;
    }
    let Some(url) = args.next().and_then(|a| a.into_string().ok()) else {
        eprintln!("worker: usage: <program> {WORKER_COMMAND} <task manifest URL>");
        return Some(ExitCode::from(2));
    };
    // A panic of the task's body is still reported in the job's log, and
    // its location goes into the job's error, which the coordinator shows.
    std::panic::set_hook(crate::task_panic::hook(std::panic::take_hook(), false));
    Some(match worker.run(&url) {
        Ok(outcome) => {
            match &outcome {
                WorkerOutcome::Completed { task } => eprintln!("worker: task `{task}` completed"),
                WorkerOutcome::Duplicate { task } => eprintln!(
                    "worker: task `{task}`: another attempt stored the result first; nothing changed"
                ),
                WorkerOutcome::Failed { task, message } => {
                    eprintln!("worker: task `{task}` failed: {message}")
                }
            }
            outcome.exit_code()
        }
        Err(error) => {
            eprintln!("{error}");
            error.exit_code()
        }
    })
}
