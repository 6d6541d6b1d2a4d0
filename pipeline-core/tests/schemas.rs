//! A stored value records its type's schema; bytes stored under another
//! schema are never decoded as the current type: the value counts as missing
//! and its producer runs again (or the user is told to write it again).

mod store_support;

use std::path::{Path, PathBuf};

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::{Change, JobStatus, Reason, Runtime, Value};
use store_support::{child_output, child_role, open, spawn_child};

/// The type as first defined.
mod v1 {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    pub struct Customer {
        pub first: String,
        pub last: String,
    }
    pipeline_core::serde_value!(Customer);
}

/// The same type after its two fields were swapped: same name, same node,
/// same task names; old bytes decode into it without error, wrongly.
mod v2 {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    pub struct Customer {
        pub last: String,
        pub first: String,
    }
    pipeline_core::serde_value!(Customer);
}

/// The type after a field was added with a default: old text reads into it.
mod with_title {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    pub struct Customer {
        pub first: String,
        pub last: String,
        #[serde(default)]
        pub title: String,
    }
    pipeline_core::serde_value!(Customer);
}

/// The type after a field was added that old text does not have.
mod with_age {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    pub struct Customer {
        pub first: String,
        pub last: String,
        pub age: u32,
    }
    pipeline_core::serde_value!(Customer);
}

/// `customer --greet--> greeting`, `customer` an input of type `C` with a
/// default.
fn input_graph<C: Value + Clone>(default: C, greet: fn(&C) -> String) -> Graph {
    GraphBuilder::new("input")
        .node(NodeSpec::new::<String>("greeting"))
        .node(NodeSpec::new::<C>("customer").with_default(default))
        .task(
            TaskSpec::new(TaskDef::from_fn1("greet", "1", greet))
                .inputs(["customer"])
                .outputs(["greeting"])
                .skippable(true),
        )
        .build()
        .unwrap()
}

/// `name --make--> customer --greet--> greeting`, with the customer type
/// `C` (made by `make`, read by `greet`), `greet` at code `version`.
fn graph<C: Value + Clone>(
    make: fn(&String) -> C,
    greet: fn(&C) -> String,
    version: &str,
) -> Graph {
    GraphBuilder::new("customers")
        .node(NodeSpec::new::<String>("name").with_default("Ada Lovelace".to_owned()))
        .node(NodeSpec::new::<C>("customer"))
        .node(NodeSpec::new::<String>("greeting"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make", "1", make))
                .inputs(["name"])
                .outputs(["customer"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("greet", version, greet))
                .inputs(["customer"])
                .outputs(["greeting"])
                .skippable(true),
        )
        .build()
        .unwrap()
}

fn split(name: &str) -> (String, String) {
    let (first, last) = name.split_once(' ').unwrap();
    (first.to_owned(), last.to_owned())
}

fn before() -> Graph {
    graph::<v1::Customer>(
        |name| {
            let (first, last) = split(name);
            v1::Customer { first, last }
        },
        |c| format!("Hello, {} {}!", c.first, c.last),
        "1",
    )
}

/// After the swap, the user also edits `greet` (its code changes).
fn after() -> Graph {
    graph::<v2::Customer>(
        |name| {
            let (first, last) = split(name);
            v2::Customer { last, first }
        },
        |c| format!("Dear {} {}.", c.first, c.last),
        "2",
    )
}

fn greeting(runtime: &Runtime, graph: Graph) -> (pipeline_core::Submission, String) {
    let scenario = runtime.find_or_create_scenario(graph, "s").unwrap();
    let submission = scenario.submit().unwrap();
    let greeting = scenario.node::<String>("greeting").unwrap().read().unwrap();
    (submission, String::clone(&greeting))
}

#[test]
fn swapped_fields_are_never_decoded_as_the_new_layout() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_, text) = greeting(&open(dir.path()), before());
        assert_eq!(text, "Hello, Ada Lovelace!");
    }
    let (submission, text) = greeting(&open(dir.path()), after());
    assert_eq!(
        text, "Dear Ada Lovelace.",
        "the old bytes were decoded as the new type"
    );
    let make = submission.job("make").unwrap();
    assert_eq!(
        make.status,
        JobStatus::Completed,
        "its output's layout changed"
    );
    assert!(
        matches!(&make.reason, Some(Reason::OutputSchema { node, .. }) if &**node == "customer"),
        "{:?}",
        make.reason
    );
}

#[test]
fn swapped_fields_are_never_decoded_as_the_new_layout_in_one_runtime() {
    let runtime = Runtime::in_memory();
    let (_, text) = greeting(&runtime, before());
    assert_eq!(text, "Hello, Ada Lovelace!");
    // The same runtime opens the scenario with the new definitions.
    let (submission, text) = greeting(&runtime, after());
    assert_eq!(text, "Dear Ada Lovelace.");
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["make", "greet"]
    );
    let greet = submission.job("greet").unwrap();
    let Some(Reason::Changed { changes }) = &greet.reason else {
        panic!("{:?}", greet.reason)
    };
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::InputSchema { node, .. } if &**node == "customer")),
        "{changes:?}"
    );
}

#[test]
fn a_value_a_user_wrote_under_the_old_layout_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let input_graph = |v2: bool| {
        let builder = GraphBuilder::new("input").node(NodeSpec::new::<String>("greeting"));
        if v2 {
            builder
                .node(
                    NodeSpec::new::<v2::Customer>("customer").with_default(v2::Customer {
                        first: "?".into(),
                        last: "?".into(),
                    }),
                )
                .task(
                    TaskSpec::new(TaskDef::from_fn1("greet", "1", |c: &v2::Customer| {
                        format!("{} {}", c.first, c.last)
                    }))
                    .inputs(["customer"])
                    .outputs(["greeting"])
                    .skippable(true),
                )
                .build()
                .unwrap()
        } else {
            builder
                .node(
                    NodeSpec::new::<v1::Customer>("customer").with_default(v1::Customer {
                        first: "?".into(),
                        last: "?".into(),
                    }),
                )
                .task(
                    TaskSpec::new(TaskDef::from_fn1("greet", "1", |c: &v1::Customer| {
                        format!("{} {}", c.first, c.last)
                    }))
                    .inputs(["customer"])
                    .outputs(["greeting"])
                    .skippable(true),
                )
                .build()
                .unwrap()
        }
    };
    {
        let scenario = open(dir.path())
            .create_scenario(input_graph(false), "s")
            .unwrap();
        scenario
            .node::<v1::Customer>("customer")
            .unwrap()
            .write(v1::Customer {
                first: "Ada".into(),
                last: "Lovelace".into(),
            })
            .unwrap();
        scenario.submit().unwrap();
    }
    let scenario = open(dir.path())
        .find_scenario(input_graph(true), "s")
        .unwrap()
        .unwrap();
    let node = scenario.node::<v2::Customer>("customer").unwrap();
    let error = node.read().unwrap_err().to_string();
    // The value is not lost with its bytes: its text is shown, read by
    // field name into the new layout.
    let kept = r#"It was {"first":"Ada","last":"Lovelace"}, which the current `Customer` reads as {"last":"Lovelace","first":"Ada"}: write that to keep it"#;
    assert!(
        error.contains("customer") && error.contains("write it again") && error.contains(kept),
        "{error}"
    );
    let submission = scenario.submit().unwrap();
    let job = submission.job("greet").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let message = job.error_text().unwrap();
    assert!(
        message.contains("`customer`")
            && message.contains("write it again")
            && message.contains(kept),
        "{message}"
    );
    // Written again, it is used.
    node.write(v2::Customer {
        first: "Ada".into(),
        last: "Lovelace".into(),
    })
    .unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(
        *scenario.node::<String>("greeting").unwrap().read().unwrap(),
        "Ada Lovelace"
    );
}

#[test]
fn the_text_of_a_value_written_under_an_old_layout_is_kept_and_read_anew() {
    let dir = tempfile::tempdir().unwrap();
    let ada = || v1::Customer {
        first: "Ada".into(),
        last: "Lovelace".into(),
    };
    {
        let scenario = open(dir.path())
            .create_scenario(input_graph(ada(), |c| c.first.clone()), "s")
            .unwrap();
        let node = scenario.node::<v1::Customer>("customer").unwrap();
        node.write(v1::Customer {
            first: "Grace".into(),
            last: "Hopper".into(),
        })
        .unwrap();
        // gc keeps the text of a value it keeps.
        open(dir.path()).gc().unwrap();
    }
    // A field added with a default: the old text reads, the default filled in.
    let scenario = open(dir.path())
        .find_scenario(
            input_graph(
                with_title::Customer {
                    first: "?".into(),
                    last: "?".into(),
                    title: String::new(),
                },
                |c| c.first.clone(),
            ),
            "s",
        )
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    let message = submission.job("greet").unwrap().error_text().unwrap();
    assert!(
        message.contains(
            r#"It was {"first":"Grace","last":"Hopper"}, which the current `Customer` reads as {"first":"Grace","last":"Hopper","title":""}"#
        ),
        "{message}"
    );
    // A field added that the text lacks: said, with serde's reason.
    let scenario = open(dir.path())
        .find_scenario(
            input_graph(
                with_age::Customer {
                    first: "?".into(),
                    last: "?".into(),
                    age: 0,
                },
                |c| c.first.clone(),
            ),
            "s",
        )
        .unwrap()
        .unwrap();
    let error = scenario
        .node::<with_age::Customer>("customer")
        .unwrap()
        .read()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(r#"It was {"first":"Grace","last":"Hopper"}, which the current `Customer` does not read (missing field `age`"#),
        "{error}"
    );
}

#[test]
fn a_default_stored_under_an_old_layout_is_written_again() {
    #[derive(serde::Serialize, serde::Deserialize, Clone)]
    struct Pair {
        a: u32,
        b: u32,
    }
    pipeline_core::serde_value!(Pair);
    #[derive(serde::Serialize, serde::Deserialize, Clone)]
    struct Swapped {
        b: u32,
        a: u32,
    }
    pipeline_core::serde_value!(Swapped);
    let dir = tempfile::tempdir().unwrap();
    let graph = |swapped: bool| {
        let builder = GraphBuilder::new("defaults").node(NodeSpec::new::<u32>("diff"));
        let (builder, diff) = if swapped {
            (
                builder
                    .node(NodeSpec::new::<Swapped>("pair").with_default(Swapped { b: 1, a: 10 })),
                TaskDef::from_fn1("diff", "1", |p: &Swapped| p.a - p.b),
            )
        } else {
            (
                builder.node(NodeSpec::new::<Pair>("pair").with_default(Pair { a: 10, b: 1 })),
                TaskDef::from_fn1("diff", "1", |p: &Pair| p.a - p.b),
            )
        };
        builder
            .task(
                TaskSpec::new(diff)
                    .inputs(["pair"])
                    .outputs(["diff"])
                    .skippable(true),
            )
            .build()
            .unwrap()
    };
    {
        let scenario = open(dir.path()).create_scenario(graph(false), "s").unwrap();
        scenario.submit().unwrap();
        assert_eq!(*scenario.node::<u32>("diff").unwrap().read().unwrap(), 9);
    }
    let scenario = open(dir.path())
        .find_scenario(graph(true), "s")
        .unwrap()
        .unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(*scenario.node::<u32>("diff").unwrap().read().unwrap(), 9);
}

#[test]
fn a_store_recorded_before_schemas_reruns_each_producer_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        greeting(&open(dir.path()), before());
    }
    // What a store written before schemas were recorded holds: versions
    // without schemas, under task keys of the earlier formula (no memo entry
    // matches a key of this one).
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    db.execute_batch(
        "UPDATE versions SET schema = NULL; \
         UPDATE versions SET task_key = zeroblob(32) WHERE task_key IS NOT NULL; \
         DELETE FROM memo;",
    )
    .unwrap();
    drop(db);
    let runtime = open(dir.path());
    let (submission, text) = greeting(&runtime, before());
    assert_eq!(text, "Hello, Ada Lovelace!");
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["make", "greet"]
    );
    let (again, _) = greeting(&runtime, before());
    assert_eq!(again.tasks_with(JobStatus::Skipped), ["make", "greet"]);
}

/// Two child processes: the first stores with the old definition, the
/// second reads with the new one.
#[test]
fn swapped_fields_are_never_decoded_as_the_new_layout_in_a_new_process() {
    if let Some(role) = child_role() {
        let store = PathBuf::from(std::env::var("STORE").unwrap());
        let graph = if role == "before" { before() } else { after() };
        let (submission, text) = greeting(&open(&store), graph);
        println!(
            "{role}: make={} text={text}",
            submission.status("make").unwrap()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |role: &str, store: &Path| {
        let mut child = spawn_child(
            "swapped_fields_are_never_decoded_as_the_new_layout_in_a_new_process",
            role,
            &[("STORE", store)],
        );
        let status = child.wait().unwrap();
        let output = child_output(&mut child);
        assert!(status.success(), "{output}");
        output
    };
    let first = run("before", dir.path());
    assert!(
        first.contains("before: make=completed text=Hello, Ada Lovelace!"),
        "{first}"
    );
    let second = run("after", dir.path());
    assert!(
        second.contains("after: make=completed text=Dear Ada Lovelace."),
        "{second}"
    );
}
