//! Text in photos on the real PP-OCRv6 models (installed by `scripts/install-models`): a sign drawn
//! with Debian's DejaVu fonts over a photo and turned 4°, a photographed book page (both made by
//! `scripts/make-text-fixtures`), and images with no text.

use std::path::PathBuf;

use ai::ocr::{self, TextLine};
use ai::{AiError, Engine, EngineConfig, Quiet};
use image::{Rgb, RgbImage};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn engine_in(models_dir: PathBuf) -> Engine {
    let runtime = std::env::var_os("ATELIER_ONNXRUNTIME_LIB")
        .map_or_else(|| self::models_dir().join("runtime/libonnxruntime.so"), PathBuf::from);
    Engine::new(EngineConfig {
        manifest: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml"),
        runtime_lib: Some(runtime),
        models_dir,
        lama: None,
    })
    .expect("the manifest reads")
}

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn texts(lines: &[TextLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

#[test]
fn the_words_on_a_sign_are_read_in_order_where_they_stand() {
    let image = fixture("text-sign.jpg");
    let lines = ocr::read_text(&engine_in(models_dir()), &image, &Quiet).unwrap();
    assert_eq!(texts(&lines), ["OPEN DAILY", "Fresh bread", "7am to 6pm"], "{lines:?}");
    assert_eq!(ocr::joined(&lines), "OPEN DAILY\nFresh bread\n7am to 6pm");
    for line in &lines {
        assert!(line.score > 0.8, "{line:?}");
        // The sign covers about (90..545, 90..350) of the 640×427 photo.
        for [x, y] in line.quad {
            assert!((85.0..550.0).contains(&x) && (85.0..355.0).contains(&y), "{line:?}");
        }
    }
    // The sign is turned 4° anticlockwise: each box's top edge rises to the right with it.
    let [top_left, top_right, ..] = lines[0].quad;
    let rise = (top_left[1] - top_right[1]) / (top_right[0] - top_left[0]);
    assert!((0.03..0.11).contains(&rise), "slope {rise} for {:?}", lines[0]);
}

#[test]
fn a_photographed_page_is_read_line_by_line() {
    let image = fixture("page.png");
    let lines = ocr::read_text(&engine_in(models_dir()), &image, &Quiet).unwrap();
    let text = ocr::joined(&lines);
    assert_eq!(lines[0].text, "Region-based segmentation", "{text}");
    for phrase in [
        "Let us first determine markers of the coins and the",
        "background. These markers are pixels that we can label",
        "histogram of grey values:",
        "markers = np.zeros_like(coins)",
    ] {
        assert!(text.contains(phrase), "{phrase:?} not in {text:?}");
    }
    let heading = text.find("Region-based").unwrap();
    let last = text.find("histogram of grey").unwrap();
    assert!(heading < last, "read top to bottom: {text}");
}

#[test]
fn images_without_text_give_none_without_error() {
    let engine = engine_in(models_dir());
    let blank = RgbImage::from_pixel(320, 200, Rgb([250, 250, 250]));
    let tiny = RgbImage::from_pixel(2, 3, Rgb([0, 0, 0]));
    for (what, image) in [
        ("blank", blank),
        ("2×3 pixels", tiny),
        ("a cup of coffee", fixture("coffee.png")),
        ("an astronaut", fixture("astronaut.png")),
        // Fur: the recognizer once read a lone "0" in it.
        ("a cat", fixture("chelsea.png")),
    ] {
        let lines = ocr::read_text(&engine, &image, &Quiet).unwrap();
        assert!(lines.is_empty(), "{what}: {lines:?}");
    }
}

#[test]
fn missing_models_name_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    let engine = engine_in(empty.path().to_path_buf());
    let error = ocr::read_text(&engine, &fixture("text-sign.jpg"), &Quiet).unwrap_err();
    assert!(matches!(error, AiError::ModelMissing { ref model, .. } if model == ocr::RECOGNIZER), "{error}");
    assert!(error.to_string().contains("scripts/install-models"), "{error}");
}

#[test]
fn cancelling_stops_reading() {
    struct Cancelled;
    impl ai::Progress for Cancelled {
        fn report(&self, _: f32) {}
        fn cancelled(&self) -> bool {
            true
        }
    }
    let result = ocr::read_text(&engine_in(models_dir()), &fixture("text-sign.jpg"), &Cancelled);
    assert!(matches!(result, Err(AiError::Cancelled)), "{result:?}");
}
