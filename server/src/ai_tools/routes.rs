//! The AI tools' own HTTP route: a job's result behind a signed link.

use app::error::AppError;
use app::ids::JobId;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use crate::platform::error::ApiError;
use crate::platform::http::media_response;
use crate::platform::links::Signature;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/media/jobs/{id}/result", get(job_result))
        .route(&format!("{}/{{index}}", app::ai_tools::STYLE_PREVIEWS), get(style_preview))
}

/// A built-in style's thumbnail for the style picker: the same sample photo for everyone, so
/// public and long cached.
async fn style_preview(State(state): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index: u8 = index.parse().map_err(|_| AppError::NotFound)?;
    let jpeg = crate::ai_tools::tools::style::preview(&state.ai, index).await?;
    let mut response = Body::from(jpeg).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(response)
}

/// An AI job's result, for the before/after view and downloading.
async fn job_result(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let path = format!("/media/jobs/{id}/result");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    let id: JobId = id.parse().map_err(|_| AppError::NotFound)?;
    Ok(media_response(state.ai.result_media(owner, id).await?))
}
