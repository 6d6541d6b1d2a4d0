//! Stamps: what a check of a value file found, by the file's metadata (see
//! `objects`), and vouching for a file by its stamp.

use std::fs;
#[cfg(feature = "remote")]
use std::fs::File;
#[cfg(feature = "remote")]
use std::io::{self, Write};
#[cfg(any(feature = "polars", feature = "remote"))]
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fingerprint::Fingerprint;

/// How much older than the moment of a check a file's modification time
/// must be for the check to leave a stamp: more than a file system's clock
/// tick (coarse ones have two seconds).
pub(super) const RACY_WINDOW: Duration = Duration::from_secs(3);

/// How far back the store sets the modification time of a file it wrote, so
/// that the stamp it leaves is not racy.
pub(super) const BACKDATE: Duration = Duration::from_secs(10);

/// Whether `path` is the value file `fingerprint` of a store, as that store
/// wrote or checked it: either a file `<root>/<fingerprint>.<ext>` whose
/// stamp in `<root>/checked/` still matches the file's metadata (the store
/// hashed it against its content hash, and it has not changed since), or a
/// file in this process's own scratch directory `<root>/tmp/p<pid>/`, which
/// only this process writes. A file elsewhere, or named like a value in a
/// directory no store vouches for, is not one, whatever its name says.
#[cfg(feature = "polars")]
pub(crate) fn vouches_for(path: &Path, fingerprint: &Fingerprint) -> bool {
    let Some(parent) = path.parent() else {
        return false;
    };
    let own_scratch = format!("p{}", std::process::id());
    if parent.file_name().and_then(|n| n.to_str()) == Some(own_scratch.as_str())
        && parent.parent().and_then(Path::file_name) == Some("tmp".as_ref())
    {
        return true;
    }
    let Ok(bytes) = fs::read(parent.join("checked").join(fingerprint.to_hex())) else {
        return false;
    };
    match (Stamp::decode(&bytes), fs::metadata(path)) {
        (Some(stamp), Ok(meta)) => {
            Stamp::of(&meta, &stamp.content_hash).is_some_and(|now| now == stamp)
        }
        _ => false,
    }
}

/// Vouches for a value file that was just checked against its content hash
/// outside a store (a Slurm worker's download of its input, named
/// `<dir>/<fingerprint>.<ext>`): leaves the stamp [`vouches_for`] looks for
/// in `<dir>/checked/`, the file's modification time set back first as for
/// a file the store writes. A failure only means the file is not vouched
/// for (a frame over it is then stored as rows, not as a view).
#[cfg(feature = "remote")]
pub(crate) fn vouch_for_checked_file(
    path: &Path,
    fingerprint: &Fingerprint,
    content_hash: &Fingerprint,
) -> io::Result<()> {
    let stamps = path
        .parent()
        .ok_or_else(|| io::Error::other("a value file has a directory"))?
        .join("checked");
    fs::create_dir_all(&stamps)?;
    File::options()
        .write(true)
        .open(path)?
        .set_modified(SystemTime::now() - BACKDATE)?;
    let stamp = Stamp::of(&fs::metadata(path)?, content_hash)
        .ok_or_else(|| io::Error::other("this platform gives no inode and change time"))?;
    let mut temp = tempfile::NamedTempFile::new_in(&stamps)?;
    temp.write_all(&stamp.encode())?;
    temp.persist(stamps.join(fingerprint.to_hex()))
        .map_err(|e| e.error)?;
    Ok(())
}

/// What a check of a value file found, by the file's metadata at the time:
/// while the metadata is unchanged, so is the file (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) content_hash: Fingerprint,
    pub(super) size: u64,
    pub(super) modified_ns: i128,
    pub(super) changed_ns: i128,
    pub(super) inode: u64,
    pub(super) device: u64,
}

/// The first bytes of a stamp file (a layout version).
const STAMP_MAGIC: &[u8; 8] = b"pvstamp1";
/// Magic, content hash, size, two times, inode, device.
const STAMP_LEN: usize = 8 + 32 + 8 + 16 + 16 + 8 + 8;

impl Stamp {
    /// The stamp of a file with this metadata and content hash; `None` where
    /// the platform does not give inode and change time (the file is then
    /// hashed at every read).
    #[cfg(unix)]
    pub(super) fn of(meta: &fs::Metadata, content_hash: &Fingerprint) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(Self {
            content_hash: *content_hash,
            size: meta.len(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        })
    }

    #[cfg(not(unix))]
    pub(super) fn of(_meta: &fs::Metadata, _content_hash: &Fingerprint) -> Option<Self> {
        None
    }

    /// Whether a write right after `checked_at` could leave the file's
    /// modification time equal to this one.
    pub(super) fn racy(&self, checked_at: SystemTime) -> bool {
        let checked_ns = checked_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        self.modified_ns + RACY_WINDOW.as_nanos() as i128 > checked_ns
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STAMP_LEN);
        out.extend_from_slice(STAMP_MAGIC);
        out.extend_from_slice(self.content_hash.as_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.modified_ns.to_le_bytes());
        out.extend_from_slice(&self.changed_ns.to_le_bytes());
        out.extend_from_slice(&self.inode.to_le_bytes());
        out.extend_from_slice(&self.device.to_le_bytes());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != STAMP_LEN || !bytes.starts_with(STAMP_MAGIC) {
            return None;
        }
        let at = |from: usize, len: usize| &bytes[from..from + len];
        let u64_at = |from| u64::from_le_bytes(at(from, 8).try_into().expect("8 bytes"));
        let i128_at = |from| i128::from_le_bytes(at(from, 16).try_into().expect("16 bytes"));
        Some(Self {
            content_hash: Fingerprint::from_bytes(at(8, 32).try_into().expect("32 bytes")),
            size: u64_at(40),
            modified_ns: i128_at(48),
            changed_ns: i128_at(64),
            inode: u64_at(80),
            device: u64_at(88),
        })
    }
}
