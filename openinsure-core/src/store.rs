//! Store ports: how use cases persist submissions, quotes, DA agreements, the authority matrix,
//! referrals, policies and the event outbox.
//!
//! Every method takes the caller's org first and must never read or write another org's rows:
//! a record of another org answers [`Error::NotFound`](crate::Error::NotFound), exactly as a missing one does, so existence
//! is not leaked. A record whose `org_id` differs from the org passed is refused with
//! [`Error::Forbidden`](crate::Error::Forbidden) and nothing is written.
//!
//! Updates use optimistic concurrency: the record carries the `revision` it was read at; the store
//! refuses a stale one with [`Error::Conflict`](crate::Error::Conflict) and otherwise stores it with `revision + 1`.
//!
//! Adapters prove they keep this contract by running the conformance suites in
//! `openinsure_core::testkit` (feature `testkit`).

use async_trait::async_trait;

use crate::claims::Claim;
use crate::error::Result;
use crate::events::{DeadLetter, DeliveryFailure, EventEnvelope, EventId};
use crate::ids::{
    AuthorityProfileId, ClaimId, DaAgreementId, OrgId, PolicyId, QuoteId, ReferralId, SubmissionId, UserId,
};
use crate::money_id::{MoneyUse, Registration};
use crate::policy::Policy;
use crate::quote::Quote;
use crate::submission::Submission;
use crate::underwriting::authority::{
    AuthorityAssignment, AuthorityProfile, Referral, ReferralActivity, ReferralRule, ReferralStatus,
};
use crate::underwriting::da::{CapacityClaim, DaAgreement, DaUsage, UsageChange};
use crate::underwriting::decision::{BindContext, UnderwritingContext};
use chrono::{DateTime, Utc};

/// The largest page a list call returns.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// A window of a list: `limit` records after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// At most this many (capped at [`MAX_PAGE_LIMIT`]).
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

impl Page {
    /// A page, with `limit` capped at [`MAX_PAGE_LIMIT`].
    pub fn new(limit: u32, offset: u32) -> Self {
        Page { limit: limit.min(MAX_PAGE_LIMIT), offset }
    }

    /// The first page of the largest size.
    pub fn first() -> Self {
        Page::new(MAX_PAGE_LIMIT, 0)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(50, 0)
    }
}

/// Submissions, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait SubmissionStore: crate::ports::MaybeSendSync {
    /// Stores a new submission. [`Error::Conflict`](crate::Error::Conflict) if the id exists.
    async fn insert_submission(&self, org: OrgId, submission: &Submission) -> Result<()>;

    /// The submission, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_submission(&self, org: OrgId, id: SubmissionId) -> Result<Submission>;

    /// Replaces a submission read at `submission.revision`; returns it at its new revision.
    async fn update_submission(&self, org: OrgId, submission: &Submission) -> Result<Submission>;

    /// The org's submissions, oldest first (by id, which is time-ordered).
    async fn list_submissions(&self, org: OrgId, page: Page) -> Result<Vec<Submission>>;
}

/// Quotes, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait QuoteStore: crate::ports::MaybeSendSync {
    /// Stores a new quote. [`Error::Conflict`](crate::Error::Conflict) if the id exists.
    async fn insert_quote(&self, org: OrgId, quote: &Quote) -> Result<()>;

    /// The quote, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_quote(&self, org: OrgId, id: QuoteId) -> Result<Quote>;

    /// The quotes of one submission, oldest first.
    async fn list_quotes(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Quote>>;

    /// Stores a quote with what it decided, all or nothing: the quote, the referral it raised (with
    /// its activity and event), and the submission moved to `quoted` (at the revision it was
    /// read; [`Error::Conflict`](crate::Error::Conflict) and nothing written if it changed since).
    async fn commit_quote(&self, org: OrgId, commit: &QuoteCommit) -> Result<()>;
}

/// What one quote writes, all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteCommit {
    /// The new quote, with its flags.
    pub quote: Quote,
    /// The referral the checks raised, if any.
    pub referral: Option<crate::underwriting::decision::RaisedReferral>,
    /// The submission with its new status, at the revision it was read, when its status changes.
    pub submission: Option<Submission>,
}

/// Delegated-authority agreements and their usage, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait DaStore: crate::ports::MaybeSendSync {
    /// Stores a new agreement. [`Error::Conflict`](crate::Error::Conflict) if the id exists.
    async fn insert_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<()>;

    /// The agreement, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_agreement(&self, org: OrgId, id: DaAgreementId) -> Result<DaAgreement>;

    /// Replaces an agreement read at `agreement.revision`; returns it at its new revision.
    async fn update_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<DaAgreement>;

    /// The org's agreements, by id.
    async fn list_agreements(&self, org: OrgId, page: Page) -> Result<Vec<DaAgreement>>;

    /// What the agreement has used in an agreement year (zero when nothing was bound yet).
    async fn usage(&self, org: OrgId, id: DaAgreementId, agreement_year: u32) -> Result<DaUsage>;
}

/// The authority matrix: profiles, assignments and referral rules, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait AuthorityStore: crate::ports::MaybeSendSync {
    /// Stores a new profile.
    async fn insert_profile(&self, org: OrgId, profile: &AuthorityProfile) -> Result<()>;

    /// The org's profiles, by level then id.
    async fn list_profiles(&self, org: OrgId) -> Result<Vec<AuthorityProfile>>;

    /// Assigns a profile of the org to a user (idempotent). [`Error::NotFound`](crate::Error::NotFound)
    /// when the profile is not the org's.
    async fn assign(&self, org: OrgId, assignment: &AuthorityAssignment) -> Result<()>;

    /// Removes an assignment (no error when absent).
    async fn unassign(&self, org: OrgId, user: UserId, profile: AuthorityProfileId) -> Result<()>;

    /// The org's assignments.
    async fn list_assignments(&self, org: OrgId) -> Result<Vec<AuthorityAssignment>>;

    /// The profiles assigned to a user in the org.
    async fn profiles_of(&self, org: OrgId, user: UserId) -> Result<Vec<AuthorityProfile>>;

    /// Stores a new referral rule.
    async fn insert_rule(&self, org: OrgId, rule: &ReferralRule) -> Result<()>;

    /// The org's referral rules.
    async fn list_rules(&self, org: OrgId) -> Result<Vec<ReferralRule>>;
}

/// The referral queue, with its append-only activity trail, by org.
///
/// Each write stores the referral, appends the activity and appends the events to the outbox in
/// one atomic step: all of it or none of it.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait ReferralStore: crate::ports::MaybeSendSync {
    /// Stores a new referral with its `created` activity and events.
    async fn insert_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<()>;

    /// The referral, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_referral(&self, org: OrgId, id: ReferralId) -> Result<Referral>;

    /// Replaces a referral read at `referral.revision`, appending the activity and events.
    async fn update_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<Referral>;

    /// The org's referrals, optionally of one status, oldest first.
    async fn list_referrals(&self, org: OrgId, status: Option<ReferralStatus>, page: Page) -> Result<Vec<Referral>>;

    /// The referrals of one submission, oldest first.
    async fn referrals_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Referral>>;

    /// A referral's activity trail, in the order it was appended.
    async fn activities(&self, org: OrgId, referral: ReferralId) -> Result<Vec<ReferralActivity>>;
}

/// What one bind writes, all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindCommit {
    /// The new policy (status bound, number assigned).
    pub policy: Policy,
    /// The quote bound, with status [`QuoteStatus::Bound`](crate::quote::QuoteStatus::Bound).
    pub quote: Quote,
    /// The submission, with status `bound`, at the revision it was read.
    pub submission: Submission,
    /// The DA capacity it uses, if bound under an agreement.
    pub capacity: Option<CapacityClaim>,
    /// The events to append to the outbox (`policy.bound`).
    pub events: Vec<EventEnvelope>,
}

/// What [`BindStore::bind`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindOutcome {
    /// The policy was bound now.
    Bound(Policy),
    /// The quote had already been bound: the existing policy, nothing written.
    AlreadyBound(Policy),
}

/// Binding: the one write that must be atomic across records.
///
/// Contract for adapters, tested by `testkit::bind_store`:
/// 1. If a policy already exists for `commit.quote.id` in the org, return
///    [`BindOutcome::AlreadyBound`] with it and write nothing.
/// 2. Otherwise, under one lock or transaction, so that racing binds serialize on the agreement:
///    re-read the agreement's usage for the claim's year; if [`CapacityClaim::take`] refuses, fail
///    with its [`CapacityExceeded`](crate::underwriting::da::CapacityExceeded) (converted: [`Error::Rule`](crate::Error::Rule)
///    code `da_capacity_exceeded`) and write nothing;
///    if the submission's stored revision differs from `commit.submission.revision`, fail with
///    [`Error::Conflict`](crate::Error::Conflict) and write nothing; if the policy number is taken in
///    the org, fail with `Conflict`.
/// 3. Then write, all or nothing: the policy, the quote, the submission at `revision + 1`, the
///    usage with the claim applied, and the events in the outbox.
///
/// Records whose `org_id` is not `org` are refused with [`Error::Forbidden`](crate::Error::Forbidden).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait BindStore: crate::ports::MaybeSendSync {
    /// Binds atomically; see the trait's contract.
    async fn bind(&self, org: OrgId, commit: &BindCommit) -> Result<BindOutcome>;

    /// The next number of a per-org sequence (`GL-2027` → 1, 2, ...). Numbers are never reused;
    /// a failed bind may leave a gap.
    async fn next_sequence(&self, org: OrgId, key: &str) -> Result<u64>;

    /// Everything a quote decides on, in one read (one transaction or one lock, so the parts are
    /// consistent): the submission, the DA agreements of its program (every one) with every year
    /// of their usage (each with the policy count of the submission's insured only, see
    /// [`DaUsage::for_insured`](crate::underwriting::da::DaUsage::for_insured)), the authority profiles assigned to `user`, all of the org's profiles, its
    /// referral rules, and the submission's referrals. [`Error::NotFound`](crate::Error::NotFound)
    /// when the submission is not the org's.
    async fn underwriting_context(
        &self,
        org: OrgId,
        submission: SubmissionId,
        user: UserId,
    ) -> Result<UnderwritingContext>;

    /// [`BindStore::underwriting_context`], and the submission's quotes and the policies bound
    /// from them, in the same read.
    async fn bind_context(&self, org: OrgId, submission: SubmissionId, user: UserId) -> Result<BindContext>;
}

/// Policies, by org. Every write appends its events to the outbox in the same atomic step.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait PolicyStore: crate::ports::MaybeSendSync {
    /// The policy, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_policy(&self, org: OrgId, id: PolicyId) -> Result<Policy>;

    /// The policy bound from a quote, if any.
    async fn policy_for_quote(&self, org: OrgId, quote: QuoteId) -> Result<Option<Policy>>;

    /// The org's policies, oldest first.
    async fn list_policies(&self, org: OrgId, page: Page) -> Result<Vec<Policy>>;

    /// Every org that holds a policy. For the platform's scheduled work only (the clock's
    /// transitions run for every org); like the outbox, it spans orgs by design.
    async fn orgs_with_policies(&self) -> Result<Vec<OrgId>>;

    /// Stores a new policy (a renewal term), takes its claim on its DA agreement's capacity
    /// ([`CapacityClaim::take`], refused as at bind: `da_capacity_exceeded`) and appends its
    /// events, all or nothing. `Conflict` on a taken id or number, or when another policy already
    /// renews the same `renewal_of`.
    async fn insert_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        capacity: Option<&CapacityClaim>,
        events: &[EventEnvelope],
    ) -> Result<()>;

    /// Replaces a policy read at `policy.revision`, applies `usage` to its DA agreement's usage
    /// ([`UsageChange::apply`]: a change that does not fit is the
    /// [`CapacityExceeded`](crate::underwriting::da::CapacityExceeded) error, `da_capacity_exceeded`)
    /// and appends its events, all or nothing; returns the policy at its new revision.
    async fn update_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        usage: Option<&UsageChange>,
        events: &[EventEnvelope],
    ) -> Result<Policy>;
}

/// The transactional outbox of domain events.
///
/// Events are appended by the other stores' writes. Reading and acknowledging pending events is
/// the dispatcher's, which runs for the platform, not for a caller: it is the one port that spans
/// orgs, and each envelope carries its org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Outbox: crate::ports::MaybeSendSync {
    /// Undelivered events due for an attempt at `now` (neither dead nor waiting out a backoff),
    /// oldest first, at most `limit`, each with its [`Delivery`](crate::events::Delivery).
    async fn pending_events(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<EventEnvelope>>;

    /// Leases up to `limit` of the events [`Outbox::pending_events`] would list at `now`, oldest
    /// first, skipping those another lease holds, to `lease` until `until`. A lease ends at
    /// `until`, or when the event is marked delivered or a failure is recorded. Several
    /// dispatchers on one store (several processes on one database) each take their own events,
    /// so none is delivered twice while the leases hold; an event whose holder died is leased
    /// again once its lease has run out. `lease` is a new id per call.
    async fn lease_events(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<EventEnvelope>>;

    /// Marks events delivered (unknown ids are ignored).
    async fn mark_delivered(&self, ids: &[EventId]) -> Result<()>;

    /// Records a failed attempt at the org's event `id`: one more attempt, the reason, and either
    /// the time of the next attempt or (with no `retry_at`) the dead-letter list. Unknown or
    /// delivered events are ignored.
    async fn record_failure(&self, org: OrgId, id: EventId, failure: &DeliveryFailure) -> Result<()>;

    /// The org's dead letters, oldest first.
    async fn dead_letters(&self, org: OrgId, page: Page) -> Result<Vec<DeadLetter>>;

    /// Puts a dead event of the org back to be delivered as a new attempt: its generation one
    /// more, its attempts zero, due now. [`Error::NotFound`](crate::Error::NotFound) when the org
    /// has no such event, [`Error::Rule`](crate::Error::Rule) `event_not_dead` when it is not
    /// dead; either way nothing changes.
    async fn replay(&self, org: OrgId, id: EventId) -> Result<DeadLetter>;

    /// The org's events, delivered or not, oldest first.
    async fn org_events(&self, org: OrgId, page: Page) -> Result<Vec<EventEnvelope>>;
}

/// Claims, by org. Every write appends its events to the outbox in the same atomic step. Claims
/// carry PHI: adapters keep them in the system of record only, never in an edge store.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait ClaimStore: crate::ports::MaybeSendSync {
    /// Stores a new claim and its events. `Conflict` on a taken id.
    async fn insert_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<()>;

    /// The claim, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_claim(&self, org: OrgId, id: ClaimId) -> Result<Claim>;

    /// Replaces a claim read at `claim.revision` and appends its events; returns it at its new
    /// revision.
    async fn update_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<Claim>;

    /// The org's claims, oldest first.
    async fn list_claims(&self, org: OrgId, page: Page) -> Result<Vec<Claim>>;
}

/// Money ids, by org: every id that moves money stands for one movement only (see
/// [`crate::money_id`]).
///
/// Contract for adapters, tested by `testkit::money_id_store`: registration is atomic per
/// `(org, id)`. An unused id is stored with its use ([`Registration::New`]); an id stored with an
/// equal use answers [`Registration::Replay`]; an id stored with another use fails with
/// [`Error::MoneyIdReused`](crate::Error::MoneyIdReused) carrying the stored use, and nothing is
/// written. Of two racing registrations of one id, exactly one is `New`. Registrations are never
/// removed. Another org's ids are invisible: the same id in two orgs is two ids.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait MoneyIdStore: crate::ports::MaybeSendSync {
    /// Registers `id` as standing for `money` in the org; see the trait's contract.
    async fn register_money_id(&self, org: OrgId, id: uuid::Uuid, money: &MoneyUse) -> Result<Registration>;
}
