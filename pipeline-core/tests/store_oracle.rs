//! The correctness oracle of DESIGN §3 over the embedded store, with restarts:
//! over random DAGs and random edits, values always equal a naive evaluation,
//! and a skippable task runs exactly when its key was never computed before, in
//! this runtime or in any earlier one that used the store.

mod random_dag;
mod store_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::{JobStatus, Runtime};
use proptest::prelude::*;
use random_dag::{Dag, build_graph, dag_strategy, node_name, task_output};

#[derive(Debug, Clone)]
enum Op {
    Write {
        source: usize,
        value: i64,
    },
    ChangeCode {
        task: usize,
    },
    Submit,
    SubmitForced,
    /// Drop the runtime and open the store again, as a new process would.
    Restart,
}

fn ops_strategy(sources: usize, tasks: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..sources, 0i64..4).prop_map(|(source, value)| Op::Write { source, value }),
        1 => (0..tasks).prop_map(|task| Op::ChangeCode { task }),
        3 => Just(Op::Submit),
        1 => Just(Op::SubmitForced),
        2 => Just(Op::Restart),
    ];
    proptest::collection::vec(op, 1..20)
}

fn check(dag: Dag, ops: Vec<Op>, files: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let options = store_support::quiet().inline_limit(if files { 0 } else { 16 * 1024 });
    let open = || Runtime::open_with(dir.path(), options.clone()).unwrap();
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..dag.tasks.len()).map(|_| AtomicUsize::new(0)).collect());
    let mut sources = vec![0; dag.sources];
    let mut versions = vec![0; dag.tasks.len()];
    let mut produced: Vec<Option<(i64, Vec<i64>)>> = vec![None; dag.tasks.len()];
    let mut computed: Vec<HashSet<(i64, Vec<i64>)>> = vec![HashSet::new(); dag.tasks.len()];
    let mut runtime = open();
    let mut scenario = runtime
        .create_scenario(build_graph(&dag, &versions, &runs), "s")
        .unwrap();
    for op in ops {
        match op {
            Op::Write { source, value } => {
                scenario
                    .node::<i64>(&format!("s{source}"))
                    .unwrap()
                    .write(value)
                    .unwrap();
                sources[source] = value;
            }
            Op::ChangeCode { task } => {
                versions[task] += 1;
                scenario = runtime
                    .open_scenario(build_graph(&dag, &versions, &runs), scenario.id())
                    .unwrap();
            }
            Op::Restart => {
                let id = scenario.id();
                drop(scenario);
                drop(runtime);
                runtime = open();
                scenario = runtime
                    .open_scenario(build_graph(&dag, &versions, &runs), id)
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
                let mut values = sources.clone();
                for (i, shape) in dag.tasks.iter().enumerate() {
                    let inputs: Vec<i64> = shape.inputs.iter().map(|&n| values[n]).collect();
                    values.push(task_output(i, &inputs, versions[i], shape.modulus));
                }
                for (i, shape) in dag.tasks.iter().enumerate() {
                    let key = (
                        versions[i],
                        shape.inputs.iter().map(|&n| values[n]).collect::<Vec<_>>(),
                    );
                    let job = submission.job(&format!("t{i}")).unwrap();
                    let ran = runs[i].load(Ordering::SeqCst) - before[i];
                    let expect_skip = !forced && shape.skippable && computed[i].contains(&key);
                    let expect_reuse = expect_skip && produced[i].as_ref() != Some(&key);
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
                        computed[i].insert(key.clone());
                    }
                    produced[i] = Some(key);
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
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn persistent_results_equal_naive_evaluation_across_restarts(
        (dag, ops, files) in dag_strategy(6).prop_flat_map(|dag| {
            let ops = ops_strategy(dag.sources, dag.tasks.len());
            (Just(dag), ops, any::<bool>())
        })
    ) {
        check(dag, ops, files)?;
    }
}
