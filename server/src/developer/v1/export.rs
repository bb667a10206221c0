//! Export: the optimizer's export (format, quality, size, weight, presets, metadata) of an
//! original (with an unsaved recipe, if given) or a saved version, answered as the file itself.

use app::developer::Scope;
use app::optimize::ExportSettings;
use app::recipe::EditRecipe;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use utoipa::ToSchema;

use super::common::{id, ApiJson};
use super::schemas::{Binary, ExportSettingsSchema, RecipeSchema};
use crate::developer::caller::ApiCaller;
use crate::developer::error::ApiError;
use crate::optimize::{export_media, Source};
use crate::platform::http::media_response;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ExportPhoto {
    #[serde(default)]
    #[schema(value_type = Option<ExportSettingsSchema>)]
    pub settings: Option<ExportSettings>,
    /// An edit to apply first, as saving would (not saved).
    #[serde(default)]
    #[schema(value_type = Option<RecipeSchema>)]
    pub recipe: Option<EditRecipe>,
}

#[derive(Deserialize, ToSchema)]
pub struct ExportVersion {
    #[serde(default)]
    #[schema(value_type = Option<ExportSettingsSchema>)]
    pub settings: Option<ExportSettings>,
}

/// Exports an original, optionally with an edit applied.
#[utoipa::path(
    post,
    path = "/api/v1/photos/{id}/export",
    tag = "export",
    operation_id = "export_photo",
    params(("id" = uuid::Uuid, Path)),
    request_body = ExportPhoto,
    responses((status = 200, description = "The exported file, as a download.", content(
        (Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"), (Binary = "image/avif")
    ))),
    security(("bearer" = ["write"]))
)]
pub async fn photo(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
    ApiJson(request): ApiJson<ExportPhoto>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let photo = id(&photo)?;
    let source = match request.recipe {
        Some(recipe) => Source::Edit(photo, recipe),
        None => Source::Photo(photo),
    };
    let (media, _) = export_media(&state.photos, caller.owner, source, request.settings.unwrap_or_default()).await?;
    Ok(attachment(media_response(media)))
}

/// Exports a saved version.
#[utoipa::path(
    post,
    path = "/api/v1/versions/{id}/export",
    tag = "export",
    operation_id = "export_version",
    params(("id" = uuid::Uuid, Path)),
    request_body = ExportVersion,
    responses((status = 200, description = "The exported file, as a download.", content(
        (Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"), (Binary = "image/avif")
    ))),
    security(("bearer" = ["write"]))
)]
pub async fn version(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(version): Path<String>,
    ApiJson(request): ApiJson<ExportVersion>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let source = Source::Version(id(&version)?);
    let (media, _) = export_media(&state.photos, caller.owner, source, request.settings.unwrap_or_default()).await?;
    Ok(attachment(media_response(media)))
}

/// A download saved under its name, never sniffed as something else.
pub fn attachment(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let disposition = headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| HeaderValue::from_str(&value.replacen("inline", "attachment", 1)).ok());
    if let Some(value) = disposition {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
