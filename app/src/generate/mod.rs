//! The generation studio: text-to-image and image-to-image through the image services an
//! operator configured, on the durable job queue, with a prompt history and templates.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::StudioPage;
#[cfg(feature = "ssr")]
pub use service::{GenerationService, Generations};
