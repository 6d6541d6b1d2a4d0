//! The `customer-analysis` binary refusing bad input (exit code 2, the store
//! as it was), failing tasks (exit code 1, earlier results kept), and
//! several processes on one scenario: the lock, and each run's own results.

mod support;

use std::process::{Command, Stdio};

use serde_json::Value as Json;
use support::{
    cli, close, fails_with, hold_scenario_lock, refused, run_json, sample, statuses, write_csv,
};

#[test]
fn bad_inputs_fail_clearly_and_leave_the_store_as_it_was() {
    let store = tempfile::tempdir().unwrap();
    let first = run_json(store.path(), &[]);
    let files = tempfile::tempdir().unwrap();
    let data = sample();
    let data = data.to_str().unwrap();

    // Bad values are refused before anything is written (exit code 2).
    refused(
        store.path(),
        &["run", "--data", data, "--set", "metric=average"],
        &[
            "--set metric=average: data node `metric` takes a Metric",
            "median",
            "for example --set metric=mean",
        ],
    );
    refused(
        store.path(),
        &["run", "--data", data, "--set", "score_threshold=-2"],
        &["score_threshold", ">= 0"],
    );
    refused(
        store.path(),
        &["run", "--data", data, "--set", "payment_threshold=lots"],
        &[
            "data node `payment_threshold` takes a f64",
            "\"lots\" is not one",
            "for example --set payment_threshold=1000",
        ],
    );
    refused(
        store.path(),
        &["run", "--data", data, "--set", "segment_result=1"],
        &["computed by task `segment_analysis`", "settable nodes"],
    );
    refused(
        store.path(),
        &["run", "--set", "threshold=1"],
        &["no data node `threshold`", "payment_threshold"],
    );
    refused(store.path(), &["get", "nope"], &["no data node `nope`"]);
    refused(
        store.path(),
        &["history", "--scenario", "strict"],
        &["no scenario `strict`"],
    );
    refused(
        store.path(),
        &["--config", "/no/such.toml", "run"],
        &["/no/such.toml", "cannot read the configuration"],
    );

    // A file that is missing or lacks a column fails Task 1 (exit code 1),
    // which keeps the earlier outputs.
    fails_with(
        store.path(),
        &["run", "--data", "/no/such/file.csv"],
        1,
        &["/no/such/file.csv"],
    );
    let missing_column = write_csv(
        files.path(),
        "no_score.csv",
        "CustomerID,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime\n1,10.0,1,5\n",
    );
    fails_with(
        store.path(),
        &["run", "--data", missing_column.to_str().unwrap()],
        1,
        &["AverageReviewScore", "no_score.csv"],
    );

    // Back on the sample, the first run's outputs are still current.
    let again = run_json(store.path(), &[]);
    assert_eq!(statuses(&again), ["skipped"; 4]);
    assert_eq!(again["segment_result"], first["segment_result"]);
}

#[test]
fn a_locked_scenario_is_refused_with_a_lock_timeout_and_waited_for_without() {
    let store = tempfile::tempdir().unwrap();
    let first = run_json(store.path(), &[]);
    let held = hold_scenario_lock(store.path());
    refused(
        store.path(),
        &["run", "--lock-timeout", "0.2", "--set", "metric=max"],
        &["scenario #1 is locked", "scenario-1.lock", "gave up after"],
    );
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
        .args(["run", "--json", "--store"])
        .arg(store.path())
        .env_remove("PIPELINE_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It says that it waits, and waits until the lock is released.
    let mut stderr = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    let lock_file = store.path().join("locks").join("scenario-1.lock");
    assert!(
        line.starts_with(&format!(
            "customer-analysis: waiting for process {}, which is working on scenario #1",
            std::process::id()
        )) && line.contains(&lock_file.display().to_string()),
        "{line}"
    );
    drop(held);
    let output = waiting.wait_with_output().unwrap();
    assert!(output.status.success());
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["segment_result"], first["segment_result"]);
}

/// Runs of one scenario by three processes at once, each with its own
/// payment threshold, each report the results of its own threshold: the
/// same as when they run one after the other.
#[test]
fn processes_running_one_scenario_with_different_values_each_get_their_own_results() {
    let thresholds = [
        "payment_threshold=500",
        "payment_threshold=1600",
        "payment_threshold=3000",
    ];
    let alone = tempfile::tempdir().unwrap();
    let expected: Vec<Json> = thresholds
        .iter()
        .map(|set| run_json(alone.path(), &["--set", set]))
        .collect();
    // Twice, on fresh stores: the more the runs overlap, the surer the test.
    for _ in 0..2 {
        let shared = tempfile::tempdir().unwrap();
        run_json(shared.path(), &[]);
        let data = sample();
        let children: Vec<_> = thresholds
            .iter()
            .map(|set| {
                Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
                    .args([
                        "run",
                        "--json",
                        "--data",
                        data.to_str().unwrap(),
                        "--set",
                        set,
                    ])
                    .arg("--store")
                    .arg(shared.path())
                    .env_remove("PIPELINE_STORE")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for ((set, child), expected) in thresholds.iter().zip(children).zip(&expected) {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{set}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: Json = serde_json::from_slice(&output.stdout).unwrap();
            let (got, want) = (&report["segment_result"], &expected["segment_result"]);
            for segment in 0..2 {
                assert_eq!(
                    got[segment]["HighSpender"], want[segment]["HighSpender"],
                    "{set}: another run's results"
                );
                close(
                    &got[segment]["TotalPurchaseAmount"],
                    want[segment]["TotalPurchaseAmount"].as_f64().unwrap(),
                );
            }
        }
    }
    assert_ne!(
        expected[0]["segment_result"][0]["HighSpender"],
        expected[2]["segment_result"][0]["HighSpender"],
        "the thresholds give different results"
    );
}

#[test]
fn a_non_numeric_cell_fails_the_task_naming_column_and_row_and_keeps_earlier_results() {
    let store = tempfile::tempdir().unwrap();
    let first = run_json(store.path(), &[]);
    let files = tempfile::tempdir().unwrap();
    let bad = write_csv(
        files.path(),
        "bad_cell.csv",
        "CustomerID,Age,Gender,Country,TotalPurchaseAmount,NumberOfPurchases,TotalPurchaseTime,AverageReviewScore\n\
         1,30,Male,France,100.5,2,10,4.5\n\
         2,31,Female,Spain,lots,3,12,3.5\n",
    );
    let output = cli(
        store.path(),
        &["run", "--json", "--data", bad.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    let report: Json =
        serde_json::from_slice(&output.stdout).expect("one JSON object even on failure");
    assert_eq!(
        statuses(&report),
        ["failed", "abandoned", "abandoned", "abandoned"]
    );
    let error = report["jobs"][0]["error"].as_str().unwrap();
    for needle in ["TotalPurchaseAmount", "bad_cell.csv", "lots", "line 3"] {
        assert!(error.contains(needle), "{needle:?} not in {error}");
    }
    // What to fix comes first: the output, then the reader's own message.
    assert!(
        error.starts_with("output `scored_df`: csv file `"),
        "{error}"
    );
    assert_eq!(
        report["error"].as_str(),
        Some(&*format!("task `preprocess_and_score` failed: {error}"))
    );
    // Back on the good file, the earlier outputs are still current: nothing runs.
    let back = run_json(store.path(), &[]);
    assert_eq!(statuses(&back), ["skipped"; 4]);
    assert_eq!(back["segment_result"], first["segment_result"]);
}
