//! Prometheus metrics: one recorder per process (the `metrics` facade is global), fed by the
//! request middleware, the job workers, storage and the `ai` crate's model runs; the queue and
//! the database pool are read when scraped. `/metrics` is served on `[metrics] listen`, or on the
//! main listener behind `[metrics] token`, never publicly by default.
//!
//! Labels are bounded by construction: a route is its template (`/photos/{id}`), never the path;
//! a method outside the standard ones is "other"; tools and models are names from the code.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::Row;

use anyhow::Context as _;

use crate::config::MetricsSettings;
use crate::platform::db::{now, Db};

pub const HTTP_REQUESTS: &str = "atelier_http_requests_total";
pub const HTTP_DURATION: &str = "atelier_http_request_duration_seconds";
pub const JOB_DURATION: &str = "atelier_job_duration_seconds";
pub const STORAGE_DURATION: &str = "atelier_storage_operation_duration_seconds";
/// Recorded by the `ai` crate around each model run (the name is repeated there).
pub const INFERENCE_DURATION: &str = "atelier_inference_duration_seconds";
pub const JOBS_QUEUED: &str = "atelier_jobs_queued";
pub const JOBS_RUNNING: &str = "atelier_jobs_running";
pub const JOBS_OLDEST_QUEUED: &str = "atelier_jobs_oldest_queued_age_seconds";
pub const POOL_CONNECTIONS: &str = "atelier_db_pool_connections";
pub const POOL_MAX: &str = "atelier_db_pool_max_connections";

/// How often histogram samples are folded into their buckets when nobody scrapes (the exporter
/// keeps them until then).
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use. `None` only if something else installed a
/// global recorder first; metrics are then not served rather than the server not starting.
/// Installing once keeps a second `Application` in the same process (tests) working.
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let seconds = |buckets: &[f64]| buckets.to_vec();
            let builder = PrometheusBuilder::new();
            let builder = [
                (HTTP_DURATION, seconds(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])),
                (STORAGE_DURATION, seconds(&[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])),
                (INFERENCE_DURATION, seconds(&[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])),
                (JOB_DURATION, seconds(&[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0])),
            ]
            .into_iter()
            .try_fold(builder, |builder, (name, buckets)| {
                builder.set_buckets_for_metric(Matcher::Full(name.into()), &buckets)
            });
            let recorder = match builder {
                Ok(builder) => builder.build_recorder(),
                Err(error) => {
                    tracing::error!(%error, "the metrics recorder could not be set up");
                    return None;
                }
            };
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::error!(%error, "another metrics recorder is installed; /metrics is not served");
                return None;
            }
            let upkeep = handle.clone();
            let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            });
            if let Err(error) = started {
                tracing::warn!(%error, "no metrics upkeep thread: histograms are folded at each scrape only");
            }
            Some(handle)
        })
        .clone()
}

/// What `/metrics` needs: the recorder, the database for the queue and pool, and the token's
/// SHA-256 when one is required (compared as digests, so the comparison's timing says nothing).
#[derive(Clone)]
pub struct Scrape {
    handle: PrometheusHandle,
    db: Db,
    token: Option<Arc<[u8; 32]>>,
}

impl Scrape {
    /// `None` when no recorder could be installed.
    pub fn new(db: Db, token: Option<&SecretString>) -> Option<Self> {
        let token = token.map(|token| Arc::new(Sha256::digest(token.expose_secret().as_bytes()).into()));
        Some(Self { handle: recorder()?, db, token })
    }

    /// `GET /metrics`, for the main router (with a token) or the metrics listener.
    pub fn routes(self) -> Router {
        Router::new().route("/metrics", axum::routing::get(scrape)).with_state(self)
    }
}

/// A token shorter than this is refused at start: it is all that guards `/metrics` on the main
/// listener.
const MIN_TOKEN_CHARS: usize = 16;

/// What `[metrics]` asks for: the `/metrics` route for the main router (only with a token; an
/// empty router otherwise) and the metrics listener, bound now so that a taken port stops the
/// start rather than going unnoticed.
pub struct Serving {
    pub main: Router,
    pub listener: Option<Listener>,
}

/// `/metrics` alone on its own address.
pub struct Listener {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl Serving {
    pub async fn from_settings(settings: &MetricsSettings, db: &Db) -> anyhow::Result<Self> {
        if let Some(token) = &settings.token {
            if token.expose_secret().trim().chars().count() < MIN_TOKEN_CHARS {
                anyhow::bail!("metrics.token (ATELIER_METRICS_TOKEN) must be at least {MIN_TOKEN_CHARS} characters");
            }
        }
        let scrape = match settings.enabled().then(|| Scrape::new(db.clone(), settings.token.as_ref())) {
            Some(Some(scrape)) => scrape,
            _ => return Ok(Self { main: Router::new(), listener: None }),
        };
        let main = if settings.token.is_some() { scrape.clone().routes() } else { Router::new() };
        let listener = match settings.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening for metrics on {addr}"))?;
                let router = scrape.routes().layer(axum::middleware::from_fn(crate::platform::http::request_id));
                Some(Listener { listener, router })
            }
            None => None,
        };
        Ok(Self { main, listener })
    }
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `/metrics` in the background for as long as the process runs.
    pub fn spawn(self) {
        match self.listener.local_addr() {
            Ok(addr) => tracing::info!(%addr, "metrics are served at /metrics"),
            Err(error) => tracing::warn!(%error, "the metrics listener has no address"),
        }
        tokio::spawn(async move {
            if let Err(error) = axum::serve(self.listener, self.router).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
}

async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(expected) = &scrape.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(|token| <[u8; 32]>::from(Sha256::digest(token.trim().as_bytes())));
        if given.as_ref() != Some(&**expected) {
            let mut response = (StatusCode::UNAUTHORIZED, "A metrics token is required.\n").into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let mut text = scrape.handle.render();
    if let Err(error) = queue_gauges(&scrape.db, &mut text).await {
        // The rest is still worth having: the scrape succeeds without these series.
        tracing::warn!(%error, "metrics: reading the job queue failed");
    }
    pool_gauges(&scrape.db, &mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Queued and running jobs and the oldest queued job's age, by tool, from this database (read
/// per scrape, so every process sharing the queue reports the same). One grouped query over the
/// active jobs only (`jobs_ready` leads with `state`).
async fn queue_gauges(db: &Db, text: &mut String) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tool, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs
         WHERE state IN ('queued', 'running') GROUP BY tool, state ORDER BY tool, state",
    )
    .fetch_all(db.pool())
    .await?;
    let (mut queued, mut running, mut oldest) = (String::new(), String::new(), String::new());
    let now = now();
    for row in rows {
        let tool = escape(&row.try_get::<String, _>("tool")?);
        let count: i64 = row.try_get("n")?;
        if row.try_get::<String, _>("state")? == "queued" {
            let age = (now - row.try_get::<i64, _>("oldest")?).max(0);
            let _ = writeln!(queued, "{JOBS_QUEUED}{{tool=\"{tool}\"}} {count}");
            let _ = writeln!(oldest, "{JOBS_OLDEST_QUEUED}{{tool=\"{tool}\"}} {age}");
        } else {
            let _ = writeln!(running, "{JOBS_RUNNING}{{tool=\"{tool}\"}} {count}");
        }
    }
    for (name, help, samples) in [
        (JOBS_QUEUED, "Jobs waiting for a worker, by tool.", queued),
        (JOBS_RUNNING, "Jobs a worker is running, by tool.", running),
        (JOBS_OLDEST_QUEUED, "Age of the oldest waiting job, by tool.", oldest),
    ] {
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{samples}");
    }
    Ok(())
}

fn pool_gauges(db: &Db, text: &mut String) {
    let pool = db.pool();
    let (size, idle) = (u64::from(pool.size()), pool.num_idle() as u64);
    let max = pool.options().get_max_connections();
    let _ = write!(
        text,
        "# HELP {POOL_CONNECTIONS} Open database connections, idle or in use.\n# TYPE {POOL_CONNECTIONS} gauge\n\
         {POOL_CONNECTIONS}{{state=\"idle\"}} {idle}\n{POOL_CONNECTIONS}{{state=\"in_use\"}} {}\n\
         # HELP {POOL_MAX} The most connections the pool opens.\n# TYPE {POOL_MAX} gauge\n{POOL_MAX} {max}\n",
        size.saturating_sub(idle)
    );
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Counts and times every request by its route template. Applied with `Router::layer` (so after
/// routing, where `MatchedPath` is known); a request no route matched is "unmatched". The time is
/// until the response's head, not the end of a streamed body.
pub async fn record_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(method, route, status, ms = elapsed.as_millis() as u64, "request");
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method).record(elapsed);
    response
}

/// The standard methods by name, anything else as one label (a client picks the method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A finished job's time from claim to end state, by tool and how it ended.
pub fn job_finished(tool: &str, outcome: &'static str, elapsed: Duration) {
    metrics::histogram!(JOB_DURATION, "tool" => tool.to_string(), "outcome" => outcome).record(elapsed);
}

/// One storage operation's time (`put`, `get`, `delete`, `list`), and whether it failed.
pub fn storage_op<T, E>(op: &'static str, started: Instant, result: &Result<T, E>) {
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!(STORAGE_DURATION, "op" => op, "outcome" => outcome).record(started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded_and_escaped() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn settings_come_from_the_environment_and_bad_ones_name_their_variable() {
        use crate::config::{LogFormat, Settings};
        let mut settings = Settings::default();
        assert!(!settings.metrics.enabled(), "off by default");
        settings
            .apply_env(|name| match name {
                "ATELIER_LOG_FORMAT" => Some("json".into()),
                "ATELIER_METRICS_LISTEN" => Some("127.0.0.1:9464".into()),
                "ATELIER_METRICS_TOKEN" => Some("   ".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.server.log_format, LogFormat::Json);
        assert_eq!(settings.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(settings.metrics.token.is_none(), "a blank token is no token");
        assert!(settings.metrics.enabled());
        let error = Settings::default()
            .apply_env(|name| (name == "ATELIER_LOG_FORMAT").then(|| "xml".to_string()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ATELIER_LOG_FORMAT") && error.contains("text or json"), "{error}");
    }
}
