//! Parallelism, failures, cancellation, sequences and events.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use pipeline_core::events::EventKind;
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::{TaskDef, TaskError};
use pipeline_core::value::ValueType;
use pipeline_core::{CancelToken, JobStatus, Runtime, SubmitOptions};

/// Waits on a shared barrier, with a timeout so a serial executor fails instead of hanging.
fn wait_for_partner(barrier: &Barrier, done: &AtomicBool) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            barrier.wait();
            let _ = tx.send(());
        });
        let met = rx.recv_timeout(Duration::from_secs(10)).is_ok();
        if !met {
            // Release the helper thread: a partner that never comes is simulated.
            done.store(true, Ordering::SeqCst);
            barrier.wait();
        }
        met
    })
}

fn two_barrier_tasks(
    barrier: Arc<Barrier>,
    gave_up: Arc<AtomicBool>,
) -> pipeline_core::graph::Graph {
    let task = |name: &str, input: &str, output: &str| {
        let (barrier, gave_up) = (barrier.clone(), gave_up.clone());
        TaskSpec::new(TaskDef::from_fn1(name, "1", move |_: &i64| {
            if gave_up.load(Ordering::SeqCst) {
                return false;
            }
            wait_for_partner(&barrier, &gave_up)
        }))
        .inputs([input])
        .outputs([output])
    };
    GraphBuilder::new("barrier")
        .node(NodeSpec::new::<i64>("a").with_default(1))
        .node(NodeSpec::new::<i64>("b").with_default(2))
        .node(NodeSpec::new::<bool>("met_a"))
        .node(NodeSpec::new::<bool>("met_b"))
        .task(task("left", "a", "met_a"))
        .task(task("right", "b", "met_b"))
        .build()
        .unwrap()
}

#[test]
fn independent_tasks_run_in_parallel() {
    let graph = two_barrier_tasks(Arc::new(Barrier::new(2)), Arc::default());
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let submission = scenario
        .submit_with(&SubmitOptions::new().max_workers(2))
        .unwrap();
    assert!(submission.is_success());
    assert!(*scenario.node::<bool>("met_a").unwrap().read().unwrap());
    assert!(*scenario.node::<bool>("met_b").unwrap().read().unwrap());
}

#[test]
fn one_worker_runs_tasks_one_at_a_time() {
    let peak = Arc::new(AtomicUsize::new(0));
    let now = Arc::new(AtomicUsize::new(0));
    let mut builder = GraphBuilder::new("serial").node(NodeSpec::new::<i64>("x").with_default(0));
    for i in 0..4 {
        let (peak, now) = (peak.clone(), now.clone());
        builder = builder.node(NodeSpec::new::<i64>(format!("y{i}"))).task(
            TaskSpec::new(TaskDef::from_fn1(&format!("t{i}"), "1", move |x: &i64| {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(running, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                now.fetch_sub(1, Ordering::SeqCst);
                *x
            }))
            .inputs(["x"])
            .outputs([format!("y{i}")]),
        );
    }
    let scenario = Runtime::in_memory()
        .create_scenario(builder.build().unwrap(), "s")
        .unwrap();
    let submission = scenario
        .submit_with(&SubmitOptions::new().max_workers(1))
        .unwrap();
    assert!(submission.is_success());
    assert_eq!(peak.load(Ordering::SeqCst), 1);
}

/// source ─┬─ boom ── after_boom
///         └─ fine ── after_fine
fn failing_graph(fail: Arc<AtomicBool>) -> pipeline_core::graph::Graph {
    let boom = TaskDef::from_fn1("boom", "1", move |x: &i64| {
        if fail.load(Ordering::SeqCst) {
            panic!("disk on fire at row {x}");
        }
        x + 100
    });
    GraphBuilder::new("failing")
        .node(NodeSpec::new::<i64>("source").with_default(7))
        .node(NodeSpec::new::<i64>("boomed"))
        .node(NodeSpec::new::<i64>("after_boom_out"))
        .node(NodeSpec::new::<i64>("fined"))
        .node(NodeSpec::new::<i64>("after_fine_out"))
        .task(
            TaskSpec::new(boom)
                .inputs(["source"])
                .outputs(["boomed"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("after_boom", "1", |x: &i64| x + 1))
                .inputs(["boomed"])
                .outputs(["after_boom_out"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("fine", "1", |x: &i64| x * 2))
                .inputs(["source"])
                .outputs(["fined"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("after_fine", "1", |x: &i64| x * 3))
                .inputs(["fined"])
                .outputs(["after_fine_out"])
                .skippable(true),
        )
        .build()
        .unwrap()
}

#[test]
fn panicking_task_fails_abandons_dependents_and_spares_siblings() {
    let fail = Arc::new(AtomicBool::new(false));
    let scenario = Runtime::in_memory()
        .create_scenario(failing_graph(fail.clone()), "s")
        .unwrap();
    scenario.submit().unwrap();
    let boomed = scenario.node::<i64>("boomed").unwrap();
    let before = (boomed.version().unwrap(), *boomed.read().unwrap());

    fail.store(true, Ordering::SeqCst);
    scenario.node::<i64>("source").unwrap().write(8).unwrap();
    let submission = scenario.submit().unwrap();
    let failed = submission.job("boom").unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("disk on fire at row 8")
    );
    assert_eq!(submission.status("after_boom"), Some(JobStatus::Abandoned));
    assert_eq!(submission.status("fine"), Some(JobStatus::Completed));
    assert_eq!(submission.status("after_fine"), Some(JobStatus::Completed));
    assert_eq!((boomed.version().unwrap(), *boomed.read().unwrap()), before);
    assert!(!submission.is_success());
    assert!(submission.clone().into_result().is_err());

    fail.store(false, Ordering::SeqCst);
    let retry = scenario.submit().unwrap();
    assert_eq!(retry.status("boom"), Some(JobStatus::Completed));
    assert_eq!(retry.status("after_boom"), Some(JobStatus::Completed));
    assert_eq!(retry.status("fine"), Some(JobStatus::Skipped));
    assert_eq!(*boomed.read().unwrap(), 108);
}

#[test]
fn task_returning_err_fails_with_its_message() {
    let def = TaskDef::new(
        "parse",
        TaskDef::code_fingerprint_of("1"),
        vec![ValueType::of::<String>()],
        vec![ValueType::of::<i64>()],
        Arc::new(|inputs| {
            let text = pipeline_core::task::expect_input::<String>(inputs, 0);
            let n: i64 = text
                .parse()
                .map_err(|e| TaskError::new(format!("cannot parse {text:?}: {e}")))?;
            Ok(vec![Box::new(n)])
        }),
    );
    let graph = GraphBuilder::new("g")
        .node(NodeSpec::new::<String>("text").with_default("12x".to_owned()))
        .node(NodeSpec::new::<i64>("number"))
        .task(TaskSpec::new(def).inputs(["text"]).outputs(["number"]))
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let submission = scenario.submit().unwrap();
    let job = submission.job("parse").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.error.as_deref(),
        Some("cannot parse \"12x\": invalid digit found in string")
    );
    let err = submission.into_result().unwrap_err().to_string();
    assert!(
        err.starts_with("task `parse` failed: cannot parse"),
        "{err}"
    );
}

#[test]
fn canceled_submission_cancels_tasks_not_yet_started() {
    let token = CancelToken::new();
    let trigger = token.clone();
    let graph = GraphBuilder::new("g")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<i64>("y"))
        .node(NodeSpec::new::<i64>("z"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("first", "1", move |x: &i64| {
                trigger.cancel();
                *x
            }))
            .inputs(["x"])
            .outputs(["y"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("second", "1", |y: &i64| *y))
                .inputs(["y"])
                .outputs(["z"]),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let submission = scenario
        .submit_with(&SubmitOptions::new().cancel_token(token))
        .unwrap();
    assert_eq!(submission.status("first"), Some(JobStatus::Completed));
    assert_eq!(submission.status("second"), Some(JobStatus::Canceled));
    assert!(scenario.node::<i64>("z").unwrap().read().is_err());
}

#[test]
fn sequence_submits_only_its_tasks() {
    let graph = GraphBuilder::new("g")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<i64>("y"))
        .node(NodeSpec::new::<i64>("z"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("first", "1", |x: &i64| x + 1))
                .inputs(["x"])
                .outputs(["y"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("second", "1", |y: &i64| y * 10))
                .inputs(["y"])
                .outputs(["z"]),
        )
        .sequence("front", ["first"])
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let submission = scenario.submit_sequence("front").unwrap();
    assert_eq!(submission.jobs.len(), 1);
    assert_eq!(*scenario.node::<i64>("y").unwrap().read().unwrap(), 2);
    assert!(scenario.node::<i64>("z").unwrap().read().is_err());
}

#[test]
fn status_changes_are_published_as_events() {
    let graph = GraphBuilder::new("g")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<i64>("y"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("inc", "1", |x: &i64| x + 1))
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let events = scenario.subscribe();
    scenario.submit().unwrap();
    scenario.submit().unwrap();
    let kinds: Vec<EventKind> = events.try_iter().map(|e| e.kind).collect();
    let job = |status| EventKind::Job {
        task: Arc::from("inc"),
        status,
    };
    assert_eq!(
        kinds,
        [
            EventKind::SubmissionStarted { jobs: 1 },
            job(JobStatus::Running),
            job(JobStatus::Completed),
            EventKind::SubmissionFinished,
            EventKind::SubmissionStarted { jobs: 1 },
            job(JobStatus::Skipped),
            EventKind::SubmissionFinished,
        ]
    );
}

#[test]
fn graph_errors_are_all_reported_together() {
    let errors = GraphBuilder::new("bad")
        .node(NodeSpec::new::<i64>("x"))
        .node(NodeSpec::new::<i64>("x"))
        .node(NodeSpec::new::<String>("s"))
        .node(NodeSpec::new::<i64>("a"))
        .node(NodeSpec::new::<i64>("b"))
        .node(NodeSpec::new::<i64>("c"))
        .node(NodeSpec::new::<i64>("d"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("needs_x", "1", |x: &i64| *x))
                .inputs(["x"])
                .outputs(["a"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("typo", "1", |x: &i64| *x))
                .inputs(["s"])
                .outputs(["nope"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("loop1", "1", |x: &i64| *x))
                .inputs(["d"])
                .outputs(["c"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("loop2", "1", |x: &i64| *x))
                .inputs(["c"])
                .outputs(["d"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("second_a", "1", |x: &i64| *x))
                .inputs(["a"])
                .outputs(["a"]),
        )
        .sequence("seq", ["ghost"])
        .build()
        .unwrap_err();
    let text = errors.to_string();
    for expected in [
        "data node `x` is declared twice",
        "data node `s` holds String, but input 0 of task `typo` is i64",
        "task `typo` names unknown data node `nope` as an output",
        "data node `a` is produced by both `needs_x` and `second_a`",
        "data node `x` is read by `needs_x` but no task produces it and it has no default",
        "cycle: loop1 -> c -> loop2 -> d -> loop1",
        "sequence `seq` names task `ghost`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn cycle_error_lists_the_path() {
    let errors = GraphBuilder::new("loop")
        .node(NodeSpec::new::<i64>("a").with_default(0))
        .node(NodeSpec::new::<i64>("b"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("f", "1", |x: &i64| *x))
                .inputs(["a"])
                .outputs(["b"]),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("g", "1", |x: &i64| *x))
                .inputs(["b"])
                .outputs(["a"]),
        )
        .build()
        .unwrap_err();
    let cycle = errors.0.iter().find_map(|e| match e {
        pipeline_core::graph::GraphError::Cycle { path } => Some(path.join(" -> ")),
        _ => None,
    });
    let cycle = cycle.expect("a cycle error");
    assert!(
        cycle == "f -> b -> g -> a -> f" || cycle == "g -> a -> f -> b -> g",
        "{cycle}"
    );
}
