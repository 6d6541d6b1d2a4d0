//! The files compiled into the binary: htmx and its server-sent-events
//! extension (vendored from npm, see `assets/README.md`), their licences, and
//! the style sheet. Requests name an asset; no path from a request ever
//! reaches the file system.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;

/// One embedded file.
pub(super) struct Asset {
    /// The name in `/assets/{name}`.
    pub(super) name: &'static str,
    /// Its media type.
    pub(super) content_type: &'static str,
    /// Its bytes.
    pub(super) bytes: &'static [u8],
}

/// Every file the server can send besides the pages.
pub(super) const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx.min.js"),
    },
    Asset {
        name: "htmx-ext-sse.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx-ext-sse.min.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/style.css"),
    },
    Asset {
        name: "htmx.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("assets/htmx.LICENSE"),
    },
    Asset {
        name: "htmx-ext-sse.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("assets/htmx-ext-sse.LICENSE"),
    },
];

/// The asset called `name`.
pub(super) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `GET /assets/{name}`.
pub(super) async fn serve(Path(name): Path<String>) -> Response {
    match find(&name) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ),
            ],
            asset.bytes,
        )
            .into_response(),
        None => PageError::NotFound(format!(
            "no asset `{name}`: the server has {}",
            ASSETS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        ))
        .into_html(),
    }
}
