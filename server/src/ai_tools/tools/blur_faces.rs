//! Blur faces: every face BlazeFace finds, or the boxes the person picked, blurred or pixelated.
//! The positions found are used and dropped: only their count reaches the job's details.

use app::ai_tools::{FaceBlur, ToolRequest};
use async_trait::async_trait;

use super::{mismatch, with_alpha, Failure, Produced, Tool, Work};

pub struct BlurFaces;

#[async_trait]
impl Tool for BlurFaces {
    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::BlurFaces { style, strength, faces } = &work.request else { return Err(mismatch()) };
        let (style, done) = match style {
            FaceBlur::Blur => (ai::faces::Style::Blur, "blurred"),
            FaceBlur::Pixelate => (ai::faces::Style::Pixelate, "pixelated"),
        };
        let hidden =
            ai::faces::blur_faces(work.engine, &work.image, style, *strength, faces.as_deref(), work.progress)?;
        let counted = if hidden.faces == 1 { "1 face".to_string() } else { format!("{} faces", hidden.faces) };
        let method = match faces {
            Some(_) => format!("{counted} picked, {done}"),
            None => format!("{counted} found by BlazeFace ({}), {done}", ai::describe::FACES),
        };
        Ok((Produced::Image(with_alpha(hidden.image, work.alpha)), method))
    }
}
