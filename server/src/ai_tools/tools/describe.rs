//! Tags and alt-text: detectors on this server plus the photo's camera facts; a configured vision
//! service may add a caption afterwards (see `tools::run`).

use app::ai_tools::{PhotoDescription, ToolRequest};
use async_trait::async_trait;

use super::{Failure, Inputs, Produced, Tool, Work};
use crate::ai_tools::queue::{Claimed, JobProgress};
use crate::ai_tools::AiStore;

pub struct Describe;

#[async_trait]
impl Tool for Describe {
    /// The camera facts read from the photo's metadata at upload (never its location).
    async fn gather(
        &self,
        ai: &AiStore,
        job: &Claimed,
        _request: &ToolRequest,
        _progress: &JobProgress,
    ) -> Result<Inputs, Failure> {
        let camera = ai.db.camera_facts(job.photo).await.map_err(|e| Failure::internal("reading a photo", e))?;
        Ok(Inputs { camera, ..Inputs::default() })
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let found = ai::describe::describe(work.engine, &work.image, work.inputs.camera.as_ref(), work.progress)?;
        let description = PhotoDescription { tags: found.tags, alt_text: found.alt_text, caption: None };
        Ok((Produced::Description(description), found.sources.join("; ")))
    }
}
