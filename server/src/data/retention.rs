//! Retention: uploads nobody saved a version of are deleted a day after upload, saved versions
//! after the configured period (then their original goes too, once nothing saved needs it),
//! finished "Download my data" archives after a day, the API call log after
//! `api_log_retention_days`, and guest workspaces left empty; their files
//! are purged from storage. Uploads held by moderation go at the same time unless an
//! administrator released them. A sweep is idempotent, takes "now" as a parameter (tests move the
//! clock), and logs counts, never content. It runs at start-up, then at the next due time of
//! anything it deletes (at least hourly), so nothing outlives its published time by more than
//! the few seconds a sweep takes. Each sweep also reconciles storage with the database
//! (`reconcile`): objects no row owns, past a grace period, are removed.

use sqlx::Row;

use crate::platform::db::{queue_purge, Db};
use crate::platform::storage::Storage;

/// The shortest time between two sweeps.
const MIN_GAP_SECS: i64 = 15;

#[derive(Clone, Debug)]
pub struct Retention {
    pub db: Db,
    pub storage: Storage,
    pub unsaved_secs: i64,
    pub saved_secs: i64,
    pub export_secs: i64,
    /// The API call log (`api_log_retention_days`).
    pub api_log_secs: i64,
    /// Storage against the database: orphaned objects and staging files (`reconcile`).
    pub reconcile: super::reconcile::Reconcile,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub expired_versions: u64,
    pub unsaved_photos: u64,
    pub expired_exports: u64,
    pub expired_jobs: u64,
    /// Batches whose items have all expired.
    pub expired_batches: u64,
    /// Prompt-history entries past the saved versions' time.
    pub expired_generations: u64,
    pub empty_guests: u64,
    pub purged_objects: u64,
    pub expired_api_calls: u64,
    /// Stored objects no row owned, past the grace period (`reconcile`).
    pub orphans_removed: u64,
    /// Staging files of writes a killed process never finished (local store).
    pub partial_files_removed: u64,
}

impl Db {
    /// Runs `delete` (`... RETURNING` the key columns) with `before` and queues those keys for
    /// purging, in one transaction; returns how many rows went.
    async fn delete_and_queue(&self, delete: &'static str, before: i64, columns: &[&str]) -> Result<u64, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(delete).bind(before).fetch_all(&mut *tx).await?;
        queue_purge(&mut tx, &rows, columns).await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    pub async fn expire_versions(&self, saved_before: i64) -> Result<u64, sqlx::Error> {
        self.delete_and_queue(
            "DELETE FROM versions WHERE created_at <= $1 RETURNING object_key, thumbnail_key",
            saved_before,
            &["object_key", "thumbnail_key"],
        )
        .await
    }

    /// Originals with no saved version, uploaded before `uploaded_before`.
    pub async fn expire_unsaved_photos(&self, uploaded_before: i64) -> Result<u64, sqlx::Error> {
        self.delete_and_queue(
            "DELETE FROM photos WHERE created_at <= $1
             AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = photos.id)
             RETURNING object_key, thumbnail_key",
            uploaded_before,
            &["object_key", "thumbnail_key"],
        )
        .await
    }

    /// Export archives finished before `finished_before` (failed jobs too).
    pub async fn expire_exports(&self, finished_before: i64) -> Result<u64, sqlx::Error> {
        self.delete_and_queue(
            "DELETE FROM export_jobs WHERE finished_at IS NOT NULL AND finished_at <= $1 RETURNING object_key",
            finished_before,
            &["object_key"],
        )
        .await
    }

    /// Guest workspaces (no account) that hold nothing and are older than `created_before`. A
    /// returning visitor whose workspace went simply gets a new one on their next upload.
    pub async fn remove_empty_guests(&self, created_before: i64) -> Result<u64, sqlx::Error> {
        let removed = sqlx::query(
            "DELETE FROM owners WHERE created_at <= $1
             AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.owner_id = owners.id)
             AND NOT EXISTS (SELECT 1 FROM photos p WHERE p.owner_id = owners.id)
             AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.owner_id = owners.id)
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.owner_id = owners.id)",
        )
        .bind(created_before)
        .execute(self.pool())
        .await?;
        // Their usage stays counted, but no longer tied to any workspace id.
        sqlx::query("UPDATE usage_records SET owner_id = NULL WHERE owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = usage_records.owner_id)")
            .execute(self.pool())
            .await?;
        // So are their credit entries (an allowance never spent).
        sqlx::query("UPDATE credit_ledger SET owner_id = NULL, note = '', job_id = NULL, created_by = NULL WHERE owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = credit_ledger.owner_id)")
            .execute(self.pool())
            .await?;
        Ok(removed.rows_affected())
    }

    pub async fn purge_queue(&self, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query("SELECT object_key FROM purge_queue ORDER BY queued_at, object_key LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.try_get("object_key"))
            .collect()
    }

    /// The earliest time anything the sweep deletes falls due, given the retention periods.
    pub async fn next_due(
        &self,
        unsaved_secs: i64,
        saved_secs: i64,
        export_secs: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT
               (SELECT MIN(created_at) FROM photos
                 WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = photos.id)) AS photo,
               (SELECT MIN(created_at) FROM versions) AS version,
               (SELECT MIN(created_at) FROM jobs) AS job,
               (SELECT MIN(created_at) FROM generations) AS generation,
               (SELECT MIN(finished_at) FROM export_jobs WHERE finished_at IS NOT NULL) AS export",
        )
        .fetch_one(self.pool())
        .await?;
        let at = |column: &str, after: i64| -> Result<Option<i64>, sqlx::Error> {
            Ok(row.try_get::<Option<i64>, _>(column)?.map(|at| at + after))
        };
        let due = [
            at("photo", unsaved_secs)?,
            at("version", saved_secs)?,
            at("job", unsaved_secs)?,
            at("generation", saved_secs)?,
            at("export", export_secs)?,
        ];
        Ok(due.into_iter().flatten().min())
    }

    pub async fn dequeue_purged(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM purge_queue WHERE object_key = $1").bind(key).execute(self.pool()).await.map(|_| ())
    }
}

/// Deletes queued objects from storage; one that fails stays queued for the next sweep.
pub async fn purge(db: &Db, storage: &Storage) -> Result<u64, sqlx::Error> {
    let mut purged = 0;
    loop {
        let keys = db.purge_queue(500).await?;
        let mut progress = false;
        for key in &keys {
            match storage.delete(key).await {
                Ok(()) => {
                    db.dequeue_purged(key).await?;
                    purged += 1;
                    progress = true;
                }
                Err(error) => tracing::warn!(%error, "purging a stored object failed; it stays queued"),
            }
        }
        if keys.len() < 500 || !progress {
            return Ok(purged);
        }
    }
}

impl Retention {
    /// When the next sweep should run after one at `now`: at the next due time, at most
    /// `longest` later (new uploads fall due a day later, so they never need an earlier one).
    pub async fn next_sweep(&self, now: i64, longest: i64) -> Result<i64, sqlx::Error> {
        let due = self.db.next_due(self.unsaved_secs, self.saved_secs, self.export_secs).await?;
        let due = due.into_iter().chain(self.db.next_api_call_due(self.api_log_secs).await?).min();
        // A second later than due: `created_at <= now - period` is then surely true.
        // Something due that could not go yet (a job still running) is retried a little later.
        Ok(due.map_or(now + longest, |due| (due + 1).clamp(now + MIN_GAP_SECS, now + longest)))
    }

    pub async fn sweep(&self, now: i64) -> Result<Swept, sqlx::Error> {
        // Versions first, so an original whose last version just expired goes in the same sweep.
        let expired_versions = self.db.expire_versions(now - self.saved_secs).await?;
        let unsaved_photos = self.db.expire_unsaved_photos(now - self.unsaved_secs).await?;
        let expired_exports = self.db.expire_exports(now - self.export_secs).await?;
        // AI results nobody saved: as long as an unsaved upload.
        let expired_jobs = self.db.expire_jobs(now - self.unsaved_secs, now).await?;
        let expired_batches = self.db.expire_batches(now - self.unsaved_secs).await?;
        let expired_generations = self.db.expire_generations(now - self.saved_secs).await?;
        let empty_guests = self.db.remove_empty_guests(now - self.unsaved_secs).await?;
        let purged_objects = purge(&self.db, &self.storage).await?;
        let expired_api_calls = self.db.expire_api_calls(now - self.api_log_secs).await?;
        // Idempotency keys after a day; which key started a job, with the job.
        crate::developer::v1::idempotency::sweep(&self.db, now, now - self.unsaved_secs).await?;
        // After the purge, so it finds only what no row and no queue accounts for. A failure is
        // logged, not fatal: the rest of the sweep has done its work.
        let reconciled = self.reconcile.run(&self.db, &self.storage, now).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "reconciling storage with the database failed; it runs again at a later sweep");
            Default::default()
        });
        let swept = Swept {
            expired_versions,
            unsaved_photos,
            expired_exports,
            expired_jobs,
            expired_batches,
            expired_generations,
            empty_guests,
            purged_objects,
            expired_api_calls,
            orphans_removed: reconciled.orphans_removed,
            partial_files_removed: reconciled.partial_files_removed,
        };
        tracing::info!(
            expired_versions,
            unsaved_photos,
            expired_exports,
            expired_jobs,
            expired_batches,
            expired_generations,
            empty_guests,
            purged_objects,
            expired_api_calls,
            "retention sweep"
        );
        Ok(swept)
    }
}
