//! The seed tutorial's section 6, with the reason of every job: a first run,
//! an unchanged re-run, a new payment threshold, the median metric, the
//! maximum summary statistic, and the CSV edited in place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use customer_analysis::pipeline::CustomerAnalysis;
use customer_analysis::pipeline::{Metric, SummaryStatistic};
use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::frame::collect_streaming;
use pipeline_core::store::WrittenBy;
use pipeline_core::{Change, Reason, Runtime, Submission, Value};

const TASKS: [(&str, &[&str]); 4] = [
    ("preprocess_and_score", &["path_to_data"]),
    (
        "featurization_and_segmentation",
        &["scored_df", "payment_threshold", "score_threshold"],
    ),
    ("segment_analysis", &["segmented_customer_df", "metric"]),
    (
        "high_value_cust_summary_statistics",
        &[
            "segmented_customer_df",
            "segment_result",
            "summary_statistic_type",
        ],
    ),
];

/// Every node's current fingerprint and writer.
fn snapshot(scenario: &CustomerAnalysis) -> HashMap<&'static str, (Fingerprint, WrittenBy)> {
    let mut nodes = HashMap::new();
    for (_, inputs) in TASKS {
        for &node in inputs {
            let meta = scenario
                .scenario()
                .node_history(node)
                .unwrap()
                .pop()
                .expect("every input has a value after a run");
            nodes.insert(node, (meta.fingerprint, meta.written_by));
        }
    }
    nodes
}

/// The reason each job must give: up to date if none of its inputs changed
/// since the last submission, else each changed input (old -> new, who wrote
/// it), in parameter order.
fn expected(
    before: &HashMap<&'static str, (Fingerprint, WrittenBy)>,
    after: &HashMap<&'static str, (Fingerprint, WrittenBy)>,
    inputs: &[&str],
) -> Reason {
    let changes: Vec<Change> = inputs
        .iter()
        .filter(|&&node| before[node].0 != after[node].0)
        .map(|&node| Change::Input {
            node: node.into(),
            old: before[node].0,
            new: after[node].0,
            written_by: after[node].1.clone(),
        })
        .collect();
    if changes.is_empty() {
        Reason::UpToDate
    } else {
        Reason::Changed { changes }
    }
}

fn reason(submission: &Submission, task: &str) -> Reason {
    submission.job(task).unwrap().reason.clone().unwrap()
}

/// Submits, checks every job's reason against what changed, and returns the
/// submission with the new snapshot.
fn step(
    scenario: &CustomerAnalysis,
    before: &HashMap<&'static str, (Fingerprint, WrittenBy)>,
) -> (Submission, HashMap<&'static str, (Fingerprint, WrittenBy)>) {
    let submission = scenario.submit().unwrap().into_result().unwrap();
    let after = snapshot(scenario);
    for (task, inputs) in TASKS {
        assert_eq!(
            reason(&submission, task),
            expected(before, &after, inputs),
            "task {task}"
        );
    }
    (submission, after)
}

fn fp<T: Value>(value: T) -> Fingerprint {
    value.fingerprint().unwrap()
}

fn total_purchases(scenario: &CustomerAnalysis) -> f64 {
    let scored = scenario.scored_df().read().unwrap();
    let frame = collect_streaming(scored.0.clone()).unwrap();
    frame
        .column("TotalPurchaseAmount")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .sum()
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv")
}

#[test]
fn the_seeds_section_6_with_the_reason_of_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    std::fs::copy(sample(), &csv).unwrap();
    let runtime = Runtime::open(dir.path().join("store")).unwrap();
    let scenario = CustomerAnalysis::create(&runtime, "section 6").unwrap();
    scenario.path_to_data().write(csv.clone()).unwrap();

    // Run: every task's first.
    let first = scenario.submit().unwrap().into_result().unwrap();
    for (task, _) in TASKS {
        assert_eq!(reason(&first, task), Reason::FirstRun, "task {task}");
    }
    let state = snapshot(&scenario);

    // Run again: all up to date.
    let (again, state) = step(&scenario, &state);
    assert!(
        again
            .jobs
            .iter()
            .all(|j| j.reason == Some(Reason::UpToDate))
    );

    // payment_threshold = 1600: tasks 2-4 run.
    scenario.payment_threshold().write(1600.0).unwrap();
    let (threshold, state) = step(&scenario, &state);
    assert_eq!(
        reason(&threshold, "featurization_and_segmentation"),
        Reason::Changed {
            changes: vec![Change::Input {
                node: "payment_threshold".into(),
                old: fp(1000.0_f64),
                new: fp(1600.0_f64),
                written_by: WrittenBy::User,
            }]
        }
    );
    assert!(matches!(
        reason(&threshold, "segment_analysis"),
        Reason::Changed { changes } if matches!(
            &changes[..],
            [Change::Input { node, written_by: WrittenBy::Task { task, submission, .. }, .. }]
                if &**node == "segmented_customer_df"
                    && &**task == "featurization_and_segmentation"
                    && *submission == threshold.id
        )
    ));

    // metric = median: task 3 runs; task 4 runs if the segment result changed.
    scenario.metric().write(Metric::Median).unwrap();
    let (median, state) = step(&scenario, &state);
    assert_eq!(
        reason(&median, "segment_analysis"),
        Reason::Changed {
            changes: vec![Change::Input {
                node: "metric".into(),
                old: fp(Metric::Mean),
                new: fp(Metric::Median),
                written_by: WrittenBy::User,
            }]
        }
    );

    // summary_statistic_type = max: task 4 alone runs.
    scenario
        .summary_statistic_type()
        .write(SummaryStatistic::Max)
        .unwrap();
    let (summary, state) = step(&scenario, &state);
    assert_eq!(
        summary
            .tasks_with(pipeline_core::JobStatus::Completed)
            .len(),
        1
    );

    // The CSV edited in place (same size, same modification time): task 1
    // sees the file change and the new rows flow through.
    let total = total_purchases(&scenario);
    let text = std::fs::read_to_string(&csv).unwrap();
    let edited = text.replacen("1727.51", "9727.51", 1);
    assert_ne!(edited, text);
    let modified = std::fs::metadata(&csv).unwrap().modified().unwrap();
    std::fs::write(&csv, edited).unwrap();
    let file = std::fs::File::options().write(true).open(&csv).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    let (file, _) = step(&scenario, &state);
    assert!(matches!(
        reason(&file, "preprocess_and_score"),
        Reason::Changed { changes } if matches!(
            &changes[..],
            [Change::Input { node, written_by: WrittenBy::FileChange, .. }] if &**node == "path_to_data"
        )
    ));
    assert!((total_purchases(&scenario) - total - 8000.0).abs() < 1e-6);
}
