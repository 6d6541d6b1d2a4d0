//! Work of a median pass spread over threads: parts of columns folded into
//! per-thread accumulators, then merged a column per thread. The threads
//! are polars' pool ([`pool`]), which ran the query that evaluated the
//! columns; whole columns one per thread are [`pool::for_each_mut`]'s.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::super::pool;

/// Folds each of `units` into an accumulator of its column (`column_of`),
/// on the pool's threads: each thread keeps one accumulator (made by
/// `new`) per column it meets, and the accumulators of a column are then
/// merged, the columns on all threads. One accumulator per column, `None`
/// for a column no unit has.
pub(super) fn fold_units<U: Sync, A: Send>(
    units: &[U],
    columns: usize,
    column_of: impl Fn(&U) -> usize + Sync,
    new: impl Fn(usize) -> A + Sync,
    add: impl Fn(&mut A, &U) + Sync,
    merge: impl Fn(&mut A, A) + Sync,
) -> Vec<Option<A>> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut accumulators: Vec<Option<A>> = (0..columns).map(|_| None).collect();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = units.get(i) else {
                return accumulators;
            };
            let column = column_of(unit);
            add(
                accumulators[column].get_or_insert_with(|| new(column)),
                unit,
            );
        }
    };
    let per_thread = pool::on_threads(pool::threads().min(units.len()).max(1), work);
    // Each column's accumulators, to merge.
    let mut of_column: Vec<Vec<A>> = (0..columns).map(|_| Vec::new()).collect();
    for accumulators in per_thread {
        for (into, from) in of_column.iter_mut().zip(accumulators) {
            into.extend(from);
        }
    }
    let mut merged: Vec<Option<A>> = (0..columns).map(|_| None).collect();
    let mut merging: Vec<_> = merged.iter_mut().zip(of_column).collect();
    pool::for_each_mut(&mut merging, |_, (into, accumulators)| {
        let mut accumulators = std::mem::take(accumulators).into_iter();
        if let Some(mut first) = accumulators.next() {
            accumulators.for_each(|more| merge(&mut first, more));
            **into = Some(first);
        }
    });
    merged
}
