//! Where the subject of a photo is, so a preset's crop keeps it rather than the centre: faces
//! for people (BlazeFace), else the salient object of the background-removal mask (IS-Net). The
//! models run on a copy at most 1024 pixels a side; without them, nothing is found and presets
//! fall back to the centre.

use ai::describe::FACES;
use ai::{AiError, Engine, Progress};
use image::DynamicImage;

/// A box in fractions of the photo: x, y, width, height.
pub type Region = [f32; 4];

/// A run nobody cancels.
struct Quiet;

impl Progress for Quiet {
    fn report(&self, _: f32) {}
    fn cancelled(&self) -> bool {
        false
    }
}

/// The subject's box: the faces with room for hair and shoulders when `people` (social crops)
/// and faces are found, else the mask's subject. `None` when neither model finds anything.
pub fn find(engine: &Engine, image: &DynamicImage, people: bool) -> Result<Option<Region>, AiError> {
    let small = image.thumbnail(1024, 1024).to_rgb8();
    if people && engine.is_installed(FACES) {
        // In the photo's own fractions already.
        let faces: Vec<Region> = ai::describe::faces(engine, &small)?;
        if let Some(union) = union(&faces) {
            // A face box is the face alone: grow it to head and shoulders, more below than above.
            let [x, y, w, h] = union;
            return Ok(Some(clamp([x - w * 0.5, y - h * 0.6, w * 2.0, h * 2.4])));
        }
    }
    if engine.is_installed(ai::background::ISNET) {
        let mask = ai::background::mask(engine, &small, ai::background::Segmenter::Objects, &Quiet)?;
        let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
        let mut count = 0u64;
        for (x, y, value) in mask.enumerate_pixels() {
            if value.0[0] >= 128 {
                (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x), bottom.max(y));
                count += 1;
            }
        }
        // Less than half a percent of the photo is noise, not a subject.
        if count * 200 >= u64::from(mask.width()) * u64::from(mask.height()) {
            let (w, h) = (mask.width() as f32, mask.height() as f32);
            return Ok(Some(clamp([
                left as f32 / w,
                top as f32 / h,
                (right + 1 - left) as f32 / w,
                (bottom + 1 - top) as f32 / h,
            ])));
        }
    }
    Ok(None)
}

fn union(boxes: &[Region]) -> Option<Region> {
    let first = *boxes.first()?;
    let [mut left, mut top, mut right, mut bottom] = [first[0], first[1], first[0] + first[2], first[1] + first[3]];
    for [x, y, w, h] in boxes.iter().copied() {
        (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x + w), bottom.max(y + h));
    }
    Some([left, top, right - left, bottom - top])
}

/// Keeps a box inside the photo.
pub fn clamp([x, y, w, h]: Region) -> Region {
    let (left, top) = (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0));
    let (right, bottom) = ((x + w).clamp(left, 1.0), (y + h).clamp(top, 1.0));
    [left, top, right - left, bottom - top]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: Region, b: Region) -> bool {
        a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-5)
    }

    #[test]
    fn boxes_join_and_stay_inside_the_photo() {
        assert!(near(union(&[[0.1, 0.1, 0.2, 0.2], [0.5, 0.4, 0.1, 0.1]]).unwrap(), [0.1, 0.1, 0.5, 0.4]));
        assert_eq!(union(&[]), None);
        assert!(near(clamp([-0.2, 0.5, 0.5, 0.8]), [0.0, 0.5, 0.3, 0.5]));
    }
}
