//! The skip rule (docs/skipping.md): what re-runs and what is skipped, and why.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::WrittenBy;
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime, Scenario};

/// Counts how often each task body runs.
#[derive(Default, Clone)]
struct Counters(Arc<[AtomicUsize; 3]>);

impl Counters {
    fn bump(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> [usize; 3] {
        [0, 1, 2].map(|i| self.0[i].load(Ordering::SeqCst))
    }
}

/// x --square--> squared --parity--> parity --label--> label
/// `parity` maps many inputs to one output, which exercises early cutoff.
fn graph(counters: &Counters, square_version: &str) -> Graph {
    let (c0, c1, c2) = (counters.clone(), counters.clone(), counters.clone());
    GraphBuilder::new("chain")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<i64>("squared"))
        .node(NodeSpec::new::<i64>("parity"))
        .node(NodeSpec::new::<String>("label"))
        .task(
            TaskSpec::new(TaskDef::from_fn1(
                "square",
                square_version,
                move |x: &i64| {
                    c0.bump(0);
                    x * x
                },
            ))
            .inputs(["x"])
            .outputs(["squared"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("parity", "1", move |x: &i64| {
                c1.bump(1);
                x % 2
            }))
            .inputs(["squared"])
            .outputs(["parity"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("label", "1", move |p: &i64| {
                c2.bump(2);
                if *p == 0 {
                    "even".to_owned()
                } else {
                    "odd".to_owned()
                }
            }))
            .inputs(["parity"])
            .outputs(["label"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

fn setup() -> (Counters, Scenario) {
    let counters = Counters::default();
    let scenario = Runtime::in_memory()
        .create_scenario(graph(&counters, "1"), "s")
        .unwrap();
    (counters, scenario)
}

#[test]
fn first_submit_runs_everything_and_resubmit_skips_everything() {
    let (counters, scenario) = setup();
    let first = scenario.submit().unwrap();
    assert_eq!(
        first.tasks_with(JobStatus::Completed),
        ["square", "parity", "label"]
    );
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );
    let second = scenario.submit().unwrap();
    assert_eq!(
        second.tasks_with(JobStatus::Skipped),
        ["square", "parity", "label"]
    );
    assert_eq!(counters.get(), [1, 1, 1]);
}

#[test]
fn equal_rewrite_skips_consumers() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    let x = scenario.node::<i64>("x").unwrap();
    let version = x.version().unwrap();
    x.write(3).unwrap();
    assert_eq!(
        x.version().unwrap(),
        version,
        "an equal write records no version"
    );
    let again = scenario.submit().unwrap();
    assert_eq!(again.tasks_with(JobStatus::Skipped).len(), 3);
    assert_eq!(counters.get(), [1, 1, 1]);
}

#[test]
fn equal_output_of_rerun_task_leaves_consumers_skipped() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    // 5² = 25 is odd like 3² = 9: square and parity re-run, parity's output is equal.
    scenario.node::<i64>("x").unwrap().write(5).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["square", "parity"]
    );
    assert_eq!(submission.tasks_with(JobStatus::Skipped), ["label"]);
    assert_eq!(counters.get(), [2, 2, 1]);
    assert_eq!(
        *scenario.node::<i64>("squared").unwrap().read().unwrap(),
        25
    );
}

#[test]
fn changed_input_reruns_the_whole_affected_chain() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    scenario.node::<i64>("x").unwrap().write(4).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["square", "parity", "label"]
    );
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "even"
    );
    assert_eq!(counters.get(), [2, 2, 2]);
}

#[test]
fn code_change_reruns_the_task() {
    let counters = Counters::default();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&counters, "1"), "s").unwrap();
    scenario.submit().unwrap();
    let changed = runtime
        .open_scenario(graph(&counters, "2"), scenario.id())
        .unwrap();
    let submission = changed.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    // Same code, same output: the rest is cut off.
    assert_eq!(
        submission.tasks_with(JobStatus::Skipped),
        ["parity", "label"]
    );
}

#[test]
fn forced_submit_runs_skippable_tasks() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    let forced = scenario.submit_forced().unwrap();
    assert_eq!(forced.tasks_with(JobStatus::Completed).len(), 3);
    assert_eq!(counters.get(), [2, 2, 2]);
}

#[test]
fn non_skippable_task_always_runs() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let graph = GraphBuilder::new("g")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<i64>("y"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("inc", "1", move |x: &i64| {
                counter.fetch_add(1, Ordering::SeqCst);
                x + 1
            }))
            .inputs(["x"])
            .outputs(["y"]),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        scenario.submit().unwrap().status("inc"),
        Some(JobStatus::Completed)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn identical_job_in_another_scenario_is_reused_not_rerun() {
    let counters = Counters::default();
    let runtime = Runtime::in_memory();
    let graph = Arc::new(graph(&counters, "1"));
    let a = runtime.create_scenario(graph.clone(), "a").unwrap();
    a.submit().unwrap();
    let b = runtime.create_scenario(graph, "b").unwrap();
    let submission = b.submit().unwrap();
    assert_eq!(submission.tasks_with(JobStatus::Skipped).len(), 3);
    assert!(submission.jobs.iter().all(|j| j.reused));
    assert_eq!(counters.get(), [1, 1, 1]);
    assert_eq!(*b.node::<String>("label").unwrap().read().unwrap(), "odd");
    let history = b.node::<i64>("squared").unwrap().history().unwrap();
    assert!(matches!(
        history[0].written_by,
        WrittenBy::Task { reused: true, .. }
    ));
}

#[test]
fn returning_to_an_earlier_input_reuses_the_earlier_outputs() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    let x = scenario.node::<i64>("x").unwrap();
    x.write(4).unwrap();
    scenario.submit().unwrap();
    x.write(3).unwrap();
    let back = scenario.submit().unwrap();
    assert_eq!(back.tasks_with(JobStatus::Skipped).len(), 3);
    assert_eq!(counters.get(), [2, 2, 2]);
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );
}

#[test]
fn global_nodes_are_shared_by_all_scenarios_of_a_graph() {
    let graph = Arc::new(
        GraphBuilder::new("g")
            .node(NodeSpec::new::<f64>("rate").with_default(0.5).global())
            .node(NodeSpec::new::<f64>("local").with_default(1.0))
            .build()
            .unwrap(),
    );
    let runtime = Runtime::in_memory();
    let a = runtime.create_scenario(graph.clone(), "a").unwrap();
    let b = runtime.create_scenario(graph, "b").unwrap();
    a.node::<f64>("rate").unwrap().write(0.75).unwrap();
    a.node::<f64>("local").unwrap().write(2.0).unwrap();
    assert_eq!(*b.node::<f64>("rate").unwrap().read().unwrap(), 0.75);
    assert_eq!(*b.node::<f64>("local").unwrap().read().unwrap(), 1.0);
}

#[test]
fn submitting_one_task_runs_only_that_task() {
    let (counters, scenario) = setup();
    scenario.submit().unwrap();
    scenario.node::<i64>("x").unwrap().write(4).unwrap();
    let only = scenario.submit_task("square").unwrap();
    assert_eq!(only.jobs.len(), 1);
    assert_eq!(only.status("square"), Some(JobStatus::Completed));
    assert_eq!(counters.get(), [2, 1, 1]);
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );
}

#[test]
fn task_whose_input_has_no_value_fails_with_a_hint() {
    let (_, scenario) = setup();
    let submission = scenario.submit_task("parity").unwrap();
    let job = submission.job("parity").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let message = job.error.as_deref().unwrap();
    assert!(
        message.contains("`squared`") && message.contains("`square`"),
        "{message}"
    );
}

#[test]
fn unknown_targets_are_errors_naming_them() {
    let (_, scenario) = setup();
    let err = scenario.submit_task("nope").unwrap_err().to_string();
    assert!(err.contains("no task `nope`"), "{err}");
    let err = scenario.submit_sequence("nope").unwrap_err().to_string();
    assert!(err.contains("no sequence `nope`"), "{err}");
    let err = scenario.node::<String>("x").unwrap_err().to_string();
    assert!(err.contains("holds i64, not String"), "{err}");
}
