//! A default is code: a scenario that never set a node follows its default
//! as the code defines it now, in a new process too, and the tasks reading
//! it re-run with a reason that says so. A value the user wrote stays.

mod store_support;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::WrittenBy;
use pipeline_core::task::TaskDef;
use pipeline_core::{Change, JobStatus, Reason};
use store_support::open;

/// `rate` (default `rate_default`) and `base` (default 100) → `price`.
fn graph(rate_default: f64) -> Graph {
    GraphBuilder::new("defaults")
        .node(NodeSpec::new::<f64>("rate").with_default(rate_default))
        .node(NodeSpec::new::<f64>("base").with_default(100.0))
        .node(NodeSpec::new::<f64>("price"))
        .task(
            TaskSpec::new(TaskDef::from_fn2("price", "1", |rate: &f64, base: &f64| {
                rate * base
            }))
            .inputs(["rate", "base"])
            .outputs(["price"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// How many versions `rate` has in `scenario`.
fn rate_versions(scenario: &pipeline_core::Scenario) -> usize {
    scenario
        .node::<f64>("rate")
        .unwrap()
        .history()
        .unwrap()
        .len()
}

#[test]
fn a_default_changed_in_the_code_is_followed_by_scenarios_that_never_set_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let runtime = open(dir.path());
        runtime
            .create_scenario(graph(0.2), "follows")
            .unwrap()
            .submit()
            .unwrap();
        let set = runtime.create_scenario(graph(0.2), "set").unwrap();
        set.node::<f64>("rate").unwrap().write(0.5).unwrap();
        set.submit().unwrap();
    }
    // A new build with another default for `rate`, in a new process.
    let runtime = open(dir.path());
    let follows = runtime
        .find_scenario(graph(0.3), "follows")
        .unwrap()
        .unwrap();
    let submission = follows.submit().unwrap();
    let job = submission.job("price").unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    match &job.reason {
        Some(Reason::Changed { changes }) => assert!(
            matches!(
                &changes[..],
                [Change::Input { node, written_by: WrittenBy::Default, .. }] if &**node == "rate"
            ),
            "{changes:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!((*follows.node::<f64>("price").unwrap().read().unwrap() - 30.0).abs() < 1e-9);
    assert_eq!(
        rate_versions(&follows),
        2,
        "the new default is a new version"
    );
    // Unchanged since: skipped, and nothing written again.
    let again = follows.submit().unwrap();
    assert_eq!(again.job("price").unwrap().status, JobStatus::Skipped);
    assert_eq!(rate_versions(&follows), 2);

    // The user's value stays.
    let set = runtime.find_scenario(graph(0.3), "set").unwrap().unwrap();
    assert_eq!(
        set.submit().unwrap().job("price").unwrap().status,
        JobStatus::Skipped
    );
    assert!((*set.node::<f64>("price").unwrap().read().unwrap() - 50.0).abs() < 1e-9);
}

#[test]
fn a_default_path_changed_in_the_code_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&a, "from a").unwrap();
    std::fs::write(&b, "from b").unwrap();
    let graph = |default: &std::path::Path| {
        GraphBuilder::new("paths")
            .node(NodeSpec::new::<std::path::PathBuf>("path").with_default(default.to_owned()))
            .node(NodeSpec::new::<String>("text"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("read", "1", |p: &std::path::PathBuf| {
                    std::fs::read_to_string(p).unwrap_or_default()
                }))
                .inputs(["path"])
                .outputs(["text"])
                .skippable(true),
            )
            .build()
            .unwrap()
    };
    let store = tempfile::tempdir().unwrap();
    open(store.path())
        .create_scenario(graph(&a), "s")
        .unwrap()
        .submit()
        .unwrap();
    let runtime = open(store.path());
    let scenario = runtime.find_scenario(graph(&b), "s").unwrap().unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "from b"
    );
    let again = scenario.submit().unwrap();
    assert_eq!(again.job("read").unwrap().status, JobStatus::Skipped);
}
