//! Use-case tests over the in-memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use chrono::Duration;
use openinsure::{App, Error};
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::quote::{Schedule, ScheduleAdjustment};
use openinsure_core::store::{Page, SubmissionStore};
use openinsure_core::submission::SubmissionStatus;
use openinsure_core::tenancy::{Caller, Role};
use openinsure_memory::MemoryStore;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;

fn setup() -> (App, MemoryStore) {
    let w = common::world();
    (w.app, w.store)
}

fn caller(org: u128, role: Role) -> Caller {
    Caller::new(UserId::from_uuid(Uuid::from_u128(org * 100 + 1)), OrgId::from_uuid(Uuid::from_u128(org)), role)
}

fn acme() -> Value {
    serde_json::from_str(include_str!("../../examples/submissions/acme.json")).unwrap()
}

#[tokio::test]
async fn submit_then_quote() {
    let (app, _) = setup();
    let producer = caller(1, Role::Producer);
    let sub = app.submit(&producer, &common::typed(&acme())).await.unwrap();
    assert_eq!(sub.status, SubmissionStatus::Draft);
    let quote = app.quote(&producer, sub.id, &Schedule::none()).await.unwrap();
    assert_eq!(quote.expires_at - quote.quoted_at, Duration::days(30));
    assert_eq!(quote.rating.worksheet.recompute().unwrap(), quote.rating.totals);
    assert_eq!(&*quote.rating.rate_table.id, "gl-main-street-manufacturing");
    assert_eq!(app.submission(&producer, sub.id).await.unwrap().status, SubmissionStatus::Quoted);
    assert_eq!(app.quotes_for(&producer, sub.id).await.unwrap(), vec![quote.clone()]);
    assert_eq!(app.get_quote(&producer, quote.id).await.unwrap(), quote);
}

#[tokio::test]
async fn rating_is_deterministic() {
    let (app, _) = setup();
    let uw = caller(1, Role::Underwriter);
    let sub = app.submit(&uw, &common::typed(&acme())).await.unwrap();
    let a = app.quote(&uw, sub.id, &Schedule::none()).await.unwrap();
    let b = app.quote(&uw, sub.id, &Schedule::none()).await.unwrap();
    assert_eq!(a.rating, b.rating);
    assert_ne!(a.id, b.id);
}

#[tokio::test]
async fn invalid_submission_lists_every_error_and_writes_nothing() {
    let (app, store) = setup();
    let producer = caller(1, Role::Producer);
    let mut bad = acme();
    bad["riskState"] = json!("ZZ");
    bad["annualRevenueCents"] = json!(-1);
    bad["effectiveDate"] = json!("soon");
    // untrusted JSON: every error at once, with its path
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().to_utc();
    let errors = openinsure_core::submission::SubmissionInput::read(&bad, now).unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["riskState", "annualRevenueCents", "effectiveDate"]);
    // a typed input is checked the same way: a negative revenue, a date out of the window
    let mut input: openinsure_core::submission::SubmissionInput = common::typed(&acme());
    input.annual_revenue_cents = -1;
    input.effective_date = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let Err(Error::Invalid(errors)) = app.submit(&producer, &input).await else { panic!("expected invalid") };
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["annualRevenueCents", "effectiveDate"]);
    assert!(store.list_submissions(producer.org_id, Page::first()).await.unwrap().is_empty());
}

#[tokio::test]
async fn roles_are_enforced() {
    let (app, _) = setup();
    for role in [Role::Adjuster, Role::ComplianceOfficer, Role::FinanceAnalyst, Role::Policyholder] {
        assert!(
            matches!(app.submit(&caller(1, role), &common::typed(&acme())).await, Err(Error::Forbidden(_))),
            "{role}"
        );
    }
    let producer = caller(1, Role::Producer);
    let sub = app.submit(&producer, &common::typed(&acme())).await.unwrap();
    let schedule = Schedule {
        adjustments: vec![ScheduleAdjustment { reason_code: "MGMT".into(), adjustment: "-0.05".parse().unwrap() }],
    };
    assert!(matches!(app.quote(&producer, sub.id, &schedule).await, Err(Error::Forbidden(_))));
    let q = app.quote(&caller(1, Role::Underwriter), sub.id, &schedule).await.unwrap();
    assert_eq!(q.rating.schedule, schedule.adjustments);
    assert!(matches!(app.quote(&caller(1, Role::Adjuster), sub.id, &Schedule::none()).await, Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn another_org_cannot_reach_it() {
    let (app, _) = setup();
    let mine = caller(1, Role::Producer);
    let theirs = caller(2, Role::Underwriter);
    let sub = app.submit(&mine, &common::typed(&acme())).await.unwrap();
    let quote = app.quote(&mine, sub.id, &Schedule::none()).await.unwrap();
    assert!(matches!(app.submission(&theirs, sub.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(app.quote(&theirs, sub.id, &Schedule::none()).await, Err(Error::NotFound { .. })));
    assert!(matches!(app.get_quote(&theirs, quote.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(app.quotes_for(&theirs, sub.id).await, Err(Error::NotFound { .. })));
    assert!(app.submissions(&theirs, Page::first()).await.unwrap().is_empty());
}

#[tokio::test]
async fn no_table_in_force_is_a_rule_error() {
    let (app, _) = setup();
    let producer = caller(1, Role::Producer);
    let mut early = acme();
    early["effectiveDate"] = json!("2026-01-01"); // the GL table starts 2026-07-01
    let sub = app.submit(&producer, &common::typed(&early)).await.unwrap();
    assert!(matches!(
        app.quote(&producer, sub.id, &Schedule::none()).await,
        Err(Error::Rule { code: "no_rate_table", .. })
    ));
    let mut other_program = acme();
    other_program["programId"] = json!("0192f0c0-0000-7000-8000-0000000000ff");
    let sub = app.submit(&producer, &common::typed(&other_program)).await.unwrap();
    assert!(matches!(
        app.quote(&producer, sub.id, &Schedule::none()).await,
        Err(Error::Rule { code: "no_rate_table", .. })
    ));
}

#[tokio::test]
async fn schedule_out_of_bounds_names_the_field() {
    let (app, _) = setup();
    let uw = caller(1, Role::Underwriter);
    let sub = app.submit(&uw, &common::typed(&acme())).await.unwrap();
    let schedule = Schedule {
        adjustments: vec![
            ScheduleAdjustment { reason_code: "MGMT".into(), adjustment: "-0.15".parse().unwrap() },
            ScheduleAdjustment { reason_code: "SAFETY".into(), adjustment: "-0.15".parse().unwrap() },
        ],
    };
    let Err(Error::Invalid(e)) = app.quote(&uw, sub.id, &schedule).await else { panic!("expected invalid") };
    assert_eq!(e.0[0].path, "schedule.adjustments");
    assert!(app.quotes_for(&uw, sub.id).await.unwrap().is_empty(), "a refused quote writes nothing");
}
