//! Server functions for the AI tools: start a job, follow it, cancel it, keep its result; and
//! administrators' moderation queue. Each hands the session to `AiService`.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{AiJob, HeldPhoto, JobId, PhotoDescription, PhotoId, PhotoSummary, ToolRequest};

#[cfg(feature = "ssr")]
async fn with_ai<T, Fut>(work: impl FnOnce(crate::services::Ai, tower_sessions::Session) -> Fut) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    crate::api::context::with_service(work).await
}

/// JSON in: the request carries a mask data URL for the eraser.
#[server(endpoint = "ai/start", input = Json)]
pub async fn start_tool(photo: PhotoId, request: ToolRequest) -> Result<AiJob, AppError> {
    with_ai(|ai, session| async move { ai.start(&session, photo, request).await }).await
}

#[server(endpoint = "ai/jobs")]
pub async fn photo_jobs(photo: PhotoId) -> Result<Vec<AiJob>, AppError> {
    with_ai(|ai, session| async move { ai.jobs(&session, photo).await }).await
}

#[server(endpoint = "ai/cancel")]
pub async fn cancel_job(job: JobId) -> Result<(), AppError> {
    with_ai(|ai, session| async move { ai.cancel(&session, job).await }).await
}

#[server(endpoint = "ai/save")]
pub async fn save_result(job: JobId) -> Result<PhotoSummary, AppError> {
    with_ai(|ai, session| async move { ai.save_result(&session, job).await }).await
}

#[server(endpoint = "ai/keep-description", input = Json)]
pub async fn keep_description(photo: PhotoId, description: PhotoDescription) -> Result<PhotoSummary, AppError> {
    with_ai(|ai, session| async move { ai.keep_description(&session, photo, description).await }).await
}

#[server(endpoint = "admin/held")]
pub async fn held_photos() -> Result<Vec<HeldPhoto>, AppError> {
    with_ai(|ai, session| async move { ai.held_photos(&session).await }).await
}

#[server(endpoint = "admin/decide-held")]
pub async fn decide_held(photo: PhotoId, release: bool) -> Result<(), AppError> {
    with_ai(|ai, session| async move { ai.decide_held(&session, photo, release).await }).await
}
