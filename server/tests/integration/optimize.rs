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
    let webp = app.get(&format!("{link}&format=webp&quality=75"), Some(&cookie)).await;
    assert_eq!(image::guess_format(&webp.body).unwrap(), image::ImageFormat::WebP);
    assert_eq!(image::load_from_memory(&webp.body).unwrap().dimensions(), (width, height));
    let small_webp = app.get(&format!("{link}&format=webp&target_kb=6"), Some(&cookie)).await;
    assert_eq!(small_webp.status, StatusCode::OK, "{}", String::from_utf8_lossy(&small_webp.body));
    assert!(small_webp.body.len() <= 6 * 1024 && small_webp.body.len() < webp.body.len());
    // Lossless WebP holds exactly the PNG's pixels.
    let lossless = app.get(&format!("{link}&format=webp-lossless"), Some(&cookie)).await;
    assert_eq!(lossless.headers["content-type"], "image/webp");
    assert_eq!(
        image::load_from_memory(&lossless.body).unwrap().to_rgba8(),
        image::load_from_memory(&png.body).unwrap().to_rgba8()
    );
    // AVIF (aom through libheif): its size, decodable, lighter at a lower quality, and a size
    // target is met by searching the quality as for JPEG and WebP.
    let avif = app.get(&format!("{link}&format=avif&quality=70&speed=8&max_side=600"), Some(&cookie)).await;
    assert_eq!(avif.status, StatusCode::OK, "{}", String::from_utf8_lossy(&avif.body));
    assert_eq!(avif.headers["content-type"], "image/avif");
    assert!(avif.headers["content-disposition"].to_str().unwrap().contains(".avif"));
    let decoded = server::platform::images::decode(&avif.body, 100_000_000).unwrap();
    assert_eq!(decoded.width().max(decoded.height()), 600.min(width.max(height)));
    let low = app.get(&format!("{link}&format=avif&quality=20&speed=8&max_side=600"), Some(&cookie)).await;
    assert!(low.body.len() < avif.body.len(), "{} against {}", low.body.len(), avif.body.len());
    let target_kb = (avif.body.len() / 2 / 1024).max(1);
    let fitted_avif =
        app.get(&format!("{link}&format=avif&speed=8&max_side=600&target_kb={target_kb}"), Some(&cookie)).await;
    assert_eq!(fitted_avif.status, StatusCode::OK, "{}", String::from_utf8_lossy(&fitted_avif.body));
    assert!(fitted_avif.body.len() <= target_kb * 1024, "{} bytes over {target_kb} KB", fitted_avif.body.len());

    // Author and copyright when given, in every format that carries metadata; never location.
    let notice = "author=Ada%20Lovelace&copyright=%C2%A9%202026%20Ada";
    let jpeg = app.get(&format!("{link}&format=jpeg&max_side=100&{notice}"), Some(&cookie)).await;
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&jpeg.body)).unwrap();
    // The raw bytes, as UTF-8 (how cameras and editors write these ASCII fields today).
    let text = |exif: &exif::Exif, tag| match exif.get_field(tag, exif::In::PRIMARY).map(|f| &f.value) {
        Some(exif::Value::Ascii(parts)) => parts.first().map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    assert_eq!(text(&exif, exif::Tag::Artist).as_deref(), Some("Ada Lovelace"));
    assert_eq!(text(&exif, exif::Tag::Copyright).as_deref(), Some("© 2026 Ada"));
    assert_eq!(text(&exif, exif::Tag::ImageDescription), None, "no caption unless asked");
    for format in ["webp", "webp-lossless", "avif", "png"] {
        let reply =
            app.get(&format!("{link}&format={format}&max_side=100&describe=true&{notice}"), Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{format}: {}", String::from_utf8_lossy(&reply.body));
        let decoded = server::platform::images::decode(&reply.body, 100_000_000).unwrap();
        assert_eq!(decoded.width().max(decoded.height()), 100, "{format} still decodes");
        let bytes = String::from_utf8_lossy(&reply.body);
        for carried in [CAPTION, "Ada Lovelace", "© 2026 Ada", "latte art"] {
            assert!(bytes.contains(carried), "{format} carries {carried}");
        }
        assert!(!bytes.contains("GPS"), "{format}");
        if format.starts_with("webp") {
            let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&reply.body)).unwrap();
            assert_eq!(text(&exif, exif::Tag::ImageDescription).as_deref(), Some(CAPTION), "{format}");
            assert_eq!(text(&exif, exif::Tag::Artist).as_deref(), Some("Ada Lovelace"), "{format}");
        }
    }

    let bare = app.get(link, Some(&cookie)).await;
    assert_eq!(bare.headers["content-type"], "image/jpeg");
    assert!(!String::from_utf8_lossy(&bare.body).contains(CAPTION), "no metadata unless asked");

    // A size target: the best quality that fits; an impossible one is told plainly.
    let fitted = app.get(&format!("{link}&target_kb=12"), Some(&cookie)).await;
    assert_eq!(fitted.status, StatusCode::OK, "{}", String::from_utf8_lossy(&fitted.body));
    assert!(fitted.body.len() <= 12 * 1024 && fitted.body.len() > 4 * 1024, "{} bytes", fitted.body.len());
    let lossless = app.get(&format!("{link}&format=png&target_kb=1"), Some(&cookie)).await;
    assert_eq!(lossless.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&lossless.body).contains("fewer PNG colours, JPEG or WebP"));
    assert_eq!(app.get(&format!("{link}&max_side=many"), Some(&cookie)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&format!("{link}&format=gif"), Some(&cookie)).await.status, StatusCode::BAD_REQUEST);

    // Originals export the same way, from the workspace.
    let photos = app.call_form("photos/list", Some(&cookie), "").await.json();
    let original = photos[0]["export_url"].as_str().unwrap();
    assert!(original.contains("/media/photos/") && original.contains("/export?exp="), "{original}");
    let small = app.get(&format!("{original}&format=png&max_side=100&describe=true"), Some(&cookie)).await;
    assert_eq!(small.status, StatusCode::OK, "{}", String::from_utf8_lossy(&small.body));
    assert_eq!(image::load_from_memory(&small.body).unwrap().width().max(100), 100);
    assert!(small.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("a-latte-with-a-leaf-drawn-in-the-foam.png"));

    // Tags without a caption: carried as keywords, and the file is named after them.
    let (tagged_cookie, tagged) = app.new_owner_with_photo("chelsea.png").await;
    let description = json!({ "tags": ["tabby cat", "garden"], "alt_text": "" });
    let kept = app
        .call_json(
            "ai/keep-description",
            Some(&tagged_cookie),
            json!({ "photo": tagged["id"], "description": description }),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", String::from_utf8_lossy(&kept.body));
    let tagged_link = tagged["export_url"].as_str().unwrap();
    let named = app.get(&format!("{tagged_link}&describe=true&max_side=100"), Some(&tagged_cookie)).await;
    assert_eq!(named.status, StatusCode::OK, "{}", String::from_utf8_lossy(&named.body));
    assert!(named.headers["content-disposition"].to_str().unwrap().contains("tabby-cat-garden.jpg"));
    assert!(String::from_utf8_lossy(&named.body).contains("<rdf:li>tabby cat</rdf:li>"));

    // Someone else's session, or a changed link: as for any media.
    let (stranger, _) = app.new_owner_with_photo("chelsea.png").await;
    assert_eq!(app.get(link, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let forged = link.replace("/export?", "/export?x=1&").replace("exp=", "exp=1");
    assert_eq!(app.get(&forged, Some(&cookie)).await.status, StatusCode::FORBIDDEN);
}

/// The part of the photo a preset's frame shows, from its header.
fn frame_of(reply: &crate::support::Reply) -> [f32; 4] {
    let text = reply.headers["x-atelier-frame"].to_str().unwrap();
    let numbers: Vec<f32> = text.split(',').map(|n| n.parse().unwrap()).collect();
    numbers.try_into().unwrap()
}

/// Presets bring the photo to their frame: marketplaces put the product the background mask finds
/// alone on pure white, filling 85% of the frame; social formats crop to fill, around the subject
/// or where the person moved the frame; the format and weight follow the preset.
async fn presets_pad_onto_white_or_crop_to_their_frame(app: TestApp) {
    let (cookie, item) = described_version(&app).await;
    let link = item["export_url"].as_str().unwrap();
    let amazon = app.get(&format!("{link}&preset=amazon-main"), Some(&cookie)).await;
    assert_eq!(amazon.status, StatusCode::OK, "{}", String::from_utf8_lossy(&amazon.body));
    assert!(amazon.headers["content-disposition"].to_str().unwrap().contains("coffee-amazon-main.jpg"));
    assert!(amazon.body.len() <= 10 * 1024 * 1024);
    let image = image::load_from_memory(&amazon.body).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (2000, 2000));
    // The cup, not the whole photo: the frame shows less than all of it.
    let [_, _, shown_width, shown_height] = frame_of(&amazon);
    assert!(shown_width * shown_height < 0.95, "the subject's box: {shown_width} × {shown_height}");
    // Its box fills 85% of the frame along its longer side; everything around it is #FFFFFF.
    let (mut left, mut top, mut right, mut bottom) = (2000, 2000, 0, 0);
    for (x, y, pixel) in image.enumerate_pixels() {
        if pixel.0.iter().any(|c| *c < 247) {
            (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x + 1), bottom.max(y + 1));
        }
    }
    let filled = (right - left).max(bottom - top);
    assert!((1688..=1712).contains(&filled), "the product spans {filled} px of 2000 ({left},{top})–({right},{bottom})");
    for (x, y) in (0..2000).step_by(7).flat_map(|i| [(i, 0), (i, 1999), (0, i), (1999, i), (i, 120), (120, i)]) {
        assert_eq!(image.get_pixel(x, y).0, [255, 255, 255], "({x}, {y}) is pure white");
    }

    // A subject already found (the editor passes the export's frame on to its "before") is used
    // as given, not sought again; the whole photo as the subject fits it whole.
    let known =
        app.get(&format!("{link}&preset=amazon-main&reference=true&subject=0.25,0.25,0.5,0.5"), Some(&cookie)).await;
    assert_eq!(known.status, StatusCode::OK, "{}", String::from_utf8_lossy(&known.body));
    assert_eq!(frame_of(&known), [0.25, 0.25, 0.5, 0.5]);
    assert_eq!(known.headers["content-type"], "image/png");
    assert_eq!(image::load_from_memory(&known.body).unwrap().dimensions(), (2000, 2000));
    let whole = app.get(&format!("{link}&preset=amazon-main&subject=0,0,1,1"), Some(&cookie)).await;
    assert_eq!(frame_of(&whole), [0.0, 0.0, 1.0, 1.0]);
    let bad = app.get(&format!("{link}&preset=amazon-main&subject=0.5,0.5"), Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A cropping preset follows the person's frame: at the left edge, then the right.
    let at_left = app.get(&format!("{link}&preset=instagram-square&focus=0,0.5"), Some(&cookie)).await;
    assert_eq!(at_left.status, StatusCode::OK, "{}", String::from_utf8_lossy(&at_left.body));
    assert_eq!(frame_of(&at_left)[0], 0.0);
    let at_right = app.get(&format!("{link}&preset=instagram-square&focus=1,0.5"), Some(&cookie)).await;
    let [x, _, w, _] = frame_of(&at_right);
    assert!((x + w - 1.0).abs() < 1e-3, "{x} + {w}");
    let bad = app.get(&format!("{link}&preset=instagram-square&focus=left"), Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let portrait = app.get(&format!("{link}&preset=instagram-portrait&format=png"), Some(&cookie)).await;
    assert_eq!(portrait.headers["content-type"], "image/jpeg", "the preset's format wins");
    assert_eq!(image::load_from_memory(&portrait.body).unwrap().dimensions(), (1080, 1350));
    let unknown = app.get(&format!("{link}&preset=myspace"), Some(&cookie)).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let none = app.get(&format!("{link}&preset="), Some(&cookie)).await;
    assert_eq!(none.status, StatusCode::OK, "an empty choice is no preset");
}

/// A portrait crop keeps the face: the astronaut's face is left of the middle (x ≈ 0.44 of the
/// photo), so Instagram's 9:16 story frame (0.5625 of the width) moves left of the centred 0.219,
/// which the background mask's subject (face, suit and helmet) would not do.
async fn a_story_crop_keeps_the_face_in_frame(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("astronaut.png").await;
    let link = photo["export_url"].as_str().unwrap();
    let story = app.get(&format!("{link}&preset=instagram-story"), Some(&cookie)).await;
    assert_eq!(story.status, StatusCode::OK, "{}", String::from_utf8_lossy(&story.body));
    let [x, _, w, h] = frame_of(&story);
    assert!((w - 0.5625).abs() < 1e-3 && (h - 1.0).abs() < 1e-3, "{w} × {h}");
    assert!((0.10..0.19).contains(&x), "the frame starts at {x}, not around the face");
    assert_eq!(image::load_from_memory(&story.body).unwrap().dimensions(), (1080, 1920));
}

/// Ticked gallery items come out as one zip, streamed, each exported as asked and uniquely named;
/// nothing of another workspace can be named in it.
async fn a_selection_exports_as_one_zip(app: TestApp) {
    let (cookie, first) = described_version(&app).await;
    let photo = first["photo_id"].as_str().unwrap();
    let second = app
        .call_json(
            "gallery/save",
            Some(&cookie),
            json!({ "photo": photo, "recipe": { "ops": [{ "op": "grayscale" }] } }),
        )
        .await
        .json();
    let link: String =
        app.call_form("gallery/export-link", Some(&cookie), "").await.json().as_str().unwrap().to_string();
    assert!(link.starts_with("/media/gallery/export.zip?exp="), "{link}");
    let ids = [first["id"].as_str().unwrap(), second["id"].as_str().unwrap()];
    let query = format!(
        "{link}&version={}&version={}&version={}&format=png&max_side=50&progress=page-token-1",
        ids[0], ids[1], ids[0]
    );
    let reply = app.get(&query, Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["content-type"], "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(reply.body)).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(names, ["coffee-2.png", "coffee.png"], "each item once, names made unique");
    for name in names {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut data).unwrap();
        assert_eq!(image::load_from_memory(&data).unwrap().dimensions().0.max(50), 50, "{name}");
    }

    // The page that asked follows it photo by photo, by its token; nobody else can.
    let progress = app.call_form("gallery/export-progress", Some(&cookie), "token=page-token-1").await;
    assert_eq!(progress.status, StatusCode::OK, "{}", String::from_utf8_lossy(&progress.body));
    let progress = progress.json();
    assert_eq!((progress["total"].as_u64(), progress["done"].as_u64()), (Some(2), Some(2)), "{progress}");
    assert_eq!(progress["finished"], true);
    assert!(progress["failed"].is_null());
    let unknown = app.call_form("gallery/export-progress", Some(&cookie), "token=another-token").await;
    assert!(unknown.json().is_null());
    let bad_token = app.get(&format!("{link}&version={}&progress=a%20b", ids[0]), Some(&cookie)).await;
    assert_eq!(bad_token.status, StatusCode::BAD_REQUEST);

    assert_eq!(app.get(&link, Some(&cookie)).await.status, StatusCode::BAD_REQUEST, "nothing ticked");
    let (stranger, _) = app.new_owner_with_photo("chelsea.png").await;
    let theirs = app.get(&format!("{link}&version={}", ids[0]), Some(&stranger)).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let peek = app.call_form("gallery/export-progress", Some(&stranger), "token=page-token-1").await;
    assert!(peek.json().is_null(), "another workspace's zip is not told");
}

/// PNGs go through oxipng (smaller, the same pixels), or down to a palette when asked; a photo's
/// colour profile is converted to sRGB by default and kept, embedded, on request, in every format.
async fn pngs_are_optimised_and_profiles_are_kept_on_request(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let link = photo["export_url"].as_str().unwrap();
    let get = |query: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let reply = app.get(&query, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&reply.body));
            reply.body
        }
    };
    // The "before" of the editor is the plain encoder's file of the very same pixels.
    let plain = get(format!("{link}&format=png&max_side=300&reference=true")).await;
    let optimised = get(format!("{link}&format=png&max_side=300")).await;
    let pixels = |png: &[u8]| image::load_from_memory(png).unwrap().to_rgba8();
    assert_eq!(pixels(&optimised), pixels(&plain), "oxipng changes no visible pixel");
    assert!(optimised.len() < plain.len(), "{} bytes against {}", optimised.len(), plain.len());

    // Sixteen colours: an indexed PNG (IHDR colour type 3), much smaller, still the photo.
    let palette = get(format!("{link}&format=png&max_side=300&colors=16")).await;
    assert_eq!(palette[25], 3, "an indexed PNG");
    let shown = pixels(&palette);
    let colours: std::collections::HashSet<[u8; 4]> = shown.pixels().map(|p| p.0).collect();
    assert!(colours.len() <= 16, "{} colours", colours.len());
    assert!(palette.len() * 2 < optimised.len(), "{} bytes against {}", palette.len(), optimised.len());
    let reference = pixels(&plain);
    let difference: u64 = shown.as_raw().iter().zip(reference.as_raw()).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
    let mean = difference as f64 / shown.as_raw().len() as f64;
    assert!(mean < 12.0, "a palette close to the photo: mean difference {mean:.1}");
    let bad = app.get(&format!("{link}&format=png&colors=lots"), Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Adobe RGB (40,170,70) flat colour: sRGB (lcms's numbers) by default, or its own pixels
    // with the profile embedded — and a colour-managed decode of those shows the same colour.
    let fixture = crate::support::edge_fixture("adobe-rgb.png");
    let profile = server::platform::images::decode_file(&fixture, 1 << 24).unwrap().icc.expect("the fixture's profile");
    let srgb: Vec<u8> = String::from_utf8(crate::support::edge_fixture("adobe-rgb.srgb"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let near = |pixel: [u8; 4], expected: [u8; 3], tolerance: u8| {
        pixel.iter().zip(expected).all(|(a, b)| a.abs_diff(b) <= tolerance)
    };
    let photo = app.upload(Some(&cookie), "adobe-rgb.png", fixture.clone()).await.json();
    let link = photo["export_url"].as_str().unwrap();
    for format in ["jpeg", "png", "webp", "webp-lossless", "avif"] {
        let converted = get(format!("{link}&format={format}&quality=95")).await;
        let decoded = server::platform::images::decode_file(&converted, 1 << 24).unwrap();
        assert!(decoded.icc.is_none(), "{format}: sRGB by default, untagged");
        let pixel = decoded.image.to_rgba8().get_pixel(16, 16).0;
        assert!(near(pixel, [srgb[0], srgb[1], srgb[2]], 4), "{format}: {pixel:?} against lcms {srgb:?}");

        let kept = get(format!("{link}&format={format}&quality=95&keep_profile=true")).await;
        let decoded = server::platform::images::decode_file(&kept, 1 << 24).unwrap();
        assert_eq!(decoded.icc.as_deref(), Some(profile.as_slice()), "{format}: the profile travels");
        let pixel = decoded.image.to_rgba8().get_pixel(16, 16).0;
        assert!(near(pixel, [40, 170, 70], 4), "{format}: {pixel:?}, the photo's own values");
        let shown = server::platform::images::decode(&kept, 1 << 24).unwrap().to_rgba8().get_pixel(16, 16).0;
        assert!(near(shown, [srgb[0], srgb[1], srgb[2]], 5), "{format}: shown as {shown:?}, lcms {srgb:?}");
    }
    // Presets are for sites that expect sRGB: the profile is converted for them.
    let amazon = get(format!("{link}&preset=amazon-main&keep_profile=true")).await;
    assert!(server::platform::images::decode_file(&amazon, 1 << 24).unwrap().icc.is_none());
}

on_both_databases!(
    pngs_are_optimised_and_profiles_are_kept_on_request,
    a_selection_exports_as_one_zip,
    versions_export_in_each_format_size_and_weight_with_their_caption,
    presets_pad_onto_white_or_crop_to_their_frame,
    a_story_crop_keeps_the_face_in_frame,
);
