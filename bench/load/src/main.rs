//! Mixed traffic against a running Atelier, as visitors use it (goose drives the virtual users).
//!
//!     cargo build --release --manifest-path bench/load/Cargo.toml
//!     ATELIER_LOAD_PIDS=$(pgrep -d, -f 'atelier serve') \
//!       target/release/atelier-load --host http://127.0.0.1:3000 --users 50 --increase-rate 10 --run-time 5m
//!
//! Each virtual user is a visitor with their own session (cookie jar) and client address
//! (`X-Forwarded-For`: the server must trust it, `ATELIER_TRUST_FORWARDED_FOR=true`, or every
//! visitor shares 127.0.0.1's per-address limits). One loop of a visitor: opens the workspace,
//! uploads a real photo (end2end/fixtures), opens its thumbnail and editor page and the original
//! the editor loads, saves an edit with a recipe (every second loop), queues an AI job ("describe",
//! every fourth loop) and follows it, fetches the saved version's image and thumbnail, and views
//! the gallery and two more of the other pages in turn. Every tenth loop a new visitor arrives.
//!
//! Settings beyond goose's own flags, by environment:
//! - `ATELIER_LOAD_HOSTS=http://a,http://b`: visitors are spread over these servers in turn (for
//!   several web processes on one database); defaults to `--host`.
//! - `ATELIER_LOAD_PIDS=1,2`: the server processes whose resident memory (VmRSS) is sampled at
//!   the start, after the warm-up (`ATELIER_LOAD_WARMUP_SECS`, default 60) and at the end.
//! - `ATELIER_LOAD_FIXTURES`: the photos' folder (default `end2end/fixtures`).
//! - `ATELIER_LOAD_TIMEOUT_SECS` (default 30): an answer not complete by then is a stall.
//!
//! Prints, per route, requests, p50/p95/p99 (until the whole body arrived), answers by status
//! class, stalls and failed connections; then requests per second and memory. Exits 1 when any
//! answer was a 5xx or any request stalled.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};

/// Pages a visitor without an account can open, besides the workspace, gallery and editor.
const OTHER_PAGES: &[&str] = &["/privacy", "/cookies", "/batch", "/studio", "/people", "/signin", "/signup", "/reset"];
const PHOTOS: &[(&str, &str)] = &[
    ("chelsea.jpg", "image/jpeg"),
    ("coffee.png", "image/png"),
    ("portrait.jpg", "image/jpeg"),
    ("text-sign.jpg", "image/jpeg"),
    ("astronaut.png", "image/png"),
    ("chelsea-exif-rotated.jpg", "image/jpeg"),
];
/// A visitor leaves and a new one arrives after this many loops.
const LOOPS_PER_VISITOR: u32 = 10;
/// Job states are polled this often, at most this many times (as the AI panel does).
const JOB_POLL: Duration = Duration::from_millis(500);
const JOB_POLLS: u32 = 6;

#[derive(Default)]
struct Route {
    millis: Vec<u32>,
    /// Answers by status class: 2, 3, 4, 5.
    classes: [u64; 4],
    stalls: u64,
    /// Connections refused or reset, bodies cut short.
    failed: u64,
}

struct Stats {
    routes: BTreeMap<String, Route>,
    /// The first few 5xx, stall and failure messages, to say precisely what went wrong.
    samples: Vec<String>,
}

fn stats() -> &'static Mutex<Stats> {
    static STATS: OnceLock<Mutex<Stats>> = OnceLock::new();
    STATS.get_or_init(|| Mutex::new(Stats { routes: BTreeMap::new(), samples: Vec::new() }))
}

fn record(route: &str, outcome: Outcome, elapsed: Duration) {
    let Ok(mut stats) = stats().lock() else { return };
    let sample = match &outcome {
        Outcome::Status(status, body) if *status >= 500 => Some(format!("{route}: {status} {body}")),
        Outcome::Stalled(error) => Some(format!("{route}: stalled ({error})")),
        Outcome::Failed(error) => Some(format!("{route}: failed ({error})")),
        Outcome::Status(..) => None,
    };
    if let Some(sample) = sample.filter(|_| stats.samples.len() < 20) {
        stats.samples.push(sample);
    }
    let entry = stats.routes.entry(route.to_string()).or_default();
    match outcome {
        Outcome::Status(status, _) => {
            entry.millis.push(u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX));
            let class = usize::from(status / 100).clamp(2, 5) - 2;
            entry.classes[class] += 1;
        }
        Outcome::Stalled(_) => entry.stalls += 1,
        Outcome::Failed(_) => entry.failed += 1,
    }
}

enum Outcome {
    /// The status and, for errors, the start of the body.
    Status(u16, String),
    Stalled(String),
    Failed(String),
}

#[derive(Clone)]
struct Photo {
    id: String,
    thumbnail_url: String,
    original_url: String,
}

/// One visitor's state between steps.
#[derive(Clone, Default)]
struct Visitor {
    loops: u32,
    photo: Option<Photo>,
    /// The saved version's image and thumbnail links.
    version: Option<(String, String)>,
    job: Option<String>,
    pages_seen: usize,
}

struct Config {
    hosts: Vec<String>,
    fixtures: Vec<(String, &'static str, Vec<u8>)>,
    timeout: Duration,
}

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir = std::env::var("ATELIER_LOAD_FIXTURES").unwrap_or_else(|_| "end2end/fixtures".into());
        let fixtures = PHOTOS
            .iter()
            .filter_map(|(name, kind)| {
                let path = std::path::Path::new(&dir).join(name);
                match std::fs::read(&path) {
                    Ok(bytes) => Some((name.to_string(), *kind, bytes)),
                    Err(error) => {
                        eprintln!("skipping the photo {}: {error}", path.display());
                        None
                    }
                }
            })
            .collect();
        let hosts = std::env::var("ATELIER_LOAD_HOSTS")
            .map(|hosts| hosts.split(',').map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default();
        let timeout = std::env::var("ATELIER_LOAD_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
        Config { hosts, fixtures, timeout: Duration::from_secs(timeout) }
    })
}

static VISITORS: AtomicUsize = AtomicUsize::new(0);

/// A new visitor: a fresh cookie jar (so a new session and workspace) and an address of its own.
async fn arrive(user: &mut GooseUser) -> TransactionResult {
    let config = config();
    if !config.hosts.is_empty() {
        let host = &config.hosts[user.weighted_users_index % config.hosts.len()];
        user.set_base_url(host)?;
    }
    let number = VISITORS.fetch_add(1, Ordering::Relaxed);
    let address = format!("10.{}.{}.{}", (number >> 16) & 255, (number >> 8) & 255, number & 255);
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(&address).map_err(|e| TransactionError::Custom(e.to_string()))?,
    );
    let builder = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(config.timeout)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none());
    user.set_client_builder(builder).await?;
    user.set_session_data(Visitor::default());
    Ok(())
}

/// One request, named by its route (not its ids), timed until its whole body has arrived.
async fn call(
    user: &mut GooseUser,
    route: &str,
    method: GooseMethod,
    path: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<Option<(u16, Vec<u8>)>, Box<TransactionError>> {
    let builder = build(user.get_request_builder(&method, path)?);
    let request = GooseRequest::builder().name(route).method(method).path(path).set_request_builder(builder).build();
    let started = Instant::now();
    let goose = user.request(request).await?;
    let response = match goose.response {
        Ok(response) => response,
        Err(error) => {
            record(route, unanswered(&error), started.elapsed());
            return Ok(None);
        }
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => {
            let text = if status >= 400 {
                String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
            } else {
                String::new()
            };
            record(route, Outcome::Status(status, text), started.elapsed());
            Ok(Some((status, body.to_vec())))
        }
        Err(error) => {
            record(route, unanswered(&error), started.elapsed());
            Ok(None)
        }
    }
}

/// A request that got no whole answer: stalled when it ran out of time, else failed.
fn unanswered(error: &reqwest::Error) -> Outcome {
    if error.is_timeout() {
        Outcome::Stalled(error.to_string())
    } else {
        Outcome::Failed(error.to_string())
    }
}

async fn page(user: &mut GooseUser, route: &str, path: &str) -> TransactionResult {
    call(user, route, GooseMethod::Get, path, |b| b.header("accept", "text/html")).await?;
    Ok(())
}

/// A server function called as the browser does (form or JSON body, JSON answer).
async fn server_fn(
    user: &mut GooseUser,
    endpoint: &str,
    body: ServerFnBody,
) -> Result<Option<serde_json::Value>, Box<TransactionError>> {
    let route = format!("POST /api/{endpoint}");
    let path = format!("/api/{endpoint}");
    let reply = call(user, &route, GooseMethod::Post, &path, |b| {
        let b = b.header("accept", "application/json");
        match body {
            ServerFnBody::Form(form) => b.header("content-type", "application/x-www-form-urlencoded").body(form),
            ServerFnBody::Json(json) => b.header("content-type", "application/json").body(json.to_string()),
        }
    })
    .await?;
    Ok(reply.filter(|(status, _)| *status < 300).and_then(|(_, body)| serde_json::from_slice(&body).ok()))
}

enum ServerFnBody {
    Form(String),
    Json(serde_json::Value),
}

fn visitor(user: &mut GooseUser) -> &mut Visitor {
    if user.get_session_data::<Visitor>().is_none() {
        user.set_session_data(Visitor::default());
    }
    user.get_session_data_unchecked_mut::<Visitor>()
}

/// Opens the workspace and uploads a photo; a returning visitor's tenth loop is a new visitor.
async fn upload(user: &mut GooseUser) -> TransactionResult {
    if visitor(user).loops >= LOOPS_PER_VISITOR {
        arrive(user).await?;
    }
    visitor(user).loops += 1;
    page(user, "GET /", "/").await?;
    let fixtures = &config().fixtures;
    if fixtures.is_empty() {
        return Err(Box::new(TransactionError::Custom("no photos to upload (ATELIER_LOAD_FIXTURES)".into())));
    }
    let (name, kind, bytes) = &fixtures[(user.weighted_users_index + visitor(user).loops as usize) % fixtures.len()];
    let body = bytes.clone();
    let reply = call(user, "POST /api/photos", GooseMethod::Post, "/api/photos", |b| {
        b.header("x-file-name", name.as_str()).header("content-type", *kind).body(body)
    })
    .await?;
    let photo = reply
        .filter(|(status, _)| *status == 201)
        .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok());
    visitor(user).photo = photo.and_then(|photo| {
        Some(Photo {
            id: photo["id"].as_str()?.to_string(),
            thumbnail_url: photo["thumbnail_url"].as_str()?.to_string(),
            original_url: photo["original_url"].as_str()?.to_string(),
        })
    });
    Ok(())
}

/// The thumbnail in the workspace, then the editor page and the original it loads.
async fn edit(user: &mut GooseUser) -> TransactionResult {
    let Some((id, thumbnail, original)) =
        visitor(user).photo.as_ref().map(|p| (p.id.clone(), p.thumbnail_url.clone(), p.original_url.clone()))
    else {
        return Ok(());
    };
    call(user, "GET /media/photos/{id}/thumbnail", GooseMethod::Get, &thumbnail, |b| b).await?;
    page(user, "GET /photos/{id}", &format!("/photos/{id}")).await?;
    call(user, "GET /media/photos/{id}/original", GooseMethod::Get, &original, |b| b).await?;
    Ok(())
}

/// Every second loop: saves an edit (the full-resolution replay of the recipe).
async fn save(user: &mut GooseUser) -> TransactionResult {
    let state = visitor(user);
    let Some(id) = state.photo.as_ref().map(|p| p.id.clone()).filter(|_| state.loops % 2 == 1) else {
        return Ok(());
    };
    let recipe = serde_json::json!({ "ops": [
        { "op": "brightness", "amount": 12 },
        { "op": "contrast", "amount": 8 },
        { "op": "rotate", "quarter_turns": 1 },
    ] });
    let saved =
        server_fn(user, "gallery/save", ServerFnBody::Json(serde_json::json!({ "photo": id, "recipe": recipe })))
            .await?;
    visitor(user).version = saved
        .and_then(|item| Some((item["image_url"].as_str()?.to_string(), item["thumbnail_url"].as_str()?.to_string())));
    Ok(())
}

/// Every fourth loop: queues "describe" and follows it a few seconds, as the AI panel does.
async fn ai_job(user: &mut GooseUser) -> TransactionResult {
    let state = visitor(user);
    let Some(id) = state.photo.as_ref().map(|p| p.id.clone()).filter(|_| state.loops % 4 == 2) else {
        return Ok(());
    };
    let request = serde_json::json!({ "photo": id, "request": { "tool": "describe" } });
    let job = server_fn(user, "ai/start", ServerFnBody::Json(request)).await?;
    visitor(user).job = job.and_then(|job| job["id"].as_str().map(str::to_string));
    for _ in 0..JOB_POLLS {
        tokio::time::sleep(JOB_POLL).await;
        let jobs = server_fn(user, "ai/jobs", ServerFnBody::Form(format!("photo={id}"))).await?;
        let job = visitor(user).job.clone();
        let finished = jobs.as_ref().and_then(|jobs| jobs.as_array()).is_some_and(|jobs| {
            jobs.iter().any(|j| {
                j["id"].as_str() == job.as_deref()
                    && matches!(j["state"].as_str(), Some("done" | "failed" | "cancelled"))
            })
        });
        if finished {
            break;
        }
    }
    Ok(())
}

/// The gallery and its list, the saved version's image and thumbnail, two more pages in turn.
async fn browse(user: &mut GooseUser) -> TransactionResult {
    page(user, "GET /gallery", "/gallery").await?;
    server_fn(user, "gallery/list", ServerFnBody::Form(String::new())).await?;
    if let Some((image, thumbnail)) = visitor(user).version.take() {
        call(user, "GET /media/versions/{id}/image", GooseMethod::Get, &image, |b| b).await?;
        call(user, "GET /media/versions/{id}/thumbnail", GooseMethod::Get, &thumbnail, |b| b).await?;
    }
    for _ in 0..2 {
        let offset = user.weighted_users_index;
        let state = visitor(user);
        let path = OTHER_PAGES[(state.pages_seen + offset) % OTHER_PAGES.len()];
        state.pages_seen += 1;
        page(user, &format!("GET {path}"), path).await?;
    }
    Ok(())
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

fn rss_line(pids: &[u32]) -> String {
    pids.iter()
        .map(|pid| rss_kb(*pid).map_or_else(|| format!("{pid}: gone"), |kb| format!("{pid}: {} MiB", kb / 1024)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(sorted: &[u32], q: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].to_string()
}

fn report(seconds: f64) -> bool {
    let Ok(mut stats) = stats().lock() else { return false };
    let mut total = 0u64;
    let mut bad = 0u64;
    println!("\n| route | requests | p50 ms | p95 ms | p99 ms | 2xx | 3xx | 4xx | 5xx | stalled | failed |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut all = Vec::new();
    for (route, data) in stats.routes.iter_mut() {
        data.millis.sort_unstable();
        all.extend_from_slice(&data.millis);
        let count = data.millis.len() as u64 + data.stalls + data.failed;
        total += count;
        bad += data.classes[3] + data.stalls;
        println!(
            "| {route} | {count} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            percentile(&data.millis, 0.50),
            percentile(&data.millis, 0.95),
            percentile(&data.millis, 0.99),
            data.classes[0],
            data.classes[1],
            data.classes[2],
            data.classes[3],
            data.stalls,
            data.failed
        );
    }
    all.sort_unstable();
    println!(
        "| all | {total} | {} | {} | {} | | | | | | |",
        percentile(&all, 0.50),
        percentile(&all, 0.95),
        percentile(&all, 0.99)
    );
    println!("\n{total} requests in {seconds:.0} s: {:.1} requests per second", total as f64 / seconds);
    for sample in &stats.samples {
        println!("  {sample}");
    }
    bad == 0
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let config = config();
    println!(
        "{} photos to upload; servers: {}",
        config.fixtures.len(),
        if config.hosts.is_empty() { "--host".into() } else { config.hosts.join(", ") }
    );
    let pids: Vec<u32> = std::env::var("ATELIER_LOAD_PIDS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pid| pid.trim().parse().ok())
        .collect();
    let warmup = std::env::var("ATELIER_LOAD_WARMUP_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60u64);
    println!("server memory at the start: {}", rss_line(&pids));
    let sampler = {
        let pids = pids.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(warmup)).await;
            println!("server memory after the {warmup} s warm-up: {}", rss_line(&pids));
            let mut peak = 0u64;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                peak = peak.max(pids.iter().filter_map(|pid| rss_kb(*pid)).sum());
                println!("  memory now: {} (peak of the sum {} MiB)", rss_line(&pids), peak / 1024);
            }
        })
    };
    let started = Instant::now();
    GooseAttack::initialize()?
        .register_scenario(
            scenario!("Visitor")
                // A person's pause between steps; without it 50 users are 50 bots.
                .set_wait_time(Duration::from_millis(200), Duration::from_millis(1500))?
                .register_transaction(transaction!(arrive).set_on_start())
                .register_transaction(transaction!(upload).set_name("upload"))
                .register_transaction(transaction!(edit).set_name("edit"))
                .register_transaction(transaction!(save).set_name("save"))
                .register_transaction(transaction!(ai_job).set_name("ai job"))
                .register_transaction(transaction!(browse).set_name("browse")),
        )
        .set_default(GooseDefault::NoResetMetrics, true)?
        .execute()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    sampler.abort();
    println!("server memory at the end: {}", rss_line(&pids));
    let clean = report(seconds);
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("server memory 10 s after the end: {}", rss_line(&pids));
    if !clean {
        std::process::exit(1);
    }
    Ok(())
}
