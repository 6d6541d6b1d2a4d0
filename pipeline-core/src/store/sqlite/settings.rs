//! Settings of a store as a whole, in the `settings` table: the object store
//! that holds its values (see [`super::SqliteOptions::object_store`]) and
//! the store's id, which claims that object store for this registry.
//!
//! Each is written once, by the first process that needs it, and read by
//! every later one: a process opened without an object store still uploads
//! and fetches through the recorded one.

use rusqlite::{Connection, OptionalExtension};

/// The URL of the object store holding the store's values.
pub(super) const OBJECTS: &str = "objects";

/// The store's id: random, made once.
#[cfg(feature = "objects")]
pub(super) const ID: &str = "id";

/// The value of `key`, if it was ever set.
pub(super) fn read(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

/// Sets `key` to `value` unless it is set; returns the value it has now.
#[cfg(feature = "objects")]
pub(super) fn set_once(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<String> {
    conn.execute(
        "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
        rusqlite::params![key, value],
    )?;
    Ok(read(conn, key)?.unwrap_or_else(|| value.to_owned()))
}

/// The store's id, made (and recorded) if it has none yet: 32 hex digits
/// from the time, the process and the directory, hashed.
#[cfg(feature = "objects")]
pub(super) fn id(conn: &Connection, dir: &std::path::Path) -> rusqlite::Result<String> {
    if let Some(id) = read(conn, ID)? {
        return Ok(id);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos} {} {}", std::process::id(), dir.display());
    let hex = crate::fingerprint::Fingerprint::of_bytes(seed.as_bytes()).to_hex();
    set_once(conn, ID, &hex[..32])
}
