//! The one `AppState`, built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::accounts::AccountStore;
use crate::config::Settings;
use crate::consent::PrivacyStore;
use crate::db::Db;
use crate::jobs::AiStore;
use crate::lifecycle::DataStore;
use crate::photos::PhotoStore;

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
}
