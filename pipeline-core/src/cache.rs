//! The in-process version cache: the current version of every data node slot, in a
//! `DashMap` so that readers never block writers of other nodes. The store stays the source of truth; the cache fronts it.

use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::code::CodeIdentity;
use crate::fingerprint::Fingerprint;
use crate::store::{JobRecord, SlotKey, VersionMeta};
use crate::value::ErasedValue;

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
