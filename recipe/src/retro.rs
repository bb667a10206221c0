//! The retro looks: grain, halftone, duotone, palettes, VHS, light leaks and the instant-photo
//! frame. The editor's WASM and the server's replay must make the same pixels: chance comes from
//! an integer hash of the seed, and the little float maths is only arithmetic and square roots,
//! which IEEE 754 rounds alike everywhere (no sin, cos or pow, whose libraries differ).

use photon_rs::PhotonImage;

use crate::{framed_size, Corner, Palette, Rgb};

/// Runs `paint` over every RGBA pixel with its position.
fn map_pixels(image: &PhotonImage, mut paint: impl FnMut(u32, u32, &mut [u8])) -> PhotonImage {
    let (width, height) = (image.get_width(), image.get_height());
    let mut pixels = image.get_raw_pixels();
    for (index, pixel) in pixels.chunks_exact_mut(4).enumerate() {
        let index = index as u64;
        paint((index % u64::from(width)) as u32, (index / u64::from(width)) as u32, pixel);
    }
    PhotonImage::new(pixels, width, height)
}

fn channel(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// Rec. 601 luma, 0..=255, in integers.
fn luma(pixel: &[u8]) -> u32 {
    (299 * u32::from(pixel[0]) + 587 * u32::from(pixel[1]) + 114 * u32::from(pixel[2]) + 500) / 1000
}

/// A well-mixed 32-bit hash (Chris Wellons' "lowbias32"): the grain's only source of chance.
fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Noise at lattice point (`x`, `y`): the sum of two bytes less 255, so -255..=255, triangular
/// and exactly zero on average.
fn lattice_noise(seed: u32, x: u32, y: u32) -> i32 {
    let h = hash(x.wrapping_add(hash(y.wrapping_add(hash(seed)))));
    (h & 0xff) as i32 + ((h >> 8) & 0xff) as i32 - 255
}

/// Monochrome grain: noise on a lattice every `size` pixels, blended between lattice points, added
/// to every channel. All in integers, so every platform draws the same grain for a seed.
pub fn film_grain(image: &PhotonImage, amount: u8, size: u16, seed: u32) -> PhotonImage {
    let (width, height) = (image.get_width(), image.get_height());
    let size = u32::from(size.max(1));
    let cells = width / size + 2;
    let row = |cell_y: u32| -> Vec<i32> { (0..cells).map(|cell_x| lattice_noise(seed, cell_x, cell_y)).collect() };
    let (mut above, mut below, mut cell_row) = (row(0), row(1), 0);
    let mut pixels = image.get_raw_pixels();
    let area = i64::from(size * size);
    for y in 0..height {
        if y / size != cell_row {
            cell_row = y / size;
            (above, below) = (row(cell_row), row(cell_row + 1));
        }
        let fy = i64::from(y % size);
        let start = y as usize * width as usize * 4;
        let line = &mut pixels[start..start + width as usize * 4];
        for (x, pixel) in (0..width).zip(line.chunks_exact_mut(4)) {
            let (cell, fx) = ((x / size) as usize, i64::from(x % size));
            let s = i64::from(size);
            let blended = (i64::from(above[cell]) * (s - fx) * (s - fy)
                + i64::from(above[cell + 1]) * fx * (s - fy)
                + i64::from(below[cell]) * (s - fx) * fy
                + i64::from(below[cell + 1]) * fx * fy)
                / area;
            // At 100 the strongest grain moves a channel by half the range.
            let offset = blended * i64::from(amount) / 510;
            for value in &mut pixel[..3] {
                *value = (i64::from(*value) + offset).clamp(0, 255) as u8;
            }
        }
    }
    PhotonImage::new(pixels, width, height)
}

/// Black dots on white, one per `cell`-pixel cell of a 45° screen, each covering as much of its
/// cell as the pixels under it are dark; edges are anti-aliased over a pixel.
pub fn halftone(image: &PhotonImage, cell: u16) -> PhotonImage {
    use std::f32::consts::{FRAC_1_SQRT_2, FRAC_PI_4, PI};
    let cell = f32::from(cell.max(2));
    // A dot's area matches the darkness until it touches its neighbours (at π/4); from there it
    // grows to cover the cell's corners, anti-aliasing included, so black prints solid.
    let touching = cell / 2.0;
    let widest = cell * FRAC_1_SQRT_2 + 0.5;
    map_pixels(image, |x, y, pixel| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let (u, v) = ((px + py) * FRAC_1_SQRT_2, (py - px) * FRAC_1_SQRT_2);
        let (du, dv) = (u.rem_euclid(cell) - cell / 2.0, v.rem_euclid(cell) - cell / 2.0);
        let distance = (du * du + dv * dv).sqrt();
        let darkness = 1.0 - luma(pixel) as f32 / 255.0;
        let radius = if darkness <= FRAC_PI_4 {
            cell * (darkness / PI).sqrt()
        } else {
            touching + (widest - touching) * (darkness - FRAC_PI_4) / (1.0 - FRAC_PI_4)
        };
        let ink = if radius > 0.0 { (radius - distance + 0.5).clamp(0.0, 1.0) } else { 0.0 };
        pixel[..3].fill(channel(255.0 * (1.0 - ink)));
    })
}

/// Each pixel's luma placed between `shadow` (black) and `highlight` (white).
pub fn duotone(image: &PhotonImage, shadow: Rgb, highlight: Rgb) -> PhotonImage {
    map_pixels(image, |_, _, pixel| {
        let level = luma(pixel);
        let mix =
            |dark: u8, light: u8| ((u32::from(dark) * (255 - level) + u32::from(light) * level + 127) / 255) as u8;
        pixel[..3].copy_from_slice(&[
            mix(shadow.0, highlight.0),
            mix(shadow.1, highlight.1),
            mix(shadow.2, highlight.2),
        ]);
    })
}

/// The 4×4 Bayer threshold matrix, 0..16.
const BAYER: [[i32; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// How far the dither may push a colour: about the gap between a palette's neighbouring colours.
fn dither_spread(palette: Palette) -> i32 {
    match palette {
        Palette::OneBit => 255,
        Palette::GameBoy => 85,
        Palette::Cga | Palette::Risograph => 128,
        Palette::Pico8 => 64,
    }
}

/// The colour for a block's (dithered) mean. Shades of one hue, dark to light, are matched by
/// brightness spread evenly over them, so a photo uses every shade (as a Game Boy camera did);
/// other palettes by the nearest colour, weighted for the eye's greater sensitivity to green.
fn pick(palette: Palette, [r, g, b]: [i32; 3]) -> Rgb {
    let colours = palette.colours();
    let last = colours.len() as i32 - 1;
    if matches!(palette, Palette::GameBoy | Palette::OneBit) {
        let level = (299 * r + 587 * g + 114 * b) / 1000;
        return colours[((level * last + 127) / 255).clamp(0, last) as usize];
    }
    let distance = |c: &Rgb| {
        let (dr, dg, db) = (r - i32::from(c.0), g - i32::from(c.1), b - i32::from(c.2));
        2 * dr * dr + 4 * dg * dg + 3 * db * db
    };
    colours.iter().copied().min_by_key(distance).unwrap_or(Rgb(0, 0, 0))
}

/// Each `pixel` × `pixel` block's mean colour, (optionally) ordered-dithered, to a palette
/// colour. Block row by block row, so it holds one row of block sums at a time.
pub fn posterize(image: &PhotonImage, palette: Palette, pixel: u16, dither: bool) -> PhotonImage {
    let (width, height) = (image.get_width() as usize, image.get_height() as usize);
    let block = usize::from(pixel.max(1));
    let spread = if dither { dither_spread(palette) } else { 0 };
    let mut pixels = image.get_raw_pixels();
    let mut sums = vec![[0u32; 4]; width.div_ceil(block)];
    for top in (0..height).step_by(block) {
        let rows = top..(top + block).min(height);
        sums.fill([0; 4]);
        for y in rows.clone() {
            for (x, rgba) in pixels[y * width * 4..(y + 1) * width * 4].chunks_exact(4).enumerate() {
                let sum = &mut sums[x / block];
                for c in 0..3 {
                    sum[c] += u32::from(rgba[c]);
                }
                sum[3] += 1;
            }
        }
        let block_y = top / block;
        let chosen: Vec<Rgb> = sums
            .iter()
            .enumerate()
            .map(|(block_x, sum)| {
                let threshold = BAYER[block_y % 4][block_x % 4];
                // -spread/2 .. spread/2, centred so a flat colour is not nudged on average.
                let nudge = (2 * threshold + 1 - 16) * spread / 32;
                let count = sum[3].max(1);
                pick(palette, [0, 1, 2].map(|c| ((sum[c] + count / 2) / count) as i32 + nudge))
            })
            .collect();
        for y in rows {
            for (x, rgba) in pixels[y * width * 4..(y + 1) * width * 4].chunks_exact_mut(4).enumerate() {
                let Rgb(r, g, b) = chosen[x / block];
                rgba[..3].copy_from_slice(&[r, g, b]);
            }
        }
    }
    PhotonImage::new(pixels, width as u32, height as u32)
}

/// Red moved right and blue left by `shift` pixels (edges repeat), and every other of about 240
/// lines, however tall the image, darkened by up to half.
pub fn vhs(image: &PhotonImage, shift: u16, scanlines: u8) -> PhotonImage {
    let (width, height) = (image.get_width() as usize, image.get_height() as usize);
    let source = image.get_raw_pixels();
    let shift = usize::from(shift);
    // Lines relative to the height, so the preview and the full photo have the same bands.
    let lines = (height / 2).min(240);
    let keep = 200u32.saturating_sub(u32::from(scanlines));
    map_pixels(image, |x, y, pixel| {
        let (x, y) = (x as usize, y as usize);
        let row = &source[y * width * 4..(y + 1) * width * 4];
        pixel[0] = row[x.saturating_sub(shift) * 4];
        pixel[2] = row[(x + shift).min(width - 1) * 4 + 2];
        if lines > 0 && (y * lines * 2 / height) % 2 == 1 {
            for value in &mut pixel[..3] {
                *value = (u32::from(*value) * keep / 200) as u8;
            }
        }
    })
}

/// A glow of `colour` screened in from `corner`, fading out over four fifths of the diagonal.
pub fn light_leak(image: &PhotonImage, corner: Corner, strength: u8, colour: Rgb) -> PhotonImage {
    let (width, height) = (image.get_width() as f32, image.get_height() as f32);
    let (from_x, from_y) = match corner {
        Corner::TopLeft => (0.0, 0.0),
        Corner::TopRight => (width, 0.0),
        Corner::BottomLeft => (0.0, height),
        Corner::BottomRight => (width, height),
    };
    let reach = 0.8 * (width * width + height * height).sqrt();
    let strength = f32::from(strength) / 100.0;
    let light = [colour.0, colour.1, colour.2].map(f32::from);
    map_pixels(image, |x, y, pixel| {
        let (dx, dy) = (x as f32 + 0.5 - from_x, y as f32 + 0.5 - from_y);
        let fade = (1.0 - (dx * dx + dy * dy).sqrt() / reach).max(0.0);
        let weight = strength * fade * fade;
        for (value, light) in pixel[..3].iter_mut().zip(light) {
            let base = f32::from(*value);
            // Screen: light only ever brightens.
            *value = channel(base + light * weight * (255.0 - base) / 255.0);
        }
    })
}

/// The instant photo's paper: a warm white.
pub const FRAME: [u8; 4] = [248, 246, 240, 255];

/// The image on a larger sheet of `FRAME`; `None` when that sheet cannot be addressed.
pub fn polaroid_frame(image: &PhotonImage, border: u16) -> Option<PhotonImage> {
    let (width, height) = (image.get_width(), image.get_height());
    let (framed_width, framed_height) = framed_size((u64::from(width), u64::from(height)), border);
    let framed_width = u32::try_from(framed_width).ok()?;
    let framed_height = u32::try_from(framed_height).ok()?;
    let bytes = usize::try_from(u64::from(framed_width) * u64::from(framed_height) * 4).ok()?;
    let mut sheet = FRAME.repeat(bytes / 4);
    let source = image.get_raw_pixels();
    let (row, border) = (width as usize * 4, usize::from(border));
    for (y, line) in source.chunks_exact(row.max(1)).enumerate() {
        let start = ((y + border) * framed_width as usize + border) * 4;
        sheet[start..start + row].copy_from_slice(line);
    }
    Some(PhotonImage::new(sheet, framed_width, framed_height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Budget, EditOp, EditRecipe, RecipeError};

    fn flat(value: u8, width: u32, height: u32) -> PhotonImage {
        PhotonImage::new([value, value, value, 255].repeat((width * height) as usize), width, height)
    }

    /// A 64×48 gradient with every channel different.
    fn gradient() -> PhotonImage {
        let pixels = (0..48u32)
            .flat_map(|y| (0..64u32).flat_map(move |x| [(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8, 255]))
            .collect();
        PhotonImage::new(pixels, 64, 48)
    }

    fn run(op: EditOp, image: PhotonImage) -> PhotonImage {
        op.apply(image).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rgb(image: &PhotonImage) -> Vec<[u8; 3]> {
        image.get_raw_pixels().chunks(4).map(|p| [p[0], p[1], p[2]]).collect()
    }

    fn mean(image: &PhotonImage) -> f64 {
        let pixels = rgb(image);
        pixels.iter().flatten().map(|&c| f64::from(c)).sum::<f64>() / (pixels.len() * 3) as f64
    }

    #[test]
    fn posterize_leaves_only_palette_colours() {
        for &palette in Palette::ALL {
            for (pixel, dither) in [(1, false), (1, true), (3, true)] {
                let out = run(EditOp::Posterize { palette, pixel, dither }, gradient());
                let allowed: Vec<[u8; 3]> = palette.colours().iter().map(|c| [c.0, c.1, c.2]).collect();
                let mut used: Vec<[u8; 3]> = rgb(&out);
                assert!(used.iter().all(|c| allowed.contains(c)), "{palette:?} {pixel} {dither}");
                used.sort();
                used.dedup();
                assert!(used.len() >= 2, "{palette:?} used only {used:?}");
            }
        }
    }

    #[test]
    fn posterize_gives_each_block_one_colour_and_dithers_a_flat_grey_into_a_pattern() {
        let out = run(EditOp::Posterize { palette: Palette::GameBoy, pixel: 4, dither: false }, gradient());
        let pixels = rgb(&out);
        for y in 0..48 {
            for x in 0..64 {
                assert_eq!(pixels[y * 64 + x], pixels[(y / 4 * 4) * 64 + x / 4 * 4], "({x}, {y})");
            }
        }
        let grey = run(EditOp::Posterize { palette: Palette::OneBit, pixel: 1, dither: true }, flat(128, 8, 8));
        let white = rgb(&grey).iter().filter(|c| c[0] == 255).count();
        assert_eq!(white, 32, "half of a mid grey dithers to white");
        let ramp: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v, 255]).collect();
        let shades = run(
            EditOp::Posterize { palette: Palette::GameBoy, pixel: 1, dither: false },
            PhotonImage::new(ramp, 256, 1),
        );
        let mut used = rgb(&shades);
        used.dedup();
        assert_eq!(used.len(), 4, "a grey ramp goes through the four greens in order: {used:?}");
        assert_eq!(used.first(), Some(&[0x0f, 0x38, 0x0f]));
    }

    #[test]
    fn duotone_maps_black_to_the_shadow_and_white_to_the_highlight() {
        let (shadow, highlight) = (Rgb(20, 30, 90), Rgb(250, 200, 40));
        let strip: Vec<u8> = [0u8, 128, 255].iter().flat_map(|&v| [v, v, v, 255]).collect();
        let out = run(EditOp::Duotone { shadow, highlight }, PhotonImage::new(strip, 3, 1));
        let pixels = rgb(&out);
        assert_eq!(pixels[0], [20, 30, 90]);
        assert_eq!(pixels[2], [250, 200, 40]);
        assert_eq!(pixels[1], [135, 115, 65], "mid grey lies halfway");
    }

    #[test]
    fn film_grain_is_fixed_by_its_seed_and_keeps_the_mean() {
        let grain = |seed| run(EditOp::FilmGrain { amount: 60, size: 2, seed }, flat(128, 64, 48));
        let once = grain(7);
        assert_eq!(once.get_raw_pixels(), grain(7).get_raw_pixels());
        assert_ne!(once.get_raw_pixels(), grain(8).get_raw_pixels());
        assert_ne!(once.get_raw_pixels(), flat(128, 64, 48).get_raw_pixels());
        assert!((mean(&once) - 128.0).abs() < 3.0, "mean {}", mean(&once));
        assert!(once.get_raw_pixels().chunks(4).all(|p| p[0] == p[1] && p[1] == p[2] && p[3] == 255));
    }

    #[test]
    fn film_grain_for_a_saved_seed_never_changes() {
        // Saved versions replay their recipe: the grain a seed draws is part of the format.
        let out = run(EditOp::FilmGrain { amount: 100, size: 3, seed: 42 }, flat(128, 16, 4));
        let checksum =
            out.get_raw_pixels().iter().fold(0u32, |sum, &b| sum.wrapping_mul(31).wrapping_add(u32::from(b)));
        assert_eq!(checksum, GRAIN_CHECKSUM);
    }
    const GRAIN_CHECKSUM: u32 = 566_966_410;

    #[test]
    fn halftone_turns_grey_into_black_dots_on_white_of_the_same_tone() {
        for grey in [64u8, 128, 192] {
            let out = run(EditOp::Halftone { cell: 12 }, flat(grey, 96, 96));
            let pixels = rgb(&out);
            let crisp = pixels.iter().filter(|c| c[0] < 48 || c[0] > 207).count();
            assert!(crisp * 100 >= pixels.len() * 80, "{grey}: {crisp} of {} near black or white", pixels.len());
            assert!(pixels.iter().any(|c| c[0] == 0) && pixels.iter().any(|c| c[0] == 255), "{grey}");
            assert!((mean(&out) - f64::from(grey)).abs() < 24.0, "{grey}: mean {}", mean(&out));
        }
        assert!(rgb(&run(EditOp::Halftone { cell: 8 }, flat(255, 16, 16))).iter().all(|c| *c == [255; 3]));
        assert!(rgb(&run(EditOp::Halftone { cell: 8 }, flat(0, 16, 16))).iter().all(|c| *c == [0; 3]));
    }

    #[test]
    fn vhs_shifts_red_right_and_blue_left_on_an_edge_and_darkens_scanlines() {
        // Black on the left half, white from x = 10.
        let edge: Vec<u8> = (0..20 * 4).flat_map(|i| if i % 20 < 10 { [0, 0, 0, 255] } else { [255; 4] }).collect();
        let out = run(EditOp::Vhs { shift: 3, scanlines: 0 }, PhotonImage::new(edge, 20, 4));
        let first_white = |c: usize| rgb(&out)[..20].iter().position(|p| p[c] == 255);
        assert_eq!(first_white(0), Some(13), "red moves right");
        assert_eq!(first_white(1), Some(10), "green stays");
        assert_eq!(first_white(2), Some(7), "blue moves left");

        let lined = run(EditOp::Vhs { shift: 0, scanlines: 100 }, flat(200, 4, 40));
        let rows: Vec<u8> = rgb(&lined).chunks(4).map(|row| row[0][0]).collect();
        assert_eq!(rows.iter().filter(|&&v| v == 100).count(), 20, "{rows:?}");
        assert_eq!(rows.iter().filter(|&&v| v == 200).count(), 20, "{rows:?}");
    }

    #[test]
    fn light_leak_brightens_its_corner_more_than_the_opposite_one() {
        let at = |image: &PhotonImage, x: usize, y: usize| rgb(image)[y * 64 + x];
        for (corner, near, far) in [
            (Corner::TopLeft, (0, 0), (63, 47)),
            (Corner::TopRight, (63, 0), (0, 47)),
            (Corner::BottomLeft, (0, 47), (63, 0)),
            (Corner::BottomRight, (63, 47), (0, 0)),
        ] {
            let out = run(EditOp::LightLeak { corner, strength: 80, colour: Rgb(255, 120, 0) }, flat(60, 64, 48));
            let (lit, dark) = (at(&out, near.0, near.1), at(&out, far.0, far.1));
            assert!(lit[0] > 200 && lit[0] > lit[2], "{corner:?}: {lit:?}");
            assert_eq!(dark, [60; 3], "{corner:?}");
        }
    }

    #[test]
    fn polaroid_frame_adds_a_white_border_thickest_at_the_bottom() {
        let op = EditOp::PolaroidFrame { border: 4 };
        let out = run(op.clone(), gradient());
        assert_eq!((out.get_width(), out.get_height()), (72, 4 + 48 + 14));
        let recipe = EditRecipe { ops: vec![op] };
        assert_eq!(recipe.output_size((64, 48)), Some((72, 66)));
        let (pixels, original) = (out.get_raw_pixels(), gradient().get_raw_pixels());
        let at = |x: usize, y: usize| &pixels[(y * 72 + x) * 4..(y * 72 + x) * 4 + 4];
        for y in 0..48 {
            assert_eq!(at(4, 4 + y), &original[y * 64 * 4..y * 64 * 4 + 4]);
            assert_eq!(at(67, 4 + y), &original[(y * 64 + 63) * 4..(y * 64 + 63) * 4 + 4]);
        }
        for (x, y) in [(0, 0), (3, 30), (68, 30), (30, 3), (30, 52), (30, 65)] {
            assert_eq!(at(x, y), FRAME, "({x}, {y})");
        }
        let too_big = EditRecipe { ops: vec![EditOp::PolaroidFrame { border: 2048 }] };
        assert!(matches!(too_big.plan((64, 48), Budget::for_pixels(1_000_000)), Err(RecipeError::TooLarge { .. })));
    }

    #[test]
    fn the_looks_count_towards_the_work_budget() {
        // 200 unit-cost steps of full-size work fit; a halftone costs three.
        let budget = Budget::for_pixels(64 * 48);
        let halftones = |count| EditRecipe { ops: vec![EditOp::Halftone { cell: 8 }; count] };
        assert_eq!(halftones(66).plan((64, 48), budget), Ok((64, 48)));
        assert_eq!(halftones(67).plan((64, 48), budget), Err(RecipeError::TooMuchWork));
    }

    fn every_look() -> Vec<EditOp> {
        vec![
            EditOp::FilmGrain { amount: 50, size: 4, seed: 1 },
            EditOp::Halftone { cell: 6 },
            EditOp::Duotone { shadow: Rgb(0, 0, 80), highlight: Rgb(255, 220, 0) },
            EditOp::Posterize { palette: Palette::Risograph, pixel: 5, dither: true },
            EditOp::Vhs { shift: 7, scanlines: 40 },
            EditOp::LightLeak { corner: Corner::BottomRight, strength: 70, colour: Rgb(255, 80, 20) },
            EditOp::PolaroidFrame { border: 9 },
        ]
    }

    #[test]
    fn every_look_works_on_tiny_and_thin_images_at_the_size_planned() {
        for (width, height) in [(1, 1), (1, 7), (7, 1), (2, 3), (33, 5)] {
            for op in every_look() {
                let recipe = EditRecipe { ops: vec![op.clone()] };
                let out = recipe.apply(flat(90, width, height)).unwrap_or_else(|e| panic!("{op:?}: {e}"));
                let size = (out.get_width(), out.get_height());
                assert_eq!(recipe.output_size((width, height)), Some(size), "{op:?} on {width}×{height}");
                assert_eq!(out.get_raw_pixels().len() as u32, size.0 * size.1 * 4);
            }
        }
    }

    #[test]
    fn scaled_shrinks_the_looks_pixel_sizes_and_leaves_the_rest() {
        let third = EditRecipe { ops: every_look() }.scaled(1.0 / 3.0);
        assert_eq!(
            third.ops,
            vec![
                EditOp::FilmGrain { amount: 50, size: 1, seed: 1 },
                EditOp::Halftone { cell: 2 },
                EditOp::Duotone { shadow: Rgb(0, 0, 80), highlight: Rgb(255, 220, 0) },
                EditOp::Posterize { palette: Palette::Risograph, pixel: 2, dither: true },
                EditOp::Vhs { shift: 2, scanlines: 40 },
                EditOp::LightLeak { corner: Corner::BottomRight, strength: 70, colour: Rgb(255, 80, 20) },
                EditOp::PolaroidFrame { border: 3 },
            ]
        );
        let recipe = EditRecipe { ops: every_look() };
        assert_eq!(recipe.scaled(1.0), recipe);
        assert!(recipe.scaled(0.01).ops.iter().all(|op| op.validate().is_ok()));
    }

    #[test]
    fn the_looks_round_trip_through_json() {
        let recipe = EditRecipe { ops: every_look() };
        let json = serde_json::to_string(&recipe).unwrap();
        for name in ["film_grain", "halftone", "duotone", "posterize", "vhs", "light_leak", "polaroid_frame"] {
            assert!(json.contains(&format!(r#""op":"{name}""#)), "{name} in {json}");
        }
        assert!(json.contains(r#""palette":"risograph""#) && json.contains(r#""corner":"bottom_right""#), "{json}");
        assert_eq!(serde_json::from_str::<EditRecipe>(&json).unwrap(), recipe);
        for &palette in Palette::ALL {
            assert_eq!(serde_json::to_string(&palette).unwrap(), format!("\"{}\"", palette.key()));
        }
        for &corner in Corner::ALL {
            assert_eq!(serde_json::to_string(&corner).unwrap(), format!("\"{}\"", corner.key()));
        }
    }

    #[test]
    fn out_of_range_look_parameters_are_refused() {
        let refused = [
            EditOp::FilmGrain { amount: 0, size: 1, seed: 0 },
            EditOp::FilmGrain { amount: 101, size: 1, seed: 0 },
            EditOp::FilmGrain { amount: 50, size: 0, seed: 0 },
            EditOp::FilmGrain { amount: 50, size: 17, seed: 0 },
            EditOp::Halftone { cell: 1 },
            EditOp::Halftone { cell: 129 },
            EditOp::Posterize { palette: Palette::Cga, pixel: 0, dither: false },
            EditOp::Posterize { palette: Palette::Cga, pixel: 65, dither: false },
            EditOp::Vhs { shift: 101, scanlines: 0 },
            EditOp::Vhs { shift: 0, scanlines: 101 },
            EditOp::LightLeak { corner: Corner::TopLeft, strength: 0, colour: Rgb(255, 0, 0) },
            EditOp::LightLeak { corner: Corner::TopLeft, strength: 101, colour: Rgb(255, 0, 0) },
            EditOp::PolaroidFrame { border: 0 },
            EditOp::PolaroidFrame { border: 2049 },
        ];
        for op in refused {
            assert!(matches!(op.validate(), Err(RecipeError::OutOfRange { .. })), "{op:?}");
            assert!(matches!(op.clone().apply(flat(10, 4, 4)), Err(RecipeError::OutOfRange { .. })), "{op:?}");
        }
        assert!(every_look().iter().all(|op| op.validate().is_ok()));
    }

    #[test]
    fn colours_read_and_write_as_hex() {
        assert_eq!(Rgb::from_hex("#0f380F"), Some(Rgb(0x0f, 0x38, 0x0f)));
        assert_eq!(Rgb(255, 72, 176).hex(), "#ff48b0");
        for bad in ["0f380f", "#0f380", "#+f+f+f", "#gg0000", "#ffééff"] {
            assert_eq!(Rgb::from_hex(bad), None, "{bad}");
        }
    }
}
