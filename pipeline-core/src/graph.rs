//! The type-erased scenario graph: data nodes, tasks and sequences, validated once.
//!
//! Both the `scenario!` macro and TOML configurations build a [`Graph`] through a
//! [`GraphBuilder`]. [`GraphBuilder::build`] checks every rule and reports every
//! problem at once; the rules are `pipeline-graph-rules`, the same ones
//! `scenario!` checks at compile time.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::Value;
use crate::task::TaskDef;
use crate::value::ValueType;

/// Index of a data node in its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Index of a task in its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u32);

impl NodeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl TaskId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Who shares a data node's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Each scenario has its own value (the default).
    #[default]
    Scenario,
    /// All scenarios of the same graph share one value.
    Global,
}

impl Scope {
    /// `"scenario"` or `"global"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Scenario => "scenario",
            Scope::Global => "global",
        }
    }
}

/// Produces a node's default value.
pub type DefaultFn = Arc<dyn Fn() -> Box<dyn Any + Send + Sync> + Send + Sync>;

/// A data node declaration: name, type, optional default, scope.
#[derive(Clone)]
pub struct NodeSpec {
    name: Arc<str>,
    value_type: ValueType,
    default: Option<DefaultFn>,
    scope: Scope,
}

impl NodeSpec {
    /// A node holding values of type `T`; the returned builder takes a typed default.
    #[allow(clippy::new_ret_no_self)] // a typed builder that converts into `NodeSpec`
    pub fn new<T: Value>(name: impl Into<Arc<str>>) -> TypedNodeSpec<T> {
        TypedNodeSpec {
            spec: Self::of_type(name, ValueType::of::<T>()),
            _type: PhantomData,
        }
    }

    /// A node of an erased type (for configurations read at run time).
    pub fn of_type(name: impl Into<Arc<str>>, value_type: ValueType) -> Self {
        Self {
            name: name.into(),
            value_type,
            default: None,
            scope: Scope::Scenario,
        }
    }

    /// Gives the node a default produced by a function returning the node's type.
    pub fn with_default_fn(mut self, default: DefaultFn) -> Self {
        self.default = Some(default);
        self
    }

    /// Sets the scope.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Shares the node between all scenarios of the graph.
    pub fn global(self) -> Self {
        self.with_scope(Scope::Global)
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's name as a shared string.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The node's value type.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// The default, if any.
    pub fn default_fn(&self) -> Option<&DefaultFn> {
        self.default.as_ref()
    }

    /// Whether the node has a default value.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }

    /// The node's scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }
}

/// A [`NodeSpec`] under construction whose type is known, so that its default
/// is checked by the compiler (`NodeSpec::new::<i64>("x").with_default(21)` makes
/// `21` an `i64`).
pub struct TypedNodeSpec<T> {
    spec: NodeSpec,
    _type: PhantomData<fn() -> T>,
}

impl<T: Value + Clone> TypedNodeSpec<T> {
    /// Gives the node a default value, written when a scenario is created.
    pub fn with_default(self, value: T) -> Self {
        let spec = self
            .spec
            .with_default_fn(Arc::new(move || Box::new(value.clone())));
        Self {
            spec,
            _type: PhantomData,
        }
    }
}

impl<T> TypedNodeSpec<T> {
    /// Shares the node between all scenarios of the graph.
    pub fn global(self) -> Self {
        self.with_scope(Scope::Global)
    }

    /// Sets the scope.
    pub fn with_scope(self, scope: Scope) -> Self {
        Self {
            spec: self.spec.with_scope(scope),
            _type: PhantomData,
        }
    }

    /// The erased spec.
    pub fn into_spec(self) -> NodeSpec {
        self.spec
    }
}

impl<T> From<TypedNodeSpec<T>> for NodeSpec {
    fn from(typed: TypedNodeSpec<T>) -> Self {
        typed.spec
    }
}

impl fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeSpec")
            .field("name", &self.name)
            .field("type", &self.value_type)
            .field("has_default", &self.default.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

/// A task's place in a graph: which function, which nodes it reads and writes.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    def: TaskDef,
    inputs: Box<[Arc<str>]>,
    outputs: Box<[Arc<str>]>,
    skippable: bool,
}

impl TaskSpec {
    /// A task running `def`; name inputs and outputs with the builder methods.
    pub fn new(def: TaskDef) -> Self {
        Self {
            def,
            inputs: Box::default(),
            outputs: Box::default(),
            skippable: false,
        }
    }

    /// The data nodes passed as arguments, in parameter order.
    pub fn inputs<S: AsRef<str>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.inputs = nodes.into_iter().map(|n| Arc::from(n.as_ref())).collect();
        self
    }

    /// The data nodes receiving the outputs, in order.
    pub fn outputs<S: AsRef<str>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.outputs = nodes.into_iter().map(|n| Arc::from(n.as_ref())).collect();
        self
    }

    /// Lets the task be skipped when its inputs and code are unchanged.
    pub fn skippable(mut self, skippable: bool) -> Self {
        self.skippable = skippable;
        self
    }

    /// The function.
    pub fn def(&self) -> &TaskDef {
        &self.def
    }

    /// The task's name in the graph.
    pub fn name(&self) -> &str {
        self.def.name()
    }

    /// Whether the task may be skipped.
    pub fn is_skippable(&self) -> bool {
        self.skippable
    }

    /// Input node names.
    pub fn input_names(&self) -> &[Arc<str>] {
        &self.inputs
    }

    /// Output node names.
    pub fn output_names(&self) -> &[Arc<str>] {
        &self.outputs
    }

    /// Replaces the name lists with (equal) shared copies, without spare capacity.
    fn share_names(&mut self, inputs: Box<[Arc<str>]>, outputs: Box<[Arc<str>]>) {
        debug_assert!(
            inputs.iter().eq(self.inputs.iter()) && outputs.iter().eq(self.outputs.iter())
        );
        self.inputs = inputs;
        self.outputs = outputs;
    }
}

/// A named subset of a graph's tasks that can be submitted alone.
#[derive(Clone, Debug)]
pub struct Sequence {
    name: Arc<str>,
    tasks: Vec<TaskId>,
}

impl Sequence {
    /// The sequence's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its tasks, in graph (topological) order.
    pub fn tasks(&self) -> &[TaskId] {
        &self.tasks
    }
}

/// Whether a node was named as a task's input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A parameter.
    Input,
    /// A returned value.
    Output,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Input => "input",
            Role::Output => "output",
        })
    }
}

/// One problem found while validating a graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A task names a data node the graph does not declare.
    #[error(
        "task `{task}` names unknown data node `{node}` as an {role}; declare it or fix the name"
    )]
    UnknownNode {
        /// The task.
        task: String,
        /// The unknown name.
        node: String,
        /// Where the task named it.
        role: Role,
    },
    /// Two data nodes share a name.
    #[error("data node `{node}` is declared twice")]
    DuplicateNode {
        /// The name.
        node: String,
    },
    /// Two tasks share a name.
    #[error("task `{task}` is declared twice; give one of them another name")]
    DuplicateTask {
        /// The name.
        task: String,
    },
    /// Two sequences share a name.
    #[error("sequence `{sequence}` is declared twice")]
    DuplicateSequence {
        /// The name.
        sequence: String,
    },
    /// A task writes one data node twice.
    #[error("task `{task}` writes data node `{node}` twice; give each output its own data node")]
    OutputTwice {
        /// The task.
        task: String,
        /// The node.
        node: String,
    },
    /// Two tasks write the same data node.
    #[error(
        "data node `{node}` is produced by both `{first}` and `{second}`; a node has at most one producer"
    )]
    TwoProducers {
        /// The node.
        node: String,
        /// The first producer.
        first: String,
        /// The second producer.
        second: String,
    },
    /// Tasks depend on each other in a circle (one error per cycle).
    #[error("cycle: {}", path.join(" -> "))]
    Cycle {
        /// Alternating task and node names, starting and ending with the same task.
        path: Vec<String>,
    },
    /// A task reads a node that no task writes and that has no default.
    #[error(
        "data node `{node}` is read by `{task}` but no task produces it and it has no default; give it a default or add a producer"
    )]
    Unfed {
        /// The node.
        node: String,
        /// A task reading it.
        task: String,
    },
    /// A node's type differs from the task's parameter or return type.
    #[error(
        "data node `{node}` holds {node_type}, but {role} {position} of task `{task}` is {task_type}"
    )]
    TypeMismatch {
        /// The task.
        task: String,
        /// The node.
        node: String,
        /// Parameter or return position.
        role: Role,
        /// Zero-based position.
        position: usize,
        /// The node's type.
        node_type: String,
        /// The task's type at that position.
        task_type: String,
    },
    /// A task is wired to a different number of nodes than its function takes or returns.
    #[error("task `{task}` takes {expected} {role}s but {found} were given")]
    Arity {
        /// The task.
        task: String,
        /// Inputs or outputs.
        role: Role,
        /// What the function has.
        expected: usize,
        /// What the wiring gives.
        found: usize,
    },
    /// A sequence names a task that is not in the graph.
    #[error("sequence `{sequence}` names task `{task}`, which is not in the graph")]
    UnknownTaskInSequence {
        /// The sequence.
        sequence: String,
        /// The unknown task.
        task: String,
    },
    /// A sequence lists one task twice.
    #[error("task `{task}` is listed twice in sequence `{sequence}`; remove one")]
    TaskTwiceInSequence {
        /// The sequence.
        sequence: String,
        /// The task.
        task: String,
    },
}

/// Every problem found in a graph, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphErrors(pub Vec<GraphError>);

impl fmt::Display for GraphErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} problem{} in the graph:",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GraphErrors {}

/// Collects nodes, tasks and sequences, then validates them into a [`Graph`].
///
/// ```
/// use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
/// use pipeline_core::task::TaskDef;
/// let graph = GraphBuilder::new("doubling")
///     .node(NodeSpec::new::<i64>("x").with_default(21))
///     .node(NodeSpec::new::<i64>("y"))
///     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
///         .inputs(["x"]).outputs(["y"]).skippable(true))
///     .build()
///     .unwrap();
/// assert_eq!(graph.tasks().len(), 1);
///
/// let errors = GraphBuilder::new("broken")
///     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |x: &i64| x * 2))
///         .inputs(["nope"]).outputs(["y"]))
///     .build()
///     .unwrap_err();
/// assert_eq!(errors.0.len(), 2); // unknown input and unknown output
/// ```
#[derive(Default)]
pub struct GraphBuilder {
    name: String,
    nodes: Vec<NodeSpec>,
    tasks: Vec<TaskSpec>,
    sequences: Vec<(String, Vec<String>)>,
}

impl GraphBuilder {
    /// A builder for a graph called `name` (the scenario type's name).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Declares a data node.
    pub fn node(mut self, node: impl Into<NodeSpec>) -> Self {
        self.nodes.push(node.into());
        self
    }

    /// Declares a task.
    pub fn task(mut self, task: TaskSpec) -> Self {
        self.tasks.push(task);
        self
    }

    /// Declares a named sequence of tasks.
    pub fn sequence<S: AsRef<str>>(
        mut self,
        name: impl Into<String>,
        tasks: impl IntoIterator<Item = S>,
    ) -> Self {
        self.sequences.push((
            name.into(),
            tasks.into_iter().map(|t| t.as_ref().to_owned()).collect(),
        ));
        self
    }

    /// Validates and builds the graph, or returns every problem found.
    pub fn build(self) -> Result<Graph, GraphErrors> {
        crate::graph::validate::build(self)
    }
}

/// Ids by name, hashed with the graph rules' fast name hasher.
pub(crate) type NameIndex<Id> =
    HashMap<Arc<str>, Id, std::hash::BuildHasherDefault<pipeline_graph_rules::NameHasher>>;

/// A validated scenario graph. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Graph {
    name: String,
    nodes: Vec<NodeSpec>,
    tasks: Vec<TaskSpec>,
    task_inputs: Adjacency<NodeId>,
    task_outputs: Adjacency<NodeId>,
    producer: Vec<Option<TaskId>>,
    consumers: Adjacency<TaskId>,
    upstream: Adjacency<TaskId>,
    downstream: Adjacency<TaskId>,
    topo_order: Vec<TaskId>,
    sequences: Vec<Sequence>,
    node_index: NameIndex<NodeId>,
    task_index: NameIndex<TaskId>,
}

impl Graph {
    /// The graph's name (the scenario type).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All data nodes, indexed by [`NodeId`].
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// All tasks, indexed by [`TaskId`].
    pub fn tasks(&self) -> &[TaskSpec] {
        &self.tasks
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> &NodeSpec {
        &self.nodes[id.index()]
    }

    /// One task.
    pub fn task(&self, id: TaskId) -> &TaskSpec {
        &self.tasks[id.index()]
    }

    /// A node's id by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_index.get(name).copied()
    }

    /// A task's id by name.
    pub fn task_id(&self, name: &str) -> Option<TaskId> {
        self.task_index.get(name).copied()
    }

    /// The nodes a task reads, in parameter order.
    pub fn task_inputs(&self, id: TaskId) -> &[NodeId] {
        self.task_inputs.get(id.index())
    }

    /// The nodes a task writes, in output order.
    pub fn task_outputs(&self, id: TaskId) -> &[NodeId] {
        self.task_outputs.get(id.index())
    }

    /// The task writing a node, if any.
    pub fn producer(&self, node: NodeId) -> Option<TaskId> {
        self.producer[node.index()]
    }

    /// The tasks reading a node.
    pub fn consumers(&self, node: NodeId) -> &[TaskId] {
        self.consumers.get(node.index())
    }

    /// The distinct tasks producing a task's inputs.
    pub fn upstream(&self, id: TaskId) -> &[TaskId] {
        self.upstream.get(id.index())
    }

    /// The distinct tasks reading a task's outputs.
    pub fn downstream(&self, id: TaskId) -> &[TaskId] {
        self.downstream.get(id.index())
    }

    /// All tasks, each after the producers of its inputs.
    pub fn topo_order(&self) -> &[TaskId] {
        &self.topo_order
    }

    /// The named sequences.
    pub fn sequences(&self) -> &[Sequence] {
        &self.sequences
    }

    /// A digest of everything that defines the graph: node names, types, default
    /// values and scopes; task names, code fingerprints, wiring and skippability;
    /// sequences. Two graphs with equal fingerprints behave identically.
    pub fn fingerprint(&self) -> Result<crate::fingerprint::Fingerprint, crate::value::ValueError> {
        let mut hasher = crate::fingerprint::FingerprintHasher::with_domain("graph");
        hasher
            .update_str(&self.name)
            .update_u64(self.nodes.len() as u64);
        for node in &self.nodes {
            hasher
                .update_str(node.name())
                .update_str(node.value_type().full_name());
            hasher.update_str(node.scope().as_str());
            match node.default_fn() {
                Some(default) => {
                    let value = default();
                    hasher.update_u64(1);
                    hasher.update_fingerprint(&node.value_type().fingerprint(value.as_ref())?);
                }
                None => {
                    hasher.update_u64(0);
                }
            }
        }
        hasher.update_u64(self.tasks.len() as u64);
        for task in &self.tasks {
            hasher.update_str(task.name());
            hasher.update_fingerprint(&task.def().code_fingerprint());
            hasher.update_u64(u64::from(task.is_skippable()));
            for names in [task.input_names(), task.output_names()] {
                hasher.update_u64(names.len() as u64);
                for name in names {
                    hasher.update_str(name);
                }
            }
        }
        hasher.update_u64(self.sequences.len() as u64);
        for sequence in &self.sequences {
            hasher
                .update_str(sequence.name())
                .update_u64(sequence.tasks().len() as u64);
            for task in sequence.tasks() {
                hasher.update_str(self.task(*task).name());
            }
        }
        Ok(hasher.finish())
    }

    /// A sequence by name.
    pub fn sequence(&self, name: &str) -> Option<&Sequence> {
        self.sequences.iter().find(|s| s.name() == name)
    }
}

/// Lists of ids per task or node, stored flat (one allocation for all lists).
#[derive(Debug)]
struct Adjacency<T> {
    offsets: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy> Adjacency<T> {
    fn from_lists(lists: &[Vec<T>]) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut items = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        offsets.push(0);
        for list in lists {
            items.extend_from_slice(list);
            offsets.push(items.len() as u32);
        }
        Self { offsets, items }
    }

    fn get(&self, index: usize) -> &[T] {
        &self.items[self.offsets[index] as usize..self.offsets[index + 1] as usize]
    }
}

mod validate;
