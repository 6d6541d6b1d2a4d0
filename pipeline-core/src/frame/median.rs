//! Exact medians per group in bounded memory.
//!
//! polars computes a median by holding every value of a group and selecting
//! the middle one, so a median over a frame larger than memory (a group_by
//! `median` over 100M rows, say) holds the frame. [`grouped_medians`] reads
//! the frame in batches instead, a few times: the first pass counts each
//! group's values per range of their bits (a histogram over the top 16 bits
//! of an order-preserving integer form of each value), which tells in which
//! range the middle values lie; the next passes narrow that range by 16 more
//! bits, or, once it holds few enough values, keep just those values and
//! select the middle ones. Memory holds a group id per row (2 bytes), the
//! histograms and the values of the final ranges, never the frame.
//!
//! The results are polars' own, to the bit: nulls are skipped, NaN sorts
//! after every number, and the median of an even count is
//! `lower + 0.5 * (upper - lower)` (the same interpolation). The executor
//! uses it for `median` aggregations (in
//! `group_by(..).agg(..)` or a
//! `select` of aggregations) over data that is not in memory; a task body
//! may call it directly.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use parking_lot::Mutex;
use polars::prelude::*;

use super::format::FRAME_BATCH_ROWS;

/// Values of one range kept in memory at most, per middle value sought;
/// more, and the range is narrowed by another pass first.
const COLLECT_LIMIT: u64 = 4 << 20;
/// Group × column pairs at most (each holds a 256 KiB histogram in the first pass).
const MAX_PAIRS: usize = 1024;
/// Bits per pass.
const BITS: u32 = 16;
/// The start of the error for too many groups.
const TOO_MANY_GROUPS: &str = "bounded-memory medians take at most so many group x column pairs";

/// The exact median of each of `columns` (numeric expressions) per group of
/// `by` (no keys: one group of all rows), reading `frame` in batches (see the
/// module docs).
///
/// The result has one row per group, in the order of first appearance: the
/// key columns, then one column per median, named and typed as polars names
/// and types `expr.median()` (`Float64` for integers). A group whose values
/// are all null has a null median.
///
/// ```
/// use pipeline_core::frame::grouped_medians;
/// use polars::prelude::*;
///
/// let frame = df!("g" => ["a", "b", "a", "a"], "x" => [1.0, 10.0, 3.0, 2.0])?.lazy();
/// let medians = grouped_medians(frame, &[col("g")], &[col("x")])?;
/// assert_eq!(medians, df!("g" => ["a", "b"], "x" => [2.0, 10.0])?);
/// # Ok::<(), PolarsError>(())
/// ```
///
/// # Errors
/// A polars error of the frame's query; or, with more than 1,024 group ×
/// column pairs, an error saying so (polars' own median holds them better).
pub fn grouped_medians(frame: LazyFrame, by: &[Expr], columns: &[Expr]) -> PolarsResult<DataFrame> {
    let key_names: Vec<PlSmallStr> = (0..by.len())
        .map(|i| format!("__median_key{i}").into())
        .collect();
    let value_names: Vec<PlSmallStr> = (0..columns.len())
        .map(|j| format!("__median_value{j}").into())
        .collect();
    let keyed = || {
        by.iter()
            .zip(&key_names)
            .map(|(e, n)| e.clone().alias(n.clone()))
    };
    let valued = || {
        columns
            .iter()
            .zip(&value_names)
            .map(|(e, n)| e.clone().cast(DataType::Float64).alias(n.clone()))
    };
    // Names and types of the result, as polars would give them.
    let key_schema = frame.clone().select(by).collect_schema()?;
    let median_schema = frame
        .clone()
        .select(
            columns
                .iter()
                .map(|c| c.clone().median())
                .collect::<Vec<_>>(),
        )
        .collect_schema()?;

    // Pass 1: group ids, counts, histograms of the top bits.
    let first = Arc::new(Mutex::new(FirstPass::new(columns.len())));
    {
        let first = first.clone();
        let key_names = key_names.clone();
        let value_names = value_names.clone();
        for_each_batch(
            frame
                .clone()
                .select(keyed().chain(valued()).collect::<Vec<_>>()),
            move |batch| first.lock().add(&batch, &key_names, &value_names),
        )?;
    }
    let first = Arc::try_unwrap(first)
        .map_err(|_| polars_err!(ComputeError: "polars kept a median pass"))?
        .into_inner();
    let ids = Arc::new(first.ids);
    let mut targets: Vec<Target> = Vec::new();
    for (g, pairs) in first.pairs.iter().enumerate() {
        for (j, pair) in pairs.iter().enumerate() {
            let ranks = middle_ranks(pair.count);
            targets.extend(Target::narrowed(g, j, 0, 64 - BITS, 0, &ranks, &pair.bins));
        }
    }

    // Later passes: narrow or collect, until every middle value is known.
    while targets.iter().any(|t| !t.is_known()) {
        let pass = Arc::new(Mutex::new(targets));
        let offset = Arc::new(Mutex::new(0usize));
        {
            let (pass, offset, ids) = (pass.clone(), offset.clone(), ids.clone());
            let value_names = value_names.clone();
            for_each_batch(
                frame.clone().select(valued().collect::<Vec<_>>()),
                move |batch| {
                    let mut at = offset.lock();
                    let rows = &ids[*at..*at + batch.height()];
                    *at += batch.height();
                    let mut targets = pass.lock();
                    for (j, name) in value_names.iter().enumerate() {
                        let values = batch.column(name)?.f64()?;
                        for target in targets
                            .iter_mut()
                            .filter(|t| t.column == j && !t.is_known())
                        {
                            target.add(values, rows);
                        }
                    }
                    Ok(())
                },
            )?;
        }
        targets = Arc::try_unwrap(pass)
            .map_err(|_| polars_err!(ComputeError: "polars kept a median pass"))?
            .into_inner()
            .into_iter()
            .flat_map(Target::resolve)
            .collect();
    }

    // The result: keys, then each column's median.
    let groups = first.keys.len();
    let mut columns_out: Vec<Column> = Vec::with_capacity(by.len() + columns.len());
    for (k, (name, dtype)) in key_schema.iter().enumerate() {
        let values: Vec<AnyValue> = first.keys.iter().map(|row| row[k].clone()).collect();
        columns_out.push(
            Series::from_any_values_and_dtype(name.clone(), &values, dtype, true)?.into_column(),
        );
    }
    for (j, (name, dtype)) in median_schema.iter().enumerate() {
        let medians: Vec<Option<f64>> = (0..groups)
            .map(|g| {
                let known: Vec<u64> = targets
                    .iter()
                    .filter(|t| t.group == g && t.column == j)
                    .flat_map(|t| t.known_keys())
                    .collect();
                median_of(&known)
            })
            .collect();
        let column = Series::new(name.clone(), medians).cast(dtype)?;
        columns_out.push(column.into_column());
    }
    if by.is_empty() && groups == 0 {
        // No rows: one row of nulls, as polars gives.
        return DataFrame::new_infer_height(
            median_schema
                .iter()
                .map(|(name, dtype)| Column::full_null(name.clone(), 1, dtype))
                .collect(),
        );
    }
    DataFrame::new_infer_height(columns_out)
}

/// Runs `frame` on the streaming engine, handing its batches to `consume` in order.
fn for_each_batch(
    frame: LazyFrame,
    consume: impl Fn(DataFrame) -> PolarsResult<()> + Send + Sync + 'static,
) -> PolarsResult<()> {
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

/// The ranks (0-based, in ascending order) of the middle values of `count` values.
fn middle_ranks(count: u64) -> Vec<u64> {
    match count {
        0 => Vec::new(),
        n if n % 2 == 1 => vec![n / 2],
        n => vec![n / 2 - 1, n / 2],
    }
}

/// The median from the keys of the middle values (one or two), as polars
/// interpolates it.
fn median_of(keys: &[u64]) -> Option<f64> {
    match keys {
        [] => None,
        [one] => Some(value(*one)),
        [lower, upper, ..] => {
            let (lower, upper) = (value(*lower), value(*upper));
            Some(if lower == upper {
                lower
            } else {
                0.5 * (upper - lower) + lower
            })
        }
    }
}

/// An integer whose order is polars' order of floats: negative below
/// positive, `-0.0` as `0.0`, every NaN above everything.
fn key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The float of a [`key`] (a NaN for the NaN key).
fn value(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// One group and column in the first pass: its count and histogram.
struct Pair {
    count: u64,
    bins: Vec<u64>,
}

/// The first pass: keys of the groups seen, each row's group, each pair's
/// count and histogram.
struct FirstPass {
    columns: usize,
    index: HashMap<Vec<AnyValue<'static>>, u16>,
    keys: Vec<Vec<AnyValue<'static>>>,
    ids: Vec<u16>,
    /// `pairs[group][column]`.
    pairs: Vec<Vec<Pair>>,
}

impl FirstPass {
    fn new(columns: usize) -> Self {
        Self {
            columns,
            index: HashMap::new(),
            keys: Vec::new(),
            ids: Vec::new(),
            pairs: Vec::new(),
        }
    }

    fn add(
        &mut self,
        batch: &DataFrame,
        keys: &[PlSmallStr],
        values: &[PlSmallStr],
    ) -> PolarsResult<()> {
        let start = self.ids.len();
        self.ids.resize(start + batch.height(), 0);
        if keys.is_empty() {
            if batch.height() > 0 {
                self.group(Vec::new())?;
            }
        } else {
            let key_frame = batch.select(keys.iter().cloned())?;
            let grouped = key_frame.group_by_stable(keys.iter().cloned())?;
            for indicator in grouped.get_groups().iter() {
                let (first, rows): (usize, Vec<usize>) = match indicator {
                    GroupsIndicator::Idx((first, all)) => {
                        (first as usize, all.iter().map(|&i| i as usize).collect())
                    }
                    GroupsIndicator::Slice([first, len]) => (
                        first as usize,
                        (first..first + len).map(|i| i as usize).collect(),
                    ),
                };
                let row = key_frame.get_row(first)?.0;
                let id = self.group(row.into_iter().map(AnyValue::into_static).collect())?;
                for i in rows {
                    self.ids[start + i] = id;
                }
            }
        }
        let ids = &self.ids[start..];
        for (j, name) in values.iter().enumerate() {
            let column = batch.column(name)?.f64()?;
            for (x, &g) in column.iter().zip(ids) {
                if let Some(x) = x {
                    let pair = &mut self.pairs[g as usize][j];
                    pair.count += 1;
                    pair.bins[(key(x) >> (64 - BITS)) as usize] += 1;
                }
            }
        }
        Ok(())
    }

    /// The id of the group with these keys, new if first seen.
    fn group(&mut self, keys: Vec<AnyValue<'static>>) -> PolarsResult<u16> {
        if let Some(&id) = self.index.get(&keys) {
            return Ok(id);
        }
        let id = self.keys.len();
        polars_ensure!(
            id < u16::MAX as usize && (id + 1) * self.columns <= MAX_PAIRS,
            ComputeError: "{TOO_MANY_GROUPS} ({MAX_PAIRS}); this query has more"
        );
        self.index.insert(keys.clone(), id as u16);
        self.keys.push(keys);
        self.pairs.push(
            (0..self.columns)
                .map(|_| Pair {
                    count: 0,
                    bins: vec![0; 1 << BITS],
                })
                .collect(),
        );
        Ok(id as u16)
    }
}

/// A range of keys of one group and column that holds one or two middle
/// values, and what the current pass does with it.
struct Target {
    group: usize,
    column: usize,
    /// The range's lowest key; it spans `1 << (shift + BITS)` keys (for a
    /// histogram) or `1 << shift` (for a collection).
    low: u64,
    shift: u32,
    /// Values of the pair below `low`.
    below: u64,
    /// Ranks of the middle values in the range, ascending.
    ranks: Vec<u64>,
    state: State,
}

enum State {
    /// Counting the range's values per `1 << shift` keys.
    Histogram(Vec<u64>),
    /// Keeping the range's keys (few enough).
    Collect(Vec<u64>),
    /// The middle values' keys, one per rank.
    Known(Vec<u64>),
}

impl Target {
    /// The targets for the bins of `bins` (a histogram over `[low, ...)` of
    /// bins `1 << shift` keys wide) holding `ranks`: each known, or to be
    /// collected or narrowed by the next pass.
    fn narrowed(
        group: usize,
        column: usize,
        low: u64,
        shift: u32,
        below: u64,
        ranks: &[u64],
        bins: &[u64],
    ) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        let mut before = below;
        let mut ranks = ranks.iter().copied().peekable();
        for (bin, &count) in bins.iter().enumerate() {
            let mut inside = Vec::new();
            while let Some(&rank) = ranks.peek()
                && rank < before + count
            {
                inside.push(rank);
                ranks.next();
            }
            if !inside.is_empty() {
                let bin_low = low + ((bin as u64) << shift);
                let state = if shift == 0 {
                    State::Known(vec![bin_low; inside.len()])
                } else if count <= COLLECT_LIMIT {
                    State::Collect(Vec::new())
                } else {
                    State::Histogram(vec![0; 1 << BITS])
                };
                let shift = match state {
                    State::Histogram(_) => shift - BITS,
                    _ => shift,
                };
                targets.push(Target {
                    group,
                    column,
                    low: bin_low,
                    shift,
                    below: before,
                    ranks: inside,
                    state,
                });
            }
            before += count;
        }
        targets
    }

    fn is_known(&self) -> bool {
        matches!(self.state, State::Known(_))
    }

    /// The middle values' keys, once known.
    fn known_keys(&self) -> Vec<u64> {
        match &self.state {
            State::Known(keys) => keys.clone(),
            _ => Vec::new(),
        }
    }

    /// Counts or keeps the values of a batch that fall in the range.
    fn add(&mut self, values: &Float64Chunked, groups: &[u16]) {
        let group = self.group as u16;
        let (low, shift) = (self.low, self.shift);
        match &mut self.state {
            State::Histogram(bins) => {
                let span = shift + BITS;
                for (x, &g) in values.iter().zip(groups) {
                    if let Some(x) = x
                        && g == group
                    {
                        let offset = key(x).wrapping_sub(low);
                        if span >= 64 || offset >> span == 0 {
                            bins[(offset >> shift) as usize] += 1;
                        }
                    }
                }
            }
            State::Collect(kept) => {
                for (x, &g) in values.iter().zip(groups) {
                    if let Some(x) = x
                        && g == group
                    {
                        let offset = key(x).wrapping_sub(low);
                        if shift >= 64 || offset >> shift == 0 {
                            kept.push(key(x));
                        }
                    }
                }
            }
            State::Known(_) => {}
        }
    }

    /// After a pass: the targets this one becomes.
    fn resolve(self) -> Vec<Target> {
        match self.state {
            State::Known(_) => vec![self],
            State::Collect(mut kept) => {
                kept.sort_unstable();
                let keys = self
                    .ranks
                    .iter()
                    .map(|&rank| kept[(rank - self.below) as usize])
                    .collect();
                vec![Target {
                    state: State::Known(keys),
                    ..self
                }]
            }
            State::Histogram(bins) => Target::narrowed(
                self.group,
                self.column,
                self.low,
                self.shift,
                self.below,
                &self.ranks,
                &bins,
            ),
        }
    }
}

/// `plan` with each median aggregation computed now by [`grouped_medians`]:
/// a `group_by(..).agg(..)` or a `select` of aggregations and literals
/// holding a `median` of a numeric column becomes a frame in memory with the
/// same rows (the other aggregations computed by polars). Other nodes are
/// left to polars, as are aggregations with more groups than
/// [`grouped_medians`] takes.
pub(super) fn accelerate(plan: &DslPlan) -> PolarsResult<DslPlan> {
    let mut failed = None;
    let rewritten = super::plan::map_plan(plan, &mut |node| {
        if failed.is_some() {
            return None;
        }
        match aggregate(node) {
            Ok(Some(frame)) => {
                let schema = frame.schema().clone();
                Some(DslPlan::DataFrameScan {
                    df: Arc::new(frame),
                    schema,
                })
            }
            Ok(None) => None,
            Err(error) => {
                failed = Some(error);
                None
            }
        }
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(rewritten),
    }
}

/// The result of an aggregation node holding medians over a scan, if it is one.
fn aggregate(node: &DslPlan) -> PolarsResult<Option<DataFrame>> {
    let (input, keys, aggs) = match node {
        DslPlan::GroupBy {
            input,
            keys,
            predicates,
            aggs,
            options,
            apply: None,
            ..
        } if predicates.is_empty()
            && options.slice.is_none()
            && !options.is_rolling()
            && !options.is_dynamic() =>
        {
            (input, keys.clone(), aggs)
        }
        DslPlan::Select { expr, input, .. }
            if expr.iter().all(|e| match peel(e).0 {
                Expr::Agg(_) => true,
                Expr::Literal(literal) => literal.is_scalar(),
                _ => false,
            }) =>
        {
            (input, Vec::new(), expr)
        }
        _ => return Ok(None),
    };
    let medians: Vec<Option<Expr>> = aggs.iter().map(median_input).collect();
    if medians.iter().all(Option::is_none) {
        return Ok(None);
    }
    let input = LazyFrame::from((**input).clone());
    let inner: Vec<Expr> = medians.iter().flatten().cloned().collect();
    let numeric = input
        .clone()
        .select(inner.clone())
        .collect_schema()?
        .iter_values()
        .all(DataType::is_primitive_numeric);
    if !numeric {
        return Ok(None);
    }
    let schema = LazyFrame::from(node.clone()).collect_schema()?;
    let found = match grouped_medians(input.clone(), &keys, &inner) {
        Ok(found) => found,
        // More groups than it takes: polars' own median.
        Err(error) if error.to_string().contains(TOO_MANY_GROUPS) => return Ok(None),
        Err(error) => return Err(error),
    };
    let others: Vec<Expr> = aggs
        .iter()
        .zip(&medians)
        .filter(|(_, m)| m.is_none())
        .map(|(e, _)| e.clone())
        .collect();
    let key_names: Vec<PlSmallStr> = schema.iter_names().take(keys.len()).cloned().collect();
    // The other aggregations by polars, in the medians' group order.
    let rest = match (others.is_empty(), keys.is_empty()) {
        (true, _) => None,
        (false, true) => Some(super::collect_streaming(input.select(others))?),
        (false, false) => {
            let rest = input.group_by(keys.clone()).agg(others);
            let by = || key_names.iter().map(|k| col(k.clone())).collect::<Vec<_>>();
            let joined = found.select(key_names.clone())?.lazy().join(
                rest,
                by(),
                by(),
                JoinArgs {
                    nulls_equal: true,
                    maintain_order: MaintainOrderJoin::Left,
                    ..JoinArgs::new(JoinType::Left)
                },
            );
            Some(super::collect_streaming(joined)?)
        }
    };
    let mut out = found.select(key_names)?;
    let mut next_median = keys.len();
    for ((name, dtype), median) in schema.iter().skip(keys.len()).zip(&medians) {
        let column = match median {
            Some(_) => {
                next_median += 1;
                found.columns()[next_median - 1].clone()
            }
            None => rest
                .as_ref()
                .expect("computed when there are other aggregations")
                .column(name)?
                .clone(),
        };
        out.with_column(column.cast(dtype)?.with_name(name.clone()))?;
    }
    Ok(Some(out))
}

/// An expression without the aliases and casts around it.
fn peel(expr: &Expr) -> (&Expr, Vec<&Expr>) {
    let mut wrappers = Vec::new();
    let mut inner = expr;
    loop {
        match inner {
            Expr::Alias(e, _) | Expr::Cast { expr: e, .. } => {
                wrappers.push(inner);
                inner = e;
            }
            _ => return (inner, wrappers),
        }
    }
}

/// The input of a median aggregation (under aliases and casts), if it is one.
fn median_input(expr: &Expr) -> Option<Expr> {
    match peel(expr).0 {
        Expr::Agg(AggExpr::Median(input)) => Some((**input).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_floats_as_polars_does() {
        let ordered = [
            f64::NEG_INFINITY,
            -2.5,
            -1e-300,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in ordered.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        assert_eq!(key(-0.0), key(0.0));
        for x in [-2.5, 0.0, 3.0, f64::INFINITY] {
            assert_eq!(value(key(x)), x);
        }
        assert!(value(key(f64::NAN)).is_nan());
    }
}
