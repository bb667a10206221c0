//! Administration: one page, built from the features' admin pieces.

mod page;

pub use page::AdminPage;
