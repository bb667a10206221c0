//! Product scenes ("AI product photography"): a cut-out product (its alpha is the background
//! removal's mask) placed on a backdrop — a colour, a gradient, a studio sweep, a surface texture
//! or another photo — scaled and placed automatically, with a soft contact shadow, an optional
//! shadow cast from its own silhouette, an optional mirror reflection, and its white balance and
//! exposure brought toward the backdrop's. Pure pixels: the mask comes from `background::mask`.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};

use crate::AiError;

/// What the product stands on.
pub enum Backdrop {
    Colour([u8; 3]),
    /// Top to bottom.
    Gradient {
        top: [u8; 3],
        bottom: [u8; 3],
    },
    /// A photographer's sweep: the wall fades softly into the floor around a horizon.
    Studio {
        wall: [u8; 3],
        floor: [u8; 3],
    },
    /// A surface filling the frame (see `texture`).
    Surface(Texture),
    /// Another photo, scaled to cover the frame.
    Photo(RgbImage),
}

/// Surfaces drawn by `texture`: made by this code (seeded noise), so no image file is bundled
/// and nothing has another licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Texture {
    Wood,
    Marble,
    Linen,
    Concrete,
}

/// Where the product goes in the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// In the middle of the frame.
    Centre,
    /// Standing on the floor line (`margin` above the bottom edge), centred across.
    Floor,
}

/// A shadow thrown on the floor by a light behind-left or behind-right of the camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CastShadow {
    /// Away from the light, in degrees from straight back: negative leans left, positive right.
    pub angle: f32,
    /// Its length as a share of the product's height (0.1–1.5).
    pub length: f32,
    /// Blur radius as a share of the product's height (0–0.2).
    pub softness: f32,
    /// 0–1.
    pub opacity: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    /// The empty border on each side, as a share of the frame (0–0.4).
    pub margin: f32,
    pub placement: Placement,
    /// Opacity of the soft shadow where the product meets the floor (0 = none).
    pub contact_shadow: f32,
    pub cast_shadow: Option<CastShadow>,
    /// Opacity of the mirror image below the product (0 = none).
    pub reflection: f32,
    /// How far the product's white balance and exposure move toward the backdrop's (0–1).
    pub match_light: f32,
}

/// The most pixels a scene may have, whatever the options say.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Places `product` (RGBA: its alpha is the mask) on `backdrop` as `options` say.
pub fn compose(product: &RgbaImage, backdrop: &Backdrop, options: &Options) -> Result<RgbImage, AiError> {
    let (width, height) = (options.width, options.height);
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(AiError::BadInput(format!(
            "A scene is 1 to {} megapixels; {width}×{height} is not.",
            MAX_PIXELS / 1_000_000
        )));
    }
    let (left, top, right, bottom) = bounds(product)
        .ok_or_else(|| AiError::BadInput("No product was found in this photo to place in a scene.".into()))?;
    let cut = imageops::crop_imm(product, left, top, right - left, bottom - top).to_image();

    // Scaled to fill the frame inside its margins; a reflection needs room below.
    let margin = options.margin.clamp(0.0, 0.4);
    let room_below = if options.reflection > 0.0 { 0.8 } else { 1.0 };
    let avail_w = (width as f32 * (1.0 - 2.0 * margin)).max(1.0);
    let avail_h = (height as f32 * (1.0 - 2.0 * margin) * room_below).max(1.0);
    let scale = (avail_w / cut.width() as f32).min(avail_h / cut.height() as f32);
    let fitted_w = ((cut.width() as f32 * scale).round() as u32).clamp(1, width);
    let fitted_h = ((cut.height() as f32 * scale).round() as u32).clamp(1, height);
    // At its own size the product's pixels are kept exactly.
    let mut fitted = if (fitted_w, fitted_h) == cut.dimensions() {
        cut
    } else {
        imageops::resize(&cut, fitted_w, fitted_h, FilterType::Lanczos3)
    };

    let x = i64::from((width - fitted_w) / 2);
    let y = match options.placement {
        Placement::Centre => i64::from((height - fitted_h) / 2),
        Placement::Floor => {
            let floor = (height as f32 * (1.0 - margin)).round() as i64;
            (floor - i64::from(fitted_h)).max(0)
        }
    };
    let base = y + i64::from(fitted_h);

    let mut canvas = render_backdrop(backdrop, width, height);
    if options.match_light > 0.0 {
        match_light(&mut fitted, &canvas, options.match_light.min(1.0));
    }
    if let Some(cast) = options.cast_shadow {
        cast_shadow(&mut canvas, &fitted, x, base, &cast);
    }
    if options.contact_shadow > 0.0 {
        contact_shadow(&mut canvas, &fitted, x, base, options.contact_shadow.min(1.0));
    }
    if options.reflection > 0.0 {
        reflect(&mut canvas, &fitted, x, base, options.reflection.min(1.0));
    }
    over(&mut canvas, &fitted, x, y, 1.0);
    Ok(canvas)
}

/// The box (left, top, right, bottom; exclusive) of pixels that are product (alpha ≥ 8).
pub fn bounds(image: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
    let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, pixel) in image.enumerate_pixels() {
        if pixel[3] >= 8 {
            (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x + 1), bottom.max(y + 1));
        }
    }
    (right > left && bottom > top).then_some((left, top, right, bottom))
}

/// The backdrop drawn at `width`×`height`.
pub fn render_backdrop(backdrop: &Backdrop, width: u32, height: u32) -> RgbImage {
    let mix = |a: [u8; 3], b: [u8; 3], t: f32| Rgb(std::array::from_fn(|c| lerp(a[c], b[c], t)));
    match backdrop {
        Backdrop::Colour(colour) => RgbImage::from_pixel(width, height, Rgb(*colour)),
        Backdrop::Gradient { top, bottom } => {
            RgbImage::from_fn(width, height, |_, y| mix(*top, *bottom, y as f32 / height.max(2) as f32))
        }
        Backdrop::Studio { wall, floor } => {
            // The wall meets the floor at 60% of the height; the bend is soft (smoothstep) and
            // the floor brightens toward the camera, as a lit sweep does.
            let horizon = 0.6;
            RgbImage::from_fn(width, height, |_, y| {
                let v = y as f32 / height.max(2) as f32;
                let t = smoothstep(horizon - 0.12, horizon + 0.12, v);
                let lit = mix(*wall, *floor, t);
                let toward = ((v - horizon) / (1.0 - horizon)).clamp(0.0, 1.0) * 0.06;
                Rgb(lit.0.map(|c| lerp(c, 255, toward)))
            })
        }
        Backdrop::Surface(kind) => texture(*kind, width, height),
        Backdrop::Photo(photo) => crate::background::cover(photo, width, height),
    }
}

fn lerp(a: u8, b: u8, t: f32) -> u8 {
    (f32::from(a) + (f32::from(b) - f32::from(a)) * t.clamp(0.0, 1.0)).round() as u8
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `layer` over `canvas` at (`x`, `y`), its alpha scaled by `opacity`.
fn over(canvas: &mut RgbImage, layer: &RgbaImage, x: i64, y: i64, opacity: f32) {
    for (lx, ly, pixel) in layer.enumerate_pixels() {
        let (cx, cy) = (x + i64::from(lx), y + i64::from(ly));
        let (Ok(cx), Ok(cy)) = (u32::try_from(cx), u32::try_from(cy)) else { continue };
        if cx >= canvas.width() || cy >= canvas.height() || pixel[3] == 0 {
            continue;
        }
        let target = canvas.get_pixel_mut(cx, cy);
        if pixel[3] == 255 && opacity >= 1.0 {
            *target = Rgb([pixel[0], pixel[1], pixel[2]]);
            continue;
        }
        let a = f32::from(pixel[3]) / 255.0 * opacity;
        *target =
            Rgb(std::array::from_fn(|c| (f32::from(pixel[c]) * a + f32::from(target[c]) * (1.0 - a)).round() as u8));
    }
}

/// Darkens `canvas` by `shade` (0–1 per pixel) placed at (`x`, `y`).
fn darken(canvas: &mut RgbImage, shade: &GrayImage, x: i64, y: i64, opacity: f32) {
    for (sx, sy, value) in shade.enumerate_pixels() {
        let (Ok(cx), Ok(cy)) = (u32::try_from(x + i64::from(sx)), u32::try_from(y + i64::from(sy))) else { continue };
        if cx >= canvas.width() || cy >= canvas.height() || value[0] == 0 {
            continue;
        }
        let keep = 1.0 - f32::from(value[0]) / 255.0 * opacity;
        let pixel = canvas.get_pixel_mut(cx, cy);
        *pixel = Rgb(pixel.0.map(|c| (f32::from(c) * keep).round() as u8));
    }
}

/// A soft ellipse under the product's foot, as wide as the product where it meets the floor.
fn contact_shadow(canvas: &mut RgbImage, product: &RgbaImage, x: i64, base: i64, opacity: f32) {
    let (w, h) = product.dimensions();
    // The foot: the columns the lowest tenth of the product covers.
    let foot_from = h.saturating_sub((h / 10).max(1));
    let (mut left, mut right) = (w, 0);
    for (px, py, pixel) in product.enumerate_pixels() {
        if py >= foot_from && pixel[3] >= 128 {
            (left, right) = (left.min(px), right.max(px + 1));
        }
    }
    if right <= left {
        (left, right) = (0, w);
    }
    let foot = (right - left) as f32 * 1.1;
    let radius_y = (h as f32 * 0.035).max(2.0);
    let blur = (radius_y * 0.8).max(1.0);
    let pad = (blur * 3.0).ceil() as u32;
    let (sw, sh) = ((foot as u32).max(2) + 2 * pad, (radius_y * 2.0) as u32 + 2 * pad);
    let centre = (sw as f32 / 2.0, sh as f32 / 2.0);
    let mut shade = GrayImage::from_fn(sw, sh, |sx, sy| {
        let dx = (sx as f32 - centre.0) / (foot / 2.0);
        let dy = (sy as f32 - centre.1) / radius_y;
        Luma([if dx * dx + dy * dy <= 1.0 { 255 } else { 0 }])
    });
    shade = imageops::blur(&shade, blur);
    let foot_centre = x as f32 + (left + right) as f32 / 2.0;
    darken(canvas, &shade, (foot_centre - centre.0).round() as i64, base - i64::from(sh / 2), opacity);
}

/// The product's silhouette laid on the floor away from the light: flattened to `length` of its
/// height, leaning by `angle`, blurred and fading with distance.
fn cast_shadow(canvas: &mut RgbImage, product: &RgbaImage, x: i64, base: i64, cast: &CastShadow) {
    let (w, h) = product.dimensions();
    let length = cast.length.clamp(0.1, 1.5);
    let lean = cast.angle.clamp(-80.0, 80.0).to_radians().tan();
    // Nothing beyond the canvas is drawn, so neither is it allocated.
    let shadow_h = ((h as f32 * length).round() as u32).clamp(1, canvas.height());
    let reach = ((shadow_h as f32 * lean.abs()).ceil() as u32).min(canvas.width());
    let blur = (h as f32 * cast.softness.clamp(0.0, 0.2)).max(0.5);
    let pad = (blur * 3.0).ceil() as u32;
    let (sw, sh) = (w + reach + 2 * pad, shadow_h + 2 * pad);
    // Shadow pixel (sx, sy) lies `d` rows above the base: it shows the silhouette's row h - d/length,
    // moved sideways by d × lean.
    let offset = if lean < 0.0 { reach as f32 } else { 0.0 };
    let mut shade = GrayImage::new(sw, sh);
    for sy in 0..shadow_h {
        let d = (shadow_h - sy) as f32;
        let row = h as f32 - d / length;
        if row < 0.0 {
            continue;
        }
        let fade = 1.0 - 0.7 * d / shadow_h as f32;
        for sx in 0..(w + reach) {
            let column = sx as f32 - offset - d * lean;
            if column < 0.0 || column >= w as f32 {
                continue;
            }
            let alpha = product.get_pixel(column as u32, (row as u32).min(h - 1))[3];
            let value = (f32::from(alpha) * fade).round() as u8;
            shade.put_pixel(sx + pad, sy + pad, Luma([value]));
        }
    }
    let shade = imageops::blur(&shade, blur);
    let left = x - offset as i64 - i64::from(pad);
    darken(canvas, &shade, left, base - i64::from(shadow_h) - i64::from(pad), cast.opacity.clamp(0.0, 1.0));
}

/// The product mirrored below its base, fading out over a third of its height.
fn reflect(canvas: &mut RgbImage, product: &RgbaImage, x: i64, base: i64, opacity: f32) {
    let (w, h) = product.dimensions();
    let depth = (h / 3).max(1);
    let mut mirror = RgbaImage::new(w, depth);
    for my in 0..depth {
        let fade = (1.0 - my as f32 / depth as f32).powi(2);
        for mx in 0..w {
            let pixel = product.get_pixel(mx, h - 1 - my);
            let alpha = (f32::from(pixel[3]) * fade).round() as u8;
            mirror.put_pixel(mx, my, image::Rgba([pixel[0], pixel[1], pixel[2], alpha]));
        }
    }
    over(canvas, &mirror, x, base, opacity);
}

/// Moves the product's mean colour toward the backdrop's white balance and exposure, by
/// `strength`; gains are bounded so a coloured backdrop tints, never repaints.
fn match_light(product: &mut RgbaImage, backdrop: &RgbImage, strength: f32) {
    let mean = |pixels: &mut dyn Iterator<Item = [f32; 3]>| {
        let (mut sum, mut count) = ([0f64; 3], 0u64);
        for p in pixels {
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
            count += 1;
        }
        (count > 0).then(|| sum.map(|s| (s / count as f64) as f32))
    };
    let Some(fg) = mean(&mut product.pixels().filter(|p| p[3] >= 128).map(|p| [p[0], p[1], p[2]].map(f32::from)))
    else {
        return;
    };
    let Some(bg) = mean(&mut backdrop.pixels().step_by(7).map(|p| p.0.map(f32::from))) else { return };
    let luma = |c: [f32; 3]| (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]).max(1.0);
    let (fl, bl) = (luma(fg), luma(bg));
    let exposure = (bl / fl).powf(0.25 * strength).clamp(0.85, 1.15);
    let gains: [f32; 3] = std::array::from_fn(|c| {
        let balance = (bg[c] / bl) / (fg[c].max(1.0) / fl);
        (1.0 + strength * 0.5 * (balance - 1.0)).clamp(0.9, 1.1) * exposure
    });
    for pixel in product.pixels_mut() {
        for c in 0..3 {
            pixel[c] = (f32::from(pixel[c]) * gains[c]).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// A surface drawn from seeded value noise: the same texture every time, at any size.
pub fn texture(kind: Texture, width: u32, height: u32) -> RgbImage {
    let scale = width.max(height).max(1) as f32 / 1024.0;
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / scale, y as f32 / scale);
        match kind {
            Texture::Wood => {
                // Growth rings along the board, bent by noise, with fine grain across them.
                let bend = fbm(u * 0.004, v * 0.02, 3, 11) * 6.0;
                let ring = ((v * 0.06 + bend).sin() * 0.5 + 0.5).powf(0.6);
                let grain = fbm(u * 0.3, v * 0.02, 2, 12) * 0.25;
                let t = (ring * 0.75 + grain).clamp(0.0, 1.0);
                shade([92, 58, 34], [168, 120, 76], t)
            }
            Texture::Marble => {
                let turbulence = fbm(u * 0.006, v * 0.006, 5, 21) * 7.0;
                let vein = ((u * 0.01 + v * 0.004 + turbulence).sin()).abs().powf(0.25);
                let cloud = fbm(u * 0.02, v * 0.02, 3, 22) * 0.08;
                shade([120, 122, 128], [243, 242, 238], (vein + cloud).clamp(0.0, 1.0))
            }
            Texture::Linen => {
                // A plain weave: threads across and down, each a little uneven.
                let across = ((v * 1.6).sin() * 0.5 + 0.5) * (0.8 + 0.2 * fbm(u * 0.05, v * 0.8, 2, 31));
                let down = ((u * 1.6).sin() * 0.5 + 0.5) * (0.8 + 0.2 * fbm(u * 0.8, v * 0.05, 2, 32));
                let slub = fbm(u * 0.01, v * 0.01, 2, 33) * 0.15;
                shade([196, 184, 160], [236, 228, 210], (0.35 * across + 0.35 * down + 0.3 - slub).clamp(0.0, 1.0))
            }
            Texture::Concrete => {
                let base = fbm(u * 0.015, v * 0.015, 5, 41);
                let speck = if hash(x, y, 42) > 0.985 { -0.25 } else { 0.0 };
                shade([128, 128, 126], [188, 187, 183], (base + speck).clamp(0.0, 1.0))
            }
        }
    })
}

fn shade(dark: [u8; 3], light: [u8; 3], t: f32) -> Rgb<u8> {
    Rgb(std::array::from_fn(|c| lerp(dark[c], light[c], t)))
}

/// A repeatable pseudo-random number in 0..1 for a lattice point.
fn hash(x: u32, y: u32, seed: u32) -> f32 {
    let mut h = x.wrapping_mul(0x8da6_b343) ^ y.wrapping_mul(0xd816_3841) ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5bd1_e995);
    h ^= h >> 15;
    (h & 0x00ff_ffff) as f32 / 16_777_216.0
}

/// Smoothly interpolated lattice noise in 0..1.
fn noise(u: f32, v: f32, seed: u32) -> f32 {
    let (x0, y0) = (u.floor(), v.floor());
    let (fx, fy) = (u - x0, v - y0);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (xi, yi) = (x0 as i64 as u32, y0 as i64 as u32);
    let at = |dx: u32, dy: u32| hash(xi.wrapping_add(dx), yi.wrapping_add(dy), seed);
    let top = at(0, 0) + (at(1, 0) - at(0, 0)) * sx;
    let bottom = at(0, 1) + (at(1, 1) - at(0, 1)) * sx;
    top + (bottom - top) * sy
}

/// Fractal noise: `octaves` of `noise`, each twice as fine and half as strong, in 0..1.
fn fbm(u: f32, v: f32, octaves: u32, seed: u32) -> f32 {
    let (mut sum, mut amplitude, mut frequency, mut total) = (0.0, 1.0, 1.0, 0.0);
    for octave in 0..octaves {
        sum += noise(u * frequency, v * frequency, seed.wrapping_add(octave)) * amplitude;
        total += amplitude;
        amplitude *= 0.5;
        frequency *= 2.0;
    }
    sum / total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 100×100 red square product in a 300×200 photo, alpha as its mask.
    fn product() -> RgbaImage {
        RgbaImage::from_fn(300, 200, |x, y| {
            if (100..200).contains(&x) && (50..150).contains(&y) {
                // Varied pixels, so a resample or a tint would show.
                image::Rgba([180 + (x % 7) as u8, 20 + (y % 11) as u8, 30, 255])
            } else {
                image::Rgba([0, 255, 0, 0])
            }
        })
    }

    fn options() -> Options {
        // 200×200 with a quarter margin leaves 100×100: the product at its own size.
        Options {
            width: 200,
            height: 200,
            margin: 0.25,
            placement: Placement::Floor,
            contact_shadow: 0.0,
            cast_shadow: None,
            reflection: 0.0,
            match_light: 0.0,
        }
    }

    #[test]
    fn the_product_keeps_its_pixels_and_the_backdrop_its_colour() {
        let white = Backdrop::Colour([255, 255, 255]);
        let scene = compose(&product(), &white, &options()).unwrap();
        assert_eq!(scene.dimensions(), (200, 200));
        let source = product();
        // On the floor line (margin 50 from the bottom), centred across.
        for y in 50..150 {
            for x in 50..150 {
                let p = source.get_pixel(x + 50, y);
                assert_eq!(scene.get_pixel(x, y).0, [p[0], p[1], p[2]], "({x}, {y}) is the product's own pixel");
            }
        }
        for (x, y, pixel) in scene.enumerate_pixels() {
            if !(50..150).contains(&x) || !(50..150).contains(&y) {
                assert_eq!(pixel.0, [255, 255, 255], "({x}, {y}) is the backdrop's exact colour");
            }
        }
    }

    #[test]
    fn the_contact_shadow_lies_under_the_product_and_nowhere_else() {
        let white = Backdrop::Colour([255, 255, 255]);
        let scene = compose(&product(), &white, &Options { contact_shadow: 0.6, ..options() }).unwrap();
        // Just below the base (row 150) in the middle: darker than white.
        let under = scene.get_pixel(100, 152).0[0];
        assert!(under < 230, "under the product: {under}");
        // Above the product and far to the sides: untouched.
        assert_eq!(scene.get_pixel(100, 20).0, [255, 255, 255]);
        assert_eq!(scene.get_pixel(5, 152).0, [255, 255, 255]);
        assert_eq!(scene.get_pixel(195, 152).0, [255, 255, 255]);
        // The product itself is unchanged by its shadow.
        assert_eq!(scene.get_pixel(100, 100).0, compose(&product(), &white, &options()).unwrap().get_pixel(100, 100).0);
    }

    #[test]
    fn a_cast_shadow_leans_away_from_the_light_and_a_reflection_mirrors_below() {
        let white = Backdrop::Colour([255, 255, 255]);
        let cast = CastShadow { angle: 45.0, length: 0.5, softness: 0.02, opacity: 0.5 };
        let large = Options { width: 400, height: 400, margin: 0.3, ..options() };
        let scene = compose(&product(), &white, &Options { cast_shadow: Some(cast), ..large }).unwrap();
        // The product fills 160×160 at (120, 120); its shadow leans right, on the floor behind it.
        let right_of_product = scene.get_pixel(300, 250).0[0];
        let left_of_product = scene.get_pixel(100, 250).0[0];
        assert!(right_of_product < 240 && left_of_product == 255, "{right_of_product} {left_of_product}");

        let mirrored = compose(&product(), &white, &Options { reflection: 0.5, ..large }).unwrap();
        let below = mirrored.get_pixel(200, 285);
        assert!(below[0] > below[1] && below[1] < 240, "a faded red below the base: {below:?}");
    }

    #[test]
    fn light_matching_tints_toward_the_backdrop_within_bounds() {
        let warm = Backdrop::Colour([255, 200, 150]);
        let plain = compose(&product(), &warm, &options()).unwrap();
        let matched = compose(&product(), &warm, &Options { match_light: 1.0, ..options() }).unwrap();
        let (a, b) = (plain.get_pixel(100, 100), matched.get_pixel(100, 100));
        assert!(b[2] < a[2] || b[0] > a[0] || b[1] != a[1], "moved: {a:?} → {b:?}");
        for c in 0..3 {
            assert!((f32::from(b[c]) / f32::from(a[c]).max(1.0) - 1.0).abs() < 0.3);
        }
    }

    #[test]
    fn backdrops_and_textures_fill_the_frame_and_nothing_is_refused_silently() {
        let studio = render_backdrop(&Backdrop::Studio { wall: [230, 230, 235], floor: [250, 250, 250] }, 64, 100);
        assert!(studio.get_pixel(0, 0)[0] < studio.get_pixel(0, 99)[0], "the floor is lighter than the wall");
        let gradient = render_backdrop(&Backdrop::Gradient { top: [0, 0, 0], bottom: [200, 200, 200] }, 10, 100);
        assert!(gradient.get_pixel(5, 0)[0] < 5 && gradient.get_pixel(5, 99)[0] > 190);
        for kind in [Texture::Wood, Texture::Marble, Texture::Linen, Texture::Concrete] {
            let a = texture(kind, 128, 96);
            assert_eq!(a, texture(kind, 128, 96), "{kind:?} is the same every time");
            let distinct: std::collections::HashSet<_> = a.pixels().map(|p| p.0).collect();
            assert!(distinct.len() > 20, "{kind:?} has structure");
        }
        let empty = RgbaImage::new(10, 10);
        assert!(matches!(compose(&empty, &Backdrop::Colour([0; 3]), &options()), Err(AiError::BadInput(_))));
        let huge = Options { width: 100_000, height: 100_000, ..options() };
        assert!(matches!(compose(&product(), &Backdrop::Colour([0; 3]), &huge), Err(AiError::BadInput(_))));
    }
}
