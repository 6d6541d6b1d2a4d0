//! `run --executor slurm` on the framework's command line, as a user runs
//! it: each step a new process of the `shipping` binary, whose tasks become
//! Slurm batch jobs of that same binary (the CLI turns it into a worker),
//! values passing through a real S3 server. Needs the cluster and server
//! that `.ci/run` starts; says why it is skipped elsewhere (a failure with
//! `PIPELINE_REQUIRE_REMOTE=1`).

mod cli_support;
#[path = "../pipeline-core/tests/remote_support/cluster.rs"]
mod cluster;
#[path = "../pipeline-core/tests/remote_support/mod.rs"]
mod remote_support;

use std::path::Path;
use std::process::Command;

use cli_support::{shipping_command, statuses, stdout_of_success, text};
use cluster::Cluster;
use remote_support::S3Server;
use serde_json::Value as Json;

/// A `--json` command that must succeed, with the S3 server's settings in
/// its environment (the jobs it submits inherit them).
fn run_json(store: &Path, server: &S3Server, args: &[&str]) -> Json {
    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    serde_json::from_str(&run_text(store, server, &json)).unwrap()
}

/// A command that must succeed, as [`run_json`], its stdout.
fn run_text(store: &Path, server: &S3Server, args: &[&str]) -> String {
    let mut command: Command = shipping_command(store, args);
    command
        .env("AWS_ENDPOINT", server.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    stdout_of_success(args, &command.output().unwrap())
}

#[test]
fn run_with_the_slurm_executor_equals_the_local_run_and_skips_the_same() {
    let test = "run_with_the_slurm_executor_equals_the_local_run_and_skips_the_same";
    let Some(_cluster) = Cluster::start_or_skip(test) else {
        return;
    };
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("cli");
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let slurm = ["--executor", "slurm", "--objects", "s3://cli/runs"];
    let steps: [&[&str]; 3] = [&[], &[], &["--set", "price_per_kg=5"]];
    for (step, sets) in steps.iter().enumerate() {
        let local_args: Vec<&str> = ["run"].iter().chain(sets.iter()).copied().collect();
        // The last step names no object store: the store records the first's.
        let slurm = if step == 2 { &slurm[..2] } else { &slurm[..] };
        let remote_args: Vec<&str> = local_args.iter().chain(slurm.iter()).copied().collect();
        let local = run_json(here.path(), &server, &local_args);
        let remote = run_json(there.path(), &server, &remote_args);
        assert_eq!(statuses(&remote), statuses(&local), "step {step}: {remote}");
        assert_eq!(remote["results"], local["results"], "step {step}");
        assert_eq!(remote["status"], "completed", "step {step}: {remote}");
        for job in remote["jobs"].as_array().unwrap() {
            if job["status"] == "completed" {
                let peak = job["remote"]["peak_rss"].as_u64();
                assert!(
                    peak.is_some_and(|bytes| bytes > 1 << 20),
                    "step {step}: a job run on the cluster shows its worker's peak memory: {job}"
                );
            }
        }
    }
    // The jobs that ran were Slurm jobs: history says where, and how much
    // memory each worker took.
    let history = run_json(there.path(), &server, &["history"]);
    let text = history.to_string();
    assert!(text.contains("slurm"), "{text}");
    let table = run_text(there.path(), &server, &["history"]);
    assert!(
        table.contains("slurm job ") && table.contains("peak RSS "),
        "{table}"
    );
}

#[test]
fn the_slurm_executor_without_an_object_store_is_refused_and_writes_nothing() {
    let store = tempfile::tempdir().unwrap();
    let output = shipping_command(
        store.path(),
        &["run", "--set", "price_per_kg=5", "--executor", "slurm"],
    )
    .env_remove("PIPELINE_OBJECTS")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--objects"), "{stderr}");
    assert_eq!(cli_support::state(store.path()), None, "nothing written");
}
