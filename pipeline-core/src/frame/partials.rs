//! Partial results: each aggregation of a query over stored frames, kept
//! across runs under a key naming exactly what it computes.
//!
//! A `group_by(keys).agg([a, b, c])`, or a `select([a, b, c])` of
//! aggregations and literals, over a row-wise query of stored frames (a
//! view's query: `select`, `with_columns`, `filter` over scans) is split
//! into one part per aggregation: `group_by(keys).agg([a])` over the input
//! cut down to the columns that `keys` and `a` read ([`prune`](super::prune)).
//! A part's key is the blake3 digest of its plan, with each stored frame
//! named by fingerprint, and of the versions of polars and of this crate
//! and a digest of this module's sources. Parts found in the store's
//! [`PartialResults`] are taken from there; the others are computed
//! together in one query and recorded (when the result has at most
//! [`MAX_ROWS`] rows). The parts are joined on the keys (or put side by
//! side) into the node's result, which the rest of the query reads.
//!
//! So when a parameter changes one derived column, only the aggregations
//! that read it run again; the others are read back, in any process. A part
//! is reused only for an equal plan over equal frames: never a wrong result,
//! at worst a missed reuse. Keys of a floating-point or nested type are not
//! joined (their equality is not exact): such a node is one part.

use std::sync::Arc;

use polars::prelude::*;
use polars_plan::prelude::ProjectionOptions;

use super::format::{self, FrameFormat};
use super::prune::{self, Columns};
use super::view;
use crate::fingerprint::Fingerprint;
use crate::partial_results::PartialResults;

/// The first bytes hashed into every key.
const MAGIC: &[u8] = b"pipeline-partial-v1\0";

/// Rows at most of a node's result for its parts to be recorded; a result
/// with more groups would cost more to join than to compute.
pub(super) const MAX_ROWS: usize = 10_000;

/// `frame` with each aggregation over stored frames (see the [module
/// docs](self)) replaced by its result, taken from `cache` where recorded
/// and else computed by `run`. A node whose parts cannot be put together is
/// left to polars.
pub(super) fn reuse(
    frame: &LazyFrame,
    cache: &dyn PartialResults,
    run: &mut dyn FnMut(LazyFrame) -> PolarsResult<DataFrame>,
) -> LazyFrame {
    let plan = super::plan::map_plan(&frame.logical_plan, &mut |node| {
        let aggregation = Aggregation::of(node)?;
        match aggregation.result(cache, run) {
            Ok(df) => {
                let schema = df.schema().clone();
                Some(DslPlan::DataFrameScan {
                    df: Arc::new(df),
                    schema,
                })
            }
            Err(error) => {
                tracing::debug!("partial results not used for an aggregation: {error}");
                None
            }
        }
    });
    LazyFrame::from(plan)
}

/// An aggregation node over a row-wise query of stored frames.
struct Aggregation {
    input: Arc<DslPlan>,
    exprs: Vec<Expr>,
    shape: Shape,
    /// The stored frames the input reads.
    references: Vec<Fingerprint>,
}

enum Shape {
    GroupBy {
        keys: Vec<Expr>,
        maintain_order: bool,
        options: Arc<GroupbyOptions>,
    },
    /// A `select` of one-row expressions.
    Scalars { options: ProjectionOptions },
}

impl Aggregation {
    fn of(node: &DslPlan) -> Option<Self> {
        let group_by = super::plan::plain_group_by(node)
            .filter(|group_by| !group_by.keys.is_empty() && !group_by.aggs.is_empty());
        let (input, exprs, shape) = match (group_by, node) {
            (Some(group_by), _) => {
                let shape = Shape::GroupBy {
                    keys: group_by.keys.to_vec(),
                    maintain_order: group_by.maintain_order,
                    options: group_by.options.clone(),
                };
                (group_by.input, group_by.aggs, shape)
            }
            (
                None,
                DslPlan::Select {
                    expr,
                    input,
                    options,
                },
            ) if !expr.is_empty() && expr.iter().all(is_scalar) => {
                (input, &expr[..], Shape::Scalars { options: *options })
            }
            _ => return None,
        };
        let (stored, other) = view::stored_scans(input);
        if other || stored.is_empty() || !view::row_wise(&LazyFrame::from((**input).clone())) {
            return None;
        }
        let mut references: Vec<Fingerprint> = stored.iter().map(|s| s.fingerprint).collect();
        references.sort();
        references.dedup();
        Some(Self {
            input: input.clone(),
            exprs: exprs.to_vec(),
            shape,
            references,
        })
    }

    /// The node over `input` with `exprs` in place of its own.
    fn with(&self, input: DslPlan, exprs: Vec<Expr>) -> DslPlan {
        let input = Arc::new(input);
        match &self.shape {
            Shape::GroupBy {
                keys,
                maintain_order,
                options,
            } => DslPlan::GroupBy {
                input,
                keys: keys.clone(),
                predicates: Vec::new(),
                aggs: exprs,
                maintain_order: *maintain_order,
                options: options.clone(),
                apply: None,
            },
            Shape::Scalars { options } => DslPlan::Select {
                expr: exprs,
                input,
                options: *options,
            },
        }
    }

    /// The node computing only `exprs`, over the input cut down to what they
    /// and the keys read.
    fn part(&self, exprs: Vec<Expr>) -> DslPlan {
        let keys: &[Expr] = match &self.shape {
            Shape::GroupBy { keys, .. } => keys,
            Shape::Scalars { .. } => &[],
        };
        let needed = prune::columns_read_all(keys).and_then(|mut needed: Columns| {
            needed.extend(prune::columns_read_all(&exprs)?);
            Some(needed)
        });
        let input = match needed {
            Some(needed) => prune::prune(&self.input, &needed),
            None => (*self.input).clone(),
        };
        self.with(input, exprs)
    }

    /// The node's result, from recorded parts and parts computed now.
    fn result(
        &self,
        cache: &dyn PartialResults,
        run: &mut dyn FnMut(LazyFrame) -> PolarsResult<DataFrame>,
    ) -> PolarsResult<DataFrame> {
        let schema = LazyFrame::from(self.with((*self.input).clone(), self.exprs.clone()))
            .collect_schema()?;
        let key_names: Vec<PlSmallStr> = match &self.shape {
            Shape::GroupBy { keys, .. } => schema.iter_names().take(keys.len()).cloned().collect(),
            Shape::Scalars { .. } => Vec::new(),
        };
        polars_ensure!(
            schema.len() == key_names.len() + self.exprs.len(),
            ComputeError: "an aggregation makes more than one column per expression"
        );
        let inexact_keys = key_names.iter().any(|name| {
            schema
                .get(name)
                .is_some_and(|dtype| dtype.is_float() || dtype.is_nested())
        });
        // Each part: the positions of its expressions.
        let parts: Vec<Vec<usize>> = if inexact_keys {
            vec![(0..self.exprs.len()).collect()]
        } else {
            (0..self.exprs.len()).map(|i| vec![i]).collect()
        };
        let names_of = |part: &[usize]| -> Vec<PlSmallStr> {
            key_names
                .iter()
                .cloned()
                .chain(
                    part.iter()
                        .map(|&i| schema.get_at_index(key_names.len() + i).unwrap().0.clone()),
                )
                .collect()
        };
        let keys: Vec<Option<Fingerprint>> = parts
            .iter()
            .map(|part| {
                let exprs = part.iter().map(|&i| self.exprs[i].clone()).collect();
                key_of(&self.part(exprs))
            })
            .collect();
        let found: Vec<Option<DataFrame>> = parts
            .iter()
            .zip(&keys)
            .map(|(part, key)| {
                let bytes = cache.partial_result(key.as_ref()?)?;
                let frame = format::decode(&bytes).ok()?;
                let expected = names_of(part);
                let fits = frame.width() == expected.len()
                    && frame.get_column_names().into_iter().eq(expected.iter())
                    && frame
                        .columns()
                        .iter()
                        .all(|c| schema.get(c.name()) == Some(c.dtype()));
                fits.then_some(frame)
            })
            .collect();
        let missing: Vec<usize> = (0..parts.len()).filter(|&p| found[p].is_none()).collect();
        tracing::debug!(
            parts = parts.len(),
            reused = parts.len() - missing.len(),
            "partial results of an aggregation"
        );
        let computed = if missing.is_empty() {
            None
        } else {
            let exprs = missing
                .iter()
                .flat_map(|&p| parts[p].iter().map(|&i| self.exprs[i].clone()))
                .collect();
            Some(run(LazyFrame::from(self.part(exprs)))?)
        };
        if let Some(computed) = &computed
            && computed.height() <= MAX_ROWS
        {
            for &p in &missing {
                let Some(key) = &keys[p] else { continue };
                let mut bytes = Vec::new();
                format::encode(
                    &computed.select(names_of(&parts[p]))?,
                    FrameFormat::Ipc,
                    &mut bytes,
                )?;
                cache.record_partial_result(key, &self.references, &bytes);
            }
        }
        let pieces: Vec<DataFrame> = computed
            .into_iter()
            .chain(found.into_iter().flatten())
            .collect();
        let assembled = match &self.shape {
            Shape::Scalars { .. } => side_by_side(&pieces)?,
            Shape::GroupBy { .. } => joined(pieces, &key_names)?,
        };
        let assembled = assembled.select(schema.iter_names().cloned())?;
        polars_ensure!(
            assembled.schema().as_ref() == schema.as_ref(),
            ComputeError: "the parts of an aggregation do not make its schema"
        );
        Ok(assembled)
    }
}

/// Whether `expr` makes one row: an aggregation or a literal, under aliases
/// and casts.
fn is_scalar(expr: &Expr) -> bool {
    let mut inner = expr;
    loop {
        match inner {
            Expr::Alias(e, _) | Expr::Cast { expr: e, .. } => inner = e,
            Expr::Agg(_) | Expr::Len => return true,
            Expr::Literal(literal) => return literal.is_scalar(),
            _ => return false,
        }
    }
}

/// The key of a part's plan (see the [module docs](self)); `None` if polars
/// cannot serialize it.
fn key_of(plan: &DslPlan) -> Option<Fingerprint> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(MAGIC);
    for part in [
        polars::VERSION,
        env!("CARGO_PKG_VERSION"),
        env!("PIPELINE_FRAME_SOURCES"),
    ] {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
    view::placeholdered(plan)
        .serialize_versioned(&mut out, PlanSerializationContext::default())
        .ok()?;
    Some(Fingerprint::of_bytes(&out))
}

/// One-row results put side by side.
fn side_by_side(pieces: &[DataFrame]) -> PolarsResult<DataFrame> {
    polars_ensure!(
        pieces.iter().all(|p| p.height() == 1),
        ComputeError: "a part of a select of aggregations has other than one row"
    );
    let columns: Vec<Column> = pieces.iter().flat_map(|p| p.columns().to_vec()).collect();
    DataFrame::new_infer_height(columns)
}

/// Group results joined on their keys, in the first one's group order;
/// an error unless every piece has the same groups.
fn joined(pieces: Vec<DataFrame>, key_names: &[PlSmallStr]) -> PolarsResult<DataFrame> {
    let mut pieces = pieces.into_iter();
    let mut out = pieces
        .next()
        .ok_or_else(|| polars_err!(ComputeError: "an aggregation without parts"))?;
    let height = out.height();
    let by = || key_names.iter().map(|k| col(k.clone())).collect::<Vec<_>>();
    for piece in pieces {
        polars_ensure!(
            piece.height() == height,
            ComputeError: "the parts of an aggregation have other groups"
        );
        out = out
            .lazy()
            .join(
                piece.lazy(),
                by(),
                by(),
                JoinArgs {
                    nulls_equal: true,
                    maintain_order: MaintainOrderJoin::Left,
                    ..JoinArgs::new(JoinType::Inner)
                },
            )
            .collect()?;
    }
    polars_ensure!(
        out.height() == height,
        ComputeError: "the parts of an aggregation have other groups"
    );
    Ok(out)
}
