//! Upscaling x2 / x4 with the ESRGAN family. The photo is cut into tiles, each run with a margin of
//! its neighbours' pixels so seams do not show, which keeps memory bounded for any photo size.
//!
//! The photo mode is Real-ESRGAN x4plus (trained on real-world blur, noise and JPEG): x4 only, so
//! x2 runs it at x4 and takes each tile down by half with Lanczos3, as Real-ESRGAN's own script
//! does for an `outscale` below the model's.

use image::{Rgb, RgbImage};

use crate::tensor::{expect_len, nhwc};
use crate::{AiError, Engine, Progress};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    /// esrgan-slim: fastest.
    Fast,
    /// esrgan-medium.
    Balanced,
    /// esrgan-thick: best detail, several times slower.
    Best,
    /// realesrgan-x4plus: cleans compression and noise while it sharpens; the slowest by far.
    Photo,
}

impl Quality {
    /// The factor the model itself upscales by, for a requested factor.
    fn model_factor(self, factor: u32) -> u32 {
        match self {
            Quality::Photo => 4,
            _ => factor,
        }
    }

    /// Tile edge in input pixels, and the margin of context each tile carries on every side.
    /// Real-ESRGAN takes 16 times the memory per pixel of esrgan-thick's tiles (about 0.5 GB for a
    /// 148-pixel patch) and wants the 10-pixel margin realesrgan-ncnn-vulkan gives it.
    fn tiling(self) -> (u32, u32) {
        match self {
            Quality::Photo => (PHOTO_TILE, 10),
            _ => (TILE, MARGIN),
        }
    }
}

/// The model id for a factor and quality, as the manifest names it.
pub fn model_id(factor: u32, quality: Quality) -> String {
    match quality {
        Quality::Fast => format!("esrgan-slim-x{factor}"),
        Quality::Balanced => format!("esrgan-medium-x{factor}"),
        Quality::Best => format!("esrgan-thick-x{factor}"),
        Quality::Photo => "realesrgan-x4plus".into(),
    }
}

/// Tile edge in input pixels, and the margin of context each tile carries on every side.
pub const TILE: u32 = 256;
pub const MARGIN: u32 = 8;
/// The photo mode's tile edge (see [`Quality::tiling`]).
pub const PHOTO_TILE: u32 = 128;

pub fn upscale(
    engine: &Engine,
    image: &RgbImage,
    factor: u32,
    quality: Quality,
    max_output_pixels: u64,
    progress: &dyn Progress,
) -> Result<RgbImage, AiError> {
    if factor != 2 && factor != 4 {
        return Err(AiError::BadInput("Upscaling is x2 or x4.".into()));
    }
    let (w, h) = image.dimensions();
    let out_pixels = u64::from(w) * u64::from(h) * u64::from(factor * factor);
    if out_pixels > max_output_pixels {
        return Err(AiError::BadInput(format!(
            "A {w}×{h} photo upscaled x{factor} would have {} megapixels, more than this server allows ({}).",
            out_pixels / 1_000_000,
            max_output_pixels / 1_000_000
        )));
    }
    let id = model_id(factor, quality);
    let model_factor = quality.model_factor(factor);
    let (tile, margin) = quality.tiling();
    let mut out = RgbImage::new(w * factor, h * factor);
    let tiles: Vec<(u32, u32)> =
        (0..h.div_ceil(tile)).flat_map(|ty| (0..w.div_ceil(tile)).map(move |tx| (tx * tile, ty * tile))).collect();
    progress.step(0.0)?;
    for (done, &(x, y)) in tiles.iter().enumerate() {
        let (tw, th) = ((w - x).min(tile), (h - y).min(tile));
        // The tile with its margin, clipped at the photo's edges.
        let (x0, y0) = (x.saturating_sub(margin), y.saturating_sub(margin));
        let (x1, y1) = ((x + tw + margin).min(w), (y + th + margin).min(h));
        let patch = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
        let outputs = engine.run(&id, vec![nhwc(&patch, |_, v| f32::from(v))])?;
        let result =
            outputs.first().ok_or_else(|| AiError::ModelInvalid { model: id.clone(), detail: "no output".into() })?;
        let (mw, mh) = (patch.width() * model_factor, patch.height() * model_factor);
        expect_len(&id, &result.data, (mw * mh * 3) as usize)?;
        let mut upscaled = RgbImage::from_fn(mw, mh, |i, j| {
            let at = ((j * mw + i) * 3) as usize;
            Rgb(std::array::from_fn(|c| result.data[at + c].round().clamp(0.0, 255.0) as u8))
        });
        if model_factor != factor {
            // The whole patch is resized, so the filter reaches across the tile's edge into the
            // margin exactly as it would in one resize of the whole photo: no seams.
            upscaled = image::imageops::resize(
                &upscaled,
                patch.width() * factor,
                patch.height() * factor,
                image::imageops::FilterType::Lanczos3,
            );
        }
        // Keep only the tile's own area of the upscaled patch.
        let (ox, oy) = ((x - x0) * factor, (y - y0) * factor);
        image::imageops::replace(
            &mut out,
            &image::imageops::crop_imm(&upscaled, ox, oy, tw * factor, th * factor).to_image(),
            i64::from(x * factor),
            i64::from(y * factor),
        );
        progress.step((done + 1) as f32 / tiles.len() as f32)?;
    }
    Ok(out)
}
