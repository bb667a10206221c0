//! Shared by the editor benchmark's two sides (native in `server/benches/editor_ops.rs`, WASM
//! through `editor-worker`'s `bench_recipe`), so both time the same operations on the same pixels.

use crate::{Corner, EditOp, EditRecipe, Filter, Palette, PhotonImage, Rgb};

/// A deterministic photo-like test image: smooth gradients with some texture.
pub fn synthetic_photo(width: u32, height: u32) -> PhotonImage {
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 4);
    for y in 0..height {
        for x in 0..width {
            let texture = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 23) as u8;
            pixels.extend_from_slice(&[
                ((x * 255) / width.max(1)) as u8 ^ texture,
                ((y * 255) / height.max(1)) as u8,
                (((x + y) * 127) / (width + height).max(1)) as u8 + texture,
                255,
            ]);
        }
    }
    PhotonImage::new(pixels, width, height)
}

/// The operations the benchmark times, by name, for an image of `width` × `height`.
pub fn benchmark_ops(width: u32, height: u32) -> Vec<(&'static str, EditRecipe)> {
    let one = |op| EditRecipe { ops: vec![op] };
    vec![
        ("crop", one(EditOp::Crop { x: width / 4, y: height / 4, width: width / 2, height: height / 2 })),
        ("rotate_90", one(EditOp::Rotate { quarter_turns: 1 })),
        ("flip", one(EditOp::FlipHorizontal)),
        ("resize_50", one(EditOp::Resize { width: width / 2, height: height / 2 })),
        ("brightness", one(EditOp::Brightness { amount: 30 })),
        ("contrast", one(EditOp::Contrast { amount: 30 })),
        ("saturation", one(EditOp::Saturation { amount: 40 })),
        ("hue", one(EditOp::Hue { degrees: 30 })),
        ("gamma", one(EditOp::Gamma { value: 1.4 })),
        ("grayscale", one(EditOp::Grayscale)),
        ("sharpen", one(EditOp::Sharpen)),
        ("blur_3", one(EditOp::Blur { radius: 3 })),
        ("vignette", one(EditOp::Vignette { strength: 50 })),
        ("filter_golden", one(EditOp::Filter { name: Filter::Golden })),
        ("filter_sepia", one(EditOp::Filter { name: Filter::Sepia })),
        ("film_grain", one(EditOp::FilmGrain { amount: 40, size: 2, seed: 1 })),
        ("halftone", one(EditOp::Halftone { cell: 8 })),
        ("duotone", one(EditOp::Duotone { shadow: Rgb(20, 30, 90), highlight: Rgb(250, 200, 40) })),
        ("posterize_game_boy", one(EditOp::Posterize { palette: Palette::GameBoy, pixel: 1, dither: true })),
        ("vhs", one(EditOp::Vhs { shift: 6, scanlines: 40 })),
        ("light_leak", one(EditOp::LightLeak { corner: Corner::TopLeft, strength: 60, colour: Rgb(255, 110, 30) })),
        ("polaroid_frame", one(EditOp::PolaroidFrame { border: 40 })),
    ]
}

/// What one slider movement costs in the editor: the recipe replayed on a screen-sized preview.
pub fn preview_frame_recipe() -> EditRecipe {
    EditRecipe {
        ops: vec![
            EditOp::Brightness { amount: 12 },
            EditOp::Contrast { amount: 20 },
            EditOp::Filter { name: Filter::Vintage },
        ],
    }
}
