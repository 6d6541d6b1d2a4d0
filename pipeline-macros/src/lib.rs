//! Procedural macros for [`pipeline-core`]: `#[task]` turns a plain function
//! into a task, `scenario!` declares a scenario type (data nodes, tasks,
//! sequences) whose wiring is checked at compile time.
//!
//! Use them through `pipeline-core`, which re-exports both
//! (`use pipeline_core::{scenario, task};`); the code they generate names the
//! runtime as `::pipeline_core::__private::…`, so this crate is not meant to be
//! used on its own. The complete, compiling example lives in `pipeline-core`'s
//! crate documentation (doctests in a proc-macro crate cannot use the runtime).
//!
//! # Inside
//! Each macro goes through three phases, one module each (as in serde_derive):
//! - `parse`: the input as plain syn data (`task::parse`, `scenario::parse`);
//! - `check`: every rule that the input alone can decide, each broken rule a
//!   `syn::Error` on the user's token, all collected by `ctxt::Ctxt` and
//!   reported together. The graph rules are `pipeline-graph-rules`, the crate
//!   `pipeline-core` validates run-time graphs with, so both enforce the same
//!   rules;
//! - `expand`: code generation with `quote`. What only rustc can decide (a data
//!   node's type against a task's parameter, the number of parameters) becomes
//!   a spanned assertion, so rustc's caret lands on the node name.
//!
//! `code` computes what `#[task]` records about the code a task can run (its
//! tokens, its crate's files, Cargo.lock, the compiler): see
//! `docs/code-fingerprint.md`.
//!
//! [`pipeline-core`]: https://docs.rs/pipeline-core

#![forbid(unsafe_code)]

mod code;
mod ctxt;
mod scenario;
mod task;
mod util;

use proc_macro::TokenStream;

/// Makes a function a task: something a scenario can run, skip and re-run.
///
/// ```ignore
/// use pipeline_core::task;
///
/// #[task(skippable)]
/// fn discount(prices: &[f64], rate: &f64) -> Vec<f64> {
///     prices.iter().map(|p| p * (1.0 - rate)).collect()
/// }
/// ```
///
/// (This example and the one of [`scenario!`] are not compiled here: a
/// proc-macro crate's doctests cannot use the runtime. `pipeline_core`'s crate
/// documentation has the complete, tested example.)
///
/// The function is left as it is: call it directly in unit tests. Next to it
/// the macro emits a hidden braced struct of the same name (a braced struct
/// lives only in the type namespace, so both coexist, and `use module::discount`
/// imports both), which `scenario! { … tasks { discount(prices, rate) -> discounted } }`
/// names by its path. The task is also registered for run-time lookup by name
/// (configurations that name tasks use this registry).
///
/// # Arguments
/// - `skippable` (or `skippable = true|false`): a run may skip the task when
///   its inputs and code are unchanged since it produced its current outputs.
///   Without it the task always runs. A task without outputs cannot be
///   skippable (nothing would record that it ran).
/// - `version = "2"`: pin the task's own code to this string. **You then
///   answer for the function and for every helper of your crate it calls**:
///   the pin replaces the digests of the function's tokens and of the crate's
///   sources, so editing a helper no longer re-runs the task until you bump
///   the version. Dependency versions and the compiler still count (see
///   below). Pin when a rebuild must not re-run an expensive task for
///   unrelated edits of a big crate, and keep the helpers it calls in mind.
/// - `env = ["NAME", …]`: the values of these environment variables, read
///   when the scenario is submitted, go into the task's key, so a changed
///   value re-runs it. Undeclared variables are not seen.
/// - `name = "…"`: the task's name in graphs, jobs and the registry (default:
///   the function's name).
///
/// # Parameters: the data nodes read
/// - `&T` borrows the node's value, of type `T`: nothing is copied. `&str`
///   reads a `String` node, `&Path` a `PathBuf` node and `&[T]` a `Vec<T>` node.
/// - `T` by value receives a clone of the node's value, so `T` must be
///   `Clone`. Meant for values that are cheap to clone (a polars `LazyFrame`,
///   a number, an `Arc`); the node itself is never handed out mutably.
/// - `&mut T` is refused: data nodes are shared between tasks and scenarios
///   and never changed in place; return the new value as an output.
///
/// Parameter patterns are free (`(low, high): (i64, i64)` works). Types must be
/// concrete: no type or const generics (lifetimes are fine), no `impl Trait`,
/// no `self`, and the function cannot be `async` or `unsafe`. `#[task]` goes on
/// free functions, not on associated functions inside an `impl`.
///
/// # Return type: the data nodes written
/// `T` is one output, a tuple `(A, B)` one output per element (`(A,)` is one),
/// `()` or no return type none. A type spelled `Result<T, E>`,
/// `path::Result<T>` (such as `std::io::Result<T>`) or `NameResult<T>` (an
/// alias whose name ends in `Result`, such as polars' `PolarsResult<T>`) is
/// fallible: an `Err`
/// fails the job with `E`'s `Display` text and abandons its dependents, and
/// `T` follows the rules above. A panic fails the job too, with its message.
/// (So a data node cannot hold a `Result` or a tuple directly: wrap it in a
/// type of your own.)
///
/// Every parameter and output type implements `pipeline_core::Value`; the
/// error on a type that does not is on that type in the signature.
///
/// # Code fingerprint: what re-runs a skippable task
/// Without `version`, the macro records, when the crate is compiled, a digest
/// per part of what the task can run (`pipeline_core::code::CodeIdentity`):
/// - *task tokens*: the function's own tokens;
/// - *crate sources*: every file of the crate's module tree (from the crate
///   root, through `mod x;`, `#[path]`, inline and compiled-out modules),
///   the files it pulls in with `include!`, `include_str!` and
///   `include_bytes!`, the values of the variables it reads with `env!` and
///   `option_env!`, the package's library (for a binary or test) and its
///   `build.rs`;
/// - *dependencies*: the package's resolved dependency closure from
///   `Cargo.lock` (versions, sources, checksums), the package's and the
///   workspace's `Cargo.toml`, and the sources of path dependencies;
/// - *compiler*: `rustc -vV`, the crate's compiler flags (features, profile
///   settings, `RUSTFLAGS`, target) and `cfg!(debug_assertions)`.
///
/// Code is compared as tokens: whitespace and comments never count; doc
/// comments and optional commas do not either, except inside items that a
/// derive or attribute macro may read (clap's doc comments are help texts).
/// Any other change re-runs the task. What the code reads at run time
/// (clocks, randomness, the network, files that are not data nodes,
/// undeclared environment variables) is not covered. When the sources cannot
/// be read at compile time (no `CARGO_MANIFEST_DIR`, an include path that is
/// not a literal), the part changes with every build: tasks re-run after
/// each rebuild rather than trust a guess. `docs/code-fingerprint.md` has
/// the details and the cost (a few hundred milliseconds per crate).
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::task(args.into(), item.into()).into()
}

/// Declares a scenario type: its data nodes, the tasks wiring them, and named
/// sequences of tasks.
///
/// ```ignore
/// use pipeline_core::scenario;
///
/// scenario! {
///     /// A price list, discounted.
///     pub struct Pricing {
///         data {
///             prices: Vec<f64> = vec![10.0, 20.0],
///             global rate: f64 = 0.1,
///             discounted: Vec<f64>,
///             total: f64,
///         }
///         tasks {
///             discount(prices, rate) -> discounted,
///             sum(discounted) -> total,
///         }
///         sequences {
///             pricing = [discount],
///         }
///     }
/// }
/// ```
///
/// # Syntax
/// - The struct: attributes and doc comments, a visibility, a name (also the
///   name of the graph in the store: scenarios are found, and global nodes
///   shared, by it).
/// - `data { … }`: `name: Type`, optionally `= default` (an expression of
///   `Type`, which must then be `Clone`; evaluated once per process and
///   written to each new scenario), optionally preceded by `global` (one value
///   shared by every scenario of the type). `Type` implements
///   `pipeline_core::Value`.
/// - `tasks { … }`: `path::to::task(input, …) -> output`, `-> (a, b)` for
///   several outputs, no arrow for none, and `as name` to name this use of the
///   function (needed to use one function twice). Inputs are listed in
///   parameter order, outputs in the order the function returns them.
/// - `sequences { … }`: `name = [task, …]`, tasks by their name in this scenario
///   (the `as` name, else the function's name).
///
/// Each section is optional and appears at most once; doc comments are allowed
/// on every entry and end up on the generated items.
///
/// # Generated API
/// For `pub struct Pricing`:
/// - constructors `Pricing::create(&runtime, "name")`, `find`, `find_or_create`,
///   `open(&runtime, id)`, and `from_scenario(scenario)` / `TryFrom<Scenario>`,
///   which checks that the scenario's graph is this type's; `scenario()`,
///   `into_scenario()`, `From<Pricing> for Scenario`, `AsRef<Scenario>`,
///   `Clone`, `Debug`;
/// - one accessor per data node: `pricing.rate()` is a
///   `pipeline_core::DataNode<f64>` (`read()`, `write(v)`, `history()`, …);
/// - `Pricing::graph()`, the runtime graph (built once, shared), for export or
///   for untyped use, and `Pricing::NAME`;
/// - `submit()`, `submit_forced()`, `submit_with(&options)`,
///   `submit_task(PricingTask::Discount)`, `submit_sequence(PricingSequence::Pricing)`;
/// - `enum PricingTask` and `enum PricingSequence`, with the struct's
///   visibility: one `UpperCamelCase` variant per task or sequence, `name()`,
///   `ALL`, `Display`, and `Into<pipeline_core::Target>` for
///   `SubmitOptions::target`.
///
/// A data node cannot be named like a generated associated item (`submit`,
/// `graph`, `create`, …): the macro says so.
///
/// # Checks
/// At compile time, each error with its caret on the offending token and all
/// of them reported together: unknown data nodes (with a "did you mean"), nodes
/// declared twice, a task used twice without `as`, two tasks producing one
/// node, cycles (the path is listed), inputs that nothing produces and that
/// have no default, sequences naming unknown tasks; and, through rustc, a
/// node's type differing from the task's parameter or output type (on the node
/// name: "data node `rate` holds `u32`, but the 2nd parameter of task
/// `discount` takes `f64`"), the number of nodes wired differing from the
/// function's, a path that is not a `#[task]`, and two tasks registered under
/// one name.
#[proc_macro]
pub fn scenario(input: TokenStream) -> TokenStream {
    scenario::scenario(input.into()).into()
}
