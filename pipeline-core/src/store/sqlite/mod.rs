//! The embedded store: a directory holding an SQLite database and
//! content-addressed value files.
//!
//! ```text
//! .pipeline/
//!   pipeline.db (+ -wal, -shm)   scenarios, versions, values up to the inline
//!                                limit, memo, submissions, jobs, lineage, and
//!                                the journal of job commits not yet folded
//!   objects/<fingerprint>.<ext>  larger values, one file per distinct value
//!   objects/tmp/p<pid>/          scratch files of a running process
//!   objects/damaged/             files found damaged, kept for inspection until gc
//!   locks/                       one lock file per scenario being submitted
//! ```
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a commit costs no
//! `fsync`, and a crash of the process never loses or damages a committed
//! transaction (a power cut may lose the last ones, never consistency). Value
//! files are flushed and renamed into place before a row points at them.
//! The log is copied into the database file (a checkpoint, with an `fsync`)
//! once 1,000 of its pages are not copied yet, as SQLite would, but not in the
//! middle of a burst of job commits nor inside a commit that a caller waits
//! for, such as a submission's last: the writer thread does it once writing
//! has been quiet for [`SqliteOptions::batch_delay`] (or at once past 8,000
//! pages), and closing the store does it too: the first connection of a
//! process reads the whole log to index it, so a long log makes every new
//! process slower to open the store.
//!
//! Job commits are journaled first (one appended blob per batch) and folded
//! into the indexed tables later: when the writer is idle (at once after a
//! submission), before reads and writes that need the tables complete, and
//! when the store closes. A journal left by a process that died is folded by
//! the next one. See `writer` for the details.
//!
//! Values whose encoding is at most [`SqliteOptions::inline_limit`] bytes (16 KiB
//! by default) are stored in the database: creating, flushing and renaming a file
//! per small value would cost more than the tasks that produce them. Larger
//! values are files written with [`Value::write_file`](crate::Value::write_file).
//!
//! # Several processes
//! Any number of processes may open one store. Submitting a scenario takes its
//! lock (a file lock in `locks/`): a second process submitting the same
//! scenario waits until the first has finished (telling
//! [`SqliteOptions::on_lock_wait`]'s callback first), then decides on what
//! the first recorded (so it skips what the first computed).
//! [`SqliteOptions::lock_timeout`] makes it give up with
//! [`StoreError::LockTimeout`] instead.

mod file_states;
mod journal;
mod lock;
mod memo_reads;
mod objects;
mod rows;
mod schema;
mod submission_reads;
mod writer;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use self::lock::{Locks, OnLockWait};
use self::memo_reads::MemoReads;
use self::objects::{Objects, Unreadable, WriteFault};
use self::rows::{
    db_error, fingerprint_at, opt_fingerprint_at, owner_columns, time_from_sql, time_to_sql,
    unpack_fingerprints, unpack_inputs, version_at,
};
use self::writer::{Op, PreparedObject, Stored, WriteDb, Writer};
use super::{
    ChangeToken, Commit, CurrentVersions, GcReport, JobRecord, MemoOrigin, NewValue, Owner,
    OwnerLock, ScenarioId, ScenarioMeta, SlotKey, Store, StoreError, SubmissionId, ValueFile,
    VerifyReport, VersionMeta,
};
use crate::file_state::FileState;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::value::{ErasedValue, StoreContext, ValueType};

pub use self::lock::LockWait;
pub use self::schema::SCHEMA_VERSION;

/// The environment variable naming the store directory (`:memory:` for an
/// in-memory store), read by [`SqliteStore::open_default`] and
/// [`Runtime::open_default`](crate::Runtime::open_default).
pub const STORE_ENV: &str = "PIPELINE_STORE";

/// The store directory used when [`STORE_ENV`] is not set, relative to the
/// working directory.
pub const DEFAULT_DIR: &str = ".pipeline";

/// The database file inside a store directory.
const DB_FILE: &str = "pipeline.db";

/// How a [`SqliteStore`] behaves; built with chained setters.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::store::SqliteOptions;
/// let options = SqliteOptions::new()
///     .lock_timeout(Some(Duration::ZERO)) // fail at once if another process submits
///     .inline_limit(4096);
/// ```
#[derive(Clone)]
pub struct SqliteOptions {
    inline_limit: usize,
    lock_timeout: Option<Duration>,
    busy_timeout: Duration,
    batch_delay: Duration,
    fold_when_idle: bool,
    quiet: bool,
    on_lock_wait: Option<OnLockWait>,
    write_fault: Option<WriteFault>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            inline_limit: 16 * 1024,
            lock_timeout: None,
            busy_timeout: Duration::from_secs(60),
            batch_delay: Duration::from_millis(20),
            fold_when_idle: true,
            quiet: false,
            on_lock_wait: None,
            write_fault: None,
        }
    }
}

impl SqliteOptions {
    /// The defaults: 16 KiB inline limit, wait for locks as long as it takes,
    /// job commits batched after 20 ms without new ones, warnings through
    /// `tracing` (the framework's CLI shows them on stderr).
    pub fn new() -> Self {
        Self::default()
    }

    /// Values whose encoding has at most this many bytes are kept in the
    /// database; larger ones become files (0: every value is a file).
    pub fn inline_limit(mut self, bytes: usize) -> Self {
        self.inline_limit = bytes;
        self
    }

    /// How long to wait for another process that submits the same scenario:
    /// `None` (the default) waits as long as it takes, `Some(Duration::ZERO)`
    /// fails at once.
    pub fn lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long a write waits for another process's database transaction.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long the store waits for more job commits before journaling the
    /// queued ones together; a commit waits at most five times this while others
    /// keep coming. Every commit is journaled before its submission returns.
    pub fn batch_delay(mut self, delay: Duration) -> Self {
        self.batch_delay = delay;
        self
    }

    /// Whether the writer thread folds the journal into the indexed tables as
    /// soon as a submission is recorded and whenever writing has been quiet for
    /// the batch delay (the default). With `false`, the journal is folded only
    /// when a read or a write needs the tables complete, when 64k commits await
    /// folding, and when the store closes: a burst of submissions then pays
    /// for indexing once, at the end (meanwhile the journaled commits, values
    /// included, stay in memory for this process's reads).
    pub fn fold_when_idle(mut self, fold: bool) -> Self {
        self.fold_when_idle = fold;
        self
    }

    /// Suppresses the warning about a damaged value moved aside (a `tracing`
    /// event at WARN; the error a read returns says it anyway).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// Calls `on_wait` when this process is about to wait for another holder
    /// of a lock it needs (another process submitting the same scenario), so
    /// that a program can tell its user; the store itself says nothing.
    ///
    /// ```
    /// use pipeline_core::store::SqliteOptions;
    /// let options = SqliteOptions::new().on_lock_wait(|wait| eprintln!("{wait}"));
    /// ```
    pub fn on_lock_wait(mut self, on_wait: impl Fn(&LockWait) + Send + Sync + 'static) -> Self {
        self.on_lock_wait = Some(Arc::new(on_wait));
        self
    }

    /// Runs `fault` before each value file is written; an `Err` fails the write
    /// as the file system would. For tests of full disks and failing devices.
    #[doc(hidden)]
    pub fn write_fault(
        mut self,
        fault: impl Fn(&Path) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.write_fault = Some(Arc::new(fault));
        self
    }
}

impl fmt::Debug for SqliteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOptions")
            .field("inline_limit", &self.inline_limit)
            .field("lock_timeout", &self.lock_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("batch_delay", &self.batch_delay)
            .field("fold_when_idle", &self.fold_when_idle)
            .field("quiet", &self.quiet)
            .field("on_lock_wait", &self.on_lock_wait.is_some())
            .finish_non_exhaustive()
    }
}

/// The embedded, persistent store: an SQLite database (WAL) and
/// content-addressed value files in one directory (see [`SqliteOptions`]).
///
/// ```
/// use pipeline_core::{GraphBuilder, JobStatus, NodeSpec, Runtime, TaskDef, TaskSpec};
/// let graph = || GraphBuilder::new("doubling")
///     .node(NodeSpec::new::<i64>("x").with_default(21))
///     .node(NodeSpec::new::<i64>("y"))
///     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
///         .inputs(["x"]).outputs(["y"]).skippable(true))
///     .build()
///     .unwrap();
/// let dir = tempfile::tempdir()?;
/// {
///     let runtime = Runtime::open(dir.path())?;
///     let scenario = runtime.find_or_create_scenario(graph(), "main")?;
///     assert_eq!(scenario.submit()?.status("double"), Some(JobStatus::Completed));
/// }
/// // A later process skips what an earlier one computed.
/// let runtime = Runtime::open(dir.path())?;
/// let scenario = runtime.find_or_create_scenario(graph(), "main")?;
/// assert_eq!(scenario.submit()?.status("double"), Some(JobStatus::Skipped));
/// assert_eq!(*scenario.node::<i64>("y")?.read()?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    dir: PathBuf,
    db_path: PathBuf,
    options: SqliteOptions,
    objects: Arc<Objects>,
    readers: Readers,
    memo_reads: MemoReads,
    writer: Writer,
    locks: Locks,
    known: Known,
}

/// A value's row in `objects`.
struct StoredObject {
    size: u64,
    /// The blake3 digest of the stored bytes.
    content_hash: Fingerprint,
    extension: String,
    /// The encoding, for a value kept in the database; `None` for a file.
    data: Option<Vec<u8>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(dir, SqliteOptions::default())
    }

    /// Opens the store named by `PIPELINE_STORE`, else `.pipeline/` in the
    /// working directory.
    pub fn open_default() -> Result<Self, StoreError> {
        Self::open(Self::default_dir())
    }

    /// The directory [`open_default`](Self::open_default) uses.
    pub fn default_dir() -> PathBuf {
        std::env::var_os(STORE_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
    }

    /// Opens (creating if needed) the store in `dir`.
    ///
    /// Fails if the directory cannot be created or written, if the database
    /// belongs to another application, or if a newer version of this library
    /// wrote it; a store of an older version is migrated.
    pub fn open_with(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_owned();
        let io = |action, path: &Path, source| StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("create the store directory", &dir, e))?;
        let locks_dir = dir.join("locks");
        std::fs::create_dir_all(&locks_dir)
            .map_err(|e| io("create the directory", &locks_dir, e))?;
        let objects = Arc::new(Objects::open(
            dir.join("objects"),
            options.write_fault.clone(),
        )?);
        // SQLite can open a database on a read-only file system (and fail only at
        // the first write): say so now, naming the directory.
        tempfile::tempfile_in(objects.scratch())
            .map_err(|e| io("write to the store directory", &dir, e))?;
        let db_path = dir.join(DB_FILE);
        let mut conn = open_connection(&db_path, &options)?;
        schema::prepare(&mut conn, &dir, &db_path)?;
        Ok(Self {
            writer: Writer::new(
                conn,
                db_path.clone(),
                objects.clone(),
                options.batch_delay,
                options.fold_when_idle,
            ),
            readers: Readers {
                path: db_path.clone(),
                busy_timeout: options.busy_timeout,
                pool: Mutex::default(),
            },
            memo_reads: MemoReads::default(),
            locks: Locks::new(
                locks_dir,
                options.lock_timeout,
                options.on_lock_wait.clone(),
            ),
            known: Known::default(),
            objects,
            db_path,
            dir,
            options,
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| db_error(&self.db_path, action, e)
    }

    /// Encodes or writes a value for recording.
    fn prepare(&self, value: &NewValue<'_>) -> Result<PreparedObject, StoreError> {
        let extension = value.value_type.extension();
        let prepared = |size, content_hash, stored, unsynced| PreparedObject {
            fingerprint: value.fingerprint,
            value_type: value.value_type,
            value: value.value.clone(),
            size,
            content_hash,
            stored,
            references: value.value_type.references(&**value.value),
            unsynced,
        };
        if let Some(file) = value.file {
            // Already stored: the scratch file stays (the value may scan it)
            // until the scratch directory is swept.
            // Flushed before the row is recorded even if it was in place
            // already: the commit that put it there may not be recorded yet
            // (flushing a flushed file costs little).
            if let Some((size, hash)) = self.stored_file(&value.fingerprint, extension)? {
                return Ok(prepared(size, hash, Stored::File, true));
            }
            let (size, hash) = self.objects.adopt(file, &value.fingerprint, extension)?;
            return Ok(prepared(size, hash, Stored::File, true));
        }
        let mut bytes = Vec::new();
        value.value_type.encode(&**value.value, &mut bytes)?;
        if bytes.len() <= self.options.inline_limit {
            let hash = Fingerprint::of_bytes(&bytes);
            return Ok(prepared(
                bytes.len() as u64,
                hash,
                Stored::Inline(bytes),
                false,
            ));
        }
        drop(bytes);
        if let Some((size, hash)) = self.stored_file(&value.fingerprint, extension)? {
            return Ok(prepared(size, hash, Stored::File, false));
        }
        let (size, hash) =
            self.objects
                .write(&value.fingerprint, &value.value_type, value.value)?;
        Ok(prepared(size, hash, Stored::File, false))
    }

    /// Size and content hash of a value already stored intact as a file.
    fn stored_file(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
    ) -> Result<Option<(u64, Fingerprint)>, StoreError> {
        if let Some(pending) = self.writer.pending_object(fingerprint)
            && pending.in_file
        {
            return Ok(Some((pending.size, pending.content_hash)));
        }
        let row = self.readers.with("look up a value", |conn| {
            conn.prepare_cached(
                "SELECT size, content_hash FROM objects WHERE fingerprint = ?1 AND data IS NULL",
            )?
            .query_row([fingerprint.as_bytes().as_slice()], |r| {
                Ok((r.get::<_, i64>(0)? as u64, opt_fingerprint_at(r, 1)?))
            })
            .optional()
        })?;
        Ok(row
            .filter(|(size, _)| self.objects.intact(fingerprint, extension, *size))
            .map(|(size, hash)| (size, hash.unwrap_or(*fingerprint))))
    }

    /// The row of a stored value, if the database has one.
    fn stored_object(
        &self,
        action: &'static str,
        fingerprint: &Fingerprint,
    ) -> Result<Option<StoredObject>, StoreError> {
        self.readers.with(action, |conn| {
            conn.prepare_cached(
                "SELECT size, content_hash, extension, data FROM objects WHERE fingerprint = ?1",
            )?
            .query_row([fingerprint.as_bytes().as_slice()], |r| {
                Ok(StoredObject {
                    size: r.get::<_, i64>(0)? as u64,
                    content_hash: opt_fingerprint_at(r, 1)?.unwrap_or(*fingerprint),
                    extension: r.get(2)?,
                    data: r.get(3)?,
                })
            })
            .optional()
        })
    }

    /// The checked file of a stored value, for a view that reads it (see
    /// [`StoreContext::file_of`]). A damaged file is quarantined like any other,
    /// so that the task that produced it runs again.
    fn file_of(&self, fingerprint: &Fingerprint) -> Result<PathBuf, String> {
        self.checked_file(fingerprint).map(|file| file.path)
    }

    /// [`file_of`](Self::file_of), with the file's size and content hash.
    fn checked_file(&self, fingerprint: &Fingerprint) -> Result<ValueFile, String> {
        let spilled = |path: PathBuf, bytes: &[u8]| ValueFile {
            path,
            size: bytes.len() as u64,
            content_hash: Fingerprint::of_bytes(bytes),
        };
        // Written by this process and still queued: its file is in place, or
        // its encoding is at hand.
        if let Some(pending) = self.writer.pending_object(fingerprint) {
            let extension = pending.value_type.extension();
            if pending.in_file {
                return Ok(ValueFile {
                    path: self.objects.path(fingerprint, extension),
                    size: pending.size,
                    content_hash: pending.content_hash,
                });
            }
            let mut bytes = Vec::new();
            pending
                .value_type
                .encode(&*pending.value, &mut bytes)
                .map_err(|e| e.to_string())?;
            return self
                .objects
                .spill(fingerprint, extension, &bytes)
                .map(|path| spilled(path, &bytes))
                .map_err(|e| format!("cannot write it to a scratch file: {e}"));
        }
        let Some(StoredObject {
            size,
            content_hash,
            extension,
            data,
        }) = self
            .stored_object("look up a value", fingerprint)
            .map_err(|e| e.to_string())?
        else {
            return Err(format!("it is not in the store {}", self.dir.display()));
        };
        let damage = match &data {
            Some(bytes) if Fingerprint::of_bytes(bytes) != content_hash => {
                "its bytes in the database no longer match its content hash".to_owned()
            }
            // Intact, but a file is wanted: a failure to write one (a full
            // disk, say) is not damage, and the value stays.
            Some(bytes) => {
                return self
                    .objects
                    .spill(fingerprint, &extension, bytes)
                    .map(|path| spilled(path, bytes))
                    .map_err(|e| format!("cannot write it to a scratch file: {e}"));
            }
            None => match self
                .objects
                .checked(fingerprint, &extension, size, &content_hash)
            {
                Ok(path) => {
                    return Ok(ValueFile {
                        path,
                        size,
                        content_hash,
                    });
                }
                Err(damage) => damage,
            },
        };
        self.quarantine(fingerprint, &extension, data.is_none(), &damage);
        Err(damage)
    }

    /// Moves a damaged value out of the way so its producer runs again, and says so.
    fn quarantine(&self, fingerprint: &Fingerprint, extension: &str, in_file: bool, reason: &str) {
        let moved = if in_file {
            self.objects.quarantine(fingerprint, extension)
        } else {
            None
        };
        let _ = self.writer.with_db(|db| {
            db.conn
                .execute(
                    "DELETE FROM objects WHERE fingerprint = ?1",
                    [fingerprint.as_bytes().as_slice()],
                )
                .map_err(self.err("forget a damaged value"))
        });
        if !self.options.quiet {
            let whereto = moved.map_or_else(String::new, |p| {
                format!("; the file was moved to {}", p.display())
            });
            tracing::warn!(
                "value {} in store {} is damaged: {reason}{whereto}; \
                 the task that produced it will run again",
                fingerprint.short(),
                self.dir.display()
            );
        }
    }

    fn scenario_meta(conn: &Connection, id: ScenarioId) -> rusqlite::Result<Option<ScenarioMeta>> {
        let Some((name, graph, created)) = conn
            .query_row(
                "SELECT name, graph, created_at FROM scenarios WHERE id = ?1",
                [id.0 as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()?
        else {
            return Ok(None);
        };
        let tags = conn
            .prepare_cached("SELECT tag FROM scenario_tags WHERE scenario = ?1")?
            .query_map([id.0 as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<BTreeSet<String>>>()?;
        Ok(Some(ScenarioMeta {
            id,
            name,
            graph,
            tags,
            created_at: time_from_sql(created),
        }))
    }

    fn update_scenario(
        &self,
        id: ScenarioId,
        update: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<ScenarioMeta, StoreError> {
        self.writer.with_db(|db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(self.err("update a scenario"))?;
            if Self::scenario_meta(&tx, id)
                .map_err(self.err("update a scenario"))?
                .is_none()
            {
                return Err(StoreError::NoScenario(id));
            }
            update(&tx).map_err(self.err("update a scenario"))?;
            let meta = Self::scenario_meta(&tx, id)
                .map_err(self.err("update a scenario"))?
                .ok_or(StoreError::NoScenario(id))?;
            tx.commit().map_err(self.err("update a scenario"))?;
            Ok(meta)
        })
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Opens a connection with the store's settings.
fn open_connection(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let err = |e| db_error(path, "open the database", e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    configure(&conn, options.busy_timeout).map_err(err)?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database {
            path: path.to_owned(),
            action: "open the database".to_owned(),
            message: format!(
                "the file system does not support write-ahead logging (journal mode {mode}): \
                 put the store on a local disk"
            ),
        });
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
         PRAGMA journal_size_limit = 67108864; PRAGMA wal_autocheckpoint = 0;",
    )
    .map_err(err)?;
    Ok(conn)
}

/// Settings of every connection: how long to wait for other writers; a stable
/// query plan (the bundled SQLite is built with STAT4, which otherwise
/// re-prepares a statement whenever a parameter is bound anew: most of the
/// cost of a point query); and no checkpoint when the last connection closes
/// (it would flush the log and the database at every process exit, a cost
/// every short-lived process would pay; the log is checkpointed as it grows
/// instead, and committed transactions are safe either way).
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    Ok(())
}

/// A pool of read connections (WAL readers never block the writer).
struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    /// A pooled connection, or a new one.
    fn connection(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.pool.lock().pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(&self.path, "open the database", e))?;
        configure(&conn, self.busy_timeout)
            .map_err(|e| db_error(&self.path, "open the database", e))?;
        Ok(conn)
    }

    fn with<R>(
        &self,
        action: &str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let conn = self.connection()?;
        let result = f(&conn);
        let mut pool = self.pool.lock();
        if pool.len() < 8 {
            pool.push(conn);
        }
        drop(pool);
        result.map_err(|e| db_error(&self.path, action, e))
    }
}

/// The current version of one slot.
const CURRENT_VERSION: &str = concat!(
    "SELECT version, fingerprint, written_at, writer, task, task_key, submission, reused, schema ",
    "FROM versions WHERE scenario = ?1 AND graph = ?2 AND node = ?3 ",
    "ORDER BY version DESC LIMIT 1"
);

/// The current version of every slot of an owner (SQLite takes the other
/// columns of a `max()` query from the row holding the maximum).
const CURRENT_VERSIONS: &str = concat!(
    "SELECT node, max(version), fingerprint, written_at, writer, task, task_key, submission, ",
    "reused, schema FROM versions WHERE scenario = ?1 AND graph = ?2 GROUP BY node"
);

/// Every version of one slot.
const HISTORY: &str = concat!(
    "SELECT version, fingerprint, written_at, writer, task, task_key, submission, reused, schema ",
    "FROM versions WHERE scenario = ?1 AND graph = ?2 AND node = ?3 ORDER BY version"
);

/// One version of one slot.
const VERSION: &str = concat!(
    "SELECT version, fingerprint, written_at, writer, task, task_key, submission, reused, schema ",
    "FROM versions WHERE scenario = ?1 AND graph = ?2 AND node = ?3 AND version = ?4"
);

/// What this store knows for certain about the slots of the owners it holds
/// locked: after loading an owner's current versions under its lock, a slot not
/// among them (nor written since) has no version, which spares a query per
/// slot without a value (every output, on a first run). The knowledge is used
/// only while the lock is held, and kept across locks only for as long as no
/// version is recorded by anyone (the store's change token is unchanged).
#[derive(Default)]
struct Known {
    owners: Arc<Mutex<HashMap<Owner, KnownOwner>>>,
}

#[derive(Default)]
struct KnownOwner {
    /// Locks this store holds on the owner.
    locks: usize,
    /// The nodes with versions, and the store's state when they were loaded.
    nodes: Option<(HashSet<Arc<str>>, ChangeToken)>,
    /// Whether `nodes` holds now: loaded or confirmed under the current lock.
    active: bool,
}

/// An owner lock that keeps [`Known`] honest: the knowledge is disabled before
/// the lock is released.
struct KnownLock {
    owner: Owner,
    owners: Arc<Mutex<HashMap<Owner, KnownOwner>>>,
    _file: OwnerLock,
}

impl Drop for KnownLock {
    fn drop(&mut self) {
        let mut owners = self.owners.lock();
        if let Some(known) = owners.get_mut(&self.owner) {
            known.locks -= 1;
            if known.locks == 0 {
                known.active = false;
            }
        }
    }
}

impl Known {
    fn held(&self, owner: &Owner, file: OwnerLock) -> OwnerLock {
        self.owners.lock().entry(owner.clone()).or_default().locks += 1;
        OwnerLock::holding(KnownLock {
            owner: owner.clone(),
            owners: self.owners.clone(),
            _file: file,
        })
    }

    fn loaded(
        &self,
        owners: &[Owner],
        current: &[(SlotKey, Arc<VersionMeta>)],
        token: ChangeToken,
    ) {
        let mut known = self.owners.lock();
        for owner in owners {
            if let Some(entry) = known.get_mut(owner).filter(|e| e.locks > 0) {
                let nodes = current
                    .iter()
                    .filter(|(slot, _)| slot.owner == *owner)
                    .map(|(slot, _)| slot.node.clone())
                    .collect();
                entry.nodes = Some((nodes, token));
                entry.active = true;
            }
        }
    }

    fn activate(&self, owners: &[Owner], token: ChangeToken) {
        let mut known = self.owners.lock();
        for owner in owners {
            if let Some(entry) = known.get_mut(owner) {
                entry.active = entry.locks > 0
                    && entry
                        .nodes
                        .as_ref()
                        .is_some_and(|(_, loaded)| *loaded == token);
            }
        }
    }

    fn written(&self, versions: &[(SlotKey, Arc<VersionMeta>)]) {
        if versions.is_empty() {
            return;
        }
        let mut known = self.owners.lock();
        if known.is_empty() {
            return;
        }
        for (slot, _) in versions {
            if let Some((nodes, _)) = known.get_mut(&slot.owner).and_then(|k| k.nodes.as_mut()) {
                nodes.insert(slot.node.clone());
            }
        }
    }

    fn absent(&self, slot: &SlotKey) -> bool {
        let known = self.owners.lock();
        known
            .get(&slot.owner)
            .filter(|k| k.active && k.locks > 0)
            .and_then(|k| k.nodes.as_ref())
            .is_some_and(|(nodes, _)| !nodes.contains(&slot.node))
    }
}

/// Interns task names so that records read together share them.
fn interner() -> impl FnMut(String) -> Arc<str> {
    let mut seen: HashMap<String, Arc<str>> = HashMap::new();
    move |name| {
        seen.entry(name)
            .or_insert_with_key(|name| Arc::from(name.as_str()))
            .clone()
    }
}

impl Store for SqliteStore {
    fn create_scenario(
        &self,
        name: &str,
        graph: &str,
        tags: &BTreeSet<String>,
    ) -> Result<ScenarioMeta, StoreError> {
        let created_at = SystemTime::now();
        self.writer.with_db(|db| {
            let err = self.err("create a scenario");
            let tx = db.conn.transaction().map_err(&err)?;
            tx.execute(
                "INSERT INTO scenarios (name, graph, created_at) VALUES (?1, ?2, ?3)",
                params![name, graph, time_to_sql(created_at)],
            )
            .map_err(&err)?;
            let id = ScenarioId(tx.last_insert_rowid() as u64);
            for tag in tags {
                tx.execute(
                    "INSERT INTO scenario_tags (scenario, tag) VALUES (?1, ?2)",
                    params![id.0 as i64, tag],
                )
                .map_err(&err)?;
            }
            tx.commit().map_err(&err)?;
            Ok(ScenarioMeta {
                id,
                name: name.to_owned(),
                graph: graph.to_owned(),
                tags: tags.clone(),
                created_at,
            })
        })
    }

    fn scenarios(&self) -> Result<Vec<ScenarioMeta>, StoreError> {
        self.readers.with("list scenarios", |conn| {
            let mut tags: HashMap<i64, BTreeSet<String>> = HashMap::new();
            let mut query = conn.prepare_cached("SELECT scenario, tag FROM scenario_tags")?;
            for row in query.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (scenario, tag) = row?;
                tags.entry(scenario).or_default().insert(tag);
            }
            let mut query = conn
                .prepare_cached("SELECT id, name, graph, created_at FROM scenarios ORDER BY id")?;
            let rows = query.query_map([], |r| {
                let id: i64 = r.get(0)?;
                Ok(ScenarioMeta {
                    id: ScenarioId(id as u64),
                    name: r.get(1)?,
                    graph: r.get(2)?,
                    tags: tags.remove(&id).unwrap_or_default(),
                    created_at: time_from_sql(r.get(3)?),
                })
            })?;
            rows.collect()
        })
    }

    fn rename_scenario(&self, id: ScenarioId, name: &str) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |conn| {
            conn.execute(
                "UPDATE scenarios SET name = ?2 WHERE id = ?1",
                params![id.0 as i64, name],
            )
            .map(drop)
        })
    }

    fn tag_scenario(
        &self,
        id: ScenarioId,
        tag: &str,
        tagged: bool,
    ) -> Result<ScenarioMeta, StoreError> {
        self.update_scenario(id, |conn| {
            let sql = if tagged {
                "INSERT OR IGNORE INTO scenario_tags (scenario, tag) VALUES (?1, ?2)"
            } else {
                "DELETE FROM scenario_tags WHERE scenario = ?1 AND tag = ?2"
            };
            conn.execute(sql, params![id.0 as i64, tag]).map(drop)
        })
    }

    fn delete_scenario(&self, id: ScenarioId) -> Result<(), StoreError> {
        self.writer.with_db(|db| {
            let err = self.err("delete a scenario");
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let gone = tx
                .execute("DELETE FROM scenarios WHERE id = ?1", [id.0 as i64])
                .map_err(&err)?
                == 0;
            if gone {
                return Err(StoreError::NoScenario(id));
            }
            tx.execute_batch(&format!(
                "DELETE FROM versions WHERE scenario = {id} AND graph = '';
                 DELETE FROM submissions WHERE scenario = {id};
                 DELETE FROM scenario_tags WHERE scenario = {id};",
                id = id.0 as i64
            ))
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
            Ok(())
        })
    }

    fn next_submission_id(&self, scenario: ScenarioId) -> Result<SubmissionId, StoreError> {
        let now = time_to_sql(SystemTime::now());
        // Needs no complete tables: the journal may wait.
        self.writer.with_db_unfolded(|db| {
            db.conn
                .execute(
                    "INSERT INTO submissions (scenario, target, started_at, duration, pid) \
                     VALUES (?1, '', ?2, NULL, ?3)",
                    params![scenario.0 as i64, now, std::process::id()],
                )
                .map_err(self.err("start a submission"))?;
            Ok(SubmissionId(db.conn.last_insert_rowid() as u64))
        })
    }

    fn current_version(&self, slot: &SlotKey) -> Result<Option<Arc<VersionMeta>>, StoreError> {
        if let Some(pending) = self.writer.pending_current(slot) {
            return Ok(Some(pending));
        }
        if self.known.absent(slot) {
            return Ok(None);
        }
        let (scenario, graph) = owner_columns(&slot.owner);
        // Versions another process journaled are folded before they are read.
        let mut own_entries = Some(self.writer.own_journal_entries());
        loop {
            let read = self.readers.with("read a data node's version", |conn| {
                if let Some(own) = own_entries {
                    let entries: i64 = conn
                        .prepare_cached("SELECT count(*) FROM journal")?
                        .query_row([], |r| r.get(0))?;
                    if entries as usize > own {
                        return Ok(None);
                    }
                }
                let mut intern = interner();
                conn.prepare_cached(CURRENT_VERSION)?
                    .query_row(params![scenario, graph, &*slot.node], |r| {
                        version_at(r, 0, &mut intern)
                    })
                    .optional()
                    .map(|m| Some(m.map(Arc::new)))
            })?;
            match read {
                Some(version) => return Ok(version),
                None => {
                    self.writer.flush()?;
                    own_entries = None;
                }
            }
        }
    }

    fn current_versions(
        &self,
        owners: &[Owner],
        known: Option<ChangeToken>,
    ) -> Result<CurrentVersions, StoreError> {
        let token = self.writer.change_token()?;
        if known == Some(token) {
            self.known.activate(owners, token);
            return Ok(CurrentVersions::Unchanged);
        }
        // The tables, complete (another process may have journaled versions).
        self.writer.flush()?;
        let versions = self.readers.with("read current versions", |conn| {
            let mut intern = interner();
            let mut out = Vec::new();
            let mut query = conn.prepare_cached(CURRENT_VERSIONS)?;
            for owner in owners {
                let (scenario, graph) = owner_columns(owner);
                let mut rows = query.query(params![scenario, graph])?;
                while let Some(row) = rows.next()? {
                    let node: String = row.get(0)?;
                    let meta = version_at(row, 1, &mut intern)?;
                    out.push((
                        SlotKey {
                            owner: owner.clone(),
                            node: Arc::from(node),
                        },
                        Arc::new(meta),
                    ));
                }
            }
            Ok(out)
        })?;
        self.known.loaded(owners, &versions, token);
        Ok(CurrentVersions::Current { versions, token })
    }

    fn history(&self, slot: &SlotKey) -> Result<Vec<VersionMeta>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a data node's history", |conn| {
            let mut intern = interner();
            conn.prepare_cached(HISTORY)?
                .query_map(params![scenario, graph, &*slot.node], |r| {
                    version_at(r, 0, &mut intern)
                })?
                .collect()
        })
    }

    fn version(&self, slot: &SlotKey, version: u64) -> Result<Option<VersionMeta>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a version", |conn| {
            let mut intern = interner();
            conn.prepare_cached(VERSION)?
                .query_row(params![scenario, graph, &*slot.node, version as i64], |r| {
                    version_at(r, 0, &mut intern)
                })
                .optional()
        })
    }

    fn job_record(&self, slot: &SlotKey, version: u64) -> Result<Option<JobRecord>, StoreError> {
        self.flush()?;
        let (scenario, graph) = owner_columns(&slot.owner);
        self.readers.with("read a version's lineage", |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT v.task, v.task_key, v.submission, coalesce(v.code, l.code), \
                     coalesce(v.inputs, l.inputs), l.detail FROM versions v \
                     LEFT JOIN lineage l ON l.id = v.lineage \
                     WHERE v.scenario = ?1 AND v.graph = ?2 AND v.node = ?3 AND v.version = ?4 \
                     AND v.writer = 'task' AND coalesce(v.code, l.code) IS NOT NULL",
                )?
                .query_row(params![scenario, graph, &*slot.node, version as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        fingerprint_at(r, 1)?,
                        r.get::<_, i64>(2)?,
                        fingerprint_at(r, 3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                    ))
                })
                .optional()?;
            let Some((task, key, submission, code, inputs, detail)) = row else {
                return Ok(None);
            };
            let inputs =
                unpack_inputs(&inputs).ok_or_else(|| rows::bad_column(4, "packed inputs"))?;
            let mut job = JobRecord {
                task: Arc::from(task),
                code,
                key: TaskKey(key),
                submission: SubmissionId(submission as u64),
                inputs,
                code_identity: None,
                env: Vec::new(),
            };
            if let Some(detail) = detail {
                rows::unpack_detail(&detail, &mut job);
            }
            Ok(Some(job))
        })
    }

    fn value_size(
        &self,
        fingerprint: &Fingerprint,
        _value_type: &ValueType,
    ) -> Result<Option<u64>, StoreError> {
        if let Some(pending) = self.writer.pending_object(fingerprint) {
            return Ok(Some(pending.size));
        }
        self.readers.with("read a value's size", |conn| {
            conn.prepare_cached("SELECT size FROM objects WHERE fingerprint = ?1")?
                .query_row([fingerprint.as_bytes().as_slice()], |r| r.get::<_, i64>(0))
                .optional()
                .map(|s| s.map(|s| s as u64))
        })
    }

    fn has_value(&self, fingerprint: &Fingerprint, _value_type: &ValueType) -> bool {
        if self.writer.pending_object(fingerprint).is_some() {
            return true;
        }
        let row = self.readers.with("look up a value", |conn| {
            conn.prepare_cached(
                "SELECT size, data IS NULL, extension FROM objects WHERE fingerprint = ?1",
            )?
            .query_row([fingerprint.as_bytes().as_slice()], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
        });
        match row {
            Ok(Some((_, false, _))) => true,
            Ok(Some((size, true, extension))) => self.objects.intact(fingerprint, &extension, size),
            _ => false,
        }
    }

    fn value_file(&self, fingerprint: &Fingerprint) -> Result<Option<ValueFile>, StoreError> {
        self.checked_file(fingerprint)
            .map(Some)
            .map_err(|reason| StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason,
            })
    }

    fn get_value(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
    ) -> Result<ErasedValue, StoreError> {
        if let Some(pending) = self.writer.pending_object(fingerprint) {
            if pending.value_type == *value_type {
                return Ok(pending.value);
            }
            // Written as another type whose encoding is the same bytes.
            let mut bytes = Vec::new();
            pending.value_type.encode(&*pending.value, &mut bytes)?;
            return Ok(value_type.decode(&bytes)?);
        }
        let Some(StoredObject {
            size,
            content_hash,
            extension,
            data,
        }) = self.stored_object("read a value", fingerprint)?
        else {
            return Err(StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: format!("it is not in the store {}", self.dir.display()),
            });
        };
        let in_file = data.is_none();
        let files = |target: &Fingerprint| self.file_of(target);
        let ctx = StoreContext::new(*fingerprint, &files);
        let loaded = match data {
            Some(bytes) => {
                if Fingerprint::of_bytes(&bytes) != content_hash {
                    Err(Unreadable::Damaged(
                        "its bytes in the database no longer match its content hash".to_owned(),
                    ))
                } else {
                    value_type
                        .decode_stored(&bytes, &ctx)
                        .map_err(|e| Unreadable::of(e, |e| format!("its bytes do not decode: {e}")))
                }
            }
            None => self.objects.read(
                fingerprint,
                &extension,
                size,
                &content_hash,
                value_type,
                &ctx,
            ),
        };
        loaded.map_err(|unreadable| match unreadable {
            Unreadable::Damaged(reason) => {
                self.quarantine(fingerprint, &extension, in_file, &reason);
                StoreError::MissingValue {
                    fingerprint: *fingerprint,
                    reason: format!(
                        "{reason}; it was removed from the store, so submit again to recompute it"
                    ),
                }
            }
            // The view is intact: what it reads is recomputed (its damaged
            // file was removed by `file_of`), and the view read again.
            Unreadable::Reference(reason) => StoreError::MissingValue {
                fingerprint: *fingerprint,
                reason: format!("{reason}; submit again to recompute it"),
            },
        })
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.known.written(commit.versions);
        let objects = commit
            .values
            .iter()
            .map(|value| self.prepare(value))
            .collect::<Result<Vec<_>, _>>()?;
        let op = Op::Commit {
            objects,
            versions: commit.versions.to_vec(),
            memo: commit.memo.map(|(key, outputs)| (key, outputs.to_vec())),
            job: commit.job.map(|job| Box::new(job.clone())),
        };
        self.writer.submit(op, commit.job.is_some())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush()
    }

    fn memo(&self, key: &TaskKey) -> Result<Option<Vec<Fingerprint>>, StoreError> {
        if let Some(pending) = self.writer.pending_memo(key) {
            return Ok(Some(pending));
        }
        let key = key.0.as_bytes().as_slice();
        let shared = self
            .memo_reads
            .lookup(key, self.writer.fold_generation(), || {
                self.readers.connection().ok()
            });
        let bytes = match shared {
            Some(bytes) => bytes,
            None => self.readers.with("read a memo entry", |conn| {
                conn.prepare_cached("SELECT outputs FROM memo WHERE task_key = ?1")?
                    .query_row([key], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })?,
        };
        Ok(bytes.and_then(|b| unpack_fingerprints(&b)))
    }

    fn memo_origin(&self, key: &TaskKey) -> Result<Option<MemoOrigin>, StoreError> {
        // Queued by this process: the tables do not have it yet.
        if self.writer.pending_memo(key).is_some() {
            return Ok(None);
        }
        let row = self.readers.with("read a memo entry's origin", |conn| {
            conn.prepare_cached("SELECT scenario, submission FROM memo WHERE task_key = ?1")?
                .query_row([key.0.as_bytes().as_slice()], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
                })
                .optional()
        })?;
        Ok(row.and_then(|(scenario, submission)| {
            Some(MemoOrigin {
                scenario: scenario.filter(|&s| s != 0).map(|s| ScenarioId(s as u64)),
                submission: SubmissionId(submission? as u64),
            })
        }))
    }

    fn record_submission(&self, submission: &Submission) -> Result<(), StoreError> {
        self.memo_reads.end();
        self.writer
            .submit(Op::Submission(submission.clone()), false)
    }

    fn submissions(&self, scenario: ScenarioId) -> Result<Vec<Submission>, StoreError> {
        self.read_submissions(scenario)
    }

    fn latest_submissions(
        &self,
        scenarios: &[ScenarioId],
    ) -> Result<Vec<Option<Submission>>, StoreError> {
        self.read_latest_submissions(scenarios)
    }

    fn submission(
        &self,
        scenario: ScenarioId,
        id: SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.read_submission(scenario, id)
    }

    fn submissions_before(
        &self,
        scenario: ScenarioId,
        before: Option<SubmissionId>,
        limit: usize,
    ) -> Result<Vec<Submission>, StoreError> {
        self.read_submissions_before(scenario, before, limit)
    }

    fn scratch_dir(&self) -> Result<&Path, StoreError> {
        Ok(self.objects.scratch())
    }

    fn lock(&self, owner: &Owner) -> Result<OwnerLock, StoreError> {
        let file = self.locks.lock(owner)?;
        Ok(self.known.held(owner, file))
    }

    fn lock_holder(&self, owner: &Owner) -> Result<Option<String>, StoreError> {
        self.locks.holder(owner)
    }

    fn gc(&self) -> Result<GcReport, StoreError> {
        self.flush()?;
        let mut report = self.writer.with_db(|db| self.collect(db))?;
        let (files, bytes) = self.objects.sweep();
        report.files_removed += files;
        report.bytes_freed += bytes;
        self.remove_free_lock_files();
        let _ = self.writer.with_db(|db| {
            db.conn
                .execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(self.err("compact the database"))
        });
        Ok(report)
    }

    fn location(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn file_state(&self, path: &Path) -> Result<Option<FileState>, StoreError> {
        let Some(text) = path.to_str() else {
            return Ok(None);
        };
        self.readers.with("read a file's recorded state", |conn| {
            file_states::read(conn, text)
        })
    }

    fn record_file_states(&self, states: &[(PathBuf, FileState)]) -> Result<(), StoreError> {
        // Needs no complete tables: the journal may wait.
        self.writer.with_db_unfolded(|db| {
            file_states::write(&mut db.conn, states).map_err(self.err("record the states of files"))
        })
    }

    fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.flush()?;
        let rows: Vec<(Fingerprint, StoredObject)> = self.readers.with("list values", |conn| {
            let mut query = conn
                .prepare("SELECT fingerprint, size, content_hash, extension, data FROM objects")?;
            let rows = query.query_map([], |r| {
                let fingerprint = fingerprint_at(r, 0)?;
                Ok((
                    fingerprint,
                    StoredObject {
                        size: r.get::<_, i64>(1)? as u64,
                        content_hash: opt_fingerprint_at(r, 2)?.unwrap_or(fingerprint),
                        extension: r.get(3)?,
                        data: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })?;
        let mut report = VerifyReport::default();
        for (fingerprint, object) in rows {
            let checked = match &object.data {
                Some(bytes) if Fingerprint::of_bytes(bytes) == object.content_hash => {
                    Ok(bytes.len() as u64)
                }
                Some(_) => {
                    Err("its bytes in the database no longer match its content hash".to_owned())
                }
                None => self.objects.scrub(
                    &fingerprint,
                    &object.extension,
                    object.size,
                    &object.content_hash,
                ),
            };
            match checked {
                Ok(bytes) => {
                    report.values_checked += 1;
                    report.bytes_checked += bytes;
                }
                Err(damage) => {
                    self.quarantine(
                        &fingerprint,
                        &object.extension,
                        object.data.is_none(),
                        &damage,
                    );
                    report.damaged.push((fingerprint, damage));
                }
            }
        }
        Ok(report)
    }
}

impl SqliteStore {
    /// The database part of gc, in one write transaction (so that no writer
    /// records a version of a value while its file is being removed).
    fn collect(&self, db: &mut WriteDb) -> Result<GcReport, StoreError> {
        let err = self.err("collect garbage");
        let mut report = GcReport::default();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        // Versions a deleted scenario's open handle wrote after the deletion.
        tx.execute(
            "DELETE FROM versions WHERE scenario != 0 \
             AND scenario NOT IN (SELECT id FROM scenarios)",
            [],
        )
        .map_err(&err)?;
        // The lineage of versions deleted with their scenario.
        tx.execute(
            "DELETE FROM lineage WHERE id NOT IN \
             (SELECT lineage FROM versions WHERE lineage IS NOT NULL)",
            [],
        )
        .map_err(&err)?;
        let mut referenced: HashSet<Fingerprint> = tx
            .prepare("SELECT DISTINCT fingerprint FROM versions")
            .and_then(|mut s| {
                s.query_map([], |r| fingerprint_at(r, 0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        // Values that kept values name (views keep what they read).
        let refs: Vec<(Fingerprint, Fingerprint)> = tx
            .prepare("SELECT source, target FROM refs")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((fingerprint_at(r, 0)?, fingerprint_at(r, 1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        let mut named: HashMap<Fingerprint, Vec<Fingerprint>> = HashMap::new();
        for (source, target) in refs {
            named.entry(source).or_default().push(target);
        }
        let mut frontier: Vec<Fingerprint> = referenced.iter().copied().collect();
        while let Some(source) = frontier.pop() {
            for target in named.get(&source).into_iter().flatten() {
                if referenced.insert(*target) {
                    frontier.push(*target);
                }
            }
        }
        let objects: Vec<(Fingerprint, u64, String, bool)> = tx
            .prepare("SELECT fingerprint, size, extension, data IS NULL FROM objects")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((
                        fingerprint_at(r, 0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        let mut kept_files: HashSet<Fingerprint> = HashSet::new();
        let mut kept: HashSet<Fingerprint> = HashSet::new();
        for (fingerprint, size, extension, in_file) in objects {
            if referenced.contains(&fingerprint) {
                kept.insert(fingerprint);
                if in_file {
                    kept_files.insert(fingerprint);
                }
                continue;
            }
            tx.execute(
                "DELETE FROM objects WHERE fingerprint = ?1",
                [fingerprint.as_bytes().as_slice()],
            )
            .map_err(&err)?;
            report.values_removed += 1;
            report.bytes_freed += size;
            if in_file && std::fs::remove_file(self.objects.path(&fingerprint, &extension)).is_ok()
            {
                report.files_removed += 1;
            }
        }
        tx.execute(
            "DELETE FROM refs WHERE source NOT IN (SELECT fingerprint FROM objects)",
            [],
        )
        .map_err(&err)?;
        let memo: Vec<(Vec<u8>, Vec<u8>)> = tx
            .prepare("SELECT task_key, outputs FROM memo")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        for (key, outputs) in memo {
            let usable = unpack_fingerprints(&outputs)
                .is_some_and(|fps| fps.iter().all(|fp| kept.contains(fp)));
            if !usable {
                tx.execute("DELETE FROM memo WHERE task_key = ?1", [key])
                    .map_err(&err)?;
                report.memo_entries_removed += 1;
            }
        }
        // Files no row points at: left by a crash between writing a file and
        // recording it, or by a value now stored inline. Young ones may belong
        // to a commit still queued in another process; leave those.
        let files = self.objects.files().map_err(|source| StoreError::Io {
            action: "list",
            path: self.dir.join("objects"),
            source,
        })?;
        for (path, fingerprint, len, modified) in files {
            let young = modified
                .elapsed()
                .map_or(true, |age| age < Duration::from_secs(600));
            if !kept_files.contains(&fingerprint) && !young && std::fs::remove_file(&path).is_ok() {
                report.files_removed += 1;
                report.bytes_freed += len;
            }
        }
        tx.commit().map_err(&err)?;
        Ok(report)
    }

    /// Deletes lock files of scenarios that no longer exist and nobody holds.
    fn remove_free_lock_files(&self) {
        let Ok(scenarios) = self.scenarios() else {
            return;
        };
        let live: HashSet<String> = scenarios
            .iter()
            .map(|m| lock::file_name(&Owner::Scenario(m.id)))
            .collect();
        let Ok(entries) = std::fs::read_dir(self.dir.join("locks")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("scenario-")
                && !live.contains(&name)
                && lock::is_free(&entry.path())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
