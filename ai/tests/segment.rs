//! Selections on the real models (IS-Net, CenterNet) and the committed fixture photos, and the
//! checks a supplied Segment Anything model goes through (no such weights are installed: only
//! their configuration and hash checks are tested, never a faked inference).

use std::path::PathBuf;

use ai::segment::{self, Method, SamModels, SAM_DECODER, SAM_ENCODER};
use ai::{AiError, Engine, EngineConfig, Quiet, UserModel};
use image::{GrayImage, RgbImage};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn engine() -> Engine {
    let runtime = std::env::var_os("ATELIER_ONNXRUNTIME_LIB")
        .map_or_else(|| models_dir().join("runtime/libonnxruntime.so"), PathBuf::from);
    Engine::new(EngineConfig {
        manifest: models_dir().join("manifest.toml"),
        runtime_lib: Some(runtime),
        models_dir: models_dir(),
        lama: None,
    })
    .expect("the manifest reads")
}

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn share(mask: &GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let inside = (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| mask.get_pixel(x, y)[0] == 255);
    inside.count() as f64 / f64::from((x1 - x0) * (y1 - y0))
}

#[test]
fn the_subject_is_the_astronaut_in_or_out_and_not_the_sky() {
    let photo = fixture("astronaut.png");
    let mask = segment::subject(&engine(), &photo, &Quiet).unwrap();
    assert_eq!(mask.dimensions(), photo.dimensions());
    assert!(mask.pixels().all(|p| p[0] == 0 || p[0] == 255), "a selection is in or out");
    // The suit's chest, and the sky in the top-left corner.
    assert!(share(&mask, (200, 120, 240, 160)) > 0.95);
    assert!(share(&mask, (0, 0, 40, 40)) < 0.05);
}

#[test]
fn the_cup_is_found_and_selected_inside_its_box_only() {
    let photo = fixture("coffee.png");
    let engine = engine();
    let objects = segment::objects(&engine, &photo).unwrap();
    let cup = objects.iter().find(|o| o.label == "cup").unwrap_or_else(|| panic!("a cup in {objects:?}"));
    let (mask, method) = segment::object(&engine, &photo, cup.bbox, &Quiet).unwrap();
    assert_eq!(method, Method::Refined);
    let (w, h) = photo.dimensions();
    let [x, y, bw, bh] = cup.bbox;
    let (x0, y0) = ((x * w as f32) as u32, (y * h as f32) as u32);
    let (x1, y1) = ((((x + bw) * w as f32).ceil() as u32).min(w), (((y + bh) * h as f32).ceil() as u32).min(h));
    let outside = mask
        .enumerate_pixels()
        .filter(|&(px, py, p)| p[0] == 255 && (!(x0..x1).contains(&px) || !(y0..y1).contains(&py)));
    assert_eq!(outside.count(), 0, "nothing is selected outside the cup's box");
    // Refined: less than the whole box (a cup is round), most of its middle.
    let middle = ((x0 + x1) / 2, (y0 + y1) / 2);
    assert!(share(&mask, (middle.0 - 10, middle.1 - 10, middle.0 + 10, middle.1 + 10)) > 0.9);
    assert!(share(&mask, (x0, y0, x1, y1)) < 0.98);
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

const NOT_A_MODEL: &[u8] = b"not an onnx model";

#[test]
fn a_supplied_segment_anything_model_must_exist_and_match_its_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = write(&dir, "encoder.onnx", NOT_A_MODEL);
    let decoder = write(&dir, "decoder.onnx", NOT_A_MODEL);
    let sha = ai::models::sha256_file(&encoder).unwrap();
    let model = |path: &PathBuf, sha: &str| UserModel { path: path.clone(), sha256: Some(sha.into()) };

    assert!(SamModels { encoder: model(&encoder, &sha), decoder: model(&decoder, &sha.to_uppercase()) }
        .verify()
        .is_ok());

    let missing = SamModels { encoder: model(&dir.path().join("nowhere.onnx"), &sha), decoder: model(&decoder, &sha) };
    match missing.verify() {
        Err(AiError::ModelMissing { model, path }) => {
            assert_eq!(model, SAM_ENCODER);
            assert!(path.ends_with("nowhere.onnx"), "{path}");
        }
        other => panic!("{other:?}"),
    }
    let wrong = SamModels { encoder: model(&encoder, &sha), decoder: model(&decoder, &"0".repeat(64)) };
    match wrong.verify() {
        Err(AiError::ModelInvalid { model, detail }) => {
            assert_eq!(model, SAM_DECODER);
            assert!(detail.contains(&sha) && detail.contains("decoder.onnx"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn segment_anything_is_hash_checked_when_opened_and_refused_when_not_configured() {
    let photo = fixture("coffee.png");
    let plain = engine();
    assert!(!plain.has_sam());
    assert!(matches!(segment::point(&plain, &photo, (10.0, 10.0), &Quiet), Err(AiError::BadInput(_))));

    // A file changed after the server started is caught when the model is opened, like LaMa's.
    let dir = tempfile::tempdir().unwrap();
    let encoder = write(&dir, "encoder.onnx", NOT_A_MODEL);
    let decoder = write(&dir, "decoder.onnx", NOT_A_MODEL);
    let sam = SamModels {
        encoder: UserModel { path: encoder, sha256: Some("0".repeat(64)) },
        decoder: UserModel { sha256: Some(ai::models::sha256_file(&decoder).unwrap()), path: decoder },
    };
    let engine = engine().with_sam(Some(sam));
    assert!(engine.has_sam() && engine.is_installed(SAM_ENCODER) && engine.is_installed(SAM_DECODER));
    match segment::point(&engine, &photo, (10.0, 10.0), &Quiet) {
        Err(AiError::ModelInvalid { model, detail }) => {
            assert_eq!(model, SAM_ENCODER);
            assert!(detail.contains("expected 0000"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Outside the photo: refused before any model runs.
    assert!(matches!(segment::point(&engine, &photo, (-1.0, 10.0), &Quiet), Err(AiError::BadInput(_))));
    assert!(matches!(segment::point(&engine, &photo, (f32::NAN, 10.0), &Quiet), Err(AiError::BadInput(_))));
}
