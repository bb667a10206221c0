//! Accounts: sign-up, sign-in (passwords and providers), sessions, password resets.

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{AccountMenu, AccountPage, ResetPage, SignInPage, SignUpPage, VerifyPage};
#[cfg(feature = "ssr")]
pub use service::{describe_device, AccountService, Accounts};
