//! Generation: start a run on a configured image service, poll it, list and cancel runs. The
//! same `GenerationService` the studio uses.

use std::sync::Arc;

use app::developer::Scope;
use app::generate::{GenerateRequest, Generation, GenerationService};
use app::ids::{GenerationId, OwnerId};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{id, ApiQuery, JsonBytes, PageQuery, State as JobState};
use super::photos::Photo;
use super::schemas::GenerateRequestSchema;
use super::{idempotency, webhooks};
use crate::developer::caller::ApiCaller;
use crate::developer::error::{ApiError, ErrorBody};
use crate::generate::GenerationStore;
use crate::state::AppState;

fn service(state: &AppState) -> Arc<dyn GenerationService> {
    Arc::new(GenerationStore { ai: state.ai.clone() })
}

/// One generation run.
#[derive(Serialize, ToSchema)]
pub struct GenerationRun {
    #[schema(value_type = uuid::Uuid)]
    pub id: GenerationId,
    #[schema(value_type = GenerateRequestSchema)]
    pub request: GenerateRequest,
    pub model: Option<String>,
    pub seed: Option<u32>,
    pub width: u32,
    pub height: u32,
    /// `null` once the queue has forgotten the run's job (a day after it).
    pub state: Option<JobState>,
    /// 0 to 1.
    pub progress: f32,
    pub error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The images made so far, each a photo of the workspace (links: `GET /api/v1/photos/{id}/links`).
    pub images: Vec<GeneratedImage>,
}

#[derive(Serialize, ToSchema)]
pub struct GeneratedImage {
    pub photo: Photo,
    pub seed: Option<u32>,
    /// Saved to the gallery.
    pub saved: bool,
}

impl From<Generation> for GenerationRun {
    fn from(run: Generation) -> Self {
        Self {
            id: run.id,
            request: run.request,
            model: run.model,
            seed: run.seed,
            width: run.width,
            height: run.height,
            state: run.state.map(JobState::from),
            progress: run.progress,
            error: run.error,
            created_at: run.created_at,
            images: run
                .images
                .into_iter()
                .map(|image| GeneratedImage { photo: image.photo.into(), seed: image.seed, saved: image.saved })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GenerationPage {
    pub items: Vec<GenerationRun>,
    pub next_cursor: Option<String>,
}

/// Queues a generation run on one of the configured image services.
#[utoipa::path(
    post,
    path = "/api/v1/generations",
    tag = "generation",
    operation_id = "start_generation",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency.")),
    request_body = GenerateRequestSchema,
    responses(
        (status = 202, description = "Queued.", body = GenerationRun),
        (status = 402, description = "Not enough credits (`insufficient_credits`).", body = ErrorBody),
    ),
    security(("bearer" = ["generate"]))
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    headers: HeaderMap,
    body: JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Generate)?;
    let key = idempotency::key_of(&headers)?;
    let request: GenerateRequest = body.parse()?;
    let fingerprint = idempotency::fingerprint("POST", "/api/v1/generations", &[&body.0]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::ACCEPTED, || async {
        let run = service(&state).start(caller.owner, request).await?;
        webhooks::started(&state, &caller, webhooks::Kind::Generation, run.id.to_string()).await;
        Ok(GenerationRun::from(run))
    })
    .await
}

/// The workspace's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/generations",
    tag = "generation",
    operation_id = "list_generations",
    params(PageQuery),
    responses((status = 200, body = GenerationPage)),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<GenerationPage>, ApiError> {
    caller.require(Scope::Read)?;
    let (items, next_cursor) = page.page(service(&state).history(caller.owner, String::new()).await?)?;
    Ok(Json(GenerationPage { items: items.into_iter().map(GenerationRun::from).collect(), next_cursor }))
}

/// One run: poll it until `state` is `done`, `failed` or `cancelled`.
#[utoipa::path(
    get,
    path = "/api/v1/generations/{id}",
    tag = "generation",
    operation_id = "get_generation",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = GenerationRun)),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(run): Path<String>,
) -> Result<Json<GenerationRun>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(view(&state, caller.owner, id(&run)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/generations/{id}/cancel",
    tag = "generation",
    operation_id = "cancel_generation",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = GenerationRun)),
    security(("bearer" = ["generate"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(run): Path<String>,
) -> Result<Json<GenerationRun>, ApiError> {
    caller.require(Scope::Generate)?;
    let run: GenerationId = id(&run)?;
    service(&state).cancel(caller.owner, run).await?;
    Ok(Json(view(&state, caller.owner, run).await?))
}

pub async fn view(state: &AppState, owner: OwnerId, run: GenerationId) -> Result<GenerationRun, ApiError> {
    Ok(service(state).generation(owner, run).await?.into())
}
