//! Why the store failed.

use std::path::PathBuf;

use crate::fingerprint::Fingerprint;
use crate::ids::ScenarioId;
use crate::value::ValueError;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("store: cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A value the store should hold is missing or damaged.
    #[error("store: value {fingerprint} is missing or damaged: {reason}")]
    MissingValue {
        /// The value's fingerprint.
        fingerprint: Fingerprint,
        /// What is wrong.
        reason: String,
    },
    /// Encoding or decoding a value failed.
    #[error("store: {0}")]
    Value(#[from] ValueError),
    /// The database failed.
    #[error("store {path}: cannot {action}: {message}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: String,
        /// The database's message (and what to do, when known).
        message: String,
    },
    /// The store was written by a newer version of this library.
    #[error(
        "store {path} has schema version {found}, newer than the {supported} this build of \
         pipeline-core reads: upgrade pipeline-core, or use another store directory \
         (set PIPELINE_STORE)"
    )]
    SchemaTooNew {
        /// The store directory.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The database file belongs to another application.
    #[error(
        "{path} is not a pipeline store (SQLite application id {found:#x}): use another \
         store directory (set PIPELINE_STORE)"
    )]
    NotAStore {
        /// The database file.
        path: PathBuf,
        /// The application id found.
        found: i64,
    },
    /// Another writer recorded the same version of a slot first.
    #[error(
        "store: {slot} was written by another process meanwhile (its version {version} exists \
         already): submit or write again"
    )]
    Conflict {
        /// The slot, as text.
        slot: String,
        /// The version both wrote.
        version: u64,
    },
    /// A scenario id the store does not know (never created, or deleted).
    #[error("store: no scenario {0}: it was never created here, or it was deleted")]
    NoScenario(ScenarioId),
    /// Waiting for another process's lock took longer than allowed.
    #[error(
        "store: {what} is locked by {holder} (lock file {path}); gave up after {waited:?}: \
         wait for it to finish, or raise the lock timeout"
    )]
    LockTimeout {
        /// What is locked (`"scenario #3"`).
        what: String,
        /// Who holds it, as far as known (`"process 1234"`).
        holder: String,
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// The object store that holds the store's values failed or cannot be
    /// used (see `SqliteOptions::object_store`);
    /// the message names it, the object and the data node. Nothing the
    /// failing call would have recorded was recorded.
    #[error("store: {0}")]
    Objects(String),
    /// Any other failure of a store backend.
    #[error("store: {0}")]
    Backend(String),
}
