#![doc = include_str!("../README.md")]

pub mod audit;
pub mod authorizer;
pub mod dealroom;
pub mod edge;
pub mod idempotency;
pub mod ledger;
mod notifications;
mod webhooks;

pub use audit::MemoryAuditLog;
pub use authorizer::MemoryAuthorizer;
pub use dealroom::MemoryDealRooms;
pub use edge::MemoryEdgeStore;
pub use idempotency::MemoryIdempotency;
pub use ledger::MemoryLedger;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::claims::Claim;
use openinsure_core::error::{Error, Result};
use openinsure_core::events::{DeadLetter, Delivery, DeliveryFailure, EventEnvelope, EventId};
use openinsure_core::ids::{
    AuthorityProfileId, ClaimId, DaAgreementId, OrgId, PolicyId, QuoteId, ReferralId, ReferralRuleId, SubmissionId,
    UserId,
};
use openinsure_core::money_id::{MoneyUse, Registration};
use openinsure_core::policy::Policy;
use openinsure_core::quote::Quote;
use openinsure_core::store::{
    AuthorityStore, BindCommit, BindOutcome, BindStore, ClaimStore, DaStore, MoneyIdStore, Outbox, Page, PolicyStore,
    QuoteCommit, QuoteStore, ReferralStore, SubmissionStore,
};
use openinsure_core::submission::Submission;
use openinsure_core::underwriting::authority::{
    AuthorityAssignment, AuthorityProfile, Referral, ReferralActivity, ReferralRule, ReferralStatus,
};
use openinsure_core::underwriting::da::{CapacityClaim, DaAgreement, DaUsage, UsageChange};
use openinsure_core::underwriting::decision::{BindContext, UnderwritingContext};

#[derive(Debug, Default)]
struct Tables {
    submissions: BTreeMap<(OrgId, SubmissionId), Submission>,
    quotes: BTreeMap<(OrgId, QuoteId), Quote>,
    /// Each submission's quotes.
    quotes_by_submission: std::collections::BTreeSet<(OrgId, SubmissionId, QuoteId)>,
    agreements: BTreeMap<(OrgId, DaAgreementId), DaAgreement>,
    usage: BTreeMap<(OrgId, DaAgreementId, u32), DaUsage>,
    profiles: BTreeMap<(OrgId, AuthorityProfileId), AuthorityProfile>,
    assignments: BTreeMap<(OrgId, UserId, AuthorityProfileId), AuthorityAssignment>,
    rules: BTreeMap<(OrgId, ReferralRuleId), ReferralRule>,
    referrals: BTreeMap<(OrgId, ReferralId), Referral>,
    activities: Vec<ReferralActivity>,
    policies: BTreeMap<(OrgId, PolicyId), Policy>,
    policy_numbers: BTreeMap<(OrgId, String), PolicyId>,
    /// The policy bound from each quote.
    policy_by_quote: BTreeMap<(OrgId, QuoteId), PolicyId>,
    /// Policies that have been renewed (a policy renews once).
    renewed: std::collections::BTreeSet<(OrgId, PolicyId)>,
    sequences: BTreeMap<(OrgId, String), u64>,
    claims: BTreeMap<(OrgId, ClaimId), Claim>,
    /// The outbox: every event ever appended, in order, with where its delivery stands.
    outbox: Vec<(EventEnvelope, Slot)>,
    /// Money ids and what each stands for.
    money_ids: BTreeMap<(OrgId, uuid::Uuid), MoneyUse>,
    /// Webhook endpoints, with their secrets.
    webhook_endpoints: BTreeMap<(OrgId, openinsure_core::ids::WebhookEndpointId), openinsure_webhooks::StoredEndpoint>,
    /// Webhook deliveries and their leases.
    webhook_deliveries: BTreeMap<(OrgId, openinsure_core::ids::WebhookDeliveryId), webhooks::DeliverySlot>,
    /// The delivery log.
    webhook_attempts: Vec<(OrgId, openinsure_webhooks::DeliveryAttempt)>,
    /// Notifications and their email leases.
    notifications: BTreeMap<(OrgId, openinsure_core::ids::NotificationId), notifications::NotificationSlot>,
    /// Where each user's notifications are emailed.
    notification_settings: BTreeMap<(OrgId, UserId), openinsure_core::notifications::NotificationSettings>,
}

impl Tables {
    fn append_events(&mut self, org: OrgId, events: &[EventEnvelope]) -> Result<()> {
        for e in events {
            same_org(org, e.org_id, "event")?;
        }
        self.outbox.extend(events.iter().map(|e| (e.clone(), Slot::default())));
        Ok(())
    }
}

fn check_events(org: OrgId, events: &[EventEnvelope]) -> Result<()> {
    events.iter().try_for_each(|e| same_org(org, e.org_id, "event"))
}

/// Every store port, in memory. Clones share the same data.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Tables>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    // A panic while holding the lock cannot leave a half-written record: every write below is a
    // single map insert after all checks, so a poisoned lock still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn same_org(org: OrgId, record_org: OrgId, entity: &str) -> Result<()> {
    if org == record_org { Ok(()) } else { Err(Error::Forbidden(format!("{entity} belongs to another org"))) }
}

fn page<T: Clone>(items: impl Iterator<Item = T>, page: Page) -> Vec<T> {
    items.skip(page.offset as usize).take(page.limit.min(openinsure_core::store::MAX_PAGE_LIMIT) as usize).collect()
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl SubmissionStore for MemoryStore {
    async fn insert_submission(&self, org: OrgId, submission: &Submission) -> Result<()> {
        same_org(org, submission.org_id, "submission")?;
        let mut t = self.write();
        let key = (org, submission.id);
        if t.submissions.contains_key(&key) {
            return Err(Error::Conflict(format!("submission `{}` already exists", submission.id)));
        }
        t.submissions.insert(key, submission.clone());
        Ok(())
    }

    async fn get_submission(&self, org: OrgId, id: SubmissionId) -> Result<Submission> {
        self.read().submissions.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("submission", id))
    }

    async fn update_submission(&self, org: OrgId, submission: &Submission) -> Result<Submission> {
        let mut t = self.write();
        let stored = t
            .submissions
            .get_mut(&(org, submission.id))
            .ok_or_else(|| Error::not_found("submission", submission.id))?;
        same_org(org, submission.org_id, "submission")?;
        if stored.revision != submission.revision {
            return Err(Error::Conflict(format!(
                "submission `{}` changed since it was read (revision {} is now {})",
                submission.id, submission.revision, stored.revision
            )));
        }
        let mut next = submission.clone();
        next.revision += 1;
        *stored = next.clone();
        Ok(next)
    }

    async fn list_submissions(&self, org: OrgId, p: Page) -> Result<Vec<Submission>> {
        let t = self.read();
        let range = t.submissions.range((org, SubmissionId::from_uuid(Default::default()))..);
        Ok(page(range.take_while(|((o, _), _)| *o == org).map(|(_, s)| s.clone()), p))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl QuoteStore for MemoryStore {
    async fn insert_quote(&self, org: OrgId, quote: &Quote) -> Result<()> {
        same_org(org, quote.org_id, "quote")?;
        let mut t = self.write();
        if t.quotes.contains_key(&(org, quote.id)) {
            return Err(Error::Conflict(format!("quote `{}` already exists", quote.id)));
        }
        t.quotes.insert((org, quote.id), quote.clone());
        t.quotes_by_submission.insert((org, quote.submission_id, quote.id));
        Ok(())
    }

    async fn get_quote(&self, org: OrgId, id: QuoteId) -> Result<Quote> {
        self.read().quotes.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("quote", id))
    }

    async fn list_quotes(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Quote>> {
        Ok(self.read().quotes_of(org, submission))
    }

    async fn commit_quote(&self, org: OrgId, c: &QuoteCommit) -> Result<()> {
        same_org(org, c.quote.org_id, "quote")?;
        if let Some(r) = &c.referral {
            same_org(org, r.referral.org_id, "referral")?;
            same_org(org, r.activity.org_id, "referral activity")?;
            same_org(org, r.event.org_id, "event")?;
        }
        let mut t = self.write();
        // every check first, then every write
        if t.quotes.contains_key(&(org, c.quote.id)) {
            return Err(Error::Conflict(format!("quote `{}` already exists", c.quote.id)));
        }
        if let Some(r) = &c.referral
            && t.referrals.contains_key(&(org, r.referral.id))
        {
            return Err(Error::Conflict(format!("referral `{}` already exists", r.referral.id)));
        }
        if let Some(sub) = &c.submission {
            same_org(org, sub.org_id, "submission")?;
            let stored = t.submissions.get(&(org, sub.id)).ok_or_else(|| Error::not_found("submission", sub.id))?;
            if stored.revision != sub.revision {
                return Err(Error::Conflict(format!("submission `{}` changed since it was read", sub.id)));
            }
        }
        t.quotes.insert((org, c.quote.id), c.quote.clone());
        t.quotes_by_submission.insert((org, c.quote.submission_id, c.quote.id));
        if let Some(r) = &c.referral {
            t.referrals.insert((org, r.referral.id), r.referral.clone());
            t.activities.push(r.activity.clone());
            t.outbox.push((r.event.clone(), Slot::default()));
        }
        if let Some(sub) = &c.submission {
            let mut next = sub.clone();
            next.revision += 1;
            t.submissions.insert((org, sub.id), next);
        }
        Ok(())
    }
}

impl Tables {
    fn quotes_of(&self, org: OrgId, submission: SubmissionId) -> Vec<Quote> {
        self.quotes_by_submission
            .range((org, submission, nil())..)
            .take_while(|(o, s, _)| *o == org && *s == submission)
            .filter_map(|(_, _, q)| self.quotes.get(&(org, *q)).cloned())
            .collect()
    }

    fn underwriting_context(&self, org: OrgId, id: SubmissionId, user: UserId) -> Result<UnderwritingContext> {
        let submission = self.submissions.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("submission", id))?;
        let agreements: Vec<DaAgreement> = org_range(&self.agreements, org, nil())
            .map(|(_, a)| a)
            .filter(|a| a.program_id == submission.program_id)
            .cloned()
            .collect();
        // each year's usage with the counts of this submission's insured only (a year's usage
        // holds every insured of the book; the decision needs one)
        let insured = openinsure_core::underwriting::da::insured_key(&submission);
        let mut usage = Vec::new();
        for a in &agreements {
            usage.extend(
                self.usage
                    .range((org, a.id, 0)..)
                    .take_while(|((o, id, _), _)| *o == org && *id == a.id)
                    .map(|(_, u)| (a.id, u.for_insured(&insured))),
            );
        }
        let caller_profiles = self
            .assignments
            .range((org, user, nil())..)
            .take_while(|((o, u, _), _)| *o == org && *u == user)
            .filter_map(|((_, _, p), _)| self.profiles.get(&(org, *p)).cloned())
            .collect();
        let mut profiles: Vec<AuthorityProfile> =
            org_range(&self.profiles, org, nil()).map(|(_, p)| p.clone()).collect();
        profiles.sort_by_key(|p| (p.level, p.id));
        let rules = org_range(&self.rules, org, nil()).map(|(_, r)| r.clone()).collect();
        let referrals =
            org_range(&self.referrals, org, nil()).map(|(_, r)| r).filter(|r| r.submission_id == id).cloned().collect();
        Ok(UnderwritingContext { submission, agreements, usage, caller_profiles, profiles, rules, referrals })
    }
}

fn org_range<K: Ord + Clone, V>(
    map: &BTreeMap<(OrgId, K), V>,
    org: OrgId,
    min: K,
) -> impl Iterator<Item = (&(OrgId, K), &V)> {
    map.range((org, min)..).take_while(move |((o, _), _)| *o == org)
}

fn nil<T: From<uuid::Uuid>>() -> T {
    T::from(uuid::Uuid::nil())
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl DaStore for MemoryStore {
    async fn insert_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<()> {
        same_org(org, agreement.org_id, "agreement")?;
        let mut t = self.write();
        if t.agreements.contains_key(&(org, agreement.id)) {
            return Err(Error::Conflict(format!("agreement `{}` already exists", agreement.id)));
        }
        t.agreements.insert((org, agreement.id), agreement.clone());
        Ok(())
    }

    async fn get_agreement(&self, org: OrgId, id: DaAgreementId) -> Result<DaAgreement> {
        self.read().agreements.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("da agreement", id))
    }

    async fn update_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<DaAgreement> {
        let mut t = self.write();
        let stored =
            t.agreements.get_mut(&(org, agreement.id)).ok_or_else(|| Error::not_found("da agreement", agreement.id))?;
        same_org(org, agreement.org_id, "agreement")?;
        if stored.revision != agreement.revision {
            return Err(Error::Conflict(format!("agreement `{}` changed since it was read", agreement.id)));
        }
        let mut next = agreement.clone();
        next.revision += 1;
        *stored = next.clone();
        Ok(next)
    }

    async fn list_agreements(&self, org: OrgId, p: Page) -> Result<Vec<DaAgreement>> {
        Ok(page(org_range(&self.read().agreements, org, nil()).map(|(_, a)| a.clone()), p))
    }

    async fn usage(&self, org: OrgId, id: DaAgreementId, agreement_year: u32) -> Result<DaUsage> {
        let t = self.read();
        if !t.agreements.contains_key(&(org, id)) {
            return Err(Error::not_found("da agreement", id));
        }
        Ok(t.usage
            .get(&(org, id, agreement_year))
            .cloned()
            .unwrap_or_else(|| DaUsage { agreement_year, ..DaUsage::default() }))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl AuthorityStore for MemoryStore {
    async fn insert_profile(&self, org: OrgId, profile: &AuthorityProfile) -> Result<()> {
        same_org(org, profile.org_id, "authority profile")?;
        let mut t = self.write();
        if t.profiles.contains_key(&(org, profile.id)) {
            return Err(Error::Conflict(format!("authority profile `{}` already exists", profile.id)));
        }
        t.profiles.insert((org, profile.id), profile.clone());
        Ok(())
    }

    async fn list_profiles(&self, org: OrgId) -> Result<Vec<AuthorityProfile>> {
        let mut v: Vec<AuthorityProfile> =
            org_range(&self.read().profiles, org, nil()).map(|(_, p)| p.clone()).collect();
        v.sort_by_key(|p| (p.level, p.id));
        Ok(v)
    }

    async fn assign(&self, org: OrgId, assignment: &AuthorityAssignment) -> Result<()> {
        same_org(org, assignment.org_id, "assignment")?;
        let mut t = self.write();
        if !t.profiles.contains_key(&(org, assignment.profile_id)) {
            return Err(Error::not_found("authority profile", assignment.profile_id));
        }
        t.assignments.entry((org, assignment.user_id, assignment.profile_id)).or_insert_with(|| assignment.clone());
        Ok(())
    }

    async fn unassign(&self, org: OrgId, user: UserId, profile: AuthorityProfileId) -> Result<()> {
        self.write().assignments.remove(&(org, user, profile));
        Ok(())
    }

    async fn list_assignments(&self, org: OrgId) -> Result<Vec<AuthorityAssignment>> {
        let t = self.read();
        Ok(t.assignments
            .range((org, nil(), nil())..)
            .take_while(|((o, _, _), _)| *o == org)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn profiles_of(&self, org: OrgId, user: UserId) -> Result<Vec<AuthorityProfile>> {
        let t = self.read();
        Ok(t.assignments
            .range((org, user, nil())..)
            .take_while(|((o, u, _), _)| *o == org && *u == user)
            .filter_map(|((_, _, p), _)| t.profiles.get(&(org, *p)).cloned())
            .collect())
    }

    async fn insert_rule(&self, org: OrgId, rule: &ReferralRule) -> Result<()> {
        same_org(org, rule.org_id, "referral rule")?;
        let mut t = self.write();
        if t.rules.contains_key(&(org, rule.id)) {
            return Err(Error::Conflict(format!("referral rule `{}` already exists", rule.id)));
        }
        t.rules.insert((org, rule.id), rule.clone());
        Ok(())
    }

    async fn list_rules(&self, org: OrgId) -> Result<Vec<ReferralRule>> {
        Ok(org_range(&self.read().rules, org, nil()).map(|(_, r)| r.clone()).collect())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ReferralStore for MemoryStore {
    async fn insert_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<()> {
        same_org(org, referral.org_id, "referral")?;
        same_org(org, activity.org_id, "referral activity")?;
        check_events(org, events)?;
        let mut t = self.write();
        if t.referrals.contains_key(&(org, referral.id)) {
            return Err(Error::Conflict(format!("referral `{}` already exists", referral.id)));
        }
        t.referrals.insert((org, referral.id), referral.clone());
        t.activities.push(activity.clone());
        t.append_events(org, events)
    }

    async fn get_referral(&self, org: OrgId, id: ReferralId) -> Result<Referral> {
        self.read().referrals.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("referral", id))
    }

    async fn update_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<Referral> {
        let mut t = self.write();
        let stored = t.referrals.get(&(org, referral.id)).ok_or_else(|| Error::not_found("referral", referral.id))?;
        same_org(org, referral.org_id, "referral")?;
        same_org(org, activity.org_id, "referral activity")?;
        check_events(org, events)?;
        if stored.revision != referral.revision {
            return Err(Error::Conflict(format!("referral `{}` changed since it was read", referral.id)));
        }
        let mut next = referral.clone();
        next.revision += 1;
        t.referrals.insert((org, referral.id), next.clone());
        t.activities.push(activity.clone());
        t.append_events(org, events)?;
        Ok(next)
    }

    async fn list_referrals(&self, org: OrgId, status: Option<ReferralStatus>, p: Page) -> Result<Vec<Referral>> {
        let t = self.read();
        Ok(page(
            org_range(&t.referrals, org, nil())
                .map(|(_, r)| r)
                .filter(|r| status.is_none_or(|s| r.status == s))
                .cloned(),
            p,
        ))
    }

    async fn referrals_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Referral>> {
        let t = self.read();
        Ok(org_range(&t.referrals, org, nil())
            .map(|(_, r)| r)
            .filter(|r| r.submission_id == submission)
            .cloned()
            .collect())
    }

    async fn activities(&self, org: OrgId, referral: ReferralId) -> Result<Vec<ReferralActivity>> {
        let t = self.read();
        if !t.referrals.contains_key(&(org, referral)) {
            return Err(Error::not_found("referral", referral));
        }
        Ok(t.activities.iter().filter(|a| a.org_id == org && a.referral_id == referral).cloned().collect())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl BindStore for MemoryStore {
    async fn bind(&self, org: OrgId, c: &BindCommit) -> Result<BindOutcome> {
        same_org(org, c.policy.org_id, "policy")?;
        same_org(org, c.quote.org_id, "quote")?;
        same_org(org, c.submission.org_id, "submission")?;
        check_events(org, &c.events)?;
        let mut t = self.write();
        if let Some(existing) = t.policy_by_quote.get(&(org, c.quote.id)).and_then(|id| t.policies.get(&(org, *id))) {
            return Ok(BindOutcome::AlreadyBound(existing.clone()));
        }
        let stored = t
            .submissions
            .get(&(org, c.submission.id))
            .ok_or_else(|| Error::not_found("submission", c.submission.id))?;
        if stored.revision != c.submission.revision {
            return Err(Error::Conflict(format!("submission `{}` changed since it was read", c.submission.id)));
        }
        if !t.quotes.contains_key(&(org, c.quote.id)) {
            return Err(Error::not_found("quote", c.quote.id));
        }
        if t.policies.contains_key(&(org, c.policy.id))
            || t.policy_numbers.contains_key(&(org, c.policy.number.clone()))
        {
            return Err(Error::Conflict(format!("policy `{}` already exists", c.policy.number)));
        }
        if let Some(claim) = &c.capacity {
            if !t.agreements.contains_key(&(org, claim.agreement_id)) {
                return Err(Error::not_found("da agreement", claim.agreement_id));
            }
            // the last check, in place (an agreement year's usage holds every insured: no copy);
            // `take` leaves the usage as it was when it refuses, and nothing below can fail
            let key = (org, claim.agreement_id, claim.agreement_year);
            match t.usage.get_mut(&key) {
                Some(u) => claim.take(u)?,
                None => {
                    let mut u = DaUsage { agreement_year: claim.agreement_year, ..DaUsage::default() };
                    claim.take(&mut u)?;
                    t.usage.insert(key, u);
                }
            }
        }
        // Every check passed: write everything.
        let mut submission = c.submission.clone();
        submission.revision += 1;
        t.submissions.insert((org, submission.id), submission);
        t.quotes.insert((org, c.quote.id), c.quote.clone());
        t.policy_numbers.insert((org, c.policy.number.clone()), c.policy.id);
        t.policy_by_quote.insert((org, c.quote.id), c.policy.id);
        t.policies.insert((org, c.policy.id), c.policy.clone());
        t.outbox.extend(c.events.iter().map(|e| (e.clone(), Slot::default())));
        Ok(BindOutcome::Bound(c.policy.clone()))
    }

    async fn next_sequence(&self, org: OrgId, key: &str) -> Result<u64> {
        let mut t = self.write();
        let n = t.sequences.entry((org, key.to_owned())).or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn underwriting_context(&self, org: OrgId, id: SubmissionId, user: UserId) -> Result<UnderwritingContext> {
        self.read().underwriting_context(org, id, user)
    }

    async fn bind_context(&self, org: OrgId, id: SubmissionId, user: UserId) -> Result<BindContext> {
        let t = self.read();
        let underwriting = t.underwriting_context(org, id, user)?;
        let quotes = t.quotes_of(org, id);
        let policies = quotes
            .iter()
            .filter_map(|q| t.policy_by_quote.get(&(org, q.id)))
            .filter_map(|p| t.policies.get(&(org, *p)).cloned())
            .collect();
        Ok(BindContext { underwriting, quotes, policies })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl PolicyStore for MemoryStore {
    async fn get_policy(&self, org: OrgId, id: PolicyId) -> Result<Policy> {
        self.read().policies.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("policy", id))
    }

    async fn policy_for_quote(&self, org: OrgId, quote: QuoteId) -> Result<Option<Policy>> {
        let t = self.read();
        Ok(t.policy_by_quote.get(&(org, quote)).and_then(|id| t.policies.get(&(org, *id))).cloned())
    }

    async fn orgs_with_policies(&self) -> Result<Vec<OrgId>> {
        let mut orgs: Vec<OrgId> = self.read().policies.keys().map(|(org, _)| *org).collect();
        orgs.dedup();
        Ok(orgs)
    }

    async fn list_policies(&self, org: OrgId, p: Page) -> Result<Vec<Policy>> {
        Ok(page(org_range(&self.read().policies, org, nil()).map(|(_, p)| p.clone()), p))
    }

    async fn insert_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        capacity: Option<&CapacityClaim>,
        events: &[EventEnvelope],
    ) -> Result<()> {
        same_org(org, policy.org_id, "policy")?;
        check_events(org, events)?;
        let mut t = self.write();
        if t.policies.contains_key(&(org, policy.id)) || t.policy_numbers.contains_key(&(org, policy.number.clone())) {
            return Err(Error::Conflict(format!("policy `{}` already exists", policy.number)));
        }
        if let Some(prior) = policy.renewal_of
            && t.renewed.contains(&(org, prior))
        {
            return Err(Error::Conflict(format!("policy `{prior}` has already been renewed")));
        }
        if let Some(claim) = capacity {
            if !t.agreements.contains_key(&(org, claim.agreement_id)) {
                return Err(Error::not_found("da agreement", claim.agreement_id));
            }
            // `take` leaves the usage as it was when it refuses, and nothing below can fail
            let key = (org, claim.agreement_id, claim.agreement_year);
            let usage = t
                .usage
                .entry(key)
                .or_insert_with(|| DaUsage { agreement_year: claim.agreement_year, ..DaUsage::default() });
            claim.take(usage)?;
        }
        t.policy_numbers.insert((org, policy.number.clone()), policy.id);
        t.policy_by_quote.entry((org, policy.quote_id)).or_insert(policy.id);
        if let Some(prior) = policy.renewal_of {
            t.renewed.insert((org, prior));
        }
        t.policies.insert((org, policy.id), policy.clone());
        t.append_events(org, events)
    }

    async fn update_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        usage: Option<&UsageChange>,
        events: &[EventEnvelope],
    ) -> Result<Policy> {
        let mut t = self.write();
        let stored = t.policies.get(&(org, policy.id)).ok_or_else(|| Error::not_found("policy", policy.id))?;
        same_org(org, policy.org_id, "policy")?;
        check_events(org, events)?;
        if stored.revision != policy.revision {
            return Err(Error::Conflict(format!("policy `{}` changed since it was read", policy.number)));
        }
        if stored.number != policy.number {
            return Err(Error::Conflict("a policy number never changes".into()));
        }
        if let Some(change) = usage {
            if !t.agreements.contains_key(&(org, change.agreement_id)) {
                return Err(Error::not_found("da agreement", change.agreement_id));
            }
            // `apply` leaves the usage as it was when it refuses, and nothing below can fail
            let key = (org, change.agreement_id, change.agreement_year);
            let mut u = t
                .usage
                .get(&key)
                .cloned()
                .unwrap_or_else(|| DaUsage { agreement_year: change.agreement_year, ..DaUsage::default() });
            change.apply(&mut u)?;
            t.usage.insert(key, u);
        }
        let mut next = policy.clone();
        next.revision += 1;
        t.policies.insert((org, policy.id), next.clone());
        t.append_events(org, events)?;
        Ok(next)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Outbox for MemoryStore {
    async fn pending_events(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<EventEnvelope>> {
        Ok(self
            .read()
            .outbox
            .iter()
            .filter(|(_, s)| !s.delivered && s.dead.is_none() && s.next_attempt_at.is_none_or(|at| at <= now))
            .take(limit as usize)
            .map(|(e, s)| {
                let mut e = e.clone();
                e.delivery = Delivery { attempts: s.attempts, generation: s.generation };
                e
            })
            .collect())
    }

    async fn lease_events(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        _lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<EventEnvelope>> {
        let mut t = self.write();
        Ok(t.outbox
            .iter_mut()
            .filter(|(_, s)| {
                !s.delivered
                    && s.dead.is_none()
                    && s.next_attempt_at.is_none_or(|at| at <= now)
                    && s.leased_until.is_none_or(|at| at <= now)
            })
            .take(limit as usize)
            .map(|(e, s)| {
                s.leased_until = Some(until);
                let mut e = e.clone();
                e.delivery = Delivery { attempts: s.attempts, generation: s.generation };
                e
            })
            .collect())
    }

    async fn mark_delivered(&self, ids: &[EventId]) -> Result<()> {
        let mut t = self.write();
        for (e, slot) in t.outbox.iter_mut() {
            if ids.contains(&e.id) {
                slot.delivered = true;
                slot.leased_until = None;
            }
        }
        Ok(())
    }

    async fn record_failure(&self, org: OrgId, id: EventId, failure: &DeliveryFailure) -> Result<()> {
        let mut t = self.write();
        if let Some((_, slot)) = t.outbox.iter_mut().find(|(e, s)| e.org_id == org && e.id == id && !s.delivered) {
            slot.attempts += 1;
            slot.leased_until = None;
            slot.next_attempt_at = failure.retry_at;
            slot.last_error = failure.reason.clone();
            if failure.retry_at.is_none() {
                slot.dead = Some(failure.at);
            }
        }
        Ok(())
    }

    async fn dead_letters(&self, org: OrgId, p: Page) -> Result<Vec<DeadLetter>> {
        Ok(page(self.read().outbox.iter().filter(|(e, _)| e.org_id == org).filter_map(|(e, s)| dead_letter(e, s)), p))
    }

    async fn replay(&self, org: OrgId, id: EventId) -> Result<DeadLetter> {
        let mut t = self.write();
        let Some((e, slot)) = t.outbox.iter_mut().find(|(e, _)| e.org_id == org && e.id == id) else {
            return Err(Error::not_found("event", id));
        };
        let Some(letter) = dead_letter(e, slot) else {
            return Err(Error::Rule { code: "event_not_dead", message: format!("event `{id}` is not a dead letter") });
        };
        *slot = Slot { generation: slot.generation + 1, ..Slot::default() };
        Ok(letter)
    }

    async fn org_events(&self, org: OrgId, p: Page) -> Result<Vec<EventEnvelope>> {
        Ok(page(self.read().outbox.iter().filter(|(e, _)| e.org_id == org).map(|(e, _)| e.clone()), p))
    }
}

/// Where an event's delivery stands in the memory outbox.
#[derive(Clone, Debug, Default)]
struct Slot {
    delivered: bool,
    attempts: u32,
    generation: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: String,
    /// When it was given up on.
    dead: Option<DateTime<Utc>>,
    /// Until when a dispatcher holds it.
    leased_until: Option<DateTime<Utc>>,
}

fn dead_letter(e: &EventEnvelope, s: &Slot) -> Option<DeadLetter> {
    let failed_at = s.dead.filter(|_| !s.delivered)?;
    Some(DeadLetter {
        event_id: e.id,
        event_type: e.event.name().to_owned(),
        occurred_at: e.occurred_at,
        attempts: s.attempts,
        generation: s.generation,
        reason: s.last_error.clone(),
        failed_at,
    })
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ClaimStore for MemoryStore {
    async fn insert_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<()> {
        same_org(org, claim.org_id, "claim")?;
        check_events(org, events)?;
        let mut t = self.write();
        if t.claims.contains_key(&(org, claim.id)) {
            return Err(Error::Conflict(format!("claim `{}` already exists", claim.id)));
        }
        t.claims.insert((org, claim.id), claim.clone());
        t.append_events(org, events)
    }

    async fn get_claim(&self, org: OrgId, id: ClaimId) -> Result<Claim> {
        self.read().claims.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("claim", id))
    }

    async fn update_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<Claim> {
        let mut t = self.write();
        let stored = t.claims.get(&(org, claim.id)).ok_or_else(|| Error::not_found("claim", claim.id))?;
        same_org(org, claim.org_id, "claim")?;
        check_events(org, events)?;
        if stored.revision != claim.revision {
            return Err(Error::Conflict(format!("claim `{}` changed since it was read", claim.id)));
        }
        let mut next = claim.clone();
        next.revision += 1;
        t.claims.insert((org, claim.id), next.clone());
        t.append_events(org, events)?;
        Ok(next)
    }

    async fn list_claims(&self, org: OrgId, p: Page) -> Result<Vec<Claim>> {
        Ok(page(org_range(&self.read().claims, org, nil()).map(|(_, c)| c.clone()), p))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl MoneyIdStore for MemoryStore {
    async fn register_money_id(&self, org: OrgId, id: uuid::Uuid, money: &MoneyUse) -> Result<Registration> {
        let mut t = self.write();
        match t.money_ids.get(&(org, id)) {
            None => {
                t.money_ids.insert((org, id), money.clone());
                Ok(Registration::New)
            }
            Some(first) if first == money => Ok(Registration::Replay),
            Some(first) => Err(Error::MoneyIdReused { id, first_use: first.clone() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_core::money::Money;
    use openinsure_core::testkit;

    /// Every suite of openinsure-core, twice on one store (as a persistent backend runs it).
    #[tokio::test]
    async fn passes_every_core_suite_twice() {
        let store = MemoryStore::default();
        let keys = MemoryIdempotency::default();
        let authz = MemoryAuthorizer::new();
        testkit::all(&store, &keys, &authz, 1).await;
        testkit::all(&store, &keys, &authz, 2).await;
        testkit::bind_races(&store, 1, 64).await;
    }

    /// The capacity race again, with binds on several OS threads at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn capacity_race_across_threads() {
        use openinsure_core::store::{BindOutcome, DaStore};
        let store = MemoryStore::default();
        let org = OrgId::from_uuid(testkit::test_uuid(5, 1));
        let agreement = testkit::sample_agreement_for(DaAgreementId::from_uuid(testkit::test_uuid(5, 2)), org);
        store.insert_agreement(org, &agreement).await.unwrap();
        let mut handles = Vec::new();
        for i in 0..40u64 {
            let store = store.clone();
            let agreement = agreement.clone();
            handles.push(tokio::spawn(async move {
                let sub = testkit::sample_submission(SubmissionId::from_uuid(testkit::test_uuid(5, 100 + i)), org);
                let quote = testkit::sample_quote(QuoteId::from_uuid(testkit::test_uuid(5, 200 + i)), org, sub.id);
                store.insert_submission(org, &sub).await.unwrap();
                store.insert_quote(org, &quote).await.unwrap();
                let policy = testkit::sample_policy(
                    PolicyId::from_uuid(testkit::test_uuid(5, 300 + i)),
                    org,
                    &quote,
                    &format!("GL-2027-{i:06}"),
                );
                let mut claim = agreement.claim(&sub, Money::from_cents(25_000_000)).unwrap();
                claim.insured_key = format!("insured-{i}");
                let mut bound_sub = sub.clone();
                bound_sub.status = openinsure_core::submission::SubmissionStatus::Bound;
                let commit = openinsure_core::store::BindCommit {
                    policy,
                    quote,
                    submission: bound_sub,
                    capacity: Some(claim),
                    events: vec![],
                };
                store.bind(org, &commit).await
            }));
        }
        let mut won = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(BindOutcome::Bound(_)) => won += 1,
                Err(Error::Rule { code: "da_capacity_exceeded", .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        // $5,000,000 capacity, $250,000 each: exactly 20 fit
        assert_eq!(won, 20);
        assert_eq!(store.usage(org, agreement.id, 1).await.unwrap().written_premium, agreement.annual_premium_limit);
    }

    #[tokio::test]
    async fn clones_share_data() {
        let a = MemoryStore::default();
        let b = a.clone();
        let org = OrgId::from_uuid(testkit::test_uuid(9, 1));
        let s = testkit::sample_submission(SubmissionId::from_uuid(testkit::test_uuid(9, 2)), org);
        a.insert_submission(org, &s).await.unwrap();
        assert_eq!(b.get_submission(org, s.id).await.unwrap(), s);
    }
}
