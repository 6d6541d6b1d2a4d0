//! The framework's command line (`pipeline_core::cli`) end to end on
//! pipeline-core's `shipping` example: every command as a new process on one
//! store, every bad input with its exit code, its message and an unchanged
//! store, the lock between processes, and processes running one scenario
//! with different values at once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pipeline_core::store::{Owner, SlotKey};
use pipeline_core::{Runtime, SqliteOptions};
use serde_json::{Value as Json, json};

const NODES: [&str; 7] = [
    "weights",
    "rounding",
    "price_per_kg",
    "currency",
    "billable",
    "quote",
    "heaviest",
];

fn shipping_command(store: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shipping"));
    command
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("PIPELINE_STORE");
    command
}

fn shipping(store: &Path, args: &[&str]) -> Output {
    shipping_command(store, args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; its stdout.
fn ok(store: &Path, args: &[&str]) -> String {
    let output = shipping(store, args);
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Runs a `--json` command that must succeed; its one JSON object.
fn ok_json(store: &Path, args: &[&str]) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    let stdout = ok(store, &args);
    let json: Json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON object ({e}): {stdout}"));
    assert!(json.is_object(), "{json}");
    json
}

fn statuses(report: &Json) -> Vec<&str> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["status"].as_str().unwrap())
        .collect()
}

/// Everything a user could see of the store: scenarios, their submissions
/// and every node's versions (`None`: there is no store).
fn state(store: &Path) -> Option<Vec<String>> {
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
        for node in NODES {
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

/// Runs a command that must be refused: exit code 2, `needles` in its
/// message, the store as it was.
fn refused(store: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = state(store);
    let output = shipping(store, args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    assert_eq!(state(store), before, "{args:?} changed the store");
    stderr
}

#[test]
fn run_computes_skips_and_reads_values_from_the_command_line() {
    let store = tempfile::tempdir().unwrap();
    let first = ok_json(store.path(), &["run"]);
    assert_eq!(first["scenario"], "default");
    assert_eq!(first["type"], "Shipping");
    assert_eq!(statuses(&first), ["completed"; 3]);
    // 1.2, 0.4 and 3.5 kg up to the kilo: 2 + 1 + 4 = 7 kg at 4.5.
    assert_eq!(
        first["results"]["quote"]["value"],
        json!({"parcels": 3, "kilograms": 7.0, "total": 31.5, "currency": "EUR"})
    );
    assert_eq!(first["results"]["heaviest"]["value"], 4.0);

    // JSON for a Vec, a bare word for a serde enum, FromStr for f64 and String.
    let second = ok_json(
        store.path(),
        &[
            "run",
            "--set",
            "weights=[2.5, 0.3]",
            "--set",
            "rounding=exact",
            "--set",
            "currency=CHF",
        ],
    );
    assert_eq!(statuses(&second), ["completed"; 3]);
    assert_eq!(
        second["results"]["quote"]["value"],
        json!({"parcels": 2, "kilograms": 2.8, "total": 12.6, "currency": "CHF"})
    );
    let written: Vec<&str> = second["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["node"].as_str().unwrap())
        .collect();
    assert_eq!(written, ["weights", "rounding", "currency"]);

    // Only the price changed: the weights are not billed again.
    let third = ok_json(store.path(), &["run", "--set", "price_per_kg=5"]);
    assert_eq!(statuses(&third), ["skipped", "completed", "skipped"]);
    assert_eq!(third["jobs"][0]["reason"], "up to date");
    assert_eq!(third["results"]["quote"]["value"]["total"], 14.0);

    let forced = ok_json(store.path(), &["run", "--force"]);
    assert_eq!(statuses(&forced), ["completed"; 3]);
    assert_eq!(forced["jobs"][1]["reason"], "forced");

    let table = ok(store.path(), &["run"]);
    for needle in [
        "scenario `default`",
        "task",
        "status",
        "seconds",
        "reason",
        "billable_weights",
        "up to date",
        "quote (version",
        "\"total\":14.0",
    ] {
        assert!(table.contains(needle), "{needle:?} not in {table}");
    }
}

#[test]
fn a_sequence_or_one_task_runs_alone() {
    let store = tempfile::tempdir().unwrap();
    let weighing = ok_json(store.path(), &["run", "--sequence", "weighing"]);
    let tasks: Vec<&str> = weighing["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["billable_weights", "heaviest_parcel"]);
    assert_eq!(weighing["results"]["quote"], Json::Null, "not computed");
    let one = ok_json(store.path(), &["run", "--task", "price_quote"]);
    assert_eq!(statuses(&one), ["completed"]);
    assert_eq!(one["target"], "task price_quote");
    assert_eq!(one["results"]["quote"]["value"]["total"], 31.5);
}

#[test]
fn get_set_list_scenario_history_lineage_compare_graph_and_gc_answer() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    ok(dir, &["run"]);

    assert_eq!(ok(dir, &["get", "price_per_kg"]), "4.5\n");
    assert_eq!(ok(dir, &["get", "rounding"]), "up_to_kilo\n");
    let quote = ok_json(dir, &["get", "quote"]);
    assert_eq!(quote["value"]["total"], 31.5);
    assert_eq!(quote["version"], 1);
    assert_eq!(quote["written_by"]["task"], "price_quote");

    let set = ok_json(dir, &["set", "price_per_kg=6", "currency=USD"]);
    assert_eq!(
        set["written"],
        json!([
            {"node": "price_per_kg", "version": 2, "changed": true},
            {"node": "currency", "version": 2, "changed": true},
        ])
    );
    let again = ok_json(dir, &["set", "price_per_kg=6"]);
    assert_eq!(again["written"][0]["changed"], false);
    assert_eq!(ok(dir, &["get", "price_per_kg"]), "6\n");
    assert_eq!(ok(dir, &["get", "price_per_kg", "--version", "1"]), "4.5\n");
    // `set` ran nothing: the quote is still the first one.
    assert_eq!(ok_json(dir, &["get", "quote"])["value"]["total"], 31.5);

    let created = ok_json(dir, &["scenario", "create", "express", "--tag", "2025"]);
    assert_eq!(created["action"], "created");
    assert_eq!(created["tags"], json!(["2025"]));
    ok(dir, &["scenario", "tag", "express", "fast", "air"]);
    ok(dir, &["scenario", "tag", "express", "air", "--remove"]);
    ok(
        dir,
        &["run", "--scenario", "express", "--set", "price_per_kg=9"],
    );
    let listed = ok_json(dir, &["list"]);
    let rows: Vec<(String, String, Json)> = listed["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["last_status"].to_string(),
                s["tags"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("default".to_owned(), "\"completed\"".to_owned(), json!([])),
            (
                "express".to_owned(),
                "\"completed\"".to_owned(),
                json!(["2025", "fast"])
            ),
        ]
    );
    let tagged = ok_json(dir, &["list", "--tag", "fast"]);
    assert_eq!(tagged["scenarios"].as_array().unwrap().len(), 1);
    let table = ok(dir, &["list"]);
    assert!(
        table.contains("last status") && table.contains("express"),
        "{table}"
    );

    let history = ok_json(dir, &["history"]);
    assert_eq!(history["submissions"].as_array().unwrap().len(), 1);
    assert!(ok(dir, &["history"]).contains("price_quote"));
    let versions = ok_json(dir, &["history", "price_per_kg"]);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);

    let lineage = ok_json(dir, &["lineage", "quote", "--scenario", "express"]);
    let inputs: Vec<&str> = lineage["lineage"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["node"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["billable", "price_per_kg", "currency"]);
    assert!(ok(dir, &["lineage", "quote"]).contains("billable"));

    let comparison = ok_json(
        dir,
        &["compare", "default", "express", "--node", "price_per_kg"],
    );
    assert_eq!(comparison["nodes"][0]["equal"], false);
    assert!(ok(dir, &["compare", "default", "express"]).contains("price_per_kg"));

    assert!(ok(dir, &["graph"]).starts_with("flowchart"));
    assert!(ok(dir, &["graph", "--format", "dot"]).contains("digraph"));

    ok(dir, &["scenario", "rename", "express", "overnight"]);
    ok(dir, &["scenario", "delete", "overnight"]);
    let gc = ok_json(dir, &["gc"]);
    assert!(gc["values_removed"].as_u64().unwrap() >= 1, "{gc}");
    assert_eq!(
        ok_json(dir, &["list"])["scenarios"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_failed_task_exits_1_with_one_json_object_and_keeps_earlier_results() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run"]);
    let output = shipping(store.path(), &["run", "--json", "--set", "weights=[1, 0]"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(statuses(&report), ["failed", "abandoned", "abandoned"]);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("a parcel weighs 0 kg")
    );
    assert!(text(&output.stderr).contains("error: task `billable_weights` failed"));
    assert_eq!(
        ok_json(store.path(), &["get", "quote"])["value"]["total"],
        31.5
    );
}

#[test]
fn bad_inputs_exit_2_name_what_is_wrong_and_leave_the_store_as_it_was() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    ok(dir, &["run"]);
    ok(dir, &["scenario", "create", "empty"]);

    refused(
        dir,
        &["run", "--set", "weight=[1]"],
        &["no data node `weight`", "settable nodes: weights, rounding"],
    );
    refused(
        dir,
        &["run", "--set", "quote=1"],
        &["`quote` is computed by task `price_quote`"],
    );
    // The node, its type, and a valid value (the node's current one).
    refused(
        dir,
        &["run", "--set", "price_per_kg=cheap"],
        &[
            "data node `price_per_kg` takes a f64",
            "\"cheap\" is not one",
            "for example --set price_per_kg=4.5",
        ],
    );
    refused(
        dir,
        &["run", "--set", "weights=1.5, 2"],
        &[
            "takes a Vec<f64>",
            "for example --set weights='[1.2,0.4,3.5]'",
        ],
    );
    refused(
        dir,
        &["set", "rounding=nearest"],
        &[
            "takes a Rounding",
            "expected `exact` or `up_to_kilo`",
            "set rounding=up_to_kilo",
        ],
    );
    refused(
        dir,
        &["run", "--set", "price_per_kg=-1"],
        &["--set price_per_kg=-1: a price per kg is a number >= 0, not -1"],
    );
    // All or nothing: the good value before the bad one is not written either.
    refused(
        dir,
        &["run", "--set", "currency=USD", "--set", "price_per_kg=x"],
        &["price_per_kg"],
    );
    refused(dir, &["run", "--set", "currency"], &["expected NODE=VALUE"]);
    refused(
        dir,
        &["run", "--task", "weigh"],
        &["no task `weigh`", "billable_weights"],
    );
    refused(
        dir,
        &["run", "--sequence", "pricing"],
        &["no sequence `pricing`", "weighing"],
    );
    refused(
        dir,
        &["get", "cost"],
        &["no data node `cost`", "its data nodes: weights"],
    );
    refused(
        dir,
        &["get", "quote", "--scenario", "empty"],
        &["data node `quote` has no value yet"],
    );
    refused(
        dir,
        &["get", "quote", "--version", "9"],
        &["has no version 9"],
    );
    for args in [
        &["get", "quote", "--scenario", "nope"][..],
        &["history", "--scenario", "nope"],
        &["lineage", "quote", "--scenario", "nope"],
        &["compare", "default", "nope"],
        &["scenario", "delete", "nope"],
        &["run", "--scenario", "#42"],
    ] {
        refused(dir, args, &["no scenario"]);
    }
    refused(
        dir,
        &["scenario", "create", "empty"],
        &["a `Shipping` scenario called `empty` exists already"],
    );
    refused(
        dir,
        &["--config", "/no/such/shipping.toml", "run"],
        &["/no/such/shipping.toml", "cannot read the configuration"],
    );
    refused(
        dir,
        &["run", "--type", "Trucking"],
        &["unknown scenario type", "Shipping"],
    );
    refused(dir, &["run", "--lock-timeout=-1"], &["--lock-timeout -1"]);
    // Usage errors the argument parser finds.
    refused(dir, &["run", "--sets", "x=1"], &["--sets"]);
    refused(dir, &["frobnicate"], &["frobnicate"]);
    refused(dir, &["compare", "default"], &["SCENARIO"]);

    // With --json, stdout still holds exactly one JSON object.
    let output = shipping(dir, &["get", "cost", "--json"]);
    let error: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["exit_code"], 2);
    assert!(error["error"].as_str().unwrap().contains("cost"));

    // A read-only command on a directory without a store creates none.
    let empty = tempfile::tempdir().unwrap();
    let nowhere = empty.path().join("store");
    refused(&nowhere, &["list"], &["no store in"]);
    refused(&nowhere, &["run", "--set", "weights=oops"], &["weights"]);
    assert!(!nowhere.exists(), "a refused run creates no store");
}

#[test]
fn every_command_has_help() {
    let store = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 15] = [
        &[],
        &["run"],
        &["get"],
        &["set"],
        &["list"],
        &["scenario"],
        &["scenario", "create"],
        &["scenario", "tag"],
        &["scenario", "rename"],
        &["scenario", "delete"],
        &["history"],
        &["lineage"],
        &["compare"],
        &["graph"],
        &["gc"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = ok(store.path(), &args);
        assert!(help.contains("Usage: shipping"), "{command:?}: {help}");
        assert!(help.contains("--store <DIR>"), "{command:?}: {help}");
    }
    assert!(!store.path().join("pipeline.db").exists());
}

#[test]
fn store_and_scenario_come_from_flags_or_the_environment() {
    let work = tempfile::tempdir().unwrap();
    let from_env = work.path().join("env-store");
    let output = Command::new(env!("CARGO_BIN_EXE_shipping"))
        .args(["run", "--scenario", "weekend", "--json"])
        .env("PIPELINE_STORE", &from_env)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(from_env.join("pipeline.db").exists());
    let listed = ok_json(&from_env, &["list"]);
    assert_eq!(listed["scenarios"][0]["name"], "weekend");
}

/// The type exported as TOML and read back with `--config` is the same type:
/// its scenarios skip what the built-in type computed.
#[test]
fn the_exported_toml_is_the_same_scenario_type() {
    let store = tempfile::tempdir().unwrap();
    let toml = ok(store.path(), &["graph", "--format", "toml"]);
    assert!(toml.contains("default = [1.2, 0.4, 3.5]"), "{toml}");
    assert!(toml.contains("default = \"up_to_kilo\""), "{toml}");
    let config = store.path().join("shipping.toml");
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let built_in = ok_json(store.path(), &["run"]);
    let from_toml = ok_json(store.path(), &["--config", config, "run"]);
    assert_eq!(statuses(&from_toml), ["skipped"; 3]);
    assert_eq!(from_toml["results"], built_in["results"]);
}

/// A TOML file declaring another type with the binary's `#[task]`s (its
/// defaults in their JSON form), read with `--config`.
#[test]
fn a_toml_declared_scenario_runs_with_config() {
    let store = tempfile::tempdir().unwrap();
    let config = store.path().join("express.toml");
    std::fs::write(
        &config,
        r#"
[DATA_NODE.weights]
type = "Vec<f64>"
default = [0.5, 1.5]

[DATA_NODE.rounding]
type = "Rounding"
default = "up_to_kilo"

[DATA_NODE.price_per_kg]
type = "f64"
default = 9.0

[DATA_NODE.currency]
type = "String"
default = "GBP"

[DATA_NODE.billable]
type = "Vec<f64>"

[DATA_NODE.quote]
type = "Quote"

[TASK.billable_weights]
function = "billable_weights"
inputs = ["weights", "rounding"]
outputs = ["billable"]
skippable = true

[TASK.price_quote]
function = "price_quote"
inputs = ["billable", "price_per_kg", "currency"]
outputs = ["quote"]
skippable = true

[SCENARIO.Express]
tasks = ["billable_weights", "price_quote"]

[SCENARIO.Overnight]
tasks = ["billable_weights"]
"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    refused(
        store.path(),
        &["--config", config, "run"],
        &["several scenario types (Express, Overnight): choose one with --type"],
    );
    let report = ok_json(
        store.path(),
        &["--config", config, "--type", "Express", "run"],
    );
    assert_eq!(report["type"], "Express");
    assert_eq!(
        report["results"]["quote"]["value"],
        json!({"parcels": 2, "kilograms": 3.0, "total": 27.0, "currency": "GBP"})
    );
    let exact = ok_json(
        store.path(),
        &[
            "--config",
            config,
            "--type",
            "Express",
            "run",
            "--set",
            "rounding=exact",
        ],
    );
    assert_eq!(exact["results"]["quote"]["value"]["total"], 18.0);
    assert_eq!(
        ok(store.path(), &["--config", config, "get", "rounding"]),
        "exact\n"
    );
    // Without the file the program does not know the type.
    refused(
        store.path(),
        &["get", "quote"],
        &[
            "of type `Express`, which this program does not know",
            "--config",
        ],
    );
}

/// Holds the lock of scenario #1 as another process would (its pid written).
fn hold_scenario_lock(store: &Path) -> std::fs::File {
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

#[test]
fn a_locked_scenario_is_waited_for_with_a_message_or_refused_with_a_timeout() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run"]);
    let held = hold_scenario_lock(store.path());

    let stderr = refused(
        store.path(),
        &["run", "--lock-timeout", "0", "--set", "price_per_kg=7"],
        &["scenario #1 is locked by process", "scenario-1.lock"],
    );
    assert!(stderr.contains(&std::process::id().to_string()), "{stderr}");

    let mut waiting = shipping_command(store.path(), &["run", "--json", "--set", "price_per_kg=7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(waiting.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with(&format!(
            "shipping: waiting for process {}, which is working on scenario #1",
            std::process::id()
        )),
        "{line}"
    );
    drop(held);
    let output = waiting.wait_with_output().unwrap();
    assert!(output.status.success());
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["results"]["quote"]["value"]["total"], 49.0);
}

#[test]
fn processes_running_one_scenario_with_different_values_each_get_their_own_results() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run", "--set", "rounding=exact"]);
    for round in 0..4 {
        let children: Vec<(u32, std::process::Child)> = (1..=3)
            .map(|kg| {
                let weights = format!("weights=[{kg}]");
                let child = shipping_command(store.path(), &["run", "--json", "--set", &weights])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (kg, child)
            })
            .collect();
        for (kg, child) in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}, {kg} kg: {}",
                text(&output.stderr)
            );
            let report: Json = serde_json::from_slice(&output.stdout).unwrap();
            let quote = &report["results"]["quote"]["value"];
            assert_eq!(quote["kilograms"], f64::from(kg), "round {round}: {report}");
            assert_eq!(
                quote["total"],
                f64::from(kg) * 4.5,
                "round {round}: {report}"
            );
            assert_eq!(report["results"]["heaviest"]["value"], f64::from(kg));
        }
    }
    let history = ok_json(store.path(), &["history"]);
    let submissions = history["submissions"].as_array().unwrap();
    assert_eq!(submissions.len(), 13);
    assert!(submissions.iter().all(|s| {
        s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] != "failed")
    }));
}

#[test]
fn a_fresh_scenario_run_by_several_processes_at_once_is_created_once() {
    for _ in 0..3 {
        let store = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..5)
            .map(|_| {
                shipping_command(store.path(), &["run", "--json"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", text(&output.stderr));
        }
        let listed = ok_json(store.path(), &["list"]);
        assert_eq!(listed["scenarios"].as_array().unwrap().len(), 1, "{listed}");
    }
}
