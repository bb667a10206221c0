//! Magic eraser: fills what the person painted over (LaMa, or PatchMatch without the model). The
//! mask travels as a PNG data URL, is stored encrypted with the job, and never sits in its row.

use app::ai_tools::ToolRequest;
use app::error::AppError;
use app::ids::{JobId, OwnerId};
use async_trait::async_trait;
use base64::Engine as _;
use image::{DynamicImage, GrayImage};

use super::{mismatch, Failure, Inputs, Produced, Tool, Work};
use crate::ai_tools::queue::Claimed;
use crate::ai_tools::AiStore;
use crate::platform::storage::keys;

/// The largest mask data URL accepted (the page body limit is the other bound).
const MAX_MASK_BYTES: usize = 4 * 1024 * 1024;
/// The editor paints masks of at most 1024 px; anything far larger is refused unread.
const MAX_MASK_SIDE: u32 = 4096;

pub struct Erase;

#[async_trait]
impl Tool for Erase {
    async fn prepare(
        &self,
        ai: &AiStore,
        owner: OwnerId,
        job: JobId,
        request: &mut ToolRequest,
    ) -> Result<Option<String>, AppError> {
        let ToolRequest::Erase { mask } = request else { return Ok(None) };
        let bytes = decode_mask(mask)?;
        mask.clear();
        let key = keys::job_mask(owner, job);
        ai.photos.storage.put(&key, bytes).await?;
        Ok(Some(key))
    }

    async fn gather(&self, ai: &AiStore, job: &Claimed, _request: &ToolRequest) -> Result<Inputs, Failure> {
        let key = job.mask_key.as_deref().ok_or_else(|| Failure::Permanent("The mask is missing.".into()))?;
        let mask = ai.photos.storage.get(key).await.map_err(|e| Failure::internal("reading a mask", e))?;
        Ok(Inputs { extra: Some(mask), ..Inputs::default() })
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::Erase { .. } = work.request else { return Err(mismatch()) };
        let mask = work.inputs.extra.as_deref().ok_or_else(|| Failure::Permanent("The mask is missing.".into()))?;
        let mask: GrayImage = image::load_from_memory_with_format(mask, image::ImageFormat::Png)
            .map_err(|_| Failure::Permanent("The mask could not be read.".into()))?
            .to_luma8();
        let result = ai::inpaint::erase(work.engine, &work.image, &mask, work.progress)?;
        Ok((Produced::Image(DynamicImage::ImageRgb8(result)), ai::inpaint::method(work.engine).to_string()))
    }
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
