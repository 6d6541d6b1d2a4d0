//! Writing a frame batch by batch into a file named by its fingerprint.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use polars::prelude::{CompatLevel, DataFrame, IpcWriter, LazyFrame, Schema, SchemaExt, SerWriter};
use polars_arrow::io::ipc::write::default_ipc_fields;

use super::format::{FrameFormat, parquet_options, scan_file};
use super::polars_error;
use crate::fingerprint::Fingerprint;
use crate::value::{Materialized, ValueError};
use crate::write_pieces::{self, WRITE_BYTES};

/// The file being written and the blake3 state of the bytes written so far.
struct HashedOutput {
    file: BufWriter<File>,
    hasher: blake3::Hasher,
    /// Bytes handed to the file since its disk writes were last started.
    unflushed: u64,
}

/// Bytes written between two starts of a file's disk writes.
const WRITEBACK_BYTES: u64 = 32 << 20;

impl HashedOutput {
    /// Starts writing what the file holds so far to disk every
    /// [`WRITEBACK_BYTES`], without waiting. The store flushes a value's
    /// file before recording it; a large file flushed only then keeps the
    /// disk busy, and the pages a consumer maps locked, while the next task
    /// runs. Started as it grows, most of it is on disk by then. A failure
    /// here is left to that final flush, which reports it.
    fn write_back_as_it_grows(&mut self, bytes: usize) {
        self.unflushed += bytes as u64;
        if self.unflushed >= WRITEBACK_BYTES {
            self.unflushed = 0;
            let _ = pipeline_mmap::start_writeback(self.file.get_ref());
        }
    }
}

/// A writer that hashes every byte on its way to the file, so the file's
/// fingerprint is known when writing ends, without reading it back, and
/// hands the file pieces of at most [`WRITE_BYTES`] (see `write_pieces`).
/// Shared, because polars' batched writers keep their writer to themselves.
#[derive(Clone)]
struct HashingFile(Arc<Mutex<HashedOutput>>);

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut output = self.0.lock();
        write_pieces::write_all(&mut output.file, buf)?;
        output.hasher.update(buf);
        output.write_back_as_it_grows(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().file.flush()
    }
}

/// polars' batched writer of either format.
enum Batched {
    Ipc(Box<polars::io::ipc::BatchedWriter<HashingFile>>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<HashingFile>>),
}

/// Writes a data frame that arrives in batches (from a query, say) into an
/// Arrow IPC or Parquet file in a scratch directory, and hands it over as a
/// [`Materialized`] lazy scan named by the file's blake3 digest.
///
/// Memory stays bounded by the batch size. If the writer is dropped before
/// [`finish`](Self::finish), the partial file is removed: no half-written
/// frame is ever named by a fingerprint.
///
/// ```
/// use pipeline_core::frame::{FrameFileWriter, FrameFormat, collect_streaming};
/// use polars::prelude::*;
///
/// let dir = tempfile::tempdir().unwrap();
/// let first = df!("x" => [1i64, 2]).unwrap();
/// let mut writer = FrameFileWriter::create(dir.path(), &first.schema(), FrameFormat::Ipc).unwrap();
/// writer.write(&first).unwrap();
/// writer.write(&df!("x" => [3i64]).unwrap()).unwrap();
/// let done = writer.finish().unwrap();
/// assert_eq!(collect_streaming(done.value).unwrap().height(), 3);
/// ```
pub struct FrameFileWriter {
    partial: PathBuf,
    format: FrameFormat,
    output: HashingFile,
    writer: Option<Batched>,
}

impl FrameFileWriter {
    /// Starts a file in `dir` for frames with `schema`.
    pub fn create(dir: &Path, schema: &Schema, format: FrameFormat) -> Result<Self, ValueError> {
        let partial = scratch_file(dir, format);
        let file = File::create(&partial).map_err(|source| ValueError::Io {
            action: "cannot create",
            path: partial.clone(),
            source,
        })?;
        let output = HashingFile(Arc::new(Mutex::new(HashedOutput {
            file: BufWriter::with_capacity(WRITE_BYTES, file),
            hasher: blake3::Hasher::new(),
            unflushed: 0,
        })));
        let mut this = Self {
            partial,
            format,
            output: output.clone(),
            writer: None,
        };
        // On error `this` is dropped, which removes the partial file.
        let writer = match format {
            FrameFormat::Ipc => {
                let arrow = schema.to_arrow(CompatLevel::newest());
                let fields = default_ipc_fields(arrow.iter_values());
                Batched::Ipc(Box::new(
                    IpcWriter::new(output)
                        .with_compression(None)
                        .batched(schema, fields)
                        .map_err(polars_error)?,
                ))
            }
            FrameFormat::Parquet => Batched::Parquet(Box::new(
                parquet_options()
                    .to_writer(output)
                    .batched(schema)
                    .map_err(polars_error)?,
            )),
        };
        this.writer = Some(writer);
        Ok(this)
    }

    /// Appends a batch. Its columns must match the schema given to
    /// [`create`](Self::create); they may be split in chunks (each chunk
    /// becomes a record batch or row group), as long as all columns are
    /// split alike.
    pub fn write(&mut self, batch: &DataFrame) -> Result<(), ValueError> {
        let aligned;
        let batch = if batch.should_rechunk() {
            let mut copy = batch.clone();
            copy.align_chunks_par();
            aligned = copy;
            &aligned
        } else {
            batch
        };
        match self.writer.as_mut().expect("written after finish") {
            Batched::Ipc(writer) => writer.write_batch(batch),
            Batched::Parquet(writer) => writer.write_batch(batch),
        }
        .map_err(polars_error)
    }

    /// Writes the footer, names the file by its fingerprint and returns a
    /// lazy scan of it.
    pub fn finish(mut self) -> Result<Materialized<LazyFrame>, ValueError> {
        let writer = self.writer.take().expect("finished once");
        let result = self.complete(writer);
        if result.is_err() {
            let _ = std::fs::remove_file(&self.partial);
        }
        result
    }

    fn complete(&self, writer: Batched) -> Result<Materialized<LazyFrame>, ValueError> {
        match writer {
            Batched::Ipc(mut writer) => writer.finish().map_err(polars_error)?,
            Batched::Parquet(writer) => writer.finish().map(|_| ()).map_err(polars_error)?,
        }
        let fingerprint = {
            let mut output = self.output.0.lock();
            output.file.flush().map_err(|source| ValueError::Io {
                action: "cannot write",
                path: self.partial.clone(),
                source,
            })?;
            Fingerprint::from_bytes(*output.hasher.finalize().as_bytes())
        };
        let done = self.partial.with_file_name(format!(
            "{}.{}",
            fingerprint.to_hex(),
            self.format.extension()
        ));
        std::fs::rename(&self.partial, &done).map_err(|source| ValueError::Io {
            action: "cannot rename into place",
            path: done.clone(),
            source,
        })?;
        Ok(Materialized {
            value: scan_file(&done).map_err(polars_error)?,
            fingerprint,
            file: Some(done),
        })
    }
}

impl Drop for FrameFileWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// A file name no other frame written by this process uses.
fn scratch_file(dir: &Path, format: FrameFormat) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "frame-{}-{n}.{}.tmp",
        std::process::id(),
        format.extension()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::collect_streaming;
    use polars::prelude::*;

    #[test]
    fn a_file_past_the_writeback_size_is_named_by_its_bytes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        // Three batches of 2M rows (16 MB each): writeback starts twice.
        let batch = |start: i64| {
            DataFrame::new_infer_height(vec![Column::new(
                "x".into(),
                (start..start + 2_000_000).collect::<Vec<i64>>(),
            )])
            .unwrap()
        };
        let mut writer =
            FrameFileWriter::create(dir.path(), batch(0).schema(), FrameFormat::Ipc).unwrap();
        for start in [0, 2_000_000, 4_000_000] {
            writer.write(&batch(start)).unwrap();
        }
        let done = writer.finish().unwrap();
        let path = done.file.clone().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > WRITEBACK_BYTES);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(done.fingerprint, Fingerprint::of_bytes(&bytes));
        let read = collect_streaming(done.value).unwrap();
        let x = read.column("x").unwrap().i64().unwrap();
        assert_eq!(x.len(), 6_000_000);
        assert_eq!(x.sum(), Some((0..6_000_000i64).sum()));
    }
}
