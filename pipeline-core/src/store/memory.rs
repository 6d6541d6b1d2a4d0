//! A store that keeps everything in memory: for tests, benchmarks and throwaway runs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use dashmap::DashMap;
use parking_lot::Mutex;

use super::{
    Commit, ScenarioId, ScenarioMeta, SlotKey, Store, StoreError, SubmissionId, VersionMeta,
};
use crate::cache::TaskKey;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::value::{ErasedValue, ValueType};

/// Keeps scenarios, versions, values (shared, never encoded) and submissions in
/// memory. Nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    scenarios: Mutex<Vec<ScenarioMeta>>,
    next_submission: AtomicU64,
    versions: Mutex<HashMap<SlotKey, Vec<Arc<VersionMeta>>>>,
    values: DashMap<Fingerprint, ErasedValue>,
    memo: DashMap<TaskKey, Box<[Fingerprint]>>,
    submissions: Mutex<Vec<Submission>>,
    scratch: OnceLock<tempfile::TempDir>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn create_scenario(
        &self,
        name: &str,
        graph: &str,
        tags: &BTreeSet<String>,
    ) -> Result<ScenarioMeta, StoreError> {
        let mut scenarios = self.scenarios.lock();
        let meta = ScenarioMeta {
            id: ScenarioId(scenarios.len() as u64 + 1),
            name: name.to_owned(),
            graph: graph.to_owned(),
            tags: tags.clone(),
            created_at: SystemTime::now(),
        };
        scenarios.push(meta.clone());
        Ok(meta)
    }

    fn scenarios(&self) -> Result<Vec<ScenarioMeta>, StoreError> {
        Ok(self.scenarios.lock().clone())
    }

    fn next_submission_id(&self) -> Result<SubmissionId, StoreError> {
        Ok(SubmissionId(
            self.next_submission.fetch_add(1, Ordering::Relaxed) + 1,
        ))
    }

    fn current_version(&self, slot: &SlotKey) -> Result<Option<Arc<VersionMeta>>, StoreError> {
        Ok(self
            .versions
            .lock()
            .get(slot)
            .and_then(|h| h.last().cloned()))
    }

    fn history(&self, slot: &SlotKey) -> Result<Vec<VersionMeta>, StoreError> {
        Ok(self
            .versions
            .lock()
            .get(slot)
            .map(|h| h.iter().map(|m| VersionMeta::clone(m)).collect())
            .unwrap_or_default())
    }

    fn has_value(&self, fingerprint: &Fingerprint, _value_type: &ValueType) -> bool {
        self.values.contains_key(fingerprint)
    }

    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        _value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError> {
        self.values
            .get(fingerprint)
            .map(|v| v.value().clone())
            .ok_or_else(|| StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: "not in the in-memory store".to_owned(),
            })
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        for value in commit.values {
            self.values
                .entry(value.fingerprint)
                .or_insert_with(|| value.value.clone());
        }
        if !commit.versions.is_empty() {
            let mut versions = self.versions.lock();
            for (slot, meta) in commit.versions {
                let history = versions.entry(slot.clone()).or_default();
                history.reserve_exact(1);
                history.push(meta.clone());
            }
        }
        if let Some((key, outputs)) = commit.memo {
            self.memo.insert(key, outputs.into());
        }
        Ok(())
    }

    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError> {
        Ok(self.memo.get(key).map(|m| m.value().to_vec()))
    }

    fn record_submission(&self, submission: &Submission) -> Result<(), StoreError> {
        self.submissions.lock().push(submission.clone());
        Ok(())
    }

    fn submissions(&self, scenario: ScenarioId) -> Result<Vec<Submission>, StoreError> {
        Ok(self
            .submissions
            .lock()
            .iter()
            .filter(|s| s.scenario == scenario)
            .cloned()
            .collect())
    }

    fn scratch_dir(&self) -> Result<&Path, StoreError> {
        if let Some(dir) = self.scratch.get() {
            return Ok(dir.path());
        }
        let dir = tempfile::Builder::new()
            .prefix("pipeline-scratch-")
            .tempdir()
            .map_err(|source| StoreError::Io {
                action: "create a scratch directory in",
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(self.scratch.get_or_init(|| dir).path())
    }
}
