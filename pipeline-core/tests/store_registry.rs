//! Asking what happened: the scenario catalog, data node history, lineage, job
//! history and comparisons, on the embedded store and (where it keeps the same
//! records) on the in-memory one.

mod store_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use pipeline_core::compare::{Cell, Compare};
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::lineage::Origin;
use pipeline_core::store::{MemoryStore, ScenarioId, WrittenBy};
use pipeline_core::task::TaskDef;
use pipeline_core::{Error, JobStatus, Runtime, ScenarioFilter};
use store_support::{Counters, blobs, chain, open};

/// The embedded store in a fresh directory, and an in-memory store that keeps
/// lineage: the registry must answer the same on both.
fn runtimes() -> Vec<(Runtime, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    vec![
        (open(dir.path()), Some(dir)),
        (Runtime::with_store(MemoryStore::with_lineage()), None),
    ]
}

fn tags(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn scenarios_are_listed_filtered_found_renamed_tagged_and_deleted() {
    for (runtime, _dir) in runtimes() {
        let chain = Arc::new(chain(&Counters::default(), "1"));
        let blobs = Arc::new(blobs(&Counters::default()));
        let before = SystemTime::now();
        let spring = runtime
            .create_scenario_tagged(chain.clone(), "spring", tags(&["2025", "draft"]))
            .unwrap();
        let autumn = runtime
            .create_scenario_tagged(chain.clone(), "autumn", tags(&["2025"]))
            .unwrap();
        let other = runtime.create_scenario(blobs, "other").unwrap();

        let names = |filter: ScenarioFilter| -> Vec<String> {
            runtime
                .list_scenarios(&filter)
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(names(ScenarioFilter::new()), ["spring", "autumn", "other"]);
        assert_eq!(
            names(ScenarioFilter::new().of_type("chain")),
            ["spring", "autumn"]
        );
        assert_eq!(
            names(ScenarioFilter::new().tagged("2025").tagged("draft")),
            ["spring"]
        );
        assert_eq!(names(ScenarioFilter::new().created_after(before)).len(), 3);
        assert!(names(ScenarioFilter::new().created_before(before)).is_empty());

        assert_eq!(runtime.scenario_meta(autumn.id()).unwrap().name, "autumn");
        assert_eq!(runtime.resolve_scenario("other").unwrap().id, other.id());
        assert_eq!(
            runtime
                .resolve_scenario(&autumn.id().to_string())
                .unwrap()
                .name,
            "autumn"
        );

        let renamed = runtime.rename_scenario(spring.id(), "spring sale").unwrap();
        assert_eq!(renamed.name, "spring sale");
        assert_eq!(
            runtime.resolve_scenario("spring sale").unwrap().id,
            spring.id()
        );
        let tagged = runtime.tag_scenario(spring.id(), "final").unwrap();
        assert_eq!(tagged.tags, tags(&["2025", "draft", "final"]));
        let untagged = runtime.untag_scenario(spring.id(), "draft").unwrap();
        assert_eq!(untagged.tags, tags(&["2025", "final"]));

        runtime.delete_scenario(autumn.id()).unwrap();
        assert_eq!(names(ScenarioFilter::new()), ["spring sale", "other"]);
        let err = runtime.scenario_meta(autumn.id()).unwrap_err();
        assert!(matches!(err, Error::UnknownScenario(_)), "{err}");
        let err = runtime.rename_scenario(ScenarioId(999), "x").unwrap_err();
        assert!(err.to_string().contains("no scenario #999"), "{err}");
    }
}

#[test]
fn the_catalog_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let runtime = open(dir.path());
        let s = runtime
            .create_scenario_tagged(chain(&Counters::default(), "1"), "s", tags(&["a"]))
            .unwrap();
        runtime.rename_scenario(s.id(), "renamed").unwrap();
        runtime.tag_scenario(s.id(), "b").unwrap();
        s.id()
    };
    let runtime = open(dir.path());
    let meta = runtime.scenario_meta(id).unwrap();
    assert_eq!(meta.name, "renamed");
    assert_eq!(meta.tags, tags(&["a", "b"]));
    assert_eq!(meta.graph, "chain");
}

#[test]
fn gc_frees_the_values_only_deleted_scenarios_used() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let counters = Counters::default();
    let graph = Arc::new(blobs(&counters));
    let keep = runtime.create_scenario(graph.clone(), "keep").unwrap();
    keep.submit().unwrap();
    let drop_me = runtime.create_scenario(graph, "drop").unwrap();
    drop_me.node::<u64>("size").unwrap().write(50_000).unwrap();
    drop_me.submit().unwrap();
    assert_eq!(store_support::object_files(dir.path()).len(), 2);

    // Nothing is garbage while both scenarios exist.
    assert_eq!(runtime.gc().unwrap().values_removed, 0);

    runtime.delete_scenario(drop_me.id()).unwrap();
    let report = runtime.gc().unwrap();
    // The 50 kB blob and its size and sum (the 100 kB blob is kept's).
    assert_eq!(report.values_removed, 3, "{report:?}");
    assert_eq!(report.files_removed, 1, "{report:?}");
    assert!(report.bytes_freed >= 50_000, "{report:?}");
    assert!(report.memo_entries_removed >= 1, "{report:?}");
    assert_eq!(store_support::object_files(dir.path()).len(), 1);
    // The deleted scenario's lineage went with it; the kept one's is whole.
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    let lineage_rows: i64 = db
        .query_row("SELECT count(*) FROM lineage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(lineage_rows, 2, "one per job of the kept scenario");
    let text = keep.lineage("sum").unwrap().to_string();
    assert!(
        text.contains("└── blob v1") && text.contains("└── size v1"),
        "{text}"
    );

    // What the kept scenario uses is intact and still skipped.
    drop(keep);
    drop(runtime);
    let runtime = open(dir.path());
    let keep = runtime
        .find_scenario(blobs(&counters), "keep")
        .unwrap()
        .unwrap();
    assert_eq!(
        keep.submit().unwrap().tasks_with(JobStatus::Skipped).len(),
        2
    );
    assert_eq!(
        keep.node::<Vec<u8>>("blob").unwrap().read().unwrap().len(),
        100_000
    );
}

#[test]
fn node_history_lists_every_version_with_time_fingerprint_size_and_writer() {
    for (runtime, _dir) in runtimes() {
        let scenario = runtime
            .create_scenario(chain(&Counters::default(), "1"), "s")
            .unwrap();
        let before = SystemTime::now();
        scenario.submit().unwrap();
        scenario.node::<i64>("x").unwrap().write(4).unwrap();
        scenario.submit().unwrap();

        let x = scenario.node_history("x").unwrap();
        assert_eq!(x.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(x[0].written_by, WrittenBy::Default);
        assert_eq!(x[1].written_by, WrittenBy::User);
        assert_eq!(
            x[1].fingerprint,
            scenario
                .node::<i64>("x")
                .unwrap()
                .fingerprint()
                .unwrap()
                .unwrap()
        );
        assert!(x[0].to_string().contains("default"), "{}", x[0]);
        assert!(x[1].to_string().contains("written by user"), "{}", x[1]);

        let label = scenario.node_history("label").unwrap();
        assert_eq!(label.len(), 2);
        assert!(label[1].written_at >= before);
        // "even": an 8-byte length and 4 bytes.
        assert_eq!(label[1].size, Some(12));
        let WrittenBy::Task {
            task, submission, ..
        } = &label[1].written_by
        else {
            panic!("written by a job: {:?}", label[1]);
        };
        assert_eq!(&**task, "label");
        let line = label[1].to_string();
        assert!(line.starts_with("v2  "), "{line}");
        assert!(
            line.contains(&format!("task `label` (submission {submission})")),
            "{line}"
        );
        assert!(line.contains("12 B"), "{line}");
        assert_eq!(label[1].to_json()["written_by"]["task"], "label");

        let err = scenario.node_history("nope").unwrap_err().to_string();
        assert!(err.contains("no data node `nope`"), "{err}");
    }
}

#[test]
fn lineage_traces_the_exact_input_versions_down_to_user_writes() {
    for (runtime, _dir) in runtimes() {
        let scenario = runtime
            .create_scenario(chain(&Counters::default(), "1"), "s")
            .unwrap();
        scenario.submit().unwrap(); // label v1 from x v1 = 3
        scenario.node::<i64>("x").unwrap().write(4).unwrap();
        scenario.submit().unwrap(); // label v2 from x v2 = 4

        let old = scenario.lineage_of("label", 1).unwrap();
        let new = scenario.lineage("label").unwrap();
        let input_of = |l: &pipeline_core::lineage::Lineage| -> Vec<(String, u64)> {
            let Origin::Task {
                inputs: Some(inputs),
                ..
            } = &l.origin
            else {
                panic!("lineage of a job's output has inputs: {l:?}");
            };
            inputs
                .iter()
                .map(|i| (i.slot.node.to_string(), i.version))
                .collect()
        };
        assert_eq!(input_of(&old), [("parity".to_owned(), 1)]);
        assert_eq!(input_of(&new), [("parity".to_owned(), 2)]);

        // Down the chain of the old version: parity v1 ← squared v1 ← x v1 (default).
        let text = old.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("label v1") && lines[0].contains("task `label`"),
            "{text}"
        );
        assert!(
            lines[0].contains("code "),
            "the code fingerprint is shown: {text}"
        );
        assert!(lines[1].starts_with("└── parity v1"), "{text}");
        assert!(lines[2].starts_with("    └── squared v1"), "{text}");
        assert!(
            lines[3].starts_with("        └── x v1") && lines[3].contains("default"),
            "{text}"
        );
        let newer = new.to_string();
        assert!(
            newer.contains("x v2") && newer.contains("written by user"),
            "{newer}"
        );

        let json = old.to_json();
        assert_eq!(json["node"], "label");
        assert_eq!(json["version"], 1);
        assert_eq!(json["written_by"]["kind"], "task");
        assert_eq!(json["code"].as_str().unwrap().len(), 64);
        let x = &json["inputs"][0]["inputs"][0]["inputs"][0];
        assert_eq!(x["node"], "x");
        assert_eq!(x["version"], 1);
        assert_eq!(x["written_by"]["kind"], "default");
        assert_eq!(x["scenario"], scenario.id().0);
    }
}

#[test]
fn lineage_of_reused_outputs_names_this_scenarios_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let graph = Arc::new(chain(&Counters::default(), "1"));
    runtime
        .create_scenario(graph.clone(), "a")
        .unwrap()
        .submit()
        .unwrap();
    let b = runtime.create_scenario(graph, "b").unwrap();
    b.submit().unwrap();
    let lineage = b.lineage("squared").unwrap();
    let Origin::Task {
        reused,
        inputs: Some(inputs),
        ..
    } = &lineage.origin
    else {
        panic!("{lineage:?}");
    };
    assert!(reused);
    assert_eq!(
        inputs[0].slot.owner,
        pipeline_core::store::Owner::Scenario(b.id())
    );
    assert!(lineage.to_string().contains("reused from an identical job"));
}

#[test]
fn an_in_memory_store_without_lineage_says_so() {
    let scenario = Runtime::in_memory()
        .create_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap();
    scenario.submit().unwrap();
    let lineage = scenario.lineage("squared").unwrap();
    assert!(matches!(lineage.origin, Origin::Task { inputs: None, .. }));
    assert!(
        lineage
            .to_string()
            .contains("inputs not recorded by this store"),
        "{lineage}"
    );
}

#[test]
fn lineage_shows_a_shared_input_once() {
    for (runtime, _dir) in runtimes() {
        let graph = GraphBuilder::new("diamond")
            .node(NodeSpec::new::<i64>("x").with_default(2))
            .node(NodeSpec::new::<i64>("a"))
            .node(NodeSpec::new::<i64>("b"))
            .node(NodeSpec::new::<i64>("sum"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
                    .inputs(["x"])
                    .outputs(["a"]),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn1("triple", "1", |x: &i64| x * 3))
                    .inputs(["x"])
                    .outputs(["b"]),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn2("add", "1", |a: &i64, b: &i64| a + b))
                    .inputs(["a", "b"])
                    .outputs(["sum"]),
            )
            .build()
            .unwrap();
        let scenario = runtime.create_scenario(graph, "s").unwrap();
        scenario.submit().unwrap();
        let text = scenario.lineage("sum").unwrap().to_string();
        assert_eq!(text.matches("x v1").count(), 2, "{text}");
        assert_eq!(text.matches("(see above)").count(), 1, "{text}");
    }
}

#[test]
fn job_history_records_status_times_and_errors_of_every_submission() {
    for (runtime, _dir) in runtimes() {
        let graph = GraphBuilder::new("failing")
            .node(NodeSpec::new::<i64>("x").with_default(1))
            .node(NodeSpec::new::<i64>("y"))
            .node(NodeSpec::new::<i64>("z"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("check", "1", |x: &i64| {
                    assert!(*x < 10, "x is too large: {x}");
                    *x
                }))
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn1("next", "1", |y: &i64| y + 1))
                    .inputs(["y"])
                    .outputs(["z"])
                    .skippable(true),
            )
            .build()
            .unwrap();
        let scenario = runtime.create_scenario(graph, "s").unwrap();
        scenario.submit().unwrap();
        scenario.node::<i64>("x").unwrap().write(50).unwrap();
        scenario.submit_task("check").unwrap();

        let history = scenario.job_history().unwrap();
        assert_eq!(history.submissions.len(), 2);
        let [first, second] = &history.submissions[..] else {
            unreachable!()
        };
        assert_eq!(first.target, "scenario");
        assert_eq!(second.target, "task check");
        assert!(first.is_success());
        let failed = second.job("check").unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(
            failed
                .error
                .as_deref()
                .unwrap()
                .contains("x is too large: 50")
        );
        assert!(failed.ended_at().unwrap() >= failed.started_at.unwrap());
        assert!(first.job("check").unwrap().duration.is_some());

        let text = history.to_string();
        assert!(text.contains("task check"), "{text}");
        assert!(
            text.contains("check  failed") && text.contains("x is too large"),
            "{text}"
        );
        let json = history.to_json();
        assert_eq!(json[1]["jobs"][0]["status"], "failed");
        assert!(json[0]["jobs"][1]["duration_s"].is_number());
    }
}

#[test]
fn compare_shows_each_node_equal_or_different_with_small_values_and_comparators() {
    for (runtime, _dir) in runtimes() {
        let graph = Arc::new(blobs(&Counters::default()));
        let small = runtime.create_scenario(graph.clone(), "small").unwrap();
        small.node::<u64>("size").unwrap().write(10).unwrap();
        small.submit().unwrap();
        let large = runtime.create_scenario(graph.clone(), "large").unwrap();
        large.submit().unwrap();
        let also_large = runtime
            .create_scenario(graph.clone(), "also large")
            .unwrap();
        also_large.submit().unwrap();

        let comparison = Compare::new([small.clone(), large.clone()])
            .comparator("sum", |sums: &[&u64]| {
                format!("Δ {}", *sums[1] as i64 - *sums[0] as i64)
            })
            .run()
            .unwrap();
        assert_eq!(comparison.nodes.len(), 3);
        assert!(comparison.nodes.iter().all(|n| !n.equal));
        let size = comparison.node("size").unwrap();
        assert!(matches!(&size.cells[0], Cell::Value { rendered: Some(v), .. } if v == "10"));
        assert!(matches!(&size.cells[1], Cell::Value { rendered: Some(v), .. } if v == "100000"));
        // As JSON: typed, as `Value::to_json` gives it.
        assert!(matches!(&size.cells[1], Cell::Value { json: Some(v), .. } if *v == 100_000));
        // A 100 kB blob is not shown, only identified.
        let blob = comparison.node("blob").unwrap();
        assert!(matches!(
            &blob.cells[1],
            Cell::Value {
                rendered: None,
                size: Some(100_008),
                ..
            }
        ));
        assert!(
            matches!(&blob.cells[0], Cell::Value { rendered: Some(v), .. } if v.starts_with('['))
        );
        let sum = comparison.node("sum").unwrap();
        assert_eq!(sum.comparator.as_deref(), Some("Δ 10199900"));

        let text = comparison.to_string();
        assert!(
            text.contains("small (#") && text.contains("large (#"),
            "{text}"
        );
        assert!(text.contains("≠"), "{text}");
        assert!(text.contains("97.7 KiB"), "{text}");
        // Typed in JSON: a number.
        assert_eq!(comparison.to_json()["nodes"][0]["values"][0]["value"], 10);

        let same = Compare::new([large.clone(), also_large.clone()])
            .run()
            .unwrap();
        assert!(same.nodes.iter().all(|n| n.equal), "{same}");
        assert_eq!(same.differences().count(), 0);
        assert!(
            same.to_string().lines().skip(1).all(|l| l.contains(" = ")),
            "{same}"
        );
    }
}

#[test]
fn compare_refuses_what_cannot_be_compared() {
    let runtime = Runtime::in_memory();
    let a = runtime
        .create_scenario(chain(&Counters::default(), "1"), "a")
        .unwrap();
    let b = runtime
        .create_scenario(blobs(&Counters::default()), "b")
        .unwrap();
    let err = Compare::new([a.clone(), b]).run().unwrap_err().to_string();
    assert!(
        err.contains("is a `chain` scenario but `b`") && err.contains("one type"),
        "{err}"
    );
    let err = Compare::new([a.clone()]).run().unwrap_err().to_string();
    assert!(err.contains("at least two scenarios"), "{err}");
    let a2 = runtime
        .create_scenario(chain(&Counters::default(), "1"), "a2")
        .unwrap();
    let err = Compare::new([a, a2])
        .comparator("x", |_: &[&String]| String::new())
        .run()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`x` holds i64, not String"), "{err}");
}
