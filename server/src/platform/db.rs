//! The database: one pool for SQLite or Postgres (sqlx's `Any` driver, so the same queries serve
//! both), migrations embedded and applied at start-up. Each feature keeps its own queries in its
//! `repo.rs`, as an `impl Db` block.
//!
//! Queries use `$n` placeholders and portable SQL, which both backends accept.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// Postgres rather than SQLite, for the few statements that differ (the job queue's claim).
    pub postgres: bool,
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A typed id from a text column (every id is stored as text).
pub(crate) fn parse_id<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| sqlx::Error::Decode(format!("{column} is not a valid id: {text}").into()))
}

/// Queues the object keys in `columns` of each row for purging, inside the caller's transaction,
/// so a crash can never lose track of a file whose row is gone.
pub async fn queue_purge(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[AnyRow],
    columns: &[&str],
) -> Result<(), sqlx::Error> {
    for row in rows {
        for column in columns {
            let Some(key) = row.try_get::<Option<String>, _>(*column)? else { continue };
            sqlx::query(
                "INSERT INTO purge_queue (object_key, queued_at) VALUES ($1, $2) ON CONFLICT (object_key) DO NOTHING",
            )
            .bind(key)
            .bind(now())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

impl Db {
    /// Connects, tunes SQLite for concurrent use, and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 4 } else { 16 })
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if is_sqlite {
                        // WAL lets readers proceed during a write; the timeout makes writers queue
                        // instead of failing with "database is locked".
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .context("connecting to the database")?;
        sqlx::migrate!("../migrations").run(&pool).await.context("applying database migrations")?;
        // Each database's own full-text index, which portable migrations cannot make.
        crate::search::repo::create_full_text_index(&pool, !is_sqlite).await.context("making the search index")?;
        Ok(Self { pool, postgres: !is_sqlite })
    }

    /// Serialises the check-and-write of one owner's limits (quota, queued jobs) inside `tx`:
    /// on Postgres the owner's row stays locked until the transaction ends. SQLite needs no lock
    /// when the transaction's first statement is the conditional write itself: it runs alone.
    pub async fn lock_owner(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str) -> Result<(), sqlx::Error> {
        if self.postgres {
            sqlx::query("SELECT id FROM owners WHERE id = $1 FOR UPDATE").bind(owner).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}
