//! Pre-bind checks and their flags.
//!
//! A [`Flag`] is one failed check: a stable code, a message, and whether it blocks binding outright
//! ([`Severity::Block`]) or until a referral is approved ([`Severity::Refer`]). At quote time every
//! check runs and the flags are stored on the quote; bind re-runs them all and refuses while any
//! stands, listing every one.
//!
//! Freshness is in the types: binding takes a [`FreshQuote`], which only [`FreshQuote::check`] makes,
//! and only for a quote whose `expires_at` is after the time given.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::quote::Quote;

/// How a failed check stops a bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Binding is refused while it stands.
    Block,
    /// Binding needs an approved referral.
    Refer,
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    /// Stable code (`quote_expired`, `da_state_not_authorized`, ...).
    pub code: String,
    /// Block or refer.
    pub severity: Severity,
    /// What failed, for people.
    pub message: String,
}

impl Flag {
    /// A blocking flag.
    pub fn block(code: &str, message: impl Into<String>) -> Self {
        Flag { code: code.to_owned(), severity: Severity::Block, message: message.into() }
    }

    /// A flag that needs a referral.
    pub fn refer(code: &str, message: impl Into<String>) -> Self {
        Flag { code: code.to_owned(), severity: Severity::Refer, message: message.into() }
    }
}

/// A quote checked to be unexpired at a given time. Only [`FreshQuote::check`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshQuote {
    quote: Quote,
    checked_at: DateTime<Utc>,
}

impl FreshQuote {
    /// The quote, if `now` is before its `expires_at`; the `quote_expired` flag otherwise.
    pub fn check(quote: Quote, now: DateTime<Utc>) -> Result<FreshQuote, Flag> {
        if quote.is_fresh(now) {
            Ok(FreshQuote { quote, checked_at: now })
        } else {
            Err(Flag::block(
                "quote_expired",
                format!("quote `{}` expired at {}", quote.id, quote.expires_at.to_rfc3339()),
            ))
        }
    }

    /// The quote.
    pub fn quote(&self) -> &Quote {
        &self.quote
    }

    /// When freshness was checked.
    pub fn checked_at(&self) -> DateTime<Utc> {
        self.checked_at
    }

    /// The quote, giving up the proof.
    pub fn into_quote(self) -> Quote {
        self.quote
    }
}
