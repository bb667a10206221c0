//! The AI tools on the server: the `Tool` trait, the one registry (`tool`), and what every job
//! shares (read the photo, run on the blocking pool, store and meter the result).
//!
//! Adding a tool: its `ToolKind` and `ToolRequest` in `app/src/ai_tools/tools.rs` (where the
//! whole recipe is), then a file here with `impl Tool`, listed in `tool` below.

mod background;
mod blur_faces;
mod copy_text;
mod describe;
mod erase;
mod scene;
pub mod style;
mod upscale;

use std::sync::Arc;

use app::ai_tools::{PhotoDescription, ToolKind, ToolRequest};
use app::error::AppError;
use app::ids::{JobId, OwnerId};
use app::photos::PhotoSummary;
use async_trait::async_trait;
use bytes::Bytes;
use image::{DynamicImage, GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::ai_tools::queue::JobProgress;
use crate::ai_tools::queue::{Claimed, Outcome, ResultFiles};
use crate::ai_tools::AiStore;
use crate::data::usage::Meter;
use crate::platform::images;
use crate::platform::storage::keys;

/// The implementation of each tool: the one list on the server. A new `ToolKind` does not
/// compile until it is here.
pub fn tool(kind: ToolKind) -> &'static dyn Tool {
    match kind {
        ToolKind::RemoveBackground => &background::RemoveBackground,
        ToolKind::Upscale => &upscale::Upscale,
        ToolKind::Erase => &erase::Erase,
        ToolKind::Describe => &describe::Describe,
        ToolKind::ProductScene => &scene::ProductScene,
        ToolKind::StyleTransfer => &style::StyleTransfer,
        ToolKind::BlurFaces => &blur_faces::BlurFaces,
        ToolKind::CopyText => &copy_text::CopyText,
    }
}

/// What a tool does on the server, from the request to the pixels. Only `run` is required.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Checks the options against the photo and the limits before anything is queued, so a bad
    /// request is told at once rather than failing later in a worker.
    async fn validate(
        &self,
        ai: &AiStore,
        owner: OwnerId,
        _photo: &PhotoSummary,
        request: &ToolRequest,
    ) -> Result<(), AppError> {
        check_other_photo_of(ai, owner, request).await
    }

    /// Moves what must not sit in the job's row to storage (the eraser's mask) and returns its
    /// key; the job is deleted with it.
    async fn prepare(
        &self,
        _ai: &AiStore,
        _owner: OwnerId,
        _job: JobId,
        _request: &mut ToolRequest,
    ) -> Result<Option<String>, AppError> {
        Ok(None)
    }

    /// Reads what `run` needs besides the photo, before the blocking work starts.
    async fn gather(
        &self,
        ai: &AiStore,
        job: &Claimed,
        request: &ToolRequest,
        _progress: &JobProgress,
    ) -> Result<Inputs, Failure> {
        other_photo_of(ai, job, request).await
    }

    /// The work itself, on the blocking pool: the result and the method that made it.
    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure>;

    /// Whether the tool runs a model big enough that a GPU worker should take its jobs first
    /// (see `queue::WorkerClass`); the small ones run as well on any CPU.
    fn gpu_worthy(&self) -> bool {
        false
    }
}

/// The names of the GPU-worthy tools, as the queue's `tool` column holds them.
pub fn gpu_worthy_tools() -> Vec<&'static str> {
    ToolKind::ALL.iter().filter(|kind| tool(**kind).gpu_worthy()).map(|kind| kind.name()).collect()
}

/// What a tool gathered besides the photo.
#[derive(Default)]
pub struct Inputs {
    /// A second image: the eraser's mask, the backdrop photo or the painting.
    pub extra: Option<Bytes>,
    pub camera: Option<ai::describe::CameraFacts>,
    /// What an image service painted for a generative fill, and the service's name.
    pub painted: Option<(Bytes, String)>,
}

/// A job as `Tool::run` gets it.
pub struct Work<'a> {
    pub engine: &'a ai::Engine,
    pub image: RgbImage,
    /// The image's transparency when it has one (a pipeline's earlier cut-out): the product
    /// scene takes it as its mask.
    pub alpha: Option<GrayImage>,
    pub request: ToolRequest,
    pub inputs: Inputs,
    pub progress: &'a dyn ai::Progress,
    pub max_pixels: u64,
    pub max_upscale_pixels: u64,
}

/// A job whose stored options name another tool than the one running it (never expected).
pub(crate) fn mismatch() -> Failure {
    Failure::Permanent("This job's options do not match its tool.".into())
}

/// Why a job did not finish.
#[derive(Debug)]
pub enum Failure {
    Cancelled,
    /// Worth another attempt (after a backoff); the text is for the log only.
    Transient(String),
    /// Told to the person as it is.
    Permanent(String),
}

impl Failure {
    /// A passing failure of the server's own (storage, database, a panicked task): logged with
    /// its cause, tried again after a backoff.
    pub fn internal(doing: &'static str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{doing} failed");
        Failure::Transient(format!("{doing}: {error}"))
    }
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

/// What the job details show beside the result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detail {
    pub method: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub description: Option<PhotoDescription>,
    /// What "copy text" read (also kept on the photo).
    #[serde(default)]
    pub text: Option<String>,
}

/// What a tool produced before it is stored.
pub enum Produced {
    Image(DynamicImage),
    Description(PhotoDescription),
    /// Text read in the photo, kept on it (`photos.ocr_text`) when the job finishes.
    Text(String),
}

pub use app::ai_tools::parse_hex;

/// The photo a job runs on and its file from storage (decrypted), or why not.
pub async fn photo_bytes(
    store: &AiStore,
    owner: OwnerId,
    photo: app::ids::PhotoId,
) -> Result<(PhotoSummary, Bytes), Failure> {
    let (summary, stored) = store
        .db
        .photo(owner, photo)
        .await
        .map_err(|e| Failure::internal("reading a photo", e))?
        .ok_or_else(|| Failure::Permanent("The photo was deleted.".into()))?;
    if summary.held {
        return Err(Failure::Permanent("This photo is held for review.".into()));
    }
    let bytes =
        store.photos.storage.get(&stored.object_key).await.map_err(|e| Failure::internal("reading a photo", e))?;
    Ok((summary, bytes))
}

/// Another photo of the workspace a tool reads besides the job's own (a backdrop, a painting):
/// the person's and not held. Checked when the job is queued, and again by `other_photo_inputs`
/// when it runs. `what` names it in the message ("background photo").
pub async fn check_other_photo(
    ai: &AiStore,
    owner: OwnerId,
    photo: app::ids::PhotoId,
    what: &str,
) -> Result<(), AppError> {
    use app::photos::PhotoService;
    if ai.photos.photo(owner, photo).await?.held {
        return Err(AppError::Forbidden(format!("That {what} is held for review.")));
    }
    Ok(())
}

/// The other photo's file, read when the job runs (it may have gone or been held since).
/// The other photo a request names (`ToolRequest::other_photo`), if any: the owner's and not held.
/// Checked when the job is queued; `other_photo_of` reads it again when the job runs.
pub async fn check_other_photo_of(ai: &AiStore, owner: OwnerId, request: &ToolRequest) -> Result<(), AppError> {
    match request.other_photo() {
        Some((photo, what)) => check_other_photo(ai, owner, photo, what).await,
        None => Ok(()),
    }
}

/// The other photo a request names, read when the job runs (it may have gone or been held since).
pub async fn other_photo_of(ai: &AiStore, job: &Claimed, request: &ToolRequest) -> Result<Inputs, Failure> {
    match request.other_photo() {
        Some((photo, what)) => other_photo_inputs(ai, job.owner, photo, what).await,
        None => Ok(Inputs::default()),
    }
}

pub async fn other_photo_inputs(
    ai: &AiStore,
    owner: OwnerId,
    photo: app::ids::PhotoId,
    what: &str,
) -> Result<Inputs, Failure> {
    Ok(Inputs { extra: Some(other_photo_bytes(ai, owner, photo, what).await?), ..Inputs::default() })
}

/// Another photo a job reads besides its own (a backdrop, a painting, a reference), or why not.
pub async fn other_photo_bytes(
    ai: &AiStore,
    owner: OwnerId,
    photo: app::ids::PhotoId,
    what: &str,
) -> Result<Bytes, Failure> {
    let (_, bytes) = photo_bytes(ai, owner, photo).await.map_err(|failure| match failure {
        Failure::Permanent(_) => Failure::Permanent(format!("The {what} was deleted or is held for review.")),
        passing => passing,
    })?;
    Ok(bytes)
}

impl Inputs {
    /// The other photo `other_photo_inputs` read, decoded.
    pub fn other_photo(&self, max_pixels: u64) -> Result<RgbImage, Failure> {
        let bytes = self.extra.as_deref().ok_or_else(|| Failure::Permanent("The other photo is missing.".into()))?;
        Ok(images::decode(bytes, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8())
    }
}

/// An image as a tool takes it: its colour, and its transparency when it has any (a pipeline's
/// earlier cut-out), which the product scene uses as its mask.
pub fn split_alpha(image: &DynamicImage) -> (RgbImage, Option<GrayImage>) {
    let alpha = image.color().has_alpha().then(|| {
        let rgba = image.to_rgba8();
        GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| image::Luma([rgba.get_pixel(x, y)[3]]))
    });
    (image.to_rgb8(), alpha)
}

/// A tool's result with the transparency the photo came with (a pipeline's earlier cut-out), so a
/// cut-out stays cut out.
pub fn with_alpha(image: RgbImage, alpha: Option<GrayImage>) -> DynamicImage {
    match alpha {
        Some(alpha) if alpha.dimensions() == image.dimensions() => {
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(image.width(), image.height(), |x, y| {
                let [r, g, b] = image.get_pixel(x, y).0;
                image::Rgba([r, g, b, alpha.get_pixel(x, y)[0]])
            }))
        }
        _ => DynamicImage::ImageRgb8(image),
    }
}

/// The engine, or the message that says how to install the models.
pub fn engine(store: &AiStore) -> Result<Arc<ai::Engine>, Failure> {
    store.engine.clone().map_err(|detail| {
        tracing::error!(%detail, "the AI engine is unavailable");
        Failure::Permanent("The AI models are not installed on this server; an administrator can install them with scripts/install-models.".into())
    })
}

/// Runs a claimed job: reads the photo and what its tool gathers, runs the tool on the blocking
/// pool, stores the result (encrypted, like every object) and meters it.
pub async fn run(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let meter = Meter::start();
    let request: ToolRequest = serde_json::from_str(&job.params).map_err(|e| {
        tracing::error!(%e, job = %job.id, "unreadable job options");
        Failure::Permanent("This job's options are unreadable.".into())
    })?;
    let engine = engine(&store)?;
    let tool = tool(request.kind());
    let (_, bytes) = photo_bytes(&store, job.owner, job.photo).await?;
    // Shares the buffer (no copy): the caption provider gets the same photo without a second read.
    let photo_bytes = bytes.clone();
    let inputs = tool.gather(&store, &job, &request, &progress).await?;
    // What an image service painted for the tool costs its price on top.
    let service_credits = inputs
        .painted
        .as_ref()
        .and_then(|(_, service)| store.generation.get(service))
        .map_or(0, |service| service.credits_per_image);
    let max_pixels = store.photos.images.max_pixels;
    let max_upscale_pixels = store.settings.max_upscale_pixels;
    let work_request = request.clone();
    // Asked after the work: a model that could not run on CUDA fell back to the CPU and says so.
    let ran_on = engine.clone();
    let work_progress = progress.clone();
    let (produced, method, input_size) = tokio::task::spawn_blocking(move || -> Result<_, Failure> {
        let image = images::decode(&bytes, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8();
        let size = image.dimensions();
        let work = Work {
            engine: &engine,
            image,
            alpha: None,
            request: work_request,
            inputs,
            progress: work_progress.as_ref(),
            max_pixels,
            max_upscale_pixels,
        };
        let (produced, method) = tool.run(work)?;
        Ok((produced, method, size))
    })
    .await
    .map_err(|e| Failure::internal("running a tool", e))??;
    let provider = ran_on.provider().map(|p| p.label().to_string()).ok();

    let mut text = None;
    let (result, description, output_size) = match produced {
        Produced::Image(image) => {
            let size = (image.width(), image.height());
            (Some(store_result(&store, &job, image).await?), None, size)
        }
        Produced::Text(read) => {
            let read = crate::photos::ocr::clean(&read);
            store
                .db
                .set_ocr_text(job.owner, job.photo, &read)
                .await
                .map_err(|e| Failure::internal("keeping text", e))?;
            crate::search::photo_changed(&store.db, job.owner, Some(job.photo)).await;
            text = Some(read);
            (None, None, input_size)
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
    let mut record = meter.finish(request.name(), input_size, output_size);
    record.credits += service_credits;
    let duration_ms = record.duration_ms;
    let method = if store.vision.is_some() && description.is_some() {
        format!("{method}; caption: vision provider")
    } else {
        method
    };
    let detail = Detail { method, duration_ms, description, text };
    Ok(Outcome { provider, detail: serde_json::to_string(&detail).ok(), result, version: None, usage: Some(record) })
}

/// PNG (lossless, keeps transparency; fast compression) plus a JPEG thumbnail, stored under the
/// job's keys.
async fn store_result(store: &AiStore, job: &Claimed, image: DynamicImage) -> Result<ResultFiles, Failure> {
    let encoded = tokio::task::spawn_blocking(move || {
        let png = ai::encode_png(&image)?;
        Ok::<_, anyhow::Error>(images::Encoded {
            content_type: "image/png",
            width: image.width(),
            height: image.height(),
            data: png,
            thumbnail: images::thumbnail(&image)?,
        })
    })
    .await
    .map_err(|e| Failure::internal("encoding a result", e))?
    .map_err(|e| Failure::internal("encoding a result", e))?;
    store_files(store, job, encoded).await
}

/// An encoded result and its thumbnail, stored under the job's keys for this attempt.
pub async fn store_files(store: &AiStore, job: &Claimed, encoded: images::Encoded) -> Result<ResultFiles, Failure> {
    let images::Encoded { content_type, width, height, data, thumbnail } = encoded;
    let (key, thumbnail_key) = keys::job_result(job.owner, job.id, job.attempts);
    let byte_size = (data.len() + thumbnail.len()) as u64;
    let storage = &store.photos.storage;
    storage.put(&key, data).await.map_err(|e| Failure::internal("storing a result", e))?;
    if let Err(error) = storage.put(&thumbnail_key, thumbnail).await {
        let _ = storage.delete(&key).await;
        return Err(Failure::internal("storing a result", error));
    }
    Ok(ResultFiles { key, thumbnail_key, content_type: content_type.into(), width, height, byte_size })
}

/// Files of a result nobody will point at (the job was cancelled or re-claimed meanwhile), and a
/// version a batch item saved.
pub async fn discard(store: &AiStore, owner: OwnerId, outcome: &Outcome) {
    if let Some(version) = outcome.version {
        // Unless a finished attempt of the same item points at it (its id is the item's).
        match store.db.delete_unclaimed_version(owner, version).await {
            Ok(()) => {
                if let Err(error) = crate::data::retention::purge(&store.db, &store.photos.storage).await {
                    tracing::warn!(%error, "could not purge an unused version; the retention sweep will");
                }
            }
            Err(error) => tracing::warn!(%error, "could not delete an unused version"),
        }
    }
    if let Some(result) = &outcome.result {
        for key in [&result.key, &result.thumbnail_key] {
            if let Err(error) = store.photos.storage.delete(key).await {
                tracing::warn!(%error, "could not delete an unused result; the retention sweep will");
            }
        }
    }
}
