//! A large file's blake3 digest, computed on all cores: the file is read in
//! pieces of [`PIECE_BYTES`], each hashed as a subtree of blake3's tree
//! (`blake3::hazmat`), and the pieces' chaining values are merged into the
//! root in the tree's shape. The digest is the one `blake3::hash` gives
//! for the whole file.
//!
//! Each thread reads its pieces into a buffer of its own, which stays in the
//! core's cache while it is hashed; the file is not mapped, so no page of it
//! counts toward the process's memory and nothing is left to unmap.

use std::fs::File;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};
use parking_lot::Mutex;

/// Bytes read and hashed at a time by one thread (a power of two, so each
/// piece is a whole subtree of blake3's tree).
pub(super) const PIECE_BYTES: u64 = 1 << 20;

/// The blake3 digest of the first `len` bytes of `file`, which has at least
/// that many, hashed on the threads of rayon's global pool.
///
/// # Errors
/// The first read error, or `UnexpectedEof` if the file is shorter than
/// `len` (truncated while it was read).
pub(super) fn hash(file: &File, len: u64) -> io::Result<blake3::Hash> {
    if len <= PIECE_BYTES {
        let mut bytes = vec![0; len as usize];
        read_at(file, &mut bytes, 0)?;
        return Ok(blake3::hash(&bytes));
    }
    let count = len.div_ceil(PIECE_BYTES) as usize;
    let chaining: Vec<OnceLock<ChainingValue>> = (0..count).map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<io::Error>> = Mutex::new(None);
    rayon_core::scope(|scope| {
        for _ in 0..rayon_core::current_num_threads().min(count) {
            scope.spawn(|_| {
                let mut buffer = vec![0; PIECE_BYTES as usize];
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count || failed.lock().is_some() {
                        return;
                    }
                    let start = index as u64 * PIECE_BYTES;
                    let bytes = &mut buffer[..PIECE_BYTES.min(len - start) as usize];
                    if let Err(error) = read_at(file, bytes, start) {
                        *failed.lock() = Some(error);
                        return;
                    }
                    let mut hasher = blake3::Hasher::new();
                    hasher.set_input_offset(start);
                    hasher.update(bytes);
                    let _ = chaining[index].set(hasher.finalize_non_root());
                }
            });
        }
    });
    if let Some(error) = failed.into_inner() {
        return Err(error);
    }
    let chaining: Vec<ChainingValue> = chaining
        .into_iter()
        .map(|value| value.into_inner().expect("every piece hashed"))
        .collect();
    let left = left_subtree_len(len);
    Ok(merge_subtrees_root(
        &subtree(&chaining, 0, left),
        &subtree(&chaining, left, len - left),
        Mode::Hash,
    ))
}

/// The chaining value of the subtree of `len` bytes from `start` (a multiple
/// of [`PIECE_BYTES`]): a piece's own, or its two halves' merged, split
/// where blake3 splits them (the largest power of two that leaves the right
/// half non-empty, so splits of more than a piece fall between pieces).
fn subtree(pieces: &[ChainingValue], start: u64, len: u64) -> ChainingValue {
    if len <= PIECE_BYTES {
        return pieces[(start / PIECE_BYTES) as usize];
    }
    let left = left_subtree_len(len);
    merge_subtrees_non_root(
        &subtree(pieces, start, left),
        &subtree(pieces, start + left, len - left),
        Mode::Hash,
    )
}

/// Fills `bytes` from `file` at `offset`.
#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

/// Fills `bytes` from `file` at `offset`.
#[cfg(windows)]
fn read_at(file: &File, mut bytes: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, bytes, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                bytes = &mut bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn pieces_merge_into_blake3s_own_digest() {
        let piece = PIECE_BYTES as usize;
        // One piece and a byte; powers of two of pieces and one byte on
        // either side; an odd count ending in a partial piece.
        for len in [
            piece + 1,
            2 * piece - 1,
            2 * piece,
            2 * piece + 1,
            4 * piece,
            7 * piece + 1000,
            8 * piece + 1,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let digest = hash(&file_of(&bytes), len as u64).unwrap();
            assert_eq!(digest, blake3::hash(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn a_file_shorter_than_asked_is_an_error() {
        let bytes = vec![1u8; 3 * PIECE_BYTES as usize];
        let error = hash(&file_of(&bytes), 4 * PIECE_BYTES).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
