//! Writing large byte strings to files a piece of [`WRITE_BYTES`] at a time.
//!
//! Linux puts the bytes of one `write` call into page-cache folios up to as
//! large as the call (2 MiB from a 2 MiB write). On the virtual machines
//! measured, taking free memory in blocks that large cost several times as
//! much per byte as smaller pieces: free 2 MiB blocks are the ones the guest
//! has handed back to its host, and each is faulted in again when written.
//! `tools/write_sizes.py` shows whether a machine does this; the numbers are
//! in BENCHMARKS.md (the section on writes of 256 KiB).

use std::io::{self, Write};
use std::path::Path;

/// Bytes handed to the system per `write` call at most.
pub(crate) const WRITE_BYTES: usize = 256 << 10;

/// Writes all of `bytes` to `out`, in calls of at most [`WRITE_BYTES`].
pub(crate) fn write_all(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    for piece in bytes.chunks(WRITE_BYTES) {
        out.write_all(piece)?;
    }
    Ok(())
}

/// [`std::fs::write`], in calls of at most [`WRITE_BYTES`].
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_all(&mut std::fs::File::create(path)?, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records the length of each call.
    struct Calls(Vec<usize>, Vec<u8>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_are_written_whole_in_calls_no_larger_than_a_piece() {
        let bytes: Vec<u8> = (0..2 * WRITE_BYTES + 5).map(|i| (i % 251) as u8).collect();
        let mut out = Calls(Vec::new(), Vec::new());
        write_all(&mut out, &bytes).unwrap();
        assert_eq!(out.0, [WRITE_BYTES, WRITE_BYTES, 5]);
        assert_eq!(out.1, bytes);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes");
        write_file(&path, &bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
