//! Row-wise queries over a stored frame a step at a time ([`super::in_steps`]):
//! the same rows as polars' own run, in order, and only for row-wise queries.

use polars::prelude::*;

use super::in_steps;
use crate::frame::test_frames::stored;

/// The steps' rows, stacked; `None` if the query was not run in steps.
fn stepped(frame: &LazyFrame, step_batches: usize) -> Option<(usize, DataFrame)> {
    let mut steps = 0;
    let mut rows: Option<DataFrame> = None;
    let done = in_steps(frame, 0, step_batches, &mut |step| {
        steps += 1;
        match &mut rows {
            Some(rows) => rows.vstack_mut(&step).map(|_| ()),
            None => {
                rows = Some(step);
                Ok(())
            }
        }
    })?;
    done.unwrap();
    Some((steps, rows.unwrap()))
}

#[test]
fn a_row_wise_query_in_steps_gives_polars_rows_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // Three record batches of 128K rows and a short one.
    let base = stored(dir.path(), 3 * 131_072 + 1_000);
    let query = base
        .clone()
        .with_columns([(col("y") * lit(2.0)).alias("z")])
        .filter(col("x").gt(lit(100)).and(col("y").is_not_null()))
        .select([col("x"), col("z")]);
    let expected = query.clone().collect().unwrap();
    for (step_batches, steps) in [(1, 4), (3, 2), (32, 1)] {
        let (ran, rows) = stepped(&query, step_batches).expect("row-wise over one stored frame");
        assert_eq!(ran, steps, "{step_batches} batches a step");
        assert!(
            rows.equals_missing(&expected),
            "{step_batches} batches a step"
        );
    }
}

#[test]
fn a_query_that_is_not_row_wise_is_left_to_polars() {
    let dir = tempfile::tempdir().unwrap();
    let base = stored(dir.path(), 1_000);
    let whole_column = base
        .clone()
        .with_columns([(col("y") - col("y").mean()).alias("centred")]);
    let sorted = base.clone().sort(["y"], Default::default());
    let aggregated = base.clone().select([col("y").sum()]);
    for query in [whole_column, sorted, aggregated] {
        assert!(stepped(&query, 1).is_none());
    }
    // A frame in memory is no stored frame.
    assert!(stepped(&df!("x" => [1i64]).unwrap().lazy(), 1).is_none());
}

#[test]
fn a_consumers_error_ends_the_steps_and_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let base = stored(dir.path(), 3 * 131_072 + 1_000);
    let query = base.clone().select([col("x")]);
    let mut calls = 0;
    let done = in_steps(&query, 0, 1, &mut |_| {
        calls += 1;
        match calls {
            2 => Err(polars_err!(ComputeError: "the consumer failed")),
            _ => Ok(()),
        }
    })
    .expect("row-wise over one stored frame");
    assert!(
        done.unwrap_err()
            .to_string()
            .contains("the consumer failed")
    );
    assert_eq!(calls, 2, "no step is consumed after an error");
}
