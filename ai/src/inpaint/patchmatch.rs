//! Exemplar-based inpainting: the magic eraser used when no LaMa model is installed.
//!
//! Multi-scale PatchMatch with EM voting, after Wexler, Shechtman & Irani, "Space-Time Completion
//! of Video" (2007) and Barnes et al., "PatchMatch" (2009), the method behind Photoshop's
//! Content-Aware Fill:
//!
//! 1. Work on a crop around the hole (its bounding box plus a margin as large as the hole, at
//!    least 64 px), and build a pyramid of it by 2x2 box filtering. A coarse pixel is hole when
//!    any pixel under it is, so known coarse pixels only ever average known photo pixels. The
//!    pyramid stops when no hole pixel is more than 3 px from the known part, or before the short
//!    side would drop under 32 px.
//! 2. At the coarsest level the hole is filled from its boundary inwards, layer by layer, each
//!    pixel copied from the source patch that best matches what is known or already filled around
//!    it. Source patches are 7x7 and lie wholly in the known part, one pixel clear of the hole
//!    (pixels right at a mask's edge often still show the object being removed).
//! 3. At each level, a few EM iterations (3 at the finest level, one more per coarser level, at
//!    most 8; at most 2 on levels with over 250 000 patches and none over 1 000 000, which bounds
//!    the work for huge holes; stopping early once the fill settles): the E step improves the
//!    nearest-neighbour field of the patches overlapping the hole by PatchMatch (two passes,
//!    alternating scan direction, of propagation from the neighbours' matches and random search in
//!    windows halving from the whole level; large levels are cut into up to 4 bands searched on
//!    separate threads); the M step sets each hole pixel to the vote of all the patches covering
//!    it, weighted by how well each matches (`exp(-d / 2σ²)`, σ² the 75th percentile of the
//!    distances) and by how close it lies to the known part (`1.3^-depth`, Wexler et al.'s
//!    confidence), so the fill grows from what is known rather than from its own guesses.
//! 4. The field is upsampled to the next finer level (offsets doubled) and voted to start it. At
//!    the finest level the last vote takes, for each pixel, the covering patch that counts most
//!    instead of an average, so the fill stays as sharp as its source.
//! 5. Colour adaptation: the difference between what the copied patches predict just outside the
//!    hole and what is there (lighting that changes across the photo) is interpolated smoothly
//!    over the hole and added, so lighting differences leave no seam.
//!
//! Known pixels are never changed; only the hole is written into the output. The same photo and
//! mask always give the same fill (the random numbers come from a fixed-seed xorshift, and the
//! bands depend only on the hole). A 200x200 hole in a 2000x1500 photo takes about 0.2 s in a
//! release build.

use std::sync::atomic::{AtomicUsize, Ordering};

use image::{GrayImage, RgbImage};

use crate::{AiError, Progress};

/// Patches are (2 × 3 + 1)² = 7x7 pixels (smaller only on images too small for that).
const PATCH_RADIUS: usize = 3;
/// The pyramid never goes under this short side...
const MIN_SIDE: usize = 32;
/// ...nor further once no hole pixel is more than this many pixels from the known part.
const COARSE_THICKNESS: u32 = 3;
/// A coarser level needs at least this many source patches to be worth building.
const MIN_SOURCES: usize = 32;
const MAX_LEVELS: usize = 12;
/// The crop around the hole keeps at least this margin (in pixels, where the photo has it)...
const MIN_CONTEXT: usize = 64;
/// ...and the known part must be at least this share of the photo (per mille).
const MIN_KNOWN_PER_MILLE: u64 = 10;
/// EM iterations at the finest level; each coarser level gets one more, up to the maximum...
const FINEST_ITERATIONS: usize = 3;
const MAX_ITERATIONS: usize = 8;
/// ...except that levels with more target patches than this get at most 2, and levels with more
/// than this none (their field is only upsampled and voted), which bounds the work for huge holes.
const SMALL_LEVEL: usize = 250_000;
const LARGE_LEVEL: usize = 1_000_000;
/// PatchMatch passes per EM iteration (alternating scan direction).
const PASSES_PER_EM: usize = 2;
/// An EM iteration that changes the hole by less than this (mean absolute change per channel,
/// 0..255) ends its level.
const CONVERGED: f64 = 0.5;
/// The coarsest level's starting guess searches all sources for each hole pixel when that takes
/// at most this many patch comparisons...
const EXHAUSTIVE_INIT: usize = 2_000_000;
/// ...and otherwise this many random ones (plus propagation and random search).
const INIT_SAMPLES: usize = 32;
/// A hole pixel `d` pixels from the known part counts `CONFIDENCE_BASE^-d` in the votes (Wexler et
/// al. use 1.3), with `d` capped so the weights stay representable.
const CONFIDENCE_BASE: f32 = 1.3;
const MAX_CONFIDENCE_DEPTH: u32 = 200;
/// Colour adaptation compares the fill with the known pixels up to this far outside the hole...
const ADAPT_RING: usize = 2;
/// ...trusting differences of about this size (0..255) or less as lighting, not content.
const ADAPT_SIGMA: f32 = 20.0;
/// PatchMatch passes are split into bands of at least this many targets, searched in parallel, at
/// most this many bands.
const BAND_TARGETS: usize = 16_384;
const MAX_BANDS: usize = 4;
/// Progress is reported (and cancellation checked) at least every this many patch updates.
const TICK: usize = 4096;
/// Marks "no target patch / no hole pixel / no source here" in the index maps.
const NONE: u32 = u32::MAX;

/// Channels per pixel: red, green, blue.
const CH: usize = 3;
type Px = [u8; CH];

/// Fills the pixels where `mask` > 127 from the rest of `image`. `mask` has the image's size.
pub fn inpaint(image: &RgbImage, mask: &GrayImage, progress: &dyn Progress) -> Result<RgbImage, AiError> {
    let (w32, h32) = image.dimensions();
    let (mw, mh) = mask.dimensions();
    if (mw, mh) != (w32, h32) {
        return Err(AiError::BadInput(format!("the mask must have the photo's size ({w32}x{h32}); it is {mw}x{mh}")));
    }
    let (w, h) = (w32 as usize, h32 as usize);
    let too_large = || AiError::BadInput("the photo is too large to fill".into());
    let n = w.checked_mul(h).ok_or_else(too_large)?;
    let pixels = n.checked_mul(3).and_then(|len| image.as_raw().get(..len)).ok_or_else(too_large)?;
    let mask_px = mask.as_raw().get(..n).ok_or_else(too_large)?;

    // The hole's size and bounding box.
    let (mut count, mut x0, mut x1, mut y0, mut y1) = (0usize, usize::MAX, 0, usize::MAX, 0);
    for (y, row) in mask_px.chunks_exact(w.max(1)).enumerate() {
        for (x, &m) in row.iter().enumerate() {
            if m > 127 {
                count += 1;
                (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            }
        }
    }
    if count == 0 {
        return Ok(image.clone());
    }
    let known = (n - count) as u64;
    if known == 0 || known * 1000 < n as u64 * MIN_KNOWN_PER_MILLE {
        return Err(AiError::BadInput(
            "the mask covers (nearly) the whole photo: leave part of it unmasked to fill the rest from".into(),
        ));
    }
    progress.step(0.0)?;

    // Crop to the hole and its surroundings: local context is the better source, and the crop
    // bounds the work on large photos.
    let margin = MIN_CONTEXT.max(x1 - x0 + 1).max(y1 - y0 + 1);
    let (cx0, cy0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (cx1, cy1) = (x1.saturating_add(1 + margin).min(w), y1.saturating_add(1 + margin).min(h));
    let (cw, ch) = (cx1 - cx0, cy1 - cy0);
    if cw.checked_mul(ch).is_none_or(|a| a >= NONE as usize) {
        return Err(too_large());
    }
    let mut rgb = Vec::with_capacity(cw * ch);
    let mut hole = Vec::with_capacity(cw * ch);
    for y in cy0..cy1 {
        for x in cx0..cx1 {
            let i = y * w + x;
            rgb.push([pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]]);
            hole.push(mask_px[i] > 127);
        }
    }
    let filled = fill(Level { w: cw, h: ch, img: rgb, hole }, progress)?;

    let mut out = image.clone();
    for (k, (p, &is_hole)) in filled.img.iter().zip(&filled.hole).enumerate() {
        if is_hole {
            let (x, y) = (cx0 + k % cw, cy0 + k / cw);
            out.put_pixel(x as u32, y as u32, image::Rgb(*p));
        }
    }
    progress.report(1.0);
    Ok(out)
}

/// One pyramid level: the current estimate (exact outside the hole) and where the hole is.
struct Level {
    w: usize,
    h: usize,
    img: Vec<Px>,
    hole: Vec<bool>,
}

impl Level {
    /// Half the size, by 2x2 box filtering; a pixel with any hole pixel under it is hole.
    fn downsample(&self) -> Level {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut img = vec![[0u8; CH]; w * h];
        let mut hole = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut k, mut any_hole) = ([0u32; CH], 0u32, false);
                for sy in 2 * y..(2 * y + 2).min(self.h) {
                    for sx in 2 * x..(2 * x + 2).min(self.w) {
                        let i = sy * self.w + sx;
                        if self.hole[i] {
                            any_hole = true;
                        } else {
                            for (s, &v) in sum.iter_mut().zip(&self.img[i]) {
                                *s += v as u32;
                            }
                            k += 1;
                        }
                    }
                }
                let i = y * w + x;
                if any_hole || k == 0 {
                    hole[i] = true;
                } else {
                    img[i] = sum.map(|s| ((s + k / 2) / k) as u8);
                }
            }
        }
        Level { w, h, img, hole }
    }

    /// Chebyshev distance from each pixel to the nearest known one (0 when known, `u32::MAX` when
    /// there is none), and the hole pixels in the order of that distance.
    fn peel(&self) -> (Vec<u32>, Vec<u32>) {
        let (w, h) = (self.w, self.h);
        let mut depth: Vec<u32> = self.hole.iter().map(|&is_hole| if is_hole { u32::MAX } else { 0 }).collect();
        let neighbours = |i: usize| {
            let (x, y) = (i % w, i / w);
            (y.saturating_sub(1)..(y + 2).min(h))
                .flat_map(move |ny| (x.saturating_sub(1)..(x + 2).min(w)).map(move |nx| ny * w + nx))
        };
        let mut order: Vec<u32> = Vec::new();
        for i in 0..w * h {
            if depth[i] == u32::MAX && neighbours(i).any(|j| depth[j] == 0) {
                order.push(i as u32);
            }
        }
        for &i in &order {
            depth[i as usize] = 1;
        }
        let mut head = 0;
        while let Some(&i) = order.get(head) {
            head += 1;
            let d = depth[i as usize] + 1;
            for j in neighbours(i as usize) {
                if depth[j] == u32::MAX {
                    depth[j] = d;
                    order.push(j as u32);
                }
            }
        }
        (depth, order)
    }

    /// How far the farthest hole pixel is from the known part.
    fn thickness(&self) -> u32 {
        let (depth, order) = self.peel();
        order.last().map_or(0, |&i| depth[i as usize])
    }
}

/// Counts of hole pixels over rectangles, in O(1) each.
struct Integral {
    w: usize,
    h: usize,
    sums: Vec<u32>,
}

impl Integral {
    fn new(level: &Level) -> Integral {
        let (w, h) = (level.w, level.h);
        let mut sums = vec![0u32; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0u32;
            for x in 0..w {
                row += level.hole[y * w + x] as u32;
                sums[(y + 1) * (w + 1) + x + 1] = sums[y * (w + 1) + x + 1] + row;
            }
        }
        Integral { w, h, sums }
    }

    /// Hole pixels within `radius` (Chebyshev) of `(x, y)`, clipped to the image.
    fn around(&self, x: usize, y: usize, radius: usize) -> u32 {
        let (xa, ya) = (x.saturating_sub(radius), y.saturating_sub(radius));
        let (xb, yb) = ((x + radius + 1).min(self.w), (y + radius + 1).min(self.h));
        let s = |x: usize, y: usize| self.sums[y * (self.w + 1) + x];
        s(xb, yb) + s(xa, ya) - s(xa, yb) - s(xb, ya)
    }

    /// Centres of the (2r+1)² patches inside the image that stay `clearance` pixels off the hole.
    fn sources(&self, r: usize, clearance: usize) -> Vec<u32> {
        let mut out = Vec::new();
        if self.w < 2 * r + 1 || self.h < 2 * r + 1 {
            return out;
        }
        for y in r..self.h - r {
            for x in r..self.w - r {
                if self.around(x, y, r + clearance) == 0 {
                    out.push((y * self.w + x) as u32);
                }
            }
        }
        out
    }
}

/// The nearest-neighbour field of one level: for every patch that overlaps the hole (a target),
/// the source patch it copies from and how far apart they are.
struct Field {
    /// Patch radius at this level.
    r: usize,
    /// Centres of the target patches, in scan order.
    targets: Vec<u32>,
    /// Pixel → index into `targets`, or `NONE`.
    tindex: Vec<u32>,
    /// Pixel → whether a source patch is centred there.
    src_ok: Vec<bool>,
    /// Centres of the source patches.
    sources: Vec<u32>,
    /// Hole pixels, and pixel → index into `holes` (or `NONE`).
    holes: Vec<u32>,
    hindex: Vec<u32>,
    /// Per target: how much its vote counts, by how close it lies to the known part.
    conf: Vec<f32>,
    /// Per target: the centre of its source patch, and their sum of squared differences.
    nnf: Vec<u32>,
    dist: Vec<u32>,
}

impl Field {
    /// Patches of radius `PATCH_RADIUS` (or smaller when the image or its known part is too small
    /// for any), with sources one pixel clear of the hole where there are any.
    fn new(level: &Level) -> Option<Field> {
        let (w, h) = (level.w, level.h);
        let integral = Integral::new(level);
        let rmax = PATCH_RADIUS.min((w.min(h).max(1) - 1) / 2);
        let (r, sources) = (0..=rmax)
            .rev()
            .flat_map(|r| [(r, 1), (r, 0)])
            .map(|(r, clearance)| (r, integral.sources(r, clearance)))
            .find(|(_, s)| !s.is_empty())?;
        let mut src_ok = vec![false; w * h];
        for &s in &sources {
            src_ok[s as usize] = true;
        }
        let mut targets = Vec::new();
        let mut tindex = vec![NONE; w * h];
        for y in r..h - r {
            for x in r..w - r {
                if integral.around(x, y, r) > 0 {
                    tindex[y * w + x] = targets.len() as u32;
                    targets.push((y * w + x) as u32);
                }
            }
        }
        let mut holes = Vec::new();
        let mut hindex = vec![NONE; w * h];
        for (i, &is_hole) in level.hole.iter().enumerate() {
            if is_hole {
                hindex[i] = holes.len() as u32;
                holes.push(i as u32);
            }
        }
        // Wexler's confidence: known pixels count fully, hole pixels less the deeper they lie.
        let (depth, _) = level.peel();
        let pixel_conf: Vec<f32> =
            depth.iter().map(|&d| CONFIDENCE_BASE.powi(-(d.min(MAX_CONFIDENCE_DEPTH) as i32))).collect();
        let side = 2 * r + 1;
        let conf = targets
            .iter()
            .map(|&c| {
                let c0 = c as usize - r * w - r;
                let sum: f32 = (0..side).flat_map(|row| pixel_conf[c0 + row * w..][..side].iter()).sum();
                sum / (side * side) as f32
            })
            .collect();
        let n = targets.len();
        Some(Field {
            r,
            targets,
            tindex,
            src_ok,
            sources,
            holes,
            hindex,
            conf,
            nnf: vec![0; n],
            dist: vec![u32::MAX; n],
        })
    }

    fn random_source(&self, rng: &mut Rng) -> u32 {
        self.sources.get(rng.below(self.sources.len())).copied().unwrap_or(0)
    }

    /// Recomputes every target's distance to its source against the current estimate.
    fn measure(&mut self, level: &Level) {
        for ((&c, &s), d) in self.targets.iter().zip(&self.nnf).zip(&mut self.dist) {
            *d = ssd(&level.img, level.w, self.r, c as usize, s as usize, u32::MAX);
        }
    }

    /// Starts this (finer) level's field from the coarser one's, doubling the offsets.
    fn upsample_from(&mut self, fine: &Level, coarse: &Field, coarse_w: usize, coarse_h: usize, rng: &mut Rng) {
        let (w, h, r) = (fine.w as isize, fine.h as isize, self.r as isize);
        let cr = coarse.r;
        for t in 0..self.targets.len() {
            let c = self.targets[t] as usize;
            let (x, y) = (c % fine.w, c / fine.w);
            let (mut cx, mut cy) = ((x / 2).min(coarse_w - 1), (y / 2).min(coarse_h - 1));
            let mut ct = coarse.tindex[cy * coarse_w + cx];
            if ct == NONE {
                cx = cx.clamp(cr, coarse_w - 1 - cr);
                cy = cy.clamp(cr, coarse_h - 1 - cr);
                ct = coarse.tindex[cy * coarse_w + cx];
            }
            let mut source = None;
            if let Some(&s) = coarse.nnf.get(ct as usize) {
                let (sx, sy) = ((s as usize % coarse_w) as isize, (s as usize / coarse_w) as isize);
                let fx = (x as isize + 2 * (sx - cx as isize)).clamp(r, w - 1 - r);
                let fy = (y as isize + 2 * (sy - cy as isize)).clamp(r, h - 1 - r);
                let i = (fy * w + fx) as usize;
                if self.src_ok[i] {
                    source = Some(i as u32);
                }
            }
            self.nnf[t] = source.unwrap_or_else(|| self.random_source(rng));
        }
    }

    /// The 75th percentile of the patch distances (Wexler's σ²), at least 1.
    fn sigma2(&self) -> f64 {
        let mut d = self.dist.clone();
        let k = (d.len() * 3 / 4).min(d.len().saturating_sub(1));
        match d.get(k) {
            Some(_) => *d.select_nth_unstable(k).1 as f64 + 1.0,
            None => 1.0,
        }
    }

    /// How much each target's patch counts in the votes: its confidence times its similarity.
    fn weights(&self) -> Vec<f64> {
        let sigma2 = self.sigma2();
        self.dist
            .iter()
            .zip(&self.conf)
            .map(|(&d, &conf)| (conf as f64 * (-(d as f64) / (2.0 * sigma2)).exp()).max(1e-300))
            .collect()
    }
}

/// Squared difference between two pixels.
#[inline]
fn px_ssd(p: &Px, q: &Px) -> u32 {
    let mut sum = 0;
    for c in 0..CH {
        let d = p[c] as i32 - q[c] as i32;
        sum += (d * d) as u32;
    }
    sum
}

/// Sum of squared differences between the patches centred at `a` and `b` (both wholly inside the
/// image); stops early once it reaches `limit`.
fn ssd(img: &[Px], w: usize, r: usize, a: usize, b: usize, limit: u32) -> u32 {
    let side = 2 * r + 1;
    let (a0, b0) = (a - r * w - r, b - r * w - r);
    let mut sum = 0u32;
    for row in 0..side {
        let (Some(pa), Some(pb)) =
            (img.get(a0 + row * w..a0 + row * w + side), img.get(b0 + row * w..b0 + row * w + side))
        else {
            return u32::MAX;
        };
        for (p, q) in pa.iter().zip(pb) {
            sum = sum.saturating_add(px_ssd(p, q));
        }
        if sum >= limit {
            return sum;
        }
    }
    sum
}

/// The starting guess at the coarsest level: the hole filled from its boundary inwards, layer by
/// layer, each pixel copied from the centre of the source patch that best matches what is known or
/// already filled around it; the field starts from those sources. The search is exhaustive when
/// that is affordable, and otherwise propagation from the filled neighbours plus random search.
fn onion_init(level: &mut Level, f: &mut Field, rng: &mut Rng, ticker: &Ticker) -> Result<(), AiError> {
    let (w, h, r) = (level.w, level.h, f.r);
    let (lo, hix, hiy) = (r as isize, (w - 1 - r) as isize, (h - 1 - r) as isize);
    let (_, order) = level.peel();
    let mut filled: Vec<bool> = level.hole.iter().map(|&is_hole| !is_hole).collect();
    let mut src = vec![NONE; w * h];
    let exhaustive = order.len().saturating_mul(f.sources.len()) <= EXHAUSTIVE_INIT;
    let mut around: Vec<(isize, Px)> = Vec::with_capacity((2 * r + 1) * (2 * r + 1));
    let mut candidates: Vec<usize> = Vec::new();
    for (k, &p) in order.iter().enumerate() {
        let p = p as usize;
        let (px, py) = ((p % w) as isize, (p / w) as isize);
        // What is known around p: offsets from the patch centre, and the values there.
        around.clear();
        for dy in -(r as isize)..=r as isize {
            for dx in -(r as isize)..=r as isize {
                let (x, y) = (px + dx, py + dy);
                if x >= 0 && y >= 0 && x < w as isize && y < h as isize && filled[y as usize * w + x as usize] {
                    around.push((dy * w as isize + dx, level.img[y as usize * w + x as usize]));
                }
            }
        }
        let img = &level.img;
        let (mut best, mut bd) = (NONE as usize, u64::MAX);
        let consider = |s: usize, best: &mut usize, bd: &mut u64| {
            let mut d = 0u64;
            for &(off, v) in &around {
                let Some(q) = img.get(s.wrapping_add_signed(off)) else { return };
                d += px_ssd(&v, q) as u64;
                if d >= *bd {
                    return;
                }
            }
            (*best, *bd) = (s, d);
        };
        if exhaustive {
            for &s in &f.sources {
                consider(s as usize, &mut best, &mut bd);
            }
        } else {
            candidates.clear();
            for ny in (py - 1).max(0)..=(py + 1).min(h as isize - 1) {
                for nx in (px - 1).max(0)..=(px + 1).min(w as isize - 1) {
                    let ns = src[ny as usize * w + nx as usize];
                    if ns == NONE {
                        continue;
                    }
                    let sx = (ns as usize % w) as isize + px - nx;
                    let sy = (ns as usize / w) as isize + py - ny;
                    if sx >= lo && sy >= lo && sx <= hix && sy <= hiy {
                        candidates.push(sy as usize * w + sx as usize);
                    }
                }
            }
            for _ in 0..INIT_SAMPLES {
                candidates.push(f.random_source(rng) as usize);
            }
            for &s in &candidates {
                if f.src_ok[s] {
                    consider(s, &mut best, &mut bd);
                }
            }
            for _ in 0..2 {
                let mut radius = w.max(h) as isize;
                while radius >= 1 && best != NONE as usize {
                    let (bx, by) = ((best % w) as isize, (best / w) as isize);
                    let sx = (bx + rng.within(radius)).clamp(lo, hix);
                    let sy = (by + rng.within(radius)).clamp(lo, hiy);
                    let s = sy as usize * w + sx as usize;
                    if f.src_ok[s] {
                        consider(s, &mut best, &mut bd);
                    }
                    radius /= 2;
                }
            }
        }
        if let Some(&v) = level.img.get(best) {
            level.img[p] = v;
            src[p] = best as u32;
        }
        filled[p] = true;
        if k % TICK == TICK - 1 {
            ticker.add(0, true)?;
        }
    }
    for (t, &c) in f.targets.iter().enumerate() {
        let s = src[c as usize];
        f.nnf[t] = if s != NONE && f.src_ok[s as usize] { s } else { f.random_source(rng) };
    }
    Ok(())
}

/// One PatchMatch pass over the targets: propagation from the two neighbours already visited,
/// then random search around the best match in windows halving from the whole level down to 1.
/// Large levels are cut into bands of targets searched on separate threads (propagation stops at
/// a band's edge); the cut depends only on the number of targets, so fills stay deterministic.
fn patchmatch_pass(
    level: &Level,
    f: &mut Field,
    reverse: bool,
    rng: &mut Rng,
    ticker: &Ticker,
    band_targets: usize,
) -> Result<(), AiError> {
    let Field { r, targets, tindex, src_ok, nnf, dist, .. } = f;
    let n = targets.len();
    let bands = (n / band_targets.max(1)).clamp(1, MAX_BANDS);
    let band = Band { level, r: *r, targets, tindex, src_ok, reverse, ticker };
    if bands == 1 {
        return band.search(0, nnf, dist, rng, true);
    }
    let size = n.div_ceil(bands);
    let seeds: Vec<u64> = (0..bands).map(|_| rng.next() | 1).collect();
    std::thread::scope(|scope| {
        let band = &band;
        let handles: Vec<_> = nnf
            .chunks_mut(size)
            .zip(dist.chunks_mut(size))
            .zip(seeds)
            .enumerate()
            .map(|(k, ((nnf, dist), seed))| {
                scope.spawn(move || band.search(k * size, nnf, dist, &mut Rng(seed), k == 0))
            })
            .collect();
        // Every band runs to its end (or its cancellation) before the first error is returned.
        let results: Vec<_> = handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(AiError::Inference("the fill's search failed".into()))))
            .collect();
        results.into_iter().collect::<Result<(), AiError>>()
    })
}

/// What one band of a PatchMatch pass reads.
struct Band<'a> {
    level: &'a Level,
    r: usize,
    targets: &'a [u32],
    tindex: &'a [u32],
    src_ok: &'a [bool],
    reverse: bool,
    ticker: &'a Ticker<'a>,
}

impl Band<'_> {
    /// Searches the targets `start..start + nnf.len()`, whose matches and distances are `nnf` and
    /// `dist`. Only the `reporter` band reports progress (so it only ever rises); all check for
    /// cancellation.
    fn search(
        &self,
        start: usize,
        nnf: &mut [u32],
        dist: &mut [u32],
        rng: &mut Rng,
        reporter: bool,
    ) -> Result<(), AiError> {
        let (level, r) = (self.level, self.r);
        let (w, h) = (level.w, level.h);
        let (lo, hix, hiy) = (r as isize, (w - 1 - r) as isize, (h - 1 - r) as isize);
        let step: isize = if self.reverse { 1 } else { -1 };
        let n = nnf.len();
        let mut since = 0;
        for k in 0..n {
            let t = if self.reverse { n - 1 - k } else { k };
            let Some(&c) = self.targets.get(start + t) else { break };
            let c = c as usize;
            let (cx, cy) = ((c % w) as isize, (c / w) as isize);
            let (mut best, mut bd) = (nnf[t] as usize, dist[t]);
            for (nx, ny) in [(cx + step, cy), (cx, cy + step)] {
                if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                    continue;
                }
                let neighbour = (self.tindex[ny as usize * w + nx as usize] as usize).wrapping_sub(start);
                let Some(&ns) = nnf.get(neighbour) else { continue };
                let sx = (ns as usize % w) as isize - (nx - cx);
                let sy = (ns as usize / w) as isize - (ny - cy);
                if sx < lo || sy < lo || sx > hix || sy > hiy {
                    continue;
                }
                let s = sy as usize * w + sx as usize;
                if s != best && self.src_ok[s] {
                    let d = ssd(&level.img, w, r, c, s, bd);
                    if d < bd {
                        (best, bd) = (s, d);
                    }
                }
            }
            let mut radius = w.max(h) as isize;
            while radius >= 1 {
                let (bx, by) = ((best % w) as isize, (best / w) as isize);
                let sx = (bx + rng.within(radius)).clamp(lo, hix);
                let sy = (by + rng.within(radius)).clamp(lo, hiy);
                let s = sy as usize * w + sx as usize;
                if s != best && self.src_ok[s] {
                    let d = ssd(&level.img, w, r, c, s, bd);
                    if d < bd {
                        (best, bd) = (s, d);
                    }
                }
                radius /= 2;
            }
            nnf[t] = best as u32;
            dist[t] = bd;
            since += 1;
            if since == TICK {
                self.ticker.add(since, reporter)?;
                since = 0;
            }
        }
        self.ticker.add(since, reporter)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Vote {
    /// Patches count by confidence only (right after upsampling, before distances exist).
    Uniform,
    /// Patches count by confidence and similarity.
    Weighted,
    /// Each pixel takes the value of the covering patch that counts most (the sharp final vote).
    Best,
}

/// Re-estimates the hole pixels from the patches covering them; returns the mean absolute change
/// per channel.
fn vote(level: &mut Level, f: &Field, mode: Vote) -> f64 {
    let (w, r) = (level.w, f.r);
    let side = 2 * r + 1;
    let weights = match mode {
        Vote::Uniform => f.conf.iter().map(|&c| c as f64).collect(),
        _ => f.weights(),
    };
    let mut acc = vec![([0f64; CH], 0f64); if mode == Vote::Best { 0 } else { f.holes.len() }];
    let mut best = vec![(0f64, None::<Px>); if mode == Vote::Best { f.holes.len() } else { 0 }];
    for ((&c, &s), &weight) in f.targets.iter().zip(&f.nnf).zip(&weights) {
        let (c0, s0) = (c as usize - r * w - r, s as usize - r * w - r);
        for row in 0..side {
            for col in 0..side {
                let hi = f.hindex[c0 + row * w + col];
                if hi == NONE {
                    continue;
                }
                let v = level.img[s0 + row * w + col];
                if mode == Vote::Best {
                    let b = &mut best[hi as usize];
                    if b.1.is_none() || weight > b.0 {
                        *b = (weight, Some(v));
                    }
                } else {
                    let (sum, total) = &mut acc[hi as usize];
                    for (s, &v) in sum.iter_mut().zip(&v) {
                        *s += weight * v as f64;
                    }
                    *total += weight;
                }
            }
        }
    }
    let mut change = 0u64;
    for (k, &i) in f.holes.iter().enumerate() {
        let new = if mode == Vote::Best {
            match best[k] {
                (_, Some(v)) => v,
                (_, None) => continue,
            }
        } else {
            match acc[k] {
                (sum, total) if total > 0.0 => sum.map(|v| (v / total).round().clamp(0.0, 255.0) as u8),
                _ => continue,
            }
        };
        let old = &mut level.img[i as usize];
        change += old.iter().zip(&new).map(|(&a, &b)| a.abs_diff(b) as u64).sum::<u64>();
        *old = new;
    }
    change as f64 / (CH * f.holes.len().max(1)) as f64
}

/// Colour adaptation: copied patches may be lighter or darker than the surroundings of the hole
/// (lighting changes across a photo), which shows as a seam. What the copied patches would put on
/// the known pixels just outside the hole is compared with what is there, and that difference,
/// interpolated smoothly over the hole (push-pull), is added to the fill. Large differences are
/// mismatched content rather than lighting, and count little.
fn adapt_colours(level: &mut Level, f: &Field) {
    let (w, h, r) = (level.w, level.h, f.r);
    let side = 2 * r + 1;
    // The hole's bounding box, grown by the ring.
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &i in &f.holes {
        let (x, y) = (i as usize % w, i as usize / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if x0 > x1 {
        return;
    }
    let (x0, y0) = (x0.saturating_sub(ADAPT_RING), y0.saturating_sub(ADAPT_RING));
    let (x1, y1) = ((x1 + ADAPT_RING).min(w - 1), (y1 + ADAPT_RING).min(h - 1));
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let local = |i: usize| -> Option<usize> {
        let (x, y) = (i % w, i / w);
        (x >= x0 && x <= x1 && y >= y0 && y <= y1).then(|| (y - y0) * bw + (x - x0))
    };
    // The ring: known pixels within ADAPT_RING of the hole.
    let mut ring = vec![false; bw * bh];
    for &i in &f.holes {
        let (x, y) = (i as usize % w, i as usize / w);
        for ny in y.saturating_sub(ADAPT_RING)..(y + ADAPT_RING + 1).min(h) {
            for nx in x.saturating_sub(ADAPT_RING)..(x + ADAPT_RING + 1).min(w) {
                if let (false, Some(l)) = (level.hole[ny * w + nx], local(ny * w + nx)) {
                    ring[l] = true;
                }
            }
        }
    }
    // What the copied patches predict there.
    let mut acc = vec![([0f64; 3], 0f64); bw * bh];
    for ((&c, &s), &weight) in f.targets.iter().zip(&f.nnf).zip(&f.weights()) {
        let (c0, s0) = (c as usize - r * w - r, s as usize - r * w - r);
        for row in 0..side {
            for col in 0..side {
                match local(c0 + row * w + col) {
                    Some(l) if ring[l] => {
                        let v = level.img[s0 + row * w + col];
                        let (sum, total) = &mut acc[l];
                        for (s, &v) in sum.iter_mut().zip(&v) {
                            *s += weight * v as f64;
                        }
                        *total += weight;
                    }
                    _ => {}
                }
            }
        }
    }
    let mut values = vec![[0f32; 3]; bw * bh];
    let mut weights = vec![0f32; bw * bh];
    for (l, &(sum, total)) in acc.iter().enumerate() {
        if !ring[l] || total <= 0.0 {
            continue;
        }
        let known = level.img[(y0 + l / bw) * w + x0 + l % bw];
        let offset = [0, 1, 2].map(|c| known[c] as f32 - (sum[c] / total) as f32);
        let size2 = offset.iter().map(|o| o * o).sum::<f32>() / 3.0;
        values[l] = offset;
        weights[l] = (-size2 / (2.0 * ADAPT_SIGMA * ADAPT_SIGMA)).exp();
    }
    let offsets = push_pull(bw, bh, values, weights);
    for &i in &f.holes {
        let (Some(l), Some(p)) = (local(i as usize), level.img.get_mut(i as usize)) else { continue };
        for c in 0..3 {
            p[c] = (p[c] as f32 + offsets[l][c]).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Fills in a sparse, weighted field smoothly (the push-pull of Gortler et al.): averages it down
/// a pyramid until every pixel has full weight, then blends the coarser levels back up (bilinearly)
/// where the finer ones have little weight.
fn push_pull(w: usize, h: usize, values: Vec<[f32; 3]>, weights: Vec<f32>) -> Vec<[f32; 3]> {
    let mut pyramid = vec![(w, h, values, weights)];
    while let Some((w, h, values, weights)) = pyramid.last() {
        let (w, h) = (*w, *h);
        if w <= 1 && h <= 1 {
            break;
        }
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut cv = vec![[0f32; 3]; cw * ch];
        let mut cwt = vec![0f32; cw * ch];
        for y in 0..ch {
            for x in 0..cw {
                let (mut sum, mut total) = ([0f32; 3], 0f32);
                for sy in 2 * y..(2 * y + 2).min(h) {
                    for sx in 2 * x..(2 * x + 2).min(w) {
                        let (v, wt) = (values[sy * w + sx], weights[sy * w + sx]);
                        for (s, v) in sum.iter_mut().zip(v) {
                            *s += wt * v;
                        }
                        total += wt;
                    }
                }
                if total > 0.0 {
                    cv[y * cw + x] = sum.map(|s| s / total);
                }
                cwt[y * cw + x] = total.min(1.0);
            }
        }
        pyramid.push((cw, ch, cv, cwt));
    }
    while pyramid.len() > 1 {
        let Some((cw, ch, cv, _)) = pyramid.pop() else { break };
        let Some((w, h, values, weights)) = pyramid.last_mut() else { break };
        for y in 0..*h {
            let fy = ((y as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (ch - 1) as f32);
            let (ya, ty) = (fy.floor() as usize, fy.fract());
            let yb = (ya + 1).min(ch - 1);
            for x in 0..*w {
                let i = y * *w + x;
                let wt = weights[i];
                if wt >= 1.0 {
                    continue;
                }
                let fx = ((x as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (cw - 1) as f32);
                let (xa, tx) = (fx.floor() as usize, fx.fract());
                let xb = (xa + 1).min(cw - 1);
                for c in 0..3 {
                    let top = cv[ya * cw + xa][c] * (1.0 - tx) + cv[ya * cw + xb][c] * tx;
                    let bottom = cv[yb * cw + xa][c] * (1.0 - tx) + cv[yb * cw + xb][c] * tx;
                    values[i][c] = wt * values[i][c] + (1.0 - wt) * (top * (1.0 - ty) + bottom * ty);
                }
                weights[i] = 1.0;
            }
        }
    }
    pyramid.pop().map(|(_, _, values, _)| values).unwrap_or_default()
}

/// Inpaints the hole of the finest level; returns it filled.
fn fill(finest: Level, progress: &dyn Progress) -> Result<Level, AiError> {
    // The pyramid, finest first.
    let mut levels = vec![finest];
    while let Some(cur) = levels.last() {
        if levels.len() >= MAX_LEVELS
            || cur.w.div_ceil(2).min(cur.h.div_ceil(2)) < MIN_SIDE
            || cur.thickness() <= COARSE_THICKNESS
        {
            break;
        }
        let next = cur.downsample();
        if Integral::new(&next).sources(PATCH_RADIUS, 1).len() < MIN_SOURCES {
            break;
        }
        levels.push(next);
    }
    let no_source = || AiError::BadInput("the mask leaves nothing of the photo to fill from".into());
    let mut fields = levels.iter().map(Field::new).collect::<Option<Vec<_>>>().ok_or_else(no_source)?;

    // EM iterations per level: more at the cheap coarse levels, fewer at the fine ones, and fewer
    // still for huge holes.
    let iterations = |depth: usize, targets: usize| {
        let n = (FINEST_ITERATIONS + depth).min(MAX_ITERATIONS);
        if targets <= SMALL_LEVEL {
            n
        } else if targets <= LARGE_LEVEL {
            n.min(2)
        } else {
            0
        }
    };
    let total = fields
        .iter()
        .enumerate()
        .map(|(depth, f)| f.targets.len() * iterations(depth, f.targets.len()) * PASSES_PER_EM)
        .sum();
    let ticker = Ticker { progress, total, done: AtomicUsize::new(0) };
    let mut rng = Rng((0x9E37_79B9_7F4A_7C15 ^ (levels[0].w as u64) << 32 ^ levels[0].h as u64).max(1));

    for depth in (0..levels.len()).rev() {
        let (finer, coarser) = levels.split_at_mut(depth + 1);
        let (finer_fields, coarser_fields) = fields.split_at_mut(depth + 1);
        let (Some(level), Some(field)) = (finer.last_mut(), finer_fields.last_mut()) else { break };
        match (coarser.first(), coarser_fields.first()) {
            (Some(coarse), Some(coarse_field)) => {
                field.upsample_from(level, coarse_field, coarse.w, coarse.h, &mut rng);
                vote(level, field, Vote::Uniform);
                ticker.add(0, true)?;
            }
            _ => onion_init(level, field, &mut rng, &ticker)?,
        }
        let n_em = iterations(depth, field.targets.len());
        for it in 0..n_em {
            field.measure(level);
            for pass in 0..PASSES_PER_EM {
                let reverse = (it * PASSES_PER_EM + pass) % 2 == 1;
                patchmatch_pass(level, field, reverse, &mut rng, &ticker, BAND_TARGETS)?;
            }
            if depth == 0 && it + 1 == n_em {
                break;
            }
            if vote(level, field, Vote::Weighted) < CONVERGED && it > 0 {
                if depth == 0 {
                    field.measure(level);
                }
                break;
            }
        }
        if depth == 0 {
            if n_em == 0 {
                field.measure(level);
            }
            vote(level, field, Vote::Best);
            adapt_colours(level, field);
        }
    }
    levels.truncate(1);
    levels.pop().ok_or_else(no_source)
}

/// Reports progress in units of patch updates, and stops when cancelled. Shared by the threads
/// of a pass.
struct Ticker<'a> {
    progress: &'a dyn Progress,
    total: usize,
    done: AtomicUsize,
}

impl Ticker<'_> {
    /// Counts `units` more done, then reports (when `report`) and checks for cancellation.
    fn add(&self, units: usize, report: bool) -> Result<(), AiError> {
        let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
        if report {
            self.progress.step((done as f64 / self.total.max(1) as f64).min(0.99) as f32)
        } else if self.progress.cancelled() {
            Err(AiError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// xorshift64*: small, fast, and deterministic, so the same photo and mask give the same fill.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `-radius..=radius`.
    fn within(&mut self, radius: isize) -> isize {
        self.below(2 * radius.unsigned_abs() + 1) as isize - radius
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use image::{Luma, Rgb};

    use super::*;
    use crate::Quiet;

    const RED: [u8; 3] = [210, 40, 35];
    const GREEN: [u8; 3] = [40, 190, 70];
    const BLUE: [u8; 3] = [30, 50, 215];

    /// A deterministic hash of a pixel's position, for noise and irregular masks.
    fn hash(x: u32, y: u32, salt: u32) -> u32 {
        let mut v = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ salt.wrapping_mul(0xC2B2_AE3D);
        v ^= v >> 15;
        v = v.wrapping_mul(0x2C1B_3C6D);
        v ^= v >> 12;
        v
    }

    fn stripes(x: u32, _: u32) -> [u8; 3] {
        match x % 8 {
            0..=2 => RED,
            3..=4 => GREEN,
            _ => BLUE,
        }
    }

    fn checkerboard(x: u32, y: u32) -> [u8; 3] {
        if (x / 4 + y / 4).is_multiple_of(2) {
            [230, 220, 40]
        } else {
            [20, 30, 120]
        }
    }

    fn diagonal(x: u32, y: u32) -> [u8; 3] {
        if ((x + y) / 4).is_multiple_of(2) {
            [240, 240, 240]
        } else {
            [60, 20, 20]
        }
    }

    fn picture(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb(f(x, y)))
    }

    fn rect_mask(w: u32, h: u32, x0: u32, y0: u32, rw: u32, rh: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            Luma([if (x0..x0 + rw).contains(&x) && (y0..y0 + rh).contains(&y) { 255 } else { 0 }])
        })
    }

    fn holes(mask: &GrayImage) -> impl Iterator<Item = (u32, u32)> + '_ {
        mask.enumerate_pixels().filter(|(_, _, m)| m[0] > 127).map(|(x, y, _)| (x, y))
    }

    /// Mean absolute difference per channel over the given pixels.
    fn mae(a: &RgbImage, b: &RgbImage, pixels: impl Iterator<Item = (u32, u32)>) -> f64 {
        let (mut sum, mut n) = (0u64, 0u64);
        for (x, y) in pixels {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            sum += p.0.iter().zip(&q.0).map(|(&u, &v)| u.abs_diff(v) as u64).sum::<u64>();
            n += 3;
        }
        sum as f64 / n.max(1) as f64
    }

    /// What a blur would come to: the hole set to the mean of the known pixels.
    fn mean_fill(image: &RgbImage, mask: &GrayImage) -> RgbImage {
        let (mut sum, mut n) = ([0u64; 3], 0u64);
        for (x, y, p) in image.enumerate_pixels() {
            if mask.get_pixel(x, y)[0] <= 127 {
                for c in 0..3 {
                    sum[c] += p[c] as u64;
                }
                n += 1;
            }
        }
        let mean = Rgb(sum.map(|s| (s / n.max(1)) as u8));
        let mut out = image.clone();
        for (x, y) in holes(mask) {
            out.put_pixel(x, y, mean);
        }
        out
    }

    /// Hole pixels with a 4-neighbour outside the hole: where a seam would show.
    fn ring(mask: &GrayImage) -> Vec<(u32, u32)> {
        let known = |x: i64, y: i64| {
            x >= 0
                && y >= 0
                && x < mask.width() as i64
                && y < mask.height() as i64
                && mask.get_pixel(x as u32, y as u32)[0] <= 127
        };
        holes(mask)
            .filter(|&(x, y)| {
                let (x, y) = (x as i64, y as i64);
                known(x - 1, y) || known(x + 1, y) || known(x, y - 1) || known(x, y + 1)
            })
            .collect()
    }

    fn assert_known_unchanged(before: &RgbImage, after: &RgbImage, mask: &GrayImage) {
        assert_eq!(before.dimensions(), after.dimensions());
        for (x, y, m) in mask.enumerate_pixels() {
            if m[0] <= 127 {
                assert_eq!(before.get_pixel(x, y), after.get_pixel(x, y), "known pixel ({x}, {y}) changed");
            }
        }
    }

    #[test]
    fn periodic_textures_are_reconstructed_seamlessly() {
        type Texture = fn(u32, u32) -> [u8; 3];
        let textures: [(&str, Texture); 3] =
            [("stripes", stripes), ("checkerboard", checkerboard), ("diagonal", diagonal)];
        for (name, texture) in textures {
            let truth = picture(96, 96, texture);
            let mask = rect_mask(96, 96, 35, 37, 24, 24);
            let out = inpaint(&truth, &mask, &Quiet).unwrap();
            assert_known_unchanged(&truth, &out, &mask);
            let error = mae(&out, &truth, holes(&mask));
            let blur = mae(&mean_fill(&truth, &mask), &truth, holes(&mask));
            let seam = mae(&out, &truth, ring(&mask).into_iter());
            let blur_seam = mae(&mean_fill(&truth, &mask), &truth, ring(&mask).into_iter());
            eprintln!("{name}: error {error:.2} (mean fill {blur:.2}), seam {seam:.2} (mean fill {blur_seam:.2})");
            assert!(error * 3.0 < blur, "{name}: error {error:.2} vs mean fill {blur:.2}");
            assert!(error < 12.0, "{name}: error {error:.2}");
            assert!(seam < 8.0, "{name}: the fill's border differs from its surroundings by {seam:.2}");
        }
    }

    #[test]
    fn known_pixels_are_unchanged_exactly() {
        let image = picture(80, 72, |x, y| {
            let n = hash(x, y, 1);
            [(x * 3) as u8 ^ (n as u8 & 15), (y * 3) as u8, ((x + y) * 2) as u8 ^ (n >> 8) as u8 & 31]
        });
        // A disc, a diagonal scratch, and a few scattered pixels.
        let mask = GrayImage::from_fn(80, 72, |x, y| {
            let (dx, dy) = (x as i32 - 30, y as i32 - 40);
            let hole = dx * dx + dy * dy < 100 || (x as i32 - y as i32).abs() <= 1 || hash(x, y, 2).is_multiple_of(97);
            Luma([if hole { 200 } else { 100 }])
        });
        let out = inpaint(&image, &mask, &Quiet).unwrap();
        assert_known_unchanged(&image, &out, &mask);
        assert!(holes(&mask).any(|(x, y)| out.get_pixel(x, y) != image.get_pixel(x, y)), "the hole was not filled");
    }

    #[test]
    fn a_hole_across_two_regions_keeps_each_side() {
        let image = picture(96, 64, |x, _| if x < 48 { RED } else { BLUE });
        let mask = rect_mask(96, 64, 36, 20, 24, 24);
        let out = inpaint(&image, &mask, &Quiet).unwrap();
        assert_known_unchanged(&image, &out, &mask);
        for (x, y) in holes(&mask) {
            let p = out.get_pixel(x, y);
            if x < 45 {
                assert!(p[0] > 150 && p[2] < 100, "({x}, {y}) should be red, is {p:?}");
            } else if x >= 51 {
                assert!(p[2] > 150 && p[0] < 100, "({x}, {y}) should be blue, is {p:?}");
            }
        }
        // The edge continues straight through the hole.
        assert!(mae(&out, &image, holes(&mask)) < 10.0);
    }

    #[test]
    fn a_hole_in_the_corner_and_a_thin_scratch_are_filled() {
        let truth = picture(64, 64, checkerboard);
        let corner = rect_mask(64, 64, 0, 0, 10, 9);
        let out = inpaint(&truth, &corner, &Quiet).unwrap();
        assert_known_unchanged(&truth, &out, &corner);
        let error = mae(&out, &truth, holes(&corner));
        assert!(error * 3.0 < mae(&mean_fill(&truth, &corner), &truth, holes(&corner)), "corner: error {error:.2}");

        let truth = picture(64, 48, stripes);
        let scratch = rect_mask(64, 48, 0, 20, 64, 1);
        let out = inpaint(&truth, &scratch, &Quiet).unwrap();
        assert_known_unchanged(&truth, &out, &scratch);
        let error = mae(&out, &truth, holes(&scratch));
        assert!(error < 5.0, "scratch: error {error:.2}");

        let far_corner = rect_mask(64, 48, 57, 41, 7, 7);
        let out = inpaint(&truth, &far_corner, &Quiet).unwrap();
        assert_known_unchanged(&truth, &out, &far_corner);
        let error = mae(&out, &truth, holes(&far_corner));
        assert!(error < 10.0, "far corner: error {error:.2}");
    }

    #[test]
    fn bad_and_trivial_inputs() {
        let image = picture(16, 12, stripes);
        assert!(
            matches!(inpaint(&image, &GrayImage::new(12, 16), &Quiet), Err(AiError::BadInput(m)) if m.contains("size"))
        );
        assert_eq!(inpaint(&image, &GrayImage::new(16, 12), &Quiet).unwrap(), image);
        let full = GrayImage::from_pixel(16, 12, Luma([255]));
        assert!(matches!(inpaint(&image, &full, &Quiet), Err(AiError::BadInput(m)) if m.contains("whole photo")));
        // A single known pixel is not enough to fill 191 from.
        let mut nearly = full.clone();
        nearly.put_pixel(3, 3, Luma([0]));
        assert!(matches!(inpaint(&image, &nearly, &Quiet), Err(AiError::BadInput(_))));

        let one = picture(1, 1, |_, _| RED);
        assert_eq!(inpaint(&one, &GrayImage::new(1, 1), &Quiet).unwrap(), one);
        assert!(matches!(inpaint(&one, &GrayImage::from_pixel(1, 1, Luma([255])), &Quiet), Err(AiError::BadInput(_))));
        let empty = RgbImage::new(0, 0);
        assert_eq!(inpaint(&empty, &GrayImage::new(0, 0), &Quiet).unwrap(), empty);

        // A pixel next to known ones on a tiny image, and a hole in a one-pixel-high strip.
        let tiny = picture(3, 3, |x, y| if (x, y) == (1, 1) { BLUE } else { RED });
        let out = inpaint(&tiny, &rect_mask(3, 3, 1, 1, 1, 1), &Quiet).unwrap();
        assert_eq!(out.get_pixel(1, 1).0, RED);
        let strip = picture(9, 1, |x, _| if x == 4 { BLUE } else { GREEN });
        let out = inpaint(&strip, &rect_mask(9, 1, 4, 0, 1, 1), &Quiet).unwrap();
        assert_eq!(out.get_pixel(4, 0).0, GREEN);
    }

    #[test]
    fn never_panics_on_small_images_and_odd_masks() {
        for w in 1..=11 {
            for h in 1..=11 {
                for salt in 0..4 {
                    let image = picture(w, h, |x, y| {
                        let n = hash(x, y, 7);
                        [n as u8, (n >> 8) as u8, (n >> 16) as u8]
                    });
                    let mask = GrayImage::from_fn(w, h, |x, y| {
                        Luma([((hash(x, y, salt) % (2 + salt)) * 255 / (1 + salt)) as u8])
                    });
                    match inpaint(&image, &mask, &Quiet) {
                        Ok(out) => assert_known_unchanged(&image, &out, &mask),
                        Err(AiError::BadInput(_)) => {}
                        Err(e) => panic!("{w}x{h} salt {salt}: {e}"),
                    }
                }
            }
        }
    }

    #[test]
    fn cancellation_stops_the_fill() {
        struct Cancelled;
        impl Progress for Cancelled {
            fn report(&self, _: f32) {}
            fn cancelled(&self) -> bool {
                true
            }
        }
        /// Cancelled after a few steps: the loop itself must be checking.
        struct Later(AtomicUsize);
        impl Progress for Later {
            fn report(&self, _: f32) {}
            fn cancelled(&self) -> bool {
                self.0.fetch_add(1, Ordering::Relaxed) >= 3
            }
        }
        let image = picture(96, 96, stripes);
        let mask = rect_mask(96, 96, 30, 30, 30, 30);
        assert!(matches!(inpaint(&image, &mask, &Cancelled), Err(AiError::Cancelled)));
        assert!(matches!(inpaint(&image, &mask, &Later(AtomicUsize::new(0))), Err(AiError::Cancelled)));
    }

    #[test]
    fn progress_rises_to_one() {
        struct Log(Mutex<Vec<f32>>);
        impl Progress for Log {
            fn report(&self, f: f32) {
                self.0.lock().unwrap().push(f);
            }
            fn cancelled(&self) -> bool {
                false
            }
        }
        let log = Log(Mutex::new(Vec::new()));
        inpaint(&picture(96, 96, diagonal), &rect_mask(96, 96, 20, 50, 30, 20), &log).unwrap();
        let reports = log.0.into_inner().unwrap();
        assert!(reports.len() > 5, "{reports:?}");
        assert!(reports.windows(2).all(|w| w[0] <= w[1]), "{reports:?}");
        assert_eq!(reports.last(), Some(&1.0));
    }

    /// A texture that repeats every 16 px both ways and is random within that: a patch placed at
    /// random matches exactly only by a 1-in-256 chance.
    fn tiles(x: u32, y: u32) -> [u8; 3] {
        let v = hash(x % 16, y % 16, 5);
        [v as u8, (v >> 8) as u8, (v >> 16) as u8]
    }

    /// A 64x64 level of `tiles` with a 24x24 hole, whose estimate is the truth or the given value,
    /// and its field started at random.
    fn tiles_level(estimate: Option<[u8; 3]>) -> (Level, Field, Rng) {
        let (w, h) = (64, 64);
        let hole: Vec<bool> = (0..w * h).map(|i| (20..44).contains(&(i % w)) && (20..44).contains(&(i / w))).collect();
        let img = (0..w * h)
            .map(|i| match (hole[i], estimate) {
                (true, Some(v)) => v,
                _ => tiles((i % w) as u32, (i / w) as u32),
            })
            .collect();
        let level = Level { w, h, img, hole };
        let mut field = Field::new(&level).unwrap();
        let mut rng = Rng(11);
        for t in 0..field.targets.len() {
            field.nnf[t] = field.random_source(&mut rng);
        }
        field.measure(&level);
        (level, field, rng)
    }

    fn hole_error(level: &Level, truth: impl Fn(u32, u32) -> [u8; 3]) -> f64 {
        let (mut sum, mut n) = (0u64, 0u64);
        for (i, (p, &is_hole)) in level.img.iter().zip(&level.hole).enumerate() {
            if is_hole {
                let t = truth((i % level.w) as u32, (i / level.w) as u32);
                sum += p.iter().zip(&t).map(|(&a, &b)| a.abs_diff(b) as u64).sum::<u64>();
                n += 3;
            }
        }
        sum as f64 / n.max(1) as f64
    }

    #[test]
    fn the_starting_guess_grows_the_texture_inwards() {
        let (mut level, mut field, mut rng) = tiles_level(Some([128; 3]));
        let ticker = Ticker { progress: &Quiet, total: 1, done: AtomicUsize::new(0) };
        let before = hole_error(&level, tiles);
        onion_init(&mut level, &mut field, &mut rng, &ticker).unwrap();
        let after = hole_error(&level, tiles);
        assert!(after < before / 10.0, "error {after:.2}, was {before:.2}");
        field.measure(&level);
        let exact = field.dist.iter().filter(|&&d| d == 0).count();
        assert!(exact * 2 > field.dist.len(), "{exact} of {} patches start exact", field.dist.len());
    }

    #[test]
    fn patchmatch_finds_exact_matches() {
        let (level, mut field, mut rng) = tiles_level(None);
        let ticker = Ticker { progress: &Quiet, total: 1, done: AtomicUsize::new(0) };
        let exact = |f: &Field| f.dist.iter().filter(|&&d| d == 0).count() as f64 / f.dist.len() as f64;
        let at_random = exact(&field);
        for pass in 0..4 {
            patchmatch_pass(&level, &mut field, pass % 2 == 1, &mut rng, &ticker, BAND_TARGETS).unwrap();
        }
        assert!(exact(&field) > 0.9, "{:.2} of the patches matched exactly (at random: {at_random:.2})", exact(&field));
        let fresh = field.dist.clone();
        field.measure(&level);
        assert_eq!(fresh, field.dist, "the pass left stale distances");
        for (&t, &s) in field.targets.iter().zip(&field.nnf) {
            assert!(field.src_ok[s as usize], "target {t} copies from {s}, which overlaps the hole");
        }
    }

    #[test]
    fn voting_copies_what_the_field_points_at() {
        let (mut level, mut field, _) = tiles_level(Some([128; 3]));
        // Every target copies from a source a whole number of periods (16 px) away: the texture
        // there is the same.
        let w = level.w as isize;
        let shifts = [-32, -16, 0, 16, 32];
        for (t, &c) in field.targets.iter().enumerate() {
            let (x, y) = (c as isize % w, c as isize / w);
            let s = shifts
                .iter()
                .flat_map(|&dy| shifts.iter().map(move |&dx| (x + dx, y + dy)))
                .filter(|&(sx, sy)| (0..w).contains(&sx) && (0..w).contains(&sy))
                .map(|(sx, sy)| (sy * w + sx) as usize)
                .find(|&s| field.src_ok[s])
                .unwrap();
            field.nnf[t] = s as u32;
        }
        field.measure(&level);
        let truth = picture(64, 64, tiles);
        let w = w as usize;
        for mode in [Vote::Uniform, Vote::Weighted, Vote::Best] {
            for &i in &field.holes {
                level.img[i as usize] = [128; 3];
            }
            vote(&mut level, &field, mode);
            for (i, p) in level.img.iter().enumerate() {
                assert_eq!(p, &truth.get_pixel((i % w) as u32, (i / w) as u32).0, "pixel {i}");
            }
        }
    }

    #[test]
    fn a_large_pass_is_split_into_bands_and_stays_deterministic() {
        let search = || {
            let (level, mut field, mut rng) = tiles_level(Some([128; 3]));
            let band_targets = 200;
            assert!(field.targets.len() >= MAX_BANDS * band_targets);
            let before: u64 = field.dist.iter().map(|&d| d as u64).sum();
            let ticker = Ticker { progress: &Quiet, total: 1, done: AtomicUsize::new(0) };
            patchmatch_pass(&level, &mut field, false, &mut rng, &ticker, band_targets).unwrap();
            let after: u64 = field.dist.iter().map(|&d| d as u64).sum();
            assert!(after < before, "{after} vs {before}");
            field.measure(&level);
            assert_eq!(after, field.dist.iter().map(|&d| d as u64).sum::<u64>(), "stale distances");
            field.nnf
        };
        assert_eq!(search(), search());
    }
}
