//! Views: a frame stored as the query that computes it from frames the store
//! holds, instead of as its rows.
//!
//! A query that only computes, renames, selects or filters columns row by
//! row over stored frames (`scored.with_columns([...])`) costs about as much
//! to run again as its result would cost to read, so it is stored as a
//! *recipe*: the query plan (polars' own serialization), with each stored
//! frame it scans named by fingerprint. Nothing is written but the plan; a
//! reader, in any process, gets the query back over the stored frames'
//! files. The store keeps the frames a view names as long as the view
//! ([`Value::references`](crate::Value::references)).
//!
//! A view's fingerprint is its recipe's: an equal recipe over equal frames
//! is the same value (early cutoff holds); another recipe giving equal rows
//! is another value (its consumers run again: safe, never wrong). A recipe
//! written by another polars version does not decode, and the view is then
//! computed again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use polars_plan::plans::expr_ir::ExprIR;
use polars_plan::plans::{IR, is_elementwise_rec, is_inherently_nondeterministic};

use super::format::{BUFFERED_SCAN_BYTES, FrameFormat, scan_as, source};
use super::plan::map_plan;
use crate::fingerprint::Fingerprint;
use crate::value::{StoreContext, ValueError};

/// The first bytes of a view's encoding (a stored frame's file starts with
/// `ARROW1` or `PAR1`).
const MAGIC: &[u8; 16] = b"pipeline-view-v1";

/// A scan of a frame the store holds: its fingerprint, file and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredScan {
    pub(super) fingerprint: Fingerprint,
    pub(super) path: PathBuf,
    pub(super) format: FrameFormat,
}

impl StoredScan {
    /// The stored frame a scan node reads, if it reads one whole, as the
    /// store's own scans do: one local file named `<fingerprint>.<arrow|parquet>`
    /// in a store's `objects/` directory or in this process's scratch
    /// directory in it (`objects/tmp/p<pid>/`), with default scan options,
    /// and which that store vouches for (see `store::vouches_for`: checked
    /// against its content hash and unchanged since). A file that only has
    /// such a name is read for its rows.
    pub(super) fn of(node: &DslPlan) -> Option<Self> {
        let DslPlan::Scan {
            sources,
            unified_scan_args,
            scan_type,
            ..
        } = node
        else {
            return None;
        };
        let format = match **scan_type {
            FileScanDsl::Ipc { .. } => FrameFormat::Ipc,
            FileScanDsl::Parquet { .. } => FrameFormat::Parquet,
            _ => return None,
        };
        let ScanSources::Paths(paths) = sources else {
            return None;
        };
        let [path] = &paths[..] else {
            return None;
        };
        let local = path
            .as_str()
            .strip_prefix("file://")
            .unwrap_or(path.as_str());
        let path = PathBuf::from(local);
        let (stem, extension) = path.file_name()?.to_str()?.split_once('.')?;
        let fingerprint: Fingerprint = stem.parse().ok()?;
        let parent = path.parent()?;
        let in_objects = (dir_name(Some(parent)) == Some("objects")
            || (dir_name(Some(parent)).is_some_and(|n| n.starts_with('p'))
                && dir_name(parent.parent()) == Some("tmp")
                && dir_name(parent.parent().and_then(Path::parent)) == Some("objects")))
            // The name is a claim: a store must vouch for the file.
            && crate::store::vouches_for(&path, &fingerprint);
        // Options that change the rows or columns read make it another query.
        let plain = unified_scan_args.row_index.is_none()
            && unified_scan_args.pre_slice.is_none()
            && unified_scan_args.include_file_paths.is_none()
            && unified_scan_args.projection.is_none();
        (in_objects && plain && extension == format.extension()).then_some(Self {
            fingerprint,
            path,
            format,
        })
    }

    /// A scan of this frame's file, buffered if it is large.
    pub(super) fn scan(&self) -> PolarsResult<LazyFrame> {
        let large = std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= BUFFERED_SCAN_BYTES);
        scan_as(self.format, &source(&self.path, large)?)
    }

    /// The placeholder a recipe has in this scan's place.
    fn placeholder(&self) -> PlRefPath {
        PlRefPath::new(format!(
            "pipeline-stored-frame-{}.{}",
            self.fingerprint.to_hex(),
            self.format.extension()
        ))
    }
}

/// The last component of a directory's path, if it is one and UTF-8.
fn dir_name(dir: Option<&Path>) -> Option<&str> {
    dir.and_then(Path::file_name).and_then(|n| n.to_str())
}

/// Every stored frame `plan` scans (see [`StoredScan::of`]), and whether it
/// scans anything else (a CSV file, a file elsewhere, data in memory).
pub(super) fn stored_scans(plan: &DslPlan) -> (Vec<StoredScan>, bool) {
    let mut stored = Vec::new();
    let mut other = false;
    super::plan::for_each_source(plan, &mut |node| match StoredScan::of(node) {
        Some(scan) => stored.push(scan),
        None => other = true,
    });
    (stored, other)
}

/// The stored frame `frame` is, if it is a plain scan of one.
pub(super) fn identity(frame: &LazyFrame) -> Option<StoredScan> {
    let mut plan = &frame.logical_plan;
    while let DslPlan::IR { dsl, .. } = plan {
        plan = dsl;
    }
    StoredScan::of(plan)
}

/// The recipe of `frame`, if it is a view: it computes columns row by row
/// (select, with_columns, filter) from stored frames only, with
/// deterministic expressions polars can serialize. `None` for any other
/// query, which is then run and stored as rows.
pub(super) fn recipe(frame: &LazyFrame) -> Option<Vec<u8>> {
    let (stored, other) = stored_scans(&frame.logical_plan);
    if other || stored.is_empty() || identity(frame).is_some() || !row_wise(frame) {
        return None;
    }
    let placeholders = placeholdered(&frame.logical_plan);
    let mut references: Vec<Fingerprint> = stored.iter().map(|s| s.fingerprint).collect();
    references.sort();
    references.dedup();
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(references.len() as u32).to_le_bytes());
    for reference in &references {
        out.extend_from_slice(reference.as_bytes());
    }
    placeholders
        .serialize_versioned(&mut out, PlanSerializationContext::default())
        .ok()?;
    Some(out)
}

/// `plan` with each scan of a stored frame naming the frame by fingerprint
/// instead of by path: equal for equal queries over equal frames, wherever
/// their files lie.
pub(super) fn placeholdered(plan: &DslPlan) -> DslPlan {
    map_plan(plan, &mut |node| {
        let scan = StoredScan::of(node)?;
        let mut node = node.clone();
        if let DslPlan::Scan { sources, .. } = &mut node {
            *sources = ScanSources::Paths(vec![scan.placeholder()].into());
        }
        Some(node)
    })
}

/// Whether every operation of the plan keeps rows apart (each output row
/// comes from one input row) and every expression is elementwise and
/// deterministic.
pub(crate) fn row_wise(frame: &LazyFrame) -> bool {
    let Ok(plan) = frame.logical_plan.clone().to_alp() else {
        return false;
    };
    let exprs_ok = |exprs: &[ExprIR]| {
        exprs.iter().all(|e| {
            is_elementwise_rec(e.node(), &plan.expr_arena)
                && !is_inherently_nondeterministic(e.node(), &plan.expr_arena)
        })
    };
    let mut stack = vec![plan.lp_top];
    while let Some(node) = stack.pop() {
        match plan.lp_arena.get(node) {
            IR::Scan { predicate, .. } => {
                if predicate.is_some() {
                    return false;
                }
            }
            IR::SimpleProjection { input, .. } => stack.push(*input),
            IR::Select { input, expr, .. } => {
                if !exprs_ok(expr) {
                    return false;
                }
                stack.push(*input);
            }
            IR::HStack { input, exprs, .. } => {
                if !exprs_ok(exprs) {
                    return false;
                }
                stack.push(*input);
            }
            IR::Filter { input, predicate } => {
                if !exprs_ok(std::slice::from_ref(predicate)) {
                    return false;
                }
                stack.push(*input);
            }
            _ => return false,
        }
    }
    true
}

/// Whether these bytes are a view's encoding.
pub(super) fn is_recipe(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The stored frames a recipe names.
pub(super) fn references(recipe: &[u8]) -> Result<Vec<Fingerprint>, ValueError> {
    let (references, _) = split(recipe)?;
    Ok(references)
}

/// A recipe's references and serialized plan.
fn split(recipe: &[u8]) -> Result<(Vec<Fingerprint>, &[u8]), ValueError> {
    let bad = |reason: &str| ValueError::decode::<LazyFrame>(format!("a view's recipe {reason}"));
    let rest = recipe
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("lacks its magic bytes"))?;
    let (count, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("is truncated"))?;
    let count = u32::from_le_bytes(*count) as usize;
    if rest.len() < count * 32 {
        return Err(bad("is truncated"));
    }
    let (names, plan) = rest.split_at(count * 32);
    let references = names
        .chunks_exact(32)
        .map(|chunk| Fingerprint::from_bytes(chunk.try_into().expect("32 bytes")))
        .collect();
    Ok((references, plan))
}

/// The query a recipe stands for, over the files `ctx` gives for the frames
/// it names.
pub(super) fn decode(recipe: &[u8], ctx: &StoreContext<'_>) -> Result<LazyFrame, ValueError> {
    let (references, plan) = split(recipe)?;
    let plan = DslPlan::deserialize_versioned(plan).map_err(|e| {
        ValueError::decode::<LazyFrame>(format!(
            "a view's recipe does not decode (written by another polars version?): {e}"
        ))
    })?;
    let mut files = Vec::with_capacity(references.len());
    for fingerprint in &references {
        files.push((*fingerprint, ctx.file_of(fingerprint)?));
    }
    let mut missing = None;
    let resolved = map_plan(&plan, &mut |node| {
        let DslPlan::Scan {
            sources: ScanSources::Paths(paths),
            scan_type,
            ..
        } = node
        else {
            return None;
        };
        let name = paths
            .first()?
            .as_str()
            .strip_prefix("pipeline-stored-frame-")?;
        let (hex, _) = name.split_once('.')?;
        let fingerprint: Fingerprint = hex.parse().ok()?;
        let Some((_, path)) = files.iter().find(|(f, _)| *f == fingerprint) else {
            missing = Some(fingerprint);
            return None;
        };
        let format = match **scan_type {
            FileScanDsl::Parquet { .. } => FrameFormat::Parquet,
            _ => FrameFormat::Ipc,
        };
        let scan = StoredScan {
            fingerprint,
            path: path.clone(),
            format,
        };
        let mut node = node.clone();
        if let DslPlan::Scan { sources, .. } = &mut node {
            let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= BUFFERED_SCAN_BYTES);
            let source = source(&scan.path, large).ok()?;
            *sources = ScanSources::Paths(vec![source].into());
        }
        Some(node)
    });
    if let Some(fingerprint) = missing {
        return Err(ValueError::decode::<LazyFrame>(format!(
            "a view's recipe scans {fingerprint}, which it does not name"
        )));
    }
    Ok(LazyFrame::from(resolved))
}

/// Replaces every scan of a stored frame that `resident` has in memory by
/// that frame: the query then reads no file for it.
pub(super) fn substitute(
    frame: &LazyFrame,
    resident: &mut dyn FnMut(&StoredScan) -> Option<Arc<DataFrame>>,
) -> LazyFrame {
    let plan = map_plan(&frame.logical_plan, &mut |node| {
        let scan = StoredScan::of(node)?;
        let df = resident(&scan)?;
        let schema = df.schema().clone();
        Some(DslPlan::DataFrameScan { df, schema })
    });
    LazyFrame::from(plan)
}
