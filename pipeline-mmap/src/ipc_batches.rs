//! [`MappedBatches`]: a stored Arrow IPC frame of fixed-width columns, read
//! a few record batches at a time straight from its map, each batch's pages
//! given back once read: a frame larger than memory is scanned without
//! copies and with bounded resident memory.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::{DataFrame, PolarsResult};
use polars_arrow::io::ipc::read::{Dictionaries, FileMetadata, read_file_metadata};

use crate::FileMap;
use crate::ipc::fixed_width;

/// An Arrow IPC file of fixed-width columns, mapped, whose record batches
/// are read as frames over the map's pages ([`frame`](Self::frame)) and
/// whose pages are given back once read ([`release`](Self::release)).
///
/// Sound on the same files as [`map_fixed_width_ipc`](crate::map_fixed_width_ipc),
/// for the same reasons: fixed-width columns only (no byte of the file is
/// used as an offset), and a file a store vouches for, which never changes
/// in place.
pub struct MappedBatches {
    map: Arc<FileMap>,
    metadata: FileMetadata,
}

impl MappedBatches {
    /// Maps the Arrow IPC file at `path` if all its columns are fixed-width;
    /// `None` if they are not, or the file cannot be opened, mapped or read
    /// as Arrow IPC (read it as usual then).
    pub fn open(path: &Path) -> Option<Self> {
        let file = std::fs::File::open(path).ok()?;
        let map = FileMap::open(&file).ok()?;
        let metadata = read_file_metadata(&mut std::io::Cursor::new(&map[..])).ok()?;
        let fixed = metadata
            .schema
            .iter_values()
            .all(|field| fixed_width(field.dtype()));
        let dictionaries = metadata
            .dictionaries
            .as_ref()
            .is_some_and(|d| !d.is_empty());
        if !fixed || dictionaries {
            return None;
        }
        Some(Self {
            map: Arc::new(map),
            metadata,
        })
    }

    /// The record batches of the file.
    pub fn batches(&self) -> usize {
        self.metadata.blocks.len()
    }

    /// The rows of the record batches `batches` (a non-empty range of
    /// `0..self.batches()`), one chunk per batch, as a frame whose columns
    /// are the map's pages.
    ///
    /// # Errors
    /// A batch whose message polars cannot read.
    ///
    /// # Panics
    /// If `batches` is empty or out of range.
    pub fn frame(&self, batches: Range<usize>) -> PolarsResult<DataFrame> {
        assert!(!batches.is_empty() && batches.end <= self.batches());
        let dictionaries = Dictionaries::default();
        let mut frame: Option<DataFrame> = None;
        for index in batches {
            // SAFETY: polars asks that the Arrow data be valid and stay valid
            // while mapped. The columns are fixed-width (checked in `open`),
            // so no buffer content is used as an offset; the file is one a
            // store vouches for and never changes in place (see the type's
            // docs). The arrays keep the map alive through its `Arc`.
            let batch = unsafe {
                polars_arrow::mmap::mmap_unchecked(
                    &self.metadata,
                    &dictionaries,
                    self.map.clone(),
                    index,
                )
            }?;
            let batch = DataFrame::from(batch);
            match &mut frame {
                Some(frame) => {
                    frame.vstack_mut(&batch)?;
                }
                None => frame = Some(batch),
            }
        }
        Ok(frame.expect("a non-empty range of batches"))
    }

    /// Gives back the pages of the record batches `batches`: they stop
    /// counting toward the process's resident memory and stay in the page
    /// cache. Frames over them stay valid: reading them again pages them
    /// in again, with the same bytes (see [`FileMap::release`]).
    pub fn release(&self, batches: Range<usize>) {
        let (Some(first), Some(last)) = (
            self.metadata.blocks.get(batches.start),
            batches
                .end
                .checked_sub(1)
                .and_then(|i| self.metadata.blocks.get(i)),
        ) else {
            return;
        };
        let start = usize::try_from(first.offset).unwrap_or(usize::MAX);
        let end =
            usize::try_from(last.offset + i64::from(last.meta_data_length) + last.body_length)
                .unwrap_or(usize::MAX);
        if start < end {
            self.map.release(start..end);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use polars::prelude::*;

    use super::*;

    /// Writes `frame` as IPC in record batches of `batch_rows`.
    fn write_batches(frame: &DataFrame, batch_rows: usize, path: &Path) {
        let arrow = frame.schema().to_arrow(CompatLevel::newest());
        let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
        let mut writer = IpcWriter::new(File::create(path).unwrap())
            .batched(frame.schema(), fields)
            .unwrap();
        let mut start = 0;
        while start < frame.height() {
            writer
                .write_batch(&frame.slice(start as i64, batch_rows))
                .unwrap();
            start += batch_rows;
        }
        writer.finish().unwrap();
    }

    #[test]
    fn batches_read_from_the_map_are_the_files_rows_even_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("numbers.arrow");
        let rows = 10_000;
        let frame = df!(
            "id" => (0..rows as i64).collect::<Vec<_>>(),
            "price" => (0..rows).map(|i| f64::from(i) / 4.0).collect::<Vec<_>>(),
            "discount" => (0..rows).map(|i| (i % 7 == 0).then_some(0.5)).collect::<Vec<_>>(),
            "paid" => (0..rows).map(|i| i % 3 == 0).collect::<Vec<_>>(),
        )
        .unwrap();
        write_batches(&frame, 3_000, &path);
        let mapped = MappedBatches::open(&path).expect("fixed-width columns are mapped");
        assert_eq!(mapped.batches(), 4);
        let head = mapped.frame(0..2).unwrap();
        assert!(head.equals_missing(&frame.slice(0, 6_000)));
        mapped.release(0..2);
        assert!(
            head.equals_missing(&frame.slice(0, 6_000)),
            "released pages read back"
        );
        let tail = mapped.frame(2..4).unwrap();
        assert!(tail.equals_missing(&frame.slice(6_000, 4_000)));
        mapped.release(0..4);
        mapped.release(3..3);
        assert!(tail.equals_missing(&frame.slice(6_000, 4_000)));
    }

    #[test]
    fn a_frame_with_a_variable_width_column_is_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.arrow");
        let frame = df!("id" => [1i64, 2], "name" => ["a", "b"]).unwrap();
        write_batches(&frame, 1, &path);
        assert!(MappedBatches::open(&path).is_none());
        assert!(MappedBatches::open(&dir.path().join("missing.arrow")).is_none());
    }
}
