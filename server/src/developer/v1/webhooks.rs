//! Completion webhooks. A job (an AI job, a batch, a generation) started through the API is
//! recorded with the key that started it (`api_jobs`); when that key has a webhook URL, a task
//! watches the job (never the worker: it only reads the database) and, once it has finished,
//! failed or been cancelled, POSTs a JSON event to the URL, signed:
//!
//! `Atelier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!
//! Deliveries time out after 10 s and are retried up to five times with growing pauses; the
//! address is checked before each one (no loopback or private networks unless
//! `developer.allow_private_webhooks`), and the connection goes to the address checked, so a DNS
//! answer cannot change between the check and the request.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use app::ids::OwnerId;
use hmac::Mac;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::id;
use super::{batches, generations, jobs};
use crate::developer::caller::ApiCaller;
use crate::developer::keys::webhook_for;
use crate::platform::crypto::{hex, timestamped_mac};
use crate::platform::db::now;
use crate::state::AppState;

pub const SIGNATURE_HEADER: &str = "Atelier-Signature";
/// The pauses before the second to fifth attempt.
const BACKOFF_SECS: [u64; 4] = [2, 10, 60, 300];
const TIMEOUT: Duration = Duration::from_secs(10);
/// A job not finished after this long is no longer watched.
const WATCH_FOR: Duration = Duration::from_secs(24 * 3600);
const LONGEST_POLL: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Job,
    Batch,
    Generation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Batch => "batch",
            Kind::Generation => "generation",
        }
    }
}

/// The body of a webhook delivery.
#[derive(Serialize, ToSchema)]
pub struct WebhookEvent {
    /// Unique per event; the same in every retry of it.
    pub id: Uuid,
    /// `job.done`, `job.failed`, `job.cancelled`, `batch.finished`, `generation.done`,
    /// `generation.failed` or `generation.cancelled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The object as its `GET` answers it (a `Job`, a `BatchWithItems` or a `GenerationRun`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Records that `caller`'s key started the job, and watches it when the key has a webhook.
/// Never fails the request that started the job: problems are logged.
pub async fn started(state: &AppState, caller: &ApiCaller, kind: Kind, target: String) {
    let recorded = sqlx::query(
        "INSERT INTO api_jobs (kind, target_id, key_id, owner_id, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, target_id) DO NOTHING",
    )
    .bind(kind.name())
    .bind(&target)
    .bind(caller.key_id.to_string())
    .bind(caller.owner.to_string())
    .bind(now())
    .execute(state.db.pool())
    .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, "recording the key that started a job failed");
    }
    match webhook_for(&state.db, &state.photos.storage, caller.key_id).await {
        Ok(Some(_)) => {
            tokio::spawn(watch(state.clone(), caller.owner, caller.key_id, kind, target));
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "reading a key's webhook failed; this job is not announced"),
    }
}

/// At start-up: watches again the jobs started through the API in the last day whose webhook has
/// not been sent (a restart dropped their watch). Never fails the start: problems are logged.
pub fn resume(state: AppState) {
    tokio::spawn(async move {
        let since = now() - i64::try_from(WATCH_FOR.as_secs()).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT kind, target_id, key_id, owner_id FROM api_jobs WHERE outcome IS NULL AND created_at > $1",
        )
        .bind(since)
        .fetch_all(state.db.pool())
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => return tracing::warn!(%error, "looking for webhooks to resume failed"),
        };
        for row in rows {
            use sqlx::Row;
            let text = |column: &str| row.try_get::<String, _>(column).unwrap_or_default();
            let kind = match text("kind").as_str() {
                "job" => Kind::Job,
                "batch" => Kind::Batch,
                "generation" => Kind::Generation,
                _ => continue,
            };
            let (Ok(key), Ok(owner)) = (text("key_id").parse::<Uuid>(), text("owner_id").parse::<OwnerId>()) else {
                continue;
            };
            if let Ok(Some(_)) = webhook_for(&state.db, &state.photos.storage, key).await {
                tokio::spawn(watch(state.clone(), owner, key, kind, text("target_id")));
            }
        }
    });
}

/// Watches under the lease `webhook:<kind>:<target>`, so that of the processes resuming watches
/// one watches each job; a watcher killed with its process lets the lease lapse and the cluster's
/// sweeper resumes the watch elsewhere.
async fn watch(state: AppState, owner: OwnerId, key: Uuid, kind: Kind, target: String) {
    let db = state.db.clone();
    let lease = format!("webhook:{}:{target}", kind.name());
    let watched = watch_held(state, owner, key, kind, target);
    if let Err(error) = crate::platform::lease::run_held(&db, &lease, crate::platform::lease::ttl(), watched).await {
        tracing::warn!(%error, %lease, "taking a webhook watch's lease failed; the sweeper tries again");
    }
}

/// Polls the job until it has ended, then delivers its event.
async fn watch_held(state: AppState, owner: OwnerId, key: Uuid, kind: Kind, target: String) {
    let until = Instant::now() + WATCH_FOR;
    let mut pause = Duration::from_millis(250);
    let event = loop {
        match ended(&state, owner, kind, &target).await {
            Ok(Some(event)) => break event,
            Ok(None) => {}
            Err(error) if error.status == axum::http::StatusCode::NOT_FOUND => {
                tracing::info!(kind = kind.name(), %target, "a watched job is gone; no webhook");
                return;
            }
            Err(error) => tracing::warn!(message = %error.message, "polling a watched job failed"),
        }
        if Instant::now() > until {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_POLL);
    };
    deliver(&state, key, kind, &target, &event).await;
}

/// The event, once the job has ended.
async fn ended(
    state: &AppState,
    owner: OwnerId,
    kind: Kind,
    target: &str,
) -> Result<Option<WebhookEvent>, crate::developer::error::ApiError> {
    let (kind, data) = match kind {
        Kind::Job => {
            let job = jobs::view(state, owner, id(target)?).await?;
            if !job.state.finished() {
                return Ok(None);
            }
            (format!("job.{}", state_name(job.state)), serde_json::to_value(&job))
        }
        Kind::Batch => {
            let batch = batches::view(state, owner, id(target)?).await?;
            if !batch.batch.finished {
                return Ok(None);
            }
            ("batch.finished".to_string(), serde_json::to_value(&batch))
        }
        Kind::Generation => {
            let run = generations::view(state, owner, id(target)?).await?;
            match run.state {
                Some(job) if !job.finished() => return Ok(None),
                job => (format!("generation.{}", job.map_or("done", state_name)), serde_json::to_value(&run)),
            }
        }
    };
    let data = data.map_err(|_| crate::developer::error::ApiError::from(app::error::AppError::Internal))?;
    Ok(Some(WebhookEvent { id: Uuid::new_v4(), kind, created_at: now(), data }))
}

fn state_name(state: super::common::State) -> &'static str {
    use super::common::State;
    match state {
        State::Queued => "queued",
        State::Running => "running",
        State::Done => "done",
        State::Failed => "failed",
        State::Cancelled => "cancelled",
    }
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mac = timestamped_mac(secret, &timestamp.to_string(), body.as_bytes());
    format!("t={timestamp},v1={}", mac.map(|mac| hex(&mac.finalize().into_bytes())).unwrap_or_default())
}

/// Delivers `event` with retries, and records how it went.
async fn deliver(state: &AppState, key: Uuid, kind: Kind, target: &str, event: &WebhookEvent) {
    let body = match serde_json::to_string(event) {
        Ok(body) => body,
        Err(error) => return tracing::error!(%error, "serialising a webhook event failed"),
    };
    // One delivery per job, however many processes watched it (a restart resumes watches).
    let claimed =
        sqlx::query("UPDATE api_jobs SET outcome = 'sending' WHERE kind = $1 AND target_id = $2 AND outcome IS NULL")
            .bind(kind.name())
            .bind(target)
            .execute(state.db.pool())
            .await;
    match claimed {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return,
        Err(error) => return tracing::warn!(%error, "claiming a webhook delivery failed"),
    }
    let mut outcome = String::from("not delivered");
    for attempt in 0..=BACKOFF_SECS.len() {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(BACKOFF_SECS[attempt - 1])).await;
        }
        // Read each time: a key revoked or changed meanwhile is followed.
        let (url, secret) = match webhook_for(&state.db, &state.photos.storage, key).await {
            Ok(Some(webhook)) => webhook,
            Ok(None) => {
                outcome = "the key no longer has a webhook".into();
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "reading a key's webhook failed");
                continue;
            }
        };
        let result = post(state, &url, &secret, &body, &event.kind).await;
        record_attempt(state, kind, target, result.is_ok(), result.as_ref().err()).await;
        match result {
            Ok(()) => {
                tracing::info!(event = %event.id, kind = %event.kind, "webhook delivered");
                return;
            }
            Err(Refusal::Permanent(reason)) => {
                tracing::warn!(event = %event.id, %reason, "webhook not sent");
                outcome = reason;
                break;
            }
            Err(Refusal::Retry(reason)) => {
                tracing::info!(event = %event.id, attempt, %reason, "webhook delivery failed; retrying");
                outcome = reason;
            }
        }
    }
    tracing::warn!(event = %event.id, %outcome, "webhook given up");
    let given_up = sqlx::query("UPDATE api_jobs SET outcome = $1 WHERE kind = $2 AND target_id = $3")
        .bind(format!("given up: {outcome}"))
        .bind(kind.name())
        .bind(target)
        .execute(state.db.pool())
        .await;
    if let Err(error) = given_up {
        tracing::warn!(%error, "recording a webhook's outcome failed");
    }
}

#[derive(Debug)]
enum Refusal {
    /// Worth another attempt (a timeout, a 5xx, a refused connection).
    Retry(String),
    /// Never going to work (an address this server does not call).
    Permanent(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Retry(reason) | Refusal::Permanent(reason) => f.write_str(reason),
        }
    }
}

async fn record_attempt(state: &AppState, kind: Kind, target: &str, delivered: bool, error: Option<&Refusal>) {
    let at = now();
    let outcome = match error {
        None => "delivered".to_string(),
        Some(refusal) => refusal.to_string().chars().take(200).collect(),
    };
    let result = sqlx::query(
        "UPDATE api_jobs SET attempts = attempts + 1, outcome = $1,
         notified_at = CASE WHEN $2 = 1 THEN $3 ELSE notified_at END
         WHERE kind = $4 AND target_id = $5",
    )
    .bind(outcome)
    .bind(i64::from(delivered))
    .bind(at)
    .bind(kind.name())
    .bind(target)
    .execute(state.db.pool())
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "recording a webhook attempt failed");
    }
}

async fn post(state: &AppState, url: &str, secret: &[u8], body: &str, kind: &str) -> Result<(), Refusal> {
    let parsed = reqwest::Url::parse(url).map_err(|_| Refusal::Permanent("the webhook URL is not valid".into()))?;
    let host = parsed.host_str().ok_or_else(|| Refusal::Permanent("the webhook URL has no host".into()))?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
        .await
        .map_err(|_| Refusal::Retry(format!("{host} could not be resolved")))?
        .collect();
    let allow_private = state.settings.developer.allow_private_webhooks;
    let address =
        addresses.iter().find(|address| allow_private || public(address.ip())).copied().ok_or_else(|| {
            Refusal::Permanent(format!("{host} is a private or local address; webhooks do not go there"))
        })?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .resolve(&lookup_host, address)
        .build()
        .map_err(|_| Refusal::Retry("the HTTP client could not start".into()))?;
    let response = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, "Atelier-Webhooks/1")
        .header(SIGNATURE_HEADER, signature(secret, now(), body))
        .header("Atelier-Event", kind)
        .body(body.to_string())
        .send()
        .await
        .map_err(|error| {
            Refusal::Retry(if error.is_timeout() { "timed out".into() } else { "no connection".into() })
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Refusal::Retry(format!("answered {}", response.status().as_u16())))
    }
}

/// An address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// unspecified, multicast, broadcast or reserved.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

impl crate::platform::db::Db {
    /// For "Download my data": which API key started which job, and its webhook's outcome.
    pub async fn api_job_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT kind, target_id, key_id, created_at, attempts, notified_at, outcome FROM api_jobs
             WHERE owner_id = $1 ORDER BY created_at",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(serde_json::json!({
                    "kind": row.try_get::<String, _>("kind")?,
                    "id": row.try_get::<String, _>("target_id")?,
                    "key_id": row.try_get::<String, _>("key_id")?,
                    "created_at": row.try_get::<i64, _>("created_at")?,
                    "webhook_attempts": row.try_get::<i64, _>("attempts")?,
                    "webhook_delivered_at": row.try_get::<Option<i64>, _>("notified_at")?,
                    "webhook_outcome": row.try_get::<Option<String>, _>("outcome")?,
                }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently with Python's hmac module.
        assert_eq!(
            signature(b"whsec_test", 1700000000, "{\"a\":1}"),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
