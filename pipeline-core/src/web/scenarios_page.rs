//! The scenarios page: every scenario with its type, tags, creation time and
//! last submission's status, filtered by type and tag, a page at a time; and
//! the form creating a scenario of a registered type.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, query as query_fields};
use super::html::{field_error, form_errors, page, status_badge, token_field, when};
use super::models::{ScenarioInfo, SubmissionSummary};
use crate::store::ScenarioId;

/// Scenarios per page unless `per_page` says otherwise.
const PER_PAGE: usize = 50;
/// The most `per_page` may ask for.
const MAX_PER_PAGE: usize = 500;

/// `?type=&tag=&page=&per_page=`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    scenario_type: Option<String>,
    tag: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// A registered scenario type.
#[derive(Debug, Serialize)]
struct TypeModel {
    name: String,
    nodes: usize,
    tasks: usize,
    sequences: Vec<String>,
}

/// One listed scenario.
#[derive(Debug, Serialize)]
struct ScenarioRow {
    #[serde(flatten)]
    info: ScenarioInfo,
    /// Whether this program declares the scenario's type (else its page is a 404).
    registered: bool,
    last_submission: Option<SubmissionSummary>,
}

/// The filter in effect.
#[derive(Debug, Default, Clone, Serialize)]
struct Filter {
    #[serde(rename = "type")]
    scenario_type: Option<String>,
    tag: Option<String>,
}

/// The page.
#[derive(Debug, Serialize)]
struct ScenariosModel {
    types: Vec<TypeModel>,
    /// Every tag of every scenario, for the filter.
    tags: Vec<String>,
    filter: Filter,
    /// Scenarios passing the filter.
    total: usize,
    page: usize,
    per_page: usize,
    pages: usize,
    scenarios: Vec<ScenarioRow>,
}

impl ScenariosModel {
    fn build(app: &App, query: &ListQuery) -> Result<Self, PageError> {
        let per_page = query.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
        let filter = Filter {
            scenario_type: query.scenario_type.clone().filter(|t| !t.is_empty()),
            tag: query.tag.clone().filter(|t| !t.is_empty()),
        };
        let all = app.runtime.store().scenarios()?;
        let tags: BTreeSet<String> = all.iter().flat_map(|m| m.tags.iter().cloned()).collect();
        let mut matching: Vec<_> = all
            .into_iter()
            .filter(|m| filter.scenario_type.as_ref().is_none_or(|t| *t == m.graph))
            .filter(|m| filter.tag.as_ref().is_none_or(|t| m.tags.contains(t)))
            .collect();
        matching.reverse(); // newest first
        let total = matching.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let shown: Vec<_> = matching
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let ids: Vec<ScenarioId> = shown.iter().map(|m| m.id).collect();
        let latest = app.runtime.store().latest_submissions(&ids)?;
        let scenarios = shown
            .iter()
            .zip(latest)
            .map(|(meta, last)| ScenarioRow {
                info: ScenarioInfo::of(meta),
                registered: app.graphs().contains_key(&meta.graph),
                last_submission: last.as_ref().map(SubmissionSummary::of),
            })
            .collect();
        Ok(Self {
            types: app
                .graphs()
                .values()
                .map(|g| TypeModel {
                    name: g.name().to_owned(),
                    nodes: g.nodes().len(),
                    tasks: g.tasks().len(),
                    sequences: g.sequences().iter().map(|s| s.name().to_owned()).collect(),
                })
                .collect(),
            tags: tags.into_iter().collect(),
            filter,
            total,
            page,
            per_page,
            pages,
            scenarios,
        })
    }
}

/// What the create form holds.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct CreateForm {
    #[serde(rename = "type", default)]
    scenario_type: String,
    #[serde(default)]
    name: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
}

/// What `POST /api/scenarios` takes.
#[derive(Debug, Deserialize)]
pub(super) struct CreateRequest {
    #[serde(rename = "type")]
    scenario_type: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Creates a scenario from checked input, or says which field is wrong.
fn create(
    app: &App,
    scenario_type: &str,
    name: &str,
    tags: Vec<String>,
) -> Result<ScenarioInfo, PageError> {
    let mut fields = BTreeMap::new();
    let graph = app.graphs().get(scenario_type).cloned();
    if graph.is_none() {
        fields.insert(
            "type".to_owned(),
            format!(
                "unknown scenario type `{scenario_type}`: this program declares {}",
                app.type_list()
            ),
        );
    }
    let name = name.trim();
    if name.is_empty() {
        fields.insert("name".to_owned(), "give the scenario a name".to_owned());
    } else if name.chars().count() > 200 {
        fields.insert(
            "name".to_owned(),
            "a name has at most 200 characters".to_owned(),
        );
    }
    let mut clean = BTreeSet::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.contains(',') {
            fields.insert(
                "tags".to_owned(),
                format!("tag `{tag}` holds a comma, which separates tags"),
            );
        } else if tag.chars().count() > 100 {
            fields.insert(
                "tags".to_owned(),
                "a tag has at most 100 characters".to_owned(),
            );
        } else if !tag.is_empty() {
            clean.insert(tag.to_owned());
        }
    }
    match graph {
        Some(graph) if fields.is_empty() => {
            let scenario = app.runtime.create_scenario_tagged(graph, name, clean)?;
            Ok(ScenarioInfo::of(scenario.meta()))
        }
        _ => Err(PageError::Unprocessable {
            message: format!(
                "the scenario was not created: {}",
                fields.values().cloned().collect::<Vec<_>>().join("; ")
            ),
            fields,
        }),
    }
}

/// `GET /scenarios`.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Markup, HtmlError> {
    let query = query_fields(query)?;
    let model = app
        .blocking(move |app| ScenariosModel::build(app, &query))
        .await?;
    Ok(render(&model, app.token(), &CreateForm::default(), None))
}

/// `GET /api/scenarios`.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query_fields(query)?;
    let model = app
        .blocking(move |app| ScenariosModel::build(app, &query))
        .await?;
    Ok(Json(model).into_response())
}

/// `POST /scenarios` (a form): to the new scenario's page, or the form again
/// with its errors.
pub(super) async fn create_html(
    State(app): State<Arc<App>>,
    form: Result<axum::Form<CreateForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, HtmlError> {
    let form = form
        .map(|axum::Form(f)| f)
        .map_err(|e| PageError::BadRequest(format!("bad form: {}", e.body_text())))?;
    let submitted = form.clone();
    let outcome = app
        .blocking(move |app| {
            let tags = form.tags.split(',').map(str::to_owned).collect();
            create(app, &form.scenario_type, &form.name, tags)
        })
        .await;
    match outcome {
        Ok(info) => Ok(Redirect::to(&format!("/scenarios/{}", info.id)).into_response()),
        Err(error @ PageError::Unprocessable { .. }) => {
            let model = app
                .blocking(|app| ScenariosModel::build(app, &ListQuery::default()))
                .await?;
            let markup = render(&model, app.token(), &submitted, Some(&error));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /api/scenarios` (JSON `{type, name, tags}`): 201 with the scenario.
pub(super) async fn create_json(
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: CreateRequest = serde_json::from_slice(&body).map_err(|e| {
        PageError::BadRequest(format!(
            "expected JSON {{\"type\": ..., \"name\": ..., \"tags\": [...]}}: {e}"
        ))
    })?;
    let info = app
        .blocking(move |app| create(app, &request.scenario_type, &request.name, request.tags))
        .await?;
    let location = format!("/api/scenarios/{}", info.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(info),
    )
        .into_response())
}

fn render(
    model: &ScenariosModel,
    token: &str,
    form: &CreateForm,
    error: Option<&PageError>,
) -> Markup {
    let fields = error.map(PageError::fields).unwrap_or_default();
    let filter_link = |page: usize| {
        let mut query = vec![format!("page={page}")];
        if let Some(t) = &model.filter.scenario_type {
            query.push(format!("type={}", encode(t)));
        }
        if let Some(t) = &model.filter.tag {
            query.push(format!("tag={}", encode(t)));
        }
        format!("/scenarios?{}", query.join("&"))
    };
    let body = html! {
        h1 { "Scenarios" }
        section.panel {
            form.filter method="get" action="/scenarios" {
                label { "Type "
                    select name="type" {
                        option value="" { "any" }
                        @for t in &model.types {
                            option value=(t.name) selected[model.filter.scenario_type.as_deref() == Some(&t.name)] { (t.name) }
                        }
                    }
                }
                label { "Tag "
                    select name="tag" {
                        option value="" { "any" }
                        @for tag in &model.tags {
                            option value=(tag) selected[model.filter.tag.as_deref() == Some(tag)] { (tag) }
                        }
                    }
                }
                button type="submit" { "Filter" }
                span.muted { (model.total) " scenario" @if model.total != 1 { "s" } }
            }
            @if model.scenarios.is_empty() {
                p.muted { "No scenario matches. Create one below." }
            } @else {
                table.list {
                    thead { tr { th { "#" } th { "Name" } th { "Type" } th { "Tags" } th { "Created" } th { "Last submission" } } }
                    tbody {
                        @for row in &model.scenarios {
                            tr data-scenario=(row.info.id) {
                                td.num { (row.info.id) }
                                td {
                                    @if row.registered {
                                        a href={ "/scenarios/" (row.info.id) } { (row.info.name) }
                                    } @else {
                                        span title="this program does not declare the scenario's type" { (row.info.name) }
                                    }
                                }
                                td { (row.info.scenario_type) }
                                td { @for tag in &row.info.tags { span.tag { (tag) } " " } }
                                td { (when(&row.info.created_at)) }
                                td {
                                    @if let Some(last) = &row.last_submission {
                                        a href={ "/scenarios/" (row.info.id) "/runs/" (last.id) } {
                                            (status_badge(last.status.as_str()))
                                        }
                                        " " span.muted { (when(&last.started_at)) }
                                    } @else {
                                        span.muted { "never submitted" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if model.pages > 1 {
                    nav.pager {
                        @if model.page > 1 { a href=(filter_link(model.page - 1)) { "← newer" } }
                        span { "page " (model.page) " of " (model.pages) }
                        @if model.page < model.pages { a href=(filter_link(model.page + 1)) { "older →" } }
                    }
                }
            }
        }
        section.panel {
            h2 { "New scenario" }
            @if model.types.is_empty() {
                p.muted { "This program registers no scenario type." }
            } @else {
                form.create method="post" action="/scenarios" {
                    (token_field(token))
                    (form_errors(error.map(PageError::message)))
                    label { "Type "
                        select name="type" {
                            @for t in &model.types {
                                option value=(t.name) selected[form.scenario_type == t.name] { (t.name) }
                            }
                        }
                        (field_error(fields.get("type")))
                    }
                    label { "Name " input type="text" name="name" value=(form.name) required; (field_error(fields.get("name"))) }
                    label { "Tags " input type="text" name="tags" value=(form.tags) placeholder="comma, separated"; (field_error(fields.get("tags"))) }
                    button type="submit" { "Create" }
                }
            }
        }
    };
    page("Scenarios", Some(token), body)
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
