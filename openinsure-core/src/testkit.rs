//! Conformance suites for the store ports (feature `testkit`).
#![allow(clippy::expect_used, reason = "a conformance suite fails by panicking, as assert! does")]
//!
//! Every adapter's tests call every suite here, so all backends keep one contract. Each suite is
//! a plain `async fn` over `&dyn Port` that panics (through `assert!`) on the first breach. The
//! `run` argument keeps ids of separate runs apart on backends that persist between runs; pass a
//! different value each run (a timestamp) there, anything in memory.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::error::Error;
use crate::events::{DomainEvent, EventEnvelope, EventId};
use crate::ids::{
    AuthorityProfileId, DaAgreementId, OrgId, PolicyId, QuoteId, ReferralId, ReferralRuleId, SubmissionId, UserId,
};
use crate::money::Money;
use crate::quote::{Quote, QuoteStatus};
pub use crate::samples::{
    sample_agreement_for, sample_claim, sample_policy, sample_profile, sample_quote, sample_submission,
};
use crate::store::{
    AuthorityStore, BindCommit, BindOutcome, BindStore, DaStore, Outbox, Page, PolicyStore, QuoteStore, ReferralStore,
    SubmissionStore,
};
use crate::submission::{Submission, SubmissionStatus};
use crate::underwriting::authority::{
    AuthorityAssignment, Referral, ReferralActivity, ReferralRule, ReferralStatus, ReferralTrigger, RiskSummary,
};
use crate::underwriting::da::{CapacityClaim, DaStatus};

/// Ids for one suite run: distinct per `run` and per `n`.
pub fn test_uuid(run: u64, n: u64) -> Uuid {
    Uuid::from_u64_pair(run, n)
}

/// The [`SubmissionStore`] contract.
pub async fn submission_store(store: &dyn SubmissionStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let id = SubmissionId::from_uuid(test_uuid(run, 100));
    let sub = sample_submission(id, org);

    // insert and read back
    store.insert_submission(org, &sub).await.expect("insert");
    assert_eq!(store.get_submission(org, id).await.expect("get"), sub);

    // duplicate id
    assert!(
        matches!(store.insert_submission(org, &sub).await, Err(Error::Conflict(_))),
        "duplicate insert must conflict"
    );

    // missing
    let missing = SubmissionId::from_uuid(test_uuid(run, 999));
    assert!(matches!(store.get_submission(org, missing).await, Err(Error::NotFound { .. })));

    // update with revision check
    let mut changed = sub.clone();
    changed.insured_name = "Acme Manufacturing LLC".into();
    let updated = store.update_submission(org, &changed).await.expect("update");
    assert_eq!(updated.revision, sub.revision + 1);
    assert_eq!(updated.insured_name, "Acme Manufacturing LLC");
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated);
    assert!(
        matches!(store.update_submission(org, &changed).await, Err(Error::Conflict(_))),
        "a stale revision must conflict"
    );
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated, "a refused update changes nothing");
    let ghost = sample_submission(missing, org);
    assert!(matches!(store.update_submission(org, &ghost).await, Err(Error::NotFound { .. })));

    // tenancy: another org can neither see nor touch it
    assert!(matches!(store.get_submission(other, id).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        store.update_submission(other, &updated).await,
        Err(Error::NotFound { .. } | Error::Forbidden(_))
    ));
    let mut hijack = updated.clone();
    hijack.org_id = other;
    assert!(matches!(store.update_submission(other, &hijack).await, Err(Error::NotFound { .. })));
    assert!(store.list_submissions(other, Page::first()).await.expect("list").is_empty());
    let foreign = sample_submission(SubmissionId::from_uuid(test_uuid(run, 101)), other);
    assert!(
        matches!(store.insert_submission(org, &foreign).await, Err(Error::Forbidden(_))),
        "a record of another org must be refused"
    );
    assert!(matches!(store.get_submission(org, foreign.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.get_submission(other, foreign.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated);

    // listing: ordered by id, paged, scoped
    for n in 200..205 {
        store
            .insert_submission(org, &sample_submission(SubmissionId::from_uuid(test_uuid(run, n)), org))
            .await
            .expect("insert");
        store
            .insert_submission(other, &sample_submission(SubmissionId::from_uuid(test_uuid(run, n + 100)), other))
            .await
            .expect("insert");
    }
    let all = store.list_submissions(org, Page::first()).await.expect("list");
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|s| s.org_id == org));
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "listed in id order");
    let page = store.list_submissions(org, Page::new(2, 1)).await.expect("list");
    assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), all[1..3].iter().map(|s| s.id).collect::<Vec<_>>());
    assert!(store.list_submissions(org, Page::new(10, 6)).await.expect("list").is_empty());
    assert_eq!(store.list_submissions(other, Page::first()).await.expect("list").len(), 5);
}

/// The [`QuoteStore`] contract.
pub async fn quote_store(store: &dyn QuoteStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let sub = SubmissionId::from_uuid(test_uuid(run, 100));
    let q1 = sample_quote(QuoteId::from_uuid(test_uuid(run, 300)), org, sub);
    let q2 = sample_quote(QuoteId::from_uuid(test_uuid(run, 301)), org, sub);
    let elsewhere =
        sample_quote(QuoteId::from_uuid(test_uuid(run, 302)), org, SubmissionId::from_uuid(test_uuid(run, 101)));

    store.insert_quote(org, &q2).await.expect("insert");
    store.insert_quote(org, &q1).await.expect("insert");
    store.insert_quote(org, &elsewhere).await.expect("insert");
    assert_eq!(store.get_quote(org, q1.id).await.expect("get"), q1);
    assert!(matches!(store.insert_quote(org, &q1).await, Err(Error::Conflict(_))));
    assert!(matches!(store.get_quote(org, QuoteId::from_uuid(test_uuid(run, 399))).await, Err(Error::NotFound { .. })));

    let listed = store.list_quotes(org, sub).await.expect("list");
    assert_eq!(listed.iter().map(|q| q.id).collect::<Vec<_>>(), vec![q1.id, q2.id]);

    // tenancy
    assert!(matches!(store.get_quote(other, q1.id).await, Err(Error::NotFound { .. })));
    assert!(store.list_quotes(other, sub).await.expect("list").is_empty());
    let foreign = sample_quote(QuoteId::from_uuid(test_uuid(run, 303)), other, sub);
    assert!(matches!(store.insert_quote(org, &foreign).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.get_quote(org, foreign.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.list_quotes(org, sub).await.expect("list").len(), 2);
}

fn event(run: u64, n: u64, org: OrgId, policy: PolicyId) -> EventEnvelope {
    EventEnvelope::new(
        test_uuid(run, n),
        org,
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default(),
        DomainEvent::PolicyIssued { policy_id: policy },
    )
}

/// The [`DaStore`] contract.
pub async fn da_store(store: &dyn DaStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let a = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 400)), org);
    store.insert_agreement(org, &a).await.expect("insert");
    assert_eq!(store.get_agreement(org, a.id).await.expect("get"), a);
    assert!(matches!(store.insert_agreement(org, &a).await, Err(Error::Conflict(_))));
    let mut changed = a.clone();
    changed.status = DaStatus::Suspended;
    let updated = store.update_agreement(org, &changed).await.expect("update");
    assert_eq!(updated.revision, 1);
    assert!(matches!(store.update_agreement(org, &changed).await, Err(Error::Conflict(_))), "stale revision");
    let usage = store.usage(org, a.id, 1).await.expect("usage");
    assert_eq!((usage.agreement_year, usage.written_premium, usage.policy_count), (1, Money::ZERO, 0));

    // tenancy
    assert!(matches!(store.get_agreement(other, a.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.usage(other, a.id, 1).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.update_agreement(other, &updated).await, Err(Error::NotFound { .. } | Error::Forbidden(_))));
    assert!(store.list_agreements(other, Page::first()).await.expect("list").is_empty());
    let foreign = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 401)), other);
    assert!(matches!(store.insert_agreement(org, &foreign).await, Err(Error::Forbidden(_))));
    assert_eq!(store.list_agreements(org, Page::first()).await.expect("list"), vec![updated]);
}

/// The [`AuthorityStore`] contract.
pub async fn authority_store(store: &dyn AuthorityStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let user = UserId::from_uuid(test_uuid(run, 50));
    let p1 = sample_profile(AuthorityProfileId::from_uuid(test_uuid(run, 501)), org, 1, Money::from_cents(2_500_000));
    let p2 = sample_profile(AuthorityProfileId::from_uuid(test_uuid(run, 500)), org, 2, Money::from_cents(10_000_000));
    store.insert_profile(org, &p1).await.expect("insert");
    store.insert_profile(org, &p2).await.expect("insert");
    assert!(matches!(store.insert_profile(org, &p1).await, Err(Error::Conflict(_))));
    assert_eq!(store.list_profiles(org).await.expect("list"), vec![p1.clone(), p2.clone()], "by level");

    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default();
    let assignment = AuthorityAssignment { org_id: org, user_id: user, profile_id: p1.id, assigned_at: now };
    store.assign(org, &assignment).await.expect("assign");
    store.assign(org, &assignment).await.expect("assigning twice is idempotent");
    assert_eq!(store.profiles_of(org, user).await.expect("profiles"), vec![p1.clone()]);
    assert_eq!(store.list_assignments(org).await.expect("list").len(), 1);

    let rule = ReferralRule {
        id: ReferralRuleId::from_uuid(test_uuid(run, 510)),
        org_id: org,
        line_of_business: None,
        trigger: ReferralTrigger::ManualReview,
        min_level: 2,
        description: "extraction needs review".into(),
    };
    store.insert_rule(org, &rule).await.expect("rule");
    assert_eq!(store.list_rules(org).await.expect("rules"), vec![rule.clone()]);

    // tenancy: another org sees nothing and cannot use this org's profile
    assert!(store.list_profiles(other).await.expect("list").is_empty());
    assert!(store.list_rules(other).await.expect("list").is_empty());
    assert!(store.list_assignments(other).await.expect("list").is_empty());
    assert!(store.profiles_of(other, user).await.expect("profiles").is_empty());
    let hijack = AuthorityAssignment { org_id: other, user_id: user, profile_id: p2.id, assigned_at: now };
    assert!(matches!(store.assign(other, &hijack).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.assign(org, &hijack).await, Err(Error::Forbidden(_))));
    let foreign = sample_profile(AuthorityProfileId::from_uuid(test_uuid(run, 502)), other, 1, Money::from_cents(1));
    assert!(matches!(store.insert_profile(org, &foreign).await, Err(Error::Forbidden(_))));

    store.unassign(org, user, p1.id).await.expect("unassign");
    assert!(store.profiles_of(org, user).await.expect("profiles").is_empty());
}

fn sample_referral(run: u64, n: u64, org: OrgId) -> (Referral, ReferralActivity) {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_default();
    let risk = RiskSummary {
        line_of_business: crate::submission::LineOfBusiness::GeneralLiability,
        premium: Money::from_cents(5_000_000),
        occurrence_limit: Money::from_cents(100_000_000),
        aggregate_limit: Money::from_cents(200_000_000),
        annual_revenue: Money::from_cents(450_000_000),
        naics_code: "332710".parse().unwrap_or_else(|_| unreachable!("valid")),
        risk_state: "OH".parse().unwrap_or_else(|_| unreachable!("valid")),
        needs_manual_review: false,
        loss_ratio: None,
    };
    Referral::raise(
        ReferralId::from_uuid(test_uuid(run, n)),
        test_uuid(run, n + 1000),
        org,
        SubmissionId::from_uuid(test_uuid(run, 100)),
        QuoteId::from_uuid(test_uuid(run, 300)),
        UserId::from_uuid(test_uuid(run, 50)),
        2,
        vec![crate::underwriting::checks::Flag::refer("authority_exceeded", "premium is above the profile's")],
        risk,
        now,
    )
}

/// The [`ReferralStore`] contract; `outbox` is the same backend's outbox.
pub async fn referral_store(store: &dyn ReferralStore, outbox: &dyn Outbox, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let (referral, created) = sample_referral(run, 600, org);
    let created_event = EventEnvelope::new(
        test_uuid(run, 650),
        org,
        created.at,
        DomainEvent::ReferralCreated {
            referral_id: referral.id.as_uuid(),
            submission_id: referral.submission_id,
            routed_to_level: 2,
        },
    );
    store.insert_referral(org, &referral, &created, std::slice::from_ref(&created_event)).await.expect("insert");
    assert_eq!(store.get_referral(org, referral.id).await.expect("get"), referral);
    assert!(matches!(store.insert_referral(org, &referral, &created, &[]).await, Err(Error::Conflict(_))));
    let events = outbox.org_events(org, Page::first()).await.expect("events");
    assert!(events.contains(&created_event), "the event is in the outbox");

    let mut approved = referral.clone();
    let senior = UserId::from_uuid(test_uuid(run, 60));
    let profile =
        sample_profile(AuthorityProfileId::from_uuid(test_uuid(run, 500)), org, 2, Money::from_cents(10_000_000));
    let activity = approved
        .approve(senior, &[profile], "adequate_pricing", "priced well", test_uuid(run, 1601), created.at)
        .expect("approve");
    let stored = store.update_referral(org, &approved, &activity, &[]).await.expect("update");
    assert_eq!(stored.revision, 1);
    assert!(matches!(store.update_referral(org, &approved, &activity, &[]).await, Err(Error::Conflict(_))), "stale");
    assert_eq!(store.activities(org, referral.id).await.expect("trail"), vec![created.clone(), activity.clone()]);
    assert_eq!(store.list_referrals(org, Some(ReferralStatus::Approved), Page::first()).await.expect("list").len(), 1);
    assert!(store.list_referrals(org, Some(ReferralStatus::Pending), Page::first()).await.expect("list").is_empty());
    assert_eq!(store.referrals_for_submission(org, referral.submission_id).await.expect("list").len(), 1);

    // a refused write changes nothing: not the referral, not the trail, not the outbox
    let before = outbox.org_events(org, Page::first()).await.expect("events").len();
    let bad_event = EventEnvelope::new(test_uuid(run, 651), other, created.at, created_event.event.clone());
    let mut again = stored.clone();
    again.updated_at = created.at;
    assert!(store.update_referral(org, &again, &activity, &[bad_event]).await.is_err());
    assert_eq!(store.get_referral(org, referral.id).await.expect("get"), stored);
    assert_eq!(store.activities(org, referral.id).await.expect("trail").len(), 2);
    assert_eq!(outbox.org_events(org, Page::first()).await.expect("events").len(), before);

    // tenancy
    assert!(matches!(store.get_referral(other, referral.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.activities(other, referral.id).await, Err(Error::NotFound { .. })));
    assert!(store.list_referrals(other, None, Page::first()).await.expect("list").is_empty());
    assert!(store.referrals_for_submission(other, referral.submission_id).await.expect("list").is_empty());
    assert!(outbox.org_events(other, Page::first()).await.expect("events").is_empty());
    let (foreign, foreign_created) = sample_referral(run, 601, other);
    assert!(matches!(store.insert_referral(org, &foreign, &foreign_created, &[]).await, Err(Error::Forbidden(_))));
}

/// Stores a submission and a quote for it, as binds need them.
async fn seed_quote<S: SubmissionStore + QuoteStore + ?Sized>(
    store: &S,
    run: u64,
    n: u64,
    org: OrgId,
) -> (Submission, Quote) {
    let sub = sample_submission(SubmissionId::from_uuid(test_uuid(run, n)), org);
    let quote = sample_quote(QuoteId::from_uuid(test_uuid(run, n + 1)), org, sub.id);
    store.insert_submission(org, &sub).await.expect("insert submission");
    store.insert_quote(org, &quote).await.expect("insert quote");
    (sub, quote)
}

fn commit_for(
    run: u64,
    n: u64,
    org: OrgId,
    sub: &Submission,
    quote: &Quote,
    claim: Option<CapacityClaim>,
) -> BindCommit {
    let policy = sample_policy(PolicyId::from_uuid(test_uuid(run, n)), org, quote, &format!("GL-2027-{n:06}"));
    let mut bound_quote = quote.clone();
    bound_quote.status = QuoteStatus::Bound;
    let mut bound_sub = sub.clone();
    bound_sub.status = SubmissionStatus::Bound;
    let events = vec![EventEnvelope::new(
        test_uuid(run, n + 50_000),
        org,
        policy.bound_at,
        DomainEvent::PolicyBound {
            policy_id: policy.id,
            policy_number: policy.number.clone(),
            quote_id: quote.id,
            submission_id: sub.id,
            premium: policy.annual_premium,
            bound_by: policy.bound_by,
        },
    )];
    BindCommit { policy, quote: bound_quote, submission: bound_sub, capacity: claim, events }
}

/// The [`BindStore`] and [`PolicyStore`] contract: atomic binds, idempotency, the capacity race,
/// and tenancy. `store` is one backend implementing every port involved.
pub async fn bind_store<S>(store: &S, run: u64)
where
    S: BindStore + PolicyStore + SubmissionStore + QuoteStore + DaStore + Outbox + ?Sized,
{
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let agreement = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 700)), org);
    store.insert_agreement(org, &agreement).await.expect("agreement");

    // sequences
    let key = format!("GL-2027-{run}");
    let first = store.next_sequence(org, &key).await.expect("seq");
    assert_eq!(store.next_sequence(org, &key).await.expect("seq"), first + 1);
    assert_eq!(store.next_sequence(other, &key).await.expect("seq"), first, "sequences are per org");

    // a bind writes everything
    let (sub, quote) = seed_quote(store, run, 800, org).await;
    let claim = agreement.claim(&sub, Money::from_cents(1_000_000));
    let commit = commit_for(run, 810, org, &sub, &quote, claim.clone());
    let BindOutcome::Bound(policy) = store.bind(org, &commit).await.expect("bind") else {
        unreachable!("first bind binds")
    };
    assert_eq!(store.get_policy(org, policy.id).await.expect("policy"), policy);
    assert_eq!(store.policy_for_quote(org, quote.id).await.expect("by quote"), Some(policy.clone()));
    assert_eq!(store.get_quote(org, quote.id).await.expect("quote").status, QuoteStatus::Bound);
    let stored_sub = store.get_submission(org, sub.id).await.expect("submission");
    assert_eq!((stored_sub.status, stored_sub.revision), (SubmissionStatus::Bound, sub.revision + 1));
    let year = claim.as_ref().map_or(1, |c| c.agreement_year);
    assert_eq!(
        store.usage(org, agreement.id, year).await.expect("usage").written_premium,
        Money::from_cents(1_000_000)
    );
    let events = store.org_events(org, Page::first()).await.expect("events");
    assert_eq!(events.iter().filter(|e| e.event.name() == "policy.bound").count(), 1);

    // binding the same quote again binds once
    let again = commit_for(run, 811, org, &sub, &quote, claim.clone());
    assert_eq!(store.bind(org, &again).await.expect("rebind"), BindOutcome::AlreadyBound(policy.clone()));
    assert_eq!(store.usage(org, agreement.id, year).await.expect("usage").policy_count, 1);
    assert_eq!(store.org_events(org, Page::first()).await.expect("events").len(), events.len());

    // a failing bind writes nothing: stale submission revision
    let (sub2, quote2) = seed_quote(store, run, 820, org).await;
    let mut stale = commit_for(run, 830, org, &sub2, &quote2, None);
    stale.submission.revision += 7;
    assert!(matches!(store.bind(org, &stale).await, Err(Error::Conflict(_))));
    assert!(matches!(store.get_policy(org, stale.policy.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.get_quote(org, quote2.id).await.expect("quote").status, QuoteStatus::Quoted);
    assert_eq!(store.org_events(org, Page::first()).await.expect("events").len(), events.len());
    // a taken policy number
    let mut dup = commit_for(run, 831, org, &sub2, &quote2, None);
    dup.policy.number = policy.number.clone();
    assert!(matches!(store.bind(org, &dup).await, Err(Error::Conflict(_))));

    // tenancy
    assert!(matches!(store.get_policy(other, policy.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.policy_for_quote(other, quote.id).await.expect("by quote"), None);
    assert!(store.list_policies(other, Page::first()).await.expect("list").is_empty());
    assert!(matches!(
        store.bind(other, &commit_for(run, 832, org, &sub2, &quote2, None)).await,
        Err(Error::Forbidden(_))
    ));

    // policy updates: revision checked, events appended atomically
    let mut issued = policy.clone();
    issued.status = crate::policy::PolicyStatus::Issued;
    let ev = event(run, 840, org, policy.id);
    let stored = store.update_policy(org, &issued, None, std::slice::from_ref(&ev)).await.expect("update");
    assert_eq!(stored.revision, policy.revision + 1);
    assert!(matches!(store.update_policy(org, &issued, None, &[]).await, Err(Error::Conflict(_))), "stale");
    assert!(matches!(
        store.update_policy(other, &stored, None, &[]).await,
        Err(Error::NotFound { .. } | Error::Forbidden(_))
    ));
    assert!(store.org_events(org, Page::first()).await.expect("events").contains(&ev));

    // renewal terms: inserted with their events, one renewal per policy
    let mut renewal =
        sample_policy(PolicyId::from_uuid(test_uuid(run, 850)), org, &quote, &format!("GL-2028-{run:06}"));
    renewal.renewal_of = Some(policy.id);
    store.insert_policy(org, &renewal, None, &[]).await.expect("renewal");
    let mut twice =
        sample_policy(PolicyId::from_uuid(test_uuid(run, 851)), org, &quote, &format!("GL-2028-{:06}", run + 1));
    twice.renewal_of = Some(policy.id);
    assert!(matches!(store.insert_policy(org, &twice, None, &[]).await, Err(Error::Conflict(_))), "renewed twice");
    assert!(matches!(store.insert_policy(org, &renewal, None, &[]).await, Err(Error::Conflict(_))), "same id");
    assert!(matches!(store.insert_policy(other, &twice, None, &[]).await, Err(Error::Forbidden(_))));

    // the capacity race: the per-policy maximum each, against the annual capacity left
    let each = agreement.max_premium;
    let used = store.usage(org, agreement.id, year).await.expect("usage").written_premium;
    let room = (agreement.annual_premium_limit.cents() - used.cents()) / each.cents();
    let mut racers = Vec::new();
    for i in 0..(room as u64 + 6) {
        // distinct insureds, so only the annual capacity limits them
        let (mut s, q) = seed_quote(store, run, 10_000 + i * 10, org).await;
        s.fein = Some(format!("{:02}-{:07}", i % 100, i));
        let mut claim = agreement.claim(&s, each).expect("claim");
        claim.insured_key = format!("racer-{i}");
        racers.push(commit_for(run, 10_005 + i * 10, org, &s, &q, Some(claim)));
    }
    let results = futures_util::future::join_all(racers.iter().map(|c| store.bind(org, c))).await;
    let won = results.iter().filter(|r| matches!(r, Ok(BindOutcome::Bound(_)))).count();
    let refused = results.iter().filter(|r| matches!(r, Err(Error::Rule { code: "da_capacity_exceeded", .. }))).count();
    assert_eq!(won as i64, room, "exactly the binds that fit succeed");
    assert_eq!(refused, 6, "the others get a capacity error: {results:?}");
    let usage = store.usage(org, agreement.id, year).await.expect("usage");
    assert_eq!(usage.written_premium.cents(), used.cents() + room * each.cents());
    assert!(usage.written_premium <= agreement.annual_premium_limit);
}

/// Seeds an agreement with room for every one of `n` binds and `n` quoted submissions of distinct
/// insureds for org `org`, and returns their bind commits (each with its capacity claim), for
/// tests that interrupt binds midway and then check what was written.
pub async fn bind_storm<S>(store: &S, run: u64, org: OrgId, n: u64) -> Vec<BindCommit>
where
    S: SubmissionStore + QuoteStore + DaStore + ?Sized,
{
    capacity_contenders(store, run, org, 30_000, n, n).await
}

/// An agreement of `org` (its id from `base`) with room in its year for exactly `room` binds at
/// its largest premium, and `binders` quoted submissions of distinct insureds claiming that
/// premium each (their ids from `base + 100`), as bind commits.
async fn capacity_contenders<S>(store: &S, run: u64, org: OrgId, base: u64, room: u64, binders: u64) -> Vec<BindCommit>
where
    S: SubmissionStore + QuoteStore + DaStore + ?Sized,
{
    let mut agreement = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, base)), org);
    agreement.annual_premium_limit =
        Money::from_cents(agreement.max_premium.cents() * i64::try_from(room).expect("room"));
    agreement.quarterly_premium_limit = None;
    store.insert_agreement(org, &agreement).await.expect("agreement");
    let mut commits = Vec::new();
    for i in 0..binders {
        let (mut s, q) = seed_quote(store, run, base + 100 + i * 10, org).await;
        s.fein = Some(format!("{:02}-{:07}", i % 100, i));
        let mut claim = agreement.claim(&s, agreement.max_premium).expect("claim");
        claim.insured_key = format!("contender-{base}-{i}");
        commits.push(commit_for(run, base + 105 + i * 10, org, &s, &q, Some(claim)));
    }
    commits
}

/// Binds under contention, for backends where binds run truly in parallel: `binders` binds of
/// distinct insureds race for an agreement year with room for `binders - 6` of them (exactly
/// those succeed, the rest are refused for capacity, and the usage adds up), and 20 binds of one
/// quote at once bind it once (every other answer is that policy, already bound). A persistent
/// backend's tests pass 64 binders.
pub async fn bind_races<S>(store: &S, run: u64, binders: u64)
where
    S: BindStore + PolicyStore + SubmissionStore + QuoteStore + DaStore + ?Sized,
{
    assert!(binders > 6, "the race needs more than 6 binders");
    let org = OrgId::from_uuid(test_uuid(run, 3));
    let room = binders - 6;
    let racers = capacity_contenders(store, run, org, 20_000, room, binders).await;
    let results = futures_util::future::join_all(racers.iter().map(|c| store.bind(org, c))).await;
    let won = results.iter().filter(|r| matches!(r, Ok(BindOutcome::Bound(_)))).count() as u64;
    let refused = results.iter().filter(|r| matches!(r, Err(Error::Rule { code: "da_capacity_exceeded", .. }))).count();
    assert_eq!(won, room, "exactly the binds that fit succeed: {results:?}");
    assert_eq!(refused, 6, "the others get a capacity error: {results:?}");
    let claim = racers[0].capacity.as_ref().expect("claim");
    let usage = store.usage(org, claim.agreement_id, claim.agreement_year).await.expect("usage");
    assert_eq!(usage.written_premium, claim.annual_limit, "the year is exactly full");
    assert_eq!(u64::from(usage.policy_count), room);

    // one quote, 20 binders at once (each with its own policy id and number)
    let (s, q) = seed_quote(store, run, 29_000, org).await;
    let commits: Vec<BindCommit> = (0..20).map(|i| commit_for(run, 29_010 + i * 10, org, &s, &q, None)).collect();
    let results = futures_util::future::join_all(commits.iter().map(|c| store.bind(org, c))).await;
    let bound: Vec<&crate::policy::Policy> =
        results.iter().filter_map(|r| if let Ok(BindOutcome::Bound(p)) = r { Some(p) } else { None }).collect();
    assert_eq!(bound.len(), 1, "one quote binds once: {results:?}");
    for r in &results {
        assert!(r.is_ok(), "a concurrent bind of a bound quote is not an error: {r:?}");
        if let Ok(BindOutcome::AlreadyBound(p)) = r {
            assert_eq!(p.id, bound[0].id, "the others see that policy");
        }
    }
    assert_eq!(store.policy_for_quote(org, q.id).await.expect("policy").map(|p| p.id), Some(bound[0].id));
}

/// The [`Outbox::lease_events`] contract: a lease takes the oldest due events no other lease
/// holds; delivery or a recorded failure ends it, and so does its time; leasers racing each other
/// never take one event twice. Starts by marking every pending event delivered (run it with no
/// other writer), and leaves none pending.
pub async fn outbox_leases<S>(store: &S, run: u64)
where
    S: crate::store::ClaimStore + Outbox,
{
    use crate::claims::{Claim, NoticeOfLoss};
    use crate::events::DeliveryFailure;
    // an org of its own: the claim suite lists its org's claims
    let org = OrgId::from_uuid(test_uuid(run, 61));
    let t = |s: i64| Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).single().expect("a time") + chrono::Duration::seconds(s);
    let drain = |at| async move {
        let stale: Vec<EventId> =
            store.pending_events(at, 100_000).await.expect("pending").iter().map(|e| e.id).collect();
        store.mark_delivered(&stale).await.expect("ack");
    };
    drain(t(0)).await;
    let quote =
        sample_quote(QuoteId::from_uuid(test_uuid(run, 6900)), org, SubmissionId::from_uuid(test_uuid(run, 6901)));
    let policy = sample_policy(PolicyId::from_uuid(test_uuid(run, 6902)), org, &quote, "GL-2027-000077");
    let file = |n: u64| {
        let policy = &policy;
        async move {
            let at = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).single().expect("a time")
                + chrono::Duration::seconds(n as i64);
            let notice = NoticeOfLoss {
                date_of_loss: chrono::NaiveDate::from_ymd_opt(2027, 2, 14),
                loss_description: "lease suite".into(),
                claimant_name: "Lease Suite".into(),
                ..NoticeOfLoss::default()
            };
            let id = crate::ids::ClaimId::from_uuid(test_uuid(run, 7000 + n));
            let claim = Claim::file(id, policy, notice, at).expect("file");
            let event = EventEnvelope::new(
                test_uuid(run, 7500 + n),
                org,
                at,
                DomainEvent::ClaimFiled { claim_id: id, policy_id: policy.id },
            );
            store.insert_claim(org, &claim, std::slice::from_ref(&event)).await.expect("insert");
            event.id
        }
    };
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(file(n).await);
    }
    let lease = |n: u64| Uuid::from_u64_pair(run, 8000 + n);
    let taken = |events: &[EventEnvelope]| events.iter().map(|e| e.id).collect::<Vec<_>>();

    let a = store.lease_events(t(0), 4, lease(1), t(60)).await.expect("lease");
    assert_eq!(taken(&a), ids[..4], "the oldest due events");
    assert!(a.iter().all(|e| e.delivery == crate::events::Delivery::default()));
    let b = store.lease_events(t(0), 10, lease(2), t(60)).await.expect("lease");
    assert_eq!(taken(&b), ids[4..], "another lease skips the held ones");
    assert!(store.lease_events(t(30), 10, lease(3), t(90)).await.expect("lease").is_empty(), "all held");

    // delivery ends a lease for good; a failure ends it until the retry is due
    store.mark_delivered(&ids[..1]).await.expect("ack");
    let retry = DeliveryFailure { reason: "down".into(), at: t(30), retry_at: Some(t(40)) };
    store.record_failure(org, ids[1], &retry).await.expect("failure");
    assert!(store.lease_events(t(39), 10, lease(4), t(100)).await.expect("lease").is_empty(), "waits its backoff");
    let c = store.lease_events(t(45), 10, lease(5), t(100)).await.expect("lease");
    assert_eq!(taken(&c), [ids[1]], "free again, with its attempt counted, inside the first lease's time");
    assert_eq!(c[0].delivery.attempts, 1);
    // a lease that ran out frees its events (the holder died)
    let d = store.lease_events(t(60), 10, lease(6), t(200)).await.expect("lease");
    assert_eq!(taken(&d), [ids[2], ids[3], ids[4], ids[5]], "the rest, once their leases ran out");
    store.mark_delivered(&ids).await.expect("ack");
    assert!(store.lease_events(t(1000), 10, lease(7), t(2000)).await.expect("lease").is_empty());

    // leasers racing each other never take one event twice, and together take them all
    let mut ids = Vec::new();
    for n in 10..22 {
        ids.push(file(n).await);
    }
    let racing =
        futures_util::future::join_all((0..6).map(|n| store.lease_events(t(3000), 3, lease(100 + n), t(4000)))).await;
    let mut seen: Vec<EventId> = Vec::new();
    for r in racing {
        for e in r.expect("lease") {
            assert!(!seen.contains(&e.id), "event {} leased twice", e.id);
            seen.push(e.id);
        }
    }
    let rest = store.lease_events(t(3000), 100, lease(200), t(4000)).await.expect("lease");
    seen.extend(taken(&rest));
    seen.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(seen, all, "each event leased exactly once");
    drain(t(100_000)).await;
}

/// The [`Outbox`] contract: pending events in order, acknowledged ones gone, others kept, the
/// org's history whole; a failed event waits out its backoff, a dead one waits for a replay,
/// which comes back as the next generation; another org's dead letters are unreachable. Run it
/// after the suites that write events (bind, policy, referral), with no other writer on the
/// backend.
pub async fn outbox(store: &dyn Outbox, run: u64) {
    use crate::events::DeliveryFailure;
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let t = |s: i64| Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).single().expect("a time") + chrono::Duration::seconds(s);
    let history = store.org_events(org, Page::first()).await.expect("events").len();
    let pending = store.pending_events(t(0), 1000).await.expect("pending");
    let ids: Vec<EventId> = pending.iter().map(|e| e.id).collect();
    assert!(ids.len() >= 3, "the suite expects the bind suite to have run on this backend first");
    assert!(pending.iter().all(|e| e.delivery == crate::events::Delivery::default()), "nothing tried yet");
    let (first, rest) = ids.split_at(1);
    store.mark_delivered(first).await.expect("ack");
    let after = store.pending_events(t(0), 1000).await.expect("pending");
    assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), rest, "acknowledged events leave, order is kept");
    store.mark_delivered(&[test_uuid(run, 999_999)]).await.expect("unknown ids are ignored");

    // a failure waits out its backoff, then comes back with its attempt counted
    let (failing, dying) = (&after[0], &after[1]);
    let retry = DeliveryFailure { reason: "ledger down".into(), at: t(0), retry_at: Some(t(10)) };
    store.record_failure(failing.org_id, failing.id, &retry).await.expect("failure");
    assert!(!store.pending_events(t(9), 1000).await.expect("pending").iter().any(|e| e.id == failing.id), "waits");
    let due = store.pending_events(t(10), 1000).await.expect("pending");
    let back = due.iter().find(|e| e.id == failing.id).expect("due again");
    assert_eq!((back.delivery.attempts, back.delivery.generation), (1, 0));
    // a dead one leaves the pending list for the dead letters, with its reason
    let dead = DeliveryFailure { reason: "loss fund insufficient".into(), at: t(20), retry_at: None };
    store.record_failure(dying.org_id, dying.id, &dead).await.expect("failure");
    assert!(!store.pending_events(t(1000), 1000).await.expect("pending").iter().any(|e| e.id == dying.id));
    let letters = store.dead_letters(dying.org_id, Page::first()).await.expect("dead letters");
    let letter = letters.iter().find(|l| l.event_id == dying.id).expect("listed");
    assert_eq!((letter.attempts, letter.reason.as_str(), letter.failed_at), (1, "loss fund insufficient", t(20)));
    assert_eq!(letter.event_type, dying.event.name());
    // only the org can see or replay it; a live event is not replayed
    let stranger = if dying.org_id == other { org } else { other };
    assert!(
        !store
            .dead_letters(stranger, Page::first())
            .await
            .expect("dead letters")
            .iter()
            .any(|l| l.event_id == dying.id)
    );
    assert!(matches!(store.replay(stranger, dying.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.replay(failing.org_id, failing.id).await, Err(Error::Rule { code: "event_not_dead", .. })));
    let replayed = store.replay(dying.org_id, dying.id).await.expect("replay");
    assert_eq!(replayed.event_id, dying.id);
    let again = store.pending_events(t(20), 1000).await.expect("pending");
    let e = again.iter().find(|e| e.id == dying.id).expect("pending again");
    assert_eq!((e.delivery.attempts, e.delivery.generation), (0, 1), "a new generation");
    assert!(matches!(store.replay(dying.org_id, dying.id).await, Err(Error::Rule { code: "event_not_dead", .. })));
    assert!(
        store
            .dead_letters(dying.org_id, Page::first())
            .await
            .expect("dead letters")
            .iter()
            .all(|l| l.event_id != dying.id)
    );

    store.mark_delivered(rest).await.expect("ack");
    assert!(store.pending_events(t(100_000), 1000).await.expect("pending").is_empty());
    // a delivered event takes no failure
    store.record_failure(dying.org_id, dying.id, &dead).await.expect("ignored");
    assert!(store.dead_letters(dying.org_id, Page::first()).await.expect("dead letters").is_empty());
    assert_eq!(store.org_events(org, Page::first()).await.expect("events").len(), history, "history is kept");
    assert!(pending.iter().any(|e| e.org_id == org), "the org's events were among the pending ones");
}

/// The [`ClaimStore`] contract; `outbox` is the same backend's outbox.
pub async fn claim_store(store: &dyn crate::store::ClaimStore, outbox: &dyn Outbox, run: u64) {
    use crate::claims::{Claim, ClaimStatus, NoticeOfLoss};
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let quote =
        sample_quote(QuoteId::from_uuid(test_uuid(run, 900)), org, SubmissionId::from_uuid(test_uuid(run, 901)));
    let policy = sample_policy(PolicyId::from_uuid(test_uuid(run, 902)), org, &quote, "GL-2027-000001");
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).single().unwrap_or_default();
    let notice = NoticeOfLoss {
        date_of_loss: chrono::NaiveDate::from_ymd_opt(2027, 2, 14),
        loss_description: "slip and fall".into(),
        claimant_name: "Jane Roe".into(),
        claimant_ssn: Some("123-45-6789".into()),
        ..NoticeOfLoss::default()
    };
    let id = crate::ids::ClaimId::from_uuid(test_uuid(run, 910));
    let claim = Claim::file(id, &policy, notice.clone(), now).expect("file");
    let filed = EventEnvelope::new(
        test_uuid(run, 911),
        org,
        now,
        DomainEvent::ClaimFiled { claim_id: id, policy_id: policy.id },
    );
    store.insert_claim(org, &claim, std::slice::from_ref(&filed)).await.expect("insert");
    assert_eq!(store.get_claim(org, id).await.expect("get"), claim);
    assert!(matches!(store.insert_claim(org, &claim, &[]).await, Err(Error::Conflict(_))));
    assert!(outbox.org_events(org, Page::first()).await.expect("events").contains(&filed));

    let mut open = claim.clone();
    open.transition(ClaimStatus::Open, now).expect("open");
    let stored = store.update_claim(org, &open, &[]).await.expect("update");
    assert_eq!(stored.revision, 1);
    assert!(matches!(store.update_claim(org, &open, &[]).await, Err(Error::Conflict(_))), "stale revision");

    // tenancy
    assert!(matches!(store.get_claim(other, id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.update_claim(other, &stored, &[]).await, Err(Error::NotFound { .. } | Error::Forbidden(_))));
    assert!(store.list_claims(other, Page::first()).await.expect("list").is_empty());
    let mut foreign =
        Claim::file(crate::ids::ClaimId::from_uuid(test_uuid(run, 912)), &policy, notice, now).expect("file");
    foreign.org_id = other;
    assert!(matches!(store.insert_claim(org, &foreign, &[]).await, Err(Error::Forbidden(_))));
    assert_eq!(store.list_claims(org, Page::first()).await.expect("list"), vec![stored]);
}

/// The [`MoneyIdStore`](crate::store::MoneyIdStore) contract: new, replay, reuse for other money
/// refused (naming the first use, writing nothing), ids scoped to their org.
pub async fn money_id_store(store: &dyn crate::store::MoneyIdStore, run: u64) {
    use crate::claims::ClaimMoneyKind;
    use crate::ids::ClaimId;
    use crate::money_id::{MoneyUse, Registration};

    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let id = test_uuid(run, 900);
    let policy = PolicyId::from_uuid(test_uuid(run, 901));
    let first = MoneyUse::InstallmentPayment { policy_id: policy, installment_number: 2 };

    assert_eq!(store.register_money_id(org, id, &first).await.expect("register"), Registration::New);
    assert_eq!(store.register_money_id(org, id, &first).await.expect("replay"), Registration::Replay);

    let claim = ClaimId::from_uuid(test_uuid(run, 902));
    let others = [
        MoneyUse::InstallmentPayment { policy_id: policy, installment_number: 3 },
        MoneyUse::DownPayment { quote_id: QuoteId::from_uuid(test_uuid(run, 903)) },
        MoneyUse::ClaimPayment { claim_id: claim, amount: Money::from_cents(100) },
        MoneyUse::ClaimRecovery { claim_id: claim, recovery: ClaimMoneyKind::Salvage, amount: Money::from_cents(100) },
        MoneyUse::LossFunding { amount: Money::from_cents(100) },
    ];
    for reuse in &others {
        let outcome = store.register_money_id(org, id, reuse).await;
        assert!(
            matches!(&outcome, Err(Error::MoneyIdReused { id: named, first_use }) if *named == id && *first_use == first),
            "reusing a money id for {reuse} must be refused naming the id and its first use, got {outcome:?}"
        );
    }
    assert_eq!(
        store.register_money_id(org, id, &first).await.expect("replay"),
        Registration::Replay,
        "a refused reuse changes nothing"
    );

    // amounts are part of the use
    let pay = test_uuid(run, 904);
    let paid = MoneyUse::ClaimPayment { claim_id: claim, amount: Money::from_cents(350_000) };
    assert_eq!(store.register_money_id(org, pay, &paid).await.expect("register"), Registration::New);
    let more = MoneyUse::ClaimPayment { claim_id: claim, amount: Money::from_cents(350_001) };
    assert!(matches!(store.register_money_id(org, pay, &more).await, Err(Error::MoneyIdReused { .. })));

    // tenancy: the same id in another org is another id
    assert_eq!(
        store.register_money_id(other, id, &others[4]).await.expect("another org"),
        Registration::New,
        "another org's ids are invisible"
    );
    assert_eq!(store.register_money_id(org, id, &first).await.expect("replay"), Registration::Replay);
}

/// Racing registrations of one money id: exactly one is new, the others replay or are refused.
pub async fn money_id_races(store: &dyn crate::store::MoneyIdStore, run: u64) {
    use crate::money_id::{MoneyUse, Registration};

    let org = OrgId::from_uuid(test_uuid(run, 1));
    let id = test_uuid(run, 910);
    let uses: Vec<MoneyUse> =
        (0..16i64).map(|n| MoneyUse::LossFunding { amount: Money::from_cents(100 + n % 2) }).collect();
    let outcomes = futures_util::future::join_all(uses.iter().map(|u| store.register_money_id(org, id, u))).await;
    let new = outcomes.iter().filter(|o| matches!(o, Ok(Registration::New))).count();
    assert_eq!(new, 1, "exactly one registration is new: {outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(Error::MoneyIdReused { .. }))), "{outcomes:?}");
}

/// The [`IdempotencyStore`](crate::idempotency::IdempotencyStore) contract: reserve, in flight,
/// mismatch, complete and replay, scopes per user and org, release, a lapsed lease taken over.
pub async fn idempotency_store(store: &dyn crate::idempotency::IdempotencyStore, run: u64) {
    use crate::idempotency::{Begin, IdempotencyScope, StoredResponse};

    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().expect("a valid time");
    let lease = chrono::Duration::seconds(60);
    let scope = |user: u64, key: &str| IdempotencyScope {
        org: OrgId::from_uuid(test_uuid(run, 1)),
        user: UserId::from_uuid(test_uuid(run, 1000 + user)),
        key: format!("{key}-{run}"),
    };
    let k = scope(1, "k");
    assert_eq!(store.begin(&k, [1; 32], t0, lease).await.expect("begin"), Begin::Proceed);
    assert_eq!(store.begin(&k, [1; 32], t0, lease).await.expect("begin"), Begin::InFlight);
    assert_eq!(store.begin(&k, [2; 32], t0, lease).await.expect("begin"), Begin::Mismatch);
    let response = StoredResponse { status: 201, body: b"{\"data\":{}}".to_vec() };
    store.complete(&k, response.clone(), t0).await.expect("complete");
    assert_eq!(store.begin(&k, [1; 32], t0, lease).await.expect("begin"), Begin::Replay(response.clone()));
    assert_eq!(store.begin(&k, [2; 32], t0, lease).await.expect("begin"), Begin::Mismatch);
    store.release(&k).await.expect("release");
    assert_eq!(
        store.begin(&k, [1; 32], t0, lease).await.expect("begin"),
        Begin::Replay(response),
        "release never frees a completed key"
    );

    // another user's key of the same name, another org's: other keys
    assert_eq!(store.begin(&scope(2, "k"), [2; 32], t0, lease).await.expect("begin"), Begin::Proceed);
    let mut other_org = scope(1, "k");
    other_org.org = OrgId::from_uuid(test_uuid(run, 2));
    assert_eq!(store.begin(&other_org, [2; 32], t0, lease).await.expect("begin"), Begin::Proceed);

    // a released reservation is free; an abandoned one lapses after the lease
    let r = scope(1, "r");
    assert_eq!(store.begin(&r, [1; 32], t0, lease).await.expect("begin"), Begin::Proceed);
    store.release(&r).await.expect("release");
    assert_eq!(store.begin(&r, [1; 32], t0, lease).await.expect("begin"), Begin::Proceed);
    let almost = t0 + chrono::Duration::seconds(59);
    assert_eq!(store.begin(&r, [1; 32], almost, lease).await.expect("begin"), Begin::InFlight);
    let lapsed = t0 + chrono::Duration::seconds(61);
    assert_eq!(store.begin(&r, [1; 32], lapsed, lease).await.expect("begin"), Begin::Proceed);
}

/// The [`PolicyStore`] write contract: a new term is inserted with its events, a taken id or
/// number conflicts, a policy renews once, an update at a stale revision conflicts and writes
/// nothing (its events neither), a number never changes, another org's policy is not found.
pub async fn policy_store<S>(store: &S, run: u64)
where
    S: PolicyStore + SubmissionStore + QuoteStore + DaStore + Outbox + ?Sized,
{
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let (_, quote) = seed_quote(store, run, 1100, org).await;
    let event = |n: u64, policy: PolicyId| {
        EventEnvelope::new(
            test_uuid(run, n),
            org,
            Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().expect("a valid time"),
            DomainEvent::PolicyIssued { policy_id: policy },
        )
    };
    let expiring = sample_policy(PolicyId::from_uuid(test_uuid(run, 1110)), org, &quote, &format!("GL-2027-9{run:05}"));
    store.insert_policy(org, &expiring, None, &[event(1111, expiring.id)]).await.expect("insert");
    assert!(store.orgs_with_policies().await.expect("orgs").contains(&org), "the clock finds the org");
    assert_eq!(store.get_policy(org, expiring.id).await.expect("get"), expiring);
    assert!(matches!(store.get_policy(other, expiring.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.insert_policy(org, &expiring, None, &[]).await, Err(Error::Conflict(_))), "a taken id");
    let mut same_number = expiring.clone();
    same_number.id = PolicyId::from_uuid(test_uuid(run, 1112));
    assert!(
        matches!(store.insert_policy(org, &same_number, None, &[]).await, Err(Error::Conflict(_))),
        "a taken number"
    );

    // a policy renews once
    let mut renewal = expiring.clone();
    renewal.id = PolicyId::from_uuid(test_uuid(run, 1113));
    renewal.number = format!("GL-2028-9{run:05}");
    renewal.renewal_of = Some(expiring.id);
    store.insert_policy(org, &renewal, None, &[]).await.expect("renewal");
    let mut second = renewal.clone();
    second.id = PolicyId::from_uuid(test_uuid(run, 1114));
    second.number = format!("GL-2028-8{run:05}");
    assert!(matches!(store.insert_policy(org, &second, None, &[]).await, Err(Error::Conflict(_))), "renews once");
    assert!(matches!(store.get_policy(org, second.id).await, Err(Error::NotFound { .. })), "nothing half-written");

    // updates at the revision read, with their events; a stale one writes nothing
    let before = store.org_events(org, Page::first()).await.expect("events").len();
    let mut issued = expiring.clone();
    issued.status = crate::policy::PolicyStatus::Issued;
    let stored = store.update_policy(org, &issued, None, &[event(1115, issued.id)]).await.expect("update");
    assert_eq!(stored.revision, expiring.revision + 1);
    assert_eq!(store.org_events(org, Page::first()).await.expect("events").len(), before + 1);
    assert!(
        matches!(store.update_policy(org, &issued, None, &[event(1116, issued.id)]).await, Err(Error::Conflict(_))),
        "a stale revision conflicts"
    );
    assert_eq!(store.org_events(org, Page::first()).await.expect("events").len(), before + 1, "and adds no event");
    let mut renumbered = stored.clone();
    renumbered.number = "GL-2027-000000".into();
    assert!(matches!(store.update_policy(org, &renumbered, None, &[]).await, Err(Error::Conflict(_))));
    assert!(matches!(
        store.update_policy(other, &stored, None, &[]).await,
        Err(Error::NotFound { .. } | Error::Forbidden(_))
    ));
    assert_eq!(store.get_policy(org, expiring.id).await.expect("get"), stored, "refused updates change nothing");

    // an update moves its agreement's usage in the same step, or is refused whole
    let agreement = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 1120)), org);
    store.insert_agreement(org, &agreement).await.expect("agreement");
    let change = |cents: i64| {
        agreement.usage_change(agreement.effective_date, Money::from_cents(cents)).expect("in the agreement")
    };
    let written = || async { store.usage(org, agreement.id, 1).await.expect("usage").written_premium.cents() };
    let endorsed = store.update_policy(org, &stored, Some(&change(12_345)), &[]).await.expect("endorsed");
    assert_eq!(written().await, 12_345);
    let beyond = change(agreement.annual_premium_limit.cents());
    let refused = store.update_policy(org, &endorsed, Some(&beyond), &[event(1121, endorsed.id)]).await;
    assert!(matches!(refused, Err(Error::Rule { code: "da_capacity_exceeded", .. })), "{refused:?}");
    assert_eq!(store.get_policy(org, endorsed.id).await.expect("get"), endorsed, "the policy is as it was");
    assert_eq!(written().await, 12_345, "and the usage");
    let mut foreign = change(-1);
    foreign.agreement_id = DaAgreementId::from_uuid(test_uuid(run, 1122));
    assert!(matches!(store.update_policy(org, &endorsed, Some(&foreign), &[]).await, Err(Error::NotFound { .. })));
    store.update_policy(org, &endorsed, Some(&change(-12_345)), &[]).await.expect("released");
    assert_eq!(written().await, 0);

    // a new term takes its claim on the capacity with it, or is not written
    let submission = sample_submission(SubmissionId::from_uuid(test_uuid(run, 1123)), org);
    let mut next = expiring.clone();
    next.id = PolicyId::from_uuid(test_uuid(run, 1124));
    next.number = format!("GL-2028-7{run:05}");
    next.renewal_of = None;
    let mut claim = agreement.claim(&submission, agreement.annual_premium_limit).expect("a claim");
    claim.premium = Money::from_cents(agreement.annual_premium_limit.cents() + 1);
    let refused = store.insert_policy(org, &next, Some(&claim), &[event(1125, next.id)]).await;
    assert!(matches!(refused, Err(Error::Rule { code: "da_capacity_exceeded", .. })), "{refused:?}");
    assert!(matches!(store.get_policy(org, next.id).await, Err(Error::NotFound { .. })), "nothing written");
    claim.premium = Money::from_cents(777);
    store.insert_policy(org, &next, Some(&claim), &[]).await.expect("within capacity");
    assert_eq!(written().await, 777);
}

/// The [`Authorizer`](crate::relationships::Authorizer) contract: a program owned by or delegated to the
/// org, a user holding a profile for the line (named with their org) or a direct grant; writes
/// are idempotent and deletes take effect; every decision names its rule.
pub async fn authorizer(a: &dyn crate::relationships::Authorizer, run: u64) {
    use crate::ids::ProgramId;
    use crate::relationships::{AuthzRequest, Permission, Tuple};
    use crate::submission::LineOfBusiness;
    use crate::tenancy::Role;

    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let program = ProgramId::from_uuid(test_uuid(run, 1200));
    let user = UserId::from_uuid(test_uuid(run, 1201));
    let profile = AuthorityProfileId::from_uuid(test_uuid(run, 1202));
    let req = |org: OrgId, role: Role| AuthzRequest {
        user,
        org,
        role,
        permission: Permission::Bind,
        program,
        line_of_business: LineOfBusiness::GeneralLiability,
    };
    let d = a.check(&req(org, Role::Underwriter)).await.expect("check");
    assert!(!d.allowed && !d.rule.is_empty(), "nothing written: denied, with a rule");
    a.write_relationships(&[Tuple::program_owner(program, org)], &[]).await.expect("write");
    assert!(!a.check(&req(org, Role::Underwriter)).await.expect("check").allowed, "no profile yet");
    let holds = [
        Tuple::profile_holder(profile, org, user),
        Tuple::profile_line(profile, org, LineOfBusiness::GeneralLiability),
    ];
    a.write_relationships(&holds, &[]).await.expect("write");
    a.write_relationships(&holds, &[]).await.expect("a write is idempotent");
    let d = a.check(&req(org, Role::Underwriter)).await.expect("check");
    assert!(d.allowed, "{}", d.rule);
    assert!(!d.tuples.is_empty(), "an allow names the tuples it used");
    assert!(!a.check(&req(org, Role::Producer)).await.expect("check").allowed, "producers never bind");
    assert!(!a.check(&req(other, Role::Underwriter)).await.expect("check").allowed, "another org's program");

    // an assignment written in another org does not reach this org's user of the same id
    a.write_relationships(&[Tuple::program_delegate(program, other)], &[]).await.expect("write");
    assert!(!a.check(&req(other, Role::Underwriter)).await.expect("check").allowed, "named with its org");
    a.write_relationships(&[Tuple::program_binder(program, other, user)], &[]).await.expect("write");
    assert!(a.check(&req(other, Role::Underwriter)).await.expect("check").allowed, "a direct grant");

    a.write_relationships(&[], &[Tuple::profile_holder(profile, org, user)]).await.expect("delete");
    assert!(!a.check(&req(org, Role::Underwriter)).await.expect("check").allowed, "a delete takes effect");
}

/// Every suite of this crate against one backend, for an adapter's tests: the store ports (`store`
/// implements all of them), the idempotency keys and the authorizer. A persistent backend runs it
/// with a new `run` each time; the stores need not start empty.
pub async fn all<S>(
    store: &S,
    keys: &dyn crate::idempotency::IdempotencyStore,
    authz: &dyn crate::relationships::Authorizer,
    run: u64,
) where
    S: SubmissionStore
        + QuoteStore
        + DaStore
        + AuthorityStore
        + ReferralStore
        + BindStore
        + PolicyStore
        + crate::store::ClaimStore
        + crate::store::MoneyIdStore
        + Outbox,
{
    stores(store, run).await;
    idempotency_store(keys, run).await;
    authorizer(authz, run).await;
}

/// Every suite of the store ports against one backend that implements them all (what a system
/// of record runs; [`all`] adds the idempotency keys and the authorizer).
pub async fn stores<S>(store: &S, run: u64)
where
    S: SubmissionStore
        + QuoteStore
        + DaStore
        + AuthorityStore
        + ReferralStore
        + BindStore
        + PolicyStore
        + crate::store::ClaimStore
        + crate::store::MoneyIdStore
        + Outbox,
{
    submission_store(store, run).await;
    quote_store(store, run).await;
    da_store(store, run).await;
    authority_store(store, run).await;
    referral_store(store, store, run).await;
    bind_store(store, run).await;
    policy_store(store, run).await;
    context_reads(store, run).await;
    outbox(store, run).await;
    outbox_leases(store, run).await;
    claim_store(store, store, run).await;
    money_id_store(store, run).await;
    money_id_races(store, run).await;
}

/// The context reads of [`BindStore`] and [`QuoteStore::commit_quote`]: one read holds the
/// submission, its program's agreements (not another program's) with every year of their usage,
/// the caller's profiles, the org's profiles and rules, the submission's referrals, its quotes and
/// the policies bound from them; another org's submission is not found; a quote commit writes its
/// quote, referral and submission move at once, and nothing when the submission changed since it
/// was read.
pub async fn context_reads<S>(store: &S, run: u64)
where
    S: BindStore + QuoteStore + SubmissionStore + DaStore + AuthorityStore + ReferralStore + Outbox + ?Sized,
{
    use crate::ids::ProgramId;
    use crate::store::QuoteCommit;
    use crate::underwriting::decision::RaisedReferral;

    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let user = UserId::from_uuid(test_uuid(run, 1300));
    // a program of this suite's own (other suites write agreements of the sample program)
    let program = ProgramId::from_uuid(test_uuid(run, 1305));
    let mut ours = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 1301)), org);
    ours.program_id = program;
    let mut theirs = sample_agreement_for(DaAgreementId::from_uuid(test_uuid(run, 1302)), org);
    theirs.program_id = ProgramId::from_uuid(test_uuid(run, 1303));
    store.insert_agreement(org, &ours).await.expect("agreement");
    store.insert_agreement(org, &theirs).await.expect("agreement");
    let profile = sample_profile(AuthorityProfileId::from_uuid(test_uuid(run, 1304)), org, 1, Money::from_cents(1));
    store.insert_profile(org, &profile).await.expect("profile");
    store
        .assign(
            org,
            &AuthorityAssignment {
                org_id: org,
                user_id: user,
                profile_id: profile.id,
                assigned_at: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().expect("time"),
            },
        )
        .await
        .expect("assign");

    let mut sub = sample_submission(SubmissionId::from_uuid(test_uuid(run, 1310)), org);
    sub.program_id = program;
    let mut quote = sample_quote(QuoteId::from_uuid(test_uuid(run, 1311)), org, sub.id);
    quote.program_id = program;
    store.insert_submission(org, &sub).await.expect("submission");
    store.insert_quote(org, &quote).await.expect("quote");
    let ctx = store.underwriting_context(org, sub.id, user).await.expect("context");
    assert_eq!(ctx.submission, sub);
    assert_eq!(ctx.agreements.iter().map(|a| a.id).collect::<Vec<_>>(), vec![ours.id], "by program");
    assert_eq!(ctx.caller_profiles.iter().map(|p| p.id).collect::<Vec<_>>(), vec![profile.id]);
    assert!(ctx.profiles.iter().any(|p| p.id == profile.id));
    assert!(ctx.referrals.is_empty());
    assert!(matches!(store.underwriting_context(other, sub.id, user).await, Err(Error::NotFound { .. })));

    // a quote commit: the quote, a referral with its event, the submission moved, at once
    let mut quote2 = quote.clone();
    quote2.id = QuoteId::from_uuid(test_uuid(run, 1320));
    let risk = crate::underwriting::decision::risk_summary(&sub, &quote2);
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().expect("time");
    let (referral, activity) = Referral::raise(
        ReferralId::from_uuid(test_uuid(run, 1321)),
        test_uuid(run, 1322),
        org,
        sub.id,
        quote2.id,
        user,
        2,
        vec![],
        risk,
        at,
    );
    let event = EventEnvelope::new(
        test_uuid(run, 1323),
        org,
        at,
        DomainEvent::ReferralCreated { referral_id: referral.id.as_uuid(), submission_id: sub.id, routed_to_level: 2 },
    );
    let mut moved = sub.clone();
    moved.status = SubmissionStatus::Quoted;
    let commit = QuoteCommit {
        quote: quote2.clone(),
        referral: Some(RaisedReferral { referral: referral.clone(), activity, event }),
        submission: Some(moved.clone()),
    };
    store.commit_quote(org, &commit).await.expect("commit");
    assert_eq!(store.get_quote(org, quote2.id).await.expect("quote"), quote2);
    assert_eq!(store.get_referral(org, referral.id).await.expect("referral"), referral);
    let stored = store.get_submission(org, sub.id).await.expect("submission");
    assert_eq!((stored.status, stored.revision), (SubmissionStatus::Quoted, sub.revision + 1));
    assert!(store.org_events(org, Page::first()).await.expect("events").iter().any(|e| e.id == test_uuid(run, 1323)));

    // the same submission revision again: a conflict, and nothing of it written
    let mut quote3 = quote.clone();
    quote3.id = QuoteId::from_uuid(test_uuid(run, 1330));
    let stale = QuoteCommit { quote: quote3.clone(), referral: None, submission: Some(moved) };
    assert!(matches!(store.commit_quote(org, &stale).await, Err(Error::Conflict(_))));
    assert!(matches!(store.get_quote(org, quote3.id).await, Err(Error::NotFound { .. })), "nothing half-written");

    let ctx = store.bind_context(org, sub.id, user).await.expect("bind context");
    assert_eq!(ctx.quotes.len(), 2, "the submission's quotes");
    assert!(ctx.policies.is_empty());
    assert_eq!(ctx.underwriting.referrals, vec![referral]);
}

/// The [`NotificationStore`](crate::notifications::NotificationStore) suite: queues per user,
/// read state, settings, and the email leases.
pub async fn notification_store(store: &dyn crate::notifications::NotificationStore, run: u64) {
    use crate::notifications::{
        Content, EmailOutcome, EmailStatus, Notification, NotificationKind, NotificationSettings,
    };
    let org = OrgId::from_uuid(test_uuid(run, 9600));
    let other = OrgId::from_uuid(test_uuid(run, 9601));
    let ann = UserId::from_uuid(test_uuid(run, 9602));
    let bob = UserId::from_uuid(test_uuid(run, 9603));
    let t = |s: i64| Utc.with_ymd_and_hms(2102, 1, 1, 0, 0, 0).single().expect("a time") + chrono::Duration::seconds(s);
    let content = |n: u64| Content {
        kind: NotificationKind::PolicyBound,
        title: format!("Policy {n} bound"),
        body: "body".into(),
        link: format!("/v1/policies/{n}"),
    };

    // settings
    assert_eq!(store.settings(org, ann).await.expect("settings"), None);
    let settings = NotificationSettings { user_id: ann, email: Some("ann@example.com".into()), updated_at: t(0) };
    store.put_settings(org, &settings).await.expect("put");
    assert_eq!(store.settings(org, ann).await.expect("settings"), Some(settings.clone()));
    assert_eq!(store.settings(other, ann).await.expect("settings"), None, "settings are the org's");

    // queues: idempotent, per user, newest first
    let n1 = Notification::new(org, ann, test_uuid(run, 9610), content(1), t(1), true);
    let n2 = Notification::new(org, ann, test_uuid(run, 9611), content(2), t(2), true);
    let n3 = Notification::new(org, bob, test_uuid(run, 9611), content(2), t(2), false);
    assert_eq!(store.insert_notifications(org, &[n1.clone(), n2.clone(), n3.clone()]).await.expect("insert"), 3);
    assert_eq!(store.insert_notifications(org, std::slice::from_ref(&n1)).await.expect("again"), 0, "made once");
    let theirs = Notification::new(other, ann, test_uuid(run, 9612), content(3), t(3), false);
    assert!(store.insert_notifications(org, std::slice::from_ref(&theirs)).await.is_err(), "another org's is refused");
    let ids = |v: Vec<Notification>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(store.notifications(org, ann, false, Page::first()).await.expect("list")), vec![n2.id, n1.id]);
    assert_eq!(ids(store.notifications(org, bob, false, Page::first()).await.expect("list")), vec![n3.id]);
    assert!(store.notifications(other, ann, false, Page::first()).await.expect("list").is_empty());

    // read state: the user's own only
    assert!(matches!(store.mark_read(org, bob, n1.id, t(5)).await, Err(Error::NotFound { .. })), "another user's");
    assert!(matches!(store.mark_read(other, ann, n1.id, t(5)).await, Err(Error::NotFound { .. })), "another org's");
    let read = store.mark_read(org, ann, n1.id, t(5)).await.expect("read");
    assert_eq!(read.read_at, Some(t(5)));
    assert_eq!(store.mark_read(org, ann, n1.id, t(9)).await.expect("read").read_at, Some(t(5)), "kept at first");
    assert_eq!(ids(store.notifications(org, ann, true, Page::first()).await.expect("unread")), vec![n2.id]);
    assert_eq!(store.mark_all_read(org, ann, t(6)).await.expect("all"), 1);
    assert!(store.notifications(org, ann, true, Page::first()).await.expect("unread").is_empty());
    assert_eq!(ids(store.notifications(org, bob, true, Page::first()).await.expect("unread")), vec![n3.id], "bob's");

    // email leases: due, pending, with the address the user has now
    let mine = |v: Vec<crate::notifications::PendingEmail>| {
        v.into_iter().filter(|p| p.notification.org_id == org).collect::<Vec<_>>()
    };
    let lease = test_uuid(run, 9620);
    assert!(mine(store.lease_emails(t(0), 100, lease, t(60)).await.expect("lease")).is_empty(), "not yet due");
    let leased = mine(store.lease_emails(t(3), 100, lease, t(60)).await.expect("lease"));
    assert_eq!(leased.iter().map(|p| p.notification.id).collect::<Vec<_>>(), vec![n1.id, n2.id], "oldest first");
    assert_eq!(leased[0].to, "ann@example.com");
    assert!(mine(store.lease_emails(t(4), 100, test_uuid(run, 9621), t(60)).await.expect("l")).is_empty(), "held");
    let retry = EmailOutcome {
        status: EmailStatus::Pending,
        at: t(4),
        next_attempt_at: Some(t(100)),
        error: Some("451 try later".into()),
    };
    assert!(!store.record_email(org, n1.id, test_uuid(run, 9699), &retry).await.expect("record"), "another lease");
    assert!(store.record_email(org, n1.id, lease, &retry).await.expect("record"));
    let sent = EmailOutcome { status: EmailStatus::Sent, at: t(4), next_attempt_at: None, error: None };
    assert!(store.record_email(org, n2.id, lease, &sent).await.expect("record"));
    assert!(!store.record_email(org, n2.id, lease, &sent).await.expect("record"), "the lease ended");
    let all = store.notifications(org, ann, false, Page::first()).await.expect("list");
    let e1 = &all.iter().find(|n| n.id == n1.id).expect("n1").email;
    assert_eq!((e1.status, e1.attempts, e1.next_attempt_at), (EmailStatus::Pending, 1, Some(t(100))));
    assert_eq!(e1.last_error.as_deref(), Some("451 try later"));
    let e2 = &all.iter().find(|n| n.id == n2.id).expect("n2").email;
    assert_eq!((e2.status, e2.attempts, e2.sent_at), (EmailStatus::Sent, 1, Some(t(4))));
    assert!(mine(store.lease_emails(t(99), 100, test_uuid(run, 9622), t(160)).await.expect("l")).is_empty());
    // the user removed the address: nothing to lease
    let none = NotificationSettings { user_id: ann, email: None, updated_at: t(50) };
    store.put_settings(org, &none).await.expect("put");
    assert!(mine(store.lease_emails(t(100), 100, test_uuid(run, 9623), t(160)).await.expect("l")).is_empty());
    store.put_settings(org, &settings).await.expect("put");
    let again = mine(store.lease_emails(t(100), 100, test_uuid(run, 9624), t(160)).await.expect("l"));
    assert_eq!(again.len(), 1, "due again with an address");
    let failed =
        EmailOutcome { status: EmailStatus::Failed, at: t(101), next_attempt_at: None, error: Some("550".into()) };
    assert!(store.record_email(org, n1.id, test_uuid(run, 9624), &failed).await.expect("record"));
    assert!(mine(store.lease_emails(t(10_000), 100, test_uuid(run, 9625), t(10_060)).await.expect("l")).is_empty());
}
