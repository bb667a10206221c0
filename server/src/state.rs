//! The one `AppState`, built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::accounts::AccountStore;
use crate::ai_tools::AiStore;
use crate::billing::CreditStore;
use crate::config::Settings;
use crate::data::DataStore;
use crate::developer::DeveloperStore;
use crate::photos::PhotoStore;
use crate::platform::db::Db;
use crate::platform::rate::RateLimits;
use crate::privacy::PrivacyStore;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub db: Db,
    pub photos: Arc<PhotoStore>,
    pub accounts: Arc<AccountStore>,
    pub privacy: Arc<PrivacyStore>,
    pub data: Arc<DataStore>,
    pub ai: Arc<AiStore>,
    pub limits: Arc<RateLimits>,
    /// Credits: balances, grants, and what payments credit.
    pub credits: Arc<CreditStore>,
    /// API keys, their limits and the call log (`/api/v1` and the account page).
    pub developer: Arc<DeveloperStore>,
}
