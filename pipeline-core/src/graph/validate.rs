//! Graph rules: every check pushes its problems, and all are returned together.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::{
    Adjacency, Graph, GraphBuilder, GraphError, GraphErrors, NodeId, Role, Sequence, TaskId,
};

pub(super) fn build(builder: GraphBuilder) -> Result<Graph, GraphErrors> {
    let GraphBuilder {
        name,
        nodes,
        tasks,
        sequences,
    } = builder;
    let mut errors = Vec::new();

    let mut node_index: HashMap<Arc<str>, NodeId> = HashMap::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let name: Arc<str> = node.name_arc().clone();
        match node_index.entry(name) {
            std::collections::hash_map::Entry::Occupied(taken) => {
                errors.push(GraphError::DuplicateNode {
                    node: taken.key().to_string(),
                });
            }
            std::collections::hash_map::Entry::Vacant(free) => {
                free.insert(NodeId(i as u32));
            }
        }
    }

    let mut task_index: HashMap<Arc<str>, TaskId> = HashMap::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let name = task.def().name_arc().clone();
        match task_index.entry(name) {
            std::collections::hash_map::Entry::Occupied(taken) => {
                errors.push(GraphError::DuplicateTask {
                    task: taken.key().to_string(),
                });
            }
            std::collections::hash_map::Entry::Vacant(free) => {
                free.insert(TaskId(i as u32));
            }
        }
    }

    let mut task_inputs = Vec::with_capacity(tasks.len());
    let mut task_outputs = Vec::with_capacity(tasks.len());
    let mut producer: Vec<Option<TaskId>> = vec![None; nodes.len()];
    let mut consumers: Vec<Vec<TaskId>> = vec![Vec::new(); nodes.len()];

    for (i, task) in tasks.iter().enumerate() {
        let id = TaskId(i as u32);
        let def = task.def();
        let mut resolve = |names: &[Arc<str>], types: &[crate::value::ValueType], role: Role| {
            if names.len() != types.len() {
                errors.push(GraphError::Arity {
                    task: task.name().to_owned(),
                    role,
                    expected: types.len(),
                    found: names.len(),
                });
            }
            let mut ids = Vec::with_capacity(names.len());
            for (position, node_name) in names.iter().enumerate() {
                let Some(&node) = node_index.get(node_name) else {
                    errors.push(GraphError::UnknownNode {
                        task: task.name().to_owned(),
                        node: node_name.to_string(),
                        role,
                    });
                    continue;
                };
                let node_type = nodes[node.index()].value_type();
                if let Some(task_type) = types.get(position)
                    && *task_type != node_type
                {
                    errors.push(GraphError::TypeMismatch {
                        task: task.name().to_owned(),
                        node: node_name.to_string(),
                        role,
                        position,
                        node_type: node_type.name(),
                        task_type: task_type.name(),
                    });
                }
                ids.push(node);
            }
            ids
        };
        let inputs = resolve(task.input_names(), def.inputs(), Role::Input);
        let outputs = resolve(task.output_names(), def.outputs(), Role::Output);
        for &node in &outputs {
            match producer[node.index()] {
                Some(first) => errors.push(GraphError::TwoProducers {
                    node: nodes[node.index()].name().to_owned(),
                    first: tasks[first.index()].name().to_owned(),
                    second: task.name().to_owned(),
                }),
                None => producer[node.index()] = Some(id),
            }
        }
        for &node in &inputs {
            let readers = &mut consumers[node.index()];
            if readers.last() != Some(&id) {
                readers.push(id);
            }
        }
        task_inputs.push(inputs);
        task_outputs.push(outputs);
    }

    for (i, task) in tasks.iter().enumerate() {
        for &node in &task_inputs[i] {
            let spec = &nodes[node.index()];
            if producer[node.index()].is_none() && !spec.has_default() {
                errors.push(GraphError::Unfed {
                    node: spec.name().to_owned(),
                    task: task.name().to_owned(),
                });
            }
        }
    }

    let upstream = upstream_tasks(&task_inputs, &producer);
    let topo_order = match topological_order(&upstream) {
        Ok(order) => order,
        Err(stuck) => {
            errors.push(GraphError::Cycle {
                path: find_cycle(&stuck, &upstream, &task_inputs, &producer, &tasks, &nodes),
            });
            Vec::new()
        }
    };

    let mut built_sequences: Vec<Sequence> = Vec::with_capacity(sequences.len());
    let position_in_order: HashMap<TaskId, usize> = topo_order
        .iter()
        .enumerate()
        .map(|(pos, &t)| (t, pos))
        .collect();
    for (sequence_name, names) in sequences {
        if built_sequences.iter().any(|s| s.name() == sequence_name) {
            errors.push(GraphError::DuplicateSequence {
                sequence: sequence_name,
            });
            continue;
        }
        let mut ids = Vec::with_capacity(names.len());
        for task in names {
            match task_index.get(task.as_str()) {
                Some(&id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => errors.push(GraphError::UnknownTaskInSequence {
                    sequence: sequence_name.clone(),
                    task,
                }),
            }
        }
        ids.sort_by_key(|id| position_in_order.get(id).copied().unwrap_or(usize::MAX));
        built_sequences.push(Sequence {
            name: Arc::from(sequence_name),
            tasks: ids,
        });
    }

    if !errors.is_empty() {
        return Err(GraphErrors(errors));
    }
    let mut downstream: Vec<Vec<TaskId>> = vec![Vec::new(); tasks.len()];
    for (task, ups) in upstream.iter().enumerate() {
        for up in ups {
            downstream[up.index()].push(TaskId(task as u32));
        }
    }
    // Point the tasks' node names at the nodes' own strings (one copy per name).
    let mut tasks = tasks;
    for (task, (inputs, outputs)) in tasks.iter_mut().zip(task_inputs.iter().zip(&task_outputs)) {
        task.share_names(
            inputs
                .iter()
                .map(|n| nodes[n.index()].name_arc().clone())
                .collect(),
            outputs
                .iter()
                .map(|n| nodes[n.index()].name_arc().clone())
                .collect(),
        );
    }
    Ok(Graph {
        name,
        nodes,
        tasks,
        task_inputs: Adjacency::from_lists(&task_inputs),
        task_outputs: Adjacency::from_lists(&task_outputs),
        producer,
        consumers: Adjacency::from_lists(&consumers),
        upstream: Adjacency::from_lists(&upstream),
        downstream: Adjacency::from_lists(&downstream),
        topo_order,
        sequences: built_sequences,
        node_index,
        task_index,
    })
}

/// For each task, the distinct tasks producing its inputs.
fn upstream_tasks(task_inputs: &[Vec<NodeId>], producer: &[Option<TaskId>]) -> Vec<Vec<TaskId>> {
    task_inputs
        .iter()
        .map(|inputs| {
            let mut ups: Vec<TaskId> = inputs.iter().filter_map(|n| producer[n.index()]).collect();
            ups.sort_unstable();
            ups.dedup();
            ups
        })
        .collect()
}

/// Kahn's algorithm in declaration order; on a cycle, the tasks left unordered.
fn topological_order(upstream: &[Vec<TaskId>]) -> Result<Vec<TaskId>, Vec<TaskId>> {
    let count = upstream.len();
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut downstream: Vec<Vec<TaskId>> = vec![Vec::new(); count];
    for (task, ups) in upstream.iter().enumerate() {
        for up in ups {
            downstream[up.index()].push(TaskId(task as u32));
        }
    }
    let mut ready: VecDeque<TaskId> = (0..count)
        .filter(|&t| waiting[t] == 0)
        .map(|t| TaskId(t as u32))
        .collect();
    let mut order = Vec::with_capacity(count);
    while let Some(task) = ready.pop_front() {
        order.push(task);
        for &down in &downstream[task.index()] {
            waiting[down.index()] -= 1;
            if waiting[down.index()] == 0 {
                ready.push_back(down);
            }
        }
    }
    if order.len() == count {
        Ok(order)
    } else {
        Err((0..count)
            .filter(|&t| waiting[t] > 0)
            .map(|t| TaskId(t as u32))
            .collect())
    }
}

/// Walks upstream from a stuck task until a task repeats, and renders that loop
/// as `task -> node -> task -> ...` in data-flow order.
fn find_cycle(
    stuck: &[TaskId],
    upstream: &[Vec<TaskId>],
    task_inputs: &[Vec<NodeId>],
    producer: &[Option<TaskId>],
    tasks: &[super::TaskSpec],
    nodes: &[super::NodeSpec],
) -> Vec<String> {
    let is_stuck = |t: &TaskId| stuck.contains(t);
    let mut walk = vec![stuck[0]];
    loop {
        let current = *walk.last().expect("walk is never empty");
        let next = upstream[current.index()]
            .iter()
            .copied()
            .find(is_stuck)
            .expect("a task left by Kahn's algorithm has a stuck upstream task");
        if let Some(start) = walk.iter().position(|&t| t == next) {
            // walk[start..] reversed is the loop in data-flow order.
            let mut loop_tasks: Vec<TaskId> = walk[start..].iter().rev().copied().collect();
            // Start at the task declared first, so the message is stable.
            let first = (0..loop_tasks.len())
                .min_by_key(|&i| loop_tasks[i])
                .expect("a loop has tasks");
            loop_tasks.rotate_left(first);
            loop_tasks.push(loop_tasks[0]);
            let mut path = Vec::new();
            for pair in loop_tasks.windows(2) {
                let (from, to) = (pair[0], pair[1]);
                path.push(tasks[from.index()].name().to_owned());
                let node = task_inputs[to.index()]
                    .iter()
                    .find(|n| producer[n.index()] == Some(from))
                    .expect("an upstream edge comes from an input");
                path.push(nodes[node.index()].name().to_owned());
            }
            path.push(tasks[loop_tasks[0].index()].name().to_owned());
            return path;
        }
        walk.push(next);
    }
}
