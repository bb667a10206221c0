//! The AI tools' contract the server keeps: jobs on the durable queue, their results,
//! moderation's held uploads.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ai_tools::{AiJob, HeldPhoto, PhotoDescription, ToolRequest};
use crate::error::AppError;
use crate::ids::{Admin, JobId, OwnerId, PhotoId};
use crate::photos::PhotoSummary;

#[async_trait]
pub trait AiService: Send + Sync + 'static {
    /// Queues `request` on one of the owner's photos.
    async fn start(&self, owner: OwnerId, photo: PhotoId, request: ToolRequest) -> Result<AiJob, AppError>;
    /// The owner's jobs on a photo, newest first, with fresh signed links.
    async fn jobs(&self, owner: OwnerId, photo: PhotoId) -> Result<Vec<AiJob>, AppError>;
    async fn cancel(&self, owner: OwnerId, job: JobId) -> Result<(), AppError>;
    /// Keeps a finished image result: a new photo in the workspace, saved to the gallery.
    async fn save_result(&self, owner: OwnerId, job: JobId) -> Result<PhotoSummary, AppError>;
    /// Keeps tags and alt-text (as proposed or as the person edited them) on the photo.
    async fn keep_description(
        &self,
        owner: OwnerId,
        photo: PhotoId,
        description: PhotoDescription,
    ) -> Result<PhotoSummary, AppError>;
    /// Keeps `alt_text` as the photo's alt-text, its tags untouched (the text read in it, say).
    async fn keep_alt_text(&self, owner: OwnerId, photo: PhotoId, alt_text: String) -> Result<PhotoSummary, AppError>;
    /// Uploads moderation held.
    async fn held_photos(&self, admin: Admin) -> Result<Vec<HeldPhoto>, AppError>;
    /// Releases a held upload to its owner, or deletes it.
    async fn decide_held(&self, admin: Admin, photo: PhotoId, release: bool) -> Result<(), AppError>;
}

pub type Ai = Arc<dyn AiService>;
