//! Blur faces through the server: a job on the durable queue run by a worker with the real face
//! detector, the picked-faces form of the request, refusals before queueing, a photo with no face.

use crate::support::{form, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

async fn start(app: &TestApp, cookie: &str, photo: &str, request: Value) -> crate::support::Reply {
    app.call_json("ai/start", Some(cookie), json!({ "photo": photo, "request": request })).await
}

/// Starts a job that must be accepted and waits until it has finished (done or failed).
async fn run(app: &TestApp, cookie: &str, photo: &str, request: Value) -> Value {
    let reply = start(app, cookie, photo, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let job = reply.json()["id"].as_str().expect("the job has an id").to_string();
    crate::support::job_finished(app, cookie, photo, &job, 120).await
}

/// The job's result and the photo it ran on, fetched by the job's own links.
async fn before_and_after(app: &TestApp, cookie: &str, done: &Value) -> (image::RgbImage, image::RgbImage) {
    let mut images = Vec::new();
    for link in ["before_url", "result_url"] {
        let reply = app.get(done[link].as_str().expect("a link"), Some(cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{link}");
        images.push(image::load_from_memory(&reply.body).unwrap().to_rgb8());
    }
    let after = images.pop().unwrap();
    (images.pop().unwrap(), after)
}

fn mean_difference(a: &image::RgbImage, b: &image::RgbImage, (x, y, w, h): (u32, u32, u32, u32)) -> f64 {
    let crop = |image| image::imageops::crop_imm(image, x, y, w, h).to_image();
    let (a, b) = (crop(a), crop(b));
    a.as_raw().iter().zip(b.as_raw()).map(|(p, q)| (f64::from(*p) - f64::from(*q)).abs()).sum::<f64>()
        / a.as_raw().len() as f64
}

async fn blurring_faces_hides_the_face_and_leaves_the_rest_untouched(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    for (style, label) in [("blur", "Blur faces (blurred, 80 %)"), ("pixelate", "Blur faces (pixelated, 80 %)")] {
        let done = run(&app, &cookie, id, json!({ "tool": "blur-faces", "style": style, "strength": 80 })).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["label"], label);
        assert!(done["method"].as_str().unwrap().starts_with("1 face found by BlazeFace"), "{done}");
        assert_eq!(done["result_size"], json!([512, 512]));
        let (before, after) = before_and_after(&app, &cookie, &done).await;
        assert_eq!(after.dimensions(), before.dimensions());
        let face = mean_difference(&before, &after, (200, 105, 50, 50));
        assert!(face > 8.0, "{style}: the face changed by only {face:.1} levels");
        for corner in [(0, 0, 64, 64), (448, 448, 64, 64)] {
            assert_eq!(mean_difference(&before, &after, corner), 0.0, "{style}: {corner:?} changed");
        }
    }
}

async fn bad_face_requests_are_refused_before_anything_is_queued(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    for (request, expected) in [
        (json!({ "tool": "blur-faces", "style": "blur", "strength": 0 }), "1 to 100"),
        (json!({ "tool": "blur-faces", "style": "pixelate", "strength": 101 }), "1 to 100"),
        (
            json!({ "tool": "blur-faces", "style": "blur", "strength": 50, "faces": [[0.8, 0.8, 0.5, 0.5]] }),
            "within the photo",
        ),
        (json!({ "tool": "blur-faces", "style": "blur", "strength": 50, "faces": [] }), "1 to 50 faces"),
        (
            json!({ "tool": "blur-faces", "style": "blur", "strength": 50, "faces": vec![[0.1, 0.1, 0.1, 0.1]; 51] }),
            "1 to 50 faces",
        ),
    ] {
        let reply = start(&app, &cookie, id, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
        assert!(String::from_utf8_lossy(&reply.body).contains(expected), "{}", String::from_utf8_lossy(&reply.body));
    }
    let jobs = app.call_form("ai/jobs", Some(&cookie), &form(&[("photo", id)])).await.json();
    assert_eq!(jobs, json!([]), "nothing was queued");
}

async fn a_photo_without_a_face_fails_clearly_unless_faces_are_picked(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let failed = run(&app, &cookie, id, json!({ "tool": "blur-faces", "style": "blur", "strength": 50 })).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"], "No faces were found in this photo.");
    assert_eq!(failed["attempts"], 1, "not worth a retry: {failed}");

    // A box the person picked is hidden even where no face is found; the rest stays as it was.
    let picked = json!({ "tool": "blur-faces", "style": "pixelate", "strength": 100, "faces": [[0.4, 0.4, 0.2, 0.2]] });
    let done = run(&app, &cookie, id, picked).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["label"], "Blur faces (pixelated, 100 %, 1 picked)");
    assert_eq!(done["method"], "1 face picked, pixelated");
    let (before, after) = before_and_after(&app, &cookie, &done).await;
    let (width, height) = before.dimensions();
    let centre = (width * 45 / 100, height * 45 / 100, width / 10, height / 10);
    assert!(mean_difference(&before, &after, centre) > 2.0, "the picked box is pixelated");
    assert_eq!(mean_difference(&before, &after, (0, 0, width, height / 4)), 0.0, "above the box nothing changed");
}

on_both_databases!(
    blurring_faces_hides_the_face_and_leaves_the_rest_untouched,
    bad_face_requests_are_refused_before_anything_is_queued,
    a_photo_without_a_face_fails_clearly_unless_faces_are_picked,
);
