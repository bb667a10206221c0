//! Image validation and processing. Everything here is CPU-bound and synchronous: callers run it
//! through [`Images`], which bounds how many decodes run at once and keeps them off the async
//! runtime.

use std::io::Cursor;
use std::sync::Arc;

use app::error::AppError;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbaImage};
use recipe::{Budget, EditRecipe, PhotonImage};
use tokio::sync::Semaphore;

use crate::platform::error::OrInternal;
use crate::platform::{heif, turbo};

pub const THUMBNAIL_SIZE: u32 = 360;
const JPEG_QUALITY: u8 = 90;

/// An image accepted into storage: re-encoded with its orientation applied and no metadata.
pub struct Encoded {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImageError {
    #[error("Only JPEG, PNG, WebP, HEIC and AVIF photos are accepted{0}.")]
    Unsupported(String),
    #[error("The image is {width}×{height} pixels; the limit is {limit_megapixels} megapixels.")]
    TooManyPixels { width: u32, height: u32, limit_megapixels: u64 },
    #[error("The file looks like an image but could not be read: it may be damaged or truncated.")]
    Unreadable,
}

impl From<ImageError> for AppError {
    fn from(error: ImageError) -> Self {
        match error {
            ImageError::Unsupported(_) => AppError::UnsupportedType(error.to_string()),
            ImageError::TooManyPixels { .. } | ImageError::Unreadable => AppError::BadRequest(error.to_string()),
        }
    }
}

/// Decides the type from the bytes alone (never the name or the client's Content-Type).
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        Ok(other) => {
            Err(ImageError::Unsupported(format!(", not {}", other.extensions_str().first().unwrap_or(&"this format"))))
        }
        Err(_) => Err(ImageError::Unsupported(String::new())),
    }
}

/// A file as decoded, before any conversion: upright pixels in the file's own colour space, the
/// EXIF orientation that was applied (1 when none) and the file's ICC profile.
pub struct Decoded {
    pub image: DynamicImage,
    pub orientation: u8,
    pub icc: Option<Vec<u8>>,
}

impl Decoded {
    /// The pixels in sRGB: what thumbnails, edits, AI tools and exports work on, so they match
    /// what a colour-managed browser shows of the original.
    pub fn into_srgb(self) -> DynamicImage {
        to_srgb(self.image, self.icc.as_deref())
    }

    /// The pixels for an export: in sRGB, or with `keep_profile` in the file's own colour space
    /// with the profile they need to be shown right (none when that is sRGB anyway).
    pub fn for_export(self, keep_profile: bool) -> (DynamicImage, Option<Vec<u8>>) {
        match self.icc {
            Some(icc) if keep_profile && foreign_profile(&icc).is_some() => (self.image, Some(icc)),
            icc => (to_srgb(self.image, icc.as_deref()), None),
        }
    }
}

/// Decodes under the pixel cap and converts to sRGB (see `decode_file`).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    decode_file(bytes, max_pixels).map(Decoded::into_srgb)
}

fn admit(width: u32, height: u32, max_pixels: u64) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Unreadable);
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooManyPixels { width, height, limit_megapixels: max_pixels / 1_000_000 });
    }
    Ok(())
}

/// Reads the header only, refuses oversized images, then decodes under `image::Limits` and applies
/// the EXIF orientation. HEIC/HEIF and AVIF go to libheif, under the same cap.
pub fn decode_file(bytes: &[u8], max_pixels: u64) -> Result<Decoded, ImageError> {
    if heif::is_heif(bytes) {
        return match heif::decode(bytes, max_pixels, |header| admit(header.width, header.height, max_pixels)) {
            Ok(decoded) => Ok(Decoded { image: decoded.image, orientation: 1, icc: decoded.icc }),
            Err(heif::Error::Refused(error)) => Err(error),
            Err(heif::Error::Libheif(cause)) => {
                tracing::debug!(%cause, "libheif refused a file");
                Err(ImageError::Unreadable)
            }
        };
    }
    let format = sniff(bytes)?;
    // The JPEG decoder fills a missing tail with grey and calls it success; PNG's refuses.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::Unreadable);
    }
    let (width, height) =
        ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(|_| ImageError::Unreadable)?;
    admit(width, height, max_pixels)?;
    let mut decoder =
        ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(|_| ImageError::Unreadable)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // RGBA at 16 bits per channel is the largest buffer a decoder may need, plus headroom.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    decoder.set_limits(limits).map_err(|_| ImageError::Unreadable)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| ImageError::Unreadable)?;
    image.apply_orientation(orientation);
    Ok(Decoded { image, orientation: orientation.to_exif(), icc })
}

/// Decodes for an output that needs at least the size `need` returns (given the upright full
/// size; `None`: all of it). A JPEG is then decoded at the smallest m/8 scale inside its IDCT
/// that is still large enough (shrink-on-load, as libvips does, through libjpeg-turbo), which
/// skips most of the work of a small export from a large photo; anything else decodes whole.
/// The pixels are as the file holds them (see `Decoded` for sRGB).
pub fn decode_at_least(
    bytes: &[u8],
    max_pixels: u64,
    need: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
) -> Result<Decoded, ImageError> {
    if image::guess_format(bytes).ok() == Some(ImageFormat::Jpeg) && jpeg_is_complete(bytes) {
        if let Some(decoded) = shrink_on_load(bytes, max_pixels, need)? {
            return Ok(decoded);
        }
    }
    decode_file(bytes, max_pixels)
}

/// The scaled JPEG decode of `decode_at_least` (libjpeg-turbo, see `turbo`), or `None` when no
/// smaller scale fits (or the JPEG is CMYK: the whole decode handles those).
fn shrink_on_load(
    bytes: &[u8],
    max_pixels: u64,
    need: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
) -> Result<Option<Decoded>, ImageError> {
    let Some(decoder) = turbo::Scaled::open(bytes).map_err(|_| ImageError::Unreadable)? else {
        return Ok(None);
    };
    let (width, height) = (decoder.header.width, decoder.header.height);
    admit(width, height, max_pixels)?;
    let orientation = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
        .and_then(|exif| exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?.value.get_uint(0))
        .and_then(|value| image::metadata::Orientation::from_exif(value.try_into().ok()?))
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let turned = matches!(orientation.to_exif(), 5..=8);
    let (upright_width, upright_height) = if turned { (height, width) } else { (width, height) };
    let Some((need_width, need_height)) = need(upright_width, upright_height) else {
        return Ok(None);
    };
    let (need_width, need_height) = if turned { (need_height, need_width) } else { (need_width, need_height) };
    let Some((scaled_width, scaled_height)) = decoder.scale_for(need_width, need_height) else {
        return Ok(None);
    };
    let mut image = decoder.decode(scaled_width, scaled_height).map_err(|_| ImageError::Unreadable)?;
    image.apply_orientation(orientation);
    // The profile, from the header (the pure-Rust decoder reads it without decoding pixels).
    let icc = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Jpeg)
        .into_decoder()
        .ok()
        .and_then(|mut decoder| decoder.icc_profile().ok().flatten());
    Ok(Some(Decoded { image, orientation: orientation.to_exif(), icc }))
}

/// Lanczos3 to exactly `width`×`height`: 8-bit images with SIMD (fast_image_resize, alpha
/// premultiplied while filtering), other depths through the `image` crate.
pub fn resize_exact(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{PixelType, ResizeOptions, Resizer};
    let (width, height) = (width.max(1), height.max(1));
    if (image.width(), image.height()) == (width, height) {
        return image.clone();
    }
    let pixel_type = match image {
        DynamicImage::ImageRgb8(_) => PixelType::U8x3,
        DynamicImage::ImageRgba8(_) => PixelType::U8x4,
        DynamicImage::ImageLuma8(_) => PixelType::U8,
        _ => return image.resize_exact(width, height, image::imageops::FilterType::Lanczos3),
    };
    let fast = ImageRef::new(image.width(), image.height(), image.as_bytes(), pixel_type).ok().and_then(|source| {
        let mut target = Image::new(width, height, pixel_type);
        Resizer::new().resize(&source, &mut target, &ResizeOptions::new()).ok()?;
        let pixels = target.into_vec();
        match pixel_type {
            PixelType::U8x3 => image::RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
            PixelType::U8x4 => RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8),
            _ => image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8),
        }
    });
    fast.unwrap_or_else(|| image.resize_exact(width, height, image::imageops::FilterType::Lanczos3))
}

/// Lanczos3 to fit inside `width`×`height`, keeping the aspect ratio (up or down).
pub fn resize_to_fit(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    let scale = (f64::from(width) / f64::from(image.width())).min(f64::from(height) / f64::from(image.height()));
    let fit = |side: u32, limit: u32| ((f64::from(side) * scale).round() as u32).clamp(1, limit.max(1));
    resize_exact(image, fit(image.width(), width), fit(image.height(), height))
}

/// Converts pixels described by an ICC profile to sRGB (moxcms, pure Rust). Images without a
/// profile, with an sRGB one, with one that cannot be read (browsers then assume sRGB too), or
/// that are not RGB (grey, CMYK) are returned as they are.
pub fn to_srgb(image: DynamicImage, icc: Option<&[u8]>) -> DynamicImage {
    use moxcms::{ColorProfile, Layout, TransformOptions};
    let Some(profile) = icc.and_then(foreign_profile) else {
        return image;
    };
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions::default();
    let converted = match &image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
            let layout = if image.color().has_alpha() { Layout::Rgba } else { Layout::Rgb };
            profile.create_transform_8bit(layout, &srgb, layout, options).ok().and_then(|transform| {
                let source = image.as_bytes();
                let mut target = vec![0u8; source.len()];
                transform.transform(source, &mut target).ok()?;
                match image.color().has_alpha() {
                    true => RgbaImage::from_raw(image.width(), image.height(), target).map(DynamicImage::ImageRgba8),
                    false => {
                        image::RgbImage::from_raw(image.width(), image.height(), target).map(DynamicImage::ImageRgb8)
                    }
                }
            })
        }
        DynamicImage::ImageRgb16(buffer) => {
            profile.create_transform_16bit(Layout::Rgb, &srgb, Layout::Rgb, options).ok().and_then(|transform| {
                let mut target = vec![0u16; buffer.as_raw().len()];
                transform.transform(buffer.as_raw(), &mut target).ok()?;
                image::ImageBuffer::from_raw(buffer.width(), buffer.height(), target).map(DynamicImage::ImageRgb16)
            })
        }
        DynamicImage::ImageRgba16(buffer) => {
            profile.create_transform_16bit(Layout::Rgba, &srgb, Layout::Rgba, options).ok().and_then(|transform| {
                let mut target = vec![0u16; buffer.as_raw().len()];
                transform.transform(buffer.as_raw(), &mut target).ok()?;
                image::ImageBuffer::from_raw(buffer.width(), buffer.height(), target).map(DynamicImage::ImageRgba16)
            })
        }
        _ => None,
    };
    converted.unwrap_or(image)
}

/// An RGB profile that is not sRGB (so pixels in it need converting), read from ICC bytes.
fn foreign_profile(icc: &[u8]) -> Option<moxcms::ColorProfile> {
    let profile = moxcms::ColorProfile::new_from_slice(icc).ok()?;
    let srgb = moxcms::ColorProfile::new_srgb();
    let close = |a: moxcms::Xyzd, b: moxcms::Xyzd| (a.x - b.x).abs() + (a.y - b.y).abs() + (a.z - b.z).abs() < 0.004;
    let is_srgb = close(profile.red_colorant, srgb.red_colorant)
        && close(profile.green_colorant, srgb.green_colorant)
        && close(profile.blue_colorant, srgb.blue_colorant);
    (profile.color_space == moxcms::DataColorSpace::Rgb && !is_srgb).then_some(profile)
}

/// Whether a JPEG's compressed data ends with its end-of-image marker (data after it, which some
/// cameras append, is allowed).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    jpeg_segments(bytes).is_some_and(|segments| segments.end.is_some())
}

/// A JPEG's layout: the header segments before the first scan, as (marker, range), where the
/// first scan begins, and where the image ends (after FF D9), when it does.
struct JpegSegments {
    header: Vec<(u8, std::ops::Range<usize>)>,
    scan: usize,
    end: Option<usize>,
}

/// Walks a JPEG by its segment lengths (an EXIF thumbnail holds a whole JPEG of its own, so
/// searching for markers would be fooled). In coded data a 0xFF byte is always stuffed (FF 00)
/// or a restart marker, so the first other marker there is a real segment (tables and further
/// scans of a progressive JPEG), walked by its length again, until FF D9.
fn jpeg_segments(bytes: &[u8]) -> Option<JpegSegments> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let length_at = |at: usize| bytes.get(at + 2..at + 4).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    let mut header = Vec::new();
    let mut at = 2;
    let scan = loop {
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(0xFF), Some(0xFF)) => at += 1,
            (Some(0xFF), Some(0xDA)) => break at,
            (Some(0xFF), Some(&marker)) if !matches!(marker, 0x00 | 0x01 | 0xD0..=0xD9) => {
                let length = length_at(at).filter(|length| *length >= 2)?;
                let end = at.checked_add(2 + length).filter(|end| *end <= bytes.len())?;
                header.push((marker, at..end));
                at = end;
            }
            _ => return None,
        }
    };
    // Inside the scans: skip each segment's header by its length, then the coded data.
    let mut at = scan;
    let end = loop {
        let length = length_at(at).filter(|length| *length >= 2)?;
        at = at.checked_add(2 + length)?;
        let next_marker = loop {
            match (bytes.get(at), bytes.get(at + 1)) {
                (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => at += 2,
                (Some(0xFF), Some(0xFF)) => at += 1,
                (Some(0xFF), Some(&marker)) => break Some(marker),
                (Some(_), _) => at += 1,
                (None, _) => break None,
            }
        };
        match next_marker {
            Some(0xD9) => break Some(at + 2),
            Some(_) => continue,
            None => break None,
        }
    };
    Some(JpegSegments { header, scan, end })
}

/// A minimal EXIF block holding only the orientation (big-endian TIFF, one IFD entry).
fn orientation_exif(orientation: u8) -> Vec<u8> {
    let mut segment = vec![0xFF, 0xE1, 0x00, 0x22];
    segment.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0");
    segment.extend_from_slice(&[orientation, 0, 0, 0, 0, 0, 0]);
    segment
}

/// The upload's own bytes with every metadata block removed at the container level — no
/// re-encoding, so no generation loss: JPEG APP1 (EXIF, XMP), APP13 (IPTC) and comments; PNG
/// eXIf, tEXt, iTXt, zTXt and tIME; WebP EXIF and XMP. The colour profile (JPEG APP2, PNG iCCP,
/// WebP ICCP) stays, 16-bit stays 16-bit, and anything after the image's end goes. A JPEG not
/// stored upright gets a minimal EXIF block with its orientation back, so it shows upright
/// everywhere. `None` when the container cannot be walked, or a PNG or WebP would need its
/// orientation: the caller re-encodes those.
pub fn strip_metadata(bytes: &[u8], orientation: u8) -> Option<(&'static str, Vec<u8>)> {
    match image::guess_format(bytes).ok()? {
        ImageFormat::Jpeg => {
            let layout = jpeg_segments(bytes)?;
            let end = layout.end?;
            let mut out = Vec::with_capacity(end);
            out.extend_from_slice(&[0xFF, 0xD8]);
            let mut oriented = orientation == 1;
            for (marker, range) in layout.header {
                if !oriented && marker != 0xE0 {
                    out.extend_from_slice(&orientation_exif(orientation));
                    oriented = true;
                }
                if !matches!(marker, 0xE1 | 0xED | 0xFE) {
                    out.extend_from_slice(bytes.get(range)?);
                }
            }
            if !oriented {
                out.extend_from_slice(&orientation_exif(orientation));
            }
            out.extend_from_slice(bytes.get(layout.scan..end)?);
            Some(("image/jpeg", out))
        }
        ImageFormat::Png if orientation == 1 => {
            let mut out = bytes.get(..8)?.to_vec();
            let mut at = 8;
            loop {
                let length = usize::try_from(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)).ok()?;
                let kind = bytes.get(at + 4..at + 8)?;
                let end = at.checked_add(12)?.checked_add(length)?;
                let chunk = bytes.get(at..end)?;
                if !matches!(kind, b"eXIf" | b"tEXt" | b"iTXt" | b"zTXt" | b"tIME") {
                    out.extend_from_slice(chunk);
                }
                if kind == b"IEND" {
                    return Some(("image/png", out));
                }
                at = end;
            }
        }
        ImageFormat::WebP if orientation == 1 => {
            let declared = usize::try_from(u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?)).ok()?;
            let riff_end = declared.checked_add(8).filter(|end| *end <= bytes.len())?;
            let mut chunks = Vec::new();
            let mut at = 12;
            while at < riff_end {
                let kind = bytes.get(at..at + 4)?;
                let size = usize::try_from(u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?)).ok()?;
                let end = at.checked_add(8)?.checked_add(size)?.checked_add(size % 2)?.min(riff_end);
                let mut chunk = bytes.get(at..end)?.to_vec();
                if kind == b"VP8X" {
                    // The flags say which chunks follow: no EXIF (0x08), no XMP (0x04) any more.
                    *chunk.get_mut(8)? &= !(0x08 | 0x04);
                }
                if !matches!(kind, b"EXIF" | b"XMP ") {
                    chunks.extend_from_slice(&chunk);
                }
                at = end;
            }
            let mut out = b"RIFF".to_vec();
            out.extend_from_slice(&u32::try_from(chunks.len() + 4).ok()?.to_le_bytes());
            out.extend_from_slice(b"WEBP");
            out.extend_from_slice(&chunks);
            Some(("image/webp", out))
        }
        _ => None,
    }
}

/// What an upload is stored as: its own bytes without metadata when they can be kept (see
/// `strip_metadata`), else a lossless PNG of the decoded, upright pixels with the file's colour
/// profile (HEIC/AVIF, which not every browser shows and whose boxes are not stripped in place
/// yet, and PNG/WebP that needed turning): the content type and the bytes.
pub fn keep_original(bytes: &[u8], decoded: &Decoded) -> anyhow::Result<(&'static str, Vec<u8>)> {
    // AVIF as it came, its EXIF and XMP items blanked (every browser shows AVIF; not HEIC).
    if heif::is_heif(bytes) && super::bmff::is_avif(bytes) {
        if let Some(kept) = super::bmff::blank_metadata(bytes) {
            return Ok(("image/avif", kept));
        }
    }
    match strip_metadata(bytes, decoded.orientation) {
        Some(kept) => Ok(kept),
        None => Ok(("image/png", lossless_png(&decoded.image, decoded.icc.clone())?)),
    }
}

/// PNG at the image's own depth (16-bit stays 16-bit), with `icc` embedded when given.
pub fn lossless_png(image: &DynamicImage, icc: Option<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut data = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut data);
    if let Some(icc) = icc {
        encoder.set_icc_profile(icc).map_err(|e| anyhow::anyhow!("embedding a colour profile: {e}"))?;
    }
    // PNG has no float samples; 16 bits keeps what a float image can show.
    match image {
        DynamicImage::ImageRgb32F(_) => DynamicImage::ImageRgb16(image.to_rgb16()).write_with_encoder(encoder)?,
        DynamicImage::ImageRgba32F(_) => DynamicImage::ImageRgba16(image.to_rgba16()).write_with_encoder(encoder)?,
        other => other.write_with_encoder(encoder)?,
    }
    Ok(data)
}

/// Camera facts from the EXIF block, read before it is stripped. GPS and other location tags are
/// never read.
pub fn camera_facts(bytes: &[u8]) -> Option<ai::describe::CameraFacts> {
    use exif::{In, Tag, Value};
    let exif = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)).ok()?;
    let text = |tag: Tag| {
        exif.get_field(tag, In::PRIMARY)
            .map(|f| f.display_value().to_string().trim_matches('"').trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let rational = |tag: Tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Rational(values)) => values.first().filter(|r| r.denom != 0).map(|r| r.to_f64() as f32),
        _ => None,
    };
    let camera = match (text(Tag::Make), text(Tag::Model)) {
        (Some(make), Some(model)) if model.to_lowercase().starts_with(&make.to_lowercase()) => Some(model),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (make, model) => make.or(model),
    };
    let taken = text(Tag::DateTimeOriginal).or_else(|| text(Tag::DateTime)).and_then(|d| {
        let date = d.get(..10)?.replace(':', "-");
        (date.len() == 10 && date.chars().filter(|c| c.is_ascii_digit()).count() == 8).then_some(date)
    });
    let iso = exif.get_field(Tag::PhotographicSensitivity, In::PRIMARY).and_then(|f| f.value.get_uint(0));
    let facts = ai::describe::CameraFacts {
        camera,
        taken,
        focal_length_mm: rational(Tag::FocalLength),
        exposure: text(Tag::ExposureTime),
        f_number: rational(Tag::FNumber),
        iso,
    };
    (facts != ai::describe::CameraFacts::default()).then_some(facts)
}

/// Encodes as PNG when the image has transparency, JPEG otherwise; metadata is never copied.
pub fn encode(image: &DynamicImage) -> anyhow::Result<Encoded> {
    let mut data = Vec::new();
    let content_type = if image.color().has_alpha() {
        image.write_to(&mut Cursor::new(&mut data), ImageFormat::Png)?;
        "image/png"
    } else {
        JpegEncoder::new_with_quality(&mut data, JPEG_QUALITY).encode_image(&image.to_rgb8())?;
        "image/jpeg"
    };
    Ok(Encoded { content_type, width: image.width(), height: image.height(), data, thumbnail: thumbnail(image)? })
}

pub fn thumbnail(image: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let small = image.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE);
    let mut data = Vec::new();
    JpegEncoder::new_with_quality(&mut data, 80).encode_image(&flatten(&small))?;
    Ok(data)
}

/// Transparent areas become white in JPEG thumbnails instead of black.
pub fn flatten(image: &DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

/// The longest a replay may run: checked between steps, so a request that was given up on
/// stops using the worker soon after.
pub const REPLAY_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Replays `recipe` on `original` with the same code the browser runs, within the budget the
/// pixel cap sets and `REPLAY_LIMIT`.
pub fn replay(original: DynamicImage, recipe: &EditRecipe, max_pixels: u64) -> Result<DynamicImage, AppError> {
    let had_alpha = original.color().has_alpha();
    let rgba = original.into_rgba8();
    let (width, height) = rgba.dimensions();
    let until = std::time::Instant::now() + REPLAY_LIMIT;
    let image = PhotonImage::new(rgba.into_raw(), width, height);
    let edited = recipe.apply_within(image, Budget::for_pixels(max_pixels), || std::time::Instant::now() < until)?;
    let buffer = RgbaImage::from_raw(edited.get_width(), edited.get_height(), edited.get_raw_pixels())
        .ok_or_else(|| anyhow::anyhow!("the edited buffer does not match its dimensions"))
        .or_internal("replaying a recipe")?;
    let image = DynamicImage::ImageRgba8(buffer);
    Ok(if had_alpha { image } else { DynamicImage::ImageRgb8(image.into_rgb8()) })
}

/// Runs image work on the blocking pool, at most `permits` at a time so a burst of uploads cannot
/// exhaust memory.
#[derive(Clone, Debug)]
pub struct Images {
    permits: Arc<Semaphore>,
    pub max_pixels: u64,
}

impl Images {
    pub fn new(max_pixels: u64) -> Self {
        let parallel = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self { permits: Arc::new(Semaphore::new(parallel)), max_pixels }
    }

    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(u64) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.or_internal("waiting for an image worker")?;
        let max_pixels = self.max_pixels;
        tokio::task::spawn_blocking(move || work(max_pixels)).await.or_internal("running image work")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GenericImageView;

    fn encoded(format: ImageFormat, image: &DynamicImage) -> Vec<u8> {
        let mut data = Vec::new();
        image.write_to(&mut Cursor::new(&mut data), format).unwrap();
        data
    }

    #[test]
    fn a_jpeg_cut_short_is_refused_and_one_with_data_after_its_end_is_read() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 4, y as u8 * 5, 90])
        }));
        let whole = encoded(ImageFormat::Jpeg, &image);
        assert!(decode(&whole, 1_000_000).is_ok());
        for keep in [whole.len() - 2, whole.len() * 2 / 3, whole.len() / 3] {
            assert_eq!(decode(&whole[..keep], 1_000_000).err(), Some(ImageError::Unreadable), "cut to {keep}");
        }
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"camera maker's extra bytes");
        assert!(decode(&trailing, 1_000_000).is_ok());
    }

    #[test]
    fn type_is_decided_by_content_not_by_name() {
        let png = encoded(ImageFormat::Png, &DynamicImage::new_rgb8(4, 3));
        assert_eq!(decode(&png, 1_000).unwrap().width(), 4);
        assert!(matches!(decode(b"<html><body>hi</body></html>", 1_000), Err(ImageError::Unsupported(_))));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(decode(gif, 1_000).unwrap_err(), ImageError::Unsupported(", not gif".into()));
    }

    #[test]
    fn pixel_cap_is_checked_from_the_header() {
        let png = encoded(ImageFormat::Png, &DynamicImage::new_rgb8(40, 30));
        assert!(matches!(decode(&png, 1_000), Err(ImageError::TooManyPixels { width: 40, height: 30, .. })));
    }

    #[test]
    fn truncated_files_are_unreadable_not_a_panic() {
        let png = encoded(ImageFormat::Png, &DynamicImage::new_rgb8(64, 64));
        for cut in [8, 20, 40, png.len() / 2] {
            assert!(decode(&png[..cut], 1_000_000).is_err(), "cut at {cut}");
        }
        let jpeg = encoded(ImageFormat::Jpeg, &DynamicImage::new_rgb8(64, 64));
        assert!(decode(&jpeg[..jpeg.len() / 3], 1_000_000).is_err());
    }

    #[test]
    fn a_small_export_decodes_a_large_jpeg_at_a_smaller_scale_upright() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(1600, 1200, |x, y| {
            image::Rgb([(x / 7) as u8, (y / 5) as u8, 128])
        }));
        let jpeg = encoded(ImageFormat::Jpeg, &image);
        let small = decode_at_least(&jpeg, 10_000_000, |w, h| {
            assert_eq!((w, h), (1600, 1200));
            Some((300, 225))
        })
        .unwrap()
        .image;
        assert_eq!(small.dimensions(), (400, 300), "decoded at 2/8, the smallest scale still large enough");
        let five_eighths = decode_at_least(&jpeg, 10_000_000, |_, _| Some((900, 700))).unwrap().image;
        assert_eq!(five_eighths.dimensions(), (1000, 750));
        let whole = decode_at_least(&jpeg, 10_000_000, |_, _| Some((1500, 1150))).unwrap().image;
        assert_eq!(whole.dimensions(), (1600, 1200), "no smaller scale fits: decoded whole");
        let reference = whole.resize_exact(400, 300, image::imageops::FilterType::Triangle).to_rgb8();
        let (a, b) = (small.to_rgb8().get_pixel(200, 150).0, reference.get_pixel(200, 150).0);
        assert!(a.iter().zip(b).all(|(a, b)| a.abs_diff(b) <= 6), "{a:?} against {b:?}");
        // A sideways JPEG: the size asked for is upright, and so is the result.
        let mut sideways = jpeg[..2].to_vec();
        sideways.extend(orientation_exif(6));
        sideways.extend_from_slice(&jpeg[2..]);
        let turned = decode_at_least(&sideways, 10_000_000, |w, h| {
            assert_eq!((w, h), (1200, 1600));
            Some((225, 300))
        })
        .unwrap()
        .image;
        assert_eq!(turned.dimensions(), (300, 400));
        assert!(decode_at_least(&jpeg, 1_000_000, |_, _| Some((1, 1))).is_err(), "the pixel cap still holds");
    }

    #[test]
    fn resizing_keeps_colour_and_alpha_and_the_aspect() {
        let red = DynamicImage::ImageRgba8(RgbaImage::from_pixel(300, 200, image::Rgba([200, 20, 20, 255])));
        let small = resize_to_fit(&red, 120, 120);
        assert_eq!(small.dimensions(), (120, 80));
        assert_eq!(small.to_rgba8().get_pixel(60, 40).0, [200, 20, 20, 255]);
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(64, 64, image::Rgba([0, 0, 255, 0])));
        assert_eq!(resize_exact(&clear, 17, 9).to_rgba8().get_pixel(8, 4).0[3], 0);
        let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(40, 20, image::Rgb([65535u16, 0, 0])));
        assert_eq!(resize_to_fit(&deep, 10, 10).dimensions(), (10, 5));
    }

    #[test]
    fn a_wide_gamut_profile_is_converted_to_srgb_and_srgb_is_left_alone() {
        let colour = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(4, 4, image::Rgb([40, 170, 70])));
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let converted = to_srgb(colour.clone(), Some(&p3)).to_rgb8().get_pixel(1, 1).0;
        assert!(converted[1] > 170 && converted[0] < 40, "P3 green is more saturated in sRGB: {converted:?}");
        let srgb = moxcms::ColorProfile::new_srgb().encode().unwrap();
        assert_eq!(to_srgb(colour.clone(), Some(&srgb)).as_bytes(), colour.as_bytes());
        assert_eq!(to_srgb(colour.clone(), Some(b"not a profile")).as_bytes(), colour.as_bytes());
    }

    #[test]
    fn opaque_images_become_jpeg_and_transparent_ones_png_with_a_thumbnail() {
        let opaque = encode(&DynamicImage::new_rgb8(800, 400)).unwrap();
        assert_eq!(opaque.content_type, "image/jpeg");
        let thumb = image::load_from_memory(&opaque.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (THUMBNAIL_SIZE, THUMBNAIL_SIZE / 2));
        assert_eq!(encode(&DynamicImage::new_rgba8(10, 10)).unwrap().content_type, "image/png");
    }
}
