//! Server-sent events of one scenario: what its open page swaps in while
//! submissions run, and the JSON twin a script follows.
//!
//! The page's stream sends five events, each an HTML fragment that htmx's
//! SSE extension puts in place: `dag` (the graph), `jobs` (the task table),
//! `status` (the line above the graph), `nodes` (the data node table) and
//! `submissions` (the newest submissions). It sends them once on connecting
//! (so nothing that happened since the page was rendered is missed), then
//! after every change, each rendered as of that change: a task that ran for a
//! millisecond still shows `running` once.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use maud::Markup;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::app::App;
use super::error::{ApiError, HtmlError, PageError, scenario_id};
use super::live::{Change, LiveState, Notice};
use super::scenario_model::{ScenarioModel, live_model};
use super::scenario_page::{jobs_table, nodes_table, status_line, submissions_list};
use super::svg;
use crate::history::rfc3339;
use crate::scenario::Scenario;
use crate::store::ScenarioId;

/// Queued changes past which a page's stream renders only the newest.
const CATCH_UP: usize = 16;

/// `GET /scenarios/{id}/events`.
pub(super) async fn html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, HtmlError> {
    let id = scenario_id(&id)?;
    let scenario = app.blocking(move |app| app.scenario(id)).await?;
    let state = PageStream {
        changes: app.board.subscribe(),
        closing: app.closing(),
        app,
        scenario,
        first: true,
    };
    let events = stream::unfold(state, |mut s| async move {
        let (live, all) = s.next_state().await?;
        let scenario = s.scenario.clone();
        let fragments = s
            .app
            .blocking(move |_| fragments(&scenario, &live, all))
            .await
            .unwrap_or_else(|error| vec![("status", error_line(&error))]);
        let events: Vec<Result<Event, Infallible>> = fragments
            .into_iter()
            .map(|(name, markup)| Ok(Event::default().event(name).data(sse_safe(markup))))
            .collect();
        Some((stream::iter(events), s))
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The state of one page's stream.
struct PageStream {
    app: Arc<App>,
    scenario: Scenario,
    changes: tokio::sync::broadcast::Receiver<Notice>,
    closing: tokio::sync::watch::Receiver<bool>,
    first: bool,
}

impl PageStream {
    /// The live state to render next, and whether to render the whole page
    /// or only its status line: the current state at first, then the state
    /// as of each change of this scenario; `None` when the server closes.
    ///
    /// A change of the web's queue (a submission accepted, waiting for a
    /// lock, ended) redraws the status line only: the graph drawn from it
    /// would show the store as a submission started since left it, before
    /// that submission's own changes.
    async fn next_state(&mut self) -> Option<(Arc<LiveState>, bool)> {
        let id = self.scenario.id();
        if self.first {
            self.first = false;
            return Some((Arc::new(self.app.board.state(id)), true));
        }
        loop {
            tokio::select! {
                notice = self.changes.recv() => match notice {
                    Ok(notice) if notice.scenario == id => {
                        if self.changes.len() > CATCH_UP {
                            return Some((Arc::new(self.app.board.state(id)), true));
                        }
                        let all = notice.change != Change::Queue;
                        return Some((notice.state, all));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        return Some((Arc::new(self.app.board.state(id)), true));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.closing.changed() => return None,
            }
        }
    }
}

/// The page's fragments for `live`: all, or the status line only.
fn fragments(
    scenario: &Scenario,
    live: &LiveState,
    all: bool,
) -> Result<Vec<(&'static str, Markup)>, PageError> {
    if !all {
        let line = status_line(scenario.id().0, &live_model(live), true);
        return Ok(vec![("status", line)]);
    }
    let model = ScenarioModel::build(scenario, live, None)?;
    Ok(vec![
        ("dag", svg::dag(&model)),
        ("jobs", jobs_table(&model)),
        ("status", status_line(model.scenario.id, &model.live, true)),
        ("nodes", nodes_table(&model)),
        ("submissions", submissions_list(&model)),
    ])
}

fn error_line(error: &PageError) -> Markup {
    maud::html! { p.status.failed role="status" { "Cannot show the latest state: " (error.message()) } }
}

/// An event's data may not hold a carriage return: escaped as a character
/// reference, which HTML reads back as the same character.
fn sse_safe(markup: Markup) -> String {
    markup.into_string().replace('\r', "&#13;")
}

/// `GET /api/scenarios/{id}/events`: one JSON event per change of the
/// scenario (`started`, `job`, `finished`, `queue`), named by its `kind`.
pub(super) async fn json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = scenario_id(&id)?;
    app.blocking(move |app| app.scenario_meta(id)).await?;
    let scenario = ScenarioId(id);
    let state = (app.board.subscribe(), app.closing());
    let events = stream::unfold(state, move |(mut changes, mut closing)| async move {
        loop {
            tokio::select! {
                notice = changes.recv() => match notice {
                    Ok(notice) if notice.scenario == scenario => {
                        return Some((Ok(json_event(&notice)), (changes, closing)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        let event = Event::default().event("lagged").data(
                            json!({ "kind": "lagged", "missed": missed }).to_string(),
                        );
                        return Some((Ok(event), (changes, closing)));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = closing.changed() => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn json_event(notice: &Notice) -> Event {
    let at = rfc3339(notice.at);
    let scenario = notice.scenario.0;
    let (kind, body) = match &notice.change {
        Change::Started(submission) => (
            "started",
            json!({ "kind": "started", "scenario": scenario, "submission": submission.0, "at": at }),
        ),
        Change::Job {
            submission,
            task,
            status,
        } => (
            "job",
            json!({
                "kind": "job", "scenario": scenario, "submission": submission.0,
                "task": &**task, "status": status.as_str(), "at": at,
            }),
        ),
        Change::Finished(submission) => (
            "finished",
            json!({ "kind": "finished", "scenario": scenario, "submission": submission.0, "at": at }),
        ),
        Change::Queue => (
            "queue",
            json!({
                "kind": "queue", "scenario": scenario, "at": at,
                "queued": notice.state.tickets.iter().map(|t| json!({
                    "target": t.target, "waiting_for": t.waiting_for,
                })).collect::<Vec<_>>(),
                "error": notice.state.outcome.as_ref().and_then(|o| o.error.clone()),
            }),
        ),
    };
    Event::default().event(kind).data(body.to_string())
}
