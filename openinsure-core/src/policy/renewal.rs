//! Renewals: the next term is underwritten as new business on its own dates.
//!
//! A renewal is re-rated on the rate table in force on the renewal's effective date (the
//! expiring term's schedule credits and debits carried over), with the risk as endorsed, and
//! passes every pre-bind check on its own dates: the DA agreement in force then (an agreement
//! that has expired by then refuses it as it refuses new business, `da_outside_period`), its
//! capacity (a renewal counts against it), the binder's authority and eligibility. The
//! [`RenewalOffer`] shows both premiums and the change.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;
use crate::ids::{DaAgreementId, PolicyId};
use crate::money::Money;
use crate::policy::Policy;
use crate::quote::Rating;
use crate::submission::Submission;
use crate::underwriting::checks::Flag;

/// What renewing a policy would cost and whether it can be bound now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenewalOffer {
    /// The expiring policy.
    pub policy_id: PolicyId,
    /// The renewal's first day.
    pub effective_date: NaiveDate,
    /// The renewal's expiration date.
    pub expiration_date: NaiveDate,
    /// The expiring term's annual premium in force (with its endorsements).
    #[serde(rename = "expiringPremiumCents")]
    pub expiring_premium: Money,
    /// The renewal's premium.
    #[serde(rename = "renewalPremiumCents")]
    pub renewal_premium: Money,
    /// Renewal less expiring.
    #[serde(rename = "changeCents")]
    pub change: Money,
    /// The change in percent of the expiring premium, rounded half-even to two places (absent
    /// when the expiring premium is zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_percent: Option<Decimal>,
    /// The renewal's rating: totals, worksheet and the table it was rated on.
    pub rating: Rating,
    /// The DA agreement it would be written under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_agreement_id: Option<DaAgreementId>,
    /// The checks a renewal bind would fail now (none: it can be bound).
    pub flags: Vec<Flag>,
}

impl RenewalOffer {
    /// The offer of `policy` renewed on `rating`, with the checks' `flags`.
    pub fn new(
        policy: &Policy,
        (effective_date, expiration_date): (NaiveDate, NaiveDate),
        rating: Rating,
        da_agreement_id: Option<DaAgreementId>,
        flags: Vec<Flag>,
    ) -> Result<RenewalOffer, crate::money::MoneyError> {
        let expiring_premium = policy.current_annual_premium()?;
        let renewal_premium = rating.totals.gross_premium;
        let change = renewal_premium.checked_sub(expiring_premium)?;
        let change_percent = (!expiring_premium.is_zero()).then(|| {
            (Decimal::from(change.cents()) * Decimal::ONE_HUNDRED / Decimal::from(expiring_premium.cents()))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven)
        });
        Ok(RenewalOffer {
            policy_id: policy.id,
            effective_date,
            expiration_date,
            expiring_premium,
            renewal_premium,
            change,
            change_percent,
            rating,
            da_agreement_id,
            flags,
        })
    }
}

impl Policy {
    /// The risk the renewal is underwritten on: the submission with every endorsement's changes,
    /// effective on the next term's first day.
    pub fn renewal_risk(&self, submission: &Submission) -> Result<Submission, FieldErrors> {
        let mut risk = self.risk_changes.apply(submission, "riskChanges")?;
        if let Ok((start, _)) = self.next_term() {
            risk.effective_date = start;
        }
        Ok(risk)
    }
}
