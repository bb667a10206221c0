//! The photos' own HTTP routes (not pages or server functions): uploads, and the media behind
//! signed links.

use app::error::AppError;
use app::ids::{PhotoId, VersionId};
use app::photos::PhotoSummary;
use app::server_fn::ensure_session_owner;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use percent_encoding::percent_decode_str;
use tower_sessions::Session;

use crate::photos::{display_name, Variant};
use crate::platform::error::ApiError;
use crate::platform::http::media_response;
use crate::platform::links::Signature;
use crate::state::AppState;

pub const UPLOAD_PATH: &str = "/api/photos";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route("/media/photos/{id}/{variant}", get(photo_media))
        .route("/media/versions/{id}/{variant}", get(version_media))
}

/// One file per request (the raw body), so each file gets its own progress bar and limit.
async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PhotoSummary>), ApiError> {
    let limit = state.settings.limits.max_upload_bytes;
    let too_large = || AppError::TooLarge { limit_mb: limit / (1024 * 1024) };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large().into());
    }
    // A few uploads at a time: each may hold the whole body and its decoded pixels in memory.
    let _slot = state.limits.upload_slot().await?;
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
    let meter = crate::data::usage::Meter::start();
    let encoded = state.photos.ingest(bytes).await?;
    let owner = ensure_session_owner(&session, state.accounts.as_ref(), state.photos.as_ref()).await?;
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

/// Media needs a signed link (403 when missing, changed or expired); then ids, variants and
/// owners that do not match all answer 404, so nothing reveals what exists.
async fn photo_media(
    State(state): State<AppState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let path = format!("/media/photos/{id}/{kind}");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
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
    let path = format!("/media/versions/{id}/{kind}");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    let id: VersionId = id.parse().map_err(|_| AppError::NotFound)?;
    let variant = variant(&kind, "image")?;
    Ok(media_response(state.photos.version_media(owner, id, variant).await?))
}
