//! `frame::grouped_medians` (and the executor's use of it for every median
//! aggregation, over frames in memory and over data not in memory) against
//! polars' own median on random frames: nulls, NaN, infinities, signed
//! zeros, duplicates, empty input, one group, many groups, all-null groups,
//! integer columns, frames of several chunks.

use pipeline_core::Runtime;
use pipeline_core::frame::{LazyFrame, grouped_medians};
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use polars::prelude::*;
use proptest::prelude::*;

/// One float cell: mostly numbers from a narrow or wide range, sometimes
/// null, NaN, an infinity or a zero of either sign.
fn float_cell() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        6 => (-1e3f64..1e3).prop_map(Some),
        2 => (0u8..4).prop_map(|x| Some(f64::from(x))),
        1 => Just(None),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0)
        ]
        .prop_map(Some),
    ]
}

fn frame() -> impl Strategy<Value = DataFrame> {
    (0usize..400, 1u8..5).prop_flat_map(|(rows, groups)| {
        (
            prop::collection::vec(prop::option::weighted(0.9, 0..groups), rows),
            prop::collection::vec(float_cell(), rows),
            prop::collection::vec(prop::option::weighted(0.8, -50i64..50), rows),
        )
            .prop_map(|(g, x, n)| {
                let g: Vec<Option<String>> =
                    g.into_iter().map(|g| g.map(|g| format!("g{g}"))).collect();
                df!("g" => g, "x" => x, "n" => n).unwrap()
            })
    })
}

/// Equal frames, floats compared by value (NaN equal to NaN, -0.0 to 0.0).
fn assert_same(ours: &DataFrame, theirs: &DataFrame) -> Result<(), TestCaseError> {
    prop_assert_eq!(ours.schema(), theirs.schema());
    prop_assert_eq!(ours.height(), theirs.height());
    for (a, b) in ours.columns().iter().zip(theirs.columns()) {
        if a.dtype() == &DataType::Float64 {
            for (x, y) in a.f64().unwrap().iter().zip(b.f64().unwrap().iter()) {
                let same = match (x, y) {
                    (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
                    (x, y) => x == y,
                };
                prop_assert!(
                    same,
                    "{}: {:?} vs {:?}\nours:\n{}\npolars:\n{}",
                    a.name(),
                    x,
                    y,
                    ours,
                    theirs
                );
            }
        } else {
            prop_assert!(
                a.equals_missing(b),
                "{}\nours:\n{}\npolars:\n{}",
                a.name(),
                ours,
                theirs
            );
        }
    }
    Ok(())
}

/// A frame as [`frame`] makes, without nulls: every value valid, so the
/// passes test values against their group's bounds as floats, many at a
/// time (the path a column with nulls does not take).
fn frame_without_nulls() -> impl Strategy<Value = DataFrame> {
    (0usize..400, 1u8..6).prop_flat_map(|(rows, groups)| {
        (
            prop::collection::vec(0..groups, rows),
            prop::collection::vec(float_cell().prop_map(|x| x.unwrap_or(-0.0)), rows),
            prop::collection::vec(-50i64..50, rows),
        )
            .prop_map(|(g, x, n)| {
                let g: Vec<String> = g.into_iter().map(|g| format!("g{g}")).collect();
                df!("g" => g, "x" => x, "n" => n).unwrap()
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn grouped_medians_of_valid_values_equal_polars(frame in frame_without_nulls()) {
        let ours = grouped_medians(frame.clone().lazy(), &[col("g")], &[col("x"), col("n")]).unwrap();
        let theirs = frame
            .clone()
            .lazy()
            .group_by_stable([col("g")])
            .agg([col("x").median(), col("n").median()])
            .collect()
            .unwrap();
        assert_same(&ours, &theirs)?;
        let ours = grouped_medians(frame.clone().lazy(), &[], &[col("x")]).unwrap();
        let theirs = frame.lazy().select([col("x").median()]).collect().unwrap();
        assert_same(&ours, &theirs)?;
    }

    #[test]
    fn grouped_medians_equal_polars(frame in frame()) {
        let ours = grouped_medians(frame.clone().lazy(), &[col("g")], &[col("x"), col("n")]).unwrap();
        let theirs = frame
            .lazy()
            .group_by_stable([col("g")])
            .agg([col("x").median(), col("n").median()])
            .collect()
            .unwrap();
        assert_same(&ours, &theirs)?;
    }

    #[test]
    fn medians_of_one_group_equal_polars(frame in frame()) {
        let ours = grouped_medians(frame.clone().lazy(), &[], &[col("x"), col("n")]).unwrap();
        let theirs = frame.lazy().select([col("x").median(), col("n").median()]).collect().unwrap();
        assert_same(&ours, &theirs)?;
    }
}

#[test]
fn many_equal_values_and_wide_ranges_need_several_passes_and_stay_exact() {
    // 3M equal values around a few outliers, and a column spanning many
    // orders of magnitude: ranges narrowed by more than one pass.
    let rows: usize = 3_000_000;
    let x: Vec<f64> = (0..rows)
        .map(|i| if i % 1000 == 0 { i as f64 } else { 7.25 })
        .collect();
    let y: Vec<f64> = (0..rows)
        .map(|i| ((i * 7919) % rows) as f64 * 1e-3 + 1e-9 * i as f64)
        .collect();
    let frame = df!("x" => x, "y" => y).unwrap();
    let ours = grouped_medians(frame.clone().lazy(), &[], &[col("x"), col("y")]).unwrap();
    let theirs = frame
        .lazy()
        .select([col("x").median(), col("y").median()])
        .collect()
        .unwrap();
    assert!(ours.equals(&theirs), "ours:\n{ours}\npolars:\n{theirs}");
}

#[test]
fn medians_at_the_ends_of_the_float_order_equal_polars() {
    // Middle values at -inf, +inf, the least finite float, zeros of both
    // signs and the largest finite float: the ranges that hold them reach
    // the keys no float has (NaN bit patterns) or border the NaN key.
    let groups = [
        ("a", vec![f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0]),
        ("b", vec![f64::INFINITY, f64::INFINITY, -1.0]),
        ("c", vec![-0.0, 0.0, -0.0, 5.0]),
        ("d", vec![f64::MIN, f64::MIN, 0.0, f64::MIN]),
        ("e", vec![f64::MAX, f64::INFINITY, f64::MAX, f64::NAN]),
        ("f", vec![f64::NAN, f64::NAN, 2.0]),
    ];
    for pair in groups.windows(2) {
        let rows: Vec<(&str, f64)> = pair
            .iter()
            .flat_map(|(g, xs)| xs.iter().map(move |&x| (*g, x)))
            .collect();
        let g: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let x: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let frame = df!("g" => g, "x" => x).unwrap();
        let ours = grouped_medians(frame.clone().lazy(), &[col("g")], &[col("x")]).unwrap();
        let theirs = frame
            .clone()
            .lazy()
            .group_by_stable([col("g")])
            .agg([col("x").median()])
            .collect()
            .unwrap();
        assert_same(&ours, &theirs).unwrap();
        let first = frame.head(Some(pair[0].1.len()));
        let ours = grouped_medians(first.clone().lazy(), &[], &[col("x")]).unwrap();
        let theirs = first.lazy().select([col("x").median()]).collect().unwrap();
        assert_same(&ours, &theirs).unwrap();
    }
}

#[test]
fn medians_of_an_empty_frame_are_null_as_in_polars() {
    let empty = df!("g" => Vec::<String>::new(), "x" => Vec::<f64>::new()).unwrap();
    let grouped = grouped_medians(empty.clone().lazy(), &[col("g")], &[col("x")]).unwrap();
    assert_eq!(grouped.height(), 0);
    let whole = grouped_medians(empty.clone().lazy(), &[], &[col("x")]).unwrap();
    let theirs = empty.lazy().select([col("x").median()]).collect().unwrap();
    assert!(whole.equals_missing(&theirs), "{whole}\n{theirs}");
}

/// A task aggregating a stored frame with medians and other statistics.
fn summary(frame: &LazyFrame) -> LazyFrame {
    frame
        .clone()
        .group_by([col("g")])
        .agg([
            col("x").median().cast(DataType::Float64).alias("x_median"),
            col("x").sum().alias("x_sum"),
            col("n").median(),
            col("n").max().alias("n_max"),
        ])
        .sort(["g"], SortMultipleOptions::default())
}

/// `summary` of `frame` as the runtime computes it when one task stores
/// `frame` and another summarizes it with no frame memory: the second reads
/// `frame` from its file, so its medians run in bounded memory.
fn summarized_from_its_file(frame: &DataFrame) -> DataFrame {
    summarized_by_the_runtime(frame, summary, 0)
}

/// `summarize(frame)` as the runtime computes it when one task stores
/// `frame` and another summarizes it, with `frame_memory` bytes of frame
/// memory (enough: the second task gets the frame in memory; 0: from its
/// file).
fn summarized_by_the_runtime(
    frame: &DataFrame,
    summarize: fn(&LazyFrame) -> LazyFrame,
    frame_memory: usize,
) -> DataFrame {
    let source = frame.clone();
    let graph = GraphBuilder::new("medians")
        .node(NodeSpec::new::<i64>("seed").with_default(1))
        .node(NodeSpec::new::<LazyFrame>("frame"))
        .node(NodeSpec::new::<LazyFrame>("summary"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", move |_: &i64| {
                source.clone().lazy()
            }))
            .inputs(["seed"])
            .outputs(["frame"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("summarize", "1", summarize))
                .inputs(["frame"])
                .outputs(["summary"]),
        )
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .frame_memory(frame_memory)
        .open(dir.path())
        .unwrap();
    let scenario = runtime.create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let stored = scenario
        .node::<LazyFrame>("summary")
        .unwrap()
        .read()
        .unwrap();
    stored.as_ref().clone().collect().unwrap()
}

#[test]
fn a_task_with_medians_over_a_frame_not_in_memory_gets_polars_results() {
    let n = 200_000;
    let frame = df!(
        "g" => (0..n).map(|i| ["a", "b", "c"][i % 3]).collect::<Vec<_>>(),
        "x" => (0..n).map(|i| ((i * 7) % 1013) as f64 / 7.0).collect::<Vec<_>>(),
        "n" => (0..n).map(|i| (i % 17) as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    let expected = summary(&frame.clone().lazy()).collect().unwrap();
    let ours = summarized_from_its_file(&frame);
    // Medians to the bit; the sum as polars' streaming engine adds it up,
    // which differs from its in-memory engine in the last bits.
    for name in ["g", "x_median", "n", "n_max"] {
        let (a, b) = (ours.column(name).unwrap(), expected.column(name).unwrap());
        assert!(a.equals_missing(b), "{name}: ours {a:?} polars {b:?}");
    }
    let sums = |frame: &DataFrame| -> Vec<f64> {
        frame
            .column("x_sum")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    for (a, b) in sums(&ours).into_iter().zip(sums(&expected)) {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs(),
            "x_sum: ours {a} polars {b}"
        );
    }
}

/// `frame` with a `segment` label chosen by a condition that is null where
/// `x` is.
fn with_segment(frame: &LazyFrame) -> LazyFrame {
    frame.clone().with_columns([when(col("x").gt(lit(70.0)))
        .then(lit("High"))
        .otherwise(lit("Low"))
        .alias("segment")])
}

/// Medians and sums per segment ([`with_segment`]).
fn labelled_summary(frame: &LazyFrame) -> LazyFrame {
    with_segment(frame)
        .group_by([col("segment")])
        .agg([
            col("x").median(),
            col("n").median().alias("n_median"),
            col("n").sum().alias("n_sum"),
            col("x").count().alias("x_count"),
        ])
        .sort(["segment"], SortMultipleOptions::default())
}

#[test]
fn medians_by_a_label_key_in_memory_and_not_equal_polars() {
    // Several batches of the streaming passes; the first rows all "Low".
    let n = 300_000;
    let frame = df!(
        "x" => (0..n).map(|i| (i % 11 != 5).then(|| ((i * 7) % 1013) as f64 / 7.0)).collect::<Vec<_>>(),
        "n" => (0..n).map(|i| (i % 17) as i64 - 3).collect::<Vec<_>>(),
    )
    .unwrap();
    let expected = labelled_summary(&frame.clone().lazy()).collect().unwrap();
    assert_eq!(expected.height(), 2);
    for memory in [0, 1 << 30] {
        let ours = summarized_by_the_runtime(&frame, labelled_summary, memory);
        assert_eq!(ours, expected, "frame memory {memory}");
    }
}

/// Sums, means, extremes and counts per segment (no median).
fn labelled_reductions(frame: &LazyFrame) -> LazyFrame {
    with_segment(frame)
        .group_by([col("segment")])
        .agg([
            col("x").mean().alias("x_mean"),
            col("x").min().alias("x_min"),
            col("n").sum().alias("n_sum"),
            col("n").max().cast(DataType::Float64).alias("n_max"),
            col("x").count().alias("x_count"),
            len().alias("rows"),
        ])
        .sort(["segment"], SortMultipleOptions::default())
}

#[test]
fn reductions_by_a_label_key_in_memory_and_not_equal_polars() {
    // Several batches; the first batch has only "Low" rows, so the second
    // group appears in a later one.
    let n = 400_000;
    let x = (0..n).map(|i| match i {
        i if i % 13 == 4 => None,
        i if i < 150_000 => Some((i % 70) as f64),
        i => Some(((i * 7) % 1013) as f64 / 7.0),
    });
    let frame = df!(
        "x" => x.collect::<Vec<_>>(),
        "n" => (0..n).map(|i| (i % 17) as i64 - 3).collect::<Vec<_>>(),
    )
    .unwrap();
    let expected = labelled_reductions(&frame.clone().lazy())
        .collect()
        .unwrap();
    assert_eq!(expected.height(), 2);
    for memory in [0, 1 << 30] {
        let ours = summarized_by_the_runtime(&frame, labelled_reductions, memory);
        assert_eq!(ours.schema(), expected.schema(), "frame memory {memory}");
        for name in ["segment", "x_min", "n_sum", "n_max", "x_count", "rows"] {
            let (a, b) = (ours.column(name).unwrap(), expected.column(name).unwrap());
            assert!(
                a.equals_missing(b),
                "{name}, frame memory {memory}: ours {a:?} polars {b:?}"
            );
        }
        let means = |frame: &DataFrame| -> Vec<f64> {
            frame
                .column("x_mean")
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        for (a, b) in means(&ours).into_iter().zip(means(&expected)) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs(),
                "x_mean: ours {a} polars {b}"
            );
        }
    }
}

/// `frame` with a segment and two flags (conditions cast to numbers, one
/// null where `x` is) in one `with_columns`.
fn flagged(frame: &LazyFrame) -> LazyFrame {
    frame.clone().with_columns([
        when(col("x").gt(lit(70.0)))
            .then(lit("High"))
            .otherwise(lit("Low"))
            .alias("segment"),
        col("x")
            .gt(lit(50.0))
            .fill_null(lit(false))
            .cast(DataType::Int64)
            .alias("big"),
        col("x").lt(lit(20.0)).cast(DataType::Float64).alias("low"),
    ])
}

/// Sums, means, extremes and counts of the flags per segment, counted from
/// the conditions' bits.
fn flag_reductions(frame: &LazyFrame) -> LazyFrame {
    flagged(frame)
        .group_by([col("segment")])
        .agg([
            col("big").sum().alias("big_sum"),
            col("big").mean().alias("big_mean"),
            col("low").sum().alias("low_sum"),
            col("low").max().alias("low_max"),
            col("low").count().alias("low_count"),
            col("n").sum().alias("n_sum"),
        ])
        .sort(["segment"], SortMultipleOptions::default())
}

/// Flag reductions beside a median.
fn flag_reductions_and_a_median(frame: &LazyFrame) -> LazyFrame {
    flagged(frame)
        .group_by([col("segment")])
        .agg([
            col("big").sum().alias("big_sum"),
            col("low").mean().alias("low_mean"),
            col("x").median().alias("x_median"),
        ])
        .sort(["segment"], SortMultipleOptions::default())
}

#[test]
fn flag_reductions_by_a_label_key_in_memory_and_not_equal_polars() {
    // Several batches; nulls in `x` (so in `low`), the first rows all "Low".
    let n = 300_000;
    let frame = df!(
        "x" => (0..n).map(|i| (i % 9 != 2).then(|| ((i * 7) % 1013) as f64 / 10.0)).collect::<Vec<_>>(),
        "n" => (0..n).map(|i| (i % 17) as i64 - 3).collect::<Vec<_>>(),
    )
    .unwrap();
    for summarize in [flag_reductions, flag_reductions_and_a_median] {
        let expected = summarize(&frame.clone().lazy()).collect().unwrap();
        assert_eq!(expected.height(), 2);
        for memory in [0, 1 << 30] {
            let ours = summarized_by_the_runtime(&frame, summarize, memory);
            assert_eq!(ours, expected, "frame memory {memory}");
        }
    }
}

#[test]
fn medians_of_even_counts_over_a_frame_not_in_memory_are_the_midpoints() {
    // Every group has an even number of rows whose two middle values differ,
    // so the median is the midpoint of two distinct values (polars
    // interpolates): 1..=1000 gives 500.5; the integers 0..=9 give 4.5.
    let n = 60_000usize;
    let frame = df!(
        "g" => (0..n).map(|i| ["a", "b", "c", "d"][i % 4]).collect::<Vec<_>>(),
        "x" => (0..n).map(|i| ((i * 7919) % n) as f64 + 0.25).collect::<Vec<_>>(),
        "n" => (0..n).map(|i| ((i / 4) % 10) as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    let expected = summary(&frame.clone().lazy()).collect().unwrap();
    let ours = summarized_from_its_file(&frame);
    for name in ["g", "x_median", "n"] {
        let (a, b) = (ours.column(name).unwrap(), expected.column(name).unwrap());
        assert!(a.equals_missing(b), "{name}: ours {a:?} polars {b:?}");
    }
    // The midpoints are not values of the data: a lower or upper middle
    // value instead would show here.
    let n_medians: Vec<f64> = ours
        .column("n")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(n_medians, vec![4.5; 4]);
}

/// `frame` as `pieces` chunks (a frame stored in batches has several).
fn in_chunks(frame: &DataFrame, pieces: usize) -> DataFrame {
    let size = frame.height().div_ceil(pieces.max(1)).max(1);
    let mut chunked = frame.slice(0, size);
    let mut at = size;
    while at < frame.height() {
        chunked.vstack_mut(&frame.slice(at as i64, size)).unwrap();
        at += size;
    }
    chunked
}

/// Up to 511 groups of random cells plus a group whose values are all
/// null: with two columns, up to the 1,024 group × column pairs
/// `grouped_medians` takes; in one to four chunks.
fn many_groups_frame() -> impl Strategy<Value = DataFrame> {
    (0usize..1500, 1u16..=511, 1usize..5, 1usize..4).prop_flat_map(
        |(rows, groups, pieces, null_rows)| {
            (
                prop::collection::vec(0..groups, rows),
                prop::collection::vec(float_cell(), rows),
                prop::collection::vec(prop::option::weighted(0.8, -50i64..50), rows),
                Just(pieces),
                Just(null_rows),
            )
                .prop_map(|(g, x, n, pieces, null_rows)| {
                    let mut g: Vec<String> = g.into_iter().map(|g| format!("g{g}")).collect();
                    let (mut x, mut n) = (x, n);
                    for _ in 0..null_rows {
                        g.push("all null".to_owned());
                        x.push(None);
                        n.push(None);
                    }
                    in_chunks(&df!("g" => g, "x" => x, "n" => n).unwrap(), pieces)
                })
        },
    )
}

/// A task aggregating with medians, other aggregations and a count, as the
/// demo's `segment_analysis` does.
fn summary_with_others(frame: &LazyFrame) -> LazyFrame {
    frame
        .clone()
        .group_by([col("g")])
        .agg([
            col("x").median().cast(DataType::Float64).alias("x_median"),
            col("n").sum().alias("n_sum"),
            col("n").median(),
            col("x").max().alias("x_max"),
            len().alias("rows"),
        ])
        .sort(["g"], SortMultipleOptions::default())
}

/// A task selecting medians with a literal and other aggregations, as the
/// demo's `high_value_cust_summary_statistics` does.
fn whole_summary(frame: &LazyFrame) -> LazyFrame {
    frame.clone().select([
        lit("all").alias("label"),
        col("x").median().alias("x_median"),
        col("n").sum().alias("n_sum"),
        col("n").median().alias("n_median"),
        len().alias("rows"),
    ])
}

/// Enough frame memory that the summarizing task gets the frame in memory.
const IN_MEMORY: usize = 256 << 20;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn medians_of_many_groups_in_chunks_in_memory_equal_polars(frame in many_groups_frame()) {
        let ours = grouped_medians(frame.clone().lazy(), &[col("g")], &[col("x"), col("n")]).unwrap();
        let theirs = frame
            .lazy()
            .group_by_stable([col("g")])
            .agg([col("x").median(), col("n").median()])
            .collect()
            .unwrap();
        assert_same(&ours, &theirs)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_task_with_medians_and_other_aggregations_over_a_frame_in_memory_gets_polars_results(
        frame in frame()
    ) {
        let ours = summarized_by_the_runtime(&frame, summary_with_others, IN_MEMORY);
        let theirs = summary_with_others(&frame.clone().lazy()).collect().unwrap();
        assert_same(&ours, &theirs)?;
        let ours = summarized_by_the_runtime(&frame, whole_summary, IN_MEMORY);
        let theirs = whole_summary(&frame.lazy()).collect().unwrap();
        assert_same(&ours, &theirs)?;
    }
}

#[test]
fn medians_of_a_large_frame_in_memory_counted_on_several_threads_equal_polars() {
    // 1.2M rows in three chunks: parts of each column are counted on
    // different threads and merged; nulls, NaN and duplicates included.
    let n = 1_200_000usize;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| match i {
            i if i % 7 == 0 => None,
            i if i % 1000 == 3 => Some(f64::NAN),
            i => Some(((i * 7919) % 100_003) as f64 * 0.01 - 300.0),
        })
        .collect();
    let frame = df!(
        "g" => (0..n).map(|i| ["a", "b", "c"][(i / 5) % 3]).collect::<Vec<_>>(),
        "x" => x,
        "n" => (0..n).map(|i| (i % 101) as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    assert_medians_by_g_and_whole_equal_polars(&in_chunks(&frame, 3), ["x", "n"]);
}

/// The medians of `columns` of `frame`, per group of `g` and over all rows,
/// equal polars' own.
fn assert_medians_by_g_and_whole_equal_polars(frame: &DataFrame, columns: [&str; 2]) {
    for by in [vec![col("g")], vec![]] {
        let medians = columns.map(col);
        let ours = grouped_medians(frame.clone().lazy(), &by, &medians).unwrap();
        let theirs = frame
            .clone()
            .lazy()
            .group_by_stable(by.clone())
            .agg(medians.map(|c| c.median()))
            .collect()
            .unwrap();
        let theirs = match by.is_empty() {
            true => theirs.select(columns).unwrap(),
            false => theirs,
        };
        assert!(
            ours.equals_missing(&theirs),
            "ours:\n{ours}\npolars:\n{theirs}"
        );
    }
}

#[test]
fn medians_of_columns_with_few_nulls_count_every_valid_value() {
    // A null in every 1000th row: most words of the validity are all valid
    // (visited without a test per value), a few are not.
    let n = 20_000usize;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 1000 != 7).then_some(((i * 7919) % 10_007) as f64 * 0.5))
        .collect();
    let m: Vec<Option<i64>> = (0..n)
        .map(|i| (i % 1000 != 500).then_some(((i * 31) % 997) as i64))
        .collect();
    let frame = df!(
        "g" => (0..n).map(|i| ["a", "b", "c"][(i / 7) % 3]).collect::<Vec<_>>(),
        "x" => x,
        "m" => m,
    )
    .unwrap();
    assert_medians_by_g_and_whole_equal_polars(&frame, ["x", "m"]);
}

#[test]
fn more_group_column_pairs_than_the_limit_are_refused_with_a_message() {
    let frame = |groups: i64| {
        df!("g" => (0..groups).collect::<Vec<_>>(), "x" => vec![1.5; groups as usize])
            .unwrap()
            .lazy()
    };
    assert!(grouped_medians(frame(1024), &[col("g")], &[col("x")]).is_ok());
    let error = grouped_medians(frame(1025), &[col("g")], &[col("x")]).unwrap_err();
    assert!(error.to_string().contains("at most"), "{error}");
}

#[test]
fn a_task_with_more_groups_than_the_limit_over_a_frame_in_memory_gets_polars_medians() {
    let n = 6_000usize;
    let frame = df!(
        "g" => (0..n).map(|i| format!("g{}", i % 2000)).collect::<Vec<_>>(),
        "x" => (0..n).map(|i| (i % 13) as f64).collect::<Vec<_>>(),
        "n" => (0..n).map(|i| (i % 5) as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    let ours = summarized_by_the_runtime(&frame, summary_with_others, IN_MEMORY);
    let theirs = summary_with_others(&frame.lazy()).collect().unwrap();
    assert!(
        ours.equals_missing(&theirs),
        "ours:\n{ours}\npolars:\n{theirs}"
    );
}
