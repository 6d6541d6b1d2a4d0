//! Content-addressed value files: `objects/<fingerprint>.<extension>`.
//!
//! A file is written under a temporary name in `objects/tmp/p<pid>/`, flushed to
//! disk, and renamed into place, after which the directory is flushed too; only
//! then may a database row point at it. A crash therefore leaves at worst a
//! temporary file (removed by `gc`) or a complete file no row points at (also
//! removed by `gc`); a partly written file never carries a final name. A
//! file a value wrote while materializing is *adopted* (linked into place)
//! and flushed by the writer thread just before the row that names it is
//! committed, so that the task need not wait for the disk.
//!
//! Every file is checked before use: `intact` compares its size with the one
//! recorded (cheap, for skip decisions) and `read` its blake3 digest with the
//! recorded content hash, so bit rot, truncation and deletion are all caught.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

impl Unreadable {
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
    damaged: PathBuf,
    fault: Option<WriteFault>,
}

impl Objects {
    /// Creates `objects/`, `objects/tmp/p<pid>/` and `objects/damaged/` as needed.
    pub(super) fn open(root: PathBuf, fault: Option<WriteFault>) -> Result<Self, StoreError> {
        let tmp_root = root.join("tmp");
        let scratch = tmp_root.join(format!("p{}", std::process::id()));
        let damaged = root.join("damaged");
        for dir in [&root, &tmp_root, &scratch, &damaged] {
            fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                action: "create the directory",
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Self {
            root,
            tmp_root,
            scratch,
            damaged,
            fault,
        })
    }

    /// Where the value with this fingerprint lives.
    pub(super) fn path(&self, fingerprint: &Fingerprint, extension: &str) -> PathBuf {
        self.root
            .join(format!("{}.{extension}", fingerprint.to_hex()))
    }

    /// This process's scratch directory (same file system as the objects).
    pub(super) fn scratch(&self) -> &Path {
        &self.scratch
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
            .tempfile_in(&self.scratch)
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
        // is the value's fingerprint (the `Materialized` contract): no need to
        // read it again. Should a value break that contract, reads of the file
        // report it as damaged and its task re-runs; nothing wrong is used.
        let size = fs::metadata(file).map_err(|e| io("read", e))?.len();
        let hash = *fingerprint;
        // A file of that size already in place holds the same encoding (or
        // is damaged, which reads report): keep it rather than leave a moment
        // with no file under the name. Else link under a temporary name and
        // rename over the target, so the name never points at nothing.
        let in_place = fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size);
        if file != target && !in_place {
            let link = self.scratch.join(format!(
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
                    .tempfile_in(&self.scratch)
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

    /// Flushes adopted files, then the `objects/` directory, to disk. A file
    /// gone meanwhile (gc, a quarantine) is skipped: the writer writes it
    /// again, flushed, before recording its row.
    pub(super) fn make_durable<'a>(
        &self,
        files: impl IntoIterator<Item = (&'a Fingerprint, &'a str)>,
    ) -> Result<(), StoreError> {
        let mut any = false;
        for (fingerprint, extension) in files {
            let path = self.path(fingerprint, extension);
            match File::open(&path).and_then(|f| f.sync_all()) {
                Ok(()) => any = true,
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

    /// The path of a value's file after checking its size and content hash;
    /// `Err` says what is wrong with the file.
    pub(super) fn checked(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        size: u64,
        content_hash: &Fingerprint,
    ) -> Result<PathBuf, String> {
        let path = self.path(fingerprint, extension);
        let shown = path.display();
        let meta =
            fs::metadata(&path).map_err(|e| format!("its file {shown} is unreadable: {e}"))?;
        if meta.len() != size {
            return Err(format!(
                "its file {shown} has {} bytes instead of {size} (truncated or overwritten)",
                meta.len()
            ));
        }
        let (_, hash) = Fingerprint::of_file(&path)
            .map_err(|e| format!("cannot read its file {shown}: {e}"))?;
        if hash != *content_hash {
            return Err(format!(
                "its file {shown} no longer matches its content hash (damaged on disk)"
            ));
        }
        Ok(path)
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
            .scratch
            .join(format!("{}.{extension}", fingerprint.to_hex()));
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(path);
        }
        let mut temp = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .suffix(".tmp")
            .tempfile_in(&self.scratch)?;
        temp.write_all(bytes)?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Moves a damaged file aside to `objects/damaged/` (so nothing reads it again
    /// and people can inspect it); returns where it went.
    pub(super) fn quarantine(&self, fingerprint: &Fingerprint, extension: &str) -> Option<PathBuf> {
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

    /// Removes leftovers that no live process will use: scratch directories of
    /// dead processes, temporary files untouched for a day, and quarantined
    /// files. Returns `(files, bytes)` removed.
    pub(super) fn sweep(&self) -> (u64, u64) {
        let mut removed = (0, 0);
        let mut remove = |path: &Path, len: u64| {
            if fs::remove_file(path).is_ok() {
                removed.0 += 1;
                removed.1 += len;
            }
        };
        let stale = |meta: &fs::Metadata| {
            meta.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600))
        };
        if let Ok(entries) = fs::read_dir(&self.tmp_root) {
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    let dead = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix('p'))
                        .and_then(|pid| pid.parse::<u32>().ok())
                        .is_some_and(|pid| !process_alive(pid));
                    for file in fs::read_dir(&path).into_iter().flatten().flatten() {
                        if let Ok(meta) = file.metadata()
                            && meta.is_file()
                            && (dead || stale(&meta))
                        {
                            remove(&file.path(), meta.len());
                        }
                    }
                    if dead {
                        let _ = fs::remove_dir(&path);
                    }
                } else if stale(&meta) {
                    remove(&path, meta.len());
                }
            }
        }
        if let Ok(entries) = fs::read_dir(&self.damaged) {
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata()
                    && meta.is_file()
                {
                    remove(&entry.path(), meta.len());
                }
            }
        }
        removed
    }
}

/// Whether a process id is running (Linux: `/proc/<pid>`; elsewhere assumed alive).
pub(super) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}
