//! A store that keeps everything in memory: for tests, benchmarks and throwaway runs.

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use dashmap::DashMap;
use parking_lot::Mutex;

use super::{
    Commit, GcReport, JobRecord, MemoOrigin, Owner, ScenarioId, ScenarioMeta, SlotKey, Store,
    StoreError, SubmissionId, VersionMeta,
};
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::value::{ErasedValue, ValueType};

/// The job record of each version written by a job: (slot, version) → record.
type Lineage = HashMap<(SlotKey, u64), Arc<JobRecord>>;

/// Keeps scenarios, versions, values (shared, never encoded) and submissions in
/// memory. Nothing survives the process.
///
/// Lineage (the exact inputs of each job) costs a few hundred bytes per job, so
/// it is kept only by a store made with [`with_lineage`](Self::with_lineage);
/// without it, lineage shows which task and submission wrote a version but not
/// its inputs.
#[derive(Default)]
pub struct MemoryStore {
    scenarios: Mutex<Vec<ScenarioMeta>>,
    next_scenario: AtomicU64,
    next_submission: AtomicU64,
    versions: Mutex<HashMap<SlotKey, Vec<Arc<VersionMeta>>>>,
    /// Values by fingerprint and type: two types may encode a value to the
    /// same bytes, and a value is kept as the type it was written as.
    values: DashMap<(Fingerprint, TypeId), ErasedValue>,
    memo: DashMap<TaskKey, (Box<[Fingerprint]>, Option<MemoOrigin>)>,
    submissions: Mutex<Vec<Submission>>,
    lineage: Option<Mutex<Lineage>>,
    scratch: OnceLock<tempfile::TempDir>,
}

impl MemoryStore {
    /// An empty store that keeps no lineage.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that also keeps every job's exact inputs, for
    /// [`Scenario::lineage`](crate::Scenario::lineage).
    pub fn with_lineage() -> Self {
        Self {
            lineage: Some(Mutex::default()),
            ..Self::default()
        }
    }

    fn update_scenario(
        &self,
        id: ScenarioId,
        change: impl FnOnce(&mut ScenarioMeta),
    ) -> Result<ScenarioMeta, StoreError> {
        let mut scenarios = self.scenarios.lock();
        let meta = scenarios
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(StoreError::NoScenario(id))?;
        change(meta);
        Ok(meta.clone())
    }
}

impl Store for MemoryStore {
    fn create_scenario(
        &self,
        name: &str,
        graph: &str,
        tags: &BTreeSet<String>,
    ) -> Result<ScenarioMeta, StoreError> {
        let meta = ScenarioMeta {
            id: ScenarioId(self.next_scenario.fetch_add(1, Ordering::Relaxed) + 1),
            name: name.to_owned(),
            graph: graph.to_owned(),
            tags: tags.clone(),
            created_at: SystemTime::now(),
        };
        self.scenarios.lock().push(meta.clone());
        Ok(meta)
    }

    fn scenarios(&self) -> Result<Vec<ScenarioMeta>, StoreError> {
        Ok(self.scenarios.lock().clone())
    }

    fn rename_scenario(&self, id: ScenarioId, name: &str) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |meta| meta.name = name.to_owned())
    }

    fn tag_scenario(
        &self,
        id: ScenarioId,
        tag: &str,
        tagged: bool,
    ) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |meta| {
            if tagged {
                meta.tags.insert(tag.to_owned());
            } else {
                meta.tags.remove(tag);
            }
        })
    }

    fn delete_scenario(&self, id: ScenarioId) -> Result<(), StoreError> {
        {
            let mut scenarios = self.scenarios.lock();
            let before = scenarios.len();
            scenarios.retain(|m| m.id != id);
            if scenarios.len() == before {
                return Err(StoreError::NoScenario(id));
            }
        }
        let owner = Owner::Scenario(id);
        self.versions.lock().retain(|slot, _| slot.owner != owner);
        if let Some(lineage) = &self.lineage {
            lineage.lock().retain(|(slot, _), _| slot.owner != owner);
        }
        self.submissions.lock().retain(|s| s.scenario != id);
        Ok(())
    }

    fn next_submission_id(&self, _scenario: ScenarioId) -> Result<SubmissionId, StoreError> {
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

    fn job_record(&self, slot: &SlotKey, version: u64) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.lineage.as_ref().and_then(|lineage| {
            lineage
                .lock()
                .get(&(slot.clone(), version))
                .map(|record| JobRecord::clone(record))
        }))
    }

    fn value_size(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<Option<u64>, StoreError> {
        let Some(value) = self
            .values
            .get(&(*fingerprint, value_type.type_id()))
            .map(|v| v.value().clone())
        else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        value_type.encode(&*value, &mut bytes)?;
        Ok(Some(bytes.len() as u64))
    }

    fn has_value(&self, fingerprint: &Fingerprint, value_type: &ValueType) -> bool {
        self.values
            .contains_key(&(*fingerprint, value_type.type_id()))
    }

    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError> {
        self.values
            .get(&(*fingerprint, value_type.type_id()))
            .map(|v| v.value().clone())
            .ok_or_else(|| StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: "not in the in-memory store".to_owned(),
            })
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        for value in commit.values {
            self.values
                .entry((value.fingerprint, value.value_type.type_id()))
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
        if let (Some(lineage), Some(job)) = (&self.lineage, commit.job) {
            let record = Arc::new(job.clone());
            let mut lineage = lineage.lock();
            for (slot, meta) in commit.versions {
                lineage.insert((slot.clone(), meta.version), record.clone());
            }
        }
        if let Some((key, outputs)) = commit.memo {
            let origin = commit.job.map(|job| MemoOrigin {
                scenario: commit
                    .versions
                    .iter()
                    .find_map(|(slot, _)| match slot.owner {
                        Owner::Scenario(id) => Some(id),
                        Owner::Global(_) => None,
                    }),
                submission: job.submission,
            });
            self.memo.insert(key, (outputs.into(), origin));
        }
        Ok(())
    }

    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError> {
        Ok(self.memo.get(key).map(|m| m.value().0.to_vec()))
    }

    fn memo_origin(&self, key: &TaskKey) -> Result<Option<MemoOrigin>, StoreError> {
        Ok(self.memo.get(key).and_then(|m| m.value().1))
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

    /// Drops values no version refers to. The in-memory store does not know
    /// their encoded sizes, so `bytes_freed` stays 0.
    fn gc(&self) -> Result<GcReport, StoreError> {
        let referenced: HashSet<Fingerprint> = self
            .versions
            .lock()
            .values()
            .flatten()
            .map(|m| m.fingerprint)
            .collect();
        let mut report = GcReport::default();
        self.values.retain(|(fp, _), _| {
            let keep = referenced.contains(fp);
            report.values_removed += u64::from(!keep);
            keep
        });
        self.memo.retain(|_, (outputs, _)| {
            let kept: HashSet<Fingerprint> = self.values.iter().map(|e| e.key().0).collect();
            let keep = outputs.iter().all(|fp| kept.contains(fp));
            report.memo_entries_removed += u64::from(!keep);
            keep
        });
        Ok(report)
    }
}
