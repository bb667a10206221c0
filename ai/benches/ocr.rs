//! Benchmark (not a test): reading the text in a photo (`ai::ocr::read_text`, PP-OCRv6 detection
//! and recognition) on the OCR fixtures and on a 12 MP photo. Prints the median of RUNS per case.
//!
//!     cargo bench -p ai --bench ocr [-- RUNS]

use std::path::PathBuf;
use std::time::Instant;

use ai::{Engine, EngineConfig, Quiet};
use image::imageops::{self, FilterType};

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let engine = Engine::new(EngineConfig {
        models_dir: root.join("models"),
        manifest: root.join("models/manifest.toml"),
        runtime_lib: std::env::var_os("ATELIER_ONNXRUNTIME_LIB").map(PathBuf::from),
        lama: None,
    })
    .expect("the manifest reads");
    let open = |name: &str| image::open(root.join("end2end/fixtures").join(name)).expect("a fixture").to_rgb8();
    let sign = open("text-sign.jpg");
    // The sign scaled up to 12 MP: the detector sees it at 1536 px on its long side.
    let large = imageops::resize(&sign, 4000, 3000, FilterType::CatmullRom);
    let cases = [
        ("sign 640×427, 3 lines", sign),
        ("page 384×191, 7 lines", open("page.png")),
        ("sign at 4000×3000", large),
        ("no text: coffee 600×400", open("coffee.png")),
    ];
    // The first run opens the models (hash check, session); it is not timed.
    ai::ocr::read_text(&engine, &cases[0].1, &Quiet).expect("the models run");
    println!("ai::ocr::read_text, median of {runs} runs");
    for (name, photo) in cases {
        let mut lines = 0;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                lines = ai::ocr::read_text(&engine, &photo, &Quiet).expect("text is read").len();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("  {name:<26} {:>7.0} ms  ({lines} lines)", times[times.len() / 2]);
    }
}
