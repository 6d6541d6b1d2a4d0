//! Random DAGs of integer tasks, shared by the correctness oracles
//! (`oracle.rs` for the in-memory store, `store_oracle.rs` for SQLite).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline_core::{Graph, GraphBuilder, NodeSpec, TaskDef, TaskSpec};
use proptest::prelude::*;

/// One task of a random DAG.
#[derive(Debug, Clone)]
pub struct TaskShape {
    /// Indices into the node list (sources first, then task outputs in order).
    pub inputs: Vec<usize>,
    /// Whether the task may be skipped.
    pub skippable: bool,
    /// Small moduli make equal outputs, hence early cutoff, common.
    pub modulus: i64,
}

/// Source nodes, then tasks, each writing one output node.
#[derive(Debug, Clone)]
pub struct Dag {
    /// How many source nodes (`s0`, `s1`, ...).
    pub sources: usize,
    /// The tasks (`t0` writes `o0`, ...).
    pub tasks: Vec<TaskShape>,
}

/// The name of node `index` (sources first, then task outputs).
pub fn node_name(dag: &Dag, index: usize) -> String {
    if index < dag.sources {
        format!("s{index}")
    } else {
        format!("o{}", index - dag.sources)
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
                let available = sources + i;
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

/// The graph of `dag`, task `i` at code `versions[i]`, counting its runs in `runs[i]`.
pub fn build_graph(dag: &Dag, versions: &[i64], runs: &Arc<Vec<AtomicUsize>>) -> Graph {
    let mut builder = GraphBuilder::new("random");
    for s in 0..dag.sources {
        builder = builder.node(NodeSpec::new::<i64>(format!("s{s}")).with_default(0));
    }
    for (i, shape) in dag.tasks.iter().enumerate() {
        let (version, modulus, runs) = (versions[i], shape.modulus, runs.clone());
        let def = TaskDef::from_fn_slice(
            &format!("t{i}"),
            &version.to_string(),
            shape.inputs.len(),
            move |inputs: &[&i64]| {
                runs[i].fetch_add(1, Ordering::SeqCst);
                let values: Vec<i64> = inputs.iter().map(|v| **v).collect();
                task_output(i, &values, version, modulus)
            },
        );
        builder = builder.node(NodeSpec::new::<i64>(format!("o{i}"))).task(
            TaskSpec::new(def)
                .inputs(shape.inputs.iter().map(|&n| node_name(dag, n)))
                .outputs([format!("o{i}")])
                .skippable(shape.skippable),
        );
    }
    builder.build().expect("generated DAGs are valid")
}
