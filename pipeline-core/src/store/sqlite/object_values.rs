//! Values in an object store as well as in local files (see
//! [`SqliteOptions::object_store`]): uploads before a row names a value,
//! fetching a missing or damaged local file back, evicting local copies,
//! and the switch of a store to an object store.

use super::remote::FetchFailure;
#[cfg(feature = "objects")]
use super::settings;
use super::*;

/// A file row of the `objects` table.
pub(super) struct FileRow {
    pub(super) fingerprint: Fingerprint,
    pub(super) size: u64,
    pub(super) content_hash: Fingerprint,
    pub(super) extension: String,
}

impl SqliteStore {
    /// The URL of the object store that holds this store's values (given
    /// with `SqliteOptions::object_store` or recorded in the registry by
    /// an earlier process), if any.
    pub fn object_store_url(&self) -> Option<&str> {
        self.remote.url()
    }

    /// Removes the local files of values the object store holds, uploading
    /// those it lacks first (see [`Store::evict_local`]); reads fetch them
    /// back. Values being committed by this process are left alone.
    pub fn evict_local(&self) -> Result<EvictReport, StoreError> {
        if !self.remote.is_on() {
            return Err(StoreError::Objects(format!(
                "store {} keeps its values only in local files, so none can be evicted: open \
                 it with an object store (--objects URL, or SqliteOptions::object_store)",
                self.dir.display()
            )));
        }
        self.flush()?;
        let rows = self.file_rows()?;
        let held = self.remote.sizes().map_err(StoreError::Objects)?;
        let mut report = EvictReport::default();
        for row in rows {
            let FileRow {
                fingerprint,
                size,
                content_hash,
                extension,
            } = row;
            if self.writer.pending_object(&fingerprint).is_some()
                || !self.objects.path(&fingerprint, &extension).exists()
            {
                continue;
            }
            match held.get(&remote::RemoteValues::name(&fingerprint, &extension)) {
                Some(&held) if held == size => {}
                Some(&held) => {
                    report.kept.push((
                        fingerprint,
                        format!("its object store's copy has {held} bytes, not {size}"),
                    ));
                    continue;
                }
                None => {
                    let uploaded = self
                        .objects
                        .checked(&fingerprint, &extension, size, &content_hash)
                        .and_then(|path| self.remote.upload(&fingerprint, &extension, &path, size));
                    match uploaded {
                        Ok(()) => report.uploaded += 1,
                        Err(reason) => {
                            report.kept.push((fingerprint, reason));
                            continue;
                        }
                    }
                }
            }
            let freed = self
                .objects
                .evict(&fingerprint, &extension)
                .map_err(|source| StoreError::Io {
                    action: "remove",
                    path: self.objects.path(&fingerprint, &extension),
                    source,
                })?;
            if let Some(freed) = freed {
                report.files_evicted += 1;
                report.bytes_freed += freed;
            }
        }
        Ok(report)
    }

    /// Uploads the values a commit just wrote or adopted as files (with
    /// their sizes), before any row names them: one at a time on this
    /// thread, or each on a thread of its own when there are several. The
    /// error names the object store and the data node.
    pub(super) fn upload_new(
        &self,
        uploads: &[(&NewValue<'_>, u64)],
        versions: &[(SlotKey, Arc<VersionMeta>)],
    ) -> Result<(), StoreError> {
        if !self.remote.is_on() {
            return Ok(());
        }
        let upload = |(value, size): &(&NewValue<'_>, u64)| {
            let extension = value.value_type.extension();
            let path = self.objects.path(&value.fingerprint, extension);
            self.remote
                .upload(&value.fingerprint, extension, &path, *size)
                .map_err(|reason| (value.fingerprint, reason))
        };
        let failed = match uploads {
            [] => Ok(()),
            [one] => upload(one),
            several => std::thread::scope(|scope| {
                let running: Vec<_> = several
                    .iter()
                    .map(|each| scope.spawn(move || upload(each)))
                    .collect();
                // The scope waits for every upload, failed or not.
                running.into_iter().try_for_each(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                })
            }),
        };
        failed.map_err(|(fingerprint, reason)| {
            let slots: Vec<&SlotKey> = versions
                .iter()
                .filter(|(_, meta)| meta.fingerprint == fingerprint)
                .map(|(slot, _)| slot)
                .collect();
            StoreError::Objects(format!(
                "cannot store value {} of {} in its object store, so nothing was recorded \
                 (earlier versions stay): {reason}",
                fingerprint.short(),
                describe_slots(&slots)
            ))
        })
    }

    /// The checked local file of a value kept as a file, fetched back from
    /// the object store first if it is missing or damaged here.
    pub(super) fn local_file(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
    ) -> Result<PathBuf, Unreadable> {
        let damage = match self
            .objects
            .checked(fingerprint, extension, size, content_hash)
        {
            Ok(path) => return Ok(path),
            Err(damage) => damage,
        };
        if !self.remote.is_on() {
            return Err(Unreadable::Damaged(damage));
        }
        self.restore(fingerprint, extension, size, content_hash, &damage)?;
        self.objects
            .checked(fingerprint, extension, size, content_hash)
            .map_err(Unreadable::Damaged)
    }

    /// Reads a value kept as a file; a missing or damaged file is fetched
    /// back from the object store and read again.
    pub(super) fn read_file_value(
        &self,
        object: (&Fingerprint, &str, u64, &Fingerprint),
        value_type: &ValueType,
        ctx: &StoreContext<'_>,
    ) -> Result<ErasedValue, Unreadable> {
        let (fingerprint, extension, size, content_hash) = object;
        let read = || {
            self.objects
                .read(fingerprint, extension, size, content_hash, value_type, ctx)
        };
        match read() {
            Err(Unreadable::Damaged(damage)) if self.remote.is_on() => {
                self.restore(fingerprint, extension, size, content_hash, &damage)?;
                read()
            }
            other => other,
        }
    }

    /// Scrubs a value kept as a file (see [`Store::verify`]): the bytes
    /// checked or what is wrong; `None` when it has no local copy because
    /// the object store holds it. A damaged local copy is fetched again when
    /// the object store has a good one (counted in `report.refetched`).
    pub(super) fn scrub_file(
        &self,
        fingerprint: &Fingerprint,
        object: &StoredObject,
        report: &mut VerifyReport,
    ) -> Result<Option<Result<u64, String>>, StoreError> {
        let extension = &object.extension;
        let (size, content_hash) = (object.size, &object.content_hash);
        if self.remote.is_on() && !self.objects.path(fingerprint, extension).exists() {
            return Ok(None);
        }
        match self
            .objects
            .scrub(fingerprint, extension, size, content_hash)
        {
            Err(damage) if self.remote.is_on() => {
                match self.restore(fingerprint, extension, size, content_hash, &damage) {
                    Ok(_) => {
                        report.refetched += 1;
                        Ok(Some(Ok(size)))
                    }
                    Err(Unreadable::Elsewhere(message)) => Err(StoreError::Objects(message)),
                    Err(other) => Ok(Some(Err(other.into_reason()))),
                }
            }
            checked => Ok(Some(checked)),
        }
    }

    /// Fetches a value whose local file is unusable (`damage` says why)
    /// from the object store into place. Not there (or damaged there):
    /// [`Unreadable::Damaged`], so its producer runs again; the object store
    /// out of reach: [`Unreadable::Elsewhere`], and nothing is removed.
    fn restore(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
        damage: &str,
    ) -> Result<PathBuf, Unreadable> {
        let temp = self.objects.fetch_path(fingerprint, extension);
        let fetched = self
            .remote
            .fetch(fingerprint, extension, &temp, size, content_hash)
            .and_then(|()| {
                self.objects
                    .place_fetched(fingerprint, extension, &temp, content_hash)
                    .map_err(|e| {
                        let _ = std::fs::remove_file(&temp);
                        FetchFailure::Failed(format!(
                            "cannot move the fetched copy into {}: {e}",
                            self.objects.path(fingerprint, extension).display()
                        ))
                    })
            });
        let url = self.remote.url().unwrap_or_default();
        fetched.map_err(|failure| match failure {
            FetchFailure::Missing(why) => {
                Unreadable::Damaged(format!("{damage}, and object store {url} lacks it: {why}"))
            }
            FetchFailure::Failed(why) => {
                let here = if self.objects.path(fingerprint, extension).exists() {
                    format!("its local copy is unusable ({damage})")
                } else {
                    "it has no local copy here".to_owned()
                };
                Unreadable::Elsewhere(format!(
                    "value {} of {} lives in object store {url}, and {here}; the object store \
                     could not give it back: {why}",
                    fingerprint.short(),
                    self.describe_value(fingerprint)
                ))
            }
        })
    }

    /// The data nodes whose versions hold a value, for messages: "data node
    /// `quote` (scenario #1)".
    pub(super) fn describe_value(&self, fingerprint: &Fingerprint) -> String {
        let slots: Vec<SlotKey> = self
            .readers
            .with("find the data nodes of a value", |conn| {
                conn.prepare_cached(
                    "SELECT DISTINCT scenario, graph, node FROM versions WHERE fingerprint = ?1 \
                     LIMIT 3",
                )?
                .query_map([fingerprint.as_bytes().as_slice()], |r| {
                    Ok(SlotKey {
                        owner: rows::owner_from(r.get(0)?, r.get(1)?),
                        node: Arc::from(r.get::<_, String>(2)?),
                    })
                })?
                .collect()
            })
            .unwrap_or_default();
        describe_slots(&slots.iter().collect::<Vec<_>>())
    }

    /// Every value kept as a file.
    pub(super) fn file_rows(&self) -> Result<Vec<FileRow>, StoreError> {
        self.readers
            .with("list the values kept as files", file_rows_in)
    }

    /// Makes `given` the object store of this store's values, which had
    /// none: claims it for this store, uploads every value kept as a file
    /// (a value whose file is unusable is removed, so its producer runs
    /// again), then records its URL; values committed meanwhile by other
    /// processes are uploaded under the write lock that records it.
    #[cfg(feature = "objects")]
    pub(super) fn switch_to_object_store(&self) -> Result<(), StoreError> {
        let url = self.remote.url().unwrap_or_default().to_owned();
        let id = self.writer.with_db(|db| {
            settings::id(&db.conn, &self.dir).map_err(self.err("make the store's id"))
        })?;
        self.remote.claim(&id).map_err(StoreError::Objects)?;
        let mut uploaded = HashSet::new();
        let upload = |row: &FileRow, uploaded: &mut HashSet<Fingerprint>| {
            let FileRow {
                fingerprint,
                size,
                content_hash,
                extension,
            } = row;
            match self
                .objects
                .checked(fingerprint, extension, *size, content_hash)
            {
                Ok(path) => {
                    self.remote
                        .upload(fingerprint, extension, &path, *size)
                        .map_err(|reason| {
                            StoreError::Objects(format!(
                                "cannot move the values of store {} to object store {url}, \
                                 so it keeps them only here: {reason}",
                                self.dir.display()
                            ))
                        })?;
                    uploaded.insert(*fingerprint);
                }
                Err(damage) => self.quarantine(fingerprint, extension, true, &damage),
            }
            Ok::<(), StoreError>(())
        };
        for row in self.file_rows()? {
            upload(&row, &mut uploaded)?;
        }
        self.writer.with_db(|db| {
            let err = self.err("record the store's object store");
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let late: Vec<FileRow> = file_rows_in(&tx)
                .map_err(&err)?
                .into_iter()
                .filter(|row| !uploaded.contains(&row.fingerprint))
                .collect();
            for row in &late {
                upload(row, &mut uploaded)?;
            }
            let recorded = settings::set_once(&tx, settings::OBJECTS, &url).map_err(&err)?;
            if recorded != url {
                return Err(conflict(&self.dir, &recorded, &url));
            }
            tx.commit().map_err(&err)
        })
    }
}

/// The store directory and the object store of its values that a store
/// location (`--store`, `PIPELINE_STORE`) and an object store URL
/// (`--objects`, `PIPELINE_OBJECTS`) name, empty ones counting as unset: a
/// location `s3://bucket/prefix` names the object store of the values, the
/// registry staying in [`DEFAULT_DIR`]. Without the `objects` feature, an
/// object store URL is ignored, and an `s3://` location refused.
pub(crate) fn locate(
    store: Option<&str>,
    objects: Option<&str>,
) -> Result<(PathBuf, Option<String>), String> {
    let store = store.filter(|s| !s.is_empty());
    let objects = objects.filter(|s| !s.is_empty()).map(str::to_owned);
    let Some(url) = store.filter(|s| s.starts_with("s3://")) else {
        let dir = store.map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
        return Ok((dir, objects.filter(|_| cfg!(feature = "objects"))));
    };
    if !cfg!(feature = "objects") {
        return Err(format!(
            "store {url}: this build of pipeline-core cannot keep values in object stores: \
             enable its `objects` and `s3` features, or name a store directory"
        ));
    }
    match objects {
        Some(other) if other.trim_end_matches('/') != url.trim_end_matches('/') => Err(format!(
            "the store location {url} and the object store {other} name two places for the \
             values: give one of them"
        )),
        _ => Ok((PathBuf::from(DEFAULT_DIR), Some(url.to_owned()))),
    }
}

/// The refusal of an object store other than the one a store records.
#[cfg(feature = "objects")]
pub(super) fn conflict(dir: &Path, recorded: &str, given: &str) -> StoreError {
    StoreError::Objects(format!(
        "store {} keeps its values in object store {recorded}, not {given}: open it without \
         naming an object store (it uses the one it records), or name that one",
        dir.display()
    ))
}

/// [`SqliteStore::file_rows`] on a given connection.
fn file_rows_in(conn: &Connection) -> rusqlite::Result<Vec<FileRow>> {
    conn.prepare(
        "SELECT fingerprint, size, content_hash, extension FROM objects WHERE data IS NULL",
    )?
    .query_map([], |r| {
        let fingerprint = fingerprint_at(r, 0)?;
        Ok(FileRow {
            fingerprint,
            size: r.get::<_, i64>(1)? as u64,
            content_hash: opt_fingerprint_at(r, 2)?.unwrap_or(fingerprint),
            extension: r.get(3)?,
        })
    })?
    .collect()
}

/// "data node `quote` (scenario #1)", "data nodes `a` (scenario #1) and `b`
/// (the global nodes of `g`)", or "no data node" for a value no version holds.
fn describe_slots(slots: &[&SlotKey]) -> String {
    let named: Vec<String> = slots
        .iter()
        .map(|slot| format!("`{}` ({})", slot.node, slot.owner))
        .collect();
    match named.as_slice() {
        [] => "no data node".to_owned(),
        [one] => format!("data node {one}"),
        [init @ .., last] => format!("data nodes {} and {last}", init.join(", ")),
    }
}

#[cfg(all(test, not(feature = "objects")))]
#[path = "object_values_tests.rs"]
mod tests;
