//! What a command can fail with, and the exit code each failure gives.

use std::process::ExitCode;

use crate::config::ConfigErrors;
use crate::error::Error;
use crate::store::StoreError;

/// The exit code of a command that succeeded.
pub const EXIT_SUCCESS: u8 = 0;
/// The exit code when a task failed (the submission ran; see the jobs).
pub const EXIT_TASK_FAILED: u8 = 1;
/// The exit code of bad usage or input, refused before anything was written:
/// an unknown node, task, sequence, scenario or type, a value that does not
/// parse, a missing or invalid configuration file, a store that is locked
/// past `--lock-timeout` or is not a store.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Why a command failed; printed as `error: …` on stderr (and as
/// `{"error": …}` with `--json`), exiting with [`exit_code`](Self::exit_code).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or input, refused before anything was written (exit code 2).
    #[error("{0}")]
    Input(String),
    /// A task failed (exit code 1).
    #[error("{0}")]
    TaskFailed(String),
    /// The runtime or the store failed; the exit code depends on the error.
    #[error(transparent)]
    Pipeline(#[from] Error),
    /// The TOML configuration has problems (exit code 2).
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// Anything else, already phrased for the user (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// Bad usage or input (exit code 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// Any other failure (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The process exit code: [`EXIT_BAD_INPUT`] for bad usage or input
    /// (unknown names, unreadable values and configurations, a locked or
    /// foreign store), [`EXIT_TASK_FAILED`] otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_) | Self::Config(_) => EXIT_BAD_INPUT,
            Self::TaskFailed(_) | Self::Failed(_) => EXIT_TASK_FAILED,
            Self::Pipeline(error) => match error {
                Error::Graph(_)
                | Error::UnknownNode { .. }
                | Error::UnknownTask { .. }
                | Error::UnknownSequence { .. }
                | Error::UnknownVersion { .. }
                | Error::UnknownScenario(_)
                | Error::NodeType { .. }
                | Error::NoValue { .. }
                | Error::Compare(_) => EXIT_BAD_INPUT,
                Error::Store(
                    StoreError::LockTimeout { .. }
                    | StoreError::NotAStore { .. }
                    | StoreError::SchemaTooNew { .. }
                    | StoreError::NoScenario(_),
                ) => EXIT_BAD_INPUT,
                _ => EXIT_TASK_FAILED,
            },
        }
    }
}

impl From<CliError> for ExitCode {
    fn from(error: CliError) -> Self {
        ExitCode::from(error.exit_code())
    }
}
