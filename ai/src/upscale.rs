//! Upscaling x2 / x4 with the ESRGAN family. The photo is cut into tiles, each run with a margin of
//! its neighbours' pixels so seams do not show, which keeps memory bounded for any photo size.

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
}

impl Quality {
    fn name(self) -> &'static str {
        match self {
            Quality::Fast => "slim",
            Quality::Balanced => "medium",
            Quality::Best => "thick",
        }
    }
}

/// The model id for a factor and quality, as the manifest names it.
pub fn model_id(factor: u32, quality: Quality) -> String {
    format!("esrgan-{}-x{factor}", quality.name())
}

/// Tile edge in input pixels, and the margin of context each tile carries on every side.
pub const TILE: u32 = 256;
pub const MARGIN: u32 = 8;

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
    let mut out = RgbImage::new(w * factor, h * factor);
    let tiles: Vec<(u32, u32)> =
        (0..h.div_ceil(TILE)).flat_map(|ty| (0..w.div_ceil(TILE)).map(move |tx| (tx * TILE, ty * TILE))).collect();
    progress.step(0.0)?;
    for (done, &(x, y)) in tiles.iter().enumerate() {
        let (tw, th) = ((w - x).min(TILE), (h - y).min(TILE));
        // The tile with its margin, clipped at the photo's edges.
        let (x0, y0) = (x.saturating_sub(MARGIN), y.saturating_sub(MARGIN));
        let (x1, y1) = ((x + tw + MARGIN).min(w), (y + th + MARGIN).min(h));
        let patch = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
        let outputs = engine.run(&id, vec![nhwc(&patch, |_, v| f32::from(v))])?;
        let result =
            outputs.first().ok_or_else(|| AiError::ModelInvalid { model: id.clone(), detail: "no output".into() })?;
        let (pw, ph) = (patch.width() * factor, patch.height() * factor);
        expect_len(&id, &result.data, (pw * ph * 3) as usize)?;
        // Keep only the tile's own area of the upscaled patch.
        let (ox, oy) = ((x - x0) * factor, (y - y0) * factor);
        for j in 0..th * factor {
            for i in 0..tw * factor {
                let at = (((oy + j) * pw + ox + i) * 3) as usize;
                let pixel = Rgb(std::array::from_fn(|c| result.data[at + c].round().clamp(0.0, 255.0) as u8));
                out.put_pixel(x * factor + i, y * factor + j, pixel);
            }
        }
        progress.step((done + 1) as f32 / tiles.len() as f32)?;
    }
    Ok(out)
}
