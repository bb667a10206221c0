//! Routes that are not pages or server functions: uploads, authorised media, health.

use app::error::AppError;
use app::model::{PhotoId, PhotoSummary, VersionId};
use app::services::{ensure_session_owner, session_owner};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use tower_sessions::Session;

use crate::error::ApiError;
use crate::links::Signature;
use crate::photos::{display_name, Media, Variant};
use crate::state::AppState;

pub const UPLOAD_PATH: &str = "/api/photos";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route("/media/photos/{id}/{variant}", get(photo_media))
        .route("/media/versions/{id}/{variant}", get(version_media))
        .route("/media/jobs/{id}/result", get(job_result))
        .route(crate::lifecycle::export::ARCHIVE_ROUTE, get(crate::lifecycle::export::download))
        .route("/healthz", get(healthz))
}

/// One file per request (the raw body), so each file gets its own progress bar and limit.
async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PhotoSummary>), ApiError> {
    let limit = state.settings.max_upload_bytes;
    let too_large = || AppError::TooLarge { limit_mb: limit / (1024 * 1024) };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large().into());
    }
    // Reading stops at the limit; a body that lied about its length ends up here too.
    let bytes =
        axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await.map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Err(AppError::BadRequest("The file is empty.".into()).into());
    }
    let name = headers
        .get("x-file-name")
        .and_then(|value| value.to_str().ok())
        .map(|value| percent_decode_str(value).decode_utf8_lossy().into_owned());
    let name = display_name(name.as_deref());
    let meter = crate::usage::Meter::start();
    let encoded = state.photos.ingest(bytes).await?;
    let owner = ensure_session_owner(&session, state.photos.as_ref()).await?;
    let photo = state.photos.store(owner, &name, encoded, meter).await?;
    tracing::info!(photo = %photo.id, width = photo.width, height = photo.height, "photo uploaded");
    Ok((StatusCode::CREATED, Json(photo)))
}

fn variant(name: &str, full: &str) -> Result<Variant, AppError> {
    match name {
        "thumbnail" => Ok(Variant::Thumbnail),
        _ if name == full => Ok(Variant::Full),
        _ => Err(AppError::NotFound),
    }
}

/// Media needs a signed link issued to this session's workspace (403 when missing, changed,
/// foreign or expired); then ids, variants and owners that do not match all answer 404, so
/// nothing reveals what exists.
async fn photo_media(
    State(state): State<AppState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let owner =
        state.photos.links.check(&format!("/media/photos/{id}/{kind}"), session_owner(&session).await?, &signature)?;
    let id: PhotoId = id.parse().map_err(|_| AppError::NotFound)?;
    let variant = variant(&kind, "original")?;
    Ok(media_response(state.photos.photo_media(owner, id, variant).await?))
}

async fn version_media(
    State(state): State<AppState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let owner = state.photos.links.check(
        &format!("/media/versions/{id}/{kind}"),
        session_owner(&session).await?,
        &signature,
    )?;
    let id: VersionId = id.parse().map_err(|_| AppError::NotFound)?;
    let variant = variant(&kind, "image")?;
    Ok(media_response(state.photos.version_media(owner, id, variant).await?))
}

/// An AI job's result, for the before/after view and downloading.
async fn job_result(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let owner =
        state.photos.links.check(&format!("/media/jobs/{id}/result"), session_owner(&session).await?, &signature)?;
    let id: app::model::JobId = id.parse().map_err(|_| AppError::NotFound)?;
    Ok(media_response(state.ai.result_media(owner, id).await?))
}

/// RFC 6266 disposition with an ASCII fallback and the UTF-8 name; never sniffed, never shared.
fn media_response(media: Media) -> Response {
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

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "database unavailable" })))
                .into_response()
        }
    }
}
