//! Search in the workspace and the gallery: one box over names, tags, alt-text, text in the
//! photo, camera facts, colours and dates, by words (the database's full-text index) and by
//! meaning (sentence embeddings), with filters.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::SearchBox;
#[cfg(feature = "ssr")]
pub use service::{SearchService, Searches};
