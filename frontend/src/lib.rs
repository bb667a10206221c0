//! The browser entry point: hydrates the server-rendered pages.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

/// For `bench/editor`: milliseconds per run of benchmark operation `name` (or `preview_frame`)
/// on a synthetic `width` × `height` photo, averaged over `runs`.
#[wasm_bindgen]
pub fn bench_recipe(name: &str, width: u32, height: u32, runs: u32) -> Result<f64, String> {
    let recipe = if name == "preview_frame" {
        app::bench::preview_frame_recipe()
    } else {
        app::bench::benchmark_ops(width, height)
            .into_iter()
            .find(|(op, _)| *op == name)
            .map(|(_, recipe)| recipe)
            .ok_or_else(|| format!("no benchmark named {name}"))?
    };
    let image = app::bench::synthetic_photo(width, height);
    let runs = runs.max(1);
    let start = js_sys::Date::now();
    for _ in 0..runs {
        recipe.apply(image.clone()).map_err(|e| e.to_string())?;
    }
    Ok((js_sys::Date::now() - start) / f64::from(runs))
}
