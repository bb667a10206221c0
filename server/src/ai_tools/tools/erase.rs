//! Magic eraser: fills what the person painted over (LaMa, or PatchMatch without the model). The
//! mask travels as a PNG data URL, is stored encrypted with the job, and never sits in its row.
//! Generative fill is the same brush with a prompt: an image service paints the masked part
//! anew (its inpainting endpoint), and only the masked part of the photo takes its pixels.

use std::sync::Arc;

use app::ai_tools::{ServicePrompt, ToolRequest};
use app::error::AppError;
use app::ids::{JobId, OwnerId};
use app::photos::PhotoSummary;
use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use image::{DynamicImage, GrayImage};

use super::{mismatch, photo_bytes, Failure, Inputs, Produced, Tool, Work};
use crate::ai_tools::queue::{Claimed, JobProgress};
use crate::ai_tools::AiStore;
use crate::generate::providers::{Call, Provider};
use crate::platform::images;
use crate::platform::storage::keys;

/// How far the service may move from the photo under the mask (the WebUI's denoising strength):
/// high, since the prompt asks for something new there.
const FILL_STRENGTH: f32 = 0.9;

/// The largest mask data URL accepted (the page body limit is the other bound).
const MAX_MASK_BYTES: usize = 4 * 1024 * 1024;
/// The editor paints masks of at most 1024 px; anything far larger is refused unread.
const MAX_MASK_SIDE: u32 = 4096;

pub struct Erase;

#[async_trait]
impl Tool for Erase {
    /// LaMa inpainting: many times faster on a GPU.
    fn gpu_worthy(&self) -> bool {
        true
    }

    async fn validate(
        &self,
        ai: &AiStore,
        _owner: OwnerId,
        _photo: &PhotoSummary,
        request: &ToolRequest,
    ) -> Result<(), AppError> {
        match request {
            ToolRequest::Erase { fill: Some(fill), .. } => fill_service(ai, fill).map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn prepare(
        &self,
        ai: &AiStore,
        owner: OwnerId,
        job: JobId,
        request: &mut ToolRequest,
    ) -> Result<Option<String>, AppError> {
        let ToolRequest::Erase { mask, .. } = request else { return Ok(None) };
        let bytes = decode_mask(mask)?;
        mask.clear();
        let key = keys::job_mask(owner, job);
        ai.photos.storage.put(&key, bytes).await?;
        Ok(Some(key))
    }

    async fn gather(
        &self,
        ai: &AiStore,
        job: &Claimed,
        request: &ToolRequest,
        progress: &JobProgress,
    ) -> Result<Inputs, Failure> {
        let key = job.mask_key.as_deref().ok_or_else(|| Failure::Permanent("The mask is missing.".into()))?;
        let mask = ai.photos.storage.get(key).await.map_err(|e| Failure::internal("reading a mask", e))?;
        let painted = match request {
            ToolRequest::Erase { fill: Some(fill), .. } => Some(paint(ai, job, fill, mask.clone(), progress).await?),
            _ => None,
        };
        Ok(Inputs { extra: Some(mask), painted, ..Inputs::default() })
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::Erase { .. } = work.request else { return Err(mismatch()) };
        let mask = work.inputs.extra.as_deref().ok_or_else(|| Failure::Permanent("The mask is missing.".into()))?;
        let mask = read_mask(mask)?;
        if let Some((painted, service)) = &work.inputs.painted {
            let painted = images::decode(painted, work.max_pixels)
                .map_err(|e| crate::generate::run::unkeepable(service, e))?
                .to_rgb8();
            // A soft edge about a two-hundredth of the photo wide hides the seam.
            let feather = (work.image.width().max(work.image.height()) as f32 / 200.0).clamp(1.5, 12.0);
            let result = ai::inpaint::blend_painted(&work.image, &painted, &mask, feather)?;
            return Ok((Produced::Image(DynamicImage::ImageRgb8(result)), format!("generative fill by {service}")));
        }
        let result = ai::inpaint::erase(work.engine, &work.image, &mask, work.progress)?;
        Ok((Produced::Image(DynamicImage::ImageRgb8(result)), ai::inpaint::method(work.engine).to_string()))
    }
}

fn read_mask(png: &[u8]) -> Result<GrayImage, Failure> {
    Ok(image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|_| Failure::Permanent("The mask could not be read.".into()))?
        .to_luma8())
}

/// The image service a fill names, checked with its prompt.
fn fill_service(ai: &AiStore, fill: &ServicePrompt) -> Result<Arc<Provider>, AppError> {
    ai.generation.for_prompt(fill, true).map_err(AppError::BadRequest)
}

/// Asks the service to paint the masked part: the photo and the mask at the size it works at
/// (its size for the photo's nearest shape), the prompt; the answer is moderated like an upload.
async fn paint(
    ai: &AiStore,
    job: &Claimed,
    fill: &ServicePrompt,
    mask: Bytes,
    progress: &JobProgress,
) -> Result<(Bytes, String), Failure> {
    let provider = fill_service(ai, fill).map_err(|error| Failure::Permanent(error.to_string()))?;
    let (photo, bytes) = photo_bytes(ai, job.owner, job.photo).await?;
    let (width, height) = provider.size_near(photo.width, photo.height);
    let max_pixels = ai.photos.images.max_pixels;
    let (image_png, mask_png) = tokio::task::spawn_blocking(move || {
        let image = images::decode(&bytes, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8();
        let mask = read_mask(&mask)?;
        let filter = image::imageops::FilterType::Triangle;
        let png = |image: DynamicImage| ai::encode_png(&image).map_err(|e| Failure::internal("encoding a fill", e));
        let image = png(DynamicImage::ImageRgb8(image::imageops::resize(&image, width, height, filter)))?;
        let mask = png(DynamicImage::ImageLuma8(image::imageops::resize(&mask, width, height, filter)))?;
        Ok::<_, Failure>((image, mask))
    })
    .await
    .map_err(|e| Failure::internal("preparing a fill", e))??;
    let call = Call {
        reference: Some((&image_png, FILL_STRENGTH)),
        mask: Some(&mask_png),
        ..Call::prompt(provider.models.first().map(String::as_str), fill.prompt.trim(), (width, height))
    };
    let made = crate::generate::run::ask(&provider, &call, progress).await?;
    crate::generate::run::moderate(ai, made.image.clone(), &provider.name).await?;
    Ok((made.image, provider.name.clone()))
}

/// The PNG bytes of a `data:image/png;base64,…` mask.
fn decode_mask(data_url: &str) -> Result<Vec<u8>, AppError> {
    let bad = || AppError::BadRequest("The mask must be a PNG painted in the editor.".into());
    if data_url.len() > MAX_MASK_BYTES {
        return Err(AppError::BadRequest("The mask is too large.".into()));
    }
    let encoded = data_url.strip_prefix("data:image/png;base64,").ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad())?;
    if image::guess_format(&bytes).ok() != Some(image::ImageFormat::Png) {
        return Err(bad());
    }
    // The header only: a small file declaring a huge image is refused before it is decoded.
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(&bytes), image::ImageFormat::Png)
        .into_dimensions()
        .map_err(|_| bad())?;
    if width > MAX_MASK_SIDE || height > MAX_MASK_SIDE {
        return Err(AppError::BadRequest(format!("The mask may be at most {MAX_MASK_SIDE} pixels on a side.")));
    }
    Ok(bytes)
}
