//! A task's declared environment variables are read at every decision and
//! their values are in its key: unset is distinct from empty.
//!
//! One test in this binary: it changes the process's environment.

use std::any::Any;
use std::sync::Arc;

use pipeline_core::code::{CodeIdentity, CodePart};
use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::value::ValueType;
use pipeline_core::{Change, JobStatus, Reason, Runtime};

const VARIABLE: &str = "PIPELINE_CORE_TEST_DECLARED_MODE";

fn set(value: Option<&str>) {
    // SAFETY: this binary's only test is the one thread reading or writing
    // the environment.
    unsafe {
        match value {
            Some(value) => std::env::set_var(VARIABLE, value),
            None => std::env::remove_var(VARIABLE),
        }
    }
}

#[test]
fn a_task_declaring_env_reruns_when_the_variable_changes_and_only_then() {
    set(None);
    let code = CodeIdentity::new(
        [(CodePart::Version, Fingerprint::of_bytes(b"1"))],
        [VARIABLE],
    );
    let task = TaskDef::new(
        "mode",
        code,
        vec![ValueType::of::<i64>()],
        vec![ValueType::of::<String>()],
        Arc::new(|inputs| {
            let x = pipeline_core::task::expect_input::<i64>(inputs, 0);
            let mode = std::env::var(VARIABLE).unwrap_or_else(|_| "(unset)".to_owned());
            Ok(vec![
                Box::new(format!("{x} {mode}")) as Box<dyn Any + Send + Sync>
            ])
        }),
    );
    let graph = GraphBuilder::new("env")
        .node(NodeSpec::new::<i64>("x").with_default(1))
        .node(NodeSpec::new::<String>("out"))
        .task(
            TaskSpec::new(task)
                .inputs(["x"])
                .outputs(["out"])
                .skippable(true),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let out = || String::clone(&scenario.node::<String>("out").unwrap().read().unwrap());
    let step = |expected: JobStatus, value: &str| {
        let submission = scenario.submit().unwrap();
        let job = submission.job("mode").unwrap().clone();
        assert_eq!(job.status, expected, "{:?}", job.reason);
        assert_eq!(out(), value);
        job.reason
    };
    step(JobStatus::Completed, "1 (unset)");
    assert_eq!(
        step(JobStatus::Skipped, "1 (unset)"),
        Some(Reason::UpToDate)
    );
    set(Some(""));
    let reason = step(JobStatus::Completed, "1 ");
    assert_eq!(
        reason,
        Some(Reason::Changed {
            changes: vec![Change::Env {
                variable: VARIABLE.into()
            }]
        }),
        "empty is distinct from unset"
    );
    step(JobStatus::Skipped, "1 ");
    set(Some("fast"));
    step(JobStatus::Completed, "1 fast");
    step(JobStatus::Skipped, "1 fast");
    // Back to a value computed before: the memo reuses that job's output.
    set(None);
    let reason = step(JobStatus::Skipped, "1 (unset)");
    assert!(matches!(reason, Some(Reason::Reused { .. })), "{reason:?}");
}
