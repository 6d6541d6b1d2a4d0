//! Garbage collection: values no version refers to, in the database, the
//! local files and the object store; memo entries naming them; files no row
//! names.

use super::*;

impl SqliteStore {
    /// The database part of gc, in one write transaction (so that no writer
    /// records a version of a value while its file is being removed).
    pub(super) fn collect(&self, db: &mut WriteDb) -> Result<GcReport, StoreError> {
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
        let (kept_objects, removed): (Vec<_>, Vec<_>) = objects
            .into_iter()
            .partition(|(fingerprint, ..)| referenced.contains(fingerprint));
        for (fingerprint, _, _, in_file) in kept_objects {
            kept.insert(fingerprint);
            if in_file {
                kept_files.insert(fingerprint);
            }
        }
        // Out of the object store first: if that fails, nothing is removed
        // (a value deleted there keeps its local file and its row, and is
        // uploaded again if it is ever evicted).
        if self.remote.is_on() {
            for (fingerprint, _, extension, _) in removed.iter().filter(|o| o.3) {
                self.remote
                    .delete(fingerprint, extension)
                    .map_err(|reason| {
                        StoreError::Objects(format!(
                            "gc stopped before removing anything from the registry: cannot \
                         delete unreferenced value {} from its object store: {reason}",
                            fingerprint.short()
                        ))
                    })?;
                report.objects_deleted += 1;
            }
        }
        for (fingerprint, size, extension, in_file) in removed {
            tx.execute(
                "DELETE FROM objects WHERE fingerprint = ?1",
                [fingerprint.as_bytes().as_slice()],
            )
            .map_err(&err)?;
            report.values_removed += 1;
            if !in_file {
                // Its bytes leave the database (given back by the vacuum).
                report.bytes_freed += size;
            } else if let Ok(Some(freed)) = self.objects.evict(&fingerprint, &extension) {
                report.files_removed += 1;
                report.bytes_freed += freed;
            }
        }
        tx.execute(
            "DELETE FROM refs WHERE source NOT IN (SELECT fingerprint FROM objects)",
            [],
        )
        .map_err(&err)?;
        value_texts::collect(&tx).map_err(&err)?;
        report.partial_results_removed = partials::collect(&tx, &kept).map_err(&err)?;
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
        for (path, fingerprint, _, modified) in files {
            let young = modified
                .elapsed()
                .map_or(true, |age| age < Duration::from_secs(600));
            if kept_files.contains(&fingerprint) || young {
                continue;
            }
            // Its link count just before the removal: whether this frees its data.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if std::fs::remove_file(&path).is_ok() {
                report.files_removed += 1;
                report.bytes_freed += objects::freed_by_removing(&meta);
            }
        }
        tx.commit().map_err(&err)?;
        Ok(report)
    }

    /// Deletes lock files of scenarios that no longer exist and nobody holds.
    pub(super) fn remove_free_lock_files(&self) {
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
