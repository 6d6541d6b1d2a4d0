//! Flag columns: a condition cast to a number, such as
//! `(col("amount") > lit(1000)).cast(DataType::Int64)` in a `with_columns`,
//! whose only readers are sums, means, minima, maxima and counts
//! ([`Reduction`]). polars builds such a column as 8 bytes a row to have
//! them added up; the reductions count the condition's bits instead (one
//! bit a row), each true as 1 and false as 0, which gives the same results
//! (see `statistics`, `Chunks::Flags`).

use polars::prelude::*;
use polars_plan::utils::{expr_output_name, expr_to_leaf_column_names};

use super::reduce::Reduction;

/// A flag column computed as its condition: its name, and the number type
/// it was cast to.
pub(super) type Flag = (PlSmallStr, DataType);

/// `frame` with each flag column that only reductions among `reading`
/// read (not a key of `by` either) computed as its condition (`Boolean`)
/// instead of the number, and those columns (none: `frame` as it is).
pub(super) fn as_conditions(
    frame: LazyFrame,
    by: &[Expr],
    reading: &[Expr],
) -> (LazyFrame, Vec<Flag>) {
    let reductions: Vec<Option<Reduction>> = reading.iter().map(Reduction::of).collect();
    let mut names: Vec<PlSmallStr> = Vec::new();
    for name in reductions.iter().flatten().filter_map(Reduction::column) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let reads = |expr: &Expr, name: &PlSmallStr| expr_to_leaf_column_names(expr).contains(name);
    let mut plan = frame.logical_plan;
    let mut flags = Vec::new();
    for name in names {
        let only_reduced = reading.iter().zip(&reductions).all(|(expr, reduction)| {
            !reads(expr, &name)
                || reduction
                    .as_ref()
                    .is_some_and(|r| r.column() == Some(&name))
        });
        if !only_reduced || by.iter().any(|key| reads(key, &name)) {
            continue;
        }
        if let Some((rewritten, dtype)) = with_condition(&plan, &name) {
            plan = rewritten;
            flags.push((name, dtype));
        }
    }
    (LazyFrame::from(plan), flags)
}

/// `plan` with column `name`, defined by its top `with_columns` (or one
/// under `select`s of plain columns) as a `Boolean` expression cast to
/// `Int64` or `Float64`, defined as that expression instead; and that type.
fn with_condition(plan: &DslPlan, name: &str) -> Option<(DslPlan, DataType)> {
    super::super::plan::redefine(plan, &|input, exprs| {
        let at = exprs
            .iter()
            .position(|e| expr_output_name(e).is_ok_and(|n| n.as_str() == name))?;
        let (condition, dtype) = flag_condition(&exprs[at])?;
        // The condition is evaluated where the cast was, over the same
        // input: only its type needs checking.
        let schema = LazyFrame::from(input.clone())
            .select([condition.clone()])
            .collect_schema()
            .ok()?;
        let boolean = schema.iter_values().next() == Some(&DataType::Boolean);
        boolean.then(|| (at, condition.alias(name), dtype))
    })
}

/// The expression under `expr`'s aliases if it is cast to `Int64` or
/// `Float64` (the types the reductions give results in), and that type.
fn flag_condition(expr: &Expr) -> Option<(Expr, DataType)> {
    let mut inner = expr;
    while let Expr::Alias(e, _) = inner {
        inner = e;
    }
    match inner {
        Expr::Cast {
            expr,
            dtype: DataTypeExpr::Literal(dtype @ (DataType::Int64 | DataType::Float64)),
            ..
        } => Some(((**expr).clone(), dtype.clone())),
        _ => None,
    }
}
