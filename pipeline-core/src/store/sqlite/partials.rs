//! The `partials` table: small results of parts of queries (see
//! [`crate::partial_results`]), each with the values it was computed from
//! and a digest of its bytes, checked on every read.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{pack_fingerprints, unpack_fingerprints};
use crate::fingerprint::Fingerprint;

/// The result recorded under `key`, if any and its bytes match their digest.
pub(super) fn read(conn: &Connection, key: &Fingerprint) -> rusqlite::Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT result, digest FROM partials WHERE key = ?1")?
        .query_row([key.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(result, digest)| {
        (Fingerprint::of_bytes(&result).as_bytes().as_slice() == digest.as_slice())
            .then_some(result)
    }))
}

/// Records (replacing) `result` under `key`.
pub(super) fn write(
    conn: &Connection,
    key: &Fingerprint,
    references: &[Fingerprint],
    result: &[u8],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO partials (key, refs, result, digest) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        key.as_bytes().as_slice(),
        pack_fingerprints(references),
        result,
        Fingerprint::of_bytes(result).as_bytes().as_slice(),
    ])?;
    Ok(())
}

/// Removes the results computed from a value not in `kept`; returns how many.
pub(super) fn collect(
    tx: &rusqlite::Transaction<'_>,
    kept: &std::collections::HashSet<Fingerprint>,
) -> rusqlite::Result<u64> {
    let rows: Vec<(Vec<u8>, Vec<u8>)> = tx
        .prepare("SELECT key, refs FROM partials")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = 0;
    for (key, refs) in rows {
        let live =
            unpack_fingerprints(&refs).is_some_and(|fps| fps.iter().all(|f| kept.contains(f)));
        if !live {
            tx.execute("DELETE FROM partials WHERE key = ?1", [key])?;
            removed += 1;
        }
    }
    Ok(removed)
}
