//! Server functions for credits: prices, the visitor's balance, administrators' grants.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::billing::Billing;
#[cfg(feature = "ssr")]
use crate::server_fn::{admin, run, service, visitor};

use crate::billing::{CreditAccount, CreditGrant, CreditPrices};
use crate::error::AppError;

#[server(endpoint = "billing/prices")]
pub async fn tool_credit_prices() -> Result<CreditPrices, AppError> {
    run(async { service::<Billing>()?.prices().await }).await
}

/// The visitor's credits; a visitor with no workspace yet has an empty account.
#[server(endpoint = "billing/account")]
pub async fn my_credit_account() -> Result<CreditAccount, AppError> {
    run(async {
        let billing = service::<Billing>()?;
        match visitor().await? {
            Some(owner) => billing.credit_account(owner).await,
            None => Ok(CreditAccount { mode: billing.prices().await?.mode, ..CreditAccount::default() }),
        }
    })
    .await
}

#[server(endpoint = "admin/grant-credits")]
pub async fn admin_grant_credits(grant: CreditGrant) -> Result<bool, AppError> {
    run(async { service::<Billing>()?.grant_credits(admin().await?, grant).await }).await
}
