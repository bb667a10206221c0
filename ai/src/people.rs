//! People: a descriptor per face, so that the faces of one person can be grouped. Faces are found
//! by BlazeFace (`describe::faces`); each is cut out as a square 1.4 times the detector's box
//! (as `@vladmandic/human` feeds FaceRes), resized to 224×224 and described by FaceRes as 1024
//! numbers, L2-normalised so that the dot product of two descriptors is their cosine similarity.
//!
//! The model has no age or gender output: its converter prunes those heads.
//!
//! The threshold was set on real faces (see `SAME_PERSON`): the scikit-image astronaut against
//! flipped, cropped, half-size and JPEG-50 copies of itself scored 0.85 to 0.95; one man in eight
//! photos of `@vladmandic/human`'s face-match screenshot and his dinner photo from its samples,
//! 0.57 to 0.93 (0.52 for a ten-years-older webcam portrait of him); different people (the
//! astronaut, the cameraman, two women of the samples, that man) 0.21 to 0.45.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::tensor::{expect_len, nhwc};
use crate::{describe, AiError, Engine};

pub const FACERES: &str = "faceres";

/// The descriptor's length.
pub const EMBEDDING_LEN: usize = 1024;

/// The model's input side.
const SIDE: u32 = 224;

/// How much larger than the detector's box the crop is, on each axis (human's detector scale).
pub const ENLARGE: f32 = 1.4;

/// Two descriptors whose cosine similarity is at least this are taken for the same person. Set
/// between the lowest same-person score (0.52, years apart) and the highest different-person one
/// (0.45) measured on real faces; a face that falls short starts a person of its own, which the
/// person can then merge, rather than being put with a stranger.
pub const SAME_PERSON: f32 = 0.5;

/// Faces smaller than this many pixels across say too little to be told apart.
pub const MIN_FACE_PX: f32 = 24.0;

/// The most faces described in one photo (a crowd gives many small faces; the largest are kept).
pub const MAX_FACES: usize = 32;

/// One face found in a photo.
#[derive(Clone, Debug, PartialEq)]
pub struct Face {
    /// x, y, width, height as fractions of the photo, clamped to it.
    pub bbox: [f32; 4],
    /// Unit length: `EMBEDDING_LEN` values.
    pub embedding: Vec<f32>,
}

/// Finds the faces of `image` and describes each. A photo without faces gives none.
pub fn faces(engine: &Engine, image: &RgbImage) -> Result<Vec<Face>, AiError> {
    let (w, h) = image.dimensions();
    let mut boxes: Vec<[f32; 4]> = describe::faces(engine, image)?
        .into_iter()
        .filter(|b| b.iter().all(|v| v.is_finite()))
        .filter(|b| (b[2] * w as f32).min(b[3] * h as f32) >= MIN_FACE_PX)
        .collect();
    boxes.sort_by(|a, b| (b[2] * b[3]).total_cmp(&(a[2] * a[3])));
    boxes.truncate(MAX_FACES);
    let mut found = Vec::with_capacity(boxes.len());
    for bbox in boxes {
        let crop = face_crop(image, bbox, SIDE);
        let embedding = describe_face(engine, &crop)?;
        found.push(Face { bbox: clamp_box(bbox), embedding });
    }
    Ok(found)
}

/// FaceRes on one 224×224 crop: the unit-length descriptor.
pub fn describe_face(engine: &Engine, crop: &RgbImage) -> Result<Vec<f32>, AiError> {
    let crop = if crop.dimensions() == (SIDE, SIDE) {
        crop.clone()
    } else {
        imageops::resize(crop, SIDE, SIDE, FilterType::Triangle)
    };
    let outputs = engine.run(FACERES, vec![nhwc(&crop, |_, v| f32::from(v))])?;
    let out = outputs.iter().find(|o| o.shape.last() == Some(&EMBEDDING_LEN)).ok_or_else(|| AiError::ModelInvalid {
        model: FACERES.into(),
        detail: format!("no [N,{EMBEDDING_LEN}] descriptor output"),
    })?;
    expect_len(FACERES, &out.data, EMBEDDING_LEN)?;
    normalised(&out.data[..EMBEDDING_LEN])
        .ok_or_else(|| AiError::Inference("the face descriptor came out empty or not finite".into()))
}

/// The square around a face box (fractions of the photo), `ENLARGE` times its larger side,
/// resized to `size`×`size`; what falls outside the photo is black, as human's crop pads.
pub fn face_crop(image: &RgbImage, bbox: [f32; 4], size: u32) -> RgbImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (cx, cy) = ((bbox[0] + bbox[2] / 2.0) * w, (bbox[1] + bbox[3] / 2.0) * h);
    let side = ((bbox[2] * w).max(bbox[3] * h) * ENLARGE).clamp(1.0, 4.0 * w.max(h));
    let (x0, y0) = ((cx - side / 2.0).round() as i64, (cy - side / 2.0).round() as i64);
    let side_px = side.round().max(1.0) as u32;
    // Cut out at most the photo's own pixels, then scale: the square itself may reach past it.
    let mut square = RgbImage::from_pixel(side_px, side_px, Rgb([0, 0, 0]));
    let (sx, sy) = (x0.max(0), y0.max(0));
    let ex = (x0 + i64::from(side_px)).min(i64::from(image.width()));
    let ey = (y0 + i64::from(side_px)).min(i64::from(image.height()));
    if ex > sx && ey > sy {
        let part = imageops::crop_imm(image, sx as u32, sy as u32, (ex - sx) as u32, (ey - sy) as u32).to_image();
        imageops::replace(&mut square, &part, sx - x0, sy - y0);
    }
    imageops::resize(&square, size, size, FilterType::Triangle)
}

/// `values` scaled to unit length, or `None` when they are empty, zero or not finite.
pub fn normalised(values: &[f32]) -> Option<Vec<f32>> {
    let norm = values.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
    if values.is_empty() || !norm.is_finite() || norm <= f64::EPSILON {
        return None;
    }
    Some(values.iter().map(|v| (f64::from(*v) / norm) as f32).collect())
}

/// Cosine similarity of two unit-length descriptors (0 when their lengths differ).
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The person (index into `centroids`) a face belongs to: the most similar centroid at
/// `SAME_PERSON` or above, or `None` for a new person.
pub fn nearest(centroids: &[Vec<f32>], embedding: &[f32]) -> Option<usize> {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| (i, similarity(c, embedding)))
        .filter(|(_, s)| *s >= SAME_PERSON)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// A person's centroid after one more face: the running mean of its `count` faces so far and the
/// new one, back to unit length.
pub fn add_to_centroid(centroid: &[f32], count: u64, embedding: &[f32]) -> Vec<f32> {
    let n = count as f32;
    let sum: Vec<f32> = centroid.iter().zip(embedding).map(|(c, e)| c * n + e).collect();
    normalised(&sum).unwrap_or_else(|| embedding.to_vec())
}

/// Groups descriptors greedily, in order: each joins the nearest group's centroid at
/// `SAME_PERSON` or above, or starts a new group. Returns each descriptor's group index.
pub fn cluster(embeddings: &[Vec<f32>]) -> Vec<usize> {
    let mut centroids: Vec<Vec<f32>> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    embeddings
        .iter()
        .map(|e| match nearest(&centroids, e) {
            Some(i) => {
                centroids[i] = add_to_centroid(&centroids[i], counts[i], e);
                counts[i] += 1;
                i
            }
            None => {
                centroids.push(e.clone());
                counts.push(1);
                centroids.len() - 1
            }
        })
        .collect()
}

fn clamp_box([x, y, w, h]: [f32; 4]) -> [f32; 4] {
    let (x0, y0) = (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0));
    let (x1, y1) = ((x + w).clamp(0.0, 1.0), (y + h).clamp(0.0, 1.0));
    [x0, y0, x1 - x0, y1 - y0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u32) -> Vec<f32> {
        let raw: Vec<f32> =
            (0..EMBEDDING_LEN as u32).map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 - 500.0).collect();
        normalised(&raw).unwrap()
    }

    #[test]
    fn near_descriptors_cluster_together_and_far_ones_apart() {
        let (a, b) = (unit(1), unit(2));
        assert!(similarity(&a, &b) < SAME_PERSON);
        let a2 = normalised(&a.iter().zip(&b).map(|(x, y)| x + 0.1 * y).collect::<Vec<_>>()).unwrap();
        assert!(similarity(&a, &a2) > 0.9);
        assert_eq!(cluster(&[a.clone(), b.clone(), a2]), vec![0, 1, 0]);
        assert_eq!(nearest(&[b], &a), None);
    }

    #[test]
    fn zero_or_non_finite_values_have_no_direction() {
        assert_eq!(normalised(&[0.0; 4]), None);
        assert_eq!(normalised(&[f32::INFINITY, 1.0]), None);
        assert_eq!(normalised(&[]), None);
        assert_eq!(similarity(&[1.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn a_crop_past_the_photo_edge_is_padded_black_and_has_the_asked_size() {
        let image = RgbImage::from_pixel(100, 80, Rgb([200, 100, 50]));
        let crop = face_crop(&image, [-0.2, -0.2, 0.5, 0.5], 64);
        assert_eq!(crop.dimensions(), (64, 64));
        assert_eq!(crop.get_pixel(0, 0), &Rgb([0, 0, 0]));
        assert_eq!(crop.get_pixel(63, 63), &Rgb([200, 100, 50]));
        // A degenerate box still gives a crop, never a panic.
        assert_eq!(face_crop(&image, [2.0, 2.0, 0.0, 0.0], 8).dimensions(), (8, 8));
    }
}
