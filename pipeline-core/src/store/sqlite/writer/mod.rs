//! The write side of the SQLite store: one connection, a queue of commits, and
//! a background thread that records queued commits in batches.
//!
//! Writes by people (scenario changes, `DataNode::write`, defaults) and the
//! record of a finished submission are committed before their call returns.
//! Commits of jobs are *queued*: the writer thread appends what is queued to
//! the journal (see [`super::journal`]), one blob per batch, once no commit
//! has arrived for `batch_delay` (20 ms by default), or once the oldest has
//! waited five times that, or once 256 are queued. A job that finishes before
//! a long one is thus durable within milliseconds, while a burst of thousands
//! of small jobs costs a handful of appends, made while the jobs run (whatever
//! is still queued when the submission ends is journaled with its record,
//! while the submission waits).
//!
//! The journal is *folded* into the indexed tables, in one transaction with
//! rows in key order, once the writer has been idle for `batch_delay`, when
//! 64k journaled commits await it, before any write by a person, before a read
//! that needs the tables complete (history, lineage, submissions, gc, the
//! current versions after another process wrote), and when the store closes.
//! Folding is the same for every process: whoever folds, folds every entry,
//! so a process that died after journaling loses nothing.
//!
//! Until a commit is folded, its versions, memo entry and values are served
//! from an in-memory overlay, so this process reads its own writes; other
//! processes see them once folded: at the latest when they next refresh a
//! scenario's current versions, which they do when they take its lock, since
//! the journal's appends change the database's data version.
//!
//! Each commit stays all-or-nothing: a batch is one transaction, and if it
//! fails, its commits are recorded one savepoint each so that only the failing
//! ones are lost. A commit that cannot be recorded is reported by the next
//! call that writes or flushes; its task simply runs again later. A fold that
//! cannot run at all (the disk is full, another process holds the database
//! past the busy timeout) loses nothing: the entries stay in the journal for
//! the next fold, and reads and writes that need the tables complete fail
//! with the reason meanwhile instead of running on partial tables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use rusqlite::{Connection, TransactionBehavior, params};

use super::journal::{self, CommitRows, ObjectRow, Statements, VersionRow};
use super::objects::Objects;
use super::remote::RemoteValues;
use super::rows::{
    db_error, duration_to_sql, owner_columns, pack_detail, pack_fingerprints, pack_inputs,
    pack_jobs, time_to_sql, writer_kind,
};
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::store::{ChangeToken, JobRecord, SlotKey, StoreError, VersionMeta, WrittenBy};
use crate::value::{ErasedValue, ValueType};

mod fold;
mod overlay;
mod thread;

use fold::*;
use overlay::*;

/// Queued commits that make the writer thread start a batch at once. Small, so
/// that journaling overlaps running.
const BATCH_SIZE: usize = 256;

/// Journaled commits past which the writer thread folds the journal even while
/// busy (they hold memory in the overlay until folded).
const FOLD_BACKLOG: usize = 64 * 1024;

/// How many quiet periods (`delay`) the oldest queued commit may wait while
/// commits keep arriving.
const MAX_WAITS: u32 = 5;

/// Queued commits past which a committing thread journals the queue itself
/// instead of letting it grow.
const BACKLOG: usize = 16 * 1024;

/// Log frames (pages) not yet copied into the database file past which the log
/// is checkpointed (SQLite's own default, which the write connection turns off).
const CHECKPOINT_PAGES: i64 = 1000;

/// Past this many (32 MB), even a busy writer thread or a commit that a caller
/// waits for checkpoints; below it, the checkpoint waits until writing has been
/// quiet for `delay` (checkpointing with an `fsync` in the middle of a burst of
/// commits slows the burst down by a fifth).
const CHECKPOINT_PAGES_NOW: i64 = 8 * CHECKPOINT_PAGES;

/// How a value is stored.
pub(super) enum Stored {
    /// The encoding, in the database.
    Inline(Vec<u8>),
    /// A file in `objects/`, already in place.
    File,
}

/// A value ready to be recorded: encoded or written, measured and hashed.
pub(super) struct PreparedObject {
    pub(super) fingerprint: Fingerprint,
    pub(super) value_type: ValueType,
    pub(super) value: ErasedValue,
    pub(super) size: u64,
    pub(super) content_hash: Fingerprint,
    pub(super) stored: Stored,
    /// The stored values this one names (see [`crate::Value::references`]).
    pub(super) references: Vec<Fingerprint>,
    /// Its file was adopted and is not yet flushed to disk (the writer
    /// flushes it before committing the row).
    pub(super) unsynced: bool,
}

/// One unit of writing.
pub(super) enum Op {
    /// A [`Commit`](crate::store::Commit), owned.
    Commit {
        objects: Vec<PreparedObject>,
        versions: Vec<(SlotKey, Arc<VersionMeta>)>,
        memo: Option<(TaskKey, Vec<Fingerprint>)>,
        /// Boxed: a job record is large next to a submission's handle.
        job: Option<Box<JobRecord>>,
    },
    /// A finished submission and its jobs.
    Submission(Submission),
}

/// A value whose commit is queued, as reads see it.
#[derive(Clone)]
pub(super) struct PendingObject {
    pub(super) value: ErasedValue,
    pub(super) size: u64,
    pub(super) content_hash: Fingerprint,
    pub(super) in_file: bool,
    /// Its type (for its file's extension, or its encoding).
    pub(super) value_type: ValueType,
}

/// The write connection, the SQL of multi-row statements by shape, and this
/// process's journal entries not yet folded.
pub(super) struct WriteDb {
    pub(super) conn: Connection,
    sql: Statements,
    journaled: Vec<Journaled>,
    /// Why the last fold failed, if it did (the journal then still holds
    /// entries that a write needing complete tables must not run past).
    fold_failure: Option<String>,
}

impl WriteDb {
    /// Checkpoints the log (copies it into the database file, with an `fsync`)
    /// if at least `pages` of its frames are not copied yet. Committed
    /// transactions are durable in the log already, so a checkpoint that fails
    /// or cannot finish (readers still use old pages) is simply retried later.
    pub(super) fn checkpoint_past(&self, pages: i64) {
        let pending = self.conn.query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| {
            Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?)
        });
        if pending.is_ok_and(|pending| pending >= pages) {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    /// Whether the journal holds entries (this process's or another's).
    fn journal_has_entries(&self) -> bool {
        !self.journaled.is_empty()
            || self
                .conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM journal)")
                .and_then(|mut q| q.query_row([], |r| r.get::<_, bool>(0)))
                // Unknown: folding finds out.
                .unwrap_or(true)
    }
}

/// A journal entry this process appended: its commits, in the entry's order,
/// kept (with their overlay entries) until the entry is folded.
struct Journaled {
    id: i64,
    ops: Vec<(u64, Op)>,
}

/// What became of one commit.
enum Outcome {
    /// In the indexed tables.
    Recorded,
    /// In the journal entry with this id.
    Journaled(i64),
    /// Not recorded.
    Failed(StoreError),
}

/// Where [`Shared::record_queued`] puts commits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Append them to the journal (a person's write is folded instead).
    Journal,
    /// Fold the journal and record them in the indexed tables.
    Fold,
}

/// What the writer thread does next.
enum Chore {
    /// Journal the queued commits.
    Record,
    /// Fold the journal.
    Fold,
    /// Checkpoint the log.
    Checkpoint,
    /// Stop: shut down with nothing queued.
    Stop,
}

struct Queue {
    ops: Vec<(u64, Op)>,
    next_seq: u64,
    first_at: Option<Instant>,
    last_at: Instant,
    shutdown: bool,
}

struct Shared {
    path: PathBuf,
    db: Mutex<WriteDb>,
    queue: Mutex<Queue>,
    wake: Condvar,
    overlay: Mutex<Overlay>,
    /// Commits queued, being recorded, or journaled and not yet folded.
    outstanding: AtomicUsize,
    /// Commits this process journaled and nobody has folded yet (as far as
    /// this process knows).
    journaled: AtomicUsize,
    /// Journal entries this process appended and has not seen folded.
    entries: AtomicUsize,
    /// A submission was journaled: fold as soon as the queue is empty (other
    /// processes then see its results in the tables).
    fold_soon: AtomicBool,
    /// Counts folds by this process; raised before folded commits leave the
    /// overlay, so a reader that misses one there knows to look afresh.
    folds: AtomicU64,
    /// Why queued commits were lost, not yet reported.
    lost: Mutex<Vec<String>>,
    /// Counts write batches that recorded (or tried to record) versions.
    version_batches: AtomicU64,
    /// Whether transactions were committed since the last checkpoint.
    unchecked: AtomicBool,
    objects: Arc<Objects>,
    remote: Arc<RemoteValues>,
    delay: Duration,
    /// Whether to fold when idle (see [`super::SqliteOptions::fold_when_idle`]).
    fold_when_idle: bool,
}

/// The store's single writer.
pub(super) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        path: PathBuf,
        objects: Arc<Objects>,
        remote: Arc<RemoteValues>,
        delay: Duration,
        fold_when_idle: bool,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                path,
                db: Mutex::new(WriteDb {
                    conn,
                    sql: Statements::new(),
                    journaled: Vec::new(),
                    fold_failure: None,
                }),
                queue: Mutex::new(Queue {
                    ops: Vec::new(),
                    next_seq: 1,
                    first_at: None,
                    last_at: Instant::now(),
                    shutdown: false,
                }),
                wake: Condvar::new(),
                overlay: Mutex::default(),
                outstanding: AtomicUsize::new(0),
                journaled: AtomicUsize::new(0),
                entries: AtomicUsize::new(0),
                fold_soon: AtomicBool::new(false),
                folds: AtomicU64::new(0),
                lost: Mutex::default(),
                version_batches: AtomicU64::new(0),
                unchecked: AtomicBool::new(false),
                objects,
                remote,
                delay,
                fold_when_idle,
            }),
            thread: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    /// Records `op`: queued when `deferred`, else before returning (together with
    /// everything queued before it). A submission's record is journaled with
    /// the queue; a person's write is recorded after folding the journal.
    pub(super) fn submit(&self, op: Op, deferred: bool) -> Result<(), StoreError> {
        if !deferred {
            let mode = match op {
                Op::Submission(_) => Mode::Journal,
                Op::Commit { .. } => Mode::Fold,
            };
            if mode == Mode::Journal && self.shared.fold_when_idle {
                self.shared.fold_soon.store(true, Ordering::Release);
            }
            let mut db = self.shared.db.lock();
            let seq = self.shared.queue.lock().take_seq();
            let result = self.shared.record_queued(&mut db, Some((seq, op)), mode);
            db.checkpoint_past(CHECKPOINT_PAGES_NOW);
            drop(db);
            // Lets the writer thread fold and checkpoint once things are quiet.
            if self.shared.fold_when_idle && self.shared.journaled.load(Ordering::Acquire) > 0 {
                self.start_thread();
            }
            self.shared.wake.notify_one();
            result.unwrap_or(Ok(()))?;
            return self.shared.report_lost();
        }
        // A job whose predecessors' results were lost fails with the news
        // instead of being queued.
        self.shared.report_lost()?;
        let backlog = {
            let mut queue = self.shared.queue.lock();
            let seq = queue.take_seq();
            self.shared.overlay.lock().add(seq, &op);
            self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
            let now = Instant::now();
            queue.first_at.get_or_insert(now);
            queue.last_at = now;
            queue.ops.push((seq, op));
            let len = queue.ops.len();
            if len == 1 || len >= BATCH_SIZE {
                self.shared.wake.notify_one();
            }
            len
        };
        self.start_thread();
        if backlog >= BACKLOG {
            let mut db = self.shared.db.lock();
            self.shared.record_queued(&mut db, None, Mode::Journal);
            drop(db);
            self.shared.report_lost()?;
        }
        Ok(())
    }

    /// Records everything queued and folds the journal (this process's and any
    /// other's); reports commits that were lost.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        self.with_db(|_| Ok(()))
    }

    /// Runs `f` on the write connection after recording everything queued and
    /// folding the journal.
    pub(super) fn with_db<R>(
        &self,
        f: impl FnOnce(&mut WriteDb) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.run_on_db(Mode::Fold, f)
    }

    /// Runs `f` on the write connection after journaling everything queued,
    /// for writes that need no complete tables.
    pub(super) fn with_db_unfolded<R>(
        &self,
        f: impl FnOnce(&mut WriteDb) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.run_on_db(Mode::Journal, f)
    }

    /// Records the queue as `mode` says, then runs `f`; after a fold that
    /// failed, returns its reason instead of running `f` on partial tables.
    fn run_on_db<R>(
        &self,
        mode: Mode,
        f: impl FnOnce(&mut WriteDb) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut db = self.shared.db.lock();
        self.shared.record_queued(&mut db, None, mode);
        if let Some(message) = db.fold_failure.clone().filter(|_| mode == Mode::Fold) {
            drop(db);
            self.shared.report_lost()?;
            return Err(StoreError::Database {
                path: self.shared.path.clone(),
                action: "fold the journal into the tables".to_owned(),
                message,
            });
        }
        let result = f(&mut db);
        db.checkpoint_past(CHECKPOINT_PAGES);
        drop(db);
        let value = result?;
        self.shared.report_lost()?;
        Ok(value)
    }

    /// The state of the database as this writer sees it: commits by other
    /// connections (`PRAGMA data_version`) and batches of versions by this one.
    /// Journals everything queued first.
    pub(super) fn change_token(&self) -> Result<ChangeToken, StoreError> {
        let mut db = self.shared.db.lock();
        self.shared.record_queued(&mut db, None, Mode::Journal);
        let others: i64 = db
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| db_error(&self.shared.path, "read the data version", e))?;
        drop(db);
        self.shared.report_lost()?;
        Ok(ChangeToken(
            others as u64,
            self.shared.version_batches.load(Ordering::Acquire),
        ))
    }

    /// How many journal entries this process appended and has not seen folded
    /// (the journal holding more means another process's await folding).
    pub(super) fn own_journal_entries(&self) -> usize {
        self.shared.entries.load(Ordering::Acquire)
    }

    /// How many folds this process has made (see [`super::memo_reads`]).
    pub(super) fn fold_generation(&self) -> u64 {
        self.shared.folds.load(Ordering::Acquire)
    }

    /// Whether commits are queued, being recorded, or journaled and not folded.
    pub(super) fn has_pending(&self) -> bool {
        self.shared.outstanding.load(Ordering::Acquire) > 0
    }

    /// A value whose commit is not folded yet.
    pub(super) fn pending_object(&self, fingerprint: &Fingerprint) -> Option<PendingObject> {
        if !self.has_pending() {
            return None;
        }
        let overlay = self.shared.overlay.lock();
        overlay.objects.get(fingerprint).map(|(_, o)| o.clone())
    }

    /// A memo entry whose commit is not folded yet.
    pub(super) fn pending_memo(&self, key: &TaskKey) -> Option<Vec<Fingerprint>> {
        if !self.has_pending() {
            return None;
        }
        let overlay = self.shared.overlay.lock();
        overlay.memo.get(key).map(|(_, m)| m.clone())
    }

    /// A current version whose commit is not folded yet.
    pub(super) fn pending_current(&self, slot: &SlotKey) -> Option<Arc<VersionMeta>> {
        if !self.has_pending() {
            return None;
        }
        let overlay = self.shared.overlay.lock();
        overlay.current.get(slot).map(|(_, m)| m.clone())
    }

    fn start_thread(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let mut thread = self.thread.lock();
        if thread.is_none() {
            let shared = self.shared.clone();
            *thread = std::thread::Builder::new()
                .name("pipeline-store-writer".to_owned())
                .spawn(move || shared.run())
                .ok();
            // Without a thread (spawning failed), commits are recorded at the next
            // flush, write, or drop.
            self.started.store(true, Ordering::Release);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.queue.lock().shutdown = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
        let mut db = self.shared.db.lock();
        self.shared.record_queued(&mut db, None, Mode::Fold);
        // The next process to open the store reads the whole log to index it.
        db.checkpoint_past(CHECKPOINT_PAGES);
        drop(db);
        if let Err(error) = self.shared.report_lost() {
            tracing::warn!("{error}");
        }
    }
}

impl Queue {
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}
