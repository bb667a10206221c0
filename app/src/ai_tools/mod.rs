//! The AI tools: a request per tool, the jobs that run them on the server, the panel beside the
//! editor; and moderation's held uploads.

pub mod api;
mod forms;
mod model;
mod panel;
mod scene;
mod select_tools;
mod selection;
#[cfg(feature = "ssr")]
mod service;
mod tools;

pub use forms::SceneFields;
pub use model::*;
pub use panel::{AiPanelData, AiTools, HeldData, HeldUploads};
pub use scene::*;
pub use select_tools::{SelectionTools, Selector};
pub use selection::*;
#[cfg(feature = "ssr")]
pub use service::{Ai, AiService};
pub use tools::*;
