//! The correctness oracle (docs/skipping.md) with every task that must run run as a
//! Slurm job on the real cluster (`.ci/slurm.sh start`): over random DAGs
//! and random edits (values, a file edited in place, code, schemas,
//! restarts), values equal a naive run-everything evaluation, a skippable
//! task runs exactly when its key was never computed before (body runs are
//! counted by the workers, in a file), and each job's reason says what
//! changed: the same checks, by the same model, as `oracle.rs` and
//! `store_oracle.rs` make of the local executor.
//!
//! Each case costs seconds (a dependent hop waits for Slurm's scheduler
//! tick), so the default is 6 cases of up to 12 edits over up to 5 tasks;
//! `PIPELINE_REMOTE_ORACLE_CASES` asks for more.
//!
//! Own `main` (`harness = false`): the test binary is the worker. The
//! random tasks are built by hand, so the worker rebuilds them from the DAG
//! the test writes to the file `PIPELINE_ORACLE_DAG` names before each
//! submission (the jobs inherit the variable).

#[path = "remote_support/cluster.rs"]
mod cluster;
mod random_dag;
mod remote_support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use cluster::Cluster;
use libtest_mimic::{Arguments, Trial};
use pipeline_core::Runtime;
use pipeline_core::task::TaskDef;
use pipeline_core::worker::{Worker, main_if_worker_with};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use random_dag::{
    Dag, Model, Op, TaskShape, build_graph, dag_strategy, ops_strategy, write_file_in_place,
};
use serde_json::json;

/// The variable naming the DAG description a worker rebuilds its tasks from.
const DAG_ENV: &str = "PIPELINE_ORACLE_DAG";

/// What a worker needs to build the tasks the coordinator has now.
fn describe(dag: &Dag, model: &Model, file: &Path, runs: &Path) -> serde_json::Value {
    json!({
        "sources": dag.sources,
        "tasks": dag.tasks.iter().map(|t| json!({
            "inputs": t.inputs, "skippable": t.skippable, "modulus": t.modulus,
        })).collect::<Vec<_>>(),
        "versions": model.versions,
        "generations": model.generations,
        "file": file,
        "runs": runs,
    })
}

/// In a worker: the tasks of the DAG described in `PIPELINE_ORACLE_DAG`,
/// each appending its name to the runs file when its body runs.
fn worker() -> Worker {
    let mut worker = Worker::new();
    let Some(path) = std::env::var_os(DAG_ENV) else {
        return worker;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    let numbers = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_i64().unwrap())
            .collect()
    };
    let dag = Dag {
        sources: d["sources"].as_u64().unwrap() as usize,
        tasks: d["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| TaskShape {
                inputs: numbers(&t["inputs"])
                    .into_iter()
                    .map(|n| n as usize)
                    .collect(),
                skippable: t["skippable"].as_bool().unwrap(),
                modulus: t["modulus"].as_i64().unwrap(),
            })
            .collect(),
    };
    let versions = numbers(&d["versions"]);
    let generations: Vec<u8> = numbers(&d["generations"])
        .into_iter()
        .map(|g| g as u8)
        .collect();
    let file = PathBuf::from(d["file"].as_str().unwrap());
    let runs_file = PathBuf::from(d["runs"].as_str().unwrap());
    let unused: Arc<Vec<AtomicUsize>> =
        Arc::new((0..=dag.tasks.len()).map(|_| AtomicUsize::new(0)).collect());
    let graph = build_graph(&dag, &versions, &generations, &file, &unused);
    for task in graph.tasks() {
        let def = task.def().clone();
        let (name, runs_file) = (def.name().to_owned(), runs_file.clone());
        let inner = def.clone();
        worker = worker.task(TaskDef::new(
            def.name(),
            def.code().clone(),
            def.inputs().to_vec(),
            def.outputs().to_vec(),
            Arc::new(move |inputs| {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&runs_file)
                    .unwrap();
                // One write per line: workers running at once append to the
                // same file, and `writeln!` may split a line in two writes.
                file.write_all(format!("{name}\n").as_bytes()).unwrap();
                inner.call(inputs)
            }),
        ));
    }
    worker
}

/// Body runs per task (`t0`…, then the file reader `rf`) recorded so far.
fn runs(dag: &Dag, runs_file: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(runs_file).unwrap_or_default();
    let mut counts = vec![0; dag.tasks.len() + 1];
    for line in text.lines() {
        match line.strip_prefix('t').and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => counts[i] += 1,
            None if line == "rf" => counts[dag.tasks.len()] += 1,
            None => panic!("unexpected run {line}"),
        }
    }
    counts
}

fn check(cluster: &Cluster, dag: Dag, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir_in(cluster.dir.path()).unwrap();
    let file = dir.path().join("value.txt");
    write_file_in_place(&file, 0);
    let runs_file = dir.path().join("runs");
    let description = PathBuf::from(std::env::var_os(DAG_ENV).unwrap());
    let store = dir.path().join("store");
    let open = || Runtime::open(&store).unwrap();
    let slurm = cluster
        .slurm()
        .objects(dir.path().join("objects").to_str().unwrap());
    // The coordinator's own tasks never run here: a worker runs each body.
    let unused: Arc<Vec<AtomicUsize>> =
        Arc::new((0..=dag.tasks.len()).map(|_| AtomicUsize::new(0)).collect());
    let mut model = Model::new(&dag);
    let graph =
        |model: &Model| build_graph(&dag, &model.versions, &model.generations, &file, &unused);
    let mut runtime = open();
    let mut scenario = runtime.create_scenario(graph(&model), "s").unwrap();
    for op in ops {
        match op {
            Op::Write { source, value } => {
                scenario
                    .node::<i64>(&format!("s{source}"))
                    .unwrap()
                    .write(value)
                    .unwrap();
                model.sources[source] = value;
            }
            Op::EditFile { value } => {
                write_file_in_place(&file, value);
                model.file = value;
            }
            Op::TouchFile => std::fs::write(&file, model.file.to_string()).unwrap(),
            Op::ChangeCode { task } => {
                model.versions[task] += 1;
                scenario = runtime.open_scenario(graph(&model), scenario.id()).unwrap();
            }
            Op::ChangeSchema { task } => {
                model.generations[task] ^= 1;
                scenario = runtime.open_scenario(graph(&model), scenario.id()).unwrap();
            }
            Op::Restart => {
                let id = scenario.id();
                drop(scenario);
                drop(runtime);
                runtime = open();
                scenario = runtime.open_scenario(graph(&model), id).unwrap();
            }
            Op::Submit | Op::SubmitForced => {
                let forced = matches!(op, Op::SubmitForced);
                let text = describe(&dag, &model, &file, &runs_file).to_string();
                std::fs::write(&description, text).unwrap();
                let before = runs(&dag, &runs_file);
                let options = Cluster::submit(slurm.clone()).force(forced);
                let submission = scenario.submit_with(&options).unwrap();
                let ran: Vec<usize> = runs(&dag, &runs_file)
                    .iter()
                    .zip(&before)
                    .map(|(now, before)| now - before)
                    .collect();
                for job in &submission.jobs {
                    let ran_remotely = job.remote.is_some();
                    prop_assert_eq!(
                        ran_remotely,
                        job.status == pipeline_core::JobStatus::Completed,
                        "job {} ran on the cluster iff it completed",
                        &job.task
                    );
                }
                model.check_submission(&dag, &scenario, &submission, &ran, forced)?;
            }
        }
    }
    Ok(())
}

fn results_on_slurm_equal_naive_evaluation_and_only_new_keys_run() {
    let test = "results_on_slurm_equal_naive_evaluation_and_only_new_keys_run";
    let Some(cluster) = Cluster::start_or_skip(test) else {
        return;
    };
    let cases = std::env::var("PIPELINE_REMOTE_ORACLE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = dag_strategy(5).prop_flat_map(|dag| {
        let ops = ops_strategy(dag.sources, dag.tasks.len(), true, 1..12);
        (Just(dag), ops)
    });
    if let Err(failure) = runner.run(&strategy, |(dag, ops)| check(&cluster, dag, ops)) {
        panic!("{failure}");
    }
}

fn main() -> ExitCode {
    if let Some(code) = main_if_worker_with(&worker()) {
        return code;
    }
    // The DAG description's place, inherited by every job (`--export=ALL`).
    let description = std::env::temp_dir().join(format!("oracle-dag-{}.json", std::process::id()));
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var(DAG_ENV, &description) };
    let arguments = Arguments::from_args();
    let trials = vec![Trial::test(
        "results_on_slurm_equal_naive_evaluation_and_only_new_keys_run",
        || {
            results_on_slurm_equal_naive_evaluation_and_only_new_keys_run();
            Ok(())
        },
    )];
    let conclusion = libtest_mimic::run(&arguments, trials);
    let _ = std::fs::remove_file(&description);
    conclusion.exit_code()
}
