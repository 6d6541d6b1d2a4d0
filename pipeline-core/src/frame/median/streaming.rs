//! Medians of a query that is not all in memory, in bounded memory: each
//! pass runs the query on polars' streaming engine (or, over one CSV file,
//! with the parallel reader; over one large stored frame, in mapped steps)
//! and counts its batches as they come, the columns of a batch on several
//! threads. A key of two labels is grouped by its condition, one bit a row
//! (`label_key`).

use std::num::NonZeroUsize;
use std::sync::Arc;

use parking_lot::Mutex;
use polars::prelude::*;

use super::super::format::FRAME_BATCH_ROWS;
use super::flags;
use super::groups::GroupIndex;
use super::label_key::LabelKey;
use super::reduce::{Reducer, Reduction};
use super::search::{Found, Histograms, Run, Search};
use super::{Medians, Names};
use crate::frame::csv::{CsvError, CsvQuery};
use crate::frame::pool;

/// The first pass's state: groups, each row's group, each column's histograms.
struct FirstPass {
    index: GroupIndex,
    ids: Vec<u16>,
    histograms: Vec<Histograms>,
}

/// The medians of `columns` per group of `by` over `frame`, in passes over
/// its batches (see the module docs).
pub(super) fn medians(frame: LazyFrame, by: &[Expr], columns: &[Expr]) -> PolarsResult<Medians> {
    let names = Arc::new(Names::new(by.len(), columns.len()));
    let ungrouped = by.is_empty();
    // A key of two labels chosen by a condition: the condition instead.
    let (label, frame) = match LabelKey::of(&frame, by, columns) {
        Some((label, frame)) => (Some(label), frame),
        None => (None, frame),
    };
    let first = Arc::new(Mutex::new(FirstPass {
        index: GroupIndex::new(columns.len()),
        ids: Vec::new(),
        histograms: (0..columns.len())
            .map(|_| Histograms::new(usize::from(ungrouped)))
            .collect(),
    }));
    {
        let (first, names) = (first.clone(), names.clone());
        let query = frame.clone().select(
            names
                .keyed(by)
                .chain(names.valued(columns))
                .collect::<Vec<_>>(),
        );
        for_each_batch(query, move |batch| {
            let mut first = first.lock();
            let first = &mut *first;
            let ids = match (&label, ungrouped) {
                (_, true) => None,
                (Some(label), false) => {
                    Some(label.assign(&mut first.index, batch.column(&names.keys[0])?)?)
                }
                (None, false) => Some(
                    first
                        .index
                        .assign(&batch.select(names.keys.iter().cloned())?)?,
                ),
            };
            let groups = if ungrouped { 1 } else { first.index.len() };
            let values = value_columns(&batch, &names)?;
            pool::for_each_mut(&mut first.histograms, |j, histograms| {
                histograms.grow(groups);
                for_each_run(values[j], ids.as_deref(), |run| histograms.add(run));
            });
            first.ids.extend(ids.unwrap_or_default());
            Ok(())
        })?;
    }
    let FirstPass {
        index,
        ids,
        histograms,
    } = Arc::try_unwrap(first)
        .map_err(|_| polars_err!(ComputeError: "polars kept a median pass"))?
        .into_inner();
    let groups = if ungrouped { 1 } else { index.len() };
    let searches: Vec<Search> = histograms.into_iter().map(|h| h.search(groups)).collect();
    let ids = Arc::new(ids);

    // Later passes: narrow or keep, until every middle value is known.
    let state = Arc::new(Mutex::new(searches));
    while state.lock().iter().any(|s| !s.is_done()) {
        let found: Vec<Found> = state.lock().iter().map(|s| s.pass().found()).collect();
        let found = Arc::new(Mutex::new(found));
        let offset = Arc::new(Mutex::new(0usize));
        {
            let (state, found, offset, ids) =
                (state.clone(), found.clone(), offset.clone(), ids.clone());
            let names = names.clone();
            let query = frame
                .clone()
                .select(names.valued(columns).collect::<Vec<_>>());
            for_each_batch(query, move |batch| {
                let mut at = offset.lock();
                let rows = (!ungrouped).then(|| &ids[*at..*at + batch.height()]);
                *at += batch.height();
                let searches = state.lock();
                let passes: Vec<_> = searches.iter().map(Search::pass).collect();
                let values = value_columns(&batch, &names)?;
                pool::for_each_mut(&mut found.lock(), |j, found| {
                    if !searches[j].is_done() {
                        for_each_run(values[j], rows, |run| passes[j].add(found, run));
                    }
                });
                Ok(())
            })?;
        }
        let found = Arc::try_unwrap(found)
            .map_err(|_| polars_err!(ComputeError: "polars kept a median pass"))?
            .into_inner();
        let mut searches = state.lock();
        let mut resolving: Vec<_> = searches.iter_mut().zip(found).collect();
        pool::for_each_mut(&mut resolving, |_, (search, found)| {
            if !search.is_done() {
                search.resolve(std::mem::replace(found, Found::none()));
            }
        });
    }
    let searches = state.lock();
    Ok(Medians {
        index,
        medians: searches.iter().map(Search::medians).collect(),
    })
}

/// `reductions` (the aggregations `aggs`) per group of `by`, a key of two
/// labels ([`LabelKey`]), over `frame` (not in memory): one pass over its
/// batches on the streaming engine, each batch's rows grouped by the
/// condition's bits and added to the [`Reducer`]. The groups found and the
/// result, one row per group; `None` if `by` is not such a key or a column
/// reduced is not `Int64`, `Float64` or a flag (polars then computes them).
/// Flag columns are reduced from their conditions' bits (`flags`).
pub(super) fn label_reductions(
    frame: LazyFrame,
    by: &[Expr],
    reductions: &[Reduction],
    aggs: &[Expr],
) -> PolarsResult<Option<(GroupIndex, DataFrame)>> {
    let Some((label, frame)) = LabelKey::of(&frame, by, aggs) else {
        return Ok(None);
    };
    let (frame, flags) = flags::as_conditions(frame, by, aggs);
    let flags: Vec<PlSmallStr> = flags.into_iter().map(|(name, _)| name).collect();
    let reducer = Reducer::new(reductions, &flags);
    let key = Names::new(1, 0).keys.remove(0);
    let query = frame.select(
        std::iter::once(by[0].clone().alias(key.clone()))
            .chain(reducer.columns().map(|name| col(name.clone())))
            .collect::<Vec<_>>(),
    );
    let schema = query.clone().collect_schema()?;
    if !reducible(&reducer, &schema, &flags) {
        return Ok(None);
    }
    let state = Arc::new(Mutex::new((GroupIndex::new(0), reducer)));
    {
        let state = state.clone();
        for_each_batch(query, move |batch| {
            let mut state = state.lock();
            let (index, reducer) = &mut *state;
            let ids = label.assign(index, batch.column(&key)?)?;
            reducer.add(&batch, &ids, index.len()).ok_or_else(
                || polars_err!(ComputeError: "a reduced column is not Int64, Float64 or a flag"),
            )
        })?;
    }
    let (index, reducer) = Arc::try_unwrap(state)
        .map_err(|_| polars_err!(ComputeError: "polars kept a reduction pass"))?
        .into_inner();
    let groups = index.len();
    Ok(Some((index, reducer.finish(groups)?)))
}

/// `aggs` (each a [`Reduction`], `reductions` in order) over all rows of
/// `frame`, in one streaming pass: one row, as polars' `select` of them
/// gives it. `None` if a column reduced is not `Int64`, `Float64` or a
/// flag, or no aggregation reads a column (polars then computes them).
pub(super) fn reductions(
    frame: LazyFrame,
    reductions: &[Reduction],
    aggs: &[Expr],
) -> PolarsResult<Option<DataFrame>> {
    let (frame, flags) = flags::as_conditions(frame, &[], aggs);
    let flags: Vec<PlSmallStr> = flags.into_iter().map(|(name, _)| name).collect();
    let reducer = Reducer::new(reductions, &flags);
    let columns: Vec<Expr> = reducer.columns().map(|name| col(name.clone())).collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let query = frame.select(columns);
    let schema = query.clone().collect_schema()?;
    if !reducible(&reducer, &schema, &flags) {
        return Ok(None);
    }
    // Every row is of the one group: `ids` holds zeros; `batches` counts
    // the batches seen.
    let state = Arc::new(Mutex::new((Vec::<u16>::new(), 0usize, reducer)));
    {
        let state = state.clone();
        for_each_batch(query, move |batch| {
            let mut state = state.lock();
            let (ids, batches, reducer) = &mut *state;
            ids.resize(batch.height(), 0);
            *batches += 1;
            reducer.add(&batch, &ids[..batch.height()], 1).ok_or_else(
                || polars_err!(ComputeError: "a reduced column is not Int64, Float64 or a flag"),
            )
        })?;
    }
    let (_, batches, reducer) = Arc::try_unwrap(state)
        .map_err(|_| polars_err!(ComputeError: "polars kept a reduction pass"))?
        .into_inner();
    // No batch at all: the reducer never saw the columns' types (polars
    // then computes the empty aggregation).
    if batches == 0 {
        return Ok(None);
    }
    reducer.finish(1).map(Some)
}

/// Whether every column `reducer` reads is, in `schema`, one it reduces:
/// `Int64`, `Float64`, or a flag (`Boolean`, one of `flags`).
fn reducible(reducer: &Reducer, schema: &Schema, flags: &[PlSmallStr]) -> bool {
    reducer.columns().all(|name| match schema.get(name) {
        Some(DataType::Int64 | DataType::Float64) => true,
        Some(DataType::Boolean) => flags.contains(name),
        _ => false,
    })
}

/// The value columns of a batch, in order.
fn value_columns<'a>(batch: &'a DataFrame, names: &Names) -> PolarsResult<Vec<&'a Float64Chunked>> {
    names
        .values
        .iter()
        .map(|name| batch.column(name)?.f64())
        .collect()
}

/// Calls `visit` with each chunk of `values` and its rows' groups.
fn for_each_run(values: &Float64Chunked, ids: Option<&[u16]>, mut visit: impl FnMut(&Run<'_>)) {
    let mut row = 0;
    for array in values.downcast_iter() {
        let len = array.len();
        visit(&Run::floats(
            array,
            0,
            len,
            ids.map(|ids| &ids[row..row + len]),
        ));
        row += len;
    }
}

/// Runs `frame` on the streaming engine, handing its batches to `consume` in
/// order; a row-wise query over one large stored frame, a step at a time
/// over the frame's map instead (`mapped_scan`), and one over a CSV file
/// block by block from the parallel reader (`CsvQuery`).
fn for_each_batch(
    frame: LazyFrame,
    consume: impl Fn(DataFrame) -> PolarsResult<()> + Send + Sync + 'static,
) -> PolarsResult<()> {
    if let Some(done) = crate::frame::mapped_scan::for_each_step(&frame, &mut |rows| consume(rows))
    {
        return done;
    }
    if let Some(query) = CsvQuery::of(&frame).filter(CsvQuery::is_row_wise) {
        return query
            .run(&frame, |rows| consume(rows).map_err(BatchError::Polars))
            .map_err(|error| match error {
                BatchError::Polars(error) => error,
                BatchError::Csv(error) => crate::frame::csv::carry(error),
            });
    }
    let failed = Arc::new(Mutex::new(None::<PolarsError>));
    let sink = {
        let failed = failed.clone();
        PlanCallback::new(move |batch: DataFrame| match consume(batch) {
            Ok(()) => Ok(false),
            Err(error) => {
                *failed.lock() = Some(error);
                Ok(true)
            }
        })
    };
    let ran = frame
        .sink_batches(sink, true, NonZeroUsize::new(FRAME_BATCH_ROWS))
        .and_then(|query| query.collect_with_engine(Engine::Streaming));
    if let Some(error) = failed.lock().take() {
        return Err(error);
    }
    ran.map(|_| ())
}

/// Why a pass over a CSV file's blocks stopped.
enum BatchError {
    Csv(CsvError),
    Polars(PolarsError),
}

impl From<CsvError> for BatchError {
    fn from(error: CsvError) -> Self {
        BatchError::Csv(error)
    }
}
