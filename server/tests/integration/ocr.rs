//! Copy text through the server: the real PP-OCRv6 models on the durable queue, the text kept on
//! the photo (`photos.ocr_text`), read back with it, offered as alt-text, exported and erased with
//! it; another workspace never reads or writes it; photos with no text give none, not an error.

use app::ids::{OwnerId, PhotoId};
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{account, delete_account, edge_fixture, exported_manifest, form, TestApp};

const SIGN: &str = "OPEN DAILY\nFresh bread\n7am to 6pm";

async fn start(app: &TestApp, cookie: &str, photo: &str) -> crate::support::Reply {
    app.call_json("ai/start", Some(cookie), json!({ "photo": photo, "request": { "tool": "copy-text" } })).await
}

/// Runs "copy text" on the photo and waits until the job has finished.
async fn copy_text(app: &TestApp, cookie: &str, photo: &str) -> Value {
    let reply = start(app, cookie, photo).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let job = reply.json()["id"].as_str().expect("the job has an id").to_string();
    crate::support::job_finished(app, cookie, photo, &job, 120).await
}

async fn details(app: &TestApp, cookie: &str, photo: &str) -> Value {
    let reply = app.call_form("photos/get", Some(cookie), &form(&[("id", photo)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn owner_of(app: &TestApp, photo: &str) -> OwnerId {
    use sqlx::Row;
    let row =
        sqlx::query("SELECT owner_id FROM photos WHERE id = $1").bind(photo).fetch_one(app.ai.db.pool()).await.unwrap();
    row.get::<String, _>("owner_id").parse().unwrap()
}

async fn copying_text_reads_a_sign_keeps_it_with_the_photo_and_offers_it_as_alt_text(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (guest, photo) = app.new_owner_with_photo("text-sign.jpg").await;
    let id = photo["id"].as_str().unwrap();
    assert_eq!(photo["ocr_text"], Value::Null, "not read yet");

    let done = copy_text(&app, &guest, id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["label"], "Copy text");
    assert_eq!(done["method"], "3 lines read by PP-OCRv6");
    assert_eq!(done["text"], SIGN);
    assert_eq!(done["result_url"], Value::Null, "no image is made");
    assert_eq!(details(&app, &guest, id).await["ocr_text"], SIGN, "kept with the photo");

    // "Use as alt-text": the lines become one run of words; the tags stay as they were.
    let kept = app
        .call_form("ai/keep-alt-text", Some(&guest), &form(&[("photo", id), ("alt_text", " OPEN DAILY\nFresh bread ")]))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", String::from_utf8_lossy(&kept.body));
    assert_eq!(kept.json()["alt_text"], "OPEN DAILY Fresh bread");
    assert_eq!(details(&app, &guest, id).await["alt_text"], "OPEN DAILY Fresh bread");

    // Personal data: in "Download my data" with the photo, and gone with the account.
    let cookie = account(&app, Some(&guest), "reader@example.org").await;
    let manifest = exported_manifest(&app, &cookie).await;
    assert_eq!(manifest["photos"][0]["ocr_text"], SIGN);
    let owner = owner_of(&app, id).await;
    delete_account(&app, &cookie, "reader@example.org").await;
    let photo: PhotoId = id.parse().unwrap();
    assert_eq!(app.ai.db.ocr_text(owner, photo).await.unwrap(), None);
    assert_eq!(crate::support::rows_of(&app, "photos", &owner.to_string()).await, 0);
}

async fn another_workspace_can_neither_read_nor_change_a_photos_text(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("text-sign.jpg").await;
    let id = photo["id"].as_str().unwrap();
    let (stranger, theirs) = app.new_owner_with_photo("coffee.png").await;
    assert_eq!(copy_text(&app, &cookie, id).await["text"], SIGN);

    let refused = start(&app, &stranger, id).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&refused.body));
    let refused =
        app.call_form("ai/keep-alt-text", Some(&stranger), &form(&[("photo", id), ("alt_text", "mine now")])).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = app.call_form("photos/get", Some(&stranger), &form(&[("id", id)])).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    // The repository itself is scoped by owner.
    let (owner, other) = (owner_of(&app, id).await, owner_of(&app, theirs["id"].as_str().unwrap()).await);
    let photo: PhotoId = id.parse().unwrap();
    assert!(!app.ai.db.set_ocr_text(other, photo, "overwritten").await.unwrap());
    assert_eq!(app.ai.db.ocr_text(other, photo).await.unwrap(), None);
    assert_eq!(app.ai.db.ocr_text(owner, photo).await.unwrap().as_deref(), Some(SIGN));
    assert_eq!(details(&app, &cookie, id).await["alt_text"], Value::Null, "the stranger's alt-text was not kept");
}

async fn photos_without_text_give_none_without_error_and_are_marked_read(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let blank = {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(320, 200, image::Rgb([250, 250, 250]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    };
    let mut ids = vec![photo["id"].as_str().unwrap().to_string()];
    for (name, data) in [("blank.png", blank), ("one.png", edge_fixture("one.png"))] {
        let reply = app.upload(Some(&cookie), name, data).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", String::from_utf8_lossy(&reply.body));
        ids.push(reply.json()["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let done = copy_text(&app, &cookie, id).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["text"], "", "{done}");
        assert_eq!(done["method"], "no text found by PP-OCRv6");
        // '' is "read, nothing found", unlike NULL, "not read yet".
        assert_eq!(details(&app, &cookie, id).await["ocr_text"], "");
    }
}

on_both_databases!(
    copying_text_reads_a_sign_keeps_it_with_the_photo_and_offers_it_as_alt_text,
    another_workspace_can_neither_read_nor_change_a_photos_text,
    photos_without_text_give_none_without_error_and_are_marked_read,
);
