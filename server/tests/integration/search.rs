//! Search through the server on both databases, with the real models: photos are read by the
//! index job after upload (objects, faces, colours, text in them, meaning), then found by words,
//! by text in the photo, by meaning and by filters — and never in another workspace.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{form, owner_of, TestApp};

async fn search(app: &TestApp, cookie: &str, query: Value) -> Value {
    let reply = app.call_json("search", Some(cookie), json!({ "query": query })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// Waits until the workspace's index job has read every photo (nothing pending, no index job
/// queued or running).
async fn indexed(app: &TestApp, cookie: &str, owner: &str) {
    use sqlx::Row;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let pending = search(app, cookie, json!({ "text": "anything" })).await["pending"].as_u64().unwrap();
        let waiting: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND tool = 'index' AND state IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("n");
        let stale: i64 = sqlx::query("SELECT COUNT(*) AS n FROM photo_index WHERE owner_id = $1 AND indexed_at = 0")
            .bind(owner)
            .fetch_one(app.ai.db.pool())
            .await
            .unwrap()
            .get("n");
        if pending == 0 && waiting == 0 && stale == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "still {pending} photos to index, {waiting} index jobs");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ids(found: &Value) -> Vec<String> {
    found["hits"].as_array().unwrap().iter().map(|hit| hit["photo"]["id"].as_str().unwrap().to_string()).collect()
}

fn reasons(found: &Value, id: &str) -> Vec<String> {
    let hit = found["hits"].as_array().unwrap().iter().find(|hit| hit["photo"]["id"] == id);
    let hit = hit.unwrap_or_else(|| panic!("{id} not found in {found}"));
    hit["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

async fn upload(app: &TestApp, cookie: &str, name: &str, fixture: &str) -> String {
    let reply = app.upload(Some(cookie), name, crate::support::fixture(fixture)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["id"].as_str().unwrap().to_string()
}

async fn photos_are_found_by_words_text_meaning_and_filters_in_their_workspace_only(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, first) = app.new_owner_with_photo("astronaut.png").await;
    let astronaut = first["id"].as_str().unwrap().to_string();
    let owner = owner_of(&app, &astronaut).await;
    let sign = upload(&app, &cookie, "bakery.jpg", "text-sign.jpg").await;
    let cat = upload(&app, &cookie, "IMG_0042.png", "chelsea.png").await;
    // The person's own description of the cat photo: meaning search reads it.
    let reply = app
        .call_form(
            "ai/keep-alt-text",
            Some(&cookie),
            &form(&[("photo", &cat), ("alt_text", "A person on sand by the sea")]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    // Another workspace with the same pictures and words.
    let (stranger, theirs) = app.new_owner_with_photo("astronaut.png").await;
    let theirs = theirs["id"].as_str().unwrap().to_string();
    let their_sign = upload(&app, &stranger, "bakery.jpg", "text-sign.jpg").await;
    indexed(&app, &cookie, &owner).await;
    indexed(&app, &stranger, &owner_of(&app, &theirs).await).await;

    // Words of the name, as typed: prefixes, any case.
    let found = search(&app, &cookie, json!({ "text": "ASTRO" })).await;
    assert_eq!(ids(&found), std::slice::from_ref(&astronaut), "{found}");
    assert_eq!(reasons(&found, &astronaut), ["words"]);
    assert!(found["hits"][0]["photo"]["thumbnail_url"].as_str().unwrap().starts_with("/media/photos/"), "signed link");
    // Text in the photo, read by OCR in the index job.
    let found = search(&app, &cookie, json!({ "text": "fresh bread" })).await;
    assert_eq!(ids(&found).first(), Some(&sign), "{found}");
    assert!(reasons(&found, &sign).contains(&"text".to_string()), "{found}");
    // What the detectors saw: a person (and a face) in the astronaut photo.
    let found = search(&app, &cookie, json!({ "text": "person" })).await;
    assert!(ids(&found).contains(&astronaut), "{found}");
    // Meaning: none of these words is in the description.
    let found = search(&app, &cookie, json!({ "text": "beach holiday" })).await;
    assert_eq!(ids(&found).first(), Some(&cat), "{found}");
    assert_eq!(reasons(&found, &cat), ["meaning"]);
    // Filters alone, and with words.
    let found = search(&app, &cookie, json!({ "text": "", "has_text": true })).await;
    assert_eq!(ids(&found), std::slice::from_ref(&sign), "{found}");
    let found = search(&app, &cookie, json!({ "text": "", "has_faces": true })).await;
    assert_eq!(ids(&found), std::slice::from_ref(&astronaut), "{found}");
    let found = search(&app, &cookie, json!({ "text": "bread", "saved": "saved" })).await;
    assert!(ids(&found).is_empty(), "nothing is saved yet: {found}");
    let found = search(&app, &cookie, json!({ "text": "", "from": "2999-01-01" })).await;
    assert!(ids(&found).is_empty(), "{found}");
    let today = app::ui::format::day(server::platform::db::now());
    let found = search(&app, &cookie, json!({ "text": "", "from": today, "to": today, "saved": "unsaved" })).await;
    assert_eq!(ids(&found).len(), 3, "every upload of today: {found}");
    // Never another workspace's photo, whatever is asked.
    for query in [json!({ "text": "astronaut" }), json!({ "text": "bread" }), json!({ "text": "", "has_text": true })] {
        let mine = ids(&search(&app, &cookie, query.clone()).await);
        assert!(!mine.contains(&theirs) && !mine.contains(&their_sign), "{query}: {mine:?}");
        let others = ids(&search(&app, &stranger, query.clone()).await);
        assert!(others.iter().all(|id| *id == theirs || *id == their_sign), "{query}: {others:?}");
    }
    // A visitor without a workspace finds nothing (and gets none).
    let reply = app.call_json("search", None, json!({ "query": { "text": "astronaut" } })).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["hits"], json!([]));
    assert!(reply.session_cookie().is_none(), "searching opens no workspace");
    // A date that is not one is refused, plainly.
    let reply = app.call_json("search", Some(&cookie), json!({ "query": { "text": "", "from": "2026-02-30" } })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&reply.body).contains("not a date"));

    // A new description is read again: the old words go, the new ones are found.
    let reply = app
        .call_form("ai/keep-alt-text", Some(&cookie), &form(&[("photo", &cat), ("alt_text", "Zebra crossing at dusk")]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    indexed(&app, &cookie, &owner).await;
    assert_eq!(ids(&search(&app, &cookie, json!({ "text": "zebra" })).await), std::slice::from_ref(&cat));

    // Deleting a photo deletes its entry, words included.
    let (owner_id, photo_id) = (owner.parse().unwrap(), sign.parse().unwrap());
    app.ai.photos.delete_photo(app::ids::OwnerId(owner_id), app::ids::PhotoId(photo_id)).await.unwrap();
    assert!(ids(&search(&app, &cookie, json!({ "text": "bread" })).await).is_empty());
    assert_eq!(crate::support::rows_of(&app, "photo_index", &owner).await, 2);
    if !app.ai.db.postgres {
        use sqlx::Row;
        let words: i64 = sqlx::query("SELECT COUNT(*) AS n FROM photo_words WHERE photo_id = $1")
            .bind(&sign)
            .fetch_one(app.ai.db.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(words, 0, "the full-text row went with the entry");
    }
}

async fn the_index_is_exported_and_erased_with_the_account(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let cookie = crate::support::account(&app, None, "ada@example.com").await;
    let photo = upload(&app, &cookie, "bakery.jpg", "text-sign.jpg").await;
    let owner = owner_of(&app, &photo).await;
    indexed(&app, &cookie, &owner).await;
    let manifest = crate::support::exported_manifest(&app, &cookie).await;
    let entries = manifest["search_index"].as_array().expect("the index is exported");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["photo_id"], photo.as_str());
    assert!(entries[0]["words"].as_str().unwrap().contains("bread"), "{}", entries[0]);
    assert_eq!(entries[0]["embedding"].as_array().map(Vec::len), Some(384), "the numbers, not a blob");
    crate::support::delete_account(&app, &cookie, "ada@example.com").await;
    assert_eq!(crate::support::rows_of(&app, "photo_index", &owner).await, 0);
}

on_both_databases!(
    photos_are_found_by_words_text_meaning_and_filters_in_their_workspace_only,
    the_index_is_exported_and_erased_with_the_account
);
