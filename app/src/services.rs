//! The contracts the server keeps. Server functions call these; `server/` implements them.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::{GalleryItem, OwnerId, PhotoId, PhotoSummary, VersionId};
use crate::recipe::EditRecipe;

#[async_trait]
pub trait PhotoService: Send + Sync + 'static {
    async fn list_photos(&self, owner: OwnerId) -> Result<Vec<PhotoSummary>, AppError>;
    async fn photo(&self, owner: OwnerId, photo: PhotoId) -> Result<PhotoSummary, AppError>;
    /// Replays `recipe` on the full-resolution original and stores the result as a new version.
    async fn save_version(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError>;
    async fn version(&self, owner: OwnerId, version: VersionId) -> Result<GalleryItem, AppError>;
    async fn gallery(&self, owner: OwnerId) -> Result<Vec<GalleryItem>, AppError>;
    async fn delete_version(&self, owner: OwnerId, version: VersionId) -> Result<(), AppError>;
    /// `current` when it still exists, otherwise a new guest owner.
    async fn guest_owner(&self, current: Option<OwnerId>) -> Result<OwnerId, AppError>;
}

/// Provided to every server function through Leptos context.
pub type Photos = Arc<dyn PhotoService>;

/// The session key holding the visitor's owner id.
pub const OWNER_KEY: &str = "owner_id";

/// The owner tied to this session, if the visitor has stored anything yet.
pub async fn session_owner(session: &Session) -> Result<Option<OwnerId>, AppError> {
    session.get::<OwnerId>(OWNER_KEY).await.map_err(|error| {
        tracing::error!(%error, "reading the session failed");
        AppError::Internal
    })
}

/// The session's owner, creating a guest owner (and so the session) when there is none yet.
pub async fn ensure_session_owner(session: &Session, photos: &dyn PhotoService) -> Result<OwnerId, AppError> {
    let current = session_owner(session).await?;
    let owner = photos.guest_owner(current).await?;
    if current != Some(owner) {
        session.insert(OWNER_KEY, owner).await.map_err(|error| {
            tracing::error!(%error, "writing the session failed");
            AppError::Internal
        })?;
    }
    Ok(owner)
}
