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

pub(crate) mod report;

use crate::decide::{Decider, Decision};
use crate::error::Result;
use crate::external;
use crate::graph::{Graph, TaskId};
use crate::reason::Reason;
use crate::scenario_state::ScenarioState;

pub use report::StaleUpstream;

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
