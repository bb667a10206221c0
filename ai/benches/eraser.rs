//! Benchmark (not a test): the magic eraser's PatchMatch on a 2000×1500 photo (the coffee fixture
//! scaled up) with holes of several sizes and a thin scratch. Prints the median of RUNS per case.
//!
//!     cargo bench -p ai --bench eraser [-- RUNS]

use std::path::PathBuf;
use std::time::Instant;

use ai::inpaint::patchmatch::inpaint;
use ai::Quiet;
use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};

fn rectangle(x0: u32, y0: u32, w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(2000, 1500, |x, y| {
        Luma([if (x0..x0 + w).contains(&x) && (y0..y0 + h).contains(&y) { 255 } else { 0 }])
    })
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3);
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures/coffee.png");
    let photo = image::open(&fixture).expect("the coffee fixture").to_rgb8();
    let photo = imageops::resize(&photo, 2000, 1500, FilterType::CatmullRom);
    let scratch =
        GrayImage::from_fn(2000, 1500, |x, y| Luma([if (x as i32 - 4 * y as i32 / 3).abs() <= 1 { 255 } else { 0 }]));
    let cases = [
        ("200×200 hole", rectangle(900, 650, 200, 200)),
        ("600×400 hole", rectangle(700, 500, 600, 400)),
        ("3 px scratch across it", scratch),
        ("1600×1200 hole", rectangle(200, 150, 1600, 1200)),
    ];
    println!("PatchMatch on 2000×1500, median of {runs} runs");
    for (name, mask) in cases {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                inpaint(&photo, &mask, &Quiet).expect("the eraser fills the hole");
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("  {name:<24} {:>8.0} ms", times[times.len() / 2]);
    }
}
