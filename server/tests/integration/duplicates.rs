//! Near-duplicates through the real router on SQLite and Postgres: a photo, a smaller re-encoded
//! copy and a blurred copy are one group with the sharp original first, an unrelated photo and
//! another owner's identical photo are never in it; keeping the best deletes the others with their
//! files; photos stored without a fingerprint are fingerprinted when the groups are looked at.

use secrecy::ExposeSecret;
use std::collections::BTreeSet;

use crate::support::{fixture, form, TestApp};
use axum::http::StatusCode;
use image::imageops::{self, FilterType};
use serde_json::Value;

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap()
}

fn jpeg(image: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(image).unwrap();
    bytes
}

fn png(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

async fn upload(app: &TestApp, cookie: &str, name: &str, data: Vec<u8>) -> String {
    let reply = app.upload(Some(cookie), name, data).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["id"].as_str().unwrap().to_string()
}

async fn report(app: &TestApp, cookie: &str) -> Value {
    let reply = app.call_form("duplicates/list", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

fn ids(group: &Value) -> Vec<String> {
    group["photos"].as_array().unwrap().iter().map(|p| p["photo"]["id"].as_str().unwrap().to_string()).collect()
}

async fn copies_are_one_group_best_first_and_keeping_the_best_deletes_the_others(app: TestApp) {
    let (cookie, original) = app.new_owner_with_photo("chelsea.png").await;
    let original = original["id"].as_str().unwrap().to_string();
    let chelsea = image::load_from_memory(&fixture("chelsea.png")).unwrap().to_rgb8();
    let (width, height) = chelsea.dimensions();
    let small = jpeg(&imageops::resize(&chelsea, width * 2 / 5, height * 2 / 5, FilterType::Lanczos3), 75);
    let small = upload(&app, &cookie, "chelsea-small.jpg", small).await;
    let blurred = upload(&app, &cookie, "chelsea-blurred.png", png(&imageops::blur(&chelsea, 3.0))).await;
    let coffee = upload(&app, &cookie, "coffee.png", fixture("coffee.png")).await;
    // Another owner's identical photo: never in this owner's groups, nor theirs in its.
    let (stranger, theirs) = app.new_owner_with_photo("chelsea.png").await;
    let theirs = theirs["id"].as_str().unwrap().to_string();

    // Fingerprinted when stored, before anyone looks.
    let db = pool(&app).await;
    for id in [&original, &small, &blurred, &coffee, &theirs] {
        let (phash,): (Option<String>,) =
            sqlx::query_as("SELECT phash FROM photos WHERE id = $1").bind(id).fetch_one(&db).await.unwrap();
        assert_eq!(phash.map(|h| h.len()), Some(16), "{id}");
    }
    let found = report(&app, &cookie).await;
    assert_eq!(found["unchecked"], 0, "{found}");
    let groups = found["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{found}");
    let group = &groups[0];
    assert_eq!(group["kind"], "copies");
    assert_eq!(ids(group)[0], original, "the sharp original is best: {group}");
    assert_eq!(
        ids(group).into_iter().collect::<BTreeSet<_>>(),
        [original.clone(), small.clone(), blurred.clone()].into_iter().collect(),
        "{group}"
    );
    let photos = group["photos"].as_array().unwrap();
    assert!(photos[0]["note"].as_str().unwrap().starts_with("Best"), "{group}");
    let blurred_entry = photos.iter().find(|p| p["photo"]["id"] == blurred.as_str()).unwrap();
    assert!(blurred_entry["note"].as_str().unwrap().contains("as sharp as the best"), "{blurred_entry}");
    assert!(blurred_entry["sharpness"].as_f64().unwrap() * 3.0 < photos[0]["sharpness"].as_f64().unwrap());
    assert!(!photos[0]["photo"]["thumbnail_url"].as_str().unwrap().is_empty(), "thumbnails are linked");
    assert_eq!(report(&app, &stranger).await["groups"], serde_json::json!([]), "one photo is no group");

    // A photo stored before fingerprints existed gets one when the groups are next looked at.
    sqlx::query("UPDATE photos SET phash = NULL, sharpness = NULL, exposure = NULL WHERE id = $1")
        .bind(&blurred)
        .execute(&db)
        .await
        .unwrap();
    let again = report(&app, &cookie).await;
    assert_eq!(again["groups"].as_array().unwrap().len(), 1, "{again}");
    assert_eq!(ids(&again["groups"][0]).len(), 3, "the blurred copy is fingerprinted again: {again}");
    let (phash,): (Option<String>,) =
        sqlx::query_as("SELECT phash FROM photos WHERE id = $1").bind(&blurred).fetch_one(&db).await.unwrap();
    assert_eq!(phash.map(|h| h.len()), Some(16));

    // Someone else's photo cannot be kept, nor deleted through a keep.
    let foreign = app.call_form("duplicates/keep", Some(&cookie), &form(&[("keep", &theirs), ("others", "")])).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let sneaky = form(&[("keep", &original), ("others", &format!("{theirs},{coffee}"))]);
    let reply = app.call_form("duplicates/keep", Some(&cookie), &sneaky).await;
    assert_eq!(reply.json(), 0, "neither a stranger's photo nor an unrelated one is deleted");

    let keep = form(&[("keep", &original), ("others", &format!("{small},{blurred}"))]);
    let reply = app.call_form("duplicates/keep", Some(&cookie), &keep).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json(), 2);
    let left: BTreeSet<String> = app
        .call_form("photos/list", Some(&cookie), "")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, [original.clone(), coffee.clone()].into_iter().collect());
    assert_eq!(report(&app, &cookie).await["groups"], serde_json::json!([]));
    // The deleted photos' files went through the purge queue and are gone; the others stay.
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM purge_queue").fetch_one(&db).await.unwrap();
    assert_eq!(queued, 0);
    let on_disk = |photo: &str| {
        std::fs::read_dir(app.settings.storage_dir().join("owners"))
            .unwrap()
            .flatten()
            .any(|owner| owner.path().join("photos").join(photo).join("original").exists())
    };
    assert!(!on_disk(&small) && !on_disk(&blurred), "the deleted photos' files are purged");
    assert!(on_disk(&original) && on_disk(&coffee) && on_disk(&theirs));
    let stranger_list = app.call_form("photos/list", Some(&stranger), "").await.json();
    assert_eq!(stranger_list.as_array().unwrap().len(), 1, "the other owner's photo is untouched");

    // Keeping a photo with no look-alikes left says so; a visitor with no workspace sees none.
    let lonely = app.call_form("duplicates/keep", Some(&cookie), &form(&[("keep", &original), ("others", "")])).await;
    assert_eq!(lonely.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&lonely.body).contains("no look-alikes"));
    let nobody = app.call_form("duplicates/list", None, "").await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert_eq!(nobody.json()["groups"], serde_json::json!([]));
}

/// `jpeg` with an EXIF block saying when the camera took it ("YYYY:MM:DD HH:MM:SS").
fn taken_at(jpeg: &[u8], when: &str) -> Vec<u8> {
    let field = exif::Field {
        tag: exif::Tag::DateTimeOriginal,
        ifd_num: exif::In::PRIMARY,
        value: exif::Value::Ascii(vec![when.as_bytes().to_vec()]),
    };
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&field);
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff.into_inner());
    let mut out = jpeg[..2].to_vec();
    out.extend([0xff, 0xe1]);
    out.extend(u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

async fn frames_alike_within_seconds_are_a_burst_and_a_minute_apart_are_not(app: TestApp) {
    let frame = |name: &str| image::load_from_memory(&fixture(name)).unwrap().to_rgb8();
    let first = taken_at(&jpeg(&frame("chelsea.png"), 90), "2026:05:01 10:00:00");
    let (cookie, first) = {
        let reply = app.upload(None, "frame-1.jpg", first).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        (reply.session_cookie().unwrap(), reply.json()["id"].as_str().unwrap().to_string())
    };
    let second =
        upload(&app, &cookie, "frame-2.jpg", taken_at(&jpeg(&frame("coffee.png"), 90), "2026:05:01 10:00:03")).await;
    let db = pool(&app).await;
    let (a, b): (Option<i64>, Option<i64>) = (
        sqlx::query_as("SELECT taken_at FROM photos WHERE id = $1")
            .bind(&first)
            .fetch_one(&db)
            .await
            .map(|(t,)| t)
            .unwrap(),
        sqlx::query_as("SELECT taken_at FROM photos WHERE id = $1")
            .bind(&second)
            .fetch_one(&db)
            .await
            .map(|(t,)| t)
            .unwrap(),
    );
    assert_eq!(b.unwrap() - a.unwrap(), 3, "the capture times are read from EXIF to the second");
    assert_eq!(report(&app, &cookie).await["groups"], serde_json::json!([]), "a cat and a coffee are not alike");

    // Two frames of a burst differ more than copies do: hashes 14 bits apart (set here, as real
    // frames of a moving scene would give), alike at the burst bound but not copies.
    let set = |id: String, phash: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query("UPDATE photos SET phash = $1 WHERE id = $2").bind(phash).bind(id).execute(&db).await.unwrap();
        }
    };
    set(first.clone(), "0000000000000000").await;
    set(second.clone(), "0000000000003fff").await;
    let found = report(&app, &cookie).await;
    let group = &found["groups"][0];
    assert_eq!(group["kind"], "burst", "{found}");
    assert!(group["why"].as_str().unwrap().contains("within 3 seconds"), "{group}");
    assert_eq!(ids(group).len(), 2);

    sqlx::query("UPDATE photos SET taken_at = taken_at + 60 WHERE id = $1").bind(&second).execute(&db).await.unwrap();
    assert_eq!(report(&app, &cookie).await["groups"], serde_json::json!([]), "a minute apart is no burst");
}

async fn an_ai_result_kept_as_a_photo_is_fingerprinted_and_grouped_with_its_source(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    let request = serde_json::json!({ "photo": id, "request": { "tool": "upscale", "factor": 2, "quality": "fast" } });
    let started = app.call_json("ai/start", Some(&cookie), request).await;
    assert_eq!(started.status, StatusCode::OK, "{}", String::from_utf8_lossy(&started.body));
    let job = started.json()["id"].as_str().unwrap().to_string();
    let done = crate::support::job_finished(&app, &cookie, id, &job, 120).await;
    assert_eq!(done["state"], "done", "{done}");
    let saved = app.call_form("ai/save", Some(&cookie), &form(&[("job", &job)])).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let saved = saved.json()["id"].as_str().unwrap().to_string();

    let db = pool(&app).await;
    let (phash,): (Option<String>,) =
        sqlx::query_as("SELECT phash FROM photos WHERE id = $1").bind(&saved).fetch_one(&db).await.unwrap();
    assert_eq!(phash.map(|h| h.len()), Some(16), "the kept result was fingerprinted when stored");
    let found = report(&app, &cookie).await;
    let group = &found["groups"][0];
    assert_eq!(group["kind"], "copies", "{found}");
    assert_eq!(ids(group).into_iter().collect::<BTreeSet<_>>(), [id.to_string(), saved].into_iter().collect());
}

on_both_databases!(
    copies_are_one_group_best_first_and_keeping_the_best_deletes_the_others,
    frames_alike_within_seconds_are_a_burst_and_a_minute_apart_are_not,
    an_ai_result_kept_as_a_photo_is_fingerprinted_and_grouped_with_its_source,
);
