//! The database schema, its version, and the migrations from older versions.
//!
//! `PRAGMA user_version` holds the schema version and `PRAGMA application_id`
//! marks the file as a pipeline store. Migration `n` turns a version `n - 1`
//! database into version `n`; opening a database applies the missing ones in
//! one transaction. A database newer than [`SCHEMA_VERSION`] is refused.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::rows::db_error;
use crate::store::StoreError;

/// The schema version this build writes (and the newest it reads).
pub const SCHEMA_VERSION: i64 = 9;

/// `PRAGMA application_id` of a pipeline store: "PIPE".
pub(super) const APPLICATION_ID: i64 = 0x5049_5045;

/// Migration `i` brings a database from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: scenarios, data node versions, values, memo, submissions with their jobs.
    "
    CREATE TABLE scenarios (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        graph TEXT NOT NULL,
        created_at INTEGER NOT NULL      -- ns since the Unix epoch
    );
    CREATE INDEX scenarios_by_name ON scenarios (name);
    CREATE TABLE scenario_tags (
        scenario INTEGER NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (scenario, tag)
    ) WITHOUT ROWID;
    -- One row per distinct value. `data` holds small encodings; larger values
    -- live in objects/<fingerprint>.<extension>. `content_hash` is the blake3 of
    -- the stored bytes, NULL when that is the fingerprint itself.
    CREATE TABLE objects (
        fingerprint BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        content_hash BLOB,
        extension TEXT NOT NULL,
        data BLOB
    ) WITHOUT ROWID;
    -- Every version of every data node slot: a scenario's node (graph = '') or
    -- a graph's global node (scenario = 0).
    CREATE TABLE versions (
        scenario INTEGER NOT NULL,
        graph TEXT NOT NULL,
        node TEXT NOT NULL,
        version INTEGER NOT NULL,
        fingerprint BLOB NOT NULL,
        written_at INTEGER NOT NULL,
        writer TEXT NOT NULL,            -- 'default', 'user' or 'task'
        task TEXT,
        task_key BLOB,
        submission INTEGER,
        reused INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (scenario, graph, node, version)
    ) WITHOUT ROWID;
    CREATE TABLE memo (
        task_key BLOB PRIMARY KEY,
        outputs BLOB NOT NULL            -- output fingerprints, 32 bytes each
    ) WITHOUT ROWID;
    -- A submission's row is written when it starts (duration NULL) and
    -- completed when it ends; its jobs are read and written together, so they
    -- are one packed blob (see `rows::pack_jobs`), not a row each.
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scenario INTEGER NOT NULL,
        target TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration INTEGER,                -- NULL until recorded: NULL forever if interrupted
        pid INTEGER NOT NULL,
        jobs BLOB
    );
    CREATE INDEX submissions_by_scenario ON submissions (scenario, id);
    ",
    // 2: lineage: the producing job's code fingerprint and exact input versions
    // (packed: see `rows::pack_inputs`).
    "
    ALTER TABLE versions ADD COLUMN code BLOB;
    ALTER TABLE versions ADD COLUMN inputs BLOB;
    ",
    // 3: lineage moves to a table of its own, one row per job, appended in id
    // order: `versions` is keyed by slot, so every byte of its rows is written
    // into pages all over the table, while appended rows fill pages in turn
    // (recording a submission of many small jobs costs a third less). Rows of
    // version 2 keep their `code` and `inputs`; newer rows leave them NULL and
    // point at their job's `lineage` row.
    "
    CREATE TABLE lineage (
        id INTEGER PRIMARY KEY,
        code BLOB NOT NULL,
        inputs BLOB NOT NULL             -- packed: see `rows::pack_inputs`
    );
    ALTER TABLE versions ADD COLUMN lineage INTEGER;
    ",
    // 4: references between values: a view (derived columns over a data
    // frame's file, say) names the values it reads; gc keeps those as long as
    // it keeps the view.
    "
    CREATE TABLE refs (
        source BLOB NOT NULL,
        target BLOB NOT NULL,
        PRIMARY KEY (source, target)
    ) WITHOUT ROWID;
    ",
    // 5: the journal: batches of job commits appended as one blob each (see
    // `journal`), folded into the tables above later. A build that does not
    // know it must not open the store, which the version number ensures.
    "
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        batch BLOB NOT NULL
    );
    ",
    // 6: skips you can trust. A version records the schema of the type it
    // was stored as (NULL for older versions: their bytes are never decoded,
    // so their producers run once more); a job's lineage records what its
    // reason is later compared with (code parts, declared environment
    // digests, input schemas: packed, see `rows::pack_detail`); a memo entry,
    // the job that recorded it (for the reason of a job that reuses it); and
    // the stat cache of external files (see `file_state`).
    "
    ALTER TABLE versions ADD COLUMN schema BLOB;
    ALTER TABLE lineage ADD COLUMN detail BLOB;
    ALTER TABLE memo ADD COLUMN scenario INTEGER;   -- 0: global outputs
    ALTER TABLE memo ADD COLUMN submission INTEGER;
    CREATE TABLE file_states (
        path TEXT PRIMARY KEY,
        device INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        modified INTEGER NOT NULL,       -- ns since the Unix epoch
        changed INTEGER NOT NULL,        -- ns since the Unix epoch
        is_dir INTEGER NOT NULL,
        digest BLOB NOT NULL,
        hashed_at INTEGER NOT NULL,      -- ns since the Unix epoch
        entries BLOB                     -- a directory's names, NUL-separated
    ) WITHOUT ROWID;
    ",
    // 7: settings of the store as a whole (see `settings`): the object store
    // that holds its values, if any, and the store's id that claims it. A
    // build that does not know them would write values only here, so it must
    // not open the store, which the version number ensures.
    "
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 8: partial results (see `partials`): small results of aggregations
    // over stored values, under a key naming what computed them, with the
    // values they were computed from (gc drops a result with them) and the
    // blake3 digest of their bytes (checked on every read). An older build
    // would keep results whose values it collected, so it must not open the
    // store, which the version number ensures.
    "
    CREATE TABLE partials (
        key BLOB PRIMARY KEY,
        refs BLOB NOT NULL,
        result BLOB NOT NULL,
        digest BLOB NOT NULL
    ) WITHOUT ROWID;
    ",
    // 9: the text form of values people wrote (see `value_texts`), so that
    // one stays readable after its type's layout changes; gc drops a text
    // with its value.
    "
    CREATE TABLE value_texts (
        fingerprint BLOB PRIMARY KEY,
        text TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// Brings the database at `path` (open as `conn`) to [`SCHEMA_VERSION`]:
/// creates a new one, migrates an older one, refuses a newer one or a file of
/// another application.
pub(super) fn prepare(conn: &mut Connection, dir: &Path, path: &Path) -> Result<(), StoreError> {
    let err = |e| db_error(path, "read the schema version", e);
    let (version, application) = versions(conn).map_err(err)?;
    if version == SCHEMA_VERSION && application == APPLICATION_ID {
        return Ok(());
    }
    let empty: bool = conn
        .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
        .map_err(err)?;
    if empty {
        // Must precede the first table; lets gc return freed pages to the file system.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
            .map_err(|e| db_error(path, "create the database", e))?;
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_error(path, "lock the database to migrate it", e))?;
    // Another process may have created or migrated it while we waited.
    let (version, application) = versions(&tx).map_err(err)?;
    let empty: bool = tx
        .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
        .map_err(err)?;
    if !(application == APPLICATION_ID || (application == 0 && empty)) {
        return Err(StoreError::NotAStore {
            path: path.to_owned(),
            found: application,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: dir.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    migrate(&tx, version).map_err(|e| db_error(path, "migrate the database", e))?;
    tx.commit()
        .map_err(|e| db_error(path, "migrate the database", e))?;
    Ok(())
}

/// `(user_version, application_id)`.
fn versions(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    Ok((version, application))
}

/// Applies the migrations after `from` and stamps the new version.
fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for migration in &MIGRATIONS[from as usize..] {
        conn.execute_batch(migration)?;
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {SCHEMA_VERSION}; PRAGMA application_id = {APPLICATION_ID};"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_version(conn: &Connection, version: i64) {
        for migration in &MIGRATIONS[..version as usize] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = {version}; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
    }

    #[test]
    fn a_version_1_store_is_migrated_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.db");
        let mut conn = Connection::open(&path).unwrap();
        at_version(&conn, 1);
        conn.execute(
            "INSERT INTO scenarios (name, graph, created_at) VALUES ('old', 'g', 1)",
            [],
        )
        .unwrap();
        prepare(&mut conn, dir.path(), &path).unwrap();
        let (version, _) = versions(&conn).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let name: String = conn
            .query_row("SELECT name FROM scenarios", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "old");
        // The lineage columns exist now.
        conn.execute("UPDATE versions SET code = NULL, inputs = NULL", [])
            .unwrap();
    }

    #[test]
    fn a_version_2_store_keeps_its_lineage_and_records_new_lineage_apart() {
        use std::sync::Arc;

        use rusqlite::params;

        use super::super::rows::pack_inputs;
        use crate::fingerprint::Fingerprint;
        use crate::key::TaskKey;
        use crate::store::{
            Commit, InputVersion, JobRecord, Owner, ScenarioId, SlotKey, SqliteOptions,
            SqliteStore, Store, SubmissionId, VersionMeta, WrittenBy,
        };

        let dir = tempfile::tempdir().unwrap();
        let slot = |node: &str| SlotKey {
            owner: Owner::Scenario(ScenarioId(1)),
            node: Arc::from(node),
        };
        let input = InputVersion {
            slot: slot("x"),
            version: 1,
            fingerprint: Fingerprint::of_bytes(b"x"),
            schema: None,
        };
        let code = Fingerprint::of_bytes(b"code");
        let key = TaskKey(Fingerprint::of_bytes(b"key"));
        {
            let conn = Connection::open(dir.path().join("pipeline.db")).unwrap();
            at_version(&conn, 2);
            conn.execute(
                "INSERT INTO scenarios (name, graph, created_at) VALUES ('old', 'g', 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO versions (scenario, graph, node, version, fingerprint, written_at, \
                 writer, task, task_key, submission, reused, code, inputs) \
                 VALUES (1, '', 'y', 1, ?1, 1, 'task', 'double', ?2, 1, 0, ?3, ?4)",
                params![
                    Fingerprint::of_bytes(b"y").as_bytes(),
                    key.0.as_bytes(),
                    code.as_bytes(),
                    pack_inputs(std::slice::from_ref(&input))
                ],
            )
            .unwrap();
        }
        let store = SqliteStore::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
        let old = store.job_record(&slot("y"), 1).unwrap().unwrap();
        assert_eq!(&*old.task, "double");
        assert_eq!((old.code, old.key), (code, key));
        assert_eq!(old.inputs, std::slice::from_ref(&input));

        // A new job's lineage goes to the `lineage` table and reads back the same.
        let job = JobRecord {
            task: Arc::from("double"),
            code: Fingerprint::of_bytes(b"code 2"),
            key: TaskKey(Fingerprint::of_bytes(b"key 2")),
            submission: SubmissionId(2),
            inputs: vec![input],
            code_identity: None,
            env: Vec::new(),
        };
        let meta = Arc::new(VersionMeta {
            version: 2,
            fingerprint: Fingerprint::of_bytes(b"y2"),
            written_by: WrittenBy::Task {
                task: job.task.clone(),
                key: job.key,
                submission: job.submission,
                reused: true,
            },
            written_at: std::time::SystemTime::now(),
            schema: None,
        });
        store
            .commit(Commit {
                values: &[],
                versions: &[(slot("y"), meta)],
                memo: None,
                job: Some(&job),
            })
            .unwrap();
        assert_eq!(store.job_record(&slot("y"), 2).unwrap(), Some(job));
        assert_eq!(store.history(&slot("y")).unwrap().len(), 2);
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.db");
        let mut conn = Connection::open(&path).unwrap();
        at_version(&conn, SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        let err = prepare(&mut conn, dir.path(), &path).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }));
        assert!(err.to_string().contains("upgrade pipeline-core"), "{err}");
    }

    #[test]
    fn another_applications_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); PRAGMA application_id = 7")
            .unwrap();
        let err = prepare(&mut conn, dir.path(), &path).unwrap_err();
        assert!(
            matches!(err, StoreError::NotAStore { found: 7, .. }),
            "{err}"
        );
    }
}
