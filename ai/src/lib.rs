//! Atelier's AI tools, free of the database and the web: each takes pixels (and its options) and
//! returns pixels or a description, reporting progress and stopping when asked.
//!
//! A new tool's pixels go here, as a module with a function over [`Engine`] and [`Progress`]; the
//! rest of the recipe is in `app/src/ai_tools/tools.rs`, next to the list of tools.

pub mod background;
pub mod describe;
pub mod embed;
pub mod faces;
pub mod inpaint;
pub mod models;
pub mod moderation;
pub mod ocr;
pub mod people;
pub mod scene;
pub mod segment;
pub mod similar;
pub mod style;
mod tensor;
pub mod upscale;

pub use models::{Engine, EngineConfig, Provider, UserModel};

/// What can go wrong in a tool. Messages are meant for the person who runs Atelier: a missing or
/// damaged model names the command that installs it.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the {model} model is not installed ({path}); run `scripts/install-models` to install it")]
    ModelMissing { model: String, path: String },
    #[error("the {model} model file is damaged or not the expected one ({detail}); run `scripts/install-models` to reinstall it")]
    ModelInvalid { model: String, detail: String },
    #[error("ONNX Runtime could not be loaded from {path}: {detail}; run `scripts/install-models`")]
    Runtime { path: String, detail: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("{0}")]
    BadInput(String),
    #[error("cancelled")]
    Cancelled,
}

impl AiError {
    /// Whether running the same job again could succeed (a retry with backoff is worth it).
    pub fn is_transient(&self) -> bool {
        matches!(self, AiError::Inference(_))
    }
}

/// How a running tool reports progress (0.0..=1.0) and learns it should stop.
pub trait Progress: Sync {
    fn report(&self, fraction: f32);
    fn cancelled(&self) -> bool;

    /// Reports, then returns `Err(Cancelled)` if the job was cancelled: call between steps.
    fn step(&self, fraction: f32) -> Result<(), AiError> {
        self.report(fraction.clamp(0.0, 1.0));
        if self.cancelled() {
            Err(AiError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// PNG with fast compression (results are large and kept a day at most), alpha kept when present.
pub fn encode_png(image: &image::DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut data = Vec::new();
    let encoder = PngEncoder::new_with_quality(&mut data, CompressionType::Fast, FilterType::Adaptive);
    match image {
        image::DynamicImage::ImageRgba8(rgba) => {
            encoder.write_image(rgba, rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)?
        }
        other => {
            let rgb = other.to_rgb8();
            encoder.write_image(&rgb, rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)?
        }
    }
    Ok(data)
}

/// Progress nobody watches (benchmarks, tests).
pub struct Quiet;

impl Progress for Quiet {
    fn report(&self, _: f32) {}
    fn cancelled(&self) -> bool {
        false
    }
}
