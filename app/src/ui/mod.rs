//! Pieces every feature's pages use, and no feature owns.

pub mod feedback;
pub mod format;

pub use feedback::{action_error, ask_again, copy_to_clipboard, reload_to, ErrorNote};
pub use format::{bytes, day, when};
