//! Exemplar-based inpainting: the magic eraser used when no LaMa model is installed.
//!
//! Multi-scale PatchMatch with EM voting, after Wexler, Shechtman & Irani, "Space-Time Completion
//! of Video" (2007) and Barnes et al., "PatchMatch" (2009) — the method behind Photoshop's
//! Content-Aware Fill:
//!
//! 1. Work on a crop around the hole (its bounding box plus a margin as large as the hole), and
//!    build a pyramid of it by 2x2 box filtering; a coarse pixel is part of the hole when any of its
//!    fine pixels is, so known coarse pixels only ever average known photo pixels. The pyramid
//!    stops when the hole is at most a few pixels thick or the short side would drop under 32 px.
//! 2. At the coarsest level the hole is first filled from its boundary inwards ("onion peel"),
//!    and every 7x7 patch that overlaps the hole gets a random source patch: one lying wholly in
//!    the known part, one pixel clear of the hole.
//! 3. At each level, a few EM iterations: the E step improves the nearest-neighbour field by
//!    PatchMatch (propagation from the neighbours' matches, then random search in exponentially
//!    shrinking windows, alternating the scan direction); the M step sets each hole pixel to the
//!    vote of all the patches covering it, each weighted by how well it matches
//!    (`exp(-d / 2σ²)`, σ² the 75th percentile of the distances).
//! 4. The field is upsampled to the next finer level (offsets doubled) and voted to start that
//!    level. At the finest level the last vote takes, for each pixel, the best-matching patch
//!    covering it instead of an average, so the fill stays as sharp as the source.
//!
//! Known pixels are never changed; only the hole is written into the output.

use image::{GrayImage, RgbImage};

use crate::{AiError, Progress};

/// Patches are (2 × 3 + 1)² = 7x7 pixels (smaller only on images too small for that).
const PATCH_RADIUS: usize = 3;
/// The pyramid never goes under this short side...
const MIN_SIDE: usize = 32;
/// ...nor further once the hole is at most this many pixels from the known part everywhere.
const COARSE_THICKNESS: u32 = 3;
/// A coarser level needs at least this many source patches to be worth building.
const MIN_SOURCES: usize = 32;
const MAX_LEVELS: usize = 12;
/// The crop around the hole keeps at least this margin (in pixels, where the photo has it)...
const MIN_CONTEXT: usize = 64;
/// ...and the known part must be at least this share of the photo (per mille).
const MIN_KNOWN_PER_MILLE: u64 = 10;
/// PatchMatch passes per EM iteration (alternating scan direction).
const PASSES_PER_EM: usize = 2;
/// An EM iteration that changes the hole by less than this (mean absolute change per channel,
/// 0..255) ends its level.
const CONVERGED: f64 = 0.5;
/// Progress is reported (and cancellation checked) at least every this many patch updates.
const TICK: usize = 4096;
/// Marks "no target patch / no hole pixel here" in the index maps.
const NONE: u32 = u32::MAX;

/// Fills the pixels where `mask` > 127 from the rest of `image`. `mask` has the image's size.
pub fn inpaint(image: &RgbImage, mask: &GrayImage, progress: &dyn Progress) -> Result<RgbImage, AiError> {
    let (w32, h32) = image.dimensions();
    let (mw, mh) = mask.dimensions();
    if (mw, mh) != (w32, h32) {
        return Err(AiError::BadInput(format!(
            "the mask must have the photo's size ({w32}x{h32}); it is {mw}x{mh}"
        )));
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
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
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

    // Crop to the hole and its surroundings: local context is both the better source and bounds
    // the work on large photos.
    let margin = MIN_CONTEXT.max(x1 - x0 + 1).max(y1 - y0 + 1);
    let (cx0, cy0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (cx1, cy1) = (x1.saturating_add(1 + margin).min(w), y1.saturating_add(1 + margin).min(h));
    let (cw, ch) = (cx1 - cx0, cy1 - cy0);
    if cw.checked_mul(ch).map_or(true, |a| a >= NONE as usize) {
        return Err(too_large());
    }
    let mut img = Vec::with_capacity(cw * ch);
    let mut hole = Vec::with_capacity(cw * ch);
    for y in cy0..cy1 {
        for x in cx0..cx1 {
            let i = y * w + x;
            img.push([pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]]);
            hole.push(mask_px[i] > 127);
        }
    }
    let filled = fill(Level { w: cw, h: ch, img, hole }, progress)?;

    let mut out = image.clone();
    for (k, (&p, &is_hole)) in filled.img.iter().zip(&filled.hole).enumerate() {
        if is_hole {
            let (x, y) = (cx0 + k % cw, cy0 + k / cw);
            out.put_pixel(x as u32, y as u32, image::Rgb(p));
        }
    }
    progress.report(1.0);
    Ok(out)
}

/// One pyramid level: the current estimate (exact outside the hole) and where the hole is.
struct Level {
    w: usize,
    h: usize,
    img: Vec<[u8; 3]>,
    hole: Vec<bool>,
}

impl Level {
    /// Half the size, by 2x2 box filtering; a pixel with any hole pixel under it is hole.
    fn downsample(&self) -> Level {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut img = vec![[0u8; 3]; w * h];
        let mut hole = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut k, mut any_hole) = ([0u32; 3], 0u32, false);
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
    /// unreachable), and the hole pixels in the order of that distance.
    fn peel(&self) -> (Vec<u32>, Vec<usize>) {
        let (w, h) = (self.w, self.h);
        let mut dist = vec![u32::MAX; w * h];
        let mut queue = Vec::new();
        for (i, &is_hole) in self.hole.iter().enumerate() {
            if !is_hole {
                dist[i] = 0;
                queue.push(i);
            }
        }
        let seeds = queue.len();
        let mut head = 0;
        while let Some(&i) = queue.get(head) {
            head += 1;
            let (x, y, d) = (i % w, i / w, dist[i] + 1);
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if dist[j] == u32::MAX {
                        dist[j] = d;
                        queue.push(j);
                    }
                }
            }
        }
        queue.drain(..seeds);
        (dist, queue)
    }

    /// How far the farthest hole pixel is from the known part.
    fn thickness(&self) -> u32 {
        let (dist, order) = self.peel();
        order.last().map_or(0, |&i| dist[i])
    }

    /// Fills the hole from its boundary inwards, each pixel the mean of its already-filled
    /// neighbours: the starting guess at the coarsest level.
    fn onion_fill(&mut self) {
        let (w, h) = (self.w, self.h);
        let (dist, order) = self.peel();
        for &i in &order {
            let (x, y, d) = (i % w, i / w, dist[i]);
            let (mut sum, mut k) = ([0u32; 3], 0u32);
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if dist[j] < d {
                        for (s, &v) in sum.iter_mut().zip(&self.img[j]) {
                            *s += v as u32;
                        }
                        k += 1;
                    }
                }
            }
            if k > 0 {
                self.img[i] = sum.map(|s| ((s + k / 2) / k) as u8);
            }
        }
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
        let n = targets.len();
        Some(Field { r, targets, tindex, src_ok, sources, holes, hindex, nnf: vec![0; n], dist: vec![u32::MAX; n] })
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
}

/// Sum of squared RGB differences between the patches centred at `a` and `b` (both wholly inside
/// the image); stops early once it reaches `limit`.
fn ssd(img: &[[u8; 3]], w: usize, r: usize, a: usize, b: usize, limit: u32) -> u32 {
    let side = 2 * r + 1;
    let (a0, b0) = (a - r * w - r, b - r * w - r);
    let mut sum = 0u32;
    for row in 0..side {
        let (Some(pa), Some(pb)) = (img.get(a0 + row * w..a0 + row * w + side), img.get(b0 + row * w..b0 + row * w + side))
        else {
            return u32::MAX;
        };
        for (p, q) in pa.iter().zip(pb) {
            let d0 = p[0] as i32 - q[0] as i32;
            let d1 = p[1] as i32 - q[1] as i32;
            let d2 = p[2] as i32 - q[2] as i32;
            sum += (d0 * d0 + d1 * d1 + d2 * d2) as u32;
        }
        if sum >= limit {
            return sum;
        }
    }
    sum
}

/// One PatchMatch pass over the targets: propagation from the two neighbours already visited,
/// then random search around the best match in windows halving from the whole level down to 1.
fn patchmatch_pass(level: &Level, f: &mut Field, reverse: bool, rng: &mut Rng, ticker: &mut Ticker) -> Result<(), AiError> {
    let (w, h, r) = (level.w, level.h, f.r);
    let (lo, hix, hiy) = (r as isize, (w - 1 - r) as isize, (h - 1 - r) as isize);
    let step: isize = if reverse { 1 } else { -1 };
    let n = f.targets.len();
    let mut since = 0;
    for k in 0..n {
        let t = if reverse { n - 1 - k } else { k };
        let c = f.targets[t] as usize;
        let (cx, cy) = ((c % w) as isize, (c / w) as isize);
        let (mut best, mut bd) = (f.nnf[t] as usize, f.dist[t]);
        for (nx, ny) in [(cx + step, cy), (cx, cy + step)] {
            if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                continue;
            }
            let Some(&ns) = f.nnf.get(f.tindex[ny as usize * w + nx as usize] as usize) else { continue };
            let sx = (ns as usize % w) as isize - (nx - cx);
            let sy = (ns as usize / w) as isize - (ny - cy);
            if sx < lo || sy < lo || sx > hix || sy > hiy {
                continue;
            }
            let s = sy as usize * w + sx as usize;
            if s != best && f.src_ok[s] {
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
            if s != best && f.src_ok[s] {
                let d = ssd(&level.img, w, r, c, s, bd);
                if d < bd {
                    (best, bd) = (s, d);
                }
            }
            radius /= 2;
        }
        f.nnf[t] = best as u32;
        f.dist[t] = bd;
        since += 1;
        if since == TICK {
            ticker.add(since)?;
            since = 0;
        }
    }
    ticker.add(since)
}

#[derive(Clone, Copy, PartialEq)]
enum Vote {
    /// Every covering patch counts the same (right after upsampling, before distances exist).
    Uniform,
    /// Patches count by how well they match: `exp(-d / 2σ²)`.
    Weighted,
    /// Each pixel takes the best-matching covering patch's value (the sharp final reconstruction).
    Best,
}

/// Re-estimates the hole pixels from the patches covering them; returns the mean absolute change
/// per channel.
fn vote(level: &mut Level, f: &Field, mode: Vote) -> f64 {
    let (w, r) = (level.w, f.r);
    let side = 2 * r + 1;
    let mut acc = vec![[0f32; 4]; f.holes.len()];
    let mut best = vec![(u32::MAX, [0u8; 3]); if mode == Vote::Best { f.holes.len() } else { 0 }];
    let sigma2 = if mode == Vote::Weighted && !f.dist.is_empty() {
        let mut d = f.dist.clone();
        let k = (d.len() * 3 / 4).min(d.len() - 1);
        *d.select_nth_unstable(k).1 as f32 + 1.0
    } else {
        1.0
    };
    for ((&c, &s), &d) in f.targets.iter().zip(&f.nnf).zip(&f.dist) {
        let weight = match mode {
            Vote::Weighted => (-(d as f32) / (2.0 * sigma2)).exp().max(1e-30),
            _ => 1.0,
        };
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
                    if d < b.0 {
                        *b = (d, v);
                    }
                } else {
                    let a = &mut acc[hi as usize];
                    a[0] += weight * v[0] as f32;
                    a[1] += weight * v[1] as f32;
                    a[2] += weight * v[2] as f32;
                    a[3] += weight;
                }
            }
        }
    }
    let mut change = 0u64;
    for (k, &i) in f.holes.iter().enumerate() {
        let new = if mode == Vote::Best {
            match best[k] {
                (u32::MAX, _) => continue,
                (_, v) => v,
            }
        } else {
            let a = acc[k];
            if a[3] <= 0.0 {
                continue;
            }
            [a[0], a[1], a[2]].map(|v| (v / a[3]).round().clamp(0.0, 255.0) as u8)
        };
        let old = &mut level.img[i as usize];
        change += old.iter().zip(&new).map(|(&a, &b)| a.abs_diff(b) as u64).sum::<u64>();
        *old = new;
    }
    change as f64 / (3 * f.holes.len().max(1)) as f64
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

    // EM iterations per level: more at the cheap coarse levels, fewer (and fewer still for huge
    // holes) at the fine ones.
    let iterations = |depth: usize, targets: usize| {
        let n = (3 + depth).min(8);
        if targets > 1_000_000 {
            n.min(1)
        } else if targets > 250_000 {
            n.min(2)
        } else {
            n
        }
    };
    let total = fields.iter().enumerate().map(|(depth, f)| f.targets.len() * iterations(depth, f.targets.len()) * PASSES_PER_EM).sum();
    let mut ticker = Ticker { progress, total, done: 0 };
    let mut rng = Rng((0x9E37_79B9_7F4A_7C15 ^ (levels[0].w as u64) << 32 ^ levels[0].h as u64).max(1));

    let depth_max = levels.len() - 1;
    for depth in (0..=depth_max).rev() {
        let (finer, coarser) = levels.split_at_mut(depth + 1);
        let level = &mut finer[depth];
        let (ffiner, fcoarser) = fields.split_at_mut(depth + 1);
        let field = &mut ffiner[depth];
        match (coarser.first(), fcoarser.first()) {
            (Some(coarse), Some(coarse_field)) => {
                field.upsample_from(level, coarse_field, coarse.w, coarse.h, &mut rng);
                vote(level, field, Vote::Uniform);
            }
            _ => {
                level.onion_fill();
                for t in 0..field.nnf.len() {
                    field.nnf[t] = field.random_source(&mut rng);
                }
            }
        }
        let n_em = iterations(depth, field.targets.len());
        let mut sharp = false;
        for it in 0..n_em {
            field.measure(level);
            for pass in 0..PASSES_PER_EM {
                patchmatch_pass(level, field, (it * PASSES_PER_EM + pass) % 2 == 1, &mut rng, &mut ticker)?;
            }
            let last = it + 1 == n_em;
            let mode = if depth == 0 && last { Vote::Best } else { Vote::Weighted };
            sharp = mode == Vote::Best;
            if vote(level, field, mode) < CONVERGED && it > 0 {
                break;
            }
        }
        if depth == 0 && !sharp {
            vote(level, field, Vote::Best);
        }
    }
    levels.truncate(1);
    levels.pop().ok_or_else(no_source)
}

/// Reports progress in units of patch updates, and stops when cancelled.
struct Ticker<'a> {
    progress: &'a dyn Progress,
    total: usize,
    done: usize,
}

impl Ticker<'_> {
    fn add(&mut self, units: usize) -> Result<(), AiError> {
        self.done += units;
        self.progress.step((self.done as f64 / self.total.max(1) as f64).min(0.99) as f32)
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
        self.below(2 * radius as usize + 1) as isize - radius
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
        if (x / 4 + y / 4) % 2 == 0 { [230, 220, 40] } else { [20, 30, 120] }
    }

    fn diagonal(x: u32, y: u32) -> [u8; 3] {
        if ((x + y) / 4) % 2 == 0 { [240, 240, 240] } else { [60, 20, 20] }
    }

    fn picture(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb(f(x, y)))
    }

    fn rect_mask(w: u32, h: u32, x0: u32, y0: u32, rw: u32, rh: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| Luma([if (x0..x0 + rw).contains(&x) && (y0..y0 + rh).contains(&y) { 255 } else { 0 }]))
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
            x >= 0 && y >= 0 && x < mask.width() as i64 && y < mask.height() as i64 && mask.get_pixel(x as u32, y as u32)[0] <= 127
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
        let textures: [(&str, fn(u32, u32) -> [u8; 3]); 3] =
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
            let hole = dx * dx + dy * dy < 100 || (x as i32 - y as i32).abs() <= 1 || hash(x, y, 2) % 97 == 0;
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
        assert!(matches!(inpaint(&image, &GrayImage::new(12, 16), &Quiet), Err(AiError::BadInput(m)) if m.contains("size")));
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
                    let mask = GrayImage::from_fn(w, h, |x, y| Luma([(hash(x, y, salt) % (2 + salt)) as u8 * 255 / (1 + salt) as u8]));
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

    /// `cargo test -p ai --release --lib -- --ignored --nocapture timing`
    #[test]
    #[ignore]
    fn timing_on_a_large_photo() {
        let image = picture(2000, 1500, |x, y| {
            let n = hash(x, y, 3) & 31;
            let base = stripes(x / 3, y);
            base.map(|c| c.saturating_add(n as u8)).map(|c| c.wrapping_add((y / 10) as u8 & 15))
        });
        let mask = rect_mask(2000, 1500, 900, 650, 200, 200);
        let start = std::time::Instant::now();
        let out = inpaint(&image, &mask, &Quiet).unwrap();
        eprintln!("2000x1500, 200x200 hole: {:?}", start.elapsed());
        assert_known_unchanged(&image, &out, &mask);
    }
}
