//! The privacy lifecycle (issue 7; SECURITY.md "Data lifecycle" 3–9) through the real router on
//! SQLite and Postgres: encryption at rest and key rotation, signed links, usage metering, the
//! audit log, "Download my data" and "Delete my account".

use secrecy::ExposeSecret;
use std::io::Read;
use std::time::Duration;

use crate::support::{account, fixture, form, TestApp};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

fn url(value: &Value) -> &str {
    value.as_str().expect("a signed link")
}

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap()
}

/// Every file under the storage directory, relative to it.
fn stored_files(app: &TestApp) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.push(entry.path().strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.settings.storage_dir(), &app.settings.storage_dir(), &mut out);
    out
}

/// Makes a cookie choice; returns the consent cookie (`name=value`) the server set.
async fn choose_consent(app: &TestApp, cookie: &str, choice: &str) -> String {
    let request = Request::post("/consent")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(format!("choice={choice}&return_to=/")))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("atelier_consent="))
        .and_then(|v| v.split(';').next())
        .expect("a consent cookie")
        .to_string()
}

async fn sign_in(app: &TestApp, email: &str) -> crate::support::Reply {
    app.call_form("auth/signin", None, &form(&[("email", email), ("password", crate::support::PASSWORD)])).await
}

async fn owner_of(app: &TestApp, photo: &str) -> String {
    let row =
        sqlx::query("SELECT owner_id FROM photos WHERE id = $1").bind(photo).fetch_one(&pool(app).await).await.unwrap();
    row.try_get("owner_id").unwrap()
}

async fn stored_objects_are_encrypted_bound_to_their_key_and_survive_rotation(app: TestApp) {
    let (cookie, first) = app.new_owner_with_photo("astronaut.png").await;
    let second = app.upload(Some(&cookie), "coffee.png", fixture("coffee.png")).await.json();
    let storage = app.settings.storage_dir();
    let key = |photo: &Value| format!("owners/{}/photos/{}/original", "{owner}", photo["id"].as_str().unwrap());
    let owner = owner_of(&app, first["id"].as_str().unwrap()).await;
    let path = |photo: &Value| storage.join(key(photo).replace("{owner}", &owner));
    let original = app.get(url(&first["original_url"]), Some(&cookie)).await.body;

    // On disk: neither the PNG signature nor any long run of the served bytes.
    let raw = std::fs::read(path(&first)).unwrap();
    assert!(raw.starts_with(b"ATL1"));
    assert!(!raw.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"));
    assert!(!raw.windows(64).any(|w| w == &original[1000..1064]));

    // Swapping two objects' files: both fail, neither serves the other's picture.
    let (a, b) = (path(&first), path(&second));
    let (bytes_a, bytes_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, &bytes_b).unwrap();
    std::fs::write(&b, &bytes_a).unwrap();
    assert_eq!(app.get(url(&first["original_url"]), Some(&cookie)).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.get(url(&second["original_url"]), Some(&cookie)).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    std::fs::write(&a, &bytes_a).unwrap();
    std::fs::write(&b, &bytes_b).unwrap();

    // One flipped byte in the body fails too, and the error says nothing of why.
    let mut flipped = bytes_a.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(&a, &flipped).unwrap();
    let reply = app.get(url(&first["original_url"]), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!String::from_utf8_lossy(&reply.body).contains("authentication"));
    std::fs::write(&a, &bytes_a).unwrap();
    assert_eq!(app.get(url(&first["original_url"]), Some(&cookie)).await.body, original);

    // Rotation: a new key-encryption key wraps every data key; the old one can then go.
    let before = server::platform::crypto::Keyring::kek_of(&bytes_a).unwrap();
    let storage_api = &app.data.photos.storage;
    let (new_id, done) = storage_api.rotate().await.unwrap();
    assert_ne!(new_id, before);
    assert_eq!((done.rewrapped, done.already_current, done.sealed_legacy), (4, 0, 0), "two originals, two thumbnails");
    assert_eq!(storage_api.rewrap_all().await.unwrap().rewrapped, 0, "a second run has nothing left to do");
    assert!(storage_api.retire(&before).await.unwrap());
    let keyring = std::fs::read_to_string(&app.settings.storage.key_file).unwrap();
    assert!(!keyring.contains(&before) && keyring.contains(&new_id));
    let rotated = std::fs::read(&a).unwrap();
    assert_eq!(server::platform::crypto::Keyring::kek_of(&rotated).as_deref(), Some(new_id.as_str()));
    assert_eq!(&rotated[rotated.len() - 100..], &bytes_a[bytes_a.len() - 100..], "bodies are not re-encrypted");
    // The signing key rotated too: links handed out before die, fresh ones serve the same bytes.
    assert_eq!(app.get(url(&first["original_url"]), Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    let fresh = |id: &Value| photos.as_array().unwrap().iter().find(|p| p["id"] == *id).unwrap().clone();
    assert_eq!(app.get(url(&fresh(&first["id"])["original_url"]), Some(&cookie)).await.body, original);
    assert_eq!(app.get(url(&fresh(&second["id"])["thumbnail_url"]), Some(&cookie)).await.status, StatusCode::OK);
}

async fn signed_links_are_bound_expire_and_refuse_tampering(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let link = url(&photo["original_url"]).to_string();
    assert!(link.contains("?exp=") && link.contains("&sig="), "{link}");
    assert_eq!(app.get(&link, Some(&cookie)).await.status, StatusCode::OK);

    let exp: i64 = link.split("exp=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let now = server::platform::db::now();
    assert!((exp - now - 3600).abs() <= 5, "links last an hour by default");
    let later = link.replace(&format!("exp={exp}"), &format!("exp={}", exp + 86_400));
    assert_eq!(app.get(&later, Some(&cookie)).await.status, StatusCode::FORBIDDEN, "extended expiry");
    let sig = link.split("sig=").nth(1).unwrap();
    let flipped = format!("{}{}", &sig[..63], if sig.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        app.get(&link.replace(sig, &flipped), Some(&cookie)).await.status,
        StatusCode::FORBIDDEN,
        "changed signature"
    );
    let thumbnail_path = link.replace("/original?", "/thumbnail?");
    assert_eq!(app.get(&thumbnail_path, Some(&cookie)).await.status, StatusCode::FORBIDDEN, "another object");

    // A correctly signed link whose time is up.
    let path = link.split('?').next().unwrap();
    let expired = app.data.photos.links.sign_until(path, now - 1);
    assert_eq!(app.get(&expired, Some(&cookie)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&app.data.photos.links.sign_until(path, now + 60), Some(&cookie)).await.status, StatusCode::OK);

    // Links in pages are issued fresh on each render.
    let page = String::from_utf8(app.get("/", Some(&cookie)).await.body).unwrap();
    assert!(page.contains(&format!("{path}?exp=")), "the workspace page carries signed links");
}

async fn usage_is_metered_by_tool_and_size_never_content(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let saved = app
        .call_json(
            "gallery/save",
            Some(&cookie),
            json!({ "photo": photo["id"], "recipe": { "ops": [
        { "op": "crop", "x": 0, "y": 0, "width": 200, "height": 100 }
    ] } }),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK);
    let usage = app.call_form("data/usage", Some(&cookie), "").await.json();
    let recent = usage["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "{usage}");
    let edit = recent.iter().find(|r| r["tool"] == "edit").unwrap();
    assert_eq!((edit["input_width"].as_u64(), edit["input_height"].as_u64()), (Some(512), Some(512)));
    assert_eq!((edit["output_width"].as_u64(), edit["output_height"].as_u64()), (Some(200), Some(100)));
    assert_eq!(edit["credits"], 1);
    let upload = recent.iter().find(|r| r["tool"] == "upload").unwrap();
    assert_eq!(upload["credits"], 0);
    let by_day = usage["by_day"].as_array().unwrap();
    assert_eq!(by_day.len(), 2, "one row per day and tool: {usage}");
    assert_eq!(usage["total_credits"], 1);

    // The table holds numbers and tool names only: no file name, no recipe.
    let rows = sqlx::query("SELECT * FROM usage_records").fetch_all(&pool(&app).await).await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        for column in ["tool", "id", "owner_id"] {
            let text: Option<String> = row.try_get(column).unwrap();
            assert!(!text.unwrap_or_default().contains("astronaut"));
        }
    }
    // Nobody else sees it.
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    assert_eq!(app.call_form("data/usage", Some(&stranger), "").await.json()["recent"].as_array().unwrap().len(), 1);
}

async fn the_audit_log_records_security_events_for_their_owner_and_admins(app: TestApp) {
    let ada = account(&app, None, "ada@example.org").await;
    choose_consent(&app, &ada, "reject_all").await;
    let upload = app.upload(Some(&ada), "chelsea.png", fixture("chelsea.png")).await.json();
    let saved = app
        .call_json("gallery/save", Some(&ada), json!({ "photo": upload["id"], "recipe": { "ops": [] } }))
        .await
        .json();
    assert_eq!(
        app.call_form("gallery/delete", Some(&ada), &format!("id={}", saved["id"].as_str().unwrap())).await.status,
        StatusCode::OK
    );

    let log = app.call_form("data/audit", Some(&ada), "").await.json();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["signed_in", "consent_changed", "gallery_item_deleted"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    // Guests have no audit log; other people do not see Ada's; only admins see all.
    assert_eq!(app.call_form("data/audit", None, "").await.status, StatusCode::UNAUTHORIZED);
    let bob = account(&app, None, "bob@example.org").await;
    let bobs = app.call_form("data/audit", Some(&bob), "").await.json();
    assert!(bobs.as_array().unwrap().iter().all(|e| e["action"] == "signed_in"), "{bobs}");
    assert_eq!(app.call_form("admin/audit", Some(&bob), "").await.status, StatusCode::NOT_FOUND);
    let ada_id = app.call_form("auth/me", Some(&ada), "").await.json()["id"].as_str().unwrap().to_string();
    let view = form(&[("account", &ada_id), ("reason", "support ticket 42")]);
    assert_eq!(app.call_form("admin/view-workspace", Some(&bob), &view).await.status, StatusCode::NOT_FOUND);

    let db = server::platform::db::Db::connect(app.settings.database_url().expose_secret()).await.unwrap();
    assert!(db.grant_admin("bob@example.org").await.unwrap());
    let all = app.call_form("admin/audit", Some(&bob), "").await.json();
    assert!(all.as_array().unwrap().iter().any(|e| e["account"] == ada_id.as_str()), "admins read everyone's entries");

    // Looking into Ada's workspace needs a reason, and leaves an entry Ada can read.
    let no_reason = form(&[("account", &ada_id), ("reason", " ")]);
    assert_eq!(app.call_form("admin/view-workspace", Some(&bob), &no_reason).await.status, StatusCode::BAD_REQUEST);
    let seen = app.call_form("admin/view-workspace", Some(&bob), &view).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", String::from_utf8_lossy(&seen.body));
    assert_eq!(seen.json()["photos"].as_array().unwrap().len(), 1);
    assert!(
        seen.json()["photos"][0]["original_url"].as_str().unwrap().is_empty(),
        "no links to the pictures themselves"
    );
    let log = app.call_form("data/audit", Some(&ada), "").await.json();
    let entry =
        log.as_array().unwrap().iter().find(|e| e["action"] == "admin_viewed_workspace").expect("the view is audited");
    assert!(entry["detail"].as_str().unwrap().contains("support ticket 42"));
    assert_ne!(entry["actor"], entry["account"]);
}

/// Starts an export and waits for it; returns the finished job.
async fn finished_export(app: &TestApp, cookie: &str) -> Value {
    let started = app.call_form("data/export", Some(cookie), "").await;
    assert_eq!(started.status, StatusCode::OK, "{}", String::from_utf8_lossy(&started.body));
    let id = started.json()["id"].as_str().unwrap().to_string();
    for _ in 0..300 {
        let jobs = app.call_form("data/exports", Some(cookie), "").await.json();
        let job = jobs.as_array().unwrap().iter().find(|j| j["id"] == id.as_str()).unwrap().clone();
        match job["state"].as_str().unwrap() {
            "done" => return job,
            "failed" => panic!("the export failed"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("the export did not finish");
}

async fn an_export_holds_every_row_and_file_of_the_user_and_nothing_of_others(app: TestApp) {
    let (stranger, strangers_photo) = app.new_owner_with_photo("chelsea.jpg").await;
    let ada = account(&app, None, "ada@example.org").await;
    choose_consent(&app, &ada, "accept_all").await;
    let first = app.upload(Some(&ada), "chelsea.png", fixture("chelsea.png")).await.json();
    let second = app.upload(Some(&ada), "coffee.png", fixture("coffee.png")).await.json();
    let recipe = json!({ "ops": [{ "op": "grayscale" }] });
    let saved =
        app.call_json("gallery/save", Some(&ada), json!({ "photo": first["id"], "recipe": recipe })).await.json();

    let job = finished_export(&app, &ada).await;
    assert_eq!(job["progress"], 100);
    let link = url(&job["download_url"]).to_string();
    assert_eq!(app.get(&link, Some(&stranger)).await.status, StatusCode::NOT_FOUND, "only for its owner");
    let archive = app.get(&link, Some(&ada)).await;
    assert_eq!(archive.status, StatusCode::OK);
    assert_eq!(archive.headers["content-type"], "application/zip");
    assert!(archive.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));

    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.body.clone())).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifest.json").unwrap().read_to_string(&mut manifest).unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["account"]["email"], "ada@example.org");
    assert_eq!(manifest["photos"].as_array().unwrap().len(), 2);
    assert_eq!(manifest["gallery"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["gallery"][0]["recipe"], recipe);
    assert_eq!(manifest["gallery"][0]["id"], saved["id"]);
    assert!(!manifest["sessions"].as_array().unwrap().is_empty());
    assert!(manifest["consent_records"].as_array().unwrap().iter().any(|r| r["action"] == "accept_all"));
    assert_eq!(manifest["usage"].as_array().unwrap().len(), 3, "two uploads and an edit");
    let audit: Vec<&str> =
        manifest["audit_log"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(audit.contains(&"signed_in") && audit.contains(&"export_requested"), "{audit:?}");
    // Every table the policy registry says is exported is in the archive.
    for table in server::platform::tables::TABLES {
        if let server::platform::tables::Export::Included(key) = table.export {
            let value = key.split('.').fold(&manifest, |value, part| &value[part]);
            assert!(!value.is_null(), "{} is declared exported as {key}, but the archive has no {key}", table.name);
        }
    }

    // Each file is there and is the very image the app serves.
    for photo in [&first, &second] {
        let served = app.get(url(&photo["original_url"]), Some(&ada)).await.body;
        let entry = manifest["photos"].as_array().unwrap().iter().find(|p| p["id"] == photo["id"]).unwrap();
        let mut bytes = Vec::new();
        zip.by_name(entry["file"].as_str().unwrap()).unwrap().read_to_end(&mut bytes).unwrap();
        image::load_from_memory(&bytes).expect("an exported photo decodes");
        assert_eq!(bytes, served);
    }
    let mut edited = Vec::new();
    zip.by_name(manifest["gallery"][0]["file"].as_str().unwrap()).unwrap().read_to_end(&mut edited).unwrap();
    assert_eq!(edited, app.get(url(&saved["image_url"]), Some(&ada)).await.body);
    assert_eq!(zip.len(), 4, "manifest, two originals, one edit");

    // Nothing of anyone else.
    let text = manifest.to_string();
    assert!(!text.contains(strangers_photo["id"].as_str().unwrap()));
    let strangers_bytes = app.get(url(&strangers_photo["original_url"]), Some(&stranger)).await.body;
    assert!(!archive.body.windows(256).any(|w| w == &strangers_bytes[500..756]));

    let log = app.call_form("data/audit", Some(&ada), "").await.json();
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "export_downloaded"));

    // The archive is deleted a day after it was made, row and file.
    let swept = app.retention.sweep(server::platform::db::now() + 25 * 3600).await.unwrap();
    assert_eq!(swept.expired_exports, 1);
    assert_eq!(app.get(&link, Some(&ada)).await.status, StatusCode::NOT_FOUND);
    assert!(!stored_files(&app).iter().any(|f| f.contains("/exports/")));
}

/// Counts, for every table and column, the rows whose text contains `needle`.
async fn rows_mentioning(pool: &sqlx::AnyPool, postgres: bool, needle: &str) -> Vec<String> {
    let schema = crate::support::schema(pool, postgres).await;
    assert!(schema.len() >= 14, "{schema:?}");
    let mut found = Vec::new();
    for (table, columns) in schema {
        for column in columns {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE LOWER(CAST({column} AS TEXT)) LIKE $1");
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(format!("%{}%", needle.to_lowercase()))
                .fetch_one(pool)
                .await
                .unwrap()
                .try_get("n")
                .unwrap();
            if n > 0 {
                found.push(format!("{table}.{column}: {n}"));
            }
        }
    }
    found
}

async fn deleting_an_account_leaves_no_row_or_file_of_it(app: TestApp) {
    let postgres = app.settings.database_url().expose_secret().starts_with("postgres");
    let (stranger, strangers_photo) = app.new_owner_with_photo("chelsea.jpg").await;
    let (guest, _) = app.new_owner_with_photo("chelsea.png").await;
    let consent = choose_consent(&app, &guest, "accept_all").await;
    // Signing up adopts the guest workspace; a second browser signs in too.
    let ada = account(&app, Some(&guest), "ada@example.org").await;
    // The same browser's consent id, now linked to the account: erasure must take its records,
    // the one from before signing up included.
    choose_consent(&app, &format!("{ada}; {consent}"), "reject_all").await;
    let other_browser = sign_in(&app, "ada@example.org").await.session_cookie().unwrap();
    let me = app.call_form("auth/me", Some(&ada), "").await.json();
    let account_id = me["id"].as_str().unwrap().to_string();
    let photo = app.upload(Some(&ada), "coffee.png", fixture("coffee.png")).await.json();
    let owner = owner_of(&app, photo["id"].as_str().unwrap()).await;
    app.call_json("gallery/save", Some(&ada), json!({ "photo": photo["id"], "recipe": { "ops": [] } })).await;
    finished_export(&app, &ada).await;
    let pool = pool(&app).await;
    let consent_id: String = sqlx::query("SELECT consent_id FROM consent_records WHERE account_id = $1")
        .bind(&account_id)
        .fetch_optional(&pool)
        .await
        .unwrap()
        .map(|row| row.try_get("consent_id").unwrap())
        .unwrap_or_else(|| panic!("the consent choice was linked to the account"));
    let (usage_before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_records").fetch_one(&pool).await.unwrap();
    assert!(!rows_mentioning(&pool, postgres, &account_id).await.is_empty());
    assert!(stored_files(&app).iter().filter(|f| f.contains(&owner)).count() >= 5);

    // A wrong confirmation deletes nothing.
    let wrong = app.call_form("data/delete-account", Some(&ada), &form(&[("confirmation", "yes")])).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.json()["BadRequest"].as_str().is_some_and(|m| m.contains("e-mail"))
            || String::from_utf8_lossy(&wrong.body).contains("e-mail")
    );
    assert_eq!(app.call_form("auth/me", Some(&ada), "").await.json()["id"], account_id.as_str());

    let deleted = app.call_form("data/delete-account", Some(&ada), &form(&[("confirmation", "ADA@example.org")])).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", String::from_utf8_lossy(&deleted.body));

    for needle in [account_id.as_str(), owner.as_str(), "ada@example.org", consent_id.as_str()] {
        let left = rows_mentioning(&pool, postgres, needle).await;
        assert!(left.is_empty(), "rows still mention {needle}: {left:?}");
    }
    assert!(!stored_files(&app).iter().any(|f| f.contains(&owner)), "files left: {:?}", stored_files(&app));
    // Usage totals are kept, anonymised; the log says an erasure happened, not whose.
    let (usage_after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_records").fetch_one(&pool).await.unwrap();
    assert_eq!(usage_after, usage_before);
    let (erasures,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'account_deleted'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(erasures, 1);
    // Both browsers are signed out; the address can sign up afresh; others are untouched.
    for cookie in [&ada, &other_browser] {
        assert_eq!(app.call_form("auth/me", Some(cookie), "").await.json(), Value::Null);
    }
    assert_ne!(sign_in(&app, "ada@example.org").await.status, StatusCode::OK);
    assert_eq!(app.get(url(&strangers_photo["original_url"]), Some(&stranger)).await.status, StatusCode::OK);
}

async fn gallery_items_show_their_expiry_and_warn_before_it(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let saved = app
        .call_json("gallery/save", Some(&cookie), json!({ "photo": photo["id"], "recipe": { "ops": [] } }))
        .await
        .json();
    let created = saved["created_at"].as_i64().unwrap();
    assert_eq!(saved["expires_at"].as_i64(), Some(created + 180 * 86_400));
    assert_eq!(saved["expires_soon"], false);
    let page = String::from_utf8(app.get("/gallery", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("Kept until"), "the gallery shows when each item goes");
}

on_both_databases!(
    stored_objects_are_encrypted_bound_to_their_key_and_survive_rotation,
    signed_links_are_bound_expire_and_refuse_tampering,
    usage_is_metered_by_tool_and_size_never_content,
    the_audit_log_records_security_events_for_their_owner_and_admins,
    an_export_holds_every_row_and_file_of_the_user_and_nothing_of_others,
    deleting_an_account_leaves_no_row_or_file_of_it,
    gallery_items_show_their_expiry_and_warn_before_it,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_close_to_expiry_carry_a_warning() {
    let app = TestApp::sqlite_with(|settings| settings.retention.saved_retention_days = 10).await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let saved = app
        .call_json("gallery/save", Some(&cookie), json!({ "photo": photo["id"], "recipe": { "ops": [] } }))
        .await
        .json();
    assert_eq!(saved["expires_soon"], true);
    let page = String::from_utf8(app.get("/gallery", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("expiry-soon") && page.contains("download it"), "a visible warning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_page_states_the_live_periods() {
    let app = TestApp::sqlite_with(|settings| {
        settings.retention.export_retention_hours = 12;
        settings.retention.download_link_secs = 600;
        settings.retention.expiry_warning_days = 9;
        settings.retention.saved_retention_days = 90;
    })
    .await;
    let page = String::from_utf8(app.get("/privacy", None).await.body).unwrap();
    for promise in ["deleted 12 hours after it is ready", "after 10 minutes", "warns 9 days before", "kept for 90 days"]
    {
        assert!(page.contains(promise), "the privacy page lacks {promise:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_stored_before_encryption_are_sealed_by_rotation() {
    let app = TestApp::sqlite().await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let served = app.get(url(&photo["original_url"]), Some(&cookie)).await.body;
    // As an older version left it: the plain image on disk.
    let owner = owner_of(&app, photo["id"].as_str().unwrap()).await;
    let path =
        app.settings.storage_dir().join(format!("owners/{owner}/photos/{}/original", photo["id"].as_str().unwrap()));
    std::fs::write(&path, &served).unwrap();
    assert_eq!(app.get(url(&photo["original_url"]), Some(&cookie)).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, done) = app.data.photos.storage.rotate().await.unwrap();
    assert_eq!((done.sealed_legacy, done.rewrapped), (1, 1));
    assert!(std::fs::read(&path).unwrap().starts_with(b"ATL1"));
    // Rotation drew a new signing key too: the page's fresh link serves it.
    let fresh = app.call_form("photos/list", Some(&cookie), "").await.json()[0]["original_url"].clone();
    assert_eq!(app.get(url(&fresh), Some(&cookie)).await.body, served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_a_stopped_server_left_running_is_finished_after_restart() {
    let app = TestApp::sqlite().await;
    let ada = account(&app, None, "ada@example.org").await;
    app.upload(Some(&ada), "coffee.png", fixture("coffee.png")).await;
    let me = app.call_form("auth/me", Some(&ada), "").await.json();
    let owner: String = sqlx::query("SELECT owner_id FROM accounts WHERE id = $1")
        .bind(me["id"].as_str().unwrap())
        .fetch_one(&pool(&app).await)
        .await
        .unwrap()
        .try_get("owner_id")
        .unwrap();
    // The row a crashed server left behind: running, half done, no archive.
    sqlx::query("INSERT INTO export_jobs (id, account_id, owner_id, state, progress, created_at) VALUES ($1, $2, $3, 'running', 40, $4)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(me["id"].as_str().unwrap())
        .bind(&owner)
        .bind(server::platform::db::now())
        .execute(&pool(&app).await)
        .await
        .unwrap();
    assert_eq!(server::data::export::resume(&app.data).await.unwrap(), 1);
    for _ in 0..300 {
        let jobs = app.call_form("data/exports", Some(&ada), "").await.json();
        if jobs[0]["state"] == "done" {
            let archive = app.get(url(&jobs[0]["download_url"]), Some(&ada)).await;
            assert_eq!(zip::ZipArchive::new(std::io::Cursor::new(archive.body)).unwrap().len(), 2);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the resumed export did not finish");
}
