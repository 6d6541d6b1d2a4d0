//! [`map_fixed_width_ipc`]: a stored Arrow IPC frame whose columns are the
//! file's pages instead of copies of them.

use std::path::Path;

use polars::prelude::{CompatLevel, DataFrame, IpcReader, Schema, SerReader};
use polars_arrow::datatypes::{ArrowDataType, PhysicalType};

/// The frame of an Arrow IPC file whose columns are all fixed-width
/// (numbers, booleans, dates and times), mapped rather than read: its
/// columns are the file's bytes, paged in as a query touches them. `None`
/// when the file is not such a file, or cannot be opened or mapped (read it
/// as usual then).
///
/// For the frame files of `pipeline-core`'s embedded store, on which it is
/// sound:
///
/// - polars maps a file without checking the contents of its buffers. Only
///   files whose columns are all fixed-width are mapped: no byte of such a
///   file is used as an offset into the others, where variable-width columns
///   hold offsets that a damaged file could point anywhere. What remains
///   trusted is that the file is intact Arrow IPC as polars writes it (its
///   null bitmaps as long as its columns), which `pipeline-core` checks
///   before it calls this: it maps only files a store vouches for, checked
///   against their content hash and unchanged since, or written by this
///   process into its own scratch directory.
/// - The store never changes a file in place: files are content-addressed,
///   written under a temporary name and renamed into place, and removed only
///   by garbage collection of values no scenario refers to.
///
/// Not protected against: another process truncating or rewriting the file
/// in place while the frame is alive (reads then fault with `SIGBUS`, or see
/// other bytes), or a file that is not what the store wrote and was not
/// checked against its hash.
pub fn map_fixed_width_ipc(path: &Path) -> Option<DataFrame> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = IpcReader::new(file);
    let fixed = reader
        .schema()
        .ok()?
        .iter_values()
        .all(|field| fixed_width(field.dtype()));
    if !fixed {
        return None;
    }
    // SAFETY: polars asks that the Arrow data in the file be valid and stay
    // valid while mapped. The columns are fixed-width (checked above), so no
    // buffer content is used as an offset; the file is one a store vouches
    // for (checked against its content hash) or this process wrote, and
    // never changes in place (see the function's docs), the assumption
    // polars' own scans make when they map a file.
    unsafe { reader.memory_mapped(Some(path.to_owned())) }
        .finish()
        .ok()
}

/// Whether a frame of `schema`, written as Arrow IPC, has only fixed-width
/// columns, so that [`map_fixed_width_ipc`] maps its file.
pub fn is_fixed_width(schema: &Schema) -> bool {
    schema
        .iter_values()
        .all(|dtype| fixed_width(&dtype.to_arrow(CompatLevel::newest())))
}

/// Whether a column of `dtype` is fixed-width: numbers, booleans, dates
/// and times.
pub(crate) fn fixed_width(dtype: &ArrowDataType) -> bool {
    matches!(
        dtype.to_physical_type(),
        PhysicalType::Primitive(_) | PhysicalType::Boolean
    )
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use polars::prelude::*;

    use super::*;

    fn write_ipc(frame: &mut DataFrame, path: &Path) {
        IpcWriter::new(File::create(path).unwrap())
            .finish(frame)
            .unwrap();
    }

    /// Whether this process maps `path` now (Linux: `/proc/self/maps`).
    #[cfg(target_os = "linux")]
    fn is_mapped(path: &Path) -> bool {
        let path = path.canonicalize().unwrap();
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .any(|line| line.ends_with(&*path.to_string_lossy()))
    }

    #[test]
    fn a_fixed_width_frame_is_the_files_mapped_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("numbers.arrow");
        let mut frame = df!(
            "id" => (0..10_000i64).collect::<Vec<_>>(),
            "price" => (0..10_000).map(|i| f64::from(i) / 4.0).collect::<Vec<_>>(),
            "paid" => (0..10_000).map(|i| i % 3 == 0).collect::<Vec<_>>(),
            "discount" => (0..10_000).map(|i| (i % 7 == 0).then_some(0.5)).collect::<Vec<_>>(),
        )
        .unwrap();
        write_ipc(&mut frame, &path);
        assert!(is_fixed_width(frame.schema()));
        let mapped = map_fixed_width_ipc(&path).expect("fixed-width columns are mapped");
        assert!(mapped.equals_missing(&frame));
        #[cfg(target_os = "linux")]
        assert!(is_mapped(&path), "the frame's columns are the file's pages");
        drop(mapped);
    }

    #[test]
    fn a_frame_with_a_variable_width_column_is_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.arrow");
        let mut frame = df!("id" => [1i64, 2], "name" => ["a", "b"]).unwrap();
        assert!(!is_fixed_width(frame.schema()));
        write_ipc(&mut frame, &path);
        assert!(map_fixed_width_ipc(&path).is_none());
    }

    #[test]
    fn a_file_that_is_not_arrow_ipc_is_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, "id\n1\n").unwrap();
        assert!(map_fixed_width_ipc(&path).is_none());
        assert!(map_fixed_width_ipc(&dir.path().join("missing.arrow")).is_none());
    }
}
