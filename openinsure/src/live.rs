//! Live updates of one policy or one claim: which events concern a record ([`subject_of`]), and
//! what a subscriber is sent ([`App::live_view`]): the event with the record as the subscriber
//! may read it now, through the same use case as its REST read (a claim redacted for the
//! subscriber's role, the disclosure written to the PHI audit log).
//!
//! The API answers `GET /v1/policies/:id/live` and `GET /v1/claims/:id/live` with the first view
//! (a `snapshot`) and, for hosts that stream, a [`LiveTicket`] in the response's extensions: the
//! host keeps the connection open as Server-Sent Events and, for every committed event whose
//! [`subject_of`] is the ticket's, sends [`App::live_view`] for the ticket's caller.

use openinsure_core::claims::Claim;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{ClaimId, PolicyId};
use openinsure_core::policy::Policy;
use openinsure_core::tenancy::Caller;
use serde::Serialize;

use crate::claims::RequestMeta;
use crate::error::Result;

/// A record one can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiveSubject {
    /// A policy: its status changes, endorsements, payments and refunds.
    Policy(PolicyId),
    /// A claim: its status changes, reserves, payments and recoveries.
    Claim(ClaimId),
}

/// The record an event changes, if it is one that can be followed.
pub fn subject_of(event: &DomainEvent) -> Option<LiveSubject> {
    use DomainEvent as E;
    match event {
        E::PolicyBound { policy_id, .. }
        | E::PolicyIssued { policy_id }
        | E::PolicyActivated { policy_id }
        | E::PolicyEndorsed { policy_id, .. }
        | E::PolicyCancelled { policy_id, .. }
        | E::PolicyReinstated { policy_id, .. }
        | E::PolicyCancellationNoticed { policy_id, .. }
        | E::PolicyCancellationNoticeWithdrawn { policy_id, .. }
        | E::PolicyRenewalOffered { policy_id, .. }
        | E::PolicyExpired { policy_id }
        | E::PolicyNonRenewed { policy_id, .. }
        | E::PolicyRenewed { policy_id, .. }
        | E::PaymentReceived { policy_id, .. }
        | E::PremiumRefunded { policy_id, .. } => Some(LiveSubject::Policy(*policy_id)),
        E::ClaimFiled { claim_id, .. }
        | E::ClaimStatusChanged { claim_id, .. }
        | E::ClaimTransaction { claim_id, .. } => Some(LiveSubject::Claim(*claim_id)),
        _ => None,
    }
}

/// One message of a live subscription.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveView {
    /// `snapshot` for the first (and after a gap), else the event's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event (none in a snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventEnvelope>,
    /// The policy now (a policy subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// The claim now, as the subscriber may see it (a claim subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// A subscriber admitted by the API, for the host to keep serving.
#[derive(Clone, Debug)]
pub struct LiveTicket {
    /// Who.
    pub caller: Caller,
    /// What.
    pub subject: LiveSubject,
    /// Where from (for the PHI audit log of every claim sent).
    pub meta: RequestMeta,
}

impl LiveTicket {
    /// Whether `event` concerns this subscription (its org and its record).
    pub fn wants(&self, event: &EventEnvelope) -> bool {
        event.org_id == self.caller.org_id && subject_of(&event.event) == Some(self.subject)
    }
}

impl crate::App {
    /// What `caller` is sent about `subject`: the record now, read as its REST read reads it
    /// (404 for another org's, 403 for a role that may not read it), with `event` when it is
    /// the cause.
    pub async fn live_view(
        &self,
        caller: &Caller,
        subject: LiveSubject,
        event: Option<&EventEnvelope>,
        meta: &RequestMeta,
    ) -> Result<LiveView> {
        let kind = event.map_or("snapshot", |e| e.event.name()).to_owned();
        let (policy, claim) = match subject {
            LiveSubject::Policy(id) => (Some(self.policy(caller, id).await?), None),
            LiveSubject::Claim(id) => (None, Some(self.claim(caller, id, meta).await?)),
        };
        Ok(LiveView { kind, event: event.cloned(), policy, claim })
    }
}
