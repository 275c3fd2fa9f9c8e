//! Submissions: an application for insurance, as an ACORD 125 commercial application carries it.
//!
//! A submission arrives as untrusted JSON (a producer's structured payload, or what document
//! extraction produced). [`Submission::intake`] checks every field and returns all field errors at
//! once, or a submission with status [`SubmissionStatus::Draft`]. An extraction confidence below
//! [`MANUAL_REVIEW_THRESHOLD`] sets [`Submission::needs_manual_review`].
//!
//! ```
//! use openinsure_core::submission::{Submission, SubmissionStatus};
//! use openinsure_core::ids::{OrgId, SubmissionId, UserId};
//! use chrono::{TimeZone, Utc};
//!
//! let json = serde_json::json!({
//!     "insuredName": "Acme Manufacturing Co.",
//!     "mailingAddress": {"street1": "1 Main St", "city": "Dayton", "state": "OH", "postalCode": "45402"},
//!     "riskState": "OH",
//!     "naicsCode": "332710",
//!     "annualRevenueCents": 450_000_000,
//!     "yearsInBusiness": 12,
//!     "requestedOccurrenceLimitCents": 100_000_000,
//!     "requestedAggregateLimitCents": 200_000_000,
//!     "effectiveDate": "2027-01-01",
//!     "lineOfBusiness": "general_liability",
//!     "programId": "0192f0c0-0000-7000-8000-000000000001",
//!     "extractionConfidence": 0.82
//! });
//! let id = SubmissionId::from_uuid(uuid::Uuid::from_u128(1));
//! let org = OrgId::from_uuid(uuid::Uuid::from_u128(2));
//! let user = UserId::from_uuid(uuid::Uuid::from_u128(3));
//! let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
//! let sub = Submission::intake_json(id, org, user, now, &json).unwrap();
//! assert_eq!(sub.status, SubmissionStatus::Draft);
//! assert!(sub.needs_manual_review);
//! assert_eq!(sub.term_months, 12);
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldErrors;
use crate::geo::{Naics, UsState};
use crate::ids::{OrgId, ProgramId, SubmissionId, UserId};
use crate::money::Money;
use crate::validate::ObjectReader;

/// Extraction confidence below this sets the manual-review flag (the seed's 0.85).
pub const MANUAL_REVIEW_THRESHOLD: Decimal = Decimal::from_parts(85, 0, 0, false, 2);

/// A line of business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LineOfBusiness {
    /// Commercial general liability.
    GeneralLiability,
    /// Cyber liability.
    Cyber,
    /// Professional liability (errors and omissions).
    ProfessionalLiability,
    /// Directors and officers.
    DirectorsAndOfficers,
    /// Workers' compensation.
    WorkersCompensation,
    /// Commercial property.
    CommercialProperty,
    /// Commercial auto.
    CommercialAuto,
    /// Excess and umbrella.
    Umbrella,
    /// Health (accident and health, stop-loss).
    Health,
}

impl LineOfBusiness {
    /// Every line.
    pub const ALL: [LineOfBusiness; 9] = [
        LineOfBusiness::GeneralLiability,
        LineOfBusiness::Cyber,
        LineOfBusiness::ProfessionalLiability,
        LineOfBusiness::DirectorsAndOfficers,
        LineOfBusiness::WorkersCompensation,
        LineOfBusiness::CommercialProperty,
        LineOfBusiness::CommercialAuto,
        LineOfBusiness::Umbrella,
        LineOfBusiness::Health,
    ];

    /// The wire name (`general_liability`).
    pub fn as_str(self) -> &'static str {
        match self {
            LineOfBusiness::GeneralLiability => "general_liability",
            LineOfBusiness::Cyber => "cyber",
            LineOfBusiness::ProfessionalLiability => "professional_liability",
            LineOfBusiness::DirectorsAndOfficers => "directors_and_officers",
            LineOfBusiness::WorkersCompensation => "workers_compensation",
            LineOfBusiness::CommercialProperty => "commercial_property",
            LineOfBusiness::CommercialAuto => "commercial_auto",
            LineOfBusiness::Umbrella => "umbrella",
            LineOfBusiness::Health => "health",
        }
    }

    /// The short code used in policy numbers (`GL`, `CY`, ...).
    pub fn code(self) -> &'static str {
        match self {
            LineOfBusiness::GeneralLiability => "GL",
            LineOfBusiness::Cyber => "CY",
            LineOfBusiness::ProfessionalLiability => "PL",
            LineOfBusiness::DirectorsAndOfficers => "DO",
            LineOfBusiness::WorkersCompensation => "WC",
            LineOfBusiness::CommercialProperty => "CP",
            LineOfBusiness::CommercialAuto => "CA",
            LineOfBusiness::Umbrella => "UM",
            LineOfBusiness::Health => "HL",
        }
    }
}

impl fmt::Display for LineOfBusiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LineOfBusiness {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LineOfBusiness::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            format!("unknown line of business; expected one of {}", LineOfBusiness::ALL.map(|l| l.as_str()).join(", "))
        })
    }
}

/// The applicant's legal form, as ACORD 125 asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// Individual or sole proprietor.
    Individual,
    /// Corporation.
    Corporation,
    /// Partnership.
    Partnership,
    /// Limited liability company.
    Llc,
    /// Joint venture.
    JointVenture,
    /// Not-for-profit organization.
    NotForProfit,
    /// Trust.
    Trust,
}

impl FromStr for EntityType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(s.to_owned())).map_err(|_| {
            "unknown entity type; expected individual, corporation, partnership, llc, joint_venture, not_for_profit or trust".to_owned()
        })
    }
}

/// A postal address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// First street line.
    pub street1: String,
    /// Second street line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    /// City.
    pub city: String,
    /// State.
    pub state: UsState,
    /// ZIP or ZIP+4.
    pub postal_code: String,
}

/// The body of a submission (ACORD 125 fields), as [`Submission::intake`] reads it: its JSON
/// Schema for the OpenAPI document and for Rust callers who build it typed
/// ([`SubmissionInput::to_json`]). Intake reports every field error at once, with its path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmissionInput {
    /// The applicant's legal name.
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub insured_name: String,
    /// Doing-business-as name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub dba: Option<String>,
    /// Federal employer identification number, `NN-NNNNNNN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{2}-[0-9]{7}$"))]
    pub fein: Option<String>,
    /// Legal form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<EntityType>,
    /// Mailing address.
    pub mailing_address: AddressInput,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 300), pattern(crate::text::LINE_PATTERN))]
    pub website: Option<String>,
    /// Nature of business / description of operations (newlines allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2000), pattern(crate::text::TEXT_PATTERN))]
    pub business_description: Option<String>,
    /// The state the risk is rated in.
    pub risk_state: UsState,
    /// NAICS industry code.
    pub naics_code: Naics,
    /// Annual revenue, in cents.
    #[schemars(range(min = 0))]
    pub annual_revenue_cents: i64,
    /// Annual payroll in cents, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub annual_payroll_cents: Option<i64>,
    /// Total insured value in cents, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub total_insured_value_cents: Option<i64>,
    /// Number of employees, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 10_000_000))]
    pub employee_count: Option<u32>,
    /// Years in business.
    #[schemars(range(max = 500))]
    pub years_in_business: u32,
    /// Requested each-occurrence limit, in cents.
    #[schemars(range(min = 1))]
    pub requested_occurrence_limit_cents: i64,
    /// Requested aggregate limit, in cents (at least the occurrence limit).
    #[schemars(range(min = 1))]
    pub requested_aggregate_limit_cents: i64,
    /// Deductible in cents (below the occurrence limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub deductible_cents: Option<i64>,
    /// Requested effective date, `YYYY-MM-DD`, from a year before to two years after today.
    pub effective_date: NaiveDate,
    /// Policy term in months (12 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36))]
    pub term_months: Option<u32>,
    /// Line of business.
    pub line_of_business: LineOfBusiness,
    /// The program it is submitted to.
    pub program_id: ProgramId,
    /// Loss history by policy year.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loss_history: Vec<LossYearInput>,
    /// Confidence of document extraction, 0 to 1, when the data was extracted.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "number_or_decimal_string")]
    #[schemars(with = "Option<f64>", range(min = 0, max = 1))]
    pub extraction_confidence: Option<Decimal>,
}

/// A decimal written as a JSON number (`0.94`) or a string (`"0.94"`), exactly.
fn number_or_decimal_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let text = match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(serde::de::Error::custom("expected a number")),
    };
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a decimal number")))
}

/// A mailing address in a [`SubmissionInput`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    /// First street line.
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub street1: String,
    /// Second street line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub street2: Option<String>,
    /// City.
    #[schemars(length(min = 1, max = 100), pattern(crate::text::LINE_PATTERN))]
    pub city: String,
    /// State.
    pub state: UsState,
    /// ZIP or ZIP+4.
    #[schemars(regex(pattern = r"^[0-9]{5}(-[0-9]{4})?$"))]
    pub postal_code: String,
}

/// A loss run line in a [`SubmissionInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LossYearInput {
    /// The policy year (not after the effective date's year).
    #[schemars(range(min = 1900, max = 2200))]
    pub policy_year: i32,
    /// Premium earned in that year, in cents.
    #[schemars(range(min = 0))]
    pub earned_premium_cents: i64,
    /// Losses paid, in cents.
    #[schemars(range(min = 0))]
    pub paid_cents: i64,
    /// Losses reserved, in cents.
    #[schemars(range(min = 0))]
    pub reserved_cents: i64,
    /// Number of claims.
    #[schemars(range(max = 1_000_000))]
    pub claim_count: u32,
}

impl SubmissionInput {
    /// Reads untrusted JSON (a request body, a document extraction) into the typed input, with
    /// every field error at once, each with its JSON path: the checks of
    /// [`Submission::intake_json`] at `now`.
    pub fn read(json: &Value, now: DateTime<Utc>) -> Result<SubmissionInput, FieldErrors> {
        let nil = uuid::Uuid::nil();
        Submission::intake_json(
            SubmissionId::from_uuid(nil),
            OrgId::from_uuid(nil),
            UserId::from_uuid(nil),
            now,
            json,
        )?;
        serde_json::from_value(json.clone()).map_err(|e| {
            let mut errors = FieldErrors::default();
            errors.push("$", e.to_string());
            errors
        })
    }

    /// The input as the JSON [`Submission::intake_json`] reads.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One policy year of loss history (a loss run line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LossYear {
    /// The policy year.
    pub policy_year: i32,
    /// Premium earned in that year.
    #[serde(rename = "earnedPremiumCents")]
    pub earned_premium: Money,
    /// Losses paid.
    #[serde(rename = "paidCents")]
    pub paid: Money,
    /// Losses reserved (outstanding).
    #[serde(rename = "reservedCents")]
    pub reserved: Money,
    /// Number of claims.
    pub claim_count: u32,
}

/// Where a submission stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubmissionStatus {
    /// Taken in, not yet rated.
    Draft,
    /// At least one quote was produced.
    Quoted,
    /// Waiting on a referral to a higher authority.
    Referred,
    /// A policy was bound from one of its quotes.
    Bound,
    /// Declined by underwriting.
    Declined,
}

/// A submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// Its id.
    pub id: SubmissionId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Who submitted it.
    pub created_by: UserId,
    /// Where it stands.
    pub status: SubmissionStatus,
    /// The store's revision counter, for optimistic concurrency.
    pub revision: u64,
    /// When it was taken in.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,

    /// The applicant's legal name.
    pub insured_name: String,
    /// Doing-business-as name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dba: Option<String>,
    /// Federal employer identification number, `NN-NNNNNNN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fein: Option<String>,
    /// Legal form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<EntityType>,
    /// Mailing address.
    pub mailing_address: Address,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Nature of business / description of operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_description: Option<String>,
    /// The state the risk is rated in.
    pub risk_state: UsState,
    /// NAICS industry code.
    pub naics_code: Naics,
    /// Annual revenue.
    #[serde(rename = "annualRevenueCents")]
    pub annual_revenue: Money,
    /// Annual payroll, when known (workers' compensation exposure).
    #[serde(rename = "annualPayrollCents", default, skip_serializing_if = "Option::is_none")]
    pub annual_payroll: Option<Money>,
    /// Total insured value, when known (property exposure).
    #[serde(rename = "totalInsuredValueCents", default, skip_serializing_if = "Option::is_none")]
    pub total_insured_value: Option<Money>,
    /// Number of employees, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_count: Option<u32>,
    /// Years in business.
    pub years_in_business: u32,
    /// Requested each-occurrence limit.
    #[serde(rename = "requestedOccurrenceLimitCents")]
    pub requested_occurrence_limit: Money,
    /// Requested aggregate limit.
    #[serde(rename = "requestedAggregateLimitCents")]
    pub requested_aggregate_limit: Money,
    /// Deductible.
    #[serde(rename = "deductibleCents")]
    pub deductible: Money,
    /// Requested effective date.
    pub effective_date: NaiveDate,
    /// Policy term in months.
    pub term_months: u32,
    /// Line of business.
    pub line_of_business: LineOfBusiness,
    /// The program it is submitted to.
    pub program_id: ProgramId,
    /// Loss history by policy year, oldest first.
    pub loss_history: Vec<LossYear>,
    /// Confidence of document extraction (0 to 1), when the data was extracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_confidence: Option<Decimal>,
    /// True when extraction confidence was below the threshold: a person must check the data.
    pub needs_manual_review: bool,
}

fn valid_zip(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => digits(b),
        10 => digits(&b[..5]) && b[5] == b'-' && digits(&b[6..]),
        _ => false,
    }
}

fn valid_fein(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b[2] == b'-' && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit)
}

impl Submission {
    /// Marks the submission bound at `now`: from draft, quoted or referred; a bound or declined
    /// submission is [`crate::Error::Rule`] `invalid_transition`.
    pub fn mark_bound(&mut self, now: DateTime<Utc>) -> Result<(), crate::Error> {
        if matches!(self.status, SubmissionStatus::Bound | SubmissionStatus::Declined) {
            return Err(crate::Error::Rule {
                code: "invalid_transition",
                message: format!("submission `{}` is {:?} and cannot be bound", self.id, self.status).to_lowercase(),
            });
        }
        self.status = SubmissionStatus::Bound;
        self.updated_at = now;
        Ok(())
    }

    /// Marks a draft submission quoted at `now` (true), or leaves it as it is (false).
    pub fn mark_quoted(&mut self, now: DateTime<Utc>) -> bool {
        if self.status != SubmissionStatus::Draft {
            return false;
        }
        self.status = SubmissionStatus::Quoted;
        self.updated_at = now;
        true
    }

    /// Takes in a typed submission: the same checks as [`Submission::intake_json`] (limits,
    /// formats, the effective-date window, the cross-field rules), every field error at once.
    pub fn intake(
        id: SubmissionId,
        org_id: OrgId,
        created_by: UserId,
        now: DateTime<Utc>,
        input: &SubmissionInput,
    ) -> Result<Submission, FieldErrors> {
        Submission::intake_json(id, org_id, created_by, now, &input.to_json())
    }

    /// Takes in a submission from untrusted JSON. Returns every field error at once, each with
    /// its JSON path.
    pub fn intake_json(
        id: SubmissionId,
        org_id: OrgId,
        created_by: UserId,
        now: DateTime<Utc>,
        json: &Value,
    ) -> Result<Submission, FieldErrors> {
        let mut e = FieldErrors::default();
        let mut r = ObjectReader::new(json, "", &mut e);

        let insured_name = r.string("insuredName", 200, &mut e);
        let dba = r.opt_string("dba", 200, &mut e);
        let fein = r.opt_string("fein", 10, &mut e);
        if let Some(f) = &fein
            && !valid_fein(f)
        {
            e.push("fein", format!("`{f}` is not a FEIN of the form NN-NNNNNNN"));
        }
        let entity_type = r.opt_parse::<EntityType>("entityType", &mut e);
        let mailing_address = r.object("mailingAddress", &mut e).and_then(|mut a| {
            let street1 = a.string("street1", 200, &mut e);
            let street2 = a.opt_string("street2", 200, &mut e);
            let city = a.string("city", 100, &mut e);
            let state = a.parse::<UsState>("state", &mut e);
            let postal_code = a.string("postalCode", 10, &mut e);
            if let Some(z) = &postal_code
                && !valid_zip(z)
            {
                e.push(a.path("postalCode"), format!("`{z}` is not a ZIP code (12345 or 12345-6789)"));
            }
            a.finish(&mut e);
            Some(Address {
                street1: street1?,
                street2,
                city: city?,
                state: state?,
                postal_code: postal_code.filter(|z| valid_zip(z))?,
            })
        });
        let website = r.opt_string("website", 300, &mut e);
        let business_description = r.opt_text("businessDescription", 2000, &mut e);
        let risk_state = r.parse::<UsState>("riskState", &mut e);
        let naics_code = r.parse::<Naics>("naicsCode", &mut e);
        let annual_revenue = r.money("annualRevenueCents", &mut e);
        let annual_payroll = r.opt_money("annualPayrollCents", &mut e);
        let total_insured_value = r.opt_money("totalInsuredValueCents", &mut e);
        let employee_count = r.opt_int("employeeCount", 0, 10_000_000, &mut e).map(|n| n as u32);
        let years_in_business = r.int("yearsInBusiness", 0, 500, &mut e).map(|n| n as u32);
        let occurrence = r.int("requestedOccurrenceLimitCents", 1, i64::MAX, &mut e).map(Money::from_cents);
        let aggregate = r.int("requestedAggregateLimitCents", 1, i64::MAX, &mut e).map(Money::from_cents);
        if let (Some(o), Some(a)) = (occurrence, aggregate)
            && a < o
        {
            e.push("requestedAggregateLimitCents", "must be at least requestedOccurrenceLimitCents");
        }
        let deductible = r.opt_money("deductibleCents", &mut e).unwrap_or(Money::ZERO);
        if let Some(o) = occurrence
            && deductible >= o
        {
            e.push("deductibleCents", "must be less than requestedOccurrenceLimitCents");
        }
        // a policy starts within a year before and two years after the day it is submitted
        let today = now.date_naive();
        let effective_date = r.date_within(
            "effectiveDate",
            today.checked_sub_months(chrono::Months::new(12)).unwrap_or(today),
            today.checked_add_months(chrono::Months::new(24)).unwrap_or(today),
            &mut e,
        );
        let term_months = r.opt_int("termMonths", 1, 36, &mut e).map_or(12, |n| n as u32);
        let line_of_business = r.parse::<LineOfBusiness>("lineOfBusiness", &mut e);
        let program_id = r.parse::<ProgramId>("programId", &mut e);

        let mut loss_history: Vec<LossYear> = Vec::new();
        for (path, item) in r.opt_array("lossHistory", &mut e) {
            let mut l = ObjectReader::new(item, path, &mut e);
            let year = l.int("policyYear", 1900, 2200, &mut e).map(|y| y as i32);
            let earned = l.money("earnedPremiumCents", &mut e);
            let paid = l.money("paidCents", &mut e);
            let reserved = l.money("reservedCents", &mut e);
            let claims = l.int("claimCount", 0, 1_000_000, &mut e).map(|n| n as u32);
            if let Some(y) = year
                && loss_history.iter().any(|h| h.policy_year == y)
            {
                e.push(l.path("policyYear"), format!("policy year `{y}` appears twice"));
            }
            if let (Some(y), Some(d)) = (year, effective_date)
                && y > d.year()
            {
                e.push(l.path("policyYear"), "must not be after the effective date's year");
            }
            l.finish(&mut e);
            if let (Some(policy_year), Some(earned_premium), Some(paid), Some(reserved), Some(claim_count)) =
                (year, earned, paid, reserved, claims)
            {
                loss_history.push(LossYear { policy_year, earned_premium, paid, reserved, claim_count });
            }
        }
        loss_history.sort_by_key(|l| l.policy_year);

        let extraction_confidence = r.opt_decimal("extractionConfidence", Decimal::ZERO, Decimal::ONE, &mut e);
        r.finish(&mut e);

        if !e.is_empty() {
            return Err(e);
        }
        let (
            Some(insured_name),
            Some(mailing_address),
            Some(risk_state),
            Some(naics_code),
            Some(annual_revenue),
            Some(years_in_business),
            Some(requested_occurrence_limit),
            Some(requested_aggregate_limit),
            Some(effective_date),
            Some(line_of_business),
            Some(program_id),
        ) = (
            insured_name,
            mailing_address,
            risk_state,
            naics_code,
            annual_revenue,
            years_in_business,
            occurrence,
            aggregate,
            effective_date,
            line_of_business,
            program_id,
        )
        else {
            // Every None above recorded an error; reaching here means a reader broke that rule.
            let mut e = FieldErrors::default();
            e.push("$", "incomplete submission");
            return Err(e);
        };
        Ok(Submission {
            id,
            org_id,
            created_by,
            status: SubmissionStatus::Draft,
            revision: 0,
            created_at: now,
            updated_at: now,
            insured_name,
            dba,
            fein,
            entity_type,
            mailing_address,
            website,
            business_description,
            risk_state,
            naics_code,
            annual_revenue,
            annual_payroll,
            total_insured_value,
            employee_count,
            years_in_business,
            requested_occurrence_limit,
            requested_aggregate_limit,
            deductible,
            effective_date,
            term_months,
            line_of_business,
            program_id,
            loss_history,
            needs_manual_review: extraction_confidence.is_some_and(|c| c < MANUAL_REVIEW_THRESHOLD),
            extraction_confidence,
        })
    }

    /// The day the policy period ends (effective date plus the term).
    pub fn expiration_date(&self) -> Option<NaiveDate> {
        self.effective_date.checked_add_months(chrono::Months::new(self.term_months))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use uuid::Uuid;

    fn good() -> Value {
        json!({
            "insuredName": "Acme Manufacturing Co.",
            "fein": "12-3456789",
            "entityType": "corporation",
            "mailingAddress": {"street1": "1 Main St", "city": "Dayton", "state": "OH", "postalCode": "45402-1234"},
            "riskState": "OH",
            "naicsCode": "332710",
            "annualRevenueCents": 450_000_000,
            "employeeCount": 40,
            "yearsInBusiness": 12,
            "requestedOccurrenceLimitCents": 100_000_000,
            "requestedAggregateLimitCents": 200_000_000,
            "deductibleCents": 500_000,
            "effectiveDate": "2027-01-01",
            "termMonths": 12,
            "lineOfBusiness": "general_liability",
            "programId": "0192f0c0-0000-7000-8000-000000000001",
            "lossHistory": [
                {"policyYear": 2025, "earnedPremiumCents": 1_000_000, "paidCents": 200_000, "reservedCents": 50_000, "claimCount": 2},
                {"policyYear": 2024, "earnedPremiumCents": 900_000, "paidCents": 0, "reservedCents": 0, "claimCount": 0}
            ],
            "extractionConfidence": 0.94
        })
    }

    fn intake(v: &Value) -> Result<Submission, FieldErrors> {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        Submission::intake_json(
            SubmissionId::from_uuid(Uuid::from_u128(1)),
            OrgId::from_uuid(Uuid::from_u128(2)),
            UserId::from_uuid(Uuid::from_u128(3)),
            now,
            v,
        )
    }

    #[test]
    fn accepts_a_full_submission() {
        let s = intake(&good()).unwrap();
        assert_eq!(s.status, SubmissionStatus::Draft);
        assert!(!s.needs_manual_review);
        assert_eq!(s.loss_history[0].policy_year, 2024, "sorted oldest first");
        assert_eq!(s.expiration_date(), NaiveDate::from_ymd_opt(2028, 1, 1));
        // serializes with Cents names and back
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["annualRevenueCents"], 450_000_000);
        let back: Submission = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn low_confidence_needs_review_and_threshold_is_exclusive() {
        let mut v = good();
        v["extractionConfidence"] = json!(0.849);
        assert!(intake(&v).unwrap().needs_manual_review);
        v["extractionConfidence"] = json!(0.85);
        assert!(!intake(&v).unwrap().needs_manual_review);
        v.as_object_mut().unwrap().remove("extractionConfidence");
        assert!(!intake(&v).unwrap().needs_manual_review);
    }

    #[test]
    fn reports_every_error_at_once() {
        let v = json!({
            "insuredName": "",
            "fein": "123456789",
            "mailingAddress": {"street1": "1 Main", "city": "X", "state": "ZZ", "postalCode": "1234"},
            "riskState": "California",
            "naicsCode": "33a",
            "annualRevenueCents": -5,
            "yearsInBusiness": 1.5,
            "requestedOccurrenceLimitCents": 200,
            "requestedAggregateLimitCents": 100,
            "deductibleCents": 300,
            "effectiveDate": "01/01/2027",
            "termMonths": 48,
            "lineOfBusiness": "pet",
            "programId": "p1",
            "lossHistory": [{"policyYear": 2025, "earnedPremiumCents": "lots", "paidCents": 0, "reservedCents": 0, "claimCount": 0, "x": 1}],
            "extractionConfidence": 2,
            "color": "blue"
        });
        let errors = intake(&v).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in [
            "insuredName",
            "fein",
            "mailingAddress.state",
            "mailingAddress.postalCode",
            "riskState",
            "naicsCode",
            "annualRevenueCents",
            "yearsInBusiness",
            "requestedAggregateLimitCents",
            "deductibleCents",
            "effectiveDate",
            "termMonths",
            "lineOfBusiness",
            "programId",
            "lossHistory[0].earnedPremiumCents",
            "lossHistory[0].x",
            "extractionConfidence",
            "color",
        ] {
            assert!(paths.contains(&expected), "missing error for {expected}: {errors}");
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let errors = intake(&json!({})).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "insuredName",
                "mailingAddress",
                "riskState",
                "naicsCode",
                "annualRevenueCents",
                "yearsInBusiness",
                "requestedOccurrenceLimitCents",
                "requestedAggregateLimitCents",
                "effectiveDate",
                "lineOfBusiness",
                "programId"
            ]
        );
        assert!(errors.iter().all(|e| e.reason == "is required"));
    }

    #[test]
    fn duplicate_and_future_loss_years() {
        let mut v = good();
        v["lossHistory"] = json!([
            {"policyYear": 2025, "earnedPremiumCents": 1, "paidCents": 0, "reservedCents": 0, "claimCount": 0},
            {"policyYear": 2025, "earnedPremiumCents": 1, "paidCents": 0, "reservedCents": 0, "claimCount": 0},
            {"policyYear": 2030, "earnedPremiumCents": 1, "paidCents": 0, "reservedCents": 0, "claimCount": 0}
        ]);
        let errors = intake(&v).unwrap_err();
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert_eq!(errors.0[0].path, "lossHistory[1].policyYear");
        assert_eq!(errors.0[1].path, "lossHistory[2].policyYear");
    }

    #[test]
    fn not_an_object() {
        let errors = intake(&json!("hello")).unwrap_err();
        assert_eq!(errors.0[0].path, "$");
    }
}

#[cfg(test)]
mod input_schema {
    use super::*;

    /// The typed input and intake agree: the example reads both ways to the same submission,
    /// and every property the schema names is one intake reads (an unknown one would be refused).
    #[test]
    fn the_typed_input_is_what_intake_reads() {
        let json: Value = serde_json::from_str(include_str!("../../examples/submissions/acme.json")).unwrap();
        let typed: SubmissionInput = serde_json::from_value(json.clone()).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().to_utc();
        let id = SubmissionId::from_uuid(uuid::Uuid::from_u128(1));
        let org = OrgId::from_uuid(uuid::Uuid::from_u128(2));
        let user = UserId::from_uuid(uuid::Uuid::from_u128(3));
        let a = Submission::intake_json(id, org, user, now, &json).unwrap();
        let b = Submission::intake_json(id, org, user, now, &typed.to_json()).unwrap();
        assert_eq!(a, b);
        let schema = serde_json::to_value(schemars::schema_for!(SubmissionInput)).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for name in props.keys() {
            let mut probe = json.clone();
            if probe.get(name).is_none() {
                probe[name.as_str()] = Value::Null;
            }
            let refused = Submission::intake_json(id, org, user, now, &probe).err().unwrap_or_default();
            assert!(
                !refused.iter().any(|e| e.path == *name && e.reason == "unknown field"),
                "intake does not read `{name}`"
            );
        }
    }
}
