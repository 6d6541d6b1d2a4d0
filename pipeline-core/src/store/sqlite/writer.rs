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
use super::rows::{
    db_error, duration_to_sql, owner_columns, pack_detail, pack_fingerprints, pack_inputs,
    pack_jobs, time_to_sql, writer_kind,
};
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::store::{ChangeToken, JobRecord, SlotKey, StoreError, VersionMeta, WrittenBy};
use crate::value::{ErasedValue, ValueType};

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

/// A fast, non-cryptographic hasher for the overlay's keys (digests and slot
/// names made by this process, so no flooding concern): FxHash's mixing, one
/// word at a time. SipHash made the overlay's bookkeeping a visible part of
/// recording a submission of many small jobs.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s.
type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// What queued and journaled commits will record, keyed for reads; each entry
/// remembers the sequence number of the commit that queued it.
#[derive(Default)]
struct Overlay {
    objects: FastMap<Fingerprint, (u64, PendingObject)>,
    memo: FastMap<TaskKey, (u64, Vec<Fingerprint>)>,
    current: FastMap<SlotKey, (u64, Arc<VersionMeta>)>,
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

impl Overlay {
    fn add(&mut self, seq: u64, op: &Op) {
        let Op::Commit {
            objects,
            versions,
            memo,
            ..
        } = op
        else {
            return;
        };
        for object in objects {
            let pending = PendingObject {
                value: object.value.clone(),
                size: object.size,
                content_hash: object.content_hash,
                in_file: matches!(object.stored, Stored::File),
                value_type: object.value_type,
            };
            self.objects.insert(object.fingerprint, (seq, pending));
        }
        for (slot, meta) in versions {
            self.current.insert(slot.clone(), (seq, meta.clone()));
        }
        if let Some((key, outputs)) = memo {
            self.memo.insert(*key, (seq, outputs.clone()));
        }
    }

    fn remove(&mut self, seq: u64, op: &Op) {
        let Op::Commit {
            objects,
            versions,
            memo,
            ..
        } = op
        else {
            return;
        };
        for object in objects {
            if self
                .objects
                .get(&object.fingerprint)
                .is_some_and(|e| e.0 == seq)
            {
                self.objects.remove(&object.fingerprint);
            }
        }
        for (slot, _) in versions {
            if self.current.get(slot).is_some_and(|e| e.0 == seq) {
                self.current.remove(slot);
            }
        }
        if let Some((key, _)) = memo
            && self.memo.get(key).is_some_and(|e| e.0 == seq)
        {
            self.memo.remove(key);
        }
    }
}

impl Shared {
    /// The writer thread: waits for queued commits, lets a batch gather (see the
    /// module docs), journals it, folds when idle, and repeats until shut down
    /// with an empty queue.
    fn run(&self) {
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
    fn next_chore(&self) -> Chore {
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
    fn checkpoint(&self) {
        let db = self.db.lock();
        self.unchecked.store(false, Ordering::Release);
        db.checkpoint_past(CHECKPOINT_PAGES);
    }

    /// Records the queue (plus `extra`, last) as `mode` says and returns
    /// `extra`'s result. Failures of queued or journaled commits go to `lost`.
    fn record_queued(
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
    fn report_lost(&self) -> Result<(), StoreError> {
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
    fn rows_of<'a>(&self, ops: &'a [(u64, Op)]) -> Vec<Result<CommitRows<'a>, StoreError>> {
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
    fn journal(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Vec<Outcome> {
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
    fn fold(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Vec<Outcome> {
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
    fn settle_journaled(&self, journaled: &mut Vec<Journaled>) {
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
    fn object_row<'a>(&self, object: &'a PreparedObject) -> Result<ObjectRow<'a>, StoreError> {
        let extension = object.value_type.extension();
        let (mut size, mut hash) = (object.size, object.content_hash);
        if matches!(object.stored, Stored::File)
            && !self.objects.intact(&object.fingerprint, extension, size)
        {
            (size, hash) =
                self.objects
                    .write(&object.fingerprint, &object.value_type, &object.value)?;
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

/// What a successful fold transaction did.
struct FoldReport {
    /// Per commit given: why it was not recorded, if it was not.
    failed: Vec<Option<StoreError>>,
    /// Journaled commits that could not be recorded, described.
    lost: Vec<String>,
}

/// One fold transaction (see [`Shared::fold`]): all rows in one go, or, if
/// `each`, each commit in a savepoint of its own.
fn fold_transaction(
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
fn journaled_failure(journaled: &[Journaled], id: i64, index: usize, error: &StoreError) -> String {
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
fn failure(op: &Op, error: &StoreError) -> String {
    match op {
        Op::Commit { job: Some(job), .. } => format!(
            "the outputs of task `{}` (submission {}): {error}",
            job.task, job.submission
        ),
        _ => error.to_string(),
    }
}

fn version_row<'a>(slot: &'a SlotKey, meta: &'a VersionMeta) -> VersionRow<'a> {
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
fn write_submission(conn: &Connection, submission: &Submission) -> rusqlite::Result<()> {
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
