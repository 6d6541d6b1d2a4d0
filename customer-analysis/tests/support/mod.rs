//! Helpers of the `cli*` tests: the binary as a new process on a store, and
//! the store's state as a user could see it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pipeline_core::Runtime;
use pipeline_core::store::SqliteOptions;
use pipeline_core::store::{Owner, SlotKey};
use serde_json::Value as Json;

pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/SMALL_amazon_customers_data.csv")
}

pub fn cli(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_customer-analysis"))
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("PIPELINE_STORE")
        .output()
        .expect("the binary runs")
}

pub fn run_json(store: &Path, extra: &[&str]) -> Json {
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

pub fn statuses(report: &Json) -> Vec<String> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["status"].as_str().unwrap().to_owned())
        .collect()
}

pub fn close(actual: &Json, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

/// Everything a user could see of the store: scenarios, their submissions and
/// every node's versions.
pub fn state(store: &Path) -> Vec<String> {
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
pub fn fails_with(store: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    let output = cli(store, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    stderr
}

/// Bad input: exit code 2, `needles` in the message, the store as it was.
pub fn refused(store: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = state(store);
    let stderr = fails_with(store, args, 2, needles);
    assert_eq!(state(store), before, "{args:?} changed the store");
    stderr
}

pub fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Holds the lock of scenario #1 as another process would (its pid written).
pub fn hold_scenario_lock(store: &Path) -> std::fs::File {
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
