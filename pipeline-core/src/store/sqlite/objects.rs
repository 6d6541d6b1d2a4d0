//! Content-addressed value files: `objects/<fingerprint>.<extension>`.
//!
//! A file is written under a temporary name in `objects/tmp/p<pid>/`, flushed to
//! disk, and renamed into place, after which the directory is flushed too; only
//! then may a database row point at it. A crash therefore leaves at worst a
//! temporary file (removed by `gc`) or a complete file no row points at (also
//! removed by `gc`); a partly written file never carries a final name. A
//! file a value wrote while materializing is *adopted* (linked into place)
//! and flushed by the writer thread just before the row that names it is
//! committed, so that the task need not wait for the disk. A scratch file
//! whose value is stored already is replaced by a link to the stored file
//! ([`Objects::share_stored`]), so that it holds no disk space of its own.
//!
//! The scratch directory `objects/tmp/p<pid>/` is created at its first use
//! (a process that only reads makes none) and removed, if empty, when the
//! last store of the process using it is dropped; empty ones of processes
//! that are gone are removed then too. Files still in it (links of adopted
//! files, which values in memory may still scan) wait for `gc`.
//!
//! Every file is checked before use: `intact` compares its size with the one
//! recorded (cheap, for skip decisions) and `read` its blake3 digest with the
//! recorded content hash, so bit rot, truncation and deletion are all caught.
//!
//! A file is hashed once: a check that passes leaves a *stamp* in
//! `objects/checked/<fingerprint>` (the file's size, modification and change
//! times in nanoseconds, inode and device, and the content hash they were
//! found with), as git's index does for the work tree. Later reads, in any
//! process, trust the file while its metadata still equals the stamp: a
//! rewrite, truncation, replacement or touch changes it. A stamp is only
//! left when the file's modification time is
//! [`RACY_WINDOW`](super::stamp::RACY_WINDOW) older than the moment of the
//! check, so a write in the same clock tick as the check
//! cannot hide behind an equal time (git's "racy clean" case); files the
//! store writes itself are stamped as they are written, their modification
//! time set that far back. Damage that leaves the metadata alone (bit rot)
//! is found by a scrub (`verify`), which hashes every file again.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::stamp::{BACKDATE, Stamp};
use crate::fingerprint::Fingerprint;
use crate::store::StoreError;
use crate::value::{ErasedValue, StoreContext, ValueError, ValueType};

/// Why a stored value could not be read.
#[derive(Debug)]
pub(super) enum Unreadable {
    /// Its bytes are damaged: it is removed so that its producer runs again.
    Damaged(String),
    /// It is a view whose underlying value is unusable; the view itself is
    /// intact and stays.
    Reference(String),
    /// Its local file is unusable and the object store that holds it could
    /// not give it back (unreachable, say): nothing is removed, and the
    /// message says all that.
    Elsewhere(String),
}

impl Unreadable {
    /// What is wrong, whatever the kind.
    pub(super) fn into_reason(self) -> String {
        match self {
            Unreadable::Damaged(reason)
            | Unreadable::Reference(reason)
            | Unreadable::Elsewhere(reason) => reason,
        }
    }

    /// Classifies a decoding error, worded by `describe`.
    pub(super) fn of(error: ValueError, describe: impl FnOnce(&ValueError) -> String) -> Self {
        let reason = describe(&error);
        match error {
            ValueError::Reference { .. } => Unreadable::Reference(reason),
            _ => Unreadable::Damaged(reason),
        }
    }
}

/// A hook run before each value file is written (tests use it to simulate a
/// full disk or a failing device).
pub type WriteFault = Arc<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

/// The `objects/` directory of a store.
pub(super) struct Objects {
    root: PathBuf,
    tmp_root: PathBuf,
    scratch: PathBuf,
    /// `scratch` with its parent canonicalized: the key in [`SCRATCH_USERS`],
    /// so that stores opened through other spellings of the path count as
    /// users of one directory.
    scratch_key: PathBuf,
    damaged: PathBuf,
    stamps: PathBuf,
    fault: Option<WriteFault>,
}

/// How many open [`Objects`] of this process use each scratch directory:
/// the last one dropped removes it (if empty), never one another still uses.
static SCRATCH_USERS: Mutex<Option<HashMap<PathBuf, usize>>> = Mutex::new(None);

impl Objects {
    /// Creates `objects/`, `objects/tmp/`, `objects/damaged/` and
    /// `objects/checked/` as needed; `objects/tmp/p<pid>/` waits for its
    /// first use ([`Objects::scratch`]).
    pub(super) fn open(root: PathBuf, fault: Option<WriteFault>) -> Result<Self, StoreError> {
        let tmp_root = root.join("tmp");
        let scratch = tmp_root.join(format!("p{}", std::process::id()));
        let damaged = root.join("damaged");
        let stamps = root.join("checked");
        for dir in [&root, &tmp_root, &damaged, &stamps] {
            fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                action: "create the directory",
                path: dir.clone(),
                source,
            })?;
        }
        let scratch_key = fs::canonicalize(&tmp_root)
            .unwrap_or_else(|_| tmp_root.clone())
            .join(format!("p{}", std::process::id()));
        *SCRATCH_USERS
            .lock()
            .get_or_insert_with(HashMap::new)
            .entry(scratch_key.clone())
            .or_default() += 1;
        Ok(Self {
            root,
            tmp_root,
            scratch,
            scratch_key,
            damaged,
            stamps,
            fault,
        })
    }

    /// Where the value with this fingerprint lives.
    pub(super) fn path(&self, fingerprint: &Fingerprint, extension: &str) -> PathBuf {
        self.root
            .join(format!("{}.{extension}", fingerprint.to_hex()))
    }

    /// This process's scratch directory (same file system as the objects),
    /// created if it is not there (an error shows when a file is made in it).
    pub(super) fn scratch(&self) -> &Path {
        let _ = fs::create_dir_all(&self.scratch);
        &self.scratch
    }

    /// `objects/tmp/`, the parent of every process's scratch directory.
    pub(super) fn tmp_root(&self) -> &Path {
        &self.tmp_root
    }

    /// Writes `value` with its type's `write_file` into place; returns the file's
    /// size and content hash.
    pub(super) fn write(
        &self,
        fingerprint: &Fingerprint,
        value_type: &ValueType,
        value: &ErasedValue,
    ) -> Result<(u64, Fingerprint), StoreError> {
        let target = self.path(fingerprint, value_type.extension());
        let io = |action, source| StoreError::Io {
            action,
            path: target.clone(),
            source,
        };
        let temp = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .suffix(".tmp")
            .tempfile_in(self.scratch())
            .map_err(|e| io("create a temporary file for", e))?;
        if let Some(fault) = &self.fault {
            fault(temp.path()).map_err(|e| io("write", e))?;
        }
        value_type
            .write_file(&**value, temp.path())
            .map_err(|e| match e {
                ValueError::Io { source, .. } => io("write", source),
                other => StoreError::Value(other),
            })?;
        temp.as_file().sync_all().map_err(|e| io("flush", e))?;
        let (size, hash) = Fingerprint::of_file(temp.path()).map_err(|e| io("read back", e))?;
        temp.persist(&target)
            .map_err(|e| io("move into place", e.error))?;
        self.sync_root()
            .map_err(|e| io("flush the directory of", e))?;
        // Read back and hashed just now: a read need not hash it again.
        self.stamp_written(fingerprint, &target, &hash);
        Ok((size, hash))
    }

    /// Adopts a file a value already wrote (while materializing) as the file of
    /// `fingerprint`: linked into place unless it is there already. A hard
    /// link, not a rename, so that the value (a lazy scan of that file, for a
    /// data frame) keeps working; the scratch name goes when the process's
    /// scratch directory is swept.
    ///
    /// The file is complete but not yet flushed to disk: the writer thread
    /// flushes it ([`Objects::make_durable`]) before it commits the row that
    /// points at it, so the task that made it (and its consumers) need not
    /// wait for the disk. Until then no row names it, and a crash leaves at
    /// worst an unreferenced file for gc.
    pub(super) fn adopt(
        &self,
        file: &Path,
        fingerprint: &Fingerprint,
        extension: &str,
    ) -> Result<(u64, Fingerprint), StoreError> {
        let target = self.path(fingerprint, extension);
        let io = |action, source| StoreError::Io {
            action,
            path: file.to_owned(),
            source,
        };
        if let Some(fault) = &self.fault {
            fault(file).map_err(|e| io("adopt", e))?;
        }
        // The file holds the value's canonical encoding, whose blake3 digest
        // is the value's fingerprint (the `Materialized` contract, which the
        // frame writers keep by hashing every byte they write): no need to
        // read it again, and reads trust it once it is stamped
        // (`make_durable`). A value breaking that contract is found by a
        // scrub (`verify`).
        let size = fs::metadata(file).map_err(|e| io("read", e))?.len();
        let hash = *fingerprint;
        // A file of that size already in place holds the same encoding (or
        // is damaged, which reads report): keep it rather than leave a moment
        // with no file under the name. Else link under a temporary name and
        // rename over the target, so the name never points at nothing.
        let in_place = fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size);
        if file != target && in_place {
            self.share_stored(file, fingerprint, extension, &hash);
        }
        if file != target && !in_place {
            let link = self.scratch().join(format!(
                "{}-{}.link",
                std::process::id(),
                fingerprint.to_hex()
            ));
            let _ = fs::remove_file(&link);
            let linked = fs::hard_link(file, &link).and_then(|()| fs::rename(&link, &target));
            if let Err(error) = linked {
                let _ = fs::remove_file(&link);
                // Another file system, or links unsupported: copy, then rename.
                let temp = tempfile::Builder::new()
                    .prefix(&format!("{}-", std::process::id()))
                    .suffix(".tmp")
                    .tempfile_in(self.scratch())
                    .map_err(|e| io("copy into the store", e))?;
                fs::copy(file, temp.path()).map_err(|e| {
                    io(
                        "copy into the store",
                        io::Error::new(e.kind(), format!("{e} (linking failed: {error})")),
                    )
                })?;
                temp.as_file().sync_all().map_err(|e| io("flush", e))?;
                temp.persist(&target)
                    .map_err(|e| io("move into the store", e.error))?;
            }
        }
        Ok((size, hash))
    }

    /// Frees the disk space of `file`, a scratch copy of a value whose file is
    /// stored already (a task computed a value equal to a stored one): its
    /// name is replaced, atomically, by a hard link to the stored file. The
    /// name stays, so a value in memory that scans it (a lazy frame) keeps
    /// reading the same bytes; it goes with the scratch directory's sweep.
    ///
    /// Only done for a file in this process's scratch directory, and only
    /// once the stored file is checked against `content_hash` (by its stamp,
    /// else hashed, as a read would): a damaged stored file must not replace
    /// a good copy. The stored file is stamped again after the link (which
    /// changes its metadata). Any failure leaves the copy as it was.
    pub(super) fn share_stored(
        &self,
        file: &Path,
        fingerprint: &Fingerprint,
        extension: &str,
        content_hash: &Fingerprint,
    ) {
        static SHARES: AtomicU64 = AtomicU64::new(0);
        let target = self.path(fingerprint, extension);
        if file.parent() != Some(self.scratch.as_path()) || file == target {
            return;
        }
        let (Ok(copy), Ok(stored)) = (fs::metadata(file), fs::metadata(&target)) else {
            return;
        };
        // `None` where the platform gives no inode: the copy stays.
        let (Some(copy), Some(stored)) = (
            Stamp::of(&copy, content_hash),
            Stamp::of(&stored, content_hash),
        ) else {
            return;
        };
        let same = (copy.inode, copy.device) == (stored.inode, stored.device);
        if same
            || copy.size != stored.size
            || self
                .checked(fingerprint, extension, stored.size, content_hash)
                .is_err()
        {
            return;
        }
        let n = SHARES.fetch_add(1, Ordering::Relaxed);
        let link = self.scratch.join(format!(
            "{}-{n}-{}.share",
            std::process::id(),
            fingerprint.to_hex()
        ));
        match fs::hard_link(&target, &link).and_then(|()| fs::rename(&link, file)) {
            Ok(()) => self.stamp_written(fingerprint, &target, content_hash),
            Err(_) => {
                let _ = fs::remove_file(&link);
            }
        }
    }

    /// Flushes adopted files, then the `objects/` directory, to disk, and
    /// stamps each (its content hash is its fingerprint: see [`Self::adopt`]).
    /// A file gone meanwhile (gc, a quarantine) is skipped: the writer writes
    /// it again, flushed, before recording its row.
    pub(super) fn make_durable<'a>(
        &self,
        files: impl IntoIterator<Item = (&'a Fingerprint, &'a str)>,
    ) -> Result<(), StoreError> {
        let mut any = false;
        for (fingerprint, extension) in files {
            let path = self.path(fingerprint, extension);
            match File::open(&path).and_then(|f| f.sync_all()) {
                Ok(()) => {
                    any = true;
                    self.stamp_written(fingerprint, &path, fingerprint);
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "flush",
                        path,
                        source,
                    });
                }
            }
        }
        if any {
            self.sync_root().map_err(|source| StoreError::Io {
                action: "flush the directory of",
                path: self.root.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// A scratch path for a copy of a value being fetched from an object
    /// store, unique in this process.
    pub(super) fn fetch_path(&self, fingerprint: &Fingerprint, extension: &str) -> PathBuf {
        static FETCHES: AtomicU64 = AtomicU64::new(0);
        let n = FETCHES.fetch_add(1, Ordering::Relaxed);
        self.scratch()
            .join(format!("fetch-{n}-{}.{extension}", fingerprint.to_hex()))
    }

    /// Moves a fetched copy (complete, flushed, its content hash checked)
    /// into place as the value's file and stamps it, so that reads trust it
    /// without hashing it again. The directory is not flushed: a rename lost
    /// to a crash only loses a cached copy, fetched again when needed.
    pub(super) fn place_fetched(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        fetched: &Path,
        content_hash: &Fingerprint,
    ) -> io::Result<PathBuf> {
        let target = self.path(fingerprint, extension);
        fs::rename(fetched, &target)?;
        self.stamp_written(fingerprint, &target, content_hash);
        Ok(target)
    }

    /// Removes a value's local file and its stamp (its object store holds
    /// it, or gc removes the value); returns the bytes that freed on disk
    /// (see [`freed_by_removing`]), `None` if there was no file.
    pub(super) fn evict(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
    ) -> io::Result<Option<u64>> {
        let path = self.path(fingerprint, extension);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        self.unstamp(fingerprint);
        match fs::remove_file(&path) {
            Ok(()) => Ok(Some(freed_by_removing(&meta))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether the file exists with the recorded size (cheap: one `stat`).
    pub(super) fn intact(&self, fingerprint: &Fingerprint, extension: &str, size: u64) -> bool {
        fs::metadata(self.path(fingerprint, extension))
            .is_ok_and(|meta| meta.is_file() && meta.len() == size)
    }

    /// Reads a value after checking its file's size and content hash; `Err` says
    /// what is wrong.
    pub(super) fn read(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
        value_type: &ValueType,
        ctx: &StoreContext<'_>,
    ) -> Result<ErasedValue, Unreadable> {
        let path = self
            .checked(fingerprint, extension, size, content_hash)
            .map_err(Unreadable::Damaged)?;
        value_type.read_stored_file(&path, ctx).map_err(|e| {
            Unreadable::of(e, |e| {
                format!("its file {} does not decode: {e}", path.display())
            })
        })
    }

    /// The path of a value's file after checking its size and content hash
    /// (the hash only if the file's stamp does not vouch for it); `Err` says
    /// what is wrong with the file.
    pub(super) fn checked(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
    ) -> Result<PathBuf, String> {
        let path = self.path(fingerprint, extension);
        let meta = self.sized(&path, size)?;
        if let (Some(stamp), Some(now)) = (self.stamp(fingerprint), Stamp::of(&meta, content_hash))
            && stamp == now
        {
            return Ok(path);
        }
        self.hash_and_stamp(fingerprint, &path, &meta, content_hash)?;
        Ok(path)
    }

    /// Hashes a value's file whatever its stamp says (a scrub), and stamps it
    /// again if it is intact; returns the bytes read, or what is wrong.
    pub(super) fn scrub(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
    ) -> Result<u64, String> {
        let path = self.path(fingerprint, extension);
        let meta = self.sized(&path, size)?;
        self.hash_and_stamp(fingerprint, &path, &meta, content_hash)?;
        Ok(size)
    }

    /// The file's metadata, after checking that it has `size` bytes.
    fn sized(&self, path: &Path, size: u64) -> Result<fs::Metadata, String> {
        let shown = path.display();
        let meta =
            fs::metadata(path).map_err(|e| format!("its file {shown} is unreadable: {e}"))?;
        if meta.len() != size {
            return Err(format!(
                "its file {shown} has {} bytes instead of {size} (truncated or overwritten)",
                meta.len()
            ));
        }
        Ok(meta)
    }

    /// Compares the file's blake3 digest with `content_hash`; if they match
    /// and the file did not change while it was read, stamps it.
    fn hash_and_stamp(
        &self,
        fingerprint: &Fingerprint,
        path: &Path,
        before: &fs::Metadata,
        content_hash: &Fingerprint,
    ) -> Result<(), String> {
        let shown = path.display();
        let checked_at = SystemTime::now();
        let (_, hash) =
            Fingerprint::of_file(path).map_err(|e| format!("cannot read its file {shown}: {e}"))?;
        if hash != *content_hash {
            self.unstamp(fingerprint);
            return Err(format!(
                "its file {shown} no longer matches its content hash (damaged on disk)"
            ));
        }
        if let Ok(after) = fs::metadata(path)
            && let Some(stamp) = Stamp::of(before, content_hash)
            && Stamp::of(&after, content_hash).as_ref() == Some(&stamp)
            && !stamp.racy(checked_at)
        {
            self.write_stamp(fingerprint, &stamp);
        }
        Ok(())
    }

    /// Stamps a file the store just wrote and whose content hash it knows:
    /// its modification time is set [`BACKDATE`] back first, so the stamp
    /// is not racy. A failure only costs a hash at the next read.
    fn stamp_written(&self, fingerprint: &Fingerprint, path: &Path, content_hash: &Fingerprint) {
        let back = SystemTime::now() - BACKDATE;
        let Ok(meta) = File::options()
            .write(true)
            .open(path)
            .and_then(|file| file.set_modified(back))
            .and_then(|()| fs::metadata(path))
        else {
            return;
        };
        if let Some(stamp) = Stamp::of(&meta, content_hash)
            && !stamp.racy(SystemTime::now())
        {
            self.write_stamp(fingerprint, &stamp);
        }
    }

    /// The stamp left for a value's file, if any.
    fn stamp(&self, fingerprint: &Fingerprint) -> Option<Stamp> {
        let bytes = fs::read(self.stamps.join(fingerprint.to_hex())).ok()?;
        Stamp::decode(&bytes)
    }

    /// Leaves a stamp, atomically. Not flushed to disk, and a failure is
    /// ignored: a stamp lost only costs a hash at a later read.
    fn write_stamp(&self, fingerprint: &Fingerprint, stamp: &Stamp) {
        let _ = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .suffix(".tmp")
            .tempfile_in(self.scratch())
            .and_then(|mut temp| {
                temp.write_all(&stamp.encode())?;
                temp.persist(self.stamps.join(fingerprint.to_hex()))
                    .map_err(|e| e.error)
            });
    }

    /// Removes a value's stamp, if any.
    fn unstamp(&self, fingerprint: &Fingerprint) {
        let _ = fs::remove_file(self.stamps.join(fingerprint.to_hex()));
    }

    /// A scratch file holding `bytes` (a value stored in the database), for a
    /// view that reads it as a file; written once, atomically.
    pub(super) fn spill(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        bytes: &[u8],
    ) -> io::Result<PathBuf> {
        let path = self
            .scratch()
            .join(format!("{}.{extension}", fingerprint.to_hex()));
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(path);
        }
        let mut temp = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .suffix(".tmp")
            .tempfile_in(self.scratch())?;
        temp.write_all(bytes)?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Moves a damaged file aside to `objects/damaged/` (so nothing reads it again
    /// and people can inspect it); returns where it went.
    pub(super) fn quarantine(&self, fingerprint: &Fingerprint, extension: &str) -> Option<PathBuf> {
        self.unstamp(fingerprint);
        let from = self.path(fingerprint, extension);
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let to = self
            .damaged
            .join(format!("{}.{extension}.{stamp}", fingerprint.to_hex()));
        fs::rename(&from, &to).ok().map(|()| to)
    }

    /// Flushes the `objects/` directory itself, making renames durable.
    pub(super) fn sync_root(&self) -> io::Result<()> {
        File::open(&self.root)?.sync_all()
    }

    /// Every value file: `(path, fingerprint, size, modified)`; other names are skipped.
    pub(super) fn files(&self) -> io::Result<Vec<(PathBuf, Fingerprint, u64, SystemTime)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.split('.').next()) else {
                continue;
            };
            if let Ok(fingerprint) = stem.parse::<Fingerprint>() {
                let modified = meta.modified().unwrap_or(SystemTime::now());
                out.push((entry.path(), fingerprint, meta.len(), modified));
            }
        }
        Ok(out)
    }
}

#[path = "objects_sweep.rs"]
mod sweep;
pub(super) use sweep::{freed_by_removing, process_alive};

#[cfg(test)]
#[path = "objects_tests.rs"]
mod tests;
