//! The data node page: a version's value (scalars rendered; a data frame as
//! its schema, row count and first rows), the node's version history, and
//! the version's lineage tree down to the exact input versions, each linked
//! to its own page. `?version=N` shows an older version.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, query as query_fields, scenario_id};
use super::html::{page, size, when};
use super::models::ScenarioInfo;
use crate::fingerprint::Fingerprint;
use crate::graph::NodeId;
use crate::history::{rfc3339, written_by_json};
use crate::lineage::{Lineage, Origin};
use crate::scenario::Scenario;
use crate::store::{Owner, WrittenBy};

/// Values with a larger encoding are not loaded to be shown as text.
const TEXT_LIMIT: u64 = 64 * 1024;
/// Longest text shown, in characters.
const TEXT_CHARS: usize = 20_000;
/// Versions listed, newest first.
const HISTORY_SHOWN: usize = 200;

/// `?version=N`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct VersionQuery {
    version: Option<u64>,
}

/// The node's place in the graph.
#[derive(Debug, Serialize)]
struct NodeInfo {
    name: String,
    #[serde(rename = "type")]
    value_type: String,
    scope: &'static str,
    producer: Option<String>,
    consumers: Vec<String>,
}

/// The shown version's value.
#[derive(Debug, Serialize)]
struct ValueModel {
    version: u64,
    current: bool,
    fingerprint: String,
    written_at: String,
    written_by: serde_json::Value,
    size: Option<u64>,
    /// The value as text, when its type renders and it is small enough.
    text: Option<String>,
    truncated: bool,
    /// Schema, row count and first rows, when the value is a data frame.
    #[cfg(feature = "polars")]
    frame: Option<super::frame_preview::FramePreview>,
    /// Why the value is not shown, when it is not.
    note: Option<String>,
}

/// One version in the history.
#[derive(Debug, Serialize)]
struct VersionRow {
    version: u64,
    fingerprint: String,
    written_at: String,
    size: Option<u64>,
    written_by: serde_json::Value,
    #[serde(skip)]
    writer: String,
}

/// The page.
#[derive(Debug, Serialize)]
struct NodePageModel {
    scenario: ScenarioInfo,
    node: NodeInfo,
    value: Option<ValueModel>,
    history: Vec<VersionRow>,
    /// Versions not listed (the oldest), beyond the newest shown.
    older_versions: usize,
    lineage: Option<serde_json::Value>,
    #[serde(skip)]
    tree: Option<Lineage>,
}

fn build(app: &App, id: u64, node: &str, version: Option<u64>) -> Result<NodePageModel, PageError> {
    let scenario = app.scenario(id)?;
    let node_id = app.node_id(&scenario, node)?;
    let graph = scenario.graph();
    let spec = graph.node(node_id);
    let store = &scenario.state().runtime().store;
    let current = scenario.state().current_from_store(node_id)?;
    let shown = match version {
        None => current
            .as_ref()
            .map(|c| crate::store::VersionMeta::clone(&c.meta)),
        Some(v) => Some(
            store
                .version(scenario.state().slot(node_id), v)?
                .ok_or_else(|| {
                    PageError::NotFound(format!(
                        "data node `{node}` of scenario {} has no version {v}{}",
                        scenario.id(),
                        current.as_ref().map_or_else(
                            || " (it has none yet)".to_owned(),
                            |c| format!(" (the newest is v{})", c.meta.version)
                        )
                    ))
                })?,
        ),
    };
    let value = match &shown {
        Some(meta) => Some(value_model(
            &scenario,
            node_id,
            meta,
            current
                .as_ref()
                .is_some_and(|c| c.meta.version == meta.version),
        )?),
        None => None,
    };
    let mut records = scenario.node_history(node)?;
    let older_versions = records.len().saturating_sub(HISTORY_SHOWN);
    records.reverse();
    records.truncate(HISTORY_SHOWN);
    let history = records
        .iter()
        .map(|r| VersionRow {
            version: r.version,
            fingerprint: r.fingerprint.to_hex(),
            written_at: rfc3339(r.written_at),
            size: r.size,
            written_by: written_by_json(&r.written_by),
            writer: r.written_by.describe(),
        })
        .collect();
    let tree = match &shown {
        Some(meta) => Some(Lineage::trace(
            &**store,
            scenario.state().slot(node_id),
            meta.version,
        )?),
        None => None,
    };
    Ok(NodePageModel {
        scenario: ScenarioInfo::of(scenario.meta()),
        node: NodeInfo {
            name: spec.name().to_owned(),
            value_type: spec.value_type().name(),
            scope: spec.scope().as_str(),
            producer: graph
                .producer(node_id)
                .map(|t| graph.task(t).name().to_owned()),
            consumers: graph
                .consumers(node_id)
                .iter()
                .map(|&t| graph.task(t).name().to_owned())
                .collect(),
        },
        value,
        history,
        older_versions,
        lineage: tree.as_ref().map(Lineage::to_json),
        tree,
    })
}

fn value_model(
    scenario: &Scenario,
    node: NodeId,
    meta: &crate::store::VersionMeta,
    current: bool,
) -> Result<ValueModel, PageError> {
    let store = &scenario.state().runtime().store;
    let value_type = scenario.graph().node(node).value_type();
    let size = store.value_size(&meta.fingerprint, &value_type)?;
    let mut model = ValueModel {
        version: meta.version,
        current,
        fingerprint: meta.fingerprint.to_hex(),
        written_at: rfc3339(meta.written_at),
        written_by: written_by_json(&meta.written_by),
        size,
        text: None,
        truncated: false,
        #[cfg(feature = "polars")]
        frame: None,
        note: None,
    };
    if size.is_none() {
        model.note = Some("the store no longer holds this value (collected, or damaged)".into());
        return Ok(model);
    }
    let loaded = store.get_value(&meta.fingerprint, &value_type);
    let value = match loaded {
        Ok(value) => value,
        Err(error) => {
            model.note = Some(format!("the value cannot be read: {error}"));
            return Ok(model);
        }
    };
    #[cfg(feature = "polars")]
    if let Some(preview) = super::frame_preview::preview(&value_type, &*value) {
        match preview {
            Ok(preview) => model.frame = Some(preview),
            Err(error) => model.note = Some(error),
        }
        return Ok(model);
    }
    if size.is_some_and(|s| s > TEXT_LIMIT) {
        model.note = Some(format!(
            "{} is too large to show as text here",
            super::html::size(size)
        ));
        return Ok(model);
    }
    match value_type.render(&*value) {
        Some(text) if text.chars().count() > TEXT_CHARS => {
            model.text = Some(text.chars().take(TEXT_CHARS).collect());
            model.truncated = true;
        }
        Some(text) => model.text = Some(text),
        None => {
            model.note = Some(format!(
                "values of type {} have no text form (implement `Value::render` to show them)",
                value_type.name()
            ));
        }
    }
    Ok(model)
}

/// `GET /scenarios/{id}/nodes/{node}`.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    Path((id, node)): Path<(String, String)>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Markup, HtmlError> {
    let id = scenario_id(&id)?;
    let version = query_fields(query)?.version;
    let model = app
        .blocking(move |app| build(app, id, &node, version))
        .await?;
    Ok(render(&model, app.token()))
}

/// `GET /api/scenarios/{id}/nodes/{node}`.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    Path((id, node)): Path<(String, String)>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = scenario_id(&id)?;
    let version = query_fields(query)?.version;
    let model = app
        .blocking(move |app| build(app, id, &node, version))
        .await?;
    Ok(Json(model).into_response())
}

fn render(model: &NodePageModel, token: &str) -> Markup {
    let scenario = &model.scenario;
    let node = &model.node;
    let base = format!("/scenarios/{}/nodes/{}", scenario.id, node.name);
    let body = html! {
        div.title {
            h1 { (node.name) }
            span.muted {
                a href={ "/scenarios/" (scenario.id) } { (scenario.name) } " · " code { (node.value_type) }
                " · " (node.scope)
                @if let Some(p) = &node.producer { " · written by task " (p) }
                @if !node.consumers.is_empty() { " · read by " (node.consumers.join(", ")) }
            }
        }
        section.panel {
            @match &model.value {
                None => { h2 { "Value" } p.muted { "No value yet." } }
                Some(value) => {
                    h2 { "Value " span.muted { "v" (value.version) @if !value.current { " (not the current version)" } } }
                    p.muted { (size(value.size)) " · written " (when(&value.written_at)) " · " code { (&value.fingerprint[..16]) } }
                    (value_body(value))
                }
            }
        }
        section.panel {
                h2 { "Lineage" }
                @match &model.tree {
                    None => p.muted { "No value, so no lineage." },
                    Some(tree) => ul.lineage { (lineage_item(tree, scenario.id)) },
                }
        }
        section.panel {
                h2 { "Versions" }
                table.list {
                    thead { tr { th { "Version" } th { "Written" } th { "Size" } th { "By" } } }
                    tbody {
                        @for row in &model.history {
                            tr.current[model.value.as_ref().is_some_and(|v| v.version == row.version)] {
                                td.num { a href={ (base) "?version=" (row.version) } { "v" (row.version) } }
                                td { (when(&row.written_at)) }
                                td.num { (size(row.size)) }
                                td { (row.writer) }
                            }
                        }
                    }
                }
                @if model.older_versions > 0 { p.muted { (model.older_versions) " older versions not listed." } }
        }
    };
    page(&node.name, Some(token), body)
}

fn value_body(value: &ValueModel) -> Markup {
    html! {
        @if let Some(note) = &value.note { p.muted { (note) } }
        @if let Some(text) = &value.text {
            pre.value { (text) }
            @if value.truncated { p.muted { "(cut after " (TEXT_CHARS) " characters)" } }
        }
        (frame_body(value))
    }
}

#[cfg(feature = "polars")]
fn frame_body(value: &ValueModel) -> Markup {
    let Some(frame) = &value.frame else {
        return html! {};
    };
    html! {
        p { strong { (frame.rows) } " rows × " strong { (frame.columns.len()) } " columns" }
        div.scroll {
            table.list.frame {
                thead {
                    tr { @for c in &frame.columns { th { (c.name) br; span.muted { (c.dtype) } } } }
                }
                tbody {
                    @for row in &frame.head { tr { @for cell in row { td { (cell) } } } }
                }
            }
        }
        @if frame.rows > frame.head.len() as u64 {
            p.muted { "The first " (frame.head.len()) " rows." }
        }
    }
}

#[cfg(not(feature = "polars"))]
fn frame_body(_value: &ValueModel) -> Markup {
    html! {}
}

/// One version of the lineage tree with its inputs below it.
fn lineage_item(lineage: &Lineage, scenario: u64) -> Markup {
    let node = &*lineage.slot.node;
    let owner = match &lineage.slot.owner {
        Owner::Scenario(id) => id.0,
        Owner::Global(_) => scenario,
    };
    let href = format!(
        "/scenarios/{owner}/nodes/{node}?version={}",
        lineage.version
    );
    let global = matches!(lineage.slot.owner, Owner::Global(_));
    let inputs: &[Lineage] = match &lineage.origin {
        Origin::Task {
            inputs: Some(inputs),
            ..
        } => inputs,
        _ => &[],
    };
    html! {
        li {
            a href=(href) { (node) " v" (lineage.version) }
            @if global { span.muted { " (global)" } }
            @if let Owner::Scenario(id) = &lineage.slot.owner { @if id.0 != scenario { span.muted { " of scenario " (id) } } }
            " " span.origin { (origin_text(&lineage.origin)) }
            @if !inputs.is_empty() {
                ul { @for input in inputs { (lineage_item(input, scenario)) } }
            }
        }
    }
}

fn origin_text(origin: &Origin) -> String {
    let short = |f: &Fingerprint| f.short();
    match origin {
        Origin::Unknown => "no longer in the store".to_owned(),
        Origin::SeeAbove { fingerprint } => format!("{} (see above)", short(fingerprint)),
        Origin::Cut { fingerprint } => format!("{} (deeper inputs not traced)", short(fingerprint)),
        Origin::Written {
            fingerprint,
            written_at,
            written_by,
        } => format!(
            "{} · {} · {}",
            short(fingerprint),
            written_by.describe(),
            when(&rfc3339(*written_at))
        ),
        Origin::Task {
            fingerprint,
            written_at,
            task,
            key,
            submission,
            reused,
            code,
            inputs,
        } => {
            let writer = WrittenBy::Task {
                task: task.clone(),
                key: *key,
                submission: *submission,
                reused: *reused,
            }
            .describe();
            let code = code.map_or_else(String::new, |c| format!(" · code {}", c.short()));
            let missing = if inputs.is_none() {
                " · inputs not recorded by this store"
            } else {
                ""
            };
            format!(
                "{} · {writer}{code} · {}{missing}",
                short(fingerprint),
                when(&rfc3339(*written_at))
            )
        }
    }
}
