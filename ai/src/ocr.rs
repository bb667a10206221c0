//! Text in photos: PP-OCRv6 (small) from the `rapidocr` wheel. The detector (DB) marks where text
//! is; each line found is cut out along its own slant, straightened to 48 pixels high and read by
//! the recognizer (CTC), whose alphabet is carried in the model file's own metadata.
//!
//! Lines tilted up to about 45° are read; text turned on its side is read along its long edge, and
//! upside-down text is not turned (PaddleOCR's 180° classifier is not used).

use image::{Rgb, RgbImage};

use crate::{tensor, AiError, Engine, Progress};

/// The detector: [1,3,H,W] → text probability [1,1,H,W].
pub const DETECTOR: &str = "ocr-det";
/// The recognizer: [N,3,48,W] → per-column class probabilities [N,W/8,classes].
pub const RECOGNIZER: &str = "ocr-rec";
/// The most lines one photo gives (the first ones in reading order): bounds the time a photo of
/// a newspaper page takes.
pub const MAX_LINES: usize = 200;

/// The detector's input: the short side brought up to this (small text in small photos)…
const DETECT_MIN_SIDE: f32 = 736.0;
/// …and the long side never past this (time and memory on large photos).
const DETECT_MAX_SIDE: f32 = 1536.0;
/// Text probability above which a pixel belongs to a line (PaddleOCR's `thresh`).
const PIXEL_THRESHOLD: f32 = 0.3;
/// Mean probability a line must reach to be read (PaddleOCR's `box_thresh`).
const LINE_THRESHOLD: f32 = 0.5;
/// How far a line's box is grown past the detector's shrunk core (PaddleOCR's `unclip_ratio`).
const UNCLIP_RATIO: f32 = 1.6;
/// Regions looked at before any is read (PaddleOCR's `max_candidates`).
const MAX_REGIONS: usize = 1000;
/// Recognized text with a lower mean confidence is dropped (rapidocr's `text_score`).
const TEXT_THRESHOLD: f32 = 0.5;
/// A lone character is more often a texture (fur, foliage) read as one: it must be surer.
const LONE_CHARACTER_THRESHOLD: f32 = 0.9;
const LINE_HEIGHT: u32 = 48;
/// Lines are padded to at least this width, as the recognizer was trained.
const LINE_MIN_WIDTH: u32 = 320;
/// A line is read at most this wide (a ratio of 50:1), longer ones squeezed.
const LINE_MAX_WIDTH: u32 = 2400;

/// One line of text found in a photo.
#[derive(Clone, Debug, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// The recognizer's mean confidence over the characters, 0..1.
    pub score: f32,
    /// The line's corners in the photo's pixels: top-left, top-right, bottom-right, bottom-left
    /// as the text reads.
    pub quad: [[f32; 2]; 4],
}

impl TextLine {
    fn height(&self) -> f32 {
        distance(self.quad[0], self.quad[3]).max(distance(self.quad[1], self.quad[2]))
    }

    fn centre_y(&self) -> f32 {
        self.quad.iter().map(|p| p[1]).sum::<f32>() / 4.0
    }
}

/// The text of a photo, line by line in reading order (top to bottom, left to right); empty when
/// it has none. A photo too small to hold text gives none, without error.
pub fn read_text(engine: &Engine, image: &RgbImage, progress: &dyn Progress) -> Result<Vec<TextLine>, AiError> {
    progress.step(0.0)?;
    let (width, height) = image.dimensions();
    if width < 4 || height < 4 {
        return Ok(Vec::new());
    }
    let alphabet = alphabet(engine)?;
    let mut boxes = detect(engine, image)?;
    progress.step(0.3)?;
    order(&mut boxes, |quad| quad[0][1], |quad| quad[0][0], quad_height);
    boxes.truncate(MAX_LINES);
    let mut lines = Vec::new();
    for (index, quad) in boxes.iter().enumerate() {
        if let Some((text, score)) = recognize(engine, image, quad, &alphabet)? {
            lines.push(TextLine { text, score, quad: *quad });
        }
        progress.step(0.3 + 0.7 * (index + 1) as f32 / boxes.len() as f32)?;
    }
    Ok(lines)
}

/// The lines as one text: words on the same row joined by a space, rows by a newline.
pub fn joined(lines: &[TextLine]) -> String {
    let mut text = String::new();
    let mut previous: Option<&TextLine> = None;
    for line in lines {
        if let Some(before) = previous {
            let same_row =
                (line.centre_y() - before.centre_y()).abs() < 0.5 * line.height().min(before.height()).max(1.0);
            text.push(if same_row { ' ' } else { '\n' });
        }
        text.push_str(&line.text);
        previous = Some(line);
    }
    text
}

/// The recognizer's classes: CTC's blank, the characters in its metadata (one a line), a space.
fn alphabet(engine: &Engine) -> Result<Vec<String>, AiError> {
    let invalid = |detail: &str| AiError::ModelInvalid { model: RECOGNIZER.into(), detail: detail.into() };
    let characters =
        engine.metadata(RECOGNIZER, "character")?.ok_or_else(|| invalid("its metadata has no `character` list"))?;
    let mut classes = Vec::with_capacity(characters.len() / 2 + 2);
    classes.push(String::new());
    classes.extend(characters.lines().map(str::to_string));
    classes.push(" ".into());
    if classes.len() < 3 {
        return Err(invalid("its `character` list is empty"));
    }
    Ok(classes)
}

/// Sorts items into reading order: by rows (a row's items start within half a line's height of
/// each other, top to bottom), then left to right within a row.
fn order<T>(items: &mut [T], top: impl Fn(&T) -> f32, left: impl Fn(&T) -> f32, height: impl Fn(&T) -> f32) {
    items.sort_by(|a, b| top(a).total_cmp(&top(b)));
    let mut row = 0usize;
    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            let before = &items[index - 1];
            if top(item) - top(before) >= 0.5 * height(item).min(height(before)).max(1.0) {
                row += 1;
            }
        }
        rows.push(row);
    }
    let mut keyed: Vec<(usize, f32, usize)> =
        items.iter().enumerate().map(|(index, item)| (rows[index], left(item), index)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let permutation: Vec<usize> = keyed.into_iter().map(|(_, _, index)| index).collect();
    apply_permutation(items, &permutation);
}

/// Reorders `items` so that position i holds what was at `permutation[i]`.
fn apply_permutation<T>(items: &mut [T], permutation: &[usize]) {
    let mut done = vec![false; items.len()];
    for start in 0..items.len() {
        if done[start] {
            continue;
        }
        let mut current = start;
        loop {
            done[current] = true;
            let next = permutation[current];
            if next == start {
                break;
            }
            items.swap(current, next);
            current = next;
        }
    }
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn quad_height(quad: &[[f32; 2]; 4]) -> f32 {
    distance(quad[0], quad[3]).max(distance(quad[1], quad[2]))
}

fn quad_width(quad: &[[f32; 2]; 4]) -> f32 {
    distance(quad[0], quad[1]).max(distance(quad[3], quad[2]))
}

/// The detector's input size for a photo: multiples of 32, short side near `DETECT_MIN_SIDE`, long
/// side at most `DETECT_MAX_SIDE`.
fn detector_size(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (width as f32, height as f32);
    let mut scale = (DETECT_MIN_SIDE / w.min(h)).max(1.0);
    scale = scale.min(DETECT_MAX_SIDE / w.max(h));
    let round = |side: f32| (((side * scale) / 32.0).round() as u32).clamp(1, (DETECT_MAX_SIDE as u32) / 32) * 32;
    (round(w), round(h))
}

/// The text lines' corners in the photo's pixels, in no particular order.
fn detect(engine: &Engine, image: &RgbImage) -> Result<Vec<[[f32; 2]; 4]>, AiError> {
    let (width, height) = detector_size(image.width(), image.height());
    let resized = tensor::resized(image, width, height);
    // PaddleOCR's models read OpenCV's BGR order, scaled to -1..1.
    let (shape, data) = tensor::nchw(&resized, |_, v| f32::from(v) / 127.5 - 1.0);
    let data = bgr(data, (width * height) as usize);
    let outputs = engine.run(DETECTOR, vec![(shape, data)])?;
    let map = outputs
        .first()
        .ok_or_else(|| AiError::ModelInvalid { model: DETECTOR.into(), detail: "it returned no output".into() })?;
    let (w, h) = (width as usize, height as usize);
    tensor::expect_len(DETECTOR, &map.data, w * h)?;
    let probability = &map.data[..w * h];
    let (sx, sy) = (image.width() as f32 / width as f32, image.height() as f32 / height as f32);
    let limit = |v: f32, side: u32| v.clamp(0.0, side as f32 - 1.0);
    Ok(regions(probability, w, h)
        .into_iter()
        .filter_map(|region| region.line_box())
        // A box filling the frame both ways is a blob the detector sees in some textures (the
        // coffee fixture), not a line of text.
        .filter(|rect| {
            let [x0, y0, x1, y1] = rect.bounds();
            !((x1 - x0) >= 0.9 * width as f32 && (y1 - y0) >= 0.9 * height as f32)
        })
        .map(|rect| rect.corners().map(|[x, y]| [limit(x * sx, image.width()), limit(y * sy, image.height())]))
        .filter(|quad| quad_width(quad) > 3.0 && quad_height(quad) > 3.0)
        .collect())
}

/// Swaps the first and third planes of a [1,3,H,W] tensor (RGB → BGR).
fn bgr(mut data: Vec<f32>, plane: usize) -> Vec<f32> {
    let (red, rest) = data.split_at_mut(plane);
    red.swap_with_slice(&mut rest[plane..2 * plane]);
    data
}

/// A connected group of text pixels: per row, its leftmost and rightmost pixel (enough for the
/// convex hull), and its mean probability.
struct Region {
    ends: Vec<[f32; 2]>,
    score: f32,
}

/// The connected (8-neighbour) groups of pixels above the threshold, after a 2×2 dilation as
/// PaddleOCR does; at most `MAX_REGIONS`.
fn regions(probability: &[f32], width: usize, height: usize) -> Vec<Region> {
    let above: Vec<bool> = probability.iter().map(|&p| p > PIXEL_THRESHOLD).collect();
    // Dilation with a 2×2 kernel: a pixel is set when it or its left, upper or upper-left
    // neighbour is.
    let mut mask = vec![false; width * height];
    for y in 0..height {
        for x in 0..width {
            let at = |dx: usize, dy: usize| x >= dx && y >= dy && above[(y - dy) * width + x - dx];
            mask[y * width + x] = at(0, 0) || at(1, 0) || at(0, 1) || at(1, 1);
        }
    }
    let mut seen = vec![false; width * height];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for start in 0..width * height {
        if !mask[start] || seen[start] {
            continue;
        }
        if found.len() == MAX_REGIONS {
            break;
        }
        seen[start] = true;
        stack.push(start);
        let (mut sum, mut count) = (0.0f64, 0usize);
        // Per row (from the region's first row down): leftmost and rightmost x.
        let first_row = start / width;
        let mut rows: Vec<(usize, usize)> = Vec::new();
        while let Some(index) = stack.pop() {
            let (x, y) = (index % width, index / width);
            sum += f64::from(probability[index]);
            count += 1;
            // A flood fill never goes above the row it started on (raster order found it first).
            let row = y - first_row;
            if rows.len() <= row {
                rows.resize(row + 1, (usize::MAX, 0));
            }
            rows[row] = (rows[row].0.min(x), rows[row].1.max(x));
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx >= width as isize || ny >= height as isize {
                        continue;
                    }
                    let next = ny as usize * width + nx as usize;
                    if mask[next] && !seen[next] {
                        seen[next] = true;
                        stack.push(next);
                    }
                }
            }
        }
        let mut ends = Vec::with_capacity(rows.len() * 2);
        for (row, &(left, right)) in rows.iter().enumerate() {
            if left <= right {
                let y = (first_row + row) as f32;
                ends.push([left as f32, y]);
                ends.push([right as f32, y]);
            }
        }
        found.push(Region { ends, score: (sum / count.max(1) as f64) as f32 });
    }
    found
}

/// A rotated rectangle: its centre, its long axis (unit, pointing the way text reads) and half
/// its sides along that axis and across it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    centre: [f32; 2],
    axis: [f32; 2],
    half_long: f32,
    half_short: f32,
}

impl Region {
    /// The region's line box, grown as PaddleOCR unclips it, or `None` for specks and weak ones.
    fn line_box(&self) -> Option<Rect> {
        if self.score < LINE_THRESHOLD {
            return None;
        }
        let rect = min_area_rect(&convex_hull(&self.ends))?;
        // PaddleOCR's `min_size`: regions under 3 pixels across are noise.
        if 2.0 * rect.half_short < 3.0 {
            return None;
        }
        // The detector marks a shrunk core of each line; grow it by area × ratio / perimeter.
        let (long, short) = (2.0 * rect.half_long, 2.0 * rect.half_short);
        let grow = long * short * UNCLIP_RATIO / (2.0 * (long + short));
        let grown = Rect { half_long: rect.half_long + grow, half_short: rect.half_short + grow, ..rect };
        (2.0 * grown.half_short >= 5.0).then_some(grown)
    }
}

impl Rect {
    /// The axis-aligned box around it: left, top, right, bottom.
    fn bounds(&self) -> [f32; 4] {
        let corners = self.corners();
        let xs = corners.map(|p| p[0]);
        let ys = corners.map(|p| p[1]);
        let min = |v: [f32; 4]| v.into_iter().fold(f32::MAX, f32::min);
        let max = |v: [f32; 4]| v.into_iter().fold(f32::MIN, f32::max);
        [min(xs), min(ys), max(xs), max(ys)]
    }

    /// Top-left, top-right, bottom-right, bottom-left as the text reads.
    fn corners(&self) -> [[f32; 2]; 4] {
        let [ux, uy] = self.axis;
        // Across the text: the axis turned a quarter clockwise on screen (y points down).
        let [vx, vy] = [-uy, ux];
        let [cx, cy] = self.centre;
        let at = |a: f32, b: f32| [cx + a * ux + b * vx, cy + a * uy + b * vy];
        let (l, s) = (self.half_long, self.half_short);
        [at(-l, -s), at(l, -s), at(l, s), at(-l, s)]
    }
}

/// Andrew's monotone chain; the hull counter-clockwise (in y-up terms), without repeats.
fn convex_hull(points: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    sorted.dedup();
    if sorted.len() < 3 {
        return sorted;
    }
    let cross = |o: [f32; 2], a: [f32; 2], b: [f32; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<[f32; 2]> = Vec::with_capacity(sorted.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f32; 2]>> =
            if pass == 0 { Box::new(sorted.iter()) } else { Box::new(sorted.iter().rev()) };
        for &point in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], point) <= 0.0 {
                hull.pop();
            }
            hull.push(point);
        }
        hull.pop();
    }
    hull
}

/// The smallest-area rectangle around a convex hull (rotating calipers: one of its sides lies on
/// a hull edge). `None` for fewer than two distinct points.
fn min_area_rect(hull: &[[f32; 2]]) -> Option<Rect> {
    if hull.len() < 2 {
        return None;
    }
    let mut best: Option<(f32, Rect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let length = distance(a, b);
        if length <= f32::EPSILON {
            continue;
        }
        let u = [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
        let v = [-u[1], u[0]];
        let (mut u_min, mut u_max, mut v_min, mut v_max) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in hull {
            let (pu, pv) = (p[0] * u[0] + p[1] * u[1], p[0] * v[0] + p[1] * v[1]);
            (u_min, u_max, v_min, v_max) = (u_min.min(pu), u_max.max(pu), v_min.min(pv), v_max.max(pv));
        }
        let area = (u_max - u_min) * (v_max - v_min);
        if best.as_ref().is_some_and(|(smallest, _)| *smallest <= area) {
            continue;
        }
        let (cu, cv) = ((u_min + u_max) / 2.0, (v_min + v_max) / 2.0);
        let centre = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
        let (along, across) = ((u_max - u_min) / 2.0, (v_max - v_min) / 2.0);
        let rect = if along >= across {
            Rect { centre, axis: u, half_long: along, half_short: across }
        } else {
            Rect { centre, axis: v, half_long: across, half_short: along }
        };
        best = Some((area, rect));
    }
    best.map(|(_, rect)| Rect { axis: reading_direction(rect.axis), ..rect })
}

/// The long axis pointed the way horizontal text reads (rightwards); a vertical one downwards.
fn reading_direction([x, y]: [f32; 2]) -> [f32; 2] {
    if x < -1e-4 || (x.abs() <= 1e-4 && y < 0.0) {
        [-x, -y]
    } else {
        [x, y]
    }
}

/// Reads one line: its quad straightened to 48 pixels high, the recognizer's classes decoded
/// (CTC: repeats merged, blanks dropped). `None` when nothing confident enough was read.
fn recognize(
    engine: &Engine,
    image: &RgbImage,
    quad: &[[f32; 2]; 4],
    alphabet: &[String],
) -> Result<Option<(String, f32)>, AiError> {
    let (line_width, line_height) = (quad_width(quad), quad_height(quad));
    if line_height < 1.0 {
        return Ok(None);
    }
    let width = ((LINE_HEIGHT as f32 * line_width / line_height).ceil() as u32).clamp(1, LINE_MAX_WIDTH);
    let line = straighten(image, quad, width, LINE_HEIGHT);
    let padded = width.max(LINE_MIN_WIDTH);
    // Padding is 0 after scaling to -1..1, as PaddleOCR pads.
    let (w, h) = (padded as usize, LINE_HEIGHT as usize);
    let mut data = vec![0.0f32; 3 * w * h];
    for (x, y, pixel) in line.enumerate_pixels() {
        for (plane, channel) in [2usize, 1, 0].into_iter().enumerate() {
            data[plane * w * h + y as usize * w + x as usize] = f32::from(pixel[channel]) / 127.5 - 1.0;
        }
    }
    let outputs = engine.run(RECOGNIZER, vec![(vec![1, 3, h, w], data)])?;
    let output = outputs
        .first()
        .ok_or_else(|| AiError::ModelInvalid { model: RECOGNIZER.into(), detail: "it returned no output".into() })?;
    let classes = alphabet.len();
    if output.shape.len() != 3 || output.shape[2] != classes {
        return Err(AiError::ModelInvalid {
            model: RECOGNIZER.into(),
            detail: format!("its output {:?} does not match its {} characters", output.shape, classes - 2),
        });
    }
    let steps = output.shape[1];
    tensor::expect_len(RECOGNIZER, &output.data, steps * classes)?;
    let (mut text, mut confidence, mut kept) = (String::new(), 0.0f32, 0usize);
    let mut previous = 0usize;
    for step in output.data[..steps * classes].chunks_exact(classes) {
        let (best, probability) =
            step.iter().enumerate().fold((0usize, f32::MIN), |acc, (i, &p)| if p > acc.1 { (i, p) } else { acc });
        if best != 0 && best != previous {
            text.push_str(&alphabet[best]);
            confidence += probability;
            kept += 1;
        }
        previous = best;
    }
    let text = text.trim().to_string();
    if kept == 0 || text.is_empty() {
        return Ok(None);
    }
    let score = confidence / kept as f32;
    let threshold = if text.chars().count() == 1 { LONE_CHARACTER_THRESHOLD } else { TEXT_THRESHOLD };
    Ok((score >= threshold).then_some((text, score)))
}

/// The quad's pixels as a `width`×`height` image, its top edge at the top: bilinear samples,
/// several per pixel where the line is shrunk (so thin strokes are not skipped).
fn straighten(image: &RgbImage, quad: &[[f32; 2]; 4], width: u32, height: u32) -> RgbImage {
    let [tl, tr, br, bl] = *quad;
    let shrink = (quad_height(quad) / height as f32).max(quad_width(quad) / width as f32);
    let samples = (shrink.ceil() as u32).clamp(1, 4);
    let point = |s: f32, t: f32| {
        let top = [tl[0] + s * (tr[0] - tl[0]), tl[1] + s * (tr[1] - tl[1])];
        let bottom = [bl[0] + s * (br[0] - bl[0]), bl[1] + s * (br[1] - bl[1])];
        [top[0] + t * (bottom[0] - top[0]), top[1] + t * (bottom[1] - top[1])]
    };
    let n = samples as f32;
    RgbImage::from_fn(width, height, |x, y| {
        let mut sum = [0.0f32; 3];
        for j in 0..samples {
            for i in 0..samples {
                let s = (x as f32 + (i as f32 + 0.5) / n) / width as f32;
                let t = (y as f32 + (j as f32 + 0.5) / n) / height as f32;
                let [px, py] = point(s, t);
                for (total, value) in sum.iter_mut().zip(bilinear(image, px, py)) {
                    *total += value;
                }
            }
        }
        let count = n * n;
        Rgb(sum.map(|v| (v / count).round().clamp(0.0, 255.0) as u8))
    })
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let x = x.clamp(0.0, w - 1.0);
    let y = y.clamp(0.0, h - 1.0);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let (x1, y1) = ((x0 + 1).min(image.width() - 1), (y0 + 1).min(image.height() - 1));
    let (a, b, c, d) =
        (image.get_pixel(x0, y0), image.get_pixel(x1, y0), image.get_pixel(x0, y1), image.get_pixel(x1, y1));
    std::array::from_fn(|k| {
        let top = f32::from(a[k]) * (1.0 - fx) + f32::from(b[k]) * fx;
        let bottom = f32::from(c[k]) * (1.0 - fx) + f32::from(d[k]) * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, quad: [[f32; 2]; 4]) -> TextLine {
        TextLine { text: text.into(), score: 0.9, quad }
    }

    fn boxed(x: f32, y: f32, w: f32, h: f32) -> [[f32; 2]; 4] {
        [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
    }

    #[test]
    fn the_detector_sees_multiples_of_32_within_its_bounds() {
        assert_eq!(detector_size(384, 191), (1472, 736), "small photos are enlarged");
        assert_eq!(detector_size(4000, 3000), (1536, 1152), "large ones shrunk");
        assert_eq!(detector_size(800, 800), (800, 800));
        assert_eq!(detector_size(20_000, 4), (1536, 32), "a sliver still gives a valid size");
        assert_eq!(detector_size(4, 4), (736, 736));
    }

    #[test]
    fn a_slanted_bar_gives_a_rotated_box_along_it() {
        // A bar 60 long and 6 thick, rising 10° to the right (y points down).
        let (angle, mut points) = (-10f32.to_radians(), Vec::new());
        for along in 0..=60 {
            for across in 0..=6 {
                let (a, c) = (along as f32, across as f32 - 3.0);
                points.push([50.0 + a * angle.cos() - c * angle.sin(), 50.0 + a * angle.sin() + c * angle.cos()]);
            }
        }
        let rect = min_area_rect(&convex_hull(&points)).unwrap();
        assert!((rect.half_long - 30.0).abs() < 0.5, "{rect:?}");
        assert!((rect.half_short - 3.0).abs() < 0.5, "{rect:?}");
        assert!(rect.axis[0] > 0.9 && rect.axis[1] < -0.1, "points right and up: {rect:?}");
        let [tl, tr, br, bl] = rect.corners();
        assert!(tl[0] < tr[0] && tr[1] < tl[1], "the top edge rises to the right");
        assert!(bl[1] > tl[1] && br[1] > tr[1], "the bottom edge is below the top one");
    }

    #[test]
    fn regions_are_connected_groups_with_their_row_ends_and_scores() {
        // Two blobs in a 10×8 map: one strong (0.95), one weak (0.4).
        let (w, h) = (10, 8);
        let mut map = vec![0.0f32; w * h];
        for y in 0..3 {
            for x in 1..7 {
                map[y * w + x] = 0.95;
            }
        }
        for y in 5..7 {
            for x in 7..10 {
                map[y * w + x] = 0.4;
            }
        }
        let found = regions(&map, w, h);
        assert_eq!(found.len(), 2);
        // The dilation adds a pixel to the right and below of each (its pixels count as zeros).
        assert!(found[0].ends.contains(&[1.0, 0.0]) && found[0].ends.contains(&[7.0, 3.0]), "{:?}", found[0].ends);
        assert!((found[0].score - 0.95 * 18.0 / 28.0).abs() < 1e-4, "{}", found[0].score);
        assert!(found[0].line_box().is_some(), "a strong region is read");
        assert!(found[1].score < LINE_THRESHOLD && found[1].line_box().is_none(), "a weak one is not");
    }

    #[test]
    fn lines_are_read_in_rows_top_to_bottom_then_left_to_right() {
        let mut lines = vec![
            line("world", boxed(120.0, 12.0, 80.0, 20.0)),
            line("second row", boxed(10.0, 50.0, 150.0, 20.0)),
            line("hello", boxed(10.0, 10.0, 100.0, 20.0)),
        ];
        order(&mut lines, |l| l.quad[0][1], |l| l.quad[0][0], |l| l.height());
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["hello", "world", "second row"]);
        assert_eq!(joined(&lines), "hello world\nsecond row");
        assert_eq!(joined(&[]), "");
    }

    #[test]
    fn a_permutation_is_applied_in_place() {
        let mut items = vec!['a', 'b', 'c', 'd'];
        apply_permutation(&mut items, &[2, 0, 3, 1]);
        assert_eq!(items, ['c', 'a', 'd', 'b']);
    }

    #[test]
    fn straightening_an_upright_box_copies_its_pixels() {
        let image = RgbImage::from_fn(40, 20, |x, y| Rgb([x as u8 * 5, y as u8 * 10, 7]));
        let cut = straighten(&image, &boxed(10.0, 5.0, 20.0, 10.0), 20, 10);
        assert_eq!(cut.dimensions(), (20, 10));
        // Sample centres fall half a pixel in: within one step of the source pixel.
        let p = cut.get_pixel(0, 0);
        assert!((i32::from(p[0]) - 52).abs() <= 3 && (i32::from(p[1]) - 55).abs() <= 6, "{p:?}");
    }
}
