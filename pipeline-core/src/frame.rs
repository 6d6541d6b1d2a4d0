//! Polars data frames as data node values (cargo feature `polars`).
//!
//! A task producing a [`LazyFrame`] only builds a query; the executor
//! *materializes* it, and the speed of every pipeline comes from how:
//!
//! - **Stored so that a new process reads them without decoding.** The query
//!   runs on polars' streaming engine (memory stays bounded however large the
//!   data) into an uncompressed Arrow IPC file, named by the blake3 digest of
//!   its bytes, which is the value's fingerprint. Consumers receive a lazy
//!   scan of that file: the columns are read as they lie in it. A type may be
//!   stored as Parquet instead, where size matters more
//!   ([`lazy_frame_value!`](crate::lazy_frame_value)`(parquet: MyFrame)`).
//!   The file's disk writes start while it grows (every 32 MiB, without
//!   waiting), so the store's flush before recording it finds little left,
//!   and the next task, mapping its pages, does not wait behind the disk.
//! - **Handed from task to task in memory.** The rows a query writes stay
//!   decoded in the runtime's memory while they fit its budget
//!   ([`RuntimeBuilder::frame_memory`](crate::RuntimeBuilder::frame_memory));
//!   a query reading a stored frame reads it from there, or reads it once
//!   and keeps it there. A frame larger than the budget streams from its
//!   file. A frame of fixed-width columns stored as Arrow IPC is not kept as
//!   a copy of its rows: the next task maps the file just written, whose
//!   pages are already in memory (a copy cost a page fault per 4 KiB).
//! - **Views.** A query that only computes, selects or filters columns row
//!   by row over stored frames (`scored.with_columns([...])`) is stored as
//!   its plan over those frames, not as rows: writing it costs nothing, and
//!   reading it costs what the rows would (see [`view`](self#views)).
//! - **CSV files read on all cores.** A query computing row by row from the
//!   number and text columns of one CSV file ([`csv::scan_csv`] and a
//!   `select`) is fed by a parallel, quote-aware reader
//!   ([`csv::read_csv_blocks`]) with polars' own cell rules, instead of
//!   polars' CSV source, which finds record boundaries on one thread. So is
//!   a `group_by` over such a query whose sums, means, extremes and counts
//!   add up block by block, in memory bounded by the groups.
//! - **Work after a query on the threads that ran it.** The median passes
//!   and group ids run on polars' own thread pool, already on their cores,
//!   rather than on threads spawned for each pass (a new thread may share
//!   its parent's core for milliseconds before the scheduler moves it).
//! - **Medians in bounded memory.** A `median` aggregation over data that is
//!   not in memory is computed in a few passes that hold a histogram, not
//!   the data ([`grouped_medians`]); polars holds every value of a group.
//! - **Segments grouped by one bit.** A column of two labels chosen by a
//!   condition (`when(p).then(lit("High")).otherwise(lit("Low"))` in a
//!   `with_columns`) is not built as a string a row where the condition says
//!   the same: a filter on one of its labels tests the condition, and a
//!   `group_by` on it whose aggregations are medians, sums, means, minima,
//!   maxima or counts groups the rows by the condition's bits, one pass per
//!   column (one streaming pass over data not in memory), results as polars
//!   gives them.
//! - **Flags counted from their bits.** A condition cast to a number
//!   (`(col("amount") > lit(1000)).cast(DataType::Int64)`, defined in the
//!   same `with_columns`) that such a `group_by` only sums, averages or
//!   counts is not built as 8 bytes a row: the reductions count the
//!   condition's bits, each true as 1 and false as 0.
//! - **Aggregations recorded one by one.** A `group_by(..).agg([...])` or a
//!   `select` of aggregations over stored frames and views is computed per
//!   aggregation, each kept in the store's
//!   [`PartialResults`](crate::partial_results::PartialResults) under a key
//!   naming exactly what it computes (the aggregation, the keys, the columns
//!   of the input it reads, the stored frames by fingerprint, the versions
//!   of polars and of this crate). A later query, in any process, takes the
//!   aggregations it shares from there: a parameter that changes one derived
//!   column costs the aggregations that read it, not the others.
//! - **Verified once.** A stored file is checked against its content hash
//!   once; later reads, in any process, trust it while its size, times and
//!   inode are unchanged ([`Runtime::verify`](crate::Runtime::verify) checks
//!   every file again).
//!
//! The task body stays idiomatic polars: it returns a query. A body that
//! collects a query itself gets the streaming engine but not the memory.
//!
//! Give each frame of a pipeline its own newtype with
//! [`lazy_frame_value!`](crate::lazy_frame_value), so that wiring one frame
//! where another is expected is a compile error. Small results can be
//! [`DataFrame`]s, encoded as Arrow IPC in memory. CSV inputs are read with
//! [`csv::scan_csv`], whose errors name the file, the column and the line.
//!
//! # Views
//!
//! A view's fingerprint is its recipe's: an equal recipe over equal frames is
//! the same value (early cutoff holds), another recipe with equal rows is
//! another value (its consumers run again: safe, never wrong). The store
//! keeps the frames a view names as long as the view. A plain scan of a
//! stored frame (a task returning its input unchanged) is that frame.

use std::path::Path;

use polars::prelude::*;

use crate::Value;
use crate::fingerprint::Fingerprint;
use crate::value::{MaterializeContext, Materialized, StoreContext, ValueError};

pub mod csv;
mod file_writer;
mod format;
mod labels;
mod mapped_scan;
mod materialize;
mod median;
mod partials;
#[cfg(test)]
mod partials_tests;
mod plan;
mod pool;
mod prune;
#[cfg(test)]
mod test_frames;
#[cfg(test)]
mod tests;
mod view;

pub use file_writer::FrameFileWriter;
pub use format::{BUFFERED_SCAN_BYTES, FRAME_BATCH_ROWS, FrameFormat, scan_file};
pub use median::grouped_medians;
pub use polars::prelude::{DataFrame, LazyFrame, PolarsError};

/// Runs `frame` on the streaming engine and returns the result in memory.
pub fn collect_streaming(frame: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(frame
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single())
}

/// The blake3 digest of a file's bytes (see [`Fingerprint::of_file`]).
pub fn fingerprint_file(path: &Path) -> Result<Fingerprint, ValueError> {
    Fingerprint::of_file(path)
        .map(|(_, fingerprint)| fingerprint)
        .map_err(|source| ValueError::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        })
}

/// The schema of every frame type: Arrow IPC or Parquet bytes, or a view's
/// plan over such files, all of which name and type their own columns (see
/// `impl Value for LazyFrame`).
pub fn frame_schema() -> Fingerprint {
    crate::schema::named("arrow ipc, parquet or view frame")
}

/// The rows of `frame` if it is a plain scan of a stored Arrow IPC file of
/// at most `max_bytes`, read at once without starting polars' query engine
/// (its thread pools and async runtime take longer to start than a small
/// file takes to read: what a command printing a few result rows pays).
/// `None` for any other frame.
#[cfg(feature = "cli")]
pub(crate) fn read_small_stored(
    frame: &LazyFrame,
    max_bytes: u64,
) -> Option<PolarsResult<DataFrame>> {
    let stored = view::identity(frame)?;
    if stored.format != FrameFormat::Ipc {
        return None;
    }
    let file = std::fs::File::open(&stored.path).ok()?;
    if file.metadata().ok()?.len() > max_bytes {
        return None;
    }
    Some(IpcReader::new(file).finish())
}

pub(crate) fn polars_error(error: PolarsError) -> ValueError {
    if let Some(csv) = csv::carried(&error) {
        return ValueError::Materialize(csv.to_string());
    }
    ValueError::Materialize(format!("polars: {error}"))
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> ValueError {
    ValueError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The operations behind [`Value`] for a lazy frame stored in `format`:
/// what [`lazy_frame_value!`](crate::lazy_frame_value) delegates to. Not
/// called by users.
#[doc(hidden)]
pub mod stored {
    use super::*;

    /// The canonical encoding: a view's recipe, a stored frame's file, or
    /// the file the query produces.
    pub fn encode(
        frame: &LazyFrame,
        format: FrameFormat,
        out: &mut Vec<u8>,
    ) -> Result<(), ValueError> {
        if let Some(recipe) = view::recipe(frame) {
            out.extend_from_slice(&recipe);
            return Ok(());
        }
        if let Some(stored) = view::identity(frame) {
            let bytes = std::fs::read(&stored.path)
                .map_err(|e| io_error("cannot read", &stored.path, e))?;
            out.extend_from_slice(&bytes);
            return Ok(());
        }
        let dir = tempfile::tempdir().map_err(|e| {
            io_error(
                "cannot create a temporary directory in",
                &std::env::temp_dir(),
                e,
            )
        })?;
        let (done, _) = materialize::run(frame.clone(), frame, format, dir.path(), 0, 0)?;
        let path = done.file.expect("a written frame has a file");
        let bytes = std::fs::read(&path).map_err(|e| io_error("cannot read", &path, e))?;
        out.extend_from_slice(&bytes);
        Ok(())
    }

    /// Decodes a frame's bytes (not a view's: it needs the store's files).
    pub fn decode(input: &mut &[u8]) -> Result<LazyFrame, ValueError> {
        if view::is_recipe(input) {
            return Err(ValueError::decode::<LazyFrame>(
                "a view is read through the store that holds the frames it reads",
            ));
        }
        let frame = format::decode(input).map_err(ValueError::decode::<LazyFrame>)?;
        *input = &[];
        Ok(frame.lazy())
    }

    /// Decodes a value the store held in its database: a view, over the
    /// store's files, or a frame's bytes.
    pub fn decode_stored(
        input: &mut &[u8],
        ctx: &StoreContext<'_>,
    ) -> Result<LazyFrame, ValueError> {
        if view::is_recipe(input) {
            let frame = view::decode(input, ctx)?;
            *input = &[];
            return Ok(frame);
        }
        decode(input)
    }

    /// Materializes a frame in `format`: a plain scan of a stored frame is that
    /// frame, a row-wise query over stored frames a view, any other query runs
    /// into a file (see the [module docs](super)).
    pub fn materialize(
        frame: LazyFrame,
        format: FrameFormat,
        ctx: &MaterializeContext<'_>,
    ) -> Result<Materialized<LazyFrame>, ValueError> {
        super::materialize::materialize(frame, format, ctx)
    }

    /// Writes the canonical encoding to `path`.
    pub fn write_file(
        frame: &LazyFrame,
        format: FrameFormat,
        path: &Path,
    ) -> Result<(), ValueError> {
        let mut bytes = Vec::new();
        encode(frame, format, &mut bytes)?;
        crate::write_pieces::write_file(path, &bytes).map_err(|e| io_error("cannot write", path, e))
    }

    /// A scan of a frame's file.
    pub fn read_file(path: &Path) -> Result<LazyFrame, ValueError> {
        if !path.is_file() {
            let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
            return Err(io_error("cannot read", path, missing));
        }
        scan_file(path).map_err(ValueError::decode::<LazyFrame>)
    }

    /// A scan of a stored frame's file, or the query of a stored view.
    pub fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<LazyFrame, ValueError> {
        let mut head = [0u8; 16];
        let starts_as_view = std::fs::File::open(path)
            .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut head))
            .is_ok_and(|()| view::is_recipe(&head));
        if !starts_as_view {
            return read_file(path);
        }
        let bytes = std::fs::read(path).map_err(|e| io_error("cannot read", path, e))?;
        view::decode(&bytes, ctx)
    }

    /// The stored frames a view names (none for other frames).
    pub fn references(frame: &LazyFrame) -> Vec<crate::fingerprint::Fingerprint> {
        view::recipe(frame)
            .and_then(|recipe| view::references(&recipe).ok())
            .unwrap_or_default()
    }
}

/// A lazy frame, stored as Arrow IPC (see the module docs).
impl Value for LazyFrame {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        stored::encode(self, FrameFormat::Ipc, out)
    }

    /// Takes all remaining bytes: a frame is always a whole file.
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        stored::decode(input)
    }

    fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        stored::decode_stored(input, ctx)
    }

    fn type_name() -> String {
        "LazyFrame".to_owned()
    }

    /// An Arrow IPC or Parquet file describes its own columns (names and types), and a
    /// query over a frame names the columns it reads: stored bytes are never
    /// read as another layout, so every frame type shares one schema.
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(frame_schema())
    }

    fn extension() -> &'static str {
        FrameFormat::Ipc.extension()
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        stored::materialize(self, FrameFormat::Ipc, ctx)
    }

    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        stored::write_file(self, FrameFormat::Ipc, path)
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.clone())
    }

    fn read_file(path: &Path) -> Result<Self, ValueError> {
        stored::read_file(path)
    }

    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        stored::read_stored_file(path, ctx)
    }

    fn references(&self) -> Vec<crate::fingerprint::Fingerprint> {
        stored::references(self)
    }
}

/// A small, in-memory result, encoded as Arrow IPC in one record batch.
impl Value for DataFrame {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        format::encode(self, FrameFormat::Ipc, out).map_err(polars_error)
    }

    /// Takes all remaining bytes: a frame is always a whole file.
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let frame = format::decode(input).map_err(ValueError::decode::<DataFrame>)?;
        *input = &[];
        Ok(frame)
    }

    fn type_name() -> String {
        "DataFrame".to_owned()
    }

    /// Self-describing Arrow IPC, like [`LazyFrame`]'s.
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(frame_schema())
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.clone().lazy())
    }

    fn extension() -> &'static str {
        FrameFormat::Ipc.extension()
    }
}

/// Implements [`Value`] for newtypes around a polars `LazyFrame`
/// (`struct Scored(pub LazyFrame);`), stored as Arrow IPC, or as Parquet with
/// `parquet:` before the names. Distinct newtypes make miswired frames a
/// compile error.
///
/// ```
/// use pipeline_core::lazy_frame_value;
/// use polars::prelude::*;
///
/// pub struct Scored(pub LazyFrame);
/// pub struct Archive(pub LazyFrame);
/// lazy_frame_value!(Scored);
/// lazy_frame_value!(parquet: Archive);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! lazy_frame_value {
    (parquet: $($ty:ident),+ $(,)?) => {
        $($crate::lazy_frame_value!(@impl $ty, $crate::frame::FrameFormat::Parquet);)+
    };
    ($($ty:ident),+ $(,)?) => {
        $($crate::lazy_frame_value!(@impl $ty, $crate::frame::FrameFormat::Ipc);)+
    };
    (@impl $ty:ident, $format:expr) => {
        impl $crate::Value for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::std::result::Result<(), $crate::value::ValueError> {
                $crate::frame::stored::encode(&self.0, $format, out)
            }
            fn decode(input: &mut &[u8]) -> ::std::result::Result<Self, $crate::value::ValueError> {
                $crate::frame::stored::decode(input).map($ty)
            }
            fn decode_stored(
                input: &mut &[u8],
                ctx: &$crate::value::StoreContext<'_>,
            ) -> ::std::result::Result<Self, $crate::value::ValueError> {
                $crate::frame::stored::decode_stored(input, ctx).map($ty)
            }
            fn extension() -> &'static str {
                $format.extension()
            }
            fn schema() -> ::std::result::Result<$crate::fingerprint::Fingerprint, $crate::value::ValueError> {
                ::std::result::Result::Ok($crate::frame::frame_schema())
            }
            fn materialize(
                self,
                ctx: &$crate::value::MaterializeContext<'_>,
            ) -> ::std::result::Result<$crate::value::Materialized<Self>, $crate::value::ValueError> {
                let done = $crate::frame::stored::materialize(self.0, $format, ctx)?;
                Ok($crate::value::Materialized { value: $ty(done.value), fingerprint: done.fingerprint, file: done.file })
            }
            fn write_file(&self, path: &::std::path::Path) -> ::std::result::Result<(), $crate::value::ValueError> {
                $crate::frame::stored::write_file(&self.0, $format, path)
            }
            fn read_file(path: &::std::path::Path) -> ::std::result::Result<Self, $crate::value::ValueError> {
                $crate::frame::stored::read_file(path).map($ty)
            }
            fn read_stored_file(
                path: &::std::path::Path,
                ctx: &$crate::value::StoreContext<'_>,
            ) -> ::std::result::Result<Self, $crate::value::ValueError> {
                $crate::frame::stored::read_stored_file(path, ctx).map($ty)
            }
            fn references(&self) -> ::std::vec::Vec<$crate::fingerprint::Fingerprint> {
                $crate::frame::stored::references(&self.0)
            }
            fn as_lazy_frame(&self) -> ::std::option::Option<$crate::frame::LazyFrame> {
                ::std::option::Option::Some(::std::clone::Clone::clone(&self.0))
            }
        }
    };
}
