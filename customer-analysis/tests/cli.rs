//! The `customer-analysis` binary end to end, as separate processes on one
//! store: the framework's command line (`pipeline_core::cli`) over the demo's
//! scenario type, plus its own `generate` and `tour`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use support::{cli, close, run_json, sample, statuses};

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

/// Each step of section 6, as a new process reusing the aggregations that
/// earlier processes recorded (partial results), gives what a fresh store
/// computes from scratch with the same values.
#[test]
fn each_step_gives_what_a_fresh_store_computes_for_the_same_values() {
    let store = tempfile::tempdir().unwrap();
    run_json(store.path(), &[]);
    let mut values: Vec<&str> = Vec::new();
    for set in [
        "payment_threshold=1600",
        "metric=median",
        "summary_statistic_type=max",
        "score_threshold=2.5",
        "payment_threshold=1000",
    ] {
        values.push(set);
        let step = run_json(store.path(), &["--set", set]);
        let fresh_store = tempfile::tempdir().unwrap();
        let args: Vec<&str> = values.iter().flat_map(|v| ["--set", *v]).collect();
        let fresh = run_json(fresh_store.path(), &args);
        same_numbers(&step["segment_result"], &fresh["segment_result"], set);
        same_numbers(
            &step["high_value_summary"],
            &fresh["high_value_summary"],
            set,
        );
    }
}

/// Equal JSON, numbers within 1e-9 relative (polars' streaming sums may
/// differ in the last bit from run to run, reused or not).
fn same_numbers(actual: &Json, expected: &Json, context: &str) {
    match (actual, expected) {
        (Json::Number(_), Json::Number(n)) => close(actual, n.as_f64().unwrap()),
        (Json::Array(a), Json::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{context}");
            a.iter()
                .zip(b)
                .for_each(|(a, b)| same_numbers(a, b, context));
        }
        (Json::Object(a), Json::Object(b)) => {
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{context}"
            );
            a.values()
                .zip(b.values())
                .for_each(|(a, b)| same_numbers(a, b, context));
        }
        _ => assert_eq!(actual, expected, "{context}"),
    }
}

/// `run --task` of the first task on a fresh store succeeds: the results the
/// demo reports (`segment_result`, `high_value_summary`) have no value yet,
/// and say so with `null` instead of failing the command.
#[test]
fn running_only_the_first_task_reports_results_without_values_as_null() {
    let store = tempfile::tempdir().unwrap();
    let report = run_json(store.path(), &["--task", "preprocess_and_score"]);
    assert_eq!(statuses(&report), ["completed"]);
    assert_eq!(report["segment_result"], Json::Null, "{report}");
    assert_eq!(report["high_value_summary"], Json::Null, "{report}");
    assert_eq!(report["results"]["segment_result"], Json::Null, "{report}");
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

    // Quoted names and an extra column: the same customers, the same results.
    let messy = dir.path().join("messy.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
        .args([
            "generate", "--rows", "500", "--seed", "7", "--messy", "--out",
        ])
        .arg(&messy)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = std::fs::read_to_string(&messy).unwrap();
    assert!(
        text.starts_with("CustomerID,Name,Age,") && text.contains(",\"") && text.contains(", "),
        "{text:.200}"
    );
    let from_messy = run_json(dir.path(), &["--data", messy.to_str().unwrap()]);
    assert_eq!(statuses(&from_messy)[0], "completed");
    let segments = |report: &Json| report["segment_result"].as_array().unwrap().clone();
    for (x, y) in segments(&report).iter().zip(&segments(&from_messy)) {
        assert_eq!(x["ValueSegment"], y["ValueSegment"]);
        assert_eq!(x["HighSpender"], y["HighSpender"]);
        close(
            &y["TotalPurchaseAmount"],
            x["TotalPurchaseAmount"].as_f64().unwrap(),
        );
    }
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

/// `gc --verify` hashes every stored file whatever reads trust, finds a
/// damaged one and moves it aside, so that its task runs again in the next
/// process; on an intact store it finds nothing.
#[test]
fn gc_verify_finds_a_damaged_file_and_its_producer_runs_again() {
    let store = tempfile::tempdir().unwrap();
    run_json(store.path(), &[]);
    let scored = std::fs::read_dir(store.path().join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::metadata(p).unwrap().len() > 16 * 1024)
        .expect("the scored frame's file");
    let clean = cli(store.path(), &["gc", "--verify", "--json"]);
    assert!(clean.status.success());
    let clean: Json = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(clean["damaged"], serde_json::json!([]), "{clean}");
    assert!(clean["values_checked"].as_u64().unwrap() >= 1, "{clean}");

    // Flip one byte in place, keeping the size and the modification time.
    let meta = std::fs::metadata(&scored).unwrap();
    let mut bytes = std::fs::read(&scored).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&scored)
        .unwrap();
    std::os::unix::fs::FileExt::write_at(&file, &bytes[middle..=middle], middle as u64).unwrap();
    file.set_modified(meta.modified().unwrap()).unwrap();
    drop(file);

    let verified = cli(store.path(), &["gc", "--verify", "--json"]);
    assert!(verified.status.success());
    let verified: Json = serde_json::from_slice(&verified.stdout).unwrap();
    let damaged = verified["damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{verified}");
    assert!(
        damaged[0]["damage"]
            .as_str()
            .unwrap()
            .contains("content hash"),
        "{verified}"
    );
    let again = run_json(store.path(), &[]);
    assert_eq!(statuses(&again)[0], "completed", "{again}");
}
