//! The API call log: one row per `/api/v1` call made with a known key (time, key, method, path
//! without its query string, status, duration; never a body), read by the key's owner newest
//! first, and deleted by the retention sweep `api_log_retention_days` after the call.

use app::developer::{ApiCall, ApiCallPage};
use app::ids::AccountId;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::platform::db::{parse_id, Db};

/// Calls shown per page of the log.
pub const PAGE_SIZE: i64 = 50;
/// A path longer than this is cut: the log is for reading, and a client controls the path.
const MAX_PATH_CHARS: usize = 300;

pub struct NewCall<'a> {
    pub account: AccountId,
    pub key: Uuid,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: i64,
    pub at: i64,
}

fn call(row: &AnyRow) -> Result<ApiCall, sqlx::Error> {
    Ok(ApiCall {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        key_id: parse_id(row, "key_id")?,
        key_name: row.try_get("name")?,
        key_prefix: row.try_get("prefix")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
        duration_ms: row.try_get("duration_ms")?,
    })
}

const SELECT_CALLS: &str =
    "SELECT c.id, c.created_at, c.key_id, k.name, k.prefix, c.method, c.path, c.status, c.duration_ms
     FROM api_calls c JOIN api_keys k ON k.id = c.key_id";

impl Db {
    pub async fn insert_api_call(&self, call: &NewCall<'_>) -> Result<(), sqlx::Error> {
        let path: String = call.path.chars().take(MAX_PATH_CHARS).collect();
        sqlx::query(
            "INSERT INTO api_calls (id, account_id, key_id, method, path, status, duration_ms, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(call.account.to_string())
        .bind(call.key.to_string())
        .bind(call.method)
        .bind(path)
        .bind(i64::from(call.status))
        .bind(call.duration_ms)
        .bind(call.at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// A page of the account's calls, newest first; ids are time-ordered (UUIDv7), so `before`
    /// (the last id of the previous page) is the cursor.
    pub async fn api_calls_of(&self, account: AccountId, before: Option<&str>) -> Result<ApiCallPage, sqlx::Error> {
        let rows = match before {
            Some(before) => {
                let sql = format!("{SELECT_CALLS} WHERE c.account_id = $1 AND c.id < $2 ORDER BY c.id DESC LIMIT $3");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(account.to_string())
                    .bind(before)
                    .bind(PAGE_SIZE + 1)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                let sql = format!("{SELECT_CALLS} WHERE c.account_id = $1 ORDER BY c.id DESC LIMIT $2");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(account.to_string())
                    .bind(PAGE_SIZE + 1)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let mut calls = rows.iter().map(call).collect::<Result<Vec<_>, _>>()?;
        let more = calls.len() as i64 > PAGE_SIZE;
        calls.truncate(PAGE_SIZE as usize);
        let next = if more { calls.last().map(|call| call.id.clone()) } else { None };
        Ok(ApiCallPage { calls, next })
    }

    /// The retention sweep: calls made at or before `made_before`.
    pub async fn expire_api_calls(&self, made_before: i64) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query("DELETE FROM api_calls WHERE created_at <= $1").bind(made_before).execute(self.pool()).await?;
        Ok(done.rows_affected())
    }

    /// When the oldest logged call falls due, `retention_secs` after it was made.
    pub async fn next_api_call_due(&self, retention_secs: i64) -> Result<Option<i64>, sqlx::Error> {
        let oldest: Option<i64> = sqlx::query("SELECT MIN(created_at) AS oldest FROM api_calls")
            .fetch_one(self.pool())
            .await?
            .try_get("oldest")?;
        Ok(oldest.map(|at| at + retention_secs))
    }

    /// "Download my data": every logged call of the account, oldest first.
    pub async fn api_call_records(&self, account: AccountId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let sql = format!("{SELECT_CALLS} WHERE c.account_id = $1 ORDER BY c.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let call = call(row)?;
                Ok(serde_json::json!({
                    "at": call.created_at, "key_id": call.key_id, "key_prefix": call.key_prefix,
                    "method": call.method, "path": call.path, "status": call.status, "duration_ms": call.duration_ms,
                }))
            })
            .collect()
    }
}
