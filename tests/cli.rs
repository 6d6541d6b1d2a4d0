//! The framework's command line (`pipeline_core::cli`) end to end on
//! pipeline-core's `shipping` example: every command as a new process on one
//! store, values from the command line, TOML-declared types.

mod cli_support;

use std::process::Command;

use cli_support::{ok, ok_json, refused, shipping, statuses, text, version_of};
use serde_json::{Value as Json, json};

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
    assert_eq!(third["jobs"][0]["reason"]["kind"], "up_to_date");
    assert_eq!(third["jobs"][0]["reason_text"], "up to date");
    assert_eq!(third["jobs"][1]["reason"]["kind"], "changed");
    assert_eq!(
        third["jobs"][1]["reason"]["changes"][0]["node"],
        "price_per_kg"
    );
    assert!(
        third["jobs"][1]["reason_text"]
            .as_str()
            .unwrap()
            .starts_with("input `price_per_kg` changed"),
        "{third}"
    );
    assert_eq!(third["results"]["quote"]["value"]["total"], 14.0);

    let forced = ok_json(store.path(), &["run", "--force"]);
    assert_eq!(statuses(&forced), ["completed"; 3]);
    assert_eq!(forced["jobs"][1]["reason"]["kind"], "forced");

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
fn one_task_run_on_out_of_date_inputs_says_so() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run"]);
    let fresh = shipping(store.path(), &["run", "--task", "price_quote"]);
    assert!(fresh.status.success());
    assert_eq!(text(&fresh.stderr), "", "everything upstream is up to date");

    // New weights: `billable_weights` is out of date, and `price_quote`
    // reads the old billable weights. It runs, and says so.
    let stale = shipping(
        store.path(),
        &["run", "--set", "weights=[10.0]", "--task", "price_quote"],
    );
    assert!(stale.status.success(), "{}", text(&stale.stderr));
    let warning = text(&stale.stderr);
    let lines: Vec<&str> = warning.lines().collect();
    assert_eq!(lines.len(), 2, "{warning}");
    assert!(
        lines[0].starts_with("warning: this submission's tasks read outputs of upstream tasks")
            && lines[0].ends_with("submit the whole scenario to bring them up to date:"),
        "{warning}"
    );
    assert!(
        lines[1].starts_with("  task `billable_weights` is out of date (input `weights` changed")
            && lines[1].ends_with("`price_quote` read its outputs as they were"),
        "{warning}"
    );

    let explained = ok(store.path(), &["explain", "--task", "price_quote"]);
    assert!(
        explained.contains("\n  task `billable_weights` is out of date (input `weights` changed"),
        "{explained}"
    );
    let explained = ok_json(store.path(), &["explain", "--task", "price_quote"]);
    assert_eq!(
        explained["stale_upstream"][0]["read_by"],
        json!(["price_quote"])
    );
    let whole = ok_json(store.path(), &["explain"]);
    assert_eq!(whole["stale_upstream"], json!([]));

    let json = ok_json(store.path(), &["run", "--task", "price_quote"]);
    assert_eq!(json["stale_upstream"][0]["task"], "billable_weights");
    assert_eq!(json["stale_upstream"][0]["read_by"], json!(["price_quote"]));
    assert_eq!(json["stale_upstream"][0]["reason"]["kind"], "changed");
    assert_eq!(
        json["results"]["quote"]["value"]["total"], 31.5,
        "old weights"
    );

    let whole = ok_json(store.path(), &["run"]);
    assert_eq!(whole["stale_upstream"], json!([]));
    assert_eq!(whole["results"]["quote"]["value"]["total"], 45.0);
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
    // The nodes `--set` takes, with their types, where values are set.
    for command in ["run", "set"] {
        let help = ok(store.path(), &[command, "--help"]);
        for needle in [
            "to set with --set NODE=VALUE",
            "price_per_kg (f64)",
            "weights (Vec<f64>)",
        ] {
            assert!(help.contains(needle), "{command}: {needle:?} not in {help}");
        }
        assert!(
            !help.contains("  quote ("),
            "{command}: a computed node in {help}"
        );
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

#[test]
fn history_and_list_limit_show_the_most_recent_and_say_how_many_are_left_out() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    for price in ["4.5", "5", "6", "7"] {
        ok(dir, &["run", "--set", &format!("price_per_kg={price}")]);
    }
    let ids = |history: &Json| -> Vec<u64> {
        history["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_u64().unwrap())
            .collect()
    };
    let all = ok_json(dir, &["history"]);
    assert_eq!((ids(&all), &all["left_out"]), (vec![1, 2, 3, 4], &json!(0)));
    let last = ok_json(dir, &["history", "--limit", "2"]);
    assert_eq!((ids(&last), &last["left_out"]), (vec![3, 4], &json!(2)));
    let table = ok(dir, &["history", "--limit", "2"]);
    assert!(
        table.starts_with("2 older submissions left out (--limit 2)\nsubmission #3"),
        "{table}"
    );
    assert!(!table.contains("submission #2"), "{table}");
    assert_eq!(ok(dir, &["history", "--limit", "9"]), ok(dir, &["history"]));

    let versions = ok_json(dir, &["history", "price_per_kg", "--limit", "1"]);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
    assert_eq!(versions["versions"][0]["version"], 4);
    assert_eq!(versions["left_out"], 3);
    let table = ok(dir, &["history", "price_per_kg", "--limit", "1"]);
    assert!(
        table.contains(":\n3 older versions left out (--limit 1)\n  v4  "),
        "{table}"
    );
    assert!(!table.contains("  v3  "), "{table}");

    for name in ["express", "overnight"] {
        ok(dir, &["scenario", "create", name]);
    }
    let listed = ok_json(dir, &["list", "--limit", "1"]);
    assert_eq!(listed["scenarios"].as_array().unwrap().len(), 1);
    assert_eq!(listed["scenarios"][0]["name"], "overnight");
    assert_eq!(listed["left_out"], 2);
    let table = ok(dir, &["list", "--limit", "1"]);
    assert!(
        table.starts_with("2 older scenarios left out (--limit 1)\n"),
        "{table}"
    );
    assert!(!table.contains("express"), "{table}");

    refused(dir, &["history", "--limit", "0"], &["give 1 or more"]);
}

#[test]
fn compare_json_gives_each_value_as_get_json_does() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path();
    ok(dir, &["run"]);
    ok(
        dir,
        &[
            "run",
            "--scenario",
            "express",
            "--set",
            "price_per_kg=9",
            "--set",
            "rounding=exact",
        ],
    );
    let comparison = ok_json(dir, &["compare", "default", "express"]);
    for row in comparison["nodes"].as_array().unwrap() {
        let node = row["node"].as_str().unwrap();
        for (i, scenario) in ["default", "express"].into_iter().enumerate() {
            let got = ok_json(dir, &["get", node, "--scenario", scenario]);
            assert_eq!(
                row["values"][i]["value"], got["value"],
                "{node} in {scenario}"
            );
        }
    }
    let value = |node: &str, i: usize| {
        comparison["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["node"] == node)
            .unwrap()["values"][i]["value"]
            .clone()
    };
    assert_eq!(value("price_per_kg", 1), json!(9.0));
    assert_eq!(value("weights", 0), json!([1.2, 0.4, 3.5]));
    assert_eq!(value("rounding", 1), json!("exact"));
    assert_eq!(value("quote", 1)["total"], json!(45.9));
    // The text stays the text form.
    let table = ok(dir, &["compare", "default", "express"]);
    assert!(
        table.contains("up_to_kilo") && table.contains("[1.2,0.4,3.5]"),
        "{table}"
    );
}

#[test]
fn version_without_one_of_the_programs_names_the_framework() {
    // The workspace's version is pipeline-core's too.
    let framework = env!("CARGO_PKG_VERSION");
    assert_eq!(
        version_of(env!("CARGO_BIN_EXE_shipping")),
        format!("shipping (pipeline-core {framework})\n")
    );
}
