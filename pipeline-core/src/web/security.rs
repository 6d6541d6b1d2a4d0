//! The request checks every route passes through: the Host header (a page
//! loaded from another site through DNS rebinding names that site), the
//! per-process CSRF token on every POST (see [`access`](super::access)), and
//! headers that keep browsers from running anything but the embedded scripts.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::{TOKEN_FIELD, TOKEN_HEADER, same_token};
use super::app::App;
use super::error::PageError;

/// The largest request body read (forms and JSON of parameter values).
pub(super) const BODY_LIMIT: usize = 1 << 20;

/// Refuses requests for another host, and POSTs without the token; adds the
/// security headers to every answer.
pub(super) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let answer = |error: PageError| {
        if api {
            error.into_json()
        } else {
            error.into_html()
        }
    };
    if let Some(host) = request.headers().get(header::HOST)
        && !app.allowed_hosts().is_empty()
        && !app
            .allowed_hosts()
            .iter()
            .any(|h| host.as_bytes().eq_ignore_ascii_case(h.as_bytes()))
    {
        return with_headers(answer(PageError::Forbidden(format!(
            "this server answers requests for {} only, not for host `{}`",
            app.allowed_hosts()[0],
            String::from_utf8_lossy(host.as_bytes())
        ))));
    }
    let request = if request.method() == Method::POST {
        match check_token(&app, request).await {
            Ok(request) => request,
            Err(error) => return with_headers(answer(error)),
        }
    } else {
        request
    };
    with_headers(next.run(request).await)
}

/// Passes a POST on when its header or form field carries the token (the
/// body, read to find the field, is handed on unchanged).
async fn check_token(app: &App, request: Request) -> Result<Request, PageError> {
    let expected = app.token().as_bytes();
    if let Some(given) = request.headers().get(TOKEN_HEADER) {
        return if same_token(given.as_bytes(), expected) {
            Ok(request)
        } else {
            Err(forbidden())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(forbidden());
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        PageError::BadRequest(format!(
            "the form is larger than {} KiB or was cut off",
            BODY_LIMIT / 1024
        ))
    })?;
    let found = form_urlencoded_pairs(&bytes)
        .find(|(key, _)| key == TOKEN_FIELD)
        .is_some_and(|(_, value)| same_token(value.as_bytes(), expected));
    if !found {
        return Err(forbidden());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The `key=value` pairs of a URL-encoded form.
fn form_urlencoded_pairs(bytes: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .unwrap_or_default()
        .into_iter()
}

fn forbidden() -> PageError {
    PageError::Forbidden(format!(
        "this request changes the store and needs the page's token (form field `{TOKEN_FIELD}` \
         or header `{TOKEN_HEADER}`, see GET /api/token): reload the page and try again"
    ))
}

/// The embedded scripts and styles only, nothing framed, nothing sniffed.
fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Answers a request for a route that does not exist.
pub(super) async fn not_found(request: Request) -> Response {
    let error = PageError::NotFound(format!(
        "no page at {}: start from /scenarios",
        request.uri().path()
    ));
    if request.uri().path().starts_with("/api/") {
        error.into_json()
    } else {
        error.into_html()
    }
    .into_response()
}
