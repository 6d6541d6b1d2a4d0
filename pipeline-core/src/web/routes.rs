//! Every route, each page beside its JSON twin, behind the request checks of
//! `security`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::json;

use super::app::App;
use super::{
    access, assets, compare_page, node_page, run_page, scenario_page, scenarios_page, security,
    stream,
};

/// The router of `app`.
pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/scenarios") }))
        .route(
            "/scenarios",
            get(scenarios_page::html).post(scenarios_page::create_html),
        )
        .route(
            "/api/scenarios",
            get(scenarios_page::json).post(scenarios_page::create_json),
        )
        .route("/scenarios/{id}", get(scenario_page::html))
        .route("/api/scenarios/{id}", get(scenario_page::json))
        .route("/scenarios/{id}/submit", post(scenario_page::submit_html))
        .route(
            "/api/scenarios/{id}/submit",
            post(scenario_page::submit_json),
        )
        .route("/scenarios/{id}/values", post(scenario_page::values_html))
        .route(
            "/api/scenarios/{id}/values",
            post(scenario_page::values_json),
        )
        .route("/scenarios/{id}/events", get(stream::html))
        .route("/api/scenarios/{id}/events", get(stream::json))
        .route("/scenarios/{id}/runs/{submission}", get(run_page::html))
        .route("/api/scenarios/{id}/runs/{submission}", get(run_page::json))
        .route("/scenarios/{id}/nodes/{node}", get(node_page::html))
        .route("/api/scenarios/{id}/nodes/{node}", get(node_page::json))
        .route("/compare", get(compare_page::html))
        .route("/api/compare", get(compare_page::json))
        .route("/api/token", get(token))
        .route("/assets/{name}", get(assets::serve))
        .fallback(security::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), security::guard))
        .with_state(app)
}

/// `GET /api/token`: the token a script sends in `x-csrf-token`. Another
/// site's page cannot read it (no cross-origin read is allowed, and a
/// request naming another host is refused).
async fn token(State(app): State<Arc<App>>) -> impl IntoResponse {
    Json(json!({ "token": app.token(), "header": access::TOKEN_HEADER }))
}
