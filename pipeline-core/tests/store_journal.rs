//! The journal: job commits are appended to it while a submission runs and
//! folded into the indexed tables later. Until then, other processes must
//! still see them, and a process killed before folding must lose nothing.

mod store_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline_core::lineage::Origin;
use pipeline_core::store::SqliteOptions;
use pipeline_core::{JobStatus, Runtime};
use store_support::{Counters, chain, child_role, open, quiet, spawn_child, wait_for_file};

/// Options that leave the journal unfolded until something needs the tables.
fn journaling() -> SqliteOptions {
    quiet().fold_when_idle(false)
}

/// How many entries await folding in the store in `dir`.
fn journal_entries(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("pipeline.db")).unwrap();
    conn.query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
        .unwrap()
}

/// Asserts that `node`'s current version was written by task `task` with
/// lineage down to the default of `x`.
fn assert_traced(runtime_scenario: &pipeline_core::Scenario, node: &str, task: &str) {
    let lineage = runtime_scenario.lineage(node).unwrap();
    let Origin::Task {
        task: made_by,
        inputs: Some(inputs),
        ..
    } = &lineage.origin
    else {
        panic!("{node}: not a task's output with lineage: {lineage:?}");
    };
    assert_eq!(&**made_by, task);
    assert_eq!(inputs.len(), 1, "{lineage:?}");
}

#[test]
fn another_process_reads_journaled_results_before_they_are_folded() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let first = Runtime::open_with(dir.path(), journaling()).unwrap();
    let scenario = first.create_scenario(chain(&counters, "1"), "s").unwrap();
    assert!(scenario.submit().unwrap().is_success());
    assert!(
        journal_entries(dir.path()) > 0,
        "the results wait in the journal"
    );

    // A second runtime over the directory has its own connections and
    // overlay: to the store, it is another process.
    let second = open(dir.path());
    let other = second
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        *other.node::<String>("label").unwrap().read().unwrap(),
        "odd"
    );
    assert_eq!(journal_entries(dir.path()), 0, "reading folded the journal");
    assert_traced(&other, "label", "label");
    let again = other.submit().unwrap();
    assert_eq!(again.tasks_with(JobStatus::Skipped).len(), 3, "{again:?}");
    assert_eq!(counters.get(), [1, 1, 1, 0]);

    // The first runtime, whose entries the second folded, reads and skips too.
    let resubmitted = scenario.submit().unwrap();
    assert_eq!(resubmitted.tasks_with(JobStatus::Skipped).len(), 3);
    assert_eq!(
        scenario
            .node::<i64>("parity")
            .unwrap()
            .history()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(counters.get(), [1, 1, 1, 0]);
}

#[test]
fn a_changed_input_written_by_another_process_is_seen_over_unfolded_results() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let first = Runtime::open_with(dir.path(), journaling()).unwrap();
    let scenario = first.create_scenario(chain(&counters, "1"), "s").unwrap();
    scenario.submit().unwrap();

    // Another process changes the input while the results are journaled.
    let second = open(dir.path());
    let other = second
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    assert_eq!(other.node::<i64>("x").unwrap().write(4).unwrap(), 2);
    drop(other);
    drop(second);

    // The first process must not skip on its stale view.
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.tasks_with(JobStatus::Completed).len(), 3);
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "even"
    );
    assert_eq!(counters.get(), [2, 2, 2, 0]);
}

/// Runs as a child: submits `chain` with folding left to later, signals, and
/// waits to be killed (so nothing folds the journal).
#[test]
fn child_journals_then_waits_to_be_killed() {
    let Some(_) = child_role() else { return };
    let dir = PathBuf::from(std::env::var("STORE_DIR").unwrap());
    let runtime = Runtime::open_with(&dir, journaling()).unwrap();
    let scenario = runtime
        .create_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap();
    assert!(scenario.submit().unwrap().is_success());
    std::fs::write(std::env::var("SIGNAL").unwrap(), "journaled").unwrap();
    std::thread::sleep(Duration::from_secs(600));
    unreachable!("the parent kills this process first");
}

#[test]
fn results_journaled_by_a_killed_process_are_folded_by_the_next() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("store");
    let signal = work.path().join("signal");
    let mut child = spawn_child(
        "child_journals_then_waits_to_be_killed",
        "journal",
        &[("STORE_DIR", &dir), ("SIGNAL", &signal)],
    );
    wait_for_file(&signal, &mut child);
    child.kill().unwrap(); // SIGKILL: no fold, no close
    child.wait().unwrap();
    assert!(
        journal_entries(&dir) > 0,
        "the child left its results journaled"
    );

    let counters = Counters::default();
    let runtime = open(&dir);
    let scenario = runtime
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Skipped).len(),
        3,
        "what the killed process computed is skipped: {submission:?}"
    );
    assert_eq!(counters.get(), [0, 0, 0, 0]);
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
    assert_traced(&scenario, "parity", "parity");
    assert_eq!(journal_entries(&dir), 0);
    let history = scenario.job_history().unwrap();
    assert_eq!(history.submissions.len(), 2, "{history}");
}
