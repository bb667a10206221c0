//! Batches and pipelines: the ready pipelines and the workspace's own, saving one, running one
//! over many photos (one queued job per photo), polling and controlling a batch. The same
//! `BatchService` the batch page uses.

use std::sync::Arc;

use app::batch::{BatchAction, BatchDetail, BatchService, BatchSummary, Pipeline, PipelineChoice, PipelineView};
use app::developer::Scope;
use app::ids::{BatchId, JobId, OwnerId, PhotoId, VersionId};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{bad_request, id, ApiQuery, JsonBytes, PageQuery, State as JobState};
use super::schemas::PipelineSchema;
use super::{idempotency, webhooks};
use crate::batch::BatchStore;
use crate::developer::caller::ApiCaller;
use crate::developer::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn service(state: &AppState) -> Arc<dyn BatchService> {
    Arc::new(BatchStore { ai: state.ai.clone() })
}

/// Which pipeline: a ready one by its id (`kind: ready`), a saved one (`kind: saved`), or one
/// given whole (`kind: unsaved`, with `pipeline`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Choice {
    pub kind: ChoiceKind,
    /// The ready pipeline's id, or the saved one's.
    pub id: Option<String>,
    #[schema(value_type = Option<PipelineSchema>)]
    pub pipeline: Option<Pipeline>,
}

#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceKind {
    Ready,
    Saved,
    Unsaved,
}

impl Choice {
    fn of(choice: PipelineChoice) -> Self {
        match choice {
            PipelineChoice::Ready { id } => Choice { kind: ChoiceKind::Ready, id: Some(id), pipeline: None },
            PipelineChoice::Saved { id } => {
                Choice { kind: ChoiceKind::Saved, id: Some(id.to_string()), pipeline: None }
            }
            PipelineChoice::Unsaved { pipeline } => {
                Choice { kind: ChoiceKind::Unsaved, id: None, pipeline: Some(pipeline) }
            }
        }
    }

    fn into_choice(self) -> Result<PipelineChoice, ApiError> {
        let missing_id = || bad_request("Name the pipeline with \"id\".");
        Ok(match self.kind {
            ChoiceKind::Ready => PipelineChoice::Ready { id: self.id.ok_or_else(missing_id)? },
            ChoiceKind::Saved => PipelineChoice::Saved {
                id: self.id.ok_or_else(missing_id)?.parse().map_err(|_| bad_request("That pipeline id is not one."))?,
            },
            ChoiceKind::Unsaved => PipelineChoice::Unsaved {
                pipeline: self.pipeline.ok_or_else(|| bad_request("Give the pipeline itself in \"pipeline\"."))?,
            },
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct PipelineEntry {
    /// How to run it (`choice` in `POST /api/v1/batches`).
    pub choice: Choice,
    #[schema(value_type = PipelineSchema)]
    pub pipeline: Pipeline,
    /// A ready pipeline (cannot be deleted).
    pub ready: bool,
}

impl From<PipelineView> for PipelineEntry {
    fn from(view: PipelineView) -> Self {
        Self { choice: Choice::of(view.choice), pipeline: view.pipeline, ready: view.ready }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PipelineList {
    pub items: Vec<PipelineEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct Counts {
    pub total: u32,
    pub queued: u32,
    pub running: u32,
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Batch {
    #[schema(value_type = uuid::Uuid)]
    pub id: BatchId,
    pub name: String,
    pub steps: Vec<String>,
    pub counts: Counts,
    /// Nothing is queued or running any more.
    pub finished: bool,
    pub paused: bool,
    pub save_to_gallery: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Seconds left at the pace so far.
    pub eta_secs: Option<u64>,
}

impl From<BatchSummary> for Batch {
    fn from(batch: BatchSummary) -> Self {
        let c = batch.counts;
        Self {
            id: batch.id,
            name: batch.name,
            steps: batch.steps,
            finished: c.finished(),
            counts: Counts {
                total: c.total,
                queued: c.queued,
                running: c.running,
                done: c.done,
                failed: c.failed,
                cancelled: c.cancelled,
            },
            paused: batch.paused,
            save_to_gallery: batch.save_to_gallery,
            created_at: batch.created_at,
            eta_secs: batch.eta_secs,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BatchItem {
    #[schema(value_type = uuid::Uuid)]
    pub job: JobId,
    #[schema(value_type = uuid::Uuid)]
    pub photo: PhotoId,
    pub name: String,
    pub state: JobState,
    pub step: Option<String>,
    pub progress: f32,
    pub error: Option<String>,
    /// The version it was saved as (with `save_to_gallery`).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub version: Option<VersionId>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchWithItems {
    pub batch: Batch,
    pub items: Vec<BatchItem>,
}

impl From<BatchDetail> for BatchWithItems {
    fn from(detail: BatchDetail) -> Self {
        Self {
            batch: detail.summary.into(),
            items: detail
                .items
                .into_iter()
                .map(|item| BatchItem {
                    job: item.job,
                    photo: item.photo,
                    name: item.name,
                    state: item.state.into(),
                    step: item.step,
                    progress: item.progress,
                    error: item.error,
                    version: item.version,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BatchPage {
    pub items: Vec<Batch>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewBatch {
    pub choice: Choice,
    /// The photos to run it over (at most 500).
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub photos: Vec<PhotoId>,
    /// Keep each result as a version of its original.
    #[serde(default)]
    pub save_to_gallery: bool,
}

/// The ready pipelines, then the workspace's own.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines",
    tag = "batches",
    operation_id = "list_pipelines",
    responses((status = 200, body = PipelineList)),
    security(("bearer" = ["read"]))
)]
pub async fn pipelines(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
) -> Result<Json<PipelineList>, ApiError> {
    caller.require(Scope::Read)?;
    let items = service(&state).pipelines(caller.owner).await?;
    Ok(Json(PipelineList { items: items.into_iter().map(PipelineEntry::from).collect() }))
}

/// Saves a pipeline to the workspace.
#[utoipa::path(
    post,
    path = "/api/v1/pipelines",
    tag = "batches",
    operation_id = "create_pipeline",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency.")),
    request_body = PipelineSchema,
    responses((status = 201, description = "Saved.", body = PipelineEntry)),
    security(("bearer" = ["write"]))
)]
pub async fn create_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    headers: HeaderMap,
    body: JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let key = idempotency::key_of(&headers)?;
    let pipeline: Pipeline = body.parse()?;
    let fingerprint = idempotency::fingerprint("POST", "/api/v1/pipelines", &[&body.0]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::CREATED, || async {
        Ok(PipelineEntry::from(service(&state).save_pipeline(caller.owner, pipeline).await?))
    })
    .await
}

/// Runs a pipeline over photos: one job per photo, under one batch.
#[utoipa::path(
    post,
    path = "/api/v1/batches",
    tag = "batches",
    operation_id = "start_batch",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: see Idempotency.")),
    request_body = NewBatch,
    responses(
        (status = 202, description = "Queued.", body = Batch),
        (status = 402, description = "Not enough credits (`insufficient_credits`).", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    headers: HeaderMap,
    body: JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Scope::Write)?;
    let key = idempotency::key_of(&headers)?;
    let request: NewBatch = body.parse()?;
    let choice = request.choice.into_choice()?;
    let fingerprint = idempotency::fingerprint("POST", "/api/v1/batches", &[&body.0]);
    idempotency::once(&state.db, &caller, key, fingerprint, StatusCode::ACCEPTED, || async {
        let batch = service(&state).run(caller.owner, choice, request.photos, request.save_to_gallery, false).await?;
        webhooks::started(&state, &caller, webhooks::Kind::Batch, batch.id.to_string()).await;
        Ok(Batch::from(batch))
    })
    .await
}

/// The workspace's batches, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/batches",
    tag = "batches",
    operation_id = "list_batches",
    params(PageQuery),
    responses((status = 200, body = BatchPage)),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<BatchPage>, ApiError> {
    caller.require(Scope::Read)?;
    let (items, next_cursor) = page.page(service(&state).batches(caller.owner).await?)?;
    Ok(Json(BatchPage { items: items.into_iter().map(Batch::from).collect(), next_cursor }))
}

/// A batch with each photo's item: poll it until `finished`.
#[utoipa::path(
    get,
    path = "/api/v1/batches/{id}",
    tag = "batches",
    operation_id = "get_batch",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = BatchWithItems)),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(batch): Path<String>,
) -> Result<Json<BatchWithItems>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(view(&state, caller.owner, id(&batch)?).await?))
}

/// Cancels the batch's queued items; running ones stop at their next step.
#[utoipa::path(
    post,
    path = "/api/v1/batches/{id}/cancel",
    tag = "batches",
    operation_id = "cancel_batch",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Batch)),
    security(("bearer" = ["write"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(batch): Path<String>,
) -> Result<Json<Batch>, ApiError> {
    caller.require(Scope::Write)?;
    Ok(Json(service(&state).control(caller.owner, id(&batch)?, BatchAction::Cancel).await?.into()))
}

pub async fn view(state: &AppState, owner: OwnerId, batch: BatchId) -> Result<BatchWithItems, ApiError> {
    Ok(service(state).batch(owner, batch).await?.into())
}
