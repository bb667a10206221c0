//! Usage (what ran, by day and tool: `DataService::usage`, as the data page shows it) and the
//! credit balance with its ledger (`BillingService::credit_account`, as the credits page shows it).

use app::billing::{BillingMode, BillingService};
use app::data::DataService;
use app::developer::Scope;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::developer::caller::ApiCaller;
use crate::developer::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Usage {
    /// Operations and credits by day (`YYYY-MM-DD`, oldest first) and tool.
    pub by_day: Vec<UsageDay>,
    /// The latest metered operations, newest first.
    pub recent: Vec<UsageRecord>,
    pub total_credits: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageDay {
    pub day: String,
    pub tool: String,
    pub operations: u64,
    pub credits: u64,
}

/// One metered operation: never pixels or prompts.
#[derive(Serialize, ToSchema)]
pub struct UsageRecord {
    pub tool: String,
    pub duration_ms: u64,
    pub input_width: u32,
    pub input_height: u32,
    pub output_width: u32,
    pub output_height: u32,
    pub credits: u64,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Balance {
    /// `off` (nothing is counted or refused), `allowance` or `stripe`.
    pub mode: String,
    /// Credits free to spend (what running jobs hold is already taken off).
    pub balance: i64,
    /// Credits held by queued or running jobs.
    pub held: i64,
    pub monthly_allowance: i64,
    /// The ledger, newest first (at most 100 entries).
    pub entries: Vec<LedgerEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerEntry {
    /// grant, purchase, allowance, subscription, refund, reserve, capture or release.
    pub kind: String,
    /// Positive: credits in; negative: credits out.
    pub credits: i64,
    pub note: String,
    pub job_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The workspace's usage by day and tool, and its latest operations.
#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "usage",
    operation_id = "get_usage",
    responses((status = 200, body = Usage)),
    security(("bearer" = ["read"]))
)]
pub async fn usage(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
) -> Result<Json<Usage>, ApiError> {
    caller.require(Scope::Read)?;
    let report = state.data.usage(caller.owner).await?;
    Ok(Json(Usage {
        by_day: report
            .by_day
            .into_iter()
            .map(|(day, tool, operations, credits)| UsageDay { day, tool, operations, credits })
            .collect(),
        recent: report
            .recent
            .into_iter()
            .map(|r| UsageRecord {
                tool: r.tool,
                duration_ms: r.duration_ms,
                input_width: r.input_width,
                input_height: r.input_height,
                output_width: r.output_width,
                output_height: r.output_height,
                credits: r.credits,
                created_at: r.created_at,
            })
            .collect(),
        total_credits: report.total_credits,
    }))
}

/// The credit balance, what running jobs hold, and the ledger.
#[utoipa::path(
    get,
    path = "/api/v1/balance",
    tag = "usage",
    operation_id = "get_balance",
    responses((status = 200, body = Balance)),
    security(("bearer" = ["billing"]))
)]
pub async fn balance(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
) -> Result<Json<Balance>, ApiError> {
    caller.require(Scope::Billing)?;
    let account = state.credits.credit_account(caller.owner).await?;
    let mode = match account.mode {
        BillingMode::Off => "off",
        BillingMode::Allowance => "allowance",
        BillingMode::Stripe => "stripe",
    };
    Ok(Json(Balance {
        mode: mode.into(),
        balance: account.balance,
        held: account.held,
        monthly_allowance: account.monthly_allowance,
        entries: account
            .entries
            .into_iter()
            .map(|entry| LedgerEntry {
                kind: entry.kind.name().into(),
                credits: entry.credits,
                note: entry.note,
                job_id: entry.job_id,
                created_at: entry.created_at,
            })
            .collect(),
    }))
}
