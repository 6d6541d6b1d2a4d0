//! The page shell every page shares (head, navigation, the token htmx sends)
//! and small pieces several pages use: status badges, times, sizes, errors.
//! Templates are `maud` macros: checked when compiled, every value escaped.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use super::access::{TOKEN_FIELD, TOKEN_HEADER, random_token};
use crate::history::bytes;

/// htmx settings: no `eval`, requests to this server only, and error
/// answers (a 422 form with its messages) swapped in like any other.
const HTMX_CONFIG: &str = r#"{"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"includeIndicatorStyles":false,"historyCacheSize":0,"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true}]}"#;

/// A whole page. `token` is the CSRF token (absent on error pages, which
/// hold no form).
pub(super) fn page(title: &str, token: Option<&str>, body: Markup) -> Markup {
    let headers = token.map(|t| format!(r#"{{"{TOKEN_HEADER}": "{t}"}}"#));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                @if let Some(token) = token {
                    meta name="csrf-token" content=(token);
                }
                title { (title) " · pipeline" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/htmx.min.js" {}
                script src="/assets/htmx-ext-sse.min.js" {}
            }
            body data-load-id=(random_token()[..12]) hx-headers=[headers] {
                header.top {
                    a.brand href="/scenarios" { "pipeline" }
                    nav {
                        a href="/scenarios" { "Scenarios" }
                        a href="/compare" { "Compare" }
                    }
                }
                main { (body) }
                footer {
                    "Every page has a JSON twin under " code { "/api" } ". "
                    "htmx " a href="/assets/htmx.LICENSE" { "licence" } "."
                }
            }
        }
    }
}

/// The page of a failed request.
pub(super) fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("error")
    );
    page(
        &title,
        None,
        html! {
            h1 { (title) }
            p.error-message { (message) }
            p { a href="/scenarios" { "Back to the scenarios" } }
        },
    )
}

/// The hidden form field holding the token.
pub(super) fn token_field(token: &str) -> Markup {
    html! { input type="hidden" name=(TOKEN_FIELD) value=(token); }
}

/// A status or state as a coloured word; `class` is its JSON spelling.
pub(super) fn badge(class: &str, label: &str) -> Markup {
    html! { span class={ "badge " (class) } { (label) } }
}

/// A job or submission status as a badge.
pub(super) fn status_badge(status: &str) -> Markup {
    badge(status, &status.replace('_', " "))
}

/// `2025-03-01T10:00:00.123456789Z` as `2025-03-01 10:00:00`.
pub(super) fn when(rfc3339: &str) -> String {
    let cut = rfc3339.split('.').next().unwrap_or(rfc3339);
    cut.replacen('T', " ", 1).trim_end_matches('Z').to_owned()
}

/// Seconds for people: `12 ms`, `3.40 s`, `2 min 5 s`.
pub(super) fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {} s", (s / 60.0).floor(), (s % 60.0).floor())
    }
}

/// A byte count for people.
pub(super) fn size(n: Option<u64>) -> String {
    n.map_or_else(|| "(value gone)".to_owned(), bytes)
}

/// A name that may wrap after each underscore (`summary_statistic_type`).
pub(super) fn breakable(name: &str) -> Markup {
    let mut parts = name.split('_').peekable();
    html! {
        @while let Some(part) = parts.next() {
            (part)
            @if parts.peek().is_some() { "_" wbr; }
        }
    }
}

/// A 422's message and field errors above a form (when any).
pub(super) fn form_errors(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.form-error role="alert" { (message) }
        }
    }
}

/// The message beside a field, if it has one.
pub(super) fn field_error(error: Option<&String>) -> Markup {
    html! {
        @if let Some(error) = error {
            span.field-error role="alert" { (error) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(
            when("2025-03-01T10:00:00.123456789Z"),
            "2025-03-01 10:00:00"
        );
        assert_eq!(seconds(0.0123), "12 ms");
        assert_eq!(seconds(3.4), "3.40 s");
        assert_eq!(seconds(125.0), "2 min 5 s");
    }

    #[test]
    fn the_shell_escapes_the_title() {
        let html = page("<script>alert(1)</script>", Some("t"), html! {}).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; · pipeline"));
        assert!(!html.contains("<script>alert(1)"));
    }
}
