//! The batch contract the server keeps: pipelines (ready and saved), and batches of jobs.

use std::sync::Arc;

use async_trait::async_trait;

use crate::batch::{BatchAction, BatchDetail, BatchSummary, Pipeline, PipelineChoice, PipelineView};
use crate::error::AppError;
use crate::ids::{BatchId, OwnerId, PhotoId, PipelineId};

#[async_trait]
pub trait BatchService: Send + Sync + 'static {
    /// The ready pipelines, then the owner's own, newest first.
    async fn pipelines(&self, owner: OwnerId) -> Result<Vec<PipelineView>, AppError>;
    async fn save_pipeline(&self, owner: OwnerId, pipeline: Pipeline) -> Result<PipelineView, AppError>;
    async fn delete_pipeline(&self, owner: OwnerId, id: PipelineId) -> Result<(), AppError>;
    /// Queues one job per photo under a new batch. `preview` runs one photo and never saves.
    async fn run(
        &self,
        owner: OwnerId,
        choice: PipelineChoice,
        photos: Vec<PhotoId>,
        save_to_gallery: bool,
        preview: bool,
    ) -> Result<BatchSummary, AppError>;
    /// The owner's batches, newest first.
    async fn batches(&self, owner: OwnerId) -> Result<Vec<BatchSummary>, AppError>;
    async fn batch(&self, owner: OwnerId, id: BatchId) -> Result<BatchDetail, AppError>;
    async fn control(&self, owner: OwnerId, id: BatchId, action: BatchAction) -> Result<BatchSummary, AppError>;
}

pub type Batches = Arc<dyn BatchService>;
