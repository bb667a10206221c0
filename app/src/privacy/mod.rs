//! Privacy: the cookie registry and consent, the consent banner and settings, and the privacy
//! and cookie policies written from the live configuration.

pub mod api;
mod consent;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use consent::*;
pub use pages::{ConsentBanner, ConsentHistoryList, CookiePolicyPage, PrivacyPage};
#[cfg(feature = "ssr")]
pub use service::{Privacy, PrivacyService};
