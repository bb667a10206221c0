//! The magic eraser: fills the masked part of a photo from the rest of it. One interface, two
//! fillers: a supplied LaMa model when configured, otherwise PatchMatch (no model needed).

pub mod patchmatch;

use image::imageops::{self, FilterType};
use image::{GrayImage, Rgb, RgbImage};

use crate::models::LAMA;
use crate::tensor::{expect_len, nchw};
use crate::{AiError, Engine, Progress};

/// Which filler ran, for the job's details.
pub fn method(engine: &Engine) -> &'static str {
    if engine.has_lama() {
        "LaMa"
    } else {
        "PatchMatch"
    }
}

/// Fills where `mask` > 127. `mask` is scaled to the photo's size if it differs (the editor paints
/// on its preview).
pub fn erase(
    engine: &Engine,
    image: &RgbImage,
    mask: &GrayImage,
    progress: &dyn Progress,
) -> Result<RgbImage, AiError> {
    if mask.width() == 0 || mask.height() == 0 {
        return Err(AiError::BadInput("The mask is empty.".into()));
    }
    let mask = if mask.dimensions() == image.dimensions() {
        mask.clone()
    } else {
        imageops::resize(mask, image.width(), image.height(), FilterType::Triangle)
    };
    if !mask.pixels().any(|p| p[0] > 127) {
        return Err(AiError::BadInput("Paint over what should be erased first.".into()));
    }
    if engine.has_lama() {
        lama(engine, image, &mask, progress)
    } else {
        patchmatch::inpaint(image, &mask, progress)
    }
}

/// Generative fill's last step: an image service painted `painted` (any size: it worked at its
/// own) from the photo and the mask; it is scaled back to the photo and blended in where the mask
/// is, its edge softened over about `feather` photo pixels: beyond that, nothing changes.
pub fn blend_painted(
    image: &RgbImage,
    painted: &RgbImage,
    mask: &GrayImage,
    feather: f32,
) -> Result<RgbImage, AiError> {
    let (width, height) = image.dimensions();
    if mask.width() == 0 || mask.height() == 0 || painted.width() == 0 || painted.height() == 0 {
        return Err(AiError::BadInput("The mask or the painted image is empty.".into()));
    }
    let painted = if painted.dimensions() == (width, height) {
        painted.clone()
    } else {
        imageops::resize(painted, width, height, FilterType::CatmullRom)
    };
    // Softened at the mask's own size (the editor paints at most 1024 px), then scaled: the same
    // edge for a fraction of the work on a large photo.
    let sigma = feather * mask.width() as f32 / width.max(1) as f32;
    let soft = if sigma > 0.05 { imageops::blur(mask, sigma) } else { mask.clone() };
    let mask = if soft.dimensions() == (width, height) {
        soft
    } else {
        imageops::resize(&soft, width, height, FilterType::Triangle)
    };
    Ok(RgbImage::from_fn(width, height, |x, y| {
        let m = u16::from(mask.get_pixel(x, y)[0]);
        let (a, b) = (image.get_pixel(x, y), painted.get_pixel(x, y));
        Rgb(std::array::from_fn(|c| ((u16::from(a[c]) * (255 - m) + u16::from(b[c]) * m + 127) / 255) as u8))
    }))
}

/// LaMa takes a 512² image in 0..1 and a 0/1 mask; it runs on a square around the mask with
/// context, and only masked pixels are replaced.
fn lama(engine: &Engine, image: &RgbImage, mask: &GrayImage, progress: &dyn Progress) -> Result<RgbImage, AiError> {
    const SIZE: u32 = 512;
    let (w, h) = image.dimensions();
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, p) in mask.enumerate_pixels() {
        if p[0] > 127 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    // A square twice the mask's size (at least 512 px or the photo), centred on it.
    let side = ((x1 - x0).max(y1 - y0) * 2).max(SIZE).min(w.max(h));
    let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
    let (sx, sy) = (
        cx.saturating_sub(side / 2).min(w.saturating_sub(side.min(w))),
        cy.saturating_sub(side / 2).min(h.saturating_sub(side.min(h))),
    );
    let (sw, sh) = (side.min(w), side.min(h));
    let crop =
        imageops::resize(&imageops::crop_imm(image, sx, sy, sw, sh).to_image(), SIZE, SIZE, FilterType::Triangle);
    let crop_mask =
        imageops::resize(&imageops::crop_imm(mask, sx, sy, sw, sh).to_image(), SIZE, SIZE, FilterType::Triangle);
    progress.step(0.2)?;
    let image_input = nchw(&crop, |_, v| f32::from(v) / 255.0);
    let mask_input = (
        vec![1, 1, SIZE as usize, SIZE as usize],
        crop_mask.pixels().map(|p| if p[0] > 127 { 1.0 } else { 0.0 }).collect(),
    );
    let outputs = engine.run(LAMA, vec![image_input, mask_input])?;
    let out =
        outputs.first().ok_or_else(|| AiError::ModelInvalid { model: LAMA.into(), detail: "no output".into() })?;
    let plane = (SIZE * SIZE) as usize;
    expect_len(LAMA, &out.data, 3 * plane)?;
    // Exports differ: some give 0..1, others 0..255.
    let scale = if out.data.iter().take(3 * plane).fold(0f32, |m, v| m.max(*v)) <= 1.5 { 255.0 } else { 1.0 };
    let filled = RgbImage::from_fn(SIZE, SIZE, |x, y| {
        let i = (y * SIZE + x) as usize;
        Rgb(std::array::from_fn(|c| (out.data[c * plane + i] * scale).round().clamp(0.0, 255.0) as u8))
    });
    let filled = imageops::resize(&filled, sw, sh, FilterType::CatmullRom);
    progress.step(0.9)?;
    let mut result = image.clone();
    for (x, y, p) in filled.enumerate_pixels() {
        if mask.get_pixel(sx + x, sy + y)[0] > 127 {
            result.put_pixel(sx + x, sy + y, *p);
        }
    }
    progress.step(1.0)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painted_pixels_land_only_under_the_mask() {
        let image = RgbImage::from_pixel(40, 20, Rgb([10, 20, 30]));
        let painted = RgbImage::from_pixel(64, 32, Rgb([250, 200, 100]));
        let mask = GrayImage::from_fn(40, 20, |x, _| image::Luma([if x >= 20 { 255 } else { 0 }]));
        let out = blend_painted(&image, &painted, &mask, 0.0).unwrap();
        assert_eq!(out.get_pixel(5, 5), &Rgb([10, 20, 30]), "outside: the photo");
        assert_eq!(out.get_pixel(35, 5), &Rgb([250, 200, 100]), "inside: the painting");
        let soft = blend_painted(&image, &painted, &mask, 2.0).unwrap();
        let edge = soft.get_pixel(19, 5)[0];
        assert!(edge > 10 && edge < 250, "a soft edge: {edge}");
        assert_eq!(soft.get_pixel(2, 5), &Rgb([10, 20, 30]), "far outside unchanged");
        assert!(blend_painted(&image, &painted, &GrayImage::new(0, 0), 1.0).is_err());
    }
}
