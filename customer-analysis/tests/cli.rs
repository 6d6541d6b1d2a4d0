//! The `customer-analysis` binary end to end, as separate processes on one
//! store: the framework's command line (`pipeline_core::cli`) over the demo's
//! scenario type, plus its own `generate` and `tour`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pipeline_core::store::{Owner, SlotKey};
use pipeline_core::{Runtime, SqliteOptions};
use serde_json::Value as Json;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv")
}

fn cli(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("PIPELINE_STORE")
        .output()
        .expect("the binary runs")
}

fn run_json(store: &Path, extra: &[&str]) -> Json {
    let data = sample();
    let mut args = vec!["run", "--json"];
    if !extra.contains(&"--data") {
        args.extend(["--data", data.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    let output = cli(store, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON object")
}

fn statuses(report: &Json) -> Vec<String> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["status"].as_str().unwrap().to_owned())
        .collect()
}

fn close(actual: &Json, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

/// Expected values computed independently of this code base (Python's csv and
/// statistics modules over the same file): per segment, mean of each measure
/// and the HighSpender count; High Value median amount and median score.
#[test]
fn default_run_matches_an_independent_computation() {
    let store = tempfile::tempdir().unwrap();
    let report = run_json(store.path(), &[]);
    assert_eq!(report["scenario"], "default");
    assert_eq!(statuses(&report), ["completed"; 4]);
    let segments = report["segment_result"].as_array().unwrap();
    let high = &segments[0];
    assert_eq!(high["ValueSegment"], "High Value");
    close(&high["CUSTOMER_SCORE"], 3.494818374496502);
    close(&high["TotalPurchaseAmount"], 2619.064351282595);
    close(&high["NumberOfPurchases"], 52.64797540809837);
    close(&high["TotalPurchaseTime"], 501.2754928980284);
    close(&high["AverageTimeBetweenPurchases"], 21.76633932101361);
    assert_eq!(high["HighSpender"], 7900);
    let low = &segments[1];
    assert_eq!(low["ValueSegment"], "Low Value");
    close(&low["CUSTOMER_SCORE"], 1.1612471466431096);
    close(&low["TotalPurchaseAmount"], 673.0243286219081);
    assert_eq!(low["HighSpender"], 143);
    let summary = &report["high_value_summary"];
    assert_eq!(summary["SummaryStatisticType"], "median");
    close(&summary["AveragePurchaseHighValue"], 2652.875);
    close(&summary["MedianScoreHighValue"], 3.4607725);
    close(&summary["SegmentAnalysisHighValue"], 2619.064351282595);
}

#[test]
fn seed_section_six_as_separate_processes_skips_what_did_not_change() {
    let store = tempfile::tempdir().unwrap();
    let ran = "completed";
    let skipped = "skipped";
    assert_eq!(statuses(&run_json(store.path(), &[])), [ran, ran, ran, ran]);
    assert_eq!(
        statuses(&run_json(
            store.path(),
            &["--set", "payment_threshold=1600"]
        )),
        [skipped, ran, ran, ran]
    );
    assert_eq!(
        statuses(&run_json(store.path(), &["--set", "metric=median"])),
        [skipped, skipped, ran, ran]
    );
    let max = run_json(store.path(), &["--set", "summary_statistic_type=max"]);
    assert_eq!(statuses(&max), [skipped, skipped, skipped, ran]);
    close(
        &max["high_value_summary"]["AveragePurchaseHighValue"],
        4998.61,
    );
    assert_eq!(statuses(&run_json(store.path(), &[])), [skipped; 4]);
    assert_eq!(statuses(&run_json(store.path(), &["--force"])), [ran; 4]);
}

/// `segmented_customer_df` is stored as a view over `scored_df`'s file, not
/// as a second copy of every row; a new process reads it through the store and
/// gets the same numbers as the independent computation above.
#[test]
fn the_segmented_frame_is_a_view_that_a_new_process_reads() {
    let store = tempfile::tempdir().unwrap();
    run_json(store.path(), &[]);
    let frames: Vec<PathBuf> = std::fs::read_dir(store.path().join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| std::fs::metadata(p).unwrap().len() > 16 * 1024)
        .collect();
    assert_eq!(frames.len(), 1, "only scored_df is large: {frames:?}");

    // A new process re-runs the tasks that read the view.
    let again = run_json(store.path(), &["--set", "metric=max"]);
    assert_eq!(
        statuses(&again),
        ["skipped", "skipped", "completed", "completed"]
    );
    let high = &again["segment_result"][0];
    assert_eq!(high["ValueSegment"], "High Value");
    assert_eq!(high["HighSpender"], 7900);
    assert_eq!(again["segment_result"][1]["HighSpender"], 143);
    let summary = &again["high_value_summary"];
    close(&summary["AveragePurchaseHighValue"], 2652.875);
    close(&summary["MedianScoreHighValue"], 3.4607725);
}

/// With frames kept decoded in memory (the default: Task 1 keeps what it
/// writes, a new process decodes the scored file once for Tasks 3 and 4) and
/// without (`--frame-memory 0`: every task streams the file), each step of the
/// seed's section 6 gives the same results.
#[test]
fn keeping_frames_in_memory_changes_no_result() {
    let kept = tempfile::tempdir().unwrap();
    let streamed = tempfile::tempdir().unwrap();
    for set in [
        "payment_threshold=1000",
        "payment_threshold=1600",
        "metric=median",
        "summary_statistic_type=max",
        "metric=min",
    ] {
        let a = run_json(kept.path(), &["--set", set]);
        let b = run_json(streamed.path(), &["--set", set, "--frame-memory", "0"]);
        assert_eq!(statuses(&a), statuses(&b), "{set}");
        let (a_rows, b_rows) = (
            a["segment_result"].as_array().unwrap(),
            b["segment_result"].as_array().unwrap(),
        );
        assert_eq!(a_rows.len(), b_rows.len(), "{set}");
        for (a_row, b_row) in a_rows.iter().zip(b_rows) {
            for (key, value) in a_row.as_object().unwrap() {
                match value.as_f64() {
                    Some(x) => close(&b_row[key], x),
                    None => assert_eq!(&b_row[key], value, "{set} {key}"),
                }
            }
        }
        for (key, value) in a["high_value_summary"].as_object().unwrap() {
            match value.as_f64() {
                Some(x) => close(&b["high_value_summary"][key], x),
                None => assert_eq!(&b["high_value_summary"][key], value, "{set} {key}"),
            }
        }
    }
}

#[test]
fn the_toml_scenario_is_the_same_scenario_as_the_macro_one() {
    let store = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/customer_analysis.toml");
    let from_macro = run_json(store.path(), &[]);
    let from_toml = run_json(store.path(), &["--config", config.to_str().unwrap()]);
    assert_eq!(statuses(&from_toml), ["skipped"; 4]);
    assert_eq!(from_toml["segment_result"], from_macro["segment_result"]);
    let other = tempfile::tempdir().unwrap();
    let fresh = run_json(other.path(), &["--config", config.to_str().unwrap()]);
    assert_eq!(statuses(&fresh), ["completed"; 4]);
    // Equal up to float summation order (polars aggregates in parallel).
    for field in [
        "AveragePurchaseHighValue",
        "MedianScoreHighValue",
        "SegmentAnalysisHighValue",
    ] {
        close(
            &fresh["high_value_summary"][field],
            from_macro["high_value_summary"][field].as_f64().unwrap(),
        );
    }
}

/// Everything a user could see of the store: scenarios, their submissions and
/// every node's versions.
fn state(store: &Path) -> Vec<String> {
    let runtime = Runtime::open_with(store, SqliteOptions::new().quiet(true)).unwrap();
    let graph = customer_analysis::pipeline::CustomerAnalysis::graph();
    let mut lines = Vec::new();
    for meta in runtime.scenarios().unwrap() {
        lines.push(format!("{meta:?}"));
        for submission in runtime.store().submissions(meta.id).unwrap() {
            let jobs: Vec<String> = submission
                .jobs
                .iter()
                .map(|j| format!("{}={}", j.task, j.status))
                .collect();
            lines.push(format!("  submission {} {}", submission.id, jobs.join(" ")));
        }
        for node in graph.nodes() {
            let slot = SlotKey {
                owner: Owner::Scenario(meta.id),
                node: node.name_arc().clone(),
            };
            for version in runtime.store().history(&slot).unwrap() {
                lines.push(format!(
                    "  {} v{} {}",
                    node.name(),
                    version.version,
                    version.fingerprint
                ));
            }
        }
    }
    lines
}

/// A command that fails with `code`, `needles` in its message.
fn fails_with(store: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    let output = cli(store, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    stderr
}

/// Bad input: exit code 2, `needles` in the message, the store as it was.
fn refused(store: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = state(store);
    let stderr = fails_with(store, args, 2, needles);
    assert_eq!(state(store), before, "{args:?} changed the store");
    stderr
}

fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

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

/// Holds the lock of scenario #1 as another process would (its pid written).
fn hold_scenario_lock(store: &Path) -> std::fs::File {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store.join("locks").join("scenario-1.lock"))
        .unwrap();
    file.lock().unwrap();
    std::io::Write::write_all(
        &mut file,
        format!("{:<10}\n", std::process::id()).as_bytes(),
    )
    .unwrap();
    file
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
    // Back on the good file, the earlier outputs are still current: nothing runs.
    let back = run_json(store.path(), &[]);
    assert_eq!(statuses(&back), ["skipped"; 4]);
    assert_eq!(back["segment_result"], first["segment_result"]);
}

#[test]
fn every_command_answers_on_the_demo() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    run_json(dir, &[]);
    run_json(dir, &["--scenario", "strict", "--set", "score_threshold=3"]);
    let ok = |args: &[&str]| -> String {
        let output = cli(dir, args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let ok_json = |args: &[&str]| -> Json {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&ok(&args)).expect("one JSON object")
    };

    let history = ok_json(&["history"]);
    assert!(history.to_string().contains("preprocess_and_score"));
    let lineage = ok(&["lineage", "high_value_summary_df"]);
    for needle in [
        "high_value_cust_summary_statistics",
        "segment_analysis",
        "path_to_data",
    ] {
        assert!(lineage.contains(needle), "{needle:?} not in {lineage}");
    }
    let compare = ok(&["compare", "default", "strict"]);
    assert!(compare.contains("score_threshold"), "{compare}");

    // Values: a parameter as its text, a data frame as a small table.
    assert_eq!(ok(&["get", "metric"]), "mean\n");
    assert_eq!(
        ok(&["get", "score_threshold", "--scenario", "strict"]),
        "3\n"
    );
    let table = ok(&["get", "segment_result"]);
    assert!(
        table.contains("ValueSegment") && table.contains("High Value"),
        "{table}"
    );
    let frame = ok_json(&["get", "high_value_summary_df"]);
    assert_eq!(frame["value"]["row_count"], 1);
    assert_eq!(frame["value"]["rows"][0]["SummaryStatisticType"], "median");
    let first_row = ok(&["get", "segment_result", "--rows", "1"]);
    assert!(
        first_row.contains("High Value") && !first_row.contains("Low Value"),
        "{first_row}"
    );
    assert!(first_row.contains("2 rows in all (1 shown)"), "{first_row}");

    let set = ok_json(&["set", "metric=median", "--scenario", "strict"]);
    assert_eq!(set["written"][0]["changed"], true);
    let rerun = run_json(dir, &["--scenario", "strict"]);
    assert_eq!(
        statuses(&rerun),
        ["skipped", "skipped", "completed", "completed"]
    );

    let listed = ok_json(&["list"]);
    let names: Vec<&str> = listed["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "strict"]);
    ok(&["scenario", "create", "draft", "--tag", "q3"]);
    ok(&["scenario", "tag", "draft", "review"]);
    ok(&["scenario", "rename", "draft", "final"]);
    let tagged = ok_json(&["list", "--tag", "review"]);
    assert_eq!(tagged["scenarios"][0]["name"], "final");
    ok(&["scenario", "delete", "final"]);
    assert!(ok_json(&["gc"])["values_removed"].is_u64());

    let unknown = cli(dir, &["lineage", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));

    for format in ["mermaid", "dot", "toml"] {
        let output = Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
            .args(["graph", "--format", format])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("preprocess_and_score"));
    }
}

#[test]
fn run_prints_jobs_with_reasons_and_the_results_as_tables() {
    let store = tempfile::tempdir().unwrap();
    run_json(store.path(), &[]);
    let output = cli(store.path(), &["run", "--set", "metric=median"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "scenario `default`",
        "set metric (version 2)",
        "reason",
        "preprocess_and_score",
        "up to date",
        "segment_result (version 2):",
        "ValueSegment",
        "high_value_summary_df (version 2):",
        "SummaryStatisticType",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
}

#[test]
fn every_subcommand_has_help() {
    let store = tempfile::tempdir().unwrap();
    for command in [
        "run", "get", "set", "list", "scenario", "generate", "tour", "history", "lineage",
        "compare", "graph", "gc",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{command} --help");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{command}"
        );
    }
    let _ = store;
}

#[test]
fn generate_is_deterministic_and_feeds_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    for path in [&a, &b] {
        let output = Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
            .args(["generate", "--rows", "500", "--seed", "7", "--out"])
            .arg(path)
            .output()
            .unwrap();
        assert!(output.status.success());
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let report = run_json(dir.path(), &["--data", a.to_str().unwrap()]);
    assert_eq!(statuses(&report), ["completed"; 4]);
}

#[test]
fn tour_json_reports_every_step_with_statuses_and_results() {
    let store = tempfile::tempdir().unwrap();
    let output = cli(
        store.path(),
        &["tour", "--json", "--data", sample().to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Json =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON object");
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "full run",
            "payment_threshold = 1600",
            "metric = median",
            "summary_statistic_type = max",
            "unchanged re-submit",
        ]
    );
    let (c, s) = ("completed", "skipped");
    let expected = [
        [c, c, c, c],
        [s, c, c, c],
        [s, s, c, c],
        [s, s, s, c],
        [s; 4],
    ];
    for (step, pattern) in steps.iter().zip(expected) {
        assert!(step["seconds"].as_f64().unwrap() >= 0.0);
        assert_eq!(statuses(step), pattern, "{}", step["name"]);
        assert_eq!(step["jobs"][0]["task"], "preprocess_and_score");
    }
    // The results after the full run are those of a plain `run` (checked
    // against an independent computation above); after the last step the
    // summary is the maximum over the High Value customers.
    close(
        &steps[0]["segment_result"][0]["TotalPurchaseAmount"],
        2619.064351282595,
    );
    assert_eq!(steps[0]["segment_result"][0]["HighSpender"], 7900);
    assert_eq!(
        steps[0]["high_value_summary"]["SummaryStatisticType"],
        "median"
    );
    let last = &steps[4]["high_value_summary"];
    assert_eq!(last["SummaryStatisticType"], "max");
    close(&last["AveragePurchaseHighValue"], 4998.61);
    close(&last["SegmentAnalysisHighValue"], 2652.875);
}
