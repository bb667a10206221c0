//! Native side of the editor benchmark: prints one JSON line `{"<size>/<op>": ms, …}` for
//! `bench/editor`, which compares it with the same operations in WASM in Chromium.

use std::time::Instant;

use recipe::bench::{benchmark_ops, preview_frame_recipe, synthetic_photo};

/// The sizes the benchmark uses: 2 MP and 12 MP (and the editor's preview size).
pub const SIZES: [(&str, u32, u32, u32); 2] = [("2MP", 1732, 1155, 3), ("12MP", 4243, 2828, 1)];

fn main() {
    let mut results = serde_json::Map::new();
    for (label, width, height, runs) in SIZES {
        let image = synthetic_photo(width, height);
        for (name, recipe) in benchmark_ops(width, height) {
            let start = Instant::now();
            for _ in 0..runs {
                std::hint::black_box(recipe.apply(image.clone()).expect("benchmark recipes are valid"));
            }
            let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
            results.insert(format!("{label}/{name}"), ms.into());
        }
    }
    let preview = synthetic_photo(2048, 1365);
    let start = Instant::now();
    for _ in 0..5 {
        std::hint::black_box(preview_frame_recipe().apply(preview.clone()).expect("valid"));
    }
    results.insert("preview/preview_frame".into(), (start.elapsed().as_secs_f64() * 1000.0 / 5.0).into());
    println!("{}", serde_json::Value::Object(results));
}
