//! [`FileMap`]: a file's bytes, mapped read-only and shared with the page
//! cache.

use std::fs::File;
use std::ops::{Deref, Range};

/// The size of the pages [`FileMap::release`] gives back (the smallest page
/// size of the systems the workspace runs on).
const PAGE: usize = 4096;

/// A file mapped read-only (`MAP_SHARED`): its bytes as a `&[u8]`, paged in
/// from the page cache as they are read.
///
/// Sound as long as no other process truncates or rewrites the file while it
/// is mapped (see the [crate] docs): `pipeline-core` maps the CSV files tasks
/// read, which do not change under a running task.
#[derive(Debug)]
pub struct FileMap {
    map: memmap2::Mmap,
}

impl FileMap {
    /// Maps the whole of `file`, which must be open for reading.
    ///
    /// # Errors
    /// When the system refuses the map (a file that cannot be mapped, such as
    /// a pipe; too many maps).
    pub fn open(file: &File) -> std::io::Result<Self> {
        // SAFETY: the map is only ever read, through `Deref<Target = [u8]>`.
        // Its bytes stay valid while no other process truncates or rewrites
        // the file, which the callers' files do not (see the crate docs):
        // inputs of a running task. That is the one thing not protected
        // against; a truncation would fault reads (SIGBUS), not corrupt memory
        // of this process.
        let map = unsafe { memmap2::Mmap::map(file) }?;
        Ok(Self { map })
    }

    /// Tells the kernel the map will be read from start to end, so it reads
    /// ahead. Advice only: an error changes nothing and is ignored.
    pub fn advise_sequential(&self) {
        #[cfg(unix)]
        let _ = self.map.advise(memmap2::Advice::Sequential);
    }

    /// Tells the kernel this process is done with the bytes in `range`, so
    /// the whole pages among them stop counting toward its resident memory
    /// (they stay in the page cache). Reading them again later pages them in
    /// again, with the same content: nothing the map shows changes. Without
    /// it, reading a file larger than memory would show the whole file as
    /// resident. Advice only: an error changes nothing and is ignored.
    pub fn release(&self, range: Range<usize>) {
        let end = range.end.min(self.map.len());
        let (start, end) = (range.start / PAGE * PAGE, end / PAGE * PAGE);
        if end <= start {
            return;
        }
        #[cfg(unix)]
        {
            // SAFETY: `DONTNEED` on a read-only, file-backed shared map only
            // drops this process's page table entries: a later read of the
            // range faults the pages in again from the page cache, with the
            // file's bytes, so every `&[u8]` into the map keeps seeing the
            // same bytes. (It is unchecked in `memmap2` because on a private
            // or anonymous map it would zero the pages; `Mmap::map` makes a
            // shared file map, and `FileMap` never makes another kind.)
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    start,
                    end - start,
                )
            };
        }
    }
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Deref for FileMap {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn a_map_shows_the_files_bytes() {
        let bytes: Vec<u8> = (0..3 * PAGE + 17).map(|i| (i % 251) as u8).collect();
        let map = FileMap::open(&file_of(&bytes)).unwrap();
        map.advise_sequential();
        assert_eq!(&map[..], &bytes[..]);
    }

    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let bytes: Vec<u8> = (0..5 * PAGE + 100).map(|i| (i % 241) as u8 + 1).collect();
        let map = FileMap::open(&file_of(&bytes)).unwrap();
        assert_eq!(&map[..], &bytes[..]);
        map.release(0..map.len());
        map.release(PAGE + 3..4 * PAGE + 5);
        map.release(10..20);
        map.release(4 * PAGE..usize::MAX);
        assert_eq!(&map[..], &bytes[..]);
    }

    #[test]
    fn an_empty_file_maps_to_no_bytes() {
        let map = FileMap::open(&file_of(b"")).unwrap();
        assert!(map.is_empty());
        map.release(0..10);
    }
}
