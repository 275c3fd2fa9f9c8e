//! Claims: the lifecycle state machine, the reserve history and claim money.
//!
//! A claim is filed against a bound, issued or active policy for a loss inside the policy
//! period. Its status moves through [`ClaimStatus`] by [`Claim::transition`], each move checked
//! against the table in [`ClaimStatus::can_move_to`]. Case reserves change only by appending a
//! [`ReserveChange`] (never in place), payments erode the reserve, and every money movement is a
//! [`ClaimMoney`] the ledger books (see the `claim.transaction` event).
//!
//! A claim carries PHI (the claimant and medical fields); `#[derive(PhiRecord)]` tags them, so the
//! redaction matrix and the audit log of `openinsure-hipaa` know them by type.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::PhiRecord;
use crate::ids::{ClaimId, OrgId, PolicyId, UserId};
use crate::money::Money;
use crate::policy::{Policy, PolicyStatus};

/// Where a claim stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// First notice of loss received.
    Reported,
    /// Accepted for handling.
    Open,
    /// Under investigation.
    Investigating,
    /// A case reserve is set.
    Reserved,
    /// Negotiating a settlement.
    InSettlement,
    /// In litigation.
    Litigated,
    /// Settled: the agreed amount is paid or being paid.
    Settled,
    /// Closed.
    Closed,
    /// Denied.
    Denied,
    /// Reopened after closing or denial.
    Reopened,
}

impl ClaimStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Reported => "reported",
            ClaimStatus::Open => "open",
            ClaimStatus::Investigating => "investigating",
            ClaimStatus::Reserved => "reserved",
            ClaimStatus::InSettlement => "in_settlement",
            ClaimStatus::Litigated => "litigated",
            ClaimStatus::Settled => "settled",
            ClaimStatus::Closed => "closed",
            ClaimStatus::Denied => "denied",
            ClaimStatus::Reopened => "reopened",
        }
    }

    /// The moves the state machine allows.
    pub fn can_move_to(self, to: ClaimStatus) -> bool {
        use ClaimStatus::*;
        matches!(
            (self, to),
            (Reported, Open | Denied)
                | (Open, Investigating | Reserved | Denied | Closed)
                | (Investigating, Reserved | Litigated | Denied | Closed)
                | (Reserved, Investigating | InSettlement | Litigated | Closed)
                | (InSettlement, Settled | Litigated)
                | (Litigated, InSettlement | Settled | Closed)
                | (Settled, Closed)
                | (Closed, Reopened)
                | (Denied, Reopened | Litigated)
                | (Reopened, Investigating | Reserved | InSettlement | Closed)
        )
    }

    /// Statuses in which money may be paid out.
    pub fn pays(self) -> bool {
        matches!(
            self,
            ClaimStatus::Reserved
                | ClaimStatus::InSettlement
                | ClaimStatus::Litigated
                | ClaimStatus::Settled
                | ClaimStatus::Reopened
        )
    }
}

/// Why a claim cannot change as asked. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The state machine does not allow the move (HTTP 422).
    #[error("a claim cannot go from `{}` to `{}`", from.as_str(), to.as_str())]
    InvalidTransition {
        /// Where it is.
        from: ClaimStatus,
        /// Where it was asked to go.
        to: ClaimStatus,
    },
    /// The policy does not cover the loss.
    #[error("policy `{policy}` does not cover this loss: {reason}")]
    NotCovered {
        /// The policy number.
        policy: String,
        /// Why.
        reason: String,
    },
    /// A money operation is not allowed now or with this amount.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] crate::money::MoneyError),
}

impl From<ClaimError> for crate::Error {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::Invalid { field, reason } => crate::Error::invalid(field, reason),
            ClaimError::Money(m) => crate::Error::Money(m),
            e @ ClaimError::InvalidTransition { .. } => {
                crate::Error::Rule { code: "invalid_transition", message: e.to_string() }
            }
            e => crate::Error::Rule { code: "not_covered", message: e.to_string() },
        }
    }
}

/// One change of the case reserve, appended, never edited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReserveChange {
    /// The reserve before.
    #[serde(rename = "fromCents")]
    pub from: Money,
    /// The reserve after.
    #[serde(rename = "toCents")]
    pub to: Money,
    /// Who changed it.
    pub changed_by: UserId,
    /// Why (`initial estimate`, `payment`, `medical report received`, ...).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a claim money movement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimMoneyKind {
    /// A payment to the claimant or a provider (erodes the reserve).
    Payment,
    /// A subrogation recovery.
    Subrogation,
    /// A salvage recovery.
    Salvage,
    /// A reinsurance recovery.
    ReinsuranceRecovery,
    /// A change of the case reserve (the amount is the signed change).
    ReserveAdjustment,
}

/// A claim money movement, as the ledger books it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMoney {
    /// Its id: the idempotency key of its ledger transfers.
    pub transaction_id: Uuid,
    /// What it is.
    pub kind: ClaimMoneyKind,
    /// The amount (signed for reserve adjustments, positive otherwise).
    #[serde(rename = "amountCents")]
    pub amount: Money,
    /// For payments: the reserve released with it.
    #[serde(rename = "reserveTakedownCents")]
    pub reserve_takedown: Money,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// A claim. PHI fields are tagged for the redaction matrix and the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, PhiRecord)]
#[serde(rename_all = "camelCase")]
#[phi(table = "claims")]
pub struct Claim {
    /// Its id.
    pub id: ClaimId,
    /// The org.
    pub org_id: OrgId,
    /// The policy claimed on.
    pub policy_id: PolicyId,
    /// The policy's number.
    pub policy_number: String,
    /// Where it stands.
    pub status: ClaimStatus,
    /// The store's revision counter.
    pub revision: u64,
    /// The date of loss.
    pub date_of_loss: NaiveDate,
    /// What happened, without medical detail (that goes in the tagged fields).
    pub loss_description: String,
    /// The adjuster handling it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_adjuster_id: Option<UserId>,
    /// The claimant's full name.
    #[phi]
    pub claimant_name: String,
    /// The claimant's date of birth.
    #[phi]
    pub claimant_dob: Option<NaiveDate>,
    /// The claimant's social security number.
    #[phi]
    pub claimant_ssn: Option<String>,
    /// The claimant's phone number.
    #[phi]
    pub claimant_phone: Option<String>,
    /// The claimant's email address.
    #[phi]
    pub claimant_email: Option<String>,
    /// The claimant's postal address, as one line.
    #[phi]
    pub claimant_address: Option<String>,
    /// The medical record number at the treating provider.
    #[phi]
    pub medical_record_number: Option<String>,
    /// ICD-10 diagnosis codes.
    #[phi]
    pub diagnosis_codes: Vec<String>,
    /// CPT / HCPCS procedure codes.
    #[phi]
    pub procedure_codes: Vec<String>,
    /// Free-text treatment notes.
    #[phi]
    pub treatment_notes: String,
    /// The current case reserve.
    #[serde(rename = "reserveCents")]
    pub reserve: Money,
    /// Paid to date.
    #[serde(rename = "paidCents")]
    pub paid: Money,
    /// Recovered to date (subrogation, salvage, reinsurance).
    #[serde(rename = "recoveredCents")]
    pub recovered: Money,
    /// Every reserve change, oldest first.
    pub reserve_history: Vec<ReserveChange>,
    /// Every money movement, oldest first.
    pub transactions: Vec<ClaimMoney>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The claimant and loss facts of a first notice of loss (the body of `POST /v1/claims`).
/// Every text field states its limits in the JSON Schema; [`Claim::file`] checks them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoticeOfLoss {
    /// The policy claimed on.
    pub policy_id: Option<PolicyId>,
    /// The date of loss.
    #[serde(default, deserialize_with = "crate::text::strict_opt_date")]
    pub date_of_loss: Option<NaiveDate>,
    /// What happened.
    #[serde(default)]
    #[schemars(length(min = 1, max = 5000), pattern(crate::text::TEXT_PATTERN))]
    pub loss_description: String,
    /// The claimant's full name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub claimant_name: String,
    /// Date of birth.
    #[serde(default, deserialize_with = "crate::text::strict_opt_date")]
    pub claimant_dob: Option<NaiveDate>,
    /// SSN, `NNN-NN-NNNN`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"))]
    pub claimant_ssn: Option<String>,
    /// Phone.
    #[serde(default)]
    #[schemars(length(min = 1, max = 32), pattern(crate::text::LINE_PATTERN))]
    pub claimant_phone: Option<String>,
    /// Email.
    #[serde(default)]
    #[schemars(length(min = 1, max = 254), pattern(crate::text::LINE_PATTERN))]
    pub claimant_email: Option<String>,
    /// Address.
    #[serde(default)]
    #[schemars(length(min = 1, max = 500), pattern(crate::text::TEXT_PATTERN))]
    pub claimant_address: Option<String>,
    /// Medical record number.
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(crate::text::LINE_PATTERN))]
    pub medical_record_number: Option<String>,
    /// Diagnosis codes (ICD-10), at most 50.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(min = 1, max = 16), pattern(crate::text::LINE_PATTERN)))]
    pub diagnosis_codes: Vec<String>,
    /// Procedure codes, at most 50.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(min = 1, max = 16), pattern(crate::text::LINE_PATTERN)))]
    pub procedure_codes: Vec<String>,
    /// Treatment notes.
    #[serde(default)]
    #[schemars(length(max = 10000), pattern(crate::text::TEXT_PATTERN))]
    pub treatment_notes: String,
}

impl NoticeOfLoss {
    /// Every text field's rule (the same as its JSON Schema), each problem recorded.
    fn check_texts(&self, e: &mut crate::FieldErrors) {
        use crate::text::{check_line, check_text};
        let put = |e: &mut crate::FieldErrors, field: &str, r: Result<(), crate::text::TextError>| {
            if let Err(reason) = r {
                e.push(field, reason);
            }
        };
        if !self.loss_description.trim().is_empty() {
            put(e, "lossDescription", check_text(&self.loss_description, 5000));
        }
        if !self.claimant_name.trim().is_empty() {
            put(e, "claimantName", check_line(&self.claimant_name, 200));
        }
        for (field, value, max) in [
            ("claimantPhone", &self.claimant_phone, 32),
            ("claimantEmail", &self.claimant_email, 254),
            ("medicalRecordNumber", &self.medical_record_number, 64),
        ] {
            if let Some(v) = value {
                put(e, field, check_line(v, max));
            }
        }
        if let Some(a) = &self.claimant_address {
            put(e, "claimantAddress", check_text(a, 500));
        }
        for (field, codes) in [("diagnosisCodes", &self.diagnosis_codes), ("procedureCodes", &self.procedure_codes)] {
            if codes.len() > 50 {
                e.push(field, "at most 50 codes");
            }
            for (i, c) in codes.iter().enumerate() {
                put(e, &format!("{field}[{i}]"), check_line(c, 16));
            }
        }
        if !self.treatment_notes.is_empty() {
            put(e, "treatmentNotes", check_text(&self.treatment_notes, 10_000));
        }
    }
}

impl Claim {
    /// Files a claim on `policy`: it must be bound, issued or active and the date of loss inside
    /// its period. Every field problem is listed.
    pub fn file(id: ClaimId, policy: &Policy, notice: NoticeOfLoss, now: DateTime<Utc>) -> Result<Claim, crate::Error> {
        let mut e = crate::FieldErrors::default();
        notice.check_texts(&mut e);
        if let Some(dob) = notice.claimant_dob
            && let Err(reason) = crate::text::check_date(dob, crate::text::EARLIEST_DATE, now.date_naive())
        {
            e.push("claimantDob", reason);
        }
        if notice.claimant_name.trim().is_empty() {
            e.push("claimantName", "is required");
        }
        if notice.loss_description.trim().is_empty() {
            e.push("lossDescription", "is required");
        }
        let date_of_loss = match notice.date_of_loss {
            None => {
                e.push("dateOfLoss", "is required");
                None
            }
            Some(d) if d > now.date_naive() => {
                e.push("dateOfLoss", "must not be in the future");
                None
            }
            Some(d) if d < crate::text::EARLIEST_DATE => {
                e.push("dateOfLoss", format!("must not be before {}", crate::text::EARLIEST_DATE));
                None
            }
            Some(d) => Some(d),
        };
        if let Some(ssn) = &notice.claimant_ssn {
            let b = ssn.as_bytes();
            let ok = b.len() == 11
                && b[3] == b'-'
                && b[6] == b'-'
                && b.iter().enumerate().all(|(i, c)| i == 3 || i == 6 || c.is_ascii_digit());
            if !ok {
                e.push("claimantSsn", "must be of the form NNN-NN-NNNN");
            }
        }
        if !e.is_empty() {
            return Err(crate::Error::Invalid(e));
        }
        let Some(date_of_loss) = date_of_loss else { return Err(crate::Error::invalid("dateOfLoss", "is required")) };
        if !matches!(policy.status, PolicyStatus::Bound | PolicyStatus::Issued | PolicyStatus::Active) {
            return Err(ClaimError::NotCovered {
                policy: policy.number.clone(),
                reason: format!("the policy is {}", policy.status.as_str()),
            }
            .into());
        }
        if date_of_loss < policy.effective_date || date_of_loss >= policy.expiration_date {
            return Err(ClaimError::NotCovered {
                policy: policy.number.clone(),
                reason: format!(
                    "the date of loss {date_of_loss} is outside the period {} to {}",
                    policy.effective_date, policy.expiration_date
                ),
            }
            .into());
        }
        Ok(Claim {
            id,
            org_id: policy.org_id,
            policy_id: policy.id,
            policy_number: policy.number.clone(),
            status: ClaimStatus::Reported,
            revision: 0,
            date_of_loss,
            loss_description: notice.loss_description,
            assigned_adjuster_id: None,
            claimant_name: notice.claimant_name,
            claimant_dob: notice.claimant_dob,
            claimant_ssn: notice.claimant_ssn,
            claimant_phone: notice.claimant_phone,
            claimant_email: notice.claimant_email,
            claimant_address: notice.claimant_address,
            medical_record_number: notice.medical_record_number,
            diagnosis_codes: notice.diagnosis_codes,
            procedure_codes: notice.procedure_codes,
            treatment_notes: notice.treatment_notes,
            reserve: Money::ZERO,
            paid: Money::ZERO,
            recovered: Money::ZERO,
            reserve_history: Vec::new(),
            transactions: Vec::new(),
            reported_at: now,
            updated_at: now,
        })
    }

    /// Moves the claim to `to`, if the state machine allows it.
    pub fn transition(&mut self, to: ClaimStatus, now: DateTime<Utc>) -> Result<ClaimStatus, ClaimError> {
        if !self.status.can_move_to(to) {
            return Err(ClaimError::InvalidTransition { from: self.status, to });
        }
        let from = self.status;
        self.status = to;
        self.updated_at = now;
        Ok(from)
    }

    /// Sets the case reserve to `to` (appending to the history) and returns the ledger movement
    /// of the change. Not on closed or denied claims; never negative.
    pub fn set_reserve(
        &mut self,
        to: Money,
        by: UserId,
        reason: &str,
        transaction_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ClaimMoney, ClaimError> {
        if matches!(self.status, ClaimStatus::Closed | ClaimStatus::Denied | ClaimStatus::Reported) {
            return Err(ClaimError::Invalid {
                field: "reserveCents",
                reason: format!("a {} claim takes no reserve", self.status.as_str()),
            });
        }
        if to.is_negative() {
            return Err(ClaimError::Invalid { field: "reserveCents", reason: "must not be negative".into() });
        }
        if to > Money::MAX_OPERATION {
            return Err(ClaimError::Invalid {
                field: "reserveCents",
                reason: format!("must be at most {} cents", Money::MAX_OPERATION.cents()),
            });
        }
        if reason.trim().is_empty() {
            return Err(ClaimError::Invalid { field: "reason", reason: "a reserve change needs a reason".into() });
        }
        let change = to.checked_sub(self.reserve)?;
        if change.is_zero() {
            return Err(ClaimError::Invalid { field: "reserveCents", reason: "is already the reserve".into() });
        }
        let money = ClaimMoney {
            transaction_id,
            kind: ClaimMoneyKind::ReserveAdjustment,
            amount: change,
            reserve_takedown: Money::ZERO,
            by,
            at: now,
        };
        self.reserve_history.push(ReserveChange {
            from: self.reserve,
            to,
            changed_by: by,
            reason: reason.to_owned(),
            at: now,
        });
        self.reserve = to;
        self.transactions.push(money.clone());
        self.updated_at = now;
        Ok(money)
    }

    /// Pays `amount`, releasing as much of the reserve (recorded in the history).
    pub fn pay(
        &mut self,
        amount: Money,
        by: UserId,
        transaction_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ClaimMoney, ClaimError> {
        if !self.status.pays() {
            return Err(ClaimError::Invalid {
                field: "amountCents",
                reason: format!("a {} claim cannot be paid", self.status.as_str()),
            });
        }
        if let Some(reason) = amount.operation_refusal() {
            return Err(ClaimError::Invalid { field: "amountCents", reason });
        }
        let takedown = amount.min(self.reserve);
        let paid = self.paid.checked_add(amount)?;
        let money = ClaimMoney {
            transaction_id,
            kind: ClaimMoneyKind::Payment,
            amount,
            reserve_takedown: takedown,
            by,
            at: now,
        };
        if !takedown.is_zero() {
            let to = self.reserve.checked_sub(takedown)?;
            self.reserve_history.push(ReserveChange {
                from: self.reserve,
                to,
                changed_by: by,
                reason: "payment".into(),
                at: now,
            });
            self.reserve = to;
        }
        self.paid = paid;
        self.transactions.push(money.clone());
        self.updated_at = now;
        Ok(money)
    }

    /// Records a recovery (subrogation, salvage or reinsurance).
    pub fn recover(
        &mut self,
        kind: ClaimMoneyKind,
        amount: Money,
        by: UserId,
        transaction_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ClaimMoney, ClaimError> {
        if !matches!(kind, ClaimMoneyKind::Subrogation | ClaimMoneyKind::Salvage | ClaimMoneyKind::ReinsuranceRecovery)
        {
            return Err(ClaimError::Invalid {
                field: "kind",
                reason: "must be subrogation, salvage or reinsurance_recovery".into(),
            });
        }
        if let Some(reason) = amount.operation_refusal() {
            return Err(ClaimError::Invalid { field: "amountCents", reason });
        }
        if matches!(self.status, ClaimStatus::Reported | ClaimStatus::Denied) {
            return Err(ClaimError::Invalid {
                field: "amountCents",
                reason: format!("a {} claim has nothing to recover", self.status.as_str()),
            });
        }
        let recovered = self.recovered.checked_add(amount)?;
        let money = ClaimMoney { transaction_id, kind, amount, reserve_takedown: Money::ZERO, by, at: now };
        self.recovered = recovered;
        self.transactions.push(money.clone());
        self.updated_at = now;
        Ok(money)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{sample_policy, sample_quote};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc()
    }

    fn policy() -> Policy {
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let q = sample_quote(Uuid::from_u128(2).into(), org, Uuid::from_u128(3).into());
        sample_policy(Uuid::from_u128(4).into(), org, &q, "GL-2027-000001")
    }

    fn notice() -> NoticeOfLoss {
        NoticeOfLoss {
            policy_id: None,
            date_of_loss: NaiveDate::from_ymd_opt(2027, 2, 14),
            loss_description: "fall from a loading dock".into(),
            claimant_name: "Jane Roe".into(),
            claimant_ssn: Some("123-45-6789".into()),
            diagnosis_codes: vec!["S52.5".into()],
            treatment_notes: "cast applied".into(),
            ..NoticeOfLoss::default()
        }
    }

    fn claim() -> Claim {
        Claim::file(ClaimId::from_uuid(Uuid::from_u128(9)), &policy(), notice(), now()).unwrap()
    }

    #[test]
    fn filing_checks_the_policy_and_fields() {
        let c = claim();
        assert_eq!(c.status, ClaimStatus::Reported);
        let mut n = notice();
        n.date_of_loss = NaiveDate::from_ymd_opt(2026, 12, 31);
        assert!(matches!(Claim::file(c.id, &policy(), n, now()), Err(crate::Error::Rule { code: "not_covered", .. })));
        let mut p = policy();
        p.status = PolicyStatus::Cancelled;
        assert!(matches!(Claim::file(c.id, &p, notice(), now()), Err(crate::Error::Rule { code: "not_covered", .. })));
        let bad = NoticeOfLoss { claimant_ssn: Some("123456789".into()), ..NoticeOfLoss::default() };
        let Err(crate::Error::Invalid(e)) = Claim::file(c.id, &policy(), bad, now()) else { panic!() };
        let paths: Vec<_> = e.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["claimantName", "lossDescription", "dateOfLoss", "claimantSsn"]);
    }

    #[test]
    fn every_invalid_transition_is_typed_and_changes_nothing() {
        use ClaimStatus::*;
        let all = [Reported, Open, Investigating, Reserved, InSettlement, Litigated, Settled, Closed, Denied, Reopened];
        for from in all {
            for to in all {
                let mut c = claim();
                c.status = from;
                let before = c.clone();
                match c.transition(to, now()) {
                    Ok(prev) => assert!(from.can_move_to(to) && prev == from && c.status == to),
                    Err(e) => {
                        assert_eq!(e, ClaimError::InvalidTransition { from, to });
                        assert_eq!(c, before);
                    }
                }
            }
        }
        assert!(!Closed.can_move_to(Open) && Closed.can_move_to(Reopened));
    }

    #[test]
    fn reserves_payments_recoveries() {
        let mut c = claim();
        let by = UserId::from_uuid(Uuid::from_u128(50));
        assert!(
            c.set_reserve(Money::from_cents(100), by, "x", Uuid::from_u128(1), now()).is_err(),
            "reported claims take no reserve"
        );
        c.transition(ClaimStatus::Open, now()).unwrap();
        let m = c.set_reserve(Money::from_cents(500_000), by, "initial estimate", Uuid::from_u128(1), now()).unwrap();
        assert_eq!((m.kind, m.amount), (ClaimMoneyKind::ReserveAdjustment, Money::from_cents(500_000)));
        let m = c.set_reserve(Money::from_cents(300_000), by, "medical report", Uuid::from_u128(2), now()).unwrap();
        assert_eq!(m.amount, Money::from_cents(-200_000));
        assert!(c.pay(Money::from_cents(1), by, Uuid::from_u128(3), now()).is_err(), "open claims are not paid");
        c.transition(ClaimStatus::Reserved, now()).unwrap();
        let p = c.pay(Money::from_cents(350_000), by, Uuid::from_u128(3), now()).unwrap();
        assert_eq!(p.reserve_takedown, Money::from_cents(300_000), "a payment releases at most the reserve");
        assert_eq!((c.reserve, c.paid), (Money::ZERO, Money::from_cents(350_000)));
        assert_eq!(c.reserve_history.len(), 3, "appended, never edited");
        assert_eq!(c.reserve_history[2].reason, "payment");
        c.recover(ClaimMoneyKind::Subrogation, Money::from_cents(50_000), by, Uuid::from_u128(4), now()).unwrap();
        assert!(c.recover(ClaimMoneyKind::Payment, Money::from_cents(1), by, Uuid::from_u128(5), now()).is_err());
        assert_eq!(c.recovered, Money::from_cents(50_000));
        assert_eq!(c.transactions.len(), 4);
        let before = c.clone();
        assert!(c.set_reserve(Money::from_cents(-1), by, "x", Uuid::from_u128(6), now()).is_err());
        assert!(c.pay(Money::ZERO, by, Uuid::from_u128(7), now()).is_err());
        assert_eq!(c, before);
    }
}
