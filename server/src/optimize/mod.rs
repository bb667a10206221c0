//! Optimize and export (issue 16): a photo or saved version out in the format, size and weight
//! asked for, through its signed export link. The image is scaled with Lanczos3, encoded (JPEG,
//! WebP or AVIF at a quality, or the best quality that fits a size; PNG or lossless WebP), and,
//! when asked, carries the photo's alt-text and tags and the author and copyright given — EXIF
//! (ImageDescription, Artist, Copyright) and XMP (dc:description, dc:subject, dc:creator,
//! dc:rights) in JPEG, WebP and AVIF, iTXt in PNG — under a file name made from the caption.
//! Never location or camera data.

use std::borrow::Cow;

use app::error::AppError;
use app::ids::{OwnerId, PhotoId, VersionId};
use app::optimize::{ExportFormat, ExportSettings, Fit, Preset, ZipProgress, PRODUCT_SHARE, SELECTION_PATH};
use app::recipe::EditRecipe;
use serde::Deserialize;
use std::io::Write as _;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use image::DynamicImage;
use tower_sessions::Session;

use crate::photos::{PhotoStore, Variant};
use crate::platform::archive::{zip_download, ZipNames};
use crate::platform::error::{ApiError, OrInternal};
use crate::platform::http::{media_response, Media};
use crate::platform::links::Signature;
use crate::platform::progress::ProgressBoard;
use crate::platform::{heif, images};

mod encode;
mod metadata;
pub mod subject;
use crate::state::AppState;
pub use subject::Region;

/// What an export may carry about the photo: its caption and keywords (when asked), and the
/// author and copyright the person gave. Empty fields are not written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    pub text: String,
    pub keywords: Vec<String>,
    pub author: String,
    pub copyright: String,
}

impl Description {
    /// What `settings` ask to write about `photo`, from its accepted alt-text and tags now.
    pub async fn of_photo(
        photos: &PhotoStore,
        owner: OwnerId,
        photo: PhotoId,
        settings: &ExportSettings,
    ) -> Result<Option<Description>, AppError> {
        let (alt_text, tags) = match photos.db.photo(owner, photo).await? {
            Some((photo, _)) => (photo.alt_text, photo.tags),
            None => (None, Vec::new()),
        };
        Ok(Description::for_export(settings, alt_text, tags))
    }

    /// What `settings` ask to write, from the photo's accepted alt-text and tags.
    fn for_export(settings: &ExportSettings, alt_text: Option<String>, tags: Vec<String>) -> Option<Description> {
        let (text, keywords) = match settings.describe {
            true => (alt_text.unwrap_or_default(), tags),
            false => (String::new(), Vec::new()),
        };
        let given = |field: &Option<String>| field.as_deref().map(str::trim).unwrap_or_default().to_string();
        let description =
            Description { text, keywords, author: given(&settings.author), copyright: given(&settings.copyright) };
        (description != Description::default()).then_some(description)
    }
}

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
    let (media, frame) = export_media(&state.photos, owner, edit.source(id)?, settings).await?;
    Ok(timed(framed(download(media), frame), started))
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
    let (media, frame) = export_media(&state.photos, owner, Source::Version(id), settings).await?;
    Ok(timed(framed(download(media), frame), started))
}

/// The part of the photo a preset's frame shows, "x,y,width,height" in fractions, so the
/// editor can draw the frame for the person to move.
fn framed(mut response: Response, frame: Option<Region>) -> Response {
    if let Some(value) =
        frame.and_then(|[x, y, w, h]| HeaderValue::from_str(&format!("{x:.4},{y:.4},{w:.4},{h:.4}")).ok())
    {
        response.headers_mut().insert("x-atelier-frame", value);
    }
    response
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
    let mut token = None;
    for pair in query.as_deref().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("version", value)) => {
                let id =
                    value.parse().map_err(|_| AppError::BadRequest("A chosen item is not one of yours.".into()))?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Some(("progress", value)) if !value.is_empty() => {
                if !ProgressBoard::valid_token(value) {
                    return Err(AppError::BadRequest("The progress token is 8 to 64 letters or digits.".into()).into());
                }
                token = Some(value.to_string());
            }
            _ => {}
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
    let photos = state.photos.clone();
    let runtime = tokio::runtime::Handle::current();
    let total = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    // What the page that asked is told as each photo goes into the zip.
    let report = {
        let photos = photos.clone();
        move |progress: ZipProgress| {
            if let Some(token) = &token {
                photos.zips.set(owner, token, progress);
            }
        }
    };
    report(ZipProgress { total, ..ZipProgress::default() });
    Ok(zip_download("atelier-export.zip", move |zip| {
        let mut progress = ZipProgress { total, ..ZipProgress::default() };
        let written = (|| -> Result<(), AppError> {
            let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            let mut names = ZipNames::default();
            for id in ids {
                let (media, _) =
                    runtime.block_on(export_media(&photos, owner, Source::Version(id), settings.clone()))?;
                let name = names.unique(&media.filename);
                progress.current = Some(name.clone());
                report(progress.clone());
                zip.start_file(name, options).or_internal("writing a zip entry")?;
                zip.write_all(&media.data).or_internal("writing a zip entry")?;
                progress.done += 1;
            }
            progress.current = None;
            Ok(())
        })();
        match &written {
            Ok(()) => progress.finished = true,
            Err(error) => progress.failed = Some(error.to_string()),
        }
        report(progress);
        written
    }))
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
/// one, and for a preset the part of the photo its frame shows. The service the export routes
/// (and the API and batch pipelines after them) call.
pub async fn export_media(
    photos: &PhotoStore,
    owner: OwnerId,
    source: Source,
    settings: ExportSettings,
) -> Result<(Media, Option<Region>), AppError> {
    let (media, photo, recipe) = match source {
        Source::Photo(id) => (photos.photo_media(owner, id, Variant::Full).await?, id, None),
        Source::Edit(id, recipe) => (photos.photo_media(owner, id, Variant::Full).await?, id, Some(recipe)),
        Source::Version(id) => {
            let media = photos.version_media(owner, id, Variant::Full).await?;
            let (item, _) = photos.db.version(owner, id).await?.ok_or(AppError::NotFound)?;
            (media, item.photo_id, None)
        }
    };
    let description = Description::of_photo(photos, owner, photo, &settings).await?;
    // Named after the caption, or else the tags, when they are carried.
    let caption = description.as_ref().and_then(|d| match (d.text.is_empty(), d.keywords.is_empty()) {
        (false, _) => Some(d.text.clone()),
        (true, false) => Some(d.keywords.join(" ")),
        (true, true) => None,
    });
    let mut stem = file_stem(caption.as_deref(), &media.filename);
    if let Some(preset) = settings.chosen_preset() {
        stem = format!("{stem}-{}", file_stem(None, preset));
    }
    let format = settings.output_format();
    let subjects = photos.subjects.clone();
    let exported = photos
        .images
        .run(move |max_pixels| match recipe {
            // Edits are in the original's pixels: replayed on the whole photo, as saving does.
            Some(recipe) => {
                let decoded = images::decode_file(&media.data, max_pixels)?;
                let (image, profile) = decoded.for_export(settings.keeps_profile());
                let image = images::replay(image, &recipe, max_pixels)?;
                let subjects = subjects.as_ref().map(|s| s.0.as_ref());
                export(&image, profile.as_deref(), &settings, description.as_ref(), subjects)
            }
            None => export_bytes(
                &media.data,
                max_pixels,
                &settings,
                description.as_ref(),
                subjects.as_ref().map(|s| s.0.as_ref()),
            ),
        })
        .await?;
    let media = Media {
        data: exported.data.into(),
        content_type: format.content_type().into(),
        filename: format!("{stem}.{}", format.extension()),
    };
    Ok((media, exported.frame))
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
/// `images::decode_at_least`), in sRGB or its own profile, then `export`.
pub fn export_bytes(
    stored: &[u8],
    max_pixels: u64,
    settings: &ExportSettings,
    description: Option<&Description>,
    subjects: Option<&ai::Engine>,
) -> Result<Exported, AppError> {
    let decoded = images::decode_at_least(stored, max_pixels, |width, height| needed(settings, width, height))?;
    let (image, profile) = decoded.for_export(settings.keeps_profile());
    export(&image, profile.as_deref(), settings, description, subjects)
}

/// The smallest upright size an export is made from, when it is less than the whole photo: a
/// cropping preset's frame, or the longest side asked for, with room for Lanczos3 to work in
/// (below). Padding presets may enlarge a small subject, so they decode whole.
fn needed(settings: &ExportSettings, width: u32, height: u32) -> Option<(u32, u32)> {
    let (out_width, out_height) = if let Some(preset) = settings.chosen_preset().and_then(app::optimize::preset) {
        (preset.fit == Fit::Crop).then_some((preset.width, preset.height))?
    } else {
        let side = settings.max_side.filter(|side| *side > 0)?;
        let longest = width.max(height);
        let scale = |length: u32| ((u64::from(length) * u64::from(side)).div_ceil(u64::from(longest))) as u32;
        (side < longest).then(|| (scale(width), scale(height)))?
    };
    // A JPEG's scaled IDCT is close to a box filter and aliases. Leaving Lanczos3 at least 1.5×
    // to do keeps the result as clean as scaling the whole decode (SSIM 0.9991 against 0.9992 in
    // the export benchmark; 0.9978 decoding to just above the size), for ~20% more time, which
    // the fast setting saves.
    let room = |side: u32| if settings.fast { side } else { side.saturating_add(side / 2) };
    Some((room(out_width), room(out_height)))
}

/// An exported file, and for a preset the part of the photo its frame shows (for the editor).
pub struct Exported {
    pub data: Vec<u8>,
    pub frame: Option<Region>,
    /// The file's size in pixels.
    pub size: (u32, u32),
}

/// Scales, encodes and describes `image` as `settings` ask. A preset's frame follows the subject
/// when `subjects` can find it (see `frame`).
pub fn export(
    image: &DynamicImage,
    profile: Option<&[u8]>,
    settings: &ExportSettings,
    description: Option<&Description>,
    subjects: Option<&ai::Engine>,
) -> Result<Exported, AppError> {
    // A preset brings the photo to its frame and sets the format, quality and weight.
    let (framed, preset_settings);
    let mut shown = None;
    let (image, settings) = match settings.chosen_preset() {
        Some(id) => {
            let preset = app::optimize::preset(id)
                .ok_or_else(|| AppError::BadRequest(format!("There is no export preset named {id:?}.")))?;
            let focus = settings.focus.filter(|_| preset.fit == Fit::Crop);
            let subject = match (settings.subject, focus, subjects) {
                // Found by an earlier export of the same photo (the editor's "before"), which
                // answers the whole photo when it found nothing.
                (Some(known), _, _) => {
                    Some(known).filter(|&[x, y, w, h]| x > 1e-4 || y > 1e-4 || w < 0.9999 || h < 0.9999)
                }
                (None, None, Some(engine)) => {
                    subject::find(engine, image, preset.fit == Fit::Crop).unwrap_or_else(|error| {
                        // The centre is a fine frame: the export goes on without the subject.
                        tracing::warn!(%error, "finding the subject failed");
                        None
                    })
                }
                _ => None,
            };
            let region;
            (framed, region) = frame(image, preset, focus, subject);
            shown = Some(region);
            // The preset's format, quality and weight; its frame is made, so no size, focus,
            // palette or profile of the person's applies any more.
            preset_settings = ExportSettings {
                format: preset.format,
                quality: preset.quality,
                max_side: None,
                target_kb: preset.max_kb,
                preset: None,
                focus: None,
                subject: None,
                colors: None,
                keep_profile: false,
                ..settings.clone()
            };
            (&framed, &preset_settings)
        }
        None => (image, settings),
    };
    // The editor's "before": the same frame and size, lossless, nothing added.
    let reference;
    let (settings, description) = if settings.reference {
        reference = ExportSettings { format: ExportFormat::Png, target_kb: None, colors: None, ..settings.clone() };
        (&reference, None)
    } else {
        (settings, description)
    };
    let scaled = match settings.max_side {
        Some(0) => return Err(AppError::BadRequest("The longest side must be at least one pixel.".into())),
        Some(side) if image.width().max(image.height()) > side => images::resize_to_fit(image, side, side),
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
            lossy(&|quality| encode::jpeg(&rgb, quality, settings.chroma, settings.baseline, settings.fast))?
        }
        ExportFormat::Webp => {
            let rgba = scaled.to_rgba8();
            lossy(&|quality| encode::webp(&rgba, false, f32::from(quality)))?
        }
        ExportFormat::Avif => {
            let speed = settings.speed.min(9);
            let metadata = description.map(|d| (metadata::exif_tiff(d), metadata::xmp(d)));
            let metadata = metadata.as_ref().map(|(exif, xmp)| (exif.as_slice(), xmp.as_bytes()));
            lossy(&|quality| {
                heif::encode_avif(&scaled, quality, speed, metadata, profile).map_err(|cause| {
                    tracing::warn!(%cause, "AVIF encoding failed");
                    AppError::BadRequest("This image could not be encoded as AVIF; choose another format.".into())
                })
            })?
        }
        ExportFormat::Png | ExportFormat::WebpLossless => {
            let out = if settings.format == ExportFormat::Png {
                let png = encode::png(&scaled, profile, settings.colors)?;
                // The editor's "before" is only looked at: no time spent making it smaller.
                if settings.reference {
                    png
                } else {
                    encode::optimize_png(png)
                }
            } else {
                encode::webp(&scaled.to_rgba8(), true, 100.0)?
            };
            if let Some(limit) = limit.filter(|limit| out.len() as u64 > *limit) {
                return Err(AppError::BadRequest(format!(
                    "This file takes {} KB, more than {} KB: choose fewer PNG colours, JPEG or WebP, or a smaller longest side.",
                    out.len().div_ceil(1024),
                    limit / 1024
                )));
            }
            out
        }
    };
    let encoded = (scaled.width(), scaled.height(), scaled.color().has_alpha());
    let data = match settings.format {
        ExportFormat::Jpeg if description.is_some() || profile.is_some() => metadata::jpeg(&data, description, profile),
        ExportFormat::Png => match description {
            Some(description) => metadata::png(&data, description),
            None => data,
        },
        ExportFormat::Webp | ExportFormat::WebpLossless => metadata::webp(&data, description, profile, encoded),
        // AVIF carries both from the encoder.
        _ => data,
    };
    Ok(Exported { data, frame: shown, size: (scaled.width(), scaled.height()) })
}

/// The photo in a preset's frame, and the part of the photo it shows (fractions).
///
/// Cropping presets cover their frame, centred on `focus` (where the person dragged the frame),
/// else on the subject, else on the middle, kept inside the photo. Padding presets (marketplaces)
/// put the subject alone, filling `PRODUCT_SHARE` of the frame, on the preset's colour, so every
/// border pixel is that colour; without a subject the whole photo is fitted in.
pub fn frame(
    image: &DynamicImage,
    preset: &Preset,
    focus: Option<[f32; 2]>,
    subject: Option<Region>,
) -> (DynamicImage, Region) {
    let (width, height) = (f64::from(image.width()), f64::from(image.height()));
    match preset.fit {
        Fit::Crop => {
            let aspect = f64::from(preset.width) / f64::from(preset.height);
            let (crop_width, crop_height) =
                if width / height > aspect { (height * aspect, height) } else { (width, width / aspect) };
            let [cx, cy] = focus.map(|[x, y]| [f64::from(x), f64::from(y)]).unwrap_or_else(|| match subject {
                Some([x, y, w, h]) => [f64::from(x + w / 2.0), f64::from(y + h / 2.0)],
                None => [0.5, 0.5],
            });
            let left = (cx * width - crop_width / 2.0).clamp(0.0, width - crop_width);
            let top = (cy * height - crop_height / 2.0).clamp(0.0, height - crop_height);
            let cropped = image.crop_imm(
                left.round() as u32,
                top.round() as u32,
                (crop_width.round() as u32).max(1),
                (crop_height.round() as u32).max(1),
            );
            let region = [left / width, top / height, crop_width / width, crop_height / height].map(|v| v as f32);
            (images::resize_exact(&cropped, preset.width, preset.height), region)
        }
        Fit::Pad([r, g, b]) => {
            let (content, area, region) = match subject {
                Some([x, y, w, h]) => {
                    // To the nearest pixel: the box comes from a mask at most 1024 pixels across.
                    let left = (f64::from(x) * width).round().clamp(0.0, width - 1.0);
                    let top = (f64::from(y) * height).round().clamp(0.0, height - 1.0);
                    let right = (f64::from(x + w) * width).round().clamp(left + 1.0, width);
                    let bottom = (f64::from(y + h) * height).round().clamp(top + 1.0, height);
                    let part = image.crop_imm(
                        left as u32,
                        top as u32,
                        ((right - left) as u32).max(1),
                        ((bottom - top) as u32).max(1),
                    );
                    let share = |side: u32| ((side as f32 * PRODUCT_SHARE).round() as u32).max(1);
                    (Cow::Owned(part), (share(preset.width), share(preset.height)), [x, y, w, h])
                }
                None => (Cow::Borrowed(image), (preset.width, preset.height), [0.0, 0.0, 1.0, 1.0]),
            };
            // Scaled to fill the area along its constraining side, up or down.
            let scale =
                (f64::from(area.0) / f64::from(content.width())).min(f64::from(area.1) / f64::from(content.height()));
            let fitted_width = ((f64::from(content.width()) * scale).round() as u32).clamp(1, preset.width);
            let fitted_height = ((f64::from(content.height()) * scale).round() as u32).clamp(1, preset.height);
            let fitted = images::resize_exact(&content, fitted_width, fitted_height).to_rgba8();
            let mut canvas = image::RgbaImage::from_pixel(preset.width, preset.height, image::Rgba([r, g, b, 255]));
            let x = (preset.width.saturating_sub(fitted.width()) / 2).into();
            let y = (preset.height.saturating_sub(fitted.height()) / 2).into();
            image::imageops::overlay(&mut canvas, &fitted, x, y);
            (DynamicImage::ImageRgba8(canvas), region)
        }
    }
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

    /// A grey photo with a red product in its right half.
    fn product_photo() -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(400, 200, |x, y| {
            if (260..340).contains(&x) && (50..150).contains(&y) {
                image::Rgb([200, 30, 30])
            } else {
                image::Rgb([120, 120, 120])
            }
        }))
    }

    /// The bounding box of pixels unlike `background`: (left, top, right, bottom), exclusive.
    fn content(image: &image::RgbaImage, background: [u8; 4]) -> (u32, u32, u32, u32) {
        let mut bounds = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, pixel) in image.enumerate_pixels() {
            if pixel.0.iter().zip(background).any(|(a, b)| a.abs_diff(b) > 8) {
                bounds = (bounds.0.min(x), bounds.1.min(y), bounds.2.max(x + 1), bounds.3.max(y + 1));
            }
        }
        bounds
    }

    #[test]
    fn marketplace_frames_put_the_subject_alone_on_white_filling_its_share() {
        let amazon = app::optimize::preset("amazon-main").unwrap();
        let subject = [260.0 / 400.0, 50.0 / 200.0, 80.0 / 400.0, 100.0 / 200.0];
        let (framed, region) = frame(&product_photo(), amazon, None, Some(subject));
        let framed = framed.to_rgba8();
        assert_eq!(framed.dimensions(), (2000, 2000));
        assert_eq!(region, subject);
        let (left, top, right, bottom) = content(&framed, [255, 255, 255, 255]);
        // The product is taller than wide: its height is 85% of the frame, centred.
        assert_eq!(bottom - top, 1700, "{top}..{bottom}");
        assert!(((right - left) as i64 - 1360).abs() <= 2, "{left}..{right}");
        assert_eq!((top, 2000 - bottom), (150, 150));
        for (x, y) in [(0, 0), (1999, 1999), (left - 1, 1000), (right, 1000), (1000, top - 1)] {
            assert_eq!(framed.get_pixel(x, y).0, [255, 255, 255, 255], "({x}, {y}) is pure white");
        }
        // Nothing found: the whole photo, fitted.
        let (whole, region) = frame(&product_photo(), amazon, None, None);
        assert_eq!(region, [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(content(&whole.to_rgba8(), [255, 255, 255, 255]), (0, 500, 2000, 1500));
    }

    #[test]
    fn social_crops_follow_the_subject_or_the_person_and_stay_inside_the_photo() {
        let square = app::optimize::preset("instagram-square").unwrap();
        assert_eq!(square.fit, Fit::Crop);
        let subject = [260.0 / 400.0, 50.0 / 200.0, 80.0 / 400.0, 100.0 / 200.0];
        // Centred on the product (x 0.75), kept inside: the right half.
        let (framed, region) = frame(&product_photo(), square, None, Some(subject));
        assert_eq!(region, [0.5, 0.0, 0.5, 1.0]);
        assert_eq!((framed.width(), framed.height()), (square.width, square.height));
        // The person's choice wins over the subject; without either, the middle.
        assert_eq!(frame(&product_photo(), square, Some([0.0, 0.5]), Some(subject)).1, [0.0, 0.0, 0.5, 1.0]);
        assert_eq!(frame(&product_photo(), square, None, None).1, [0.25, 0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_target_size_finds_the_best_quality_that_fits() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(300, 200, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, ((x * y) % 256) as u8])
        }));
        let full = export(&image, None, &ExportSettings::default(), None, None).unwrap().data;
        let target_kb = (full.len() / 1024 / 2).max(1) as u32;
        let settings = ExportSettings { target_kb: Some(target_kb), ..ExportSettings::default() };
        let fitted = export(&image, None, &settings, None, None).unwrap().data;
        assert!(fitted.len() <= target_kb as usize * 1024 && fitted.len() * 3 > target_kb as usize * 1024);
        // Noise at 1000×1000 takes more than 1 KB at any quality, with either encoder.
        let mut seed = 1u32;
        let noise = DynamicImage::ImageRgb8(image::RgbImage::from_fn(1000, 1000, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb((seed >> 8).to_le_bytes()[..3].try_into().unwrap())
        }));
        for fast in [false, true] {
            let impossible = ExportSettings { target_kb: Some(1), fast, ..ExportSettings::default() };
            assert!(matches!(export(&noise, None, &impossible, None, None), Err(AppError::BadRequest(_))));
        }
    }
}
