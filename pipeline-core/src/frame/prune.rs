//! Cutting a row-wise query down to the columns one part of a larger query
//! reads, so that the part's plan, and the key of its partial result, does
//! not change when a column it does not read does.
//!
//! Only expressions whose output name and input columns are plain to see are
//! cut (columns by name, literals, arithmetic, comparisons, casts,
//! conditions, functions, aggregations); an operation holding anything else
//! (selectors, regular expressions, anonymous functions, struct fields,
//! sub-plans) is kept whole with everything below it. Keeping more never
//! gives a wrong result, only fewer reuses.

use std::collections::BTreeSet;
use std::sync::Arc;

use polars::prelude::*;
use polars_plan::dsl::FunctionExpr;
use polars_plan::utils::{expr_output_name, expr_to_leaf_column_names};

/// Column names.
pub(super) type Columns = BTreeSet<PlSmallStr>;

/// The columns `expr` reads, if plain to see (see the module docs).
pub(super) fn columns_read(expr: &Expr) -> Option<Columns> {
    let plain = expr.into_iter().all(|node| match node {
        Expr::Column(name) => !(name.starts_with('^') && name.ends_with('$')),
        Expr::Alias(..)
        | Expr::Literal(_)
        | Expr::BinaryExpr { .. }
        | Expr::Cast { .. }
        | Expr::Ternary { .. }
        | Expr::Agg(_)
        | Expr::Filter { .. }
        | Expr::Len
        | Expr::Sort { .. }
        | Expr::SortBy { .. }
        | Expr::Slice { .. } => true,
        // Struct functions may make several columns or name them by field.
        Expr::Function { function, .. } => !matches!(function, FunctionExpr::StructExpr(_)),
        _ => false,
    });
    plain.then(|| expr_to_leaf_column_names(expr).into_iter().collect())
}

/// The columns all of `exprs` read, if plain to see.
pub(super) fn columns_read_all(exprs: &[Expr]) -> Option<Columns> {
    let mut all = Columns::new();
    for expr in exprs {
        all.extend(columns_read(expr)?);
    }
    Some(all)
}

/// The name of the column `expr` makes, if plain to see.
fn output_name(expr: &Expr) -> Option<PlSmallStr> {
    columns_read(expr)?;
    expr_output_name(expr).ok()
}

/// The expressions of a `select` or `with_columns` that make a needed column.
struct Kept {
    /// The output names of all the expressions.
    names: Vec<PlSmallStr>,
    /// The expressions whose output is needed.
    kept: Vec<Expr>,
    /// The columns those read.
    read: Columns,
}

/// Which of `exprs` make a column of `needed`; `None` if an output name or
/// the columns read are not plain to see.
fn kept(exprs: &[Expr], needed: &Columns) -> Option<Kept> {
    let names = exprs.iter().map(output_name).collect::<Option<Vec<_>>>()?;
    let kept: Vec<Expr> = exprs
        .iter()
        .zip(&names)
        .filter(|(_, name)| needed.contains(*name))
        .map(|(expr, _)| expr.clone())
        .collect();
    let read = columns_read_all(&kept)?;
    Some(Kept { names, kept, read })
}

/// `plan`, a row-wise query (scans, `select`, `with_columns`, `filter`),
/// without the computed columns that `needed` does not hold and that
/// nothing kept reads. The rows and the `needed` columns are those of
/// `plan`; other columns may be missing or extra.
pub(super) fn prune(plan: &DslPlan, needed: &Columns) -> DslPlan {
    match plan {
        DslPlan::IR { dsl, .. } => prune(dsl, needed),
        DslPlan::HStack {
            input,
            exprs,
            options,
        } => {
            let Some(Kept { names, kept, read }) = kept(exprs, needed) else {
                return plan.clone();
            };
            let mut below: Columns = needed
                .iter()
                .filter(|name| !names.contains(name))
                .cloned()
                .collect();
            below.extend(read);
            let input = prune(input, &below);
            if kept.is_empty() {
                return input;
            }
            DslPlan::HStack {
                input: Arc::new(input),
                exprs: kept,
                options: *options,
            }
        }
        DslPlan::Select {
            expr,
            input,
            options,
        } => {
            let Some(Kept { kept, read, .. }) = kept(expr, needed) else {
                return plan.clone();
            };
            // A select of literals alone has one row: keep a column read, or
            // everything, so that the rows stay the input's.
            if read.is_empty() {
                let Some(all) = columns_read_all(expr) else {
                    return plan.clone();
                };
                return DslPlan::Select {
                    expr: expr.clone(),
                    input: Arc::new(prune(input, &all)),
                    options: *options,
                };
            }
            DslPlan::Select {
                expr: kept,
                input: Arc::new(prune(input, &read)),
                options: *options,
            }
        }
        DslPlan::Filter { input, predicate } => {
            let Some(read) = columns_read(predicate) else {
                return plan.clone();
            };
            let mut below = needed.clone();
            below.extend(read);
            DslPlan::Filter {
                input: Arc::new(prune(input, &below)),
                predicate: predicate.clone(),
            }
        }
        _ => plan.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Columns {
        list.iter().map(|n| PlSmallStr::from(*n)).collect()
    }

    fn frame() -> LazyFrame {
        df!("a" => [1.0, 2.0, 3.0], "b" => [4.0, 5.0, 6.0])
            .unwrap()
            .lazy()
    }

    #[test]
    fn columns_not_needed_are_dropped_and_the_result_is_unchanged() {
        let query = frame().with_columns([
            (col("a") * lit(2.0)).alias("twice"),
            (col("b") + lit(1.0)).alias("other"),
        ]);
        let pruned = LazyFrame::from(prune(&query.logical_plan, &names(&["twice"])));
        let described = pruned.describe_plan().unwrap();
        assert!(!described.contains("other"), "{described}");
        assert_eq!(
            pruned.select([col("twice")]).collect().unwrap(),
            query.select([col("twice")]).collect().unwrap()
        );
    }

    #[test]
    fn a_filter_keeps_the_columns_its_predicate_reads() {
        let query = frame()
            .with_columns([(col("b") * lit(2.0)).alias("c")])
            .filter(col("c").gt(lit(9.0)));
        let pruned = LazyFrame::from(prune(&query.logical_plan, &names(&["a"])));
        assert_eq!(
            pruned.select([col("a")]).collect().unwrap(),
            query.select([col("a")]).collect().unwrap()
        );
    }

    #[test]
    fn a_replaced_column_is_read_from_the_replacement() {
        let query = frame().with_columns([(col("a") + col("b")).alias("a")]);
        let pruned = LazyFrame::from(prune(&query.logical_plan, &names(&["a"])));
        assert_eq!(
            pruned.select([col("a")]).collect().unwrap(),
            query.select([col("a")]).collect().unwrap()
        );
    }

    #[test]
    fn an_expression_it_cannot_read_keeps_the_operation_whole() {
        let query = frame().with_columns([
            (col("^b$") * lit(2.0)).alias("twice"),
            (col("b") + lit(1.0)).alias("other"),
        ]);
        let pruned = LazyFrame::from(prune(&query.logical_plan, &names(&["a"])));
        assert_eq!(
            pruned.describe_plan().unwrap(),
            query.describe_plan().unwrap()
        );
    }
}
