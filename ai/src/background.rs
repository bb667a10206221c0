//! Background removal: a segmentation model gives the subject's mask, optionally refined along the
//! photo's own edges and feathered; the subject is then kept on transparency, a colour or another
//! photo.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};

use crate::tensor::{expect_len, mask_from, nchw, nhwc, resized};
use crate::{AiError, Engine, Progress};

/// Which model finds the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segmenter {
    /// IS-Net: any salient object (people, products, animals). 1024² input.
    Objects,
    /// MediaPipe selfie segmentation: people only, fast. 256² input.
    Portrait,
}

/// What the subject is placed on.
pub enum Backdrop {
    Transparent,
    Colour([u8; 3]),
    Photo(RgbImage),
}

pub struct Options {
    pub segmenter: Segmenter,
    pub backdrop: Backdrop,
    /// Snap the mask to the photo's edges (guided filter) before feathering.
    pub refine: bool,
    /// Soft edge, in pixels (0 = as the model gives it).
    pub feather: f32,
}

pub const ISNET: &str = "isnet";
pub const SELFIE: &str = "selfie";

/// The subject's mask at the photo's size: 255 subject, 0 background.
pub fn mask(
    engine: &Engine,
    image: &RgbImage,
    segmenter: Segmenter,
    progress: &dyn Progress,
) -> Result<GrayImage, AiError> {
    progress.step(0.05)?;
    let size = image.dimensions();
    let mask = match segmenter {
        Segmenter::Objects => {
            let input = nchw(&resized(image, 1024, 1024), |_, v| (f32::from(v) - 128.0) / 256.0);
            progress.step(0.15)?;
            let outputs = engine.run(ISNET, vec![input])?;
            let out = outputs
                .first()
                .ok_or_else(|| AiError::ModelInvalid { model: ISNET.into(), detail: "no output".into() })?;
            expect_len(ISNET, &out.data, 1024 * 1024)?;
            mask_from(&out.data[..1024 * 1024], 1024, 1024, size)
        }
        Segmenter::Portrait => {
            let input = nhwc(&resized(image, 256, 256), |_, v| f32::from(v) / 255.0);
            progress.step(0.15)?;
            let outputs = engine.run(SELFIE, vec![input])?;
            let out = outputs
                .first()
                .ok_or_else(|| AiError::ModelInvalid { model: SELFIE.into(), detail: "no output".into() })?;
            expect_len(SELFIE, &out.data, 256 * 256)?;
            mask_from(&out.data[..256 * 256], 256, 256, size)
        }
    };
    progress.step(0.8)?;
    Ok(mask)
}

/// Removes the background as `options` say; the result is RGBA for transparency, RGB otherwise.
pub fn remove(
    engine: &Engine,
    image: &RgbImage,
    options: &Options,
    progress: &dyn Progress,
) -> Result<image::DynamicImage, AiError> {
    let mut alpha = mask(engine, image, options.segmenter, progress)?;
    if options.refine {
        alpha = refine(image, &alpha, 4, 1e-3);
    }
    if options.feather > 0.0 {
        alpha = imageops::blur(&alpha, options.feather);
    }
    progress.step(0.9)?;
    let result = match &options.backdrop {
        Backdrop::Transparent => {
            let mut out = RgbaImage::new(image.width(), image.height());
            for ((o, p), a) in out.pixels_mut().zip(image.pixels()).zip(alpha.pixels()) {
                *o = Rgba([p[0], p[1], p[2], a[0]]);
            }
            image::DynamicImage::ImageRgba8(out)
        }
        Backdrop::Colour(colour) => image::DynamicImage::ImageRgb8(composite(image, &alpha, |_, _| *colour)),
        Backdrop::Photo(photo) => {
            let backdrop = cover(photo, image.width(), image.height());
            image::DynamicImage::ImageRgb8(composite(image, &alpha, |x, y| backdrop.get_pixel(x, y).0))
        }
    };
    progress.step(1.0)?;
    Ok(result)
}

fn composite(image: &RgbImage, alpha: &GrayImage, backdrop: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let a = f32::from(alpha.get_pixel(x, y)[0]) / 255.0;
        let fg = image.get_pixel(x, y);
        let bg = backdrop(x, y);
        Rgb(std::array::from_fn(|c| (f32::from(fg[c]) * a + f32::from(bg[c]) * (1.0 - a)).round() as u8))
    })
}

/// Scales and centre-crops `photo` to fill `width`×`height`.
pub fn cover(photo: &RgbImage, width: u32, height: u32) -> RgbImage {
    let scale = (width as f32 / photo.width().max(1) as f32).max(height as f32 / photo.height().max(1) as f32);
    let (w, h) = (
        ((photo.width() as f32 * scale).ceil() as u32).max(width),
        ((photo.height() as f32 * scale).ceil() as u32).max(height),
    );
    let scaled = imageops::resize(photo, w, h, FilterType::Triangle);
    imageops::crop_imm(&scaled, (w - width) / 2, (h - height) / 2, width, height).to_image()
}

/// He et al.'s guided filter: the mask follows edges of the photo's luminance within `radius`,
/// which tightens hair and product outlines that the model's low-resolution mask blurs.
pub fn refine(image: &RgbImage, mask: &GrayImage, radius: u32, eps: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let guide: Vec<f32> = image
        .pixels()
        .map(|p| (0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])) / 255.0)
        .collect();
    let p: Vec<f32> = mask.pixels().map(|m| f32::from(m[0]) / 255.0).collect();
    let mean = |v: &[f32]| box_mean(v, w as usize, h as usize, radius as usize);
    let mean_i = mean(&guide);
    let mean_p = mean(&p);
    let ii: Vec<f32> = guide.iter().map(|g| g * g).collect();
    let ip: Vec<f32> = guide.iter().zip(&p).map(|(g, m)| g * m).collect();
    let corr_i = mean(&ii);
    let corr_ip = mean(&ip);
    let a: Vec<f32> = (0..guide.len())
        .map(|i| (corr_ip[i] - mean_i[i] * mean_p[i]) / (corr_i[i] - mean_i[i] * mean_i[i] + eps))
        .collect();
    let b: Vec<f32> = (0..guide.len()).map(|i| mean_p[i] - a[i] * mean_i[i]).collect();
    let (mean_a, mean_b) = (mean(&a), mean(&b));
    let mut out = GrayImage::new(w, h);
    for (i, pixel) in out.pixels_mut().enumerate() {
        *pixel = Luma([((mean_a[i] * guide[i] + mean_b[i]).clamp(0.0, 1.0) * 255.0).round() as u8]);
    }
    out
}

/// Mean over a (2r+1)² window, clipped at the borders, in O(pixels) with summed-area tables.
fn box_mean(values: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut sat = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0f64;
        for x in 0..w {
            row += f64::from(values[y * w + x]);
            sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = sat[y1 * (w + 1) + x1] - sat[y0 * (w + 1) + x1] - sat[y1 * (w + 1) + x0] + sat[y0 * (w + 1) + x0];
            out[y * w + x] = (sum / ((y1 - y0) * (x1 - x0)) as f64) as f32;
        }
    }
    out
}
