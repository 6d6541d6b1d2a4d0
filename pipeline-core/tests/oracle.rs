//! Correctness oracle (docs/skipping.md): over random DAGs and random edit sequences
//! (values, a file edited in place, code, schemas), the framework's values
//! always equal a naive run-everything evaluation, a skippable task runs
//! exactly when its key was never computed before, and each job's reason
//! says what changed.

mod random_dag;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::{Runtime, Scenario};
use proptest::prelude::*;
use random_dag::{Dag, Model, Op, build_graph, dag_strategy, ops_strategy, write_file_in_place};

fn check(dag: Dag, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("value.txt");
    write_file_in_place(&file, 0);
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..=dag.tasks.len()).map(|_| AtomicUsize::new(0)).collect());
    let mut model = Model::new(&dag);
    let runtime = Runtime::in_memory();
    let graph =
        |model: &Model| build_graph(&dag, &model.versions, &model.generations, &file, &runs);
    let mut scenario: Scenario = runtime.create_scenario(graph(&model), "s").unwrap();
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
            Op::Restart => {}
            Op::Submit | Op::SubmitForced => {
                let forced = matches!(op, Op::SubmitForced);
                let before: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
                let submission = if forced {
                    scenario.submit_forced()
                } else {
                    scenario.submit()
                }
                .unwrap();
                let ran: Vec<usize> = runs
                    .iter()
                    .zip(&before)
                    .map(|(r, b)| r.load(Ordering::SeqCst) - b)
                    .collect();
                model.check_submission(&dag, &scenario, &submission, &ran, forced)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_results_equal_naive_evaluation_and_only_new_keys_run(
        (dag, ops) in dag_strategy(7).prop_flat_map(|dag| {
            let ops = ops_strategy(dag.sources, dag.tasks.len(), false, 1..25);
            (Just(dag), ops)
        })
    ) {
        check(dag, ops)?;
    }
}
