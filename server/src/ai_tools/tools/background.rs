//! Remove background: IS-Net (anything) or MediaPipe (people, fast), onto transparency, a colour
//! or another photo of the same workspace.

use app::ai_tools::{Backdrop, ToolRequest};
use app::error::AppError;
use app::ids::OwnerId;
use app::photos::PhotoSummary;
use async_trait::async_trait;

use super::{
    check_other_photo, mismatch, other_photo_inputs, parse_hex, Failure, Inputs, Produced, Tool, Work, BACKDROP,
};
use crate::ai_tools::queue::{Claimed, JobProgress};
use crate::ai_tools::AiStore;

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
        // The options' ranges are `ToolRequest::check`'s.
        match request {
            ToolRequest::RemoveBackground { backdrop: Backdrop::Photo { id }, .. } => {
                check_other_photo(ai, owner, *id, BACKDROP).await
            }
            _ => Ok(()),
        }
    }

    /// The backdrop photo, when one was chosen: read now, checked again (it may have been held
    /// or deleted since the job was queued).
    async fn gather(
        &self,
        ai: &AiStore,
        job: &Claimed,
        request: &ToolRequest,
        _progress: &JobProgress,
    ) -> Result<Inputs, Failure> {
        let ToolRequest::RemoveBackground { backdrop: Backdrop::Photo { id }, .. } = request else {
            return Ok(Inputs::default());
        };
        other_photo_inputs(ai, job.owner, *id, BACKDROP).await
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::RemoveBackground { portrait, backdrop, refine, feather } = work.request else {
            return Err(mismatch());
        };
        let backdrop = match backdrop {
            Backdrop::Transparent => ai::background::Backdrop::Transparent,
            Backdrop::Colour { hex } => ai::background::Backdrop::Colour(parse_hex(&hex).unwrap_or([255, 255, 255])),
            Backdrop::Photo { .. } => ai::background::Backdrop::Photo(work.inputs.other_photo(work.max_pixels)?),
        };
        let segmenter = if portrait { ai::background::Segmenter::Portrait } else { ai::background::Segmenter::Objects };
        let options = ai::background::Options { segmenter, backdrop, refine, feather };
        let result = ai::background::remove(work.engine, &work.image, &options, work.progress)?;
        let method = if portrait { "MediaPipe selfie segmentation" } else { "IS-Net" };
        Ok((Produced::Image(result), method.to_string()))
    }
}
