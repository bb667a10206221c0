//! The AI tools' own HTTP route: a job's result behind a signed link.

use app::error::AppError;
use app::ids::JobId;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use crate::platform::error::ApiError;
use crate::platform::http::media_response;
use crate::platform::links::Signature;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/jobs/{id}/result", get(job_result))
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
