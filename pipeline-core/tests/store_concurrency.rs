//! Several processes on one store. Submitting a scenario takes its lock: a
//! second process submitting the same scenario says it waits, waits, and then
//! decides on what the first recorded, so it skips what the first computed.
//! Writes by one process are what the next submission of another decides on.

mod store_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::{SqliteOptions, StoreError};
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};
use store_support::{
    Counters, chain, child_output, child_role, open, quiet, spawn_child, wait_for_file,
};

/// x --slow--> y: `slow` appends a line to `RUNS_FILE` and, when `SLOW_SIGNAL`
/// is set, signals and takes a second.
fn slow_graph() -> Graph {
    GraphBuilder::new("slow")
        .node(NodeSpec::new::<i64>("x").with_default(20))
        .node(NodeSpec::new::<i64>("y"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("slow", "1", |x: &i64| {
                if let Ok(runs) = std::env::var("RUNS_FILE") {
                    use std::io::Write;
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(runs)
                        .unwrap();
                    writeln!(file, "ran").unwrap();
                }
                if let Ok(signal) = std::env::var("SLOW_SIGNAL") {
                    std::fs::write(signal, "running").unwrap();
                    std::thread::sleep(Duration::from_secs(1));
                }
                x + 1
            }))
            .inputs(["x"])
            .outputs(["y"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// Runs as a child: submits `slow_graph`'s scenario "s" in `STORE_DIR` and
/// prints the job's status.
#[test]
fn child_submits_the_slow_scenario() {
    if child_role().as_deref() != Some("submit") {
        return;
    }
    let dir = PathBuf::from(std::env::var("STORE_DIR").unwrap());
    // The waiting child must say so: the store tells it, the program prints.
    let options = SqliteOptions::new().on_lock_wait(|wait| eprintln!("pipeline: {wait}"));
    let runtime = Runtime::open_with(&dir, options).unwrap();
    let scenario = runtime.find_or_create_scenario(slow_graph(), "s").unwrap();
    let submission = scenario.submit().unwrap();
    println!("slow={}", submission.status("slow").unwrap());
    println!("y={}", scenario.node::<i64>("y").unwrap().read().unwrap());
}

#[test]
fn a_second_process_submitting_the_same_scenario_waits_then_skips() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("store");
    let runs = work.path().join("runs");
    let signal = work.path().join("signal");
    drop(open(&dir));

    let mut first = spawn_child(
        "child_submits_the_slow_scenario",
        "submit",
        &[
            ("STORE_DIR", &dir),
            ("RUNS_FILE", &runs),
            ("SLOW_SIGNAL", &signal),
        ],
    );
    wait_for_file(&signal, &mut first);
    let mut second = spawn_child(
        "child_submits_the_slow_scenario",
        "submit",
        &[("STORE_DIR", &dir), ("RUNS_FILE", &runs)],
    );
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    let first = child_output(&mut first);
    let second = child_output(&mut second);

    assert!(first.contains("slow=completed"), "{first}");
    assert!(second.contains("slow=skipped"), "{second}");
    assert!(second.contains("y=21"), "{second}");
    assert!(
        second.contains("pipeline: waiting for process") && second.contains("scenario #1"),
        "the waiting process says why: {second}"
    );
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n", "ran once");
}

#[test]
fn with_a_zero_lock_timeout_a_busy_scenario_fails_at_once_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = crossbeam_channel::bounded::<()>(1);
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let graph = GraphBuilder::new("blocking")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<i64>("y"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("wait", "1", move |x: &i64| {
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                x + 1
            }))
            .inputs(["x"])
            .outputs(["y"])
            .skippable(true),
        )
        .build()
        .unwrap();
    let graph = Arc::new(graph);
    let first = open(dir.path());
    let scenario = first.create_scenario(graph.clone(), "s").unwrap();
    let busy = std::thread::spawn(move || scenario.submit().unwrap());
    entered_rx.recv().unwrap();

    let impatient =
        Runtime::open_with(dir.path(), quiet().lock_timeout(Some(Duration::ZERO))).unwrap();
    let other = impatient
        .find_scenario(graph.clone(), "s")
        .unwrap()
        .unwrap();
    let err = other.submit().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            pipeline_core::Error::Store(StoreError::LockTimeout { .. })
        ),
        "{message}"
    );
    assert!(
        message.contains("scenario #1 is locked by another thread of this process"),
        "{message}"
    );

    release_tx.send(()).unwrap();
    assert!(busy.join().unwrap().is_success());
    let after = other.submit().unwrap();
    assert_eq!(after.status("wait"), Some(JobStatus::Skipped));
    assert_eq!(*other.node::<i64>("y").unwrap().read().unwrap(), 2);
}

#[test]
fn writes_by_another_runtime_are_what_the_next_submission_decides_on() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let graph = Arc::new(chain(&counters, "1"));
    let a = open(dir.path());
    let in_a = a.create_scenario(graph.clone(), "s").unwrap();
    in_a.submit().unwrap();
    assert_eq!(
        *in_a.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );

    let b = open(dir.path());
    let in_b = b.find_scenario(graph.clone(), "s").unwrap().unwrap();
    in_b.node::<i64>("x").unwrap().write(4).unwrap();

    // `a` still has x = 3 cached; its submission sees b's write first.
    let submission = in_a.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["square", "parity", "label"]
    );
    assert_eq!(
        *in_a.node::<String>("label").unwrap().read().unwrap(),
        "even"
    );
    // And `b`, in turn, skips what `a` computed.
    assert_eq!(
        in_b.submit().unwrap().tasks_with(JobStatus::Skipped).len(),
        3
    );
}

#[test]
fn writes_through_runtimes_with_stale_caches_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let graph = Arc::new(chain(&Counters::default(), "1"));
    let a = open(dir.path());
    let b = open(dir.path());
    let in_a = a.create_scenario(graph.clone(), "s").unwrap();
    let in_b = b.find_scenario(graph, "s").unwrap().unwrap();
    for i in 0..5 {
        in_a.node::<i64>("x").unwrap().write(10 + i).unwrap();
        in_b.node::<i64>("x").unwrap().write(20 + i).unwrap();
    }
    let versions: Vec<u64> = in_a
        .node_history("x")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, (1..=11).collect::<Vec<_>>());
    assert_eq!(*in_a.node::<i64>("x").unwrap().read().unwrap(), 24);
}

#[test]
fn two_threads_with_their_own_runtimes_submitting_one_scenario_run_each_task_once() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let graph = {
        let runs = runs.clone();
        Arc::new(
            GraphBuilder::new("counted")
                .node(NodeSpec::new::<i64>("x").with_default(1))
                .node(NodeSpec::new::<i64>("y"))
                .task(
                    TaskSpec::new(TaskDef::from_fn1("count", "1", move |x: &i64| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        x + 1
                    }))
                    .inputs(["x"])
                    .outputs(["y"])
                    .skippable(true),
                )
                .build()
                .unwrap(),
        )
    };
    open(dir.path())
        .create_scenario(graph.clone(), "s")
        .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (dir, graph) = (dir.path().to_owned(), graph.clone());
            std::thread::spawn(move || {
                let runtime = open(&dir);
                let scenario = runtime.find_scenario(graph, "s").unwrap().unwrap();
                scenario.submit().unwrap().status("count").unwrap()
            })
        })
        .collect();
    let mut statuses: Vec<JobStatus> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_by_key(|s| s.as_str());
    assert_eq!(statuses, [JobStatus::Completed, JobStatus::Skipped]);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
