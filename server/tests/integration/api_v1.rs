//! The REST API `/api/v1` (issue 19), on both databases: every operation's answers, scopes,
//! idempotency keys, pagination, completion webhooks to a loopback receiver, and 402 when credits
//! run out. Every answer these tests receive is validated against the served OpenAPI document:
//! the operation is found by method and path template, the status must be documented for it, and
//! a JSON body must match its schema (JSON Schema 2020-12, `#/components/schemas` refs resolved,
//! undocumented fields refused). The tour also proves that every documented operation was
//! exercised, and that a route the document does not name answers 404 or 405.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use app::developer::Scope;
use app::ids::{AccountId, OwnerId};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Row;

use crate::support::{account, fixture, Reply, TestApp};

/// The workspace's own request types are described by hand (see `v1::schemas`) and may carry
/// more fields than named; every other schema is exact.
const OPEN_SCHEMAS: &[&str] = &["EditRecipe", "ToolRequest", "ExportSettings", "Pipeline", "GenerateRequest"];

/// Speaks to `/api/v1` with one key and checks every answer against the document.
struct Api<'a> {
    app: &'a TestApp,
    token: String,
    document: Value,
    exercised: std::sync::Arc<Mutex<BTreeSet<String>>>,
}

struct Call<'a> {
    method: &'a str,
    path: String,
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(&'static str, String)>,
    token: Option<String>,
}

impl<'a> Api<'a> {
    async fn new(app: &'a TestApp, token: String) -> Self {
        let reply = app.get("/api/v1/openapi.json", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let document = reply.json();
        assert_eq!(document["openapi"], "3.1.0");
        let api = Api { app, token, document, exercised: Default::default() };
        // The document's own answer is one of the answers checked.
        api.check("GET", "/api/v1/openapi.json", &reply);
        api
    }

    fn with_token(&self, token: &str) -> Api<'a> {
        Api { app: self.app, token: token.into(), document: self.document.clone(), exercised: self.exercised.clone() }
    }

    async fn send(&self, call: Call<'_>) -> Reply {
        let mut request =
            Request::builder().method(call.method).uri(&call.path).header("x-forwarded-for", "198.51.100.20");
        if let Some(token) = call.token.as_ref().or(Some(&self.token)).filter(|token| !token.is_empty()) {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let body = match call.body {
            Some((content_type, bytes)) => {
                request =
                    request.header(header::CONTENT_TYPE, content_type).header(header::CONTENT_LENGTH, bytes.len());
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let reply = self.app.send(request.body(body).unwrap()).await;
        self.check(call.method, &call.path, &reply);
        reply
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Call { method: "GET", path: path.into(), body: None, headers: vec![], token: None }).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Call { method: "DELETE", path: path.into(), body: None, headers: vec![], token: None }).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_with(path, body, None).await
    }

    async fn post_with(&self, path: &str, body: Value, idempotency_key: Option<&str>) -> Reply {
        let headers = idempotency_key.map(|key| vec![("idempotency-key", key.to_string())]).unwrap_or_default();
        let body = Some(("application/json".to_string(), body.to_string().into_bytes()));
        self.send(Call { method: "POST", path: path.into(), body, headers, token: None }).await
    }

    async fn upload(&self, name: &str, data: Vec<u8>, idempotency_key: Option<&str>) -> Reply {
        let boundary = "atelier-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let headers = idempotency_key.map(|key| vec![("idempotency-key", key.to_string())]).unwrap_or_default();
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send(Call {
            method: "POST",
            path: "/api/v1/photos".into(),
            body: Some((content_type, body)),
            headers,
            token: None,
        })
        .await
    }

    /// The operation `method path` is, by the document's path templates (literal segments win).
    fn operation(&self, method: &str, path: &str) -> Option<(String, Value)> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, String)> = None;
        for template in self.document["paths"].as_object().unwrap().keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let matches = parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| (part.starts_with('{') && !segment.is_empty()) || part == segment);
            let literal = parts.iter().filter(|part| !part.starts_with('{')).count();
            if matches && best.as_ref().is_none_or(|(count, _)| literal > *count) {
                best = Some((literal, template.clone()));
            }
        }
        let (_, template) = best?;
        let operation = self.document["paths"][&template][method.to_lowercase()].clone();
        (!operation.is_null()).then_some((template, operation))
    }

    /// Panics unless the answer is one the document gives for this operation.
    fn check(&self, method: &str, path: &str, reply: &Reply) {
        let (template, operation) = self
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} answered {} but is not in the document", reply.status));
        let id = operation["operationId"].as_str().unwrap().to_string();
        let status = reply.status.as_u16().to_string();
        let response = &operation["responses"][&status];
        assert!(
            !response.is_null(),
            "{id} ({method} {template}) answered {status}, which it does not document: {}",
            body_text(reply)
        );
        self.exercised.lock().unwrap().insert(id.clone());
        let content = response["content"].as_object();
        let Some(content) = content.filter(|content| !content.is_empty()) else {
            assert!(reply.body.is_empty(), "{id} {status} documents no body but sent one");
            return;
        };
        let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let documented = content.get(media).unwrap_or_else(|| {
            panic!("{id} {status} sent {media}, documented: {:?}", content.keys().collect::<Vec<_>>())
        });
        if media == "application/json" {
            let body: Value = serde_json::from_slice(&reply.body)
                .unwrap_or_else(|_| panic!("{id} {status}: not JSON: {}", body_text(reply)));
            if let Err(errors) = validate(&self.document, &documented["schema"], &body) {
                panic!("{id} {status} does not match its schema: {errors}\n{body:#}");
            }
        }
    }

    fn exercised(&self) -> BTreeSet<String> {
        self.exercised.lock().unwrap().clone()
    }
}

fn body_text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).chars().take(500).collect()
}

/// `instance` against `schema`, whose refs point into the document's components; every named
/// object schema but the hand-described ones refuses fields it does not name.
fn validate(document: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let mut components = document["components"].clone();
    for (name, component) in components["schemas"].as_object_mut().unwrap() {
        if component.get("properties").is_some() && !OPEN_SCHEMAS.contains(&name.as_str()) {
            component["additionalProperties"] = json!(false);
        }
    }
    let mut root = json!({ "$schema": "https://json-schema.org/draft/2020-12/schema", "components": components });
    for (key, value) in schema.as_object().expect("a schema object") {
        root[key] = value.clone();
    }
    let validator =
        jsonschema::draft202012::new(&root).map_err(|error| format!("the schema does not compile: {error}"))?;
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|error| format!("{} at {}", error, error.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn code(reply: &Reply) -> String {
    reply.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// A signed-in account with a key of `scopes` (and a webhook URL, when given).
async fn key(
    app: &TestApp,
    email: &str,
    scopes: &[Scope],
    webhook: Option<&str>,
) -> (String, Option<Vec<u8>>, OwnerId) {
    account(app, None, email).await;
    let row = sqlx::query("SELECT id, owner_id FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    let account: AccountId = row.get::<String, _>("id").parse().unwrap();
    let owner: OwnerId = row.get::<String, _>("owner_id").parse().unwrap();
    let db = &app.ai.db;
    match webhook {
        None => {
            let (_, token) = server::developer::keys::create_key(db, account, "test", scopes, None).await.unwrap();
            (token, None, owner)
        }
        Some(url) => {
            let (_, token, secret) = server::developer::keys::create_key_with_webhook(
                db,
                &app.ai.photos.storage,
                app::ids::SignedIn { account, owner, role: app::ids::Role::User },
                "hooked",
                scopes,
                None,
                url,
            )
            .await
            .unwrap();
            (token, Some(secret.into_bytes()), owner)
        }
    }
}

async fn poll_until(api: &Api<'_>, path: &str, finished: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let reply = api.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", body_text(&reply));
        let body = reply.json();
        if finished(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{path} did not finish");
}

const EVERYTHING: &[Scope] = &[Scope::Read, Scope::Write, Scope::Ai, Scope::Generate, Scope::Billing];

/// Every operation, its happy path where the test server can take it and its errors; then the
/// proof that the document and the router agree.
async fn every_operation_answers_as_its_document_says(app: TestApp) {
    // The tour polls jobs and probes every path: more calls than a key's default minute allows.
    // An image service for generation: a loopback Stable Diffusion WebUI stand-in.
    let image_service = image_service().await;
    let app = app
        .adjusted(|settings| {
            settings.developer.requests_per_minute_per_key = 10_000;
            settings.generation.providers = vec![server::config::ImageServiceSettings {
                name: "Test SD".into(),
                kind: "sd-webui".into(),
                url: image_service,
                key: None,
                models: vec!["test-model".into()],
                credits_per_image: 1,
                auth: None,
            }];
        })
        .await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (token, _, _) = key(&app, "tour@example.com", EVERYTHING, None).await;
    let api = Api::new(&app, token).await;

    // Meta: the key in use; no key at all.
    let me = api.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    let anonymous = api.with_token("");
    let refused = anonymous.get("/api/v1/photos").await;
    assert_eq!((refused.status, code(&refused)), (StatusCode::UNAUTHORIZED, "unauthorized".into()));

    // Photos: upload, get, list, links and the media behind them.
    let uploaded = api.upload("astronaut.png", fixture("astronaut.png"), None).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", body_text(&uploaded));
    let photo = uploaded.json();
    let photo_id = photo["id"].as_str().unwrap().to_string();
    assert_eq!((photo["width"].as_u64(), photo["name"].as_str()), (Some(512), Some("astronaut.png")));
    let not_image = api.upload("notes.txt", b"just some text".to_vec(), None).await;
    assert_eq!(not_image.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", body_text(&not_image));
    let got = api.get(&format!("/api/v1/photos/{photo_id}")).await;
    assert_eq!(got.json()["id"], photo_id.as_str());
    let unknown = api.get(&format!("/api/v1/photos/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((unknown.status, code(&unknown)), (StatusCode::NOT_FOUND, "not_found".into()));
    let not_an_id = api.get("/api/v1/photos/not-an-id").await;
    assert_eq!(not_an_id.status, StatusCode::NOT_FOUND);
    let listed = api.get("/api/v1/photos").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Edits: a recipe saved as a version; a bad recipe is refused.
    let recipe = json!({ "ops": [{ "op": "rotate", "quarter_turns": 1 }, { "op": "grayscale" }] });
    let saved = api.post(&format!("/api/v1/photos/{photo_id}/versions"), json!({ "recipe": recipe })).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", body_text(&saved));
    let version = saved.json();
    let version_id = version["id"].as_str().unwrap().to_string();
    assert_eq!(version["recipe"], recipe);
    let bad = api
        .post(
            &format!("/api/v1/photos/{photo_id}/versions"),
            json!({ "recipe": { "ops": [{ "op": "blur", "radius": 60000 }] } }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", body_text(&bad));
    let not_json = api.post(&format!("/api/v1/photos/{photo_id}/versions"), json!({ "recipe": "rotate it" })).await;
    assert_eq!((not_json.status, code(&not_json)), (StatusCode::BAD_REQUEST, "bad_request".into()));
    let form = api
        .send(Call {
            method: "POST",
            path: format!("/api/v1/photos/{photo_id}/versions"),
            body: Some(("text/plain".into(), b"recipe".to_vec())),
            headers: vec![],
            token: None,
        })
        .await;
    assert_eq!((form.status, code(&form)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type".into()));
    assert_eq!(api.get(&format!("/api/v1/versions/{version_id}")).await.json()["photo_id"], photo_id.as_str());
    assert_eq!(api.get("/api/v1/versions").await.json()["items"].as_array().unwrap().len(), 1);

    // Media links: the original, the thumbnail and the version, without the key; a changed
    // link is refused.
    let links = api.get(&format!("/api/v1/photos/{photo_id}/links")).await.json();
    let original = anonymous.get(links["original"].as_str().unwrap()).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(original.headers["content-type"], "image/png");
    assert_eq!(original.headers["x-content-type-options"], "nosniff");
    let thumbnail = anonymous.get(links["thumbnail"].as_str().unwrap()).await;
    assert_eq!(thumbnail.status, StatusCode::OK);
    let version_link = links["versions"][0]["image"].as_str().unwrap();
    assert_eq!(anonymous.get(version_link).await.status, StatusCode::OK);
    let tampered = links["original"].as_str().unwrap().replace("/original?", "/thumbnail?");
    let tampered = anonymous.get(&tampered).await;
    assert_eq!((tampered.status, code(&tampered)), (StatusCode::FORBIDDEN, "forbidden".into()));

    // Export: an original as WebP, a version as PNG.
    let exported = api
        .post(&format!("/api/v1/photos/{photo_id}/export"), json!({ "settings": { "format": "webp", "quality": 70 } }))
        .await;
    assert_eq!(exported.status, StatusCode::OK, "{}", body_text(&exported));
    assert_eq!(exported.headers["content-type"], "image/webp");
    assert!(exported.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let exported =
        api.post(&format!("/api/v1/versions/{version_id}/export"), json!({ "settings": { "format": "png" } })).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", body_text(&exported));
    assert_eq!(image::load_from_memory(&exported.body).unwrap().width(), 512);

    // AI: a job started, polled to its end, its result downloaded; a bad request refused; a
    // finished job cannot be cancelled, a running one can.
    let started = api
        .post(&format!("/api/v1/photos/{photo_id}/jobs"), json!({ "tool": "upscale", "factor": 2, "quality": "fast" }))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", body_text(&started));
    let job_id = started.json()["id"].as_str().unwrap().to_string();
    let done = poll_until(&api, &format!("/api/v1/jobs/{job_id}"), |job| {
        job["state"] != "queued" && job["state"] != "running"
    })
    .await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!((done["result_width"].as_u64(), done["result_height"].as_u64()), (Some(1024), Some(1024)));
    let result = anonymous.get(done["result_url"].as_str().unwrap()).await;
    assert_eq!(result.status, StatusCode::OK);
    assert_eq!(image::load_from_memory(&result.body).unwrap().width(), 1024);
    let wrong = api
        .post(&format!("/api/v1/photos/{photo_id}/jobs"), json!({ "tool": "upscale", "factor": 3, "quality": "fast" }))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", body_text(&wrong));
    let jobs = api.get(&format!("/api/v1/photos/{photo_id}/jobs")).await.json();
    assert!(jobs["items"].as_array().unwrap().iter().any(|job| job["id"] == job_id.as_str()));
    let too_late = api.post(&format!("/api/v1/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!((too_late.status, code(&too_late)), (StatusCode::BAD_REQUEST, "bad_request".into()));
    let slow = api
        .post(&format!("/api/v1/photos/{photo_id}/jobs"), json!({ "tool": "upscale", "factor": 4, "quality": "best" }))
        .await;
    let slow_id = slow.json()["id"].as_str().unwrap().to_string();
    let cancelled = api.post(&format!("/api/v1/jobs/{slow_id}/cancel"), json!({})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", body_text(&cancelled));
    let stopped = poll_until(&api, &format!("/api/v1/jobs/{slow_id}"), |job| {
        job["state"] != "queued" && job["state"] != "running"
    })
    .await;
    assert_eq!(stopped["state"], "cancelled", "{stopped}");

    // Batches: the ready pipelines, one saved, a batch over the photo polled to its end, and
    // a cancel.
    let pipelines = api.get("/api/v1/pipelines").await.json();
    assert!(pipelines["items"].as_array().unwrap().iter().any(|p| p["ready"] == true));
    let pipeline =
        json!({ "name": "Grey", "steps": [{ "step": "edit", "recipe": { "ops": [{ "op": "grayscale" }] } }] });
    let created = api.post("/api/v1/pipelines", pipeline.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", body_text(&created));
    let choice = created.json()["choice"].clone();
    assert_eq!(choice["kind"], "saved");
    let batch =
        api.post("/api/v1/batches", json!({ "choice": choice, "photos": [photo_id], "save_to_gallery": true })).await;
    assert_eq!(batch.status, StatusCode::ACCEPTED, "{}", body_text(&batch));
    let batch_id = batch.json()["id"].as_str().unwrap().to_string();
    let finished = poll_until(&api, &format!("/api/v1/batches/{batch_id}"), |b| b["batch"]["finished"] == true).await;
    assert_eq!(finished["batch"]["counts"]["done"], 1, "{finished}");
    assert!(finished["items"][0]["version"].is_string());
    assert_eq!(api.get("/api/v1/batches").await.json()["items"].as_array().unwrap().len(), 1);
    let cancel = api.post(&format!("/api/v1/batches/{batch_id}/cancel"), json!({})).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", body_text(&cancel));
    let no_choice = api.post("/api/v1/batches", json!({ "choice": { "kind": "ready" }, "photos": [photo_id] })).await;
    assert_eq!(no_choice.status, StatusCode::BAD_REQUEST);

    // Generation: a run on the stand-in service, polled to its image; an unknown service is
    // refused with its reason; unknown runs are not found.
    let run =
        api.post("/api/v1/generations", json!({ "provider": "Test SD", "prompt": "a red fox", "count": 1 })).await;
    assert_eq!(run.status, StatusCode::ACCEPTED, "{}", body_text(&run));
    let run_id = run.json()["id"].as_str().unwrap().to_string();
    let made = poll_until(&api, &format!("/api/v1/generations/{run_id}"), |run| {
        !matches!(run["state"].as_str(), Some("queued" | "running"))
    })
    .await;
    assert_eq!(made["state"], "done", "{made}");
    let image = made["images"][0]["photo"]["id"].as_str().expect("an image").to_string();
    let links = api.get(&format!("/api/v1/photos/{image}/links")).await.json();
    assert_eq!(anonymous.get(links["original"].as_str().unwrap()).await.status, StatusCode::OK);
    let unknown_service =
        api.post("/api/v1/generations", json!({ "provider": "none", "prompt": "a red fox", "count": 1 })).await;
    assert_eq!(unknown_service.status, StatusCode::BAD_REQUEST, "{}", body_text(&unknown_service));
    assert_eq!(api.get("/api/v1/generations").await.json()["items"].as_array().unwrap().len(), 1);
    let missing = uuid::Uuid::new_v4();
    assert_eq!(api.get(&format!("/api/v1/generations/{missing}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.post(&format!("/api/v1/generations/{missing}/cancel"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );

    // Usage and balance.
    let usage = api.get("/api/v1/usage").await.json();
    assert!(usage["recent"].as_array().unwrap().iter().any(|record| record["tool"] == "upscale"), "{usage}");
    let balance = api.get("/api/v1/balance").await;
    assert_eq!(balance.status, StatusCode::OK);
    assert_eq!(balance.json()["mode"], "off");

    // Deleting: the version, then the photo; both are gone after.
    assert_eq!(api.delete(&format!("/api/v1/versions/{version_id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/api/v1/versions/{version_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&format!("/api/v1/photos/{photo_id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.delete(&format!("/api/v1/photos/{photo_id}")).await.status, StatusCode::NOT_FOUND);

    // Every documented operation was exercised above.
    let documented: BTreeSet<String> = api.document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| {
            item.as_object().unwrap().values().filter_map(|op| op["operationId"].as_str().map(str::to_string))
        })
        .collect();
    let exercised = api.exercised();
    let missed: Vec<_> = documented.difference(&exercised).collect();
    assert!(missed.is_empty(), "documented operations no test called: {missed:?}");
    assert!(documented.len() >= 30, "the document lost operations: {documented:?}");

    // The router serves nothing the document does not name: another method on a documented
    // path, or an undocumented path under /api/v1, is not served.
    let mut methods: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, item) in api.document["paths"].as_object().unwrap() {
        methods.insert(path.clone(), item.as_object().unwrap().keys().cloned().collect());
    }
    for (template, documented_methods) in &methods {
        let path = template
            .split('/')
            .map(|part| if part.starts_with('{') { missing.to_string() } else { part.to_string() })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented_methods.contains(&method.to_lowercase()) {
                continue;
            }
            let mut request = Request::builder().method(method).uri(&path).header("x-forwarded-for", "198.51.100.20");
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", api.token));
            let reply = app.send(request.body(Body::empty()).unwrap()).await;
            assert!(
                matches!(reply.status, StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND),
                "{method} {path} is served ({}) but not documented",
                reply.status
            );
        }
    }
    let stray = app.get("/api/v1/no-such-thing", None).await;
    assert_eq!(stray.status, StatusCode::NOT_FOUND);

    // The reference page is rendered from the same document, by this server, without a script.
    let page = app.get("/developers/api", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers.contains_key("content-security-policy"));
    let html = String::from_utf8(page.body).unwrap();
    for id in &documented {
        assert!(html.contains(&format!("id=\"op-{id}\"")), "the reference page lacks {id}");
    }
    assert!(html.contains("Atelier-Signature") && !html.contains("<script"));
}

/// The validator itself refuses what does not match, so the checks above can fail.
async fn the_validator_refuses_answers_that_break_the_document(app: TestApp) {
    let api = Api::new(&app, String::new()).await;
    let photo = json!({ "$ref": "#/components/schemas/Photo" });
    let good = json!({ "id": uuid::Uuid::new_v4(), "name": "a", "width": 1, "height": 1, "created_at": 0, "held": false, "alt_text": null, "tags": [] });
    assert!(validate(&api.document, &photo, &good).is_ok());
    let mut wrong_type = good.clone();
    wrong_type["width"] = json!("wide");
    assert!(validate(&api.document, &photo, &wrong_type).is_err());
    let mut extra = good.clone();
    extra["secret"] = json!("x");
    assert!(validate(&api.document, &photo, &extra).is_err(), "undocumented fields are refused");
    let error = json!({ "$ref": "#/components/schemas/Error" });
    assert!(
        validate(&api.document, &error, &json!({ "error": { "code": "not_found", "message": "Not found." } })).is_ok()
    );
    assert!(
        validate(&api.document, &error, &json!({ "error": { "code": "made_up", "message": "x" } })).is_err(),
        "codes are enumerated"
    );
    // An answer with a status the operation does not document fails the check.
    let undocumented = Reply { status: StatusCode::IM_A_TEAPOT, headers: Default::default(), body: vec![] };
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api.check("GET", "/api/v1/photos", &undocumented)));
    assert!(caught.is_err());
    // So does a path the document does not name.
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api.check("GET", "/api/v1/nothing", &undocumented)));
    assert!(caught.is_err());
    // The server answers such a path in the API's error shape, not with the site's HTML page.
    let reply = app.get("/api/v1/nothing", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(validate(&api.document, &error, &reply.json()).is_ok(), "{:?}", String::from_utf8_lossy(&reply.body));
}

/// Scopes: a read key reads but cannot upload, save, start AI jobs, generate or see credits.
async fn a_key_can_do_only_what_its_scopes_allow(app: TestApp) {
    let (token, _, _) = key(&app, "reader@example.com", &[Scope::Read], None).await;
    let api = Api::new(&app, token).await;
    assert_eq!(api.get("/api/v1/photos").await.status, StatusCode::OK);
    let upload = api.upload("chelsea.jpg", fixture("chelsea.jpg"), None).await;
    assert_eq!((upload.status, code(&upload)), (StatusCode::FORBIDDEN, "insufficient_scope".into()));
    assert!(upload.json()["error"]["message"].as_str().unwrap().contains("\"write\""));
    for (path, body) in [
        (format!("/api/v1/photos/{}/jobs", uuid::Uuid::new_v4()), json!({ "tool": "describe" })),
        ("/api/v1/generations".to_string(), json!({ "provider": "x", "prompt": "y", "count": 1 })),
        ("/api/v1/pipelines".to_string(), json!({ "name": "n", "steps": [] })),
    ] {
        let reply = api.post(&path, body).await;
        assert_eq!((reply.status, code(&reply)), (StatusCode::FORBIDDEN, "insufficient_scope".into()), "{path}");
    }
    let balance = api.get("/api/v1/balance").await;
    assert_eq!(code(&balance), "insufficient_scope");
    assert_eq!(api.get("/api/v1/photos").await.json()["items"], json!([]), "nothing was stored");
}

/// The same Idempotency-Key and request twice make one photo; another request under the key is
/// refused; a new key makes a new photo.
async fn an_idempotency_key_makes_a_repeated_request_happen_once(app: TestApp) {
    let (token, _, _) = key(&app, "retry@example.com", EVERYTHING, None).await;
    let api = Api::new(&app, token).await;
    let first = api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("upload-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", body_text(&first));
    let again = api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("upload-1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json(), first.json(), "the same answer");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(api.get("/api/v1/photos").await.json()["items"].as_array().unwrap().len(), 1, "one photo");

    let conflict = api.upload("coffee.png", fixture("coffee.png"), Some("upload-1")).await;
    assert_eq!((conflict.status, code(&conflict)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_conflict".into()));
    let other = api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("upload-2")).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.json()["id"], first.json()["id"]);
    let bad_key = api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("a key with spaces")).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);

    // JSON creations too: the same save twice is one version; a failed one is not kept, so the
    // key can be used again once the request is right.
    let photo = first.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/photos/{photo}/versions");
    let save = |recipe: Value| api.post_with(&path, json!({ "recipe": recipe }), Some("save-1"));
    let failed = save(json!({ "ops": [{ "op": "blur", "radius": 60000 }] })).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    let saved = save(json!({ "ops": [{ "op": "grayscale" }] })).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", body_text(&saved));
    assert_eq!(save(json!({ "ops": [{ "op": "grayscale" }] })).await.json(), saved.json());
    assert_eq!(api.get("/api/v1/versions").await.json()["items"].as_array().unwrap().len(), 1);

    // Another key's Idempotency-Key of the same name is its own.
    let (other_token, _, _) = key(&app, "retry-other@example.com", EVERYTHING, None).await;
    let other_api = api.with_token(&other_token);
    let theirs = other_api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("upload-1")).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert!(theirs.headers.get("idempotent-replayed").is_none());

    // A day later the key is forgotten (the sweep removes it).
    let swept = server::developer::v1::idempotency::sweep(&app.ai.db, server::platform::db::now() + 24 * 3600 + 1, 0)
        .await
        .unwrap();
    assert!(swept >= 3, "{swept}");
    let later = api.upload("chelsea.jpg", fixture("chelsea.jpg"), Some("upload-1")).await;
    assert_eq!(later.status, StatusCode::CREATED);
    assert!(later.headers.get("idempotent-replayed").is_none());
}

/// Lists come in pages of `limit` with a cursor to the next; bad values are 400.
async fn lists_are_paginated_with_a_cursor(app: TestApp) {
    let (token, _, _) = key(&app, "pages@example.com", EVERYTHING, None).await;
    let api = Api::new(&app, token).await;
    for name in ["chelsea.jpg", "coffee.png", "astronaut.png"] {
        assert_eq!(api.upload(name, fixture(name), None).await.status, StatusCode::CREATED);
    }
    let first = api.get("/api/v1/photos?limit=2").await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let second = api.get(&format!("/api/v1/photos?limit=2&cursor={cursor}")).await.json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let mut ids: Vec<Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|p| p["id"].clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every photo once");
    for bad in ["limit=0", "limit=1000", "limit=two", "cursor=nonsense"] {
        let reply = api.get(&format!("/api/v1/photos?{bad}")).await;
        assert_eq!((reply.status, code(&reply)), (StatusCode::BAD_REQUEST, "bad_request".into()), "{bad}");
    }
}

/// A loopback Stable Diffusion WebUI: `/sdapi/v1/txt2img` answers one PNG of the size asked.
async fn image_service() -> String {
    let router = axum::Router::new().route(
        "/sdapi/v1/txt2img",
        axum::routing::post(|body: axum::body::Bytes| async move {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let side = |key: &str| request[key].as_u64().unwrap_or(64).clamp(8, 2048) as u32;
            let image = image::RgbImage::from_pixel(side("width"), side("height"), image::Rgb([200, 80, 40]));
            let mut png = std::io::Cursor::new(Vec::new());
            image.write_to(&mut png, image::ImageFormat::Png).unwrap();
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(png.into_inner());
            axum::Json(json!({ "images": [encoded], "parameters": {}, "info": json!({ "seed": 7 }).to_string() }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

type Received = std::sync::Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A loopback HTTP server that keeps every POST it receives.
async fn receiver() -> (String, Received) {
    let received: Received = Default::default();
    let store = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}

/// A job started through the API by a key with a webhook URL is announced there, signed with the
/// key's secret as the reference page says.
async fn a_finished_job_is_announced_to_the_keys_webhook_signed(app: TestApp) {
    let app = app.adjusted(|settings| settings.developer.allow_private_webhooks = true).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (url, received) = receiver().await;
    let (token, secret, _) = key(&app, "hooks@example.com", EVERYTHING, Some(&url)).await;
    let secret = secret.unwrap();
    let api = Api::new(&app, token).await;
    let photo = api.upload("astronaut.png", fixture("astronaut.png"), None).await.json();
    let started = api
        .post(
            &format!("/api/v1/photos/{}/jobs", photo["id"].as_str().unwrap()),
            json!({ "tool": "upscale", "factor": 2, "quality": "fast" }),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", body_text(&started));
    let job_id = started.json()["id"].as_str().unwrap().to_string();
    let mut delivery = None;
    for _ in 0..600 {
        if let Some(found) = received.lock().unwrap().first().cloned() {
            delivery = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (headers, body) = delivery.expect("the webhook was delivered");
    let signature = headers["atelier-signature"].to_str().unwrap();
    let (t, v1) = signature.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    assert!((server::platform::db::now() - t.parse::<i64>().unwrap()).abs() < 300, "a fresh timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, expected, "signed with the key's secret over \"<t>.<body>\"");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "job.done", "{event}");
    assert_eq!(event["data"]["id"], job_id.as_str());
    assert_eq!(headers["atelier-event"], "job.done");
    assert_eq!(headers["content-type"], "application/json");
    let schema = json!({ "$ref": "#/components/schemas/WebhookEvent" });
    validate(&api.document, &schema, &event).unwrap();
    validate(&api.document, &json!({ "$ref": "#/components/schemas/Job" }), &event["data"]).unwrap();
    // Recorded: which key started it, delivered once.
    let row = sqlx::query("SELECT attempts, notified_at, outcome FROM api_jobs WHERE target_id = $1")
        .bind(&job_id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>("attempts"), 1);
    assert!(row.get::<Option<i64>, _>("notified_at").is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received.lock().unwrap().len(), 1, "delivered once");
}

/// A webhook not yet sent when the server stopped is sent after it starts again, once.
async fn a_webhook_a_restart_interrupted_is_sent_after_it(app: TestApp) {
    let app = app.adjusted(|settings| settings.developer.allow_private_webhooks = true).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (url, received) = receiver().await;
    let (token, _, owner) = key(&app, "restart@example.com", EVERYTHING, None).await;
    let api = Api::new(&app, token).await;
    let photo = api.upload("astronaut.png", fixture("astronaut.png"), None).await.json();
    let started = api
        .post(
            &format!("/api/v1/photos/{}/jobs", photo["id"].as_str().unwrap()),
            json!({ "tool": "upscale", "factor": 2, "quality": "fast" }),
        )
        .await;
    let job_id = started.json()["id"].as_str().unwrap().to_string();
    poll_until(&api, &format!("/api/v1/jobs/{job_id}"), |job| job["state"] == "done").await;
    // As if a key with a webhook had started it and the server had stopped before announcing it.
    let row = sqlx::query("SELECT id FROM accounts WHERE email = $1")
        .bind("restart@example.com")
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    let account: AccountId = row.get::<String, _>("id").parse().unwrap();
    let me = app::ids::SignedIn { account, owner, role: app::ids::Role::User };
    let (hooked, _, _) = server::developer::keys::create_key_with_webhook(
        &app.ai.db,
        &app.ai.photos.storage,
        me,
        "hooked",
        EVERYTHING,
        None,
        &url,
    )
    .await
    .unwrap();
    sqlx::query("UPDATE api_jobs SET key_id = $1 WHERE target_id = $2")
        .bind(hooked.id.to_string())
        .bind(&job_id)
        .execute(app.ai.db.pool())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(received.lock().unwrap().is_empty(), "nothing is sent before the restart");
    let app = app.restart().await;
    let _second = app.restart().await;
    for _ in 0..300 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "sent once, though two starts resumed it");
    let event: Value = serde_json::from_str(&received[0].1).unwrap();
    assert_eq!((event["type"].as_str(), event["data"]["id"].as_str()), (Some("job.done"), Some(job_id.as_str())));
}

/// Without the setting, a webhook to a loopback address is never called.
async fn webhooks_never_go_to_private_addresses_by_default(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (url, received) = receiver().await;
    let (token, _, _) = key(&app, "ssrf@example.com", EVERYTHING, Some(&url)).await;
    let api = Api::new(&app, token).await;
    let photo = api.upload("astronaut.png", fixture("astronaut.png"), None).await.json();
    let started = api
        .post(
            &format!("/api/v1/photos/{}/jobs", photo["id"].as_str().unwrap()),
            json!({ "tool": "upscale", "factor": 2, "quality": "fast" }),
        )
        .await;
    let job_id = started.json()["id"].as_str().unwrap().to_string();
    let mut outcome = None;
    for _ in 0..600 {
        let row = sqlx::query("SELECT outcome FROM api_jobs WHERE target_id = $1")
            .bind(&job_id)
            .fetch_one(app.ai.db.pool())
            .await
            .unwrap();
        if let Some(found) = row.get::<Option<String>, _>("outcome").filter(|o| o.starts_with("given up")) {
            outcome = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outcome = outcome.expect("the delivery was given up");
    assert!(outcome.contains("private or local address"), "{outcome}");
    assert!(received.lock().unwrap().is_empty(), "the loopback receiver was never called");
}

/// With credits enforced and none left, starting a job is 402 `insufficient_credits`.
async fn a_job_beyond_the_balance_is_refused_with_402(app: TestApp) {
    let app = app
        .adjusted(|settings| {
            settings.billing.mode = app::billing::BillingMode::Allowance;
            settings.billing.monthly_allowance = 0;
            settings.billing.guest_allowance = 0;
        })
        .await;
    let (token, _, _) = key(&app, "broke@example.com", EVERYTHING, None).await;
    let api = Api::new(&app, token).await;
    let photo = api.upload("astronaut.png", fixture("astronaut.png"), None).await;
    assert_eq!(photo.status, StatusCode::CREATED, "{}", body_text(&photo));
    let photo = photo.json();
    let refused = api
        .post(
            &format!("/api/v1/photos/{}/jobs", photo["id"].as_str().unwrap()),
            json!({ "tool": "upscale", "factor": 2, "quality": "fast" }),
        )
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::PAYMENT_REQUIRED, "insufficient_credits".into()),
        "{}",
        body_text(&refused)
    );
    let balance = api.get("/api/v1/balance").await.json();
    assert_eq!((balance["mode"].as_str(), balance["balance"].as_i64()), (Some("allowance"), Some(0)));
}

on_both_databases!(
    every_operation_answers_as_its_document_says,
    the_validator_refuses_answers_that_break_the_document,
    a_key_can_do_only_what_its_scopes_allow,
    an_idempotency_key_makes_a_repeated_request_happen_once,
    lists_are_paginated_with_a_cursor,
    a_finished_job_is_announced_to_the_keys_webhook_signed,
    a_webhook_a_restart_interrupted_is_sent_after_it,
    webhooks_never_go_to_private_addresses_by_default,
    a_job_beyond_the_balance_is_refused_with_402,
);
