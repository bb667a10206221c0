//! AI tools through the server: jobs on the durable queue run by workers, with real models on the
//! fixture photos; restart, cancellation, retries, moderation, retention and erasure of results.

use std::time::Duration;

use crate::support::{account, form, TestApp};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};
use server::platform::db::now;

async fn start(app: &TestApp, cookie: &str, photo: &str, request: Value) -> Value {
    let reply = app.call_json("ai/start", Some(cookie), json!({ "photo": photo, "request": request })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn jobs(app: &TestApp, cookie: &str, photo: &str) -> Vec<Value> {
    let reply = app.call_form("ai/jobs", Some(cookie), &form(&[("photo", photo)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json().as_array().cloned().unwrap_or_default()
}

/// Polls until the job reaches one of `states`; panics after `secs`.
async fn wait_for(app: &TestApp, cookie: &str, photo: &str, job: &str, states: &[&str], secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let all = jobs(app, cookie, photo).await;
        let found = all.iter().find(|j| j["id"] == job).cloned().expect("the job is listed");
        if states.contains(&found["state"].as_str().unwrap_or_default()) {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "job still {}: {found}", found["state"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn background_removal_runs_as_a_job_and_its_result_can_be_kept(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let photo_id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, photo_id, json!({ "tool": "remove-background", "portrait": false, "backdrop": { "kind": "transparent" }, "refine": true, "feather": 0.0 })).await;
    // A worker is already waiting, so the reply may find the job claimed.
    assert!(matches!(job["state"].as_str(), Some("queued" | "running")), "{job}");
    let done = wait_for(&app, &cookie, photo_id, job["id"].as_str().unwrap(), &["done", "failed"], 120).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["provider"], "CPU");
    assert_eq!(done["method"], "IS-Net");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["result_size"], json!([512, 512]));

    // The result: a PNG whose sky is transparent and whose astronaut is not; signed links only.
    let url = done["result_url"].as_str().unwrap();
    let reply = app.get(url, Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "image/png");
    let result = image::load_from_memory(&reply.body).unwrap().to_rgba8();
    assert!(result.get_pixel(10, 10)[3] < 20 && result.get_pixel(220, 130)[3] > 230);
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(app.get(unsigned, Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    let (stranger, _) = app.new_owner_with_photo("chelsea.png").await;
    assert_eq!(app.get(url, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    assert!(jobs(&app, &stranger, photo_id).await.is_empty(), "another workspace sees no jobs");

    // Metered like every operation.
    let usage = app.call_form("data/usage", Some(&cookie), "").await.json();
    assert!(
        usage["recent"].as_array().unwrap().iter().any(|r| r["tool"] == "remove-background" && r["credits"] == 1),
        "{usage}"
    );

    // Kept: a new photo in the workspace and in the gallery.
    let saved = app.call_form("ai/save", Some(&cookie), &form(&[("job", done["id"].as_str().unwrap())])).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let saved = saved.json();
    assert!(saved["name"].as_str().unwrap().contains("remove background"), "{saved}");
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    assert!(gallery.as_array().unwrap().iter().any(|item| item["photo_id"] == saved["id"]), "{gallery}");
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    assert!(photos.as_array().unwrap().iter().any(|p| p["id"] == saved["id"]), "{photos}");
    let listed = jobs(&app, &cookie, photo_id).await;
    assert_eq!(listed[0]["saved_photo_id"], saved["id"]);

    // Unsaved results go after the unsaved period, their files purged.
    let key = format!("owners/{}/jobs/{}/result-1", owner_of(&app, photo_id).await, done["id"].as_str().unwrap());
    assert!(app.ai.photos.storage.get(&key).await.is_ok());
    crate::support::background_idle(&app).await;
    app.retention.sweep(now() + 25 * 3600).await.unwrap();
    assert!(jobs(&app, &cookie, photo_id).await.is_empty());
    assert!(app.ai.photos.storage.get(&key).await.is_err(), "the result file is purged");
}

async fn owner_of(app: &TestApp, photo: &str) -> String {
    use sqlx::Row;
    let row =
        sqlx::query("SELECT owner_id FROM photos WHERE id = $1").bind(photo).fetch_one(app.ai.db.pool()).await.unwrap();
    row.get("owner_id")
}

fn png_data_url(image: &image::GrayImage) -> String {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

async fn upscale_erase_and_describe_run_on_real_models(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let (width, height) = (photo["width"].as_u64().unwrap(), photo["height"].as_u64().unwrap());

    let upscale = start(&app, &cookie, id, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    // The editor paints on a smaller preview: the mask is scaled to the photo.
    let mask = image::GrayImage::from_fn(200, 133, |x, y| {
        image::Luma([if (100..120).contains(&x) && (20..40).contains(&y) { 255 } else { 0 }])
    });
    let erase = start(&app, &cookie, id, json!({ "tool": "erase", "mask": png_data_url(&mask) })).await;
    let describe = start(&app, &cookie, id, json!({ "tool": "describe" })).await;

    let done = wait_for(&app, &cookie, id, upscale["id"].as_str().unwrap(), &["done", "failed"], 180).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result_size"], json!([width * 2, height * 2]));
    assert_eq!(done["method"], "esrgan-slim-x2");

    let done = wait_for(&app, &cookie, id, erase["id"].as_str().unwrap(), &["done", "failed"], 180).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["method"], "PatchMatch");
    let erased = image::load_from_memory(&app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await.body)
        .unwrap()
        .to_rgb8();
    // Compared with the stored original, fetched by the job's own link.
    let original = image::load_from_memory(&app.get(done["before_url"].as_str().unwrap(), Some(&cookie)).await.body)
        .unwrap()
        .to_rgb8();
    assert_eq!(erased.get_pixel(5, 5), original.get_pixel(5, 5), "outside the mask nothing changes");
    let (cx, cy) = ((110 * width / 200) as u32, (30 * height / 133) as u32);
    assert_ne!(erased.get_pixel(cx, cy), original.get_pixel(cx, cy), "inside the mask it is filled");

    let done = wait_for(&app, &cookie, id, describe["id"].as_str().unwrap(), &["done", "failed"], 180).await;
    assert_eq!(done["state"], "done", "{done}");
    let description = &done["description"];
    assert!(description["tags"].as_array().unwrap().iter().any(|t| t == "cup"), "{description}");
    assert!(description["alt_text"].as_str().unwrap().starts_with("A photo of a cup"), "{description}");

    // The person edits and keeps them; the photo carries them from then on.
    let kept = app
        .call_json("ai/keep-description", Some(&cookie), json!({ "photo": id, "description": { "tags": ["coffee", " latte art ", ""], "alt_text": "A latte with a leaf drawn in the foam." } }))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", String::from_utf8_lossy(&kept.body));
    assert_eq!(kept.json()["tags"], json!(["coffee", "latte art"]));
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    assert_eq!(photos[0]["alt_text"], "A latte with a leaf drawn in the foam.");
}

async fn bad_requests_are_refused_before_anything_is_queued(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    for (request, expected) in [
        (json!({ "tool": "upscale", "factor": 3, "quality": "fast" }), "x2 or x4"),
        (json!({ "tool": "erase", "mask": "data:image/png;base64,not-base64!" }), "PNG"),
        (json!({ "tool": "erase", "mask": "https://example.org/mask.png" }), "PNG"),
        // A tiny file declaring a huge image is refused from its header.
        (json!({ "tool": "erase", "mask": png_data_url(&image::GrayImage::new(5000, 1)) }), "at most 4096"),
        (
            json!({ "tool": "remove-background", "portrait": false, "backdrop": { "kind": "colour", "hex": "red" }, "refine": false, "feather": 0.0 }),
            "#1a2b3c",
        ),
    ] {
        let reply = app.call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": request })).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
        assert!(String::from_utf8_lossy(&reply.body).contains(expected), "{}", String::from_utf8_lossy(&reply.body));
    }
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    let reply =
        app.call_json("ai/start", Some(&stranger), json!({ "photo": id, "request": { "tool": "describe" } })).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(jobs(&app, &cookie, id).await.is_empty());
}

/// A worker that dies mid-job: after a restart, another worker takes the job once its lease has
/// run out, and finishes it.
async fn a_job_whose_worker_died_is_finished_after_a_restart(app: TestApp) {
    // A short lease: the test waits for it to run out (a minute by default).
    let app = app.adjusted(|s| s.ai.job_lease_secs = 3).await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, id, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    let claimed = app
        .ai
        .db
        .claim_job("a-worker-that-dies", now(), app.ai.settings.lease_secs)
        .await
        .unwrap()
        .expect("the job is claimed");
    assert_eq!(claimed.id.to_string(), job["id"].as_str().unwrap());
    assert_eq!(wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["running"], 5).await["attempts"], 1);

    let app = app.restart().await;
    server::ai_tools::spawn_workers(app.ai.clone(), 2);
    let done = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["done", "failed"], 120).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["attempts"], 2, "taken again once, after the lease ran out");
}

/// Retries back off; a job that keeps losing its worker is given up after its attempts.
async fn retries_back_off_and_end(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    crate::support::settle_background_jobs(&app).await;
    let id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, id, json!({ "tool": "describe" })).await;
    let db = &app.ai.db;
    let lease = app.ai.settings.lease_secs;
    let t0 = now();
    let first = db.claim_job("w1", t0, lease).await.unwrap().unwrap();
    db.fail_job(first.id, "w1", "Failed; trying again shortly.", Some(t0 + server::ai_tools::backoff(1)))
        .await
        .unwrap();
    assert_eq!(server::ai_tools::backoff(1), 5);
    assert_eq!(server::ai_tools::backoff(3), 20);
    assert!(db.claim_job("w2", t0, lease).await.unwrap().is_none(), "not before the backoff");
    let listed = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["queued"], 2).await;
    assert_eq!(listed["attempts"], 1);
    let second = db.claim_job("w2", t0 + 5, lease).await.unwrap().expect("due after the backoff");
    assert_eq!(second.attempts, 2);
    // w2 dies; w3 takes it when the lease runs out, and dies too.
    assert!(db.claim_job("w3", t0 + 5 + lease - 1, lease).await.unwrap().is_none(), "the lease still holds");
    let third = db.claim_job("w3", t0 + 6 + lease, lease).await.unwrap().unwrap();
    assert_eq!(third.attempts, 3);
    let fourth = db.claim_job("w4", t0 + 7 + 2 * lease, lease).await.unwrap().unwrap();
    assert_eq!(fourth.attempts, 4);
    server::ai_tools::worker::process(&app.ai, "w4", fourth).await;
    let failed = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["failed"], 2).await;
    assert!(failed["error"].as_str().unwrap().contains("after 3 attempts"), "{failed}");
}

async fn jobs_can_be_cancelled_queued_or_running(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    // Queued (no worker yet): cancelled at once.
    let queued = start(&app, &cookie, id, json!({ "tool": "describe" })).await;
    let reply = app.call_form("ai/cancel", Some(&cookie), &form(&[("job", queued["id"].as_str().unwrap())])).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        wait_for(&app, &cookie, id, queued["id"].as_str().unwrap(), &["cancelled"], 2).await["state"],
        "cancelled"
    );

    // Running: it stops at its next tile.
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let running = start(&app, &cookie, id, json!({ "tool": "upscale", "factor": 4, "quality": "best" })).await;
    let job_id = running["id"].as_str().unwrap();
    wait_for(&app, &cookie, id, job_id, &["running"], 30).await;
    let reply = app.call_form("ai/cancel", Some(&cookie), &form(&[("job", job_id)])).await;
    assert_eq!(reply.status, StatusCode::OK);
    let cancelled = wait_for(&app, &cookie, id, job_id, &["cancelled", "done", "failed"], 60).await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(cancelled["result_url"].is_null());
    let reply = app.call_form("ai/cancel", Some(&cookie), &form(&[("job", job_id)])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "a finished job cannot be cancelled");
}

async fn moderation_holds_uploads_for_an_admin_without_dropping_them(app: TestApp) {
    let boss = account(&app, None, "boss@example.org").await;
    assert!(app.ai.db.grant_admin("boss@example.org").await.unwrap());
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    assert_eq!(photo["held"], true, "the threshold is 0 in this test, so every upload is held");
    assert_eq!(photo["original_url"], "", "no link to a held photo");
    let reply =
        app.call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": { "tool": "describe" } })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app.call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": { "ops": [] } })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "no copy of a held photo through the gallery");

    // Administrators see it (no pixels) and decide; the decision is audited.
    assert_eq!(app.call_form("admin/held", Some(&cookie), "").await.status, StatusCode::NOT_FOUND);
    let held = app.call_form("admin/held", Some(&boss), "").await.json();
    let entry = held.as_array().unwrap().iter().find(|h| h["id"] == id).cloned().expect("listed");
    assert!(entry["score"].as_f64().unwrap() >= 0.0);
    assert_eq!(entry["owner_label"], "a guest");
    let reply = app.call_form("admin/decide-held", Some(&boss), &form(&[("photo", id), ("release", "true")])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    assert_eq!(photos[0]["held"], false);
    assert_eq!(app.get(photos[0]["original_url"].as_str().unwrap(), Some(&cookie)).await.status, StatusCode::OK);
    let audit = app.call_form("admin/audit", Some(&boss), "").await.json();
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "moderation_decision"), "{audit}");

    // Deleting a held upload removes it and its files.
    let (_, second) = app.new_owner_with_photo("coffee.png").await;
    let reply = app
        .call_form(
            "admin/decide-held",
            Some(&boss),
            &form(&[("photo", second["id"].as_str().unwrap()), ("release", "false")]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!app
        .call_form("admin/held", Some(&boss), "")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["id"] == second["id"]));

    // One nobody acted on goes at its due time like any unsaved upload: held is not kept.
    let (_, third) = app.new_owner_with_photo("coffee.png").await;
    let listed = |held: Value| held.as_array().unwrap().iter().any(|h| h["id"] == third["id"]);
    assert!(listed(app.call_form("admin/held", Some(&boss), "").await.json()));
    app.retention.sweep(now() + 24 * 3600 + 1).await.unwrap();
    assert!(!listed(app.call_form("admin/held", Some(&boss), "").await.json()));
}

async fn a_safe_upload_is_clear_under_the_default_threshold(app: TestApp) {
    let (_, photo) = app.new_owner_with_photo("astronaut.png").await;
    assert_eq!(photo["held"], false);
    use sqlx::Row;
    let row = sqlx::query("SELECT moderation, nsfw_score FROM photos WHERE id = $1")
        .bind(photo["id"].as_str().unwrap())
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("moderation"), "clear");
    assert!(row.get::<Option<i64>, _>("nsfw_score").unwrap() < 200);
}

async fn missing_models_fail_jobs_with_the_install_command(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, id, json!({ "tool": "upscale", "factor": 2, "quality": "balanced" })).await;
    let failed = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["failed", "done"], 60).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["attempts"], 1, "a missing model is not retried");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("esrgan-medium-x2") && error.contains("scripts/install-models"), "{error}");
}

async fn erasing_an_account_removes_its_jobs_and_results(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (guest, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    // Run as a guest; signing up then brings the job along with the photos.
    let job = start(&app, &guest, id, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    wait_for(&app, &guest, id, job["id"].as_str().unwrap(), &["done"], 120).await;
    let cookie = account(&app, Some(&guest), "gone@example.org").await;
    assert_eq!(jobs(&app, &cookie, id).await.len(), 1, "the guest's job moved into the account");
    let owner = owner_of(&app, id).await;
    let key: String = {
        use sqlx::Row;
        sqlx::query("SELECT result_key FROM jobs WHERE id = $1")
            .bind(job["id"].as_str().unwrap())
            .fetch_one(app.ai.db.pool())
            .await
            .unwrap()
            .get("result_key")
    };
    assert!(app.ai.photos.storage.get(&key).await.is_ok());

    // "Download my data" lists the job, and the photo's kept description.
    let kept = app
        .call_json(
            "ai/keep-description",
            Some(&cookie),
            json!({ "photo": id, "description": { "tags": ["cat"], "alt_text": "A cat." } }),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK);
    let manifest = crate::support::exported_manifest(&app, &cookie).await;
    assert_eq!(manifest["ai_jobs"][0]["tool"], "upscale");
    assert_eq!(manifest["ai_jobs"][0]["options"]["factor"], 2);
    assert_eq!(manifest["ai_jobs"][0]["provider"], "CPU");
    assert_eq!(manifest["photos"][0]["alt_text"], "A cat.");
    assert_eq!(manifest["photos"][0]["tags"], json!(["cat"]));
    crate::support::delete_account(&app, &cookie, "gone@example.org").await;
    assert_eq!(crate::support::rows_of(&app, "jobs", &owner).await, 0);
    assert!(app.ai.photos.storage.get(&key).await.is_err(), "the result file is purged");
}

/// `atelier worker`, a process of its own (how Atelier scales out), runs what the web server
/// queued: the web server here has no workers at all.
async fn a_separate_worker_process_runs_queued_jobs(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, id, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(jobs(&app, &cookie, id).await[0]["state"], "queued", "nothing runs it in this process");

    // Its own settings, as an operator would give them: the same database, files and keys.
    let mut worker = app.atelier("worker").spawn().expect("atelier worker starts");
    let done = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["done", "failed"], 120).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["method"], "esrgan-slim-x2");
    // What it stored (encrypted with the shared keys) the web server serves.
    let reply = app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let result = image::load_from_memory(&reply.body).unwrap();
    assert_eq!(
        (u64::from(result.width()), u64::from(result.height())),
        (photo["width"].as_u64().unwrap() * 2, photo["height"].as_u64().unwrap() * 2)
    );
    assert!(worker.try_wait().unwrap().is_none(), "the worker keeps running, waiting for more");
    worker.kill().await.unwrap();
}

on_both_databases!(
    background_removal_runs_as_a_job_and_its_result_can_be_kept,
    a_separate_worker_process_runs_queued_jobs,
    upscale_erase_and_describe_run_on_real_models,
    bad_requests_are_refused_before_anything_is_queued,
    a_job_whose_worker_died_is_finished_after_a_restart,
    retries_back_off_and_end,
    jobs_can_be_cancelled_queued_or_running,
    a_safe_upload_is_clear_under_the_default_threshold,
    erasing_an_account_removes_its_jobs_and_results,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_holds_uploads_on_sqlite() {
    moderation_holds_uploads_for_an_admin_without_dropping_them(
        TestApp::sqlite_with(|s| s.ai.moderation_threshold = 0.0).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_models_fail_clearly() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.toml"), empty.path().join("manifest.toml"))
        .unwrap();
    let runtime = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/runtime/libonnxruntime.so"));
    let app = TestApp::sqlite_with(|s| {
        s.ai.models_dir = empty.path().to_path_buf();
        s.ai.onnxruntime_lib = Some(runtime);
    })
    .await;
    missing_models_fail_jobs_with_the_install_command(app).await;
}

/// The OpenAI-compatible vision provider, spoken to over its real protocol by a loopback stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_come_from_the_configured_vision_provider() {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;
    let seen: Seen = Arc::default();
    async fn chat(
        State(seen): State<Seen>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        seen.lock().unwrap().push((auth, body));
        axum::Json(
            json!({ "id": "chatcmpl-1", "object": "chat.completion", "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": " An astronaut in an orange suit smiles beside a flag. " } }] }),
        )
    }
    let router = axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let app = TestApp::sqlite_with(|s| {
        s.ai.vision_url = Some(url.clone());
        s.ai.vision_key = Some("sk-test".into());
        s.ai.vision_model = "llava:13b".into();
    })
    .await;
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    let job = start(&app, &cookie, id, json!({ "tool": "describe" })).await;
    let done = wait_for(&app, &cookie, id, job["id"].as_str().unwrap(), &["done", "failed"], 120).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["description"]["caption"], "An astronaut in an orange suit smiles beside a flag.");
    assert_eq!(done["description"]["alt_text"], "An astronaut in an orange suit smiles beside a flag.");
    assert!(done["description"]["tags"].as_array().unwrap().iter().any(|t| t == "person"), "local tags are kept");

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (auth, body) = &requests[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["model"], "llava:13b");
    let image_url = body["messages"][0]["content"][1]["image_url"]["url"].as_str().unwrap();
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(image_url.strip_prefix("data:image/jpeg;base64,").unwrap())
        .unwrap();
    assert_eq!(image::load_from_memory(&jpeg).unwrap().width(), 512);

    // The privacy page names the provider and the moderation threshold in force.
    let page = app.get("/privacy", None).await;
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(&format!("is sent to {}", url.split('/').nth(2).unwrap())), "names the vision host");
    assert!(html.contains("scores at 0.80 or above is held"), "states the moderation threshold");
}
