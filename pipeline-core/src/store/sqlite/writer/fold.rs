//! Folding journaled commits into the indexed tables: one transaction, or
//! one savepoint per commit when a batch fails.

use super::*;

/// What a successful fold transaction did.
pub(super) struct FoldReport {
    /// Per commit given: why it was not recorded, if it was not.
    pub(super) failed: Vec<Option<StoreError>>,
    /// Journaled commits that could not be recorded, described.
    pub(super) lost: Vec<String>,
}

/// One fold transaction (see [`Shared::fold`]): all rows in one go, or, if
/// `each`, each commit in a savepoint of its own.
pub(super) fn fold_transaction(
    conn: &mut Connection,
    sql: &mut Statements,
    path: &std::path::Path,
    journaled: &[Journaled],
    rows: &[Result<CommitRows<'_>, StoreError>],
    ops: &[(u64, Op)],
    each: bool,
) -> Result<FoldReport, StoreError> {
    let err = |action: &'static str| move |e| db_error(path, action, e);
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("start a write transaction"))?;
    let entries = journal::entries(&tx).map_err(err("read the journal"))?;
    let mut report = FoldReport {
        failed: ops.iter().map(|_| None).collect(),
        lost: Vec::new(),
    };
    // An entry that does not decode is lost (and removed: it would fail every fold).
    let mut decoded = Vec::with_capacity(entries.len());
    for (id, bytes) in &entries {
        match journal::decode(bytes) {
            Ok(commits) => decoded.push((*id, commits)),
            Err(reason) => report
                .lost
                .push(format!("journal entry {id} is unreadable: {reason}")),
        }
    }
    let submission = |op: &Op, conn: &Connection| match op {
        Op::Submission(submission) => {
            write_submission(conn, submission).map_err(err("record a submission"))
        }
        Op::Commit { .. } => Ok(()),
    };
    if each {
        for (id, commits) in &decoded {
            for (index, commit) in commits.iter().enumerate() {
                let savepoint = tx.savepoint().map_err(err("start a savepoint"))?;
                match journal::insert_rows(&savepoint, sql, path, &[commit]) {
                    Ok(()) => savepoint.commit().map_err(err("release a savepoint"))?,
                    Err(error) => report
                        .lost
                        .push(journaled_failure(journaled, *id, index, &error)),
                }
            }
        }
        for ((rows, (_, op)), failed) in rows.iter().zip(ops).zip(&mut report.failed) {
            let Ok(rows) = rows else { continue };
            let savepoint = tx.savepoint().map_err(err("start a savepoint"))?;
            let result = journal::insert_rows(&savepoint, sql, path, &[rows])
                .and_then(|()| submission(op, &savepoint));
            match result {
                Ok(()) => savepoint.commit().map_err(err("release a savepoint"))?,
                Err(error) => *failed = Some(error),
            }
        }
    } else {
        let all: Vec<&CommitRows<'_>> = decoded
            .iter()
            .flat_map(|(_, commits)| commits)
            .chain(rows.iter().filter_map(|r| r.as_ref().ok()))
            .collect();
        journal::insert_rows(&tx, sql, path, &all)?;
        for (rows, (_, op)) in rows.iter().zip(ops) {
            if rows.is_ok() {
                submission(op, &tx)?;
            }
        }
    }
    if let Some((last, _)) = entries.last() {
        journal::remove_through(&tx, *last).map_err(err("empty the journal"))?;
    }
    tx.commit().map_err(err("commit a write transaction"))?;
    Ok(report)
}

/// Why a journaled commit was lost, naming its task if this process journaled it.
pub(super) fn journaled_failure(
    journaled: &[Journaled],
    id: i64,
    index: usize,
    error: &StoreError,
) -> String {
    let op = journaled
        .iter()
        .find(|entry| entry.id == id)
        .and_then(|entry| entry.ops.get(index));
    match op {
        Some((_, op)) => failure(op, error),
        None => format!("a job result journaled by another process: {error}"),
    }
}

/// Why a commit was lost.
pub(super) fn failure(op: &Op, error: &StoreError) -> String {
    match op {
        Op::Commit { job: Some(job), .. } => format!(
            "the outputs of task `{}` (submission {}): {error}",
            job.task, job.submission
        ),
        _ => error.to_string(),
    }
}

pub(super) fn version_row<'a>(slot: &'a SlotKey, meta: &'a VersionMeta) -> VersionRow<'a> {
    let (scenario, graph) = owner_columns(&slot.owner);
    let (task, key, submission, reused) = match &meta.written_by {
        WrittenBy::Task {
            task,
            key,
            submission,
            reused,
        } => (
            Some(&**task),
            Some(key.0.as_bytes().as_slice()),
            Some(submission.0 as i64),
            *reused,
        ),
        _ => (None, None, None, false),
    };
    VersionRow {
        scenario,
        graph,
        node: &slot.node,
        version: meta.version as i64,
        fingerprint: meta.fingerprint.as_bytes(),
        written_at: time_to_sql(meta.written_at),
        writer: writer_kind(&meta.written_by),
        task,
        key,
        submission,
        reused,
        schema: meta.schema.as_ref().map(|s| s.as_bytes().as_slice()),
    }
}

/// A finished submission: its row (inserted when it started) and its jobs.
pub(super) fn write_submission(conn: &Connection, submission: &Submission) -> rusqlite::Result<()> {
    let duration = duration_to_sql(submission.duration);
    let jobs = pack_jobs(&submission.jobs);
    let updated = conn
        .prepare_cached(
            "UPDATE submissions SET target = ?2, started_at = ?3, duration = ?4, jobs = ?5 \
             WHERE id = ?1",
        )?
        .execute(params![
            submission.id.0 as i64,
            submission.target,
            time_to_sql(submission.started_at),
            duration,
            jobs
        ])?;
    if updated == 0 {
        conn.prepare_cached(
            "INSERT INTO submissions (id, scenario, target, started_at, duration, pid, jobs) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            submission.id.0 as i64,
            submission.scenario.0 as i64,
            submission.target,
            time_to_sql(submission.started_at),
            duration,
            std::process::id(),
            jobs
        ])?;
    }
    Ok(())
}
