//! Blur faces: every face BlazeFace finds (`describe::faces`), or the boxes the person picked,
//! blurred or pixelated under a soft oval; every pixel outside the ovals stays as it was.
//!
//! Strength scales with each face's size, so a small face in a crowd and a close portrait are
//! hidden alike. Memory stays within the result and one copy of the largest face's surroundings.

use image::RgbImage;

use crate::{describe, AiError, Progress};

/// How a face is hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A Gaussian blur (three box blurs, so time does not grow with the strength).
    Blur,
    /// A mosaic of flat blocks.
    Pixelate,
}

/// How much each side of a face box is pushed out, as a share of the box: BlazeFace's boxes stop
/// at the brow and the cheeks, and the oval inside the grown box should still cover hair and ears.
const GROW: f32 = 0.25;

/// The oval is fully applied within this share of its radius and fades to nothing at its rim.
const SOLID: f32 = 0.8;

/// The message when there is nothing to blur.
pub const NO_FACES: &str = "No faces were found in this photo.";

/// What `blur_faces` did.
#[derive(Clone, Debug, PartialEq)]
pub struct Blurred {
    pub image: RgbImage,
    /// How many faces were hidden (their positions are not kept).
    pub faces: usize,
}

/// Hides the faces of `image`: the `picked` boxes (x, y, width, height as fractions of the photo)
/// or, when `None`, every face BlazeFace finds. `strength` is 1..=100. No face found is a
/// `BadInput` with [`NO_FACES`].
pub fn blur_faces(
    engine: &crate::Engine,
    image: &RgbImage,
    style: Style,
    strength: u8,
    picked: Option<&[[f32; 4]]>,
    progress: &dyn Progress,
) -> Result<Blurred, AiError> {
    progress.step(0.05)?;
    let found;
    let boxes = match picked {
        Some(boxes) => boxes,
        None => {
            found = describe::faces(engine, image)?;
            &found
        }
    };
    progress.step(0.3)?;
    hide_faces(image, boxes, style, strength, progress)
}

/// Hides the given face boxes (fractions of the photo); boxes wholly outside it are skipped,
/// and none left is a `BadInput` with [`NO_FACES`].
pub fn hide_faces(
    image: &RgbImage,
    boxes: &[[f32; 4]],
    style: Style,
    strength: u8,
    progress: &dyn Progress,
) -> Result<Blurred, AiError> {
    if !(1..=100).contains(&strength) {
        return Err(AiError::BadInput("The strength is 1 to 100.".into()));
    }
    let regions: Vec<Region> = boxes.iter().filter_map(|face| Region::around(*face, image.dimensions())).collect();
    if regions.is_empty() {
        return Err(AiError::BadInput(NO_FACES.into()));
    }
    let mut result = image.clone();
    for (done, region) in regions.iter().enumerate() {
        hide(&mut result, region, style, strength, progress)?;
        progress.step(0.3 + 0.7 * (done + 1) as f32 / regions.len() as f32)?;
    }
    Ok(Blurred { image: result, faces: regions.len() })
}

/// A face's grown box: the oval that hides it (in pixels, centre and radii, perhaps reaching past
/// the photo's edge), the pixels it covers (`x0..x1`, `y0..y1`, within the photo) and the face's
/// own size.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Region {
    centre: (f32, f32),
    radii: (f32, f32),
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    /// The face box's side in pixels (the geometric mean of its width and height), which the
    /// strength is a share of.
    face: f32,
}

impl Region {
    /// `face` (fractions of the photo) grown by `GROW` on every side, its pixels clamped to the
    /// photo; `None` when nothing of it lies within the photo or it is not a box.
    fn around(face: [f32; 4], (width, height): (u32, u32)) -> Option<Region> {
        let [x, y, w, h] = face;
        if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) || w <= 0.0 || h <= 0.0 {
            return None;
        }
        let (fw, fh) = (width as f32, height as f32);
        let centre = ((x + w / 2.0) * fw, (y + h / 2.0) * fh);
        // At least half a pixel, so even a box smaller than a pixel covers the one it is in.
        let radii = ((w * fw * (0.5 + GROW)).max(0.5), (h * fh * (0.5 + GROW)).max(0.5));
        let span = |centre: f32, radius: f32, limit: u32| {
            let from = (centre - radius).floor().clamp(0.0, limit as f32) as u32;
            let to = (centre + radius).ceil().clamp(0.0, limit as f32) as u32;
            (from < to).then_some((from, to))
        };
        let (x0, x1) = span(centre.0, radii.0, width)?;
        let (y0, y1) = span(centre.1, radii.1, height)?;
        Some(Region { centre, radii, x0, y0, x1, y1, face: ((w * fw) * (h * fh)).sqrt().max(1.0) })
    }

    fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    /// How much of the hiding a pixel gets: 1 inside the oval's core, easing to 0 at its rim.
    fn weight(&self, x: u32, y: u32) -> f32 {
        let u = (x as f32 + 0.5 - self.centre.0) / self.radii.0;
        let v = (y as f32 + 0.5 - self.centre.1) / self.radii.1;
        let t = ((1.0 - (u * u + v * v).sqrt()) / (1.0 - SOLID)).clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    }
}

/// Hides one region of `image` in place.
fn hide(
    image: &mut RgbImage,
    region: &Region,
    style: Style,
    strength: u8,
    progress: &dyn Progress,
) -> Result<(), AiError> {
    let share = f32::from(strength) / 100.0;
    match style {
        Style::Blur => {
            // A quarter of the face at full strength: no feature survives.
            let sigma = (share * region.face / 4.0).max(1.0);
            // The blur reads a margin around the region so its edge is not darkened by it.
            let margin = (3.0 * sigma).ceil() as u32;
            let (w, h) = image.dimensions();
            let x0 = region.x0.saturating_sub(margin);
            let y0 = region.y0.saturating_sub(margin);
            let x1 = region.x1.saturating_add(margin).min(w);
            let y1 = region.y1.saturating_add(margin).min(h);
            let mut around = image::imageops::crop_imm(&*image, x0, y0, x1 - x0, y1 - y0).to_image();
            gaussian(&mut around, sigma, progress)?;
            blend(image, region, |x, y| around.get_pixel(x - x0, y - y0).0);
        }
        Style::Pixelate => {
            // Four blocks across the face at full strength.
            let block = (share * region.face / 4.0).round().max(2.0) as u32;
            let blocks = Mosaic::of(image, region, block);
            blend(image, region, |x, y| blocks.colour(x, y));
        }
    }
    Ok(())
}

/// Mixes `hidden` into `image` within the region's oval; pixels whose weight is 0 are untouched.
fn blend(image: &mut RgbImage, region: &Region, hidden: impl Fn(u32, u32) -> [u8; 3]) {
    for y in region.y0..region.y1 {
        for x in region.x0..region.x1 {
            let weight = region.weight(x, y);
            if weight <= 0.0 {
                continue;
            }
            let target = hidden(x, y);
            let pixel = image.get_pixel_mut(x, y);
            for (value, to) in pixel.0.iter_mut().zip(target) {
                let mixed = f32::from(*value) + (f32::from(to) - f32::from(*value)) * weight;
                *value = mixed.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// The region's blocks (a grid from its top-left corner), each the average of its pixels.
struct Mosaic {
    region: Region,
    block: u32,
    columns: u32,
    colours: Vec<[u8; 3]>,
}

impl Mosaic {
    fn of(image: &RgbImage, region: &Region, block: u32) -> Mosaic {
        let columns = region.width().div_ceil(block);
        let rows = region.height().div_ceil(block);
        let mut colours = Vec::with_capacity((columns * rows) as usize);
        for row in 0..rows {
            for column in 0..columns {
                let bx0 = region.x0 + column * block;
                let by0 = region.y0 + row * block;
                let (bx1, by1) = ((bx0 + block).min(region.x1), (by0 + block).min(region.y1));
                let mut sum = [0u64; 3];
                for y in by0..by1 {
                    for x in bx0..bx1 {
                        for (total, value) in sum.iter_mut().zip(image.get_pixel(x, y).0) {
                            *total += u64::from(value);
                        }
                    }
                }
                let count = u64::from((bx1 - bx0) * (by1 - by0)).max(1);
                colours.push(sum.map(|total| ((total + count / 2) / count) as u8));
            }
        }
        Mosaic { region: *region, block, columns, colours }
    }

    fn colour(&self, x: u32, y: u32) -> [u8; 3] {
        let column = (x - self.region.x0) / self.block;
        let row = (y - self.region.y0) / self.block;
        self.colours.get((row * self.columns + column) as usize).copied().unwrap_or_default()
    }
}

/// A Gaussian blur of `image` in place, as three box blurs per direction (edges extended).
fn gaussian(image: &mut RgbImage, sigma: f32, progress: &dyn Progress) -> Result<(), AiError> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Ok(());
    }
    let mut scratch = Vec::new();
    let mut column = Vec::with_capacity(h as usize * 3);
    for radius in box_radii(sigma) {
        if progress.cancelled() {
            return Err(AiError::Cancelled);
        }
        for row in image.chunks_exact_mut(w as usize * 3) {
            box_blur_line(row, 3, radius, &mut scratch);
        }
        for x in 0..w {
            column.clear();
            for y in 0..h {
                column.extend_from_slice(&image.get_pixel(x, y).0);
            }
            box_blur_line(&mut column, 3, radius, &mut scratch);
            for (y, pixel) in (0..h).zip(column.chunks_exact(3)) {
                image.get_pixel_mut(x, y).0.copy_from_slice(pixel);
            }
        }
    }
    Ok(())
}

/// The radii of three box blurs whose sum approximates a Gaussian of `sigma` (Kovesi's widths).
fn box_radii(sigma: f32) -> [usize; 3] {
    let n = 3.0;
    let ideal = (12.0 * sigma * sigma / n + 1.0).sqrt();
    let mut lower = ideal.floor() as i64;
    if lower % 2 == 0 {
        lower -= 1;
    }
    let lower = lower.max(1);
    let l = lower as f32;
    let smaller = ((12.0 * sigma * sigma - n * l * l - 4.0 * n * l - 3.0 * n) / (-4.0 * l - 4.0)).round() as i64;
    let widths = [0, 1, 2].map(|i| if i < smaller { lower } else { lower + 2 });
    widths.map(|width| ((width - 1) / 2).max(0) as usize)
}

/// A box blur of `radius` along one line of interleaved `channels`, in place, the ends extended;
/// `scratch` is reused between calls.
fn box_blur_line(values: &mut [u8], channels: usize, radius: usize, scratch: &mut Vec<u8>) {
    let n = values.len() / channels;
    if radius == 0 || n == 0 {
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(values);
    let at = |i: isize, c: usize| u32::from(scratch[(i.clamp(0, n as isize - 1) as usize) * channels + c]);
    let width = (2 * radius + 1) as u32;
    let r = radius as isize;
    for c in 0..channels {
        let mut sum: u32 = (-r..=r).map(|i| at(i, c)).sum();
        for i in 0..n {
            values[i * channels + c] = ((sum + width / 2) / width) as u8;
            let i = i as isize;
            sum = sum + at(i + r + 1, c) - at(i - r, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    /// A photo of noise: every pixel differs from its neighbours, so any blurring shows.
    fn noise(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let mut v = x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663);
            v ^= v >> 13;
            v = v.wrapping_mul(0x5bd1_e995);
            image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
        })
    }

    fn difference(a: &RgbImage, b: &RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
        let mut sum = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                for (p, q) in a.get_pixel(x, y).0.iter().zip(b.get_pixel(x, y).0) {
                    sum += (f64::from(*p) - f64::from(q)).abs();
                }
            }
        }
        sum / f64::from((x1 - x0) * (y1 - y0) * 3)
    }

    #[test]
    fn a_face_box_grows_a_quarter_on_every_side_and_stops_at_the_photos_edge() {
        let middle = Region::around([0.4, 0.4, 0.2, 0.2], (100, 100)).unwrap();
        assert_eq!((middle.x0, middle.y0, middle.x1, middle.y1), (35, 35, 65, 65));
        assert_eq!(middle.face, 20.0);
        let corner = Region::around([0.0, 0.0, 0.2, 0.1], (100, 200)).unwrap();
        assert_eq!((corner.x0, corner.y0, corner.x1, corner.y1), (0, 0, 25, 25));
        assert_eq!(corner.centre, (10.0, 10.0), "the oval is not squeezed by the edge");
        assert_eq!(Region::around([1.2, 0.0, 0.1, 0.1], (100, 100)), None, "wholly outside");
        assert_eq!(Region::around([0.2, 0.2, 0.0, 0.1], (100, 100)), None, "empty");
        assert_eq!(Region::around([f32::NAN, 0.2, 0.1, 0.1], (100, 100)), None);
        assert_eq!(Region::around([0.2, 0.2, 0.1, 0.1], (0, 0)), None, "no pixels");
    }

    #[test]
    fn only_the_oval_changes_in_either_style() {
        let photo = noise(80, 60);
        let face = [0.3, 0.3, 0.3, 0.4];
        let region = Region::around(face, photo.dimensions()).unwrap();
        for style in [Style::Blur, Style::Pixelate] {
            let hidden = hide_faces(&photo, &[face], style, 60, &Quiet).unwrap();
            assert_eq!(hidden.faces, 1);
            assert_eq!(hidden.image.dimensions(), photo.dimensions());
            for (x, y, pixel) in hidden.image.enumerate_pixels() {
                if region.weight(x, y) == 0.0 {
                    assert_eq!(pixel, photo.get_pixel(x, y), "{style:?}: ({x}, {y}) is outside the oval");
                }
            }
            let core = (region.x0 + 6, region.y0 + 8, region.x1 - 6, region.y1 - 8);
            assert!(difference(&hidden.image, &photo, core) > 30.0, "{style:?}: the face is hidden");
        }
    }

    #[test]
    fn pixelating_makes_flat_blocks_that_grow_with_the_face() {
        let photo = noise(100, 100);
        let distinct = |image: &RgbImage| {
            let mut colours: Vec<[u8; 3]> =
                (40..60).flat_map(|y| (40..60).map(move |x| (x, y))).map(|(x, y)| image.get_pixel(x, y).0).collect();
            colours.sort_unstable();
            colours.dedup();
            colours.len()
        };
        assert!(distinct(&photo) > 300);
        // A face of 50 px at full strength: blocks of 13 px, so at most 3 × 3 in a 20 px square.
        let strong = hide_faces(&photo, &[[0.25, 0.25, 0.5, 0.5]], Style::Pixelate, 100, &Quiet).unwrap();
        assert!(distinct(&strong.image) <= 9, "{} colours", distinct(&strong.image));
        let weak = hide_faces(&photo, &[[0.25, 0.25, 0.5, 0.5]], Style::Pixelate, 20, &Quiet).unwrap();
        assert!(distinct(&weak.image) > distinct(&strong.image), "weaker means smaller blocks");
        assert!(distinct(&weak.image) <= 100, "blocks of 3 px: at most 8 × 8 in the square");
    }

    #[test]
    fn blurring_smooths_the_face_more_at_a_higher_strength() {
        let photo = noise(100, 100);
        let steps = |image: &RgbImage| {
            let mut sum = 0.0;
            for y in 40..60 {
                for x in 40..60 {
                    sum += f64::from(image.get_pixel(x, y)[1].abs_diff(image.get_pixel(x + 1, y)[1]));
                }
            }
            sum / 400.0
        };
        let face = [[0.25, 0.25, 0.5, 0.5]];
        let strong = hide_faces(&photo, &face, Style::Blur, 100, &Quiet).unwrap().image;
        let weak = hide_faces(&photo, &face, Style::Blur, 5, &Quiet).unwrap().image;
        assert!(steps(&photo) > 50.0);
        assert!(steps(&strong) < 2.0, "{}", steps(&strong));
        assert!(steps(&weak) > steps(&strong) && steps(&weak) < steps(&photo));
    }

    #[test]
    fn box_blurs_add_up_to_the_gaussian() {
        for sigma in [1.0f32, 2.5, 7.0, 40.0] {
            let radii = box_radii(sigma);
            // A box of radius r has variance r(r+1)/3; three in a row add up.
            let variance: f32 = radii.iter().map(|&r| (r * (r + 1)) as f32 / 3.0).sum();
            assert!((variance.sqrt() - sigma).abs() < 0.3 + sigma * 0.05, "σ {sigma}: {radii:?}");
        }
        let mut line = vec![0, 0, 0, 255, 255, 255, 0, 0, 0];
        box_blur_line(&mut line, 3, 1, &mut Vec::new());
        assert_eq!(line, vec![85, 85, 85, 85, 85, 85, 85, 85, 85]);
    }

    #[test]
    fn tiny_photos_and_missing_faces_do_not_panic() {
        for (width, height) in [(1, 1), (2, 1), (1, 3), (3, 2)] {
            let photo = noise(width, height);
            for style in [Style::Blur, Style::Pixelate] {
                let hidden = hide_faces(&photo, &[[0.0, 0.0, 1.0, 1.0]], style, 100, &Quiet).unwrap();
                assert_eq!(hidden.image.dimensions(), (width, height));
            }
        }
        let photo = noise(40, 30);
        for boxes in [&[][..], &[[1.5, 1.5, 0.2, 0.2]][..], &[[0.5, 0.5, 0.0, 0.0]][..]] {
            match hide_faces(&photo, boxes, Style::Blur, 50, &Quiet) {
                Err(AiError::BadInput(message)) => assert_eq!(message, NO_FACES),
                other => panic!("{boxes:?}: {other:?}"),
            }
        }
        assert!(matches!(
            hide_faces(&photo, &[[0.1, 0.1, 0.5, 0.5]], Style::Blur, 0, &Quiet),
            Err(AiError::BadInput(_))
        ));
    }

    #[test]
    fn cancelling_stops_before_the_next_face() {
        struct Cancelled;
        impl Progress for Cancelled {
            fn report(&self, _: f32) {}
            fn cancelled(&self) -> bool {
                true
            }
        }
        let photo = noise(200, 200);
        let result = hide_faces(&photo, &[[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.3, 0.3]], Style::Blur, 80, &Cancelled);
        assert!(matches!(result, Err(AiError::Cancelled)));
    }
}
