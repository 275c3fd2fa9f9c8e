//! Pre-bind checks, referrals and the bind, over the in-memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use chrono::Duration;
use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure_core::billing::BillingPlan;
use openinsure_core::policy::PolicyStatus;
use openinsure_core::quote::{QuoteStatus, Schedule};
use openinsure_core::store::{DaStore, Outbox, Page, PolicyStore};
use openinsure_core::submission::SubmissionStatus;
use openinsure_core::underwriting::authority::ReferralStatus;
use openinsure_core::underwriting::checks::Severity;
use openinsure_core::underwriting::da::DaStatus;
use openinsure_core::underwriting::da::NewDaAgreement;
use serde_json::{Value, json};

fn codes(flags: &[openinsure_core::underwriting::checks::Flag]) -> Vec<&str> {
    flags.iter().map(|f| f.code.as_str()).collect()
}

async fn quoted(w: &common::World, o: &common::Org, json: &Value) -> openinsure_core::quote::Quote {
    let sub = w.app.submit(&o.producer, &common::typed(json)).await.unwrap();
    w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap()
}

fn bind_failure(r: Result<openinsure_core::policy::Policy, Error>) -> Vec<String> {
    match r {
        Err(Error::Checks { flags }) => flags.into_iter().map(|f| f.code).collect(),
        other => panic!("expected failing checks, got {other:?}"),
    }
}

#[tokio::test]
async fn clean_bind_writes_policy_schedule_usage_and_event() {
    let w = world();
    let o = org(&w, 1).await;
    let q = quoted(&w, &o, &acme()).await;
    assert!(q.flags.is_empty(), "{:?}", q.flags);
    let req = BindRequest { billing_plan: BillingPlan::Quarterly, ..BindRequest::default() };
    let p = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    assert_eq!(p.status, PolicyStatus::Bound);
    assert_eq!(p.number, "GL-2027-000001");
    assert_eq!(p.billing.installments.len(), 4);
    assert_eq!(p.billing.premium_total().unwrap(), q.rating.totals.gross_premium);
    assert_eq!(w.app.get_quote(&o.underwriter, q.id).await.unwrap().status, QuoteStatus::Bound);
    assert_eq!(w.app.submission(&o.underwriter, q.submission_id).await.unwrap().status, SubmissionStatus::Bound);
    let agreement = p.da_agreement_id.unwrap();
    let usage = w.store.usage(o.admin.org_id, agreement, 1).await.unwrap();
    assert_eq!(usage.written_premium, q.rating.totals.gross_premium);
    let events = w.store.org_events(o.admin.org_id, Page::first()).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event.name() == "policy.bound").count(), 1);

    // binding again binds once
    let again = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    assert_eq!(again, p);
    assert_eq!(w.store.usage(o.admin.org_id, agreement, 1).await.unwrap().policy_count, 1);
    let events_after = w.store.org_events(o.admin.org_id, Page::first()).await.unwrap();
    assert_eq!(events_after.len(), events.len());

    // a second policy gets the next number
    let mut other = acme();
    other["fein"] = json!("31-7654321");
    let q2 = quoted(&w, &o, &other).await;
    assert_eq!(w.app.bind(&o.underwriter, q2.id, &req).await.unwrap().number, "GL-2027-000002");
}

#[tokio::test]
async fn each_prebind_check_failing_alone() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "da_occurrence_limit_exceeded",
            Box::new(|v| {
                v["requestedOccurrenceLimitCents"] = json!(300_000_000);
                v["requestedAggregateLimitCents"] = json!(300_000_000);
            }),
        ),
        ("da_state_excluded", Box::new(|v| v["riskState"] = json!("FL"))),
        ("da_class_excluded", Box::new(|v| v["naicsCode"] = json!("212312"))),
        ("da_term_not_allowed", Box::new(|v| v["termMonths"] = json!(6))),
        ("da_outside_period", Box::new(|v| v["effectiveDate"] = json!("2027-08-01"))),
    ];
    for (code, mutate) in cases {
        let w = world();
        let o = org(&w, 1).await;
        let mut v = acme();
        mutate(&mut v);
        let q = quoted(&w, &o, &v).await;
        // the quote is produced, with the flag
        assert!(codes(&q.flags).contains(&code), "{code}: {:?}", q.flags);
        let got = bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await);
        assert!(got.contains(&code.to_owned()), "{code}: {got:?}");
        assert!(
            w.store.list_policies(o.admin.org_id, Page::first()).await.unwrap().is_empty(),
            "{code}: nothing bound"
        );
    }
}

#[tokio::test]
async fn expired_quote_cannot_bind() {
    let w = world();
    let o = org(&w, 1).await;
    let q = quoted(&w, &o, &acme()).await;
    w.clock.advance(Duration::days(30));
    let got = bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await);
    assert_eq!(got, vec!["quote_expired"]);
}

#[tokio::test]
async fn suspended_agreement_blocks() {
    let w = world();
    let o = org(&w, 1).await;
    let q = quoted(&w, &o, &acme()).await;
    let a = w.app.agreements(&o.admin, Page::first()).await.unwrap().remove(0);
    w.app.set_agreement_status(&o.admin, a.id, DaStatus::Suspended).await.unwrap();
    assert_eq!(bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await), vec!["da_suspended"]);
}

#[tokio::test]
async fn all_failing_together_are_all_reported() {
    let w = world();
    let o = org(&w, 1).await;
    let mut v = acme();
    v["riskState"] = json!("FL");
    v["naicsCode"] = json!("212312");
    v["termMonths"] = json!(6);
    let q = quoted(&w, &o, &v).await;
    w.clock.advance(Duration::days(31));
    let got = bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await);
    for code in ["quote_expired", "da_state_excluded", "da_class_excluded", "da_term_not_allowed"] {
        assert!(got.contains(&code.to_owned()), "{code} missing from {got:?}");
    }
}

#[tokio::test]
async fn no_agreement_blocks() {
    let w = world();
    let producer = common::caller(1, 2, openinsure_core::tenancy::Role::Producer);
    let underwriter = common::caller(1, 3, openinsure_core::tenancy::Role::Underwriter);
    let sub = w.app.submit(&producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&underwriter, sub.id, &Schedule::none()).await.unwrap();
    assert!(codes(&q.flags).contains(&"no_da_agreement"));
    // without an agreement the program is not the org's in the authorizer: bind is forbidden
    assert!(matches!(w.app.bind(&underwriter, q.id, &BindRequest::default()).await, Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn authorization_is_required() {
    let w = world();
    let o = org(&w, 1).await;
    let q = quoted(&w, &o, &acme()).await;
    // producers never bind
    assert!(matches!(w.app.bind(&o.producer, q.id, &BindRequest::default()).await, Err(Error::Forbidden(_))));
    // an underwriter without an authority profile: the authorizer says why
    let stranger = common::caller(1, 9, openinsure_core::tenancy::Role::Underwriter);
    let Err(Error::Forbidden(why)) = w.app.bind(&stranger, q.id, &BindRequest::default()).await else { panic!() };
    assert!(why.contains("no authority profile"), "{why}");
    // another org's underwriter cannot even see it
    let other = org(&w, 2).await;
    assert!(matches!(w.app.bind(&other.underwriter, q.id, &BindRequest::default()).await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn referral_raised_approved_then_bound() {
    let w = world();
    let o = org(&w, 1).await;
    // $45M revenue: a premium above the underwriter's $25,000 cap, within the senior's $100,000
    let mut v = acme();
    v["annualRevenueCents"] = json!(4_500_000_000i64);
    v["fein"] = json!("31-1111111");
    let q = quoted(&w, &o, &v).await;
    let premium = q.rating.totals.gross_premium.cents();
    assert!(premium > 2_500_000 && premium <= 10_000_000, "premium {premium}");
    assert!(codes(&q.flags).contains(&"referral_required"), "{:?}", q.flags);
    assert!(q.flags.iter().all(|f| f.severity == Severity::Refer));

    let queue = w.app.referrals(&o.senior, Some(ReferralStatus::Pending), Page::first()).await.unwrap();
    assert_eq!(queue.len(), 1);
    let referral = &queue[0];
    assert_eq!(referral.routed_to_level, 2);
    assert_eq!(referral.requested_by, o.underwriter.user_id);

    // bind waits for the decision, and raises nothing new
    assert_eq!(bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await), vec!["referral_pending"]);
    assert_eq!(w.app.referrals(&o.senior, None, Page::first()).await.unwrap().len(), 1);

    // the underwriter cannot approve it; the senior can, with a reason and a rationale
    assert!(matches!(w.app.approve_referral(&o.underwriter, referral.id, "ok", "ok").await, Err(Error::Forbidden(_))));
    assert!(matches!(w.app.approve_referral(&o.senior, referral.id, "ok", "").await, Err(Error::Invalid(_))));
    let approved =
        w.app.approve_referral(&o.senior, referral.id, "adequate_pricing", "loss history is clean").await.unwrap();
    assert_eq!(approved.status, ReferralStatus::Approved);
    let (_, trail) = w.app.referral(&o.senior, referral.id).await.unwrap();
    assert_eq!(trail.len(), 2);

    let p = w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
    assert_eq!(p.referral_id, Some(referral.id));
    let names: Vec<&str> = w
        .store
        .org_events(o.admin.org_id, Page::first())
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.name())
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "referral.created").count(), 1);
    assert_eq!(names.iter().filter(|n| **n == "referral.approved").count(), 1);
    assert_eq!(names.iter().filter(|n| **n == "policy.bound").count(), 1);
}

#[tokio::test]
async fn approval_covers_only_what_was_approved() {
    let w = world();
    let o = org(&w, 1).await;
    let mut v = acme();
    v["annualRevenueCents"] = json!(4_500_000_000i64);
    let q = quoted(&w, &o, &v).await;
    let r = w.app.referrals(&o.senior, Some(ReferralStatus::Pending), Page::first()).await.unwrap().remove(0);
    w.app.approve_referral(&o.senior, r.id, "adequate_pricing", "fine").await.unwrap();
    // a new quote on the same submission with a schedule debit costs more than was approved
    let schedule = Schedule {
        adjustments: vec![openinsure_core::quote::ScheduleAdjustment {
            reason_code: "EQUIPMENT".into(),
            adjustment: "0.10".parse().unwrap(),
        }],
    };
    let dearer = w.app.quote(&o.underwriter, q.submission_id, &schedule).await.unwrap();
    assert!(codes(&dearer.flags).contains(&"referral_required"), "{:?}", dearer.flags);
    assert_eq!(
        bind_failure(w.app.bind(&o.underwriter, dearer.id, &BindRequest::default()).await),
        vec!["referral_pending"]
    );
    // the approved quote still binds
    assert!(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await.is_ok());
}

#[tokio::test]
async fn declined_referral_does_not_bind() {
    let w = world();
    let o = org(&w, 1).await;
    let mut v = acme();
    v["annualRevenueCents"] = json!(4_500_000_000i64);
    let q = quoted(&w, &o, &v).await;
    let r = w.app.referrals(&o.senior, Some(ReferralStatus::Pending), Page::first()).await.unwrap().remove(0);
    w.app.decline_referral(&o.chief, r.id, "outside_appetite", "too large for the program").await.unwrap();
    let got = bind_failure(w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await);
    assert!(got.contains(&"referral_required".to_owned()), "a new referral is raised: {got:?}");
}

#[tokio::test]
async fn capacity_race_through_the_use_case() {
    let w = world();
    let o = org(&w, 1).await;
    // each risk: $140M revenue, a premium near $220,000 (chief authority) against $5M capacity
    let mut quotes = Vec::new();
    for i in 0..30 {
        let mut v = acme();
        v["annualRevenueCents"] = json!(14_000_000_000i64);
        v["fein"] = json!(format!("40-{:07}", i));
        let sub = w.app.submit(&o.producer, &common::typed(&v)).await.unwrap();
        quotes.push(w.app.quote(&o.chief, sub.id, &Schedule::none()).await.unwrap());
    }
    let premium = quotes[0].rating.totals.gross_premium.cents();
    let fit = (500_000_000 / premium) as usize;
    assert!(fit < quotes.len(), "the test needs more risks than capacity");
    let mut handles = Vec::new();
    for q in quotes {
        let app = w.app.clone();
        let chief = o.chief;
        handles.push(tokio::spawn(async move { app.bind(&chief, q.id, &BindRequest::default()).await }));
    }
    let mut won = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Rule { code: "da_capacity_exceeded", .. }) => {}
            Err(Error::Checks { flags }) if flags.iter().any(|f| f.code == "da_capacity_exceeded") => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, fit);
}

#[tokio::test]
async fn cross_org_reads_of_underwriting_data() {
    let w = world();
    let a = org(&w, 1).await;
    let b = org(&w, 2).await;
    let mut v = acme();
    v["annualRevenueCents"] = json!(4_500_000_000i64);
    quoted(&w, &a, &v).await;
    let r = w.app.referrals(&a.senior, None, Page::first()).await.unwrap().remove(0);
    assert!(matches!(w.app.referral(&b.senior, r.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(w.app.approve_referral(&b.senior, r.id, "x", "y").await, Err(Error::NotFound { .. })));
    assert!(w.app.referrals(&b.senior, None, Page::first()).await.unwrap().is_empty());
    let agreement = w.app.agreements(&a.admin, Page::first()).await.unwrap().remove(0);
    assert!(matches!(w.app.agreement(&b.admin, agreement.id).await, Err(Error::NotFound { .. })));
    assert_eq!(w.app.profiles(&b.admin).await.unwrap().len(), 3, "b sees only its own ladder");
}

#[tokio::test]
async fn bad_agreement_input_names_fields() {
    let w = world();
    let admin = common::caller(1, 1, openinsure_core::tenancy::Role::Admin);
    // untrusted JSON is read strictly into the typed input, naming the field
    let mut v = common::agreement_json();
    v["maxPremiumCents"] = json!("lots");
    let (path, _) = openinsure_core::json::from_value::<NewDaAgreement>(v).unwrap_err();
    assert_eq!(path, "maxPremiumCents");
    let mut v = common::agreement_json();
    v["orgId"] = json!("0192f0c0-0000-7000-8000-000000000009");
    let (_, reason) = openinsure_core::json::from_value::<NewDaAgreement>(v).unwrap_err();
    assert!(reason.contains("orgId"), "{reason}");
    // the typed input is checked: every field error at once
    let mut v = common::agreement_json();
    v["expirationDate"] = json!("2026-01-01");
    v["allowedTermsMonths"] = json!([]);
    let Err(Error::Invalid(e)) = w.app.create_agreement(&admin, common::typed(&v)).await else { panic!() };
    assert_eq!(e.0.len(), 2, "{e}");
    assert!(w.app.agreements(&admin, Page::first()).await.unwrap().is_empty(), "nothing was written");
    let producer = common::caller(1, 2, openinsure_core::tenancy::Role::Producer);
    assert!(matches!(
        w.app.create_agreement(&producer, common::typed(&common::agreement_json())).await,
        Err(Error::Forbidden(_))
    ));
}

#[tokio::test]
async fn one_org_cannot_change_how_another_authorizes_its_users() {
    let w = world();
    let a = org(&w, 1).await;
    let b = org(&w, 2).await;
    let q = quoted(&w, &b, &acme()).await;
    // b's underwriter without a profile in b: forbidden
    let stranger = common::caller(2, 9, openinsure_core::tenancy::Role::Underwriter);
    assert!(matches!(w.app.bind(&stranger, q.id, &BindRequest::default()).await, Err(Error::Forbidden(_))));
    // a's admin assigns a's profile to that user id: nothing changes in b
    let profile = w.app.profiles(&a.admin).await.unwrap().remove(2);
    w.app.assign_profile(&a.admin, stranger.user_id, profile.id).await.unwrap();
    assert!(
        matches!(w.app.bind(&stranger, q.id, &BindRequest::default()).await, Err(Error::Forbidden(_))),
        "another org's assignment must not authorize a bind"
    );
    assert!(w.app.assignments(&b.admin).await.unwrap().iter().all(|x| x.user_id != stranger.user_id));
    // b's own profiles are not a's to assign
    let theirs = w.app.profiles(&b.admin).await.unwrap().remove(0);
    assert!(matches!(w.app.assign_profile(&a.admin, stranger.user_id, theirs.id).await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn negative_limits_and_thresholds_are_refused() {
    let w = world();
    let admin = common::caller(1, 1, openinsure_core::tenancy::Role::Admin);
    let profile = json!({
        "name": "GL", "level": 1, "lineOfBusiness": "general_liability",
        "maxOccurrenceLimitCents": -1, "maxAggregateLimitCents": 1, "maxPremiumCents": -5,
        "canApproveReferrals": false
    });
    let Err(Error::Invalid(e)) = w.app.create_profile(&admin, common::typed(&profile)).await else { panic!() };
    let paths: Vec<&str> = e.0.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["maxOccurrenceLimitCents", "maxPremiumCents"]);
    let rule = json!({
        "trigger": { "kind": "premium_above", "premiumCents": -1 },
        "minLevel": 2,
        "description": "everything"
    });
    let Err(Error::Invalid(e)) = w.app.create_rule(&admin, common::typed(&rule)).await else { panic!() };
    assert_eq!(e.0[0].path, "trigger.premiumCents");
    assert!(w.app.rules(&admin).await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn an_expired_agreement_is_never_revived() {
    let w = world();
    let o = org(&w, 1).await;
    let a = w.app.agreements(&o.admin, Page::first()).await.unwrap().remove(0);
    use openinsure_core::underwriting::da::DaStatus;
    let suspended = w.app.set_agreement_status(&o.admin, a.id, DaStatus::Suspended).await.unwrap();
    assert_eq!(suspended.status, DaStatus::Suspended);
    w.app.set_agreement_status(&o.admin, a.id, DaStatus::Active).await.unwrap();
    w.app.set_agreement_status(&o.admin, a.id, DaStatus::Expired).await.unwrap();
    assert!(matches!(
        w.app.set_agreement_status(&o.admin, a.id, DaStatus::Active).await,
        Err(Error::Rule { code: "invalid_transition", .. })
    ));
    assert_eq!(w.app.agreement(&o.admin, a.id).await.unwrap().status, DaStatus::Expired, "nothing changed");
}
