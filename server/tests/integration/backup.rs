//! `atelier backup DIR` / `atelier restore DIR` as an operator runs them: the real binary backs
//! up a live server's data, restores it into a fresh data directory, and a server started there
//! serves every photo and saved edit byte for byte. A restore refuses a non-empty target, a
//! keyring without the backup's keys and a damaged backup, leaving nothing behind. With objects
//! in S3 or the database on Postgres, both commands refuse and point to the README's procedure.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::process::{client, RealProcess};
use crate::support::{fixture, TestApp};

on_both_databases!(backup_restores_every_photo);

struct Run {
    success: bool,
    text: String,
}

/// Runs `atelier COMMAND DIR` with `env` on top of the test's settings.
async fn atelier(app: &TestApp, command: &str, dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut process = app.atelier(command);
    process.arg(dir);
    for (name, value) in env {
        process.env(name, value);
    }
    let output = process.output().await.expect("atelier runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Run { success: output.status.success(), text }
}

/// Every image the visitor can fetch (originals, thumbnails, saved versions), by what it is.
async fn media_in_process(app: &TestApp, cookie: &str) -> BTreeMap<String, Vec<u8>> {
    let mut media = BTreeMap::new();
    for (what, url) in links(
        app.call_form("photos/list", Some(cookie), "").await.json(),
        app.call_form("gallery/list", Some(cookie), "").await.json(),
    ) {
        let reply = app.get(&url, Some(cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", String::from_utf8_lossy(&reply.body));
        media.insert(what, reply.body);
    }
    media
}

/// The same over HTTP from a running `atelier serve`.
async fn media_over_http(base: &str, cookie: &str) -> BTreeMap<String, Vec<u8>> {
    let http = client();
    let call = |endpoint: &str| {
        http.post(format!("{base}/api/{endpoint}"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .send()
    };
    let photos = call("photos/list").await.unwrap().json().await.unwrap();
    let gallery = call("gallery/list").await.unwrap().json().await.unwrap();
    let mut media = BTreeMap::new();
    for (what, url) in links(photos, gallery) {
        let reply = http.get(format!("{base}{url}")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{what}");
        media.insert(what, reply.bytes().await.unwrap().to_vec());
    }
    media
}

/// (what, signed link) for each photo's original and thumbnail and each saved version's image
/// and thumbnail; links differ between answers (they expire), so they are keyed by id.
fn links(photos: serde_json::Value, gallery: serde_json::Value) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for photo in photos.as_array().expect("a photo list") {
        for field in ["original_url", "thumbnail_url"] {
            links.push((format!("photo {} {field}", photo["id"]), photo[field].as_str().unwrap().to_string()));
        }
    }
    for item in gallery.as_array().expect("a gallery") {
        for field in ["image_url", "thumbnail_url"] {
            links.push((format!("version {} {field}", item["id"]), item[field].as_str().unwrap().to_string()));
        }
    }
    links
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("atelier.db").display())
}

async fn backup_restores_every_photo(app: TestApp) {
    let root = tempfile::tempdir().unwrap();
    let backup_dir = root.path().join("backup");
    if !app.settings.database_url().expose_secret().starts_with("sqlite:") {
        for command in ["backup", "restore"] {
            let run = atelier(&app, command, &backup_dir, &[]).await;
            assert!(!run.success, "{command} ran on Postgres: {}", run.text);
            assert!(run.text.contains("pg_dump") && run.text.contains("README"), "{}", run.text);
        }
        assert!(!backup_dir.exists(), "a refused backup wrote nothing");
        return;
    }

    // Objects in a bucket: refused before anything is written (the setting alone decides).
    let run = atelier(&app, "backup", &backup_dir, &[("ATELIER_STORAGE_URL", "s3://atelier-backup-test")]).await;
    assert!(!run.success && run.text.contains("S3") && run.text.contains("README"), "{}", run.text);
    assert!(!backup_dir.exists(), "a refused backup wrote nothing");

    // A visitor with three photos and a saved edit, on the server that keeps running below.
    let (cookie, first) = app.new_owner_with_photo("chelsea.jpg").await;
    for name in ["coffee.png", "portrait.jpg"] {
        let reply = app.upload(Some(&cookie), name, fixture(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    }
    let recipe = json!({ "ops": [{ "op": "rotate", "quarter_turns": 1 }, { "op": "grayscale" }] });
    let reply = app.call_json("gallery/save", Some(&cookie), json!({ "photo": first["id"], "recipe": recipe })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let before = media_in_process(&app, &cookie).await;
    assert_eq!(before.len(), 3 * 2 + 2, "three originals and thumbnails, one saved version and its thumbnail");

    let run = atelier(&app, "backup", &backup_dir, &[]).await;
    assert!(run.success, "{}", run.text);
    assert!(
        run.text.contains("WARNING") && run.text.contains("NOT in this backup"),
        "the keyring warning: {}",
        run.text
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"]["photos"], 3);
    assert_eq!(manifest["rows"]["versions"], 1);
    let keys = server::platform::crypto::Keyring::load(&app.settings.storage.key_file).unwrap();
    assert_eq!(manifest["required_key_ids"], json!(keys.ids()), "the key ids the objects need, recorded");
    let keyring = std::fs::read_to_string(&app.settings.storage.key_file).unwrap();
    let key_material: Vec<&str> = keyring.lines().filter_map(|line| line.split_whitespace().nth(2)).collect();
    let everything = std::fs::read_to_string(backup_dir.join("manifest.json")).unwrap();
    assert!(key_material.iter().all(|key| !everything.contains(key)), "no key material in the manifest");
    assert!(!backup_dir.join("keyring").exists());
    let again = atelier(&app, "backup", &backup_dir, &[]).await;
    assert!(!again.success && again.text.contains("not empty"), "{}", again.text);

    // Restored into a fresh data directory beside the same keyring, a new server serves it all.
    let fresh = root.path().join("restored");
    let (fresh_dir, fresh_url) = (fresh.to_str().unwrap().to_string(), sqlite_url(&fresh));
    let env = [("ATELIER_DATA_DIR", fresh_dir.as_str()), ("ATELIER_DATABASE_URL", fresh_url.as_str())];
    let run = atelier(&app, "restore", &backup_dir, &env).await;
    assert!(run.success, "{}", run.text);
    let restored = RealProcess::serve(&app, &env).await;
    let after = media_over_http(&restored.base, &cookie).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for (what, bytes) in &before {
        assert!(after[what] == *bytes, "{what} differs after the restore");
    }
    drop(restored);

    // Never over existing data.
    let run = atelier(&app, "restore", &backup_dir, &env).await;
    assert!(!run.success && run.text.contains("fresh setup"), "{}", run.text);

    // Another keyring lacks the keys the photos are sealed with: refused, nothing written.
    let other_keys = root.path().join("other-keys/keyring");
    server::platform::crypto::Keyring::load_or_create(&other_keys).unwrap();
    let elsewhere = root.path().join("elsewhere");
    let (elsewhere_dir, elsewhere_url) = (elsewhere.to_str().unwrap().to_string(), sqlite_url(&elsewhere));
    let other_env = [
        ("ATELIER_DATA_DIR", elsewhere_dir.as_str()),
        ("ATELIER_DATABASE_URL", elsewhere_url.as_str()),
        ("ATELIER_KEY_FILE", other_keys.to_str().unwrap()),
    ];
    let run = atelier(&app, "restore", &backup_dir, &other_env).await;
    assert!(!run.success, "{}", run.text);
    assert!(run.text.contains("lacks the key") && run.text.contains(keys.active_id()), "{}", run.text);
    assert!(!elsewhere.exists(), "a refused restore wrote nothing");

    // A damaged backup: the copy stops at the damaged file and what it wrote is removed.
    let object = manifest["objects"][0]["path"].as_str().unwrap();
    let mut bytes = std::fs::read(backup_dir.join(object)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(backup_dir.join(object), bytes).unwrap();
    let env = [("ATELIER_DATA_DIR", elsewhere_dir.as_str()), ("ATELIER_DATABASE_URL", elsewhere_url.as_str())];
    let run = atelier(&app, "restore", &backup_dir, &env).await;
    assert!(!run.success && run.text.contains("damaged"), "{}", run.text);
    assert!(!elsewhere.exists(), "the failed restore was undone");
}
