//! Polars data frames as data node values (cargo feature `polars`).
//!
//! A task producing a [`LazyFrame`] only builds a query. The executor
//! *materializes* it: the query runs on polars' streaming engine and sinks into
//! a Parquet file in the store's scratch directory (memory stays bounded however
//! large the data), the file's blake3 digest becomes the value's fingerprint, and
//! consumers receive a `LazyFrame` scanning that file. Small results can be
//! [`DataFrame`]s, encoded as Parquet in memory.
//!
//! Give each frame of a pipeline its own newtype with [`lazy_frame_value!`](crate::lazy_frame_value)
//! so that wiring one frame where another is expected is a compile error.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;

use crate::fingerprint::Fingerprint;
use crate::value::{MaterializeContext, Materialized, Value, ValueError};

mod file_writer;
pub mod memory;

pub use file_writer::FrameFileWriter;

/// Rows per row group of a materialized frame: small enough that a sink
/// never buffers much, large enough for fast scans.
pub const FRAME_ROW_GROUP_ROWS: usize = 128 * 1024;

/// How materialized frames are written: uncompressed Parquet pages, null
/// counts but no min/max statistics, row groups of [`FRAME_ROW_GROUP_ROWS`].
/// Materialized frames are intermediate results, written once and read soon
/// after by the next task on the same machine, so write and read speed matter
/// more than size: on 10M rows zstd (polars' default) and LZ4 spent more CPU
/// compressing mostly random floats than writing the bytes saved.
pub fn frame_write_options() -> ParquetWriteOptions {
    ParquetWriteOptions {
        compression: ParquetCompression::Uncompressed,
        row_group_size: Some(FRAME_ROW_GROUP_ROWS),
        // Null counts only: min/max statistics cost ~7% of writing a frame
        // and intermediate frames are scanned whole by the next task.
        statistics: StatisticsOptions {
            min_value: false,
            max_value: false,
            distinct_count: false,
            null_count: true,
            ..StatisticsOptions::default()
        },
        ..ParquetWriteOptions::default()
    }
}

/// Runs `frame` on the streaming engine and writes the result to a Parquet file
/// at `path` without holding it in memory.
pub fn sink_parquet(frame: LazyFrame, path: &Path) -> PolarsResult<()> {
    let target = SinkTarget::Path(PlRefPath::try_from_path(path)?);
    frame
        .sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(Arc::new(frame_write_options())),
            UnifiedSinkArgs::default(),
        )?
        .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// Files at least this large are scanned through read buffers instead of a
/// memory map (see [`scan_parquet`]).
pub const BUFFERED_SCAN_BYTES: u64 = 1 << 30;

/// A lazy scan of a Parquet file.
///
/// polars scans a local file through a memory map, and every page it touches
/// then counts toward the process's resident memory, so scanning a frame of
/// several GB showed several GB of RSS (clean pages the kernel can drop, but
/// reported all the same). Files of [`BUFFERED_SCAN_BYTES`] or more are
/// therefore scanned as `file://` URLs, which polars reads into buffers; on
/// smaller files the memory map is faster.
pub fn scan_parquet(path: &Path) -> PolarsResult<LazyFrame> {
    // Unix paths only: a `file://` URL of a Windows path is not well formed.
    let large = cfg!(unix) && std::fs::metadata(path).is_ok_and(|m| m.len() >= BUFFERED_SCAN_BYTES);
    let source = match (large, std::path::absolute(path)) {
        (true, Ok(absolute)) if absolute.to_str().is_some() => {
            PlRefPath::new(format!("file://{}", absolute.to_str().expect("checked")))
        }
        _ => PlRefPath::try_from_path(path)?,
    };
    LazyFrame::scan_parquet(source, ScanArgsParquet::default())
}

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

/// The schema of every frame type: Parquet bytes, which name and type their
/// own columns (see `impl Value for LazyFrame`).
pub fn frame_schema() -> Fingerprint {
    crate::schema::named("parquet frame")
}

fn polars_error(error: PolarsError) -> ValueError {
    ValueError::Materialize(format!("polars: {error}"))
}

/// A file name no other materialization of this process uses.
fn scratch_file(dir: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("frame-{}-{n}.parquet.tmp", std::process::id()))
}

/// Sinks a lazy frame into `dir`, names the file by its fingerprint and returns
/// a scan of it.
pub fn materialize_lazy(
    frame: LazyFrame,
    dir: &Path,
) -> Result<Materialized<LazyFrame>, ValueError> {
    materialize_lazy_with(frame, dir, |error| format!("polars: {error}"))
}

/// [`materialize_lazy`], with `explain` turning a failure of the query (a bad
/// cell in a CSV, say) into the message users see.
pub fn materialize_lazy_with(
    frame: LazyFrame,
    dir: &Path,
    explain: impl FnOnce(PolarsError) -> String,
) -> Result<Materialized<LazyFrame>, ValueError> {
    let schema = match frame.clone().collect_schema() {
        Ok(schema) => schema,
        Err(error) => return Err(ValueError::Materialize(explain(error))),
    };
    let writer = Arc::new(parking_lot::Mutex::new(FrameFileWriter::create(
        dir, &schema,
    )?));
    let write_error = Arc::new(parking_lot::Mutex::new(None::<ValueError>));
    let sink = {
        let (writer, write_error) = (writer.clone(), write_error.clone());
        PlanCallback::new(move |batch: DataFrame| match writer.lock().write(&batch) {
            Ok(()) => Ok(false),
            Err(error) => {
                *write_error.lock() = Some(error);
                Ok(true) // stop the query
            }
        })
    };
    // In file order (deterministic bytes, so equal frames get equal
    // fingerprints), in batches of one row group: memory stays bounded,
    // unlike polars' own Parquet sink, which buffered gigabytes on 100M rows.
    let run = frame
        .sink_batches(
            sink,
            true,
            std::num::NonZeroUsize::new(FRAME_ROW_GROUP_ROWS),
        )
        .and_then(|query| query.collect_with_engine(Engine::Streaming));
    if let Some(error) = write_error.lock().take() {
        return Err(error);
    }
    if let Err(error) = run {
        return Err(ValueError::Materialize(explain(error)));
    }
    let writer = Arc::try_unwrap(writer)
        .map_err(|_| ValueError::Materialize("polars kept the frame writer".to_owned()))?
        .into_inner();
    writer.finish()
}

fn encode_frame(frame: &mut DataFrame, out: &mut Vec<u8>) -> Result<(), ValueError> {
    frame_write_options()
        .to_writer(Cursor::new(&mut *out))
        .finish(frame)
        .map_err(polars_error)?;
    Ok(())
}

fn decode_frame(input: &mut &[u8]) -> Result<DataFrame, ValueError> {
    let frame = ParquetReader::new(Cursor::new(input.to_vec()))
        .finish()
        .map_err(polars_error)?;
    *input = &[];
    Ok(frame)
}

/// A lazy frame is encoded as the Parquet file its query produces. The
/// executor materializes it once (see the module docs); the methods below serve
/// values written by hand and decoding.
impl Value for LazyFrame {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        let dir = tempfile::tempdir().map_err(|source| ValueError::Io {
            action: "cannot create a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })?;
        let path = dir.path().join("frame.parquet");
        sink_parquet(self.clone(), &path).map_err(polars_error)?;
        let bytes = std::fs::read(&path).map_err(|source| ValueError::Io {
            action: "cannot read",
            path,
            source,
        })?;
        out.extend_from_slice(&bytes);
        Ok(())
    }

    /// Takes all remaining bytes: a frame is always a whole file.
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        Ok(decode_frame(input)?.lazy())
    }

    fn type_name() -> String {
        "LazyFrame".to_owned()
    }

    /// A Parquet file describes its own columns (names and types), and a
    /// query over a frame names the columns it reads: stored bytes are never
    /// read as another layout, so every frame type shares one schema.
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(frame_schema())
    }

    fn extension() -> &'static str {
        "parquet"
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        materialize_lazy(self, ctx.scratch_dir)
    }

    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        sink_parquet(self.clone(), path).map_err(polars_error)
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.clone())
    }

    fn read_file(path: &Path) -> Result<Self, ValueError> {
        if !path.is_file() {
            return Err(ValueError::Io {
                action: "cannot read",
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        scan_parquet(path).map_err(polars_error)
    }
}

/// A small, in-memory result, encoded as Parquet.
impl Value for DataFrame {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        encode_frame(&mut self.clone(), out)
    }

    /// Takes all remaining bytes: a frame is always a whole file.
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        decode_frame(input)
    }

    fn type_name() -> String {
        "DataFrame".to_owned()
    }

    /// Self-describing Parquet, like [`LazyFrame`]'s.
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(frame_schema())
    }

    fn as_lazy_frame(&self) -> Option<LazyFrame> {
        Some(self.clone().lazy())
    }

    fn extension() -> &'static str {
        "parquet"
    }
}

/// Implements [`Value`] for newtypes around a polars `LazyFrame`
/// (`struct ScoredDf(pub LazyFrame);`), delegating to the `LazyFrame`
/// implementation. Distinct newtypes make miswired frames a compile error.
///
/// ```
/// use pipeline_core::lazy_frame_value;
/// use polars::prelude::*;
///
/// pub struct Scored(pub LazyFrame);
/// lazy_frame_value!(Scored);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! lazy_frame_value {
    ($($ty:ident),+ $(,)?) => {$(
        impl $crate::Value for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::std::result::Result<(), $crate::ValueError> {
                $crate::Value::encode(&self.0, out)
            }
            fn decode(input: &mut &[u8]) -> ::std::result::Result<Self, $crate::ValueError> {
                <$crate::frame::LazyFrame as $crate::Value>::decode(input).map($ty)
            }
            fn extension() -> &'static str {
                "parquet"
            }
            fn schema() -> ::std::result::Result<$crate::Fingerprint, $crate::ValueError> {
                ::std::result::Result::Ok($crate::frame::frame_schema())
            }
            fn materialize(
                self,
                ctx: &$crate::MaterializeContext<'_>,
            ) -> ::std::result::Result<$crate::Materialized<Self>, $crate::ValueError> {
                let done = $crate::Value::materialize(self.0, ctx)?;
                Ok($crate::Materialized { value: $ty(done.value), fingerprint: done.fingerprint, file: done.file })
            }
            fn write_file(&self, path: &::std::path::Path) -> ::std::result::Result<(), $crate::ValueError> {
                $crate::Value::write_file(&self.0, path)
            }
            fn read_file(path: &::std::path::Path) -> ::std::result::Result<Self, $crate::ValueError> {
                <$crate::frame::LazyFrame as $crate::Value>::read_file(path).map($ty)
            }
            fn as_lazy_frame(&self) -> ::std::option::Option<$crate::frame::LazyFrame> {
                ::std::option::Option::Some(::std::clone::Clone::clone(&self.0))
            }
        }
    )+};
}

pub use polars::prelude::{DataFrame, LazyFrame, PolarsError};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GraphBuilder, JobStatus, NodeSpec, Runtime, TaskDef, TaskSpec};

    fn numbers(n: i64) -> LazyFrame {
        df!("x" => (0..n).collect::<Vec<i64>>()).unwrap().lazy()
    }

    #[test]
    fn materialized_frame_is_a_scan_of_a_file_named_by_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let done = materialize_lazy(numbers(10).filter(col("x").gt(lit(4))), dir.path()).unwrap();
        let file = done.file.unwrap();
        assert_eq!(
            file.file_name().unwrap().to_str().unwrap(),
            format!("{}.parquet", done.fingerprint.to_hex())
        );
        assert_eq!(fingerprint_file(&file).unwrap(), done.fingerprint);
        let again = materialize_lazy(numbers(10).filter(col("x").gt(lit(4))), dir.path()).unwrap();
        assert_eq!(
            again.fingerprint, done.fingerprint,
            "equal frames get equal fingerprints"
        );
        assert_eq!(collect_streaming(done.value).unwrap().height(), 5);
    }

    #[test]
    fn frames_flow_between_tasks_and_equal_results_cut_off() {
        let graph = GraphBuilder::new("frames")
            .node(NodeSpec::new::<i64>("n").with_default(10))
            .node(NodeSpec::new::<LazyFrame>("numbers"))
            .node(NodeSpec::new::<DataFrame>("big"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("make", "1", |n: &i64| {
                    numbers(*n).with_column(lit(1).alias("one"))
                }))
                .inputs(["n"])
                .outputs(["numbers"])
                .skippable(true),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn1("count_big", "1", |f: &LazyFrame| {
                    collect_streaming(f.clone().filter(col("x").gt(lit(100))).select([len()]))
                        .unwrap()
                }))
                .inputs(["numbers"])
                .outputs(["big"])
                .skippable(true),
            )
            .build()
            .unwrap();
        let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
        assert!(scenario.submit().unwrap().is_success());
        let big = scenario.node::<DataFrame>("big").unwrap().read().unwrap();
        assert_eq!(big.column("len").unwrap().u32().unwrap().get(0), Some(0));
        scenario.node::<i64>("n").unwrap().write(20).unwrap();
        let second = scenario.submit().unwrap();
        assert_eq!(second.status("make"), Some(JobStatus::Completed));
        assert_eq!(second.status("count_big"), Some(JobStatus::Completed));
        let big_fp = scenario
            .node::<DataFrame>("big")
            .unwrap()
            .fingerprint()
            .unwrap();
        scenario.node::<i64>("n").unwrap().write(30).unwrap();
        let third = scenario.submit().unwrap();
        assert_eq!(third.status("count_big"), Some(JobStatus::Completed));
        assert_eq!(
            scenario
                .node::<DataFrame>("big")
                .unwrap()
                .fingerprint()
                .unwrap(),
            big_fp
        );
    }

    #[test]
    fn a_frame_scanned_through_a_file_url_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let done = materialize_lazy(numbers(1000), dir.path()).unwrap();
        let file = done.file.unwrap();
        let url = format!("file://{}", std::path::absolute(&file).unwrap().display());
        let buffered =
            LazyFrame::scan_parquet(PlRefPath::new(url), ScanArgsParquet::default()).unwrap();
        let (a, b) = (
            collect_streaming(buffered).unwrap(),
            collect_streaming(scan_parquet(&file).unwrap()).unwrap(),
        );
        assert!(a.equals(&b));
        assert_eq!(a.height(), 1000);
    }

    #[test]
    fn data_frames_round_trip_through_parquet_bytes() {
        let frame = df!("a" => [1.5, 2.5], "b" => ["x", "y"]).unwrap();
        let mut bytes = Vec::new();
        frame.encode(&mut bytes).unwrap();
        let decoded = DataFrame::decode(&mut bytes.as_slice()).unwrap();
        assert!(decoded.equals(&frame));
        assert_eq!(frame.fingerprint().unwrap(), decoded.fingerprint().unwrap());
    }
}
