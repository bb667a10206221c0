//! Remove background: IS-Net (anything) or MediaPipe (people, fast), onto transparency, a colour
//! or another photo of the same workspace.

use app::ai_tools::{Backdrop, ToolRequest};
use async_trait::async_trait;

use super::{mismatch, parse_hex, Failure, Produced, Tool, Work};

pub struct RemoveBackground;

#[async_trait]
impl Tool for RemoveBackground {
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
