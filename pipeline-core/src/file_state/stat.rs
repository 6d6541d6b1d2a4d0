//! What the stat cache records of one file: its [`FileStat`] and, once
//! hashed, its [`FileState`]. The store persists these records.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fingerprint::Fingerprint;

/// What `stat` says of a file: what must stay equal for its recorded digest
/// to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// The device holding it.
    pub device: u64,
    /// Its inode number.
    pub inode: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, ns since the Unix epoch.
    pub modified_ns: i64,
    /// Its status change time, ns since the Unix epoch (0 where unknown).
    pub changed_ns: i64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

impl FileStat {
    /// The stat of `path`, following symbolic links.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self::from_metadata(&meta))
    }

    #[cfg(unix)]
    fn from_metadata(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            changed_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            is_dir: meta.is_dir(),
        }
    }

    #[cfg(not(unix))]
    fn from_metadata(meta: &std::fs::Metadata) -> Self {
        Self {
            device: 0,
            inode: 0,
            size: meta.len(),
            modified_ns: meta.modified().map_or(0, nanos),
            changed_ns: 0,
            is_dir: meta.is_dir(),
        }
    }

    /// How far apart two writes must be for this file system to give them
    /// different times: whole-second times say a coarse file system.
    fn granularity_ns(&self) -> i64 {
        if self.modified_ns % 1_000_000_000 == 0 && self.changed_ns % 1_000_000_000 == 0 {
            2_000_000_000
        } else {
            50_000_000
        }
    }
}

/// What the cache knows of one file: its stat and digest when it was last
/// hashed, and when that was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The stat when it was hashed.
    pub stat: FileStat,
    /// The content digest (for a directory: of its entry names, sorted).
    pub digest: Fingerprint,
    /// When the hash started, ns since the Unix epoch.
    pub hashed_at_ns: i64,
    /// A directory's entry names, sorted (empty for a file).
    pub entries: Arc<[Box<str>]>,
}

impl FileState {
    /// Whether the recorded digest still holds for a file whose stat is
    /// `now`: equal stat, and not modified so close to the hash that a later
    /// write could have left the stat unchanged.
    pub fn trusted(&self, now: &FileStat) -> bool {
        self.stat == *now
            && self.stat.modified_ns.max(self.stat.changed_ns)
                < self.hashed_at_ns - self.stat.granularity_ns()
    }
}

/// Nanoseconds since the Unix epoch.
pub(super) fn nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
