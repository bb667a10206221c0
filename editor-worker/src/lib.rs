//! The editor's pixel work, run inside a Web Worker (`public/editor-worker.js`) so that a large
//! photo never freezes the page, and loaded only when the editor opens so the other pages stay
//! light. Everything here is a thin wrapper over the `recipe` crate the server also replays.

use recipe::{EditOp, EditRecipe, Filter, PhotonImage};
use wasm_bindgen::prelude::wasm_bindgen;

/// RGBA pixels with their size, handed back to JavaScript.
#[wasm_bindgen(getter_with_clone)]
pub struct Frame {
    /// The filter's serialised name for thumbnails; empty for the edited photo.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Frame {
    fn new(name: &str, image: PhotonImage) -> Frame {
        Frame {
            name: name.to_string(),
            width: image.get_width(),
            height: image.get_height(),
            pixels: image.get_raw_pixels(),
        }
    }
}

fn image(width: u32, height: u32, pixels: Vec<u8>) -> Result<PhotonImage, String> {
    if u64::from(width) * u64::from(height) * 4 != pixels.len() as u64 {
        return Err(format!("{} bytes are not a {width}×{height} RGBA image", pixels.len()));
    }
    Ok(PhotonImage::new(pixels, width, height))
}

/// Applies the JSON `recipe` to the pixels; a bad recipe is an error message, never a panic.
#[wasm_bindgen]
pub fn apply_recipe(width: u32, height: u32, pixels: Vec<u8>, recipe: &str) -> Result<Frame, String> {
    let recipe: EditRecipe = serde_json::from_str(recipe).map_err(|error| format!("unreadable recipe: {error}"))?;
    let edited = recipe.apply(image(width, height, pixels)?).map_err(|error| error.to_string())?;
    Ok(Frame::new("", edited))
}

/// Every named filter applied to a copy of the photo scaled to `side` pixels at most.
#[wasm_bindgen]
pub fn filter_thumbnails(width: u32, height: u32, pixels: Vec<u8>, side: u32) -> Result<Vec<Frame>, String> {
    let source = image(width, height, pixels)?;
    let scale = f64::from(side) / f64::from(width.max(height).max(1));
    let fit = |length: u32| ((f64::from(length) * scale).round() as u32).max(1);
    let small =
        EditOp::Resize { width: fit(width), height: fit(height) }.apply(source).map_err(|error| error.to_string())?;
    Filter::ALL
        .iter()
        .map(|&name| {
            let filtered = EditOp::Filter { name }.apply(small.clone()).map_err(|error| error.to_string())?;
            Ok(Frame::new(name.key(), filtered))
        })
        .collect()
}

/// For `bench/editor`: milliseconds per run of benchmark operation `name` (or `preview_frame`)
/// on a synthetic `width` × `height` photo, averaged over `runs`.
#[wasm_bindgen]
pub fn bench_recipe(name: &str, width: u32, height: u32, runs: u32) -> Result<f64, String> {
    use recipe::bench::{benchmark_ops, preview_frame_recipe, synthetic_photo};
    let recipe = if name == "preview_frame" {
        preview_frame_recipe()
    } else {
        benchmark_ops(width, height)
            .into_iter()
            .find(|(op, _)| *op == name)
            .map(|(_, recipe)| recipe)
            .ok_or_else(|| format!("no benchmark named {name}"))?
    };
    let image = synthetic_photo(width, height);
    let runs = runs.max(1);
    let start = js_sys::Date::now();
    for _ in 0..runs {
        recipe.apply(image.clone()).map_err(|error| error.to_string())?;
    }
    Ok((js_sys::Date::now() - start) / f64::from(runs))
}
