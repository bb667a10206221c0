//! Server functions for photos, the gallery and saved versions.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::photos::Photos;
#[cfg(feature = "ssr")]
use crate::server_fn::{owner, run, service, visitor};

use crate::error::AppError;
use crate::ids::{PhotoId, VersionId};
use crate::photos::{GalleryItem, PhotoSummary};
use crate::recipe::EditRecipe;

/// Opens the visitor's private workspace before a batch of uploads, so parallel first uploads
/// all land in the same one.
#[server(endpoint = "workspace/open")]
pub async fn open_workspace() -> Result<(), AppError> {
    run(async { crate::server_fn::workspace().await.map(|_| ()) }).await
}

#[server(endpoint = "photos/list")]
pub async fn list_photos() -> Result<Vec<PhotoSummary>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Photos>()?.list_photos(owner).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}

#[server(endpoint = "photos/get")]
pub async fn get_photo(id: PhotoId) -> Result<PhotoSummary, AppError> {
    run(async { service::<Photos>()?.photo(owner().await?, id).await }).await
}

#[server(endpoint = "gallery/save", input = Json)]
pub async fn save_to_gallery(photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError> {
    run(async { service::<Photos>()?.save_version(owner().await?, photo, recipe).await }).await
}

/// Where the photo's subject is after `recipe` (faces, else the salient object): x, y, width,
/// height in fractions of the edited image; none when nothing is found or no model is installed.
#[server(endpoint = "photos/subject", input = Json)]
pub async fn find_subject(photo: PhotoId, recipe: EditRecipe) -> Result<Option<[f32; 4]>, AppError> {
    run(async { service::<Photos>()?.subject(owner().await?, photo, recipe).await }).await
}

#[server(endpoint = "gallery/get")]
pub async fn get_version(id: VersionId) -> Result<GalleryItem, AppError> {
    run(async { service::<Photos>()?.version(owner().await?, id).await }).await
}

/// The signed link the gallery's "download selected" form sends to.
#[server(endpoint = "gallery/export-link")]
pub async fn gallery_export_link() -> Result<String, AppError> {
    run(async { Ok(service::<Photos>()?.selection_export_link()) }).await
}

/// How far the zip sent with `token` is (none when this server is not writing it).
#[server(endpoint = "gallery/export-progress")]
pub async fn zip_progress(token: String) -> Result<Option<crate::optimize::ZipProgress>, AppError> {
    run(async { service::<Photos>()?.zip_progress(owner().await?, token).await }).await
}

#[server(endpoint = "gallery/list")]
pub async fn list_gallery() -> Result<Vec<GalleryItem>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Photos>()?.gallery(owner).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}

#[server(endpoint = "gallery/delete")]
pub async fn delete_gallery_item(id: VersionId) -> Result<(), AppError> {
    run(async { service::<Photos>()?.delete_version(owner().await?, id).await }).await
}
