//! Paths used by code that `#[task]` and `scenario!` generate
//! (`::pipeline_core::__private::…`). Not a public API: anything here may change
//! in any release, except the task registry at the bottom, which is meant to
//! move to a public `registry` module.
//!
//! Generated code names the runtime only through this module, so user items
//! cannot shadow ours and the runtime can move things around without breaking
//! the macros.

use std::any::Any;
use std::fmt::Display;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

pub use crate::error::{Error, Result};
pub use crate::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
pub use crate::job::Submission;
pub use crate::runtime::Runtime;
pub use crate::scenario::{DataNode, Scenario, SubmitOptions, Target};
pub use crate::store::ScenarioId;
pub use crate::task::{TaskDef, TaskError, TaskInputs, TaskOutputs, expect_input};
pub use crate::value::{Value, ValueType};
pub use inventory;
pub use std::sync::{Arc, OnceLock};

/// What `#[task]` records about a function, implemented on the braced struct
/// of the same name that it emits next to the function.
///
/// `scenario!` reads the associated items to check its wiring at compile time:
/// `INPUT_COUNT` / `OUTPUT_COUNT` against the number of wired nodes, and
/// [`Nth`] projections of `Inputs` / `Outputs` against each node's type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task",
    label = "not a `#[task]` function",
    note = "annotate the function with `#[pipeline_core::task]`"
)]
pub trait Task {
    /// The task's registered name: the function's name unless `name = "…"` overrides it.
    const NAME: &'static str;
    /// Whether `#[task(skippable)]` was given.
    const SKIPPABLE: bool;
    /// The number of parameters (data nodes read).
    const INPUT_COUNT: usize;
    /// The number of outputs (data nodes written).
    const OUTPUT_COUNT: usize;
    /// The data node types read, in parameter order, as a [`Cons`] list.
    type Inputs;
    /// The data node types written, in output order, as a [`Cons`] list.
    type Outputs;
    /// The task for the runtime: name, code fingerprint, types and body.
    fn def() -> TaskDef;
}

/// The empty type-level list.
pub enum Nil {}

/// A type-level list: `H` followed by the list `T`.
pub struct Cons<H, T>(PhantomData<fn() -> (H, T)>, Nil);

/// Type-level zero (a list position).
pub enum Z {}

/// Type-level successor (a list position).
pub struct S<N>(PhantomData<fn() -> N>, Nil);

/// The element at position `N` of a type-level list, or `F` past its end.
///
/// Past the end the projection is the fallback `F` (the node's own type), so a
/// scenario wired to too many nodes reports the arity error alone instead of
/// one type error per extra node.
pub trait Nth<N, F> {
    /// The element.
    type Type;
}

impl<H, T, F> Nth<Z, F> for Cons<H, T> {
    type Type = H;
}

impl<H, T, N, F> Nth<S<N>, F> for Cons<H, T>
where
    T: Nth<N, F>,
{
    type Type = <T as Nth<N, F>>::Type;
}

impl<N, F> Nth<N, F> for Nil {
    type Type = F;
}

/// A type a task can borrow from a data node: the parameter `&Self` reads a node
/// of type `Self::Node`.
///
/// Every [`Value`] borrows as itself; `&str` reads a `String` node, `&Path` a
/// `PathBuf` node and `&[T]` a `Vec<T>` node.
#[diagnostic::on_unimplemented(
    message = "a task cannot take `&{Self}`: `{Self}` cannot be stored in a data node",
    label = "not a data node type",
    note = "parameters are `&T` or `T` (cloned) where `T: pipeline_core::Value`, or `&str`, `&Path`, `&[T]`; implement `Value` for your type (`pipeline_core::serde_value!` does it for serde types)"
)]
pub trait Borrowed {
    /// The type of the data node read.
    type Node: Value;
    /// Borrows the parameter from the node's value.
    fn borrow(node: &Self::Node) -> &Self;
}

impl<T: Value> Borrowed for T {
    type Node = T;
    fn borrow(node: &T) -> &T {
        node
    }
}

impl Borrowed for str {
    type Node = String;
    fn borrow(node: &String) -> &str {
        node
    }
}

impl Borrowed for Path {
    type Node = PathBuf;
    fn borrow(node: &PathBuf) -> &Path {
        node
    }
}

impl<T: Value> Borrowed for [T] {
    type Node = Vec<T>;
    fn borrow(node: &Vec<T>) -> &[T] {
        node
    }
}

/// Clones a by-value parameter out of its data node.
#[diagnostic::on_unimplemented(
    message = "a task cannot take `{Self}` by value: `{Self}` is not `Clone`",
    label = "the task receives a clone of the data node's value",
    note = "take `&{Self}` instead, or implement `Clone` for it"
)]
pub trait Owned: Value {
    /// A clone of the node's value.
    fn clone_from_node(node: &Self) -> Self;
}

impl<T: Value + Clone> Owned for T {
    fn clone_from_node(node: &Self) -> Self {
        node.clone()
    }
}

/// Turns a task's `Err` into the job's error: its `Display` text.
pub fn task_result<T, E: Display>(result: std::result::Result<T, E>) -> Result<T, TaskError> {
    result.map_err(TaskError::new)
}

/// Boxes one output for the runtime.
pub fn output<T: Value>(value: T) -> Box<dyn Any + Send + Sync> {
    Box::new(value)
}

/// The typed handle to a node of a scenario whose graph [`check_scenario`] accepted.
///
/// # Panics
/// If the node is missing or of another type, which `check_scenario` rules out.
pub fn node<T: Value>(scenario: &Scenario, name: &str) -> DataNode<T> {
    scenario.node::<T>(name).unwrap_or_else(|error| {
        panic!("pipeline-core bug: a checked scenario lost its data node: {error}")
    })
}

/// Checks that `scenario` instantiates `expected` (the graph of a `scenario!`
/// type): the same graph, or one with the same name, nodes (name and type),
/// tasks and sequences.
pub fn check_scenario(expected: &Graph, scenario: &Scenario) -> Result<()> {
    let found = scenario.graph();
    if std::ptr::eq(expected, &**found) {
        return Ok(());
    }
    if found.name() != expected.name() {
        return Err(Error::UnknownScenario(format!(
            "`{}` ({}) of type `{}`: it is a scenario of type `{}`",
            scenario.name(),
            scenario.id(),
            expected.name(),
            found.name()
        )));
    }
    for node in expected.nodes() {
        let id = found
            .node_id(node.name())
            .ok_or_else(|| Error::UnknownNode {
                graph: found.name().to_owned(),
                node: node.name().to_owned(),
            })?;
        let actual = found.node(id).value_type();
        if actual != node.value_type() {
            return Err(Error::NodeType {
                node: node.name().to_owned(),
                actual: actual.name(),
                requested: node.value_type().name(),
            });
        }
    }
    for task in expected.tasks() {
        if found.task_id(task.name()).is_none() {
            return Err(Error::UnknownTask {
                graph: found.name().to_owned(),
                task: task.name().to_owned(),
            });
        }
    }
    for sequence in expected.sequences() {
        if found.sequence(sequence.name()).is_none() {
            return Err(Error::UnknownSequence {
                graph: found.name().to_owned(),
                sequence: sequence.name().to_owned(),
            });
        }
    }
    Ok(())
}

/// Builds the graph of a `scenario!` type.
///
/// # Panics
/// If the graph breaks a rule: `scenario!` checks them all at compile time,
/// except two tasks registered under one name with `#[task(name = "…")]`.
pub fn build_graph(scenario_type: &str, builder: GraphBuilder) -> Arc<Graph> {
    match builder.build() {
        Ok(graph) => Arc::new(graph),
        Err(errors) => panic!("scenario type `{scenario_type}`: {errors}"),
    }
}

// ---------------------------------------------------------------------------
// The task registry (to become the public `pipeline_core::registry` module).
// ---------------------------------------------------------------------------

/// A task registered by `#[task]`, found at run time by name (for configurations
/// that name tasks, such as TOML files).
#[derive(Debug)]
pub struct TaskRegistration {
    name: &'static str,
    module_path: &'static str,
    skippable: bool,
    def: fn() -> TaskDef,
}

impl TaskRegistration {
    /// A registration; `#[task]` calls this in a `static`.
    pub const fn new(
        name: &'static str,
        module_path: &'static str,
        skippable: bool,
        def: fn() -> TaskDef,
    ) -> Self {
        Self {
            name,
            module_path,
            skippable,
            def,
        }
    }

    /// The task's name (the function's name unless `name = "…"` overrides it).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The module that defines the function (`module_path!()` there).
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Whether the task was declared `#[task(skippable)]`.
    pub fn skippable(&self) -> bool {
        self.skippable
    }

    /// The task for the runtime (name, code fingerprint, types, body).
    pub fn def(&self) -> TaskDef {
        (self.def)()
    }
}

inventory::collect!(TaskRegistration);

/// Every `#[task]` function linked into the program, in no particular order.
pub fn registered_tasks() -> impl Iterator<Item = &'static TaskRegistration> {
    inventory::iter::<TaskRegistration>.into_iter()
}

/// The registered tasks called `name` (several when two modules register one name).
pub fn registered_tasks_named(name: &str) -> impl Iterator<Item = &'static TaskRegistration> {
    registered_tasks().filter(move |task| task.name == name)
}

/// The task registered as `name`, if exactly one is.
pub fn registered_task(name: &str) -> Option<&'static TaskRegistration> {
    let mut found = registered_tasks_named(name);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
