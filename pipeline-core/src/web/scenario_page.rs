//! The scenario page: the graph coloured by state, the parameter form
//! (validated with each node's type, errors beside the fields), the submit
//! controls (scenario, sequence or task, optionally forced), the tasks' last
//! jobs, the data nodes and the newest submissions. While a submission runs
//! the graph, the task table and the status line are replaced through
//! server-sent events (see `stream`), without reloading the page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, query as query_fields, scenario_id};
use super::html::{
    badge, breakable, field_error, form_errors, page, seconds, size, status_badge, token_field,
    when,
};
use super::models::SubmissionStatus;
use super::runner::{self, Plan};
use super::scenario_model::{LiveModel, ScenarioModel};
use super::svg;
use crate::scenario::Scenario;

/// The prefix of parameter fields in the form (`set.metric`), which keeps
/// node names apart from the form's own fields.
const SET_PREFIX: &str = "set.";

/// `?before=` pages the submission list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    before: Option<u64>,
}

/// `GET /scenarios/{id}`.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Markup, HtmlError> {
    let id = scenario_id(&id)?;
    let before = query_fields(query)?.before;
    let (model, texts) = app
        .blocking(move |app| {
            let scenario = app.scenario(id)?;
            let model = ScenarioModel::build(&scenario, &app.board.state(scenario.id()), before)?;
            Ok((model, parameter_texts(&scenario)?))
        })
        .await?;
    Ok(render(&model, &texts, app.token(), None, None))
}

/// `GET /api/scenarios/{id}`.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = scenario_id(&id)?;
    let before = query_fields(query)?.before;
    let model = app
        .blocking(move |app| {
            let scenario = app.scenario(id)?;
            ScenarioModel::build(&scenario, &app.board.state(scenario.id()), before)
        })
        .await?;
    Ok(Json(model).into_response())
}

/// The current text of every parameter, as the form shows it.
fn parameter_texts(scenario: &Scenario) -> Result<BTreeMap<String, String>, PageError> {
    let graph = scenario.graph();
    let mut texts = BTreeMap::new();
    for (index, spec) in graph.nodes().iter().enumerate() {
        let node = crate::graph::NodeId(index as u32);
        if graph.producer(node).is_none() && spec.value_type().has_text_form() {
            let text = runner::current_text(scenario, node)?.unwrap_or_default();
            texts.insert(spec.name().to_owned(), text);
        }
    }
    Ok(texts)
}

/// What the submit and save forms send, read from the form's pairs.
struct Request {
    values: Vec<(String, String)>,
    target: String,
    force: bool,
}

impl Request {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut request = Self {
            values: Vec::new(),
            target: String::new(),
            force: false,
        };
        for (key, value) in pairs {
            if let Some(node) = key.strip_prefix(SET_PREFIX) {
                request.values.push((node.to_owned(), value));
            } else if key == "target" {
                request.target = value;
            } else if key == "force" {
                request.force = matches!(value.as_str(), "on" | "true" | "1");
            }
        }
        request
    }
}

/// What `POST /api/scenarios/{id}/submit` and `/values` take.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    /// Node name → value as text (parsed with the node's type).
    #[serde(default)]
    set: BTreeMap<String, String>,
    /// `scenario` (default), `sequence:NAME` or `task:NAME`.
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    force: bool,
    /// Answer when the submission has ended, with it, instead of at once.
    #[serde(default)]
    wait: bool,
}

/// What a form post did.
struct Done {
    written: Vec<String>,
    submitted: Option<String>,
}

/// Parses and writes the values, then (when `submit`) starts the
/// submission. A scenario this process is submitting takes no new values
/// (they would change inputs under the running jobs).
fn apply(
    app: &App,
    id: u64,
    request: &Request,
    submit: bool,
) -> Result<(Done, Option<PendingRun>), PageError> {
    let scenario = app.scenario(id)?;
    let plan = if submit {
        Some(Plan::parse(scenario.graph(), &request.target)?)
    } else {
        None
    };
    let parsed = runner::parse_values(&scenario, &request.values)?;
    if !parsed.is_empty() && app.board.state(scenario.id()).busy() {
        return Err(PageError::Conflict(format!(
            "scenario {} is being submitted: set its values when the submission has ended",
            scenario.id()
        )));
    }
    let written = runner::write_values(&scenario, parsed)?;
    let pending = plan.map(|plan| {
        let label = plan.label.clone();
        let receiver = runner::start(&app.board, scenario, plan, request.force);
        PendingRun { label, receiver }
    });
    Ok((
        Done {
            written,
            submitted: pending.as_ref().map(|p| p.label.clone()),
        },
        pending,
    ))
}

/// A submission started by a request.
struct PendingRun {
    label: String,
    receiver: tokio::sync::oneshot::Receiver<Result<crate::job::Submission, String>>,
}

/// `POST /scenarios/{id}/submit` and `/values` (forms). With htmx the answer
/// is the form again (with a notice, or with errors beside the fields);
/// without, a redirect to the page or the page with errors.
async fn form_post(
    app: Arc<App>,
    id: String,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
    submit: bool,
) -> Result<Response, HtmlError> {
    let id = scenario_id(&id)?;
    let pairs = form
        .map(|axum::Form(f)| f)
        .map_err(|e| PageError::BadRequest(format!("bad form: {}", e.body_text())))?;
    let request = Request::from_pairs(pairs);
    let htmx = headers.contains_key("hx-request");
    let typed: BTreeMap<String, String> = request.values.iter().cloned().collect();
    let target = request.target.clone();
    let force = request.force;
    let outcome = app
        .blocking(move |app| apply(app, id, &request, submit))
        .await;
    let (notice, error, status) = match outcome {
        Ok((done, _pending)) => {
            if !htmx {
                return Ok(Redirect::to(&format!("/scenarios/{id}")).into_response());
            }
            (Some(notice(&done)), None, StatusCode::OK)
        }
        Err(error @ (PageError::Unprocessable { .. } | PageError::Conflict(_))) => {
            let status = error.status();
            (None, Some(error), status)
        }
        Err(other) => return Err(other.into()),
    };
    let (model, mut texts) = app
        .blocking(move |app| {
            let scenario = app.scenario(id)?;
            let model = ScenarioModel::build(&scenario, &app.board.state(scenario.id()), None)?;
            Ok((model, parameter_texts(&scenario)?))
        })
        .await?;
    if error.is_some() {
        // Show what was typed, beside its error.
        texts.extend(typed);
    }
    let selection = Selection { target, force };
    let markup = if htmx {
        controls(
            &model,
            &texts,
            app.token(),
            notice.as_deref(),
            error.as_ref(),
            &selection,
        )
    } else {
        render(
            &model,
            &texts,
            app.token(),
            error.as_ref(),
            Some(&selection),
        )
    };
    Ok((status, markup).into_response())
}

fn notice(done: &Done) -> String {
    let written = if done.written.is_empty() {
        String::new()
    } else {
        format!("wrote {}; ", done.written.join(", "))
    };
    match &done.submitted {
        Some(label) => format!("{written}submitted the {label}: statuses update below"),
        None if done.written.is_empty() => "no value changed".to_owned(),
        None => written.trim_end_matches("; ").to_owned(),
    }
}

/// `POST /scenarios/{id}/submit`.
pub(super) async fn submit_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, HtmlError> {
    form_post(app, id, headers, form, true).await
}

/// `POST /scenarios/{id}/values`.
pub(super) async fn values_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, HtmlError> {
    form_post(app, id, headers, form, false).await
}

async fn json_post(
    app: Arc<App>,
    id: String,
    body: axum::body::Bytes,
    submit: bool,
) -> Result<Response, ApiError> {
    let id = scenario_id(&id)?;
    let request: JsonRequest = if body.is_empty() {
        JsonRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            PageError::BadRequest(format!(
                "expected JSON {{\"set\": {{node: text}}, \"target\": \"scenario\" | \
                 \"sequence:NAME\" | \"task:NAME\", \"force\": bool, \"wait\": bool}}: {e}"
            ))
        })?
    };
    let wait = request.wait;
    let form = Request {
        values: request.set.into_iter().collect(),
        target: request.target.unwrap_or_default(),
        force: request.force,
    };
    let (done, pending) = app
        .blocking(move |app| apply(app, id, &form, submit))
        .await?;
    let Some(pending) = pending else {
        return Ok(Json(json!({ "scenario": id, "written": done.written })).into_response());
    };
    if !wait {
        let body = json!({
            "scenario": id,
            "written": done.written,
            "submitted": pending.label,
            "events": format!("/api/scenarios/{id}/events"),
        });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    match pending.receiver.await {
        Ok(Ok(submission)) => Ok(Json(json!({
            "scenario": id,
            "written": done.written,
            "submitted": pending.label,
            "submission": super::run_page::RunModel::of(&submission),
        }))
        .into_response()),
        Ok(Err(message)) => Err(PageError::Conflict(message).into()),
        Err(_) => {
            Err(PageError::Internal("the submission thread ended without an answer".into()).into())
        }
    }
}

/// `POST /api/scenarios/{id}/submit`.
pub(super) async fn submit_json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    json_post(app, id, body, true).await
}

/// `POST /api/scenarios/{id}/values`.
pub(super) async fn values_json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    json_post(app, id, body, false).await
}

/// The target and force chosen in the form, kept when it is shown again.
#[derive(Debug, Default)]
pub(super) struct Selection {
    target: String,
    force: bool,
}

/// The whole page.
fn render(
    model: &ScenarioModel,
    texts: &BTreeMap<String, String>,
    token: &str,
    error: Option<&PageError>,
    selection: Option<&Selection>,
) -> Markup {
    let id = model.scenario.id;
    let default = Selection::default();
    let selection = selection.unwrap_or(&default);
    // An older page of submissions stays as it is.
    let paged = model.before.is_some();
    let body = html! {
        div.title {
            h1 { (model.scenario.name) }
            span.muted { "#" (id) " · " (model.scenario.scenario_type) " · created " (when(&model.scenario.created_at)) }
            @for tag in &model.scenario.tags { " " span.tag { (tag) } }
        }
        div #live hx-ext="sse" sse-connect={ "/scenarios/" (id) "/events" } {
            div #status sse-swap="status" { (status_line(id, &model.live, false)) }
            div.scenario-grid {
                section.panel.graph {
                    h2 { "Graph" }
                    div #dag sse-swap="dag" { (svg::dag(model)) }
                    (legend())
                }
                div.side {
                    section.panel {
                        h2 { "Tasks" }
                        div #jobs sse-swap="jobs" { (jobs_table(model)) }
                    }
                    section.panel {
                        h2 { "Parameters and submission" }
                        (controls(model, texts, token, None, error, selection))
                    }
                }
            }
            section.panel {
                h2 { "Data nodes" }
                div #nodes sse-swap="nodes" { (nodes_table(model)) }
            }
            section.panel {
                h2 { "Submissions" }
                div #submissions sse-swap=[(!paged).then_some("submissions")] { (submissions_list(model)) }
            }
        }
    };
    page(&model.scenario.name, Some(token), body)
}

/// What the live board says, in one line (replaced by events, which mark it
/// `data-connected`: the page then follows the submissions live).
pub(super) fn status_line(scenario: u64, live: &LiveModel, connected: bool) -> Markup {
    // Never empty: a browser ignores an event without data.
    html! { div.lines data-connected=[connected.then_some("true")] { (status_lines(scenario, live)) } }
}

fn status_lines(scenario: u64, live: &LiveModel) -> Markup {
    html! {
        @if let Some(error) = &live.error {
            p.status.failed role="status" { "The last submission could not run: " (error) }
        }
        @for queued in &live.queued {
            @if let Some(holder) = &queued.waiting_for {
                p.status.waiting role="status" data-waiting="lock" {
                    "The " (queued.target) " waits: the store is locked by " (holder) "."
                }
            } @else {
                p.status.waiting role="status" { "The " (queued.target) " is queued." }
            }
        }
        @if live.running {
            @if let Some(submission) = live.submission {
                p.status.running role="status" { "Submission #" (submission) " is running." }
            }
        } @else if let Some(submission) = live.submission {
            p.status.done role="status" {
                "Submission #" (submission) " has ended: "
                a href={ "/scenarios/" (scenario) "/runs/" (submission) } { "see its timeline" } "."
            }
        }
    }
}

fn legend() -> Markup {
    let nodes = [
        ("input", "input"),
        ("up_to_date", "up to date"),
        ("stale", "stale"),
        ("never_computed", "never computed"),
        ("failed_producer", "failed producer"),
    ];
    let tasks = [
        ("completed", "completed"),
        ("skipped", "skipped"),
        ("running", "running"),
        ("failed", "failed"),
        ("abandoned", "abandoned"),
    ];
    html! {
        p.legend {
            span.muted { "Data nodes: " }
            @for (class, label) in nodes { (badge(class, label)) " " }
            span.muted { " Tasks: " }
            @for (class, label) in tasks { (badge(class, label)) " " }
        }
    }
}

/// The parameter and submit form (swapped whole by htmx after a post).
pub(super) fn controls(
    model: &ScenarioModel,
    texts: &BTreeMap<String, String>,
    token: &str,
    notice: Option<&str>,
    error: Option<&PageError>,
    selection: &Selection,
) -> Markup {
    let id = model.scenario.id;
    let fields = error.map(PageError::fields).unwrap_or_default();
    let submit = format!("/scenarios/{id}/submit");
    let save = format!("/scenarios/{id}/values");
    let chosen = |value: &str| selection.target == value;
    html! {
        form #controls method="post" action=(submit) hx-post=(submit) hx-target="this" hx-swap="outerHTML" {
            (token_field(token))
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            (form_errors(error.map(PageError::message)))
            @for node in model.nodes.iter().filter(|n| n.editable) {
                @let name = format!("{SET_PREFIX}{}", node.name);
                @let text = texts.get(&node.name).map(String::as_str).unwrap_or("");
                label.param {
                    span.param-name { (breakable(&node.name)) }
                    span.muted { " " (node.value_type) @if node.scope == "global" { " · global" } }
                    input type="text" name=(name) value=(text) data-node=(node.name)
                        placeholder=[node.example.as_deref()]
                        aria-invalid=[fields.get(&node.name).map(|_| "true")];
                    (field_error(fields.get(&node.name)))
                }
            }
            div.run {
                label { "Run "
                    select name="target" {
                        option value="scenario" selected[chosen("scenario")] { "the whole scenario" }
                        @for sequence in &model.sequences {
                            @let value = format!("sequence:{}", sequence.name);
                            option value=(value) selected[chosen(&value)] { "sequence " (sequence.name) }
                        }
                        @for task in &model.tasks {
                            @let value = format!("task:{}", task.name);
                            option value=(value) selected[chosen(&value)] { "task " (task.name) }
                        }
                    }
                    (field_error(fields.get("target")))
                }
                label.check { input type="checkbox" name="force" value="on" checked[selection.force]; " force (run even what could be skipped)" }
            }
            div.buttons {
                button.primary type="submit" #submit { "Submit" }
                button type="submit" formaction=(save) hx-post=(save) { "Save values only" }
            }
        }
    }
}

/// The tasks with their live or last status (replaced by events).
pub(super) fn jobs_table(model: &ScenarioModel) -> Markup {
    let id = model.scenario.id;
    html! {
        table.list.jobs {
            thead { tr { th { "Task" } th { "Status" } th { "Why" } th { "Last job" } th { "Took" } } }
            tbody {
                @for task in &model.tasks {
                    tr data-task=(task.name) data-status=(task.status) {
                        td.task-name { (breakable(&task.name)) @if !task.skippable { span.muted title="never skipped" { " (always runs)" } } }
                        @let last = task.last_job.as_ref().filter(|_| !task.live);
                        td { (status_badge(task.status)) }
                        td.reason {
                            @if let Some(why) = last.and_then(|j| j.reason_text.as_ref()) { (why) }
                            @if let Some(e) = last.and_then(|j| j.error.as_ref()) { div.error-text { (e) } }
                        }
                        td {
                            @if task.live {
                                @if let Some(submission) = model.live.submission {
                                    "#" (submission) " " span.muted { "now" }
                                }
                            } @else if let Some(job) = last {
                                a href={ "/scenarios/" (id) "/runs/" (job.submission) }
                                    title=[job.started_at.as_deref().map(when)] { "#" (job.submission) }
                            } @else { span.muted { "never run" } }
                        }
                        td.num { @if let Some(d) = last.and_then(|j| j.duration_s) { (seconds(d)) } }
                    }
                }
            }
        }
    }
}

/// The data nodes with their state, version and value (replaced by events).
pub(super) fn nodes_table(model: &ScenarioModel) -> Markup {
    let id = model.scenario.id;
    html! {
        table.list {
            thead { tr { th { "Node" } th { "Type" } th { "State" } th { "Version" } th { "Value" } } }
            tbody {
                @for node in &model.nodes {
                    tr data-node=(node.name) {
                        td { a href={ "/scenarios/" (id) "/nodes/" (node.name) } { (node.name) } @if node.scope == "global" { span.muted { " global" } } }
                        td { code { (node.value_type) } }
                        td { (badge(node.state.as_str(), node.state.label())) @if let Some(r) = &node.reason { " " span.reason { (r) } } }
                        td.num { @if let Some(v) = node.version { "v" (v) } }
                        td.value {
                            @if let Some(value) = &node.value { code { (value) } }
                            @else if node.version.is_some() { span.muted { (size(node.size)) } }
                        }
                    }
                }
            }
        }
    }
}

/// The newest submissions (replaced by events).
pub(super) fn submissions_list(model: &ScenarioModel) -> Markup {
    let id = model.scenario.id;
    html! {
        @if model.submissions.is_empty() {
            p.muted { "Never submitted." }
        } @else {
            table.list {
                thead { tr { th { "#" } th { "What" } th { "Status" } th { "Started" } th { "Took" } th { "Jobs" } } }
                tbody {
                    @for s in &model.submissions {
                        @let ended = !matches!(s.status, SubmissionStatus::Running | SubmissionStatus::Interrupted);
                        tr {
                            td.num { a href={ "/scenarios/" (id) "/runs/" (s.id) } { (s.id) } }
                            td { (s.target) }
                            td { (status_badge(s.status.as_str())) }
                            td { (when(&s.started_at)) }
                            td.num { @if ended { (seconds(s.duration_s)) } }
                            td {
                                @if ended { (s.jobs) " (" (s.completed) " run, " (s.skipped) " skipped, " (s.failed) " failed)" }
                                @else { span.muted { "recorded when it ends" } }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = model.older {
                nav.pager { a href={ "/scenarios/" (id) "?before=" (before) } { "older submissions →" } }
            }
        }
    }
}
