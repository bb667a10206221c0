//! Export of saved versions (issue 16): formats, sizes, a size target, the caption and keywords
//! carried in the file, and the same 404 for anyone else.

use axum::http::StatusCode;
use image::GenericImageView;
use serde_json::{json, Value};

use crate::support::TestApp;

const CAPTION: &str = "A latte with a leaf drawn in the foam.";

/// A saved version of a described photo: (cookie, gallery item).
async fn described_version(app: &TestApp) -> (String, Value) {
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let id = photo["id"].as_str().unwrap();
    let kept = app
        .call_json(
            "ai/keep-description",
            Some(&cookie),
            json!({ "photo": id, "description": { "tags": ["coffee", "latte art"], "alt_text": CAPTION } }),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", String::from_utf8_lossy(&kept.body));
    let saved = app.call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": { "ops": [] } })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", String::from_utf8_lossy(&saved.body));
    (cookie, saved.json())
}

async fn versions_export_in_each_format_size_and_weight_with_their_caption(app: TestApp) {
    let (cookie, item) = described_version(&app).await;
    let link = item["export_url"].as_str().unwrap();
    assert!(link.contains("/export?exp="), "{link}");
    let (width, height) = (item["width"].as_u64().unwrap() as u32, item["height"].as_u64().unwrap() as u32);

    // JPEG, scaled, described: the caption in EXIF and XMP, the tags as keywords, a readable name.
    let reply = app.get(&format!("{link}&format=jpeg&quality=80&max_side=200&describe=true"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["content-type"], "image/jpeg");
    let disposition = reply.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment") && disposition.contains("a-latte-with-a-leaf-drawn-in-the-foam.jpg"));
    let image = image::load_from_memory(&reply.body).unwrap();
    assert_eq!(image.width().max(image.height()), 200);
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&reply.body)).unwrap();
    let field = exif.get_field(exif::Tag::ImageDescription, exif::In::PRIMARY).expect("ImageDescription");
    assert_eq!(field.display_value().to_string().trim_matches('"'), CAPTION);
    let text = String::from_utf8_lossy(&reply.body);
    assert!(text.contains("<rdf:li>coffee</rdf:li>") && text.contains("<rdf:li>latte art</rdf:li>"));
    assert!(!text.contains("GPS"));

    // PNG, full size, described in iTXt; WebP; a bare link is a JPEG at full size without metadata.
    let png = app.get(&format!("{link}&format=png&describe=true&max_side=&target_kb="), Some(&cookie)).await;
    assert_eq!(png.status, StatusCode::OK, "{}", String::from_utf8_lossy(&png.body));
    assert_eq!(image::guess_format(&png.body).unwrap(), image::ImageFormat::Png);
    assert_eq!(image::load_from_memory(&png.body).unwrap().dimensions(), (width, height));
    assert!(String::from_utf8_lossy(&png.body).contains(CAPTION));
    let webp = app.get(&format!("{link}&format=webp"), Some(&cookie)).await;
    assert_eq!(image::guess_format(&webp.body).unwrap(), image::ImageFormat::WebP);
    assert_eq!(image::load_from_memory(&webp.body).unwrap().dimensions(), (width, height));
    let bare = app.get(link, Some(&cookie)).await;
    assert_eq!(bare.headers["content-type"], "image/jpeg");
    assert!(!String::from_utf8_lossy(&bare.body).contains(CAPTION), "no metadata unless asked");

    // A size target: the best quality that fits; an impossible one is told plainly.
    let fitted = app.get(&format!("{link}&target_kb=12"), Some(&cookie)).await;
    assert_eq!(fitted.status, StatusCode::OK, "{}", String::from_utf8_lossy(&fitted.body));
    assert!(fitted.body.len() <= 12 * 1024 && fitted.body.len() > 4 * 1024, "{} bytes", fitted.body.len());
    let lossless = app.get(&format!("{link}&format=png&target_kb=1"), Some(&cookie)).await;
    assert_eq!(lossless.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&lossless.body).contains("choose JPEG"));
    assert_eq!(app.get(&format!("{link}&max_side=many"), Some(&cookie)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&format!("{link}&format=gif"), Some(&cookie)).await.status, StatusCode::BAD_REQUEST);

    // Someone else's session, or a changed link: as for any media.
    let (stranger, _) = app.new_owner_with_photo("chelsea.png").await;
    assert_eq!(app.get(link, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let forged = link.replace("/export?", "/export?x=1&").replace("exp=", "exp=1");
    assert_eq!(app.get(&forged, Some(&cookie)).await.status, StatusCode::FORBIDDEN);
}

on_both_databases!(versions_export_in_each_format_size_and_weight_with_their_caption);
