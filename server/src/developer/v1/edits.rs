//! Edits: a recipe (the editor's one `EditRecipe`) saved as a new version of a photo, and the
//! saved versions (the gallery).

use app::developer::Scope;
use app::ids::VersionId;
use app::photos::{GalleryItem, PhotoService};
use app::recipe::EditRecipe;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{id, ApiQuery, JsonBytes, PageQuery};
use super::idempotency;
use super::schemas::RecipeSchema;
use crate::developer::caller::ApiCaller;
use crate::developer::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A saved version: the original with a recipe applied.
#[derive(Serialize, ToSchema)]
pub struct Version {
    #[schema(value_type = uuid::Uuid)]
    pub id: VersionId,
    #[schema(value_type = uuid::Uuid)]
    pub photo_id: app::ids::PhotoId,
    pub name: String,
    pub width: u32,
    pub height: u32,
    #[schema(value_type = RecipeSchema)]
    pub recipe: EditRecipe,
    /// Unix seconds.
    pub created_at: i64,
    /// When retention deletes it (Unix seconds).
    pub expires_at: i64,
    /// The batch pipeline that made it, if one did.
    pub pipeline: Option<String>,
}

impl From<GalleryItem> for Version {
    fn from(item: GalleryItem) -> Self {
        Self {
            id: item.id,
            photo_id: item.photo_id,
            name: item.name,
            width: item.width,
            height: item.height,
            recipe: item.recipe,
            created_at: item.created_at,
            expires_at: item.expires_at,
            pipeline: item.pipeline,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionPage {
    pub items: Vec<Version>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct SaveVersion {
    #[schema(value_type = RecipeSchema)]
    pub recipe: EditRecipe,
}

/// Replays the recipe on the full-resolution original and saves the result as a new version.
#[utoipa::path(
    post,
    path = "/api/v1/photos/{id}/versions",
    tag = "edits",
    operation_id = "save_version",
    params(
        ("id" = uuid::Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency."),
    ),
    request_body = SaveVersion,
    responses(
        (status = 201, description = "Saved.", body = Version),
        (status = 400, description = "The recipe cannot be applied (`invalid_recipe`).", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn save(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
    headers: HeaderMap,
    body: JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let key = idempotency::key_of(&headers)?;
    let photo_id = id(&photo)?;
    let request: SaveVersion = body.parse()?;
    let fingerprint = idempotency::fingerprint("POST", &format!("/api/v1/photos/{photo}/versions"), &[&body.0]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::CREATED, || async {
        Ok(Version::from(state.photos.save_version(caller.owner, photo_id, request.recipe).await?))
    })
    .await
}

/// The saved versions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/versions",
    tag = "edits",
    operation_id = "list_versions",
    params(PageQuery),
    responses((status = 200, body = VersionPage)),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<VersionPage>, ApiError> {
    caller.require(Scope::Read)?;
    let (items, next_cursor) = page.page(state.photos.gallery(caller.owner).await?)?;
    Ok(Json(VersionPage { items: items.into_iter().map(Version::from).collect(), next_cursor }))
}

#[utoipa::path(
    get,
    path = "/api/v1/versions/{id}",
    tag = "edits",
    operation_id = "get_version",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Version)),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(version): Path<String>,
) -> Result<Json<Version>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(state.photos.version(caller.owner, id(&version)?).await?.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/versions/{id}",
    tag = "edits",
    operation_id = "delete_version",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(version): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Write)?;
    state.photos.delete_version(caller.owner, id(&version)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
