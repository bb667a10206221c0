//! Moderation: Yahoo's open_nsfw scores how likely a photo is to be explicit (0..1).

use image::imageops::{self, FilterType};
use image::RgbImage;

use crate::tensor::{expect_len, nhwc};
use crate::{AiError, Engine};

pub const OPEN_NSFW: &str = "open-nsfw";

/// The probability that `image` is not safe for work, as open_nsfw computes it: 256² resize,
/// centre 224² crop, BGR minus the Caffe channel means.
pub fn nsfw_score(engine: &Engine, image: &RgbImage) -> Result<f32, AiError> {
    let resized = imageops::resize(image, 256, 256, FilterType::Triangle);
    let crop = imageops::crop_imm(&resized, 16, 16, 224, 224).to_image();
    const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];
    let (shape, mut data) = nhwc(&crop, |_, v| f32::from(v));
    for pixel in data.chunks_exact_mut(3) {
        let (r, b) = (pixel[0], pixel[2]);
        pixel[0] = b - MEAN_BGR[0];
        pixel[1] -= MEAN_BGR[1];
        pixel[2] = r - MEAN_BGR[2];
    }
    let outputs = engine.run(OPEN_NSFW, vec![(shape, data)])?;
    let out =
        outputs.first().ok_or_else(|| AiError::ModelInvalid { model: OPEN_NSFW.into(), detail: "no output".into() })?;
    expect_len(OPEN_NSFW, &out.data, 2)?;
    Ok(out.data[1].clamp(0.0, 1.0))
}
