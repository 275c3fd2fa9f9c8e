//! The bind decision, case by case: one JSON file per case in `tests/decisions/` (the context as
//! changes to a base, the caller, the request, the expected decision), one `check` helper.
//!
//! The base: a general-liability submission in Ohio effective 2027-01-01 ($1M/$2M limits, $4.5M
//! revenue), a quote of $9,450, a DA agreement for its program (2026-07-01 to 2027-07-01, up to
//! $250,000 premium and $2M/$4M limits, $5M a year, one policy per insured), an authority ladder
//! (level 1: up to $25,000 premium and a $1M limit; level 2: $100,000 and $2M, approves; level 3:
//! $250,000 and $3M, approves), and an underwriter holding level 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use openinsure_core::clock::SequentialIds;
use openinsure_core::ids::{AuthorityProfileId, DaAgreementId, OrgId, PolicyId, QuoteId, SubmissionId, UserId};
use openinsure_core::money::Money;
use openinsure_core::samples::{sample_agreement_for, sample_policy, sample_quote, sample_submission};
use openinsure_core::submission::{Submission, SubmissionStatus};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_core::underwriting::authority::{AuthorityProfile, Referral, ReferralRule, ReferralStatus};
use openinsure_core::underwriting::da::{DaAgreement, DaUsage};
use openinsure_core::underwriting::decision::{
    BindContext, BindDecision, BindRequest, UnderwritingContext, decide_bind, risk_summary,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    description: String,
    /// Changes to the submission (its JSON, merged).
    #[serde(default)]
    submission: Value,
    /// Changes to the agreement (its JSON, merged).
    #[serde(default)]
    agreement: Value,
    /// No agreement for the program at all.
    #[serde(default)]
    no_agreement: bool,
    /// The agreement's usage in the year the policy counts in (its JSON, merged).
    #[serde(default)]
    usage: Option<Value>,
    /// The agreement year that usage is of, when not the policy's.
    #[serde(default)]
    usage_year: Option<u32>,
    /// The caller's role (`underwriter` when absent).
    #[serde(default)]
    caller_role: Option<Role>,
    /// The levels of the ladder the caller holds (`[1]` when absent).
    #[serde(default)]
    caller_levels: Option<Vec<u8>>,
    /// Replaces the ladder: `{ "level", "maxPremiumCents", "maxOccurrenceLimitCents", "approves" }`.
    #[serde(default)]
    profiles: Option<Vec<Value>>,
    /// Referral rules: `{ "trigger", "minLevel" }`.
    #[serde(default)]
    rules: Vec<Value>,
    /// The submission's referrals: `{ "status", "premiumCents"?, "routedToLevel"? }`, on the
    /// quote's risk unless the premium says otherwise.
    #[serde(default)]
    referrals: Vec<Value>,
    /// The quote's gross premium in cents (9,450.00 when absent).
    #[serde(default)]
    quote_premium_cents: Option<i64>,
    /// The quote expired before the bind.
    #[serde(default)]
    quote_expired: bool,
    /// The submission has no quote.
    #[serde(default)]
    no_quote: bool,
    /// A second, later quote (the one a bind without `quoteId` takes), at this premium.
    #[serde(default)]
    later_quote_premium_cents: Option<i64>,
    /// The quote was bound already (with this down payment id, if any).
    #[serde(default)]
    bound_already: Option<Value>,
    /// The submission is bound (from another quote).
    #[serde(default)]
    submission_bound: bool,
    /// The request: `{ "quote": "first" | "later" | "unknown", "downPaymentId", "billingPlan" }`.
    #[serde(default)]
    request: Value,
    expect: Expect,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expect {
    /// `bind`, `refuse`, `already_bound` or `error`.
    decision: String,
    /// The codes of the failed checks, in order.
    #[serde(default)]
    flags: Vec<String>,
    /// The level a raised referral is routed to.
    #[serde(default)]
    referral_level: Option<u8>,
    /// The bind relies on an approved referral.
    #[serde(default)]
    approved_referral: bool,
    /// The bound premium, when it binds.
    #[serde(default)]
    premium_cents: Option<i64>,
    /// The error's kind: `not_found`, `conflict` or a rule code.
    #[serde(default)]
    error: Option<String>,
    /// The number of installments, when it binds.
    #[serde(default)]
    installments: Option<usize>,
}

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1))
}

fn merge(base: &mut Value, patch: &Value) {
    if let (Value::Object(b), Value::Object(p)) = (&mut *base, patch) {
        for (k, v) in p {
            match b.get_mut(k) {
                Some(slot) if v.is_object() && slot.is_object() => merge(slot, v),
                _ => {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

fn patched<T: serde::Serialize + serde::de::DeserializeOwned>(base: &T, patch: &Value) -> T {
    let mut v = serde_json::to_value(base).unwrap();
    merge(&mut v, patch);
    serde_json::from_value(v).unwrap()
}

fn profile(n: u128, level: u8, max_premium: i64, max_occurrence: i64, approves: bool) -> AuthorityProfile {
    AuthorityProfile {
        id: AuthorityProfileId::from_uuid(Uuid::from_u128(0x900 + n)),
        org_id: org(),
        name: format!("GL level {level}"),
        level,
        line_of_business: openinsure_core::submission::LineOfBusiness::GeneralLiability,
        max_occurrence_limit: Money::from_cents(max_occurrence),
        max_aggregate_limit: Money::from_cents(max_occurrence * 2),
        max_premium: Money::from_cents(max_premium),
        max_annual_revenue: None,
        excluded_naics: vec![],
        can_approve_referrals: approves,
    }
}

fn context(case: &Case) -> (BindContext, Caller, BindRequest) {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let submission: Submission =
        patched(&sample_submission(SubmissionId::from_uuid(Uuid::from_u128(0x100)), org()), &case.submission);
    let mut submission = submission;
    if case.submission_bound {
        submission.status = SubmissionStatus::Bound;
    }
    let agreement: DaAgreement =
        patched(&sample_agreement_for(DaAgreementId::from_uuid(Uuid::from_u128(0x200)), org()), &case.agreement);
    let agreements = if case.no_agreement { vec![] } else { vec![agreement.clone()] };

    let mut quote = sample_quote(QuoteId::from_uuid(Uuid::from_u128(0x300)), org(), submission.id);
    let premium = Money::from_cents(case.quote_premium_cents.unwrap_or(945_000));
    quote.rating.totals.gross_premium = premium;
    quote.rating.totals.net_premium = premium;
    quote.rating.totals.total_due = premium;
    if case.quote_expired {
        quote.expires_at = now - Duration::days(1);
    }
    let mut quotes = if case.no_quote { vec![] } else { vec![quote.clone()] };
    if let Some(later) = case.later_quote_premium_cents {
        let mut q = quote.clone();
        q.id = QuoteId::from_uuid(Uuid::from_u128(0x301));
        q.quoted_at = quote.quoted_at + Duration::hours(1);
        q.expires_at = q.quoted_at + Duration::days(30);
        q.rating.totals.gross_premium = Money::from_cents(later);
        q.rating.totals.net_premium = Money::from_cents(later);
        q.rating.totals.total_due = Money::from_cents(later);
        quotes.push(q);
    }

    let usage = match &case.usage {
        None => vec![],
        Some(patch) => {
            let (year, _) = agreement.year_and_quarter(submission.effective_date).unwrap_or((1, 0));
            let year = case.usage_year.unwrap_or(year);
            let base = DaUsage { agreement_year: year, ..DaUsage::default() };
            vec![(agreement.id, patched(&base, patch))]
        }
    };

    let profiles: Vec<AuthorityProfile> = match &case.profiles {
        None => vec![
            profile(1, 1, 2_500_000, 100_000_000, false),
            profile(2, 2, 10_000_000, 200_000_000, true),
            profile(3, 3, 25_000_000, 300_000_000, true),
        ],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| {
                profile(
                    i as u128 + 1,
                    p["level"].as_u64().unwrap() as u8,
                    p["maxPremiumCents"].as_i64().unwrap_or(2_500_000),
                    p["maxOccurrenceLimitCents"].as_i64().unwrap_or(100_000_000),
                    p["approves"].as_bool().unwrap_or(false),
                )
            })
            .collect(),
    };
    let levels = case.caller_levels.clone().unwrap_or_else(|| vec![1]);
    let caller_profiles = profiles.iter().filter(|p| levels.contains(&p.level)).cloned().collect();

    let rules = case
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = json!({
                "id": Uuid::from_u128(0x500 + i as u128),
                "orgId": org(),
                "description": format!("rule {i}"),
            });
            merge(&mut v, r);
            serde_json::from_value::<ReferralRule>(v).unwrap()
        })
        .collect();

    let ids = SequentialIds::new(0x7000);
    let referrals = case
        .referrals
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut risk = risk_summary(&submission, &quote);
            if let Some(p) = r["premiumCents"].as_i64() {
                risk.premium = Money::from_cents(p);
            }
            let level = r["routedToLevel"].as_u64().unwrap_or(2) as u8;
            let (mut referral, _) = Referral::raise(
                openinsure_core::ids::ReferralId::from_uuid(Uuid::from_u128(0x600 + i as u128)),
                Uuid::from_u128(0x650 + i as u128),
                org(),
                submission.id,
                quote.id,
                UserId::from_uuid(Uuid::from_u128(0x42)),
                level,
                vec![],
                risk,
                now - Duration::hours(1),
            );
            referral.status = serde_json::from_value::<ReferralStatus>(r["status"].clone()).unwrap();
            referral
        })
        .collect();
    let _ = ids;

    let policies = match &case.bound_already {
        None => vec![],
        Some(v) => {
            let mut p = sample_policy(PolicyId::from_uuid(Uuid::from_u128(0x800)), org(), &quote, "GL-2027-000001");
            if let Some(id) = v["downPaymentId"].as_str() {
                p.billing.installments[0].payment_id = Some(id.parse().unwrap());
            }
            vec![p]
        }
    };

    let caller =
        Caller::new(UserId::from_uuid(Uuid::from_u128(0x42)), org(), case.caller_role.unwrap_or(Role::Underwriter));
    let quote_id = match case.request["quote"].as_str() {
        None => None,
        Some("first") => Some(quote.id),
        Some("later") => Some(QuoteId::from_uuid(Uuid::from_u128(0x301))),
        Some("unknown") => Some(QuoteId::from_uuid(Uuid::from_u128(0x3ff))),
        Some(other) => panic!("request.quote `{other}`"),
    };
    let mut request = BindRequest { quote_id, ..BindRequest::default() };
    if let Some(id) = case.request["downPaymentId"].as_str() {
        request.down_payment_id = Some(id.parse().unwrap());
    }
    if let Some(plan) = case.request.get("billingPlan") {
        request.billing_plan = serde_json::from_value(plan.clone()).unwrap();
    }
    let underwriting =
        UnderwritingContext { submission, agreements, usage, caller_profiles, profiles, rules, referrals };
    (BindContext { underwriting, quotes, policies }, caller, request)
}

fn check(path: &Path) {
    let case: Case = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (ctx, caller, request) = context(&case);
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let ids = SequentialIds::new(0x9000);
    let name = path.file_name().unwrap().to_string_lossy();
    let e = &case.expect;
    let outcome = decide_bind(&ctx, &caller, &request, &ids, now);
    // the same context decides the same way (the function is pure)
    let again = decide_bind(&ctx, &caller, &request, &SequentialIds::new(0x9000), now);
    assert_eq!(format!("{outcome:?}"), format!("{again:?}"), "{name}: the decision is deterministic");
    match (e.decision.as_str(), outcome) {
        ("bind", Ok(BindDecision::Bind(plan))) => {
            assert!(e.flags.is_empty(), "{name}: a bind has no flags");
            if let Some(p) = e.premium_cents {
                assert_eq!(plan.quote().rating.totals.gross_premium.cents(), p, "{name}: which quote");
            }
            let commit = plan
                .commit(7, &caller, &ids, now, |p, n, id| {
                    Ok::<_, openinsure_core::Error>(openinsure_core::events::DomainEvent::PaymentReceived {
                        payment_id: id,
                        policy_id: p.id,
                        installment_number: n,
                        premium: Money::ZERO,
                        policy_fees: Money::ZERO,
                        taxes: Money::ZERO,
                        installment_fee: Money::ZERO,
                        producer_commission_rate: p.commission_rate,
                        mga_commission_rate: p.mga_commission_rate,
                    })
                })
                .unwrap_or_else(|err| panic!("{name}: commit: {err}"));
            assert_eq!(commit.policy.number, "GL-2027-000007", "{name}");
            assert_eq!(commit.policy.referral_id.is_some(), e.approved_referral, "{name}: approved referral");
            assert_eq!(commit.submission.status, SubmissionStatus::Bound);
            assert_eq!(commit.events.len(), 1 + usize::from(request.down_payment_id.is_some()), "{name}: events");
            if let Some(n) = e.installments {
                assert_eq!(commit.policy.billing.installments.len(), n, "{name}: installments");
            }
        }
        ("refuse", Ok(BindDecision::Refuse { flags, referral })) => {
            let codes: Vec<&str> = flags.iter().map(|f| f.code.as_str()).collect();
            assert_eq!(codes, e.flags, "{name}: {}", case.description);
            assert_eq!(referral.as_ref().map(|r| r.referral.routed_to_level), e.referral_level, "{name}: referral");
        }
        ("already_bound", Ok(BindDecision::AlreadyBound(p))) => {
            assert_eq!(p.id, PolicyId::from_uuid(Uuid::from_u128(0x800)), "{name}");
        }
        ("error", Err(err)) => {
            let kind = match &err {
                openinsure_core::Error::NotFound { .. } => "not_found".to_owned(),
                openinsure_core::Error::Conflict(_) => "conflict".to_owned(),
                openinsure_core::Error::Rule { code, .. } => (*code).to_owned(),
                other => format!("{other:?}"),
            };
            assert_eq!(Some(kind), e.error, "{name}: {err}");
        }
        (want, got) => panic!("{name} ({}): expected {want}, got {got:?}", case.description),
    }
}

#[test]
fn every_decision_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decisions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus has {} cases; it should cover every flag and routing rule", files.len());
    for f in files {
        check(&f);
    }
}
