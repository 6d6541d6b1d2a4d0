//! Remote executors (cargo feature `remote`): each task that must run
//! becomes a job of an existing cluster engine (Slurm first) running the
//! same program in [worker mode](crate::worker), with values passed through
//! an [object store](crate::objects). The design, the contract and the
//! measurements are in `docs/distributed.md`.
//!
//! The submitting process stays the coordinator: it keeps the typed graph,
//! decides skips (early cutoff and the memo included) exactly as with local
//! threads, and records every job, version and lineage row itself, through
//! the same path as a local run. Only where a task's body runs changes:
//!
//! 1. its inputs are shipped to the object store by fingerprint
//!    (create-only; what is there already is not sent again);
//! 2. a task manifest is written and `sbatch` submits
//!    `<program> __pipeline-worker <manifest URL>`; independent tasks are
//!    independent jobs, running concurrently; one thread polls `squeue` for
//!    all of them;
//! 3. the worker's result manifest is checked (task, attempt, key, each
//!    output's schema, object and size), its outputs are fetched and checked
//!    against their content hashes, and the job is committed;
//! 4. a job that ended without a result failed: its message gives Slurm's
//!    state and exit code and the tail of the worker's output; it is retried
//!    when [`SlurmOptions::retries`] allows and its [`FailureKind`] is one
//!    [`SlurmOptions::retry_on`] names.
//!
//! A submission interrupted midway (its process killed) leaves jobs that a
//! later one adopts instead of running the same task again: one still queued
//! or running is waited for, and a result no coordinator recorded is
//! recorded (see docs/distributed.md, section 6).
//!
//! ```no_run
//! use pipeline_core::remote::SlurmOptions;
//! use pipeline_core::{Executor, Runtime, SubmitOptions};
//! # fn scenario() -> pipeline_core::Scenario { unimplemented!() }
//! let scenario = scenario();
//! let slurm = SlurmOptions::new().objects("s3://team-bucket/pipelines").retries(1);
//! let submission = scenario.submit_with(&SubmitOptions::new().executor(Executor::slurm(slurm)))?;
//! # Ok::<(), pipeline_core::Error>(())
//! ```

pub(crate) mod manifest;
mod options;
mod runner;
mod slurm;
mod transfer;

pub use options::{FailureKind, OBJECTS_ENV, SlurmOptions};
pub(crate) use runner::SlurmRunner;

use std::path::PathBuf;

use crate::objects::ObjectError;

/// Why a remote executor could not start a submission.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// No object store was named.
    #[error(
        "the slurm executor needs an object store for values that every node reaches: pass --objects s3://bucket/prefix (or a shared directory), or set {OBJECTS_ENV}"
    )]
    NoObjectStore,
    /// The object store cannot be used (its message names it).
    #[error(transparent)]
    Objects(#[from] ObjectError),
    /// The program to run as worker cannot be found.
    #[error(
        "cannot find this program's path to run it as a worker: {0}; give one with SlurmOptions::worker_program"
    )]
    Program(std::io::Error),
    /// The directory for job output cannot be made.
    #[error("cannot create the slurm log directory {path}: {source}")]
    LogDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Slurm did not answer.
    #[error("{0}")]
    Slurm(String),
}
