//! AI jobs: the `AiService` the workspace calls (start, follow, cancel, keep), the durable queue
//! under it (`queue`), the workers that run it (`worker`) and what each tool does (`tools`).
//!
//! Adding an AI tool: a function in the `ai` crate, a `ToolRequest` variant in `app::model`, and
//! its arm in `tools::run`.

pub mod queue;
pub mod tools;
pub mod vision;
pub mod worker;

use std::sync::Arc;

use app::error::AppError;
use app::model::{
    AiJob, Backdrop, HeldPhoto, JobId, JobState, OwnerId, PhotoDescription, PhotoId, PhotoSummary, Role, ToolRequest,
};
use app::services::{session_owner, AiService, PhotoService};
use async_trait::async_trait;
use base64::Engine as _;
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::Notify;
use tower_sessions::Session;
use uuid::Uuid;

use crate::accounts::AccountStore;
use crate::audit::Event;
use crate::db::{parse_id as parse, Db};
use crate::error::OrInternal;
use crate::photos::{Ingested, PhotoStore};
use crate::storage::keys;

/// The tuning the queue and tools take from `Settings`.
#[derive(Clone, Debug)]
pub struct JobSettings {
    pub lease_secs: i64,
    pub max_attempts: i64,
    pub max_upscale_pixels: u64,
}

/// The largest mask data URL accepted (the page body limit is the other bound).
const MAX_MASK_BYTES: usize = 4 * 1024 * 1024;
/// The editor paints masks of at most 1024 px; anything far larger is refused unread.
const MAX_MASK_SIDE: u32 = 4096;

#[derive(Clone)]
pub struct AiStore {
    pub db: Db,
    pub photos: Arc<PhotoStore>,
    pub accounts: Arc<AccountStore>,
    /// The engine, or why it could not start (the manifest is unreadable): each job says so.
    pub engine: Result<Arc<ai::Engine>, String>,
    pub vision: Option<vision::Vision>,
    pub settings: JobSettings,
    /// Wakes in-process workers when a job is queued (other processes poll).
    pub wake: Arc<Notify>,
}

impl AiStore {
    async fn owner(&self, session: &Session) -> Result<OwnerId, AppError> {
        session_owner(session).await?.ok_or(AppError::NotFound)
    }

    async fn admin(&self, session: &Session) -> Result<app::model::AccountId, AppError> {
        let account = self.accounts.signed_in(session).await.map_err(|_| AppError::NotFound)?;
        if account.role != Role::Admin {
            return Err(AppError::NotFound);
        }
        Ok(account.id)
    }

    /// A job row as the workspace shows it, with fresh signed links.
    fn view(&self, owner: OwnerId, row: &AnyRow) -> Result<AiJob, sqlx::Error> {
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
            before_url: self.photos.links.sign(&format!("/media/photos/{photo_id}/original"), owner),
            result_url: has_result.then(|| self.photos.links.sign(&format!("/media/jobs/{id}/result"), owner)),
            result_size: width.zip(height).map(|(w, h)| (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0))),
            description: detail.and_then(|d| d.description),
            saved_photo_id: saved.and_then(|s| s.parse().ok()),
        })
    }

    async fn job_row(&self, owner: OwnerId, job: JobId) -> Result<AnyRow, AppError> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1 AND owner_id = $2")
            .bind(job.to_string())
            .bind(owner.to_string())
            .fetch_optional(self.db.pool())
            .await
            .or_internal("reading a job")?
            .ok_or(AppError::NotFound)
    }

    /// The stored result of a finished job, for the media route.
    pub async fn result_media(&self, owner: OwnerId, job: JobId) -> Result<crate::photos::Media, AppError> {
        let row = self.job_row(owner, job).await?;
        let key: Option<String> = row.try_get("result_key").or_internal("reading a job")?;
        let content_type: Option<String> = row.try_get("result_content_type").or_internal("reading a job")?;
        let key = key.ok_or(AppError::NotFound)?;
        let data = self.photos.storage.get(&key).await.or_internal("reading a job result")?;
        let tool: String = row.try_get("tool").or_internal("reading a job")?;
        let extension = if content_type.as_deref() == Some("image/png") { "png" } else { "jpg" };
        Ok(crate::photos::Media {
            data,
            content_type: content_type.unwrap_or_else(|| "image/png".into()),
            filename: format!("{tool}.{extension}"),
        })
    }

    /// Checks the request against the photo and limits before anything is queued, so a bad
    /// request is told at once rather than failing later in a worker.
    async fn validate(&self, owner: OwnerId, photo: &PhotoSummary, request: &ToolRequest) -> Result<(), AppError> {
        if photo.held {
            return Err(AppError::Forbidden(
                "This photo is held for review; tools are unavailable until an administrator releases it.".into(),
            ));
        }
        match request {
            ToolRequest::Upscale { factor, .. } => {
                if *factor != 2 && *factor != 4 {
                    return Err(AppError::BadRequest("Upscaling is x2 or x4.".into()));
                }
                let pixels = u64::from(photo.width) * u64::from(photo.height) * u64::from(factor * factor);
                if pixels > self.settings.max_upscale_pixels {
                    return Err(AppError::BadRequest(format!(
                        "Upscaled x{factor} this photo would have {} megapixels; the limit is {}.",
                        pixels / 1_000_000,
                        self.settings.max_upscale_pixels / 1_000_000
                    )));
                }
            }
            ToolRequest::RemoveBackground { backdrop, feather, .. } => {
                if !(0.0..=50.0).contains(feather) {
                    return Err(AppError::BadRequest("The soft edge is 0 to 50 pixels.".into()));
                }
                match backdrop {
                    Backdrop::Colour { hex } => {
                        tools::parse_hex(hex)
                            .ok_or_else(|| AppError::BadRequest("The colour must look like #1a2b3c.".into()))?;
                    }
                    Backdrop::Photo { id } => {
                        if self.photos.photo(owner, *id).await?.held {
                            return Err(AppError::Forbidden("That background photo is held for review.".into()));
                        }
                    }
                    Backdrop::Transparent => {}
                }
            }
            ToolRequest::Erase { .. } | ToolRequest::Describe => {}
        }
        Ok(())
    }
}

/// The PNG bytes of a `data:image/png;base64,…` mask.
fn decode_mask(data_url: &str) -> Result<Vec<u8>, AppError> {
    let bad = || AppError::BadRequest("The mask must be a PNG painted in the editor.".into());
    if data_url.len() > MAX_MASK_BYTES {
        return Err(AppError::BadRequest("The mask is too large.".into()));
    }
    let encoded = data_url.strip_prefix("data:image/png;base64,").ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad())?;
    if image::guess_format(&bytes).ok() != Some(image::ImageFormat::Png) {
        return Err(bad());
    }
    // The header only: a small file declaring a huge image is refused before it is decoded.
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(&bytes), image::ImageFormat::Png)
        .into_dimensions()
        .map_err(|_| bad())?;
    if width > MAX_MASK_SIDE || height > MAX_MASK_SIDE {
        return Err(AppError::BadRequest(format!("The mask may be at most {MAX_MASK_SIDE} pixels on a side.")));
    }
    Ok(bytes)
}

#[async_trait]
impl AiService for AiStore {
    async fn start(&self, session: &Session, photo: PhotoId, mut request: ToolRequest) -> Result<AiJob, AppError> {
        let owner = self.owner(session).await?;
        let summary = self.photos.photo(owner, photo).await?;
        self.validate(owner, &summary, &request).await?;
        let id = JobId(Uuid::new_v4());
        // The mask goes to storage (encrypted like everything else); the row keeps the options.
        let mask_key = match &mut request {
            ToolRequest::Erase { mask } => {
                let bytes = decode_mask(mask)?;
                mask.clear();
                let key = keys::job_mask(owner, id);
                self.photos.storage.put(&key, bytes).await.or_internal("storing a mask")?;
                Some(key)
            }
            _ => None,
        };
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
        if let Err(error) = self.db.enqueue_job(&job).await {
            if let Some(key) = &mask_key {
                let _ = self.photos.storage.delete(key).await;
            }
            return Err(error).or_internal("queueing a job");
        }
        self.wake.notify_one();
        let row = self.job_row(owner, id).await?;
        self.view(owner, &row).or_internal("reading a job")
    }

    async fn jobs(&self, session: &Session, photo: PhotoId) -> Result<Vec<AiJob>, AppError> {
        let Some(owner) = session_owner(session).await? else { return Ok(Vec::new()) };
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE owner_id = $1 AND photo_id = $2 ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(owner.to_string())
        .bind(photo.to_string())
        .fetch_all(self.db.pool())
        .await
        .or_internal("listing jobs")?;
        rows.iter().map(|row| self.view(owner, row)).collect::<Result<_, _>>().or_internal("reading jobs")
    }

    async fn cancel(&self, session: &Session, job: JobId) -> Result<(), AppError> {
        let owner = self.owner(session).await?;
        if self.db.request_job_cancel(owner, job).await.or_internal("cancelling a job")? {
            Ok(())
        } else {
            // Unknown, someone else's, or already finished: only the last is worth telling.
            self.job_row(owner, job).await?;
            Err(AppError::BadRequest("This job has already finished.".into()))
        }
    }

    async fn save_result(&self, session: &Session, job: JobId) -> Result<PhotoSummary, AppError> {
        let owner = self.owner(session).await?;
        let row = self.job_row(owner, job).await?;
        if let Some(saved) = row.try_get::<Option<String>, _>("saved_photo_id").or_internal("reading a job")? {
            let saved: PhotoId = saved.parse().or_internal("reading a job")?;
            return self.photos.photo(owner, saved).await;
        }
        let key: Option<String> = row.try_get("result_key").or_internal("reading a job")?;
        let key = key.ok_or_else(|| AppError::BadRequest("This job has no image to save.".into()))?;
        let photo: PhotoId = parse(&row, "photo_id").or_internal("reading a job")?;
        let source = self.photos.photo(owner, photo).await?;
        let view = self.view(owner, &row).or_internal("reading a job")?;
        let bytes = self.photos.storage.get(&key).await.or_internal("reading a job result")?;
        let meter = crate::usage::Meter::start();
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
            .await
            .or_internal("recording a saved result")?;
        Ok(saved)
    }

    async fn keep_description(
        &self,
        session: &Session,
        photo: PhotoId,
        description: PhotoDescription,
    ) -> Result<PhotoSummary, AppError> {
        let owner = self.owner(session).await?;
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
            .await
            .or_internal("keeping a description")?;
        self.photos.photo(owner, photo).await
    }

    async fn held_photos(&self, session: &Session) -> Result<Vec<HeldPhoto>, AppError> {
        self.admin(session).await?;
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.nsfw_score, p.created_at, o.kind, a.email, a.display_name
             FROM photos p JOIN owners o ON o.id = p.owner_id LEFT JOIN accounts a ON a.owner_id = p.owner_id
             WHERE p.moderation = 'held' ORDER BY p.created_at",
        )
        .fetch_all(self.db.pool())
        .await
        .or_internal("listing held photos")?;
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

    async fn decide_held(&self, session: &Session, photo: PhotoId, release: bool) -> Result<(), AppError> {
        let admin = self.admin(session).await?;
        let row = sqlx::query("SELECT owner_id FROM photos WHERE id = $1 AND moderation = 'held'")
            .bind(photo.to_string())
            .fetch_optional(self.db.pool())
            .await
            .or_internal("reading a held photo")?
            .ok_or(AppError::NotFound)?;
        let owner: OwnerId = parse(&row, "owner_id").or_internal("reading a held photo")?;
        let account = self.db.account_of_owner(owner).await.or_internal("looking up an account")?;
        let (what, detail) = if release {
            ("released", "A held upload was released.")
        } else {
            ("deleted", "A held upload was deleted.")
        };
        self.db
            .audit(account, Some(admin), Event::ModerationDecision, detail)
            .await
            .or_internal("writing the audit log")?;
        if release {
            sqlx::query("UPDATE photos SET moderation = 'clear' WHERE id = $1")
                .bind(photo.to_string())
                .execute(self.db.pool())
                .await
                .or_internal("releasing a photo")?;
        } else {
            self.photos.delete_photo(owner, photo).await?;
        }
        tracing::info!(%photo, what, "moderation decision");
        Ok(())
    }
}

/// Starts `count` workers in this process (the server's own, or `atelier worker`).
pub fn spawn_workers(store: Arc<AiStore>, count: usize) {
    for index in 0..count {
        tokio::spawn(worker::run(store.clone(), queue::worker_id(index)));
    }
}

/// When a job that failed with a passing error is tried again: 5 s, 10 s, 20 s, …
pub fn backoff(attempts: i64) -> i64 {
    5 * (1i64 << attempts.clamp(1, 10).saturating_sub(1))
}
