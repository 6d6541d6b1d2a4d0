//! The compare page: two or more scenarios of one type side by side, node by
//! node, the rows that differ highlighted, with what the registered
//! comparators say. `?s=1&s=2` (or `?s=1,2`) picks the scenarios.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, scenario_id};
use super::html::{form_errors, page, size};
use crate::compare::{Cell, Compare, Comparison};
use crate::store::ScenarioMeta;

/// The scenario ids of `?s=1&s=2` or `?s=1,2`.
fn selected(pairs: &[(String, String)]) -> Result<Vec<u64>, PageError> {
    let mut ids = Vec::new();
    for (key, value) in pairs {
        if key != "s" {
            continue;
        }
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = scenario_id(part).map_err(|_| {
                PageError::field(
                    "s",
                    format!("`{part}` is not a scenario id: give numbers, as in ?s=1&s=2"),
                )
            })?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Runs the comparison of `ids`.
fn compare(app: &App, ids: &[u64]) -> Result<Comparison, PageError> {
    if ids.len() < 2 {
        return Err(PageError::field(
            "s",
            "choose at least two scenarios of one type to compare",
        ));
    }
    let scenarios = ids
        .iter()
        .map(|&id| app.scenario(id))
        .collect::<Result<Vec<_>, _>>()?;
    let scenario_type = scenarios[0].graph().name().to_owned();
    let compare = app.with_comparators(&scenario_type, Compare::new(scenarios));
    Ok(compare.run()?)
}

/// `GET /api/compare`: the comparison as JSON.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let ids = selected(&pairs)?;
    let comparison = app.blocking(move |app| compare(app, &ids)).await?;
    Ok(Json(comparison.to_json()).into_response())
}

/// `GET /compare`: the picker, and the comparison of the picked scenarios.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, HtmlError> {
    let ids = selected(&pairs)?;
    let picked = ids.clone();
    let (scenarios, outcome) = app
        .blocking(move |app| {
            let all = app.runtime.store().scenarios()?;
            let outcome = if picked.is_empty() {
                None
            } else {
                Some(compare(app, &picked))
            };
            Ok((all, outcome))
        })
        .await?;
    let (comparison, error) = match outcome {
        None => (None, None),
        Some(Ok(comparison)) => (Some(comparison), None),
        Some(Err(error @ PageError::Unprocessable { .. })) => (None, Some(error)),
        Some(Err(other)) => return Err(other.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, PageError::status);
    let markup = render(&app, &scenarios, &ids, comparison.as_ref(), error.as_ref());
    Ok((status, markup).into_response())
}

fn render(
    app: &App,
    scenarios: &[ScenarioMeta],
    picked: &[u64],
    comparison: Option<&Comparison>,
    error: Option<&PageError>,
) -> Markup {
    let mut by_type: BTreeMap<&str, Vec<&ScenarioMeta>> = BTreeMap::new();
    for meta in scenarios.iter().rev() {
        if app.graphs().contains_key(&meta.graph) {
            by_type.entry(&meta.graph).or_default().push(meta);
        }
    }
    let body = html! {
        h1 { "Compare scenarios" }
        @if let Some(comparison) = comparison {
            section.panel { (table(comparison)) }
        }
        section.panel {
            h2 { "Choose scenarios of one type" }
            (form_errors(error.map(PageError::message)))
            form.picker method="get" action="/compare" {
                @for (scenario_type, metas) in &by_type {
                    fieldset {
                        legend { (scenario_type) }
                        @for meta in metas.iter().take(200) {
                            label.check {
                                input type="checkbox" name="s" value=(meta.id.0) checked[picked.contains(&meta.id.0)];
                                " " (meta.name) " " span.muted { "#" (meta.id.0) }
                            }
                        }
                    }
                }
                @if by_type.is_empty() { p.muted { "No scenario of a type this program declares." } }
                button type="submit" { "Compare" }
            }
        }
    };
    page("Compare", Some(app.token()), body)
}

fn table(comparison: &Comparison) -> Markup {
    let differing = comparison.differences().count();
    let has_comparators = comparison.nodes.iter().any(|n| n.comparator.is_some());
    html! {
        p {
            strong { (differing) } " of " (comparison.nodes.len()) " data nodes differ."
        }
        div.scroll {
            table.list.compare {
                thead {
                    tr {
                        th { "Node" }
                        th { }
                        @for meta in &comparison.scenarios {
                            th { a href={ "/scenarios/" (meta.id.0) } { (meta.name) } " " span.muted { "#" (meta.id.0) } }
                        }
                        @if has_comparators { th { "Comparator" } }
                    }
                }
                tbody {
                    @for row in &comparison.nodes {
                        tr.diff[!row.equal] data-node=(row.node) data-equal=(row.equal) {
                            td { (row.node) }
                            td.mark title=(if row.equal { "equal" } else { "different" }) { (if row.equal { "=" } else { "≠" }) }
                            @for (cell, meta) in row.cells.iter().zip(&comparison.scenarios) {
                                td.value {
                                    @match cell {
                                        Cell::Missing => span.muted { "no value" },
                                        Cell::Value { version, fingerprint, size: bytes, rendered, .. } => {
                                            a href={ "/scenarios/" (meta.id.0) "/nodes/" (row.node) "?version=" (version) } { "v" (version) }
                                            " "
                                            @if let Some(text) = rendered { code { (text) } }
                                            @else { span.muted { (fingerprint.short()) " · " (size(*bytes)) } }
                                        }
                                    }
                                }
                            }
                            @if has_comparators { td { @if let Some(said) = &row.comparator { (said) } } }
                        }
                    }
                }
            }
        }
    }
}
