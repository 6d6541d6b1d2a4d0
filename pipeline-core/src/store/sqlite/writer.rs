//! The write side of the SQLite store: one connection, a queue of commits, and
//! a background thread that records queued commits in batches.
//!
//! Writes by people (scenario changes, `DataNode::write`, defaults) and the
//! record of a finished submission are committed before their call returns.
//! Commits of jobs are *queued*: the writer thread records what is queued in
//! one transaction once no commit has arrived for `batch_delay` (20 ms by
//! default), or once the oldest has waited five times that, or once 256 are
//! queued. A job that finishes before a long one is thus durable within
//! milliseconds, while a burst of thousands of small jobs costs a handful of
//! transactions instead of one per job (each transaction rewrites the pages it
//! touches, so fewer, larger ones cost much less): the thread starts early, so
//! that it records while the jobs run, and what queues up meanwhile makes the
//! next batch (whatever is still queued when the submission ends is recorded
//! with it, while the submission waits). Rows are inserted in key order. Until
//! a queued commit is recorded, its versions, memo entry and values are served
//! from an in-memory overlay, so this process reads its own writes; other
//! processes see them once recorded, at the latest when the submission (which
//! holds the scenario's lock) records itself.
//!
//! Each commit stays all-or-nothing: a batch is one transaction, and if it
//! fails, its commits are retried one transaction each so that only the
//! failing ones are lost. A queued commit that cannot be recorded is reported
//! by the next call that writes or flushes; its task simply runs again later.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use rusqlite::{Connection, ToSql, Transaction, TransactionBehavior, params};

use super::objects::Objects;
use super::rows::{
    db_error, duration_to_sql, is_constraint, owner_columns, pack_fingerprints, pack_inputs,
    pack_jobs, time_to_sql, writer_kind,
};
use crate::cache::TaskKey;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::store::{ChangeToken, JobRecord, SlotKey, StoreError, VersionMeta, WrittenBy};
use crate::value::{ErasedValue, ValueType};

/// Queued commits that make the writer thread start a batch at once. Small, so
/// that recording overlaps running (4096 left a third of a 10,000-job burst
/// for the submission to wait on).
const BATCH_SIZE: usize = 256;

/// How many quiet periods (`delay`) the oldest queued commit may wait while
/// commits keep arriving.
const MAX_WAITS: u32 = 5;

/// Queued commits past which a committing thread records the queue itself
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
        job: Option<JobRecord>,
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

/// What queued commits will record, keyed for reads; each entry remembers the
/// sequence number of the commit that queued it.
#[derive(Default)]
struct Overlay {
    objects: FastMap<Fingerprint, (u64, PendingObject)>,
    memo: FastMap<TaskKey, (u64, Vec<Fingerprint>)>,
    current: FastMap<SlotKey, (u64, Arc<VersionMeta>)>,
}

/// The write connection and the SQL of multi-row statements by shape.
pub(super) struct WriteDb {
    pub(super) conn: Connection,
    sql: HashMap<(Table, usize), String>,
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
}

/// Tables written with multi-row statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Objects,
    Versions,
    Memo,
    Lineage,
    Refs,
}

impl Table {
    fn shape(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Table::Objects => (
                "INSERT INTO objects (fingerprint, size, content_hash, extension, data) VALUES",
                "(?, ?, ?, ?, ?)",
                // Rewrites a row only if it changed (a value once a file, now inline).
                "ON CONFLICT (fingerprint) DO UPDATE SET size = excluded.size, \
                 content_hash = excluded.content_hash, extension = excluded.extension, \
                 data = excluded.data WHERE objects.size != excluded.size \
                 OR (objects.data IS NULL) != (excluded.data IS NULL)",
            ),
            Table::Versions => (
                "INSERT INTO versions (scenario, graph, node, version, fingerprint, written_at, \
                 writer, task, task_key, submission, reused, lineage) VALUES",
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                "",
            ),
            Table::Lineage => (
                "INSERT INTO lineage (id, code, inputs) VALUES",
                "(?, ?, ?)",
                "",
            ),
            Table::Memo => (
                "INSERT OR REPLACE INTO memo (task_key, outputs) VALUES",
                "(?, ?)",
                "",
            ),
            Table::Refs => (
                "INSERT OR IGNORE INTO refs (source, target) VALUES",
                "(?, ?)",
                "",
            ),
        }
    }
}

/// Inserts `rows` with statements of up to 64 rows each (one statement per row
/// costs most of an insert). `params` appends one row's parameters.
fn insert<R>(
    tx: &Transaction<'_>,
    sql: &mut HashMap<(Table, usize), String>,
    table: Table,
    rows: &[R],
    params: impl for<'r> Fn(&'r R, &mut Vec<&'r dyn ToSql>),
) -> rusqlite::Result<()> {
    const CHUNK: usize = 64;
    let mut rest = rows;
    while !rest.is_empty() {
        // 64 at a time, then powers of two: few distinct statements to cache.
        let n = if rest.len() >= CHUNK {
            CHUNK
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let text = sql.entry((table, n)).or_insert_with(|| {
            let (head, row, end) = table.shape();
            format!("{head} {} {end}", vec![row; n].join(", "))
        });
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(n * 13);
        for row in chunk {
            params(row, &mut values);
        }
        tx.prepare_cached(text)?.execute(values.as_slice())?;
    }
    Ok(())
}

/// Sorts `rows` by `key` (B-tree inserts in key order touch each page once) and
/// keeps the last of rows with equal keys, as inserting them in turn would.
fn sort_keep_last<R, K: Ord + ?Sized>(rows: &mut Vec<R>, key: impl Fn(&R) -> &K) {
    rows.sort_by(|a, b| key(a).cmp(key(b)));
    rows.dedup_by(|later, kept| {
        let equal = key(later) == key(kept);
        if equal {
            std::mem::swap(later, kept);
        }
        equal
    });
}

struct ObjectRow<'a> {
    fingerprint: &'a [u8],
    size: i64,
    content_hash: Option<[u8; 32]>,
    extension: &'static str,
    data: Option<&'a [u8]>,
}

struct VersionRow<'a> {
    scenario: i64,
    graph: &'a str,
    node: &'a str,
    version: i64,
    fingerprint: &'a [u8],
    written_at: i64,
    writer: &'static str,
    task: Option<&'a str>,
    key: Option<&'a [u8]>,
    submission: Option<i64>,
    reused: bool,
    /// The job's row in `lineage`: numbered from 0 within the transaction
    /// until the transaction knows the table's last id.
    lineage: Option<i64>,
    /// For conflict messages.
    slot: &'a SlotKey,
}

/// A job's code fingerprint and exact inputs, shared by the versions it wrote.
struct LineageRow<'a> {
    id: i64,
    code: &'a [u8],
    inputs: Vec<u8>,
}

/// A value naming another (see [`crate::Value::references`]).
struct RefRow<'a> {
    source: &'a [u8],
    target: &'a [u8],
}

struct MemoRow<'a> {
    key: &'a [u8],
    outputs: Vec<u8>,
}

/// What the writer thread does next.
enum Chore {
    /// Record the queued commits.
    Record,
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
    /// Commits queued or being recorded.
    outstanding: AtomicUsize,
    /// Why queued commits were lost, not yet reported.
    lost: Mutex<Vec<String>>,
    /// Counts write batches that recorded (or tried to record) versions.
    version_batches: AtomicU64,
    /// Whether transactions were committed since the last checkpoint.
    unchecked: AtomicBool,
    objects: Arc<Objects>,
    delay: Duration,
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
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                path,
                db: Mutex::new(WriteDb {
                    conn,
                    sql: HashMap::new(),
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
                lost: Mutex::default(),
                version_batches: AtomicU64::new(0),
                unchecked: AtomicBool::new(false),
                objects,
                delay,
            }),
            thread: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    /// Records `op`: queued when `deferred`, else before returning (together with
    /// everything queued before it).
    pub(super) fn submit(&self, op: Op, deferred: bool) -> Result<(), StoreError> {
        if !deferred {
            let mut db = self.shared.db.lock();
            let seq = self.shared.queue.lock().take_seq();
            let result = self.shared.record_queued(&mut db, Some((seq, op)));
            db.checkpoint_past(CHECKPOINT_PAGES_NOW);
            drop(db);
            // Lets the writer thread, if any, checkpoint once things are quiet.
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
            self.flush()?;
        }
        Ok(())
    }

    /// Records everything queued; reports queued commits that were lost.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        if self.shared.outstanding.load(Ordering::Acquire) > 0 {
            let mut db = self.shared.db.lock();
            self.shared.record_queued(&mut db, None);
        }
        self.shared.report_lost()
    }

    /// Runs `f` on the write connection after recording everything queued.
    pub(super) fn with_db<R>(
        &self,
        f: impl FnOnce(&mut WriteDb) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut db = self.shared.db.lock();
        self.shared.record_queued(&mut db, None);
        let result = f(&mut db);
        db.checkpoint_past(CHECKPOINT_PAGES);
        drop(db);
        let value = result?;
        self.shared.report_lost()?;
        Ok(value)
    }

    /// The state of the database as this writer sees it: commits by other
    /// connections (`PRAGMA data_version`) and batches of versions by this one.
    /// Records everything queued first.
    pub(super) fn change_token(&self) -> Result<ChangeToken, StoreError> {
        let mut db = self.shared.db.lock();
        self.shared.record_queued(&mut db, None);
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

    /// Whether commits are queued or being recorded.
    pub(super) fn has_pending(&self) -> bool {
        self.shared.outstanding.load(Ordering::Acquire) > 0
    }

    /// A queued value.
    pub(super) fn pending_object(&self, fingerprint: &Fingerprint) -> Option<PendingObject> {
        if !self.has_pending() {
            return None;
        }
        let overlay = self.shared.overlay.lock();
        overlay.objects.get(fingerprint).map(|(_, o)| o.clone())
    }

    /// A queued memo entry.
    pub(super) fn pending_memo(&self, key: &TaskKey) -> Option<Vec<Fingerprint>> {
        if !self.has_pending() {
            return None;
        }
        let overlay = self.shared.overlay.lock();
        overlay.memo.get(key).map(|(_, m)| m.clone())
    }

    /// A queued current version.
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
        self.shared.record_queued(&mut db, None);
        // The next process to open the store reads the whole log to index it.
        db.checkpoint_past(CHECKPOINT_PAGES);
        drop(db);
        if let Err(error) = self.shared.report_lost() {
            eprintln!("pipeline: warning: {error}");
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
    /// module docs), records it, and repeats until shut down with an empty queue.
    fn run(&self) {
        loop {
            match self.next_chore() {
                Chore::Record => {
                    let mut db = self.db.lock();
                    self.record_queued(&mut db, None);
                    db.checkpoint_past(CHECKPOINT_PAGES_NOW);
                }
                Chore::Checkpoint => self.checkpoint(),
                Chore::Stop => return,
            }
        }
    }

    /// Waits until queued commits are due (see the module docs), or until the
    /// log has waited a quiet `delay` for its checkpoint, or until shutdown.
    fn next_chore(&self) -> Chore {
        let mut queue = self.queue.lock();
        loop {
            if queue.ops.is_empty() {
                if queue.shutdown {
                    return Chore::Stop;
                }
                if !self.unchecked.load(Ordering::Acquire) {
                    self.wake.wait(&mut queue);
                } else if self
                    .wake
                    .wait_until(&mut queue, Instant::now() + self.delay)
                    .timed_out()
                    && queue.ops.is_empty()
                    && !queue.shutdown
                {
                    return Chore::Checkpoint;
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

    /// Records the queue (plus `extra`, last) and returns `extra`'s result.
    /// Failures of queued commits go to `lost`.
    fn record_queued(
        &self,
        db: &mut WriteDb,
        extra: Option<(u64, Op)>,
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
            return None;
        }
        if ops
            .iter()
            .any(|(_, op)| matches!(op, Op::Commit { versions, .. } if !versions.is_empty()))
        {
            self.version_batches.fetch_add(1, Ordering::AcqRel);
        }
        let mut results = self.write_ops(db, &ops);
        self.unchecked.store(true, Ordering::Release);
        let extra_result = if has_extra { results.pop() } else { None };
        {
            let mut overlay = self.overlay.lock();
            for (seq, op) in &ops[..queued] {
                overlay.remove(*seq, op);
            }
        }
        let failures: Vec<String> = ops[..queued]
            .iter()
            .zip(results)
            .filter_map(|((_, op), result)| {
                let error = result.err()?;
                Some(match op {
                    Op::Commit { job: Some(job), .. } => format!(
                        "the outputs of task `{}` (submission {}): {error}",
                        job.task, job.submission
                    ),
                    _ => error.to_string(),
                })
            })
            .collect();
        if !failures.is_empty() {
            self.lost.lock().extend(failures);
        }
        self.outstanding.fetch_sub(queued, Ordering::AcqRel);
        extra_result
    }

    /// Reports (once) the queued commits that could not be recorded.
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

    /// Records `ops` in one transaction; if that fails, each in its own.
    fn write_ops(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Vec<Result<(), StoreError>> {
        match self.write_transaction(db, ops) {
            Ok(()) => ops.iter().map(|_| Ok(())).collect(),
            Err(error) if ops.len() == 1 => vec![Err(error)],
            Err(_) => ops
                .iter()
                .map(|op| self.write_transaction(db, std::slice::from_ref(op)))
                .collect(),
        }
    }

    fn write_transaction(&self, db: &mut WriteDb, ops: &[(u64, Op)]) -> Result<(), StoreError> {
        // Adopted files reach the disk before any row names them.
        self.objects.make_durable(
            ops.iter()
                .filter_map(|(_, op)| match op {
                    Op::Commit { objects, .. } => Some(objects),
                    Op::Submission(_) => None,
                })
                .flatten()
                .filter(|object| object.unsynced)
                .map(|object| (&object.fingerprint, object.value_type.extension())),
        )?;
        let err = |action: &str| {
            let path = self.path.clone();
            let action = action.to_owned();
            move |e| db_error(&path, &action, e)
        };
        let mut objects = Vec::new();
        let mut versions = Vec::new();
        let mut memo = Vec::new();
        let mut lineage = Vec::new();
        let mut refs = Vec::new();
        let mut submissions = Vec::new();
        for (_, op) in ops {
            match op {
                Op::Commit {
                    objects: values,
                    versions: metas,
                    memo: entry,
                    job,
                } => {
                    for object in values {
                        objects.push(self.object_row(object)?);
                        refs.extend(object.references.iter().map(|target| RefRow {
                            source: object.fingerprint.as_bytes(),
                            target: target.as_bytes(),
                        }));
                    }
                    let id = job.as_ref().filter(|_| !metas.is_empty()).map(|job| {
                        lineage.push(LineageRow {
                            id: lineage.len() as i64,
                            code: job.code.as_bytes(),
                            inputs: pack_inputs(&job.inputs),
                        });
                        lineage.len() as i64 - 1
                    });
                    for (slot, meta) in metas {
                        versions.push(version_row(slot, meta, id));
                    }
                    if let Some((key, outputs)) = entry {
                        memo.push(MemoRow {
                            key: key.0.as_bytes(),
                            outputs: pack_fingerprints(outputs),
                        });
                    }
                }
                Op::Submission(submission) => submissions.push(submission),
            }
        }
        sort_keep_last(&mut objects, |r| r.fingerprint);
        sort_keep_last(&mut memo, |r| r.key);
        versions.sort_by(|a, b| {
            (a.scenario, a.graph, a.node, a.version).cmp(&(b.scenario, b.graph, b.node, b.version))
        });
        let WriteDb { conn, sql } = db;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("start a write transaction"))?;
        if !lineage.is_empty() {
            let last: i64 = tx
                .prepare_cached("SELECT coalesce(max(id), 0) FROM lineage")
                .and_then(|mut q| q.query_row([], |r| r.get(0)))
                .map_err(err("record lineage"))?;
            for row in &mut lineage {
                row.id += last + 1;
            }
            for row in &mut versions {
                if let Some(id) = &mut row.lineage {
                    *id += last + 1;
                }
            }
            insert(&tx, sql, Table::Lineage, &lineage, |r, p| {
                p.extend([&r.id as &dyn ToSql, &r.code, &r.inputs])
            })
            .map_err(err("record lineage"))?;
        }
        insert(&tx, sql, Table::Objects, &objects, |r, p| {
            p.extend([
                &r.fingerprint as &dyn ToSql,
                &r.size,
                &r.content_hash,
                &r.extension,
                &r.data,
            ])
        })
        .map_err(err("record values"))?;
        insert(&tx, sql, Table::Versions, &versions, |r, p| {
            p.extend([
                &r.scenario as &dyn ToSql,
                &r.graph,
                &r.node,
                &r.version,
                &r.fingerprint,
                &r.written_at,
                &r.writer,
                &r.task,
                &r.key,
                &r.submission,
                &r.reused,
                &r.lineage,
            ])
        })
        .map_err(|e| {
            if is_constraint(&e) {
                let first = &versions[0];
                StoreError::Conflict {
                    slot: first.slot.to_string(),
                    version: first.version as u64,
                }
            } else {
                db_error(&self.path, "record versions", e)
            }
        })?;
        insert(&tx, sql, Table::Refs, &refs, |r, p| {
            p.extend([&r.source as &dyn ToSql, &r.target])
        })
        .map_err(err("record references between values"))?;
        // A value naming another is only recorded with it (a commit of the
        // named value that failed, or a view written by hand naming a value
        // this store never held, would leave it unreadable).
        for r in &refs {
            let present = tx
                .prepare_cached("SELECT 1 FROM objects WHERE fingerprint = ?1")
                .and_then(|mut q| q.exists([r.target]))
                .map_err(err("check references between values"))?;
            if !present {
                let target: [u8; 32] = r.target.try_into().expect("32-byte fingerprints");
                return Err(StoreError::MissingValue {
                    fingerprint: Fingerprint::from_bytes(target),
                    reason: "a value to record names it, but the store does not hold it".into(),
                });
            }
        }
        insert(&tx, sql, Table::Memo, &memo, |r, p| {
            p.extend([&r.key as &dyn ToSql, &r.outputs])
        })
        .map_err(err("record memo entries"))?;
        for submission in submissions {
            write_submission(&tx, submission).map_err(err("record a submission"))?;
        }
        tx.commit().map_err(err("commit a write transaction"))
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
        })
    }
}

fn version_row<'a>(
    slot: &'a SlotKey,
    meta: &'a VersionMeta,
    lineage: Option<i64>,
) -> VersionRow<'a> {
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
        lineage,
        slot,
    }
}

/// A finished submission: its row (inserted when it started) and its jobs.
fn write_submission(tx: &Transaction<'_>, submission: &Submission) -> rusqlite::Result<()> {
    let duration = duration_to_sql(submission.duration);
    let jobs = pack_jobs(&submission.jobs);
    let updated = tx
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
        tx.prepare_cached(
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
