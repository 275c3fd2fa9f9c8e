//! Bordereaux: the premium (risk) and claims bordereau of a DA agreement for a month.
//!
//! Built from the org's event history (what happened, when) and its policies and claims (who and
//! what), so every transaction is its own row: new business, endorsement, cancellation,
//! reinstatement and renewal rows carry the written premium movement and its split; premium
//! received and refunded rows carry the money collected and returned, split exactly as the
//! ledger split it (the same rounding: each commission half-even, the carrier's net the rest),
//! so their totals equal the ledger's movements for the agreement's policies in the month. The
//! columns follow the Lloyd's Coverholder Reporting Standards (v5) risk and claims bordereaux
//! where they apply (certificate reference = policy number, insured, risk state, inception and
//! expiry, transaction type and effective date, gross premium, taxes, commission, net to
//! underwriters; claim reference, date of loss, paid, reserve movement, recoveries). No PHI is
//! read or written: claim rows carry the claim id, the policy and the amounts only.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use openinsure_core::claims::ClaimMoneyKind;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{ClaimId, DaAgreementId, PolicyId};
use openinsure_core::money::Money;
use openinsure_core::policy::Policy;
use openinsure_core::underwriting::da::DaAgreement;
use serde::Serialize;

use crate::ops::{LedgerError, SplitTerms, premium_shares};

/// One row of the risk bordereau.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskRow {
    /// `new_business`, `endorsement`, `cancellation`, `reinstatement`, `renewal`,
    /// `premium_received` or `premium_refunded`.
    pub transaction: String,
    /// The certificate reference: the policy number.
    pub policy_number: String,
    /// The policy.
    pub policy_id: PolicyId,
    /// The insured.
    pub insured_name: String,
    /// The risk state.
    pub risk_state: String,
    /// Risk inception.
    pub inception_date: NaiveDate,
    /// Risk expiry.
    pub expiry_date: NaiveDate,
    /// When the transaction takes effect.
    pub effective_date: NaiveDate,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Gross premium of this transaction (negative for a return).
    #[serde(rename = "grossPremiumCents")]
    pub gross_premium: Money,
    /// Taxes of this transaction.
    #[serde(rename = "taxesCents")]
    pub taxes: Money,
    /// The producer's commission on it.
    #[serde(rename = "producerCommissionCents")]
    pub producer_commission: Money,
    /// The MGA's (coverholder's) commission on it.
    #[serde(rename = "mgaCommissionCents")]
    pub mga_commission: Money,
    /// Net premium to the carrier (underwriters).
    #[serde(rename = "netToCarrierCents")]
    pub net_to_carrier: Money,
}

/// One row of the claims bordereau.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRow {
    /// The claim reference.
    pub claim_id: ClaimId,
    /// The policy's number.
    pub policy_number: String,
    /// The date of loss.
    pub date_of_loss: NaiveDate,
    /// `payment`, `reserve`, `subrogation`, `salvage` or `reinsurance_recovery`.
    pub transaction: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Paid this time.
    #[serde(rename = "paidCents")]
    pub paid: Money,
    /// The change of the case reserve (a payment's takedown is negative).
    #[serde(rename = "reserveChangeCents")]
    pub reserve_change: Money,
    /// Recovered this time.
    #[serde(rename = "recoveredCents")]
    pub recovered: Money,
}

/// The totals of a bordereau's rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Written premium movements (new business ... renewal rows).
    #[serde(rename = "writtenPremiumCents")]
    pub written_premium: Money,
    /// Premium received less refunded.
    #[serde(rename = "premiumCollectedCents")]
    pub premium_collected: Money,
    /// Taxes collected less refunded.
    #[serde(rename = "taxesCollectedCents")]
    pub taxes_collected: Money,
    /// Producer commission on the premium collected.
    #[serde(rename = "producerCommissionCents")]
    pub producer_commission: Money,
    /// MGA commission on the premium collected.
    #[serde(rename = "mgaCommissionCents")]
    pub mga_commission: Money,
    /// Net to the carrier of the premium collected.
    #[serde(rename = "netToCarrierCents")]
    pub net_to_carrier: Money,
    /// Claims paid.
    #[serde(rename = "claimsPaidCents")]
    pub claims_paid: Money,
    /// Reserve movement.
    #[serde(rename = "reserveChangeCents")]
    pub reserve_change: Money,
    /// Recoveries.
    #[serde(rename = "recoveredCents")]
    pub recovered: Money,
}

/// A DA agreement's bordereaux for a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bordereau {
    /// The agreement.
    pub agreement_id: DaAgreementId,
    /// Its carrier.
    pub carrier_id: openinsure_core::ids::CarrierId,
    /// Its program.
    pub program_id: openinsure_core::ids::ProgramId,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The risk (premium) bordereau.
    pub risk: Vec<RiskRow>,
    /// The claims bordereau.
    pub claims: Vec<ClaimRow>,
    /// Their totals.
    pub totals: Totals,
}

/// What a claim row needs of its claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRef {
    /// The policy.
    pub policy_id: PolicyId,
    /// The date of loss.
    pub date_of_loss: NaiveDate,
}

/// Builds the bordereaux of `agreement` for `(year, month)` from the org's `events`, with its
/// `policies` and `claims` by id. Events of other agreements' policies and other months are left
/// out.
pub fn bordereau(
    agreement: &DaAgreement,
    (year, month): (i32, u32),
    events: &[EventEnvelope],
    policies: &BTreeMap<PolicyId, Policy>,
    claims: &BTreeMap<ClaimId, ClaimRef>,
) -> Result<Bordereau, LedgerError> {
    let mut risk = Vec::new();
    let mut claim_rows = Vec::new();
    let ours = |id: &PolicyId| policies.get(id).filter(|p| p.da_agreement_id == Some(agreement.id));
    for e in events.iter().filter(|e| e.occurred_at.year() == year && e.occurred_at.month() == month) {
        let at = e.occurred_at;
        let written = |p: &Policy, kind: &str, date: NaiveDate, premium: Money, taxes: Money| {
            row(p, kind, date, at, premium, taxes, terms(p))
        };
        match &e.event {
            DomainEvent::PolicyBound { policy_id, premium, .. } => {
                if let Some(p) = ours(policy_id) {
                    let taxes = p.segments.first().map_or(p.taxes, |s| s.taxes);
                    risk.push(written(p, "new_business", p.effective_date, *premium, taxes)?);
                }
            }
            DomainEvent::PolicyRenewed { renewal_policy_id, .. } => {
                if let Some(p) = ours(renewal_policy_id) {
                    risk.push(written(p, "renewal", p.effective_date, p.annual_premium, p.taxes)?);
                }
            }
            DomainEvent::PolicyEndorsed { policy_id, effective_date, premium_change, taxes_change } => {
                if let Some(p) = ours(policy_id) {
                    risk.push(written(p, "endorsement", *effective_date, *premium_change, *taxes_change)?);
                }
            }
            DomainEvent::PolicyCancelled { policy_id, effective_date, return_premium, return_taxes, .. } => {
                if let Some(p) = ours(policy_id) {
                    let (premium, taxes) = (neg(*return_premium)?, neg(*return_taxes)?);
                    risk.push(written(p, "cancellation", *effective_date, premium, taxes)?);
                }
            }
            DomainEvent::PolicyReinstated { policy_id, restored_premium, restored_taxes } => {
                if let Some(p) = ours(policy_id) {
                    let date = at.date_naive().max(p.effective_date);
                    risk.push(written(p, "reinstatement", date, *restored_premium, *restored_taxes)?);
                }
            }
            DomainEvent::PaymentReceived {
                policy_id,
                premium,
                taxes,
                producer_commission_rate,
                mga_commission_rate,
                ..
            } => {
                if let Some(p) = ours(policy_id) {
                    let t = SplitTerms {
                        producer_commission_rate: *producer_commission_rate,
                        mga_commission_rate: *mga_commission_rate,
                    };
                    risk.push(row(p, "premium_received", at.date_naive(), at, *premium, *taxes, t)?);
                }
            }
            DomainEvent::PremiumRefunded {
                policy_id,
                premium,
                taxes,
                producer_commission_rate,
                mga_commission_rate,
                ..
            } => {
                if let Some(p) = ours(policy_id) {
                    let t = SplitTerms {
                        producer_commission_rate: *producer_commission_rate,
                        mga_commission_rate: *mga_commission_rate,
                    };
                    risk.push(row(p, "premium_refunded", at.date_naive(), at, neg(*premium)?, neg(*taxes)?, t)?);
                }
            }
            DomainEvent::ClaimTransaction { claim_id, money } => {
                let Some(c) = claims.get(claim_id) else { continue };
                let Some(p) = ours(&c.policy_id) else { continue };
                let (kind, paid, reserve_change, recovered) = match money.kind {
                    ClaimMoneyKind::Payment => ("payment", money.amount, neg(money.reserve_takedown)?, Money::ZERO),
                    ClaimMoneyKind::ReserveAdjustment => ("reserve", Money::ZERO, money.amount, Money::ZERO),
                    ClaimMoneyKind::Subrogation => ("subrogation", Money::ZERO, Money::ZERO, money.amount),
                    ClaimMoneyKind::Salvage => ("salvage", Money::ZERO, Money::ZERO, money.amount),
                    ClaimMoneyKind::ReinsuranceRecovery => {
                        ("reinsurance_recovery", Money::ZERO, Money::ZERO, money.amount)
                    }
                };
                claim_rows.push(ClaimRow {
                    claim_id: *claim_id,
                    policy_number: p.number.clone(),
                    date_of_loss: c.date_of_loss,
                    transaction: kind.to_owned(),
                    recorded_at: at,
                    paid,
                    reserve_change,
                    recovered,
                });
            }
            _ => {}
        }
    }
    let totals = totals(&risk, &claim_rows)?;
    Ok(Bordereau {
        agreement_id: agreement.id,
        carrier_id: agreement.carrier_id,
        program_id: agreement.program_id,
        month: format!("{year:04}-{month:02}"),
        risk,
        claims: claim_rows,
        totals,
    })
}

fn neg(m: Money) -> Result<Money, LedgerError> {
    Ok(Money::ZERO.checked_sub(m)?)
}

fn terms(p: &Policy) -> SplitTerms {
    SplitTerms { producer_commission_rate: p.commission_rate, mga_commission_rate: p.mga_commission_rate }
}

fn row(
    p: &Policy,
    kind: &str,
    effective_date: NaiveDate,
    recorded_at: DateTime<Utc>,
    gross_premium: Money,
    taxes: Money,
    terms: SplitTerms,
) -> Result<RiskRow, LedgerError> {
    let (producer_commission, mga_commission, net_to_carrier) = premium_shares(gross_premium, terms)?;
    Ok(RiskRow {
        transaction: kind.to_owned(),
        policy_number: p.number.clone(),
        policy_id: p.id,
        insured_name: p.insured_name.clone(),
        risk_state: p.risk_state.to_string(),
        inception_date: p.effective_date,
        expiry_date: p.expiration_date,
        effective_date,
        recorded_at,
        gross_premium,
        taxes,
        producer_commission,
        mga_commission,
        net_to_carrier,
    })
}

fn totals(risk: &[RiskRow], claims: &[ClaimRow]) -> Result<Totals, LedgerError> {
    let cash = |r: &&RiskRow| r.transaction == "premium_received" || r.transaction == "premium_refunded";
    let sum = |f: &dyn Fn(&RiskRow) -> Money| Money::checked_sum(risk.iter().filter(cash).map(f));
    Ok(Totals {
        written_premium: Money::checked_sum(risk.iter().filter(|r| !cash(r)).map(|r| r.gross_premium))?,
        premium_collected: sum(&|r| r.gross_premium)?,
        taxes_collected: sum(&|r| r.taxes)?,
        producer_commission: sum(&|r| r.producer_commission)?,
        mga_commission: sum(&|r| r.mga_commission)?,
        net_to_carrier: sum(&|r| r.net_to_carrier)?,
        claims_paid: Money::checked_sum(claims.iter().map(|c| c.paid))?,
        reserve_change: Money::checked_sum(claims.iter().map(|c| c.reserve_change))?,
        recovered: Money::checked_sum(claims.iter().map(|c| c.recovered))?,
    })
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

impl Bordereau {
    /// The risk bordereau as CSV (RFC 4180, a header line, amounts in dollars and cents).
    pub fn risk_csv(&self) -> String {
        let mut out = String::from(
            "Transaction Type,Certificate Reference,Insured Name,Risk State,Inception Date,Expiry Date,Transaction Effective Date,Recorded At,Gross Premium,Taxes,Producer Commission,Coverholder Commission,Net Premium to Underwriters\r\n",
        );
        for r in &self.risk {
            let cells = [
                r.transaction.clone(),
                r.policy_number.clone(),
                r.insured_name.clone(),
                r.risk_state.clone(),
                r.inception_date.to_string(),
                r.expiry_date.to_string(),
                r.effective_date.to_string(),
                r.recorded_at.to_rfc3339(),
                r.gross_premium.to_decimal_string(),
                r.taxes.to_decimal_string(),
                r.producer_commission.to_decimal_string(),
                r.mga_commission.to_decimal_string(),
                r.net_to_carrier.to_decimal_string(),
            ];
            out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The claims bordereau as CSV.
    pub fn claims_csv(&self) -> String {
        let mut out = String::from(
            "Claim Reference,Certificate Reference,Date of Loss,Transaction Type,Recorded At,Paid This Month,Reserve Movement,Recoveries\r\n",
        );
        for c in &self.claims {
            let cells = [
                c.claim_id.to_string(),
                c.policy_number.clone(),
                c.date_of_loss.to_string(),
                c.transaction.clone(),
                c.recorded_at.to_rfc3339(),
                c.paid.to_decimal_string(),
                c.reserve_change.to_decimal_string(),
                c.recovered.to_decimal_string(),
            ];
            out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(field("Acme"), "Acme");
        assert_eq!(field("Acme, Inc."), "\"Acme, Inc.\"");
        assert_eq!(field("the \"best\""), "\"the \"\"best\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(Money::from_cents(-5).to_decimal_string(), "-0.05");
        assert_eq!(Money::from_cents(123_456).to_decimal_string(), "1234.56");
    }

    #[test]
    fn a_return_splits_as_the_opposite_of_the_same_premium() {
        let terms = SplitTerms {
            producer_commission_rate: openinsure_core::money::Factor::new(rust_decimal::Decimal::new(125, 3)),
            mga_commission_rate: openinsure_core::money::Factor::new(rust_decimal::Decimal::new(75, 3)),
        };
        for cents in [1, 5, 999, 12_345, 100_001] {
            let (p, m, c) = premium_shares(Money::from_cents(cents), terms).unwrap();
            let (np, nm, nc) = premium_shares(Money::from_cents(-cents), terms).unwrap();
            assert_eq!((np.cents(), nm.cents(), nc.cents()), (-p.cents(), -m.cents(), -c.cents()));
            assert_eq!(p.cents() + m.cents() + c.cents(), cents);
        }
    }
}
