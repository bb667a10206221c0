//! Photos: upload into the private workspace, edit in the browser, keep versions in the gallery.

pub mod api;
pub mod dropzone;
pub mod editor;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{EditorPage, GalleryPage, WorkspacePage};
#[cfg(feature = "ssr")]
pub use service::{PhotoService, Photos};
