//! Retention (issue 7, SECURITY.md "Data lifecycle" 1–2) with a controllable clock: the sweep is
//! given "now". Rows and stored files both go; a sweep is idempotent; queued purges survive.

use crate::support::{fixture, TestApp};
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;
use server::platform::db::now;

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn stored_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
            .unwrap_or(0)
    }
    walk(&app.settings.storage_dir())
}

async fn unsaved_uploads_go_after_a_day_saved_versions_after_their_period(app: TestApp) {
    let (cookie, unsaved) = app.new_owner_with_photo("chelsea.png").await;
    let kept = app.upload(Some(&cookie), "coffee.png", fixture("coffee.png")).await.json();
    let saved = app
        .call_json(
            "gallery/save",
            Some(&cookie),
            json!({ "photo": kept["id"], "recipe": { "ops": [{ "op": "grayscale" }] } }),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let version_url = saved.json()["image_url"].as_str().unwrap().to_string();
    assert_eq!(stored_files(&app), 6, "two originals, two thumbnails, one version and its thumbnail");

    // 23 hours later nothing is due.
    let swept = app.retention.sweep(now() + 23 * HOUR).await.unwrap();
    assert_eq!((swept.unsaved_photos, swept.expired_versions), (0, 0));

    // After 25 hours the unsaved upload is gone, rows and files; the saved one stays.
    let swept = app.retention.sweep(now() + 25 * HOUR).await.unwrap();
    assert_eq!((swept.unsaved_photos, swept.expired_versions, swept.purged_objects), (1, 0, 2));
    assert_eq!(app.get(unsaved["original_url"].as_str().unwrap(), Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_form("photos/list", Some(&cookie), "").await.json().as_array().unwrap().len(), 1);
    assert_eq!(stored_files(&app), 4);
    assert_eq!(app.retention.sweep(now() + 25 * HOUR).await.unwrap(), Default::default(), "idempotent");

    // After the saved period the version goes, and with it the original it was made from.
    let swept = app.retention.sweep(now() + 181 * DAY).await.unwrap();
    assert_eq!((swept.unsaved_photos, swept.expired_versions, swept.purged_objects), (1, 1, 4));
    assert_eq!(app.get(&version_url, Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_form("gallery/list", Some(&cookie), "").await.json(), json!([]));
    assert_eq!(stored_files(&app), 0);
}

async fn a_purge_interrupted_by_a_crash_is_finished_by_the_next_sweep(app: TestApp) {
    // A row deleted and its file queued, but the process died before storage was told.
    let (_, photo) = app.new_owner_with_photo("chelsea.png").await;
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (key,): (String,) = sqlx::query_as("SELECT object_key FROM photos").fetch_one(&pool).await.unwrap();
    sqlx::query("INSERT INTO purge_queue (object_key, queued_at) VALUES ($1, 0)")
        .bind(&key)
        .execute(&pool)
        .await
        .unwrap();
    assert!(app.settings.storage_dir().join(&key).exists());
    let swept = app.retention.sweep(now()).await.unwrap();
    assert_eq!(swept.purged_objects, 1);
    assert!(!app.settings.storage_dir().join(&key).exists());
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM purge_queue").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 0);
    let _ = photo;
}

/// The promise holds to the second, not to the hour: the next sweep is scheduled for the
/// moment the oldest unsaved upload falls due, and that sweep deletes it.
async fn the_next_sweep_runs_when_the_oldest_upload_falls_due(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (uploaded,): (i64,) = sqlx::query_as("SELECT created_at FROM photos").fetch_one(&pool).await.unwrap();
    let due = uploaded + DAY;
    // Swept 40 minutes before it is due: the next sweep is at the due time, not an hour later.
    let next = app.retention.next_sweep(due - 40 * 60, HOUR).await.unwrap();
    assert_eq!(next, due + 1);
    assert_eq!(app.retention.sweep(next - 2).await.unwrap().unsaved_photos, 0, "not before its time");
    assert_eq!(app.retention.sweep(next).await.unwrap().unsaved_photos, 1);
    assert_eq!(app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    // With nothing left to fall due, the sweep still looks again within the hour.
    let now = now();
    assert!(app.retention.next_sweep(now, HOUR).await.unwrap() <= now + HOUR);
}

on_both_databases!(
    the_next_sweep_runs_when_the_oldest_upload_falls_due,
    unsaved_uploads_go_after_a_day_saved_versions_after_their_period,
    a_purge_interrupted_by_a_crash_is_finished_by_the_next_sweep,
);
