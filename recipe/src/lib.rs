//! The edit recipe: an ordered list of operations, and (feature `render`) the single
//! implementation of each.
//!
//! The editor's Web Worker applies a recipe live (this crate compiled to WASM) and the server
//! replays the very same code natively on the full-resolution original when a version is saved.
//! The page itself only needs the types, so its bundle is built without `render` and carries no
//! image code.

use serde::{Deserialize, Serialize};

#[cfg(feature = "render")]
pub mod bench;
#[cfg(feature = "render")]
mod render;
#[cfg(feature = "render")]
mod retro;
pub mod selection;
#[cfg(feature = "render")]
pub use render::PhotonImage;

/// Enough for any real editing session; bounds the work a single request can ask for.
pub const MAX_STEPS: usize = 500;
/// The largest side and area a resize may ask for.
pub const MAX_SIDE: u32 = 16_384;
pub const MAX_RESIZE_PIXELS: u64 = 100_000_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EditRecipe {
    pub ops: Vec<EditOp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditOp {
    /// Keep the rectangle whose top-left corner is (`x`, `y`).
    Crop {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    /// Clockwise quarter turns: 1 = 90°, 2 = 180°, 3 = 270°.
    Rotate {
        quarter_turns: u8,
    },
    /// Clockwise, -45° to 45°; the canvas grows to hold the turned image.
    Straighten {
        degrees: f32,
    },
    FlipHorizontal,
    FlipVertical,
    /// Lanczos resampling to exactly `width` × `height`.
    Resize {
        width: u32,
        height: u32,
    },
    Grayscale,
    /// Added to every colour channel, -255..=255.
    Brightness {
        amount: i16,
    },
    /// -100..=100.
    Contrast {
        amount: i16,
    },
    /// -100 (grey) ..= 100 (vivid).
    Saturation {
        amount: i16,
    },
    /// -180..=180 degrees around the colour wheel.
    Hue {
        degrees: i16,
    },
    /// 0.2..=5.0; above 1 brightens the midtones.
    Gamma {
        value: f32,
    },
    Sharpen,
    /// Gaussian blur radius in pixels, 1..=100.
    Blur {
        radius: u16,
    },
    /// Darkens towards the corners, 1..=100.
    Vignette {
        strength: u8,
    },
    Filter {
        name: Filter,
    },
    /// Film grain: seeded noise, so a replay anywhere makes the same grain. `amount` 1..=100,
    /// `size` of a grain 1..=16 pixels.
    FilmGrain {
        amount: u8,
        size: u16,
        seed: u32,
    },
    /// Black dots on white on a 45° screen of `cell`-pixel cells, 2..=128.
    Halftone {
        cell: u16,
    },
    /// Brightness mapped from `shadow` (black) to `highlight` (white).
    Duotone {
        shadow: Rgb,
        highlight: Rgb,
    },
    /// Every block of `pixel` × `pixel` pixels (1..=64) to the nearest colour of `palette`,
    /// with an ordered dither when `dither` is set.
    Posterize {
        palette: Palette,
        pixel: u16,
        dither: bool,
    },
    /// A worn tape: red shifted right and blue left by `shift` pixels (0..=100), and dark
    /// scanlines (0..=100).
    Vhs {
        shift: u16,
        scanlines: u8,
    },
    /// A glow of `colour` screened in from `corner`, 1..=100.
    LightLeak {
        corner: Corner,
        strength: u8,
        colour: Rgb,
    },
    /// An instant-photo frame: `border` pixels (1..=2048) at the sides and top, 3.5× that at the
    /// bottom; the canvas grows (see `framed_size`).
    PolaroidFrame {
        border: u16,
    },
}

/// An 8-bit sRGB colour; serialised as `[r, g, b]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, the form colour inputs use.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    pub fn from_hex(text: &str) -> Option<Rgb> {
        let digits = text.strip_prefix('#')?;
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |at: usize| u8::from_str_radix(&digits[at..at + 2], 16).ok();
        Some(Rgb(channel(0)?, channel(2)?, channel(4)?))
    }
}

/// The fixed palettes `Posterize` maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Palette {
    GameBoy,
    Cga,
    Risograph,
    Pico8,
    OneBit,
}

impl Palette {
    pub const ALL: &'static [Palette] =
        &[Palette::GameBoy, Palette::Cga, Palette::Risograph, Palette::Pico8, Palette::OneBit];

    pub fn label(self) -> &'static str {
        match self {
            Palette::GameBoy => "Game Boy",
            Palette::Cga => "CGA",
            Palette::Risograph => "Risograph",
            Palette::Pico8 => "PICO-8",
            Palette::OneBit => "1-bit",
        }
    }

    /// The serialised name, also the value of the editor's choice.
    pub fn key(self) -> &'static str {
        match self {
            Palette::GameBoy => "game_boy",
            Palette::Cga => "cga",
            Palette::Risograph => "risograph",
            Palette::Pico8 => "pico8",
            Palette::OneBit => "one_bit",
        }
    }

    pub fn colours(self) -> &'static [Rgb] {
        match self {
            // The original DMG's four greens.
            Palette::GameBoy => {
                &[Rgb(0x0f, 0x38, 0x0f), Rgb(0x30, 0x62, 0x30), Rgb(0x8b, 0xac, 0x0f), Rgb(0x9b, 0xbc, 0x0f)]
            }
            // CGA mode 4, palette 1, high intensity.
            Palette::Cga => {
                &[Rgb(0x00, 0x00, 0x00), Rgb(0x55, 0xff, 0xff), Rgb(0xff, 0x55, 0xff), Rgb(0xff, 0xff, 0xff)]
            }
            // Paper and four Riso inks: yellow, fluorescent pink, blue, black.
            Palette::Risograph => &[
                Rgb(0xf2, 0xee, 0xe3),
                Rgb(0xff, 0xe8, 0x00),
                Rgb(0xff, 0x48, 0xb0),
                Rgb(0x00, 0x78, 0xbf),
                Rgb(0x00, 0x00, 0x00),
            ],
            Palette::Pico8 => &[
                Rgb(0x00, 0x00, 0x00),
                Rgb(0x1d, 0x2b, 0x53),
                Rgb(0x7e, 0x25, 0x53),
                Rgb(0x00, 0x87, 0x51),
                Rgb(0xab, 0x52, 0x36),
                Rgb(0x5f, 0x57, 0x4f),
                Rgb(0xc2, 0xc3, 0xc7),
                Rgb(0xff, 0xf1, 0xe8),
                Rgb(0xff, 0x00, 0x4d),
                Rgb(0xff, 0xa3, 0x00),
                Rgb(0xff, 0xec, 0x27),
                Rgb(0x00, 0xe4, 0x36),
                Rgb(0x29, 0xad, 0xff),
                Rgb(0x83, 0x76, 0x9c),
                Rgb(0xff, 0x77, 0xa8),
                Rgb(0xff, 0xcc, 0xaa),
            ],
            Palette::OneBit => &[Rgb(0, 0, 0), Rgb(255, 255, 255)],
        }
    }
}

/// Where a light leak comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Corner {
    pub const ALL: &'static [Corner] = &[Corner::TopLeft, Corner::TopRight, Corner::BottomLeft, Corner::BottomRight];

    pub fn label(self) -> &'static str {
        match self {
            Corner::TopLeft => "Top left",
            Corner::TopRight => "Top right",
            Corner::BottomLeft => "Bottom left",
            Corner::BottomRight => "Bottom right",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Corner::TopLeft => "top_left",
            Corner::TopRight => "top_right",
            Corner::BottomLeft => "bottom_left",
            Corner::BottomRight => "bottom_right",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum RecipeError {
    #[error("a recipe holds at most {MAX_STEPS} steps")]
    TooManySteps,
    #[error("the crop must be at least one pixel wide and high")]
    EmptyCrop,
    #[error("the crop {width}×{height} at ({x}, {y}) lies outside the {image_width}×{image_height} image")]
    CropOutside { x: u32, y: u32, width: u32, height: u32, image_width: u32, image_height: u32 },
    #[error("rotation must be 1 to 3 quarter turns, not {0}")]
    InvalidRotation(u8),
    #[error("{what} must be between {min} and {max}, not {value}")]
    OutOfRange { what: String, min: f64, max: f64, value: f64 },
    #[error("a resize to {width}×{height} is outside 1–{MAX_SIDE} pixels a side or {MAX_RESIZE_PIXELS} pixels in all")]
    InvalidSize { width: u32, height: u32 },
    #[error(
        "step {step} ({label}) would make a {width}×{height} image, more than the {limit_megapixels}-megapixel limit"
    )]
    TooLarge { step: usize, label: String, width: u64, height: u64, limit_megapixels: u64 },
    #[error("these steps are more work than one edit may ask for; save the edit so far and continue from it")]
    TooMuchWork,
    #[error("this edit took too long to apply")]
    TooSlow,
}

/// How much one edit may ask of the machine that replays it: the largest image any step may
/// make, and the pixel-steps of work in all (every step's output pixels, weighted by its cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub max_pixels: u64,
    pub max_work: u64,
}

impl Budget {
    /// The budget for a pixel cap: room for a long session of full-size adjustments.
    pub fn for_pixels(max_pixels: u64) -> Self {
        Self { max_pixels, max_work: max_pixels.saturating_mul(WORK_PER_PIXEL_CAP) }
    }
}

/// Pixel-steps allowed per pixel of the cap: 200 full-size steps of unit cost.
pub const WORK_PER_PIXEL_CAP: u64 = 200;

/// The canvas `Straighten` makes: three shears (x, y, x) through `degrees`, the way the
/// renderer turns it, so the size is known exactly before any pixel moves.
pub fn straightened_size((width, height): (u64, u64), degrees: f32) -> (u64, u64) {
    let degrees = degrees.abs();
    if degrees == 0.0 || !degrees.is_finite() {
        return (width, height);
    }
    let theta = degrees.to_radians();
    let (alpha, beta) = (-(theta / 2.0).tan(), theta.sin());
    let grow = |shear: f32, across: u64| (shear * across as f32).floor().abs() as u64;
    let first = width + grow(alpha, height);
    let tall = height + grow(beta, first);
    (first + grow(alpha, tall), tall)
}

/// The canvas `PolaroidFrame` makes: `border` added at the sides and top, the wider strip below.
pub fn framed_size((width, height): (u64, u64), border: u16) -> (u64, u64) {
    let border = u64::from(border);
    (width + 2 * border, height + border + polaroid_bottom(border))
}

/// The strip below the picture, 3.5× the other sides as on an instant photo.
fn polaroid_bottom(border: u64) -> u64 {
    border * 7 / 2
}

fn in_range(what: &str, value: f64, min: f64, max: f64) -> Result<(), RecipeError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RecipeError::OutOfRange { what: what.into(), min, max, value })
    }
}

impl EditRecipe {
    pub fn validate_len(&self) -> Result<(), RecipeError> {
        if self.ops.len() > MAX_STEPS {
            return Err(RecipeError::TooManySteps);
        }
        Ok(())
    }

    /// The same edit for a copy of the image scaled by `factor` (the editor previews large photos
    /// at screen size): pixel-sized parameters shrink with it, rounded down so a crop that fits the
    /// full image still fits the smaller one.
    pub fn scaled(&self, factor: f64) -> EditRecipe {
        let scale = |value: u32| ((f64::from(value) * factor).floor() as u32).max(1);
        // At most the value itself, so a scaled step stays within its valid range.
        let shrink = |value: u16, min: u16| ((f64::from(value) * factor).round() as u16).clamp(min, value.max(min));
        let ops = self
            .ops
            .iter()
            .map(|op| match *op {
                EditOp::Crop { x, y, width, height } => EditOp::Crop {
                    x: (f64::from(x) * factor).floor() as u32,
                    y: (f64::from(y) * factor).floor() as u32,
                    width: scale(width),
                    height: scale(height),
                },
                EditOp::Resize { width, height } => EditOp::Resize { width: scale(width), height: scale(height) },
                EditOp::Blur { radius } => EditOp::Blur { radius: scale(u32::from(radius)).min(100) as u16 },
                // The retro looks' sizes round to nearest: what must match is the look, not a fit.
                EditOp::FilmGrain { amount, size, seed } => EditOp::FilmGrain { amount, size: shrink(size, 1), seed },
                EditOp::Halftone { cell } => EditOp::Halftone { cell: shrink(cell, 2) },
                EditOp::Posterize { palette, pixel, dither } => {
                    EditOp::Posterize { palette, pixel: shrink(pixel, 1), dither }
                }
                EditOp::Vhs { shift, scanlines } => EditOp::Vhs { shift: shrink(shift, 0), scanlines },
                EditOp::PolaroidFrame { border } => EditOp::PolaroidFrame { border: shrink(border, 1) },
                ref other => other.clone(),
            })
            .collect();
        EditRecipe { ops }
    }

    /// The result's size for an input of `size`, without touching pixels; `None` when the
    /// recipe does not fit the image (see `plan`).
    pub fn output_size(&self, size: (u32, u32)) -> Option<(u32, u32)> {
        self.plan(size, Budget::for_pixels(u64::MAX / WORK_PER_PIXEL_CAP)).ok()
    }

    /// Checks the whole recipe against an image of `size` before anything runs: every step's
    /// parameters, where each crop falls, the size each step makes (none beyond the budget's
    /// pixel cap) and the work in all. Returns the final size.
    pub fn plan(&self, size: (u32, u32), budget: Budget) -> Result<(u32, u32), RecipeError> {
        self.validate_len()?;
        let mut work = 0u64;
        let (mut width, mut height) = (u64::from(size.0), u64::from(size.1));
        for (index, op) in self.ops.iter().enumerate() {
            op.validate()?;
            (width, height) = match *op {
                EditOp::Crop { x, y, width: w, height: h } => {
                    if w == 0 || h == 0 {
                        return Err(RecipeError::EmptyCrop);
                    }
                    if u64::from(x) + u64::from(w) > width || u64::from(y) + u64::from(h) > height {
                        let (image_width, image_height) = (clamp(width), clamp(height));
                        return Err(RecipeError::CropOutside { x, y, width: w, height: h, image_width, image_height });
                    }
                    (u64::from(w), u64::from(h))
                }
                EditOp::Resize { width, height } => (u64::from(width), u64::from(height)),
                EditOp::Rotate { quarter_turns } if quarter_turns % 2 == 1 => (height, width),
                EditOp::Straighten { degrees } => straightened_size((width, height), degrees),
                EditOp::PolaroidFrame { border } => framed_size((width, height), border),
                _ => (width, height),
            };
            let pixels = width.saturating_mul(height);
            if pixels > budget.max_pixels || width > u64::from(u32::MAX) || height > u64::from(u32::MAX) {
                return Err(RecipeError::TooLarge {
                    step: index + 1,
                    label: op.label(),
                    width,
                    height,
                    limit_megapixels: budget.max_pixels / 1_000_000,
                });
            }
            work = work.saturating_add(pixels.saturating_mul(op.cost()));
            if work > budget.max_work {
                return Err(RecipeError::TooMuchWork);
            }
        }
        Ok((clamp(width), clamp(height)))
    }
}

fn clamp(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl EditOp {
    /// Relative work per output pixel (a resize reads a window of source pixels per output
    /// pixel; a straighten makes three passes; a blur scales with its radius).
    fn cost(&self) -> u64 {
        match *self {
            EditOp::Resize { .. } | EditOp::Straighten { .. } | EditOp::Sharpen | EditOp::Vignette { .. } => 4,
            EditOp::Blur { radius } => 2 + u64::from(radius) / 10,
            EditOp::FilmGrain { .. } | EditOp::Vhs { .. } | EditOp::LightLeak { .. } => 2,
            EditOp::Halftone { .. } | EditOp::Posterize { .. } => 3,
            _ => 1,
        }
    }

    /// Checks the parameters that do not depend on the image.
    pub fn validate(&self) -> Result<(), RecipeError> {
        match *self {
            EditOp::Rotate { quarter_turns } if !(1..=3).contains(&quarter_turns) => {
                Err(RecipeError::InvalidRotation(quarter_turns))
            }
            EditOp::Straighten { degrees } => in_range("straightening", f64::from(degrees), -45.0, 45.0),
            EditOp::Resize { width, height } => {
                let area = u64::from(width) * u64::from(height);
                if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || area > MAX_RESIZE_PIXELS {
                    Err(RecipeError::InvalidSize { width, height })
                } else {
                    Ok(())
                }
            }
            EditOp::Brightness { amount } => in_range("brightness", f64::from(amount), -255.0, 255.0),
            EditOp::Contrast { amount } => in_range("contrast", f64::from(amount), -100.0, 100.0),
            EditOp::Saturation { amount } => in_range("saturation", f64::from(amount), -100.0, 100.0),
            EditOp::Hue { degrees } => in_range("hue", f64::from(degrees), -180.0, 180.0),
            EditOp::Gamma { value } => in_range("gamma", f64::from(value), 0.2, 5.0),
            EditOp::Blur { radius } => in_range("blur radius", f64::from(radius), 1.0, 100.0),
            EditOp::Vignette { strength } => in_range("vignette strength", f64::from(strength), 1.0, 100.0),
            EditOp::FilmGrain { amount, size, .. } => {
                in_range("grain amount", f64::from(amount), 1.0, 100.0)?;
                in_range("grain size", f64::from(size), 1.0, 16.0)
            }
            EditOp::Halftone { cell } => in_range("halftone cell", f64::from(cell), 2.0, 128.0),
            EditOp::Posterize { pixel, .. } => in_range("pixel size", f64::from(pixel), 1.0, 64.0),
            EditOp::Vhs { shift, scanlines } => {
                in_range("colour shift", f64::from(shift), 0.0, 100.0)?;
                in_range("scanlines", f64::from(scanlines), 0.0, 100.0)
            }
            EditOp::LightLeak { strength, .. } => in_range("light leak strength", f64::from(strength), 1.0, 100.0),
            EditOp::PolaroidFrame { border } => in_range("frame border", f64::from(border), 1.0, 2048.0),
            _ => Ok(()),
        }
    }

    /// A short description for the history list.
    pub fn label(&self) -> String {
        match self {
            EditOp::Crop { width, height, .. } => format!("Crop to {width}×{height}"),
            EditOp::Rotate { quarter_turns } => format!("Rotate {}°", u32::from(*quarter_turns) * 90),
            EditOp::Straighten { degrees } => format!("Straighten {degrees:+.1}°"),
            EditOp::FlipHorizontal => "Flip horizontally".into(),
            EditOp::FlipVertical => "Flip vertically".into(),
            EditOp::Resize { width, height } => format!("Resize to {width}×{height}"),
            EditOp::Grayscale => "Grayscale".into(),
            EditOp::Brightness { amount } => format!("Brightness {amount:+}"),
            EditOp::Contrast { amount } => format!("Contrast {amount:+}"),
            EditOp::Saturation { amount } => format!("Saturation {amount:+}"),
            EditOp::Hue { degrees } => format!("Hue {degrees:+}°"),
            EditOp::Gamma { value } => format!("Gamma {value:.2}"),
            EditOp::Sharpen => "Sharpen".into(),
            EditOp::Blur { radius } => format!("Blur {radius}px"),
            EditOp::Vignette { strength } => format!("Vignette {strength}"),
            EditOp::Filter { name } => format!("Filter: {}", name.label()),
            EditOp::FilmGrain { amount, size, .. } => format!("Film grain {amount}, {size}px"),
            EditOp::Halftone { cell } => format!("Halftone {cell}px"),
            EditOp::Duotone { shadow, highlight } => format!("Duotone {} to {}", shadow.hex(), highlight.hex()),
            EditOp::Posterize { palette, pixel, dither } => {
                format!("Posterize: {}, {pixel}px{}", palette.label(), if *dither { ", dithered" } else { "" })
            }
            EditOp::Vhs { shift, scanlines } => format!("VHS shift {shift}px, scanlines {scanlines}"),
            EditOp::LightLeak { corner, strength, .. } => {
                format!("Light leak {strength}, {}", corner.label().to_lowercase())
            }
            EditOp::PolaroidFrame { border } => format!("Polaroid frame {border}px"),
        }
    }
}

macro_rules! filters {
    ($($variant:ident => $key:literal, $label:literal;)+) => {
        /// The named photon filters, in the order the editor shows them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Filter { $($variant),+ }

        impl Filter {
            pub const ALL: &'static [Filter] = &[$(Filter::$variant),+];

            pub fn label(self) -> &'static str {
                match self { $(Filter::$variant => $label),+ }
            }

            /// The name photon's `filters::filter` knows it by (and the serialised name).
            pub fn key(self) -> &'static str {
                match self { $(Filter::$variant => $key),+ }
            }
        }
    };
}

filters! {
    Oceanic => "oceanic", "Oceanic";
    Islands => "islands", "Islands";
    Marine => "marine", "Marine";
    Seagreen => "seagreen", "Sea green";
    Flagblue => "flagblue", "Flag blue";
    Diamante => "diamante", "Diamante";
    Liquid => "liquid", "Liquid";
    Radio => "radio", "Radio";
    Twenties => "twenties", "Twenties";
    Rosetint => "rosetint", "Rose tint";
    Mauve => "mauve", "Mauve";
    Bluechrome => "bluechrome", "Blue chrome";
    Vintage => "vintage", "Vintage";
    Perfume => "perfume", "Perfume";
    Serenity => "serenity", "Serenity";
    Golden => "golden", "Golden";
    PastelPink => "pastel_pink", "Pastel pink";
    Cali => "cali", "Cali";
    Dramatic => "dramatic", "Dramatic";
    Firenze => "firenze", "Firenze";
    Obsidian => "obsidian", "Obsidian";
    Lofi => "lofi", "Lo-fi";
    Neue => "neue", "Neue";
    Lix => "lix", "Lix";
    Ryo => "ryo", "Ryo";
    DuotoneViolette => "duotone_violette", "Duotone violet";
    DuotoneHorizon => "duotone_horizon", "Duotone horizon";
    DuotoneLilac => "duotone_lilac", "Duotone lilac";
    DuotoneOchre => "duotone_ochre", "Duotone ochre";
    Sepia => "sepia", "Sepia";
    Invert => "invert", "Invert";
    Solarize => "solarize", "Solarize";
    Primary => "primary", "Primary";
    Normalize => "normalize", "Auto levels";
}
