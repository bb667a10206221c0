//! `/api/v1/photos`: upload (multipart), list, get, delete, and media links. The same
//! `PhotoService` and upload path the workspace uses.

use app::developer::Scope;
use app::error::AppError;
use app::ids::PhotoId;
use app::photos::{GalleryItem, PhotoService, PhotoSummary};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{id, media_link, ApiQuery, PageQuery};
use super::idempotency;
use crate::developer::caller::ApiCaller;
use crate::developer::error::{ApiError, ErrorBody};
use crate::photos::display_name;
use crate::platform::db::now;
use crate::state::AppState;

/// A photo in the workspace.
#[derive(Serialize, ToSchema)]
pub struct Photo {
    #[schema(value_type = uuid::Uuid)]
    pub id: PhotoId,
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Moderation holds it for an administrator: no media or tools until released.
    pub held: bool,
    pub alt_text: Option<String>,
    pub tags: Vec<String>,
}

impl From<PhotoSummary> for Photo {
    fn from(photo: PhotoSummary) -> Self {
        Self {
            id: photo.id,
            name: photo.name,
            width: photo.width,
            height: photo.height,
            created_at: photo.created_at,
            held: photo.held,
            alt_text: photo.alt_text,
            tags: photo.tags,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PhotoPage {
    pub items: Vec<Photo>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Signed download links, valid until `expires_at` without the API key (like a presigned
/// storage URL): keep them private.
#[derive(Serialize, ToSchema)]
pub struct PhotoLinks {
    pub original: String,
    pub thumbnail: String,
    /// The saved versions of the photo, newest first.
    pub versions: Vec<VersionLinks>,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct VersionLinks {
    #[schema(value_type = uuid::Uuid)]
    pub id: app::ids::VersionId,
    pub image: String,
    pub thumbnail: String,
}

/// The multipart form of an upload: one part named `file` (its filename becomes the photo's
/// name).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads one image (JPEG, PNG, WebP, AVIF, HEIC, …: decided by its content, not its name).
#[utoipa::path(
    post,
    path = "/api/v1/photos",
    tag = "photos",
    operation_id = "upload_photo",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency.")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored.", body = Photo),
        (status = 413, description = "Larger than the upload limit.", body = ErrorBody),
        (status = 415, description = "Not an image Atelier accepts.", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let key = idempotency::key_of(&headers)?;
    let limit = state.settings.limits.max_upload_bytes;
    let too_large = || ApiError::from(AppError::TooLarge { limit_mb: limit / (1024 * 1024) });
    // The form around the file adds a little; a body declared far beyond the limit is refused
    // before a byte is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(64 * 1024)) {
        return Err(too_large());
    }
    // A few uploads at a time, as in the workspace: each may hold its file and pixels in memory.
    let _slot = state.limits.upload_slot().await?;
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(|error| multipart_error(&error))? {
        if field.name() != Some("file") {
            continue;
        }
        if file.is_some() {
            return Err(super::common::bad_request("Send one file per request, in the part named \"file\"."));
        }
        let name = display_name(field.file_name());
        let mut bytes = Vec::new();
        // Read as it arrives, and stopped at the limit.
        while let Some(chunk) = field.chunk().await.map_err(|error| multipart_error(&error))? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        file = Some((name, bytes));
    }
    let Some((name, bytes)) = file else {
        return Err(super::common::bad_request("Send the image as a multipart form part named \"file\"."));
    };
    if bytes.is_empty() {
        return Err(AppError::BadRequest("The file is empty.".into()).into());
    }
    let fingerprint = idempotency::fingerprint("POST", "/api/v1/photos", &[name.as_bytes(), &bytes]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::CREATED, || async {
        let meter = crate::data::usage::Meter::start();
        let ingested = state.photos.ingest(bytes.into()).await?;
        let photo = state.photos.store(caller.owner, &name, ingested, meter).await?;
        tracing::info!(photo = %photo.id, key = %caller.key_id, "photo uploaded through the API");
        Ok(Photo::from(photo))
    })
    .await
}

fn multipart_error(error: &axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "The upload is larger than the limit.")
    } else {
        super::common::bad_request(format!("The multipart form could not be read: {}.", error.body_text()))
    }
}

/// The workspace's photos, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/photos",
    tag = "photos",
    operation_id = "list_photos",
    params(PageQuery),
    responses((status = 200, body = PhotoPage)),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<PhotoPage>, ApiError> {
    caller.require(Scope::Read)?;
    let photos = state.photos.list_photos(caller.owner).await?;
    let (items, next_cursor) = page.page(photos)?;
    Ok(Json(PhotoPage { items: items.into_iter().map(Photo::from).collect(), next_cursor }))
}

#[utoipa::path(
    get,
    path = "/api/v1/photos/{id}",
    tag = "photos",
    operation_id = "get_photo",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Photo)),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
) -> Result<Json<Photo>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(state.photos.photo(caller.owner, id(&photo)?).await?.into()))
}

/// Deletes the photo with its saved versions; files are purged at once.
#[utoipa::path(
    delete,
    path = "/api/v1/photos/{id}",
    tag = "photos",
    operation_id = "delete_photo",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Write)?;
    state.photos.delete_photo(caller.owner, id(&photo)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signed download links for the original, its thumbnail and each saved version.
#[utoipa::path(
    get,
    path = "/api/v1/photos/{id}/links",
    tag = "photos",
    operation_id = "photo_links",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = PhotoLinks), (status = 403, description = "Held for review.", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn links(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
) -> Result<Json<PhotoLinks>, ApiError> {
    caller.require(Scope::Read)?;
    let photo = state.photos.photo(caller.owner, id(&photo)?).await?;
    if photo.held {
        return Err(AppError::Forbidden(
            "This photo is held for review; it cannot be downloaded until released.".into(),
        )
        .into());
    }
    let links = &state.photos.links;
    let owner = caller.owner;
    let versions: Vec<GalleryItem> =
        state.photos.gallery(owner).await?.into_iter().filter(|item| item.photo_id == photo.id).collect();
    Ok(Json(PhotoLinks {
        original: media_link(links, owner, "photos", photo.id, "original"),
        thumbnail: media_link(links, owner, "photos", photo.id, "thumbnail"),
        versions: versions
            .into_iter()
            .map(|item| VersionLinks {
                id: item.id,
                image: media_link(links, owner, "versions", item.id, "image"),
                thumbnail: media_link(links, owner, "versions", item.id, "thumbnail"),
            })
            .collect(),
        expires_at: now() + state.settings.retention.download_link_secs,
    }))
}
