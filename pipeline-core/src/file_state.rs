//! External files, looked at on every submit: a stat cache from a file's
//! identity and times to its content digest, as git's index keeps one.
//!
//! A value that names files (a `PathBuf`, see
//! [`Value::external_files`](crate::Value::external_files)) stands for their
//! content: the runtime combines the value's own fingerprint with a digest of
//! each file into the node's *effective* fingerprint. Checking an unchanged
//! file costs one `stat`: its device, inode, size, modification and change
//! times (nanoseconds) are compared with those recorded when it was last
//! hashed; only a file whose stat differs is read and hashed again. The
//! entries persist in the store, so a new process does not re-hash either.
//!
//! - **Timestamps never enter a key**: a digest is the blake3 of the file's
//!   bytes. Rewriting a file with equal content changes its stat, costs one
//!   hash, and changes nothing else.
//! - **Racy entries**: a file modified within the file system's timestamp
//!   granularity of the moment it was hashed might change again without its
//!   stat changing; such an entry is not trusted, and the file is hashed
//!   again at the next check (git's "racily clean" rule). The granularity is
//!   taken as 50 ms where the file system records nanoseconds, 2 s where it
//!   records whole seconds.
//! - **Directories** stand for their whole tree: the digest of the sorted
//!   entry names with each entry's digest (files hashed, subdirectories
//!   recursively, symbolic links followed). The names are cached with the
//!   directory's stat; every entry is stat-cached like a file.
//! - **A missing file** has a digest of its own: its readers run (and fail
//!   with their own message naming the path), and their earlier outputs stay.
//! - **An unreadable file** (permissions, a symbolic link loop) gets a digest
//!   that never repeats, so nothing that reads it is ever skipped.
//!
//! ```
//! use pipeline_core::file_state::FileStates;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("data.csv");
//! std::fs::write(&path, "a\n1\n")?;
//! let files = FileStates::new();
//! let first = files.digest(&path, None);
//! assert_eq!(files.digest(&path, None), first);
//! std::fs::write(&path, "a\n2\n")?;
//! assert_ne!(files.digest(&path, None), first);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::store::Store;

mod stat;

use stat::nanos;
pub use stat::{FileStat, FileState};

/// How deep directories are followed (deeper trees, or cycles through
/// symbolic links, get a digest that never repeats).
const MAX_DEPTH: usize = 64;

/// The stat cache of one runtime (see the module docs).
#[derive(Default)]
pub struct FileStates {
    entries: Mutex<HashMap<PathBuf, FileState>>,
    /// States hashed since they were last written to the store.
    unsaved: Mutex<Vec<(PathBuf, FileState)>>,
    hashed: AtomicU64,
    stats: AtomicU64,
}

impl FileStates {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many files (and directory listings) were read and hashed so far:
    /// an unchanged file checked again adds nothing.
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// How many `stat` calls checks made so far.
    pub fn stats(&self) -> u64 {
        self.stats.load(Ordering::Relaxed)
    }

    /// The digest of the file or directory at `path` as it is now, from the
    /// cache where its stat is unchanged (entries missing in memory are
    /// looked up in `store`).
    pub fn digest(&self, path: &Path, store: Option<&dyn Store>) -> Fingerprint {
        if path.is_absolute() {
            return self.digest_at(path, store, 0, &mut Vec::new());
        }
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        self.digest_at(&absolute, store, 0, &mut Vec::new())
    }

    /// The effective fingerprint of a value whose own fingerprint is `value`
    /// and that names `files`: the value's, when it names none.
    pub fn effective(
        &self,
        value: Fingerprint,
        files: &[&Path],
        store: Option<&dyn Store>,
    ) -> Fingerprint {
        if files.is_empty() {
            return value;
        }
        let mut hasher = FingerprintHasher::with_domain("value-with-files");
        hasher
            .update_fingerprint(&value)
            .update_u64(files.len() as u64);
        for file in files {
            hasher.update_fingerprint(&self.digest(file, store));
        }
        hasher.finish()
    }

    /// Writes the states hashed since the last call to `store`, so that a
    /// new process trusts them too. Failing to save only costs a hash later.
    pub fn save(&self, store: &dyn Store) {
        let unsaved = std::mem::take(&mut *self.unsaved.lock());
        if !unsaved.is_empty() {
            // Not saved: the next process hashes those files again, no more.
            let _ = store.record_file_states(&unsaved);
        }
    }

    fn digest_at(
        &self,
        path: &Path,
        store: Option<&dyn Store>,
        depth: usize,
        ancestors: &mut Vec<(u64, u64)>,
    ) -> Fingerprint {
        self.stats.fetch_add(1, Ordering::Relaxed);
        let stat = match FileStat::of(path) {
            Ok(stat) => stat,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return missing(),
            Err(e) => return unreadable(&e.to_string()),
        };
        if !stat.is_dir {
            // The common case, under the lock: an unchanged file.
            if let Some(state) = self.entries.lock().get(path)
                && state.trusted(&stat)
            {
                return state.digest;
            }
        }
        let known = self.known(path, store);
        let trusted = known.as_ref().filter(|state| state.trusted(&stat));
        if !stat.is_dir {
            if let Some(state) = trusted {
                return state.digest;
            }
            return match self.hash_file(path, stat) {
                Some(digest) => digest,
                None => unreadable("the file could not be read"),
            };
        }
        if depth >= MAX_DEPTH || ancestors.contains(&(stat.device, stat.inode)) {
            return unreadable("a directory cycle or too deep a tree");
        }
        let entries = match trusted {
            Some(state) => state.entries.clone(),
            None => match self.list_dir(path, stat) {
                Some(entries) => entries,
                None => return unreadable("the directory could not be listed"),
            },
        };
        ancestors.push((stat.device, stat.inode));
        let mut hasher = FingerprintHasher::with_domain("directory-tree");
        hasher.update_u64(entries.len() as u64);
        for name in entries.iter() {
            let child = self.digest_at(&path.join(&**name), store, depth + 1, ancestors);
            hasher.update_str(name).update_fingerprint(&child);
        }
        ancestors.pop();
        hasher.finish()
    }

    fn known(&self, path: &Path, store: Option<&dyn Store>) -> Option<FileState> {
        if let Some(state) = self.entries.lock().get(path) {
            return Some(state.clone());
        }
        let state = store?.file_state(path).ok()??;
        self.entries.lock().insert(path.to_owned(), state.clone());
        Some(state)
    }

    fn remember(&self, path: &Path, state: FileState) {
        self.unsaved.lock().push((path.to_owned(), state.clone()));
        self.entries.lock().insert(path.to_owned(), state);
    }

    fn hash_file(&self, path: &Path, stat: FileStat) -> Option<Fingerprint> {
        let hashed_at_ns = nanos(SystemTime::now());
        self.hashed.fetch_add(1, Ordering::Relaxed);
        let (_, content) = Fingerprint::of_file(path).ok()?;
        let digest = FingerprintHasher::with_domain("file")
            .update_fingerprint(&content)
            .finish();
        // The file may have changed while it was read: record the stat from
        // before, which then no longer matches, so it is hashed again.
        self.remember(
            path,
            FileState {
                stat,
                digest,
                hashed_at_ns,
                entries: Arc::from(Vec::new()),
            },
        );
        Some(digest)
    }

    fn list_dir(&self, path: &Path, stat: FileStat) -> Option<Arc<[Box<str>]>> {
        let hashed_at_ns = nanos(SystemTime::now());
        self.hashed.fetch_add(1, Ordering::Relaxed);
        let mut names: Vec<Box<str>> = Vec::new();
        for entry in std::fs::read_dir(path).ok()? {
            let name = entry.ok()?.file_name();
            // A name that is not UTF-8 still counts, by its lossy form.
            names.push(name.to_string_lossy().into());
        }
        names.sort();
        let entries: Arc<[Box<str>]> = names.into();
        let mut hasher = FingerprintHasher::with_domain("directory-names");
        for name in entries.iter() {
            hasher.update_str(name);
        }
        self.remember(
            path,
            FileState {
                stat,
                digest: hasher.finish(),
                hashed_at_ns,
                entries: entries.clone(),
            },
        );
        Some(entries)
    }
}

impl std::fmt::Debug for FileStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStates")
            .field("entries", &self.entries.lock().len())
            .field("hashed", &self.hashed())
            .finish()
    }
}

/// The digest of a path that does not exist.
pub fn missing() -> Fingerprint {
    FingerprintHasher::with_domain("missing file").finish()
}

/// A digest that never repeats: for a file that cannot be read, whose
/// readers must never be skipped.
fn unreadable(why: &str) -> Fingerprint {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    FingerprintHasher::with_domain("unreadable file")
        .update_str(why)
        .update_u64(u64::from(std::process::id()))
        .update_u64(nanos(SystemTime::now()) as u64)
        .update_u64(NEXT.fetch_add(1, Ordering::Relaxed))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits out the racy window of files just written.
    fn settle() {
        std::thread::sleep(Duration::from_millis(120));
    }

    #[test]
    fn an_unchanged_file_is_hashed_once_and_then_only_stated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        settle();
        let files = FileStates::new();
        let digest = files.digest(&path, None);
        for _ in 0..5 {
            assert_eq!(files.digest(&path, None), digest);
        }
        assert_eq!(files.hashed(), 1);
        assert_eq!(files.stats(), 6);
    }

    #[test]
    fn a_racy_entry_is_hashed_again_until_it_is_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let files = FileStates::new();
        files.digest(&path, None);
        files.digest(&path, None);
        assert_eq!(files.hashed(), 2, "hashed right after a write: not trusted");
        settle();
        files.digest(&path, None);
        files.digest(&path, None);
        assert_eq!(files.hashed(), 3, "hashed long enough after the write");
    }

    #[test]
    fn an_equal_rewrite_keeps_the_digest_and_an_edit_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let files = FileStates::new();
        let digest = files.digest(&path, None);
        std::fs::write(&path, "x\n1\n").unwrap();
        assert_eq!(files.digest(&path, None), digest);
        // Same size, and the old modification time put back.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, "x\n2\n").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(modified).unwrap();
        assert_ne!(files.digest(&path, None), digest);
    }

    #[test]
    fn a_missing_file_has_a_digest_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStates::new();
        assert_eq!(files.digest(&dir.path().join("nope"), None), missing());
    }

    #[test]
    fn a_directory_stands_for_its_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), "1").unwrap();
        std::fs::write(dir.path().join("b"), "2").unwrap();
        settle();
        let files = FileStates::new();
        let tree = files.digest(dir.path(), None);
        let hashed = files.hashed();
        assert_eq!(files.digest(dir.path(), None), tree);
        assert_eq!(files.hashed(), hashed, "an unchanged tree is only stated");
        std::fs::write(dir.path().join("sub/a"), "3").unwrap();
        let edited = files.digest(dir.path(), None);
        assert_ne!(edited, tree, "a file deep inside changed");
        std::fs::write(dir.path().join("c"), "").unwrap();
        assert_ne!(files.digest(dir.path(), None), edited, "an entry was added");
    }
}
