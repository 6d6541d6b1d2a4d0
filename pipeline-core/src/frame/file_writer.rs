//! Writing a frame batch by batch into a Parquet file named by its fingerprint.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::{DataFrame, LazyFrame, Schema};

use super::{frame_write_options, polars_error, scan_parquet, scratch_file};
use crate::fingerprint::Fingerprint;
use crate::value::{Materialized, ValueError};

/// The file being written and the blake3 state of the bytes written so far.
struct HashedOutput {
    file: BufWriter<File>,
    hasher: blake3::Hasher,
}

/// A writer that hashes every byte on its way to the file, so the file's
/// fingerprint is known when writing ends, without reading it back. Shared,
/// because polars' batched writer keeps its writer to itself.
#[derive(Clone)]
struct HashingFile(Arc<Mutex<HashedOutput>>);

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut output = self.0.lock();
        output.file.write_all(buf)?;
        output.hasher.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().file.flush()
    }
}

/// Writes a data frame that arrives in batches (from a streaming ingest, say)
/// into a Parquet file in a scratch directory, with the same options as
/// [`materialize_lazy`](super::materialize_lazy), and hands it over as a
/// [`Materialized`] lazy scan named by the file's blake3 digest, like a
/// materialized query.
///
/// Memory stays bounded by the batch size. If the writer is dropped before
/// [`finish`](Self::finish), the partial file is removed: no half-written
/// frame is ever named by a fingerprint.
///
/// ```
/// use pipeline_core::frame::{FrameFileWriter, collect_streaming};
/// use polars::prelude::*;
///
/// let dir = tempfile::tempdir().unwrap();
/// let first = df!("x" => [1i64, 2]).unwrap();
/// let mut writer = FrameFileWriter::create(dir.path(), &first.schema()).unwrap();
/// writer.write(&first).unwrap();
/// writer.write(&df!("x" => [3i64]).unwrap()).unwrap();
/// let done = writer.finish().unwrap();
/// assert_eq!(collect_streaming(done.value).unwrap().height(), 3);
/// ```
pub struct FrameFileWriter {
    partial: PathBuf,
    output: HashingFile,
    writer: Option<BatchedWriter<HashingFile>>,
}

impl FrameFileWriter {
    /// Starts a file in `dir` for frames with `schema`.
    pub fn create(dir: &Path, schema: &Schema) -> Result<Self, ValueError> {
        let partial = scratch_file(dir);
        let file = File::create(&partial).map_err(|source| ValueError::Io {
            action: "cannot create",
            path: partial.clone(),
            source,
        })?;
        let output = HashingFile(Arc::new(Mutex::new(HashedOutput {
            file: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
        })));
        let mut this = Self {
            partial,
            output: output.clone(),
            writer: None,
        };
        // On error `this` is dropped, which removes the partial file.
        let writer = frame_write_options()
            .to_writer(output)
            .batched(schema)
            .map_err(polars_error)?;
        this.writer = Some(writer);
        Ok(this)
    }

    /// Appends a batch. Its columns must match the schema given to
    /// [`create`](Self::create); they may be split in chunks (each chunk
    /// becomes a row group), as long as all columns are split alike.
    pub fn write(&mut self, batch: &DataFrame) -> Result<(), ValueError> {
        let writer = self.writer.as_mut().expect("written after finish");
        if batch.should_rechunk() {
            let mut aligned = batch.clone();
            aligned.align_chunks_par();
            writer.write_batch(&aligned).map_err(polars_error)
        } else {
            writer.write_batch(batch).map_err(polars_error)
        }
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

    fn complete(
        &self,
        writer: BatchedWriter<HashingFile>,
    ) -> Result<Materialized<LazyFrame>, ValueError> {
        writer.finish().map_err(polars_error)?;
        drop(writer);
        let fingerprint = {
            let mut output = self.output.0.lock();
            output.file.flush().map_err(|source| ValueError::Io {
                action: "cannot write",
                path: self.partial.clone(),
                source,
            })?;
            Fingerprint::from_bytes(*output.hasher.finalize().as_bytes())
        };
        let done = self
            .partial
            .with_file_name(format!("{}.parquet", fingerprint.to_hex()));
        std::fs::rename(&self.partial, &done).map_err(|source| ValueError::Io {
            action: "cannot rename into place",
            path: done.clone(),
            source,
        })?;
        Ok(Materialized {
            value: scan_parquet(&done).map_err(polars_error)?,
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
