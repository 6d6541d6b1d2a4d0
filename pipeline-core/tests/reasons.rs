//! Every decision explains itself: each job records why it ran or was
//! skipped, in both stores and across runtimes, and `explain` says the same
//! before anything runs, without writing anything.

mod store_support;

use std::path::PathBuf;

use pipeline_core::code::CodePart;
use pipeline_core::explain::Verdict;
use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::{ScenarioId, WrittenBy};
use pipeline_core::task::TaskDef;
use pipeline_core::{Change, JobStatus, Reason, Runtime, Scenario, Submission, SubmitOptions};
use store_support::{object_files, open, quiet};

/// `x --square--> y --inc--> z`, and `stamp` (not skippable) reading `x`.
fn graph(square_version: &str) -> Graph {
    GraphBuilder::new("reasons")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<i64>("y"))
        .node(NodeSpec::new::<i64>("z"))
        .node(NodeSpec::new::<String>("stamp"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("square", square_version, |x: &i64| x * x))
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
            TaskSpec::new(TaskDef::from_fn1("stamp", "1", |x: &i64| format!("x={x}")))
                .inputs(["x"])
                .outputs(["stamp"]),
        )
        .build()
        .unwrap()
}

fn reason(submission: &Submission, task: &str) -> Reason {
    submission
        .job(task)
        .unwrap()
        .reason
        .clone()
        .unwrap_or_else(|| panic!("job `{task}` has no reason"))
}

fn fp(value: i64) -> Fingerprint {
    use pipeline_core::Value;
    value.fingerprint().unwrap()
}

fn input_change(node: &str, old: i64, new: i64, written_by: WrittenBy) -> Reason {
    Reason::Changed {
        changes: vec![Change::Input {
            node: node.into(),
            old: fp(old),
            new: fp(new),
            written_by,
        }],
    }
}

fn written_by_task(task: &str, scenario: &Scenario, node: &str) -> WrittenBy {
    scenario
        .node::<i64>(node)
        .unwrap()
        .current()
        .unwrap()
        .map(|meta| meta.written_by)
        .filter(|w| matches!(w, WrittenBy::Task { task: t, .. } if &**t == task))
        .expect("written by the task")
}

#[test]
fn every_job_says_why_it_ran_or_was_skipped() {
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph("1"), "s").unwrap();
    let first = scenario.submit().unwrap();
    assert_eq!(reason(&first, "square"), Reason::FirstRun);
    assert_eq!(reason(&first, "inc"), Reason::FirstRun);
    assert_eq!(reason(&first, "stamp"), Reason::NotSkippable);

    let again = scenario.submit().unwrap();
    assert_eq!(reason(&again, "square"), Reason::UpToDate);
    assert_eq!(reason(&again, "inc"), Reason::UpToDate);
    assert_eq!(reason(&again, "stamp"), Reason::NotSkippable);

    scenario.node::<i64>("x").unwrap().write(4).unwrap();
    let changed = scenario.submit().unwrap();
    assert_eq!(
        reason(&changed, "square"),
        input_change("x", 3, 4, WrittenBy::User)
    );
    assert_eq!(
        reason(&changed, "inc"),
        input_change("y", 9, 16, written_by_task("square", &scenario, "y"))
    );
    assert!(
        reason(&changed, "inc")
            .to_string()
            .contains("written by task `square` (submission #3)"),
        "{}",
        reason(&changed, "inc")
    );

    let forced = scenario.submit_forced().unwrap();
    assert_eq!(reason(&forced, "square"), Reason::Forced);

    // New code for `square`: the same runtime opens the scenario again.
    let scenario = runtime.open_scenario(graph("2"), scenario.id()).unwrap();
    let recoded = scenario.submit().unwrap();
    assert_eq!(
        reason(&recoded, "square"),
        Reason::Changed {
            changes: vec![Change::Code {
                parts: vec![CodePart::Version],
                sources: vec![]
            }]
        }
    );
    // Equal output: early cutoff, with its reason.
    assert_eq!(reason(&recoded, "inc"), Reason::UpToDate);

    // A user overwrites an output: the job that made it is reused.
    scenario.node::<i64>("y").unwrap().write(0).unwrap();
    let replaced = scenario.submit().unwrap();
    assert_eq!(
        reason(&replaced, "square"),
        Reason::Reused {
            task: "square".into(),
            scenario: Some(scenario.id()),
            submission: Some(recoded.id),
        }
    );
    assert_eq!(*scenario.node::<i64>("y").unwrap().read().unwrap(), 16);

    // History returns what the submissions returned.
    let history = scenario.job_history().unwrap();
    let last = history.submissions.last().unwrap();
    assert_eq!(last.jobs, replaced.jobs);
    let text = history.to_string();
    assert!(
        text.contains("square  skipped") && text.contains("reused the outputs"),
        "{text}"
    );
    assert_eq!(
        history.to_json()[0]["jobs"][0]["reason"]["kind"],
        "first_run"
    );
}

#[test]
fn a_reused_job_names_the_job_it_reused() {
    let runtime = Runtime::in_memory();
    let first = runtime.create_scenario(graph("1"), "a").unwrap();
    let made = first.submit().unwrap();
    let second = runtime.create_scenario(graph("1"), "b").unwrap();
    let reused = second.submit().unwrap();
    assert_eq!(reused.status("square"), Some(JobStatus::Skipped));
    assert_eq!(
        reason(&reused, "square"),
        Reason::Reused {
            task: "square".into(),
            scenario: Some(first.id()),
            submission: Some(made.id),
        }
    );
}

#[test]
fn reasons_are_stored_and_a_new_runtime_finds_what_changed_in_the_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let id: ScenarioId = {
        let scenario = open(dir.path()).create_scenario(graph("1"), "s").unwrap();
        scenario.submit().unwrap();
        scenario.id()
    };
    {
        let runtime = open(dir.path());
        let scenario = runtime.open_scenario(graph("2"), id).unwrap();
        scenario.node::<i64>("x").unwrap().write(5).unwrap();
        let submission = scenario.submit().unwrap();
        let Reason::Changed { changes } = reason(&submission, "square") else {
            panic!("{:?}", reason(&submission, "square"))
        };
        assert_eq!(
            changes,
            [
                Change::Input {
                    node: "x".into(),
                    old: fp(3),
                    new: fp(5),
                    written_by: WrittenBy::User
                },
                Change::Code {
                    parts: vec![CodePart::Version],
                    sources: vec![]
                }
            ]
        );
    }
    let runtime = open(dir.path());
    let scenario = runtime.open_scenario(graph("2"), id).unwrap();
    let history = scenario.job_history().unwrap();
    let reasons: Vec<Option<Reason>> = history.submissions[1]
        .jobs
        .iter()
        .map(|j| j.reason.clone())
        .collect();
    assert!(
        matches!(&reasons[0], Some(Reason::Changed { .. })),
        "{reasons:?}"
    );
    assert_eq!(
        history.submissions[0].jobs[0].reason,
        Some(Reason::FirstRun)
    );
    // Another scenario reuses the first one's job, and says which.
    let other = runtime.create_scenario(graph("1"), "other").unwrap();
    let reused = other.submit().unwrap();
    assert_eq!(
        reason(&reused, "square"),
        Reason::Reused {
            task: "square".into(),
            scenario: Some(id),
            submission: Some(history.submissions[0].id),
        }
    );
}

#[test]
fn a_damaged_output_is_the_reason_its_task_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = pipeline_core::Runtime::open_with(dir.path(), quiet().inline_limit(0)).unwrap();
    let scenario = runtime.create_scenario(graph("1"), "s").unwrap();
    scenario.submit().unwrap();
    drop(scenario);
    drop(runtime);
    // Every value is a file; remove them all (y's among them).
    for file in object_files(dir.path()) {
        std::fs::remove_file(file).unwrap();
    }
    let runtime = pipeline_core::Runtime::open_with(dir.path(), quiet().inline_limit(0)).unwrap();
    let scenario = runtime.find_scenario(graph("1"), "s").unwrap().unwrap();
    let submission = scenario.submit().unwrap();
    let square = submission.job("square").unwrap();
    assert!(
        matches!(
            &square.reason,
            Some(Reason::OutputMissing { node }) if &**node == "y"
        ),
        "{:?} {:?}",
        square.reason,
        square.error
    );
}

#[test]
fn explain_says_what_a_submission_will_do_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("x.txt");
    std::fs::write(&csv, "1").unwrap();
    let graph = GraphBuilder::new("explain")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<PathBuf>("path").with_default(csv.clone()))
        .node(NodeSpec::new::<i64>("y"))
        .node(NodeSpec::new::<i64>("z"))
        .node(NodeSpec::new::<usize>("len"))
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
            TaskSpec::new(TaskDef::from_fn1("measure", "1", |p: &PathBuf| {
                std::fs::read(p).map_or(0, |b| b.len())
            }))
            .inputs(["path"])
            .outputs(["len"])
            .skippable(true),
        )
        .build()
        .unwrap();
    let runtime = open(&dir.path().join("store"));
    let scenario = runtime.create_scenario(graph, "s").unwrap();
    let plan = scenario.explain(&SubmitOptions::new()).unwrap();
    assert!(plan.iter().all(|e| e.verdict == Verdict::Run), "{plan:?}");
    assert!(
        plan.iter().all(|e| e.reason == Some(Reason::FirstRun)),
        "{plan:?}"
    );
    scenario.submit().unwrap();

    scenario.node::<i64>("x").unwrap().write(4).unwrap();
    std::fs::write(&csv, "22").unwrap();
    let submissions = scenario.job_history().unwrap().submissions.len();
    let path_versions = scenario.node_history("path").unwrap().len();
    let plan = scenario.explain(&SubmitOptions::new()).unwrap();
    let by_task = |task: &str| plan.iter().find(|e| &*e.task == task).unwrap().clone();
    assert_eq!(by_task("square").verdict, Verdict::Run);
    assert_eq!(
        by_task("square").reason,
        Some(input_change("x", 3, 4, WrittenBy::User))
    );
    assert_eq!(by_task("inc").verdict, Verdict::MayRun);
    assert_eq!(
        by_task("inc").to_string(),
        "`inc`: may run: upstream task `square` will run; may run if its output changes"
    );
    let measure = by_task("measure");
    assert_eq!(measure.verdict, Verdict::Run);
    assert!(
        matches!(&measure.reason, Some(Reason::Changed { changes }) if matches!(
            &changes[0],
            Change::Input { node, written_by: WrittenBy::FileChange, .. } if &**node == "path"
        )),
        "{measure:?}"
    );
    // Nothing was written: no submission, no file-change version, no value.
    assert_eq!(
        scenario.job_history().unwrap().submissions.len(),
        submissions
    );
    assert_eq!(scenario.node_history("path").unwrap().len(), path_versions);
    assert_eq!(*scenario.node::<i64>("y").unwrap().read().unwrap(), 9);

    // The submission then does what explain said, for the same reasons.
    let submission = scenario.submit().unwrap();
    assert_eq!(
        Some(reason(&submission, "square")),
        by_task("square").reason
    );
    assert_eq!(Some(reason(&submission, "measure")), measure.reason);
    assert_eq!(submission.status("inc"), Some(JobStatus::Completed));
    let settled = scenario.explain(&SubmitOptions::new()).unwrap();
    assert!(
        settled.iter().all(|e| e.verdict == Verdict::Skip),
        "{settled:?}"
    );
    assert_eq!(settled[0].to_json()["reason"]["kind"], "up_to_date");
    // The sentence too, as `run --json` gives it for a job.
    assert_eq!(settled[0].to_json()["reason_text"], "up to date");
}

/// A task whose code identity lists its sources: a new runtime over the
/// store names the source that changed, from the identity recorded with the
/// job that made the outputs.
#[test]
fn a_code_change_names_the_source_that_changed_across_runtimes() {
    use pipeline_core::code::{CodeIdentity, CodeSource};
    let graph = |helper: u64| {
        let code = CodeIdentity::new(
            [(
                CodePart::CrateSources,
                Fingerprint::of_bytes(&helper.to_le_bytes()),
            )],
            Vec::<String>::new(),
        )
        .with_sources([
            CodeSource::new(CodePart::CrateSources, "src/lib.rs", 1),
            CodeSource::new(CodePart::CrateSources, "src/helpers.rs", helper),
        ]);
        let def =
            TaskDef::from_fn1("double", "unused", |x: &i64| x * 2).with_code_fingerprint(code);
        GraphBuilder::new("sources")
            .node(NodeSpec::new::<i64>("x").with_default(2))
            .node(NodeSpec::new::<i64>("y"))
            .task(
                TaskSpec::new(def)
                    .inputs(["x"])
                    .outputs(["y"])
                    .skippable(true),
            )
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    {
        open(dir.path())
            .create_scenario(graph(1), "s")
            .unwrap()
            .submit()
            .unwrap();
    }
    let runtime = open(dir.path());
    let scenario = runtime.find_scenario(graph(2), "s").unwrap().unwrap();
    let submission = scenario.submit().unwrap();
    let reason = reason(&submission, "double");
    assert_eq!(
        reason,
        Reason::Changed {
            changes: vec![Change::Code {
                parts: vec![CodePart::CrateSources],
                sources: vec!["src/helpers.rs changed".to_owned()],
            }]
        }
    );
    assert_eq!(
        reason.to_string(),
        "code changed: crate sources (src/helpers.rs changed)"
    );
}
