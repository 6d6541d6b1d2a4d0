//! Columns that are one of two text labels chosen by a condition,
//! `when(p).then(lit("a")).otherwise(lit("b"))` in a `with_columns`, and
//! queries that use them through their condition instead of a string a row.
//!
//! Such a column is how a pipeline names segments ("High Value" / "Low
//! Value"). polars builds it as a 16-byte string view per row even where
//! the query only asks which label a row has; the condition says the same
//! with one bit. [`filters`] rewrites a filter comparing the column with one
//! of its labels into the condition, [`group_bys`] groups by the condition
//! and puts the labels back on the groups, and the medians group by it
//! (`median::label_key`). A row where the condition is null has the
//! `otherwise` label, as polars gives it.

use std::sync::Arc;

use polars::prelude::*;
use polars_plan::utils::{expr_output_name, expr_to_leaf_column_names};

/// A column's definition as a choice of two labels.
#[derive(Debug, Clone)]
pub(super) struct LabelChoice {
    /// The condition, as written (it may be null on some rows).
    pub condition: Expr,
    /// The label where the condition holds.
    pub then: PlSmallStr,
    /// The label elsewhere, also where the condition is null.
    pub otherwise: PlSmallStr,
}

impl LabelChoice {
    /// The condition with null as false: true exactly where the column is
    /// [`Self::then`].
    pub(super) fn holds(&self) -> Expr {
        self.condition.clone().fill_null(lit(false))
    }
}

/// Where `exprs` (one `with_columns`) define `name` as a choice of two
/// labels whose condition reads none of the columns `exprs` replace (so it
/// means the same over the `with_columns`' output): its index and choice.
pub(super) fn defined_in(exprs: &[Expr], name: &str) -> Option<(usize, LabelChoice)> {
    let at = exprs
        .iter()
        .position(|e| expr_output_name(e).is_ok_and(|n| n.as_str() == name))?;
    let choice = label_choice(&exprs[at])?;
    let replaced: Vec<PlSmallStr> = exprs
        .iter()
        .filter_map(|e| expr_output_name(e).ok())
        .collect();
    let reads_replaced = expr_to_leaf_column_names(&choice.condition)
        .iter()
        .any(|leaf| replaced.contains(leaf));
    (!reads_replaced).then_some((at, choice))
}

/// The choice of `when(p).then(lit(a)).otherwise(lit(b))` (under aliases),
/// `a` and `b` text.
fn label_choice(expr: &Expr) -> Option<LabelChoice> {
    let mut inner = expr;
    while let Expr::Alias(e, _) = inner {
        inner = e;
    }
    let Expr::Ternary {
        predicate,
        truthy,
        falsy,
    } = inner
    else {
        return None;
    };
    let label = |e: &Expr| match e {
        Expr::Literal(literal) => literal.extract_str().map(PlSmallStr::from),
        _ => None,
    };
    Some(LabelChoice {
        condition: (**predicate).clone(),
        then: label(truthy)?,
        otherwise: label(falsy)?,
    })
}

/// `plan` with column `name`, defined by its top `with_columns` (or one
/// under `select`s of plain columns) as a choice of two labels, computed as
/// `encode` of the choice's condition ([`LabelChoice::holds`]) instead; and
/// the choice.
pub(super) fn with_condition(
    plan: &DslPlan,
    name: &str,
    encode: &dyn Fn(Expr) -> Expr,
) -> Option<(DslPlan, LabelChoice)> {
    super::plan::redefine(plan, &|_, exprs| {
        let (at, choice) = defined_in(exprs, name)?;
        Some((at, encode(choice.holds()).alias(name), choice))
    })
}

/// `plan` with each `group_by` on one label column (two different labels)
/// grouping by its condition, the labels put back on the groups' rows, so
/// the column is never built a string a row. The aggregations must not read
/// the key column; the groups and their order (first appearance, with
/// `maintain_order`) are the same.
pub(super) fn group_bys(plan: &DslPlan) -> DslPlan {
    super::plan::map_plan(plan, &mut |node| {
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
        let [Expr::Column(name)] = &keys[..] else {
            return None;
        };
        let reads_key = aggs
            .iter()
            .chain(predicates)
            .any(|agg| expr_to_leaf_column_names(agg).contains(name));
        if reads_key || options.is_rolling() || options.is_dynamic() {
            return None;
        }
        // polars groups an integer key on its fast path (a boolean one is
        // row-encoded first): 1 where the condition holds, else 0.
        let as_integer = |holds: Expr| holds.cast(DataType::UInt32);
        let (input, choice) = with_condition(input, name, &as_integer)?;
        if choice.then == choice.otherwise {
            return None;
        }
        let grouped = DslPlan::GroupBy {
            input: Arc::new(group_bys(&input)),
            keys: keys.clone(),
            predicates: predicates.clone(),
            aggs: aggs.clone(),
            maintain_order: *maintain_order,
            options: options.clone(),
            apply: None,
        };
        let holds = col(name.clone()).eq(lit(1u32));
        let labelled = LazyFrame::from(grouped).with_columns([when(holds)
            .then(lit(choice.then.clone()))
            .otherwise(lit(choice.otherwise.clone()))
            .alias(name.clone())]);
        Some(labelled.logical_plan)
    })
}

/// `plan` with each filter directly over a `with_columns` that compares a
/// label column of it with one of its two (different) labels (`==` or
/// `!=`, either side) testing the condition instead, so the column need not
/// be built for the filter.
pub(super) fn filters(plan: &DslPlan) -> DslPlan {
    super::plan::map_plan(plan, &mut |node| {
        let DslPlan::Filter { input, predicate } = node else {
            return None;
        };
        let DslPlan::HStack { exprs, .. } = &**input else {
            return None;
        };
        let rewritten = rewrite_comparisons(predicate, exprs)?;
        Some(DslPlan::Filter {
            input: Arc::new(filters(input)),
            predicate: rewritten,
        })
    })
}

/// `predicate` with its comparisons of a label column of `exprs` with a
/// label made tests of the condition; `None` if it has none.
fn rewrite_comparisons(predicate: &Expr, exprs: &[Expr]) -> Option<Expr> {
    let mut changed = false;
    let rewritten = predicate.clone().map_expr(|e| match label_test(&e, exprs) {
        Some(test) => {
            changed = true;
            test
        }
        None => e,
    });
    changed.then_some(rewritten)
}

/// The condition test equal to `expr` if it compares a label column of
/// `exprs` with one of its labels.
fn label_test(expr: &Expr, exprs: &[Expr]) -> Option<Expr> {
    let Expr::BinaryExpr { left, op, right } = expr else {
        return None;
    };
    let (column, label) = match (&**left, &**right) {
        (Expr::Column(column), Expr::Literal(label))
        | (Expr::Literal(label), Expr::Column(column)) => (column, label.extract_str()?),
        _ => return None,
    };
    let (_, choice) = defined_in(exprs, column)?;
    if choice.then == choice.otherwise {
        return None;
    }
    let is_then = if label == choice.then {
        true
    } else if label == choice.otherwise {
        false
    } else {
        return None;
    };
    match op {
        Operator::Eq => Some(if is_then {
            choice.holds()
        } else {
            choice.holds().not()
        }),
        Operator::NotEq => Some(if is_then {
            choice.holds().not()
        } else {
            choice.holds()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segmented(score: Vec<Option<f64>>, threshold: f64) -> LazyFrame {
        let rows = score.len() as i64;
        df!("score" => score, "id" => (0..rows).collect::<Vec<_>>())
            .unwrap()
            .lazy()
            .with_columns([when(col("score").gt(lit(threshold)))
                .then(lit("High"))
                .otherwise(lit("Low"))
                .alias("segment")])
    }

    proptest! {
        #[test]
        fn a_filter_on_a_label_keeps_the_rows_polars_keeps(
            score in prop::collection::vec(prop::option::weighted(0.8, -3.0f64..3.0), 0..100),
            threshold in -3.0f64..3.0,
            label in prop_oneof![Just("High"), Just("Low"), Just("Other")],
            equal in any::<bool>(),
        ) {
            let test = if equal { col("segment").eq(lit(label)) } else { col("segment").neq(lit(label)) };
            let query = segmented(score, threshold).filter(test.and(col("id").gt_eq(lit(0))));
            let rewritten = LazyFrame::from(filters(&query.logical_plan));
            prop_assert_eq!(
                label != "Other",
                format!("{:?}", rewritten.logical_plan) != format!("{:?}", query.logical_plan)
            );
            let ours = rewritten.collect().unwrap();
            let theirs = query.collect().unwrap();
            prop_assert!(ours.equals_missing(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
        }
    }

    proptest! {
        #[test]
        fn a_group_by_on_a_label_column_gives_polars_groups(
            score in prop::collection::vec(prop::option::weighted(0.8, -3.0f64..3.0), 0..100),
            threshold in -3.0f64..3.0,
            maintain_order in any::<bool>(),
        ) {
            let frame = segmented(score, threshold);
            let grouped = if maintain_order {
                frame.group_by_stable([col("segment")])
            } else {
                frame.group_by([col("segment")])
            };
            let query = grouped
                .agg([col("score").sum().alias("total"), col("id").count().alias("rows")])
                .sort(["segment"], SortMultipleOptions::default());
            let rewritten = LazyFrame::from(group_bys(&query.logical_plan));
            prop_assert_ne!(format!("{:?}", rewritten.logical_plan), format!("{:?}", query.logical_plan));
            let ours = rewritten.collect().unwrap();
            let theirs = query.collect().unwrap();
            prop_assert!(ours.equals_missing(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
        }
    }

    #[test]
    fn groups_keep_their_first_appearance_order() {
        let query = segmented(vec![Some(-1.0), Some(2.0), None, Some(3.0)], 0.0)
            .group_by_stable([col("segment")])
            .agg([col("id").min()]);
        let ours = LazyFrame::from(group_bys(&query.logical_plan))
            .collect()
            .unwrap();
        assert_eq!(ours, query.collect().unwrap());
        assert_eq!(
            ours.column("segment").unwrap().str().unwrap().get(0),
            Some("Low")
        );
    }

    #[test]
    fn aggregations_reading_the_key_are_left_alone() {
        let query = segmented(vec![Some(1.0)], 0.0)
            .group_by([col("segment")])
            .agg([col("segment").first().alias("label")]);
        let rewritten = group_bys(&query.logical_plan);
        assert_eq!(
            format!("{rewritten:?}"),
            format!("{:?}", query.logical_plan)
        );
    }

    #[test]
    fn a_condition_reading_a_replaced_column_is_left_alone() {
        let query = df!("score" => [1.0, 2.0])
            .unwrap()
            .lazy()
            .with_columns([
                (col("score") * lit(10.0)).alias("score"),
                when(col("score").gt(lit(1.5)))
                    .then(lit("High"))
                    .otherwise(lit("Low"))
                    .alias("segment"),
            ])
            .filter(col("segment").eq(lit("High")));
        let rewritten = filters(&query.logical_plan);
        assert_eq!(
            format!("{rewritten:?}"),
            format!("{:?}", query.logical_plan)
        );
    }
}
