//! `Idempotency-Key` on every POST that creates something: the first request with a key runs and
//! its answer (status and body) is kept for 24 hours under (API key, Idempotency-Key) with a
//! fingerprint of the request; the same request again gets that answer without running twice;
//! another request under the same key is 422 `idempotency_conflict`; one still running is 409
//! `idempotency_in_progress`. Failures are not kept, so a client may retry them with the same key.

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::developer::caller::ApiCaller;
use crate::developer::error::ApiError;
use crate::platform::crypto::hex;
use crate::platform::db::{now, Db};

pub const HEADER: &str = "idempotency-key";
/// Set on an answer replayed from an earlier request.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key and its answer are kept.
pub const KEEP_SECS: i64 = 24 * 3600;
const MAX_KEY_CHARS: usize = 255;

/// What a request is, for telling "the same request" from another under one key.
pub fn fingerprint(method: &str, path: &str, parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    for part in parts {
        // Length-prefixed, so moving bytes between parts changes the fingerprint.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hex(&hash.finalize())
}

/// The request's `Idempotency-Key`, if any: 1 to 255 visible ASCII characters.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else { return Ok(None) };
    let text =
        value.to_str().ok().map(str::trim).filter(|text| {
            !text.is_empty() && text.len() <= MAX_KEY_CHARS && text.chars().all(|c| c.is_ascii_graphic())
        });
    text.map(|text| Some(text.to_string())).ok_or_else(|| {
        super::common::bad_request(format!("Idempotency-Key is 1 to {MAX_KEY_CHARS} visible ASCII characters."))
    })
}

/// Runs `work` once per (key, Idempotency-Key): see the module's comment. Without a key it just
/// runs. `work`'s answer is serialised to JSON with `status`.
pub async fn once<T, F, Fut>(
    db: &Db,
    caller: &ApiCaller,
    key: Option<String>,
    fingerprint: String,
    status: StatusCode,
    work: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let Some(key) = key else {
        return Ok((status, Json(work().await?)).into_response());
    };
    let key_id = caller.key_id.to_string();
    if let Some(answer) = claim(db, &key_id, &key, &fingerprint).await? {
        return Ok(answer);
    }
    let mut pending = Pending { db: db.clone(), key_id, key, finished: false };
    let result = work().await;
    pending.finished = true;
    match result {
        Ok(value) => {
            let body = serde_json::to_string(&value).map_err(|error| {
                tracing::error!(%error, "serialising an API answer failed");
                ApiError::from(app::error::AppError::Internal)
            })?;
            sqlx::query("UPDATE api_idempotency SET status = $1, body = $2 WHERE key_id = $3 AND idempotency_key = $4")
                .bind(i64::from(status.as_u16()))
                .bind(&body)
                .bind(&pending.key_id)
                .bind(&pending.key)
                .execute(db.pool())
                .await
                .map_err(app::error::AppError::from)?;
            Ok(json_response(status, body, false))
        }
        Err(error) => {
            pending.forget().await;
            Err(error)
        }
    }
}

/// Takes the key for this request, or answers from (or about) the request that holds it.
async fn claim(db: &Db, key_id: &str, key: &str, fingerprint: &str) -> Result<Option<Response>, ApiError> {
    let at = now();
    // An expired row is as good as none; the retention sweep removes the rest.
    sqlx::query("DELETE FROM api_idempotency WHERE key_id = $1 AND idempotency_key = $2 AND created_at <= $3")
        .bind(key_id)
        .bind(key)
        .bind(at - KEEP_SECS)
        .execute(db.pool())
        .await
        .map_err(app::error::AppError::from)?;
    let inserted = sqlx::query(
        "INSERT INTO api_idempotency (key_id, idempotency_key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key_id, idempotency_key) DO NOTHING",
    )
    .bind(key_id)
    .bind(key)
    .bind(fingerprint)
    .bind(at)
    .execute(db.pool())
    .await
    .map_err(app::error::AppError::from)?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let row =
        sqlx::query("SELECT fingerprint, status, body FROM api_idempotency WHERE key_id = $1 AND idempotency_key = $2")
            .bind(key_id)
            .bind(key)
            .fetch_optional(db.pool())
            .await
            .map_err(app::error::AppError::from)?;
    let in_progress = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running. Try again in a moment.",
        )
    };
    // Gone between the insert and the read: the first request just failed; the client retries.
    let Some(row) = row else { return Err(in_progress()) };
    let stored: String = row.try_get("fingerprint").map_err(app::error::AppError::from)?;
    if stored != fingerprint {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_conflict",
            "This Idempotency-Key was used with a different request in the last 24 hours. Use a new key for a new request.",
        ));
    }
    let status: Option<i64> = row.try_get("status").map_err(app::error::AppError::from)?;
    let body: Option<String> = row.try_get("body").map_err(app::error::AppError::from)?;
    match (status.and_then(|s| u16::try_from(s).ok()).and_then(|s| StatusCode::from_u16(s).ok()), body) {
        (Some(status), Some(body)) => Ok(Some(json_response(status, body, true))),
        _ => Err(in_progress()),
    }
}

fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// The claim of a request still running: released if it fails, or if its handler is dropped
/// (the client went away), so the key does not stay "in progress" for a day.
struct Pending {
    db: Db,
    key_id: String,
    key: String,
    finished: bool,
}

impl Pending {
    async fn forget(&self) {
        if let Err(error) = delete(&self.db, &self.key_id, &self.key).await {
            tracing::warn!(%error, "releasing an idempotency key failed; it expires in a day");
        }
    }
}

async fn delete(db: &Db, key_id: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM api_idempotency WHERE key_id = $1 AND idempotency_key = $2 AND status IS NULL")
        .bind(key_id)
        .bind(key)
        .execute(db.pool())
        .await
        .map(|_| ())
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.finished {
            let (db, key_id, key) = (self.db.clone(), std::mem::take(&mut self.key_id), std::mem::take(&mut self.key));
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = delete(&db, &key_id, &key).await {
                        tracing::warn!(%error, "releasing an abandoned idempotency key failed; it expires in a day");
                    }
                });
            }
        }
    }
}

/// The retention sweep: keys older than a day, and the record of which key started a job once
/// the job itself is gone (`jobs_before`: the unsaved-results period).
pub async fn sweep(db: &Db, now: i64, jobs_before: i64) -> Result<u64, sqlx::Error> {
    let keys = sqlx::query("DELETE FROM api_idempotency WHERE created_at <= $1")
        .bind(now - KEEP_SECS)
        .execute(db.pool())
        .await?
        .rows_affected();
    let jobs = sqlx::query("DELETE FROM api_jobs WHERE created_at <= $1")
        .bind(jobs_before)
        .execute(db.pool())
        .await?
        .rows_affected();
    if keys + jobs > 0 {
        tracing::info!(keys, jobs, "expired API idempotency keys and job records removed");
    }
    Ok(keys + jobs)
}
