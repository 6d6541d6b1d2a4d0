//! Work of a median pass spread over threads: parts of columns folded into
//! per-thread accumulators, or whole columns one per thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads a pass uses.
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Folds each of `units` into an accumulator of its column (`column_of`),
/// on [`threads`] threads: each thread keeps one accumulator (made by
/// `new`) per column it meets, and the accumulators of a column are then
/// merged. One accumulator per column, `None` for a column no unit has.
pub(super) fn fold_units<U: Sync, A: Send>(
    units: &[U],
    columns: usize,
    column_of: impl Fn(&U) -> usize + Sync,
    new: impl Fn(usize) -> A + Sync,
    add: impl Fn(&mut A, &U) + Sync,
    merge: impl Fn(&mut A, A),
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
    let helpers = threads().min(units.len()).saturating_sub(1);
    let per_thread: Vec<Vec<Option<A>>> = std::thread::scope(|scope| {
        let spawned: Vec<_> = (0..helpers).map(|_| scope.spawn(work)).collect();
        let mut all = vec![work()];
        all.extend(spawned.into_iter().map(|handle| match handle.join() {
            Ok(accumulators) => accumulators,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        all
    });
    let mut merged: Vec<Option<A>> = (0..columns).map(|_| None).collect();
    for accumulators in per_thread {
        for (into, from) in merged.iter_mut().zip(accumulators) {
            match (into.as_mut(), from) {
                (_, None) => {}
                (None, from) => *into = from,
                (Some(into), Some(from)) => merge(into, from),
            }
        }
    }
    merged
}

/// Calls `work(column, accumulator)` for each of `accumulators`, the
/// columns spread over [`threads`] threads.
pub(super) fn for_each_column<A: Send>(
    accumulators: &mut [A],
    work: impl Fn(usize, &mut A) + Sync,
) {
    let per_thread = accumulators.len().div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let work = &work;
        let mut parts = accumulators.chunks_mut(per_thread).enumerate();
        let first = parts.next();
        for (part, chunk) in parts {
            scope.spawn(move || {
                for (i, accumulator) in chunk.iter_mut().enumerate() {
                    work(part * per_thread + i, accumulator);
                }
            });
        }
        if let Some((_, chunk)) = first {
            for (i, accumulator) in chunk.iter_mut().enumerate() {
                work(i, accumulator);
            }
        }
    });
}
