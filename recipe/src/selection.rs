//! Selections as masks, shared by the page (the magic wand runs in the browser, on the eraser's
//! canvas) and the server (which sends its subject and object masks in the compact form below).
//!
//! Pure Rust with no image crate: the page's bundle is built without `render` and still needs
//! these. Every function is bounded by `MAX_MASK_PIXELS` and allocates only in proportion to it.

use serde::{Deserialize, Serialize};

/// The most pixels a selection may have (the eraser's canvas is at most 1024 on a side; the
/// server refuses masks over 4096 on a side).
pub const MAX_MASK_PIXELS: u64 = 4096 * 4096;
/// The widest soft edge, in pixels.
pub const MAX_FEATHER: u32 = 64;

/// Why a selection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("A selection is 1 to {MAX_MASK_PIXELS} pixels; this one is {width}×{height}.")]
    Size { width: u32, height: u32 },
    #[error("The pixels do not match the size given.")]
    Pixels,
    #[error("The point ({x}, {y}) is outside the {width}×{height} picture.")]
    Outside { x: u32, y: u32, width: u32, height: u32 },
    #[error("The runs of the mask do not add up to its size.")]
    Runs,
}

fn check_size(width: u32, height: u32) -> Result<usize, SelectionError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || pixels > MAX_MASK_PIXELS {
        return Err(SelectionError::Size { width, height });
    }
    // Within `MAX_MASK_PIXELS`, which fits a usize on every target (wasm32 included).
    Ok(pixels as usize)
}

/// A selection: a byte per pixel, 0 outside, 255 inside, and values between on a soft edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    values: Vec<u8>,
}

/// How a selection meets what is already selected (or painted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    /// Added to it (the brighter of the two wins).
    #[default]
    Add,
    /// Taken out of it.
    Subtract,
}

impl Mask {
    /// An empty selection.
    pub fn new(width: u32, height: u32) -> Result<Self, SelectionError> {
        let pixels = check_size(width, height)?;
        Ok(Self { width, height, values: vec![0; pixels] })
    }

    /// A selection from its values, row by row.
    pub fn from_values(width: u32, height: u32, values: Vec<u8>) -> Result<Self, SelectionError> {
        if check_size(width, height)? != values.len() {
            return Err(SelectionError::Pixels);
        }
        Ok(Self { width, height, values })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The values, row by row.
    pub fn values(&self) -> &[u8] {
        &self.values
    }

    /// The value at (`x`, `y`); 0 outside.
    pub fn get(&self, x: u32, y: u32) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.values[y as usize * self.width as usize + x as usize]
    }

    /// How many pixels are at least half selected.
    pub fn count(&self) -> usize {
        self.values.iter().filter(|&&v| v >= 128).count()
    }

    /// `other` (of the same size) added to or taken out of this selection.
    pub fn combine(&mut self, other: &Mask, how: Combine) -> Result<(), SelectionError> {
        if (other.width, other.height) != (self.width, self.height) {
            return Err(SelectionError::Pixels);
        }
        for (mine, theirs) in self.values.iter_mut().zip(&other.values) {
            *mine = match how {
                Combine::Add => (*mine).max(*theirs),
                Combine::Subtract => (*mine).min(255 - theirs),
            };
        }
        Ok(())
    }

    /// The selection with a soft edge `radius` pixels wide: a box blur run twice (close to a
    /// Gaussian), in integers so the page and the server agree to the bit. Nothing is selected
    /// more than `radius` × 2 pixels beyond the hard edge.
    pub fn feathered(&self, radius: u32) -> Mask {
        let radius = radius.min(MAX_FEATHER) as usize;
        if radius == 0 {
            return self.clone();
        }
        let half = radius.div_ceil(2).max(1);
        let (w, h) = (self.width as usize, self.height as usize);
        let mut values = self.values.clone();
        let mut line = Vec::with_capacity(w.max(h));
        for _ in 0..2 {
            for y in 0..h {
                line.clear();
                line.extend_from_slice(&values[y * w..(y + 1) * w]);
                box_blur_line(&line, half, |x, v| values[y * w + x] = v);
            }
            for x in 0..w {
                line.clear();
                line.extend((0..h).map(|y| values[y * w + x]));
                box_blur_line(&line, half, |y, v| values[y * w + x] = v);
            }
        }
        Mask { width: self.width, height: self.height, values }
    }

    /// The selection in run lengths (pixels at least half selected are in), for sending.
    pub fn to_runs(&self) -> Runs {
        let mut runs = Vec::new();
        let (mut inside, mut length) = (false, 0u32);
        for &value in &self.values {
            if (value >= 128) != inside {
                runs.push(length);
                inside = !inside;
                length = 0;
            }
            length += 1;
        }
        runs.push(length);
        Runs { width: self.width, height: self.height, runs }
    }

    /// A selection (0 or 255) from run lengths, checked to cover exactly its size.
    pub fn from_runs(runs: &Runs) -> Result<Mask, SelectionError> {
        let pixels = check_size(runs.width, runs.height)?;
        let total = runs.runs.iter().try_fold(0usize, |sum, &run| sum.checked_add(run as usize));
        if total != Some(pixels) {
            return Err(SelectionError::Runs);
        }
        let mut values = Vec::with_capacity(pixels);
        for (index, &run) in runs.runs.iter().enumerate() {
            let value = if index % 2 == 1 { 255 } else { 0 };
            values.resize(values.len() + run as usize, value);
        }
        Ok(Mask { width: runs.width, height: runs.height, values })
    }
}

/// Each value of `line` replaced by the mean of the `2 × half + 1` values around it (the ends
/// repeat), through `set`.
fn box_blur_line(line: &[u8], half: usize, mut set: impl FnMut(usize, u8)) {
    let n = line.len();
    let at = |i: isize| u32::from(line[i.clamp(0, n as isize - 1) as usize]);
    let window = 2 * half as u32 + 1;
    let mut sum: u32 = (-(half as isize)..=half as isize).map(at).sum();
    for i in 0..n {
        set(i, ((sum + window / 2) / window) as u8);
        sum = sum + at(i as isize + half as isize + 1) - at(i as isize - half as isize);
    }
}

/// A mask as alternating run lengths, row by row: first a run of unselected pixels (possibly 0
/// long), then selected, then unselected… A subject's mask of a million pixels is a few
/// thousand numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runs {
    pub width: u32,
    pub height: u32,
    pub runs: Vec<u32>,
}

/// Which neighbours a flood fill steps to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connectivity {
    /// Left, right, up and down: a fill does not leak through a diagonal gap.
    #[default]
    Four,
    /// Diagonals too.
    Eight,
}

/// Pixels to flood: `channels` bytes a pixel (3 for RGB, 4 for a canvas's RGBA; only the first
/// three are compared), row by row.
#[derive(Clone, Copy, Debug)]
pub struct Pixels<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub channels: usize,
}

/// The magic wand: every pixel connected to (`x`, `y`) through pixels whose colour is within
/// `tolerance` of the clicked pixel's (no channel differs by more: 0 takes only that exact
/// colour, 255 takes everything connected).
pub fn magic_wand(
    pixels: Pixels<'_>,
    (x, y): (u32, u32),
    tolerance: u8,
    connectivity: Connectivity,
) -> Result<Mask, SelectionError> {
    let Pixels { data, width, height, channels } = pixels;
    let count = check_size(width, height)?;
    if !(3..=4).contains(&channels) || count.checked_mul(channels) != Some(data.len()) {
        return Err(SelectionError::Pixels);
    }
    if x >= width || y >= height {
        return Err(SelectionError::Outside { x, y, width, height });
    }
    let (w, h) = (width as usize, height as usize);
    let colour = |i: usize| &data[i * channels..i * channels + 3];
    let seed = y as usize * w + x as usize;
    let reference: [u8; 3] = [colour(seed)[0], colour(seed)[1], colour(seed)[2]];
    let near = |i: usize| colour(i).iter().zip(reference).all(|(&c, r)| c.abs_diff(r) <= tolerance);

    let mut values = vec![0u8; count];
    // Marked when pushed, so each pixel is pushed at most once: the stack never outgrows the
    // picture.
    let mut stack = vec![seed];
    values[seed] = 255;
    let steps: &[(isize, isize)] = match connectivity {
        Connectivity::Four => &[(-1, 0), (1, 0), (0, -1), (0, 1)],
        Connectivity::Eight => &[(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1)],
    };
    while let Some(i) = stack.pop() {
        let (px, py) = ((i % w) as isize, (i / w) as isize);
        for &(dx, dy) in steps {
            let (nx, ny) = (px + dx, py + dy);
            if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                continue;
            }
            let n = ny as usize * w + nx as usize;
            if values[n] == 0 && near(n) {
                values[n] = 255;
                stack.push(n);
            }
        }
    }
    Ok(Mask { width, height, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RGB picture from rows of characters: each character a colour.
    fn picture(rows: &[&str]) -> (Vec<u8>, u32, u32) {
        let colour = |c: char| match c {
            'w' => [250, 250, 250],
            'v' => [240, 236, 244], // near white
            'k' => [10, 10, 10],
            'r' => [200, 30, 40],
            _ => [128, 128, 128],
        };
        let data = rows.iter().flat_map(|row| row.chars().flat_map(colour)).collect();
        (data, rows[0].len() as u32, rows.len() as u32)
    }

    fn selected(mask: &Mask) -> Vec<String> {
        (0..mask.height())
            .map(|y| (0..mask.width()).map(|x| if mask.get(x, y) >= 128 { '#' } else { '.' }).collect())
            .collect()
    }

    fn wand(rows: &[&str], at: (u32, u32), tolerance: u8, connectivity: Connectivity) -> Vec<String> {
        let (data, width, height) = picture(rows);
        let pixels = Pixels { data: &data, width, height, channels: 3 };
        selected(&magic_wand(pixels, at, tolerance, connectivity).unwrap())
    }

    #[test]
    fn the_wand_takes_colours_within_the_tolerance_and_stops_at_others() {
        let rows = ["wwvkr", "wvwkr", "kkkkr"];
        // Exact colour only: the near-white pixels are left out, and cut the white apart.
        assert_eq!(wand(&rows, (0, 0), 0, Connectivity::Four), ["##...", "#....", "....."]);
        // Near white (10 apart at most) joins; black and red never do.
        assert_eq!(wand(&rows, (0, 0), 16, Connectivity::Four), ["###..", "###..", "....."]);
        // Everything connected, at the widest tolerance.
        assert_eq!(wand(&rows, (0, 0), 255, Connectivity::Four), ["#####", "#####", "#####"]);
        // Red from red: a column.
        assert_eq!(wand(&rows, (4, 2), 30, Connectivity::Four), ["....#", "....#", "....#"]);
    }

    #[test]
    fn four_connected_fills_stop_at_diagonal_gaps_and_eight_connected_ones_cross_them() {
        let rows = ["wk.", "kwk", ".kw"];
        assert_eq!(wand(&rows, (0, 0), 0, Connectivity::Four), ["#..", "...", "..."]);
        assert_eq!(wand(&rows, (0, 0), 0, Connectivity::Eight), ["#..", ".#.", "..#"]);
    }

    #[test]
    fn the_wand_reads_rgba_and_ignores_alpha() {
        let data = [250, 250, 250, 0, 250, 250, 250, 255, 10, 10, 10, 255];
        let mask = magic_wand(Pixels { data: &data, width: 3, height: 1, channels: 4 }, (1, 0), 0, Connectivity::Four)
            .unwrap();
        assert_eq!(selected(&mask), ["##."]);
    }

    #[test]
    fn the_wand_refuses_points_outside_and_pixels_that_do_not_fit() {
        let (data, width, height) = picture(&["ww", "ww"]);
        let pixels = Pixels { data: &data, width, height, channels: 3 };
        for point in [(2, 0), (0, 2), (u32::MAX, u32::MAX)] {
            assert!(matches!(magic_wand(pixels, point, 10, Connectivity::Four), Err(SelectionError::Outside { .. })));
        }
        let short = Pixels { data: &data[..9], ..pixels };
        assert_eq!(magic_wand(short, (0, 0), 10, Connectivity::Four), Err(SelectionError::Pixels));
        let two_channels = Pixels { channels: 2, ..pixels };
        assert_eq!(magic_wand(two_channels, (0, 0), 10, Connectivity::Four), Err(SelectionError::Pixels));
        // Too large to be a mask, refused before anything is allocated.
        let huge = Pixels { data: &data, width: 5000, height: 5000, channels: 3 };
        assert!(matches!(magic_wand(huge, (0, 0), 10, Connectivity::Four), Err(SelectionError::Size { .. })));
        let empty = Pixels { data: &[], width: 0, height: 3, channels: 3 };
        assert!(matches!(magic_wand(empty, (0, 0), 10, Connectivity::Four), Err(SelectionError::Size { .. })));
    }

    #[test]
    fn a_wand_over_a_large_uniform_picture_fills_it_whole() {
        // One colour, 1024² pixels: a fill that recursed per pixel would overflow the stack.
        let data = vec![90u8; 1024 * 1024 * 4];
        let pixels = Pixels { data: &data, width: 1024, height: 1024, channels: 4 };
        let mask = magic_wand(pixels, (512, 512), 0, Connectivity::Eight).unwrap();
        assert_eq!(mask.count(), 1024 * 1024);
    }

    #[test]
    fn a_soft_edge_fades_outward_within_its_radius_and_keeps_the_middle() {
        let mut values = vec![0u8; 41 * 41];
        for y in 10..31 {
            for x in 10..31 {
                values[y * 41 + x] = 255;
            }
        }
        let mask = Mask::from_values(41, 41, values).unwrap();
        let soft = mask.feathered(6);
        assert_eq!(soft.get(20, 20), 255, "the middle stays selected");
        assert!(soft.get(8, 20) > 0 && soft.get(8, 20) < 128, "just outside fades: {}", soft.get(8, 20));
        assert!(soft.get(12, 20) > 128 && soft.get(12, 20) < 255, "just inside fades: {}", soft.get(12, 20));
        assert_eq!(soft.get(2, 20), 0, "nothing beyond twice the radius");
        assert_eq!(mask.feathered(0), mask);
        // Symmetric: the same fade on each side.
        assert_eq!(soft.get(8, 20), soft.get(32, 20));
    }

    #[test]
    fn selections_add_and_subtract() {
        let a = Mask::from_values(4, 1, vec![255, 255, 0, 0]).unwrap();
        let b = Mask::from_values(4, 1, vec![0, 255, 255, 0]).unwrap();
        let mut added = a.clone();
        added.combine(&b, Combine::Add).unwrap();
        assert_eq!(added.values(), [255, 255, 255, 0]);
        let mut taken = a.clone();
        taken.combine(&b, Combine::Subtract).unwrap();
        assert_eq!(taken.values(), [255, 0, 0, 0]);
        assert_eq!(taken.combine(&Mask::new(2, 2).unwrap(), Combine::Add), Err(SelectionError::Pixels));
    }

    #[test]
    fn run_lengths_round_trip_and_bad_runs_are_refused() {
        let mask = Mask::from_values(3, 2, vec![255, 0, 0, 200, 255, 10]).unwrap();
        let runs = mask.to_runs();
        assert_eq!(runs.runs, [0, 1, 2, 2, 1]);
        let back = Mask::from_runs(&runs).unwrap();
        assert_eq!(back.values(), [255, 0, 0, 255, 255, 0]);
        assert_eq!(Mask::new(2, 2).unwrap().to_runs().runs, [4]);
        let bad = |runs: Vec<u32>| Mask::from_runs(&Runs { width: 3, height: 2, runs });
        assert_eq!(bad(vec![1, 2]), Err(SelectionError::Runs));
        assert_eq!(bad(vec![6, 1]), Err(SelectionError::Runs));
        assert_eq!(bad(vec![u32::MAX, u32::MAX, 2]), Err(SelectionError::Runs));
        assert!(matches!(
            Mask::from_runs(&Runs { width: 100_000, height: 100_000, runs: vec![] }),
            Err(SelectionError::Size { .. })
        ));
    }
}
