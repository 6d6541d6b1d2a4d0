//! The embedded store: a directory holding an SQLite database and
//! content-addressed value files.
//!
//! ```text
//! .pipeline/
//!   pipeline.db (+ -wal, -shm)   scenarios, versions, values up to the inline
//!                                limit, memo, submissions, jobs, lineage, and
//!                                the journal of job commits not yet folded
//!   objects/<fingerprint>.<ext>  larger values, one file per distinct value
//!   objects/tmp/p<pid>/          scratch files of a running process (made at
//!                                first use, removed at exit if empty)
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

mod connection;
mod file_states;
mod gc;
mod journal;
mod known;
mod lock;
mod memo_reads;
mod object_values;
mod objects;
mod options;
mod partials;
mod remote;
mod rows;
mod schema;
mod settings;
mod stamp;
mod store_impl;
mod submission_reads;
mod value_texts;
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
use self::remote::RemoteValues;
use self::rows::{
    db_error, fingerprint_at, opt_fingerprint_at, owner_columns, time_from_sql, time_to_sql,
    unpack_fingerprints, unpack_inputs, version_at,
};
#[cfg(feature = "remote")]
pub(crate) use self::stamp::vouch_for_checked_file;
#[cfg(feature = "polars")]
pub(crate) use self::stamp::vouches_for;
use self::writer::{Op, PreparedObject, Stored, WriteDb, Writer};
use super::{
    ChangeToken, Commit, CurrentVersions, EvictReport, GcReport, JobRecord, MemoOrigin, NewValue,
    Owner, OwnerLock, ScenarioId, ScenarioMeta, SlotKey, Store, StoreError, SubmissionId,
    ValueFile, VerifyReport, VersionMeta,
};
use crate::file_state::FileState;
use crate::fingerprint::Fingerprint;
use crate::job::Submission;
use crate::key::TaskKey;
use crate::partial_results::PartialResults;
use crate::value::{ErasedValue, StoreContext, ValueType};

use self::connection::*;
use self::known::*;
pub use self::lock::LockWait;
pub(crate) use self::object_values::locate;
pub use self::options::SqliteOptions;
pub use self::schema::SCHEMA_VERSION;

/// The environment variable naming the store directory (`:memory:` for an
/// in-memory store), read by [`SqliteStore::open_default`] and
/// [`Runtime::open_default`](crate::Runtime::open_default).
pub const STORE_ENV: &str = "PIPELINE_STORE";

/// The environment variable naming the object store that holds the
/// values of stores opened by [`SqliteStore::open_default`] and
/// [`Runtime::open_default`](crate::Runtime::open_default) (cargo feature
/// `objects`; see `SqliteOptions::object_store`), and that the Slurm
/// executor passes values through: `s3://bucket/prefix` or a directory.
pub const OBJECTS_ENV: &str = "PIPELINE_OBJECTS";

/// The store directory used when [`STORE_ENV`] is not set, relative to the
/// working directory.
pub const DEFAULT_DIR: &str = ".pipeline";

/// The database file inside a store directory.
const DB_FILE: &str = "pipeline.db";

/// The embedded, persistent store: an SQLite database (WAL) and
/// content-addressed value files in one directory (see [`SqliteOptions`]).
///
/// ```
/// use pipeline_core::{JobStatus, Runtime};
/// use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
/// use pipeline_core::task::TaskDef;
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
    /// The object store that holds the values too, if any.
    remote: Arc<RemoteValues>,
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
    /// working directory. With the `objects` feature, its values go to the
    /// object store `PIPELINE_OBJECTS` names, if set; `PIPELINE_STORE`
    /// naming an `s3://bucket/prefix` URL puts the registry in `.pipeline/`
    /// and the values there.
    pub fn open_default() -> Result<Self, StoreError> {
        let (dir, objects) = object_values::locate(
            std::env::var(STORE_ENV).ok().as_deref(),
            std::env::var(OBJECTS_ENV).ok().as_deref(),
        )
        .map_err(StoreError::Objects)?;
        let options = SqliteOptions::default();
        #[cfg(feature = "objects")]
        let options = match objects {
            Some(url) => options.object_store(
                crate::objects::ObjectStore::open(&url)
                    .map_err(|e| StoreError::Objects(e.to_string()))?,
            ),
            None => options,
        };
        #[cfg(not(feature = "objects"))]
        let _ = objects;
        Self::open_with(dir, options)
    }

    /// The directory [`open_default`](Self::open_default) uses.
    pub fn default_dir() -> PathBuf {
        object_values::locate(std::env::var(STORE_ENV).ok().as_deref(), None)
            .map_or_else(|_| PathBuf::from(DEFAULT_DIR), |(dir, _)| dir)
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
        tempfile::tempfile_in(objects.tmp_root())
            .map_err(|e| io("write to the store directory", &dir, e))?;
        let db_path = dir.join(DB_FILE);
        let mut conn = open_connection(&db_path, &options)?;
        schema::prepare(&mut conn, &dir, &db_path)?;
        let recorded = settings::read(&conn, settings::OBJECTS)
            .map_err(|e| db_error(&db_path, "read the store's settings", e))?;
        let (remote, switching) = Self::remote_values(&dir, &options, recorded)?;
        let remote = Arc::new(remote);
        let store = Self {
            writer: Writer::new(
                conn,
                db_path.clone(),
                objects.clone(),
                remote.clone(),
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
            remote,
            db_path,
            dir,
            options,
        };
        if switching {
            #[cfg(feature = "objects")]
            store.switch_to_object_store()?;
        }
        Ok(store)
    }

    /// The object store of the values: the one the options give (checked
    /// against the one the registry records, if any), else the recorded one;
    /// and whether the store switches to it now (it recorded none).
    fn remote_values(
        dir: &Path,
        options: &SqliteOptions,
        recorded: Option<String>,
    ) -> Result<(RemoteValues, bool), StoreError> {
        #[cfg(feature = "objects")]
        if let Some(given) = &options.object_store {
            let url = given.location().to_string();
            return match recorded {
                Some(recorded) if recorded != url => {
                    Err(object_values::conflict(dir, &recorded, &url))
                }
                recorded => Ok((RemoteValues::given(given.clone()), recorded.is_none())),
            };
        }
        let _ = (dir, options);
        Ok((
            recorded.map_or_else(RemoteValues::local_only, RemoteValues::recorded),
            false,
        ))
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| db_error(&self.db_path, action, e)
    }

    /// Encodes or writes a value for recording; a value it writes as a file
    /// (a new one: a stored value is in the object store already) is added
    /// to `uploads` with its size, for [`upload_new`](Self::upload_new).
    fn prepare<'v>(
        &self,
        value: &'v NewValue<'v>,
        uploads: &mut Vec<(&'v NewValue<'v>, u64)>,
    ) -> Result<PreparedObject, StoreError> {
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
            // Already stored: the scratch copy becomes a link to the stored
            // file, freeing its space at once; its name stays (the value may
            // scan it) until the scratch directory is swept.
            // Flushed before the row is recorded even if it was in place
            // already: the commit that put it there may not be recorded yet
            // (flushing a flushed file costs little).
            if let Some((size, hash)) = self.stored_file(&value.fingerprint, extension)? {
                self.objects
                    .share_stored(file, &value.fingerprint, extension, &hash);
                return Ok(prepared(size, hash, Stored::File, true));
            }
            let (size, hash) = self.objects.adopt(file, &value.fingerprint, extension)?;
            uploads.push((value, size));
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
        uploads.push((value, size));
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
                // Evicted meanwhile (an object store holds it): fetched back.
                let path = if self.remote.is_on()
                    && !self.objects.intact(fingerprint, extension, pending.size)
                {
                    self.local_file(fingerprint, extension, pending.size, &pending.content_hash)
                        .map_err(Unreadable::into_reason)?
                } else {
                    self.objects.path(fingerprint, extension)
                };
                return Ok(ValueFile {
                    path,
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
            None => match self.local_file(fingerprint, &extension, size, &content_hash) {
                Ok(path) => {
                    return Ok(ValueFile {
                        path,
                        size,
                        content_hash,
                    });
                }
                Err(Unreadable::Damaged(damage)) => damage,
                Err(other) => return Err(other.into_reason()),
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

/// Interns task names so that records read together share them.
fn interner() -> impl FnMut(String) -> Arc<str> {
    let mut seen: HashMap<String, Arc<str>> = HashMap::new();
    move |name| {
        seen.entry(name)
            .or_insert_with_key(|name| Arc::from(name.as_str()))
            .clone()
    }
}
