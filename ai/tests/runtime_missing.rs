//! Without the ONNX Runtime library, tools fail with a message naming the install command (its
//! own test binary: the runtime is loaded once per process).

use std::path::PathBuf;

use ai::{AiError, Engine, EngineConfig};

#[test]
fn a_missing_runtime_library_names_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(EngineConfig {
        models_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"),
        manifest: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml"),
        runtime_lib: Some(dir.path().join("libonnxruntime.so")),
        lama: None,
    })
    .unwrap();
    let error = engine.provider().unwrap_err();
    assert!(matches!(error, AiError::Runtime { .. }), "{error}");
    assert!(error.to_string().contains("scripts/install-models"), "{error}");
    let image = image::RgbImage::new(32, 32);
    let error = ai::moderation::nsfw_score(&engine, &image).unwrap_err();
    assert!(matches!(error, AiError::Runtime { .. }), "{error}");
}

#[test]
fn an_unreadable_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(&manifest, "[runtime]\nthis is not toml = = \n").unwrap();
    let error = Engine::new(EngineConfig { models_dir: dir.path().into(), manifest, runtime_lib: None, lama: None })
        .err()
        .unwrap();
    assert!(error.to_string().contains("manifest"), "{error}");
}
