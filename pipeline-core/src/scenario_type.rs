//! [`ScenarioType`]: what every `scenario!` type is, so that code written once
//! (a command line, a web view, a test helper) works with any of them.

use std::sync::Arc;

use crate::error::Result;
use crate::graph::Graph;
use crate::runtime::Runtime;
use crate::scenario::Scenario;
use crate::store::ScenarioId;

/// A scenario type declared with [`scenario!`](crate::scenario): its name,
/// its graph, and the conversions between its typed scenarios and untyped
/// [`Scenario`]s. `scenario!` implements it; code generic over scenario types
/// (such as the `cli` feature's `Cli::scenario::<T>()`) takes `T: ScenarioType`.
///
/// ```
/// use pipeline_core::{Runtime, ScenarioType, scenario, task};
///
/// #[task(skippable)]
/// fn double(x: &i64) -> i64 {
///     x * 2
/// }
///
/// scenario! {
///     pub struct Doubling {
///         data { x: i64 = 21, y: i64 }
///         tasks { double(x) -> y }
///     }
/// }
///
/// /// Runs any scenario type's scenario `name`, returning how many tasks ran.
/// fn run_named<S: ScenarioType>(runtime: &Runtime, name: &str) -> pipeline_core::Result<usize> {
///     let scenario = S::find_or_create(runtime, name)?;
///     let submission = scenario.as_ref().submit()?;
///     Ok(submission.jobs.len())
/// }
///
/// let runtime = Runtime::in_memory();
/// assert_eq!(run_named::<Doubling>(&runtime, "main")?, 1);
/// assert_eq!(<Doubling as ScenarioType>::NAME, "Doubling");
/// let untyped = runtime.find_scenario(Doubling::graph(), "main")?.unwrap();
/// assert_eq!(*Doubling::from_scenario(untyped)?.y().read()?, 42);
/// # Ok::<(), pipeline_core::Error>(())
/// ```
pub trait ScenarioType:
    AsRef<Scenario> + Into<Scenario> + Clone + Send + Sync + Sized + 'static
{
    /// The type's name: its graph's name, as the store records it.
    const NAME: &'static str;

    /// The type's graph (built once per process).
    fn graph() -> Arc<Graph>;

    /// Views an untyped scenario as this type, after checking that its graph
    /// is this type's (same name, data nodes, tasks and sequences).
    ///
    /// # Errors
    /// If the scenario's graph differs.
    fn from_scenario(scenario: Scenario) -> Result<Self>;

    /// Creates a scenario of this type called `name`, writing the data node
    /// defaults.
    ///
    /// # Errors
    /// If the store fails.
    fn create(runtime: &Runtime, name: &str) -> Result<Self> {
        Self::from_scenario(runtime.create_scenario(Self::graph(), name)?)
    }

    /// The newest scenario of this type called `name`, if any.
    ///
    /// # Errors
    /// If the store fails.
    fn find(runtime: &Runtime, name: &str) -> Result<Option<Self>> {
        runtime
            .find_scenario(Self::graph(), name)?
            .map(Self::from_scenario)
            .transpose()
    }

    /// The newest scenario of this type called `name`, created if there is none.
    ///
    /// # Errors
    /// If the store fails.
    fn find_or_create(runtime: &Runtime, name: &str) -> Result<Self> {
        Self::from_scenario(runtime.find_or_create_scenario(Self::graph(), name)?)
    }

    /// The scenario of this type with the given id.
    ///
    /// # Errors
    /// If the store has no such scenario of this type.
    fn open(runtime: &Runtime, id: ScenarioId) -> Result<Self> {
        Self::from_scenario(runtime.open_scenario(Self::graph(), id)?)
    }
}
