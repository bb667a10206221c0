//! Server functions for the AI tools: start a job, follow it, cancel it, keep its result; and
//! administrators' moderation queue.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::ai_tools::Ai;
#[cfg(feature = "ssr")]
use crate::server_fn::{admin, owner, run, service, visitor};

use crate::ai_tools::{AiJob, HeldPhoto, PhotoDescription, ToolRequest};
use crate::error::AppError;
use crate::ids::{JobId, PhotoId};
use crate::photos::PhotoSummary;

/// JSON in: the request carries a mask data URL for the eraser.
#[server(endpoint = "ai/start", input = Json)]
pub async fn start_tool(photo: PhotoId, request: ToolRequest) -> Result<AiJob, AppError> {
    run(async { service::<Ai>()?.start(owner().await?, photo, request).await }).await
}

#[server(endpoint = "ai/jobs")]
pub async fn photo_jobs(photo: PhotoId) -> Result<Vec<AiJob>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Ai>()?.jobs(owner, photo).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}

#[server(endpoint = "ai/cancel")]
pub async fn cancel_job(job: JobId) -> Result<(), AppError> {
    run(async { service::<Ai>()?.cancel(owner().await?, job).await }).await
}

#[server(endpoint = "ai/save")]
pub async fn save_result(job: JobId) -> Result<PhotoSummary, AppError> {
    run(async { service::<Ai>()?.save_result(owner().await?, job).await }).await
}

#[server(endpoint = "ai/keep-description", input = Json)]
pub async fn keep_description(photo: PhotoId, description: PhotoDescription) -> Result<PhotoSummary, AppError> {
    run(async { service::<Ai>()?.keep_description(owner().await?, photo, description).await }).await
}

#[server(endpoint = "ai/keep-alt-text")]
pub async fn keep_alt_text(photo: PhotoId, alt_text: String) -> Result<PhotoSummary, AppError> {
    run(async { service::<Ai>()?.keep_alt_text(owner().await?, photo, alt_text).await }).await
}

#[server(endpoint = "admin/held")]
pub async fn held_photos() -> Result<Vec<HeldPhoto>, AppError> {
    run(async { service::<Ai>()?.held_photos(admin().await?).await }).await
}

#[server(endpoint = "admin/decide-held")]
pub async fn decide_held(photo: PhotoId, release: bool) -> Result<(), AppError> {
    run(async { service::<Ai>()?.decide_held(admin().await?, photo, release).await }).await
}
