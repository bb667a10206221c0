//! Upscale x2 or x4: ESRGAN (three sizes of model) or Real-ESRGAN x4plus for photos, within the
//! configured pixel limit.

use app::ai_tools::{ToolRequest, UpscaleQuality};
use app::error::AppError;
use app::ids::OwnerId;
use app::photos::PhotoSummary;
use async_trait::async_trait;
use image::DynamicImage;

use super::{mismatch, Failure, Produced, Tool, Work};
use crate::ai_tools::AiStore;

pub struct Upscale;

#[async_trait]
impl Tool for Upscale {
    /// Real-ESRGAN over a whole photo, tile by tile: many times faster on a GPU.
    fn gpu_worthy(&self) -> bool {
        true
    }

    async fn validate(
        &self,
        ai: &AiStore,
        _owner: OwnerId,
        photo: &PhotoSummary,
        request: &ToolRequest,
    ) -> Result<(), AppError> {
        // The factor's values are `ToolRequest::check`'s; the size needs the photo.
        let ToolRequest::Upscale { factor, .. } = request else { return Ok(()) };
        let pixels = u64::from(photo.width) * u64::from(photo.height) * u64::from(factor * factor);
        let limit = ai.settings.max_upscale_pixels;
        if pixels > limit {
            return Err(AppError::BadRequest(format!(
                "Upscaled x{factor} this photo would have {} megapixels; the limit is {}.",
                pixels / 1_000_000,
                limit / 1_000_000
            )));
        }
        Ok(())
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::Upscale { factor, quality } = work.request else { return Err(mismatch()) };
        let quality = match quality {
            UpscaleQuality::Fast => ai::upscale::Quality::Fast,
            UpscaleQuality::Balanced => ai::upscale::Quality::Balanced,
            UpscaleQuality::Best => ai::upscale::Quality::Best,
            UpscaleQuality::Photo => ai::upscale::Quality::Photo,
        };
        let result =
            ai::upscale::upscale(work.engine, &work.image, factor, quality, work.max_upscale_pixels, work.progress)?;
        Ok((Produced::Image(DynamicImage::ImageRgb8(result)), ai::upscale::model_id(factor, quality)))
    }
}
