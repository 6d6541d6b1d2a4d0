//! What the scenario page shows, computed from the store and the live board:
//! each data node's state (and why, see `node_states`), each task's last job
//! (or its live status), the sequences, the newest submissions.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::error::PageError;
use super::live::LiveState;
use super::models::{JobModel, ScenarioInfo, SubmissionSummary};
pub(super) use super::node_states::NodeState;
use super::node_states::node_states;
use crate::cache::CachedVersion;
use crate::compare::RENDER_LIMIT;
use crate::graph::{Graph, NodeId, Scope};
use crate::history::rfc3339;
use crate::job::{Job, Submission};
use crate::scenario::Scenario;
use crate::store::SubmissionId;

/// Submissions per page of the scenario's history.
pub(super) const HISTORY_PAGE: usize = 20;

/// How many submissions are searched for a task's last job.
const LAST_JOB_SEARCH: usize = 1000;

/// One data node.
#[derive(Debug, Clone, Serialize)]
pub(super) struct NodeModel {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) value_type: String,
    pub(super) scope: &'static str,
    /// A parameter the page lets people edit: no task writes it and its
    /// type reads values from text.
    pub(super) editable: bool,
    /// A valid text of the node's type, for the form.
    pub(super) example: Option<String>,
    pub(super) producer: Option<String>,
    pub(super) state: NodeState,
    pub(super) reason: Option<String>,
    pub(super) version: Option<u64>,
    pub(super) fingerprint: Option<String>,
    pub(super) written_at: Option<String>,
    pub(super) size: Option<u64>,
    /// The value as text, when it is small and its type renders.
    pub(super) value: Option<String>,
}

/// One task.
#[derive(Debug, Clone, Serialize)]
pub(super) struct TaskModel {
    pub(super) name: String,
    pub(super) skippable: bool,
    pub(super) inputs: Vec<String>,
    pub(super) outputs: Vec<String>,
    /// The live status while a submission of this process covers it, else
    /// the last job's, else `never_run`.
    pub(super) status: &'static str,
    pub(super) live: bool,
    pub(super) last_job: Option<JobModel>,
}

/// One sequence.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SequenceModel {
    pub(super) name: String,
    pub(super) tasks: Vec<String>,
}

/// What the web's own submissions of this scenario are doing.
#[derive(Debug, Clone, Serialize)]
pub(super) struct LiveModel {
    /// A submission of this process is running or waiting.
    pub(super) busy: bool,
    /// The running (or last) submission of this process.
    pub(super) submission: Option<u64>,
    pub(super) running: bool,
    /// Web submissions waiting to start, oldest first.
    pub(super) queued: Vec<QueuedModel>,
    /// The last web submission's error, if it could not run.
    pub(super) error: Option<String>,
}

/// A web submission waiting to start.
#[derive(Debug, Clone, Serialize)]
pub(super) struct QueuedModel {
    pub(super) target: String,
    /// Who holds the scenario's lock, while another process submits it.
    pub(super) waiting_for: Option<String>,
}

/// The scenario page.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ScenarioModel {
    pub(super) scenario: ScenarioInfo,
    pub(super) nodes: Vec<NodeModel>,
    pub(super) tasks: Vec<TaskModel>,
    pub(super) sequences: Vec<SequenceModel>,
    pub(super) live: LiveModel,
    /// The newest submissions (older than `?before=` when given), newest first.
    pub(super) submissions: Vec<SubmissionSummary>,
    /// The `?before=` this page was asked with (absent: the newest).
    pub(super) before: Option<u64>,
    /// The id to pass as `?before=` for the next page, if there is one.
    pub(super) older: Option<u64>,
}

impl ScenarioModel {
    /// Builds the page's model; `before` pages the submission list.
    pub(super) fn build(
        scenario: &Scenario,
        live: &LiveState,
        before: Option<u64>,
    ) -> Result<Self, PageError> {
        let graph = scenario.graph();
        let store = &scenario.state().runtime().store;
        let mut page =
            store.submissions_before(scenario.id(), before.map(SubmissionId), HISTORY_PAGE + 1)?;
        let older = (page.len() > HISTORY_PAGE).then(|| {
            page.truncate(HISTORY_PAGE);
            page.last().map_or(0, |s| s.id.0)
        });
        let last_jobs = last_jobs(scenario, if before.is_none() { &page } else { &[] })?;
        let tasks = task_models(graph, &last_jobs, live);
        let nodes = node_models(scenario, &last_jobs)?;
        Ok(Self {
            scenario: ScenarioInfo::of(scenario.meta()),
            nodes,
            tasks,
            sequences: graph
                .sequences()
                .iter()
                .map(|s| SequenceModel {
                    name: s.name().to_owned(),
                    tasks: s
                        .tasks()
                        .iter()
                        .map(|&t| graph.task(t).name().to_owned())
                        .collect(),
                })
                .collect(),
            live: live_model(live),
            submissions: page.iter().map(SubmissionSummary::of).collect(),
            before,
            older,
        })
    }
}

/// What the page says of the web's own submissions, from the board.
pub(super) fn live_model(live: &LiveState) -> LiveModel {
    let submission = live.submission.as_ref();
    LiveModel {
        busy: live.busy(),
        submission: submission.map(|s| s.id.0),
        running: submission.is_some_and(|s| !s.finished),
        queued: live
            .tickets
            .iter()
            .map(|t| QueuedModel {
                target: t.target.clone(),
                waiting_for: t.waiting_for.clone(),
            })
            .collect(),
        error: live.outcome.as_ref().and_then(|o| o.error.clone()),
    }
}

/// Each task's newest job with its submission, searching the newest
/// submissions (starting with `first_page` when it is the newest page).
fn last_jobs(
    scenario: &Scenario,
    first_page: &[Submission],
) -> Result<HashMap<Arc<str>, (Job, Submission)>, PageError> {
    let graph = scenario.graph();
    let store = &scenario.state().runtime().store;
    let mut found: HashMap<Arc<str>, (Job, Submission)> = HashMap::new();
    let mut searched = 0;
    let mut page = if first_page.is_empty() {
        store.submissions_before(scenario.id(), None, HISTORY_PAGE)?
    } else {
        first_page.to_vec()
    };
    loop {
        for submission in &page {
            for job in &submission.jobs {
                if !found.contains_key(&job.task) && graph.task_id(&job.task).is_some() {
                    found.insert(job.task.clone(), (job.clone(), submission.clone()));
                }
            }
        }
        searched += page.len();
        let Some(oldest) = page.last() else { break };
        if found.len() == graph.tasks().len() || searched >= LAST_JOB_SEARCH {
            break;
        }
        page = store.submissions_before(scenario.id(), Some(oldest.id), 100)?;
    }
    Ok(found)
}

fn task_models(
    graph: &Graph,
    last_jobs: &HashMap<Arc<str>, (Job, Submission)>,
    live: &LiveState,
) -> Vec<TaskModel> {
    let live_submission = live.submission.as_ref().filter(|s| !s.finished);
    graph
        .tasks()
        .iter()
        .map(|task| {
            let last_job = last_jobs
                .get(task.name())
                .map(|(job, submission)| JobModel::of(job, submission));
            let live_status = live_submission.and_then(|s| s.status(task.name()));
            let status = match (live_status, &last_job) {
                (Some(status), _) => status.as_str(),
                (None, Some(job)) => job.status,
                (None, None) => "never_run",
            };
            TaskModel {
                name: task.name().to_owned(),
                skippable: task.is_skippable(),
                inputs: task.input_names().iter().map(|n| n.to_string()).collect(),
                outputs: task.output_names().iter().map(|n| n.to_string()).collect(),
                status,
                live: live_status.is_some(),
                last_job,
            }
        })
        .collect()
}

fn node_models(
    scenario: &Scenario,
    last_jobs: &HashMap<Arc<str>, (Job, Submission)>,
) -> Result<Vec<NodeModel>, PageError> {
    let graph = scenario.graph();
    let store = &scenario.state().runtime().store;
    let count = graph.nodes().len();
    let mut current: Vec<Option<Arc<CachedVersion>>> = Vec::with_capacity(count);
    for index in 0..count {
        current.push(scenario.state().current_from_store(NodeId(index as u32))?);
    }
    let states = node_states(scenario, &current, last_jobs)?;
    let mut nodes = Vec::with_capacity(count);
    for (index, spec) in graph.nodes().iter().enumerate() {
        let id = NodeId(index as u32);
        let version = current[index].as_ref();
        let value_type = spec.value_type();
        let size = match version {
            Some(v) => store.value_size(&v.meta.fingerprint, &value_type)?,
            None => None,
        };
        let value = match (version, size) {
            (Some(v), Some(size)) if size < RENDER_LIMIT => scenario
                .state()
                .value_of(id, v)
                .ok()
                .and_then(|value| value_type.render(&**value)),
            _ => None,
        };
        let (state, reason) = states[index].clone();
        nodes.push(NodeModel {
            name: spec.name().to_owned(),
            value_type: value_type.name(),
            scope: match spec.scope() {
                Scope::Scenario => "scenario",
                Scope::Global => "global",
            },
            editable: graph.producer(id).is_none() && value_type.has_text_form(),
            example: value_type.text_example(),
            producer: graph.producer(id).map(|t| graph.task(t).name().to_owned()),
            state,
            reason,
            version: version.map(|v| v.meta.version),
            fingerprint: version.map(|v| v.meta.fingerprint.to_hex()),
            written_at: version.map(|v| rfc3339(v.meta.written_at)),
            size,
            value,
        });
    }
    Ok(nodes)
}
