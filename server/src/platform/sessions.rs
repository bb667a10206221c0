//! tower-sessions records kept in the database, so any web node can serve any request and a
//! restart signs nobody out. The table holds the SHA-256 of each session id (`stored_key`), never
//! the id itself: someone reading the table or a backup cannot sign in with what they find.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::platform::crypto::sha256_hex;
use crate::platform::db::{now, Db};

/// The key a session is stored under: the SHA-256 of its id, in hex.
pub fn stored_key(id: &Id) -> String {
    sha256_hex(&id.to_string())
}

/// A session as the table knows it: its stored key, data and expiry (never its id).
#[derive(Clone, Debug)]
pub struct StoredSession {
    pub key: String,
    pub data: HashMap<String, serde_json::Value>,
    pub expires_at: i64,
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Ends every session of `account` except `keep` (the one asking, for "sign out elsewhere").
    pub async fn delete_for_account(&self, account: &str, keep: Option<Id>) -> Result<u64, sqlx::Error> {
        let keep = keep.map(|id| stored_key(&id)).unwrap_or_default();
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id <> $2")
            .bind(account)
            .bind(keep)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The account's live sessions.
    pub async fn for_account(&self, account: &str) -> Result<Vec<StoredSession>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, data, expires_at FROM sessions WHERE account_id = $1 AND expires_at > $2")
            .bind(account)
            .bind(now())
            .fetch_all(self.db.pool())
            .await?;
        let decode = |row: &sqlx::any::AnyRow| -> Result<StoredSession, String> {
            let data: String = row.try_get("data").map_err(|e| e.to_string())?;
            Ok(StoredSession {
                key: row.try_get("id").map_err(|e| e.to_string())?,
                data: serde_json::from_str(&data).map_err(|e| e.to_string())?,
                expires_at: row.try_get("expires_at").map_err(|e| e.to_string())?,
            })
        };
        // A record that no longer decodes is skipped here (and ends at its expiry), not fatal.
        Ok(rows.iter().filter_map(|row| decode(row).ok()).collect())
    }

    /// Ends one session by its stored key.
    pub async fn delete_key(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(key).execute(self.db.pool()).await.map(|_| ())
    }

    /// Removes expired records; returns how many went.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now()).execute(self.db.pool()).await?;
        Ok(done.rows_affected())
    }
}

/// The signed-in account a record belongs to, mirrored into its own column.
fn account_of(record: &Record) -> Option<String> {
    record.data.get(app::server_fn::ACCOUNT_KEY).and_then(|value| value.as_str()).map(str::to_owned)
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Inserts under a fresh id, drawing again on the (astronomically unlikely) collision.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, data, expires_at, account_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(stored_key(&record.id))
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(account_of(record))
                .execute(self.db.pool())
                .await
                .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a live session only. A session ended meanwhile (signed out everywhere, revoked,
    /// expired) stays ended: a request that loaded it before then cannot bring it back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        sqlx::query("UPDATE sessions SET data = $1, expires_at = $2, account_id = $3 WHERE id = $4 AND expires_at > $5")
            .bind(data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(account_of(record))
            .bind(stored_key(&record.id))
            .bind(now())
            .execute(self.db.pool())
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(stored_key(id))
            .bind(now())
            .fetch_optional(self.db.pool())
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp(expires_at).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.delete_key(&stored_key(id)).await.map_err(backend)
    }
}
