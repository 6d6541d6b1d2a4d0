//! `Graph::check` on large run-time graphs: a chain and a fan-out/fan-in of
//! 100,000 tasks (the shapes of `pipeline_core::synthetic`).
//!
//! `cargo bench -p pipeline-graph-rules --bench check`

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline_graph_rules::{Graph, Node, Task};

const TASKS: usize = 100_000;

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

fn check(c: &mut Criterion) {
    let nodes = names("n", TASKS + 1);
    let tasks = names("t", TASKS);
    let types = [0u8];

    let chain = Graph {
        nodes: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Node {
                name: n.as_str(),
                has_default: i == 0,
                value_type: Some(0u8),
            })
            .collect(),
        tasks: (0..TASKS)
            .map(|i| {
                Task::new(&tasks[i], [nodes[i].as_str()], [nodes[i + 1].as_str()])
                    .with_signature(&types, &types)
            })
            .collect(),
        sequences: vec![],
    };
    assert!(chain.check().findings.is_empty());
    c.bench_function("check_chain_100k_tasks", |b| b.iter(|| chain.check()));

    // One source, TASKS - 2 tasks reading it, one task reading all of them.
    let middle = TASKS - 2;
    let fan_inputs: Vec<&str> = (1..=middle).map(|i| nodes[i].as_str()).collect();
    let fan_types = vec![0u8; middle];
    let mut fan_tasks =
        vec![Task::new(tasks[0].as_str(), [], [nodes[0].as_str()]).with_signature(&[], &types)];
    fan_tasks.extend((1..=middle).map(|i| {
        Task::new(&tasks[i], [nodes[0].as_str()], [nodes[i].as_str()])
            .with_signature(&types, &types)
    }));
    fan_tasks.push(
        Task::new(&tasks[TASKS - 1], fan_inputs, [nodes[TASKS].as_str()])
            .with_signature(&fan_types, &types),
    );
    let fan = Graph {
        nodes: nodes
            .iter()
            .map(|n| Node::new(n.as_str()).with_type(0u8))
            .collect(),
        tasks: fan_tasks,
        sequences: vec![],
    };
    assert!(fan.check().findings.is_empty());
    c.bench_function("check_fan_out_fan_in_100k_tasks", |b| {
        b.iter(|| fan.check())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = check
}
criterion_main!(benches);
