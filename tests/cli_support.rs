//! Helpers of the `cli*` tests: the `shipping` binary as a new process on a
//! store, and the store's state as a user could see it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use pipeline_core::Runtime;
use pipeline_core::store::SqliteOptions;
use pipeline_core::store::{Owner, SlotKey};
use serde_json::Value as Json;

pub const NODES: [&str; 7] = [
    "weights",
    "rounding",
    "price_per_kg",
    "currency",
    "billable",
    "quote",
    "heaviest",
];

/// `bin` (one of this package's binaries) with `args` on `store`, as a new
/// process that takes no store from the environment.
pub fn command_on(bin: &str, store: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("PIPELINE_STORE");
    command
}

/// [`command_on`] run to its end.
pub fn run_on(bin: &str, store: &Path, args: &[&str]) -> Output {
    command_on(bin, store, args)
        .output()
        .expect("the binary runs")
}

/// The stdout of `output` (of a command given `args`), which must have
/// succeeded.
pub fn stdout_of_success(args: &[&str], output: &Output) -> String {
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// `stdout` (of a command given `args`) as its one JSON object.
pub fn json_object(args: &[&str], stdout: &str) -> Json {
    let json: Json = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON object ({e}): {stdout}"));
    assert!(json.is_object(), "{json}");
    json
}

pub fn shipping_command(store: &Path, args: &[&str]) -> Command {
    command_on(env!("CARGO_BIN_EXE_shipping"), store, args)
}

pub fn shipping(store: &Path, args: &[&str]) -> Output {
    shipping_command(store, args)
        .output()
        .expect("the binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; its stdout.
pub fn ok(store: &Path, args: &[&str]) -> String {
    stdout_of_success(args, &shipping(store, args))
}

/// Runs a `--json` command that must succeed; its one JSON object.
pub fn ok_json(store: &Path, args: &[&str]) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    json_object(&args, &ok(store, &args))
}

pub fn statuses(report: &Json) -> Vec<&str> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["status"].as_str().unwrap())
        .collect()
}

/// Everything a user could see of the store: scenarios, their submissions
/// and every node's versions (`None`: there is no store).
pub fn state(store: &Path) -> Option<Vec<String>> {
    state_of(store, &NODES)
}

/// [`state`] of a store of another program, whose data nodes are `nodes`.
pub fn state_of(store: &Path, nodes: &[&str]) -> Option<Vec<String>> {
    if !store.join("pipeline.db").exists() {
        return None;
    }
    let runtime = Runtime::open_with(store, SqliteOptions::new().quiet(true)).unwrap();
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
        for &node in nodes {
            let slot = SlotKey {
                owner: Owner::Scenario(meta.id),
                node: node.into(),
            };
            for version in runtime.store().history(&slot).unwrap() {
                lines.push(format!(
                    "  {node} v{} {}",
                    version.version, version.fingerprint
                ));
            }
        }
    }
    Some(lines)
}

/// The stderr of `output` (of a command given `args`), which must have
/// been refused: exit code 2, `needles` in its message.
pub fn stderr_of_refusal(args: &[&str], output: &Output, needles: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    stderr
}

/// What `bin --version` prints; it must succeed.
pub fn version_of(bin: &str) -> String {
    let output = Command::new(bin).arg("--version").output().unwrap();
    assert!(output.status.success());
    text(&output.stdout)
}

/// Runs a command that must be refused: exit code 2, `needles` in its
/// message, the store as it was.
pub fn refused(store: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = state(store);
    let stderr = stderr_of_refusal(args, &shipping(store, args), needles);
    assert_eq!(state(store), before, "{args:?} changed the store");
    stderr
}

/// Holds the lock of scenario #1 as another process would (its pid written).
pub fn hold_scenario_lock(store: &Path) -> std::fs::File {
    let path = store.join("locks").join("scenario-1.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    file.lock().unwrap();
    use std::io::Write;
    writeln!(file, "{:<10}", std::process::id()).unwrap();
    file
}
