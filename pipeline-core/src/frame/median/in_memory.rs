//! Medians of a query whose sources are all frames in memory: its key and
//! value columns are evaluated once by polars' in-memory engine, group ids
//! found once, and each pass runs over the columns' values directly, parts
//! of them on several threads.

use polars::prelude::*;
use polars_arrow::array::PrimitiveArray;

use super::flags::{self, Flag};
use super::groups::GroupIndex;
use super::label_key::LabelKey;
use super::parallel::fold_units;
use super::reduce::{Reduction, reduce};
use super::search::{
    Gathered, Histograms, Run, Search, counted_bytes, gather_below, histogram_bytes,
};
use super::{Found, Medians, Names};
use crate::frame::pool;

/// Rows of one unit of work (a part of a column one thread counts).
const UNIT_ROWS: usize = 1 << 18;
/// Bytes of histograms the threads may hold at once before columns are
/// no longer split among them.
const SPLIT_BYTES: usize = 64 << 20;

/// Whether every source of `plan` is a frame in memory.
pub(super) fn is_in_memory(plan: &DslPlan) -> bool {
    let mut in_memory = true;
    let mut sources = 0;
    super::super::plan::for_each_source(plan, &mut |source| {
        sources += 1;
        in_memory &= matches!(source, DslPlan::DataFrameScan { .. });
    });
    in_memory && sources > 0
}

/// The medians of `columns` per group of `by` over `frame` (whose sources
/// are in memory), and, if `others` is not empty, those aggregations per
/// group too (one row per group in the same order), computed by polars
/// over the same evaluated columns (`leaves`: the input columns they read).
pub(super) fn medians(
    frame: LazyFrame,
    by: &[Expr],
    columns: &[Expr],
    others: Option<(&[Expr], &[PlSmallStr])>,
) -> PolarsResult<(Medians, Option<DataFrame>)> {
    let names = Names::new(by.len(), columns.len());
    let leaves = others.map_or(&[][..], |(_, leaves)| leaves);
    // A key of two labels chosen by a condition: the condition instead.
    let reading: Vec<Expr> = columns
        .iter()
        .cloned()
        .chain(
            others
                .into_iter()
                .flat_map(|(others, _)| others.iter().cloned()),
        )
        .collect();
    let (label, frame) = match LabelKey::of(&frame, by, &reading) {
        Some((label, frame)) => (Some(label), frame),
        None => (None, frame),
    };
    // Flag columns that only reductions read: their conditions' bits.
    let (frame, flags) = match others {
        Some((others, _))
            if !by.is_empty() && others.iter().all(|other| Reduction::of(other).is_some()) =>
        {
            flags::as_conditions(frame, by, &reading)
        }
        _ => (frame, Vec::new()),
    };
    let mut evaluated = frame
        .select(
            names
                .keyed(by)
                .chain(
                    columns
                        .iter()
                        .zip(&names.values)
                        .map(|(e, n)| e.clone().alias(n.clone())),
                )
                .chain(leaves.iter().map(|name| col(name.clone())))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    let mut index = GroupIndex::new(columns.len());
    let ids = match (&label, by.is_empty()) {
        (_, true) => None,
        (Some(label), false) => Some(label.assign(&mut index, evaluated.column(&names.keys[0])?)?),
        (None, false) => Some(index.assign(&evaluated.select(names.keys.iter().cloned())?)?),
    };
    // The keys are the groups' now: their rows need not stay.
    for name in &names.keys {
        evaluated.drop_in_place(name)?;
    }
    let groups = match ids {
        Some(_) => index.len(),
        None => 1,
    };
    // Integers as they are (ordered as floats), any other type as floats.
    let values: Vec<Column> = names
        .values
        .iter()
        .map(|name| {
            let column = evaluated.column(name)?;
            match column.dtype() {
                DataType::Int64 | DataType::Float64 => Ok(column.clone()),
                _ => column.cast(&DataType::Float64),
            }
        })
        .collect::<PolarsResult<_>>()?;
    let chunks: Vec<Chunks> = values
        .iter()
        .map(|column| match column.dtype() {
            DataType::Int64 => column
                .i64()
                .map(|c| Chunks::Integers(c.downcast_iter().collect())),
            _ => column
                .f64()
                .map(|c| Chunks::Floats(c.downcast_iter().collect())),
        })
        .collect::<PolarsResult<_>>()?;
    let rows: usize = chunks
        .first()
        .map_or(0, |column| column.lens().iter().sum());
    let medians = Medians {
        index,
        medians: if rows < gather_below(groups) {
            gathered(&chunks, ids.as_deref(), groups)
        } else {
            let searches = search(&chunks, ids.as_deref(), groups);
            searches.iter().map(Search::medians).collect()
        },
    };
    let rest = match others {
        None => None,
        Some((others, leaves)) => Some(aggregate_others(
            &evaluated,
            ids.as_deref(),
            groups,
            (others, leaves),
            &flags,
        )?),
    };
    Ok((medians, rest))
}

/// `others` per group (`ids`, `groups` of them; all rows one group if
/// `None`) of `evaluated`, in group id order (`leaves`: the columns they
/// read; `flags`: those computed as conditions): by [`reduce`] where it
/// takes them all, else by polars (the flags cast back to their numbers).
fn aggregate_others(
    evaluated: &DataFrame,
    ids: Option<&[u16]>,
    groups: usize,
    (others, leaves): (&[Expr], &[PlSmallStr]),
    flags: &[Flag],
) -> PolarsResult<DataFrame> {
    if let Some(ids) = ids
        && let Some(reductions) = others.iter().map(Reduction::of).collect::<Option<Vec<_>>>()
        && let Some(reduced) = reduce(
            evaluated,
            ids,
            groups,
            &reductions,
            &flags
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>(),
        )
    {
        return reduced;
    }
    let mut inputs: Vec<Column> = leaves
        .iter()
        .map(|name| {
            let column = evaluated.column(name)?;
            match flags.iter().find(|(flag, _)| flag == name) {
                Some((_, dtype)) => column.cast(dtype),
                None => Ok(column.clone()),
            }
        })
        .collect::<PolarsResult<_>>()?;
    match ids {
        None => DataFrame::new(evaluated.height(), inputs)?
            .lazy()
            .select(others)
            .collect(),
        Some(ids) => {
            let group: PlSmallStr = "__median_group".into();
            let ids: Vec<u32> = ids.iter().map(|&id| u32::from(id)).collect();
            inputs.push(Column::new(group.clone(), ids));
            let mut rest = DataFrame::new_infer_height(inputs)?
                .lazy()
                .group_by_stable([col(group.clone())])
                .agg(others)
                .collect()?;
            rest.drop_in_place(&group)?;
            Ok(rest)
        }
    }
}

/// The chunks of one value column.
enum Chunks<'a> {
    Floats(Vec<&'a PrimitiveArray<f64>>),
    Integers(Vec<&'a PrimitiveArray<i64>>),
}

impl Chunks<'_> {
    fn lens(&self) -> Vec<usize> {
        match self {
            Chunks::Floats(arrays) => arrays.iter().map(|a| a.len()).collect(),
            Chunks::Integers(arrays) => arrays.iter().map(|a| a.len()).collect(),
        }
    }
}

/// One unit of a pass: parts of a column's chunks.
struct Unit {
    column: usize,
    /// (chunk, start in the chunk, length, first row in the frame).
    parts: Vec<(usize, usize, usize, usize)>,
}

/// The units of a pass over `values`' columns `wanted`: each column cut
/// into parts of [`UNIT_ROWS`] rows if `split`, else one unit per column.
fn units(values: &[Chunks<'_>], wanted: &[bool], split: bool) -> Vec<Unit> {
    let mut units = Vec::new();
    for (column, chunks) in values.iter().enumerate() {
        if !wanted[column] {
            continue;
        }
        let mut whole = Unit {
            column,
            parts: Vec::new(),
        };
        let mut row = 0;
        for (chunk, len) in chunks.lens().into_iter().enumerate() {
            for start in (0..len).step_by(UNIT_ROWS) {
                let part = (chunk, start, UNIT_ROWS.min(len - start), row + start);
                match split {
                    true => units.push(Unit {
                        column,
                        parts: vec![part],
                    }),
                    false => whole.parts.push(part),
                }
            }
            row += len;
        }
        if !split {
            units.push(whole);
        }
    }
    units
}

/// The values of `part` (chunk, start, length, first row) of column
/// `column` of `arrays`, with their groups.
fn run<'a>(
    arrays: &'a [Chunks<'a>],
    ids: Option<&'a [u16]>,
    &(chunk, start, len, row): &(usize, usize, usize, usize),
    column: usize,
) -> Run<'a> {
    let groups = ids.map(|ids| &ids[row..row + len]);
    match &arrays[column] {
        Chunks::Floats(chunks) => Run::floats(chunks[chunk], start, len, groups),
        Chunks::Integers(chunks) => Run::integers(chunks[chunk], start, len, groups),
    }
}

/// The medians of each column of `arrays` (few values) per group, each
/// group's values gathered ([`Gathered`]), a column per thread.
fn gathered(arrays: &[Chunks<'_>], ids: Option<&[u16]>, groups: usize) -> Vec<Vec<Option<f64>>> {
    let all = vec![true; arrays.len()];
    let mut columns: Vec<(Unit, Vec<Option<f64>>)> = units(arrays, &all, false)
        .into_iter()
        .map(|unit| (unit, Vec::new()))
        .collect();
    pool::for_each_mut(&mut columns, |_, (unit, medians)| {
        let mut gathered = Gathered::new(groups);
        for part in &unit.parts {
            gathered.add(&run(arrays, ids, part, unit.column));
        }
        *medians = gathered.medians();
    });
    columns.into_iter().map(|(_, medians)| medians).collect()
}

/// The searches for the middle values of each column of `values`, every
/// pass on the pool's threads.
fn search(arrays: &[Chunks<'_>], ids: Option<&[u16]>, groups: usize) -> Vec<Search> {
    let run = |part: &(usize, usize, usize, usize), column: usize| run(arrays, ids, part, column);
    let columns = arrays.len();
    let split = |bytes: usize| pool::threads() * columns * bytes <= SPLIT_BYTES;

    let all = vec![true; columns];
    let first = fold_units(
        &units(arrays, &all, split(histogram_bytes(groups))),
        columns,
        |unit| unit.column,
        |_| Histograms::new(groups),
        |histograms, unit| {
            for part in &unit.parts {
                histograms.add(&run(part, unit.column));
            }
        },
        Histograms::merge,
    );
    // Reading each column's histograms, a column per thread.
    let mut reading: Vec<_> = first.into_iter().map(|h| (h, None)).collect();
    pool::for_each_mut(&mut reading, |_, (histograms, search)| {
        let histograms = histograms.take().unwrap_or_else(|| Histograms::new(groups));
        *search = Some(histograms.search(groups));
    });
    let mut searches: Vec<Search> = reading
        .into_iter()
        .map(|(_, search)| search.expect("each column was read"))
        .collect();
    while searches.iter().any(|s| !s.is_done()) {
        // A column with pending ranges has values, so units.
        let wanted: Vec<bool> = searches.iter().map(|s| !s.is_done()).collect();
        let passes: Vec<_> = searches.iter().map(Search::pass).collect();
        let counted = passes.iter().map(|p| p.counted_ranges()).max().unwrap_or(0);
        let found = fold_units(
            &units(arrays, &wanted, split(counted_bytes(counted))),
            columns,
            |unit| unit.column,
            |column| passes[column].found(),
            |found, unit| {
                for part in &unit.parts {
                    passes[unit.column].add(found, &run(part, unit.column));
                }
            },
            Found::merge,
        );
        drop(passes);
        // Selecting the middle of the values kept, a column per thread.
        let mut resolving: Vec<_> = searches.iter_mut().zip(found).collect();
        pool::for_each_mut(&mut resolving, |_, (search, found)| {
            if let Some(found) = found.take() {
                search.resolve(found);
            }
        });
    }
    searches
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A float column of `values` in chunks of `chunk` values.
    fn chunked(values: &[Option<f64>], chunk: usize) -> Float64Chunked {
        let mut parts = values.chunks(chunk.max(1));
        let mut column = Float64Chunked::new("x".into(), parts.next().unwrap_or(&[]));
        for part in parts {
            column
                .append(&Float64Chunked::new("x".into(), part))
                .unwrap();
        }
        column
    }

    /// Values where medians go wrong: NaN, both zeros, infinities, nulls,
    /// repeats and spread-out numbers.
    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(f64::NAN)),
            1 => Just(Some(-0.0)),
            1 => Just(Some(0.0)),
            1 => Just(Some(f64::INFINITY)),
            1 => Just(Some(f64::NEG_INFINITY)),
            2 => (-3i32..3).prop_map(|x| Some(f64::from(x))),
            6 => (-1e6f64..1e6).prop_map(Some),
        ]
    }

    proptest! {
        #[test]
        fn gathered_medians_equal_the_searched_ones(
            rows in prop::collection::vec((value(), value(), 0u16..3), 0..400),
            chunk in 1usize..150,
        ) {
            let (a, rest): (Vec<_>, Vec<_>) = rows.iter().map(|&(a, b, g)| (a, (b, g))).unzip();
            let (b, ids): (Vec<_>, Vec<u16>) = rest.into_iter().unzip();
            let (a, b) = (chunked(&a, chunk), chunked(&b, chunk + 7));
            let arrays = [
                Chunks::Floats(a.downcast_iter().collect()),
                Chunks::Floats(b.downcast_iter().collect()),
            ];
            let groups = 3;
            let searched: Vec<Vec<Option<f64>>> = search(&arrays, Some(&ids), groups)
                .iter()
                .map(Search::medians)
                .collect();
            let gathered = gathered(&arrays, Some(&ids), groups);
            let bits = |m: &Vec<Vec<Option<f64>>>| -> Vec<Vec<Option<u64>>> {
                m.iter().map(|c| c.iter().map(|x| x.map(f64::to_bits)).collect()).collect()
            };
            prop_assert_eq!(bits(&gathered), bits(&searched));
        }
    }
}
