//! The SQL of pipelines and batches. A batch's items are rows of `jobs` (see `ai_tools::queue`).

use app::batch::{BatchCounts, Pipeline};
use app::ids::{BatchId, JobId, JobState, OwnerId, PhotoId, PipelineId, VersionId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::ai_tools::queue::Enqueued;
use crate::billing::ledger;
use crate::platform::db::{now, parse_id as parse, queue_purge, Db};

/// `run_after` of a paused batch's queued items: never due until it is resumed.
pub const PAUSED: i64 = 253_402_300_799;

pub struct BatchRow {
    pub id: BatchId,
    pub name: String,
    pub pipeline: Pipeline,
    pub save_to_gallery: bool,
    pub preview: bool,
    pub paused: bool,
    pub created_at: i64,
}

pub struct ItemRow {
    pub job: JobId,
    pub photo: PhotoId,
    pub name: Option<String>,
    pub state: JobState,
    pub step: Option<String>,
    pub progress: i64,
    pub error: Option<String>,
    pub has_result: bool,
    pub version: Option<VersionId>,
}

/// A new batch and its items, inserted together.
pub struct NewBatch<'a> {
    pub id: BatchId,
    pub owner: OwnerId,
    pub name: &'a str,
    pub pipeline_json: &'a str,
    pub params: &'a str,
    pub photos: &'a [PhotoId],
    pub save_to_gallery: bool,
    pub preview: bool,
    pub max_attempts: i64,
    /// What each item reserves when queued (0: nothing, as with billing off).
    pub credits_per_item: i64,
}

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(format!("stored {column}: {e}").into()))
}

fn batch_row(row: &AnyRow) -> Result<BatchRow, sqlx::Error> {
    Ok(BatchRow {
        id: parse(row, "id")?,
        name: row.try_get("name")?,
        pipeline: json(row, "pipeline")?,
        save_to_gallery: row.try_get::<i64, _>("save_to_gallery")? != 0,
        preview: row.try_get::<i64, _>("preview")? != 0,
        paused: row.try_get::<i64, _>("paused")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    // --- pipelines ---

    pub async fn insert_pipeline(
        &self,
        id: PipelineId,
        owner: OwnerId,
        pipeline: &Pipeline,
        max_per_owner: i64,
    ) -> Result<bool, sqlx::Error> {
        let steps = serde_json::to_string(&pipeline.steps).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let owner = owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let inserted = sqlx::query(
            "INSERT INTO pipelines (id, owner_id, name, steps, created_at) SELECT $1, $2, $3, $4, $5
             WHERE (SELECT COUNT(*) FROM pipelines WHERE owner_id = $2) < $6",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(pipeline.name.trim())
        .bind(steps)
        .bind(now())
        .bind(max_per_owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// The owner's pipelines, newest first.
    pub async fn pipelines(&self, owner: OwnerId) -> Result<Vec<(PipelineId, Pipeline, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, name, steps, created_at FROM pipelines WHERE owner_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse(row, "id")?,
                    Pipeline { name: row.try_get("name")?, steps: json(row, "steps")? },
                    row.try_get("created_at")?,
                ))
            })
            .collect()
    }

    pub async fn delete_pipeline(&self, owner: OwnerId, id: PipelineId) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM pipelines WHERE id = $1 AND owner_id = $2")
            .bind(id.to_string())
            .bind(owner.to_string())
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    // --- batches ---

    /// The batch and one queued job per photo, in one transaction, unless the owner already has
    /// `max_unfinished` batch items queued or running (checked under the owner's lock), or its
    /// balance does not cover every item's credits (each item reserves its own).
    pub async fn insert_batch(&self, batch: &NewBatch<'_>, max_unfinished: i64) -> Result<Enqueued, sqlx::Error> {
        let at = now();
        let owner = batch.owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let unfinished: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND batch_id IS NOT NULL AND state IN ('queued', 'running')",
        )
        .bind(&owner)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if unfinished + batch.photos.len() as i64 > max_unfinished {
            return Ok(Enqueued::Full);
        }
        if batch.credits_per_item > 0 {
            let balance = ledger::balance_in(&mut tx, &owner).await?;
            if balance < batch.credits_per_item.saturating_mul(batch.photos.len() as i64) {
                return Ok(Enqueued::Short { balance });
            }
        }
        sqlx::query(
            "INSERT INTO batches (id, owner_id, name, pipeline, save_to_gallery, preview, paused, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(batch.id.to_string())
        .bind(&owner)
        .bind(batch.name)
        .bind(batch.pipeline_json)
        .bind(i64::from(batch.save_to_gallery))
        .bind(i64::from(batch.preview))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let note = format!("Batch item of {}", batch.name);
        for photo in batch.photos {
            // Time-ordered ids: items run (and list) in the order chosen.
            let job = uuid::Uuid::now_v7().to_string();
            sqlx::query(
                "INSERT INTO jobs (id, owner_id, photo_id, tool, params, state, progress, attempts, max_attempts, run_after,
                                   cancel_requested, created_at, batch_id)
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, 0, $6, $7, 0, $8, $9)",
            )
            .bind(&job)
            .bind(&owner)
            .bind(photo.to_string())
            .bind(super::PIPELINE)
            .bind(batch.params)
            .bind(batch.max_attempts)
            .bind(at)
            .bind(at)
            .bind(batch.id.to_string())
            .execute(&mut *tx)
            .await?;
            if batch.credits_per_item > 0 {
                ledger::reserve(&mut tx, &owner, &job, batch.credits_per_item, &note).await?;
            }
        }
        tx.commit().await?;
        Ok(Enqueued::Queued)
    }

    pub async fn batch_row(&self, owner: OwnerId, id: BatchId) -> Result<Option<BatchRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM batches WHERE id = $1 AND owner_id = $2")
            .bind(id.to_string())
            .bind(owner.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(batch_row)
            .transpose()
    }

    /// The owner's batches, newest first (at most 50).
    pub async fn batch_rows(&self, owner: OwnerId) -> Result<Vec<BatchRow>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM batches WHERE owner_id = $1 ORDER BY created_at DESC, id LIMIT 50")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(batch_row).collect()
    }

    /// Items by state, and when the last one finished.
    pub async fn batch_counts(&self, id: BatchId) -> Result<(BatchCounts, Option<i64>), sqlx::Error> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, MAX(finished_at) AS last FROM jobs WHERE batch_id = $1 GROUP BY state",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut counts = BatchCounts::default();
        let mut last = None;
        for row in &rows {
            let n = u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match JobState::parse(&row.try_get::<String, _>("state")?) {
                Some(JobState::Queued) => counts.queued += n,
                Some(JobState::Running) => counts.running += n,
                Some(JobState::Done) => counts.done += n,
                Some(JobState::Failed) => counts.failed += n,
                Some(JobState::Cancelled) | None => counts.cancelled += n,
            }
            counts.total += n;
            last = last.max(row.try_get::<Option<i64>, _>("last")?);
        }
        Ok((counts, last))
    }

    /// Every item, in the order chosen, with its photo's name (none once the photo is gone).
    pub async fn batch_items(&self, id: BatchId) -> Result<Vec<ItemRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT j.id, j.photo_id, p.name, j.state, j.step, j.progress, j.error, j.result_key, j.version_id
             FROM jobs j LEFT JOIN photos p ON p.id = j.photo_id
             WHERE j.batch_id = $1 ORDER BY j.created_at, j.id",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ItemRow {
                    job: parse(row, "id")?,
                    photo: parse(row, "photo_id")?,
                    name: row.try_get("name")?,
                    state: JobState::parse(&row.try_get::<String, _>("state")?).unwrap_or(JobState::Failed),
                    step: row.try_get("step")?,
                    progress: row.try_get("progress")?,
                    error: row.try_get("error")?,
                    has_result: row.try_get::<Option<String>, _>("result_key")?.is_some(),
                    version: row.try_get::<Option<String>, _>("version_id")?.and_then(|v| v.parse().ok()),
                })
            })
            .collect()
    }

    /// Pauses (queued items wait) or resumes (they are due now).
    pub async fn set_batch_paused(&self, owner: OwnerId, id: BatchId, paused: bool) -> Result<(), sqlx::Error> {
        let (id, owner) = (id.to_string(), owner.to_string());
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE batches SET paused = $3 WHERE id = $1 AND owner_id = $2")
            .bind(&id)
            .bind(&owner)
            .bind(i64::from(paused))
            .execute(&mut *tx)
            .await?;
        let sql = if paused {
            "UPDATE jobs SET run_after = $3 WHERE batch_id = $1 AND owner_id = $2 AND state = 'queued'"
        } else {
            "UPDATE jobs SET run_after = $3 WHERE batch_id = $1 AND owner_id = $2 AND state = 'queued' AND run_after >= $4"
        };
        sqlx::query(sql)
            .bind(&id)
            .bind(&owner)
            .bind(if paused { PAUSED } else { now() })
            .bind(PAUSED)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Queued items are cancelled at once (their credits come back); running ones are asked to
    /// stop at their next step.
    pub async fn cancel_batch(&self, owner: OwnerId, id: BatchId) -> Result<(), sqlx::Error> {
        let (id, owner) = (id.to_string(), owner.to_string());
        let mut tx = self.pool().begin().await?;
        let cancelled = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $3 WHERE batch_id = $1 AND owner_id = $2 AND state = 'queued'
             RETURNING id",
        )
        .bind(&id)
        .bind(&owner)
        .bind(now())
        .fetch_all(&mut *tx)
        .await?;
        for row in &cancelled {
            ledger::settle(&mut tx, &row.try_get::<String, _>("id")?, ledger::Settlement::Release).await?;
        }
        sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE batch_id = $1 AND owner_id = $2 AND state = 'running'")
            .bind(&id)
            .bind(&owner)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Failed and cancelled items start again from their first step (paused: they wait), each
    /// reserving `credits_per_item` again; none starts when the balance does not cover them all.
    pub async fn retry_batch(
        &self,
        owner: OwnerId,
        id: BatchId,
        paused: bool,
        credits_per_item: i64,
    ) -> Result<Enqueued, sqlx::Error> {
        let owner = owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        // The write comes first: on SQLite it takes the write lock before the balance is read.
        let retried = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, step = NULL, progress = 0, cancel_requested = 0,
                             finished_at = NULL, run_after = $3
             WHERE batch_id = $1 AND owner_id = $2 AND state IN ('failed', 'cancelled')
             RETURNING id",
        )
        .bind(id.to_string())
        .bind(&owner)
        .bind(if paused { PAUSED } else { now() })
        .fetch_all(&mut *tx)
        .await?;
        if credits_per_item > 0 && !retried.is_empty() {
            let balance = ledger::balance_in(&mut tx, &owner).await?;
            if balance < credits_per_item.saturating_mul(retried.len() as i64) {
                return Ok(Enqueued::Short { balance });
            }
            for row in &retried {
                ledger::reserve(
                    &mut tx,
                    &owner,
                    &row.try_get::<String, _>("id")?,
                    credits_per_item,
                    "Batch item tried again",
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Enqueued::Queued)
    }

    /// A done item's stored file: (storage key, content type, photo name).
    pub async fn batch_results(
        &self,
        owner: OwnerId,
        id: BatchId,
    ) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT COALESCE(v.object_key, j.result_key) AS object_key,
                    COALESCE(v.content_type, j.result_content_type) AS content_type, COALESCE(p.name, 'photo') AS name
             FROM jobs j LEFT JOIN photos p ON p.id = j.photo_id LEFT JOIN versions v ON v.id = j.version_id
             WHERE j.batch_id = $1 AND j.owner_id = $2 AND j.state = 'done'
             ORDER BY j.created_at, j.id",
        )
        .bind(id.to_string())
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut results = Vec::new();
        for row in &rows {
            let key: Option<String> = row.try_get("object_key")?;
            let content_type: Option<String> = row.try_get("content_type")?;
            if let (Some(key), Some(content_type)) = (key, content_type) {
                results.push((key, content_type, row.try_get("name")?));
            }
        }
        Ok(results)
    }

    /// Removes a version a batch item made on an attempt that did not count, unless a finished
    /// item points at it (another worker's attempt replaced it and finished).
    pub async fn delete_unclaimed_version(&self, owner: OwnerId, id: VersionId) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "DELETE FROM versions WHERE id = $1 AND owner_id = $2
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE version_id = $1 AND state = 'done')
             RETURNING object_key, thumbnail_key",
        )
        .bind(id.to_string())
        .bind(owner.to_string())
        .fetch_all(&mut *tx)
        .await?;
        queue_purge(&mut tx, &rows, &["object_key", "thumbnail_key"]).await?;
        tx.commit().await
    }

    /// Batches whose items have all expired go too (their saved results stay in the gallery).
    pub async fn expire_batches(&self, created_before: i64) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query(
            "DELETE FROM batches WHERE created_at <= $1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)",
        )
        .bind(created_before)
        .execute(self.pool())
        .await?;
        Ok(deleted.rows_affected())
    }

    /// "Download my data": the owner's pipelines and batches (items are under `ai_jobs`).
    pub async fn pipeline_records(&self, owner: OwnerId) -> Result<serde_json::Value, sqlx::Error> {
        let pipelines = self.pipelines(owner).await?;
        Ok(serde_json::json!(pipelines
            .into_iter()
            .map(|(id, pipeline, created_at)| serde_json::json!({
                "id": id, "name": pipeline.name, "steps": pipeline.steps, "created_at": created_at,
            }))
            .collect::<Vec<_>>()))
    }

    pub async fn batch_records(&self, owner: OwnerId) -> Result<serde_json::Value, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM batches WHERE owner_id = $1 ORDER BY created_at")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?;
        let batches = rows.iter().map(batch_row).collect::<Result<Vec<_>, _>>()?;
        Ok(serde_json::json!(batches
            .into_iter()
            .map(|b| serde_json::json!({
                "id": b.id, "name": b.name, "pipeline": b.pipeline, "save_to_gallery": b.save_to_gallery,
                "preview": b.preview, "created_at": b.created_at,
            }))
            .collect::<Vec<_>>()))
    }
}
