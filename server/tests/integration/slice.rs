//! The foundation slice through the real router and a real database: upload, ownership,
//! thumbnails, saving an edit to the gallery, and every way an upload can be wrong.

use crate::support::{fixture, TestApp};
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

fn decode(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("a decodable image")
}

/// A PNG whose header claims 30000×30000 pixels, followed by a small deflate stream of zeros.
fn png_bomb() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let side: u32 = 30_000;
    let mut header = Vec::new();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let zeros = vec![0u8; 4 << 20];
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 9);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &compressed);
    chunk(&mut png, b"IEND", &[]);
    png
}

async fn upload_is_accepted_listed_and_thumbnailed(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    assert_eq!((photo["width"].as_u64(), photo["height"].as_u64()), (Some(512), Some(512)));
    assert_eq!(photo["name"], "astronaut.png");
    let id = photo["id"].as_str().unwrap();

    let listed = app.call_form("photos/list", Some(&cookie), "").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()[0]["id"], id);

    let thumb = app.get(photo["thumbnail_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.headers["content-type"], "image/jpeg");
    assert_eq!(thumb.headers["x-content-type-options"], "nosniff");
    let thumb = decode(&thumb.body);
    assert!(thumb.width() <= 360 && thumb.height() <= 360 && thumb.width() > 100);

    let original = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
    assert_eq!(original.status, StatusCode::OK);
    assert!(original.headers["content-disposition"].to_str().unwrap().contains("astronaut.png"));
    assert_eq!(decode(&original.body).width(), 512);

    // The server-rendered workspace lists it too.
    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains(&format!("/media/photos/{id}/thumbnail")));
}

async fn a_png_renamed_to_jpg_is_handled_by_its_content(app: TestApp) {
    let reply = app.upload(None, "coffee.jpg", fixture("coffee.png")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    let expected = decode(&fixture("coffee.png"));
    assert_eq!(reply.json()["width"].as_u64(), Some(u64::from(expected.width())));
    assert_eq!(reply.json()["height"].as_u64(), Some(u64::from(expected.height())));
}

async fn html_renamed_to_jpg_is_refused_with_415(app: TestApp) {
    let reply = app.upload(None, "cat.jpg", b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec()).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.json()["error"].as_str().unwrap().contains("JPEG, PNG, WebP, HEIC and AVIF"));
    assert!(reply.session_cookie().is_none(), "a refused upload creates no owner or session");
}

async fn an_svg_is_refused_with_415(app: TestApp) {
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#;
    assert_eq!(app.upload(None, "logo.png", svg.to_vec()).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn a_30000_pixel_square_png_bomb_is_refused_cleanly(app: TestApp) {
    let reply = app.upload(None, "bomb.png", png_bomb()).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    assert!(reply.json()["error"].as_str().unwrap().contains("30000×30000"));
    // The server is still fine afterwards.
    app.new_owner_with_photo("chelsea.png").await;
}

async fn a_truncated_png_is_a_clear_400(app: TestApp) {
    let png = fixture("coffee.png");
    let reply = app.upload(None, "cut.png", png[..png.len() / 2].to_vec()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["error"].as_str().unwrap().contains("damaged or truncated"));
}

async fn exif_orientation_is_applied_on_upload(app: TestApp) {
    // Stored sideways (300×451) with Orientation = 6: it must come out upright, 451×300.
    let (cookie, photo) = app.new_owner_with_photo("chelsea-exif-rotated.jpg").await;
    assert_eq!((photo["width"].as_u64(), photo["height"].as_u64()), (Some(451), Some(300)));
    let original = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
    // Kept as it came (no re-encoding), with only its orientation left in a minimal EXIF block:
    // shown upright by browsers and by the server's own decode.
    let stored = server::platform::images::decode(&original.body, 100_000_000).unwrap();
    assert_eq!((stored.width(), stored.height()), (451, 300));
    assert_eq!(decode(&original.body).width(), 300, "the coded pixels are the upload's, sideways");
    let exif = original.body.windows(6).position(|w| w == b"Exif\0\0").expect("the orientation is kept");
    assert_eq!(&original.body[exif - 4..exif - 2], &[0xFF, 0xE1]);
    assert_eq!(u16::from_be_bytes([original.body[exif - 2], original.body[exif - 1]]), 34, "one tag, nothing else");
}

async fn another_owner_gets_404_and_a_bad_link_403_for_photos_thumbnails_and_versions(app: TestApp) {
    let (alice, photo) = app.new_owner_with_photo("astronaut.png").await;
    let (bob, bobs_photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let saved = app.call_json("gallery/save", Some(&alice), json!({ "photo": id, "recipe": { "ops": [] } })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let version = saved.json()["id"].as_str().unwrap().to_string();
    let item = saved.json();

    for signed in [&photo["original_url"], &photo["thumbnail_url"], &item["image_url"], &item["thumbnail_url"]] {
        let signed = signed.as_str().unwrap();
        let bare = signed.split('?').next().unwrap();
        assert_eq!(app.get(signed, Some(&alice)).await.status, StatusCode::OK, "{signed} for its owner");
        // Alice's valid link in Bob's session, or in none, finds nothing: 404, as SECURITY.md says.
        assert_eq!(app.get(signed, Some(&bob)).await.status, StatusCode::NOT_FOUND, "{signed} for another owner");
        assert_eq!(app.get(signed, None).await.status, StatusCode::NOT_FOUND, "{signed} without a session");
        assert_eq!(app.get(bare, Some(&alice)).await.status, StatusCode::FORBIDDEN, "{bare} unsigned");
    }
    // Bob's own valid link with Alice's photo id swapped in fails the signature.
    let bobs_link = bobs_photo["original_url"].as_str().unwrap();
    let forged = bobs_link.replace(bobs_photo["id"].as_str().unwrap(), id);
    assert_eq!(app.get(&forged, Some(&bob)).await.status, StatusCode::FORBIDDEN);
    let peek = app.call_form("photos/get", Some(&bob), &format!("id={id}")).await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
    let listed = app.call_form("photos/list", Some(&bob), "").await.json();
    assert!(listed.as_array().unwrap().iter().all(|p| p["id"] != id));
    let delete = app.call_form("gallery/delete", Some(&bob), &format!("id={version}")).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(item["image_url"].as_str().unwrap(), Some(&alice)).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/photos/{id}"), Some(&bob)).await.status, StatusCode::NOT_FOUND);
}

async fn saving_replays_the_recipe_on_the_original_and_deleting_removes_it(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    let recipe = json!({ "ops": [
        { "op": "crop", "x": 10, "y": 20, "width": 300, "height": 200 },
        { "op": "rotate", "quarter_turns": 1 },
        { "op": "grayscale" },
    ]});
    let saved = app.call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": recipe.clone() })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let item = saved.json();
    assert_eq!((item["width"].as_u64(), item["height"].as_u64()), (Some(200), Some(300)));
    assert_eq!(item["recipe"], recipe, "the recipe is kept with the version, to be changed later");
    assert_eq!(item["photo_id"], id);
    let version = item["id"].as_str().unwrap();

    let image = app.get(item["image_url"].as_str().unwrap(), Some(&cookie)).await;
    let image = decode(&image.body).to_rgb8();
    assert_eq!(image.dimensions(), (200, 300));
    let colourful = image.pixels().filter(|p| p[0].abs_diff(p[1]) > 8 || p[1].abs_diff(p[2]) > 8).count();
    assert!(colourful < 10, "{colourful} pixels are still in colour after grayscale");

    let reopened = app.call_form("gallery/get", Some(&cookie), &format!("id={version}")).await;
    assert_eq!(reopened.json()["recipe"], recipe);
    let (stranger, _) = app.new_owner_with_photo("coffee.png").await;
    assert_eq!(
        app.call_form("gallery/get", Some(&stranger), &format!("id={version}")).await.status,
        StatusCode::NOT_FOUND
    );

    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    assert_eq!(gallery.as_array().unwrap().len(), 1);
    assert_eq!(gallery[0]["name"], "chelsea.png");
    let page = app.get("/gallery", Some(&cookie)).await;
    assert!(String::from_utf8_lossy(&page.body).contains(&format!("/media/versions/{version}/thumbnail")));

    let deleted = app.call_form("gallery/delete", Some(&cookie), &format!("id={version}")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(app.call_form("gallery/list", Some(&cookie), "").await.json(), json!([]));
    assert_eq!(app.get(item["image_url"].as_str().unwrap(), Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    // Its files are purged at once, through the purge queue; the original is untouched.
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM purge_queue").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 0);
    assert!(!app.settings.storage_dir().join("owners").read_dir().unwrap().flatten().any(|owner| owner
        .path()
        .join("versions")
        .join(version)
        .join("image")
        .exists()));
    assert_eq!(app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.status, StatusCode::OK);
}

async fn an_invalid_recipe_is_a_typed_error_and_stores_nothing(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let recipe = json!({ "ops": [{ "op": "crop", "x": 400, "y": 0, "width": 100, "height": 100 }] });
    let reply = app.call_json("gallery/save", Some(&cookie), json!({ "photo": photo["id"], "recipe": recipe })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["Recipe"]["CropOutside"].is_object(), "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(app.call_form("gallery/list", Some(&cookie), "").await.json(), json!([]));
}

async fn opening_the_workspace_first_keeps_parallel_uploads_together(app: TestApp) {
    let opened = app.call_form("workspace/open", None, "").await;
    assert_eq!(opened.status, StatusCode::OK);
    let cookie = opened.session_cookie().expect("opening the workspace starts a session");
    for name in ["chelsea.png", "coffee.png"] {
        let reply = app.upload(Some(&cookie), name, fixture(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert!(reply.session_cookie().is_none(), "the session is reused, not replaced");
    }
    let again = app.call_form("workspace/open", Some(&cookie), "").await;
    assert_eq!(again.status, StatusCode::OK);
    let listed = app.call_form("photos/list", Some(&cookie), "").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

async fn health_reports_the_database(app: TestApp) {
    let reply = app.get("/healthz", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}

async fn the_session_cookie_is_http_only_and_same_site_lax(app: TestApp) {
    let reply = app.upload(None, "chelsea.png", fixture("chelsea.png")).await;
    let cookie = reply.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
}

async fn cross_site_writes_are_refused_with_403_and_store_nothing(app: TestApp) {
    use axum::body::Body;
    use axum::http::Request;
    let upload = |origin_headers: &[(&str, &str)]| {
        let mut request = Request::post("/api/photos").header("host", "127.0.0.1:3000");
        for (name, value) in origin_headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from(fixture("chelsea.png"))).unwrap()
    };
    let refused = app.send(upload(&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.session_cookie().is_none());
    assert_eq!(app.send(upload(&[("origin", "https://evil.example")])).await.status, StatusCode::FORBIDDEN);

    let accepted = app.send(upload(&[("sec-fetch-site", "same-origin"), ("origin", "http://127.0.0.1:3000")])).await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    let cookie = accepted.session_cookie().unwrap();
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let thumbnail_url = accepted.json()["thumbnail_url"].as_str().unwrap().to_string();

    // Server functions too: a cross-site save is refused before it runs.
    let save = Request::post("/api/gallery/save")
        .header("content-type", "application/json")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(json!({ "photo": id, "recipe": { "ops": [] } }).to_string()))
        .unwrap();
    assert_eq!(app.send(save).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call_form("gallery/list", Some(&cookie), "").await.json(), json!([]));
    // Reading stays possible (GET is never state-changing here).
    let thumb = Request::get(thumbnail_url)
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(thumb).await.status, StatusCode::OK);
}

on_both_databases!(
    cross_site_writes_are_refused_with_403_and_store_nothing,
    upload_is_accepted_listed_and_thumbnailed,
    a_png_renamed_to_jpg_is_handled_by_its_content,
    html_renamed_to_jpg_is_refused_with_415,
    an_svg_is_refused_with_415,
    a_30000_pixel_square_png_bomb_is_refused_cleanly,
    a_truncated_png_is_a_clear_400,
    exif_orientation_is_applied_on_upload,
    another_owner_gets_404_and_a_bad_link_403_for_photos_thumbnails_and_versions,
    saving_replays_the_recipe_on_the_original_and_deleting_removes_it,
    an_invalid_recipe_is_a_typed_error_and_stores_nothing,
    health_reports_the_database,
    opening_the_workspace_first_keeps_parallel_uploads_together,
    the_session_cookie_is_http_only_and_same_site_lax,
);

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_413() {
    let app = TestApp::sqlite_with(|settings| settings.limits.max_upload_bytes = 100 * 1024).await;
    let reply = app.upload(None, "astronaut.png", fixture("astronaut.png")).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.json()["error"].as_str().unwrap().contains("too large"));

    // Without a Content-Length the body is still cut off at the limit.
    let request =
        axum::http::Request::post("/api/photos").body(axum::body::Body::from(fixture("astronaut.png"))).unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_owner_over_the_photo_quota_is_refused() {
    let app = TestApp::sqlite_with(|settings| settings.limits.max_photos_per_guest = 1).await;
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let reply = app.upload(Some(&cookie), "coffee.png", fixture("coffee.png")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.json()["error"].as_str().unwrap().contains("limit"));
}

#[tokio::test]
async fn sessions_survive_a_restart_because_they_live_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = server::config::Settings::default();
    settings.server.addr = "127.0.0.1:0".parse().unwrap();
    settings.storage.data_dir = dir.path().join("data");
    settings.storage.key_file = dir.path().join("keys/keyring");
    let first = server::Application::build(settings.clone()).await.unwrap();
    let reply = tower::ServiceExt::oneshot(
        first.router(),
        axum::http::Request::post("/api/photos").body(axum::body::Body::from(fixture("chelsea.png"))).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let sent = axum::body::to_bytes(reply.into_body(), usize::MAX).await.unwrap();
    let url = serde_json::from_slice::<serde_json::Value>(&sent).unwrap()["original_url"].as_str().unwrap().to_string();
    drop(first);

    let second = server::Application::build(settings).await.unwrap();
    let list = tower::ServiceExt::oneshot(
        second.router(),
        axum::http::Request::post("/api/photos/list")
            .header("cookie", &cookie)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let body = axum::body::to_bytes(list.into_body(), usize::MAX).await.unwrap();
    let photos: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(photos.as_array().map(Vec::len), Some(1), "{photos}");
    // The keyring outlives the process too: the encrypted original still opens, and a link
    // issued before the restart still works until it expires.
    let media = tower::ServiceExt::oneshot(
        second.router(),
        axum::http::Request::get(url).header("cookie", &cookie).body(axum::body::Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(media.status(), StatusCode::OK);
}
