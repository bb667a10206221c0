//! Near-duplicates: copies of one picture and bursts of one scene in the workspace, grouped with
//! the best (sharpest, best exposed) first, to keep it and delete the others.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::DuplicatesSection;
#[cfg(feature = "ssr")]
pub use service::{DuplicateService, Duplicates};
