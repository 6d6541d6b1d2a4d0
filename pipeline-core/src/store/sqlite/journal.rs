//! A commit's rows, and the two ways they reach the database: appended to the
//! journal (one blob per batch of commits) or inserted into the indexed
//! tables (`objects`, `versions`, `lineage`, `refs`, `memo`).
//!
//! Inserting a job's rows costs four B-tree inserts at random keys (a value's
//! fingerprint, its slot, its task key), a microsecond or more each; appending
//! a batch's rows as one blob costs a fifth of that. So the writer journals
//! the commits of running jobs and *folds* the journal into the indexed tables
//! later, in one sorted transaction: when it is idle, before any read that
//! needs the tables complete, and when the store closes (see `writer`).
//! Rows borrow from the commit they were built from, or from the journal blob
//! they were decoded from.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, ToSql, Transaction, params};
use serde::{Deserialize, Serialize};

use super::rows::{db_error, is_constraint, owner_from};
use crate::fingerprint::Fingerprint;
use crate::store::{SlotKey, StoreError};

/// The journal's blob format: bumped if [`CommitRows`] changes shape. Format
/// 1 (no schemas, no lineage detail) is still read: a process of an earlier
/// build may have died with entries in the journal.
const FORMAT: u8 = 2;

/// A value's row in `objects`, and the values it names (`refs`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ObjectRow<'a> {
    pub(super) fingerprint: &'a [u8],
    pub(super) size: i64,
    /// NULL when the content hash is the fingerprint itself.
    pub(super) content_hash: Option<[u8; 32]>,
    pub(super) extension: &'a str,
    /// The encoding, for a value kept in the database.
    #[serde(borrow)]
    pub(super) data: Option<&'a [u8]>,
    /// The stored values this one names (see [`crate::Value::references`]).
    #[serde(borrow)]
    pub(super) references: Vec<&'a [u8]>,
}

/// A row of `versions` (its `lineage` is the commit's, numbered on insert).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VersionRow<'a> {
    pub(super) scenario: i64,
    pub(super) graph: &'a str,
    pub(super) node: &'a str,
    pub(super) version: i64,
    pub(super) fingerprint: &'a [u8],
    pub(super) written_at: i64,
    pub(super) writer: &'a str,
    #[serde(borrow)]
    pub(super) task: Option<&'a str>,
    #[serde(borrow)]
    pub(super) key: Option<&'a [u8]>,
    pub(super) submission: Option<i64>,
    pub(super) reused: bool,
    /// The schema the value was stored as.
    #[serde(borrow)]
    pub(super) schema: Option<&'a [u8]>,
}

impl VersionRow<'_> {
    fn key(&self) -> (i64, &str, &str, i64) {
        (self.scenario, self.graph, self.node, self.version)
    }

    /// The slot, as conflict messages name it.
    fn slot(&self) -> String {
        SlotKey {
            owner: owner_from(self.scenario, self.graph.to_owned()),
            node: self.node.into(),
        }
        .to_string()
    }
}

/// Everything one commit writes: recorded all together or not at all.
#[derive(Debug, Serialize, Deserialize, Default)]
pub(super) struct CommitRows<'a> {
    #[serde(borrow)]
    pub(super) objects: Vec<ObjectRow<'a>>,
    #[serde(borrow)]
    pub(super) versions: Vec<VersionRow<'a>>,
    /// The producing job's code fingerprint, packed inputs (see
    /// `rows::pack_inputs`) and packed detail (see `rows::pack_detail`), when
    /// it wrote versions.
    #[serde(borrow)]
    pub(super) lineage: Option<(&'a [u8], Vec<u8>, Vec<u8>)>,
    /// A memo entry: task key and packed output fingerprints.
    #[serde(borrow)]
    pub(super) memo: Option<(&'a [u8], Vec<u8>)>,
}

impl CommitRows<'_> {
    /// Whether recording these rows changes the versions of any slot.
    pub(super) fn has_versions(&self) -> bool {
        !self.versions.is_empty()
    }
}

/// Encodes a batch of commits as one journal blob.
pub(super) fn encode(commits: &[&CommitRows<'_>]) -> Vec<u8> {
    let bytes = vec![FORMAT];
    // Serializing borrowed slices, numbers and options into a Vec cannot fail.
    postcard::to_extend(commits, bytes).expect("commit rows encode")
}

/// Decodes a journal blob written by [`encode`] (or by a build that wrote
/// format 1).
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<CommitRows<'_>>, String> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        Some((1, rest)) => postcard::from_bytes::<Vec<v1::CommitRows<'_>>>(rest)
            .map(|commits| commits.into_iter().map(v1::CommitRows::upgrade).collect())
            .map_err(|e| e.to_string()),
        Some((format, _)) => Err(format!("journal format {format} is not {FORMAT}")),
        None => Err("an empty journal entry".to_owned()),
    }
}

/// Format 1 of the journal: versions without schemas, lineage without detail.
mod v1 {
    use serde::Deserialize;

    use super::ObjectRow;

    #[derive(Deserialize)]
    pub(super) struct VersionRow<'a> {
        scenario: i64,
        graph: &'a str,
        node: &'a str,
        version: i64,
        fingerprint: &'a [u8],
        written_at: i64,
        writer: &'a str,
        #[serde(borrow)]
        task: Option<&'a str>,
        #[serde(borrow)]
        key: Option<&'a [u8]>,
        submission: Option<i64>,
        reused: bool,
    }

    #[derive(Deserialize)]
    pub(super) struct CommitRows<'a> {
        #[serde(borrow)]
        objects: Vec<ObjectRow<'a>>,
        #[serde(borrow)]
        versions: Vec<VersionRow<'a>>,
        #[serde(borrow)]
        lineage: Option<(&'a [u8], Vec<u8>)>,
        #[serde(borrow)]
        memo: Option<(&'a [u8], Vec<u8>)>,
    }

    impl<'a> CommitRows<'a> {
        pub(super) fn upgrade(self) -> super::CommitRows<'a> {
            super::CommitRows {
                objects: self.objects,
                versions: self
                    .versions
                    .into_iter()
                    .map(|v| super::VersionRow {
                        scenario: v.scenario,
                        graph: v.graph,
                        node: v.node,
                        version: v.version,
                        fingerprint: v.fingerprint,
                        written_at: v.written_at,
                        writer: v.writer,
                        task: v.task,
                        key: v.key,
                        submission: v.submission,
                        reused: v.reused,
                        schema: None,
                    })
                    .collect(),
                lineage: self
                    .lineage
                    .map(|(code, inputs)| (code, inputs, Vec::new())),
                memo: self.memo,
            }
        }
    }
}

/// Appends a batch (encoded) to the journal and returns its id.
pub(super) fn append(tx: &Transaction<'_>, batch: &[u8]) -> rusqlite::Result<i64> {
    tx.prepare_cached("INSERT INTO journal (batch) VALUES (?1)")?
        .execute([batch])?;
    Ok(tx.last_insert_rowid())
}

/// The journal's entries, oldest first.
pub(super) fn entries(tx: &Transaction<'_>) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    let mut query = tx.prepare_cached("SELECT id, batch FROM journal ORDER BY id")?;
    query
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Removes the journal's entries up to `last` (they were folded).
pub(super) fn remove_through(tx: &Transaction<'_>, last: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM journal WHERE id <= ?1")?
        .execute(params![last])
        .map(drop)
}

/// The SQL of multi-row statements, by table and row count.
pub(super) type Statements = HashMap<(Table, usize), String>;

/// Tables written with multi-row statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Table {
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
                 writer, task, task_key, submission, reused, lineage, schema) VALUES",
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                "",
            ),
            Table::Lineage => (
                "INSERT INTO lineage (id, code, inputs, detail) VALUES",
                "(?, ?, ?, ?)",
                "",
            ),
            Table::Memo => (
                "INSERT OR REPLACE INTO memo (task_key, outputs, scenario, submission) VALUES",
                "(?, ?, ?, ?)",
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
    tx: &Connection,
    sql: &mut Statements,
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
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(n * 12);
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

/// A memo row: task key, packed outputs, and the scenario (0: global) and
/// submission of the job that recorded it.
type MemoRow<'a> = (&'a [u8], &'a Vec<u8>, Option<i64>, Option<i64>);

/// A lineage row: id, code fingerprint, packed inputs, packed detail.
type LineageRow<'a> = (i64, &'a [u8], &'a [u8], Option<&'a [u8]>);

/// Inserts the rows of `commits` into the indexed tables, in key order, within
/// `tx`. A version that exists already is a [`StoreError::Conflict`]; a value
/// naming a value the store does not hold is a [`StoreError::MissingValue`].
pub(super) fn insert_rows(
    tx: &Connection,
    sql: &mut Statements,
    path: &Path,
    commits: &[&CommitRows<'_>],
) -> Result<(), StoreError> {
    let err = |action: &'static str| move |e| db_error(path, action, e);
    let mut objects: Vec<&ObjectRow<'_>> = commits.iter().flat_map(|c| &c.objects).collect();
    sort_keep_last(&mut objects, |r| r.fingerprint);
    // Each entry with the job that recorded it: the scenario (0 for global
    // outputs) and submission of the commit's versions.
    let mut memo: Vec<MemoRow<'_>> = commits
        .iter()
        .filter_map(|c| {
            let (key, outputs) = c.memo.as_ref()?;
            let origin = c.versions.first();
            Some((
                *key,
                outputs,
                origin.map(|v| v.scenario),
                origin.and_then(|v| v.submission),
            ))
        })
        .collect();
    sort_keep_last(&mut memo, |r| r.0);
    let refs: Vec<(&[u8], &[u8])> = objects
        .iter()
        .flat_map(|o| o.references.iter().map(|target| (o.fingerprint, *target)))
        .collect();

    // A job's lineage row, numbered after the table's last.
    let first_lineage = if commits
        .iter()
        .any(|c| c.lineage.is_some() && c.has_versions())
    {
        tx.prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM lineage")
            .and_then(|mut q| q.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(err("record lineage"))?
    } else {
        0
    };
    let mut lineage: Vec<LineageRow<'_>> = Vec::new();
    let mut versions: Vec<(&VersionRow<'_>, Option<i64>)> = Vec::new();
    for commit in commits {
        let id = match &commit.lineage {
            Some((code, inputs, detail)) if commit.has_versions() => {
                let id = first_lineage + lineage.len() as i64;
                let detail = (!detail.is_empty()).then_some(&detail[..]);
                lineage.push((id, code, inputs, detail));
                Some(id)
            }
            _ => None,
        };
        versions.extend(commit.versions.iter().map(|v| (v, id)));
    }
    versions.sort_by(|a, b| a.0.key().cmp(&b.0.key()));

    insert(tx, sql, Table::Lineage, &lineage, |r, p| {
        p.extend([&r.0 as &dyn ToSql, &r.1, &r.2, &r.3])
    })
    .map_err(err("record lineage"))?;
    insert(tx, sql, Table::Objects, &objects, |r, p| {
        p.extend([
            &r.fingerprint as &dyn ToSql,
            &r.size,
            &r.content_hash,
            &r.extension,
            &r.data,
        ])
    })
    .map_err(err("record values"))?;
    insert(tx, sql, Table::Versions, &versions, |(r, lineage), p| {
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
            lineage,
            &r.schema,
        ])
    })
    .map_err(|e| {
        if is_constraint(&e) {
            let first = versions[0].0;
            StoreError::Conflict {
                slot: first.slot(),
                version: first.version as u64,
            }
        } else {
            db_error(path, "record versions", e)
        }
    })?;
    insert(tx, sql, Table::Refs, &refs, |r, p| {
        p.extend([&r.0 as &dyn ToSql, &r.1])
    })
    .map_err(err("record references between values"))?;
    // A value naming another is only recorded with it (a commit of the
    // named value that failed, or a view written by hand naming a value
    // this store never held, would leave it unreadable).
    for (_, target) in &refs {
        let present = tx
            .prepare_cached("SELECT 1 FROM objects WHERE fingerprint = ?1")
            .and_then(|mut q| q.exists([target]))
            .map_err(err("check references between values"))?;
        if !present {
            let target: [u8; 32] = (*target).try_into().expect("32-byte fingerprints");
            return Err(StoreError::MissingValue {
                fingerprint: Fingerprint::from_bytes(target),
                reason: "a value to record names it, but the store does not hold it".into(),
            });
        }
    }
    insert(tx, sql, Table::Memo, &memo, |r, p| {
        p.extend([&r.0 as &dyn ToSql, r.1, &r.2, &r.3])
    })
    .map_err(err("record memo entries"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// Version 1 of `node` of scenario 1, written by a task.
    fn version<'a>(node: &'a str, fingerprint: &'a [u8]) -> VersionRow<'a> {
        VersionRow {
            scenario: 1,
            graph: "",
            node,
            version: 1,
            fingerprint,
            written_at: 0,
            writer: "task",
            task: Some("t"),
            key: Some(fingerprint),
            submission: Some(1),
            reused: false,
            schema: None,
        }
    }

    /// Runs `write` in a transaction of `store`'s write connection, past the
    /// writer (to put rows and journal entries in place by hand).
    fn write_directly(store: &SqliteStore, write: impl FnOnce(&Transaction<'_>)) {
        store
            .writer
            .with_db_unfolded(|db| {
                let tx = db.conn.transaction().unwrap();
                write(&tx);
                tx.commit().unwrap();
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_batch_decodes_to_the_rows_it_was_encoded_from() {
        let fingerprint = [7u8; 32];
        let commits = [
            CommitRows {
                objects: vec![ObjectRow {
                    fingerprint: &fingerprint,
                    size: 3,
                    content_hash: Some([9; 32]),
                    extension: "bin",
                    data: Some(b"abc"),
                    references: vec![&fingerprint],
                }],
                versions: vec![VersionRow {
                    scenario: 4,
                    graph: "",
                    node: "total",
                    version: 2,
                    fingerprint: &fingerprint,
                    written_at: -5,
                    writer: "task",
                    task: Some("sum"),
                    key: Some(&fingerprint),
                    submission: Some(11),
                    reused: true,
                    schema: Some(&fingerprint),
                }],
                lineage: Some((&fingerprint, vec![1, 2, 3], vec![4])),
                memo: Some((&fingerprint, fingerprint.to_vec())),
            },
            CommitRows::default(),
        ];
        let bytes = encode(&commits.iter().collect::<Vec<_>>());
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(encode(&decoded.iter().collect::<Vec<_>>()), bytes);
        let version = &decoded[0].versions[0];
        assert_eq!(version.key(), (4, "", "total", 2));
        assert_eq!(
            (version.task, version.submission, version.reused),
            (Some("sum"), Some(11), true)
        );
        assert_eq!(decoded[0].objects[0].data, Some(&b"abc"[..]));
        assert_eq!(version.slot(), "data node `total` of scenario #4");
        assert!(decoded[1].objects.is_empty() && decoded[1].lineage.is_none());
    }

    #[test]
    fn a_damaged_or_foreign_blob_is_an_error_not_rows() {
        let bytes = encode(&[&CommitRows::default()]);
        assert!(decode(&bytes[..0]).is_err());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(decode(&other).unwrap_err().contains("format"));
        let commit = CommitRows {
            versions: vec![version("n", &[0; 32])],
            ..CommitRows::default()
        };
        let whole = encode(&[&commit]);
        assert!(decode(&whole[..whole.len() - 3]).is_err());
    }

    #[test]
    fn a_journaled_commit_that_cannot_be_folded_is_reported_and_the_rest_is_folded() {
        use crate::store::Store;
        use crate::store::sqlite::SqliteOptions;

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let object = |fingerprint| ObjectRow {
            fingerprint,
            size: 1,
            content_hash: None,
            extension: "bin",
            data: Some(b"x"),
            references: Vec::new(),
        };
        // Version 1 of `taken` exists; a journaled commit writes it again.
        let existing = CommitRows {
            objects: vec![object(&old)],
            versions: vec![version("taken", &old)],
            ..CommitRows::default()
        };
        let conflicting = CommitRows {
            objects: vec![object(&new)],
            versions: vec![version("taken", &new)],
            ..CommitRows::default()
        };
        let fine = CommitRows {
            versions: vec![version("free", &old)],
            memo: Some((&new, old.to_vec())),
            ..CommitRows::default()
        };
        write_directly(&store, |tx| {
            insert_rows(tx, &mut Statements::new(), dir.path(), &[&existing]).unwrap();
            append(tx, &encode(&[&conflicting, &fine])).unwrap();
            append(tx, &[FORMAT, 0xff, 0xff]).unwrap();
        });

        let error = store.flush().unwrap_err().to_string();
        assert!(error.contains("2 job result(s) were not saved"), "{error}");
        assert!(error.contains("is unreadable"), "{error}");
        let count = |sql: &str| {
            store
                .writer
                .with_db_unfolded(|db| {
                    Ok(db.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap())
                })
                .unwrap()
        };
        assert_eq!(
            count("SELECT count(*) FROM journal"),
            0,
            "every entry is settled"
        );
        assert_eq!(
            count("SELECT count(*) FROM versions WHERE node = 'free'"),
            1
        );
        assert_eq!(count("SELECT count(*) FROM memo"), 1);
        assert_eq!(
            count(
                "SELECT count(*) FROM versions WHERE node = 'taken' AND fingerprint = x'0101010101010101010101010101010101010101010101010101010101010101'"
            ),
            1,
            "the existing version is untouched"
        );
        assert_eq!(
            count("SELECT count(*) FROM objects"),
            1,
            "the conflicting commit left nothing"
        );
        store.flush().unwrap();
    }

    #[test]
    fn a_write_that_needs_the_tables_complete_waits_for_a_fold_that_failed() {
        use std::time::Duration;

        use crate::store::Store;
        use crate::store::sqlite::SqliteOptions;

        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions::new()
            .quiet(true)
            .busy_timeout(Duration::from_millis(20));
        let store = SqliteStore::open_with(dir.path(), options).unwrap();
        let fingerprint = [3u8; 32];
        let commit = CommitRows {
            memo: Some((&fingerprint, fingerprint.to_vec())),
            ..CommitRows::default()
        };
        write_directly(&store, |tx| {
            append(tx, &encode(&[&commit])).unwrap();
        });

        // Another connection holds the write lock: the fold cannot run, and a
        // write that needs complete tables (here: nothing) must not run past it.
        let other = rusqlite::Connection::open(&store.db_path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut ran = false;
        let error = store
            .writer
            .with_db(|_| {
                ran = true;
                Ok(())
            })
            .unwrap_err()
            .to_string();
        assert!(!ran);
        assert!(error.contains("fold the journal"), "{error}");
        other.execute_batch("COMMIT").unwrap();

        store.writer.with_db(|_| Ok(())).unwrap();
        assert_eq!(
            store
                .memo(&crate::key::TaskKey(
                    crate::fingerprint::Fingerprint::from_bytes(fingerprint)
                ))
                .unwrap()
                .map(|m| m.len()),
            Some(1)
        );
    }
}
