//! HTTP pieces every feature's routes share: the media response, the health check, and the one
//! check that a "return to" path stays on this site.

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

/// RFC 6266 disposition with an ASCII fallback and the UTF-8 name; never sniffed, never shared.
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
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
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
