//! Walking a polars query plan: which files it scans, and rewriting it.

use std::sync::Arc;

use polars::prelude::{DslPlan, Expr, GroupbyOptions};

/// The plans directly under `plan`.
pub(crate) fn inputs(plan: &DslPlan) -> Vec<&DslPlan> {
    use DslPlan::*;
    match plan {
        Filter { input, .. }
        | Cache { input, .. }
        | Select { input, .. }
        | GroupBy { input, .. }
        | HStack { input, .. }
        | MatchToSchema { input, .. }
        | Distinct { input, .. }
        | Sort { input, .. }
        | Slice { input, .. }
        | MapFunction { input, .. }
        | Sink { input, .. } => vec![&**input],
        Join {
            input_left,
            input_right,
            ..
        } => vec![&**input_left, &**input_right],
        Gather { input, idxs, .. } => vec![&**input, &**idxs],
        PipeWithSchema { input, .. } => input.iter().collect(),
        Union { inputs, .. } | HConcat { inputs, .. } | SinkMultiple { inputs } => {
            inputs.iter().collect()
        }
        ExtContext { input, contexts } => std::iter::once(&**input).chain(contexts).collect(),
        IR { dsl, .. } => vec![&**dsl],
        Scan { .. } | DataFrameScan { .. } => Vec::new(),
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// The parts of a `group_by` node that only groups: no predicates, no
/// function applied to the groups, no slice, neither rolling nor dynamic.
pub(crate) struct PlainGroupBy<'a> {
    pub(crate) input: &'a Arc<DslPlan>,
    pub(crate) keys: &'a [Expr],
    pub(crate) aggs: &'a [Expr],
    pub(crate) maintain_order: bool,
    pub(crate) options: &'a Arc<GroupbyOptions>,
}

/// `node` as a [`PlainGroupBy`], if it is one.
pub(crate) fn plain_group_by(node: &DslPlan) -> Option<PlainGroupBy<'_>> {
    let DslPlan::GroupBy {
        input,
        keys,
        predicates,
        aggs,
        maintain_order,
        options,
        apply: None,
    } = node
    else {
        return None;
    };
    let plain = predicates.is_empty()
        && options.slice.is_none()
        && !options.is_rolling()
        && !options.is_dynamic();
    plain.then_some(PlainGroupBy {
        input,
        keys,
        aggs,
        maintain_order: *maintain_order,
        options,
    })
}

/// Calls `visit` with every source node of `plan`: each file scan and each
/// frame in memory.
pub(crate) fn for_each_source(plan: &DslPlan, visit: &mut dyn FnMut(&DslPlan)) {
    match plan {
        DslPlan::Scan { .. } | DslPlan::DataFrameScan { .. } => visit(plan),
        _ => inputs(plan)
            .into_iter()
            .for_each(|input| for_each_source(input, visit)),
    }
}

/// A copy of `plan` in which every node for which `replace` returns a plan
/// is that plan (its inputs are not visited); the other nodes keep their
/// operation over rewritten inputs. Cached conversions (`DslPlan::IR`) are
/// dropped for the plan they cache, which polars converts again.
pub(crate) fn map_plan(
    plan: &DslPlan,
    replace: &mut dyn FnMut(&DslPlan) -> Option<DslPlan>,
) -> DslPlan {
    use DslPlan::*;
    use std::sync::Arc;
    if let Some(replaced) = replace(plan) {
        return replaced;
    }
    let mut map = |input: &Arc<DslPlan>| Arc::new(map_plan(input, replace));
    let mut node = plan.clone();
    match &mut node {
        Filter { input, .. }
        | Cache { input, .. }
        | Select { input, .. }
        | GroupBy { input, .. }
        | HStack { input, .. }
        | MatchToSchema { input, .. }
        | Distinct { input, .. }
        | Sort { input, .. }
        | Slice { input, .. }
        | MapFunction { input, .. }
        | Sink { input, .. } => *input = map(input),
        Join {
            input_left,
            input_right,
            ..
        } => {
            *input_left = map(input_left);
            *input_right = map(input_right);
        }
        Gather { input, idxs, .. } => {
            *input = map(input);
            *idxs = map(idxs);
        }
        PipeWithSchema { input, .. } => {
            *input = input.iter().map(|i| map_plan(i, replace)).collect();
        }
        Union { inputs, .. } | HConcat { inputs, .. } | SinkMultiple { inputs } => {
            for input in inputs.iter_mut() {
                *input = map_plan(input, replace);
            }
        }
        ExtContext { input, contexts } => {
            *input = map(input);
            for context in contexts.iter_mut() {
                *context = map_plan(context, replace);
            }
        }
        IR { dsl, .. } => return map_plan(dsl, replace),
        _ => {}
    }
    node
}

/// [`redefine`]'s `rewrite`: given a `with_columns`' input and
/// expressions, the index of the expression to replace, its replacement,
/// and what it found.
pub(crate) type Rewrite<'a, T> = dyn Fn(&DslPlan, &[Expr]) -> Option<(usize, Expr, T)> + 'a;

/// `plan` with one expression of its top `with_columns` (or one under
/// `select`s of plain columns) replaced: `rewrite` is given that
/// `with_columns`' input and expressions and returns the index of the one to
/// replace, its replacement and what it found; `None` if it declines or the
/// plan has no such `with_columns`.
pub(crate) fn redefine<T>(plan: &DslPlan, rewrite: &Rewrite<'_, T>) -> Option<(DslPlan, T)> {
    use std::sync::Arc;
    match plan {
        DslPlan::Select {
            expr,
            input,
            options,
        } if expr.iter().all(|e| matches!(e, Expr::Column(_))) => {
            let (input, found) = redefine(input, rewrite)?;
            let plan = DslPlan::Select {
                expr: expr.clone(),
                input: Arc::new(input),
                options: *options,
            };
            Some((plan, found))
        }
        DslPlan::HStack {
            input,
            exprs,
            options,
        } => {
            let (at, replacement, found) = rewrite(input, exprs)?;
            let mut exprs = exprs.clone();
            exprs[at] = replacement;
            let plan = DslPlan::HStack {
                input: input.clone(),
                exprs,
                options: *options,
            };
            Some((plan, found))
        }
        _ => None,
    }
}
