//! Optimize and export (issue 16): a saved version out in the format, size and weight asked for,
//! through its signed export link. The image is scaled with Lanczos3, encoded (JPEG at a quality,
//! or the best quality that fits a size; PNG or lossless WebP), and, when asked, carries the
//! photo's alt-text and tags — EXIF ImageDescription and XMP dc:description/dc:subject in a JPEG,
//! iTXt in a PNG — under a file name made from them. Never location or camera data.

use std::io::Cursor;

use app::error::AppError;
use app::ids::{OwnerId, PhotoId, VersionId};
use app::optimize::{ExportFormat, ExportSettings, Fit, Preset};
use app::recipe::EditRecipe;
use serde::Deserialize;
use std::io::Write as _;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use tower_sessions::Session;

use crate::photos::{PhotoStore, Variant};
use crate::platform::archive::ArchiveSink;
use crate::platform::error::{ApiError, OrInternal};
use crate::platform::http::{media_response, Media};
use crate::platform::links::Signature;
use crate::platform::{heif, images};
use crate::state::AppState;

/// The caption and keywords an export may carry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    pub text: String,
    pub keywords: Vec<String>,
}

/// The longest caption written into a file (a JPEG segment holds 64 KiB at most).
const MAX_DESCRIPTION_BYTES: usize = 2000;

/// Where a selection of gallery items is exported as one zip.
pub const SELECTION_PATH: &str = "/media/gallery/export.zip";

/// The most items one zip may hold.
const MAX_SELECTION: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SELECTION_PATH, get(export_selection))
        .route("/media/photos/{id}/export", get(export_photo))
        .route("/media/versions/{id}/export", get(export_version))
}

/// What is exported: an original, a saved version, or an original with an edit not saved yet
/// (the editor's export, replayed on the full-resolution original as saving would).
#[derive(Clone, Debug)]
pub enum Source {
    Photo(PhotoId),
    Version(VersionId),
    Edit(PhotoId, EditRecipe),
}

/// The editor's unsaved edit, as JSON in the export link's `recipe` parameter.
#[derive(Debug, Default, Deserialize)]
struct EditQuery {
    recipe: Option<String>,
}

impl EditQuery {
    fn source(self, photo: PhotoId) -> Result<Source, AppError> {
        match self.recipe.as_deref().map(str::trim).filter(|json| !json.is_empty()) {
            None => Ok(Source::Photo(photo)),
            Some(json) => serde_json::from_str(json).map(|recipe| Source::Edit(photo, recipe)).map_err(|error| {
                AppError::BadRequest(format!("The edit to export is not one Atelier can read: {error}."))
            }),
        }
    }
}

/// GET /media/photos/{id}/export?exp=…&sig=…&format=…[&recipe=…]: the original, exported as
/// asked, with the editor's unsaved edit applied when `recipe` carries one.
async fn export_photo(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
    Query(settings): Query<ExportSettings>,
    Query(edit): Query<EditQuery>,
) -> Result<Response, ApiError> {
    let path = format!("/media/photos/{id}/export");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    let id: PhotoId = id.parse().map_err(|_| AppError::NotFound)?;
    let started = std::time::Instant::now();
    let media = export_media(&state.photos, owner, edit.source(id)?, settings).await?;
    Ok(timed(download(media), started))
}

/// GET /media/versions/{id}/export?exp=…&sig=…&format=…: the version, exported as asked.
async fn export_version(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
    Query(settings): Query<ExportSettings>,
) -> Result<Response, ApiError> {
    let path = format!("/media/versions/{id}/export");
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    let id: VersionId = id.parse().map_err(|_| AppError::NotFound)?;
    let started = std::time::Instant::now();
    Ok(timed(download(export_media(&state.photos, owner, Source::Version(id), settings).await?), started))
}

/// How long the export took, as a standard `Server-Timing` header the editor shows.
fn timed(mut response: Response, started: std::time::Instant) -> Response {
    let value = format!("export;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// GET /media/gallery/export.zip?exp=…&sig=…&version=…&version=…&format=…: the ticked gallery
/// items, each exported as asked, streamed as one zip while it is written (memory holds one
/// photo at a time). A failure part-way aborts the download rather than end a short zip.
async fn export_selection(
    State(state): State<AppState>,
    session: Session,
    Query(signature): Query<Signature>,
    Query(settings): Query<ExportSettings>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let owner = state.photos.links.owner_for(SELECTION_PATH, &signature, state.accounts.as_ref(), &session).await?;
    let mut ids: Vec<VersionId> = Vec::new();
    for pair in query.as_deref().unwrap_or("").split('&') {
        let Some(("version", value)) = pair.split_once('=') else { continue };
        let id = value.parse().map_err(|_| AppError::BadRequest("A chosen item is not one of yours.".into()))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(AppError::BadRequest("Tick at least one item to export.".into()).into());
    }
    if ids.len() > MAX_SELECTION {
        return Err(AppError::BadRequest(format!("A zip holds at most {MAX_SELECTION} items.")).into());
    }
    // Everything named must be this workspace's before a byte is sent.
    for id in &ids {
        state.photos.db.version(owner, *id).await.or_internal("reading a version")?.ok_or(AppError::NotFound)?;
    }
    let (sink, chunks) = ArchiveSink::channel();
    let photos = state.photos.clone();
    let runtime = tokio::runtime::Handle::current();
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut zip = zip::ZipWriter::new(sink);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut names = std::collections::HashSet::new();
        for id in ids {
            let media = runtime.block_on(export_media(&photos, owner, Source::Version(id), settings.clone()))?;
            let (stem, extension) = media.filename.rsplit_once('.').unwrap_or((&media.filename, "bin"));
            let mut name = media.filename.clone();
            let mut copy = 1;
            while !names.insert(name.clone()) {
                copy += 1;
                name = format!("{stem}-{copy}.{extension}");
            }
            zip.start_file(name, options)?;
            zip.write_all(&media.data)?;
        }
        zip.finish()?.close()?;
        Ok(())
    });
    let body = futures::stream::unfold((chunks, Some(writer)), |(mut chunks, writer)| async move {
        if let Some(chunk) = chunks.recv().await {
            return Some((Ok(bytes::Bytes::from(chunk)), (chunks, writer)));
        }
        // The writer is done: end cleanly, or fail the response so the download shows as failed.
        let failed = match writer?.await {
            Ok(Ok(())) => return None,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        tracing::warn!(error = failed, "a selection export failed part-way");
        Some((Err(std::io::Error::other("the export failed part-way")), (chunks, None)))
    });
    let mut response = axum::body::Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"atelier-export.zip\""));
    Ok(response)
}

/// The media response, as a download the browser saves under its name.
fn download(media: Media) -> Response {
    let mut response = media_response(media);
    // A download, not a view: the browser saves it under its name.
    let headers = response.headers_mut();
    let attachment = headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| HeaderValue::from_str(&value.replacen("inline", "attachment", 1)).ok());
    if let Some(value) = attachment {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The original or version exported as `settings` ask, named for its caption when it carries
/// one. The service the export routes (and the API and batch pipelines after them) call.
pub async fn export_media(
    photos: &PhotoStore,
    owner: OwnerId,
    source: Source,
    settings: ExportSettings,
) -> Result<Media, AppError> {
    let (media, photo, recipe) = match source {
        Source::Photo(id) => (photos.photo_media(owner, id, Variant::Full).await?, id, None),
        Source::Edit(id, recipe) => (photos.photo_media(owner, id, Variant::Full).await?, id, Some(recipe)),
        Source::Version(id) => {
            let media = photos.version_media(owner, id, Variant::Full).await?;
            let (item, _) = photos.db.version(owner, id).await?.ok_or(AppError::NotFound)?;
            (media, item.photo_id, None)
        }
    };
    let description = match photos.db.photo(owner, photo).await? {
        Some((photo, _)) if settings.describe => photo.alt_text.map(|text| Description { text, keywords: photo.tags }),
        _ => None,
    };
    let mut stem = file_stem(description.as_ref().map(|d| d.text.as_str()), &media.filename);
    if let Some(preset) = settings.chosen_preset() {
        stem = format!("{stem}-{}", file_stem(None, preset));
    }
    let format = settings.output_format();
    let data = photos
        .images
        .run(move |max_pixels| match recipe {
            // Edits are in the original's pixels: replayed on the whole photo, as saving does.
            Some(recipe) => {
                let image = images::replay(images::decode(&media.data, max_pixels)?, &recipe, max_pixels)?;
                export(&image, &settings, description.as_ref())
            }
            None => export_bytes(&media.data, max_pixels, &settings, description.as_ref()),
        })
        .await?;
    Ok(Media {
        data: data.into(),
        content_type: format.content_type().into(),
        filename: format!("{stem}.{}", format.extension()),
    })
}

/// A readable file name: from the caption when there is one, else the photo's name, as a slug.
pub fn file_stem(caption: Option<&str>, name: &str) -> String {
    let source = caption.unwrap_or_else(|| name.rsplit_once('.').map_or(name, |(stem, _)| stem));
    let mut slug = String::new();
    for c in source.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "photo".into()
    } else {
        slug
    }
}

/// A stored file out as `settings` ask: decoded no larger than the output needs (see
/// `images::decode_at_least`), then `export`.
pub fn export_bytes(
    stored: &[u8],
    max_pixels: u64,
    settings: &ExportSettings,
    description: Option<&Description>,
) -> Result<Vec<u8>, AppError> {
    let image = images::decode_at_least(stored, max_pixels, |width, height| needed(settings, width, height))?;
    export(&image, settings, description)
}

/// The smallest upright size an export can be made from without losing detail, when it is less
/// than the whole photo: a preset's frame, or the longest side asked for.
fn needed(settings: &ExportSettings, width: u32, height: u32) -> Option<(u32, u32)> {
    if let Some(preset) = settings.chosen_preset().and_then(app::optimize::preset) {
        return Some((preset.width, preset.height));
    }
    let side = settings.max_side.filter(|side| *side > 0)?;
    let longest = width.max(height);
    let scale = |length: u32| ((u64::from(length) * u64::from(side)).div_ceil(u64::from(longest))) as u32;
    (side < longest).then(|| (scale(width), scale(height)))
}

/// Scales, encodes and describes `image` as `settings` ask.
pub fn export(
    image: &DynamicImage,
    settings: &ExportSettings,
    description: Option<&Description>,
) -> Result<Vec<u8>, AppError> {
    // A preset brings the photo to its frame and sets the format, quality and weight.
    let (framed, preset_settings);
    let (image, settings) = match settings.chosen_preset() {
        Some(id) => {
            let preset = app::optimize::preset(id)
                .ok_or_else(|| AppError::BadRequest(format!("There is no export preset named {id:?}.")))?;
            framed = frame(image, preset);
            preset_settings = ExportSettings {
                format: preset.format,
                quality: preset.quality,
                speed: settings.speed,
                max_side: None,
                target_kb: preset.max_kb,
                describe: settings.describe,
                preset: None,
                reference: settings.reference,
            };
            (&framed, &preset_settings)
        }
        None => (image, settings),
    };
    // The editor's "before": the same frame and size, lossless, nothing added.
    let reference;
    let (settings, description) = if settings.reference {
        reference = ExportSettings { format: ExportFormat::Png, target_kb: None, reference: false, ..settings.clone() };
        (&reference, None)
    } else {
        (settings, description)
    };
    let scaled = match settings.max_side {
        Some(0) => return Err(AppError::BadRequest("The longest side must be at least one pixel.".into())),
        Some(side) if image.width().max(image.height()) > side => image.resize(side, side, FilterType::Lanczos3),
        _ => image.clone(),
    };
    let limit = settings.target_kb.map(|kb| u64::from(kb) * 1024);
    let quality = settings.quality.clamp(1, 100);
    // A lossy format: the quality asked for, or the best below it that fits the size target.
    let lossy = |encode: &dyn Fn(u8) -> Result<Vec<u8>, AppError>| -> Result<Vec<u8>, AppError> {
        let first = encode(quality)?;
        match limit {
            Some(limit) if first.len() as u64 > limit => fit_quality(encode, quality, limit),
            _ => Ok(first),
        }
    };
    let data = match settings.format {
        ExportFormat::Jpeg => {
            let rgb = images::flatten(&scaled);
            lossy(&|quality| {
                let mut out = Vec::new();
                JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb).or_internal("encoding a JPEG")?;
                Ok(out)
            })?
        }
        ExportFormat::Webp => {
            let rgba = scaled.to_rgba8();
            lossy(&|quality| webp_encode(&rgba, false, f32::from(quality)))?
        }
        ExportFormat::Avif => {
            let speed = settings.speed.min(9);
            lossy(&|quality| {
                heif::encode_avif(&scaled, quality, speed).map_err(|cause| {
                    tracing::warn!(%cause, "AVIF encoding failed");
                    AppError::BadRequest("This image could not be encoded as AVIF; choose another format.".into())
                })
            })?
        }
        ExportFormat::Png | ExportFormat::WebpLossless => {
            let out = if settings.format == ExportFormat::Png {
                let mut out = Vec::new();
                scaled.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).or_internal("encoding a PNG")?;
                out
            } else {
                webp_encode(&scaled.to_rgba8(), true, 100.0)?
            };
            if let Some(limit) = limit.filter(|limit| out.len() as u64 > *limit) {
                return Err(AppError::BadRequest(format!(
                    "A lossless file of this size takes {} KB, more than {} KB: choose JPEG or WebP, or a smaller longest side.",
                    out.len().div_ceil(1024),
                    limit / 1024
                )));
            }
            out
        }
    };
    Ok(match (description, settings.format) {
        (Some(description), ExportFormat::Jpeg) => describe_jpeg(&data, description),
        (Some(description), ExportFormat::Png) => describe_png(&data, description),
        _ => data,
    })
}

/// The photo in a preset's frame: padded whole onto its colour (transparent parts too), or
/// cropped evenly to fill it.
pub fn frame(image: &DynamicImage, preset: &Preset) -> DynamicImage {
    match preset.fit {
        Fit::Crop => image.resize_to_fill(preset.width, preset.height, FilterType::Lanczos3),
        Fit::Pad([r, g, b]) => {
            let fitted = image.resize(preset.width, preset.height, FilterType::Lanczos3).to_rgba8();
            let mut canvas = image::RgbaImage::from_pixel(preset.width, preset.height, image::Rgba([r, g, b, 255]));
            let x = (preset.width.saturating_sub(fitted.width()) / 2).into();
            let y = (preset.height.saturating_sub(fitted.height()) / 2).into();
            image::imageops::overlay(&mut canvas, &fitted, x, y);
            DynamicImage::ImageRgba8(canvas)
        }
    }
}

/// libwebp, lossy at `quality` or lossless (it refuses sides over 16383 px: a clear error).
fn webp_encode(rgba: &image::RgbaImage, lossless: bool, quality: f32) -> Result<Vec<u8>, AppError> {
    webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
        .encode_simple(lossless, quality)
        .map(|memory| memory.to_vec())
        .map_err(|error| {
            tracing::info!(?error, width = rgba.width(), height = rgba.height(), "WebP refused an image");
            AppError::BadRequest(
                "WebP takes images up to 16383 pixels a side: choose a smaller longest side or another format.".into(),
            )
        })
}

/// The highest quality below `start` whose file fits `limit` (a binary search: about seven
/// encodes); a clear error when even the lowest does not.
fn fit_quality(encode: impl Fn(u8) -> Result<Vec<u8>, AppError>, start: u8, limit: u64) -> Result<Vec<u8>, AppError> {
    let (mut low, mut high) = (1u8, start.saturating_sub(1).max(1));
    let mut best: Option<Vec<u8>> = None;
    while low <= high {
        let middle = low + (high - low) / 2;
        let encoded = encode(middle)?;
        if encoded.len() as u64 <= limit {
            best = Some(encoded);
            low = middle + 1;
        } else if middle == 1 {
            break;
        } else {
            high = middle - 1;
        }
    }
    best.ok_or_else(|| {
        AppError::BadRequest(format!(
            "Even at the lowest quality this is more than {} KB: allow a smaller longest side.",
            limit / 1024
        ))
    })
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// At most `MAX_DESCRIPTION_BYTES`, cut on a character boundary.
fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_DESCRIPTION_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An XMP packet with the caption (dc:description) and keywords (dc:subject).
fn xmp(description: &Description) -> String {
    let keywords: String = description
        .keywords
        .iter()
        .take(50)
        .map(|keyword| format!("<rdf:li>{}</rdf:li>", xml_escape(bounded(keyword))))
        .collect();
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description><dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>",
        xml_escape(bounded(&description.text))
    )
}

/// EXIF (ImageDescription, UTF-8 as cameras and editors write it) and XMP segments after SOI.
fn describe_jpeg(jpeg: &[u8], description: &Description) -> Vec<u8> {
    let text = bounded(&description.text).replace('\0', " ");
    // TIFF, big-endian: header, one IFD entry pointing past the IFD, then the text.
    let count = u32::try_from(text.len() + 1).unwrap_or(u32::MAX);
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x0e\0\x02".to_vec();
    tiff.extend_from_slice(&count.to_be_bytes());
    tiff.extend_from_slice(&26u32.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(text.as_bytes());
    tiff.push(0);
    let segment = |marker: u8, header: &[u8], body: &[u8]| -> Vec<u8> {
        let length = u16::try_from(2 + header.len() + body.len()).unwrap_or(u16::MAX);
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(header);
        out.extend_from_slice(body);
        out
    };
    let mut out = Vec::with_capacity(jpeg.len() + 4096);
    out.extend_from_slice(&jpeg[..2.min(jpeg.len())]);
    out.extend_from_slice(&segment(0xE1, b"Exif\0\0", &tiff));
    out.extend_from_slice(&segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0", xmp(description).as_bytes()));
    out.extend_from_slice(jpeg.get(2..).unwrap_or_default());
    out
}

/// iTXt chunks (UTF-8) after IHDR: `Description`, and the XMP packet.
fn describe_png(png: &[u8], description: &Description) -> Vec<u8> {
    let chunk = |keyword: &str, text: &str| -> Vec<u8> {
        let mut body = b"iTXt".to_vec();
        body.extend_from_slice(keyword.as_bytes());
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        body.extend_from_slice(text.as_bytes());
        let mut out = u32::try_from(body.len() - 4).unwrap_or(u32::MAX).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        out
    };
    // Signature (8) and IHDR (8 + 13 + 4) come first in every PNG.
    let after_header = 33.min(png.len());
    let mut out = png[..after_header].to_vec();
    out.extend_from_slice(&chunk("Description", bounded(&description.text)));
    out.extend_from_slice(&chunk("XML:com.adobe.xmp", &xmp(description)));
    out.extend_from_slice(&png[after_header..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_readable_slugs() {
        assert_eq!(
            file_stem(Some("A latte with a leaf drawn in the foam."), "x.png"),
            "a-latte-with-a-leaf-drawn-in-the-foam"
        );
        assert_eq!(file_stem(None, "Café crème.JPG"), "caf-cr-me");
        assert_eq!(file_stem(Some("🐱"), "x.png"), "photo");
        assert!(file_stem(Some(&"long words ".repeat(20)), "x").len() <= 61);
    }

    #[test]
    fn a_target_size_finds_the_best_quality_that_fits() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(300, 200, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, ((x * y) % 256) as u8])
        }));
        let full = export(&image, &ExportSettings::default(), None).unwrap();
        let target_kb = (full.len() / 1024 / 2).max(1) as u32;
        let settings = ExportSettings { target_kb: Some(target_kb), ..ExportSettings::default() };
        let fitted = export(&image, &settings, None).unwrap();
        assert!(fitted.len() <= target_kb as usize * 1024 && fitted.len() * 3 > target_kb as usize * 1024);
        let impossible = ExportSettings { target_kb: Some(1), ..ExportSettings::default() };
        assert!(matches!(export(&image, &impossible, None), Err(AppError::BadRequest(_))));
    }
}
