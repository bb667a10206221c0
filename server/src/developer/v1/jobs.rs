//! AI tools: start a job on a photo, poll it, follow its result link, cancel it. The same
//! `AiService` (queue, validation, credits) the workspace's AI panel uses.

use app::ai_tools::{AiJob, AiService, ToolRequest};
use app::developer::Scope;
use app::ids::{JobId, OwnerId, PhotoId};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::common::{id, media_link, JsonBytes, State as JobState};
use super::schemas::ToolRequestSchema;
use super::{idempotency, webhooks};
use crate::developer::caller::ApiCaller;
use crate::developer::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// An AI job.
#[derive(Serialize, ToSchema)]
pub struct Job {
    #[schema(value_type = uuid::Uuid)]
    pub id: JobId,
    #[schema(value_type = uuid::Uuid)]
    pub photo_id: PhotoId,
    /// The tool's name (`remove-background`, `upscale`, …).
    pub tool: String,
    pub label: String,
    pub state: JobState,
    /// 0 to 1.
    pub progress: f32,
    pub attempts: u32,
    pub error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// A signed download link of the result image, once there is one (see `Links`).
    pub result_url: Option<String>,
    pub result_width: Option<u32>,
    pub result_height: Option<u32>,
    /// Tags and alt-text a `describe` job proposes.
    pub description: Option<Description>,
    /// The text a `copy-text` job read, rows on their own lines.
    pub text: Option<String>,
    /// The photo the result was kept as, when it was.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub saved_photo_id: Option<PhotoId>,
}

#[derive(Serialize, ToSchema)]
pub struct Description {
    pub tags: Vec<String>,
    pub alt_text: String,
    pub caption: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<Job>,
}

impl Job {
    pub fn of(state: &AppState, owner: OwnerId, job: AiJob) -> Self {
        let result_url =
            job.result_url.is_some().then(|| media_link(&state.photos.links, owner, "jobs", job.id, "result"));
        Self {
            id: job.id,
            photo_id: job.photo_id,
            tool: job.tool,
            label: job.label,
            state: job.state.into(),
            progress: job.progress,
            attempts: job.attempts,
            error: job.error,
            created_at: job.created_at,
            finished_at: job.finished_at,
            result_url,
            result_width: job.result_size.map(|(width, _)| width),
            result_height: job.result_size.map(|(_, height)| height),
            description: job.description.map(|d| Description {
                tags: d.tags,
                alt_text: d.alt_text,
                caption: d.caption,
            }),
            text: job.text,
            saved_photo_id: job.saved_photo_id,
        }
    }
}

/// Queues an AI tool on a photo. Poll `GET /api/v1/jobs/{id}`, or set a webhook URL on the key.
#[utoipa::path(
    post,
    path = "/api/v1/photos/{id}/jobs",
    tag = "ai",
    operation_id = "start_job",
    params(
        ("id" = uuid::Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency."),
    ),
    request_body = ToolRequestSchema,
    responses(
        (status = 202, description = "Queued.", body = Job),
        (status = 402, description = "Not enough credits (`insufficient_credits`).", body = ErrorBody),
    ),
    security(("bearer" = ["ai"]))
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
    headers: HeaderMap,
    body: JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Ai)?;
    let key = idempotency::key_of(&headers)?;
    let photo_id: PhotoId = id(&photo)?;
    let request: ToolRequest = body.parse()?;
    let fingerprint = idempotency::fingerprint("POST", &format!("/api/v1/photos/{photo}/jobs"), &[&body.0]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::ACCEPTED, || async {
        let job = state.ai.start(caller.owner, photo_id, request).await?;
        webhooks::started(&state, &caller, webhooks::Kind::Job, job.id.to_string()).await;
        Ok(Job::of(&state, caller.owner, job))
    })
    .await
}

/// The AI jobs on a photo, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/photos/{id}/jobs",
    tag = "ai",
    operation_id = "list_jobs",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = JobList)),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(photo): Path<String>,
) -> Result<Json<JobList>, ApiError> {
    caller.require(Scope::Read)?;
    let jobs = state.ai.jobs(caller.owner, id(&photo)?).await?;
    Ok(Json(JobList { items: jobs.into_iter().map(|job| Job::of(&state, caller.owner, job)).collect() }))
}

/// One AI job: poll it until `state` is `done`, `failed` or `cancelled`.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "ai",
    operation_id = "get_job",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Job)),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(job): Path<String>,
) -> Result<Json<Job>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(view(&state, caller.owner, id(&job)?).await?))
}

/// Cancels a queued or running job (a running one stops at its next step).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "ai",
    operation_id = "cancel_job",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Cancelled, or asked to stop.", body = Job)),
    security(("bearer" = ["ai"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(job): Path<String>,
) -> Result<Json<Job>, ApiError> {
    caller.require(Scope::Ai)?;
    let job: JobId = id(&job)?;
    // Only the owner's AI jobs (not another workspace's, nor a batch's items by this route).
    view(&state, caller.owner, job).await?;
    state.ai.cancel(caller.owner, job).await?;
    Ok(Json(view(&state, caller.owner, job).await?))
}

/// The job as `GET /api/v1/jobs/{id}` answers it (and its webhook carries it).
pub async fn view(state: &AppState, owner: OwnerId, job: JobId) -> Result<Job, ApiError> {
    let row = sqlx::query("SELECT photo_id FROM jobs WHERE id = $1 AND owner_id = $2")
        .bind(job.to_string())
        .bind(owner.to_string())
        .fetch_optional(state.db.pool())
        .await
        .map_err(app::error::AppError::from)?
        .ok_or(app::error::AppError::NotFound)?;
    let photo: String = row.try_get("photo_id").map_err(app::error::AppError::from)?;
    let photo: PhotoId = photo.parse().map_err(|_| app::error::AppError::NotFound)?;
    let jobs = state.ai.jobs(owner, photo).await?;
    let found = jobs.into_iter().find(|candidate| candidate.id == job).ok_or(app::error::AppError::NotFound)?;
    Ok(Job::of(state, owner, found))
}
