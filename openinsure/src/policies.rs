//! Policy reads and lifecycle actions. Every transition stores the policy and its event in one
//! atomic step; an invalid transition is [`Error::Rule`] with code `invalid_transition` and
//! changes nothing.

use chrono::{Datelike, NaiveDate};
use openinsure_core::billing::{BillingPlan, InstallmentFees};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::PolicyId;
use openinsure_core::permission::Action;
use openinsure_core::policy::endorsement::{RiskChange, endorsement_context};
use openinsure_core::policy::lifecycle::{LifecycleError, RenewalBilling, RenewalTerms};
use openinsure_core::policy::renewal::RenewalOffer;
use openinsure_core::policy::tick::TickRules;
use openinsure_core::policy::{CancellationMethod, Policy};
use openinsure_core::quote::Schedule;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_core::tenancy::Role;
use openinsure_core::underwriting::decision;

use crate::app::{App, require};
use crate::error::{Error, Result};

/// A rated endorsement: what changes in the risk, from when, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endorsement {
    /// From when it applies (within the term, not before the last endorsement).
    #[serde(deserialize_with = "openinsure_core::text::strict_date")]
    pub effective_date: NaiveDate,
    /// What changed, in words.
    pub description: openinsure_core::text::Text<2000>,
    /// The changes to the risk.
    pub changes: RiskChange,
}

impl App {
    /// A policy of the caller's org.
    pub async fn policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        require(caller, Action::ReadBusiness)?;
        Ok(self.store.get_policy(caller.org_id, id).await?)
    }

    /// The org's policies.
    pub async fn policies(&self, caller: &Caller, page: Page) -> Result<Vec<Policy>> {
        require(caller, Action::ReadBusiness)?;
        Ok(self.store.list_policies(caller.org_id, page).await?)
    }

    /// Today's date by the application clock (UTC).
    fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// Runs one lifecycle transition and stores its consequences in one atomic step: the policy
    /// (with its billing), the DA usage moved by the change of net written premium, the event,
    /// and a `premium.refunded` event per refund it made. A refund is checked against the ledger
    /// first (the payables it reverses must still hold their parts, or nothing is changed), then
    /// booked right after the write; the outbox books it again if that fails (the transfer ids
    /// derive from the refund id, so it is booked once).
    async fn transition(
        &self,
        caller: &Caller,
        id: PolicyId,
        action: &str,
        apply: impl FnOnce(&mut Policy) -> Result<DomainEvent, LifecycleError>,
    ) -> Result<Policy> {
        require(caller, Action::ChangePolicies)?;
        let policy = self.store.get_policy(caller.org_id, id).await?;
        self.commit_transition(caller, policy, action, apply).await
    }

    /// [`App::transition`] of a policy already read.
    async fn commit_transition(
        &self,
        caller: &Caller,
        policy: Policy,
        action: &str,
        apply: impl FnOnce(&mut Policy) -> Result<DomainEvent, LifecycleError>,
    ) -> Result<Policy> {
        self.commit_changes(caller, policy, action, |p| apply(p).map(|e| vec![e])).await
    }

    /// [`App::commit_transition`] of a change that makes any number of events.
    async fn commit_changes(
        &self,
        caller: &Caller,
        mut policy: Policy,
        action: &str,
        apply: impl FnOnce(&mut Policy) -> Result<Vec<DomainEvent>, LifecycleError>,
    ) -> Result<Policy> {
        let org = caller.org_id;
        let id = policy.id;
        let net_before = policy.net_written_premium().map_err(openinsure_core::Error::from)?;
        let refunds_before = policy.billing.refunds.len();
        let events = apply(&mut policy).map_err(openinsure_core::Error::from)?;
        let delta = policy
            .net_written_premium()
            .and_then(|after| after.checked_sub(net_before))
            .map_err(openinsure_core::Error::from)?;
        let usage = match policy.da_agreement_id {
            Some(agreement) if !delta.is_zero() => {
                self.store.get_agreement(org, agreement).await?.usage_change(policy.effective_date, delta)
            }
            _ => None,
        };
        let now = self.clock.now();
        let mut envelopes: Vec<EventEnvelope> =
            events.into_iter().map(|e| EventEnvelope::new(self.ids.next_uuid(), org, now, e)).collect();
        let mut refunds = Vec::new();
        for refund in &policy.billing.refunds[refunds_before..] {
            let event = crate::ledger::premium_refunded(&policy, refund);
            crate::ledger::check_refund_covered(self.ledger.as_ref(), org, &policy, refund).await?;
            refunds.push(EventEnvelope::new(self.ids.next_uuid(), org, now, event));
        }
        envelopes.extend(refunds.iter().cloned());
        let stored = self.store.update_policy(org, &policy, usage.as_ref(), &envelopes).await?;
        for e in &refunds {
            self.book_now(e).await;
        }
        tracing::info!(policy_id = %id, status = stored.status.as_str(), action, "policy transition");
        Ok(stored)
    }

    /// Issues a bound policy's documents.
    pub async fn issue_policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        let now = self.clock.now();
        self.transition(caller, id, "issue policies", |p| p.issue(now)).await
    }

    /// Starts an issued policy's period (on or after its effective date).
    pub async fn activate_policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        let (today, now) = (self.today(), self.clock.now());
        self.transition(caller, id, "activate policies", |p| p.activate(today, now)).await
    }

    /// A rated endorsement: the risk changes from `endorsement.effective_date`, the changed risk is
    /// rated on the table the policy was written on, passes the same DA and authority checks as new
    /// business, and the premium change is pro-rated by days remaining and billed (see
    /// [`openinsure_core::policy::endorsement`]). A failing check refuses with every failed check
    /// (raising the referral it calls for, as a bind does) and changes nothing.
    pub async fn endorse_policy(&self, caller: &Caller, id: PolicyId, endorsement: &Endorsement) -> Result<Policy> {
        require(caller, Action::ChangePolicies)?;
        let org = caller.org_id;
        if endorsement.changes.is_empty() {
            let mut f = openinsure_core::FieldErrors::default();
            f.push("changes", "names no change to the risk");
            return Err(Error::Invalid(f));
        }
        let policy = self.store.get_policy(org, id).await?;
        let quote = self.store.get_quote(org, policy.quote_id).await?;
        let ctx = self.store.underwriting_context(org, policy.submission_id, caller.user_id).await?;
        let changes = policy.risk_changes.then(&endorsement.changes);
        let changed = changes.apply(&ctx.submission, "changes")?;
        let basis = &quote.rating.rate_table;
        let table = self
            .table_version(org, quote.line_of_business, quote.program_id, &basis.id, basis.version)
            .await
            .ok_or_else(|| Error::Rule {
            code: "rate_table_unavailable",
            message: format!(
                "the policy was written on rate table `{}` version {}, which this service does not hold",
                basis.id, basis.version
            ),
        })?;
        let schedule = Schedule { adjustments: quote.rating.schedule.clone() };
        let rating = openinsure_rating::rate(&changed, &table, &schedule)?;
        let now = self.clock.now();
        let change = policy
            .price_endorsement(
                endorsement.effective_date,
                &endorsement.changes,
                &rating,
                endorsement.description.as_str(),
            )
            .map_err(openinsure_core::Error::from)?;
        // the changed risk, checked as new business would be
        let ctx = endorsement_context(ctx, &policy, changed).map_err(openinsure_core::Error::from)?;
        let mut rated = quote.clone();
        rated.rating = rating;
        let checks = decision::prebind(&ctx, caller, &rated, self.ids.as_ref(), now);
        if !checks.flags.is_empty() {
            if let Some(r) = checks.raised_referral {
                self.store.insert_referral(org, &r.referral, &r.activity, &[r.event]).await?;
                tracing::info!(referral_id = %r.referral.id, level = r.referral.routed_to_level, "referral raised");
            }
            return Err(Error::Checks { flags: checks.flags });
        }
        self.commit_transition(caller, policy, "endorse policies", |p| p.endorse_with(&change, now)).await
    }

    /// Cancels from a date; the return premium follows the method (flat at inception).
    pub async fn cancel_policy(
        &self,
        caller: &Caller,
        id: PolicyId,
        effective_date: NaiveDate,
        method: CancellationMethod,
        reason: &str,
    ) -> Result<Policy> {
        let now = self.clock.now();
        self.transition(caller, id, "cancel policies", |p| p.cancel(effective_date, method, reason, now)).await
    }

    /// Reinstates a cancelled policy.
    pub async fn reinstate_policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        let (today, now) = (self.today(), self.clock.now());
        self.transition(caller, id, "reinstate policies", |p| p.reinstate(today, now)).await
    }

    /// Expires a policy on or after its expiration date.
    pub async fn expire_policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        let (today, now) = (self.today(), self.clock.now());
        self.transition(caller, id, "expire policies", |p| p.expire(today, now)).await
    }

    /// Records a non-renewal notice.
    pub async fn non_renew_policy(&self, caller: &Caller, id: PolicyId, reason: &str) -> Result<Policy> {
        let now = self.clock.now();
        self.transition(caller, id, "non-renew policies", |p| p.non_renew(reason, now)).await
    }

    /// The renewal offer of a policy: the next term re-rated on the table in force on its
    /// effective date, with the risk as endorsed, both premiums and the change, and the checks a
    /// renewal bind would fail now (see [`openinsure_core::policy::renewal`]). Changes nothing.
    pub async fn renewal_offer(&self, caller: &Caller, id: PolicyId) -> Result<RenewalOffer> {
        require(caller, Action::ReadBusiness)?;
        let expiring = self.store.get_policy(caller.org_id, id).await?;
        Ok(self.plan_renewal(caller, &expiring).await?.offer)
    }

    async fn plan_renewal(&self, caller: &Caller, expiring: &Policy) -> Result<RenewalPlan> {
        let org = caller.org_id;
        let term = expiring.next_term().map_err(openinsure_core::Error::from)?;
        let quote = self.store.get_quote(org, expiring.quote_id).await?;
        let mut ctx = self.store.underwriting_context(org, expiring.submission_id, caller.user_id).await?;
        let risk = expiring.renewal_risk(&ctx.submission)?;
        let table = self.table_in_force(org, risk.line_of_business, risk.program_id, risk.effective_date).await?;
        let rating = openinsure_rating::rate(&risk, &table, &Schedule { adjustments: quote.rating.schedule.clone() })?;
        ctx.submission = risk;
        let mut rated = quote;
        rated.rating = rating.clone();
        let checks = decision::prebind(&ctx, caller, &rated, self.ids.as_ref(), self.clock.now());
        let offer =
            RenewalOffer::new(expiring, term, rating, checks.agreement.as_ref().map(|a| a.id), checks.flags.clone())
                .map_err(openinsure_core::Error::from)?;
        Ok(RenewalPlan { offer, checks })
    }

    /// Renews a policy into a new policy for the next term, on the offer of
    /// [`App::renewal_offer`]: every pre-bind check must pass on the renewal's own dates (a
    /// failing one refuses with every failed check and raises the referral it calls for, as a
    /// bind does); the renewal is numbered from the org's sequence for its year and stored with
    /// its claim on the DA agreement's capacity and the `policy.renewed` event atomically.
    pub async fn renew_policy(&self, caller: &Caller, id: PolicyId, plan: BillingPlan) -> Result<Policy> {
        require(caller, Action::ChangePolicies)?;
        let org = caller.org_id;
        let expiring = self.store.get_policy(org, id).await?;
        // the state machine first: a policy that may not renew is refused before it is rated
        expiring.require_renewable().map_err(openinsure_core::Error::from)?;
        let RenewalPlan { offer, checks } = self.plan_renewal(caller, &expiring).await?;
        if !checks.flags.is_empty() {
            if let Some(r) = checks.raised_referral {
                self.store.insert_referral(org, &r.referral, &r.activity, &[r.event]).await?;
                tracing::info!(referral_id = %r.referral.id, level = r.referral.routed_to_level, "referral raised");
            }
            return Err(Error::Checks { flags: checks.flags });
        }
        let key = format!("{}-{}", expiring.line_of_business.code(), offer.effective_date.year());
        let seq = self.store.next_sequence(org, &key).await?;
        let totals = &offer.rating.totals;
        let terms = RenewalTerms {
            policy_id: self.ids.next_id(),
            number: openinsure_core::policy::policy_number(&key, seq),
            quote_id: None,
            submission_id: None,
            annual_premium: totals.gross_premium,
            fees: totals.fees,
            taxes: totals.taxes,
            billing: RenewalBilling::Plan { plan, installment_fees: InstallmentFees::default() },
            da_agreement_id: checks.agreement.as_ref().map(|a| a.id),
            commission_rate: offer.rating.commission_rate,
            mga_commission_rate: checks.agreement.as_ref().map(|a| a.mga_commission_rate).unwrap_or_default(),
            bound_by: caller.user_id,
        };
        let now = self.clock.now();
        let (renewal, event) = expiring.renew(terms, now).map_err(openinsure_core::Error::from)?;
        let envelope = EventEnvelope::new(self.ids.next_uuid(), org, now, event);
        self.store.insert_policy(org, &renewal, checks.claim.as_ref(), &[envelope]).await?;
        tracing::info!(policy_id = %renewal.id, renewal_of = %id, premium_cents = renewal.annual_premium.cents(), "renewed");
        Ok(renewal)
    }
}

struct RenewalPlan {
    offer: RenewalOffer,
    checks: decision::Prebind,
}

/// What one [`App::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    /// Policies looked at.
    pub policies: usize,
    /// Policies changed.
    pub changed: usize,
    /// Events raised.
    pub events: usize,
    /// Renewal offers made.
    pub renewal_offers: usize,
    /// Policies that could not be changed this time (a concurrent change, a refusal); the next
    /// tick tries again.
    pub failed: usize,
}

impl App {
    /// The clock's transitions for every policy of every org at `now` (see
    /// [`openinsure_core::policy::tick`]): activation, non-payment notices and cancellations,
    /// expiration, renewal offers. Each policy changes in its own atomic step, with the same
    /// billing, ledger and DA usage consequences as the use case it stands for. Idempotent: a
    /// second tick at the same instant changes nothing.
    pub async fn tick(&self, now: chrono::DateTime<chrono::Utc>, rules: &TickRules) -> Result<TickReport> {
        let today = now.date_naive();
        let mut report = TickReport::default();
        for org in self.store.orgs_with_policies().await? {
            let system = Caller::new(openinsure_core::ids::UserId::from_uuid(uuid::Uuid::nil()), org, Role::System);
            let mut page = Page::first();
            loop {
                let policies = self.store.list_policies(org, page).await?;
                let done = policies.len() < page.limit as usize;
                for policy in policies {
                    report.policies += 1;
                    match self.tick_policy(&system, policy, today, now, rules).await {
                        Ok((0, false)) => {}
                        Ok((events, offered)) => {
                            report.changed += 1;
                            report.events += events;
                            report.renewal_offers += usize::from(offered);
                        }
                        Err(error) => {
                            report.failed += 1;
                            tracing::warn!(org_id = %org, %error, "tick: a policy could not change; the next tick tries again");
                        }
                    }
                }
                if done {
                    break;
                }
                page = Page::new(page.limit, page.offset.saturating_add(page.limit));
            }
        }
        if report.changed > 0 || report.failed > 0 {
            tracing::info!(
                changed = report.changed,
                events = report.events,
                offers = report.renewal_offers,
                failed = report.failed,
                "tick"
            );
        }
        Ok(report)
    }

    /// [`App::tick`] at the application clock's now.
    pub async fn tick_now(&self, rules: &TickRules) -> Result<TickReport> {
        self.tick(self.clock.now(), rules).await
    }

    async fn tick_policy(
        &self,
        system: &Caller,
        policy: Policy,
        today: NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
        rules: &TickRules,
    ) -> Result<(usize, bool)> {
        let mut probe = policy.clone();
        let outcome = probe.tick(today, now, rules).map_err(openinsure_core::Error::from)?;
        if outcome.events.is_empty() && !outcome.renewal_offer_due {
            return Ok((0, false));
        }
        let offer =
            if outcome.renewal_offer_due { Some(self.plan_renewal(system, &policy).await?.offer) } else { None };
        let count = outcome.events.len() + usize::from(offer.is_some());
        let rules = *rules;
        self.commit_changes(system, policy, "tick", move |p| {
            let mut events = p.tick(today, now, &rules)?.events;
            if let Some(o) = offer {
                p.record_renewal_offer(today, now);
                events.push(DomainEvent::PolicyRenewalOffered {
                    policy_id: p.id,
                    effective_date: o.effective_date,
                    expiring_premium: o.expiring_premium,
                    renewal_premium: o.renewal_premium,
                    blocking_checks: o.flags.iter().map(|f| f.code.clone()).collect(),
                });
            }
            Ok(events)
        })
        .await?;
        Ok((count, outcome.renewal_offer_due))
    }
}
