//! Batch pipelines: a saved chain of edits, AI tools, a product scene and an export, run over
//! many photos on the durable job queue, with live progress and the results as gallery versions
//! or one streamed zip.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{BatchPage, BatchesPage};
#[cfg(feature = "ssr")]
pub use service::{BatchService, Batches};

/// The ready pipelines as the batch page lists them.
pub fn ready_views() -> Vec<PipelineView> {
    ready_pipelines()
        .into_iter()
        .map(|(id, pipeline)| PipelineView { choice: PipelineChoice::Ready { id: id.into() }, pipeline, ready: true })
        .collect()
}
