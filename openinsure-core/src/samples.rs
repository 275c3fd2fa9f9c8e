//! Sample records for tests and conformance suites (with `cfg(test)` or feature `testkit`).

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::ids::{CarrierId, DaAgreementId, OrgId, ProgramId, QuoteId, SubmissionId, UserId};
use crate::money::{Factor, Money, Rounding};
use crate::quote::{Matched, Operation, Quote, QuoteStatus, RateTableRef, Rating, StepKind, Worksheet, WorksheetStep};
use crate::submission::{LineOfBusiness, Submission};
use crate::underwriting::da::{DaAgreement, DaStatus, ReferralTriggers, StateSet};

/// The program of the sample records (the example general-liability program).
pub const SAMPLE_PROGRAM: Uuid = Uuid::from_u128(0x0192_f0c0_0000_7000_8000_0000_0000_0001);

/// A valid general-liability submission for `org`, effective 2027-01-01 in Ohio.
pub fn sample_submission(id: SubmissionId, org: OrgId) -> Submission {
    let json = json!({
        "insuredName": "Acme Manufacturing Co.",
        "mailingAddress": {"street1": "1 Main St", "city": "Dayton", "state": "OH", "postalCode": "45402"},
        "riskState": "OH",
        "naicsCode": "332710",
        "annualRevenueCents": 450_000_000,
        "yearsInBusiness": 12,
        "requestedOccurrenceLimitCents": 100_000_000,
        "requestedAggregateLimitCents": 200_000_000,
        "effectiveDate": "2027-01-01",
        "lineOfBusiness": "general_liability",
        "programId": "0192f0c0-0000-7000-8000-000000000001"
    });
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default();
    match Submission::intake_json(id, org, UserId::from_uuid(Uuid::from_u128(1)), now, &json) {
        Ok(s) => s,
        Err(e) => unreachable!("sample submission is valid: {e}"),
    }
}

/// A quote for `submission`, with a one-line worksheet.
pub fn sample_quote(id: QuoteId, org: OrgId, submission: SubmissionId) -> Quote {
    let op = Operation::PerExposure {
        units: rust_decimal::Decimal::from(4500),
        rate: Factor::new(rust_decimal::Decimal::new(210, 2)),
    };
    let gross = Money::from_cents(945_000);
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default();
    Quote {
        id,
        org_id: org,
        submission_id: submission,
        program_id: ProgramId::from_uuid(SAMPLE_PROGRAM),
        line_of_business: LineOfBusiness::GeneralLiability,
        status: QuoteStatus::Quoted,
        rating: Rating {
            totals: crate::quote::Totals {
                gross_premium: gross,
                net_premium: gross,
                total_due: gross,
                ..Default::default()
            },
            commission_rate: Factor::new(rust_decimal::Decimal::ZERO),
            worksheet: Worksheet {
                steps: vec![WorksheetStep {
                    step: StepKind::BaseRate,
                    operation: op,
                    matched: Matched::Default,
                    rounding: Rounding::HalfEven,
                    input: Money::ZERO,
                    output: gross,
                }],
                charges: vec![],
            },
            rate_table: RateTableRef { id: "gl-test".into(), version: 1 },
            valid_days: 30,
            schedule: vec![],
        },
        flags: vec![],
        quoted_at: now,
        expires_at: now + Duration::days(30),
    }
}

/// A DA agreement for the sample program: active 2026-07-01 to 2027-07-01, all states, $5M annual
/// capacity, $2M per-policy limits, $250k per-policy premium, 12-month terms.
pub fn sample_agreement_for(id: DaAgreementId, org: OrgId) -> DaAgreement {
    DaAgreement {
        id,
        org_id: org,
        program_id: ProgramId::from_uuid(SAMPLE_PROGRAM),
        carrier_id: CarrierId::from_uuid(Uuid::from_u128(0xca)),
        name: "Main Street GL 2026".into(),
        status: DaStatus::Active,
        effective_date: chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default(),
        expiration_date: chrono::NaiveDate::from_ymd_opt(2027, 7, 1).unwrap_or_default(),
        max_occurrence_limit: Money::from_cents(200_000_000),
        max_aggregate_limit: Money::from_cents(400_000_000),
        max_premium: Money::from_cents(25_000_000),
        authorized_states: StateSet::All,
        excluded_states: vec![],
        authorized_naics: vec![],
        excluded_naics: vec![],
        annual_premium_limit: Money::from_cents(500_000_000),
        quarterly_premium_limit: None,
        max_policies_per_insured: Some(1),
        max_insured_revenue: None,
        allowed_terms_months: vec![12],
        min_years_in_business: None,
        referral_triggers: ReferralTriggers::default(),
        mga_commission_rate: Factor::new(rust_decimal::Decimal::new(10, 2)),
        revision: 0,
        created_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().unwrap_or_default(),
    }
}

#[cfg(test)]
pub(crate) fn sample_agreement() -> DaAgreement {
    sample_agreement_for(DaAgreementId::from_uuid(Uuid::from_u128(0xda)), OrgId::from_uuid(Uuid::from_u128(2)))
}

/// A GL authority profile at `level`: limits $1M x level per occurrence, premium cap as given.
pub fn sample_profile(
    id: crate::ids::AuthorityProfileId,
    org: OrgId,
    level: u8,
    max_premium: Money,
) -> crate::underwriting::authority::AuthorityProfile {
    crate::underwriting::authority::AuthorityProfile {
        id,
        org_id: org,
        name: format!("GL level {level}"),
        level,
        line_of_business: LineOfBusiness::GeneralLiability,
        max_occurrence_limit: Money::from_cents(100_000_000 * i64::from(level)),
        max_aggregate_limit: Money::from_cents(200_000_000 * i64::from(level)),
        max_premium,
        max_annual_revenue: None,
        excluded_naics: vec![],
        can_approve_referrals: level >= 2,
    }
}

/// A bound policy for `quote`, numbered `number`, with a paid-in-full schedule.
pub fn sample_policy(id: crate::ids::PolicyId, org: OrgId, quote: &Quote, number: &str) -> crate::policy::Policy {
    let start = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default();
    let premium = quote.rating.totals.gross_premium;
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default();
    crate::policy::Policy {
        id,
        org_id: org,
        number: number.to_owned(),
        status: crate::policy::PolicyStatus::Bound,
        revision: 0,
        submission_id: quote.submission_id,
        quote_id: quote.id,
        program_id: quote.program_id,
        da_agreement_id: None,
        referral_id: None,
        line_of_business: quote.line_of_business,
        insured_name: "Acme Manufacturing Co.".into(),
        risk_state: "OH".parse().unwrap_or_else(|_| unreachable!("OH is a state")),
        naics_code: "332710".parse().unwrap_or_else(|_| unreachable!("a valid code")),
        occurrence_limit: Money::from_cents(100_000_000),
        aggregate_limit: Money::from_cents(200_000_000),
        deductible: Money::ZERO,
        effective_date: start,
        expiration_date: chrono::NaiveDate::from_ymd_opt(2028, 1, 1).unwrap_or_default(),
        annual_premium: premium,
        commission_rate: quote.rating.commission_rate,
        mga_commission_rate: Factor::default(),
        fees: quote.rating.totals.fees,
        taxes: quote.rating.totals.taxes,
        segments: vec![crate::policy::PremiumSegment {
            effective_date: start,
            premium,
            annual_premium: premium,
            taxes: quote.rating.totals.taxes,
            annual_taxes: quote.rating.totals.taxes,
            changes: crate::policy::endorsement::RiskChange::default(),
            worksheet: None,
            description: "original".into(),
        }],
        risk_changes: crate::policy::endorsement::RiskChange::default(),
        billing: crate::billing::BillingSchedule {
            plan: crate::billing::BillingPlan::PaidInFull,
            installments: vec![crate::billing::Installment {
                number: 1,
                due_date: start,
                premium,
                fees_and_taxes: Money::ZERO,
                installment_fee: Money::ZERO,
                total: premium,
                status: crate::billing::InstallmentStatus::Due,
                payment_id: None,
            }],
            refunds: Vec::new(),
        },
        cancellation: None,
        non_payment_notice: None,
        renewal_offered_on: None,
        renewal_of: None,
        bound_by: UserId::from_uuid(Uuid::from_u128(9)),
        bound_at: now,
        updated_at: now,
    }
}

/// A reported claim on a sample policy of `org`, with PHI filled in.
pub fn sample_claim(id: crate::ids::ClaimId, org: OrgId) -> crate::claims::Claim {
    let quote =
        sample_quote(QuoteId::from_uuid(Uuid::from_u128(0x51)), org, SubmissionId::from_uuid(Uuid::from_u128(0x52)));
    let policy = sample_policy(crate::ids::PolicyId::from_uuid(Uuid::from_u128(0x53)), org, &quote, "GL-2027-000001");
    let notice = crate::claims::NoticeOfLoss {
        policy_id: Some(policy.id),
        date_of_loss: chrono::NaiveDate::from_ymd_opt(2027, 2, 14),
        loss_description: "fall from a loading dock".into(),
        claimant_name: "Jane Roe".into(),
        claimant_dob: chrono::NaiveDate::from_ymd_opt(1980, 2, 29),
        claimant_ssn: Some("078-05-1120".into()),
        claimant_phone: Some("+1 555 0100".into()),
        claimant_email: Some("jane@example.com".into()),
        claimant_address: Some("1 Main St, Springfield".into()),
        medical_record_number: Some("MRN-778899".into()),
        diagnosis_codes: vec!["S52.501A".into()],
        procedure_codes: vec!["25600".into()],
        treatment_notes: "closed reduction, cast".into(),
    };
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).single().unwrap_or_default();
    match crate::claims::Claim::file(id, &policy, notice, now) {
        Ok(c) => c,
        Err(e) => unreachable!("the sample claim is valid: {e}"),
    }
}
