//! The threads frame work runs on: polars' own pool.
//!
//! Work that follows a polars query (the passes of a median, the blocks of
//! a CSV file) runs on the threads that ran the query, already placed on
//! their cores, rather than on threads spawned for it: a new thread often
//! starts on its parent's core and shares it for milliseconds before the
//! scheduler moves it, which on two cores is half the machine for the
//! length of a pass.

use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

/// Threads of the pool.
pub(crate) fn threads() -> usize {
    THREAD_POOL.current_num_threads()
}

/// Calls `work` `count` times on the pool's threads, as many at once as
/// there are threads free, and returns what each call returned. Meant for
/// `work` that takes its share from a common queue (an atomic counter): a
/// call that starts late finds less left. `work` must not wait for another
/// call of itself, since calls may run one after the other.
pub(crate) fn on_threads<R: Send>(count: usize, work: impl Fn() -> R + Sync) -> Vec<R> {
    THREAD_POOL.install(|| (0..count).into_par_iter().map(|_| work()).collect())
}

/// Calls `work(i, item)` for each of `items`, spread over the pool's threads.
pub(crate) fn for_each_mut<T: Send>(items: &mut [T], work: impl Fn(usize, &mut T) + Sync) {
    THREAD_POOL.install(|| {
        items
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, item)| work(i, item))
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn every_call_runs_and_returns() {
        let calls = AtomicUsize::new(0);
        let results = on_threads(5, || calls.fetch_add(1, Ordering::Relaxed));
        assert_eq!(calls.load(Ordering::Relaxed), 5);
        let mut seen = results;
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn each_item_is_visited_once_with_its_index() {
        let mut items = vec![0usize; 100];
        for_each_mut(&mut items, |i, item| *item += i + 1);
        assert_eq!(items, (1..=100).collect::<Vec<_>>());
    }
}
