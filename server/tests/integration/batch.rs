//! Batch pipelines through the server: batches of jobs on the durable queue, run by workers with
//! the real models; gallery versions with their pipeline, per-item failures, pause, cancel and
//! retry, the streamed zip, a worker process killed mid-batch, and erasure.

use std::io::Read as _;
use std::time::Duration;

use crate::support::{fixture, form, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Uploads `names` as one new visitor: the cookie and the photos' ids, in order.
async fn owner_with(app: &TestApp, names: &[&str]) -> (String, Vec<String>) {
    let (cookie, first) = app.new_owner_with_photo(names[0]).await;
    let mut ids = vec![first["id"].as_str().unwrap().to_string()];
    for name in &names[1..] {
        let reply = app.upload(Some(&cookie), name, fixture(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        ids.push(reply.json()["id"].as_str().unwrap().to_string());
    }
    (cookie, ids)
}

async fn run(app: &TestApp, cookie: &str, choice: Value, photos: &[String], save: bool) -> Value {
    let reply = app
        .call_json(
            "batch/run",
            Some(cookie),
            json!({ "choice": choice, "photos": photos, "save_to_gallery": save, "preview": false }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn detail(app: &TestApp, cookie: &str, batch: &str) -> Value {
    let reply = app.call_form("batch/get", Some(cookie), &form(&[("id", batch)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// Polls until no item is left to run; panics after `secs`.
async fn finished(app: &TestApp, cookie: &str, batch: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let detail = detail(app, cookie, batch).await;
        let counts = &detail["summary"]["counts"];
        if counts["queued"] == 0 && counts["running"] == 0 {
            return detail;
        }
        assert!(std::time::Instant::now() < deadline, "batch still running: {detail}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn control(app: &TestApp, cookie: &str, batch: &str, action: &str) -> Value {
    let reply = app.call_form("batch/control", Some(cookie), &form(&[("id", batch), ("action", action)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

fn three_steps() -> Value {
    json!({ "kind": "unsaved", "pipeline": { "name": "Catalogue", "steps": [
        { "step": "edit", "recipe": { "ops": [{ "op": "brightness", "amount": 20 }] } },
        { "step": "tool", "request": { "tool": "remove-background", "portrait": false,
            "backdrop": { "kind": "colour", "hex": "#ffffff" }, "refine": false, "feather": 0.0 } },
        { "step": "export", "settings": { "format": "jpeg", "quality": 80, "max_side": 256 } },
    ] } })
}

/// The zip at `url`: its entries' names and bytes.
async fn zip_entries(app: &TestApp, cookie: &str, url: &str) -> Vec<(String, Vec<u8>)> {
    let reply = app.get(url, Some(cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["content-type"], "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(reply.body)).expect("a whole zip");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().to_string(), data)
        })
        .collect()
}

async fn three_steps_on_three_photos_make_three_gallery_versions_with_their_pipeline(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 2);
    let (cookie, photos) = owner_with(&app, &["astronaut.png", "coffee.png", "chelsea.png"]).await;
    let batch = run(&app, &cookie, three_steps(), &photos, true).await;
    assert_eq!(batch["counts"]["total"], 3);
    assert_eq!(batch["steps"], json!(["Edit: Brightness +20", "Remove background", "Export: JPEG 80%, 256 px"]));
    let done = finished(&app, &cookie, batch["id"].as_str().unwrap(), 240).await;
    assert_eq!(done["summary"]["counts"]["done"], 3, "{done}");
    let items = done["items"].as_array().unwrap();
    assert_eq!(
        items.iter().map(|i| i["photo"].clone()).collect::<Vec<_>>(),
        photos.iter().map(|p| json!(p)).collect::<Vec<_>>()
    );

    // Three versions of their originals, each with its pipeline and the pipeline's edits.
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    let gallery = gallery.as_array().unwrap();
    assert_eq!(gallery.len(), 3, "{gallery:?}");
    for item in gallery {
        assert_eq!(item["pipeline"], "Catalogue");
        assert_eq!(item["recipe"]["ops"], json!([{ "op": "brightness", "amount": 20 }]));
        assert!(photos.contains(&item["photo_id"].as_str().unwrap().to_string()));
        assert!(item["width"].as_u64().unwrap().max(item["height"].as_u64().unwrap()) == 256, "{item}");
        let image = app.get(item["image_url"].as_str().unwrap(), Some(&cookie)).await;
        assert_eq!(image.headers["content-type"], "image/jpeg");
        // The background went white: the astronaut photo's sky corner.
        let decoded = image::load_from_memory(&image.body).unwrap().to_rgb8();
        if item["photo_id"] == json!(photos[0]) {
            assert!(decoded.get_pixel(3, 3).0.iter().all(|c| *c > 235), "{:?}", decoded.get_pixel(3, 3));
        }
    }
    // Every item is metered once.
    let usage = app.call_form("data/usage", Some(&cookie), "").await.json();
    let metered = usage["recent"].as_array().unwrap().iter().filter(|r| r["tool"] == "pipeline").count();
    assert_eq!(metered, 3, "{usage}");

    // One zip, streamed from storage: named after the photos, the files the gallery holds.
    let entries = zip_entries(&app, &cookie, done["summary"]["zip_url"].as_str().unwrap()).await;
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["astronaut.jpg", "coffee.jpg", "chelsea.jpg"]);
    for (_, data) in &entries {
        let image = image::load_from_memory(data).unwrap();
        assert_eq!(image.width().max(image.height()), 256);
    }
    // Another workspace gets nothing of it.
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    let url = done["summary"]["zip_url"].as_str().unwrap();
    assert_eq!(app.get(url, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let reply = app.call_form("batch/get", Some(&stranger), &form(&[("id", batch["id"].as_str().unwrap())])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// A step that cannot run on one photo fails that item, saying which step and why; the others
/// go on. Retry queues it again.
async fn a_failing_step_fails_only_its_item(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    // astronaut is 512×512, coffee 600×400: the crop fits only the first.
    let (cookie, photos) = owner_with(&app, &["astronaut.png", "coffee.png"]).await;
    let choice = json!({ "kind": "unsaved", "pipeline": { "name": "Square crop", "steps": [
        { "step": "edit", "recipe": { "ops": [{ "op": "crop", "x": 0, "y": 0, "width": 500, "height": 450 }] } },
    ] } });
    let batch = run(&app, &cookie, choice, &photos, false).await;
    let id = batch["id"].as_str().unwrap();
    let done = finished(&app, &cookie, id, 120).await;
    let counts = &done["summary"]["counts"];
    assert_eq!((counts["done"].as_u64(), counts["failed"].as_u64()), (Some(1), Some(1)), "{done}");
    let failed = &done["items"][1];
    assert_eq!(failed["state"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.starts_with("Step 1 (Edit: Crop to 500×450)") && error.contains("outside"), "{error}");
    // Not saved to the gallery: a result file, kept like any unsaved output.
    let result = app.get(done["items"][0]["result_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(result.headers["content-type"], "image/png");
    assert_eq!(image::load_from_memory(&result.body).unwrap().width(), 500);
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    assert!(gallery.as_array().unwrap().is_empty());

    // Retried while paused: queued again and waiting; resumed: it runs, and fails the same way.
    control(&app, &cookie, id, "pause").await;
    let retried = control(&app, &cookie, id, "retry").await;
    assert_eq!((retried["counts"]["queued"].as_u64(), retried["counts"]["failed"].as_u64()), (Some(1), Some(0)));
    assert_eq!(detail(&app, &cookie, id).await["items"][1]["error"], Value::Null, "the old error is cleared");
    control(&app, &cookie, id, "resume").await;
    let again = finished(&app, &cookie, id, 60).await;
    assert_eq!(again["summary"]["counts"]["failed"], 1, "it fails the same way again");

    // Unsaved results go with the unsaved period, and the batch with them.
    app.retention.sweep(server::platform::db::now() + 25 * 3600).await.unwrap();
    let reply = app.call_form("batch/get", Some(&cookie), &form(&[("id", id)])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// Pause holds queued items back; cancel stops them; a bad pipeline or photo is refused before
/// anything is queued.
async fn pause_holds_and_cancel_stops_queued_items(app: TestApp) {
    let (cookie, photos) = owner_with(&app, &["astronaut.png", "coffee.png", "chelsea.png"]).await;
    let ready = json!({ "kind": "ready", "id": "upscale-sharpen" });
    let batch = run(&app, &cookie, ready.clone(), &photos, true).await;
    let id = batch["id"].as_str().unwrap();
    let paused = control(&app, &cookie, id, "pause").await;
    assert_eq!(paused["paused"], true);
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(detail(&app, &cookie, id).await["summary"]["counts"]["queued"], 3, "paused: nothing starts");
    let cancelled = control(&app, &cookie, id, "cancel").await;
    assert_eq!(cancelled["counts"]["cancelled"], 3);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(detail(&app, &cookie, id).await["summary"]["counts"]["cancelled"], 3, "cancelled items never run");

    // A second batch, resumed after a pause, runs to the end.
    let second = run(&app, &cookie, ready, &photos[..1], true).await;
    let second_id = second["id"].as_str().unwrap();
    control(&app, &cookie, second_id, "pause").await;
    control(&app, &cookie, second_id, "resume").await;
    let done = finished(&app, &cookie, second_id, 180).await;
    assert_eq!(done["summary"]["counts"]["done"], 1, "{done}");
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    assert_eq!(gallery[0]["pipeline"], "Upscale ×2 and sharpen");
    assert_eq!(gallery[0]["width"], 1024, "astronaut, upscaled x2");

    // Refused up front: the eraser, an export before the end, a stranger's photo, no photo.
    let eraser = json!({ "kind": "unsaved", "pipeline": { "name": "x", "steps": [{ "step": "tool", "request": { "tool": "erase" } }] } });
    let early_export = json!({ "kind": "unsaved", "pipeline": { "name": "x", "steps": [
        { "step": "export", "settings": {} }, { "step": "edit", "recipe": { "ops": [{ "op": "sharpen" }] } } ] } });
    for (choice, status, says) in [
        (eraser, StatusCode::BAD_REQUEST, "mask"),
        (early_export, StatusCode::BAD_REQUEST, "comes last"),
        (json!({ "kind": "ready", "id": "nope" }), StatusCode::NOT_FOUND, ""),
    ] {
        let reply = app
            .call_json(
                "batch/run",
                Some(&cookie),
                json!({ "choice": choice, "photos": photos, "save_to_gallery": true, "preview": false }),
            )
            .await;
        assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
        assert!(String::from_utf8_lossy(&reply.body).contains(says));
    }
    let (stranger, theirs) = owner_with(&app, &["coffee.png"]).await;
    let reply = app
        .call_json("batch/run", Some(&stranger), json!({ "choice": { "kind": "ready", "id": "upscale-sharpen" }, "photos": [photos[0]], "save_to_gallery": true, "preview": false }))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .call_json("batch/run", Some(&stranger), json!({ "choice": { "kind": "ready", "id": "upscale-sharpen" }, "photos": [], "save_to_gallery": true, "preview": false }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(theirs.len(), 1);
}

/// `atelier worker` killed (SIGKILL) in the middle of a batch: once its lease runs out another
/// worker finishes what it held, and every item is done exactly once.
async fn a_worker_killed_mid_batch_leaves_the_rest_to_another(app: TestApp) {
    let app = app.adjusted(|s| s.ai.job_lease_secs = 3).await;
    let names = ["astronaut.png", "coffee.png", "chelsea.png", "chelsea.jpg"];
    let (cookie, photos) = owner_with(&app, &names).await;
    let batch = run(&app, &cookie, json!({ "kind": "ready", "id": "upscale-sharpen" }), &photos, true).await;
    let id = batch["id"].as_str().unwrap();
    let mut worker = app.atelier("worker").env("ATELIER_JOB_LEASE_SECS", "3").spawn().expect("atelier worker starts");
    // Killed while it holds an item.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = detail(&app, &cookie, id).await["summary"]["counts"].clone();
        if counts["running"] == 1 && counts["done"].as_u64() >= Some(1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the worker never got going: {counts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.start_kill().unwrap();
    worker.wait().await.unwrap();
    let held = detail(&app, &cookie, id).await;
    assert_eq!(held["summary"]["counts"]["running"], 1, "the killed worker's item is still marked running");

    server::ai_tools::spawn_workers(app.ai.clone(), 2);
    let done = finished(&app, &cookie, id, 240).await;
    assert_eq!(done["summary"]["counts"]["done"], 4, "{done}");
    // Exactly once: one version per photo, one metered run per item.
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    let mut versions: Vec<&str> = gallery.as_array().unwrap().iter().map(|v| v["photo_id"].as_str().unwrap()).collect();
    versions.sort_unstable();
    let mut expected: Vec<&str> = photos.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(versions, expected);
    let usage = app.call_form("data/usage", Some(&cookie), "").await.json();
    assert_eq!(usage["recent"].as_array().unwrap().iter().filter(|r| r["tool"] == "pipeline").count(), 4, "{usage}");

    // A late attempt that lost its item cleans up after itself, but never the version a finished
    // attempt of the same item recorded (they share its id).
    let version: app::ids::VersionId = gallery[0]["id"].as_str().unwrap().parse().unwrap();
    let owner: app::ids::OwnerId = {
        use sqlx::Row;
        let row = sqlx::query("SELECT owner_id FROM jobs WHERE batch_id = $1").bind(id).fetch_one(app.ai.db.pool());
        row.await.unwrap().get::<String, _>("owner_id").parse().unwrap()
    };
    let late = server::ai_tools::queue::Outcome { version: Some(version), ..Default::default() };
    server::ai_tools::tools::discard(&app.ai, owner, &late).await;
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    assert_eq!(gallery.as_array().unwrap().len(), 4, "the finished item's version stays");
}

/// Saved pipelines: the ready ones and the person's own; exported and erased with the account.
async fn pipelines_are_saved_exported_and_erased(app: TestApp) {
    let cookie = crate::support::account(&app, None, "batch@example.org").await;
    let listed = app.call_form("batch/pipelines", Some(&cookie), "").await.json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|p| p["pipeline"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Amazon main image",
            "Shopify square on white",
            "Instagram portrait",
            "Transparent PNG cut-out",
            "Upscale ×2 and sharpen"
        ]
    );
    let mine =
        json!({ "name": "  My look  ", "steps": [{ "step": "edit", "recipe": { "ops": [{ "op": "grayscale" }] } }] });
    let saved = app.call_json("batch/save-pipeline", Some(&cookie), json!({ "pipeline": mine })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let saved = saved.json();
    assert_eq!(saved["pipeline"]["name"], "My look");
    let bad = json!({ "name": "", "steps": [] });
    assert_eq!(
        app.call_json("batch/save-pipeline", Some(&cookie), json!({ "pipeline": bad })).await.status,
        StatusCode::BAD_REQUEST
    );
    let listed = app.call_form("batch/pipelines", Some(&cookie), "").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 6);
    assert_eq!(listed[5]["choice"], saved["choice"]);
    // Another workspace sees only the ready ones and cannot delete it.
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    assert_eq!(app.call_form("batch/pipelines", Some(&stranger), "").await.json().as_array().unwrap().len(), 5);
    let pipeline_id = saved["choice"]["id"].as_str().unwrap();
    let reply = app.call_form("batch/delete-pipeline", Some(&stranger), &form(&[("id", pipeline_id)])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let owner: String = {
        use sqlx::Row;
        sqlx::query("SELECT owner_id FROM pipelines WHERE id = $1")
            .bind(pipeline_id)
            .fetch_one(app.ai.db.pool())
            .await
            .unwrap()
            .get("owner_id")
    };
    // "Download my data" carries it.
    let manifest = crate::support::exported_manifest(&app, &cookie).await;
    assert_eq!(manifest["pipelines"][0]["name"], "My look");
    assert_eq!(manifest["pipelines"][0]["steps"][0]["recipe"]["ops"][0]["op"], "grayscale");
    crate::support::delete_account(&app, &cookie, "batch@example.org").await;
    assert_eq!(crate::support::rows_of(&app, "pipelines", &owner).await, 0);
}

/// The product scene as a tool of its own (AI panel), on a drawn surface and on another photo,
/// and the ready "Amazon main image" pipeline: a 2000 px square JPEG, pure white at the border,
/// the product filling about 85% of it. "Fit the subject" finds the subject on the edit so far.
async fn product_scenes_make_marketplace_images(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 2);
    let (cookie, photos) = owner_with(&app, &["coffee.png", "chelsea.png"]).await;
    let start = |request: Value| {
        let (app, cookie, photo) = (&app, cookie.clone(), photos[0].clone());
        async move {
            let reply = app.call_json("ai/start", Some(&cookie), json!({ "photo": photo, "request": request })).await;
            (reply.status, reply.json())
        }
    };
    let marble = json!({ "tool": "product-scene", "scene": { "backdrop": { "kind": "surface", "texture": "marble" },
        "width": 800, "height": 600, "on_floor": true, "cast_shadow": { "angle": 30.0, "length": 0.5, "softness": 0.03, "opacity": 0.4 },
        "reflection": 0.2 } });
    let on_photo = json!({ "tool": "product-scene", "scene": { "backdrop": { "kind": "photo", "id": photos[1] }, "width": 640, "height": 640 } });
    let (status, first) = start(marble).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = start(on_photo).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, refused) = start(json!({ "tool": "product-scene", "scene": { "width": 0 } })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let mut results = Vec::new();
    for job in [&first, &second] {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let done = loop {
            let jobs = app.call_form("ai/jobs", Some(&cookie), &form(&[("photo", &photos[0])])).await.json();
            let found = jobs.as_array().unwrap().iter().find(|j| j["id"] == job["id"]).cloned().unwrap();
            if found["state"] == "done" || found["state"] == "failed" {
                break found;
            }
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(
            done["label"],
            if results.is_empty() { "Product scene (on marble)" } else { "Product scene (on a photo)" }
        );
        let reply = app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await;
        results.push(image::load_from_memory(&reply.body).unwrap().to_rgb8());
    }
    assert_eq!(results[0].dimensions(), (800, 600));
    assert_eq!(results[1].dimensions(), (640, 640));
    // Marble is drawn, not plain: its corner pixels differ from each other.
    let corners: std::collections::HashSet<_> =
        [(0, 0), (799, 0), (0, 30), (400, 5)].iter().map(|&(x, y)| results[0].get_pixel(x, y).0).collect();
    assert!(corners.len() > 1, "{corners:?}");

    // The ready Amazon pipeline on the coffee cup.
    let batch = run(&app, &cookie, json!({ "kind": "ready", "id": "amazon-main" }), &photos[..1], true).await;
    let done = finished(&app, &cookie, batch["id"].as_str().unwrap(), 180).await;
    assert_eq!(done["summary"]["counts"]["done"], 1, "{done}");
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    let item = &gallery[0];
    assert_eq!((item["width"].as_u64(), item["height"].as_u64()), (Some(2000), Some(2000)));
    let reply = app.get(item["image_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(reply.headers["content-type"], "image/jpeg");
    let amazon = image::load_from_memory(&reply.body).unwrap().to_rgb8();
    for (x, y) in [(0, 0), (1999, 0), (0, 1999), (1999, 1999), (1000, 5), (5, 1000)] {
        assert!(
            amazon.get_pixel(x, y).0.iter().all(|c| *c >= 250),
            "({x}, {y}) is white: {:?}",
            amazon.get_pixel(x, y)
        );
    }
    let (mut left, mut right, mut top, mut bottom) = (2000, 0, 2000, 0);
    for (x, y, p) in amazon.enumerate_pixels() {
        if p.0.iter().any(|c| *c < 200) {
            (left, right, top, bottom) = (left.min(x), right.max(x), top.min(y), bottom.max(y));
        }
    }
    let longest = (right - left).max(bottom - top);
    assert!((1500..=1760).contains(&longest), "the product fills about 85%: {left}..{right} × {top}..{bottom}");

    // Fit the subject: found on the photo, and again after a quarter turn (where it moved).
    let subject = |recipe: Value| {
        let (app, cookie, photo) = (&app, cookie.clone(), photos[1].clone());
        async move {
            let reply =
                app.call_json("photos/subject", Some(&cookie), json!({ "photo": photo, "recipe": recipe })).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
            reply.json()
        }
    };
    let plain = subject(json!({ "ops": [] })).await;
    let turned = subject(json!({ "ops": [{ "op": "rotate", "quarter_turns": 1 }] })).await;
    let boxed = |v: &Value| -> Vec<f64> {
        v.as_array().expect("a subject is found").iter().map(|n| n.as_f64().unwrap()).collect()
    };
    let (plain, turned) = (boxed(&plain), boxed(&turned));
    assert!(plain.iter().all(|v| (0.0..=1.0).contains(v)) && plain[2] > 0.1 && plain[3] > 0.1, "{plain:?}");
    assert!(
        (plain[2] - turned[3]).abs() < 0.15 && (plain[3] - turned[2]).abs() < 0.15,
        "width and height swap: {plain:?} {turned:?}"
    );
    let reply = app
        .call_json(
            "photos/subject",
            Some(&cookie),
            json!({ "photo": photos[1], "recipe": { "ops": [{ "op": "rotate", "quarter_turns": 9 }] } }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

on_both_databases!(
    product_scenes_make_marketplace_images,
    three_steps_on_three_photos_make_three_gallery_versions_with_their_pipeline,
    a_failing_step_fails_only_its_item,
    pause_holds_and_cancel_stops_queued_items,
    a_worker_killed_mid_batch_leaves_the_rest_to_another,
    pipelines_are_saved_exported_and_erased,
);
