//! The durable job queue: rows in the `jobs` table, claimed by workers under a lease.
//!
//! Why not `apalis`: its SQL backends are separate per database and built on sqlx 0.8, while
//! Atelier runs one sqlx 0.9 `Any` pool for SQLite and Postgres; a second sqlx and a second
//! schema would cost more than these few statements. The claim is one `UPDATE … RETURNING` on a
//! subquery: on Postgres the subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent workers skip
//! each other's rows instead of waiting; SQLite runs one writing statement at a time, so the same
//! statement without the clause is already atomic. A worker renews `lease_until` while it works;
//! a row still 'running' after its lease ran out belonged to a worker that died, and is claimed
//! again like a queued one.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use app::ai_tools::ToolKind;
use app::ids::{JobId, OwnerId, PhotoId, VersionId};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::billing::ledger::{settle, Settlement};
use crate::platform::db::{now, parse_id as parse, queue_purge, Db};

pub struct NewJob<'a> {
    pub id: JobId,
    pub owner: OwnerId,
    pub photo: PhotoId,
    pub tool: &'a str,
    pub params: &'a str,
    pub mask_key: Option<&'a str>,
    pub max_attempts: i64,
}

/// What `enqueue_charged_job` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    /// The owner has as many jobs queued or running as allowed.
    Full,
    /// The balance does not cover the job's credits.
    Short {
        balance: i64,
    },
}

/// A job a worker now holds.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: JobId,
    pub owner: OwnerId,
    pub photo: PhotoId,
    /// A tool's name, or `batch::PIPELINE` for a batch item.
    pub tool: String,
    pub params: String,
    pub mask_key: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// The bridge between a tool on a blocking thread and the async heartbeat.
#[derive(Default)]
pub struct JobProgress {
    per_mille: AtomicU32,
    cancelled: AtomicBool,
    /// The step a batch item is on, not yet recorded (taken by the next heartbeat).
    step: Mutex<Option<String>>,
}

impl JobProgress {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
    pub(crate) fn per_mille(&self) -> i64 {
        i64::from(self.per_mille.load(Ordering::Relaxed))
    }
    /// Names the step now running, for the batch's progress rows.
    pub fn enter_step(&self, label: String) {
        if let Ok(mut step) = self.step.lock() {
            *step = Some(label);
        }
    }
    pub(crate) fn take_step(&self) -> Option<String> {
        self.step.lock().ok().and_then(|mut step| step.take())
    }
}

impl ai::Progress for JobProgress {
    fn report(&self, fraction: f32) {
        self.per_mille.store((fraction.clamp(0.0, 1.0) * 1000.0) as u32, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// What a finished job produced.
#[derive(Default)]
pub struct Outcome {
    pub provider: Option<String>,
    pub detail: Option<String>,
    pub result: Option<ResultFiles>,
    /// The gallery version a batch item saved instead of a result file.
    pub version: Option<VersionId>,
    /// Metered once the job is recorded as done.
    pub usage: Option<app::data::UsageRecord>,
}

pub struct ResultFiles {
    pub key: String,
    pub thumbnail_key: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// Result and thumbnail together, counted in the owner's quota.
    pub byte_size: u64,
}

/// How a heartbeat went.
pub enum Lease {
    Held {
        cancel_requested: bool,
    },
    /// The row is no longer this worker's (cancelled while queued, erased, or re-claimed).
    Lost,
}

macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET state = 'running', locked_by = $1, ran_by = $1, lease_until = $2, attempts = attempts + 1, progress = 0
             WHERE id = (SELECT id FROM jobs
                         WHERE ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3))
                         ORDER BY CASE WHEN photo_id = owner_id THEN 2 WHEN batch_id IS NULL THEN 0 ELSE 1 END,
                                  run_after, created_at, id LIMIT 1 ",
            $lock,
            ")
             RETURNING id, owner_id, photo_id, tool, params, mask_key, attempts, max_attempts"
        )
    };
}
const CLAIM_POSTGRES: &str = claim!("FOR UPDATE SKIP LOCKED");
const CLAIM_SQLITE: &str = claim!("");

/// What a worker process can run well, for the order it claims jobs in. The queue stays one table
/// and the claim one statement; only its filter and order differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerClass {
    /// Runs on a GPU (ONNX Runtime with CUDA, or `ai.worker_gpu = "yes"`): the GPU-worthy tools'
    /// jobs first, then any.
    Gpu,
    /// The rest first; a GPU-worthy job only when no GPU worker is alive (its `worker:` lease has
    /// lapsed), or when the job has waited `GPU_WAIT_SECS` since it was due, so nothing starves
    /// behind a busy or absent GPU.
    Cpu,
}

impl WorkerClass {
    pub fn label(self) -> &'static str {
        match self {
            WorkerClass::Gpu => "gpu",
            WorkerClass::Cpu => "cpu",
        }
    }
}

/// How long a GPU-worthy job waits for a GPU worker before a CPU worker may take it.
pub const GPU_WAIT_SECS: i64 = 30;
/// The lease each worker process keeps while alive, `worker:<holder>`, its detail its class.
pub const WORKER_LEASE_PREFIX: &str = "worker:";

/// The claim for `class` on Postgres or SQLite: `claim!` with a filter and an order put first.
/// Built once; the tool names are the registry's own constants, never input, so they are written
/// into the statement (a bound list would need one placeholder per tool).
fn claim_for(postgres: bool, class: WorkerClass) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<[String; 4]> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        let names = crate::ai_tools::tools::gpu_worthy_tools();
        let list = if names.is_empty() {
            "''".to_string()
        } else {
            names.iter().map(|name| format!("'{}'", name.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
        };
        let gpu_first = format!("ORDER BY CASE WHEN tool IN ({list}) THEN 0 ELSE 1 END, ");
        let cpu_first = format!(
            "AND (tool NOT IN ({list}) OR run_after <= $3 - {GPU_WAIT_SECS}
                  OR NOT EXISTS (SELECT 1 FROM leases WHERE name LIKE '{WORKER_LEASE_PREFIX}%' AND detail = 'gpu'
                                 AND until_ms >= $4))
             ORDER BY CASE WHEN tool IN ({list}) THEN 1 ELSE 0 END, "
        );
        let with = |base: &str, order: &str| base.replacen("ORDER BY ", order, 1);
        [
            with(CLAIM_POSTGRES, &gpu_first),
            with(CLAIM_POSTGRES, &cpu_first),
            with(CLAIM_SQLITE, &gpu_first),
            with(CLAIM_SQLITE, &cpu_first),
        ]
    });
    let index = usize::from(!postgres) * 2 + usize::from(class == WorkerClass::Cpu);
    &statements[index]
}

fn claimed(row: &AnyRow) -> Result<Claimed, sqlx::Error> {
    Ok(Claimed {
        id: parse(row, "id")?,
        owner: parse(row, "owner_id")?,
        photo: parse(row, "photo_id")?,
        tool: row.try_get("tool")?,
        params: row.try_get("params")?,
        mask_key: row.try_get("mask_key")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
    })
}

impl Db {
    /// Queues one of the server's own jobs over a whole workspace (the search index, People)
    /// unless one of that `tool` is already waiting. Never refused for the workspace's job cap,
    /// listed in no photo's AI panel: the queue's photo column holds the workspace's id.
    pub async fn queue_workspace_job(
        &self,
        owner: OwnerId,
        tool: &str,
        max_attempts: i64,
    ) -> Result<bool, sqlx::Error> {
        let waiting = sqlx::query("SELECT 1 AS one FROM jobs WHERE owner_id = $1 AND tool = $2 AND state = 'queued'")
            .bind(owner.to_string())
            .bind(tool)
            .fetch_optional(self.pool())
            .await?;
        if waiting.is_some() {
            return Ok(false);
        }
        let job = NewJob {
            id: JobId(Uuid::new_v4()),
            owner,
            photo: PhotoId(owner.0),
            tool,
            params: "{}",
            mask_key: None,
            max_attempts,
        };
        self.enqueue_job(&job, u64::MAX).await
    }

    /// Queues the job unless its owner already has `max_active` queued or running; checked and
    /// inserted in one step, so requests sent together cannot pass the cap. False when full. The
    /// server's own jobs over a whole workspace (the search index, People) hold the workspace's id
    /// as their photo: they count against no cap, and run after what people asked for.
    pub async fn enqueue_job(&self, job: &NewJob<'_>, max_active: u64) -> Result<bool, sqlx::Error> {
        Ok(self.enqueue_charged_job(job, max_active, 0).await? == Enqueued::Queued)
    }

    /// `enqueue_job` that also reserves `credits` (when above zero) in the same transaction, only
    /// when the owner's balance covers them. The balance is checked in the insert's own condition:
    /// on SQLite that first write takes the database's write lock before it reads, on Postgres the
    /// owner's row is locked first; either way no two enqueues can spend the same credits.
    pub async fn enqueue_charged_job(
        &self,
        job: &NewJob<'_>,
        max_active: u64,
        credits: i64,
    ) -> Result<Enqueued, sqlx::Error> {
        let at = now();
        let owner = job.owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, owner_id, photo_id, tool, params, state, progress, attempts, max_attempts, run_after,
                               cancel_requested, mask_key, created_at)
             SELECT $1, $2, $3, $4, $5, 'queued', 0, 0, $6, $7, 0, $8, $7
             WHERE (SELECT COUNT(*) FROM jobs WHERE owner_id = $2 AND state IN ('queued', 'running')
                    AND photo_id <> owner_id) < $9
               AND ($10 <= 0 OR (SELECT COALESCE(SUM(credits), 0) FROM credit_ledger WHERE owner_id = $2) >= $10)",
        )
        .bind(job.id.to_string())
        .bind(&owner)
        .bind(job.photo.to_string())
        .bind(job.tool)
        .bind(job.params)
        .bind(job.max_attempts)
        .bind(at)
        .bind(job.mask_key)
        .bind(i64::try_from(max_active).unwrap_or(i64::MAX))
        .bind(credits)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            if credits > 0 {
                let note = format!("{} queued", ToolKind::operation_label(job.tool));
                crate::billing::ledger::reserve(&mut tx, &owner, &job.id.to_string(), credits, &note).await?;
            }
            tx.commit().await?;
            return Ok(Enqueued::Queued);
        }
        if credits > 0 {
            let balance = crate::billing::ledger::balance_in(&mut tx, &owner).await?;
            if balance < credits {
                return Ok(Enqueued::Short { balance });
            }
        }
        Ok(Enqueued::Full)
    }

    /// Takes the oldest job that is due, or whose worker's lease ran out, for `worker`.
    pub async fn claim_job(&self, worker: &str, now: i64, lease_secs: i64) -> Result<Option<Claimed>, sqlx::Error> {
        let sql = if self.postgres { CLAIM_POSTGRES } else { CLAIM_SQLITE };
        let row = sqlx::query(sql).bind(worker).bind(now + lease_secs).bind(now).fetch_optional(self.pool()).await?;
        row.as_ref().map(claimed).transpose()
    }

    /// `claim_job` for a worker of `class`: the jobs it suits first (see `WorkerClass`).
    pub async fn claim_job_as(
        &self,
        worker: &str,
        class: WorkerClass,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Claimed>, sqlx::Error> {
        let query = sqlx::query(claim_for(self.postgres, class)).bind(worker).bind(now + lease_secs).bind(now);
        // Only a CPU worker's claim asks whether a GPU worker is alive ($4).
        let query = match class {
            WorkerClass::Cpu => query.bind(crate::platform::lease::now_ms()),
            WorkerClass::Gpu => query,
        };
        let row = query.fetch_optional(self.pool()).await?;
        row.as_ref().map(claimed).transpose()
    }

    /// Renews the lease and records progress (per mille) and the step entered since the last
    /// beat; tells whether cancellation was asked.
    pub async fn heartbeat_job(
        &self,
        id: JobId,
        worker: &str,
        progress: i64,
        lease_until: i64,
        step: Option<String>,
    ) -> Result<Lease, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE jobs SET progress = $3, lease_until = $4, step = COALESCE($5, step)
             WHERE id = $1 AND locked_by = $2 AND state = 'running'
             RETURNING cancel_requested",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(progress)
        .bind(lease_until)
        .bind(step)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(row) => Lease::Held { cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0 },
            None => Lease::Lost,
        })
    }

    /// Records success. False when the row was no longer this worker's; the caller then deletes
    /// the files it stored.
    pub async fn finish_job(&self, id: JobId, worker: &str, outcome: &Outcome) -> Result<bool, sqlx::Error> {
        let result = outcome.result.as_ref();
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', progress = 1000, provider = $3, detail = $4, result_key = $5,
                    result_thumbnail_key = $6, result_content_type = $7, result_width = $8, result_height = $9,
                    finished_at = $10, locked_by = NULL, lease_until = NULL, error = NULL, result_bytes = $11,
                    version_id = $12, step = NULL
             WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(outcome.provider.as_deref())
        .bind(outcome.detail.as_deref())
        .bind(result.map(|r| r.key.clone()))
        .bind(result.map(|r| r.thumbnail_key.clone()))
        .bind(result.map(|r| r.content_type.clone()))
        .bind(result.map(|r| i64::from(r.width)))
        .bind(result.map(|r| i64::from(r.height)))
        .bind(now())
        .bind(result.map_or(0, |r| i64::try_from(r.byte_size).unwrap_or(i64::MAX)))
        .bind(outcome.version.map(|v| v.to_string()))
        .execute(&mut *tx)
        .await?;
        let done = done.rows_affected() == 1;
        if done {
            settle(&mut tx, &id.to_string(), Settlement::Capture).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Records a failure: queued again after `retry_at` when given, otherwise failed for good.
    pub async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let sql = if retry_at.is_some() {
            "UPDATE jobs SET state = 'queued', run_after = $4, error = $3, locked_by = NULL, lease_until = NULL
             WHERE id = $1 AND locked_by = $2 AND state = 'running'"
        } else {
            "UPDATE jobs SET state = 'failed', error = $3, finished_at = $4, locked_by = NULL, lease_until = NULL
             WHERE id = $1 AND locked_by = $2 AND state = 'running'"
        };
        // Tried again later, the job keeps its reservation; failed for good, it gets it back.
        let mut tx = self.pool().begin().await?;
        let failed = sqlx::query(sql)
            .bind(id.to_string())
            .bind(worker)
            .bind(error)
            .bind(retry_at.unwrap_or_else(now))
            .execute(&mut *tx)
            .await?;
        if failed.rows_affected() == 1 && retry_at.is_none() {
            settle(&mut tx, &id.to_string(), Settlement::Release).await?;
        }
        tx.commit().await
    }

    pub async fn mark_job_cancelled(&self, id: JobId, worker: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let cancelled = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $3, locked_by = NULL, lease_until = NULL
             WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if cancelled.rows_affected() == 1 {
            settle(&mut tx, &id.to_string(), Settlement::Release).await?;
        }
        tx.commit().await
    }

    /// A queued job is cancelled at once; a running one is asked to stop at its next step.
    /// False when the owner has no such unfinished job.
    pub async fn request_job_cancel(&self, owner: OwnerId, id: JobId) -> Result<bool, sqlx::Error> {
        let (id, owner) = (id.to_string(), owner.to_string());
        let mut tx = self.pool().begin().await?;
        let queued = sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = $3 WHERE id = $1 AND owner_id = $2 AND state = 'queued'")
            .bind(&id)
            .bind(&owner)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if queued.rows_affected() == 1 {
            settle(&mut tx, &id, Settlement::Release).await?;
            tx.commit().await?;
            return Ok(true);
        }
        tx.commit().await?;
        let running =
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND owner_id = $2 AND state = 'running'")
                .bind(&id)
                .bind(&owner)
                .execute(self.pool())
                .await?;
        Ok(running.rows_affected() == 1)
    }

    /// Blanks a job's options (a deleted generation's prompt), leaving its state for the day.
    pub async fn forget_job_params(&self, owner: OwnerId, id: JobId) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE jobs SET params = '{}' WHERE id = $1 AND owner_id = $2")
            .bind(id.to_string())
            .bind(owner.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// An owner's AI jobs as "Download my data" lists them: what ran, with which options, when,
    /// on what, and what it said (results are files of a day; kept ones are in the gallery). The
    /// server's own jobs over the workspace are left out: what they made is exported on its own
    /// (the search index, People).
    pub async fn job_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, photo_id, tool, params, state, attempts, provider, detail, error, saved_photo_id, created_at, finished_at
             FROM jobs WHERE owner_id = $1 AND photo_id <> owner_id ORDER BY created_at",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let json = |column: &str| -> Result<serde_json::Value, sqlx::Error> {
                    let text: Option<String> = row.try_get(column)?;
                    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(serde_json::Value::Null))
                };
                Ok(serde_json::json!({
                    "id": row.try_get::<String, _>("id")?,
                    "photo_id": row.try_get::<String, _>("photo_id")?,
                    "tool": row.try_get::<String, _>("tool")?,
                    "label": ToolKind::operation_label(&row.try_get::<String, _>("tool")?),
                    "options": json("params")?,
                    "state": row.try_get::<String, _>("state")?,
                    "attempts": row.try_get::<i64, _>("attempts")?,
                    "provider": row.try_get::<Option<String>, _>("provider")?,
                    "detail": json("detail")?,
                    "error": row.try_get::<Option<String>, _>("error")?,
                    "saved_as_photo": row.try_get::<Option<String>, _>("saved_photo_id")?,
                    "created_at": row.try_get::<i64, _>("created_at")?,
                    "finished_at": row.try_get::<Option<i64>, _>("finished_at")?,
                }))
            })
            .collect()
    }

    /// Jobs older than `created_before` go, with their files (results, masks) queued for purging:
    /// an AI result lives 24 hours unless it was saved to the gallery (as a copy).
    /// A 'running' job goes only once its lease ran out (no worker holds it).
    pub async fn expire_jobs(&self, created_before: i64, now: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "DELETE FROM jobs WHERE created_at <= $1 AND (state <> 'running' OR lease_until < $2)
             RETURNING id, state, result_key, result_thumbnail_key, mask_key",
        )
        .bind(created_before)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        queue_purge(&mut tx, &rows, &["result_key", "result_thumbnail_key", "mask_key"]).await?;
        // A job that never ran to its end gives its credits back as it goes.
        for row in &rows {
            if matches!(row.try_get::<String, _>("state")?.as_str(), "queued" | "running") {
                settle(&mut tx, &row.try_get::<String, _>("id")?, Settlement::Release).await?;
            }
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

/// Every job of an owner, with its files queued for purging (account erasure).
pub async fn delete_owner_jobs(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str) -> Result<(), sqlx::Error> {
    let rows = sqlx::query("DELETE FROM jobs WHERE owner_id = $1 RETURNING result_key, result_thumbnail_key, mask_key")
        .bind(owner)
        .fetch_all(&mut **tx)
        .await?;
    queue_purge(tx, &rows, &["result_key", "result_thumbnail_key", "mask_key"]).await
}

/// A fresh worker id: which process and which of its workers, for the `locked_by` column.
pub fn worker_id(index: usize) -> String {
    format!("{}-{index}-{}", std::process::id(), Uuid::new_v4().simple())
}
