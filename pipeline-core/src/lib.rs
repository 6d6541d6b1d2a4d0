//! # pipeline-core
//!
//! The runtime of a framework for type-checked, incremental data pipelines.
//! Plain functions become tasks; tasks read and write named, typed **data
//! nodes**; a **scenario** is one instance of the resulting graph with its own
//! values. Submitting a scenario runs its tasks in parallel, and skips every
//! skippable task whose inputs and code have not changed since it produced its
//! outputs, judged by content fingerprints, never by timestamps.
//!
//! `#[task]` makes a plain function a task (its signature declares the data
//! nodes it reads and writes), and `scenario!` declares a scenario type: data
//! nodes with their types, defaults and scope, the tasks wiring them, and named
//! sequences. The wiring is checked at compile time (unknown nodes, cycles,
//! two producers, unfed inputs, and each node's type against the task's
//! parameter or output, with the error on the node's name), and the generated
//! type has one typed accessor per data node.
//!
//! ```
//! use pipeline_core::{JobStatus, Runtime, scenario, task};
//!
//! /// Applies the discount rate to every price.
//! #[task(skippable)]
//! fn discount(prices: &[f64], rate: &f64) -> Vec<f64> {
//!     prices.iter().map(|p| p * (1.0 - rate)).collect()
//! }
//!
//! #[task(skippable)]
//! fn total(discounted: &[f64]) -> f64 {
//!     discounted.iter().sum()
//! }
//!
//! /// Fails the job (with this message) when there is nothing to price.
//! #[task(skippable, version = "1")]
//! fn bounds(discounted: &[f64]) -> Result<(f64, f64), String> {
//!     let min = discounted.iter().copied().reduce(f64::min).ok_or("no prices")?;
//!     let max = discounted.iter().copied().reduce(f64::max).ok_or("no prices")?;
//!     Ok((min, max))
//! }
//!
//! scenario! {
//!     /// A price list, discounted.
//!     pub struct Pricing {
//!         data {
//!             prices: Vec<f64> = vec![10.0, 20.0, 30.0],
//!             /// Shared by every `Pricing` scenario.
//!             global rate: f64 = 0.1,
//!             discounted: Vec<f64>,
//!             total_price: f64,
//!             cheapest: f64,
//!             dearest: f64,
//!         }
//!         tasks {
//!             discount(prices, rate) -> discounted,
//!             total(discounted) -> total_price,
//!             bounds(discounted) -> (cheapest, dearest),
//!         }
//!         sequences {
//!             invoicing = [discount, total],
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::in_memory();
//! let spring = Pricing::create(&runtime, "spring sale")?;
//! spring.submit()?;
//! assert_eq!(*spring.total_price().read()?, 54.0);
//! assert_eq!(*spring.dearest().read()?, 27.0);
//!
//! // Unchanged inputs: every task is skipped.
//! assert_eq!(spring.submit()?.tasks_with(JobStatus::Skipped).len(), 3);
//!
//! // A sequence runs only its tasks.
//! spring.prices().write(vec![100.0])?;
//! let invoicing = spring.submit_sequence(PricingSequence::Invoicing)?;
//! assert_eq!(invoicing.tasks_with(JobStatus::Completed), ["discount", "total"]);
//! assert_eq!(*spring.total_price().read()?, 90.0);
//!
//! // One task alone; an `Err` fails its job with the error's message.
//! spring.prices().write(Vec::new())?;
//! spring.submit_task(PricingTask::Discount)?;
//! let failed = spring.submit_task(PricingTask::Bounds)?;
//! assert_eq!(failed.job("bounds").unwrap().error.as_deref(), Some("no prices"));
//!
//! // Tasks stay plain functions.
//! assert_eq!(total(&[1.0, 2.0]), 3.0);
//! # Ok(())
//! # }
//! ```
//!
//! See [`#[task]`](macro@task) and [`scenario!`] for every form the macros accept and what
//! they generate.
//!
//! ## Graphs built at run time
//!
//! Without the macros, [`GraphBuilder`](graph::GraphBuilder) builds the same kind of graph from
//! [`NodeSpec`](graph::NodeSpec)s and [`TaskSpec`](graph::TaskSpec)s, for pipelines whose shape is only known
//! at run time (the TOML loader in [`config`] uses it).
//!
//! ```
//! use pipeline_core::{JobStatus, Runtime};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
//! use pipeline_core::task::TaskDef;
//!
//! let graph = GraphBuilder::new("prices")
//!     .node(NodeSpec::new::<Vec<f64>>("prices").with_default(vec![10.0, 20.0, 30.0]))
//!     .node(NodeSpec::new::<f64>("rate").with_default(0.1))
//!     .node(NodeSpec::new::<Vec<f64>>("discounted"))
//!     .node(NodeSpec::new::<f64>("total"))
//!     .task(TaskSpec::new(TaskDef::from_fn2("discount", "1", |p: &Vec<f64>, r: &f64| {
//!         p.iter().map(|x| x * (1.0 - r)).collect::<Vec<f64>>()
//!     }))
//!     .inputs(["prices", "rate"]).outputs(["discounted"]).skippable(true))
//!     .task(TaskSpec::new(TaskDef::from_fn1("sum", "1", |d: &Vec<f64>| d.iter().sum::<f64>()))
//!     .inputs(["discounted"]).outputs(["total"]).skippable(true))
//!     .build()?;
//!
//! let runtime = Runtime::in_memory();
//! let scenario = runtime.create_scenario(graph, "spring sale")?;
//! let first = scenario.submit()?;
//! assert_eq!(first.tasks_with(JobStatus::Completed), ["discount", "sum"]);
//! assert_eq!(*scenario.node::<f64>("total")?.read()?, 54.0);
//!
//! // Nothing changed: everything is skipped.
//! assert_eq!(scenario.submit()?.tasks_with(JobStatus::Skipped), ["discount", "sum"]);
//!
//! // Writing an equal value invalidates nothing.
//! scenario.node::<f64>("rate")?.write(0.1)?;
//! assert_eq!(scenario.submit()?.tasks_with(JobStatus::Completed), Vec::<&str>::new());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Where things are
//!
//! The crate root holds what a pipeline's code names: the macros
//! ([`task`](macro@task), [`scenario!`], [`serde_value!`]), [`Runtime`],
//! [`Scenario`] and its [`DataNode`]s, [`SubmitOptions`] and [`Target`],
//! [`Submission`], [`Job`], [`JobStatus`] and [`Reason`], [`Value`],
//! [`Writes`], [`Executor`] and [`Error`]. Everything else lives in one
//! module: [`graph`] (graphs built at run time), [`store`] (the SQLite and
//! in-memory stores, ids, versions), [`value`] (type-erased values, errors),
//! [`lineage`], [`history`], [`compare`], [`explain`], [`events`],
//! [`config`] (TOML), [`fingerprint`], [`schema`], [`code`], and behind
//! features `frame` (`polars`), `cli`, `web`, `objects`, `remote` and `worker`.
//!
//! ## A command line
//!
//! With the `cli` feature, `pipeline_core::cli::Cli::new("pricing").scenario::<Pricing>().run()`
//! is a whole `main`: `run --set rate=0.2`, `get`, `set`, `list`, `history`,
//! `lineage`, `compare`, `graph` and more, over a store that later processes
//! reuse (see the `cli` module and `docs/cli.md`).

#![warn(missing_docs)]
// No unsafe code: the memory maps of stored frames and CSV inputs are
// `pipeline-mmap`'s, each use there with why it is sound.
#![forbid(unsafe_code)]

pub(crate) mod cache;
mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod code;
pub mod compare;
pub mod config;
mod data_node;
mod decide;
mod error;
pub mod events;
mod executor;
pub mod explain;
mod external;
pub mod file_state;
pub mod fingerprint;
#[cfg(feature = "polars")]
pub mod frame;
pub mod graph;
pub mod history;
mod ids;
mod job;
pub mod key;
pub mod lineage;
pub mod memory;
#[cfg(feature = "objects")]
pub mod objects;
mod old_layout;
pub mod partial_results;
mod reason;
#[cfg(feature = "remote")]
pub mod remote;
pub mod resources;
mod runtime;
mod runtime_state;
mod scenario;
mod scenario_state;
mod scenario_type;
pub mod schema;
pub mod stale;
pub mod store;
mod submit_options;
#[doc(hidden)]
pub mod synthetic;
pub mod task;
mod task_panic;
pub mod value;
#[cfg(feature = "web")]
pub mod web;
#[cfg(feature = "remote")]
pub mod worker;
mod write_pieces;
mod writes;

pub use catalog::ScenarioFilter;
pub use data_node::DataNode;
pub use error::{Error, Result};
pub use job::{Job, JobStatus, NodeVersion, RemoteJob, Submission};
pub use pipeline_macros::{scenario, task};
pub use reason::{Change, Reason};
pub use runtime::{Runtime, RuntimeBuilder};
pub use scenario::Scenario;
pub use scenario_type::ScenarioType;
pub use submit_options::{CancelToken, Executor, SubmitOptions, Target};
pub use value::definition::Value;
pub use writes::Writes;

/// Items that code generated by `#[task]` and `scenario!` refers to. Not a public
/// API: it may change in any release.
#[doc(hidden)]
pub mod __private;
