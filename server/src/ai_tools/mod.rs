//! AI jobs: the `AiService` the workspace calls (start, follow, cancel, keep), the durable queue
//! under it (`queue`), the workers that run it (`worker`) and what each tool does (`tools`).
//!
//! Adding an AI tool: see `tools/mod.rs`.

pub mod queue;
pub mod routes;
pub mod selection;
pub mod tools;
pub mod vision;
pub mod worker;

use std::sync::Arc;

use app::ai_tools::AiService;
use app::ai_tools::{AiJob, HeldPhoto, PhotoDescription, ToolRequest};
use app::error::AppError;
use app::ids::{Admin, JobId, JobState, OwnerId, PhotoId};
use app::photos::PhotoService;
use app::photos::PhotoSummary;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::data::audit::Event;
use crate::photos::{Ingested, PhotoStore};
use crate::platform::db::{parse_id as parse, Db};
use crate::platform::error::OrInternal;

/// The tuning the queue and tools take from `Settings`.
#[derive(Clone, Debug)]
pub struct JobSettings {
    pub lease_secs: i64,
    pub max_attempts: i64,
    pub max_upscale_pixels: u64,
    /// Jobs one workspace may have queued or running at once.
    pub max_active_per_owner: u64,
    /// What jobs cost, and whether credits are enforced.
    pub credits: crate::billing::CreditPolicy,
    /// Whether this process's workers are GPU workers (`ai.worker_gpu`).
    pub worker_gpu: crate::config::WorkerGpu,
}

#[derive(Clone)]
pub struct AiStore {
    pub db: Db,
    pub photos: Arc<PhotoStore>,
    /// The engine, or why it could not start (the manifest is unreadable): each job says so.
    pub engine: Result<Arc<ai::Engine>, String>,
    pub vision: Option<vision::Vision>,
    /// The image services generation and generative fill may use (none by default).
    pub generation: crate::generate::providers::Providers,
    pub settings: JobSettings,
    /// Wakes in-process workers when a job is queued (other processes poll).
    pub wake: Arc<Notify>,
}

impl AiStore {
    /// After a photo's tags or alt-text changed: the search index reads it again (in the job
    /// queue, so a worker is woken), and the photo is answered as it now is.
    async fn described(&self, owner: OwnerId, photo: PhotoId) -> Result<PhotoSummary, AppError> {
        crate::search::photo_changed(&self.db, owner, Some(photo)).await;
        self.wake.notify_one();
        self.photos.photo(owner, photo).await
    }

    /// A job row as the workspace shows it, with fresh signed links.
    fn view(&self, row: &AnyRow) -> Result<AiJob, sqlx::Error> {
        let id: JobId = parse(row, "id")?;
        let photo_id: PhotoId = parse(row, "photo_id")?;
        let params: String = row.try_get("params")?;
        let request: Option<ToolRequest> = serde_json::from_str(&params).ok();
        let state = JobState::parse(&row.try_get::<String, _>("state")?).unwrap_or(JobState::Failed);
        let detail: Option<String> = row.try_get("detail")?;
        let detail: Option<tools::Detail> = detail.and_then(|d| serde_json::from_str(&d).ok());
        let has_result = row.try_get::<Option<String>, _>("result_key")?.is_some();
        let (width, height): (Option<i64>, Option<i64>) = (row.try_get("result_width")?, row.try_get("result_height")?);
        let saved: Option<String> = row.try_get("saved_photo_id")?;
        Ok(AiJob {
            id,
            photo_id,
            tool: row.try_get("tool")?,
            label: request.as_ref().map_or_else(|| "AI tool".into(), ToolRequest::label),
            state,
            progress: (row.try_get::<i64, _>("progress")? as f32 / 1000.0).clamp(0.0, 1.0),
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
            provider: row.try_get("provider")?,
            method: detail.as_ref().map(|d| d.method.clone()),
            error: row.try_get("error")?,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
            duration_ms: detail.as_ref().map(|d| d.duration_ms),
            before_url: self.photos.links.sign(&format!("/media/photos/{photo_id}/original")),
            result_url: has_result.then(|| self.photos.links.sign(&format!("/media/jobs/{id}/result"))),
            result_size: width.zip(height).map(|(w, h)| (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0))),
            text: detail.as_ref().and_then(|d| d.text.clone()),
            description: detail.and_then(|d| d.description),
            saved_photo_id: saved.and_then(|s| s.parse().ok()),
        })
    }

    async fn job_row(&self, owner: OwnerId, job: JobId) -> Result<AnyRow, AppError> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1 AND owner_id = $2")
            .bind(job.to_string())
            .bind(owner.to_string())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The stored result of a finished job, for the media route.
    pub async fn result_media(&self, owner: OwnerId, job: JobId) -> Result<crate::platform::http::Media, AppError> {
        let row = self.job_row(owner, job).await?;
        let key: Option<String> = row.try_get("result_key")?;
        let content_type: Option<String> = row.try_get("result_content_type")?;
        let key = key.ok_or(AppError::NotFound)?;
        let data = self.photos.storage.get(&key).await?;
        let tool: String = row.try_get("tool")?;
        let content_type = content_type.unwrap_or_else(|| "image/png".into());
        let extension = crate::data::export::extension(&content_type);
        Ok(crate::platform::http::Media { data, content_type, filename: format!("{tool}.{extension}") })
    }

    /// Checks the request against the photo and limits before anything is queued, so a bad
    /// request is told at once rather than failing later in a worker.
    async fn validate(&self, owner: OwnerId, photo: &PhotoSummary, request: &ToolRequest) -> Result<(), AppError> {
        if photo.held {
            return Err(AppError::Forbidden(
                "This photo is held for review; tools are unavailable until an administrator releases it.".into(),
            ));
        }
        request.check().map_err(AppError::BadRequest)?;
        tools::tool(request.kind()).validate(self, owner, photo, request).await
    }
}

#[async_trait]
impl AiService for AiStore {
    async fn start(&self, owner: OwnerId, photo: PhotoId, mut request: ToolRequest) -> Result<AiJob, AppError> {
        let summary = self.photos.photo(owner, photo).await?;
        self.validate(owner, &summary, &request).await?;
        self.photos.ensure_room(owner).await?;
        let id = JobId(Uuid::new_v4());
        // What must not sit in the row (the eraser's mask) goes to storage, encrypted like
        // everything else; the row keeps the options.
        let mask_key = tools::tool(request.kind()).prepare(self, owner, id, &mut request).await?;
        let params = serde_json::to_string(&request).or_internal("serialising a tool request")?;
        let job = queue::NewJob {
            id,
            owner,
            photo,
            tool: request.name(),
            params: &params,
            mask_key: mask_key.as_deref(),
            max_attempts: self.settings.max_attempts,
        };
        let price = self.settings.credits.cost(request.name());
        let queued = crate::billing::enqueue(self, &job, price).await;
        if !matches!(queued, Ok(true)) {
            if let Some(key) = &mask_key {
                let _ = self.photos.storage.delete(key).await;
            }
        }
        if !queued? {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "You have {} tools queued or running. Wait for one to finish, or cancel one.",
                    self.settings.max_active_per_owner
                ),
                retry_after_secs: 10,
            });
        }
        self.wake.notify_one();
        let row = self.job_row(owner, id).await?;
        self.view(&row).or_internal("reading a job")
    }

    async fn jobs(&self, owner: OwnerId, photo: PhotoId) -> Result<Vec<AiJob>, AppError> {
        let rows = sqlx::query(
            // Batch items are followed on their batch's page, not in the photo's panel.
            "SELECT * FROM jobs WHERE owner_id = $1 AND photo_id = $2 AND batch_id IS NULL
             ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(owner.to_string())
        .bind(photo.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|row| self.view(row)).collect::<Result<_, _>>().or_internal("reading jobs")
    }

    async fn cancel(&self, owner: OwnerId, job: JobId) -> Result<(), AppError> {
        if self.db.request_job_cancel(owner, job).await? {
            Ok(())
        } else {
            // Unknown, someone else's, or already finished: only the last is worth telling.
            self.job_row(owner, job).await?;
            Err(AppError::BadRequest("This job has already finished.".into()))
        }
    }

    async fn save_result(&self, owner: OwnerId, job: JobId) -> Result<PhotoSummary, AppError> {
        let row = self.job_row(owner, job).await?;
        if let Some(saved) = row.try_get::<Option<String>, _>("saved_photo_id")? {
            let saved: PhotoId = saved.parse().or_internal("reading a job")?;
            return self.photos.photo(owner, saved).await;
        }
        let key: Option<String> = row.try_get("result_key")?;
        let key = key.ok_or_else(|| AppError::BadRequest("This job has no image to save.".into()))?;
        let photo: PhotoId = parse(&row, "photo_id")?;
        let source = self.photos.photo(owner, photo).await?;
        let view = self.view(&row)?;
        let bytes = self.photos.storage.get(&key).await?;
        let meter = crate::data::usage::Meter::start();
        let encoded = self.photos.ingest_trusted(bytes).await?;
        let name = format!("{} ({})", source.name, view.label.to_lowercase());
        let saved = self
            .photos
            .store(owner, &crate::photos::display_name(Some(&name)), Ingested::plain(encoded), meter)
            .await?;
        // Kept means in the gallery too, like any saved edit.
        self.photos.save_version(owner, saved.id, recipe::EditRecipe::default()).await?;
        sqlx::query("UPDATE jobs SET saved_photo_id = $1 WHERE id = $2 AND owner_id = $3 AND saved_photo_id IS NULL")
            .bind(saved.id.to_string())
            .bind(job.to_string())
            .bind(owner.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(saved)
    }

    async fn keep_description(
        &self,
        owner: OwnerId,
        photo: PhotoId,
        description: PhotoDescription,
    ) -> Result<PhotoSummary, AppError> {
        self.photos.photo(owner, photo).await?;
        let tags: Vec<String> = description
            .tags
            .iter()
            .map(|t| t.trim().chars().filter(|c| !c.is_control()).take(40).collect::<String>())
            .filter(|t| !t.is_empty())
            .take(30)
            .collect();
        let alt_text: String = description.alt_text.trim().chars().filter(|c| !c.is_control()).take(1000).collect();
        let tags_json = serde_json::to_string(&tags).or_internal("serialising tags")?;
        sqlx::query("UPDATE photos SET tags = $1, alt_text = $2 WHERE id = $3 AND owner_id = $4")
            .bind(tags_json)
            .bind((!alt_text.is_empty()).then_some(alt_text))
            .bind(photo.to_string())
            .bind(owner.to_string())
            .execute(self.db.pool())
            .await?;
        self.described(owner, photo).await
    }

    async fn keep_alt_text(&self, owner: OwnerId, photo: PhotoId, alt_text: String) -> Result<PhotoSummary, AppError> {
        self.photos.photo(owner, photo).await?;
        // Text read in a photo comes in lines: alt-text is one run of words.
        let words: Vec<&str> = alt_text.split_whitespace().collect();
        let alt_text: String = words.join(" ").chars().filter(|c| !c.is_control()).take(1000).collect();
        sqlx::query("UPDATE photos SET alt_text = $1 WHERE id = $2 AND owner_id = $3")
            .bind((!alt_text.is_empty()).then_some(alt_text))
            .bind(photo.to_string())
            .bind(owner.to_string())
            .execute(self.db.pool())
            .await?;
        self.described(owner, photo).await
    }

    async fn held_photos(&self, admin: Admin) -> Result<Vec<HeldPhoto>, AppError> {
        let actor = Some(admin.account());
        self.db.audit_or_log(None, actor, Event::AdminListedHeld, "Listed the uploads moderation held.").await;
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.nsfw_score, p.created_at, o.kind, a.email, a.display_name
             FROM photos p JOIN owners o ON o.id = p.owner_id LEFT JOIN accounts a ON a.owner_id = p.owner_id
             WHERE p.moderation = 'held' ORDER BY p.created_at",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let email: Option<String> = row.try_get("email")?;
                let name: Option<String> = row.try_get("display_name")?;
                Ok(HeldPhoto {
                    id: parse(row, "id")?,
                    name: row.try_get("name")?,
                    owner_label: email.or(name).unwrap_or_else(|| "a guest".into()),
                    score: row.try_get::<Option<i64>, _>("nsfw_score")?.unwrap_or(0) as f32 / 1000.0,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .or_internal("reading held photos")
    }

    async fn decide_held(&self, admin: Admin, photo: PhotoId, release: bool) -> Result<(), AppError> {
        let row = sqlx::query("SELECT owner_id FROM photos WHERE id = $1 AND moderation = 'held'")
            .bind(photo.to_string())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(AppError::NotFound)?;
        let owner: OwnerId = parse(&row, "owner_id")?;
        let account = self.db.account_of_owner(owner).await?;
        let (what, detail) = if release {
            ("released", "A held upload was released.")
        } else {
            ("deleted", "A held upload was deleted.")
        };
        self.db.audit(account, Some(admin.account()), Event::ModerationDecision, detail).await?;
        if release {
            sqlx::query("UPDATE photos SET moderation = 'clear' WHERE id = $1")
                .bind(photo.to_string())
                .execute(self.db.pool())
                .await?;
        } else {
            self.photos.delete_photo(owner, photo).await?;
        }
        tracing::info!(%photo, what, "moderation decision");
        Ok(())
    }
}

/// Starts `count` workers in this process (the server's own, or `atelier worker`).
pub fn spawn_workers(store: Arc<AiStore>, count: usize) {
    if count == 0 {
        return;
    }
    let class = worker_class(&store);
    tracing::info!(class = class.label(), count, "AI workers of this class");
    // Alive while this process lives: CPU workers elsewhere leave GPU-worthy jobs to a live GPU
    // worker. Kept for a job lease, the time after which a silent worker counts as gone.
    let (db, ttl) = (store.db.clone(), std::time::Duration::from_secs(store.settings.lease_secs.unsigned_abs()));
    let name = format!("{}{}", queue::WORKER_LEASE_PREFIX, crate::platform::lease::holder());
    tokio::spawn(crate::platform::lease::Kept::start(db, name, ttl, Some(class.label().to_string())));
    for index in 0..count {
        tokio::spawn(worker::run(store.clone(), queue::worker_id(index), class));
    }
}

/// A GPU worker when told so, or (`auto`) when ONNX Runtime loaded with CUDA.
pub fn worker_class(store: &AiStore) -> queue::WorkerClass {
    use crate::config::WorkerGpu;
    let cuda = || store.engine.as_ref().ok().and_then(|engine| engine.provider().ok()) == Some(ai::Provider::Cuda);
    match store.settings.worker_gpu {
        WorkerGpu::Yes => queue::WorkerClass::Gpu,
        WorkerGpu::No => queue::WorkerClass::Cpu,
        WorkerGpu::Auto if cuda() => queue::WorkerClass::Gpu,
        WorkerGpu::Auto => queue::WorkerClass::Cpu,
    }
}

/// When a job that failed with a passing error is tried again: 5 s, 10 s, 20 s, …
pub fn backoff(attempts: i64) -> i64 {
    5 * (1i64 << attempts.clamp(1, 10).saturating_sub(1))
}
