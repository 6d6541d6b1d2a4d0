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
//! checked too. A task that is not skippable is never reported (it has no
//! "up to date": it runs whenever it is submitted), nor is one that could
//! not run at all (an input without a value). Past a task that would run,
//! every uncovered task downstream of it counts as out of date too, as
//! `explain`'s "may run" does.

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

/// An upstream task a partial submission did not cover that would run now,
/// and the submitted tasks that read its outputs (directly, or through
/// other uncovered tasks) as they were.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleUpstream {
    /// The upstream task that would run.
    pub task: Arc<str>,
    /// Why it would run.
    pub reason: Reason,
    /// The submitted tasks that read its outputs, or outputs made from
    /// them, in topological order.
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

impl fmt::Display for StaleUpstream {
    /// `` task `score` is out of date (input `path` changed …): `summary`
    /// read its outputs as they were; submit the whole scenario … ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let readers: Vec<String> = self.read_by.iter().map(|t| format!("`{t}`")).collect();
        write!(
            f,
            "task `{}` is out of date ({}): {} read its outputs as they were; \
             submit the whole scenario to bring them up to date",
            self.task,
            self.reason,
            readers.join(", ")
        )
    }
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
    // For each task: the index in `stale` of the out-of-date task behind it.
    let mut behind: Vec<Option<usize>> = vec![None; count];
    let mut stale: Vec<StaleUpstream> = Vec::new();
    for &task in &order {
        let inherited = graph
            .upstream(task)
            .iter()
            .find_map(|up| behind[up.index()]);
        behind[task.index()] = match (decider.decide(task), inherited) {
            (_, Some(root)) => Some(root),
            (Decision::Run(work), None) if work.reason != Reason::NotSkippable => {
                stale.push(StaleUpstream {
                    task: graph.task(task).def().name_arc().clone(),
                    reason: work.reason,
                    read_by: Vec::new(),
                });
                Some(stale.len() - 1)
            }
            _ => None,
        };
    }
    for &task in graph.topo_order() {
        if !in_plan[task.index()] {
            continue;
        }
        let name = graph.task(task).def().name_arc();
        let mut roots: Vec<usize> = graph
            .upstream(task)
            .iter()
            .filter_map(|up| behind[up.index()])
            .collect();
        roots.dedup();
        for root in roots {
            if !stale[root].read_by.contains(name) {
                stale[root].read_by.push(name.clone());
            }
        }
    }
    Ok(stale)
}
