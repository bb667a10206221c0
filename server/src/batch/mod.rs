//! Batch pipelines (issue 17): the `BatchService` the batch page calls. A batch is a row in
//! `batches` and one job per photo on the durable queue (tool `pipeline`), so a restart resumes
//! it, every worker of every process shares it, and items run in parallel up to the worker
//! count; `run::item` carries one photo through the steps in a worker's memory. Results are
//! gallery versions of their originals or result files kept like any unsaved output, and
//! `routes` streams them as one zip.

pub mod repo;
pub mod run;

use std::io::Write as _;
use std::sync::Arc;

use app::batch::{
    ready_pipelines, ready_views, BatchAction, BatchDetail, BatchItem, BatchService, BatchSummary, Pipeline,
    PipelineChoice, PipelineView, MAX_BATCH_ITEMS,
};
use app::error::AppError;
use app::ids::{BatchId, OwnerId, PhotoId, PipelineId};
use app::photos::PhotoService;
use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;
use uuid::Uuid;

use crate::ai_tools::queue::Enqueued;
use crate::ai_tools::AiStore;
use crate::platform::archive::{zip_download, ZipNames};
use crate::platform::db::now;
use crate::platform::error::{ApiError, OrInternal};
use crate::platform::links::Signature;
use crate::state::AppState;

/// The `tool` of a batch item's job.
pub const PIPELINE: &str = "pipeline";
/// Saved pipelines one workspace may keep.
const MAX_PIPELINES: i64 = 50;
/// Batch items one workspace may have queued or running at once, over all its batches.
const MAX_UNFINISHED_ITEMS: i64 = 1000;

#[derive(Clone)]
pub struct BatchStore {
    pub ai: Arc<AiStore>,
}

fn zip_path(id: BatchId) -> String {
    format!("/media/batches/{id}/results.zip")
}

impl BatchStore {
    /// What each item of `pipeline` reserves: the sum of its AI steps' costs (nothing with
    /// billing off), after the workspace's monthly allowance was granted when due.
    async fn item_credits(&self, owner: OwnerId, pipeline: &Pipeline) -> Result<i64, AppError> {
        let policy = &self.ai.settings.credits;
        crate::billing::grant_allowance(&self.ai.db, policy, owner).await?;
        Ok(policy.charge(pipeline.tools().map(|kind| policy.cost(kind.name())).sum()))
    }

    /// The pipeline a choice names, checked.
    async fn resolve(&self, owner: OwnerId, choice: PipelineChoice) -> Result<Pipeline, AppError> {
        let pipeline = match choice {
            PipelineChoice::Ready { id } => ready_pipelines()
                .into_iter()
                .find(|(ready, _)| *ready == id)
                .map(|(_, pipeline)| pipeline)
                .ok_or(AppError::NotFound)?,
            PipelineChoice::Saved { id } => self
                .ai
                .db
                .pipelines(owner)
                .await?
                .into_iter()
                .find(|(saved, _, _)| *saved == id)
                .map(|(_, pipeline, _)| pipeline)
                .ok_or(AppError::NotFound)?,
            PipelineChoice::Unsaved { pipeline } => pipeline,
        };
        pipeline.validate().map_err(AppError::BadRequest)?;
        Ok(pipeline)
    }

    async fn summary(&self, row: &repo::BatchRow) -> Result<BatchSummary, AppError> {
        let (counts, last_finished) = self.ai.db.batch_counts(row.id).await?;
        // The pace so far: time since the start over items finished, for those left.
        let finished = counts.done + counts.failed;
        let eta_secs = (finished > 0 && counts.left() > 0 && !row.paused).then(|| {
            let elapsed = last_finished.unwrap_or_else(now).saturating_sub(row.created_at).max(1);
            (elapsed as u64 * u64::from(counts.left())).div_ceil(u64::from(finished))
        });
        Ok(BatchSummary {
            id: row.id,
            name: row.name.clone(),
            steps: row.pipeline.steps.iter().map(app::batch::Step::label).collect(),
            counts,
            paused: row.paused,
            save_to_gallery: row.save_to_gallery,
            preview: row.preview,
            created_at: row.created_at,
            eta_secs,
            zip_url: self.ai.photos.links.sign(&zip_path(row.id)),
        })
    }

    async fn row(&self, owner: OwnerId, id: BatchId) -> Result<repo::BatchRow, AppError> {
        self.ai.db.batch_row(owner, id).await?.ok_or(AppError::NotFound)
    }
}

#[async_trait]
impl BatchService for BatchStore {
    async fn pipelines(&self, owner: OwnerId) -> Result<Vec<PipelineView>, AppError> {
        let mut views = ready_views();
        for (id, pipeline, _) in self.ai.db.pipelines(owner).await? {
            views.push(PipelineView { choice: PipelineChoice::Saved { id }, pipeline, ready: false });
        }
        Ok(views)
    }

    async fn save_pipeline(&self, owner: OwnerId, mut pipeline: Pipeline) -> Result<PipelineView, AppError> {
        pipeline.validate().map_err(AppError::BadRequest)?;
        pipeline.name = pipeline.name.trim().to_string();
        let id = PipelineId(Uuid::new_v4());
        if !self.ai.db.insert_pipeline(id, owner, &pipeline, MAX_PIPELINES).await? {
            return Err(AppError::QuotaExceeded(format!(
                "A workspace keeps at most {MAX_PIPELINES} pipelines; delete one you no longer use."
            )));
        }
        Ok(PipelineView { choice: PipelineChoice::Saved { id }, pipeline, ready: false })
    }

    async fn delete_pipeline(&self, owner: OwnerId, id: PipelineId) -> Result<(), AppError> {
        if self.ai.db.delete_pipeline(owner, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    async fn run(
        &self,
        owner: OwnerId,
        choice: PipelineChoice,
        photos: Vec<PhotoId>,
        save_to_gallery: bool,
        preview: bool,
    ) -> Result<BatchSummary, AppError> {
        let pipeline = self.resolve(owner, choice).await?;
        let mut chosen: Vec<PhotoId> = Vec::new();
        for photo in photos {
            if !chosen.contains(&photo) {
                chosen.push(photo);
            }
        }
        if chosen.is_empty() {
            return Err(AppError::BadRequest("Choose at least one photo.".into()));
        }
        if preview && chosen.len() != 1 {
            return Err(AppError::BadRequest("A preview runs on one photo.".into()));
        }
        if chosen.len() > MAX_BATCH_ITEMS {
            return Err(AppError::BadRequest(format!("A batch takes at most {MAX_BATCH_ITEMS} photos.")));
        }
        // Every photo is this workspace's and free to use, before anything is queued.
        for photo in &chosen {
            if self.ai.photos.photo(owner, *photo).await?.held {
                return Err(AppError::Forbidden("One of the chosen photos is held for review.".into()));
            }
        }
        self.ai.photos.ensure_room(owner).await?;
        let save_to_gallery = save_to_gallery && !preview;
        let params = run::ItemParams { pipeline: pipeline.clone(), save_to_gallery };
        let params = serde_json::to_string(&params).or_internal("serialising a batch item")?;
        let pipeline_json = serde_json::to_string(&pipeline).or_internal("serialising a pipeline")?;
        let id = BatchId(Uuid::new_v4());
        let name = if preview { format!("Preview of {}", pipeline.name) } else { pipeline.name.clone() };
        let batch = repo::NewBatch {
            id,
            owner,
            name: &name,
            pipeline_json: &pipeline_json,
            params: &params,
            photos: &chosen,
            save_to_gallery,
            preview,
            max_attempts: self.ai.settings.max_attempts,
            credits_per_item: self.item_credits(owner, &pipeline).await?,
        };
        match self.ai.db.insert_batch(&batch, MAX_UNFINISHED_ITEMS).await? {
            Enqueued::Queued => {}
            Enqueued::Full => {
                return Err(AppError::TooManyRequests {
                    message: format!(
                        "Your workspace has batches with up to {MAX_UNFINISHED_ITEMS} photos still to run; wait for them, or cancel one."
                    ),
                    retry_after_secs: 30,
                })
            }
            Enqueued::Short { balance } => {
                return Err(crate::billing::insufficient(batch.credits_per_item * chosen.len() as i64, balance))
            }
        }
        // Every idle worker in this process looks at once (others poll).
        self.ai.wake.notify_waiters();
        self.ai.wake.notify_one();
        tracing::info!(batch = %id, items = chosen.len(), "batch queued");
        self.summary(&self.row(owner, id).await?).await
    }

    async fn batches(&self, owner: OwnerId) -> Result<Vec<BatchSummary>, AppError> {
        let mut summaries = Vec::new();
        for row in self.ai.db.batch_rows(owner).await? {
            summaries.push(self.summary(&row).await?);
        }
        Ok(summaries)
    }

    async fn batch(&self, owner: OwnerId, id: BatchId) -> Result<BatchDetail, AppError> {
        let row = self.row(owner, id).await?;
        let summary = self.summary(&row).await?;
        let links = &self.ai.photos.links;
        let items = self
            .ai
            .db
            .batch_items(id)
            .await?
            .into_iter()
            .map(|item| {
                let (result_url, thumbnail_url) = match (item.version, item.has_result) {
                    (Some(version), _) => (
                        Some(links.sign(&format!("/media/versions/{version}/image"))),
                        Some(links.sign(&format!("/media/versions/{version}/thumbnail"))),
                    ),
                    (None, true) => (Some(links.sign(&format!("/media/jobs/{}/result", item.job))), None),
                    (None, false) => (None, None),
                };
                BatchItem {
                    job: item.job,
                    photo: item.photo,
                    name: item.name.unwrap_or_else(|| "(deleted photo)".into()),
                    state: item.state,
                    step: item.step,
                    progress: (item.progress as f32 / 1000.0).clamp(0.0, 1.0),
                    error: item.error,
                    result_url,
                    thumbnail_url,
                    version: item.version,
                }
            })
            .collect();
        Ok(BatchDetail { summary, items })
    }

    async fn control(&self, owner: OwnerId, id: BatchId, action: BatchAction) -> Result<BatchSummary, AppError> {
        let row = self.row(owner, id).await?;
        let db = &self.ai.db;
        match action {
            BatchAction::Pause => db.set_batch_paused(owner, id, true).await?,
            BatchAction::Resume => db.set_batch_paused(owner, id, false).await?,
            BatchAction::Cancel => db.cancel_batch(owner, id).await?,
            BatchAction::Retry => {
                let credits = self.item_credits(owner, &row.pipeline).await?;
                if let Enqueued::Short { balance } = db.retry_batch(owner, id, row.paused, credits).await? {
                    let (counts, _) = db.batch_counts(id).await?;
                    let waiting = i64::from(counts.failed + counts.cancelled);
                    return Err(crate::billing::insufficient(credits * waiting, balance));
                }
            }
        }
        self.ai.wake.notify_waiters();
        self.summary(&self.row(owner, id).await?).await
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/batches/{id}/results.zip", get(results_zip))
}

/// GET /media/batches/{id}/results.zip?exp=…&sig=…: every item done so far, streamed from
/// storage into the zip while it is written (memory holds one file at a time), named after
/// its photo.
async fn results_zip(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let path = format!("/media/batches/{id}/results.zip");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    let id: BatchId = id.parse().map_err(|_| AppError::NotFound)?;
    state.db.batch_row(owner, id).await.or_internal("reading a batch")?.ok_or(AppError::NotFound)?;
    let results = state.db.batch_results(owner, id).await.or_internal("reading a batch")?;
    if results.is_empty() {
        return Err(AppError::BadRequest("No photo of this batch is done yet.".into()).into());
    }
    let storage = state.photos.storage.clone();
    let runtime = tokio::runtime::Handle::current();
    Ok(zip_download("atelier-batch.zip", move |zip| {
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut names = ZipNames::default();
        for (key, content_type, photo_name) in results {
            let data = runtime.block_on(storage.get(&key))?;
            let stem = crate::optimize::file_stem(None, &photo_name);
            let name = names.unique(&format!("{stem}.{}", crate::data::export::extension(&content_type)));
            zip.start_file(name, options).or_internal("writing a zip entry")?;
            zip.write_all(&data).or_internal("writing a zip entry")?;
        }
        Ok(())
    }))
}
