//! Correctness oracle (DESIGN §3): over random DAGs and random edit sequences, the
//! framework's values always equal a naive run-everything evaluation, and a
//! skippable task runs exactly when its key (code + input values) was never
//! computed before.

mod random_dag;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::{JobStatus, Runtime, Scenario};
use proptest::prelude::*;
use random_dag::{Dag, build_graph, dag_strategy, node_name, task_output};

#[derive(Debug, Clone)]
enum Op {
    Write { source: usize, value: i64 },
    ChangeCode { task: usize },
    Submit,
    SubmitForced,
}

fn ops_strategy(sources: usize, tasks: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..sources, 0i64..4).prop_map(|(source, value)| Op::Write { source, value }),
        1 => (0..tasks).prop_map(|task| Op::ChangeCode { task }),
        3 => Just(Op::Submit),
        1 => Just(Op::SubmitForced),
    ];
    proptest::collection::vec(op, 1..25)
}

/// What a correct framework must have done, computed the naive way.
struct Model {
    sources: Vec<i64>,
    versions: Vec<i64>,
    /// The key (code version, input values) each task's current outputs were made under.
    produced: Vec<Option<(i64, Vec<i64>)>>,
    /// Every key a skippable task was ever computed under (the memo table).
    computed: Vec<HashSet<(i64, Vec<i64>)>>,
}

impl Model {
    fn naive_values(&self, dag: &Dag) -> Vec<i64> {
        let mut values = self.sources.clone();
        for (i, shape) in dag.tasks.iter().enumerate() {
            let inputs: Vec<i64> = shape.inputs.iter().map(|&n| values[n]).collect();
            values.push(task_output(i, &inputs, self.versions[i], shape.modulus));
        }
        values
    }
}

fn check(dag: Dag, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..dag.tasks.len()).map(|_| AtomicUsize::new(0)).collect());
    let mut model = Model {
        sources: vec![0; dag.sources],
        versions: vec![0; dag.tasks.len()],
        produced: vec![None; dag.tasks.len()],
        computed: vec![HashSet::new(); dag.tasks.len()],
    };
    let runtime = Runtime::in_memory();
    let mut scenario: Scenario = runtime
        .create_scenario(build_graph(&dag, &model.versions, &runs), "s")
        .unwrap();
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
            Op::ChangeCode { task } => {
                model.versions[task] += 1;
                scenario = runtime
                    .open_scenario(build_graph(&dag, &model.versions, &runs), scenario.id())
                    .unwrap();
            }
            Op::Submit | Op::SubmitForced => {
                let forced = matches!(op, Op::SubmitForced);
                let before: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
                let submission = if forced {
                    scenario.submit_forced()
                } else {
                    scenario.submit()
                }
                .unwrap();
                let values = model.naive_values(&dag);
                for (i, shape) in dag.tasks.iter().enumerate() {
                    let key = (
                        model.versions[i],
                        shape.inputs.iter().map(|&n| values[n]).collect::<Vec<_>>(),
                    );
                    let job = submission.job(&format!("t{i}")).unwrap();
                    let ran = runs[i].load(Ordering::SeqCst) - before[i];
                    let expect_skip =
                        !forced && shape.skippable && model.computed[i].contains(&key);
                    let expect_reuse = expect_skip && model.produced[i].as_ref() != Some(&key);
                    prop_assert_eq!(
                        job.status,
                        if expect_skip {
                            JobStatus::Skipped
                        } else {
                            JobStatus::Completed
                        },
                        "task t{} with key {:?}",
                        i,
                        key
                    );
                    prop_assert_eq!(job.reused, expect_reuse, "task t{} reuse", i);
                    prop_assert_eq!(ran, usize::from(!expect_skip), "task t{} body runs", i);
                    if shape.skippable {
                        model.computed[i].insert(key.clone());
                    }
                    model.produced[i] = Some(key);
                }
                for (i, expected) in values.iter().enumerate().skip(dag.sources) {
                    let name = node_name(&dag, i);
                    let actual = *scenario.node::<i64>(&name).unwrap().read().unwrap();
                    prop_assert_eq!(actual, *expected, "node {}", name);
                }
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
            let ops = ops_strategy(dag.sources, dag.tasks.len());
            (Just(dag), ops)
        })
    ) {
        check(dag, ops)?;
    }
}
