//! Starting a file's disk writes without waiting for them.

use std::fs::File;
use std::io;

/// Starts writing the pages of `file` changed so far to disk, without
/// waiting for the writes, nor for those already under way (Linux
/// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`; elsewhere nothing).
///
/// Not a promise of durability (the file's metadata is not written, and
/// nothing is waited for): a writer that calls it as a large file grows
/// finds little left to write when it flushes the file at the end
/// ([`File::sync_all`]), and the pages are not locked for writing then,
/// while another thread may be reading them.
///
/// ```
/// use std::io::Write;
/// let mut file = tempfile::tempfile()?;
/// file.write_all(&[7; 1 << 16])?;
/// pipeline_mmap::start_writeback(&file)?;
/// file.sync_all()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn start_writeback(file: &File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open while `file` is borrowed, and the
        // call reads and writes no memory of this process. Offset 0 and
        // length 0 ask for the whole file.
        let result =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}
