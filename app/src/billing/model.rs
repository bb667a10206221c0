//! What crosses the wire about credits.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;

/// How the operator bills: `off` (the default: nothing is counted against anyone), `allowance`
/// (each workspace gets a monthly allowance and jobs are refused beyond it), `stripe` (the
/// allowance plus credits people buy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingMode {
    #[default]
    Off,
    Allowance,
    Stripe,
}

impl BillingMode {
    /// Whether balances are kept and enforced.
    pub fn enforced(self) -> bool {
        self != BillingMode::Off
    }
}

impl FromStr for BillingMode {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(BillingMode::Off),
            "allowance" => Ok(BillingMode::Allowance),
            "stripe" => Ok(BillingMode::Stripe),
            other => Err(format!("\"{other}\" is not a billing mode (off, allowance or stripe)")),
        }
    }
}

/// What a ledger entry records. The balance is the sum of every entry's credits (see
/// `server::billing::ledger` for the arithmetic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An administrator gave credits.
    Grant,
    /// Credits bought (a checkout).
    Purchase,
    /// The monthly free allowance.
    Allowance,
    /// Credits a subscription brings each period.
    Subscription,
    /// Credits given back for a payment that was refunded or disputed (negative).
    Refund,
    /// Held for a queued job (negative).
    Reserve,
    /// The job succeeded: its reservation became consumption (zero: the credits left at reserve).
    Capture,
    /// The job failed or was cancelled: its reservation comes back (positive).
    Release,
}

impl EntryKind {
    pub const ALL: &'static [EntryKind] = &[
        EntryKind::Grant,
        EntryKind::Purchase,
        EntryKind::Allowance,
        EntryKind::Subscription,
        EntryKind::Refund,
        EntryKind::Reserve,
        EntryKind::Capture,
        EntryKind::Release,
    ];

    /// The name stored in the ledger's `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Purchase => "purchase",
            EntryKind::Allowance => "allowance",
            EntryKind::Subscription => "subscription",
            EntryKind::Refund => "refund",
            EntryKind::Reserve => "reserve",
            EntryKind::Capture => "capture",
            EntryKind::Release => "release",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        EntryKind::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    /// As the ledger history names it.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Grant => "Granted by an administrator",
            EntryKind::Purchase => "Bought",
            EntryKind::Allowance => "Monthly allowance",
            EntryKind::Subscription => "Subscription",
            EntryKind::Refund => "Refund",
            EntryKind::Reserve => "Held for a job",
            EntryKind::Capture => "Used by a job",
            EntryKind::Release => "Returned from a job",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of the ledger as its workspace sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub kind: EntryKind,
    pub credits: i64,
    pub note: String,
    pub job_id: Option<String>,
    pub created_at: i64,
}

/// The workspace's credits: what it may spend now, what running jobs hold, and its history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditAccount {
    pub mode: BillingMode,
    /// Credits free to spend (reservations already taken off).
    pub balance: i64,
    /// Credits held by queued or running jobs.
    pub held: i64,
    /// The monthly allowance this workspace gets (0: none).
    pub monthly_allowance: i64,
    /// Newest first, at most 100.
    pub entries: Vec<LedgerEntry>,
}

/// What each tool costs (by tool name), and how the operator bills.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditPrices {
    pub mode: BillingMode,
    pub costs: BTreeMap<String, i64>,
}

impl CreditPrices {
    /// The cost of a tool by name (unlisted tools cost one credit).
    pub fn cost(&self, tool: &str) -> i64 {
        self.costs.get(tool).copied().unwrap_or(1)
    }

    /// "3 credits", "1 credit", or "free" when billing is off.
    pub fn label(&self, credits: i64) -> String {
        if !self.mode.enforced() {
            return "free".into();
        }
        credits_label(credits)
    }
}

/// "1 credit", "4 credits".
pub fn credits_label(credits: i64) -> String {
    if credits == 1 {
        "1 credit".into()
    } else {
        format!("{credits} credits")
    }
}

/// An administrator's grant, as the admin page sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreditGrant {
    pub account: AccountId,
    pub credits: i64,
    pub note: String,
    /// A fresh token per form: the same form sent twice grants once.
    pub reference: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_kind_reads_back_from_its_name() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.name()), Some(*kind));
        }
        assert_eq!(EntryKind::parse("balance"), None);
    }

    #[test]
    fn billing_mode_parses_the_settings_words() {
        assert_eq!("Allowance".parse::<BillingMode>(), Ok(BillingMode::Allowance));
        assert_eq!("off".parse::<BillingMode>(), Ok(BillingMode::Off));
        assert!("free".parse::<BillingMode>().is_err());
        assert!(!BillingMode::default().enforced());
    }

    #[test]
    fn prices_read_as_free_when_billing_is_off() {
        let mut prices = CreditPrices::default();
        prices.costs.insert("upscale".into(), 4);
        assert_eq!(prices.label(prices.cost("upscale")), "free");
        prices.mode = BillingMode::Allowance;
        assert_eq!(prices.label(prices.cost("upscale")), "4 credits");
        assert_eq!(prices.label(prices.cost("unknown")), "1 credit");
    }
}
