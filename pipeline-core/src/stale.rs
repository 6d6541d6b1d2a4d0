//! Out-of-date inputs of a partial submission: the tasks a submission of
//! one task or sequence did not cover whose outputs its tasks read, and
//! that would run now (their inputs, code or outputs changed since they
//! last ran).
//!
//! A submission runs only the tasks it covers, on the values their inputs
//! hold, as Taipy does. When an upstream task it does not cover is out of
//! date, those values are not what a whole submission would give: the
//! submission still runs, and says so in
//! [`Submission::stale_upstream`](crate::Submission::stale_upstream), so
//! that a caller (the CLI prints a warning) can tell the user.
//!
//! The check decides the uncovered upstream tasks as
//! [`Scenario::explain`](crate::Scenario::explain) does, after the
//! submission's own jobs, recording nothing; files those tasks read are
//! checked too. Every uncovered task that would run is listed, in
//! topological order, and so is every uncovered task downstream of one
//! (it may run, as `explain`'s "may run" says), each with the submitted
//! tasks that read its outputs directly. A task that is not skippable is
//! listed only when it never ran or is behind one listed (otherwise it has
//! no "up to date": it runs whenever it is submitted); one that could not
//! run at all (an input without a value) only when it is behind one listed.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::decide::{Decider, Decision};
use crate::error::Result;
use crate::executor::plan;
use crate::external;
use crate::graph::{Graph, TaskId};
use crate::reason::Reason;
use crate::scenario_state::ScenarioState;
use crate::submit_options::{SubmitOptions, Target};

/// An upstream task a partial submission did not cover that would run now
/// (or may: one of its own upstream tasks would), and the submitted tasks
/// that read its outputs as they were.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleUpstream {
    /// The upstream task that would run.
    pub task: Arc<str>,
    /// Why it would run: its own reason ([`Reason::FirstRun`] for a task
    /// that is not skippable and never ran), or
    /// [`Reason::UpstreamRuns`] naming an upstream task listed before it.
    pub reason: Reason,
    /// The submitted tasks that read its outputs directly, in topological
    /// order (empty for a task further up).
    pub read_by: Vec<Arc<str>>,
}

impl StaleUpstream {
    /// As JSON: `{"task", "reason" (see [`Reason`]), "reason_text",
    /// "read_by": [task, …]}`.
    pub fn to_json(&self) -> Json {
        json!({
            "task": &*self.task,
            "reason": self.reason.to_json(),
            "reason_text": self.reason.to_string(),
            "read_by": self.read_by.iter().map(|t| &**t).collect::<Vec<_>>(),
        })
    }
}

impl StaleUpstream {
    /// The sentence of [`Display`](fmt::Display), with `readers` saying
    /// what the reading tasks did (`read its outputs as they were`).
    pub(crate) fn sentence(&self, readers: &str) -> String {
        let mut out = match &self.reason {
            Reason::UpstreamRuns { task } => format!(
                "task `{}` may be out of date (upstream task `{task}` is)",
                self.task
            ),
            reason => format!("task `{}` is out of date ({reason})", self.task),
        };
        if !self.read_by.is_empty() {
            let tasks: Vec<String> = self.read_by.iter().map(|t| format!("`{t}`")).collect();
            out.push_str(&format!(": {} {readers}", tasks.join(", ")));
        }
        out
    }
}

impl fmt::Display for StaleUpstream {
    /// `` task `score` is out of date (input `path` changed …): `summary`
    /// read its outputs as they were ``, or `` task `segment` may be out of
    /// date (upstream task `score` is) ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence("read its outputs as they were"))
    }
}

/// The one warning of a submission that left out-of-date upstream tasks
/// uncovered: a line that says what to do, then one line per task.
pub(crate) fn warning(stale: &[StaleUpstream]) -> String {
    let mut out = String::from(
        "this submission's tasks read outputs of upstream tasks it did not cover that are \
         out of date; submit the whole scenario to bring them up to date:",
    );
    for upstream in stale {
        out.push_str(&format!("\n  {upstream}"));
    }
    out
}

/// [`stale_upstream`] for a submission with `options` that has not run,
/// under the scenario's locks, after the cache is brought up to date
/// ([`Scenario::stale_upstream`](crate::Scenario::stale_upstream)).
pub(crate) fn stale_upstream_now(
    scenario: &ScenarioState,
    options: &SubmitOptions,
) -> Result<Vec<StaleUpstream>> {
    if options.target == Target::Scenario {
        return Ok(Vec::new());
    }
    let graph = scenario.graph().clone();
    let planned = plan(&graph, &options.target)?;
    let lock = scenario.runtime().scenario_lock(scenario.id());
    let _guard = lock.lock();
    scenario.refresh_from_store()?;
    stale_upstream(scenario, &graph, &planned)
}

/// The out-of-date upstream tasks of the `planned` tasks (see the module
/// docs); empty when the plan covers every upstream task, as a whole
/// submission does.
pub(crate) fn stale_upstream(
    scenario: &ScenarioState,
    graph: &Graph,
    planned: &[TaskId],
) -> Result<Vec<StaleUpstream>> {
    let count = graph.tasks().len();
    let mut in_plan = vec![false; count];
    for &task in planned {
        in_plan[task.index()] = true;
    }
    let mut uncovered = vec![false; count];
    let mut pending: Vec<TaskId> = planned.to_vec();
    while let Some(task) = pending.pop() {
        for &up in graph.upstream(task) {
            if !in_plan[up.index()] && !uncovered[up.index()] {
                uncovered[up.index()] = true;
                pending.push(up);
            }
        }
    }
    if !uncovered.iter().any(|&u| u) {
        return Ok(Vec::new());
    }
    let order: Vec<TaskId> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|t| uncovered[t.index()])
        .collect();
    let files = external::nodes_naming_files(scenario, graph, &order);
    let overrides = external::refresh(scenario, graph, &files, false)?;
    let decider = Decider {
        scenario,
        graph,
        force: false,
        submission: None,
        overrides: &overrides,
    };
    let mut position = vec![0; count];
    for (at, task) in graph.topo_order().iter().enumerate() {
        position[task.index()] = at;
    }
    let mut out_of_date = vec![false; count];
    let mut stale: Vec<StaleUpstream> = Vec::new();
    for &task in &order {
        let upstream_runs = graph
            .upstream(task)
            .iter()
            .find(|up| out_of_date[up.index()])
            .map(|&up| graph.task(up).def().name_arc().clone());
        let never_ran = || {
            graph
                .task_outputs(task)
                .iter()
                .all(|&node| matches!(scenario.current(node), Ok(None)))
        };
        let reason = match (decider.decide(task), upstream_runs) {
            (Decision::Run(work), _) if work.reason != Reason::NotSkippable => Some(work.reason),
            (Decision::Run(_), None) if never_ran() => Some(Reason::FirstRun),
            (_, Some(up)) => Some(Reason::UpstreamRuns { task: up }),
            _ => None,
        };
        let Some(reason) = reason else { continue };
        out_of_date[task.index()] = true;
        let mut readers: Vec<TaskId> = graph
            .downstream(task)
            .iter()
            .copied()
            .filter(|down| in_plan[down.index()])
            .collect();
        readers.sort_by_key(|down| position[down.index()]);
        let read_by = readers
            .iter()
            .map(|&down| graph.task(down).def().name_arc().clone())
            .collect();
        stale.push(StaleUpstream {
            task: graph.task(task).def().name_arc().clone(),
            reason,
            read_by,
        });
    }
    Ok(stale)
}
