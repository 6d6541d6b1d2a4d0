//! Validation: the shared graph rules (`pipeline-graph-rules`, the same rules
//! `scenario!` checks at compile time) applied to a [`GraphBuilder`], each
//! finding worded as a [`GraphError`]; a graph without findings is assembled
//! from the wiring the rules resolved.

use std::sync::Arc;

use pipeline_graph_rules as rules;
use rules::Finding;

use super::{
    Adjacency, Graph, GraphBuilder, GraphError, GraphErrors, NameIndex, NodeId, NodeSpec, Role,
    Sequence, TaskId, TaskSpec,
};
use crate::value::ValueType;

pub(super) fn build(builder: GraphBuilder) -> Result<Graph, GraphErrors> {
    let GraphBuilder {
        name,
        nodes,
        tasks,
        sequences,
    } = builder;
    let declaration = declaration(&nodes, &tasks, &sequences);
    let checked = declaration.check();
    if !checked.findings.is_empty() {
        let errors = checked
            .findings
            .into_iter()
            .map(|finding| graph_error(&declaration, finding))
            .collect();
        return Err(GraphErrors(errors));
    }
    drop(declaration);
    Ok(assemble(name, nodes, tasks, sequences, checked))
}

/// The builder's graph as names, positions and types, for the rules.
fn declaration<'a>(
    nodes: &'a [NodeSpec],
    tasks: &'a [TaskSpec],
    sequences: &'a [(String, Vec<String>)],
) -> rules::Graph<'a, ValueType> {
    let names = |list: &'a [Arc<str>]| list.iter().map(|n| &**n).collect::<Vec<&str>>();
    rules::Graph {
        nodes: nodes
            .iter()
            .map(|node| rules::Node {
                name: node.name(),
                has_default: node.has_default(),
                value_type: Some(node.value_type()),
            })
            .collect(),
        tasks: tasks
            .iter()
            .map(|task| rules::Task {
                name: task.name(),
                inputs: names(task.input_names()),
                outputs: names(task.output_names()),
                signature: Some(rules::Signature {
                    inputs: task.def().inputs(),
                    outputs: task.def().outputs(),
                }),
            })
            .collect(),
        sequences: sequences
            .iter()
            .map(|(name, tasks)| rules::Sequence {
                name,
                tasks: tasks.iter().map(String::as_str).collect(),
            })
            .collect(),
    }
}

/// One finding as the runtime's error.
fn graph_error(graph: &rules::Graph<'_, ValueType>, finding: Finding) -> GraphError {
    let task_name = |task: usize| graph.tasks[task].name.to_owned();
    let node_name = |node: usize| graph.nodes[node].name.to_owned();
    let wired = |task: usize, role: rules::Role, position: usize| {
        graph.tasks[task].wired(role)[position].to_owned()
    };
    match finding {
        Finding::DuplicateNode { node, .. } => GraphError::DuplicateNode {
            node: node_name(node),
        },
        Finding::DuplicateTask { task, .. } => GraphError::DuplicateTask {
            task: task_name(task),
        },
        Finding::Arity {
            task,
            role,
            expected,
            found,
        } => GraphError::Arity {
            task: task_name(task),
            role: role.into(),
            expected,
            found,
        },
        Finding::UnknownNode {
            task,
            role,
            position,
        } => GraphError::UnknownNode {
            task: task_name(task),
            node: wired(task, role, position),
            role: role.into(),
        },
        Finding::TypeMismatch {
            task,
            role,
            position,
            node,
        } => {
            let signature = graph.tasks[task]
                .signature
                .expect("types are compared only with a signature");
            let task_type = match role {
                rules::Role::Input => signature.inputs[position],
                rules::Role::Output => signature.outputs[position],
            };
            GraphError::TypeMismatch {
                task: task_name(task),
                node: node_name(node),
                role: role.into(),
                position,
                node_type: graph.nodes[node]
                    .value_type
                    .expect("types are compared only when known")
                    .name(),
                task_type: task_type.name(),
            }
        }
        Finding::OutputTwice { task, position, .. } => GraphError::OutputTwice {
            task: task_name(task),
            node: wired(task, rules::Role::Output, position),
        },
        Finding::TwoProducers {
            task,
            node,
            producer,
            ..
        } => GraphError::TwoProducers {
            node: node_name(node),
            first: task_name(producer),
            second: task_name(task),
        },
        Finding::Unfed { node, readers } => GraphError::Unfed {
            node: node_name(node),
            task: task_name(readers[0].task),
        },
        Finding::Cycle { start, steps } => {
            let mut path = vec![task_name(start)];
            for (node, task) in steps {
                path.push(node_name(node));
                path.push(task_name(task));
            }
            GraphError::Cycle { path }
        }
        Finding::DuplicateSequence { sequence, .. } => GraphError::DuplicateSequence {
            sequence: graph.sequences[sequence].name.to_owned(),
        },
        Finding::UnknownTaskInSequence { sequence, position } => {
            GraphError::UnknownTaskInSequence {
                sequence: graph.sequences[sequence].name.to_owned(),
                task: graph.sequences[sequence].tasks[position].to_owned(),
            }
        }
        Finding::TaskTwiceInSequence {
            sequence, position, ..
        } => GraphError::TaskTwiceInSequence {
            sequence: graph.sequences[sequence].name.to_owned(),
            task: graph.sequences[sequence].tasks[position].to_owned(),
        },
    }
}

impl From<rules::Role> for Role {
    fn from(role: rules::Role) -> Self {
        match role {
            rules::Role::Input => Role::Input,
            rules::Role::Output => Role::Output,
        }
    }
}

/// The validated graph, from the wiring the rules resolved.
fn assemble(
    name: String,
    nodes: Vec<NodeSpec>,
    mut tasks: Vec<TaskSpec>,
    sequences: Vec<(String, Vec<String>)>,
    checked: rules::Checked,
) -> Graph {
    let node_id = |index: usize| NodeId(index as u32);
    let task_id = |index: usize| TaskId(index as u32);
    let ids = |lists: &[Vec<usize>]| -> Vec<Vec<NodeId>> {
        lists
            .iter()
            .map(|list| list.iter().map(|&n| node_id(n)).collect())
            .collect()
    };
    let task_inputs = ids(&checked.task_inputs);
    let task_outputs = ids(&checked.task_outputs);
    let producer: Vec<Option<TaskId>> = checked.producer.iter().map(|p| p.map(task_id)).collect();
    let mut consumers: Vec<Vec<TaskId>> = vec![Vec::new(); nodes.len()];
    for (task, inputs) in task_inputs.iter().enumerate() {
        for node in inputs {
            let readers = &mut consumers[node.index()];
            if readers.last() != Some(&task_id(task)) {
                readers.push(task_id(task));
            }
        }
    }
    let upstream: Vec<Vec<TaskId>> = checked
        .upstream
        .iter()
        .map(|ups| ups.iter().map(|&t| task_id(t)).collect())
        .collect();
    let mut downstream: Vec<Vec<TaskId>> = vec![Vec::new(); tasks.len()];
    for (task, ups) in upstream.iter().enumerate() {
        for up in ups {
            downstream[up.index()].push(task_id(task));
        }
    }
    let topo_order: Vec<TaskId> = checked.order.iter().map(|&t| task_id(t)).collect();
    let mut position_in_order = vec![0; tasks.len()];
    for (position, task) in checked.order.iter().enumerate() {
        position_in_order[*task] = position;
    }
    let sequences = sequences
        .into_iter()
        .zip(checked.sequences)
        .map(|((sequence_name, _), resolved)| {
            let mut ids = resolved.expect("a graph without findings has no duplicate sequence");
            ids.sort_by_key(|&t| position_in_order[t]);
            Sequence {
                name: Arc::from(sequence_name),
                tasks: ids.into_iter().map(task_id).collect(),
            }
        })
        .collect();
    let node_index: NameIndex<NodeId> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name_arc().clone(), node_id(i)))
        .collect();
    let task_index: NameIndex<TaskId> = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| (task.def().name_arc().clone(), task_id(i)))
        .collect();
    // Point the tasks' node names at the nodes' own strings (one copy per name).
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
    Graph {
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
        sequences,
        node_index,
        task_index,
    }
}
