//! Selections for the eraser's mask through the server (`ai/select`): the subject and a found
//! object on the real models (IS-Net, CenterNet) and real photos, for the photo's owner only;
//! the eraser run with a selected mask; and the start-up checks of a supplied Segment Anything
//! model (no such weights exist offline, so its inference is never faked here).

use axum::http::StatusCode;
use base64::Engine as _;
use recipe::selection::{Mask, Runs};
use serde_json::{json, Value};

use crate::support::{job_finished, Reply, TestApp};

async fn select(app: &TestApp, cookie: &str, photo: &str, request: Value, (width, height): (u32, u32)) -> Reply {
    let args = json!({ "photo": photo, "request": request, "width": width, "height": height });
    app.call_json("ai/select", Some(cookie), args).await
}

async fn selected(app: &TestApp, cookie: &str, photo: &str, request: Value, size: (u32, u32)) -> Value {
    let reply = select(app, cookie, photo, request, size).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

fn mask_of(answer: &Value) -> Mask {
    let runs: Runs = serde_json::from_value(answer["mask"].clone()).expect("a mask in run lengths");
    Mask::from_runs(&runs).expect("runs that cover the mask")
}

/// The share of `(x0, y0)..(x1, y1)` selected.
fn share(mask: &Mask, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let inside = (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| mask.get(x, y) == 255).count();
    inside as f64 / f64::from((x1 - x0) * (y1 - y0))
}

async fn select_subject_and_select_object_return_masks_over_the_subject_for_its_owner_only(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();

    // The subject, at the size of a mask canvas smaller than the 512² photo.
    let subject = selected(&app, &cookie, id, json!({ "kind": "subject" }), (256, 256)).await;
    assert_eq!(subject["method"], "IS-Net");
    assert_eq!(subject["point_prompts"], false, "no Segment Anything model is configured");
    let mask = mask_of(&subject);
    assert_eq!((mask.width(), mask.height()), (256, 256));
    // The suit's chest is in; the sky in the top-left corner is out.
    assert!(share(&mask, (100, 60, 120, 80)) > 0.95);
    assert!(share(&mask, (0, 0, 20, 20)) < 0.05);

    // The objects found: the astronaut is a person; a listing carries no mask.
    let listed = selected(&app, &cookie, id, json!({ "kind": "objects" }), (256, 256)).await;
    assert!(listed["mask"].is_null(), "{listed}");
    let objects = listed["objects"].as_array().unwrap();
    let person = objects.iter().find(|o| o["label"] == "person").unwrap_or_else(|| panic!("{listed}"));
    let bbox: [f32; 4] = serde_json::from_value(person["bbox"].clone()).unwrap();

    // The person chosen: IS-Net inside the box, nothing outside it.
    let object = selected(&app, &cookie, id, json!({ "kind": "object", "bbox": bbox }), (256, 256)).await;
    assert_eq!(object["method"], "CenterNet box refined by IS-Net");
    let mask = mask_of(&object);
    let [x, y, w, h] = bbox.map(|v| v * 256.0);
    let (x0, y0, x1, y1) =
        (x.floor() as u32, y.floor() as u32, ((x + w).ceil() as u32).min(256), ((y + h).ceil() as u32).min(256));
    for (px, py) in (0..256).flat_map(|py| (0..256).map(move |px| (px, py))) {
        let in_box = (x0..x1).contains(&px) && (y0..y1).contains(&py);
        assert!(in_box || mask.get(px, py) == 0, "({px}, {py}) is selected outside the person's box");
    }
    assert!(share(&mask, (100, 60, 120, 80)) > 0.95, "the chest is selected");

    // Another workspace's visitor gets nothing: not found, as if the photo did not exist.
    let (stranger, _) = app.new_owner_with_photo("chelsea.png").await;
    for request in
        [json!({ "kind": "subject" }), json!({ "kind": "objects" }), json!({ "kind": "object", "bbox": bbox })]
    {
        let reply = select(&app, &stranger, id, request, (256, 256)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&reply.body));
        assert!(!String::from_utf8_lossy(&reply.body).contains("runs"), "no mask of another's photo");
    }

    // Out of bounds: refused before any work.
    for (request, size) in [
        (json!({ "kind": "subject" }), (0, 256)),
        (json!({ "kind": "subject" }), (5000, 256)),
        (json!({ "kind": "object", "bbox": [0.5, 0.5, 0.9, 0.1] }), (256, 256)),
        (json!({ "kind": "point", "x": 1.5, "y": 0.5 }), (256, 256)),
    ] {
        let reply = select(&app, &cookie, id, request.clone(), size).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{request} {size:?}");
    }
    // A click point needs a Segment Anything model, which this server does not have.
    let reply = select(&app, &cookie, id, json!({ "kind": "point", "x": 0.5, "y": 0.5 }), (256, 256)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&reply.body).contains("no Segment Anything model"));
}

async fn the_eraser_with_a_selected_mask_changes_pixels_only_inside_it(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let size = (photo["width"].as_u64().unwrap() as u32, photo["height"].as_u64().unwrap() as u32);

    // The cup, selected at the photo's own size, sent as the eraser sends its painted canvas.
    let listed = selected(&app, &cookie, id, json!({ "kind": "objects" }), size).await;
    let cup = listed["objects"].as_array().unwrap().iter().find(|o| o["label"] == "cup").cloned();
    let cup = cup.unwrap_or_else(|| panic!("{listed}"));
    let answer = selected(&app, &cookie, id, json!({ "kind": "object", "bbox": cup["bbox"] }), size).await;
    let mask = mask_of(&answer);
    assert!(mask.count() > 1000, "the cup is selected: {} pixels", mask.count());
    let gray = image::GrayImage::from_raw(size.0, size.1, mask.values().to_vec()).unwrap();
    let mut png = Vec::new();
    gray.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let data_url = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
    let job = app
        .call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": { "tool": "erase", "mask": data_url } }))
        .await;
    assert_eq!(job.status, StatusCode::OK, "{}", String::from_utf8_lossy(&job.body));
    let done = job_finished(&app, &cookie, id, job.json()["id"].as_str().unwrap(), 240).await;
    assert_eq!(done["state"], "done", "{done}");

    let fetch = |url: String| {
        let app = &app;
        let cookie = cookie.clone();
        async move { image::load_from_memory(&app.get(&url, Some(&cookie)).await.body).unwrap().to_rgb8() }
    };
    let erased = fetch(done["result_url"].as_str().unwrap().to_string()).await;
    let original = fetch(done["before_url"].as_str().unwrap().to_string()).await;
    assert_eq!(erased.dimensions(), original.dimensions());
    let (mut changed_inside, mut inside) = (0usize, 0usize);
    for (x, y, after) in erased.enumerate_pixels() {
        let before = original.get_pixel(x, y);
        if mask.get(x, y) == 0 {
            assert_eq!(after, before, "({x}, {y}) is outside the selection and changed");
        } else {
            inside += 1;
            changed_inside += usize::from(after != before);
        }
    }
    assert!(changed_inside * 2 > inside, "the cup is filled: {changed_inside} of {inside} pixels changed");
}

on_both_databases!(
    select_subject_and_select_object_return_masks_over_the_subject_for_its_owner_only,
    the_eraser_with_a_selected_mask_changes_pixels_only_inside_it,
);

/// Two files standing in for a Segment Anything model's encoder and decoder (not models: only
/// their configuration is under test), and their settings as environment variables.
fn stand_in_model(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let (encoder, decoder) = (dir.join("sam-encoder.onnx"), dir.join("sam-decoder.onnx"));
    std::fs::write(&encoder, b"a stand-in encoder").unwrap();
    std::fs::write(&decoder, b"a stand-in decoder").unwrap();
    vec![
        ("ATELIER_SAM_ENCODER", encoder.display().to_string()),
        ("ATELIER_SAM_ENCODER_SHA256", ai::models::sha256_file(&encoder).unwrap()),
        ("ATELIER_SAM_DECODER", decoder.display().to_string()),
        ("ATELIER_SAM_DECODER_SHA256", ai::models::sha256_file(&decoder).unwrap()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_anything_model_whose_hash_differs_stops_the_server_at_start_with_a_clear_error() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let mut variables = stand_in_model(dir.path());
    // The decoder's hash is the encoder's: the wrong file.
    variables[3].1 = variables[1].1.clone();
    let mut serve = app.atelier("serve");
    serve.env("ATELIER_ADDR", "127.0.0.1:0").envs(variables.iter().map(|(k, v)| (*k, v.as_str())));
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), serve.output()).await.unwrap().unwrap();
    assert!(!output.status.success(), "the server must not start");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        said.contains("the Segment Anything decoder (ai.sam_decoder) file is not the one its SHA-256 names"),
        "{said}"
    );
    assert!(said.contains(&format!("expected {}", variables[1].1)), "{said}");

    // Half a model is refused too, naming the setting that is missing.
    let mut serve = app.atelier("serve");
    serve.env("ATELIER_ADDR", "127.0.0.1:0").envs(variables[..2].iter().map(|(k, v)| (*k, v.as_str())));
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), serve.output()).await.unwrap().unwrap();
    assert!(!output.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("ATELIER_SAM_DECODER"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_anything_model_whose_hashes_match_is_offered_and_a_bad_file_is_reported_not_faked() {
    let dir = tempfile::tempdir().unwrap();
    let variables = stand_in_model(dir.path());
    let app = TestApp::sqlite_with(|settings| {
        settings.apply_env(|name| variables.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap();
    })
    .await;
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let id = photo["id"].as_str().unwrap();
    // The page learns that a click can select the object there.
    let subject = selected(&app, &cookie, id, json!({ "kind": "subject" }), (128, 128)).await;
    assert_eq!(subject["point_prompts"], true);
    // The stand-in files are no model: the click is answered with what is wrong, never a mask.
    let reply = select(&app, &cookie, id, json!({ "kind": "point", "x": 0.5, "y": 0.5 }), (128, 128)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
    assert!(String::from_utf8_lossy(&reply.body)
        .contains("The Segment Anything model this server was given could not be used"));
}
