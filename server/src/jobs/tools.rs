//! What each tool does with a claimed job: read the photo, run the `ai` function on the blocking
//! pool, store the result (encrypted, like every object) and meter it.

use std::sync::Arc;

use app::model::{Backdrop, PhotoDescription, ToolRequest, UpscaleQuality};
use image::{DynamicImage, GrayImage};
use serde::{Deserialize, Serialize};

use crate::images;
use crate::jobs::queue::{Claimed, Outcome, ResultFiles};
use crate::jobs::worker::JobProgress;
use crate::jobs::AiStore;
use crate::storage::keys;
use crate::usage::Meter;

/// Why a job did not finish.
#[derive(Debug)]
pub enum Failure {
    Cancelled,
    /// Worth another attempt (after a backoff); the text is for the log only.
    Transient(String),
    /// Told to the person as it is.
    Permanent(String),
}

impl From<ai::AiError> for Failure {
    fn from(error: ai::AiError) -> Self {
        use ai::AiError::*;
        match &error {
            Cancelled => Failure::Cancelled,
            Inference(_) => Failure::Transient(error.to_string()),
            BadInput(message) => Failure::Permanent(message.clone()),
            ModelMissing { model, .. } => {
                tracing::error!(%error, "an AI model is missing");
                Failure::Permanent(format!("The {model} model is not installed on this server; an administrator can install it with scripts/install-models."))
            }
            ModelInvalid { model, .. } => {
                tracing::error!(%error, "an AI model is damaged");
                Failure::Permanent(format!("The {model} model on this server is damaged; an administrator can reinstall it with scripts/install-models."))
            }
            Runtime { .. } => {
                tracing::error!(%error, "ONNX Runtime is unavailable");
                Failure::Permanent("The AI runtime is not installed on this server; an administrator can install it with scripts/install-models.".into())
            }
        }
    }
}

fn internal(doing: &'static str) -> impl FnOnce(String) -> Failure {
    move |detail| {
        tracing::error!(%detail, "{doing} failed");
        Failure::Transient(format!("{doing}: {detail}"))
    }
}

/// What the job details show beside the result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detail {
    pub method: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub description: Option<PhotoDescription>,
}

/// What a tool produced before it is stored.
enum Produced {
    Image(DynamicImage),
    Description(PhotoDescription),
}

/// `#rrggbb` as RGB.
pub fn parse_hex(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#')?;
    if digits.len() != 6 || !digits.is_ascii() {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

pub async fn run(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let meter = Meter::start();
    let request: ToolRequest = serde_json::from_str(&job.params).map_err(|e| {
        tracing::error!(%e, job = %job.id, "unreadable job options");
        Failure::Permanent("This job's options are unreadable.".into())
    })?;
    let engine = store.engine.clone().map_err(|detail| {
        tracing::error!(%detail, "the AI engine is unavailable");
        Failure::Permanent("The AI models are not installed on this server; an administrator can install them with scripts/install-models.".into())
    })?;
    let (_, stored) = store
        .db
        .photo(job.owner, job.photo)
        .await
        .map_err(|e| internal("reading a photo")(e.to_string()))?
        .ok_or_else(|| Failure::Permanent("The photo was deleted.".into()))?;
    let bytes =
        store.photos.storage.get(&stored.object_key).await.map_err(|e| internal("reading a photo")(e.to_string()))?;
    // Shares the buffer (no copy): the caption provider gets the same photo without a second read.
    let photo_bytes = bytes.clone();
    let camera = store.db.camera_facts(job.photo).await.map_err(|e| internal("reading a photo")(e.to_string()))?;
    let mask = match &job.mask_key {
        Some(key) => Some(store.photos.storage.get(key).await.map_err(|e| internal("reading a mask")(e.to_string()))?),
        None => None,
    };
    let backdrop = match &request {
        ToolRequest::RemoveBackground { backdrop: Backdrop::Photo { id }, .. } => {
            let (summary, other) = store
                .db
                .photo(job.owner, *id)
                .await
                .map_err(|e| internal("reading a photo")(e.to_string()))?
                .ok_or_else(|| Failure::Permanent("The background photo was deleted.".into()))?;
            if summary.held {
                return Err(Failure::Permanent("The background photo is held for review.".into()));
            }
            Some(
                store
                    .photos
                    .storage
                    .get(&other.object_key)
                    .await
                    .map_err(|e| internal("reading a photo")(e.to_string()))?,
            )
        }
        _ => None,
    };
    let max_pixels = store.photos.images.max_pixels;
    let max_upscale = store.settings.max_upscale_pixels;
    let work_request = request.clone();
    // Asked after the work: a model that could not run on CUDA fell back to the CPU and says so.
    let ran_on = engine.clone();
    let work_progress = progress.clone();
    let (produced, method, input_size) = tokio::task::spawn_blocking(move || -> Result<_, Failure> {
        let progress: &dyn ai::Progress = work_progress.as_ref();
        let image = images::decode(&bytes, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8();
        let size = image.dimensions();
        let (produced, method) = match work_request {
            ToolRequest::RemoveBackground { portrait, backdrop: choice, refine, feather } => {
                let backdrop = match choice {
                    Backdrop::Transparent => ai::background::Backdrop::Transparent,
                    Backdrop::Colour { hex } => {
                        ai::background::Backdrop::Colour(parse_hex(&hex).unwrap_or([255, 255, 255]))
                    }
                    Backdrop::Photo { .. } => {
                        let other = backdrop
                            .as_deref()
                            .ok_or_else(|| Failure::Permanent("The background photo is missing.".into()))?;
                        ai::background::Backdrop::Photo(
                            images::decode(other, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8(),
                        )
                    }
                };
                let segmenter =
                    if portrait { ai::background::Segmenter::Portrait } else { ai::background::Segmenter::Objects };
                let options = ai::background::Options { segmenter, backdrop, refine, feather };
                let result = ai::background::remove(&engine, &image, &options, progress)?;
                (Produced::Image(result), if portrait { "MediaPipe selfie segmentation" } else { "IS-Net" }.to_string())
            }
            ToolRequest::Upscale { factor, quality } => {
                let quality = match quality {
                    UpscaleQuality::Fast => ai::upscale::Quality::Fast,
                    UpscaleQuality::Balanced => ai::upscale::Quality::Balanced,
                    UpscaleQuality::Best => ai::upscale::Quality::Best,
                };
                let result = ai::upscale::upscale(&engine, &image, factor, quality, max_upscale, progress)?;
                (Produced::Image(DynamicImage::ImageRgb8(result)), ai::upscale::model_id(factor, quality))
            }
            ToolRequest::Erase { .. } => {
                let mask = mask.as_deref().ok_or_else(|| Failure::Permanent("The mask is missing.".into()))?;
                let mask: GrayImage = image::load_from_memory_with_format(mask, image::ImageFormat::Png)
                    .map_err(|_| Failure::Permanent("The mask could not be read.".into()))?
                    .to_luma8();
                let result = ai::inpaint::erase(&engine, &image, &mask, progress)?;
                (Produced::Image(DynamicImage::ImageRgb8(result)), ai::inpaint::method(&engine).to_string())
            }
            ToolRequest::Describe => {
                let facts = camera.as_ref();
                let found = ai::describe::describe(&engine, &image, facts, progress)?;
                let description = PhotoDescription { tags: found.tags, alt_text: found.alt_text, caption: None };
                (Produced::Description(description), found.sources.join("; "))
            }
        };
        Ok((produced, method, size))
    })
    .await
    .map_err(|e| internal("running a tool")(e.to_string()))??;
    let provider = ran_on.provider().map(|p| p.label().to_string()).ok();

    let (result, description, output_size) = match produced {
        Produced::Image(image) => {
            let size = (image.width(), image.height());
            (Some(store_result(&store, &job, image).await?), None, size)
        }
        Produced::Description(mut description) => {
            if let Some(vision) = &store.vision {
                match vision.caption(&photo_bytes).await {
                    Ok(caption) => {
                        description.alt_text = caption.clone();
                        description.caption = Some(caption);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the vision provider gave no caption; keeping the local description")
                    }
                }
            }
            (None, Some(description), input_size)
        }
    };
    // Recorded by the worker once the job is recorded as done (not for a discarded attempt).
    let record = meter.finish(request.name(), input_size, output_size);
    let duration_ms = record.duration_ms;
    let method = if store.vision.is_some() && description.is_some() {
        format!("{method}; caption: vision provider")
    } else {
        method
    };
    let detail = Detail { method, duration_ms, description };
    Ok(Outcome { provider, detail: serde_json::to_string(&detail).ok(), result, usage: Some(record) })
}

/// PNG (lossless, keeps transparency; fast compression) plus a JPEG thumbnail, stored under the
/// job's keys.
async fn store_result(store: &AiStore, job: &Claimed, image: DynamicImage) -> Result<ResultFiles, Failure> {
    let (width, height) = (image.width(), image.height());
    let (data, thumbnail) = tokio::task::spawn_blocking(move || {
        ai::encode_png(&image).map_err(anyhow::Error::from).and_then(|png| Ok((png, images::thumbnail(&image)?)))
    })
    .await
    .map_err(|e| internal("encoding a result")(e.to_string()))?
    .map_err(|e| internal("encoding a result")(e.to_string()))?;
    let (key, thumbnail_key) = keys::job_result(job.owner, job.id, job.attempts);
    let storage = &store.photos.storage;
    storage.put(&key, data).await.map_err(|e| internal("storing a result")(e.to_string()))?;
    if let Err(error) = storage.put(&thumbnail_key, thumbnail).await {
        let _ = storage.delete(&key).await;
        return Err(internal("storing a result")(error.to_string()));
    }
    Ok(ResultFiles { key, thumbnail_key, content_type: "image/png".into(), width, height })
}

/// Files of a result nobody will point at (the job was cancelled or re-claimed meanwhile).
pub async fn discard(store: &AiStore, outcome: &Outcome) {
    if let Some(result) = &outcome.result {
        for key in [&result.key, &result.thumbnail_key] {
            if let Err(error) = store.photos.storage.delete(key).await {
                tracing::warn!(%error, "could not delete an unused result; the retention sweep will");
            }
        }
    }
}
