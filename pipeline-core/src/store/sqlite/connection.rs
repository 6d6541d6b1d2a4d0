//! Opening and configuring connections, and the pool of read connections.

use super::*;

/// Opens a connection with the store's settings.
pub(super) fn open_connection(
    path: &Path,
    options: &SqliteOptions,
) -> Result<Connection, StoreError> {
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
pub(super) fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    Ok(())
}

/// A pool of read connections (WAL readers never block the writer).
pub(super) struct Readers {
    pub(super) path: PathBuf,
    pub(super) busy_timeout: Duration,
    pub(super) pool: Mutex<Vec<Connection>>,
}

impl Readers {
    /// A pooled connection, or a new one.
    pub(super) fn connection(&self) -> Result<Connection, StoreError> {
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

    pub(super) fn with<R>(
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
