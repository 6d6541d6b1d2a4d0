//! Paths used by code that `#[task]` and `scenario!` generate
//! (`::pipeline_core::__private::…`). Not a public API: anything here may change
//! in any release.
//!
//! Generated code names the runtime only through this module, so user items
//! cannot shadow ours and the runtime can move things around without breaking
//! the macros.

use std::any::Any;
use std::fmt::Display;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::Value;
pub use crate::code::{CodeIdentity, CodePart, CodeSource};
pub use crate::data_node::DataNode;
pub use crate::error::{Error, Result};
pub use crate::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec, TypedNodeSpec};
pub use crate::job::Submission;
pub use crate::resources::Resources;
pub use crate::runtime::Runtime;
pub use crate::scenario::Scenario;
pub use crate::scenario_type::ScenarioType;
pub use crate::store::ScenarioId;
pub use crate::submit_options::{SubmitOptions, Target};
pub use crate::task::{TaskDef, TaskError, TaskFn, TaskInputs, TaskOutputs, expect_input};
pub use crate::value::ValueType;
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
    note = "annotate `fn {Self}` with `#[pipeline_core::task]`: only functions with that attribute are tasks"
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

/// The operations generated code needs on a data node's type, with one clear
/// error when the type cannot be stored in a data node.
///
/// Every use goes through this one blanket impl, so rustc reports a missing
/// `Value` once per type and place, with this message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a data node: it does not implement `pipeline_core::Value`",
    label = "not a data node type",
    note = "if `{Self}` is a serde type defined in your crate, `pipeline_core::serde_value!` implements `Value` for it",
    note = "a type from another crate cannot get `Value` in yours: use one that has it (`BTreeMap` or `BTreeSet` for a `HashMap` or `HashSet`, whose random order would change its fingerprint on every run) or a struct of yours holding it"
)]
pub trait NodeType: Sized {
    /// The erased type.
    fn value_type() -> ValueType;
    /// A node of this type called `name`.
    fn spec(name: &str) -> TypedNodeSpec<Self>;
    /// A node of this type called `name` with a default value.
    fn spec_with_default(name: &str, default: Self) -> TypedNodeSpec<Self>
    where
        Self: Clone;
    /// The typed handle to a node of a scenario whose graph [`check_scenario`] accepted.
    ///
    /// # Panics
    /// If the node is missing or of another type, which `check_scenario` rules out.
    fn node(scenario: &Scenario, name: &str) -> DataNode<Self>;
    /// Borrows task input `index` (see [`expect_input`]).
    fn input<'a>(inputs: TaskInputs<'a>, index: usize) -> &'a Self;
}

impl<T: Value> NodeType for T {
    fn value_type() -> ValueType {
        ValueType::of::<T>()
    }

    fn spec(name: &str) -> TypedNodeSpec<T> {
        NodeSpec::new::<T>(name)
    }

    fn spec_with_default(name: &str, default: T) -> TypedNodeSpec<T>
    where
        T: Clone,
    {
        NodeSpec::new::<T>(name).with_default(default)
    }

    fn node(scenario: &Scenario, name: &str) -> DataNode<T> {
        scenario.node::<T>(name).unwrap_or_else(|error| {
            panic!("pipeline-core bug: a checked scenario lost its data node: {error}")
        })
    }

    fn input<'a>(inputs: TaskInputs<'a>, index: usize) -> &'a T {
        expect_input::<T>(inputs, index)
    }
}

/// A type a task can borrow from a data node: the parameter `&Self` reads a node
/// of type `Self::Node`.
///
/// Every [`Value`] borrows as itself; `&str` reads a `String` node, `&Path` a
/// `PathBuf` node and `&[T]` a `Vec<T>` node.
#[diagnostic::on_unimplemented(
    message = "a task cannot take `&{Self}`: `{Self}` cannot be stored in a data node",
    label = "not a data node type",
    note = "parameters are `&T` or `T` (cloned) where `T: pipeline_core::Value`, or `&str`, `&Path`, `&[T]`",
    note = "if `{Self}` is a serde type defined in your crate, `pipeline_core::serde_value!` implements `Value` for it; for a type from another crate use one that has it (`BTreeMap` or `BTreeSet` for a `HashMap` or `HashSet`) or a struct of yours holding it"
)]
pub trait Borrowed {
    /// The type of the data node read.
    type Node: NodeType;
    /// Borrows the parameter from the node's value.
    fn borrow(node: &Self::Node) -> &Self;
}

impl<T: NodeType> Borrowed for T {
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
pub trait Owned {
    /// A clone of the node's value.
    fn clone_from_node(node: &Self) -> Self;
}

impl<T: Clone> Owned for T {
    fn clone_from_node(node: &Self) -> Self {
        node.clone()
    }
}

/// The erased body of a task, with its signature fixed for closure inference.
pub fn task_fn<F>(body: F) -> TaskFn
where
    F: Fn(TaskInputs<'_>) -> Result<TaskOutputs, TaskError> + Send + Sync + 'static,
{
    Arc::new(body)
}

/// What `#[task]` recorded at compile time about a task's code (see
/// `docs/code-fingerprint.md`); [`code_identity`] turns it into the task's
/// [`CodeIdentity`].
pub struct CodeSpec {
    /// The task's own code: its tokens and its crate's sources, or the
    /// explicit `version` that stands for both.
    pub own: OwnCode,
    /// The digest of the resolved dependencies (Cargo.lock closure, the
    /// manifests, the sources of path dependencies).
    pub dependencies: [u8; 32],
    /// One `label<TAB>digest` line per dependency (see [`CodeSource`]).
    pub dependency_sources: &'static str,
    /// The digest of the compiler (`rustc -vV`) and of the crate's compiler
    /// flags, as seen when the task was compiled.
    pub compiler: [u8; 32],
    /// `cfg!(debug_assertions)`, evaluated in the task's crate.
    pub debug_assertions: bool,
    /// `cfg!(panic = "unwind")`, evaluated in the task's crate.
    pub panic_unwind: bool,
    /// The environment variables declared with `env = [...]`.
    pub env: &'static [&'static str],
}

/// The task's own code, as [`CodeSpec`] records it.
pub enum OwnCode {
    /// `#[task(version = "…")]`: the string replaces the tokens and the crate's sources.
    Pinned(&'static str),
    /// No version: the digests of the function's tokens and of its crate's sources.
    Tokens {
        /// The function's tokens (doc comments and trailing commas left out).
        task_tokens: [u8; 32],
        /// Every source file of the crate, as tokens, and every file it includes.
        crate_sources: [u8; 32],
        /// One `label<TAB>digest` line per file (see [`CodeSource`]).
        crate_source_list: &'static str,
    },
}

/// The code identity of a `#[task]` from what the macro recorded.
pub fn code_identity(spec: &CodeSpec) -> CodeIdentity {
    use crate::fingerprint::{Fingerprint, FingerprintHasher};
    let compiler = FingerprintHasher::with_domain("compiler")
        .update_raw(&spec.compiler)
        .update_str(if spec.debug_assertions {
            "debug-assertions"
        } else {
            "-"
        })
        .update_str(if spec.panic_unwind { "unwind" } else { "abort" })
        .update_str(std::env::consts::ARCH)
        .update_str(std::env::consts::OS)
        .finish();
    let mut parts = vec![
        (
            CodePart::Dependencies,
            Fingerprint::from_bytes(spec.dependencies),
        ),
        (CodePart::Compiler, compiler),
    ];
    let mut sources = parse_sources(CodePart::Dependencies, spec.dependency_sources);
    match &spec.own {
        OwnCode::Pinned(version) => {
            parts.push((
                CodePart::Version,
                crate::task::TaskDef::code_fingerprint_of(version),
            ));
        }
        OwnCode::Tokens {
            task_tokens,
            crate_sources,
            crate_source_list,
        } => {
            parts.push((CodePart::TaskTokens, Fingerprint::from_bytes(*task_tokens)));
            parts.push((
                CodePart::CrateSources,
                Fingerprint::from_bytes(*crate_sources),
            ));
            sources.extend(parse_sources(CodePart::CrateSources, crate_source_list));
        }
    }
    CodeIdentity::new(parts, spec.env.iter().copied()).with_sources(sources)
}

/// `label<TAB>16 hex digits` lines as sources of `part` (a malformed line is
/// skipped: sources only explain, the parts decide).
fn parse_sources(part: CodePart, text: &str) -> Vec<CodeSource> {
    text.lines()
        .filter_map(|line| {
            let (label, digest) = line.rsplit_once('\t')?;
            Some(CodeSource::new(
                part,
                label,
                u64::from_str_radix(digest, 16).ok()?,
            ))
        })
        .collect()
}

/// Turns a task's `Err` into the job's error: its `Display` text.
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of a task must implement `Display`",
    label = "an `Err` fails the job with this type's `Display` text",
    note = "implement `Display` for `{Self}`, or map the error into a type that has it (a `String`, say)"
)]
pub trait TaskErrorDisplay {
    /// The job's error.
    fn into_task_error(self) -> TaskError;
}

impl<E: Display> TaskErrorDisplay for E {
    fn into_task_error(self) -> TaskError {
        TaskError::new(self)
    }
}

/// Boxes one output for the runtime (which checks its type against the node's).
pub fn output<T: Any + Send + Sync>(value: T) -> Box<dyn Any + Send + Sync> {
    Box::new(value)
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

/// Whether two strings are equal, in a `const` (for `scenario!`'s assertion
/// that no two of its tasks are registered under one name).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
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

pub use crate::task::{
    TaskRegistration, registered_task, registered_tasks, registered_tasks_named,
};
