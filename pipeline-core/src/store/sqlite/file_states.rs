//! The stat cache of external files (see [`crate::file_state`]) in the
//! `file_states` table: one row per absolute path.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{fingerprint_at, pack_names, unpack_names};
use crate::file_state::{FileStat, FileState};

/// The recorded state of the file at `path`, if any.
pub(super) fn read(conn: &Connection, path: &str) -> rusqlite::Result<Option<FileState>> {
    conn.prepare_cached(
        "SELECT device, inode, size, modified, changed, is_dir, digest, hashed_at, entries \
         FROM file_states WHERE path = ?1",
    )?
    .query_row([path], |r| {
        let entries: Option<Vec<u8>> = r.get(8)?;
        Ok(FileState {
            stat: FileStat {
                device: r.get::<_, i64>(0)? as u64,
                inode: r.get::<_, i64>(1)? as u64,
                size: r.get::<_, i64>(2)? as u64,
                modified_ns: r.get(3)?,
                changed_ns: r.get(4)?,
                is_dir: r.get(5)?,
            },
            digest: fingerprint_at(r, 6)?,
            hashed_at_ns: r.get(7)?,
            entries: unpack_names(entries.as_deref().unwrap_or_default()),
        })
    })
    .optional()
}

/// Records (replacing) the states of files just hashed, in one transaction.
/// Paths that are not UTF-8 are left out: they are hashed again by the next
/// process, no more.
pub(super) fn write(
    conn: &mut Connection,
    states: &[(PathBuf, FileState)],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for (path, state) in states {
        let Some(text) = path.to_str() else { continue };
        tx.prepare_cached(
            "INSERT OR REPLACE INTO file_states (path, device, inode, size, modified, changed, \
             is_dir, digest, hashed_at, entries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            text,
            state.stat.device as i64,
            state.stat.inode as i64,
            state.stat.size as i64,
            state.stat.modified_ns,
            state.stat.changed_ns,
            state.stat.is_dir,
            state.digest.as_bytes().as_slice(),
            state.hashed_at_ns,
            (!state.entries.is_empty()).then(|| pack_names(&state.entries)),
        ])?;
    }
    tx.commit()
}
