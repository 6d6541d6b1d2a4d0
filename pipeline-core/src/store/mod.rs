//! Where scenarios, data node versions, values, memo entries, jobs and lineage
//! are recorded. The runtime talks to a [`Store`] only through this trait. The
//! embedded [`SqliteStore`] (a directory with an SQLite database and
//! content-addressed value files) is the default; the in-memory
//! [`MemoryStore`] serves tests and benchmarks.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::code::CodeIdentity;
use crate::file_state::FileState;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::partial_results::PartialResults;
use crate::value::{ErasedValue, ValueType};

pub(crate) mod error;
mod memory;
mod sqlite;
mod version;

pub use crate::ids::{Owner, ScenarioId, SlotKey, SubmissionId};
pub use error::StoreError;
pub use memory::MemoryStore;
#[cfg_attr(not(feature = "cli"), allow(unused_imports))]
pub(crate) use sqlite::locate;
#[cfg(feature = "remote")]
pub(crate) use sqlite::vouch_for_checked_file;
#[cfg(feature = "polars")]
pub(crate) use sqlite::vouches_for;
pub use sqlite::{
    DEFAULT_DIR, LockWait, OBJECTS_ENV, SCHEMA_VERSION, STORE_ENV, SqliteOptions, SqliteStore,
};
pub use version::{VersionMeta, WrittenBy};

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Values whose bytes were read and checked against their content hash.
    pub values_checked: u64,
    /// Bytes read to check them.
    pub bytes_checked: u64,
    /// Damaged values, each with what was wrong; each was moved aside so
    /// that the task that produced it runs again.
    pub damaged: Vec<(Fingerprint, String)>,
    /// Values whose local file was damaged and that were fetched again from
    /// the store's object store (counted among those checked, not damaged).
    pub refetched: u64,
}

/// What [`Store::evict_local`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvictReport {
    /// Local value files removed (their object store holds them).
    pub files_evicted: u64,
    /// Bytes freed on disk by removing those files: a file with other hard
    /// links (on Unix) frees nothing and counts 0.
    pub bytes_freed: u64,
    /// Values the object store lacked, uploaded before their file was
    /// removed.
    pub uploaded: u64,
    /// Values whose file was kept, each with the reason.
    pub kept: Vec<(Fingerprint, String)>,
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

/// The file holding a stored value's encoding (see [`Store::value_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFile {
    /// Where it is. Do not change or remove it: it is the store's.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The blake3 hash of its bytes (the value's fingerprint for most types).
    pub content_hash: Fingerprint,
}

/// One input of a job as it was when the job was decided: which slot, which
/// version, which fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputVersion {
    /// The input's slot.
    pub slot: SlotKey,
    /// The version the job read.
    pub version: u64,
    /// That version's fingerprint.
    pub fingerprint: Fingerprint,
    /// The schema of the input's type when the job read it (`None` where not
    /// recorded).
    pub schema: Option<Fingerprint>,
}

/// The record of the job that produced a commit's versions: what lineage is
/// built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The task.
    pub task: Arc<str>,
    /// The fingerprint of the task's code when it ran.
    pub code: Fingerprint,
    /// The task key (task, code and input fingerprints hashed together).
    pub key: TaskKey,
    /// The submission the job belonged to.
    pub submission: SubmissionId,
    /// The exact input versions, in parameter order.
    pub inputs: Vec<InputVersion>,
    /// The parts of the task's code identity when it ran (`None` where not
    /// recorded): what a later job's reason compares with.
    pub code_identity: Option<CodeIdentity>,
    /// The declared environment variables and a digest of each one's value
    /// (`None`: unset) when it ran. Values are never stored, only digests.
    pub env: Vec<(Arc<str>, Option<Fingerprint>)>,
}

/// The job that recorded a memo entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoOrigin {
    /// Its scenario (`None` when its outputs are global nodes).
    pub scenario: Option<ScenarioId>,
    /// Its submission.
    pub submission: SubmissionId,
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
    /// The job that produced the versions (absent for writes by users and
    /// defaults).
    ///
    /// A commit with a job may be made durable shortly after `commit` returns
    /// (the [`SqliteStore`] batches job commits; see [`Store::flush`]); a commit
    /// without one is durable when `commit` returns.
    pub job: Option<&'a JobRecord>,
}

/// Identifies the state of a store as [`Store::current_versions`] saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeToken(pub u64, pub u64);

/// The answer of [`Store::current_versions`].
#[derive(Debug)]
pub enum CurrentVersions {
    /// Nothing but this process's runtime writes the store.
    NotShared,
    /// No version was recorded since the token given.
    Unchanged,
    /// The current versions, as of `token`.
    Current {
        /// One per slot that has a version.
        versions: Vec<(SlotKey, Arc<VersionMeta>)>,
        /// Give it back next time.
        token: ChangeToken,
    },
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Values no version refers to any more.
    pub values_removed: u64,
    /// Value files deleted (unreferenced values, files the database does not
    /// know, temporary files of dead processes, quarantined damaged files).
    pub files_removed: u64,
    /// Memo entries whose outputs were removed.
    pub memo_entries_removed: u64,
    /// Bytes freed: the encoded size of values removed from the database,
    /// plus the size of each file removed that was the last name of its
    /// data (on Unix, a file with other hard links, such as a value file
    /// still named in a scratch directory, frees nothing and counts 0, so
    /// the sum matches what `du` loses). 0 where a store cannot tell.
    pub bytes_freed: u64,
    /// Values deleted from the store's object store (those of the values
    /// removed; nothing else there is touched).
    pub objects_deleted: u64,
    /// Partial results computed from values removed (see
    /// [`PartialResults`]).
    pub partial_results_removed: u64,
}

/// A cross-process lock on the data of one [`Owner`] (a scenario, or the global
/// nodes of a graph), held while a submission or a default write runs. Dropping
/// it releases the lock.
#[must_use = "the lock is released when dropped"]
pub struct OwnerLock(#[allow(dead_code)] Option<Box<dyn std::any::Any + Send>>);

impl OwnerLock {
    /// A lock that locks nothing (for stores no other process can open).
    pub fn none() -> Self {
        Self(None)
    }

    /// A lock held for as long as `guard` lives.
    pub fn holding(guard: impl std::any::Any + Send) -> Self {
        Self(Some(Box::new(guard)))
    }
}

impl fmt::Debug for OwnerLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "OwnerLock(held)"
        } else {
            "OwnerLock(none)"
        })
    }
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

    /// Renames a scenario.
    fn rename_scenario(&self, id: ScenarioId, name: &str) -> Result<ScenarioMeta, StoreError>;

    /// Adds (`tagged = true`) or removes a tag of a scenario.
    fn tag_scenario(
        &self,
        id: ScenarioId,
        tag: &str,
        tagged: bool,
    ) -> Result<ScenarioMeta, StoreError>;

    /// Deletes a scenario with its versions and submissions. Its values stay
    /// until [`gc`](Store::gc).
    fn delete_scenario(&self, id: ScenarioId) -> Result<(), StoreError>;

    /// A fresh id for a submission of `scenario` that starts now.
    fn next_submission_id(&self, scenario: ScenarioId) -> Result<SubmissionId, StoreError>;

    /// The current version of a slot.
    fn current_version(&self, slot: &SlotKey) -> Result<Option<Arc<VersionMeta>>, StoreError>;

    /// The current version of every slot of these owners, from the store's
    /// durable state, unless nothing changed since `known` (a token this method
    /// returned before). Stores only this process's runtime writes answer
    /// [`CurrentVersions::NotShared`]: the runtime's cache is always current.
    ///
    /// Runtimes call it after taking the owners' [`lock`](Store::lock) to bring
    /// their caches up to date with other processes' writes.
    fn current_versions(
        &self,
        _owners: &[Owner],
        _known: Option<ChangeToken>,
    ) -> Result<CurrentVersions, StoreError> {
        Ok(CurrentVersions::NotShared)
    }

    /// Every version of a slot, oldest first.
    fn history(&self, slot: &SlotKey) -> Result<Vec<VersionMeta>, StoreError>;

    /// One version of a slot.
    fn version(&self, slot: &SlotKey, version: u64) -> Result<Option<VersionMeta>, StoreError> {
        Ok(self
            .history(slot)?
            .into_iter()
            .find(|m| m.version == version))
    }

    /// The record of the job that wrote a version (its code and exact inputs),
    /// if the version was written by a job and the store keeps lineage.
    fn job_record(&self, slot: &SlotKey, version: u64) -> Result<Option<JobRecord>, StoreError>;

    /// The size in bytes of a stored value's encoding, without loading it where
    /// the store can tell (`None` when the value is not stored).
    fn value_size(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<Option<u64>, StoreError>;

    /// Whether the value with this fingerprint is present and intact enough to skip
    /// on (cheap: no full read).
    fn has_value(&self, fingerprint: &Fingerprint, value_type: &ValueType) -> bool;

    /// The file holding a stored value's encoding, checked against its
    /// content hash (a value the store keeps in its database is written to a
    /// scratch file first), for shipping it elsewhere (a remote executor's
    /// object store). `Ok(None)` when the store keeps no files, as the
    /// in-memory store; an error when the value is missing or damaged.
    fn value_file(&self, _fingerprint: &Fingerprint) -> Result<Option<ValueFile>, StoreError> {
        Ok(None)
    }

    /// Loads a value.
    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError>;

    /// Commits values, versions, a memo entry and a job record atomically.
    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError>;

    /// Makes every commit made so far durable (see [`Commit::job`]).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The output fingerprints recorded for a task key, if any.
    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError>;

    /// Which job recorded the memo entry of a task key, where the store
    /// knows (for the reason of a job that reuses it).
    fn memo_origin(&self, _key: &TaskKey) -> Result<Option<MemoOrigin>, StoreError> {
        Ok(None)
    }

    /// Records a finished submission.
    fn record_submission(&self, submission: &Submission) -> Result<(), StoreError>;

    /// A scenario's submissions, oldest first.
    fn submissions(&self, scenario: ScenarioId) -> Result<Vec<Submission>, StoreError>;

    /// The newest submission of each of these scenarios (a running one
    /// included), in the order given: `None` for a scenario never submitted.
    /// Stores with an index answer without reading older submissions.
    fn latest_submissions(
        &self,
        scenarios: &[ScenarioId],
    ) -> Result<Vec<Option<Submission>>, StoreError> {
        scenarios
            .iter()
            .map(|&id| Ok(self.submissions(id)?.pop()))
            .collect()
    }

    /// One submission of a scenario.
    fn submission(
        &self,
        scenario: ScenarioId,
        id: SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        Ok(self.submissions(scenario)?.into_iter().find(|s| s.id == id))
    }

    /// A page of a scenario's history: at most `limit` of its submissions
    /// older than `before` (from the newest when `None`), newest first.
    fn submissions_before(
        &self,
        scenario: ScenarioId,
        before: Option<SubmissionId>,
        limit: usize,
    ) -> Result<Vec<Submission>, StoreError> {
        let mut all = self.submissions(scenario)?;
        all.retain(|s| before.is_none_or(|b| s.id < b));
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }

    /// A directory for files that values write while materializing (same file
    /// system as the store's objects).
    fn scratch_dir(&self) -> Result<&Path, StoreError>;

    /// Locks an owner's data against other processes (waiting for them when
    /// they hold it). Stores no other process can open lock nothing.
    fn lock(&self, _owner: &Owner) -> Result<OwnerLock, StoreError> {
        Ok(OwnerLock::none())
    }

    /// Who holds an owner's lock now (`"process 1234"`), without waiting or
    /// keeping it: `None` when it is free. For displays that say why a
    /// submission waits; the answer may change at once.
    fn lock_holder(&self, _owner: &Owner) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// Removes values no version refers to, and the memo entries pointing at them.
    fn gc(&self) -> Result<GcReport, StoreError>;

    /// Removes the local files of values that the store's object store
    /// holds (uploading any it lacks first), to free local disk: later reads
    /// fetch them back (see `SqliteOptions::object_store`). Stores
    /// without an object store refuse.
    fn evict_local(&self) -> Result<EvictReport, StoreError> {
        Err(StoreError::Objects(
            "this store keeps no local copies of values in an object store".to_owned(),
        ))
    }

    /// Reads every stored value's bytes and checks them against their content
    /// hash, whatever a read would trust (a scrub); damaged values are removed
    /// as a read would remove them. Stores that keep values decoded in memory
    /// have nothing to check.
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        Ok(VerifyReport::default())
    }

    /// The URL of the object store that holds the store's values too (see
    /// `SqliteOptions::object_store`), if it has one.
    fn object_store_url(&self) -> Option<&str> {
        None
    }

    /// Where the store lives, for messages (`None` for in-memory stores).
    fn location(&self) -> Option<&Path> {
        None
    }

    /// The store's cache of partial results, if it keeps one (see
    /// [`crate::partial_results`]); `None`: every aggregation runs.
    fn partial_results(&self) -> Option<&dyn PartialResults> {
        None
    }

    /// The recorded state of an external file (see [`crate::file_state`]),
    /// keyed by absolute path. Stores that do not persist have none.
    fn file_state(&self, _path: &Path) -> Result<Option<FileState>, StoreError> {
        Ok(None)
    }

    /// Records the states of external files just hashed, so that a new
    /// process trusts them without hashing again.
    fn record_file_states(&self, _states: &[(PathBuf, FileState)]) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keeps `text`, the text form of the stored value `fingerprint` (see
    /// [`ValueType::to_text`]), beside its encoding. A value someone wrote
    /// stays readable through it after its type's layout changes, when its
    /// bytes are no longer decoded (see [`crate::Value::schema`]). Stores
    /// that never outlive a build keep none.
    fn record_value_text(&self, _fingerprint: &Fingerprint, _text: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// The text recorded by [`record_value_text`](Self::record_value_text)
    /// for a stored value, if any.
    fn value_text(&self, _fingerprint: &Fingerprint) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}
