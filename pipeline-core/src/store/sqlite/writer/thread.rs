//! The writer thread's work on [`Shared`]: gathering queued commits into
//! batches, journaling them, folding the journal into the tables, and
//! reporting what could not be recorded.

use super::*;

impl Shared {
    /// The writer thread: waits for queued commits, lets a batch gather (see the
    /// module docs), journals it, folds when idle, and repeats until shut down
    /// with an empty queue.
    pub(super) fn run(&self) {
        loop {
            match self.next_chore() {
                Chore::Record => {
                    let mut db = self.db.lock();
                    self.record_queued(&mut db, None, Mode::Journal);
                    if self.journaled.load(Ordering::Acquire) >= FOLD_BACKLOG {
                        self.record_queued(&mut db, None, Mode::Fold);
                    }
                    db.checkpoint_past(CHECKPOINT_PAGES_NOW);
                }
                Chore::Fold => {
                    let mut db = self.db.lock();
                    self.record_queued(&mut db, None, Mode::Fold);
                }
                Chore::Checkpoint => self.checkpoint(),
                Chore::Stop => return,
            }
        }
    }

    /// Waits until queued commits are due (see the module docs), or until
    /// writing has been quiet for `delay` with the journal to fold or the log
    /// to checkpoint, or until shutdown.
    pub(super) fn next_chore(&self) -> Chore {
        let mut queue = self.queue.lock();
        loop {
            if queue.ops.is_empty() {
                if queue.shutdown {
                    return Chore::Stop;
                }
                let to_fold = || self.fold_when_idle && self.journaled.load(Ordering::Acquire) > 0;
                if self.fold_soon.swap(false, Ordering::AcqRel) && to_fold() {
                    return Chore::Fold;
                }
                if !to_fold() && !self.unchecked.load(Ordering::Acquire) {
                    self.wake.wait(&mut queue);
                } else if self
                    .wake
                    .wait_until(&mut queue, Instant::now() + self.delay)
                    .timed_out()
                    && queue.ops.is_empty()
                    && !queue.shutdown
                {
                    return if to_fold() {
                        Chore::Fold
                    } else {
                        Chore::Checkpoint
                    };
                }
                continue;
            }
            // Quiet for `delay`, or the oldest waited long enough.
            let first = queue.first_at.unwrap_or(queue.last_at);
            let deadline = (queue.last_at + self.delay).min(first + self.delay * MAX_WAITS);
            if queue.shutdown || queue.ops.len() >= BATCH_SIZE || Instant::now() >= deadline {
                return Chore::Record;
            }
            self.wake.wait_until(&mut queue, deadline);
        }
    }

    /// The checkpoint that commits someone waited for left to this thread.
    pub(super) fn checkpoint(&self) {
        let db = self.db.lock();
        self.unchecked.store(false, Ordering::Release);
        db.checkpoint_past(CHECKPOINT_PAGES);
    }

    /// Records the queue (plus `extra`, last) as `mode` says and returns
    /// `extra`'s result. Failures of queued or journaled commits go to `lost`.
    pub(super) fn record_queued(
        &self,
        db: &mut WriteDb,
        extra: Option<(u64, Op)>,
        mode: Mode,
    ) -> Option<Result<(), StoreError>> {
        let mut ops = {
            let mut queue = self.queue.lock();
            queue.first_at = None;
            std::mem::take(&mut queue.ops)
        };
        let queued = ops.len();
        let has_extra = extra.is_some();
        ops.extend(extra);
        if ops.is_empty() {
            match mode {
                Mode::Journal => return None,
                Mode::Fold if !db.journal_has_entries() => {
                    db.fold_failure = None;
                    return None;
                }
                Mode::Fold => {}
            }
        }
        if ops
            .iter()
            .any(|(_, op)| matches!(op, Op::Commit { versions, .. } if !versions.is_empty()))
        {
            self.version_batches.fetch_add(1, Ordering::AcqRel);
        }
        let outcomes = match mode {
            Mode::Journal => self.journal(db, &ops),
            Mode::Fold => self.fold(db, &ops),
        };
        self.unchecked.store(true, Ordering::Release);
        let mut ops = ops.into_iter();
        let mut extra_result = None;
        // Journaled commits stay in the overlay: lock it only to take others out.
        let mut overlay = None;
        let mut finished = 0;
        let mut failures = Vec::new();
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let (seq, op) = ops.next().expect("one outcome per commit");
            if index >= queued {
                extra_result = Some(match outcome {
                    Outcome::Failed(error) => Err(error),
                    Outcome::Recorded | Outcome::Journaled(_) => Ok(()),
                });
                continue;
            }
            match outcome {
                Outcome::Journaled(id) => {
                    match db.journaled.last_mut() {
                        Some(entry) if entry.id == id => entry.ops.push((seq, op)),
                        _ => {
                            db.journaled.push(Journaled {
                                id,
                                ops: vec![(seq, op)],
                            });
                            self.entries.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    self.journaled.fetch_add(1, Ordering::AcqRel);
                }
                Outcome::Recorded => {
                    overlay
                        .get_or_insert_with(|| self.overlay.lock())
                        .remove(seq, &op);
                    finished += 1;
                }
                Outcome::Failed(error) => {
                    overlay
                        .get_or_insert_with(|| self.overlay.lock())
                        .remove(seq, &op);
                    finished += 1;
                    failures.push(failure(&op, &error));
                }
            }
        }
        drop(overlay);
        debug_assert!(!has_extra || extra_result.is_some());
        if !failures.is_empty() {
            self.lost.lock().extend(failures);
        }
        self.outstanding.fetch_sub(finished, Ordering::AcqRel);
        extra_result
    }

    /// Reports (once) the commits that could not be recorded.
    pub(super) fn report_lost(&self) -> Result<(), StoreError> {
        let lost = std::mem::take(&mut *self.lost.lock());
        let Some(first) = lost.first() else {
            return Ok(());
        };
        Err(StoreError::Database {
            path: self.path.clone(),
            action: "save job results".to_owned(),
            message: format!(
                "{} job result(s) were not saved (their tasks will run again next time); \
                 the first: {first}",
                lost.len()
            ),
        })
    }

    /// The rows of each commit (a submission has none), after flushing adopted
    /// files to disk: no row may name a file that is not durable.
    pub(super) fn rows_of<'a>(
        &self,
        ops: &'a [(u64, Op)],
    ) -> Vec<Result<CommitRows<'a>, StoreError>> {
        let unsynced = |op: &'a Op| {
            let objects = match op {
                Op::Commit { objects, .. } => &objects[..],
                Op::Submission(_) => &[],
            };
            objects
                .iter()
                .filter(|object| object.unsynced)
                .map(|object| (&object.fingerprint, object.value_type.extension()))
        };
        // All at once (one directory flush); commit by commit if that fails.
        let all_durable = self
            .objects
            .make_durable(ops.iter().flat_map(|(_, op)| unsynced(op)))
            .is_ok();
        ops.iter()
            .map(|(_, op)| {
                if !all_durable {
                    self.objects.make_durable(unsynced(op))?;
                }
                match op {
                    Op::Commit {
                        objects,
                        versions,
                        memo,
                        job,
                    } => Ok(CommitRows {
                        objects: objects
                            .iter()
                            .map(|object| self.object_row(object))
                            .collect::<Result<_, _>>()?,
                        versions: versions
                            .iter()
                            .map(|(slot, meta)| version_row(slot, meta))
                            .collect(),
                        lineage: job.as_ref().filter(|_| !versions.is_empty()).map(|job| {
                            (
                                job.code.as_bytes().as_slice(),
                                pack_inputs(&job.inputs),
                                pack_detail(job),
                            )
                        }),
                        memo: memo.as_ref().map(|(key, outputs)| {
                            (key.0.as_bytes().as_slice(), pack_fingerprints(outputs))
                        }),
                    }),
                    Op::Submission(_) => Ok(CommitRows::default()),
                }
            })
            .collect()
    }

    /// Appends `ops`' commits to the journal as one entry, and writes a
    /// submission among them, in one transaction. If that fails, records them
    /// by folding instead (commit by commit, if need be).
    pub(super) fn journal(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Vec<Outcome> {
        let rows = self.rows_of(ops);
        let batch: Vec<&CommitRows<'_>> = rows
            .iter()
            .zip(ops)
            .filter_map(|(rows, (_, op))| match (rows, op) {
                (Ok(rows), Op::Commit { .. }) => Some(rows),
                _ => None,
            })
            .collect();
        let appended = (|| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = if batch.is_empty() {
                None
            } else {
                Some(journal::append(&tx, &journal::encode(&batch))?)
            };
            for (_, op) in ops {
                if let Op::Submission(submission) = op {
                    write_submission(&tx, submission)?;
                }
            }
            tx.commit()?;
            Ok::<_, rusqlite::Error>(id)
        })();
        let Ok(id) = appended else {
            return self.fold(db, ops);
        };
        rows.into_iter()
            .zip(ops)
            .map(|(rows, (_, op))| match (rows, op, id) {
                (Err(error), _, _) => Outcome::Failed(error),
                (Ok(_), Op::Commit { .. }, Some(id)) => Outcome::Journaled(id),
                (Ok(_), _, _) => Outcome::Recorded,
            })
            .collect()
    }

    /// Folds every journal entry into the indexed tables and records `ops`
    /// there too, in one transaction; if that fails, with one savepoint per
    /// commit, so that only failing commits are lost. This process's journaled
    /// commits leave the overlay once their entries are folded (by anyone).
    pub(super) fn fold(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Vec<Outcome> {
        let rows = self.rows_of(ops);
        let WriteDb {
            conn,
            sql,
            journaled,
            fold_failure,
        } = db;
        let fold = |conn: &mut Connection, sql: &mut Statements, each| {
            fold_transaction(conn, sql, &self.path, journaled, &rows, ops, each)
        };
        let report = fold(conn, sql, false).or_else(|_| fold(conn, sql, true));
        *fold_failure = report.as_ref().err().map(ToString::to_string);
        let failed = match report {
            Ok(report) => {
                self.folds.fetch_add(1, Ordering::AcqRel);
                self.lost.lock().extend(report.lost);
                self.settle_journaled(journaled);
                report.failed
            }
            Err(error) => {
                let message = error.to_string();
                let path = self.path.clone();
                ops.iter()
                    .map(|_| {
                        Some(StoreError::Database {
                            path: path.clone(),
                            action: "record job results".to_owned(),
                            message: message.clone(),
                        })
                    })
                    .collect()
            }
        };
        rows.into_iter()
            .zip(failed)
            .map(|(rows, failed)| match (rows, failed) {
                (Err(error), _) | (Ok(_), Some(error)) => Outcome::Failed(error),
                (Ok(_), None) => Outcome::Recorded,
            })
            .collect()
    }

    /// Forgets this process's journal entries, all folded: their commits leave
    /// the overlay (reads find them in the tables now).
    pub(super) fn settle_journaled(&self, journaled: &mut Vec<Journaled>) {
        self.entries.fetch_sub(journaled.len(), Ordering::AcqRel);
        let count: usize = journaled.iter().map(|entry| entry.ops.len()).sum();
        if count == 0 {
            return;
        }
        let mut overlay = self.overlay.lock();
        for entry in journaled.drain(..) {
            for (seq, op) in &entry.ops {
                overlay.remove(*seq, op);
            }
        }
        drop(overlay);
        self.journaled.fetch_sub(count, Ordering::AcqRel);
        self.outstanding.fetch_sub(count, Ordering::AcqRel);
    }

    /// A value's row, after making sure its file (if any) is in place: gc or a
    /// quarantine may have removed it since it was written, and we now hold the
    /// write lock, so nothing removes it until the row is committed.
    pub(super) fn object_row<'a>(
        &self,
        object: &'a PreparedObject,
    ) -> Result<ObjectRow<'a>, StoreError> {
        let extension = object.value_type.extension();
        let (mut size, mut hash) = (object.size, object.content_hash);
        if matches!(object.stored, Stored::File)
            && !self.objects.intact(&object.fingerprint, extension, size)
        {
            (size, hash) =
                self.objects
                    .write(&object.fingerprint, &object.value_type, &object.value)?;
            if self.remote.is_on() {
                let path = self.objects.path(&object.fingerprint, extension);
                self.remote
                    .upload(&object.fingerprint, extension, &path, size)
                    .map_err(StoreError::Objects)?;
            }
        }
        Ok(ObjectRow {
            fingerprint: object.fingerprint.as_bytes(),
            size: size as i64,
            content_hash: (hash != object.fingerprint).then(|| *hash.as_bytes()),
            extension,
            data: match &object.stored {
                Stored::Inline(bytes) => Some(bytes),
                Stored::File => None,
            },
            references: object
                .references
                .iter()
                .map(|r| r.as_bytes().as_slice())
                .collect(),
        })
    }
}
