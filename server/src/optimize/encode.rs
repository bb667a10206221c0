//! The encoders an export runs: JPEG (mozjpeg, with or without trellis quantisation), WebP (libwebp), PNG (the png crate, then
//! oxipng; a palette from libimagequant when asked). AVIF is libheif's (`platform::heif`).

use std::time::Duration;

use app::error::AppError;
use app::optimize::Chroma;
use image::DynamicImage;

use crate::platform::error::OrInternal;

/// How long oxipng may search for a smaller PNG: past it, the best found so far is kept.
const PNG_SEARCH: Duration = Duration::from_secs(4);

/// A JPEG at `quality` through mozjpeg: progressive (or one baseline scan), optimised Huffman
/// tables, chroma subsampled as asked; with trellis quantisation and mozjpeg's tables, or with
/// `fast` as libjpeg-turbo makes them (standard tables, no trellis: a third of the time, some 10%
/// larger at the same quality).
pub fn jpeg(
    rgb: &image::RgbImage,
    quality: u8,
    chroma: Chroma,
    baseline: bool,
    fast: bool,
) -> Result<Vec<u8>, AppError> {
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    if width > 65535 || height > 65535 {
        return Err(AppError::BadRequest(
            "JPEG takes images up to 65535 pixels a side: choose a smaller longest side or another format.".into(),
        ));
    }
    // libjpeg reports errors by unwinding out of its C code; the crate turns that into a panic,
    // caught here (nothing is shared with the encoder but its own buffers).
    std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        if fast {
            compress.set_fastest_defaults();
        }
        compress.set_size(width, height);
        compress.set_quality(f32::from(quality));
        let sampling = match chroma {
            Chroma::Half => (2, 2),
            Chroma::Full => (1, 1),
        };
        compress.set_chroma_sampling_pixel_sizes(sampling, sampling);
        // mozjpeg's search over scan scripts costs about half again the encode for under 1%
        // smaller files: the standard progressive script instead.
        compress.set_optimize_scans(false);
        if !baseline {
            compress.set_progressive_mode();
        }
        compress.set_optimize_coding(true);
        let mut started = compress.start_compress(Vec::new())?;
        started.write_scanlines(rgb.as_raw())?;
        started.finish()
    })
    .map_err(|_| AppError::Internal)
    .and_then(|encoded| encoded.or_internal("encoding a JPEG with mozjpeg"))
}

/// libwebp, lossy at `quality` or lossless (it refuses sides over 16383 px: a clear error).
pub fn webp(rgba: &image::RgbaImage, lossless: bool, quality: f32) -> Result<Vec<u8>, AppError> {
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

/// A PNG of `image` at its own depth (16 bits stay 16), or with `colors` an 8-bit palette of at
/// most that many colours (libimagequant: chosen for the image, dithered), with the profile as
/// iCCP when one is given.
pub fn png(image: &DynamicImage, icc: Option<&[u8]>, colors: Option<u32>) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    match colors {
        None => {
            use image::ImageEncoder;
            let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
            if let Some(icc) = icc {
                let _ = encoder.set_icc_profile(icc.to_vec());
            }
            encoder
                .write_image(image.as_bytes(), image.width(), image.height(), image.color().into())
                .or_internal("encoding a PNG")?;
        }
        Some(colors) => {
            let rgba = image.to_rgba8();
            let (width, height) = rgba.dimensions();
            let pixels: Vec<imagequant::RGBA> =
                rgba.pixels().map(|p| imagequant::RGBA::new(p[0], p[1], p[2], p[3])).collect();
            let mut attributes = imagequant::new();
            attributes.set_max_colors(colors.clamp(2, 256)).or_internal("setting the palette size")?;
            let mut picture = attributes
                .new_image(pixels, width as usize, height as usize, 0.0)
                .or_internal("preparing a palette image")?;
            let mut result = attributes.quantize(&mut picture).or_internal("choosing a palette")?;
            result.set_dithering_level(1.0).or_internal("setting dithering")?;
            let (palette, indices) = result.remapped(&mut picture).or_internal("mapping to the palette")?;
            let mut info = png::Info::with_size(width, height);
            info.color_type = png::ColorType::Indexed;
            info.bit_depth = png::BitDepth::Eight;
            info.palette = Some(palette.iter().flat_map(|c| [c.r, c.g, c.b]).collect::<Vec<u8>>().into());
            if palette.iter().any(|c| c.a < 255) {
                info.trns = Some(palette.iter().map(|c| c.a).collect::<Vec<u8>>().into());
            }
            info.icc_profile = icc.map(|icc| icc.to_vec().into());
            let encoder = png::Encoder::with_info(&mut out, info).or_internal("encoding a palette PNG")?;
            let mut writer = encoder.write_header().or_internal("encoding a palette PNG")?;
            writer.write_image_data(&indices).or_internal("encoding a palette PNG")?;
            writer.finish().or_internal("encoding a palette PNG")?;
        }
    }
    Ok(out)
}

/// oxipng's lossless pass over a PNG (its level 2: filters tried per row, the smallest colour
/// type and depth that hold every pixel exactly, libdeflate at its strongest), within
/// `PNG_SEARCH`. The file as it was when oxipng finds nothing smaller or fails.
pub fn optimize_png(png: Vec<u8>) -> Vec<u8> {
    let mut options = oxipng::Options::from_preset(2);
    options.timeout = Some(PNG_SEARCH);
    // Invisible pixels may change colour; everything seen stays exact.
    options.optimize_alpha = true;
    match oxipng::optimize_from_memory(&png, &options) {
        Ok(smaller) if smaller.len() < png.len() => smaller,
        Ok(_) => png,
        Err(error) => {
            tracing::warn!(%error, "oxipng could not optimise a PNG");
            png
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GenericImageView;

    fn photo() -> DynamicImage {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures/coffee.png");
        let image = image::load_from_memory(&std::fs::read(path).unwrap()).unwrap();
        crate::platform::images::resize_to_fit(&image, 300, 300)
    }

    #[test]
    fn oxipng_makes_a_png_smaller_with_the_same_pixels() {
        let image = photo();
        let plain = png(&image, None, None).unwrap();
        let smaller = optimize_png(plain.clone());
        assert!(smaller.len() < plain.len(), "{} against {}", smaller.len(), plain.len());
        let decode = |data: &[u8]| image::load_from_memory(data).unwrap().to_rgba8();
        assert_eq!(decode(&smaller), decode(&plain));
    }

    #[test]
    fn palettes_hold_at_most_the_colours_asked_for_and_the_profile() {
        let image = photo();
        let icc = b"not checked by the encoder".to_vec();
        let indexed = png(&image, Some(&icc), Some(8)).unwrap();
        assert_eq!(indexed[25], 3, "colour type: indexed");
        let decoded = image::load_from_memory(&indexed).unwrap().to_rgba8();
        let colours: std::collections::HashSet<_> = decoded.pixels().map(|p| p.0).collect();
        assert!(colours.len() <= 8, "{}", colours.len());
        assert!(indexed.windows(4).any(|w| w == b"iCCP"));
    }

    #[test]
    fn jpegs_come_progressive_or_baseline_and_trellis_makes_them_smaller() {
        let rgb = photo().to_rgb8();
        let fast = jpeg(&rgb, 80, Chroma::Half, false, true).unwrap();
        let small = jpeg(&rgb, 80, Chroma::Half, false, false).unwrap();
        let baseline = jpeg(&rgb, 80, Chroma::Full, true, false).unwrap();
        for file in [&fast, &small, &baseline] {
            assert_eq!(image::load_from_memory(file).unwrap().dimensions(), rgb.dimensions());
        }
        assert!(small.len() < fast.len(), "{} against {}", small.len(), fast.len());
        // Progressive is SOF2; baseline SOF0.
        assert!(small.windows(2).any(|w| w == [0xFF, 0xC2]) && baseline.windows(2).any(|w| w == [0xFF, 0xC0]));
    }
}
