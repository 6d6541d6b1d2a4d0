//! What a new user's pipeline meets on the framework's command line (the
//! `orders` binary), each step a new process on one store: a task that
//! panics, a task error of many lines, settings given as JSON with a
//! misspelt field, maps of any keys, `--version`.

mod cli_support;

use std::path::Path;
use std::process::Output;

use cli_support::{
    command_on, json_object, state_of, stderr_of_refusal, stdout_of_success, text, version_of,
};
use serde_json::{Value as Json, json};

/// The data nodes of `orders`' scenario type.
const NODES: [&str; 7] = [
    "weights", "settings", "zones", "tariffs", "mean", "plan", "total",
];

fn orders(store: &Path, args: &[&str]) -> Output {
    command_on(env!("CARGO_BIN_EXE_orders"), store, args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

/// Runs a command that must succeed; its stdout.
fn ok(store: &Path, args: &[&str]) -> String {
    stdout_of_success(args, &orders(store, args))
}

/// Runs a `--json` command that must succeed; its one JSON object.
fn ok_json(store: &Path, args: &[&str]) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    json_object(&args, &ok(store, &args))
}

/// Runs a command whose task fails (exit code 1); its output.
fn task_fails(store: &Path, args: &[&str]) -> Output {
    let output = orders(store, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}: {}",
        text(&output.stderr)
    );
    output
}

/// Where `mean_weight` divides by the number of parcels, as a panic there
/// names it: `tests/orders.rs:LINE:`.
fn division_site() -> String {
    let line = include_str!("orders.rs")
        .lines()
        .position(|line| line.contains("/ weights.len() as u32"))
        .expect("the division in orders.rs")
        + 1;
    format!("tests/orders.rs:{line}:")
}

#[test]
fn a_task_that_panics_fails_its_job_saying_where_without_rusts_panic_message() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let output = task_fails(store, &["run", "--set", "weights=[]"]);
    let stderr = text(&output.stderr);
    let error = format!(
        "error: task `mean_weight` failed: panicked at {}",
        division_site()
    );
    assert!(
        stderr.starts_with(&error) && stderr.ends_with(": attempt to divide by zero\n"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "only the job's error: {stderr}");
    assert!(
        text(&output.stdout).contains(&format!("panicked at {}", division_site())),
        "the job table says it too"
    );
    let history = ok_json(store, &["history"]);
    let job = &history["submissions"][0]["jobs"][0];
    assert_eq!(job["status"], "failed");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("panicked at {}", division_site())),
        "{job}"
    );
    // The other tasks ran: a panic fails only its own job.
    assert_eq!(history["submissions"][0]["jobs"][2]["status"], "completed");
}

#[test]
fn a_panic_outside_any_task_is_reported_as_rust_reports_it() {
    let store = tempfile::tempdir().unwrap();
    let output = orders(store.path(), &["crash"]);
    assert_eq!(output.status.code(), Some(101));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("thread 'main'")
            && stderr.contains("panicked at tests/orders.rs:")
            && stderr.contains("a bug outside any task"),
        "{stderr}"
    );
}

#[test]
fn a_task_error_of_many_lines_shows_its_first_line_in_tables_and_whole_elsewhere() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let headline = "parcel 2 weighs over the 30 kg `Post` takes";
    let pointer = "… (5 more lines: `orders history --json`)";
    let output = task_fails(store, &["run", "--set", "weights=[5, 40, 3]"]);
    let stdout = text(&output.stdout);
    let row = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("shipping_plan"))
        .unwrap();
    assert!(row.ends_with(&format!("{headline} {pointer}")), "{stdout}");
    assert!(!stdout.contains("FAILED HERE"), "{stdout}");
    // The one failure the command reports is whole.
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "failed: {headline}\n\nShipping plan until failure:\n"
        )) && stderr.contains("  parcel 2: 40 kg -> FAILED HERE\n"),
        "{stderr}"
    );

    let history = ok(store, &["history"]);
    assert!(
        history.contains(&format!("error: {headline} {pointer}")),
        "{history}"
    );
    assert!(!history.contains("FAILED HERE"), "{history}");
    let jobs = &ok_json(store, &["history"])["submissions"][0]["jobs"];
    let error = jobs[1]["error"].as_str().unwrap();
    assert_eq!(error.lines().count(), 6, "{error}");
    assert!(error.contains("parcel 3: 3 kg -> Post"), "{error}");

    let output = task_fails(
        store,
        &[
            "run",
            "--scenario",
            "big order",
            "--set",
            "weights=[50]",
            "--json",
        ],
    );
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["jobs"][1]["error"]
            .as_str()
            .unwrap()
            .contains("FAILED HERE")
    );
    assert!(report["error"].as_str().unwrap().contains("FAILED HERE"));
    // Another scenario's pointer names it.
    let history = ok(store, &["history", "--scenario", "big order"]);
    assert!(
        history.contains("more lines: `orders history --scenario 'big order' --json`)"),
        "{history}"
    );
}

#[test]
fn a_misspelt_field_of_a_struct_value_is_refused_and_nothing_is_written() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    ok(store, &["run"]);
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &[
                "set",
                r#"settings={"dicount": 0.5, "carrier": {"name": "Rail"}}"#,
            ],
            &[
                "data node `settings`",
                "unknown field `dicount`",
                "the fields of `Settings`: discount, carrier, surcharges",
            ],
        ),
        (
            &[
                "run",
                "--set",
                r#"settings={"carrier": {"name": "Rail", "max_kgs": 50}}"#,
            ],
            &[
                "--set settings=",
                "data node `settings`",
                "unknown field `carrier.max_kgs`",
                "the fields of `Carrier`: name, max_kg",
            ],
        ),
        // The misspelt field is missing too: both are said.
        (
            &[
                "set",
                r#"settings={"discount": 0.5, "carier": {"name": "Rail"}}"#,
            ],
            &["missing field `carrier`", "unknown field `carier`"],
        ),
    ];
    for (args, needles) in cases {
        let before = state_of(store, &NODES);
        stderr_of_refusal(args, &orders(store, args), needles);
        assert_eq!(
            state_of(store, &NODES),
            before,
            "{args:?} changed the store"
        );
    }
    assert_eq!(
        ok_json(store, &["get", "settings"])["value"]["discount"],
        0.0
    );
}

#[test]
fn maps_take_any_key_inside_a_struct_value_and_as_nodes() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let settings = json!({
        "discount": 0.5,
        "carrier": {"name": "Rail", "max_kg": 50},
        "surcharges": {"North Sea islands": 2.0, "12": 1.0},
    });
    let report = ok_json(
        store,
        &[
            "run",
            "--set",
            &format!("settings={settings}"),
            // A `BTreeMap` node, and a `HashMap` in a serde newtype.
            "--set",
            r#"zones={"zone 1": 2.0, "anything": 3.0}"#,
            "--set",
            r#"tariffs={"north": 4.0, "x-y": 1.5}"#,
        ],
    );
    // 10 kg at the highest price, 4.0, half off, plus 3.0 of surcharges.
    assert_eq!(report["results"]["total"]["value"], 23.0);
    assert_eq!(ok_json(store, &["get", "settings"])["value"], settings);
    assert_eq!(
        ok_json(store, &["get", "tariffs"])["value"],
        json!({"north": 4.0, "x-y": 1.5})
    );
}

#[test]
fn version_names_the_program_its_version_and_the_framework() {
    // The workspace's version is pipeline-core's too.
    let framework = env!("CARGO_PKG_VERSION");
    assert_eq!(
        version_of(env!("CARGO_BIN_EXE_orders")),
        format!("orders 1.4.0 (pipeline-core {framework})\n")
    );
}
