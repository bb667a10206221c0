//! HTTP pieces every feature's routes share: the media response, the health check, the security
//! headers and request id on every response, and the one check that a "return to" path stays on
//! this site.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::platform::db::Db;

/// What the media routes send back.
pub struct Media {
    pub data: Bytes,
    pub content_type: String,
    pub filename: String,
}

/// RFC 6266 disposition with an ASCII fallback and the UTF-8 name; never shared (`nosniff` and
/// the other security headers come from `security_headers`).
pub fn media_response(media: Media) -> Response {
    let ascii: String =
        media.filename.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let encoded = utf8_percent_encode(&media.filename, NON_ALPHANUMERIC);
    let disposition = format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response = Body::from(media.data).into_response();
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&media.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub async fn healthz(State(db): State<Db>) -> Response {
    match db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "database unavailable" })))
                .into_response()
        }
    }
}

/// A path on this site, and nothing that could lead off it (`//host`, `\\`, `..`, a scheme);
/// anything else is home. Every "return to" parameter goes through here.
pub fn local_path(path: Option<&str>) -> String {
    match path {
        Some(path)
            if path.starts_with('/')
                && !path.contains("//")
                && !path.contains("..")
                && !path.contains('\\')
                && !path.contains("://")
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_string()
        }
        _ => "/".into(),
    }
}

/// The most of an error body read back to find its status; errors are a sentence or two.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Gives a server function's error the status it names. `server_fn::run` sets it for errors the
/// function returns; this covers those met before the function runs (arguments it could not
/// read), which Leptos otherwise answers with a bare 500.
pub async fn server_fn_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The Content-Security-Policy. Scripts come from this site only, plus, on pages, the inline
/// hydration and streaming scripts Leptos marks with this response's nonce; `wasm-unsafe-eval`
/// lets the editor compile its WebAssembly (it allows no JavaScript `eval`). Style attributes
/// stay allowed: components set sizes with them, and they cannot run code.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|nonce| format!(" 'nonce-{nonce}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Called while a page renders: gives its response the policy with the nonce Leptos put on the
/// page's inline scripts (one per response, so a script injected into the page cannot guess it).
pub fn page_security_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(Some(&nonce))) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The security headers of every response, in one place; `hsts` when the public URL is https.
pub async fn security_headers(
    State(hsts): State<bool>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(value) = HeaderValue::from_str(&content_security_policy(None)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
        ),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if hsts {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}

/// The header carrying each response's request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Gives every request a fresh id: in its tracing span (so each log line written while handling
/// it names it) and in the response's `X-Request-Id`. An id a client sends is ignored: it could
/// be anything, and one made here is unique. The span is at ERROR level so that no log filter
/// short of "off" leaves the id off the lines it lets through.
pub async fn request_id(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::error_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(header::HeaderName::from_static(REQUEST_ID), value);
    }
    response
}
