//! Small results of parts of queries, kept across runs and processes.
//!
//! When a task's query aggregates stored frames (a `group_by(..).agg(..)`,
//! or a `select` of aggregations), the executor computes each aggregation
//! separately keyed by exactly what it computes: the aggregation, the
//! grouping keys, and the part of the input they read, with every stored
//! frame named by its fingerprint (see the `frame` module, feature
//! `polars`). A later query that holds an equal aggregation, in this process
//! or another, takes its result from here instead of reading the rows
//! again. Changing one parameter then costs only the aggregations that
//! depend on it.
//!
//! A store offers this through [`Store::partial_results`](crate::store::Store::partial_results);
//! a store that offers none makes every aggregation run.

use crate::fingerprint::Fingerprint;

/// A cache of partial results: bytes under a key that names what computed
/// them (see the [module docs](self)).
///
/// Both methods are best effort: a cache that cannot read a result answers
/// `None` (the aggregation then runs), and one that cannot record it drops
/// it.
pub trait PartialResults: Send + Sync {
    /// The result recorded under `key`, if any and intact.
    fn partial_result(&self, key: &Fingerprint) -> Option<Vec<u8>>;

    /// Records `result` under `key`. `references` are the stored values it
    /// was computed from: it is dropped when they are collected.
    fn record_partial_result(&self, key: &Fingerprint, references: &[Fingerprint], result: &[u8]);
}
