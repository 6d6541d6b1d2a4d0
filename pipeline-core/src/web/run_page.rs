//! The run page: one submission's jobs as a timeline (Gantt), with each job's
//! status, start, duration, whether it reused another scenario's outputs,
//! and its error. A submission still running shows its jobs' live statuses
//! and refreshes itself until it ends.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Serialize;

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, scenario_id, submission_id};
use super::html::{page, seconds, status_badge, when};
use super::models::{JobModel, ScenarioInfo, SubmissionStatus, plain_target};
use super::svg::{self, Bar};
use crate::history::rfc3339;
use crate::job::Submission;
use crate::store::SubmissionId;

/// One job on the timeline.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RunJob {
    #[serde(flatten)]
    job: JobModel,
    /// Seconds from the submission's start to the job's start.
    start_s: Option<f64>,
}

/// A submission with its jobs.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RunModel {
    id: u64,
    target: String,
    status: SubmissionStatus,
    started_at: String,
    duration_s: f64,
    jobs: Vec<RunJob>,
}

impl RunModel {
    pub(super) fn of(submission: &Submission) -> Self {
        let origin = submission.started_at;
        Self {
            id: submission.id.0,
            target: plain_target(submission),
            status: SubmissionStatus::of(submission),
            started_at: rfc3339(submission.started_at),
            duration_s: submission.duration.as_secs_f64(),
            jobs: submission
                .jobs
                .iter()
                .map(|job| RunJob {
                    job: JobModel::of(job, submission),
                    start_s: job.started_at.map(|t| {
                        let at = t.duration_since(UNIX_EPOCH).unwrap_or_default();
                        let from = origin.duration_since(UNIX_EPOCH).unwrap_or_default();
                        at.as_secs_f64() - from.as_secs_f64()
                    }),
                })
                .collect(),
        }
    }
}

/// The page: the scenario, the submission, and live statuses while it runs.
#[derive(Debug, Serialize)]
struct RunPage {
    scenario: ScenarioInfo,
    #[serde(flatten)]
    run: RunModel,
    /// Live statuses of a submission this process is running (its jobs are
    /// recorded when it ends).
    live: Vec<LiveJob>,
}

#[derive(Debug, Serialize)]
struct LiveJob {
    task: String,
    status: &'static str,
}

fn build(app: &App, id: u64, submission: u64) -> Result<RunPage, PageError> {
    let meta = app.scenario_meta(id)?;
    let found = app
        .runtime
        .store()
        .submission(meta.id, SubmissionId(submission))?
        .ok_or_else(|| {
            PageError::NotFound(format!(
                "scenario {} has no submission #{submission}",
                meta.id
            ))
        })?;
    let board = app.board.state(meta.id);
    let live = board
        .submission
        .filter(|s| s.id.0 == submission && !s.finished)
        .map(|s| {
            s.jobs
                .iter()
                .map(|(task, status)| LiveJob {
                    task: task.to_string(),
                    status: status.as_str(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RunPage {
        scenario: ScenarioInfo::of(&meta),
        run: RunModel::of(&found),
        live,
    })
}

/// `GET /scenarios/{id}/runs/{submission}`.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    Path((id, submission)): Path<(String, String)>,
) -> Result<Markup, HtmlError> {
    let (id, submission) = (scenario_id(&id)?, submission_id(&submission)?);
    let model = app.blocking(move |app| build(app, id, submission)).await?;
    Ok(render(&model, app.token()))
}

/// `GET /api/scenarios/{id}/runs/{submission}`.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    Path((id, submission)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, submission) = (scenario_id(&id)?, submission_id(&submission)?);
    let model = app.blocking(move |app| build(app, id, submission)).await?;
    Ok(Json(model).into_response())
}

fn render(model: &RunPage, token: &str) -> Markup {
    let run = &model.run;
    let scenario = &model.scenario;
    let running = run.status == SubmissionStatus::Running;
    let self_url = format!("/scenarios/{}/runs/{}", scenario.id, run.id);
    let bars: Vec<Bar<'_>> = run
        .jobs
        .iter()
        .map(|j| Bar {
            task: &j.job.task,
            status: j.job.status,
            reason: j.job.reason_text.as_deref(),
            start_s: j.start_s.unwrap_or(0.0).max(0.0),
            duration_s: j.job.duration_s.unwrap_or(0.0),
        })
        .collect();
    let body = html! {
        div.title {
            h1 { "Submission #" (run.id) }
            span.muted {
                a href={ "/scenarios/" (scenario.id) } { (scenario.name) }
                " · " (run.target) " · started " (when(&run.started_at))
                @if !running { " · took " (seconds(run.duration_s)) }
            }
            " " (status_badge(run.status.as_str()))
        }
        div #run hx-get=[running.then_some(&self_url)] hx-trigger=[running.then_some("every 1s")]
            hx-select="#run" hx-swap="outerHTML" {
            @if running {
                section.panel {
                    h2 { "Running" }
                    @if model.live.is_empty() {
                        p.muted { "Another process runs this submission; its jobs show when it ends." }
                    } @else {
                        table.list.jobs {
                            thead { tr { th { "Task" } th { "Status" } } }
                            tbody { @for job in &model.live {
                                tr data-task=(job.task) data-status=(job.status) { td { (job.task) } td { (status_badge(job.status)) } }
                            } }
                        }
                    }
                }
            } @else if run.jobs.is_empty() {
                p.muted { "This submission recorded no job." }
            } @else {
                section.panel {
                    h2 { "Timeline" }
                    div.scroll { (svg::gantt(&bars, run.duration_s)) }
                }
                section.panel {
                    h2 { "Jobs" }
                    table.list.jobs {
                        thead { tr { th { "Task" } th { "Status" } th { "Why" } th { "Started" } th { "Took" } } }
                        tbody {
                            @for j in &run.jobs {
                                tr data-task=(j.job.task) data-status=(j.job.status) {
                                    td { (j.job.task) }
                                    td { (status_badge(j.job.status)) }
                                    td.reason {
                                        @if let Some(why) = &j.job.reason_text { (why) }
                                        @if let Some(e) = &j.job.error { div.error-text { (e) } }
                                    }
                                    td { @if let Some(s) = j.start_s { "+" (seconds(s.max(0.0))) } }
                                    td.num { @if let Some(d) = j.job.duration_s { (seconds(d)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&format!("submission #{}", run.id), Some(token), body)
}
