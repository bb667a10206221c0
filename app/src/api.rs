//! Server functions: each extracts the owner and the service, calls one method, and returns
//! the typed error.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GalleryItem, PhotoId, PhotoSummary, VersionId};
use crate::recipe::EditRecipe;

#[cfg(feature = "ssr")]
mod context {
    use leptos::prelude::use_context;

    use crate::error::AppError;
    use crate::model::OwnerId;
    use crate::services::{session_owner, Photos};

    pub fn photos() -> Result<Photos, AppError> {
        use_context::<Photos>().ok_or_else(|| {
            tracing::error!("PhotoService missing from the Leptos context");
            AppError::Internal
        })
    }

    pub async fn owner() -> Result<Option<OwnerId>, AppError> {
        let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|error| {
            tracing::error!(%error, "no session on a server-function request");
            AppError::Internal
        })?;
        session_owner(&session).await
    }
}

#[server]
pub async fn list_photos() -> Result<Vec<PhotoSummary>, AppError> {
    match context::owner().await? {
        Some(owner) => context::photos()?.list_photos(owner).await,
        None => Ok(Vec::new()),
    }
}

#[server]
pub async fn get_photo(id: PhotoId) -> Result<PhotoSummary, AppError> {
    let owner = context::owner().await?.ok_or(AppError::NotFound)?;
    context::photos()?.photo(owner, id).await
}

#[server(input = Json)]
pub async fn save_to_gallery(photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError> {
    let owner = context::owner().await?.ok_or(AppError::NotFound)?;
    context::photos()?.save_version(owner, photo, recipe).await
}

#[server]
pub async fn list_gallery() -> Result<Vec<GalleryItem>, AppError> {
    match context::owner().await? {
        Some(owner) => context::photos()?.gallery(owner).await,
        None => Ok(Vec::new()),
    }
}

#[server]
pub async fn delete_gallery_item(id: VersionId) -> Result<(), AppError> {
    let owner = context::owner().await?.ok_or(AppError::NotFound)?;
    context::photos()?.delete_version(owner, id).await
}
