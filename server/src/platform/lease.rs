//! Cluster-wide leases, so that work meant to happen once (the retention sweep, resuming an
//! export, watching a job for its webhook) happens once however many `atelier` processes share
//! the database.
//!
//! A lease is a row of `leases`: a name, the process holding it and the time it lapses. Taking
//! or renewing it is one conditional UPSERT, which succeeds only when the row is new, already
//! this holder's, or lapsed; both SQLite and Postgres run it atomically, so of two processes
//! asking at once exactly one gets it. Its holder renews it while alive; a holder killed with
//! SIGKILL stops renewing, its lease lapses after its time to live, and another process takes
//! it over. Why not Postgres advisory locks: they belong to a connection, which a pool hands out
//! and takes back at will, and SQLite has none; one table serves both.
//!
//! Times are the processes' own clocks, in milliseconds: machines sharing a database are assumed
//! to keep time with NTP, well within a lease's time to live.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;

use crate::platform::db::Db;

/// The lease of the periodic work (expired sessions, the retention sweep, resuming exports and
/// webhook watches a stopped process left): one process of the cluster does it.
pub const SWEEPER: &str = "sweeper";

/// The time to live of the cluster's leases, `server.lease_secs` (set once at start-up).
static TTL_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(15_000);

pub fn set_ttl(ttl: Duration) {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1000);
    TTL_MS.store(ms, Ordering::Relaxed);
}

pub fn ttl() -> Duration {
    Duration::from_millis(TTL_MS.load(Ordering::Relaxed))
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// This process's name as a holder: host, process id and a random part (a restarted process
/// with a reused id is still another holder).
pub fn holder() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{host}:{}:{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
    })
}

/// A lease's row, as operators and tests read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    pub until_ms: i64,
    pub detail: Option<String>,
    pub taken_at: i64,
    pub runs: i64,
}

impl Db {
    /// Takes `name` for `holder` until `ttl` from now, or renews it when `holder` has it; false
    /// when another holder has it and it has not lapsed. `detail` replaces the row's detail.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        detail: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, until_ms, detail, taken_at, runs) VALUES ($1, $2, $3, $4, $5, 0)
             ON CONFLICT (name) DO UPDATE SET
                 taken_at = CASE WHEN leases.holder = excluded.holder THEN leases.taken_at ELSE excluded.taken_at END,
                 holder = excluded.holder, until_ms = excluded.until_ms, detail = excluded.detail
             WHERE leases.holder = excluded.holder OR leases.until_ms < $5",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(detail)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives `name` up at once, if `holder` has it (the next process need not wait for it to
    /// lapse). The row stays, lapsed, until `expire_leases` removes it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE leases SET until_ms = $3 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .bind(now_ms() - 1)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Gives up every lease `holder` has: a process stopping (SIGTERM) hands its work over at
    /// once instead of after the leases' time to live.
    pub async fn release_leases_of(&self, holder: &str) -> Result<u64, sqlx::Error> {
        sqlx::query("UPDATE leases SET until_ms = $2 WHERE holder = $1 AND until_ms >= $2")
            .bind(holder)
            .bind(now_ms() - 1)
            .execute(self.pool())
            .await
            .map(|done| done.rows_affected())
    }

    /// Counts one run of the lease's work, if `holder` still has it; false when it does not (the
    /// work must then not be done: another process has taken over).
    pub async fn lease_ran(&self, name: &str, holder: &str) -> Result<bool, sqlx::Error> {
        let counted =
            sqlx::query("UPDATE leases SET runs = runs + 1 WHERE name = $1 AND holder = $2 AND until_ms >= $3")
                .bind(name)
                .bind(holder)
                .bind(now_ms())
                .execute(self.pool())
                .await?;
        Ok(counted.rows_affected() == 1)
    }

    pub async fn lease(&self, name: &str) -> Result<Option<LeaseRow>, sqlx::Error> {
        let row = sqlx::query("SELECT name, holder, until_ms, detail, taken_at, runs FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(LeaseRow {
                name: row.try_get("name")?,
                holder: row.try_get("holder")?,
                until_ms: row.try_get("until_ms")?,
                detail: row.try_get("detail")?,
                taken_at: row.try_get("taken_at")?,
                runs: row.try_get("runs")?,
            })
        })
        .transpose()
    }

    /// Lapsed leases go (a finished export's, a dead worker's), a day after they lapsed so an
    /// operator can still see who held what.
    pub async fn expire_leases(&self, lapsed_before_ms: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM leases WHERE until_ms < $1")
            .bind(lapsed_before_ms)
            .execute(self.pool())
            .await
            .map(|done| done.rows_affected())
    }
}

/// A lease this process keeps while it lives: renewed every third of its time to live by a task,
/// retaken when it lapsed under another holder. `held()` says whether this process has it now.
#[derive(Clone)]
pub struct Kept {
    held: Arc<AtomicBool>,
    changed: Arc<tokio::sync::Notify>,
    pub name: String,
}

impl Kept {
    /// Starts keeping `name`, with `detail` on its row; the first attempt is made before this
    /// returns, so `held()` is right at once.
    pub async fn start(db: Db, name: String, ttl: Duration, detail: Option<String>) -> Self {
        let kept = Self { held: Arc::new(AtomicBool::new(false)), changed: Arc::new(tokio::sync::Notify::new()), name };
        kept.renew(&db, ttl, detail.as_deref()).await;
        let task = kept.clone();
        tokio::spawn(async move {
            let every = (ttl / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                task.renew(&db, ttl, detail.as_deref()).await;
            }
        });
        kept
    }

    async fn renew(&self, db: &Db, ttl: Duration, detail: Option<&str>) {
        let now = match db.try_lease(&self.name, holder(), ttl, detail).await {
            Ok(held) => held,
            Err(error) => {
                // Unsure whether it still holds it: it acts as if not, since another process
                // may take it once it lapses.
                tracing::warn!(%error, lease = %self.name, "renewing a lease failed");
                false
            }
        };
        if self.held.swap(now, Ordering::SeqCst) != now {
            tracing::info!(lease = %self.name, held = now, "lease changed hands");
            self.changed.notify_waiters();
        }
    }

    pub fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// Waits until the lease may have changed hands.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Runs `work` under the lease `name`, renewed every third of `ttl` while it runs, then released;
/// `None` without running it when another process holds the lease, or, having stopped it, when
/// the lease was lost on the way (another process took it after this one failed to renew in
/// time: it does the work now). Each run is counted on the lease's row.
pub async fn run_held<F: Future>(
    db: &Db,
    name: &str,
    ttl: Duration,
    work: F,
) -> Result<Option<F::Output>, sqlx::Error> {
    // The row's holder is the process, so the database alone would let two tasks of one process
    // both "hold" it (a resume finding the export this process is building): one at a time here.
    let Some(_running) = Running::enter(name) else { return Ok(None) };
    if !db.try_lease(name, holder(), ttl, None).await? || !db.lease_ran(name, holder()).await? {
        return Ok(None);
    }
    let mut work = std::pin::pin!(work);
    let every = (ttl / 3).max(Duration::from_millis(100));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let outcome = loop {
        tokio::select! {
            output = &mut work => break Some(output),
            _ = renew.tick() => match db.try_lease(name, holder(), ttl, None).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(lease = name, "a lease was lost while its work ran; another process does it now");
                    break None;
                }
                Err(error) => tracing::warn!(%error, lease = name, "renewing a lease failed; trying again"),
            },
        }
    };
    if outcome.is_some() {
        db.release_lease(name, holder()).await?;
    }
    Ok(outcome)
}

/// The names `run_held` is running under in this process, each removed when its run ends.
struct Running(String);

static RUNNING: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl Running {
    fn enter(name: &str) -> Option<Self> {
        let mut running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.insert(name.to_string()).then(|| Self(name.to_string()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.0);
    }
}

/// At a clean stop: this process's leases go to the others at once (logged, never fatal).
pub async fn hand_over(db: &Db) {
    match db.release_leases_of(holder()).await {
        Ok(0) => {}
        Ok(released) => tracing::info!(released, "leases handed over"),
        Err(error) => tracing::warn!(%error, "handing the leases over failed; they lapse on their own"),
    }
}
