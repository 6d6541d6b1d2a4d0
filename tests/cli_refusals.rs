//! The framework's command line refusing bad input (exit code 2, a message
//! naming what is wrong, the store as it was), failing tasks (exit code 1),
//! and several processes on one scenario: the lock, each run's own results,
//! one scenario created once.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cli_support::{
    hold_scenario_lock, ok, ok_json, refused, shipping, shipping_command, statuses, text,
};
use serde_json::Value as Json;

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
    // A misspelled node is named with the nodes there are, whatever asks.
    for command in [
        &["get", "weight"][..],
        &["history", "weight"],
        &["lineage", "weight"],
    ] {
        refused(
            dir,
            command,
            &["no data node `weight`", "its data nodes: ", "weights"],
        );
    }
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

#[test]
fn output_into_a_closed_pipe_ends_quietly_with_exit_code_141() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run"]);
    // The reader is gone before the program writes: as `… | head -0` does.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = shipping_command(store.path(), &["history"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Both streams into one closed pipe (`… 2>&1 | head -0`), a command
    // that succeeds and one that fails with its `error:` line.
    for args in [&["history"][..], &["get", "no_such_node"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = shipping_command(store.path(), args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(141), "{args:?}");
    }
}

#[test]
fn hints_name_the_program_as_it_was_started() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("my-shipping");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_shipping"), &renamed).unwrap();
    let output = std::process::Command::new(&renamed)
        .args(["history", "--scenario", "nope", "--store"])
        .arg(store.path())
        .env_remove("PIPELINE_STORE")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    // No store yet: the hint to make one names the program so.
    assert!(stderr.contains("`my-shipping run`"), "{stderr}");
}

#[test]
fn a_file_given_as_the_store_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, "a\n1\n").unwrap();
    let output = shipping_command(&file, &["run"]).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("store {} is a file", file.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\n1\n");
}

#[test]
fn scenario_names_are_refused_where_they_would_clash_or_read_as_ids() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    ok(dir, &["scenario", "create", "a"]);
    ok(dir, &["set", "price_per_kg=1", "--scenario", "a"]);
    ok(dir, &["scenario", "create", "b"]);
    // Renaming onto an existing name would leave two scenarios called `a`.
    refused(
        dir,
        &["scenario", "rename", "b", "a"],
        &["a `Shipping` scenario called `a` exists already (#1)"],
    );
    refused(
        dir,
        &["scenario", "rename", "b", "#1"],
        &["cannot start with `#`"],
    );
    refused(dir, &["scenario", "rename", "b", " "], &["cannot be empty"]);
    refused(dir, &["scenario", "create", ""], &["cannot be empty"]);
    refused(dir, &["run", "--scenario", ""], &["cannot be empty"]);
    assert_eq!(ok(dir, &["get", "price_per_kg", "--scenario", "a"]), "1\n");
    // Renaming a scenario to its own name changes nothing.
    ok(dir, &["scenario", "rename", "a", "a"]);

    // A name that matches none creates a scenario, and says so when others exist.
    let output = shipping(dir, &["set", "price_per_kg=2", "--scenario", "c"]);
    assert!(output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("note: created scenario `c` (#3), as none of that name existed")
            && stderr.contains("`a`, `b`"),
        "{stderr}"
    );
    let first = tempfile::tempdir().unwrap();
    let output = shipping(first.path(), &["run"]);
    assert_eq!(text(&output.stderr), "", "the first scenario of a store");
}
