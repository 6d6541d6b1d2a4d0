//! Where scenarios, data node versions, values, memo entries and submissions are
//! recorded. The runtime talks to a [`Store`] only through this trait; an
//! in-memory [`MemoryStore`] serves tests and benchmarks.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::TaskKey;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::value::{ErasedValue, ValueError, ValueType};

mod memory;

pub use memory::MemoryStore;

/// A scenario's id, unique within a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScenarioId(pub u64);

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A submission's id, unique within a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubmissionId(pub u64);

impl fmt::Display for SubmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Who owns a data node's value: one scenario, or every scenario of a graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A scenario-scoped node.
    Scenario(ScenarioId),
    /// A global node, shared by all scenarios of the named graph.
    Global(Arc<str>),
}

/// The place a data node's versions live: owner plus node name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    /// The owner.
    pub owner: Owner,
    /// The node's name.
    pub node: Arc<str>,
}

/// Who wrote a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrittenBy {
    /// The node's default, written when the scenario was created.
    Default,
    /// A user's `write`.
    User,
    /// A job.
    Task {
        /// The task.
        task: Arc<str>,
        /// The task key the job ran (or was reused) under.
        key: TaskKey,
        /// The submission the job belonged to.
        submission: SubmissionId,
        /// Whether the value was reused from an identical job instead of computed.
        reused: bool,
    },
}

/// The metadata of one version of a data node (never the value itself). Shared
/// behind an `Arc` between the cache and stores that keep it in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    /// 1 for the first version of the slot, then +1 per write.
    pub version: u64,
    /// The value's fingerprint.
    pub fingerprint: Fingerprint,
    /// Who wrote it.
    pub written_by: WrittenBy,
    /// When.
    pub written_at: SystemTime,
}

impl VersionMeta {
    /// The task key the value was produced under, if a task produced it.
    pub fn producer_key(&self) -> Option<&TaskKey> {
        match &self.written_by {
            WrittenBy::Task { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// A scenario as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioMeta {
    /// Its id.
    pub id: ScenarioId,
    /// Its name (unique per graph is recommended, not enforced).
    pub name: String,
    /// The scenario type (graph name).
    pub graph: String,
    /// Free-form tags.
    pub tags: BTreeSet<String>,
    /// When it was created.
    pub created_at: SystemTime,
}

/// A value to store under its fingerprint.
pub struct NewValue<'a> {
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Its type.
    pub value_type: ValueType,
    /// The value.
    pub value: &'a ErasedValue,
    /// A scratch file already holding its encoding, which the store may adopt.
    pub file: Option<&'a Path>,
}

/// Everything one write or one finished job records, committed together: values
/// first, then the versions pointing at them, then the memo entry.
pub struct Commit<'a> {
    /// New values (a store keeps one copy per fingerprint).
    pub values: &'a [NewValue<'a>],
    /// New current versions.
    pub versions: &'a [(SlotKey, Arc<VersionMeta>)],
    /// A memo entry: task key → output fingerprints.
    pub memo: Option<(TaskKey, &'a [Fingerprint])>,
}

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
    /// Any other failure of a store backend.
    #[error("store: {0}")]
    Backend(String),
}

/// The persistence behind a runtime.
///
/// Implementations must make [`commit`](Store::commit) all-or-nothing: after a
/// crash, either every version of a commit is visible with its value intact, or
/// none is.
pub trait Store: Send + Sync {
    /// Records a new scenario.
    fn create_scenario(
        &self,
        name: &str,
        graph: &str,
        tags: &BTreeSet<String>,
    ) -> Result<ScenarioMeta, StoreError>;

    /// Every scenario, oldest first.
    fn scenarios(&self) -> Result<Vec<ScenarioMeta>, StoreError>;

    /// A fresh submission id.
    fn next_submission_id(&self) -> Result<SubmissionId, StoreError>;

    /// The current version of a slot.
    fn current_version(&self, slot: &SlotKey) -> Result<Option<Arc<VersionMeta>>, StoreError>;

    /// Every version of a slot, oldest first.
    fn history(&self, slot: &SlotKey) -> Result<Vec<VersionMeta>, StoreError>;

    /// Whether the value with this fingerprint is present and intact enough to skip
    /// on (cheap: no full read).
    fn has_value(&self, fingerprint: &Fingerprint, value_type: &ValueType) -> bool;

    /// Loads a value.
    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError>;

    /// Commits values, versions and a memo entry atomically.
    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError>;

    /// The output fingerprints recorded for a task key, if any.
    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError>;

    /// Records a finished submission.
    fn record_submission(&self, submission: &Submission) -> Result<(), StoreError>;

    /// A scenario's submissions, oldest first.
    fn submissions(&self, scenario: ScenarioId) -> Result<Vec<Submission>, StoreError>;

    /// A directory for files that values write while materializing (same file
    /// system as the store's objects).
    fn scratch_dir(&self) -> Result<&Path, StoreError>;
}
