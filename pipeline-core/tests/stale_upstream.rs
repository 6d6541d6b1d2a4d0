//! A submission of one task or sequence says which upstream tasks it did not
//! cover are out of date, so that its tasks read their outputs as they were
//! and not as a whole submission would make them.

use std::path::PathBuf;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::{Reason, Runtime, Scenario, SubmitOptions, Target};

/// `x --square--> y --inc--> z --report--> r`, `stamp` (not skippable)
/// `x -> s --echo--> e`, and `size` reading the file named by `path`.
fn graph() -> Graph {
    GraphBuilder::new("stale")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<i64>("y"))
        .node(NodeSpec::new::<i64>("z"))
        .node(NodeSpec::new::<String>("r"))
        .node(NodeSpec::new::<String>("s"))
        .node(NodeSpec::new::<String>("e"))
        .node(NodeSpec::new::<PathBuf>("path").with_default(PathBuf::from("unset.txt")))
        .node(NodeSpec::new::<u64>("size"))
        .node(NodeSpec::new::<u64>("doubled"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("square", "1", |x: &i64| x * x))
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("inc", "1", |y: &i64| y + 1))
                .inputs(["y"])
                .outputs(["z"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("report", "1", |z: &i64| format!("z={z}")))
                .inputs(["z"])
                .outputs(["r"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("stamp", "1", |x: &i64| format!("x={x}")))
                .inputs(["x"])
                .outputs(["s"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("echo", "1", |s: &String| s.clone()))
                .inputs(["s"])
                .outputs(["e"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("size", "1", |p: &PathBuf| {
                std::fs::metadata(p).map_or(0, |m| m.len())
            }))
            .inputs(["path"])
            .outputs(["size"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("double", "1", |n: &u64| n * 2))
                .inputs(["size"])
                .outputs(["doubled"])
                .skippable(true),
        )
        .sequence("tail", ["inc", "report"])
        .build()
        .unwrap()
}

fn task(name: &str) -> SubmitOptions {
    SubmitOptions::new().target(Target::Task(name.into()))
}

/// A scenario of [`graph`] whose `path` names a file of 5 bytes, that
/// file, and its directory (removed when dropped).
fn scenario_reading_a_file() -> (tempfile::TempDir, PathBuf, Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.txt");
    std::fs::write(&file, "12345").unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
    scenario
        .node::<PathBuf>("path")
        .unwrap()
        .write(file.clone())
        .unwrap();
    (dir, file, scenario)
}

fn names(list: &[std::sync::Arc<str>]) -> Vec<&str> {
    list.iter().map(|t| &**t).collect()
}

#[test]
fn a_task_submitted_alone_says_which_upstream_task_is_out_of_date() {
    let (_dir, _file, scenario) = scenario_reading_a_file();
    let whole = scenario.submit().unwrap();
    assert!(
        whole.stale_upstream.is_empty(),
        "a whole submission covers all"
    );

    // Everything up to date: nothing to say.
    let up_to_date = scenario.submit_with(&task("report")).unwrap();
    assert!(up_to_date.stale_upstream.is_empty(), "{up_to_date:?}");

    // `x` changed: `square` would run, and `inc` behind it may; `report`
    // read `z` as it was.
    scenario.node::<i64>("x").unwrap().write(4).unwrap();
    let before = scenario.stale_upstream(&task("report")).unwrap();
    assert!(
        scenario
            .stale_upstream(&SubmitOptions::new())
            .unwrap()
            .is_empty()
    );
    let partial = scenario.submit_with(&task("report")).unwrap();
    assert_eq!(
        before, partial.stale_upstream,
        "said the same before the run"
    );
    let listed: Vec<(&str, Vec<&str>)> = partial
        .stale_upstream
        .iter()
        .map(|s| (&*s.task, names(&s.read_by)))
        .collect();
    assert_eq!(listed, [("square", vec![]), ("inc", vec!["report"])]);
    let (square, inc) = (&partial.stale_upstream[0], &partial.stale_upstream[1]);
    assert!(
        matches!(square.reason, Reason::Changed { .. }),
        "{:?}",
        square.reason
    );
    assert_eq!(
        inc.reason,
        Reason::UpstreamRuns {
            task: "square".into()
        }
    );
    let text = square.to_string();
    assert!(text.contains("task `square` is out of date"), "{text}");
    assert!(text.contains("input `x` changed"), "{text}");
    assert!(!text.contains("read its outputs"), "{text}");
    let text = inc.to_string();
    assert!(
        text.starts_with("task `inc` may be out of date (upstream task `square` is): `report` read its outputs as they were"),
        "{text}"
    );
    assert_eq!(inc.to_json()["read_by"][0], "report");
    assert_eq!(
        *scenario.node::<String>("r").unwrap().read().unwrap(),
        "z=10"
    );

    // A sequence that starts after `square`: `inc` reads its output.
    let tail = scenario
        .submit_with(&SubmitOptions::new().target(Target::Sequence("tail".into())))
        .unwrap();
    assert_eq!(tail.stale_upstream.len(), 1);
    assert_eq!(&*tail.stale_upstream[0].task, "square");
    assert_eq!(names(&tail.stale_upstream[0].read_by), ["inc"]);

    // Once `square` ran, `inc` is out of date (its input changed).
    scenario.submit_with(&task("square")).unwrap();
    let after = scenario.submit_with(&task("report")).unwrap();
    assert_eq!(after.stale_upstream.len(), 1);
    assert_eq!(&*after.stale_upstream[0].task, "inc");
    assert!(matches!(
        after.stale_upstream[0].reason,
        Reason::Changed { .. }
    ));
    assert_eq!(names(&after.stale_upstream[0].read_by), ["report"]);

    // Brought up to date: nothing to say.
    scenario.submit().unwrap();
    assert!(
        scenario
            .submit_with(&task("report"))
            .unwrap()
            .stale_upstream
            .is_empty()
    );

    // A task that is not skippable is never reported.
    assert!(
        scenario
            .submit_with(&task("echo"))
            .unwrap()
            .stale_upstream
            .is_empty()
    );
}

#[test]
fn a_changed_file_read_only_upstream_is_seen() {
    let (_dir, file, scenario) = scenario_reading_a_file();
    scenario.submit().unwrap();
    assert!(
        scenario
            .submit_with(&task("double"))
            .unwrap()
            .stale_upstream
            .is_empty()
    );

    std::fs::write(&file, "1234567").unwrap();
    let partial = scenario.submit_with(&task("double")).unwrap();
    assert_eq!(
        partial.stale_upstream.len(),
        1,
        "{:?}",
        partial.stale_upstream
    );
    assert_eq!(&*partial.stale_upstream[0].task, "size");
    let text = partial.stale_upstream[0].to_string();
    assert!(text.contains("input `path` changed"), "{text}");
    assert_eq!(
        *scenario.node::<u64>("doubled").unwrap().read().unwrap(),
        10
    );

    // The check records nothing: the whole submission still sees the change.
    let whole = scenario.submit().unwrap();
    assert_eq!(
        whole.job("size").unwrap().status,
        pipeline_core::JobStatus::Completed
    );
    assert_eq!(
        *scenario.node::<u64>("doubled").unwrap().read().unwrap(),
        14
    );
}

#[test]
fn a_scenario_that_never_ran_lists_every_task_its_task_waits_for() {
    let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
    let listed = scenario.stale_upstream(&task("report")).unwrap();
    let listed: Vec<(&str, &Reason, Vec<&str>)> = listed
        .iter()
        .map(|s| (&*s.task, &s.reason, names(&s.read_by)))
        .collect();
    assert_eq!(
        listed,
        [
            ("square", &Reason::FirstRun, vec![]),
            (
                "inc",
                &Reason::UpstreamRuns {
                    task: "square".into()
                },
                vec!["report"]
            ),
        ]
    );
    // A task that is not skippable is listed when it never ran.
    let echo = scenario.stale_upstream(&task("echo")).unwrap();
    assert_eq!(echo.len(), 1, "{echo:?}");
    assert_eq!(
        (&*echo[0].task, &echo[0].reason),
        ("stamp", &Reason::FirstRun)
    );
    assert_eq!(names(&echo[0].read_by), ["echo"]);
    // The run itself fails on the input without a value, and lists the same.
    let run = scenario.submit_with(&task("report")).unwrap();
    assert_eq!(run.stale_upstream.len(), 2);
}
