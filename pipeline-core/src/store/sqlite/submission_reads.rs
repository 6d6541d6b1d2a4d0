//! Reads of submissions: a scenario's whole history, and the queries that
//! read only what a page shows (the newest submission of some scenarios, one
//! submission by id, a page of a history), each through the
//! `(scenario, id)` index.

use std::sync::Arc;

use rusqlite::{OptionalExtension, Row, params};

use super::objects::process_alive;
use super::rows::{self, duration_from_sql, scenario_at, time_from_sql, unpack_jobs};
use super::{SqliteStore, interner};
use crate::job::Submission;
use crate::store::{ScenarioId, Store, StoreError, SubmissionId};

/// The columns [`submission_at`] decodes.
const COLUMNS: &str = "id, scenario, target, started_at, duration, pid, jobs";

impl SqliteStore {
    /// Every submission of a scenario, oldest first.
    pub(super) fn read_submissions(
        &self,
        scenario: ScenarioId,
    ) -> Result<Vec<Submission>, StoreError> {
        self.flush()?;
        self.readers.with("read submissions", |conn| {
            let mut intern = interner();
            let mut query = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE scenario = ?1 ORDER BY id"
            ))?;
            let rows = query.query_map([scenario.0 as i64], |r| submission_at(r, &mut intern))?;
            rows.collect()
        })
    }

    /// The newest submission of each scenario, in the order given.
    pub(super) fn read_latest_submissions(
        &self,
        scenarios: &[ScenarioId],
    ) -> Result<Vec<Option<Submission>>, StoreError> {
        self.flush()?;
        self.readers.with("read the latest submissions", |conn| {
            let mut intern = interner();
            let mut query = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE scenario = ?1 ORDER BY id DESC LIMIT 1"
            ))?;
            scenarios
                .iter()
                .map(|id| {
                    query
                        .query_row([id.0 as i64], |r| submission_at(r, &mut intern))
                        .optional()
                })
                .collect()
        })
    }

    /// One submission of a scenario.
    pub(super) fn read_submission(
        &self,
        scenario: ScenarioId,
        id: SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.flush()?;
        self.readers.with("read a submission", |conn| {
            let mut intern = interner();
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE id = ?1 AND scenario = ?2"
            ))?
            .query_row(params![id.0 as i64, scenario.0 as i64], |r| {
                submission_at(r, &mut intern)
            })
            .optional()
        })
    }

    /// At most `limit` submissions of a scenario older than `before`, newest first.
    pub(super) fn read_submissions_before(
        &self,
        scenario: ScenarioId,
        before: Option<SubmissionId>,
        limit: usize,
    ) -> Result<Vec<Submission>, StoreError> {
        self.flush()?;
        let before = before.map_or(i64::MAX, |b| b.0 as i64);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers.with("read a page of submissions", |conn| {
            let mut intern = interner();
            let mut query = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE scenario = ?1 AND id < ?2 \
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = query.query_map(params![scenario.0 as i64, before, limit], |r| {
                submission_at(r, &mut intern)
            })?;
            rows.collect()
        })
    }
}

/// A submission from a row of [`COLUMNS`]. One whose duration was never
/// recorded is still running (its process is alive) or was interrupted; its
/// target says which.
fn submission_at(
    r: &Row<'_>,
    intern: &mut impl FnMut(String) -> Arc<str>,
) -> rusqlite::Result<Submission> {
    let id: i64 = r.get(0)?;
    let duration: Option<i64> = r.get(4)?;
    let mut target: String = r.get(2)?;
    if duration.is_none() {
        let pid: u32 = r.get(5)?;
        let state = if process_alive(pid) {
            "running"
        } else {
            "interrupted"
        };
        target = if target.is_empty() {
            format!("({state})")
        } else {
            format!("{target} ({state})")
        };
    }
    let jobs = match r.get_ref(6)?.as_blob_or_null()? {
        Some(bytes) => {
            unpack_jobs(bytes, intern).ok_or_else(|| rows::bad_column(6, "packed jobs"))?
        }
        None => Vec::new(),
    };
    Ok(Submission {
        id: SubmissionId(id as u64),
        scenario: scenario_at(r, 1)?,
        target,
        started_at: time_from_sql(r.get(3)?),
        duration: duration.map(duration_from_sql).unwrap_or_default(),
        jobs,
        versions: Vec::new(),
        stale_upstream: Vec::new(),
    })
}
