//! Every page and server function answers within its limit, or gets a 503 and its work is
//! dropped, with a log line naming the route. A render that can never finish then costs one
//! error instead of a task, and its memory, held for good.
//!
//! Pages are streamed by Leptos: the headers leave before the body is rendered, so a limit on
//! the handler alone would not catch a stalled body. HTML bodies are therefore collected inside
//! the limit and sent whole. They are small and render in milliseconds, so nothing is lost.

use std::time::Duration;

use app::error::AppError;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::{FromServerFnError, SERVER_FN_ERROR_HEADER};

/// Server functions are mounted under this prefix (pages never are).
const SERVER_FN_PREFIX: &str = "/api/";
/// No page is anywhere near this; a body past it is an error, not an allocation without end.
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub page: Duration,
    pub server_fn: Duration,
}

impl Limits {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            page: Duration::from_secs(settings.server.page_timeout_secs.max(1)),
            server_fn: Duration::from_secs(settings.server.server_fn_timeout_secs.max(1)),
        }
    }
}

/// Middleware for the Leptos router: pages, server functions and the static-file fallback.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    // The route's pattern, never the URL itself: paths hold ids and queries hold tokens.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| "(fallback)".to_owned());
    let server_fn = request.uri().path().starts_with(SERVER_FN_PREFIX);
    let limit = if server_fn { limits.server_fn } else { limits.page };
    match tokio::time::timeout(limit, whole(next.run(request))).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            tracing::error!(route, error = format!("{error:#}"), "a page's body failed while it was rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal.to_string()).into_response()
        }
        Err(_) => {
            tracing::error!(
                route,
                limit_secs = limit.as_secs(),
                "not finished within its limit: answered 503 and dropped"
            );
            unavailable(server_fn, &route)
        }
    }
}

/// The response, with an HTML body read to its end.
async fn whole(response: impl std::future::Future<Output = Response>) -> anyhow::Result<Response> {
    let response = response.await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !html {
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_PAGE_BYTES).await?;
    // The length is known now; the streamed response had none.
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// A 503 in the form the caller reads: the typed error for a server function, a page otherwise.
fn unavailable(server_fn: bool, route: &str) -> Response {
    let error = AppError::Unavailable;
    let mut response = if server_fn {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, error.ser()).into_response();
        if let Ok(value) = HeaderValue::from_str(route) {
            response.headers_mut().insert(SERVER_FN_ERROR_HEADER, value);
        }
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    } else {
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Atelier</title></head>\
             <body><main><h1>Please try again</h1><p>{error}</p><p><a href=\"/\">Back to the workspace</a></p></main></body></html>"
        );
        (StatusCode::SERVICE_UNAVAILABLE, axum::response::Html(page)).into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
