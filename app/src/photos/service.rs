//! The photo contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AppError;
use crate::ids::{OwnerId, PhotoId, VersionId};
use crate::optimize::ZipProgress;
use crate::photos::{GalleryItem, PhotoSummary};
use crate::recipe::EditRecipe;

#[async_trait]
pub trait PhotoService: Send + Sync + 'static {
    async fn list_photos(&self, owner: OwnerId) -> Result<Vec<PhotoSummary>, AppError>;
    async fn photo(&self, owner: OwnerId, photo: PhotoId) -> Result<PhotoSummary, AppError>;
    /// Replays `recipe` on the full-resolution original and stores the result as a new version.
    async fn save_version(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError>;
    async fn version(&self, owner: OwnerId, version: VersionId) -> Result<GalleryItem, AppError>;
    /// The subject's box (fractions) on the photo after `recipe`, for "fit the subject".
    async fn subject(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<Option<[f32; 4]>, AppError>;
    async fn gallery(&self, owner: OwnerId) -> Result<Vec<GalleryItem>, AppError>;
    async fn delete_version(&self, owner: OwnerId, version: VersionId) -> Result<(), AppError>;
    /// `current` when it still exists, otherwise a new guest owner.
    async fn guest_owner(&self, current: Option<OwnerId>) -> Result<OwnerId, AppError>;
    /// A signed link that exports the gallery items named in its query as one zip.
    fn selection_export_link(&self) -> String;
    /// How far the owner's zip sent with `token` is, while this server writes it (and minutes
    /// after).
    async fn zip_progress(&self, owner: OwnerId, token: String) -> Result<Option<ZipProgress>, AppError>;
}

/// Provided to every server function through Leptos context.
pub type Photos = Arc<dyn PhotoService>;
