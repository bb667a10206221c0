//! People on the real models: FaceRes descriptors (installed by `scripts/install-models`) of real
//! faces, and the threshold that groups them.

use std::path::PathBuf;

use ai::people::{self, SAME_PERSON};
use ai::{Engine, EngineConfig};
use image::imageops::{self, FilterType};
use image::RgbImage;

fn engine() -> Engine {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let runtime = std::env::var_os("ATELIER_ONNXRUNTIME_LIB")
        .map_or_else(|| models.join("runtime/libonnxruntime.so"), PathBuf::from);
    Engine::new(EngineConfig {
        manifest: models.join("manifest.toml"),
        runtime_lib: Some(runtime),
        models_dir: models,
        lama: None,
    })
    .expect("the manifest reads")
}

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn jpeg(image: &RgbImage, quality: u8) -> RgbImage {
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, quality).encode_image(image).unwrap();
    image::load_from_memory(&data).unwrap().to_rgb8()
}

fn one_face(engine: &Engine, image: &RgbImage) -> people::Face {
    let mut found = people::faces(engine, image).unwrap();
    assert_eq!(found.len(), 1, "one face expected, found {:?}", found.iter().map(|f| f.bbox).collect::<Vec<_>>());
    found.remove(0)
}

#[test]
fn copies_of_one_face_match_and_another_persons_face_does_not() {
    let engine = engine();
    let astronaut = fixture("astronaut.png");
    let original = one_face(&engine, &astronaut);
    let norm: f32 = original.embedding.iter().map(|v| v * v).sum();
    assert!((norm - 1.0).abs() < 1e-4, "descriptors are unit length, got {norm}");
    assert_eq!(original.embedding.len(), people::EMBEDDING_LEN);
    // Mirrored, cut to the upper left and re-encoded small: still her.
    let copy = imageops::flip_horizontal(&astronaut);
    let copy = imageops::crop_imm(&copy, 60, 0, 400, 400).to_image();
    let copy = jpeg(&imageops::resize(&copy, 300, 300, FilterType::Triangle), 60);
    let copied = one_face(&engine, &copy);
    let same = people::similarity(&original.embedding, &copied.embedding);
    assert!(same > SAME_PERSON + 0.2, "the same face scored {same}");
    // The box moved with the crop and the mirror: the face is right of centre in the copy.
    assert!(copied.bbox[0] + copied.bbox[2] / 2.0 > 0.5, "{:?}", copied.bbox);

    let other = one_face(&engine, &fixture("portrait.jpg"));
    let different = people::similarity(&original.embedding, &other.embedding);
    assert!(different < SAME_PERSON, "two different people scored {different}");
    assert_eq!(people::cluster(&[original.embedding, other.embedding, copied.embedding]), vec![0, 1, 0]);
}

#[test]
fn a_photo_without_faces_gives_no_descriptors() {
    assert!(people::faces(&engine(), &fixture("coffee.png")).unwrap().is_empty());
}
