//! The media behind the API's signed links: originals, thumbnails, versions and AI results,
//! downloaded without the API key (the signature over the path, which names the workspace, is
//! the authority), until the link expires. A changed or expired link is 403; an object that is
//! not there (or not that workspace's) is 404.

use app::error::AppError;
use app::ids::OwnerId;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::common::id;
use super::export::attachment;
use super::schemas::Binary;
use crate::developer::error::{ApiError, ErrorBody};
use crate::photos::Variant;
use crate::platform::http::media_response;
use crate::platform::links::Signature;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Expiry, Unix seconds.
    exp: Option<i64>,
    /// The signature.
    sig: Option<String>,
}

/// A file behind a signed link from `links` or a job's `result_url`.
#[utoipa::path(
    get,
    path = "/api/v1/media/{owner}/{kind}/{id}/{variant}",
    tag = "media",
    operation_id = "download_media",
    params(
        ("owner" = uuid::Uuid, Path, description = "The workspace the link was made for."),
        ("kind" = String, Path, description = "`photos`, `versions` or `jobs`."),
        ("id" = uuid::Uuid, Path),
        ("variant" = String, Path, description = "photos: `original` or `thumbnail`; versions: `image` or `thumbnail`; jobs: `result`."),
        SignedQuery,
    ),
    responses(
        (status = 200, description = "The file.", content(
            (Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"), (Binary = "image/avif"),
            (Binary = "image/heic"), (Binary = "image/gif"), (Binary = "image/tiff"), (Binary = "image/bmp")
        )),
        (status = 403, description = "The link was changed or has expired.", body = ErrorBody),
    ),
    security(())
)]
pub async fn download(
    State(state): State<AppState>,
    Path((owner, kind, object, variant)): Path<(String, String, String, String)>,
    Query(signature): Query<SignedQuery>,
) -> Result<Response, ApiError> {
    // The path exactly as it came: any changed segment fails the signature.
    let path = format!("{}/media/{owner}/{kind}/{object}/{variant}", super::PREFIX);
    state.photos.links.check(&path, &Signature { exp: signature.exp, sig: signature.sig })?;
    let owner: OwnerId = id(&owner)?;
    let media = match (kind.as_str(), variant.as_str()) {
        ("photos", "original") => state.photos.photo_media(owner, id(&object)?, Variant::Full).await?,
        ("photos", "thumbnail") => state.photos.photo_media(owner, id(&object)?, Variant::Thumbnail).await?,
        ("versions", "image") => state.photos.version_media(owner, id(&object)?, Variant::Full).await?,
        ("versions", "thumbnail") => state.photos.version_media(owner, id(&object)?, Variant::Thumbnail).await?,
        ("jobs", "result") => state.ai.result_media(owner, id(&object)?).await?,
        _ => return Err(AppError::NotFound.into()),
    };
    Ok(attachment(media_response(media)))
}
