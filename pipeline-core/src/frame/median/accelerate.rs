//! The executor's use of [`grouped_medians`]: median aggregations in a
//! query plan computed before polars runs the rest, reductions grouped by a
//! key of two labels with them (`reduce`), and reductions of all rows of a
//! stored frame read in mapped steps.

use std::sync::Arc;

use polars::prelude::*;
use polars_plan::utils::expr_to_leaf_column_names;

use super::groups::TOO_MANY_GROUPS;
use super::label_key::LabelKey;
use super::reduce::{Reduction, peel};
use super::{Medians, Schemas, grouped_medians, in_memory, streaming};

/// `plan` with each median aggregation computed now by [`grouped_medians`]:
/// a `group_by(..).agg(..)` or a `select` of aggregations and literals
/// holding a `median` of a numeric column becomes a frame in memory with the
/// same rows (the other aggregations computed with it, by `reduce` or
/// polars). So does a `group_by` by a key of two labels whose aggregations
/// are all sums, means, minima, maxima or counts (`reduce`), and a `select`
/// of such reductions (and literals) over one stored frame too large for
/// memory, read in mapped steps (`mapped_scan`). Other nodes
/// are left to polars, as are aggregations with more groups than
/// [`grouped_medians`] takes.
pub(in crate::frame) fn accelerate(plan: &DslPlan) -> PolarsResult<DslPlan> {
    let mut failed = None;
    let rewritten = super::super::plan::map_plan(plan, &mut |node| {
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

/// Whether some aggregation of `plan` is a median, which [`accelerate`]
/// computes (over frames in memory in one evaluation, else in passes over
/// the input).
pub(in crate::frame) fn holds_median(plan: &DslPlan) -> bool {
    let exprs: &[Expr] = match plan {
        DslPlan::GroupBy { aggs, .. } => aggs,
        DslPlan::Select { expr, .. } => expr,
        _ => &[],
    };
    exprs.iter().any(|e| {
        e.into_iter()
            .any(|e| matches!(e, Expr::Agg(AggExpr::Median(_))))
    }) || super::super::plan::inputs(plan)
        .into_iter()
        .any(holds_median)
}

/// The result of an aggregation node holding medians over a scan, if it is one.
fn aggregate(node: &DslPlan) -> PolarsResult<Option<DataFrame>> {
    let group_by = super::super::plan::plain_group_by(node);
    let (input, keys, aggs) = match (group_by, node) {
        (Some(group_by), _) => (group_by.input, group_by.keys.to_vec(), group_by.aggs),
        (None, DslPlan::Select { expr, input, .. })
            if expr.iter().all(|e| match peel(e) {
                Expr::Agg(_) | Expr::Len => true,
                Expr::Literal(literal) => literal.is_scalar(),
                _ => false,
            }) =>
        {
            (input, Vec::new(), &expr[..])
        }
        _ => return Ok(None),
    };
    let medians: Vec<Option<Expr>> = aggs.iter().map(median_input).collect();
    let input = LazyFrame::from((**input).clone());
    if medians.iter().all(Option::is_none) {
        if keys.is_empty() && stepped_reductions(&input, aggs) {
            return ungrouped_reductions(input, aggs, &LazyFrame::from(node.clone()));
        }
        if !label_reductions(&input, &keys, aggs) {
            return Ok(None);
        }
    }
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
    let others: Vec<Expr> = aggs
        .iter()
        .zip(&medians)
        .filter(|(_, m)| m.is_none())
        .map(|(e, _)| e.clone())
        .collect();
    let key_names: Vec<PlSmallStr> = schema.iter_names().take(keys.len()).cloned().collect();
    let computed = match in_memory_inputs(&input, &others)? {
        // Reductions by a key of two labels, not in memory: one streaming pass.
        None if inner.is_empty() => {
            let reductions: Vec<Reduction> = others.iter().filter_map(Reduction::of).collect();
            match streaming::label_reductions(input.clone(), &keys, &reductions, &others)? {
                Some((index, rest)) => Schemas::of(&input, &keys, &inner).and_then(|schemas| {
                    let medians = Medians {
                        index,
                        medians: Vec::new(),
                    };
                    Ok((medians.into_frame(&schemas, false)?, Some(rest)))
                }),
                None => return Ok(None),
            }
        }
        // In memory: medians and the other aggregations over one evaluation.
        Some(leaves) => {
            let others = (!others.is_empty()).then_some((&others[..], &leaves[..]));
            in_memory::medians(input.clone(), &keys, &inner, others)
        }
        .and_then(|(medians, rest)| {
            let schemas = Schemas::of(&input, &keys, &inner)?;
            Ok((medians.into_frame(&schemas, keys.is_empty())?, rest))
        }),
        None => grouped_medians(input.clone(), &keys, &inner).and_then(|found| {
            let rest = others_by_polars(&input, &keys, &key_names, &found, others)?;
            Ok((found, rest))
        }),
    };
    let (found, rest) = match computed {
        Ok(computed) => computed,
        // More groups than it takes: polars' own median.
        Err(error) if error.to_string().contains(TOO_MANY_GROUPS) => return Ok(None),
        Err(error) => return Err(error),
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

/// Whether `aggs` per group of `keys` over `input` are all reductions
/// [`reduce`](super::reduce) computes, grouped by a key of two labels
/// ([`LabelKey`]): from the condition's bits and one pass per column (over
/// frames in memory) or one streaming pass (over the rest), where polars
/// would build a string per row and hash it.
fn label_reductions(input: &LazyFrame, keys: &[Expr], aggs: &[Expr]) -> bool {
    !keys.is_empty()
        && aggs.iter().all(|agg| Reduction::of(agg).is_some())
        && LabelKey::of(input, keys, aggs).is_some()
}

/// Whether `aggs` over all of `input` are reductions [`reduce`](super::reduce)
/// computes (and literals, at least one reduction) and `input` is read in
/// mapped steps (one large stored frame, row-wise: `mapped_scan`), where
/// polars would stream it through buffers.
fn stepped_reductions(input: &LazyFrame, aggs: &[Expr]) -> bool {
    aggs.iter().any(|agg| Reduction::of(agg).is_some())
        && aggs
            .iter()
            .all(|agg| Reduction::of(agg).is_some() || scalar_literal(agg))
        && crate::frame::mapped_scan::steppable(input)
}

/// Whether `expr` is a scalar literal (under aliases and casts).
fn scalar_literal(expr: &Expr) -> bool {
    matches!(peel(expr), Expr::Literal(literal) if literal.is_scalar())
}

/// The one row of `node` (a `select` of `aggs`, reductions and literals,
/// over `input`) from one streaming pass of [`streaming::reductions`],
/// typed as polars types it; `None` where that pass does not take the
/// columns.
pub(super) fn ungrouped_reductions(
    input: LazyFrame,
    aggs: &[Expr],
    node: &LazyFrame,
) -> PolarsResult<Option<DataFrame>> {
    let reduced: Vec<Expr> = aggs
        .iter()
        .filter(|agg| Reduction::of(agg).is_some())
        .cloned()
        .collect();
    let reductions: Vec<Reduction> = reduced.iter().filter_map(Reduction::of).collect();
    let Some(row) = streaming::reductions(input, &reductions, &reduced)? else {
        return Ok(None);
    };
    let schema = node.clone().collect_schema()?;
    let mut columns = Vec::with_capacity(aggs.len());
    for ((name, dtype), agg) in schema.iter().zip(aggs) {
        let column = match Reduction::of(agg) {
            Some(_) => row.column(name)?.clone(),
            // A literal: polars' own value of it.
            None => DataFrame::empty()
                .lazy()
                .select([agg.clone()])
                .collect()?
                .column(name)?
                .clone(),
        };
        columns.push(column.cast(dtype)?.with_name(name.clone()));
    }
    DataFrame::new(1, columns).map(Some)
}

/// The input columns `others` read, if `input`'s sources are all in memory
/// and `others` name each column they read (no selectors); `None` sends the
/// aggregation to the streaming passes.
fn in_memory_inputs(input: &LazyFrame, others: &[Expr]) -> PolarsResult<Option<Vec<PlSmallStr>>> {
    if !in_memory::is_in_memory(&input.logical_plan) {
        return Ok(None);
    }
    let named = others
        .iter()
        .all(|other| other.into_iter().all(|e| !matches!(e, Expr::Selector(_))));
    if !named {
        return Ok(None);
    }
    let schema = input.clone().collect_schema()?;
    let mut leaves: Vec<PlSmallStr> = Vec::new();
    for name in others.iter().flat_map(expr_to_leaf_column_names) {
        // A name the input lacks: polars' own error, from the other path.
        if !schema.contains(&name) || name.starts_with("__median_") {
            return Ok(None);
        }
        if !leaves.contains(&name) {
            leaves.push(name);
        }
    }
    Ok(Some(leaves))
}

/// `others` per group of `keys` over `input` by polars, in the order of the
/// groups of `found` (keys named `key_names`), on the streaming engine (over
/// a CSV file, sums, means, extremes and counts from the reader's blocks).
fn others_by_polars(
    input: &LazyFrame,
    keys: &[Expr],
    key_names: &[PlSmallStr],
    found: &DataFrame,
    others: Vec<Expr>,
) -> PolarsResult<Option<DataFrame>> {
    if others.is_empty() {
        return Ok(None);
    }
    if keys.is_empty() {
        if let Some(all_rows) = of_all_rows_from_blocks(input, &others)? {
            return Ok(Some(all_rows));
        }
        return super::super::collect_streaming(input.clone().select(others)).map(Some);
    }
    let rest = input.clone().group_by(keys).agg(others);
    // Over one CSV file, from the reader's blocks where the others add up
    // from partial results (no more groups than the medians took).
    let rest = crate::frame::csv::aggregate_grouped(&rest, usize::MAX)
        .map_err(crate::frame::csv::carry)?
        .unwrap_or(rest);
    let by = || key_names.iter().map(|k| col(k.clone())).collect::<Vec<_>>();
    let joined = found.select(key_names.to_vec())?.lazy().join(
        rest,
        by(),
        by(),
        JoinArgs {
            nulls_equal: true,
            maintain_order: MaintainOrderJoin::Left,
            ..JoinArgs::new(JoinType::Left)
        },
    );
    super::super::collect_streaming(joined).map(Some)
}

/// The name of the one group [`of_all_rows_from_blocks`] forms.
const ALL_ROWS: &str = "__all_rows";

/// `others` over all rows of `input`, if `input` reads one CSV file and
/// they add up from the reader's blocks: grouped by one constant key, as
/// [`others_by_polars`] groups by keys, the key then dropped. `None`
/// otherwise, and for a file of no records (a `select` of no rows still
/// gives one row, a `group_by` none).
fn of_all_rows_from_blocks(input: &LazyFrame, others: &[Expr]) -> PolarsResult<Option<DataFrame>> {
    let grouped = input
        .clone()
        .group_by([lit(true).alias(ALL_ROWS)])
        .agg(others);
    let Some(from_blocks) = crate::frame::csv::aggregate_grouped(&grouped, usize::MAX)
        .map_err(crate::frame::csv::carry)?
    else {
        return Ok(None);
    };
    let mut all_rows = from_blocks.collect()?;
    if all_rows.height() != 1 {
        return Ok(None);
    }
    all_rows.drop_in_place(ALL_ROWS)?;
    Ok(Some(all_rows))
}

/// The input of a median aggregation (under aliases and casts), if it is one.
fn median_input(expr: &Expr) -> Option<Expr> {
    match peel(expr) {
        Expr::Agg(AggExpr::Median(input)) => Some((**input).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::csv::{carried, scan_csv};
    use crate::frame::test_frames::notes_csv;

    fn others() -> Vec<Expr> {
        vec![
            col("amount").sum().alias("total"),
            col("count").mean().alias("mean_count"),
            col("amount").max().alias("most"),
            len().alias("rows"),
        ]
    }

    #[test]
    fn others_of_all_rows_over_a_csv_add_up_from_the_readers_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = notes_csv(dir.path(), 5000, 7);
        let text = std::fs::read_to_string(&path).unwrap();
        let typed = [("amount", DataType::Float64), ("count", DataType::Int64)];
        let input = scan_csv(&path, &typed)
            .unwrap()
            .filter(col("note").neq(lit("n, 3")));
        let ours = of_all_rows_from_blocks(&input, &others())
            .unwrap()
            .expect("sums, means, extremes and counts over one CSV file");
        let theirs = input.clone().select(others()).collect().unwrap();
        assert!(ours.equals_missing(&theirs), "{ours}\npolars:\n{theirs}");

        // Only the reader refuses a badly quoted text cell so.
        std::fs::write(&path, format!("{text}\"late\"x,1,1\n")).unwrap();
        let error = of_all_rows_from_blocks(&input, &others()).unwrap_err();
        assert!(
            carried(&error).is_some_and(|e| e.to_string().contains("not properly quoted")),
            "{error}"
        );

        // No records: polars gives the one row of a select over none.
        std::fs::write(&path, "note,amount,count\n").unwrap();
        assert!(
            of_all_rows_from_blocks(&input, &others())
                .unwrap()
                .is_none()
        );
    }
}
