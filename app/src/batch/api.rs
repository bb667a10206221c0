//! Server functions for pipelines and batches.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::batch::Batches;
#[cfg(feature = "ssr")]
use crate::server_fn::{owner, run, service, visitor};

use crate::batch::{BatchAction, BatchDetail, BatchSummary, Pipeline, PipelineChoice, PipelineView};
use crate::error::AppError;
use crate::ids::{BatchId, PhotoId, PipelineId};

#[server(endpoint = "batch/pipelines")]
pub async fn list_pipelines() -> Result<Vec<PipelineView>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Batches>()?.pipelines(owner).await,
            // A visitor without a workspace yet sees the ready ones.
            None => Ok(crate::batch::ready_views()),
        }
    })
    .await
}

#[server(endpoint = "batch/save-pipeline", input = Json)]
pub async fn save_pipeline(pipeline: Pipeline) -> Result<PipelineView, AppError> {
    run(async { service::<Batches>()?.save_pipeline(owner().await?, pipeline).await }).await
}

#[server(endpoint = "batch/delete-pipeline")]
pub async fn delete_pipeline(id: PipelineId) -> Result<(), AppError> {
    run(async { service::<Batches>()?.delete_pipeline(owner().await?, id).await }).await
}

#[server(endpoint = "batch/run", input = Json)]
pub async fn run_batch(
    choice: PipelineChoice,
    photos: Vec<PhotoId>,
    save_to_gallery: bool,
    preview: bool,
) -> Result<BatchSummary, AppError> {
    run(async { service::<Batches>()?.run(owner().await?, choice, photos, save_to_gallery, preview).await }).await
}

#[server(endpoint = "batch/list")]
pub async fn list_batches() -> Result<Vec<BatchSummary>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Batches>()?.batches(owner).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}

#[server(endpoint = "batch/get")]
pub async fn get_batch(id: BatchId) -> Result<BatchDetail, AppError> {
    run(async {
        let owner = visitor().await?.ok_or(AppError::NotFound)?;
        service::<Batches>()?.batch(owner, id).await
    })
    .await
}

#[server(endpoint = "batch/control")]
pub async fn control_batch(id: BatchId, action: BatchAction) -> Result<BatchSummary, AppError> {
    run(async { service::<Batches>()?.control(owner().await?, id, action).await }).await
}
