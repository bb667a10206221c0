//! The person's own data: usage, the audit log, "Download my data" and "Delete my account"; and
//! the model of an administrator's audited view of a workspace.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{audit_table, YourData, YourDataResources};
#[cfg(feature = "ssr")]
pub use service::{Data, DataService};
