//! Values typed on the command line, as a new user's pipeline (the
//! `regions` binary: `region: Option<String> = None`) reads them, each step
//! a new process on one store.

mod cli_support;

use std::path::Path;
use std::process::Output;

use cli_support::{json_object, run_on, stdout_of_success, text};
use serde_json::{Value as Json, json};

fn regions(store: &Path, args: &[&str]) -> Output {
    run_on(env!("CARGO_BIN_EXE_regions"), store, args)
}

/// Runs a command that must succeed; its stdout.
fn ok(store: &Path, args: &[&str]) -> String {
    stdout_of_success(args, &regions(store, args))
}

/// Runs a `--json` command that must succeed; its one JSON object.
fn ok_json(store: &Path, args: &[&str]) -> Json {
    let mut args = args.to_vec();
    args.push("--json");
    json_object(&args, &ok(store, &args))
}

#[test]
fn an_optional_string_reads_as_the_user_means_and_reads_back_as_get_shows_it() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    // (typed after `region=`, the value, what `get` shows, the task's label)
    let cases = [
        ("North", json!("North"), "North", "Ada [North]"),
        ("\"North\"", json!("North"), "North", "Ada [North]"),
        ("null", Json::Null, "null", "Ada [no region]"),
        ("\"null\"", json!("null"), "\"null\"", "Ada [null]"),
        ("", Json::Null, "null", "Ada [no region]"),
        ("\"\"", json!(""), "\"\"", "Ada []"),
        (
            r#""say \"hi\"""#,
            json!("say \"hi\""),
            "say \"hi\"",
            "Ada [say \"hi\"]",
        ),
    ];
    for (typed, value, shown, label) in cases {
        let set = format!("region={typed}");
        let run = ok_json(store, &["run", "--set", &set]);
        assert_eq!(run["results"]["label"]["value"], json!(label), "{set}");
        let got = ok_json(store, &["get", "region"]);
        assert_eq!(got["value"], value, "{set}");
        assert_eq!(ok(store, &["get", "region"]), format!("{shown}\n"), "{set}");
        // What `get` shows, typed back, is the same value: nothing changes.
        let again = ok_json(store, &["set", &format!("region={shown}")]);
        assert_eq!(again["written"][0]["changed"], false, "{set}: {shown}");
    }
}

#[test]
fn a_string_given_as_json_loses_its_quotes_and_a_broken_one_is_refused() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let run = ok_json(store, &["run", "--set", "name=\"Bo\""]);
    assert_eq!(run["results"]["label"]["value"], "Bo [no region]");
    assert_eq!(ok(store, &["get", "name"]), "Bo\n");

    let refused = regions(store, &["set", "name=\"Bo"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("read as a JSON string"), "{stderr}");
    assert_eq!(ok(store, &["get", "name"]), "Bo\n", "nothing was written");
}

#[test]
fn set_help_says_how_text_and_no_value_are_written() {
    let store = tempfile::tempdir().unwrap();
    for command in ["run", "set"] {
        let help = ok(store.path(), &[command, "--help"]);
        for needle in [
            "as a JSON string when it starts with",
            "takes `null` or nothing",
        ] {
            assert!(
                help.contains(needle),
                "{command} --help: {needle:?} not in {help}"
            );
        }
    }
}

/// `graph --format toml` writes the `None` default TOML has no null for as
/// its JSON form, and `--config` reads it back as the same scenario type.
#[test]
fn a_none_default_is_exported_as_toml_and_read_back_with_config() {
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let built_in = ok_json(store, &["run"]);
    assert_eq!(built_in["results"]["label"]["value"], "Ada [no region]");

    let toml = ok(store, &["graph", "--format", "toml"]);
    assert!(toml.contains("default_json = \"null\""), "{toml}");
    let config = store.join("customer.toml");
    std::fs::write(&config, &toml).unwrap();
    let config = config.to_str().unwrap();
    assert_eq!(
        ok(store, &["--config", config, "graph", "--format", "toml"]),
        toml
    );
    // The same type: its scenario's tasks are up to date.
    let from_toml = ok_json(store, &["--config", config, "run"]);
    assert_eq!(from_toml["jobs"][0]["status"], "skipped");
    assert_eq!(from_toml["results"], built_in["results"]);
    // A new scenario of the TOML type starts from the `None` default.
    let fresh = ok_json(store, &["--config", config, "run", "--scenario", "fresh"]);
    assert_eq!(fresh["results"]["label"]["value"], "Ada [no region]");
    assert_eq!(
        ok(
            store,
            &["--config", config, "get", "region", "--scenario", "fresh"]
        ),
        "null\n"
    );
}

#[test]
fn a_value_written_before_its_type_changed_is_shown_with_what_to_write() {
    let (before, after) = (
        env!("CARGO_BIN_EXE_pricing_before"),
        env!("CARGO_BIN_EXE_pricing_after"),
    );
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let stdout = |output: &Output| text(&output.stdout);
    let stderr = |output: &Output| text(&output.stderr);
    let set = run_on(
        before,
        store,
        &["set", r#"settings={"rate": 2.0, "region": "South"}"#],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let run = run_on(before, store, &["run"]);
    assert!(stdout(&run).contains("20 in South"), "{}", stdout(&run));

    // The user added `currency` (with a default) to `Settings` and rebuilt.
    let kept = r#"It was {"rate":2.0,"region":"South"}, which the current `Settings` reads as {"rate":2.0,"region":"South","currency":"EUR"}: write that to keep it"#;
    let run = run_on(after, store, &["run"]);
    let said = format!("{}{}", stdout(&run), stderr(&run));
    assert!(!run.status.success(), "{said}");
    assert!(said.contains("`settings`") && said.contains(kept), "{said}");
    let get = run_on(after, store, &["get", "settings"]);
    assert!(!get.status.success());
    assert!(stderr(&get).contains(kept), "{}", stderr(&get));

    // What the message says to write, written, is the value as it was.
    let suggested = kept
        .split_once("reads as ")
        .and_then(|(_, rest)| rest.split_once(": write that"))
        .unwrap()
        .0;
    let set = run_on(after, store, &["set", &format!("settings={suggested}")]);
    assert!(set.status.success(), "{}", stderr(&set));
    let run = run_on(after, store, &["run"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("20 EUR in South"), "{}", stdout(&run));
}
