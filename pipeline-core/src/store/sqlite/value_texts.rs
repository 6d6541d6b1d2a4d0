//! The text form of values people wrote, in the `value_texts` table: one row
//! per value fingerprint (see [`Store::record_value_text`]).
//!
//! [`Store::record_value_text`]: crate::store::Store::record_value_text

use rusqlite::{Connection, OptionalExtension, params};

use crate::fingerprint::Fingerprint;

/// The text recorded for the value `fingerprint`, if any.
pub(super) fn read(
    conn: &Connection,
    fingerprint: &Fingerprint,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT text FROM value_texts WHERE fingerprint = ?1")?
        .query_row([fingerprint.as_bytes().as_slice()], |r| r.get(0))
        .optional()
}

/// Records (replacing) the text of the value `fingerprint`.
pub(super) fn write(
    conn: &Connection,
    fingerprint: &Fingerprint,
    text: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO value_texts (fingerprint, text) VALUES (?1, ?2)")?
        .execute(params![fingerprint.as_bytes().as_slice(), text])
        .map(drop)
}

/// Drops the texts of values the store no longer holds (after gc removed them).
pub(super) fn collect(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM value_texts WHERE fingerprint NOT IN (SELECT fingerprint FROM objects)",
        [],
    )
}
