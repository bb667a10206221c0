//! API keys: made, listed and revoked by their owner, and the middleware that authenticates every
//! `/api/v1` request with one.
//!
//! A token is `atl_<prefix>_<secret>`: 8 hex digits anyone may see (shown in lists and the call
//! log) and 256 random bits. Only the SHA-256 of the whole token is stored and a key is found by
//! that hash, so the table never holds anything that authenticates (a plain hash is enough: the
//! secret is random, not a password to guess). A key's completion-webhook secret, which the
//! server must read back to sign with, is a stored object sealed with the keyring like every file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aes_gcm::aead::OsRng;
use app::developer::{ApiKeyInfo, Scope};
use app::error::AppError;
use app::ids::{AccountId, OwnerId, SignedIn};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand_core::RngCore;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::caller::ApiCaller;
use super::error::ApiError;
use crate::config::DeveloperSettings;
use crate::platform::crypto::{hex, sha256_hex};
use crate::platform::db::{now, parse_id, queue_purge, Db};
use crate::platform::storage::Storage;
use crate::state::AppState;

/// What every token starts with, so secret scanners and people can tell what it is.
pub const TOKEN_START: &str = "atl_";
/// Keys one account may hold unrevoked: enough for every script, small enough to list.
pub const MAX_ACTIVE_KEYS: i64 = 50;
const MAX_NAME_CHARS: usize = 100;
const MAX_WEBHOOK_URL_CHARS: usize = 2000;
/// `last_used_at`/`last_used_ip` are written at most this often per key (unless the address
/// changes): the time is for people to read, not an audit trail, and writes cost on SQLite.
const TOUCH_EVERY_SECS: i64 = 60;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Keys and addresses the limits remember before they forget the ones at rest, so a flood of
/// new ones cannot grow their memory without bound.
const MAX_TRACKED: usize = 100_000;

/// A new token: its visible prefix (`atl_1a2b3c4d`) and the whole token.
fn new_token() -> (String, String) {
    let mut prefix = [0u8; 4];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut prefix);
    OsRng.fill_bytes(&mut secret);
    let prefix = format!("{TOKEN_START}{}", hex(&prefix));
    let token = format!("{prefix}_{}", hex(&secret));
    (prefix, token)
}

/// What is stored in place of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token)
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(",")
}

fn scopes_of(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(Scope::parse).collect()
}

fn key_info(row: &AnyRow) -> Result<ApiKeyInfo, sqlx::Error> {
    Ok(ApiKeyInfo {
        id: parse_id(row, "id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: scopes_of(&row.try_get::<String, _>("scopes")?),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_ip: row.try_get("last_used_ip")?,
        revoked_at: row.try_get("revoked_at")?,
        webhook_url: row.try_get("webhook_url")?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.revoked_at, k.webhook_url";

/// A key found by its token, with whose it is.
pub struct FoundKey {
    pub info: ApiKeyInfo,
    pub account: AccountId,
    pub owner: OwnerId,
}

/// Where a key's webhook secret is stored: under its workspace, so erasure removes it with the rest.
fn webhook_secret_object(owner: OwnerId, key: Uuid) -> String {
    format!("{}/api-keys/{key}/webhook-secret", crate::platform::storage::keys::owner_prefix(owner))
}

impl Db {
    async fn insert_api_key(
        &self,
        account: AccountId,
        info: &ApiKeyInfo,
        hash: &str,
        webhook_secret_key: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, prefix, secret_hash, scopes, created_at, expires_at, webhook_url, webhook_secret_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(info.id.to_string())
        .bind(account.to_string())
        .bind(&info.name)
        .bind(&info.prefix)
        .bind(hash)
        .bind(scopes_text(&info.scopes))
        .bind(info.created_at)
        .bind(info.expires_at)
        .bind(info.webhook_url.as_deref())
        .bind(webhook_secret_key)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The account's keys, newest first.
    pub async fn api_keys_of(&self, account: AccountId) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1 ORDER BY k.created_at DESC, k.id DESC"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(key_info)
            .collect()
    }

    async fn active_api_keys(&self, account: AccountId, now: i64) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(account.to_string())
        .bind(now)
        .fetch_one(self.pool())
        .await?
        .try_get("n")
    }

    /// The key whose token hashes to `hash`, revoked or expired ones too (the caller says which).
    pub async fn api_key_by_hash(&self, hash: &str) -> Result<Option<FoundKey>, sqlx::Error> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, k.account_id, a.owner_id FROM api_keys k JOIN accounts a ON a.id = k.account_id
             WHERE k.secret_hash = $1"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        Ok(Some(FoundKey {
            info: key_info(&row)?,
            account: parse_id(&row, "account_id")?,
            owner: parse_id(&row, "owner_id")?,
        }))
    }

    /// Revokes the account's key `id`; its webhook secret is queued for purging in the same
    /// transaction. `false` when the account has no such unrevoked key.
    async fn revoke_api_key(&self, account: AccountId, id: Uuid, at: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL
             RETURNING webhook_secret_key",
        )
        .bind(at)
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_all(&mut *tx)
        .await?;
        queue_purge(&mut tx, &rows, &["webhook_secret_key"]).await?;
        sqlx::query("UPDATE api_keys SET webhook_secret_key = NULL WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(!rows.is_empty())
    }

    async fn touch_api_key(&self, id: Uuid, at: i64, ip: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
            .bind(at)
            .bind(ip)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    async fn webhook_of(&self, id: Uuid) -> Result<Option<(String, String)>, sqlx::Error> {
        let row =
            sqlx::query("SELECT webhook_url, webhook_secret_key FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let url: Option<String> = row.try_get("webhook_url")?;
        let secret: Option<String> = row.try_get("webhook_secret_key")?;
        Ok(url.zip(secret))
    }

    /// "Download my data": the account's keys as their owner sees them, never a hash or secret.
    pub async fn api_key_records(&self, account: AccountId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let keys = self.api_keys_of(account).await?;
        Ok(keys
            .into_iter()
            .map(|key| {
                serde_json::json!({
                    "id": key.id, "name": key.name, "prefix": key.prefix,
                    "scopes": key.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
                    "created_at": key.created_at, "expires_at": key.expires_at, "revoked_at": key.revoked_at,
                    "last_used_at": key.last_used_at, "last_used_ip": key.last_used_ip,
                    "webhook_url": key.webhook_url,
                })
            })
            .collect())
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest("Give the key a name, so you can tell it from others later.".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!("A key's name is one line of at most {MAX_NAME_CHARS} characters.")));
    }
    Ok(name.to_string())
}

/// An `http(s)` URL with a host, no credentials in it.
pub fn check_webhook_url(url: &str) -> Result<String, AppError> {
    let refuse = || AppError::BadRequest("The webhook URL must be a full https:// (or http://) address.".into());
    if url.len() > MAX_WEBHOOK_URL_CHARS {
        return Err(refuse());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse())?;
    let plain = parsed.username().is_empty() && parsed.password().is_none();
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none_or(str::is_empty) || !plain {
        return Err(refuse());
    }
    Ok(parsed.to_string())
}

/// Makes a key for `account` (without a completion webhook) and returns it with its token, which
/// exists nowhere else from now on. `expires_at` is a Unix time. Usable from tests:
/// `create_key(&app.ai.db, account, "ci", &[Scope::Read], None)`.
pub async fn create_key(
    db: &Db,
    account: AccountId,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<i64>,
) -> Result<(ApiKeyInfo, String), AppError> {
    let (info, token) = prepare_key(db, account, name, scopes, expires_at, None).await?;
    db.insert_api_key(account, &info, &token_hash(&token), None).await?;
    Ok((info, token))
}

/// Checks a new key's fields and draws its token; nothing is stored yet.
async fn prepare_key(
    db: &Db,
    account: AccountId,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<i64>,
    webhook_url: Option<&str>,
) -> Result<(ApiKeyInfo, String), AppError> {
    let name = check_name(name)?;
    let mut scopes: Vec<Scope> = Scope::ALL.into_iter().filter(|scope| scopes.contains(scope)).collect();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::BadRequest("Choose at least one scope: what the key may do.".into()));
    }
    let created_at = now();
    if expires_at.is_some_and(|at| at <= created_at) {
        return Err(AppError::BadRequest("The expiry must be in the future.".into()));
    }
    let webhook_url = webhook_url.map(check_webhook_url).transpose()?;
    if db.active_api_keys(account, created_at).await? >= MAX_ACTIVE_KEYS {
        return Err(AppError::BadRequest(format!(
            "An account holds at most {MAX_ACTIVE_KEYS} working keys. Revoke one you no longer use first."
        )));
    }
    let (prefix, token) = new_token();
    let info = ApiKeyInfo {
        id: Uuid::now_v7(),
        name,
        prefix,
        scopes,
        created_at,
        expires_at,
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
        webhook_url,
    };
    Ok((info, token))
}

/// A key with a completion webhook: its signing secret is drawn, sealed into storage, and shown
/// once with the token. Returns (key, token, webhook secret).
pub async fn create_key_with_webhook(
    db: &Db,
    storage: &Storage,
    me: SignedIn,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<i64>,
    webhook_url: &str,
) -> Result<(ApiKeyInfo, String, String), AppError> {
    let (info, token) = prepare_key(db, me.account, name, scopes, expires_at, Some(webhook_url)).await?;
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let secret = format!("whsec_{}", hex(&secret));
    let object = webhook_secret_object(me.owner, info.id);
    storage.put(&object, secret.clone().into_bytes()).await?;
    if let Err(error) = db.insert_api_key(me.account, &info, &token_hash(&token), Some(&object)).await {
        let _ = storage.delete(&object).await;
        return Err(error.into());
    }
    Ok((info, token, secret))
}

/// Revokes one of `account`'s keys (another's, or an unknown one, is `NotFound`).
pub async fn revoke_key(db: &Db, storage: &Storage, account: AccountId, key: Uuid) -> Result<(), AppError> {
    if !db.revoke_api_key(account, key, now()).await? {
        return Err(AppError::NotFound);
    }
    // The secret goes now; if storage refuses, the queued purge retries at the next sweep.
    if let Err(error) = crate::data::retention::purge(db, storage).await {
        tracing::warn!(%error, "purging a revoked key's webhook secret failed; the sweep retries");
    }
    Ok(())
}

/// For completion webhooks: the URL the key's owner set and the HMAC-SHA256 key to sign each
/// delivery with (the secret's text as the owner saw it, `whsec_…`, as bytes). `None` when the
/// key has no webhook, is revoked, or does not exist. Reads one sealed object from storage.
pub async fn webhook_for(db: &Db, storage: &Storage, key_id: Uuid) -> Result<Option<(String, Vec<u8>)>, AppError> {
    let Some((url, object)) = db.webhook_of(key_id).await? else { return Ok(None) };
    let secret = storage.get(&object).await?;
    Ok(Some((url, secret.to_vec())))
}

/// The per-key request limit and the per-address bound on failed key attempts (per process, as
/// every limit in `platform::rate`).
pub struct ApiLimits {
    per_key: DefaultKeyedRateLimiter<Uuid>,
    failures_per_minute: u32,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl ApiLimits {
    pub fn new(settings: &DeveloperSettings) -> Self {
        let per_minute = NonZeroU32::new(settings.requests_per_minute_per_key).unwrap_or(NonZeroU32::MIN);
        Self {
            per_key: RateLimiter::keyed(Quota::per_minute(per_minute)),
            failures_per_minute: settings.failed_keys_per_minute_per_ip.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// One request with `key`, or the seconds until the next is allowed.
    fn spend(&self, key: Uuid) -> Result<(), u64> {
        if self.per_key.len() > MAX_TRACKED {
            self.per_key.retain_recent();
        }
        self.per_key.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Seconds until `ip` may try a key again, when it used up its failed attempts.
    fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (since, count) = failures.get(&ip)?;
        let elapsed = since.elapsed();
        (elapsed < FAILURE_WINDOW && *count >= self.failures_per_minute)
            .then(|| (FAILURE_WINDOW - elapsed).as_secs().max(1))
    }

    fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (since, _)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

fn unauthorized(code: &'static str, message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"atelier\""));
    response
}

fn too_many(message: &str, retry_after: u64) -> Response {
    ApiError { retry_after: Some(retry_after), ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message) }
        .into_response()
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

/// Every `/api/v1` request passes here: `Authorization: Bearer <token>` is its only credential
/// (no cookie is ever read). A missing or unknown token is 401 `unauthorized`, a revoked key
/// `key_revoked`, an expired one `key_expired`; a key over its rate is 429 `rate_limited` with
/// `Retry-After`. On success the handler finds an [`ApiCaller`] (and the key's [`ApiKeyInfo`])
/// in the request's extensions. Every call made with a known key is written to the call log.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let ip = state.limits.client_ip(&request);
    let developer = &state.developer;
    let Some(token) = bearer(&request) else {
        return unauthorized("unauthorized", "Send an API key: Authorization: Bearer <key>.");
    };
    if let Some(retry_after) = developer.limits.blocked(ip) {
        tracing::info!(%ip, "API key attempts rate limited");
        return too_many(
            "Too many attempts with unknown API keys from here. Wait a little and try again.",
            retry_after,
        );
    }
    let found = match state.db.api_key_by_hash(&token_hash(token)).await {
        Ok(found) => found,
        Err(error) => return ApiError::from(AppError::from(error)).into_response(),
    };
    let Some(key) = found else {
        developer.limits.failed(ip);
        return unauthorized("unauthorized", "This API key is not valid.");
    };
    let at = now();
    let (method, path) = (request.method().to_string(), request.uri().path().to_string());
    let response = if key.info.revoked_at.is_some() {
        unauthorized("key_revoked", "This API key was revoked.")
    } else if key.info.expires_at.is_some_and(|expires| expires <= at) {
        unauthorized("key_expired", "This API key has expired.")
    } else if let Err(retry_after) = developer.limits.spend(key.info.id) {
        too_many("This API key made too many requests. Wait a little and try again.", retry_after)
    } else {
        let ip_text = ip.to_string();
        let stale = key.info.last_used_at.is_none_or(|last| at - last >= TOUCH_EVERY_SECS);
        if stale || key.info.last_used_ip.as_deref() != Some(ip_text.as_str()) {
            if let Err(error) = state.db.touch_api_key(key.info.id, at, &ip_text).await {
                tracing::warn!(%error, "recording an API key's last use failed");
            }
        }
        request.extensions_mut().insert(ApiCaller {
            key_id: key.info.id,
            account: key.account,
            owner: key.owner,
            scopes: key.info.scopes.clone(),
        });
        request.extensions_mut().insert(key.info.clone());
        next.run(request).await
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let call = super::calls::NewCall {
        account: key.account,
        key: key.info.id,
        method: &method,
        path: &path,
        status: response.status().as_u16(),
        duration_ms,
        at,
    };
    if let Err(error) = state.db.insert_api_call(&call).await {
        tracing::warn!(%error, "writing the API call log failed");
    }
    response
}
