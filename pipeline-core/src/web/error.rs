//! What a request can fail with, and how each failure is answered: an HTML
//! page for people, a JSON object under `/api/` (`{"error": message, "fields":
//! {node: message}}`), with the status code that names the failure.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::html;
use crate::error::Error;
use crate::store::StoreError;

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PageError {
    /// 400: a request the server cannot read (a malformed query or body).
    BadRequest(String),
    /// 403: a POST without the right token, or a request for another host.
    Forbidden(String),
    /// 404: an unknown scenario, node, submission, page or asset.
    NotFound(String),
    /// 409: the scenario is busy (being submitted), or a submission could
    /// not run (its store locked by another process, say).
    Conflict(String),
    /// 422: values that do not parse or do not fit, each beside its field.
    Unprocessable {
        /// What is wrong, in one sentence.
        message: String,
        /// Per form field (a node name, `name`, `type`, `target`...), what is wrong with it.
        fields: BTreeMap<String, String>,
    },
    /// 500: the store failed, or the page's work panicked.
    Internal(String),
}

impl PageError {
    /// A 422 for one field.
    pub(super) fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Unprocessable {
            message: message.clone(),
            fields: BTreeMap::from([(field.to_owned(), message)]),
        }
    }

    /// A 500 for work that panicked (the server itself keeps running).
    pub(super) fn from_panic(join: tokio::task::JoinError) -> Self {
        let message = match join.try_into_panic() {
            Ok(payload) => crate::task::panic_message(payload.as_ref()),
            Err(join) => join.to_string(),
        };
        Self::Internal(format!("this page's work panicked: {message}"))
    }

    pub(super) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(super) fn message(&self) -> &str {
        match self {
            Self::BadRequest(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::Internal(m)
            | Self::Unprocessable { message: m, .. } => m,
        }
    }

    /// The field messages of a 422 (empty otherwise).
    pub(super) fn fields(&self) -> BTreeMap<String, String> {
        match self {
            Self::Unprocessable { fields, .. } => fields.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// The answer for a JSON client.
    pub(super) fn into_json(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "{}", self.message());
        }
        let body = json!({
            "error": self.message(),
            "status": status.as_u16(),
            "fields": self.fields(),
        });
        (status, Json(body)).into_response()
    }

    /// The answer for a browser: a page saying what went wrong.
    pub(super) fn into_html(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "{}", self.message());
        }
        (status, html::error_page(status, self.message())).into_response()
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NoScenario(_) => Self::NotFound(error.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        match error {
            Error::UnknownNode { .. }
            | Error::UnknownTask { .. }
            | Error::UnknownSequence { .. }
            | Error::UnknownScenario(_) => Self::NotFound(error.to_string()),
            Error::Store(store) => store.into(),
            Error::Compare(_) => Self::Unprocessable {
                message: error.to_string(),
                fields: BTreeMap::new(),
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A [`PageError`] answered as an HTML page.
pub(super) struct HtmlError(pub(super) PageError);

impl<E: Into<PageError>> From<E> for HtmlError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        self.0.into_html()
    }
}

/// A [`PageError`] answered as JSON.
pub(super) struct ApiError(pub(super) PageError);

impl<E: Into<PageError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_json()
    }
}

/// Parses a scenario id from a path segment, or a 404 saying ids are numbers.
pub(super) fn scenario_id(segment: &str) -> Result<u64, PageError> {
    segment
        .strip_prefix('#')
        .unwrap_or(segment)
        .parse()
        .map_err(|_| {
            PageError::NotFound(format!(
                "no scenario `{segment}`: scenario ids are numbers, as in /scenarios/3"
            ))
        })
}

/// Parses a submission id from a path segment, or a 404.
pub(super) fn submission_id(segment: &str) -> Result<u64, PageError> {
    segment.parse().map_err(|_| {
        PageError::NotFound(format!(
            "no submission `{segment}`: submission ids are numbers, as in /scenarios/3/runs/12"
        ))
    })
}

/// The query string's fields, or a 400 saying what is wrong with it.
pub(super) fn query<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, PageError> {
    query
        .map(|axum::extract::Query(q)| q)
        .map_err(|e| PageError::BadRequest(format!("bad query string: {}", e.body_text())))
}
