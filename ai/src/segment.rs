//! Selections for the eraser and generative fill, made with the models Atelier already installs:
//! the subject (IS-Net's foreground mask, thresholded) and an object (a CenterNet box, refined by
//! IS-Net run on that box alone). When the person running Atelier supplies a Segment Anything
//! model, an object can also be picked by a click (`point`).
//!
//! Every mask here is 0 or 255 at the size of the image given; the caller scales the photo to the
//! size it wants the mask at first (the eraser's canvas), which also keeps the work small.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};

use crate::background::{self, Segmenter};
use crate::describe::{self, Detection};
use crate::models::UserModel;
use crate::tensor::expect_len;
use crate::{AiError, Engine, Progress};

/// IS-Net's mask is soft; a selection is in or out at half.
const THRESHOLD: u8 = 128;
/// When IS-Net selects less than this share of a box, it found nothing there: the box itself is
/// the selection.
const MIN_SHARE_IN_BOX: f32 = 0.02;
/// Room around a box IS-Net sees besides the box (a share of the box's size on each side), so an
/// object's outline is not cut at the box's edge.
const CONTEXT: f32 = 0.15;

/// How a selection was made, for the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Subject,
    /// IS-Net inside a detected box.
    Refined,
    /// The box itself: IS-Net found nothing in it.
    Box,
    SegmentAnything,
}

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Method::Subject => "IS-Net",
            Method::Refined => "CenterNet box refined by IS-Net",
            Method::Box => "CenterNet box (IS-Net found nothing inside it)",
            Method::SegmentAnything => "Segment Anything",
        }
    }
}

/// The subject: IS-Net's foreground, in or out.
pub fn subject(engine: &Engine, image: &RgbImage, progress: &dyn Progress) -> Result<GrayImage, AiError> {
    let soft = background::mask(engine, image, Segmenter::Objects, progress)?;
    Ok(threshold(&soft))
}

/// The objects CenterNet finds (COCO's 80 kinds), best first.
pub fn objects(engine: &Engine, image: &RgbImage) -> Result<Vec<Detection>, AiError> {
    describe::objects(engine, image)
}

/// The object in `bbox` (x, y, width, height as fractions of the image): IS-Net on the box and a
/// margin around it, kept inside the box; the box itself where IS-Net finds nothing.
pub fn object(
    engine: &Engine,
    image: &RgbImage,
    bbox: [f32; 4],
    progress: &dyn Progress,
) -> Result<(GrayImage, Method), AiError> {
    let (w, h) = image.dimensions();
    let inner = pixel_box(bbox, w, h)?;
    let margin = |size: u32| ((size as f32 * CONTEXT).round() as u32).max(1);
    let (mx, my) = (margin(inner.2 - inner.0), margin(inner.3 - inner.1));
    let outer = (inner.0.saturating_sub(mx), inner.1.saturating_sub(my), (inner.2 + mx).min(w), (inner.3 + my).min(h));
    let crop = imageops::crop_imm(image, outer.0, outer.1, outer.2 - outer.0, outer.3 - outer.1).to_image();
    let found = threshold(&background::mask(engine, &crop, Segmenter::Objects, progress)?);
    Ok(keep_in_box(&found, (outer.0, outer.1), inner, (w, h)))
}

/// A fractional box as whole pixels (x0, y0, x1, y1), at least one pixel, within the image.
fn pixel_box([x, y, width, height]: [f32; 4], w: u32, h: u32) -> Result<(u32, u32, u32, u32), AiError> {
    let finite = [x, y, width, height].iter().all(|v| v.is_finite());
    if !finite || width <= 0.0 || height <= 0.0 {
        return Err(AiError::BadInput("The object's box is empty.".into()));
    }
    let to = |v: f32, size: u32| (v.clamp(0.0, 1.0) * size as f32).round() as u32;
    let (x0, y0) = (to(x, w).min(w - 1), to(y, h).min(h - 1));
    let (x1, y1) = (to(x + width, w).clamp(x0 + 1, w), to(y + height, h).clamp(y0 + 1, h));
    Ok((x0, y0, x1, y1))
}

/// `found` (a mask of the crop at `origin`) placed on an empty mask of `size`, kept inside
/// `inner`; or `inner` filled when the mask selects almost nothing there.
fn keep_in_box(
    found: &GrayImage,
    origin: (u32, u32),
    inner: (u32, u32, u32, u32),
    size: (u32, u32),
) -> (GrayImage, Method) {
    let mut mask = GrayImage::new(size.0, size.1);
    let mut selected = 0u64;
    for y in inner.1..inner.3 {
        for x in inner.0..inner.2 {
            let value = x
                .checked_sub(origin.0)
                .zip(y.checked_sub(origin.1))
                .and_then(|(cx, cy)| found.get_pixel_checked(cx, cy))
                .map_or(0, |p| p[0]);
            if value >= THRESHOLD {
                mask.put_pixel(x, y, Luma([255]));
                selected += 1;
            }
        }
    }
    let area = u64::from(inner.2 - inner.0) * u64::from(inner.3 - inner.1);
    if (selected as f32) >= MIN_SHARE_IN_BOX * area as f32 {
        return (mask, Method::Refined);
    }
    for y in inner.1..inner.3 {
        for x in inner.0..inner.2 {
            mask.put_pixel(x, y, Luma([255]));
        }
    }
    (mask, Method::Box)
}

fn threshold(soft: &GrayImage) -> GrayImage {
    GrayImage::from_fn(soft.width(), soft.height(), |x, y| {
        Luma([if soft.get_pixel(x, y)[0] >= THRESHOLD { 255 } else { 0 }])
    })
}

/// The ids a supplied Segment Anything model's two files are opened under.
pub const SAM_ENCODER: &str = "sam-encoder";
pub const SAM_DECODER: &str = "sam-decoder";

/// A Segment Anything model the person running Atelier supplies, as the two ONNX files its
/// authors' tools make (any of `sam_vit_b` / `_l` / `_h`):
///
/// - the **encoder**: the model's `image_encoder` exported alone, input `[1,3,1024,1024]` float
///   (the photo scaled so its longer side is 1024, normalised by SAM's pixel mean and deviation,
///   zero-padded right and below — what `SamPredictor.set_image` feeds it), output the image
///   embedding `[1,256,64,64]`;
/// - the **decoder**: `scripts/export_onnx_model.py` of the `segment-anything` repository
///   (with or without `--return-single-mask`), inputs in its order: `image_embeddings`,
///   `point_coords [1,N,2]`, `point_labels [1,N]`, `mask_input [1,1,256,256]`, `has_mask_input [1]`,
///   `orig_im_size [2]`, all float; outputs `masks [1,K,H,W]` (logits, in at > 0),
///   `iou_predictions [1,K]`, `low_res_masks`.
#[derive(Clone, Debug)]
pub struct SamModels {
    pub encoder: UserModel,
    pub decoder: UserModel,
}

impl SamModels {
    /// Both files are there and are the ones their hashes name: checked when the server starts,
    /// so a wrong path or file is told at once rather than at the first click.
    pub fn verify(&self) -> Result<(), AiError> {
        self.encoder.verify(SAM_ENCODER)?;
        self.decoder.verify(SAM_DECODER)
    }
}

const SAM_SIDE: u32 = 1024;
const SAM_EMBEDDING: usize = 256 * 64 * 64;
const SAM_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
const SAM_STD: [f32; 3] = [58.395, 57.12, 57.375];

/// The encoder's input for `image` and the factors from image pixels to its pixels (x, y).
fn sam_input(image: &RgbImage) -> ((Vec<usize>, Vec<f32>), (f32, f32)) {
    let (w, h) = image.dimensions();
    let scale = SAM_SIDE as f32 / w.max(h).max(1) as f32;
    // As SAM's `ResizeLongestSide`: the shorter side rounded.
    let (nw, nh) = (
        ((w as f32 * scale).round() as u32).clamp(1, SAM_SIDE),
        ((h as f32 * scale).round() as u32).clamp(1, SAM_SIDE),
    );
    let resized = imageops::resize(image, nw, nh, FilterType::Triangle);
    let side = SAM_SIDE as usize;
    let mut data = vec![0.0f32; 3 * side * side];
    for (x, y, pixel) in resized.enumerate_pixels() {
        for c in 0..3 {
            data[c * side * side + y as usize * side + x as usize] = (f32::from(pixel[c]) - SAM_MEAN[c]) / SAM_STD[c];
        }
    }
    ((vec![1, 3, side, side], data), (nw as f32 / w.max(1) as f32, nh as f32 / h.max(1) as f32))
}

/// The object at `point` (image pixels), by a supplied Segment Anything model: one foreground
/// point (and the padding point its decoder expects when no box is given).
pub fn point(
    engine: &Engine,
    image: &RgbImage,
    point: (f32, f32),
    progress: &dyn Progress,
) -> Result<GrayImage, AiError> {
    if !engine.has_sam() {
        return Err(AiError::BadInput("No Segment Anything model is configured on this server.".into()));
    }
    let (w, h) = image.dimensions();
    if !(point.0.is_finite() && point.1.is_finite())
        || point.0 < 0.0
        || point.1 < 0.0
        || point.0 > w as f32
        || point.1 > h as f32
    {
        return Err(AiError::BadInput("The point is outside the photo.".into()));
    }
    progress.step(0.05)?;
    let (input, (sx, sy)) = sam_input(image);
    let encoded = engine.run(SAM_ENCODER, vec![input])?;
    let embedding = encoded
        .into_iter()
        .next()
        .ok_or_else(|| AiError::ModelInvalid { model: SAM_ENCODER.into(), detail: "no output".into() })?;
    expect_len(SAM_ENCODER, &embedding.data, SAM_EMBEDDING)?;
    progress.step(0.7)?;
    let inputs = vec![
        (vec![1, 256, 64, 64], embedding.data[..SAM_EMBEDDING].to_vec()),
        (vec![1, 2, 2], vec![point.0 * sx, point.1 * sy, 0.0, 0.0]),
        (vec![1, 2], vec![1.0, -1.0]),
        (vec![1, 1, 256, 256], vec![0.0; 256 * 256]),
        (vec![1], vec![0.0]),
        (vec![2], vec![h as f32, w as f32]),
    ];
    let outputs = engine.run(SAM_DECODER, inputs)?;
    let plane = (w * h) as usize;
    let masks = outputs
        .iter()
        .find(|o| o.shape.len() == 4 && o.shape[2] == h as usize && o.shape[3] == w as usize)
        .ok_or_else(|| AiError::ModelInvalid {
            model: SAM_DECODER.into(),
            detail: format!("no [1,K,{h},{w}] masks output (the decoder export of segment-anything is expected)"),
        })?;
    let count = masks.shape[1].max(1);
    expect_len(SAM_DECODER, &masks.data, plane * count)?;
    // Several masks (a decoder exported without --return-single-mask): the one it rates best.
    let best = outputs
        .iter()
        .find(|o| o.shape.len() == 2 && o.shape[1] == count && o.data.len() >= count)
        .and_then(|scores| {
            (0..count).max_by(|&a, &b| scores.data[a].partial_cmp(&scores.data[b]).unwrap_or(std::cmp::Ordering::Equal))
        })
        .unwrap_or(0);
    let logits = &masks.data[best * plane..(best + 1) * plane];
    progress.step(1.0)?;
    Ok(GrayImage::from_fn(w, h, |x, y| Luma([if logits[(y * w + x) as usize] > 0.0 { 255 } else { 0 }])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_keeps_only_what_is_found_inside_it_and_falls_back_to_itself() {
        // A crop at (2, 2) of a 12×10 image whose mask selects a 4×4 square and a stray corner.
        let found = GrayImage::from_fn(8, 6, |x, y| {
            Luma([if (2..6).contains(&x) && (1..5).contains(&y) || (x, y) == (0, 0) { 255 } else { 0 }])
        });
        let inner = (3, 3, 9, 8);
        let (mask, method) = keep_in_box(&found, (2, 2), inner, (12, 10));
        assert_eq!(method, Method::Refined);
        assert_eq!(mask.dimensions(), (12, 10));
        // The square, at crop (2..6, 1..5) = image (4..8, 3..7), inside the box.
        assert_eq!(mask.get_pixel(4, 3)[0], 255);
        assert_eq!(mask.get_pixel(7, 6)[0], 255);
        // The stray corner at image (2, 2) is outside the box: dropped.
        assert_eq!(mask.get_pixel(2, 2)[0], 0);
        assert_eq!(mask.pixels().filter(|p| p[0] == 255).count(), 16);

        let nothing = GrayImage::new(8, 6);
        let (mask, method) = keep_in_box(&nothing, (2, 2), inner, (12, 10));
        assert_eq!(method, Method::Box);
        assert_eq!(mask.pixels().filter(|p| p[0] == 255).count(), 6 * 5);
        assert_eq!(mask.get_pixel(3, 3)[0], 255);
        assert_eq!(mask.get_pixel(9, 8)[0], 0);
    }

    #[test]
    fn boxes_become_whole_pixels_within_the_image_and_empty_ones_are_refused() {
        assert_eq!(pixel_box([0.25, 0.5, 0.5, 0.5], 100, 10).unwrap(), (25, 5, 75, 10));
        // Past the edge: clamped, never empty.
        assert_eq!(pixel_box([0.99, 0.99, 0.5, 0.5], 100, 100).unwrap(), (99, 99, 100, 100));
        assert_eq!(pixel_box([-0.5, 0.0, 0.2, 1.0], 100, 100).unwrap(), (0, 0, 1, 100));
        for bad in
            [[0.1, 0.1, 0.0, 0.2], [0.1, 0.1, 0.2, -1.0], [f32::NAN, 0.1, 0.2, 0.2], [0.1, 0.1, f32::INFINITY, 0.2]]
        {
            assert!(pixel_box(bad, 100, 100).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn segment_anything_gets_the_photo_scaled_to_1024_normalised_and_padded() {
        let image = RgbImage::from_pixel(400, 200, image::Rgb([123, 116, 103]));
        let ((shape, data), (sx, sy)) = sam_input(&image);
        assert_eq!(shape, [1, 3, 1024, 1024]);
        assert_eq!((sx, sy), (1024.0 / 400.0, 512.0 / 200.0));
        let side = 1024 * 1024;
        // Near SAM's mean inside the photo (about 0 after normalising), exactly 0 in the padding.
        assert!(data[0].abs() < 0.02 && data[side + 511 * 1024].abs() < 0.02);
        assert_eq!(data[2 * side + 600 * 1024 + 10], 0.0);
        let white = RgbImage::from_pixel(10, 20, image::Rgb([255, 255, 255]));
        let ((_, data), _) = sam_input(&white);
        assert!((data[0] - (255.0 - 123.675) / 58.395).abs() < 1e-4);
        assert_eq!(data[600], 0.0, "right of the 512-wide photo is padding");
    }
}
