//! [`Scenario::explain`](crate::Scenario::explain): whether each planned
//! task would run now, and why, without running or recording anything.
//!
//! ```
//! use pipeline_core::{Reason, Runtime, SubmitOptions};
//! use pipeline_core::explain::Verdict;
//! use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
//! use pipeline_core::task::TaskDef;
//! let graph = GraphBuilder::new("g")
//!     .node(NodeSpec::new::<i64>("x").with_default(1))
//!     .node(NodeSpec::new::<i64>("y"))
//!     .node(NodeSpec::new::<i64>("z"))
//!     .task(TaskSpec::new(TaskDef::from_fn1("inc", "1", |x: &i64| x + 1))
//!         .inputs(["x"]).outputs(["y"]).skippable(true))
//!     .task(TaskSpec::new(TaskDef::from_fn1("double", "1", |y: &i64| y * 2))
//!         .inputs(["y"]).outputs(["z"]).skippable(true))
//!     .build()?;
//! let scenario = Runtime::in_memory().create_scenario(graph, "s")?;
//! scenario.submit()?;
//! scenario.node::<i64>("x")?.write(5)?;
//! let plan = scenario.explain(&SubmitOptions::new())?;
//! assert_eq!(plan[0].verdict, Verdict::Run);
//! assert!(plan[0].to_string().contains("input `x` changed"), "{}", plan[0]);
//! assert_eq!(plan[1].verdict, Verdict::MayRun);
//! assert_eq!(plan[1].reason, Some(Reason::UpstreamRuns { task: "inc".into() }));
//! // Nothing ran: `y` is still the first run's.
//! assert_eq!(*scenario.node::<i64>("y")?.read()?, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::decide::{Decider, Decision};
use crate::error::Result;
use crate::executor::plan;
use crate::external;
use crate::reason::Reason;
use crate::scenario_state::ScenarioState;
use crate::submit_options::SubmitOptions;

/// What a submission would do with a task now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// It would run.
    Run,
    /// It would be skipped.
    Skip,
    /// It runs only if an upstream task that will run changes its inputs.
    MayRun,
    /// It would fail before running (an input has no usable value).
    Fail,
}

impl Verdict {
    /// The lowercase name (`"may_run"`), as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Run => "run",
            Verdict::Skip => "skip",
            Verdict::MayRun => "may_run",
            Verdict::Fail => "fail",
        }
    }
}

/// What [`Scenario::explain`](crate::Scenario::explain) says of one planned task.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The task.
    pub task: Arc<str>,
    /// What a submission would do with it now.
    pub verdict: Verdict,
    /// Why (absent for a task that would fail: see `error`).
    pub reason: Option<Reason>,
    /// Why it would fail.
    pub error: Option<String>,
}

impl Explanation {
    /// As JSON: `{"task", "verdict", "reason" (see [`Reason`]) or null,
    /// "reason_text" (the reason as a sentence, as `run --json` gives it) or
    /// null, "error" or null}`.
    pub fn to_json(&self) -> Json {
        json!({
            "task": &*self.task,
            "verdict": self.verdict.as_str(),
            "reason": self.reason.as_ref().map(Reason::to_json),
            "reason_text": self.reason.as_ref().map(ToString::to_string),
            "error": self.error,
        })
    }
}

impl fmt::Display for Explanation {
    /// `` `task`: would run: input `x` changed (…) ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Run => "would run",
            Verdict::Skip => "would be skipped",
            Verdict::MayRun => "may run",
            Verdict::Fail => "would fail",
        };
        write!(f, "`{}`: {verdict}", self.task)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        if let Some(error) = &self.error {
            write!(f, ": {error}")?;
        }
        Ok(())
    }
}

/// Says, for each task a submission with `options` would cover, whether it
/// would run now and why, recording nothing (see
/// [`Scenario::explain`](crate::Scenario::explain)).
pub(crate) fn explain(
    scenario: &ScenarioState,
    options: &SubmitOptions,
) -> Result<Vec<Explanation>> {
    let graph = scenario.graph().clone();
    let planned = plan(&graph, &options.target)?;
    let lock = scenario.runtime().scenario_lock(scenario.id());
    let _guard = lock.lock();
    scenario.refresh_from_store()?;
    let files = external::nodes_naming_files(scenario, &graph, &planned);
    let overrides = external::refresh(scenario, &graph, &files, false)?;
    let decider = Decider {
        scenario,
        graph: &graph,
        force: options.force,
        submission: None,
        overrides: &overrides,
    };
    let mut verdicts: Vec<Option<Verdict>> = vec![None; graph.tasks().len()];
    let mut out = Vec::with_capacity(planned.len());
    for &task in &planned {
        let name = graph.task(task).def().name_arc().clone();
        let running_upstream = graph
            .upstream(task)
            .iter()
            .find(|up| matches!(verdicts[up.index()], Some(Verdict::Run | Verdict::MayRun)))
            .map(|&up| graph.task(up).def().name_arc().clone());
        let never_written = graph
            .task_outputs(task)
            .iter()
            .all(|&node| matches!(scenario.current(node), Ok(None)));
        let (verdict, reason, error) = match (decider.decide(task), running_upstream) {
            (Decision::Run(work), _) => (Verdict::Run, Some(work.reason), None),
            (Decision::Skip { reason, .. }, None) => (Verdict::Skip, Some(reason), None),
            (Decision::Skip { .. }, Some(up)) => (
                Verdict::MayRun,
                Some(Reason::UpstreamRuns { task: up }),
                None,
            ),
            (Decision::Fail { message, .. }, None) => (Verdict::Fail, None, Some(message)),
            (Decision::Fail { .. }, Some(_)) if never_written => {
                (Verdict::Run, Some(Reason::FirstRun), None)
            }
            (Decision::Fail { .. }, Some(up)) => (
                Verdict::MayRun,
                Some(Reason::UpstreamRuns { task: up }),
                None,
            ),
        };
        verdicts[task.index()] = Some(verdict);
        out.push(Explanation {
            task: name,
            verdict,
            reason,
            error,
        });
    }
    Ok(out)
}
