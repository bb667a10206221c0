//! Style transfer through the server: a built-in style and another photo of the workspace as the
//! painting, run on the durable queue by a worker with the real models; the picker's thumbnails.

use crate::support::{fixture, form, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

async fn start(app: &TestApp, cookie: &str, photo: &str, request: Value) -> crate::support::Reply {
    app.call_json("ai/start", Some(cookie), json!({ "photo": photo, "request": request })).await
}

fn mean_difference(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs()).sum::<f64>()
        / a.as_raw().len() as f64
}

async fn style_transfer_runs_as_a_job_in_a_built_in_style_or_a_painting(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    let painting = app.upload(Some(&cookie), "coffee.png", fixture("coffee.png")).await;
    assert_eq!(painting.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&painting.body));
    let painting = painting.json()["id"].as_str().unwrap().to_string();

    let builtin = start(
        &app,
        &cookie,
        id,
        json!({ "tool": "style-transfer", "style": { "kind": "builtin", "index": 19 }, "strength": 0.8 }),
    )
    .await;
    assert_eq!(builtin.status, StatusCode::OK, "{}", String::from_utf8_lossy(&builtin.body));
    let painted = start(
        &app,
        &cookie,
        id,
        json!({ "tool": "style-transfer", "style": { "kind": "photo", "id": painting }, "strength": 1.0 }),
    )
    .await;
    assert_eq!(painted.status, StatusCode::OK, "{}", String::from_utf8_lossy(&painted.body));

    let original = image::load_from_memory(&fixture("astronaut.png")).unwrap().to_rgb8();
    for (job, label, method) in [
        (builtin.json(), "Style transfer (style 19, 80 %)", "style 19"),
        (painted.json(), "Style transfer (from a photo, 100 %)", "arbitrary style"),
    ] {
        let done = crate::support::job_finished(&app, &cookie, id, job["id"].as_str().unwrap(), 180).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["label"], label);
        assert!(done["method"].as_str().unwrap().contains(method), "{done}");
        assert_eq!(done["result_size"], json!([512, 512]));
        let reply = app.get(done["result_url"].as_str().unwrap(), Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::OK);
        let result = image::load_from_memory(&reply.body).unwrap().to_rgb8();
        assert_eq!(result.dimensions(), original.dimensions());
        let changed = mean_difference(&result, &original);
        assert!(changed > 15.0, "{label}: the photo changed by only {changed:.1} levels");
    }
}

async fn bad_style_requests_are_refused_before_anything_is_queued(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    for (request, expected) in [
        (json!({ "tool": "style-transfer", "style": { "kind": "builtin", "index": 26 }, "strength": 1.0 }), "0 to 25"),
        (json!({ "tool": "style-transfer", "style": { "kind": "builtin", "index": 2 }, "strength": 1.5 }), "strength"),
    ] {
        let reply = start(&app, &cookie, id, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
        assert!(String::from_utf8_lossy(&reply.body).contains(expected), "{}", String::from_utf8_lossy(&reply.body));
    }
    // Another workspace's photo is not a painting this one can read.
    let (_, strangers) = app.new_owner_with_photo("coffee.png").await;
    let request =
        json!({ "tool": "style-transfer", "style": { "kind": "photo", "id": strangers["id"] }, "strength": 1.0 });
    assert_eq!(start(&app, &cookie, id, request).await.status, StatusCode::NOT_FOUND);
    let jobs = app.call_form("ai/jobs", Some(&cookie), &form(&[("photo", id)])).await.json();
    assert_eq!(jobs, json!([]), "nothing was queued");
}

async fn the_style_pickers_thumbnails_are_served_and_cached(app: TestApp) {
    let reply = app.get("/media/styles/0", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["content-type"], "image/jpeg");
    assert!(reply.headers["cache-control"].to_str().unwrap().contains("max-age"));
    let first = image::load_from_memory(&reply.body).unwrap().to_rgb8();
    assert_eq!(first.dimensions(), (128, 128));
    let last = image::load_from_memory(&app.get("/media/styles/25", None).await.body).unwrap().to_rgb8();
    assert!(mean_difference(&first, &last) > 20.0, "two styles' thumbnails look alike");
    assert_eq!(app.get("/media/styles/0", None).await.body, reply.body, "made once, then the same bytes");
    for missing in ["/media/styles/26", "/media/styles/x", "/media/styles/-1"] {
        assert_eq!(app.get(missing, None).await.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

on_both_databases!(
    style_transfer_runs_as_a_job_in_a_built_in_style_or_a_painting,
    bad_style_requests_are_refused_before_anything_is_queued,
    the_style_pickers_thumbnails_are_served_and_cached,
);
