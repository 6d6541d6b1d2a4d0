//! A skippable task whose output differs between runs from the same key is
//! said to be not deterministic (a warning), since early cutoff cannot stop
//! its re-runs from reaching the tasks after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime, SubmitOptions};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

static DRAWS: AtomicU64 = AtomicU64::new(0);

/// `seed --draw--> n --double--> d`, where `draw` gives a new number each
/// run, and `same --copy--> c`, which gives the same each run.
fn graph() -> Graph {
    GraphBuilder::new("draws")
        .node(NodeSpec::new::<u64>("seed").with_default(1))
        .node(NodeSpec::new::<u64>("n"))
        .node(NodeSpec::new::<u64>("d"))
        .node(NodeSpec::new::<u64>("same").with_default(7))
        .node(NodeSpec::new::<u64>("c"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("draw", "1", |seed: &u64| {
                seed + DRAWS.fetch_add(1, Ordering::Relaxed)
            }))
            .inputs(["seed"])
            .outputs(["n"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("double", "1", |n: &u64| n * 2))
                .inputs(["n"])
                .outputs(["d"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("copy", "1", |x: &u64| *x))
                .inputs(["same"])
                .outputs(["c"])
                .skippable(true),
        )
        .build()
        .unwrap()
}

/// Keeps the message of every WARN event.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(message);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_task_that_gives_another_output_from_the_same_key_is_said_to_vary() {
    let warnings = Warnings::default();
    let seen = warnings.0.clone();
    // Global: tasks may run on worker threads. The file's only test.
    tracing::subscriber::set_global_default(warnings).unwrap();
    {
        let scenario = Runtime::in_memory().create_scenario(graph(), "s").unwrap();
        let forced = SubmitOptions::new().force(true).max_workers(1);
        scenario.submit_with(&forced).unwrap();
        assert!(
            seen.lock().unwrap().is_empty(),
            "a first run compares nothing"
        );
        let again = scenario.submit_with(&forced).unwrap();
        assert_eq!(again.job("copy").unwrap().status, JobStatus::Completed);
        let said = seen.lock().unwrap().clone();
        assert_eq!(said.len(), 1, "only `draw` varies: {said:?}");
        assert!(
            said[0].starts_with(
                "task `draw` gave another `n` than its last run from the same inputs and code"
            ),
            "{said:?}"
        );
        // A new input is a new key: a different output is expected then.
        scenario.node::<u64>("seed").unwrap().write(2).unwrap();
        scenario.submit().unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
