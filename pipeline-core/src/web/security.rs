//! The request checks every route passes through: the Host header (a page
//! loaded from another site through DNS rebinding names that site), the
//! per-process CSRF token on every POST, and headers that keep browsers from
//! running anything but the embedded scripts.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::app::App;
use super::error::PageError;
use crate::fingerprint::FingerprintHasher;

/// The form field carrying the token.
pub(super) const TOKEN_FIELD: &str = "_csrf";

/// The header carrying the token (scripts, htmx).
pub(super) const TOKEN_HEADER: &str = "x-csrf-token";

/// The largest request body read (forms and JSON of parameter values).
pub(super) const BODY_LIMIT: usize = 1 << 20;

/// A token of 128 random bits, as hex: hashes keyed by the standard
/// library's per-process random keys, mixed with the time and process id.
pub(super) fn random_token() -> String {
    let mut hasher = FingerprintHasher::with_domain("csrf");
    for round in 0..4u64 {
        let mut random = RandomState::new().build_hasher();
        random.write_u64(round);
        hasher.update_u64(random.finish());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update_raw(&now.to_le_bytes());
    hasher.update_u64(u64::from(std::process::id()));
    hasher.finish().to_hex()[..32].to_owned()
}

/// The Host header values a browser sends to reach `addr`: none to check
/// (every host accepted) unless `addr` is a loopback address.
pub(super) fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    if !addr.ip().is_loopback() {
        return Vec::new();
    }
    let port = addr.port();
    let mut hosts = vec![
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ];
    if port == 80 {
        hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(str::to_owned));
    }
    hosts
}

/// Whether two tokens are equal, in time independent of where they differ.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_of_128_bits() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same_token(b"abcd", b"abcd"));
        assert!(!same_token(b"abce", b"abcd"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(!same_token(b"", b"abcd"));
    }

    #[test]
    fn only_loopback_addresses_check_the_host() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(allowed_hosts(local).contains(&"localhost:8080".to_owned()));
        assert!(allowed_hosts("0.0.0.0:8080".parse().unwrap()).is_empty());
    }
}
