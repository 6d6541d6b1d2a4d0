//! A store whose values live in a real S3 server too, through the
//! framework's command line: each step a new process of the `shipping`
//! binary (`--objects s3://…`, `gc --evict-local`, `get`, `run` again),
//! against `moto_server` on 127.0.0.1. Says why it is skipped where no server
//! can be started (a failure with `PIPELINE_REQUIRE_REMOTE=1`).

mod cli_support;
#[path = "../pipeline-core/tests/remote_support/mod.rs"]
mod remote_support;

use std::path::Path;
use std::process::{Command, Output};

use cli_support::{shipping_command, statuses, text};
use pipeline_core::objects::{ObjectStore, ObjectStoreOptions};
use remote_support::S3Server;
use serde_json::Value as Json;

/// Parcels enough that `weights` and `billable` (8 bytes a weight) are
/// larger than the store's inline limit (16 KiB), so they are files, and
/// travel to the object store.
const PARCELS: usize = 3000;

fn weights() -> Vec<f64> {
    (0..PARCELS).map(|i| 0.25 + (i % 40) as f64 * 0.5).collect()
}

fn weights_arg() -> String {
    let texts: Vec<String> = weights().iter().map(f64::to_string).collect();
    format!("weights=[{}]", texts.join(","))
}

/// `command` with the S3 server's settings in its environment.
fn with_s3(mut command: Command, server: &S3Server) -> Command {
    command
        .env("AWS_ENDPOINT", server.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("PIPELINE_OBJECTS");
    command
}

fn output(command: &mut Command) -> Output {
    command.output().expect("the binary runs")
}

/// A `--json` command on `store` that must succeed: its one JSON object.
fn ok_json(store: &Path, server: &S3Server, args: &[&str]) -> Json {
    let mut command = with_s3(shipping_command(store, args), server);
    let output = output(command.arg("--json"));
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_str(&text(&output.stdout)).unwrap()
}

/// The objects under `prefix` of bucket `cli` on the server.
fn objects(server: &S3Server, prefix: &str) -> Vec<String> {
    let options = ObjectStoreOptions::default()
        .with_s3_setting("aws_endpoint", server.endpoint())
        .with_s3_setting("aws_allow_http", "true")
        .with_s3_setting("aws_access_key_id", "test")
        .with_s3_setting("aws_secret_access_key", "test")
        .with_s3_setting("aws_region", "us-east-1");
    let store =
        ObjectStore::open_with(format!("s3://cli/{prefix}").parse().unwrap(), options).unwrap();
    store
        .list("")
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect()
}

/// The value files in a store directory's `objects/`.
fn local_values(store: &Path) -> usize {
    std::fs::read_dir(store.join("objects"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .count()
}

#[test]
fn values_in_s3_survive_eviction_and_later_commands_need_no_flag() {
    let test = "values_in_s3_survive_eviction_and_later_commands_need_no_flag";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("cli");
    let store = tempfile::tempdir().unwrap();
    let weights_arg = weights_arg();

    let run = ok_json(
        store.path(),
        &server,
        &["run", "--objects", "s3://cli/team", "--set", &weights_arg],
    );
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["results"]["quote"]["value"]["parcels"], PARCELS);
    let in_bucket = objects(&server, "team");
    let values: Vec<&String> = in_bucket
        .iter()
        .filter(|name| name.starts_with("values/"))
        .collect();
    assert_eq!(values.len(), 2, "weights and billable: {in_bucket:?}");
    assert!(in_bucket.contains(&"store-id".to_owned()), "{in_bucket:?}");
    assert_eq!(local_values(store.path()), 2);

    // Later commands find the object store in the store's registry.
    let gc = ok_json(store.path(), &server, &["gc", "--evict-local"]);
    assert_eq!(gc["evicted"]["files"], 2, "{gc}");
    assert_eq!(gc["evicted"]["uploaded"], 0, "{gc}");
    assert_eq!(local_values(store.path()), 0);

    let got = ok_json(store.path(), &server, &["get", "billable"]);
    let expected: Vec<f64> = weights().iter().map(|w| w.ceil()).collect();
    assert_eq!(got["value"], serde_json::json!(expected), "billable");
    assert_eq!(local_values(store.path()), 1, "only billable was fetched");

    let again = ok_json(store.path(), &server, &["run"]);
    assert_eq!(
        statuses(&again),
        ["skipped", "skipped", "skipped"],
        "{again}"
    );
    assert_eq!(again["results"]["quote"]["value"]["parcels"], PARCELS);
}

#[test]
fn another_object_store_than_the_recorded_one_is_refused() {
    let test = "another_object_store_than_the_recorded_one_is_refused";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("cli");
    let store = tempfile::tempdir().unwrap();
    ok_json(store.path(), &server, &["run", "--objects", "s3://cli/a"]);
    let before = cli_support::state(store.path());
    let args = ["run", "--set", "price_per_kg=5", "--objects", "s3://cli/b"];
    let refused = output(&mut with_s3(shipping_command(store.path(), &args), &server));
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    for needle in [
        "s3://cli/a",
        "s3://cli/b",
        "keeps its values in object store",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    assert_eq!(cli_support::state(store.path()), before, "nothing written");
}

#[test]
fn a_store_named_by_an_s3_url_keeps_its_registry_in_dot_pipeline() {
    let test = "a_store_named_by_an_s3_url_keeps_its_registry_in_dot_pipeline";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("cli");
    let here = tempfile::tempdir().unwrap();
    let weights_arg = weights_arg();
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shipping"));
        command
            .args(args)
            .arg("--json")
            .current_dir(here.path())
            .env_remove("PIPELINE_STORE");
        let output = output(&mut with_s3(command, &server));
        assert!(output.status.success(), "{}", text(&output.stderr));
        serde_json::from_str::<Json>(&text(&output.stdout)).unwrap()
    };
    let report = run(&["--store", "s3://cli/team", "run", "--set", &weights_arg]);
    assert_eq!(report["store"], ".pipeline", "{report}");
    assert!(here.path().join(".pipeline/pipeline.db").is_file());
    let values = objects(&server, "team")
        .into_iter()
        .filter(|name| name.starts_with("values/"))
        .count();
    assert_eq!(values, 2);
    // PIPELINE_STORE names it as well as --store.
    let again = {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shipping"));
        command
            .args(["run", "--json"])
            .current_dir(here.path())
            .env("PIPELINE_STORE", "s3://cli/team");
        let output = output(&mut with_s3(command, &server));
        assert!(output.status.success(), "{}", text(&output.stderr));
        serde_json::from_str::<Json>(&text(&output.stdout)).unwrap()
    };
    assert_eq!(
        statuses(&again),
        ["skipped", "skipped", "skipped"],
        "{again}"
    );
}
