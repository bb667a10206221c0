//! People: the faces in a workspace's photos grouped by person, to name them and find their
//! photos. Face descriptors are biometric data: off by default, switched on per account only with
//! explicit consent (recorded), never for guests, never sent to any provider, and deleted at once,
//! every face and person, when switched off.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{PeoplePage, PeoplePolicy, PersonPage};
#[cfg(feature = "ssr")]
pub use service::{People, PeopleService};
