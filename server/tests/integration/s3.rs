//! Object storage in an S3 bucket (issue 20): the whole app on a real S3-compatible server
//! (`s3s-fs` on loopback, see `support::s3`), where the bucket only ever holds sealed objects;
//! streamed objects in several multipart parts; account erasure; `atelier rotate-keys`; and
//! credentials the server refuses.

use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use futures::TryStreamExt;
use serde_json::{json, Value};
use server::platform::crypto::{Keyring, PLAIN_CHUNK};
use server::platform::storage::Storage;

use crate::support::s3::S3Server;
use crate::support::{account, delete_account, exported_manifest, fixture, owner_of, TestApp};

fn url(value: &Value) -> &str {
    value.as_str().expect("a signed link")
}

/// Files under `dir` (none when it does not exist).
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            out.extend(walkdir(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// No stored object shows the plain picture: each starts with Atelier's sealed header and holds
/// neither the PNG signature nor any run of the served bytes.
fn assert_sealed(s3: &S3Server, served: &[u8]) {
    let objects = s3.objects();
    assert!(!objects.is_empty());
    for (key, stored) in &objects {
        assert!(stored.starts_with(b"ATL1"), "{key} is not sealed");
        assert!(!stored.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"), "{key} holds a PNG signature");
        assert!(!stored.windows(64).any(|w| w == &served[1000..1064]), "{key} holds the photo's bytes");
    }
}

async fn a_whole_app_stores_only_sealed_objects_in_the_bucket(app: TestApp) {
    let (app, s3) = app.on_s3().await;
    let cookie = account(&app, None, "bucket@example.org").await;
    let reply = app.upload(Some(&cookie), "astronaut.png", fixture("astronaut.png")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    let photo = reply.json();
    let id = photo["id"].as_str().unwrap();
    let owner = owner_of(&app, id).await;
    let original_key = format!("owners/{owner}/photos/{id}/original");
    assert_eq!(
        s3.keys_under(&format!("owners/{owner}/")),
        [original_key.clone(), format!("owners/{owner}/photos/{id}/thumbnail")],
        "the original and its thumbnail are in the bucket"
    );
    let local = walkdir(&app.settings.storage_dir());
    assert!(local.is_empty(), "nothing on local disk: {local:?}");

    // Served back: exactly the bucket's object, opened with Atelier's keys, and the picture.
    let served = app.get(url(&photo["original_url"]), Some(&cookie)).await;
    assert_eq!(served.status, StatusCode::OK);
    let keys = Keyring::load(&app.settings.storage.key_file).unwrap();
    let stored = s3.objects().into_iter().find(|(key, _)| *key == original_key).unwrap().1;
    assert!(keys.open(&original_key, &stored).unwrap() == served.body, "served from the bucket");
    let decoded = image::load_from_memory(&served.body).unwrap();
    let uploaded = image::load_from_memory(&fixture("astronaut.png")).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (uploaded.width(), uploaded.height()));
    assert_sealed(&s3, &served.body);

    // An edit saved: its image and thumbnail go to the bucket too, and are served.
    let saved = app
        .call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": { "ops": [{ "op": "grayscale" }] } }))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    let version = saved.json();
    assert_eq!(s3.keys_under(&format!("owners/{owner}/versions/")).len(), 2, "a version and its thumbnail");
    assert_eq!(app.get(url(&version["image_url"]), Some(&cookie)).await.status, StatusCode::OK);

    // "Download my data": the archive is written to the bucket as a stream, sealed, and read back.
    let manifest = exported_manifest(&app, &cookie).await;
    assert_eq!(manifest["photos"].as_array().unwrap().len(), 1, "{manifest}");
    assert_eq!(s3.keys_under(&format!("owners/{owner}/exports/")).len(), 1, "the archive is in the bucket");
    assert_sealed(&s3, &served.body);

    // Erasure leaves nothing of the owner in the bucket.
    delete_account(&app, &cookie, "bucket@example.org").await;
    assert_eq!(s3.keys_under(&format!("owners/{owner}/")), Vec::<String>::new());
}

/// `atelier rotate-keys`, run as an operator would with the S3 settings in its environment,
/// re-wraps every object in the bucket; the photos are still served afterwards.
async fn rotate_keys_rewraps_the_objects_in_the_bucket(app: TestApp) {
    let (app, s3) = app.on_s3().await;
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let before = s3.objects();
    let old_kek = Keyring::kek_of(&before[0].1).unwrap();
    let served_before = app.get(url(&photo["original_url"]), Some(&cookie)).await.body;

    let mut rotate = app.atelier("rotate-keys");
    rotate.envs(s3.env());
    let done = rotate.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&done.stderr));
    assert!(stdout.contains(&format!("{} objects re-wrapped", before.len())), "{stdout}");
    assert!(stdout.contains(&format!("retired {old_kek}")), "{stdout}");

    let after = s3.objects();
    assert_eq!(after.len(), before.len());
    for ((key, old), (_, new)) in before.iter().zip(&after) {
        let kek = Keyring::kek_of(new).unwrap();
        assert_ne!(kek, old_kek, "{key} is under the new key");
        assert_eq!(&new[new.len() - 100..], &old[old.len() - 100..], "bodies are not re-encrypted");
    }
    // The server reads the rotated keyring at start: the photo serves the same picture.
    let app = app.restart().await;
    let listed = app.call_form("photos/list", Some(&cookie), "").await.json();
    let served = app.get(url(&listed[0]["original_url"]), Some(&cookie)).await;
    assert_eq!(served.status, StatusCode::OK);
    assert!(served.body == served_before, "the same picture after rotation");
}

/// A wrong secret: s3s-fs checks the signature, the server refuses to start and says why, and
/// the `atelier` binary exits with an error (no panic).
async fn wrong_credentials_stop_the_server_with_a_clear_error(app: TestApp) {
    let s3 = S3Server::start().await;
    let mut settings = app.settings.clone();
    s3.apply(&mut settings);
    settings.storage.s3.secret_access_key = Some("not-the-secret".to_string().into());
    let error = match server::Application::build(settings).await {
        Ok(_) => panic!("the server started with a wrong secret"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("object storage") && error.contains("cannot be used"), "{error}");
    assert!(!error.contains("not-the-secret"), "the secret is never shown: {error}");

    let mut serve = app.atelier("serve");
    serve.envs(s3.env()).env("ATELIER_S3_SECRET_ACCESS_KEY", "not-the-secret").env("ATELIER_ADDR", "127.0.0.1:0");
    let done =
        tokio::time::timeout(Duration::from_secs(60), serve.output()).await.expect("it stops by itself").unwrap();
    // The error is logged (to stdout, the log's place).
    let said = format!("{}{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    assert!(!done.status.success());
    assert!(said.contains("cannot be used") && !said.contains("panicked"), "{said}");
    assert!(!said.contains("not-the-secret"), "{said}");

    // The right secret works on the same server.
    let mut settings = app.settings.clone();
    s3.apply(&mut settings);
    assert!(server::Application::build(settings).await.is_ok());
}

on_both_databases!(
    a_whole_app_stores_only_sealed_objects_in_the_bucket,
    rotate_keys_rewraps_the_objects_in_the_bucket,
    wrong_credentials_stop_the_server_with_a_clear_error,
);

fn s3_storage(s3: &S3Server, keys_dir: &std::path::Path) -> (server::config::Settings, Keyring) {
    let mut settings = server::config::Settings::default();
    s3.apply(&mut settings);
    settings.storage.key_file = keys_dir.join("keyring");
    let keys = Keyring::load_or_create(&settings.storage.key_file).unwrap();
    (settings, keys)
}

/// An object of several multipart parts (5 MiB each) streams in and out without being held
/// whole, survives rotation (re-wrapped as a stream) and is refused once tampered with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_streams_through_the_bucket_in_parts() {
    let s3 = S3Server::start().await;
    let keys_dir = tempfile::tempdir().unwrap();
    let (settings, keys) = s3_storage(&s3, keys_dir.path());
    let storage = Storage::from_settings(&settings, keys).await.unwrap();

    // About 12.5 MiB in uneven pieces: three parts.
    let data: Vec<u8> = (0..PLAIN_CHUNK * 200 + 4321).map(|i| (i * 31 % 251) as u8).collect();
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let pieces = data.clone();
    let feeder = tokio::spawn(async move {
        for piece in pieces.chunks(100_003) {
            sender.send(piece.to_vec()).await.unwrap();
        }
    });
    storage.put_stream("owners/x/exports/big.zip", receiver).await.unwrap();
    feeder.await.unwrap();
    let streamed: Vec<Bytes> =
        storage.get_stream("owners/x/exports/big.zip").await.unwrap().try_collect().await.unwrap();
    assert!(streamed.len() > 100, "read back in chunks, not whole");
    assert!(streamed.concat() == data, "the same bytes back");
    // Uploaded in three parts (S3's multipart ETag counts them; s3s-fs, like S3, refuses parts
    // under 5 MiB but the last).
    let client = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_endpoint(&s3.endpoint)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key)
        .with_secret_access_key(&s3.secret_key)
        .with_allow_http(true)
        .build()
        .unwrap();
    let head = object_store::ObjectStore::head(&client, &"owners/x/exports/big.zip".into()).await.unwrap();
    assert!(head.e_tag.as_deref().is_some_and(|tag| tag.trim_matches('"').ends_with("-3")), "{:?}", head.e_tag);
    let path = s3.bucket_dir().join("owners/x/exports/big.zip");
    let sealed = std::fs::read(&path).unwrap();
    assert!(sealed.starts_with(b"ATL1") && sealed.len() > data.len());
    assert!(!sealed.windows(64).any(|w| w == &data[5_000_000..5_000_064]));

    // Rotation rewrites only the header of a large object, as a stream.
    let (new_kek, done) = storage.rotate().await.unwrap();
    assert_eq!((done.rewrapped, done.already_current), (1, 0));
    let rotated = std::fs::read(&path).unwrap();
    assert_eq!(Keyring::kek_of(&rotated), Some(new_kek));
    assert_eq!(rotated.len(), sealed.len());
    assert_eq!(&rotated[rotated.len() - 1_000_000..], &sealed[sealed.len() - 1_000_000..]);
    let streamed: Vec<Bytes> =
        storage.get_stream("owners/x/exports/big.zip").await.unwrap().try_collect().await.unwrap();
    assert!(streamed.concat() == data, "the same bytes back");

    // A byte changed in the bucket: the read fails, it never yields wrong content.
    let mut tampered = rotated.clone();
    tampered[7_000_000] ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let read: Result<Vec<Bytes>, _> = storage.get_stream("owners/x/exports/big.zip").await.unwrap().try_collect().await;
    assert!(read.is_err(), "a changed object must not read as complete");

    assert_eq!(storage.list(Some("owners/x")).await.unwrap(), ["owners/x/exports/big.zip"]);
    storage.delete("owners/x/exports/big.zip").await.unwrap();
    storage.delete("owners/x/exports/big.zip").await.unwrap();
    assert!(s3.objects().is_empty());
}

/// A prefix in the URL keeps Atelier's objects under it, and out of the rest of the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_in_the_url_keeps_objects_under_it() {
    let s3 = S3Server::start().await;
    let keys_dir = tempfile::tempdir().unwrap();
    let (mut settings, keys) = s3_storage(&s3, keys_dir.path());
    settings.storage.url = Some(format!("{}/atelier/prod/", s3.url()));
    let storage = Storage::from_settings(&settings, keys).await.unwrap();
    storage.put("owners/y/photos/p/original", b"a picture".to_vec()).await.unwrap();
    assert_eq!(
        s3.objects().into_iter().map(|(key, _)| key).collect::<Vec<_>>(),
        ["atelier/prod/owners/y/photos/p/original"]
    );
    assert_eq!(storage.list(None).await.unwrap(), ["owners/y/photos/p/original"]);
    assert_eq!(&storage.get("owners/y/photos/p/original").await.unwrap()[..], b"a picture");
}

/// A bucket that does not exist is refused at start too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_refused_at_start() {
    let s3 = S3Server::start().await;
    let keys_dir = tempfile::tempdir().unwrap();
    let (mut settings, keys) = s3_storage(&s3, keys_dir.path());
    settings.storage.url = Some("s3://no-such-bucket".into());
    let error = Storage::from_settings(&settings, keys).await.expect_err("refused").to_string();
    assert!(error.contains("s3://no-such-bucket") && error.contains("cannot be used"), "{error}");
}
