//! Accounts: sign-up, sign-in (passwords and providers, two-factor codes), sessions, password
//! resets, and the account page's settings (name, address, two-factor sign-in, mailings).

pub mod api;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;
mod settings;

pub use model::*;
pub use pages::{AccountMenu, AccountPage, ResetPage, SignInPage, SignUpPage, VerifyPage};
#[cfg(feature = "ssr")]
pub use service::{describe_device, AccountService, Accounts};
pub use settings::{AccountSettings, AnnouncementForm, EmailChangePage, SignInCodePage};
