//! Image generation through the two kinds of image service, each played by a loopback stand-in
//! written here that speaks its real protocol (auth header, JSON or multipart fields, base64 PNGs
//! in the answer) and checks what Atelier sends: runs on the queue, images kept as photos,
//! the prompt history (search, re-run, delete, export, erasure), templates, failures in words.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{json, Value};
use sqlx::Row;

use crate::support::{account, delete_account, exported_manifest, form, rows_of, TestApp};

/// How the stand-in answers its next requests.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Normal,
    /// 503 this many times, then normally.
    Busy(u32),
    /// 400 with an OpenAI-style error.
    Refuse,
    /// Sleeps this long before answering.
    Slow(u64),
    /// Answers bytes that are no image.
    Garbage,
    /// 401, quoting part of the key as OpenAI does.
    Deny,
}

#[derive(Clone)]
struct StandIn {
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<Mutex<Mode>>,
}

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    auth: Option<String>,
    json: Value,
    /// Multipart fields: (name, bytes).
    parts: Vec<(String, Vec<u8>)>,
}

fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([shade, (x % 256) as u8, (y % 256) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The fields of a multipart/form-data body (enough of RFC 7578 for what reqwest sends).
fn multipart(headers: &HeaderMap, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some((_, boundary)) = content_type.split_once("boundary=") else { return Vec::new() };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let mut parts = Vec::new();
    let text = body;
    let mut starts: Vec<usize> =
        text.windows(delimiter.len()).enumerate().filter(|(_, w)| *w == delimiter.as_bytes()).map(|(i, _)| i).collect();
    starts.push(text.len());
    for pair in starts.windows(2) {
        let part = &text[pair[0] + delimiter.len()..pair[1]];
        let Some(split) = part.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..split]);
        let Some(name) = head.split("name=\"").nth(1).and_then(|rest| rest.split('"').next()) else { continue };
        let mut value = part[split + 4..].to_vec();
        if value.ends_with(b"\r\n") {
            value.truncate(value.len() - 2);
        }
        parts.push((name.to_string(), value));
    }
    parts
}

impl StandIn {
    async fn start() -> (Self, String) {
        let stand_in = StandIn { seen: Arc::default(), mode: Arc::new(Mutex::new(Mode::Normal)) };
        let router = axum::Router::new()
            .route("/sdapi/v1/txt2img", post(sd))
            .route("/sdapi/v1/img2img", post(sd))
            .route("/v1/images/generations", post(openai))
            .route("/v1/images/edits", post(openai))
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (stand_in, url)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Records the request and says how to answer it (None: answer normally).
    async fn take(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Option<(StatusCode, Vec<u8>)> {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        let json = serde_json::from_slice(body).unwrap_or(Value::Null);
        let parts = multipart(headers, body);
        self.seen.lock().unwrap().push(Seen { path: path.into(), auth, json, parts });
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Normal => None,
            Mode::Busy(n) => {
                self.set(if n <= 1 { Mode::Normal } else { Mode::Busy(n - 1) });
                Some((StatusCode::SERVICE_UNAVAILABLE, br#"{"detail":"warming up"}"#.to_vec()))
            }
            Mode::Refuse => Some((
                StatusCode::BAD_REQUEST,
                br#"{"error":{"message":"Your prompt was flagged by the safety system.","type":"invalid_request_error"}}"#.to_vec(),
            )),
            Mode::Slow(secs) => {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                None
            }
            Mode::Garbage => None,
            Mode::Deny => Some((
                StatusCode::UNAUTHORIZED,
                br#"{"error":{"message":"Incorrect API key provided: sk-te****cret."}}"#.to_vec(),
            )),
        }
    }
}

/// The Stable Diffusion WebUI API: JSON in, `{"images": [base64 PNG], "info": "<JSON>"}` out.
async fn sd(
    State(stand_in): State<StandIn>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if let Some(answer) = stand_in.take(uri.path(), &headers, &body).await {
        return answer;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (width, height) =
        (request["width"].as_u64().unwrap_or(0) as u32, request["height"].as_u64().unwrap_or(0) as u32);
    if width == 0 || height == 0 {
        return (StatusCode::UNPROCESSABLE_ENTITY, br#"{"detail":[{"msg":"field required"}]}"#.to_vec());
    }
    let seed = request["seed"].as_i64().filter(|s| *s >= 0).unwrap_or(1234);
    let image = if *stand_in.mode.lock().unwrap() == Mode::Garbage {
        b"not a png".to_vec()
    } else {
        png(width, height, (seed % 256) as u8)
    };
    let info = json!({ "seed": seed, "all_seeds": [seed] }).to_string();
    (StatusCode::OK, json!({ "images": [b64(&image)], "parameters": {}, "info": info }).to_string().into_bytes())
}

/// The OpenAI Images API: `{"data": [{"b64_json": …}]}` out.
async fn openai(
    State(stand_in): State<StandIn>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if let Some(answer) = stand_in.take(uri.path(), &headers, &body).await {
        return answer;
    }
    let size = match serde_json::from_slice::<Value>(&body) {
        Ok(json) => json["size"].as_str().unwrap_or_default().to_string(),
        Err(_) => multipart(&headers, &body)
            .into_iter()
            .find(|(name, _)| name == "size")
            .map(|(_, v)| String::from_utf8_lossy(&v).to_string())
            .unwrap_or_default(),
    };
    let Some((width, height)) = size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))) else {
        return (StatusCode::BAD_REQUEST, br#"{"error":{"message":"Invalid size"}}"#.to_vec());
    };
    (
        StatusCode::OK,
        json!({ "created": 1, "data": [{ "b64_json": b64(&png(width, height, 77)) }] }).to_string().into_bytes(),
    )
}

fn sd_service(url: &str) -> server::config::ImageServiceSettings {
    server::config::ImageServiceSettings {
        name: "Studio GPU".into(),
        kind: "sd-webui".into(),
        url: url.into(),
        key: Some("artist:s3cret-key".to_string().into()),
        models: vec!["v1-5-pruned-emaonly".into(), "sd_xl_base_1.0".into()],
        credits_per_image: 3,
        auth: None,
    }
}

fn openai_service(url: &str) -> server::config::ImageServiceSettings {
    server::config::ImageServiceSettings {
        name: "Images API".into(),
        kind: "openai".into(),
        url: format!("{url}/v1"),
        key: Some("sk-test-secret".to_string().into()),
        models: vec!["gpt-image-1".into()],
        credits_per_image: 5,
        auth: None,
    }
}

async fn with_services(app: TestApp, url: &str, adjust: impl FnOnce(&mut server::config::Settings)) -> TestApp {
    let url = url.to_string();
    app.adjusted(move |s| {
        s.generation.providers = vec![sd_service(&url), openai_service(&url)];
        s.generation.timeout_secs = 2;
        s.generation.attempts = 2;
        adjust(s);
    })
    .await
}

async fn start(app: &TestApp, cookie: &str, request: Value) -> crate::support::Reply {
    app.call_json("generate/start", Some(cookie), json!({ "request": request })).await
}

/// Follows a run until it stops.
async fn finished(app: &TestApp, cookie: &str, id: &str) -> Value {
    for _ in 0..300 {
        let run = app.call_form("generate/get", Some(cookie), &form(&[("id", id)])).await.json();
        if matches!(run["state"].as_str(), Some("done" | "failed" | "cancelled")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run did not finish");
}

fn body(reply: &crate::support::Reply) -> String {
    String::from_utf8_lossy(&reply.body).to_string()
}

async fn a_run_is_queued_kept_as_photos_and_remembered(app: TestApp) {
    let (stand_in, url) = StandIn::start().await;
    let app = with_services(app, &url, |_| {}).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let cookie = account(&app, None, "painter@example.org").await;

    // The studio names the services and what they take, never their address or key.
    let studio = app.call_form("generate/studio", Some(&cookie), "").await;
    assert_eq!(studio.status, StatusCode::OK, "{}", body(&studio));
    let text = body(&studio);
    assert!(!text.contains("s3cret") && !text.contains("sk-test") && !text.contains("127.0.0.1"), "{text}");
    let studio = studio.json();
    assert_eq!(studio["providers"][0]["name"], "Studio GPU");
    assert_eq!(studio["providers"][0]["features"]["steps"], true);
    assert_eq!(studio["providers"][0]["credits_per_image"], 3);
    assert_eq!(studio["providers"][1]["features"]["steps"], false);
    assert!(studio["templates"].as_array().unwrap().len() >= 5, "curated templates");

    let request = json!({
        "provider": "Studio GPU", "prompt": "a red fox in the snow", "negative_prompt": "blurry",
        "aspect": "landscape", "count": 2, "seed": 42, "steps": 12, "guidance": 6.5, "style": "watercolour",
    });
    let reply = start(&app, &cookie, request.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
    let run = reply.json();
    let id = run["id"].as_str().unwrap().to_string();
    assert!(matches!(run["state"].as_str(), Some("queued" | "running")), "{run}");
    assert_eq!(run["model"], "v1-5-pruned-emaonly", "the first model is the default");
    assert_eq!((run["width"].as_u64(), run["height"].as_u64()), (Some(640), Some(448)), "SD 1.5 sizes for 3:2");
    let done = finished(&app, &cookie, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["progress"], 1.0);
    let images = done["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!((images[0]["seed"].as_u64(), images[1]["seed"].as_u64()), (Some(42), Some(43)));
    assert_eq!(images[0]["photo"]["width"], 640);
    assert_eq!(images[0]["saved"], false);
    assert!(images[0]["photo"]["thumbnail_url"].as_str().unwrap().starts_with("/media/photos/"));

    // What the service was sent: the styled prompt, seeds counting up, the settings, Basic auth.
    let seen = stand_in.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.path == "/sdapi/v1/txt2img"));
    let basic = format!("Basic {}", b64(b"artist:s3cret-key"));
    assert_eq!(seen[0].auth.as_deref(), Some(basic.as_str()));
    assert_eq!(
        seen[0].json["prompt"],
        "watercolour painting of a red fox in the snow, soft washes, paper texture, loose brushwork"
    );
    assert_eq!(seen[0].json["negative_prompt"], "blurry, photograph, 3d render");
    assert_eq!((seen[0].json["seed"].as_i64(), seen[1].json["seed"].as_i64()), (Some(42), Some(43)));
    assert_eq!((seen[0].json["width"].as_u64(), seen[0].json["height"].as_u64()), (Some(640), Some(448)));
    assert_eq!(seen[0].json["steps"], 12);
    assert_eq!(seen[0].json["cfg_scale"], 6.5);
    assert_eq!(seen[0].json["override_settings"]["sd_model_checkpoint"], "v1-5-pruned-emaonly");

    // The images are photos of the workspace; one is saved to the gallery.
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    assert_eq!(photos.as_array().unwrap().len(), 2);
    let first = images[0]["photo"]["id"].as_str().unwrap().to_string();
    let saved = app.call_json("gallery/save", Some(&cookie), json!({ "photo": first, "recipe": { "ops": [] } })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", body(&saved));
    let again = finished(&app, &cookie, &id).await;
    assert_eq!(again["images"][0]["saved"], true);

    // Metered as images and time, at the service's price; the prompt is nowhere in the records.
    let owner: String = sqlx::query("SELECT owner_id FROM generations WHERE id = $1")
        .bind(&id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("owner_id");
    let usage =
        sqlx::query("SELECT tool, credits, output_width FROM usage_records WHERE owner_id = $1 AND tool = 'generate'")
            .bind(&owner)
            .fetch_all(app.ai.db.pool())
            .await
            .unwrap();
    assert_eq!(usage.len(), 2);
    assert!(usage.iter().all(|r| r.get::<i64, _>("credits") == 3 && r.get::<i64, _>("output_width") == 640));

    // The history: searchable by prompt words, re-runnable with the same seed.
    let history = |search: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move { app.call_form("generate/history", Some(&cookie), &form(&[("search", search)])).await.json() }
    };
    assert_eq!(history("").await.as_array().unwrap().len(), 1);
    assert_eq!(history("FOX snow").await.as_array().unwrap().len(), 1);
    assert_eq!(history("zebra").await.as_array().unwrap().len(), 0);
    assert_eq!(history("%").await.as_array().unwrap().len(), 0, "LIKE wildcards are taken literally");
    let rerun = start(&app, &cookie, history("fox").await[0]["request"].clone()).await.json();
    let rerun = finished(&app, &cookie, rerun["id"].as_str().unwrap()).await;
    assert_eq!(rerun["images"][0]["seed"], 42, "the same seed again");
    assert_eq!(history("").await.as_array().unwrap().len(), 2);

    // Templates: saved, listed after the curated ones, refused when empty, deleted.
    let template = json!({ "name": "Fox", "prompt": "a fox, [subject]", "negative_prompt": "", "style": "photo" });
    let saved = app.call_json("generate/save-template", Some(&cookie), json!({ "template": template })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", body(&saved));
    let bad = app
        .call_json("generate/save-template", Some(&cookie), json!({ "template": { "name": "", "prompt": "x" } }))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let studio = app.call_form("generate/studio", Some(&cookie), "").await.json();
    assert!(studio["templates"].as_array().unwrap().iter().any(|t| t["name"] == "Fox" && t["id"].is_string()));

    // "Download my data" carries the history and the templates.
    let manifest = exported_manifest(&app, &cookie).await;
    let runs = manifest["generations"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["request"]["prompt"] == "a red fox in the snow" && r["provider"] == "Studio GPU"));
    assert_eq!(runs.iter().map(|r| r["images"].as_array().unwrap().len()).sum::<usize>(), 4);
    assert_eq!(manifest["prompt_templates"][0]["name"], "Fox");

    // Deleting one run takes its unsaved images with it; the saved one stays in the gallery.
    let reply = app.call_form("generate/delete", Some(&cookie), &form(&[("id", &id)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    let ids: Vec<&str> = photos.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&first.as_str()), "the saved image stays");
    assert_eq!(ids.len(), 3, "the other image of that run went; the re-run's two stay");
    assert_eq!(history("").await.as_array().unwrap().len(), 1);
    // …and all at once.
    assert_eq!(app.call_form("generate/delete", Some(&cookie), "").await.json(), 1);
    assert_eq!(history("").await.as_array().unwrap().len(), 0);

    // Another workspace sees nothing of it.
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    let peek = app.call_form("generate/get", Some(&stranger), &form(&[("id", &id)])).await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);

    // The privacy page names each service and its host, from the live settings, never the key.
    let page = body(&app.get("/privacy", None).await);
    let host = url.trim_start_matches("http://");
    assert!(
        page.contains(&format!("Studio GPU, at {host}")) && page.contains(&format!("Images API, at {host}")),
        "{page}"
    );
    assert!(!page.contains("s3cret"));

    // Erasure takes the history and the templates.
    start(&app, &cookie, request).await;
    delete_account(&app, &cookie, "painter@example.org").await;
    assert_eq!(rows_of(&app, "generations", &owner).await, 0);
    assert_eq!(rows_of(&app, "prompt_templates", &owner).await, 0);
}

async fn references_and_the_openai_kind_speak_their_protocols(app: TestApp) {
    let (stand_in, url) = StandIn::start().await;
    let app = with_services(app, &url, |_| {}).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let photo_id = photo["id"].as_str().unwrap();

    // Text to image on the Images API: JSON, bearer key, its own sizes, base64 asked for.
    let run =
        start(&app, &cookie, json!({ "provider": "Images API", "prompt": "a teapot", "aspect": "wide", "count": 1 }))
            .await
            .json();
    let done = finished(&app, &cookie, run["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["seed"], Value::Null, "the Images API takes no seed");
    assert_eq!(
        (done["images"][0]["photo"]["width"].as_u64(), done["images"][0]["photo"]["height"].as_u64()),
        (Some(1536), Some(1024))
    );
    let seen = stand_in.seen();
    assert_eq!(seen[0].path, "/v1/images/generations", "the /v1 of the base URL is not doubled");
    assert_eq!(seen[0].auth.as_deref(), Some("Bearer sk-test-secret"));
    assert_eq!(seen[0].json["model"], "gpt-image-1");
    assert_eq!(seen[0].json["size"], "1536x1024");
    assert_eq!(seen[0].json["n"], 1);
    assert!(seen[0].json.get("response_format").is_none(), "gpt-image models refuse response_format");

    // Image to image: the reference photo goes as a PNG file part of the edits endpoint.
    let run = start(&app, &cookie, json!({ "provider": "Images API", "prompt": "as a watercolour", "count": 1, "reference": { "photo": photo_id, "strength": 0.5 } })).await;
    assert_eq!(run.status, StatusCode::OK, "{}", body(&run));
    let done = finished(&app, &cookie, run.json()["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    let edit = stand_in.seen().pop().unwrap();
    assert_eq!(edit.path, "/v1/images/edits");
    let field = |name: &str| edit.parts.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(field("prompt").as_deref(), Some(&b"as a watercolour"[..]));
    assert_eq!(field("size").as_deref(), Some(&b"1024x1024"[..]));
    let sent = image::load_from_memory(&field("image").expect("an image part")).unwrap();
    assert_eq!((sent.width(), sent.height()), (1024, 1024), "the reference, scaled to cover the size");

    // The WebUI's img2img takes the reference as an init image with its strength.
    let run = start(&app, &cookie, json!({ "provider": "Studio GPU", "model": "sd_xl_base_1.0", "prompt": "night", "count": 1, "seed": 7, "reference": { "photo": photo_id, "strength": 0.35 } })).await.json();
    let done = finished(&app, &cookie, run["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    let img2img = stand_in.seen().pop().unwrap();
    assert_eq!(img2img.path, "/sdapi/v1/img2img");
    assert_eq!(img2img.json["denoising_strength"], 0.35);
    let init =
        base64::engine::general_purpose::STANDARD.decode(img2img.json["init_images"][0].as_str().unwrap()).unwrap();
    assert_eq!(image::load_from_memory(&init).unwrap().width(), 1024, "SDXL's size");

    // Requests a service cannot take, or that name what does not exist, are refused up front.
    for (request, says) in [
        (json!({ "provider": "Images API", "prompt": "x", "count": 1, "steps": 20 }), "does not take steps"),
        (
            json!({ "provider": "Images API", "prompt": "x", "negative_prompt": "y", "count": 1 }),
            "does not take a negative prompt",
        ),
        (json!({ "provider": "Nope", "prompt": "x", "count": 1 }), "no image service called"),
        (json!({ "provider": "Studio GPU", "model": "dall-e-9", "prompt": "x", "count": 1 }), "offers no model"),
        (json!({ "provider": "Studio GPU", "prompt": "x", "count": 9 }), "1 to 4 images"),
        (json!({ "provider": "Studio GPU", "prompt": " ", "count": 1 }), "Write a prompt"),
    ] {
        let reply = start(&app, &cookie, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{says}");
        assert!(body(&reply).contains(says), "{says}: {}", body(&reply));
    }
    let (stranger, other) = app.new_owner_with_photo("astronaut.png").await;
    let reply = start(&app, &stranger, json!({ "provider": "Studio GPU", "prompt": "x", "count": 1, "reference": { "photo": photo_id, "strength": 0.5 } })).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "another workspace's photo is no reference");
    assert!(other["id"].is_string());
}

async fn service_failures_are_told_in_plain_words(app: TestApp) {
    let (stand_in, url) = StandIn::start().await;
    let app = with_services(app, &url, |s| s.generation.blocked_words = vec!["Gore".into()]).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, _) = app.new_owner_with_photo("coffee.png").await;
    let run = |prompt: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let reply = start(app, &cookie, json!({ "provider": "Studio GPU", "prompt": prompt, "count": 1 })).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
            finished(app, &cookie, reply.json()["id"].as_str().unwrap()).await
        }
    };

    // Busy once: tried again after a back-off, and it works.
    stand_in.set(Mode::Busy(1));
    let done = run("a lighthouse").await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["images"].as_array().unwrap().len(), 1);
    // Busy every time: failed after the configured attempts, saying so.
    stand_in.set(Mode::Busy(10));
    let failed = run("a lighthouse").await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"], "Studio GPU failed (HTTP 503): warming up, after 2 attempts.");
    // Refused: the service's own words, no retry.
    stand_in.set(Mode::Refuse);
    let before = stand_in.seen().len();
    let failed = run("a lighthouse").await;
    assert_eq!(
        failed["error"],
        "Studio GPU refused the request (HTTP 400): Your prompt was flagged by the safety system."
    );
    assert_eq!(stand_in.seen().len(), before + 1, "a refusal is not retried");
    // Too slow: the time limit (2 s here), for each attempt.
    stand_in.set(Mode::Slow(4));
    let failed = run("a lighthouse").await;
    assert_eq!(failed["error"], "Studio GPU did not answer in time, after 2 attempts.");
    // A refused key: said plainly, without the service's words (they may quote the key).
    stand_in.set(Mode::Deny);
    let failed = run("a lighthouse").await;
    assert_eq!(
        failed["error"],
        "Studio GPU refused this server's credentials (HTTP 401); an administrator can check its key."
    );
    // Not an image.
    stand_in.set(Mode::Garbage);
    let failed = run("a lighthouse").await;
    assert!(
        failed["error"].as_str().unwrap().starts_with("Studio GPU answered with an image this server cannot keep"),
        "{failed}"
    );
    assert_eq!(failed["images"].as_array().unwrap().len(), 0);

    // Cancelling drops a request in flight at once.
    stand_in.set(Mode::Slow(60));
    let started = start(&app, &cookie, json!({ "provider": "Studio GPU", "prompt": "slow", "count": 2 })).await.json();
    let id = started["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let cancelled = app.call_form("generate/cancel", Some(&cookie), &form(&[("id", &id)])).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", body(&cancelled));
    let at = std::time::Instant::now();
    let done = finished(&app, &cookie, &id).await;
    assert_eq!(done["state"], "cancelled");
    assert!(at.elapsed() < Duration::from_secs(10), "not waited for");

    // The block-list refuses a prompt before anything is sent.
    let before = stand_in.seen().len();
    let reply =
        start(&app, &cookie, json!({ "provider": "Studio GPU", "prompt": "lots of GORE here", "count": 1 })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(body(&reply).contains("does not accept prompts with “gore”"), "{}", body(&reply));
    assert_eq!(stand_in.seen().len(), before);
}

async fn generated_images_are_moderated_like_uploads(app: TestApp) {
    let (_stand_in, url) = StandIn::start().await;
    // Every image scores at or above 0: everything is held.
    let app = with_services(app, &url, |s| s.ai.moderation_threshold = 0.0).await;
    if app.ai.photos.moderation.is_none() {
        eprintln!("the open-nsfw model is not installed: skipping");
        return;
    }
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, _) = app.new_owner_with_photo("coffee.png").await;
    let run = start(&app, &cookie, json!({ "provider": "Studio GPU", "prompt": "anything", "count": 1 })).await.json();
    let done = finished(&app, &cookie, run["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    let photo = &done["images"][0]["photo"];
    assert_eq!(photo["held"], true);
    assert_eq!(photo["thumbnail_url"], "", "a held image has no links");
    let id = photo["id"].as_str().unwrap();
    let moderation: String = sqlx::query("SELECT moderation FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("moderation");
    assert_eq!(moderation, "held");
    let saved = app.call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": { "ops": [] } })).await;
    assert_eq!(saved.status, StatusCode::FORBIDDEN, "a held image cannot be kept");
}

async fn generative_fill_paints_only_the_masked_part(app: TestApp) {
    let (stand_in, url) = StandIn::start().await;
    let app = with_services(app, &url, |_| {}).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let original = image::load_from_memory(&crate::support::fixture("coffee.png")).unwrap().to_rgb8();
    // Painted on a half-size preview, over the right half of the photo.
    let mask = image::GrayImage::from_fn(300, 200, |x, _| image::Luma([if x >= 150 { 255 } else { 0 }]));
    let mut mask_png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut mask_png), image::ImageFormat::Png).unwrap();
    let mask_url = format!("data:image/png;base64,{}", b64(&mask_png));
    let fill = |service: &str, prompt: &str| json!({ "photo": id, "request": { "tool": "erase", "mask": mask_url, "fill": { "prompt": prompt, "provider": service } } });

    // (service, the red the stand-in paints with, the size it was asked to work at)
    for (service, red, size) in [("Studio GPU", 210u8, (640, 448)), ("Images API", 77, (1536, 1024))] {
        let reply = app.call_json("ai/start", Some(&cookie), fill(service, "a bowl of cherries")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
        let job = reply.json();
        assert_eq!(job["label"], format!("Generative fill ({service})"));
        let done = crate::support::job_finished(&app, &cookie, id, job["id"].as_str().unwrap(), 60).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["method"], format!("generative fill by {service}"));
        let result = app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await;
        let result = image::load_from_memory(&result.body).unwrap().to_rgb8();
        assert_eq!(result.dimensions(), (600, 400));
        assert_eq!(result.get_pixel(40, 200), original.get_pixel(40, 200), "outside the mask nothing changes");
        assert_eq!(result.get_pixel(560, 200)[0], red, "inside, the service's painting");

        // What the service got: the photo and the mask at its size, the prompt.
        let seen = stand_in.seen().pop().unwrap();
        let (sent_image, sent_mask) = if service == "Studio GPU" {
            assert_eq!(seen.path, "/sdapi/v1/img2img");
            assert_eq!(seen.json["prompt"], "a bowl of cherries");
            assert_eq!(seen.json["denoising_strength"], 0.9);
            let decode = |field: &str| base64::engine::general_purpose::STANDARD.decode(field).unwrap();
            (decode(seen.json["init_images"][0].as_str().unwrap()), decode(seen.json["mask"].as_str().unwrap()))
        } else {
            assert_eq!(seen.path, "/v1/images/edits");
            let part = |name: &str| seen.parts.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
            assert_eq!(part("prompt"), b"a bowl of cherries");
            (part("image"), part("mask"))
        };
        let sent_image = image::load_from_memory(&sent_image).unwrap();
        assert_eq!((sent_image.width(), sent_image.height()), size);
        let sent_mask = image::load_from_memory(&sent_mask).unwrap();
        assert_eq!((sent_mask.width(), sent_mask.height()), size);
        let (left, right) =
            (sent_mask.to_rgba8().get_pixel(10, 10).0, sent_mask.to_rgba8().get_pixel(size.0 - 10, 10).0);
        if service == "Studio GPU" {
            assert_eq!((left[0], right[0]), (0, 255), "the WebUI's mask: white paints");
        } else {
            assert_eq!((left[3], right[3]), (255, 0), "the Images API's mask: transparent paints");
        }
    }

    // Metered as the eraser's work plus the service's price (Studio GPU 3, Images API 5).
    let owner: String = sqlx::query("SELECT owner_id FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("owner_id");
    let mut credits: Vec<i64> = sqlx::query("SELECT credits FROM usage_records WHERE owner_id = $1 AND tool = 'erase'")
        .bind(&owner)
        .fetch_all(app.ai.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("credits"))
        .collect();
    credits.sort_unstable();
    assert_eq!(credits, vec![4, 6]);

    // Refused up front: no such service, no prompt, a blocked word never reaches anyone.
    for (request, says) in [
        (fill("Nope", "x"), "no image service called"),
        (fill("Studio GPU", " "), "Say what the image service should paint"),
    ] {
        let reply = app.call_json("ai/start", Some(&cookie), request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(body(&reply).contains(says), "{}", body(&reply));
    }
    // The eraser without a prompt stays the eraser: nothing is sent to any service.
    let before = stand_in.seen().len();
    let reply = app
        .call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": { "tool": "erase", "mask": mask_url } }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
    assert_eq!(reply.json()["label"], "Magic eraser");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stand_in.seen().len(), before);
}

async fn a_product_scene_stands_on_a_backdrop_painted_from_a_prompt(app: TestApp) {
    let (stand_in, url) = StandIn::start().await;
    let app = with_services(app, &url, |_| {}).await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let scene = |provider: &str, prompt: &str| {
        json!({ "photo": id, "request": { "tool": "product-scene", "scene": {
            "backdrop": { "kind": "generated", "painted": { "prompt": prompt, "provider": provider } },
            "width": 600, "height": 400, "margin": 0.1, "on_floor": true, "contact_shadow": 0.5,
            "cast_shadow": null, "reflection": 0.0, "match_light": 0.0 } } })
    };
    let reply = app.call_json("ai/start", Some(&cookie), scene("Studio GPU", "a marble kitchen counter")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", body(&reply));
    let job = reply.json();
    assert_eq!(job["label"], "Product scene (on “a marble kitchen counter”)");
    let done = crate::support::job_finished(&app, &cookie, id, job["id"].as_str().unwrap(), 60).await;
    assert_eq!(done["state"], "done", "{done}");
    // The service was asked for a text-to-image backdrop in the scene's shape (3:2 → 640×448).
    let seen = stand_in.seen().pop().unwrap();
    assert_eq!(seen.path, "/sdapi/v1/txt2img");
    assert_eq!(seen.json["prompt"], "a marble kitchen counter");
    assert_eq!((seen.json["width"].as_u64(), seen.json["height"].as_u64()), (Some(640), Some(448)));
    // The scene is the stand-in's painting around the product: its corner has the painted red.
    let result = app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await;
    let result = image::load_from_memory(&result.body).unwrap().to_rgb8();
    assert_eq!(result.dimensions(), (600, 400));
    assert!(result.get_pixel(2, 2)[0].abs_diff(210) <= 2, "the painted backdrop: {:?}", result.get_pixel(2, 2));

    // A service that does not exist is refused before anything is queued.
    let reply = app.call_json("ai/start", Some(&cookie), scene("Nope", "x")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(body(&reply).contains("no image service called"), "{}", body(&reply));
}

on_both_databases!(
    a_run_is_queued_kept_as_photos_and_remembered,
    references_and_the_openai_kind_speak_their_protocols,
    service_failures_are_told_in_plain_words,
    generated_images_are_moderated_like_uploads,
    generative_fill_paints_only_the_masked_part,
    a_product_scene_stands_on_a_backdrop_painted_from_a_prompt,
);

/// With no service configured the studio says so, and a run is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_service_nothing_can_be_generated() {
    let app = TestApp::sqlite().await;
    let (cookie, _) = app.new_owner_with_photo("coffee.png").await;
    let studio = app.call_form("generate/studio", Some(&cookie), "").await.json();
    assert_eq!(studio["providers"], json!([]));
    let reply = start(&app, &cookie, json!({ "provider": "x", "prompt": "x", "count": 1 })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(body(&reply).contains("No image service is configured"));
    let page = body(&app.get("/privacy", None).await);
    assert!(page.contains("No image generation service is configured"));
    let studio_page = body(&app.get("/studio", Some(&cookie)).await);
    assert!(studio_page.contains("No image service is configured on this server"), "{studio_page}");
}

/// Work started from one address is rate-limited: a guest workspace is one cookie away, and each
/// run spends an image service's credits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_work_is_limited_per_address() {
    let (_stand_in, url) = StandIn::start().await;
    let app = with_services(TestApp::sqlite().await, &url, |s| s.limits.jobs_per_hour_per_ip = 2).await;
    let (cookie, _) = app.new_owner_with_photo("coffee.png").await;
    let request = json!({ "provider": "Studio GPU", "prompt": "a kite", "count": 1 });
    for _ in 0..2 {
        assert_eq!(start(&app, &cookie, request.clone()).await.status, StatusCode::OK);
    }
    let limited = start(&app, &cookie, request).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(body(&limited).contains("Too much work asked from here"), "{}", body(&limited));
}
