//! The embedded store: what one process computed, the next one
//! skips; values, versions, memo entries and jobs survive; small values live in
//! the database and large ones in content-addressed files, each stored once.

mod store_support;

use std::sync::Arc;

use pipeline_core::store::{SqliteOptions, StoreError, WrittenBy};
use pipeline_core::{JobStatus, Runtime};
use store_support::{Counters, blobs, chain, child_role, object_files, open};

#[test]
fn a_new_runtime_skips_everything_an_earlier_one_computed() {
    let dir = tempfile::tempdir().unwrap();
    let first = Counters::default();
    {
        let runtime = open(dir.path());
        let scenario = runtime.create_scenario(chain(&first, "1"), "s").unwrap();
        assert!(scenario.submit().unwrap().is_success());
    }
    let second = Counters::default();
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(chain(&second, "1"), "s")
        .unwrap()
        .expect("the scenario was persisted");
    let submission = scenario.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Skipped),
        ["square", "parity", "label"]
    );
    assert_eq!(second.get(), [0, 0, 0, 0]);
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );
}

#[test]
fn changes_made_by_an_earlier_runtime_are_what_the_next_one_decides_on() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    {
        let runtime = open(dir.path());
        let scenario = runtime.create_scenario(chain(&counters, "1"), "s").unwrap();
        scenario.submit().unwrap();
        scenario.node::<i64>("x").unwrap().write(5).unwrap();
    }
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        scenario.node::<i64>("x").unwrap().version().unwrap(),
        Some(2)
    );
    let submission = scenario.submit().unwrap();
    // 25 is odd like 9: early cutoff holds across processes too.
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["square", "parity"]
    );
    assert_eq!(submission.tasks_with(JobStatus::Skipped), ["label"]);
}

#[test]
fn a_code_change_reruns_the_task_in_the_next_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    {
        let runtime = open(dir.path());
        let scenario = runtime.create_scenario(chain(&counters, "1"), "s").unwrap();
        scenario.submit().unwrap();
    }
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(chain(&counters, "2"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("parity"), Some(JobStatus::Completed));
    assert_eq!(submission.status("label"), Some(JobStatus::Skipped));
}

#[test]
fn an_identical_job_of_another_scenario_is_reused_by_a_later_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    {
        let runtime = open(dir.path());
        let a = runtime.create_scenario(chain(&counters, "1"), "a").unwrap();
        a.submit().unwrap();
    }
    let runtime = open(dir.path());
    let b = runtime.create_scenario(chain(&counters, "1"), "b").unwrap();
    let submission = b.submit().unwrap();
    assert!(submission.jobs.iter().all(|j| j.reused), "{submission:?}");
    assert_eq!(counters.get(), [1, 1, 1, 0]);
    assert_eq!(*b.node::<String>("label").unwrap().read().unwrap(), "odd");
}

#[test]
fn a_failed_task_keeps_its_previous_outputs_across_runtimes() {
    use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
    use pipeline_core::task::TaskDef;
    use std::sync::atomic::{AtomicBool, Ordering};
    let failing = Arc::new(AtomicBool::new(false));
    let graph = || {
        let failing = failing.clone();
        GraphBuilder::new("g")
            .node(NodeSpec::new::<i64>("x").with_default(1))
            .node(NodeSpec::new::<i64>("y"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("inc", "1", move |x: &i64| {
                    assert!(!failing.load(Ordering::SeqCst), "disk on fire");
                    x + 1
                }))
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
            )
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let runtime = open(dir.path());
        let s = runtime.create_scenario(graph(), "s").unwrap();
        s.submit().unwrap();
        s.node::<i64>("x").unwrap().write(10).unwrap();
        failing.store(true, Ordering::SeqCst);
        let failed = s.submit().unwrap();
        assert_eq!(failed.status("inc"), Some(JobStatus::Failed));
    }
    failing.store(false, Ordering::SeqCst);
    let runtime = open(dir.path());
    let s = runtime.find_scenario(graph(), "s").unwrap().unwrap();
    assert_eq!(*s.node::<i64>("y").unwrap().read().unwrap(), 2);
    let retried = s.submit().unwrap();
    assert_eq!(retried.status("inc"), Some(JobStatus::Completed));
    assert_eq!(*s.node::<i64>("y").unwrap().read().unwrap(), 11);
    let jobs = s.job_history().unwrap();
    let failed = &jobs.submissions[1].jobs[0];
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("panicked: disk on fire"));
}

#[test]
fn small_values_live_in_the_database_and_large_ones_in_object_files() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let runtime = open(dir.path());
    let scenario = runtime.create_scenario(blobs(&counters), "s").unwrap();
    scenario.submit().unwrap();
    let blob = scenario.node::<Vec<u8>>("blob").unwrap();
    let fingerprint = blob.fingerprint().unwrap().unwrap();
    // Only the 100 kB blob is a file, named by its fingerprint.
    let files = object_files(dir.path());
    assert_eq!(
        files,
        [dir.path().join(format!("objects/{fingerprint}.bin"))]
    );
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().len(),
        100_000 + 8,
        "the file holds the value's encoding"
    );
    drop(scenario);
    drop(runtime);
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        *scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        vec![(100_000 % 251) as u8; 100_000]
    );
    assert_eq!(
        *scenario.node::<u64>("sum").unwrap().read().unwrap(),
        100_000 * (100_000 % 251)
    );
}

#[test]
fn with_an_inline_limit_of_zero_every_value_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let runtime =
        Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true).inline_limit(0)).unwrap();
    let scenario = runtime.create_scenario(chain(&counters, "1"), "s").unwrap();
    scenario.submit().unwrap();
    // x = 3, squared = 9, parity = 1, label = "odd": four distinct values.
    assert_eq!(object_files(dir.path()).len(), 4);
}

#[test]
fn identical_values_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let runtime = open(dir.path());
    let graph = Arc::new(blobs(&counters));
    for name in ["a", "b", "c"] {
        let scenario = runtime.create_scenario(graph.clone(), name).unwrap();
        scenario.submit_forced().unwrap();
    }
    assert_eq!(counters.get()[0], 3, "forced: the task ran every time");
    assert_eq!(object_files(dir.path()).len(), 1, "one file for one value");
}

#[test]
fn versions_record_who_wrote_them_across_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    {
        let runtime = open(dir.path());
        let scenario = runtime.create_scenario(chain(&counters, "1"), "s").unwrap();
        scenario.node::<i64>("x").unwrap().write(4).unwrap();
        scenario.submit().unwrap();
    }
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    let x = scenario.node_history("x").unwrap();
    assert!(matches!(x[0].written_by, WrittenBy::Default));
    assert!(matches!(x[1].written_by, WrittenBy::User));
    let squared = scenario.node_history("squared").unwrap();
    assert_eq!(squared.len(), 1);
    assert!(
        matches!(&squared[0].written_by, WrittenBy::Task { task, reused: false, .. } if &**task == "square")
    );
    assert_eq!(squared[0].size, Some(8));
}

#[test]
fn a_store_written_by_a_newer_version_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    db.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(db);
    let err = Runtime::open(dir.path())
        .err()
        .expect("a newer store is refused");
    let message = err.to_string();
    assert!(
        message.contains("schema version 999") && message.contains("upgrade pipeline-core"),
        "{message}"
    );
    assert!(matches!(
        err,
        pipeline_core::Error::Store(StoreError::SchemaTooNew { found: 999, .. })
    ));
}

#[test]
fn a_file_that_is_not_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    db.execute_batch("CREATE TABLE mine (x); PRAGMA application_id = 42")
        .unwrap();
    drop(db);
    let message = Runtime::open(dir.path()).err().unwrap().to_string();
    assert!(message.contains("is not a pipeline store"), "{message}");
}

/// Runs as a child: opens the default store (from `PIPELINE_STORE` or the
/// working directory) and reports where it is.
#[test]
fn child_opens_the_default_store() {
    if child_role().as_deref() != Some("open-default") {
        return;
    }
    let runtime = Runtime::open_default().unwrap();
    let location = runtime
        .store()
        .location()
        .map_or(":memory:".to_owned(), |p| p.display().to_string());
    println!("store at [{location}]");
}

#[test]
fn the_default_store_is_dot_pipeline_unless_pipeline_store_says_otherwise() {
    let work = tempfile::tempdir().unwrap();
    let elsewhere = work.path().join("elsewhere");
    let run = |store: Option<&std::ffi::OsStr>| {
        let output = run_child(
            "child_opens_the_default_store",
            "open-default",
            store,
            work.path(),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let text = run(None);
    assert!(text.contains("store at [.pipeline]"), "{text}");
    assert!(work.path().join(".pipeline/pipeline.db").is_file());

    let text = run(Some(elsewhere.as_os_str()));
    assert!(
        text.contains(&format!("store at [{}]", elsewhere.display())),
        "{text}"
    );
    assert!(elsewhere.join("pipeline.db").is_file());

    let text = run(Some(":memory:".as_ref()));
    assert!(text.contains("store at [:memory:]"), "{text}");
}

/// Runs `test` of this binary as a child in `dir`, with `PIPELINE_STORE` set to
/// `store` (or unset).
fn run_child(
    test: &str,
    role: &str,
    store: Option<&std::ffi::OsStr>,
    dir: &std::path::Path,
) -> std::process::Output {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(store_support::CHILD, role)
        .current_dir(dir);
    match store {
        Some(store) => command.env("PIPELINE_STORE", store),
        None => command.env_remove("PIPELINE_STORE"),
    };
    command.output().unwrap()
}
