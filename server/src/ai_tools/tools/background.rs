//! Remove background: IS-Net (anything) or MediaPipe (people, fast), onto transparency, a colour
//! or another photo of the same workspace.

use app::ai_tools::{Backdrop, ToolRequest};
use app::error::AppError;
use app::ids::OwnerId;
use app::photos::{PhotoService, PhotoSummary};
use async_trait::async_trait;

use super::{mismatch, parse_hex, Failure, Inputs, Produced, Tool, Work};
use crate::ai_tools::queue::Claimed;
use crate::ai_tools::AiStore;
use crate::platform::images;

pub struct RemoveBackground;

#[async_trait]
impl Tool for RemoveBackground {
    async fn validate(
        &self,
        ai: &AiStore,
        owner: OwnerId,
        _photo: &PhotoSummary,
        request: &ToolRequest,
    ) -> Result<(), AppError> {
        let ToolRequest::RemoveBackground { backdrop, feather, .. } = request else { return Ok(()) };
        if !(0.0..=50.0).contains(feather) {
            return Err(AppError::BadRequest("The soft edge is 0 to 50 pixels.".into()));
        }
        match backdrop {
            Backdrop::Colour { hex } => {
                parse_hex(hex).ok_or_else(|| AppError::BadRequest("The colour must look like #1a2b3c.".into()))?;
            }
            Backdrop::Photo { id } => {
                if ai.photos.photo(owner, *id).await?.held {
                    return Err(AppError::Forbidden("That background photo is held for review.".into()));
                }
            }
            Backdrop::Transparent => {}
        }
        Ok(())
    }

    /// The backdrop photo, when one was chosen: read now, checked again (it may have been held
    /// or deleted since the job was queued).
    async fn gather(&self, ai: &AiStore, job: &Claimed, request: &ToolRequest) -> Result<Inputs, Failure> {
        let ToolRequest::RemoveBackground { backdrop: Backdrop::Photo { id }, .. } = request else {
            return Ok(Inputs::default());
        };
        let (summary, other) = ai
            .db
            .photo(job.owner, *id)
            .await
            .map_err(|e| Failure::internal("reading a photo", e))?
            .ok_or_else(|| Failure::Permanent("The background photo was deleted.".into()))?;
        if summary.held {
            return Err(Failure::Permanent("The background photo is held for review.".into()));
        }
        let bytes =
            ai.photos.storage.get(&other.object_key).await.map_err(|e| Failure::internal("reading a photo", e))?;
        Ok(Inputs { extra: Some(bytes), ..Inputs::default() })
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::RemoveBackground { portrait, backdrop, refine, feather } = work.request else {
            return Err(mismatch());
        };
        let backdrop = match backdrop {
            Backdrop::Transparent => ai::background::Backdrop::Transparent,
            Backdrop::Colour { hex } => ai::background::Backdrop::Colour(parse_hex(&hex).unwrap_or([255, 255, 255])),
            Backdrop::Photo { .. } => {
                let other = work
                    .inputs
                    .extra
                    .as_deref()
                    .ok_or_else(|| Failure::Permanent("The background photo is missing.".into()))?;
                ai::background::Backdrop::Photo(
                    images::decode(other, work.max_pixels).map_err(|e| Failure::Permanent(e.to_string()))?.to_rgb8(),
                )
            }
        };
        let segmenter = if portrait { ai::background::Segmenter::Portrait } else { ai::background::Segmenter::Objects };
        let options = ai::background::Options { segmenter, backdrop, refine, feather };
        let result = ai::background::remove(work.engine, &work.image, &options, work.progress)?;
        let method = if portrait { "MediaPipe selfie segmentation" } else { "IS-Net" };
        Ok((Produced::Image(result), method.to_string()))
    }
}
