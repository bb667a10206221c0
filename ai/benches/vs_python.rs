//! Benchmark (not a test): Atelier's end-to-end time for background removal at 1024² and an x4
//! upscale of a 256² crop — PNG bytes in, decode, inference, encode, PNG bytes out — against the
//! same models in Python ONNX Runtime with Pillow (bench/reference.py), in one run on this machine.
//!
//!     cargo bench -p ai --bench vs_python [-- RUNS]
//!
//! Prints each median and the ratio Python ÷ Atelier (above 1: Atelier is faster).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ai::background::{Backdrop, Options, Segmenter};
use ai::{Engine, EngineConfig, Quiet};
use image::imageops::{self, FilterType};
use image::DynamicImage;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn time(runs: usize, mut job: impl FnMut() -> Vec<u8>) -> f64 {
    job(); // warm-up: the session is opened and its hash checked outside the timing
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let out = job();
                assert!(!out.is_empty());
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn png(image: &DynamicImage) -> Vec<u8> {
    ai::encode_png(image).expect("encoding a benchmark input")
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let models = root().join("models");
    let engine = Engine::new(EngineConfig {
        models_dir: models.clone(),
        manifest: models.join("manifest.toml"),
        runtime_lib: None,
        lama: None,
    })
    .expect("models installed (scripts/install-models)");
    let source = image::open(root().join("end2end/fixtures/astronaut.png")).expect("the fixture").to_rgb8();
    let in1024 = png(&DynamicImage::ImageRgb8(imageops::resize(&source, 1024, 1024, FilterType::CatmullRom)));
    let (w, h) = source.dimensions();
    let side = w.min(h).min(256);
    let crop = imageops::crop_imm(&source, (w - side) / 2, (h - side) / 2, side, side).to_image();
    let in256 = png(&DynamicImage::ImageRgb8(imageops::resize(&crop, 256, 256, FilterType::CatmullRom)));

    let options =
        Options { segmenter: Segmenter::Objects, backdrop: Backdrop::Transparent, refine: false, feather: 0.0 };
    let background = time(runs, || {
        let image = image::load_from_memory(&in1024).expect("the benchmark input").to_rgb8();
        png(&ai::background::remove(&engine, &image, &options, &Quiet).expect("background removal"))
    });
    let upscale = time(runs, || {
        let image = image::load_from_memory(&in256).expect("the benchmark input").to_rgb8();
        png(&DynamicImage::ImageRgb8(
            ai::upscale::upscale(&engine, &image, 4, ai::upscale::Quality::Fast, u64::MAX, &Quiet).expect("upscaling"),
        ))
    });

    let output = Command::new(root().join("target/models-venv/bin/python"))
        .arg(root().join("bench/reference.py"))
        .arg(runs.to_string())
        .output()
        .expect("running bench/reference.py (target/models-venv comes from scripts/install-models)");
    let reference: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("reference said: {}", String::from_utf8_lossy(&output.stderr)));
    let provider = engine.provider().map(|p| p.label()).unwrap_or("?");
    println!(
        "AI tools, median of {runs} runs, PNG in → PNG out ({provider}, {} threads)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (name, ours, key) in [
        ("background removal 1024² (IS-Net)", background, "background_1024_ms"),
        ("upscale x4 of 256² (ESRGAN slim)", upscale, "upscale_x4_256_ms"),
    ] {
        let python = reference[key].as_f64().unwrap_or(f64::NAN);
        println!("  {name:<36} Atelier {ours:>8.1} ms   Python+Pillow {python:>8.1} ms   ratio {:.2}x", python / ours);
    }
    eprintln!("reference stages: {}", String::from_utf8_lossy(&output.stderr).trim());
}
