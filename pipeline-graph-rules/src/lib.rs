//! The rules every scenario graph obeys, written once for the two places that
//! check them: `scenario!` at compile time (each finding becomes an error on
//! the user's token) and `pipeline-core` at run time (graphs declared in TOML or
//! built by hand; each finding becomes a `GraphError`, and a TOML file's error
//! points at the line of the entry).
//!
//! A graph is described by names and positions only ([`Graph`]); [`Graph::check`]
//! returns every broken rule as a [`Finding`] that refers back to the
//! description by index, so each caller words and locates it its own way, plus
//! the resolved wiring ([`Checked`]) the runtime builds its graph from.
//!
//! ```
//! use pipeline_graph_rules::{Finding, Graph, Node, Task};
//!
//! let graph: Graph<'_, &str> = Graph {
//!     nodes: vec![Node::new("x").with_default(), Node::new("y")],
//!     tasks: vec![
//!         Task::new("double", ["x"], ["y"]),
//!         Task::new("again", ["y"], ["y"]),
//!     ],
//!     sequences: vec![],
//! };
//! let checked = graph.check();
//! assert_eq!(
//!     checked.findings,
//!     [
//!         Finding::TwoProducers { task: 1, position: 0, node: 1, producer: 0 },
//!     ]
//! );
//! ```

#![forbid(unsafe_code)]

mod cycles;
mod names;
mod suggest;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use names::NameMap;

pub mod resources;
pub use names::NameHasher;
pub use suggest::closest;

/// Which side of a task a node is wired to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A parameter: the task reads the node.
    Input,
    /// A returned value: the task writes the node.
    Output,
}

/// A data node: its name, whether it has a default value, and its type if the
/// caller knows it (`scenario!` leaves types to rustc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<'a, T> {
    /// The node's name.
    pub name: &'a str,
    /// Whether the node has a default value (then it needs no producer).
    pub has_default: bool,
    /// The node's type, compared with the tasks' signatures when both are known.
    pub value_type: Option<T>,
}

impl<'a, T> Node<'a, T> {
    /// A node without a default and of unknown type.
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            has_default: false,
            value_type: None,
        }
    }

    /// The node has a default value.
    pub fn with_default(mut self) -> Self {
        self.has_default = true;
        self
    }

    /// The node's type.
    pub fn with_type(mut self, value_type: T) -> Self {
        self.value_type = Some(value_type);
        self
    }
}

/// The types a task's function takes and returns, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Signature<'a, T> {
    /// Parameter types, in order.
    pub inputs: &'a [T],
    /// Output types, in order.
    pub outputs: &'a [T],
}

impl<T> Clone for Signature<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Signature<'_, T> {}

/// A task: its name in the graph and the nodes wired to its parameters and
/// outputs, with its function's signature if the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task<'a, T> {
    /// The task's name in the graph.
    pub name: &'a str,
    /// The nodes passed as parameters, in order.
    pub inputs: Vec<&'a str>,
    /// The nodes receiving the outputs, in order.
    pub outputs: Vec<&'a str>,
    /// The function's types; without it, arities and types are not checked.
    pub signature: Option<Signature<'a, T>>,
}

impl<'a, T> Task<'a, T> {
    /// A task wired to `inputs` and `outputs`, signature unknown.
    pub fn new(
        name: &'a str,
        inputs: impl IntoIterator<Item = &'a str>,
        outputs: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            name,
            inputs: inputs.into_iter().collect(),
            outputs: outputs.into_iter().collect(),
            signature: None,
        }
    }

    /// The function's signature.
    pub fn with_signature(mut self, inputs: &'a [T], outputs: &'a [T]) -> Self {
        self.signature = Some(Signature { inputs, outputs });
        self
    }

    /// The nodes wired to one side.
    pub fn wired(&self, role: Role) -> &[&'a str] {
        match role {
            Role::Input => &self.inputs,
            Role::Output => &self.outputs,
        }
    }
}

/// A named subset of the tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence<'a> {
    /// The sequence's name.
    pub name: &'a str,
    /// Its tasks, by name.
    pub tasks: Vec<&'a str>,
}

/// A graph as names and positions: what both the macro and the runtime know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph<'a, T> {
    /// The data nodes, in declaration order.
    pub nodes: Vec<Node<'a, T>>,
    /// The tasks, in declaration order.
    pub tasks: Vec<Task<'a, T>>,
    /// The sequences, in declaration order.
    pub sequences: Vec<Sequence<'a>>,
}

/// A task's parameter or output: the `position`-th node wired to one side of
/// task `task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    /// The task's index.
    pub task: usize,
    /// The position among the task's inputs (or outputs).
    pub position: usize,
}

/// One broken rule. Indices refer to the checked [`Graph`]'s vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Node `node` has the name of the earlier node `first`.
    DuplicateNode {
        /// The later declaration.
        node: usize,
        /// The first declaration.
        first: usize,
    },
    /// Task `task` has the name of the earlier task `first`.
    DuplicateTask {
        /// The later task.
        task: usize,
        /// The first task.
        first: usize,
    },
    /// A task is wired to `found` nodes on one side, but its function has `expected`.
    Arity {
        /// The task.
        task: usize,
        /// The side.
        role: Role,
        /// What the signature has.
        expected: usize,
        /// What the wiring gives.
        found: usize,
    },
    /// A task names a node the graph does not declare.
    UnknownNode {
        /// The task.
        task: usize,
        /// The side it names the node on.
        role: Role,
        /// The position of the name on that side.
        position: usize,
    },
    /// A node's type differs from the task's type at that position.
    TypeMismatch {
        /// The task.
        task: usize,
        /// The side.
        role: Role,
        /// The position on that side.
        position: usize,
        /// The node.
        node: usize,
    },
    /// A task writes one node twice.
    OutputTwice {
        /// The task.
        task: usize,
        /// The second output naming the node.
        position: usize,
        /// The first.
        first_position: usize,
    },
    /// A task writes a node that an earlier task already writes.
    TwoProducers {
        /// The later producer.
        task: usize,
        /// Its output naming the node.
        position: usize,
        /// The node.
        node: usize,
        /// The first producer.
        producer: usize,
    },
    /// A node is read, but no task writes it and it has no default.
    Unfed {
        /// The node.
        node: usize,
        /// Every parameter reading it, in task order (never empty).
        readers: Vec<Wire>,
    },
    /// Tasks that (indirectly) read their own outputs. One finding per cycle,
    /// starting at the cycle's first task in declaration order.
    Cycle {
        /// The first task of the cycle.
        start: usize,
        /// The shortest way around from `start`: (node, task) steps, each node
        /// written by the previous task and read by the step's task; the last
        /// step's task is `start`.
        steps: Vec<(usize, usize)>,
    },
    /// Sequence `sequence` has the name of the earlier sequence `first`.
    DuplicateSequence {
        /// The later sequence.
        sequence: usize,
        /// The first.
        first: usize,
    },
    /// A sequence names a task the graph does not have.
    UnknownTaskInSequence {
        /// The sequence.
        sequence: usize,
        /// The position of the name in the sequence.
        position: usize,
    },
    /// A sequence lists one task twice.
    TaskTwiceInSequence {
        /// The sequence.
        sequence: usize,
        /// The second listing.
        position: usize,
        /// The first.
        first_position: usize,
    },
}

/// The result of [`Graph::check`]: the findings, and the wiring resolved to
/// indices (complete and meaningful only when there are no findings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Every broken rule: node and task names first, then each task's wiring
    /// in declaration order, unfed nodes, cycles and sequences.
    pub findings: Vec<Finding>,
    /// For each task, the nodes it reads, in parameter order (unknown names left out).
    pub task_inputs: Vec<Vec<usize>>,
    /// For each task, the nodes it writes, in output order (unknown names left out).
    pub task_outputs: Vec<Vec<usize>>,
    /// For each node, the task writing it (the first, if several do).
    pub producer: Vec<Option<usize>>,
    /// For each task, the distinct tasks writing its inputs, ascending.
    pub upstream: Vec<Vec<usize>>,
    /// Every task, each after the tasks it reads from, ties in declaration
    /// order; empty when the graph has a cycle.
    pub order: Vec<usize>,
    /// For each sequence, its tasks' indices in listing order (unknown and
    /// repeated names left out); `None` for a sequence whose name is taken.
    pub sequences: Vec<Option<Vec<usize>>>,
}

impl<T: PartialEq> Graph<'_, T> {
    /// Checks every rule and resolves the wiring.
    pub fn check(&self) -> Checked {
        let mut findings = Vec::new();
        let node_index = first_index(self.nodes.iter().map(|n| n.name), |node, first| {
            findings.push(Finding::DuplicateNode { node, first });
        });
        let task_index = first_index(self.tasks.iter().map(|t| t.name), |task, first| {
            findings.push(Finding::DuplicateTask { task, first });
        });

        let mut producer: Vec<Option<usize>> = vec![None; self.nodes.len()];
        let mut task_inputs = Vec::with_capacity(self.tasks.len());
        let mut task_outputs = Vec::with_capacity(self.tasks.len());
        for (index, task) in self.tasks.iter().enumerate() {
            task_inputs.push(self.resolve(index, task, Role::Input, &node_index, &mut findings));
            let outputs = self.resolve(index, task, Role::Output, &node_index, &mut findings);
            let mut resolved = outputs.iter();
            for (position, name) in task.outputs.iter().enumerate() {
                if !node_index.contains_key(name) {
                    continue;
                }
                let node = *resolved.next().expect("a known output is resolved");
                match producer[node] {
                    Some(first) if first == index => {
                        let first_position = task
                            .outputs
                            .iter()
                            .position(|o| o == name)
                            .expect("the node is among the outputs");
                        findings.push(Finding::OutputTwice {
                            task: index,
                            position,
                            first_position,
                        });
                    }
                    Some(first) => findings.push(Finding::TwoProducers {
                        task: index,
                        position,
                        node,
                        producer: first,
                    }),
                    None => producer[node] = Some(index),
                }
            }
            task_outputs.push(outputs);
        }

        self.unfed(&task_inputs, &producer, &node_index, &mut findings);

        let upstream = cycles::upstream_tasks(&task_inputs, &producer);
        let order = match cycles::topological_order(&upstream) {
            Some(order) => order,
            None => {
                findings.extend(cycles::find_cycles(&task_inputs, &producer));
                Vec::new()
            }
        };

        let sequences = self.sequences(&task_index, &mut findings);
        Checked {
            findings,
            task_inputs,
            task_outputs,
            producer,
            upstream,
            order,
            sequences,
        }
    }

    /// One side of a task's wiring: unknown names, arity and types; the known
    /// nodes, in order.
    fn resolve(
        &self,
        index: usize,
        task: &Task<'_, T>,
        role: Role,
        node_index: &NameMap<'_>,
        findings: &mut Vec<Finding>,
    ) -> Vec<usize> {
        let wired = task.wired(role);
        let types = task.signature.map(|s| match role {
            Role::Input => s.inputs,
            Role::Output => s.outputs,
        });
        if let Some(types) = types
            && types.len() != wired.len()
        {
            findings.push(Finding::Arity {
                task: index,
                role,
                expected: types.len(),
                found: wired.len(),
            });
        }
        let mut nodes = Vec::with_capacity(wired.len());
        for (position, name) in wired.iter().enumerate() {
            let Some(&node) = node_index.get(name) else {
                findings.push(Finding::UnknownNode {
                    task: index,
                    role,
                    position,
                });
                continue;
            };
            if let (Some(expected), Some(actual)) = (
                types.and_then(|t| t.get(position)),
                &self.nodes[node].value_type,
            ) && expected != actual
            {
                findings.push(Finding::TypeMismatch {
                    task: index,
                    role,
                    position,
                    node,
                });
            }
            nodes.push(node);
        }
        nodes
    }

    /// Nodes read by some task that no task writes and that have no default.
    fn unfed(
        &self,
        task_inputs: &[Vec<usize>],
        producer: &[Option<usize>],
        node_index: &NameMap<'_>,
        findings: &mut Vec<Finding>,
    ) {
        let mut unfed = vec![false; self.nodes.len()];
        let mut any = false;
        for &node in task_inputs.iter().flatten() {
            if producer[node].is_none() && !self.nodes[node].has_default && !unfed[node] {
                unfed[node] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let mut readers: HashMap<usize, Vec<Wire>> = HashMap::new();
        for (task, wiring) in self.tasks.iter().enumerate() {
            for (position, name) in wiring.inputs.iter().enumerate() {
                if let Some(&node) = node_index.get(name)
                    && unfed[node]
                {
                    readers
                        .entry(node)
                        .or_default()
                        .push(Wire { task, position });
                }
            }
        }
        for (node, is_unfed) in unfed.into_iter().enumerate() {
            if is_unfed {
                let readers = readers.remove(&node).expect("an unfed node has a reader");
                findings.push(Finding::Unfed { node, readers });
            }
        }
    }

    /// Sequence names and the tasks they list.
    fn sequences(
        &self,
        task_index: &NameMap<'_>,
        findings: &mut Vec<Finding>,
    ) -> Vec<Option<Vec<usize>>> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut resolved = Vec::with_capacity(self.sequences.len());
        for (index, sequence) in self.sequences.iter().enumerate() {
            if let Some(&first) = names.get(sequence.name) {
                findings.push(Finding::DuplicateSequence {
                    sequence: index,
                    first,
                });
                resolved.push(None);
                continue;
            }
            names.insert(sequence.name, index);
            let mut tasks: Vec<usize> = Vec::with_capacity(sequence.tasks.len());
            let mut listed_at: HashMap<usize, usize> = HashMap::new();
            for (position, name) in sequence.tasks.iter().enumerate() {
                match task_index.get(name) {
                    None => findings.push(Finding::UnknownTaskInSequence {
                        sequence: index,
                        position,
                    }),
                    Some(&task) => match listed_at.entry(task) {
                        Entry::Occupied(first) => findings.push(Finding::TaskTwiceInSequence {
                            sequence: index,
                            position,
                            first_position: *first.get(),
                        }),
                        Entry::Vacant(slot) => {
                            slot.insert(position);
                            tasks.push(task);
                        }
                    },
                }
            }
            resolved.push(Some(tasks));
        }
        resolved
    }
}

/// Each distinct name's first index; `duplicate(later, first)` for each repeat.
fn first_index<'a>(
    names: impl ExactSizeIterator<Item = &'a str>,
    mut duplicate: impl FnMut(usize, usize),
) -> NameMap<'a> {
    let mut index = NameMap::with_capacity_and_hasher(names.len(), Default::default());
    for (i, name) in names.enumerate() {
        match index.entry(name) {
            Entry::Occupied(first) => duplicate(i, *first.get()),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    index
}

#[cfg(test)]
mod tests;
