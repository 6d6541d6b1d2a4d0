//! The store's reads of a page of submissions (the newest of some scenarios,
//! one by id, a page of a history) agree with reading the whole history, in
//! the SQLite store (indexed queries) and the in-memory one (the trait's
//! defaults).

use std::sync::Arc;

use pipeline_core::Runtime;
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::{MemoryStore, ScenarioId, SqliteOptions, SubmissionId};
use pipeline_core::task::TaskDef;

fn graph() -> Arc<pipeline_core::graph::Graph> {
    Arc::new(
        GraphBuilder::new("g")
            .node(NodeSpec::new::<i64>("x").with_default(1))
            .node(NodeSpec::new::<i64>("y"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("inc", "1", |x: &i64| x + 1))
                    .inputs(["x"])
                    .outputs(["y"]),
            )
            .build()
            .unwrap(),
    )
}

fn check(runtime: &Runtime) {
    let a = runtime.create_scenario(graph(), "a").unwrap();
    let b = runtime.create_scenario(graph(), "b").unwrap();
    let never = runtime.create_scenario(graph(), "never").unwrap();
    for round in 0..7 {
        a.submit().unwrap();
        if round % 2 == 0 {
            b.submit().unwrap();
        }
    }
    let store = runtime.store();
    let all_a = store.submissions(a.id()).unwrap();
    assert_eq!(all_a.len(), 7);

    let latest = store
        .latest_submissions(&[b.id(), never.id(), a.id(), ScenarioId(99)])
        .unwrap();
    assert_eq!(latest[0], store.submissions(b.id()).unwrap().pop());
    assert_eq!(latest[1], None);
    assert_eq!(latest[2].as_ref(), all_a.last());
    assert_eq!(latest[3], None);

    assert_eq!(
        store.submission(a.id(), all_a[2].id).unwrap().as_ref(),
        Some(&all_a[2])
    );
    // An id of another scenario's submission is not this scenario's.
    let of_b = store.submissions(b.id()).unwrap()[0].id;
    assert_eq!(store.submission(a.id(), of_b).unwrap(), None);
    assert_eq!(store.submission(a.id(), SubmissionId(999)).unwrap(), None);

    let newest: Vec<SubmissionId> = all_a.iter().rev().map(|s| s.id).collect();
    let first = store.submissions_before(a.id(), None, 3).unwrap();
    assert_eq!(first.iter().map(|s| s.id).collect::<Vec<_>>(), newest[..3]);
    assert_eq!(first[0], *all_a.last().unwrap(), "jobs read back whole");
    let second = store
        .submissions_before(a.id(), Some(first[2].id), 3)
        .unwrap();
    assert_eq!(
        second.iter().map(|s| s.id).collect::<Vec<_>>(),
        newest[3..6]
    );
    let last = store
        .submissions_before(a.id(), Some(second[2].id), 3)
        .unwrap();
    assert_eq!(last.iter().map(|s| s.id).collect::<Vec<_>>(), newest[6..]);
    assert!(
        store
            .submissions_before(never.id(), None, 3)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sqlite_pages_agree_with_the_whole_history() {
    let dir = tempfile::tempdir().unwrap();
    check(&Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap());
}

#[test]
fn memory_pages_agree_with_the_whole_history() {
    check(&Runtime::with_store(MemoryStore::new()));
}

#[test]
fn a_lock_holder_is_named_only_while_held() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
    let scenario = runtime.create_scenario(graph(), "a").unwrap();
    let owner = pipeline_core::store::Owner::Scenario(scenario.id());
    assert_eq!(runtime.store().lock_holder(&owner).unwrap(), None);
    let other =
        pipeline_core::store::SqliteStore::open_with(dir.path(), SqliteOptions::new().quiet(true))
            .unwrap();
    let held = pipeline_core::store::Store::lock(&other, &owner).unwrap();
    assert_eq!(
        runtime.store().lock_holder(&owner).unwrap().as_deref(),
        Some("another thread of this process")
    );
    drop(held);
    assert_eq!(runtime.store().lock_holder(&owner).unwrap(), None);
    assert_eq!(
        Runtime::in_memory().store().lock_holder(&owner).unwrap(),
        None
    );
}
