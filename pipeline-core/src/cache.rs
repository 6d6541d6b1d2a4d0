//! The in-process version cache: the current version of every data node slot, in a
//! `DashMap` so that readers never block writers of other nodes. The store stays the source of truth; the cache fronts it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::code::CodeIdentity;
use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::store::{JobRecord, SlotKey, VersionMeta};
use crate::value::ErasedValue;

/// hash(task identity, declared environment values, input fingerprints in
/// order), where the identity is hash(task name, code fingerprint, input and
/// output schemas): a skippable task is skipped iff its outputs were produced
/// under its current key.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TaskKey(pub Fingerprint);

impl TaskKey {
    /// The part of a task's key that only changes with the program: its
    /// name, code fingerprint, and its input and output types' schemas.
    pub fn identity(
        task: &str,
        code: &Fingerprint,
        input_schemas: &[Fingerprint],
        output_schemas: &[Fingerprint],
    ) -> Fingerprint {
        let mut hasher = FingerprintHasher::with_domain("task-identity");
        hasher.update_str(task).update_fingerprint(code);
        for schemas in [input_schemas, output_schemas] {
            hasher.update_u64(schemas.len() as u64);
            for schema in schemas {
                hasher.update_fingerprint(schema);
            }
        }
        hasher.finish()
    }

    /// Computes a task's key from its [`identity`](Self::identity), the
    /// digests of its declared environment variables' values (`None`: unset,
    /// distinct from empty) and its inputs' fingerprints.
    pub fn compute<'a>(
        identity: &Fingerprint,
        env: &[Option<Fingerprint>],
        inputs: impl ExactSizeIterator<Item = &'a Fingerprint>,
    ) -> Self {
        let mut hasher = FingerprintHasher::with_domain("task-key");
        hasher.update_fingerprint(identity);
        hasher.update_u64(env.len() as u64);
        for value in env {
            match value {
                None => hasher.update_u64(0),
                Some(digest) => hasher.update_u64(1).update_fingerprint(digest),
            };
        }
        hasher.update_u64(inputs.len() as u64);
        for input in inputs {
            hasher.update_fingerprint(input);
        }
        Self(hasher.finish())
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKey({})", self.0.short())
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A node's current version as the cache holds it: the metadata, the value
/// once someone needed it (loaded from the store lazily), and the record of
/// the job of this process that wrote it (what the reason of the next job
/// of its task is found by comparing with).
#[derive(Debug)]
pub struct CachedVersion {
    /// The version's metadata.
    pub meta: Arc<VersionMeta>,
    value: OnceLock<ErasedValue>,
    job: Option<Arc<JobBasis>>,
}

/// What a job was decided on, as the reason of a later job of its task
/// compares with: the compact part of its [`JobRecord`], kept in memory for
/// the versions this process wrote (the store has the whole record).
#[derive(Debug)]
pub(crate) struct JobBasis {
    /// The task's code fingerprint.
    pub(crate) code_fingerprint: Fingerprint,
    /// Its parts, where recorded.
    pub(crate) code: Option<CodeIdentity>,
    /// Each declared variable's value digest.
    pub(crate) env: Box<[(Arc<str>, Option<Fingerprint>)]>,
    /// Each input's fingerprint and schema, in parameter order.
    pub(crate) inputs: Box<[(Fingerprint, Option<Fingerprint>)]>,
}

impl From<&JobRecord> for JobBasis {
    fn from(record: &JobRecord) -> Self {
        Self {
            code_fingerprint: record.code,
            code: record.code_identity.clone(),
            env: record.env.iter().cloned().collect(),
            inputs: record
                .inputs
                .iter()
                .map(|input| (input.fingerprint, input.schema))
                .collect(),
        }
    }
}

impl CachedVersion {
    /// A cached version whose value is already in memory.
    pub fn with_value(meta: Arc<VersionMeta>, value: ErasedValue) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Self {
            meta,
            value: cell,
            job: None,
        }
    }

    /// A cached version whose value is still only in the store.
    pub fn without_value(meta: Arc<VersionMeta>) -> Self {
        Self {
            meta,
            value: OnceLock::new(),
            job: None,
        }
    }

    /// The same version, recording what the job that wrote it was decided on.
    pub(crate) fn written_by_job(mut self, job: Arc<JobBasis>) -> Self {
        self.job = Some(job);
        self
    }

    /// What the job of this process that wrote the version was decided on,
    /// if one did.
    pub(crate) fn job(&self) -> Option<&Arc<JobBasis>> {
        self.job.as_ref()
    }

    /// The value if it is loaded.
    pub fn loaded_value(&self) -> Option<&ErasedValue> {
        self.value.get()
    }

    /// The value, loading it with `load` the first time.
    pub fn value_or_load<E>(
        &self,
        load: impl FnOnce() -> Result<ErasedValue, E>,
    ) -> Result<&ErasedValue, E> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = load()?;
        Ok(self.value.get_or_init(|| value))
    }
}

/// Current versions of one runtime's data node slots.
#[derive(Default)]
pub(crate) struct VersionCache {
    current: DashMap<SlotKey, Arc<CachedVersion>>,
}

impl VersionCache {
    pub(crate) fn get(&self, slot: &SlotKey) -> Option<Arc<CachedVersion>> {
        self.current.get(slot).map(|entry| entry.value().clone())
    }

    pub(crate) fn set(&self, slot: SlotKey, version: Arc<CachedVersion>) {
        self.current.insert(slot, version);
    }
}
