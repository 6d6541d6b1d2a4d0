//! Random DAGs of integer tasks, shared by the correctness oracles
//! (`oracle.rs` for the in-memory store, `store_oracle.rs` for SQLite).
//!
//! Besides `sources` integer nodes, every DAG has a file: the node `path`
//! names it and the task `rf` reads the integer in it into the node `fv`,
//! which tasks may read like a source. Each task's output node has one of
//! two types of equal encoding but distinct schemas ([`Gen0`], [`Gen1`]):
//! flipping it is a schema change.

#![allow(dead_code)]

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::{TaskDef, TaskError};
use pipeline_core::value::{ValueError, ValueType};
use pipeline_core::{Change, Reason, Scenario, Value};
use proptest::prelude::*;

/// One task of a random DAG.
#[derive(Debug, Clone)]
pub struct TaskShape {
    /// Indices into the node list (sources first, then `fv`, then task
    /// outputs in order).
    pub inputs: Vec<usize>,
    /// Whether the task may be skipped.
    pub skippable: bool,
    /// Small moduli make equal outputs, hence early cutoff, common.
    pub modulus: i64,
}

/// Source nodes, the file's value, then tasks, each writing one output node.
#[derive(Debug, Clone)]
pub struct Dag {
    /// How many source nodes (`s0`, `s1`, ...).
    pub sources: usize,
    /// The tasks (`t0` writes `o0`, ...).
    pub tasks: Vec<TaskShape>,
}

impl Dag {
    /// The index of `fv`, the file's value, in the node list.
    pub fn file_value(&self) -> usize {
        self.sources
    }

    /// The index of task `i`'s output in the node list.
    pub fn output(&self, task: usize) -> usize {
        self.sources + 1 + task
    }
}

/// The name of node `index` (sources first, then `fv`, then task outputs).
pub fn node_name(dag: &Dag, index: usize) -> String {
    if index < dag.sources {
        format!("s{index}")
    } else if index == dag.sources {
        "fv".to_owned()
    } else {
        format!("o{}", index - dag.sources - 1)
    }
}

/// What task `task` computes from its inputs at code `version`.
pub fn task_output(task: usize, inputs: &[i64], version: i64, modulus: i64) -> i64 {
    (inputs.iter().sum::<i64>() * (task as i64 + 1) + version).rem_euclid(modulus)
}

/// Random DAGs of 1–3 sources and 1–`max_tasks` tasks.
pub fn dag_strategy(max_tasks: usize) -> impl Strategy<Value = Dag> {
    (1usize..=3, 1usize..=max_tasks).prop_flat_map(|(sources, task_count)| {
        let tasks: Vec<_> = (0..task_count)
            .map(|i| {
                let available = sources + 1 + i;
                (
                    proptest::sample::subsequence(
                        (0..available).collect::<Vec<_>>(),
                        1..=available.min(3),
                    ),
                    proptest::bool::weighted(0.8),
                    2i64..=5,
                )
                    .prop_map(|(inputs, skippable, modulus)| TaskShape {
                        inputs,
                        skippable,
                        modulus,
                    })
            })
            .collect();
        tasks.prop_map(move |tasks| Dag { sources, tasks })
    })
}

macro_rules! generation {
    ($($name:ident),*) => {$(
        /// An integer whose type's schema is its own.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name(pub i64);

        impl Value for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
                self.0.encode(out)
            }
            fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
                i64::decode(input).map($name)
            }
            fn schema() -> Result<Fingerprint, ValueError> {
                Ok(pipeline_core::schema::named(stringify!($name)))
            }
        }
    )*};
}

generation!(Gen0, Gen1);

fn output_type(generation: u8) -> ValueType {
    if generation == 0 {
        ValueType::of::<Gen0>()
    } else {
        ValueType::of::<Gen1>()
    }
}

fn integer(value: &(dyn Any + Send + Sync)) -> i64 {
    value
        .downcast_ref::<i64>()
        .copied()
        .or_else(|| value.downcast_ref::<Gen0>().map(|v| v.0))
        .or_else(|| value.downcast_ref::<Gen1>().map(|v| v.0))
        .expect("an integer node")
}

fn boxed(value: i64, generation: u8) -> Box<dyn Any + Send + Sync> {
    if generation == 0 {
        Box::new(Gen0(value))
    } else {
        Box::new(Gen1(value))
    }
}

/// The value of node `index` as an integer.
pub fn read_node(scenario: &Scenario, dag: &Dag, index: usize, generations: &[u8]) -> i64 {
    let name = node_name(dag, index);
    if index <= dag.sources {
        return *scenario.node::<i64>(&name).unwrap().read().unwrap();
    }
    match generations[index - dag.sources - 1] {
        0 => scenario.node::<Gen0>(&name).unwrap().read().unwrap().0,
        _ => scenario.node::<Gen1>(&name).unwrap().read().unwrap().0,
    }
}

/// Writes the file in place: same size (one digit), same modification time.
pub fn write_file_in_place(path: &Path, value: i64) {
    let before = std::fs::metadata(path).ok();
    std::fs::write(path, value.to_string()).unwrap();
    if let Some(before) = before {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();
    }
}

/// The graph of `dag`: task `i` at code `versions[i]` with its output of
/// type generation `generations[i]`, counting its runs in `runs[i]` (the
/// file reader's in `runs[dag.tasks.len()]`).
pub fn build_graph(
    dag: &Dag,
    versions: &[i64],
    generations: &[u8],
    file: &Path,
    runs: &Arc<Vec<AtomicUsize>>,
) -> Graph {
    let mut builder = GraphBuilder::new("random");
    for s in 0..dag.sources {
        builder = builder.node(NodeSpec::new::<i64>(format!("s{s}")).with_default(0));
    }
    let reader_runs = runs.clone();
    let reader_index = dag.tasks.len();
    builder = builder
        .node(NodeSpec::new::<PathBuf>("path").with_default(file.to_owned()))
        .node(NodeSpec::new::<i64>("fv"))
        .task(
            TaskSpec::new(TaskDef::new(
                "rf",
                TaskDef::code_fingerprint_of("1"),
                vec![ValueType::of::<PathBuf>()],
                vec![ValueType::of::<i64>()],
                Arc::new(move |inputs| {
                    reader_runs[reader_index].fetch_add(1, Ordering::SeqCst);
                    let path = pipeline_core::task::expect_input::<PathBuf>(inputs, 0);
                    let text = std::fs::read_to_string(path).map_err(TaskError::new)?;
                    let value: i64 = text.trim().parse().map_err(TaskError::new)?;
                    Ok(vec![Box::new(value) as Box<dyn Any + Send + Sync>])
                }),
            ))
            .inputs(["path"])
            .outputs(["fv"])
            .skippable(true),
        );
    for (i, shape) in dag.tasks.iter().enumerate() {
        let (version, modulus, runs) = (versions[i], shape.modulus, runs.clone());
        let generation = generations[i];
        let input_types = shape
            .inputs
            .iter()
            .map(|&n| {
                if n <= dag.sources {
                    ValueType::of::<i64>()
                } else {
                    output_type(generations[n - dag.sources - 1])
                }
            })
            .collect();
        let def = TaskDef::new(
            format!("t{i}"),
            TaskDef::code_fingerprint_of(&version.to_string()),
            input_types,
            vec![output_type(generation)],
            Arc::new(move |inputs| {
                runs[i].fetch_add(1, Ordering::SeqCst);
                let values: Vec<i64> = inputs.iter().map(|v| integer(*v)).collect();
                Ok(vec![boxed(
                    task_output(i, &values, version, modulus),
                    generation,
                )])
            }),
        );
        builder = builder
            .node(NodeSpec::of_type(format!("o{i}"), output_type(generation)))
            .task(
                TaskSpec::new(def)
                    .inputs(shape.inputs.iter().map(|&n| node_name(dag, n)))
                    .outputs([format!("o{i}")])
                    .skippable(shape.skippable),
            );
    }
    builder.build().expect("generated DAGs are valid")
}

/// What decides a task's key, as the oracles model it: code version, input
/// values, input schema generations, output schema generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelKey {
    pub version: i64,
    pub inputs: Vec<i64>,
    pub input_generations: Vec<u8>,
    pub output_generation: u8,
}

/// The reason a job must give, in outline (`"input:s0"`, `"code"`, ...),
/// from the key its outputs were made under and its key now.
pub fn expected_reason(
    dag: &Dag,
    task: usize,
    produced: Option<&ModelKey>,
    now: &ModelKey,
    forced: bool,
    skipped: bool,
) -> Vec<String> {
    let shape = &dag.tasks[task];
    if !shape.skippable {
        return vec!["not_skippable".to_owned()];
    }
    if forced {
        return vec!["forced".to_owned()];
    }
    if skipped {
        return vec![
            if produced == Some(now) {
                "up_to_date"
            } else {
                "reused"
            }
            .to_owned(),
        ];
    }
    let Some(produced) = produced else {
        return vec!["first_run".to_owned()];
    };
    if produced.output_generation != now.output_generation {
        return vec![format!("output_schema:o{task}")];
    }
    let mut changes = Vec::new();
    for (i, &node) in shape.inputs.iter().enumerate() {
        let name = node_name(dag, node);
        if produced.input_generations[i] != now.input_generations[i] {
            changes.push(format!("input_schema:{name}"));
        }
        if produced.inputs[i] != now.inputs[i] {
            changes.push(format!("input:{name}"));
        }
    }
    if produced.version != now.version {
        changes.push("code".to_owned());
    }
    changes
}

/// A reason in the outline of [`expected_reason`]. Input fingerprints of the
/// integer nodes are compared through values in the model, so an input whose
/// value is unchanged but whose fingerprint would differ cannot occur.
pub fn outline(reason: &Reason) -> Vec<String> {
    match reason {
        Reason::UpToDate => vec!["up_to_date".to_owned()],
        Reason::Reused { .. } => vec!["reused".to_owned()],
        Reason::FirstRun => vec!["first_run".to_owned()],
        Reason::Forced => vec!["forced".to_owned()],
        Reason::NotSkippable => vec!["not_skippable".to_owned()],
        Reason::OutputSchema { node, .. } => vec![format!("output_schema:{node}")],
        Reason::Changed { changes } => changes
            .iter()
            .map(|change| match change {
                Change::Input { node, .. } => format!("input:{node}"),
                Change::InputSchema { node, .. } => format!("input_schema:{node}"),
                Change::Code { .. } => "code".to_owned(),
                Change::Env { variable } => format!("env:{variable}"),
                other => format!("{other:?}"),
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

/// An edit the oracles apply between submissions.
#[derive(Debug, Clone)]
pub enum Op {
    /// A user writes source `source`.
    Write {
        source: usize,
        value: i64,
    },
    /// The file is edited in place (same size, same modification time).
    EditFile {
        value: i64,
    },
    /// The file is rewritten with its own content (a new modification time).
    TouchFile,
    /// Task `task`'s code changes.
    ChangeCode {
        task: usize,
    },
    /// Task `task`'s output type changes schema.
    ChangeSchema {
        task: usize,
    },
    Submit,
    SubmitForced,
    /// Drop the runtime and open the store again, as a new process would
    /// (the SQLite oracle only).
    Restart,
}

/// Random edit sequences; `restarts` adds [`Op::Restart`].
pub fn ops_strategy(
    sources: usize,
    tasks: usize,
    restarts: bool,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..sources, 0i64..4).prop_map(|(source, value)| Op::Write { source, value }),
        1 => (0i64..4).prop_map(|value| Op::EditFile { value }),
        1 => Just(Op::TouchFile),
        1 => (0..tasks).prop_map(|task| Op::ChangeCode { task }),
        1 => (0..tasks).prop_map(|task| Op::ChangeSchema { task }),
        3 => Just(Op::Submit),
        1 => Just(Op::SubmitForced),
        (if restarts { 2 } else { 0 }) => Just(Op::Restart),
    ];
    proptest::collection::vec(op, len)
}

/// What a correct framework must have done, computed the naive way.
pub struct Model {
    pub sources: Vec<i64>,
    pub file: i64,
    pub versions: Vec<i64>,
    pub generations: Vec<u8>,
    /// The key each task's current outputs were made under (the file
    /// reader's last, keyed by the file's value).
    pub produced: Vec<Option<ModelKey>>,
    pub file_produced: Option<i64>,
    /// Every key a skippable task was ever computed under (the memo table).
    pub computed: Vec<std::collections::HashSet<ModelKey>>,
    pub file_computed: std::collections::HashSet<i64>,
}

impl Model {
    pub fn new(dag: &Dag) -> Self {
        Self {
            sources: vec![0; dag.sources],
            file: 0,
            versions: vec![0; dag.tasks.len()],
            generations: vec![0; dag.tasks.len()],
            produced: vec![None; dag.tasks.len()],
            file_produced: None,
            computed: vec![Default::default(); dag.tasks.len()],
            file_computed: Default::default(),
        }
    }

    /// Every node's value, run-everything style.
    pub fn naive_values(&self, dag: &Dag) -> Vec<i64> {
        let mut values = self.sources.clone();
        values.push(self.file);
        for (i, shape) in dag.tasks.iter().enumerate() {
            let inputs: Vec<i64> = shape.inputs.iter().map(|&n| values[n]).collect();
            values.push(task_output(i, &inputs, self.versions[i], shape.modulus));
        }
        values
    }

    fn generation_of(&self, dag: &Dag, node: usize) -> u8 {
        if node <= dag.sources {
            2
        } else {
            self.generations[node - dag.sources - 1]
        }
    }

    /// Checks a submission's jobs (status, reason, body runs) and the
    /// values it left against the model, then records what it computed.
    pub fn check_submission(
        &mut self,
        dag: &Dag,
        scenario: &Scenario,
        submission: &pipeline_core::Submission,
        ran: &[usize],
        forced: bool,
    ) -> Result<(), TestCaseError> {
        use pipeline_core::JobStatus;
        let values = self.naive_values(dag);
        // The file reader.
        let job = submission.job("rf").unwrap();
        let skip = !forced && self.file_computed.contains(&self.file);
        prop_assert_eq!(
            job.status,
            if skip {
                JobStatus::Skipped
            } else {
                JobStatus::Completed
            },
            "file reader"
        );
        prop_assert_eq!(ran[dag.tasks.len()], usize::from(!skip), "file reader runs");
        let expected = if forced {
            vec!["forced".to_owned()]
        } else if skip {
            vec![
                if self.file_produced == Some(self.file) {
                    "up_to_date"
                } else {
                    "reused"
                }
                .to_owned(),
            ]
        } else if self.file_produced.is_none() {
            vec!["first_run".to_owned()]
        } else {
            vec!["input:path".to_owned()]
        };
        prop_assert_eq!(
            outline(job.reason.as_ref().unwrap()),
            expected,
            "file reader"
        );
        self.file_computed.insert(self.file);
        self.file_produced = Some(self.file);
        for (i, shape) in dag.tasks.iter().enumerate() {
            let key = ModelKey {
                version: self.versions[i],
                inputs: shape.inputs.iter().map(|&n| values[n]).collect(),
                input_generations: shape
                    .inputs
                    .iter()
                    .map(|&n| self.generation_of(dag, n))
                    .collect(),
                output_generation: self.generations[i],
            };
            let job = submission.job(&format!("t{i}")).unwrap();
            let expect_skip = !forced && shape.skippable && self.computed[i].contains(&key);
            let expect_reuse = expect_skip && self.produced[i].as_ref() != Some(&key);
            prop_assert_eq!(
                job.status,
                if expect_skip {
                    JobStatus::Skipped
                } else {
                    JobStatus::Completed
                },
                "task t{} with key {:?}",
                i,
                &key
            );
            prop_assert_eq!(job.reused, expect_reuse, "task t{} reuse", i);
            prop_assert_eq!(ran[i], usize::from(!expect_skip), "task t{} body runs", i);
            let reason = job.reason.as_ref().expect("every decided job has a reason");
            prop_assert_eq!(
                outline(reason),
                expected_reason(dag, i, self.produced[i].as_ref(), &key, forced, expect_skip),
                "task t{} reason {}",
                i,
                reason
            );
            if shape.skippable {
                self.computed[i].insert(key.clone());
            }
            self.produced[i] = Some(key);
        }
        for (i, expected) in values.iter().enumerate().skip(dag.sources) {
            let actual = read_node(scenario, dag, i, &self.generations);
            prop_assert_eq!(actual, *expected, "node {}", node_name(dag, i));
        }
        Ok(())
    }
}
