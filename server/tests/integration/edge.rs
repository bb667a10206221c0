//! Upload edge cases a photo workspace meets every day (issue 15, item 17), with fixtures made by
//! `scripts/make-edge-fixtures` from Debian's ImageMagick, exiftool and img2webp: each is accepted
//! with its colours, transparency and size intact, or refused with a clear 4xx — the same way
//! every time — and no name a browser sends can break storage, headers or HTML.

use axum::http::StatusCode;
use image::{DynamicImage, GenericImageView};
use serde_json::Value;

use crate::support::TestApp;

use crate::support::edge_fixture as edge;

/// Uploads `name`, and on success returns the stored original (decoded) and its content type.
async fn stored(app: &TestApp, cookie: &str, name: &str) -> (StatusCode, Option<(DynamicImage, String)>) {
    let reply = app.upload(Some(cookie), name, edge(name)).await;
    assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {}", String::from_utf8_lossy(&reply.body));
    if reply.status != StatusCode::CREATED {
        return (reply.status, None);
    }
    let photo = reply.json();
    let original = app.get(photo["original_url"].as_str().unwrap(), Some(cookie)).await;
    assert_eq!(original.status, StatusCode::OK, "{name}");
    let thumbnail = app.get(photo["thumbnail_url"].as_str().unwrap(), Some(cookie)).await;
    assert_eq!(thumbnail.status, StatusCode::OK, "{name}: its thumbnail");
    let kind = original.headers["content-type"].to_str().unwrap().to_string();
    let image = match kind.as_str() {
        // The image crate here reads no AVIF: libheif does, as the server does.
        "image/avif" => server::platform::images::decode(&original.body, 100_000_000).map_err(|e| e.to_string()),
        _ => image::load_from_memory(&original.body).map_err(|e| e.to_string()),
    }
    .unwrap_or_else(|e| panic!("{name} stored unreadable: {e}"));
    (reply.status, Some((image, kind)))
}

fn rgba(image: &DynamicImage, x: u32, y: u32) -> [u8; 4] {
    image.get_pixel(x, y).0
}

fn near(actual: [u8; 4], expected: [u8; 4], tolerance: i32) -> bool {
    actual.iter().zip(expected).all(|(a, e)| (i32::from(*a) - i32::from(e)).abs() <= tolerance)
}

async fn everyday_uploads_keep_their_colours_transparency_and_size(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let accepted = |(status, image): (StatusCode, Option<(DynamicImage, String)>), name: &str| {
        assert_eq!(status, StatusCode::CREATED, "{name}");
        image.unwrap()
    };

    let (cmyk, _) = accepted(stored(&app, &cookie, "cmyk.jpg").await, "cmyk.jpg");
    assert!(near(rgba(&cmyk, 32, 24), [224, 16, 16, 255], 40), "CMYK red stays red: {:?}", rgba(&cmyk, 32, 24));

    let (rgb16, _) = accepted(stored(&app, &cookie, "rgb16.png").await, "rgb16.png");
    assert_eq!(rgb16.dimensions(), (64, 48));
    let (top, bottom) = (rgba(&rgb16, 32, 0), rgba(&rgb16, 32, 47));
    assert!(top[0] > 200 && top[2] < 40 && bottom[2] > 200 && bottom[0] < 40, "{top:?} {bottom:?}");

    for (name, inside, colour) in
        [("rgba16.png", (32, 24), [0, 192, 0, 255]), ("alpha.png", (32, 24), [32, 64, 255, 255])]
    {
        let (image, kind) = accepted(stored(&app, &cookie, name).await, name);
        assert_eq!(kind, "image/png", "{name}: transparency needs PNG");
        assert_eq!(rgba(&image, 0, 0)[3], 0, "{name}: the corner stays transparent");
        assert!(near(rgba(&image, inside.0, inside.1), colour, 8), "{name}: {:?}", rgba(&image, inside.0, inside.1));
    }

    let (indexed, _) = accepted(stored(&app, &cookie, "indexed.png").await, "indexed.png");
    assert!(near(rgba(&indexed, 10, 24), [0, 0, 255, 255], 8), "{:?}", rgba(&indexed, 10, 24));
    assert!(near(rgba(&indexed, 50, 24), [255, 204, 0, 255], 8), "{:?}", rgba(&indexed, 50, 24));

    let (panorama, _) = accepted(stored(&app, &cookie, "panorama.jpg").await, "panorama.jpg");
    assert_eq!(panorama.dimensions(), (16_000, 160));

    for name in ["one.png", "one.jpg"] {
        let (one, _) = accepted(stored(&app, &cookie, name).await, name);
        assert_eq!(one.dimensions(), (1, 1), "{name}");
        assert!(near(rgba(&one, 0, 0), [0, 255, 0, 255], 12), "{name}: {:?}", rgba(&one, 0, 0));
    }

    for name in ["trailing.jpg", "trailing.png"] {
        let (image, _) = accepted(stored(&app, &cookie, name).await, name);
        assert!(near(rgba(&image, 10, 10), [128, 128, 128, 255], 6), "{name}: data after the end is ignored");
    }
}

async fn animations_and_malformed_exif_are_handled_the_same_way_every_time(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    // GIF is not a photo format Atelier takes: refused with the list of those it does.
    for _ in 0..2 {
        let reply = app.upload(Some(&cookie), "animated.gif", edge("animated.gif")).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(String::from_utf8_lossy(&reply.body).contains("Only JPEG, PNG, WebP, HEIC and AVIF"));
    }
    // An animated WebP: its first frame, every time.
    for _ in 0..2 {
        let (status, image) = stored(&app, &cookie, "animated.webp").await;
        assert_eq!(status, StatusCode::CREATED);
        let (image, _) = image.unwrap();
        assert!(near(rgba(&image, 16, 16), [255, 0, 0, 255], 8), "the first (red) frame: {:?}", rgba(&image, 16, 16));
    }
    // EXIF with an offset past the end, or a loop: the photo is taken, the broken block ignored.
    for name in ["exif-bad-offset.jpg", "exif-loop.jpg"] {
        let first = stored(&app, &cookie, name).await;
        let second = stored(&app, &cookie, name).await;
        assert_eq!(first.0, StatusCode::CREATED, "{name}");
        assert_eq!(first.0, second.0, "{name}: the same answer each time");
        assert!(near(rgba(&first.1.unwrap().0, 10, 10), [192, 128, 64, 255], 10), "{name}");
    }
}

async fn no_file_name_breaks_storage_headers_or_pages(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let names = [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("quote\"and'apostrophe.png", "quote\"and'apostrophe.png"),
        ("<script>alert(1)</script>&amp;.png", "script>&amp;.png"),
        ("<img src=x onerror=alert(1)>&.png", "<img src=x onerror=alert(1)>&.png"),
        ("🐱 cat — Café.png", "🐱 cat — Café.png"),
        ("\u{202e}gnp.exe", "\u{202e}gnp.exe"),
        ("שלום עולם.png", "שלום עולם.png"),
        ("line\r\nbreak: header.png", "linebreak: header.png"),
    ];
    for (sent, kept) in names {
        let reply = app.upload(Some(&cookie), sent, crate::support::fixture("chelsea.png")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{sent:?}");
        let photo: Value = reply.json();
        assert_eq!(photo["name"], kept, "{sent:?}");
        let original = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
        assert_eq!(original.status, StatusCode::OK, "{sent:?}");
        let disposition = original.headers["content-disposition"].to_str().expect("an ASCII header");
        assert!(
            disposition.starts_with("inline; filename=\"") && disposition.contains("filename*=UTF-8''"),
            "{disposition}"
        );
        assert!(!disposition.contains(['\r', '\n', '/', '\\']), "{disposition}");
    }
    // Stored under server ids only: no name reached the file system.
    let mut stack = vec![app.settings.storage_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            assert!(file.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{file}");
            if entry.path().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    // The workspace page shows the names as text, never as markup.
    let page = String::from_utf8(app.get("/", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&amp;.png"), "the name is escaped");
    assert!(!page.contains("<img src=x onerror"));
}

/// The original is kept as the bytes that came in, minus every metadata block: the same coded
/// pixels (no generation loss), its colour profile and bit depth, upright, and nothing of the
/// camera, location, XMP, IPTC or comments; anything after the image's end is gone.
async fn originals_are_kept_without_generation_loss_or_metadata(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let big = 100_000_000;
    for (name, kind) in [("meta.jpg", "image/jpeg"), ("meta.png", "image/png"), ("meta.webp", "image/webp")] {
        let upload = edge(name);
        let reply = app.upload(Some(&cookie), name, upload.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", String::from_utf8_lossy(&reply.body));
        let photo = reply.json();
        let original = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
        assert_eq!(original.headers["content-type"], kind, "{name} keeps its format");
        let stored = original.body;
        for secret in ["Atelier-Secret-Camera", "secret-xmp", "secret-iptc", "secret-comment", "GPS"] {
            assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "{name} still holds {secret}");
        }
        // Same pixels as the upload, decoded the same way: nothing was re-encoded.
        let before = server::platform::images::decode(&upload, big).unwrap();
        let after = server::platform::images::decode(&stored, big).unwrap();
        assert_eq!(before.as_bytes(), after.as_bytes(), "{name}: generation loss");
        assert!(stored.len() < upload.len(), "{name}: the metadata went");
        if name != "meta.webp" {
            assert!(
                stored.windows(4).any(|w| w == b"A98 ")
                    || stored.windows(11).any(|w| w == b"ICC_PROFILE")
                    || stored.windows(4).any(|w| w == b"iCCP"),
                "{name}: its colour profile stays"
            );
        }
    }
    // Upright everywhere: the sideways JPEG carries only its orientation, and shows 64×96.
    let photo = app.upload(Some(&cookie), "meta.jpg", edge("meta.jpg")).await.json();
    assert_eq!((photo["width"].as_u64(), photo["height"].as_u64()), (Some(64), Some(96)));
    // 16 bits stay 16 bits (PNG's IHDR bit depth), and nothing after the end survives.
    let photo = app.upload(Some(&cookie), "rgb16.png", edge("rgb16.png")).await.json();
    let stored = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.body;
    assert_eq!(stored[24], 16, "bit depth");
    for (name, end) in [("trailing.jpg", &b"\xff\xd9"[..]), ("trailing.png", &b"IEND\xaeB`\x82"[..])] {
        let photo = app.upload(Some(&cookie), name, edge(name)).await.json();
        let stored = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.body;
        assert!(stored.ends_with(end), "{name}: nothing after the image's end");
    }
}

/// Phones' formats: HEIC and AVIF are taken (libheif); AVIF is kept as it came with its EXIF and
/// XMP items blanked, HEIC (which browsers do not show) losslessly as PNG with its colour profile
/// and depth; neither keeps camera or location tags. Wide-gamut colours are shown in sRGB the way
/// lcms converts them.
async fn heic_and_avif_are_accepted_and_colours_are_managed(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let big = 100_000_000;
    for name in ["photo.heic", "photo.avif"] {
        let upload = edge(name);
        let reply = app.upload(Some(&cookie), name, upload.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", String::from_utf8_lossy(&reply.body));
        let photo = reply.json();
        assert_eq!((photo["width"].as_u64(), photo["height"].as_u64()), (Some(96), Some(64)), "{name}");
        let original = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await;
        let stored = original.body;
        if name.ends_with(".avif") {
            assert_eq!(original.headers["content-type"], "image/avif", "{name}: kept as it came");
            assert_eq!(stored.len(), upload.len(), "{name}: the same bytes but the blanked metadata");
            let changed = stored.iter().zip(&upload).filter(|(a, b)| a != b).count();
            assert!(changed > 0 && changed < 4096, "{name}: {changed} bytes blanked");
        } else {
            assert_eq!(
                original.headers["content-type"], "image/png",
                "{name}: kept losslessly, shown by every browser"
            );
            assert!(stored.windows(4).any(|w| w == b"iCCP"), "{name}: its colour profile stays");
        }
        assert!(upload.windows(4).any(|w| w == b"GPS\0") || upload.windows(21).any(|w| w == b"Atelier-Secret-Camera"));
        for secret in ["Atelier-Secret-Camera", "secret-xmp", "GPS"] {
            assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "{name} still holds {secret}");
        }
        let before = server::platform::images::decode(&upload, big).unwrap();
        let after = server::platform::images::decode(&stored, big).unwrap();
        assert_eq!(before.as_bytes(), after.as_bytes(), "{name}: the stored file holds the decoded pixels");
        let thumbnail = app.get(photo["thumbnail_url"].as_str().unwrap(), Some(&cookie)).await;
        assert_eq!(thumbnail.status, StatusCode::OK, "{name}: thumbnailed");
    }

    let (alpha, kind) = stored(&app, &cookie, "alpha.avif").await.1.expect("alpha.avif accepted");
    assert_eq!(kind, "image/avif");
    assert_eq!(rgba(&alpha, 0, 0)[3], 0, "AVIF transparency stays");
    assert!(near(rgba(&alpha, 32, 24), [32, 64, 255, 255], 12), "{:?}", rgba(&alpha, 32, 24));

    // Ten bits stay more than eight: stored as 16-bit PNG.
    let photo = app.upload(Some(&cookie), "deep10.heic", edge("deep10.heic")).await.json();
    let stored_deep = app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.body;
    assert_eq!(stored_deep[24], 16, "bit depth of a 10-bit HEIC");

    // A damaged HEIC is a clear 400, not a crash.
    let whole = edge("photo.heic");
    let reply = app.upload(Some(&cookie), "cut.heic", whole[..whole.len() / 2].to_vec()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));

    // Adobe RGB (40,170,70) is sRGB (0,172,59) by lcms; the server's decode and the thumbnail agree.
    let reference: Vec<u8> =
        String::from_utf8(edge("adobe-rgb.srgb")).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect();
    let expected = [reference[0], reference[1], reference[2], 255];
    let decoded = server::platform::images::decode(&edge("adobe-rgb.png"), big).unwrap();
    assert!(near(rgba(&decoded, 16, 16), expected, 3), "decoded {:?}, lcms {expected:?}", rgba(&decoded, 16, 16));
    let photo = app.upload(Some(&cookie), "adobe-rgb.png", edge("adobe-rgb.png")).await.json();
    let thumbnail = app.get(photo["thumbnail_url"].as_str().unwrap(), Some(&cookie)).await;
    let thumbnail = image::load_from_memory(&thumbnail.body).unwrap();
    assert!(near(rgba(&thumbnail, 16, 16), expected, 4), "thumbnail {:?}, lcms {expected:?}", rgba(&thumbnail, 16, 16));
}

on_both_databases!(
    heic_and_avif_are_accepted_and_colours_are_managed,
    originals_are_kept_without_generation_loss_or_metadata,
    everyday_uploads_keep_their_colours_transparency_and_size,
    animations_and_malformed_exif_are_handled_the_same_way_every_time,
    no_file_name_breaks_storage_headers_or_pages,
);
