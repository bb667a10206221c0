//! Metrics and logs: `/metrics` only with a token or on its own listener; requests counted under
//! their route templates (never a raw path); the job queue, job durations, storage and the pool
//! in the scrape; a request id on every response and on the log lines written for it, in JSON.
//!
//! The `metrics` recorder is global to this test process and shared by every test in it, so the
//! request and job figures are compared as increases, never as totals; the queue and pool series
//! are read from each app's own database and are exact.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::Value;
use sqlx::Row;

use crate::support::process::{client, free_port};
use crate::support::{fixture, settle_background_jobs, Reply, TestApp};

const TOKEN: &str = "a-metrics-token-for-tests-only";

/// One series as scraped: its name, labels and value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The Prometheus text format, as far as these tests need it (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
            let value = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
            let Some((name, labels)) = series.split_once('{') else {
                return Sample { name: series.into(), labels: BTreeMap::new(), value };
            };
            let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
            let mut parsed = BTreeMap::new();
            let mut rest = labels;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                let (mut value, mut chars, mut escaped) = (String::new(), after.char_indices(), false);
                let end = loop {
                    let (at, c) = chars.next().unwrap_or_else(|| panic!("unclosed value: {line}"));
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break at,
                        (true, 'n') => (value.push('\n'), escaped = false).1,
                        (_, c) => (value.push(c), escaped = false).1,
                    }
                };
                parsed.insert(key.trim_start_matches(',').to_string(), value);
                rest = after[end + 1..].trim_start_matches(',');
            }
            Sample { name: name.into(), labels: parsed, value }
        })
        .collect()
}

/// The sum of `name`'s series that carry every label in `labels`.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

async fn with_token(app: TestApp) -> TestApp {
    app.adjusted(|settings| settings.metrics.token = Some(TOKEN.to_string().into())).await
}

async fn scrape_with(app: &TestApp, authorization: Option<&str>) -> Reply {
    let mut request = Request::get("/metrics");
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

async fn scrape(app: &TestApp) -> String {
    let reply = scrape_with(app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let content_type = reply.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    String::from_utf8(reply.body).expect("UTF-8")
}

fn request_id(reply: &Reply) -> String {
    let id = reply.headers.get("x-request-id").expect("every response has a request id").to_str().unwrap();
    uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("not a UUID: {id}"));
    id.to_string()
}

/// Not served without a setting; with a token, only to requests bearing it; a too-short token
/// stops the start.
async fn metrics_need_a_token(app: TestApp) {
    let reply = scrape_with(&app, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "no [metrics] setting: not served on the main listener");
    let reply = scrape_with(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let mut short = app.settings.clone();
    short.metrics.token = Some("too-short".to_string().into());
    let error = server::Application::build(short).await.err().expect("a short token is refused");
    assert!(error.to_string().contains("at least 16 characters"), "{error:#}");

    // The metrics listener is bound while the application is built: a taken port stops the start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut clash = app.settings.clone();
    clash.metrics.listen = Some(taken.local_addr().unwrap());
    let error = server::Application::build(clash).await.err().expect("a taken metrics port is refused");
    assert!(format!("{error:#}").contains("listening for metrics on"), "{error:#}");

    let app = with_token(app).await;
    for authorization in [None, Some("Bearer wrong-token-of-enough-length"), Some(TOKEN), Some("Bearer ")] {
        let reply = scrape_with(&app, authorization).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(!String::from_utf8_lossy(&reply.body).contains("atelier_"), "nothing leaks with a refusal");
        request_id(&reply);
    }
    let text = scrape(&app).await;
    let max = app.ai.db.pool().options().get_max_connections();
    assert_eq!(sum(&text, "atelier_db_pool_max_connections", &[]), f64::from(max), "{text}");
    let open = sum(&text, "atelier_db_pool_connections", &[]);
    assert!(open >= 1.0 && open <= f64::from(max), "open connections {open} of {max}:\n{text}");
    assert_eq!(samples(&text).iter().filter(|s| s.name == "atelier_db_pool_connections").count(), 2, "idle and in use");
}

/// Requests are counted and timed under their route templates; an id in the path never becomes
/// a label; every kind of response carries a fresh request id.
async fn requests_are_counted_by_route_template(app: TestApp) {
    let app = with_token(app).await;
    let before = scrape(&app).await;
    let upload = app.upload(None, "chelsea.png", fixture("chelsea.png")).await;
    assert_eq!(upload.status, StatusCode::CREATED);
    let photo = upload.json();
    let photo_id = photo["id"].as_str().unwrap().to_string();
    let cookie = upload.session_cookie().unwrap();
    let media = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(media.status, StatusCode::OK);
    let stray = format!("/no/such/page/{}", uuid::Uuid::new_v4());
    let missing = app.get(&stray, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let server_fn = app.call_form("ai/jobs", Some(&cookie), &crate::support::form(&[("photo", &photo_id)])).await;
    assert_eq!(server_fn.status, StatusCode::OK);
    let api = app.get("/api/v1/me", None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let api_missing = app.get(&format!("/api/v1/nothing/{}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(api_missing.status, StatusCode::NOT_FOUND);
    let health = app.get("/healthz", None).await;

    let ids: std::collections::BTreeSet<String> =
        [&upload, &media, &missing, &page, &server_fn, &api, &api_missing, &health]
            .into_iter()
            .map(request_id)
            .collect();
    assert_eq!(ids.len(), 8, "a new id for each request");

    let after = scrape(&app).await;
    let increase = |name: &str, labels: &[(&str, &str)]| sum(&after, name, labels) - sum(&before, name, labels);
    let requests = "atelier_http_requests_total";
    let durations = "atelier_http_request_duration_seconds_count";
    for (route, method, status) in [
        ("/api/photos", "POST", "201"),
        ("/media/photos/{id}/{variant}", "GET", "200"),
        ("unmatched", "GET", "404"),
        ("/", "GET", "200"),
        ("/api/ai/jobs", "POST", "200"),
        ("/api/v1/me", "GET", "401"),
        ("/api/v1/{*rest}", "GET", "404"),
        ("/healthz", "GET", "200"),
    ] {
        let labels = [("route", route), ("method", method), ("status", status)];
        assert!(increase(requests, &labels) >= 1.0, "{route} {method} {status} counted:\n{after}");
        assert!(increase(durations, &[("route", route), ("method", method)]) >= 1.0, "{route} timed");
    }
    for raw in [photo_id.as_str(), stray.as_str(), "/no/such/page"] {
        assert!(!after.contains(raw), "a raw path or id in the labels: {raw}");
    }
    // Every route label is a template this server declares, or "unmatched".
    for sample in samples(&after).iter().filter(|s| s.name == requests) {
        let route = &sample.labels["route"];
        assert!(route == "unmatched" || route.starts_with('/'), "{route}");
        assert!(!route.contains(&photo_id) && uuid::Uuid::parse_str(route.rsplit('/').next().unwrap()).is_err());
    }
}

/// The queue by tool (from this app's database, exact), a job's duration once it finished, the
/// models it ran, and storage operations.
async fn jobs_storage_and_inference(app: TestApp) {
    let app = with_token(app).await;
    let before = scrape(&app).await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let media = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(media.status, StatusCode::OK);

    // No workers run in a TestApp: the upload's search-index job waits.
    let waiting: Vec<(String, i64)> =
        sqlx::query("SELECT tool, COUNT(*) AS n FROM jobs WHERE state = 'queued' GROUP BY tool ORDER BY tool")
            .fetch_all(app.ai.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get("tool"), row.get("n")))
            .collect();
    assert!(waiting.iter().any(|(tool, _)| tool == server::search::INDEX), "{waiting:?}");
    let queued = scrape(&app).await;
    for (tool, count) in &waiting {
        assert_eq!(sum(&queued, "atelier_jobs_queued", &[("tool", tool)]), *count as f64, "{queued}");
        let age = sum(&queued, "atelier_jobs_oldest_queued_age_seconds", &[("tool", tool)]);
        assert!((0.0..600.0).contains(&age), "age {age}");
    }
    let increase =
        |after: &str, name: &str, labels: &[(&str, &str)]| sum(after, name, labels) - sum(&before, name, labels);
    let storage = "atelier_storage_operation_duration_seconds_count";
    assert!(increase(&queued, storage, &[("op", "put"), ("outcome", "ok")]) >= 1.0, "the upload stored:\n{queued}");
    assert!(increase(&queued, storage, &[("op", "get"), ("outcome", "ok")]) >= 1.0, "the photo was read");

    settle_background_jobs(&app).await;
    let after = scrape(&app).await;
    assert_eq!(sum(&after, "atelier_jobs_queued", &[("tool", server::search::INDEX)]), 0.0, "{after}");
    let jobs = "atelier_job_duration_seconds_count";
    assert!(
        increase(&after, jobs, &[("tool", server::search::INDEX), ("outcome", "done")]) >= 1.0,
        "the index job's duration:\n{after}"
    );
    // The index job describes the photo with the object detector when the models can run here.
    let runs_models = app
        .ai
        .engine
        .as_ref()
        .is_ok_and(|engine| engine.provider().is_ok() && engine.is_installed(ai::describe::OBJECTS));
    if runs_models {
        let model = [("model", ai::describe::OBJECTS)];
        assert!(increase(&after, "atelier_inference_duration_seconds_count", &model) >= 1.0, "{after}");
    } else {
        eprintln!("ONNX Runtime or the object model is missing here: inference time not checked");
    }
}

/// The real binary with JSON logs and a metrics listener; its output is captured.
struct Logged {
    child: tokio::process::Child,
    base: String,
    metrics: String,
}

async fn start_logged(app: &TestApp, command: &str) -> Logged {
    let (port, metrics_port) = (free_port(), free_port());
    let mut process = app.atelier(command);
    process
        .env("ATELIER_ADDR", format!("127.0.0.1:{port}"))
        .env("ATELIER_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .env("ATELIER_LOG_FORMAT", "json")
        .env("ATELIER_LOG", "info,server=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = process.spawn().expect("atelier starts");
    let logged =
        Logged { child, base: format!("http://127.0.0.1:{port}"), metrics: format!("http://127.0.0.1:{metrics_port}") };
    // The metrics listener is served by both commands once the application is built.
    for _ in 0..300 {
        if client().get(format!("{}/metrics", logged.metrics)).send().await.is_ok_and(|r| r.status().is_success()) {
            return logged;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("atelier {command} did not serve /metrics within 30 s");
}

/// Everything it wrote, once killed.
async fn output(mut logged: Logged) -> Vec<String> {
    logged.child.start_kill().expect("SIGKILL sent");
    let output = logged.child.wait_with_output().await.expect("its output");
    [output.stdout, output.stderr]
        .iter()
        .flat_map(|bytes| String::from_utf8_lossy(bytes).lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// `atelier serve` with `[metrics] listen`: `/metrics` there, not on the main port; JSON logs
/// whose request lines carry the response's request id. `atelier worker` serves its metrics too.
async fn metrics_listener_and_json_logs(app: TestApp) {
    let server = start_logged(&app, "serve").await;
    let http = client();
    let main = http.get(format!("{}/metrics", server.base)).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND, "not on the main listener without a token");
    let health = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let id = health.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = http.get(format!("{}/metrics", server.metrics)).send().await.unwrap().text().await.unwrap();
    let counted = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
    assert!(sum(&text, "atelier_http_requests_total", &counted) >= 1.0, "{text}");
    assert!(samples(&text).iter().any(|s| s.name == "atelier_db_pool_max_connections"), "{text}");

    let lines = output(server).await;
    let logs: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a log line that is not JSON: {line}")))
        .collect();
    assert!(logs.iter().any(|log| log["fields"]["message"] == "Atelier is listening"), "{lines:#?}");
    let mine: Vec<&Value> = logs
        .iter()
        .filter(|log| log["spans"].as_array().is_some_and(|spans| spans.iter().any(|span| span["request_id"] == id)))
        .collect();
    let request = mine.iter().find(|log| log["fields"]["message"] == "request").expect("the request's own line");
    assert_eq!(request["fields"]["route"], "/healthz");
    assert_eq!(request["fields"]["status"], 200);
    // Every line naming this id is about this request.
    assert!(lines.iter().filter(|line| line.contains(&id)).count() == mine.len(), "{lines:#?}");

    let worker = start_logged(&app, "worker").await;
    let text = http.get(format!("{}/metrics", worker.metrics)).send().await.unwrap().text().await.unwrap();
    assert!(samples(&text).iter().any(|s| s.name == "atelier_jobs_queued" || s.name == "atelier_db_pool_connections"));
    for line in output(worker).await {
        serde_json::from_str::<Value>(&line).unwrap_or_else(|_| panic!("a worker log line that is not JSON: {line}"));
    }
}

on_both_databases!(
    metrics_need_a_token,
    requests_are_counted_by_route_template,
    jobs_storage_and_inference,
    metrics_listener_and_json_logs,
);
