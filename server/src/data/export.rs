//! "Download my data": a background job builds a zip (manifest.json with the account, sessions,
//! consent records, usage, audit entries and every photo and gallery item with its recipe, plus
//! the original and edited files), reports progress as it goes, stores the archive encrypted
//! like everything else, and hands it out through a signed link. A job a stopped server left
//! unfinished is started again at the next start.

use std::io::Write;

use app::data::ExportJob;
use app::error::AppError;
use app::ids::{AccountId, JobState, OwnerId};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;
use tower_sessions::Session;
use uuid::Uuid;

use super::DataStore;
use crate::accounts::repo::AccountRow;
use crate::data::audit::Event;
use crate::platform::archive::ArchiveSink;
use crate::platform::db::{now, Db};
use crate::platform::error::{ApiError, OrInternal};
use crate::platform::lease;
use crate::platform::links::Signature;
use crate::platform::storage::keys;

/// Generic over the state, so this feature needs no more of it than its own store.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    std::sync::Arc<DataStore>: axum::extract::FromRef<S>,
    std::sync::Arc<crate::accounts::AccountStore>: axum::extract::FromRef<S>,
{
    axum::Router::new().route(ARCHIVE_ROUTE, axum::routing::get(download))
}

pub const ARCHIVE_ROUTE: &str = "/media/exports/{id}/archive";

fn archive_path(id: &str) -> String {
    format!("/media/exports/{id}/archive")
}

fn state_of(text: &str) -> JobState {
    match text {
        "queued" => JobState::Queued,
        "running" => JobState::Running,
        "done" => JobState::Done,
        _ => JobState::Failed,
    }
}

/// A job row, as the server needs it.
struct JobRow {
    id: String,
    account: AccountId,
    owner: OwnerId,
    state: JobState,
    progress: i64,
    object_key: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

fn job_row(row: &AnyRow) -> Result<JobRow, sqlx::Error> {
    let parse = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    let bad = |column: &str| sqlx::Error::Decode(format!("{column} is not a valid id").into());
    Ok(JobRow {
        id: parse("id")?,
        account: parse("account_id")?.parse().map_err(|_| bad("account_id"))?,
        owner: parse("owner_id")?.parse().map_err(|_| bad("owner_id"))?,
        state: state_of(&parse("state")?),
        progress: row.try_get("progress")?,
        object_key: row.try_get("object_key")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

impl Db {
    async fn insert_export(&self, id: &str, account: &AccountRow) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO export_jobs (id, account_id, owner_id, state, progress, created_at) VALUES ($1, $2, $3, 'queued', 0, $4)")
            .bind(id)
            .bind(account.id.to_string())
            .bind(account.owner.to_string())
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    async fn exports_of(&self, account: AccountId) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM export_jobs WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 5")
            .bind(account.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_row)
            .collect()
    }

    async fn unfinished_exports(&self) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM export_jobs WHERE state IN ('queued', 'running')")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_row)
            .collect()
    }

    async fn export_for_owner(&self, id: &str, owner: OwnerId) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM export_jobs WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(job_row)
            .transpose()
    }

    async fn export_progress(&self, id: &str, state: &str, progress: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE export_jobs SET state = $2, progress = $3 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(progress)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    async fn export_finished(&self, id: &str, object_key: Option<&str>) -> Result<(), sqlx::Error> {
        let state = if object_key.is_some() { "done" } else { "failed" };
        sqlx::query("UPDATE export_jobs SET state = $2, progress = $3, object_key = $4, finished_at = $5 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(if object_key.is_some() { 100i64 } else { 0 })
            .bind(object_key)
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}

fn to_job(store: &DataStore, row: JobRow) -> ExportJob {
    let ready = row.state == JobState::Done;
    ExportJob {
        download_url: ready.then(|| store.photos.links.sign(&archive_path(&row.id))),
        expires_at: row.finished_at.filter(|_| ready).map(|finished| finished + store.export_secs),
        id: row.id,
        state: row.state,
        progress: u8::try_from(row.progress.clamp(0, 100)).unwrap_or(0),
        created_at: row.created_at,
    }
}

pub async fn start(store: &DataStore, account: &AccountRow) -> Result<ExportJob, AppError> {
    let jobs = store.db.exports_of(account.id).await?;
    if let Some(busy) = jobs.into_iter().find(|job| matches!(job.state, JobState::Queued | JobState::Running)) {
        return Ok(to_job(store, busy));
    }
    let id = Uuid::now_v7().to_string();
    store.db.insert_export(&id, account).await?;
    store
        .db
        .audit_or_log(Some(account.id), Some(account.id), Event::ExportRequested, "Requested a copy of all their data.")
        .await;
    spawn(store.clone(), id.clone(), account.id, account.owner);
    let row = store.db.export_for_owner(&id, account.owner).await?.ok_or(AppError::Internal)?;
    Ok(to_job(store, row))
}

pub async fn list(store: &DataStore, account: &AccountRow) -> Result<Vec<ExportJob>, AppError> {
    let jobs = store.db.exports_of(account.id).await?;
    Ok(jobs.into_iter().map(|job| to_job(store, job)).collect())
}

/// Starts again every job a stopped server left unfinished.
pub async fn resume(store: &DataStore) -> Result<usize, sqlx::Error> {
    let jobs = store.db.unfinished_exports().await?;
    let count = jobs.len();
    for job in jobs {
        spawn(store.clone(), job.id, job.account, job.owner);
    }
    Ok(count)
}

/// One archive is built at a time, server-wide: each is assembled in memory before it is sealed,
/// so this bounds exports to the largest workspace's quota (the others wait, queued).
static BUILDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Each build runs under the lease `export:<id>`, so however many processes resume unfinished
/// exports, one builds it; a process killed mid-build lets its lease lapse and the sweeper of the
/// cluster resumes the export elsewhere.
fn spawn(store: DataStore, id: String, account: AccountId, owner: OwnerId) {
    tokio::spawn(async move {
        let db = store.db.clone();
        let lease = format!("export:{id}");
        match lease::run_held(&db, &lease, lease::ttl(), build_unfinished(store, id, account, owner)).await {
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, %lease, "taking an export's lease failed; the sweeper tries again"),
        }
    });
}

async fn build_unfinished(store: DataStore, id: String, account: AccountId, owner: OwnerId) {
    // Another process may have finished it between the list and the lease.
    match sqlx::query("SELECT state FROM export_jobs WHERE id = $1").bind(&id).fetch_optional(store.db.pool()).await {
        Ok(Some(row)) if matches!(row.try_get::<String, _>("state").as_deref(), Ok("queued" | "running")) => {}
        Ok(_) => return,
        Err(error) => return tracing::warn!(%error, export = %id, "reading an export's state failed"),
    }
    let built = match BUILDING.acquire().await {
        Ok(_permit) => build(&store, &id, account, owner).await,
        Err(error) => Err(error.into()),
    };
    let key = match built {
        Ok(key) => Some(key),
        Err(error) => {
            tracing::error!(%error, export = %id, "an export failed");
            None
        }
    };
    if let Err(error) = store.db.export_finished(&id, key.as_deref()).await {
        tracing::error!(%error, export = %id, "recording an export's end failed");
    }
}

pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        "image/avif" => "avif",
        _ => "jpg",
    }
}

/// Builds the archive and stores it; returns its storage key.
async fn build(store: &DataStore, id: &str, account_id: AccountId, owner: OwnerId) -> anyhow::Result<String> {
    let db = &store.db;
    db.export_progress(id, "running", 0).await?;
    let account = db.account_by_id(account_id).await?.ok_or_else(|| anyhow::anyhow!("the account is gone"))?;
    let identities: Vec<serde_json::Value> = sqlx::query(
        "SELECT issuer, created_at FROM identities WHERE account_id = $1",
    )
    .bind(account_id.to_string())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| {
        Ok::<_, sqlx::Error>(
            json!({ "issuer": row.try_get::<String, _>("issuer")?, "linked_at": row.try_get::<i64, _>("created_at")? }),
        )
    })
    .collect::<Result<_, _>>()?;
    let sessions: Vec<serde_json::Value> = store
        .sessions
        .for_account(&account_id.to_string())
        .await?
        .into_iter()
        .map(|record| {
            json!({
                "device": record.data.get(app::server_fn::DEVICE_KEY),
                "signed_in_at": record.data.get(app::server_fn::SIGNED_IN_AT_KEY),
                "expires_at": record.expires_at,
            })
        })
        .collect();
    let consent = db.consent_history("", Some(account_id)).await?;
    let usage = db.usage_records(owner).await?;
    let audit = db.audit_entries(Some(account_id), i64::MAX).await?;
    let photos = db.list_photos(owner).await?;
    let gallery = db.gallery(owner).await?;

    // (path in the archive, storage key) of every file.
    let mut files = Vec::new();
    let mut photo_entries = Vec::new();
    for photo in &photos {
        let Some((_, stored)) = db.photo(owner, photo.id).await? else { continue };
        let path = format!("photos/{}.{}", photo.id, extension(&stored.content_type));
        photo_entries.push(json!({
            "id": photo.id, "name": photo.name, "width": photo.width, "height": photo.height,
            "uploaded_at": photo.created_at, "file": path,
            "held_for_moderation": photo.held, "alt_text": photo.alt_text, "tags": photo.tags,
            "ocr_text": photo.ocr_text,
            "camera": db.camera_facts(photo.id).await?,
        }));
        files.push((path, stored.object_key));
    }
    let mut gallery_entries = Vec::new();
    for item in &gallery {
        let Some((_, stored)) = db.version(owner, item.id).await? else { continue };
        let path = format!("gallery/{}.{}", item.id, extension(&stored.content_type));
        gallery_entries.push(json!({
            "id": item.id, "photo_id": item.photo_id, "name": item.name, "width": item.width, "height": item.height,
            "recipe": item.recipe, "saved_at": item.created_at, "expires_at": item.created_at + store.photos.saved_secs,
            "file": path, "pipeline": item.pipeline,
        }));
        files.push((path, stored.object_key));
    }
    let manifest = json!({
        "format": "atelier-export/1",
        "exported_at": now(),
        "account": {
            "id": account.id, "display_name": account.display_name, "email": account.email,
            "email_verified": account.email_verified, "role": account.role, "has_password": account.password_hash.is_some(),
            "identities": identities,
            "security": db.account_security_records(account_id).await?,
        },
        "sessions": sessions,
        "consent_records": consent,
        "usage": usage,
        "payments": db.payment_records(account_id).await?,
        "audit_log": audit,
        "photos": photo_entries,
        "gallery": gallery_entries,
        "ai_jobs": db.job_records(owner).await?,
        "pipelines": db.pipeline_records(owner).await?,
        "batches": db.batch_records(owner).await?,
        "generations": db.generation_records(owner).await?,
        "prompt_templates": db.template_records(owner).await?,
        "search_index": db.search_records(owner).await?,
        "people": db.people_records(account_id, owner).await?,
        "credits": db.ledger_records(owner).await?,
        "api_keys": db.api_key_records(account_id).await?,
        "api_calls": db.api_call_records(account_id).await?,
        "api_jobs": db.api_job_records(owner).await?,
    });

    // The archive streams through a bounded channel into the sealer and the store: memory holds
    // one photo and a few chunks, never the archive.
    let key = keys::export(owner, Uuid::parse_str(id)?);
    let (sink, chunks) = ArchiveSink::channel();
    let writer = {
        let (store, id) = (store.clone(), id.to_string());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || write_archive(&runtime, &store, &id, sink, &manifest, &files))
    };
    let stored = store.photos.storage.put_stream(&key, chunks).await;
    let written = writer.await.map_err(|error| anyhow::anyhow!("the archive writer stopped: {error}"))?;
    if let Err(error) = written.and(stored.map_err(anyhow::Error::from)) {
        let _ = store.photos.storage.delete(&key).await;
        return Err(error);
    }
    Ok(key)
}

/// Writes the zip (on a blocking thread: the zip writer is synchronous), reading each file from
/// storage as it goes.
fn write_archive(
    runtime: &tokio::runtime::Handle,
    store: &DataStore,
    id: &str,
    sink: ArchiveSink,
    manifest: &serde_json::Value,
    files: &[(String, String)],
) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(sink);
    // Stored, not deflated: photos are compressed already.
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(false);
    zip.start_file("manifest.json", options)?;
    zip.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    let total = files.len().max(1) as i64;
    for (done, (path, key)) in files.iter().enumerate() {
        let data = runtime.block_on(store.photos.storage.get(key))?;
        zip.start_file(path.as_str(), options.large_file(data.len() as u64 >= u32::MAX as u64))?;
        zip.write_all(&data)?;
        // Up to 95%: storing the archive's end is the last step.
        runtime.block_on(store.db.export_progress(id, "running", (done as i64 + 1) * 95 / total))?;
    }
    zip.finish()?.close()?;
    Ok(())
}

/// GET /media/exports/{id}/archive?exp=…&sig=…: the archive, for its owner, through a signed link.
pub async fn download(
    State(store): State<std::sync::Arc<DataStore>>,
    State(accounts): State<std::sync::Arc<crate::accounts::AccountStore>>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let owner = store.photos.links.owner_for(&archive_path(&id), &signature, accounts.as_ref(), &session).await?;
    let job =
        store.db.export_for_owner(&id, owner).await.or_internal("reading an export")?.ok_or(AppError::NotFound)?;
    let key = job.object_key.filter(|_| job.state == JobState::Done).ok_or(AppError::NotFound)?;
    // Streamed and decrypted chunk by chunk: an archive is never held whole in memory.
    let data = store.photos.storage.get_stream(&key).await.or_internal("reading an export")?;
    store
        .db
        .audit_or_log(Some(job.account), Some(job.account), Event::ExportDownloaded, "Downloaded their data archive.")
        .await;
    let mut response = Body::from_stream(data).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"atelier-my-data.zip\""));
    Ok(response)
}
