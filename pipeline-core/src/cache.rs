//! The in-process version cache: the current version of every data node slot, in a
//! `DashMap` so that readers never block writers of other nodes. The store stays the source of truth; the cache fronts it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::store::{SlotKey, VersionMeta};
use crate::value::ErasedValue;

/// hash(task name, code fingerprint, input fingerprints in order): a skippable task
/// is skipped iff its outputs were produced under its current key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey(pub Fingerprint);

impl TaskKey {
    /// Computes the key of a task from its identity and its inputs' fingerprints.
    pub fn compute<'a>(
        task: &str,
        code: &Fingerprint,
        inputs: impl ExactSizeIterator<Item = &'a Fingerprint>,
    ) -> Self {
        let mut hasher = FingerprintHasher::with_domain("task-key");
        hasher.update_str(task).update_fingerprint(code);
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

/// A node's current version as the cache holds it: the metadata, and the value
/// once someone needed it (loaded from the store lazily).
#[derive(Debug)]
pub struct CachedVersion {
    /// The version's metadata.
    pub meta: Arc<VersionMeta>,
    value: OnceLock<ErasedValue>,
}

impl CachedVersion {
    /// A cached version whose value is already in memory.
    pub fn with_value(meta: Arc<VersionMeta>, value: ErasedValue) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Self { meta, value: cell }
    }

    /// A cached version whose value is still only in the store.
    pub fn without_value(meta: Arc<VersionMeta>) -> Self {
        Self {
            meta,
            value: OnceLock::new(),
        }
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
