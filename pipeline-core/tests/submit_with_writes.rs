//! Writes that belong to a submission: `Scenario::write_all` records all or
//! none, `Scenario::submit_with_writes` holds the scenario's locks from the
//! writes to the last job, and a submission's `versions` read back its own
//! results whatever is written afterwards, in one process and across
//! processes running one scenario with different values at once.

mod store_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, Scope, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::{Error, JobStatus, Runtime, SubmitOptions, Writes};
use store_support::{child_output, child_role, open, spawn_child};

/// x --slow_inc--> y, plus a global `offset` read by nothing. `slow_inc`
/// sleeps `SLOW_MS` milliseconds when set, so that processes overlap.
fn graph() -> Arc<Graph> {
    let graph = GraphBuilder::new("inc")
        .node(NodeSpec::new::<i64>("x").with_default(0))
        .node(NodeSpec::new::<i64>("y"))
        .node(
            NodeSpec::new::<i64>("offset")
                .with_default(0)
                .with_scope(Scope::Global),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("slow_inc", "1", |x: &i64| {
                if let Some(ms) = std::env::var("SLOW_MS").ok().and_then(|v| v.parse().ok()) {
                    std::thread::sleep(Duration::from_millis(ms));
                }
                x + 1
            }))
            .inputs(["x"])
            .outputs(["y"])
            .skippable(true),
        )
        .build()
        .unwrap();
    Arc::new(graph)
}

#[test]
fn a_submission_reads_back_its_own_results_after_later_writes() {
    let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
    let first = scenario
        .submit_with_writes(Writes::new().value("x", 41_i64), &SubmitOptions::new())
        .unwrap();
    assert_eq!(first.status("slow_inc"), Some(JobStatus::Completed));
    scenario.node::<i64>("x").unwrap().write(1).unwrap();
    let second = scenario
        .submit_with(&SubmitOptions::new().record_versions(true))
        .unwrap();
    assert!(
        scenario.submit().unwrap().versions.is_empty(),
        "not asked for"
    );

    let (x, y) = (
        scenario.node::<i64>("x").unwrap(),
        scenario.node::<i64>("y").unwrap(),
    );
    assert_eq!(*x.read_version(first.version_of("x").unwrap()).unwrap(), 41);
    assert_eq!(*y.read_version(first.version_of("y").unwrap()).unwrap(), 42);
    assert_eq!(*y.read_version(second.version_of("y").unwrap()).unwrap(), 2);
    assert_eq!(*y.read().unwrap(), 2);
    // Every node with a value is in the submission's versions, global ones too.
    let mut nodes: Vec<&str> = first.versions.iter().map(|v| &*v.node).collect();
    nodes.sort();
    assert_eq!(nodes, ["offset", "x", "y"]);
    assert!(matches!(
        y.read_version(9),
        Err(Error::UnknownVersion { version: 9, .. })
    ));
}

#[test]
fn skipped_jobs_leave_the_versions_they_found_current() {
    let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
    let ran = scenario
        .submit_with(&SubmitOptions::new().record_versions(true))
        .unwrap();
    let skipped = scenario
        .submit_with_writes(Writes::new().value("x", 0_i64), &SubmitOptions::new())
        .unwrap();
    assert_eq!(skipped.status("slow_inc"), Some(JobStatus::Skipped));
    assert_eq!(skipped.version_of("y"), ran.version_of("y"));
    assert_eq!(
        skipped.version_of("x"),
        Some(1),
        "an equal write records nothing"
    );
}

#[test]
fn refused_writes_write_nothing() {
    let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
    let x = scenario.node::<i64>("x").unwrap();

    let unknown = scenario
        .write_all(Writes::new().value("x", 5_i64).value("z", 1_i64))
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "scenario type `inc` has no data node `z`"
    );
    let mistyped = scenario
        .submit_with_writes(
            Writes::new().value("x", 5_i64).value("y", 1.5_f64),
            &SubmitOptions::new(),
        )
        .unwrap_err();
    assert_eq!(mistyped.to_string(), "data node `y` holds i64, not f64");
    assert_eq!(*x.read().unwrap(), 0);
    assert_eq!(x.history().unwrap().len(), 1, "only the default");
    assert!(scenario.job_history().unwrap().submissions.is_empty());

    let written = scenario
        .write_all(
            Writes::new()
                .value("x", 5_i64)
                .value("offset", 2_i64)
                .value("x", 6_i64),
        )
        .unwrap();
    let written: Vec<(&str, u64)> = written.iter().map(|(n, v)| (&**n, v.version)).collect();
    assert_eq!(
        written,
        [("offset", 2), ("x", 2)],
        "the later value for a node wins, one version each"
    );
    assert_eq!(*x.read().unwrap(), 6);
}

/// Runs as a child: writes `X` into scenario "s" of the store in `STORE_DIR`
/// and submits it in one step, then prints what its submission left.
#[test]
fn child_runs_with_its_own_value() {
    if child_role().as_deref() != Some("run") {
        return;
    }
    let dir = PathBuf::from(std::env::var("STORE_DIR").unwrap());
    let x: i64 = std::env::var("X").unwrap().parse().unwrap();
    let runtime = open(&dir);
    let scenario = runtime.find_scenario(graph(), "s").unwrap().unwrap();
    let submission = scenario
        .submit_with_writes(Writes::new().value("x", x), &SubmitOptions::new())
        .unwrap();
    let read = |node: &str| {
        let handle = scenario.node::<i64>(node).unwrap();
        *handle
            .read_version(submission.version_of(node).unwrap())
            .unwrap()
    };
    println!("x={} y={}", read("x"), read("y"));
}

#[test]
fn processes_running_one_scenario_with_different_values_each_get_their_own_results() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("store");
    open(&dir).create_scenario(graph(), "s").unwrap();
    let values = ["100", "200", "300"];
    let children: Vec<_> = values
        .iter()
        .map(|value| {
            spawn_child(
                "child_runs_with_its_own_value",
                "run",
                &[
                    ("STORE_DIR", &dir),
                    ("X", Path::new(value)),
                    ("SLOW_MS", Path::new("150")),
                ],
            )
        })
        .collect();
    for (value, mut child) in values.iter().zip(children) {
        let status = child.wait().unwrap();
        let output = child_output(&mut child);
        assert!(status.success(), "x={value}: {output}");
        let x: i64 = value.parse().unwrap();
        assert!(
            output.contains(&format!("x={x} y={}", x + 1)),
            "x={value} printed another run's results: {output}"
        );
    }
    let scenario = open(&dir).find_scenario(graph(), "s").unwrap().unwrap();
    let history = scenario.job_history().unwrap();
    assert_eq!(history.submissions.len(), 3);
    assert!(history.submissions.iter().all(|s| s.is_success()));
}
