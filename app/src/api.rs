//! Server functions: each extracts the owner and the service, calls one method, and returns
//! the typed error.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GalleryItem, PhotoId, PhotoSummary, VersionId};
use crate::recipe::EditRecipe;

#[cfg(feature = "ssr")]
pub(crate) mod context {
    use leptos::prelude::use_context;

    use crate::error::AppError;
    use crate::model::OwnerId;
    use crate::services::{session_owner, Photos};

    /// A service the server provided through the Leptos context.
    pub fn service<S: Clone + Send + Sync + 'static>() -> Result<S, AppError> {
        use_context::<S>().ok_or_else(|| {
            tracing::error!(service = std::any::type_name::<S>(), "service missing from the Leptos context");
            AppError::Internal
        })
    }

    pub fn photos() -> Result<Photos, AppError> {
        service()
    }

    pub async fn session() -> Result<tower_sessions::Session, AppError> {
        leptos_axum::extract().await.map_err(|error| {
            tracing::error!(%error, "no session on a server-function request");
            AppError::Internal
        })
    }

    pub async fn owner() -> Result<Option<OwnerId>, AppError> {
        session_owner(&session().await?).await
    }

    /// Runs `work` for the session's owner; a visitor who owns nothing gets `NotFound`, as a
    /// stranger does.
    pub async fn as_owner<T, Fut>(work: impl FnOnce(Photos, OwnerId) -> Fut) -> Result<T, AppError>
    where
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        respond(async { work(photos()?, owner().await?.ok_or(AppError::NotFound)?).await }.await)
    }

    /// Runs `work` with the service `S` from the Leptos context and the request's session.
    pub async fn with_service<S, T, Fut>(work: impl FnOnce(S, tower_sessions::Session) -> Fut) -> Result<T, AppError>
    where
        S: Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        respond(async { work(service()?, session().await?).await }.await)
    }

    /// Answers an error with the status it names rather than a blanket 500.
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(error) = &result {
            if let (Some(response), Ok(status)) =
                (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(error.status()))
            {
                response.set_status(status);
            }
        }
        result
    }
}

/// Opens the visitor's private workspace before a batch of uploads, so parallel first uploads
/// all land in the same one.
#[server(endpoint = "workspace/open")]
pub async fn open_workspace() -> Result<(), AppError> {
    context::respond(
        async {
            let photos = context::photos()?;
            crate::services::ensure_session_owner(&context::session().await?, photos.as_ref()).await.map(|_| ())
        }
        .await,
    )
}

#[server(endpoint = "photos/list")]
pub async fn list_photos() -> Result<Vec<PhotoSummary>, AppError> {
    context::respond(
        async {
            match context::owner().await? {
                Some(owner) => context::photos()?.list_photos(owner).await,
                None => Ok(Vec::new()),
            }
        }
        .await,
    )
}

#[server(endpoint = "photos/get")]
pub async fn get_photo(id: PhotoId) -> Result<PhotoSummary, AppError> {
    context::as_owner(|photos, owner| async move { photos.photo(owner, id).await }).await
}

#[server(endpoint = "gallery/save", input = Json)]
pub async fn save_to_gallery(photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError> {
    context::as_owner(|photos, owner| async move { photos.save_version(owner, photo, recipe).await }).await
}

#[server(endpoint = "gallery/get")]
pub async fn get_version(id: VersionId) -> Result<GalleryItem, AppError> {
    context::as_owner(|photos, owner| async move { photos.version(owner, id).await }).await
}

#[server(endpoint = "gallery/list")]
pub async fn list_gallery() -> Result<Vec<GalleryItem>, AppError> {
    context::respond(
        async {
            match context::owner().await? {
                Some(owner) => context::photos()?.gallery(owner).await,
                None => Ok(Vec::new()),
            }
        }
        .await,
    )
}

#[server(endpoint = "gallery/delete")]
pub async fn delete_gallery_item(id: VersionId) -> Result<(), AppError> {
    context::as_owner(|photos, owner| async move { photos.delete_version(owner, id).await }).await
}
