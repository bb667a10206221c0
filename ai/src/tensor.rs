//! Pixels to tensors and back: the pre- and post-processing every model shares.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};

/// Planar [1,3,H,W] floats from an RGB image, each channel value mapped by `f`.
pub fn nchw(image: &RgbImage, f: impl Fn(usize, u8) -> f32) -> (Vec<usize>, Vec<f32>) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut data = vec![0.0; 3 * w * h];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = f(c, pixel[c]);
        }
    }
    (vec![1, 3, h, w], data)
}

/// Interleaved [1,H,W,3] floats from an RGB image, each channel value mapped by `f`.
pub fn nhwc(image: &RgbImage, f: impl Fn(usize, u8) -> f32) -> (Vec<usize>, Vec<f32>) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let data = image.pixels().flat_map(|p| (0..3).map(move |c| (c, p[c]))).map(|(c, v)| f(c, v)).collect();
    (vec![1, h, w, 3], data)
}

/// Resizes to exactly `width`×`height` (aspect not kept), as the segmentation models expect.
pub fn resized(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        image.clone()
    } else {
        imageops::resize(image, width, height, FilterType::Triangle)
    }
}

/// A single-channel model output in 0..1 (`width`×`height` values) as a mask of the photo's size.
pub fn mask_from(values: &[f32], width: u32, height: u32, to: (u32, u32)) -> GrayImage {
    let mut mask = GrayImage::new(width, height);
    for (pixel, value) in mask.pixels_mut().zip(values) {
        *pixel = Luma([(value.clamp(0.0, 1.0) * 255.0).round() as u8]);
    }
    if (width, height) == to {
        mask
    } else {
        imageops::resize(&mask, to.0, to.1, FilterType::Triangle)
    }
}

/// Checks a model output holds at least `len` values, so a model with the wrong shape is an
/// error rather than an out-of-bounds read.
pub fn expect_len(model: &str, data: &[f32], len: usize) -> Result<(), crate::AiError> {
    if data.len() < len {
        return Err(crate::AiError::ModelInvalid {
            model: model.into(),
            detail: format!("it returned {} values, {len} expected", data.len()),
        });
    }
    Ok(())
}
