//! [`SqliteOptions`]: how a SQLite store is opened and behaves.

use super::*;

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
    pub(super) inline_limit: usize,
    pub(super) lock_timeout: Option<Duration>,
    pub(super) busy_timeout: Duration,
    pub(super) batch_delay: Duration,
    pub(super) fold_when_idle: bool,
    pub(super) quiet: bool,
    pub(super) on_lock_wait: Option<OnLockWait>,
    pub(super) write_fault: Option<WriteFault>,
    #[cfg(feature = "objects")]
    pub(super) object_store: Option<crate::objects::ObjectStore>,
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
            #[cfg(feature = "objects")]
            object_store: None,
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

    /// Keeps the store's values in `store` too (cargo feature `objects`; a
    /// directory, or an S3 bucket with the `s3` feature), so that they
    /// survive the loss of local files and can be read on another machine
    /// that has the registry (the database). The registry stays here.
    ///
    /// - Every value the store keeps as a file (an encoding larger than the
    ///   [inline limit](Self::inline_limit); smaller ones live in the
    ///   database) is uploaded, create-only, as
    ///   `values/<first two hex digits>/<fingerprint>.<extension>` under
    ///   the store's URL by the thread that commits it, before the row that
    ///   names it is recorded: the registry never names a value the object
    ///   store lacks. A failed upload fails that commit (a task's job is
    ///   Failed, its earlier versions stay) with a message naming the
    ///   object store and the data node.
    /// - The local file stays, as a cache. A value whose local file is
    ///   missing ([evicted](SqliteStore::evict_local), or the registry
    ///   copied to a fresh machine) or damaged is fetched back, checked
    ///   against its recorded content hash, and read as usual. Skip
    ///   decisions need no value, so an unchanged task is skipped without
    ///   fetching anything.
    /// - [`gc`](crate::store::Store::gc) deletes from the object store the
    ///   values it removes from the registry, and nothing else.
    /// - The first process that opens a store with an object store records
    ///   its URL in the registry (uploading the values the store holds
    ///   already) and claims the prefix for this store (the object
    ///   `store-id`). Later processes use the recorded object store without
    ///   this option (with default [`ObjectStoreOptions`](crate::objects::ObjectStoreOptions),
    ///   S3 settings from the `AWS_*` variables); one giving another object
    ///   store is refused, as is a prefix another store claimed.
    ///
    /// ```
    /// use pipeline_core::objects::ObjectStore;
    /// use pipeline_core::store::{SqliteOptions, SqliteStore};
    /// let (dir, bucket) = (tempfile::tempdir()?, tempfile::tempdir()?);
    /// // `ObjectStore::open("s3://bucket/prefix")` with the `s3` feature.
    /// let values = ObjectStore::open(bucket.path().to_str().unwrap())?;
    /// let store = SqliteStore::open_with(dir.path(), SqliteOptions::new().object_store(values))?;
    /// assert!(store.object_store_url().unwrap().starts_with("file://"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "objects")]
    pub fn object_store(mut self, store: crate::objects::ObjectStore) -> Self {
        self.object_store = Some(store);
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
        let mut debug = f.debug_struct("SqliteOptions");
        debug
            .field("inline_limit", &self.inline_limit)
            .field("lock_timeout", &self.lock_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("batch_delay", &self.batch_delay)
            .field("fold_when_idle", &self.fold_when_idle)
            .field("quiet", &self.quiet)
            .field("on_lock_wait", &self.on_lock_wait.is_some());
        #[cfg(feature = "objects")]
        debug.field(
            "object_store",
            &self.object_store.as_ref().map(|s| s.location().to_string()),
        );
        debug.finish_non_exhaustive()
    }
}
