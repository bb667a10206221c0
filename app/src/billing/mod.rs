//! Credits: what each tool costs, the workspace's balance and its ledger, admin grants.
//! The server keeps the ledger (`server::billing`); the pages show it before anything runs.

pub mod api;
pub mod checkout;
mod model;
mod pages;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
pub use pages::{load_prices, CostNote, CreditsData, CreditsSection, GrantCredits, PipelineCost, Prices};
#[cfg(feature = "ssr")]
pub use service::{Billing, BillingService};
