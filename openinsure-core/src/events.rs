//! Domain events: what happened, as typed values with an envelope.
//!
//! Every state change that others may care about produces an [`EventEnvelope`]: an id, the org,
//! the time, a schema version and a typed [`DomainEvent`] whose wire name (`policy.bound`,
//! `referral.created`, ...) is [`DomainEvent::name`]. Envelopes are written to an outbox in the same
//! atomic step as the change they describe (see the store ports) and a dispatcher delivers each at
//! least once to subscribers, so subscribers must be idempotent on the envelope id.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{OrgId, PolicyId, QuoteId, SubmissionId, UserId};
use crate::money::Money;

/// The schema version of [`DomainEvent`] payloads written by this crate.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// An event's id: unique, also the idempotency key for subscribers.
pub type EventId = Uuid;

/// A domain event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum DomainEvent {
    /// A policy was bound from a quote.
    #[serde(rename = "policy.bound", rename_all = "camelCase")]
    PolicyBound {
        /// The policy.
        policy_id: PolicyId,
        /// Its number.
        policy_number: String,
        /// The quote bound.
        quote_id: QuoteId,
        /// The submission.
        submission_id: SubmissionId,
        /// Written premium.
        #[serde(rename = "premiumCents")]
        premium: Money,
        /// Who bound it.
        bound_by: UserId,
    },
    /// The policy documents were issued.
    #[serde(rename = "policy.issued", rename_all = "camelCase")]
    PolicyIssued {
        /// The policy.
        policy_id: PolicyId,
    },
    /// The policy period began.
    #[serde(rename = "policy.activated", rename_all = "camelCase")]
    PolicyActivated {
        /// The policy.
        policy_id: PolicyId,
    },
    /// An endorsement changed the premium from a date.
    #[serde(rename = "policy.endorsed", rename_all = "camelCase")]
    PolicyEndorsed {
        /// The policy.
        policy_id: PolicyId,
        /// From when the change applies.
        effective_date: NaiveDate,
        /// The pro-rated premium change (negative for a return).
        #[serde(rename = "premiumChangeCents")]
        premium_change: Money,
        /// The pro-rated taxes change (negative for a return).
        #[serde(default, rename = "taxesChangeCents")]
        taxes_change: Money,
    },
    /// The policy was cancelled.
    #[serde(rename = "policy.cancelled", rename_all = "camelCase")]
    PolicyCancelled {
        /// The policy.
        policy_id: PolicyId,
        /// From when.
        effective_date: NaiveDate,
        /// The premium returned to the insured.
        #[serde(rename = "returnPremiumCents")]
        return_premium: Money,
        /// The taxes returned with it.
        #[serde(default, rename = "returnTaxesCents")]
        return_taxes: Money,
        /// `pro_rata`, `short_rate` or `flat`.
        method: String,
    },
    /// A cancelled policy was reinstated.
    #[serde(rename = "policy.reinstated", rename_all = "camelCase")]
    PolicyReinstated {
        /// The policy.
        policy_id: PolicyId,
        /// The return premium of the cancellation undone, written again.
        #[serde(default, rename = "restoredPremiumCents")]
        restored_premium: Money,
        /// Its taxes.
        #[serde(default, rename = "restoredTaxesCents")]
        restored_taxes: Money,
    },
    /// An installment is unpaid past its grace period: the policy will be cancelled for
    /// non-payment on `cancel_on` unless it is paid.
    #[serde(rename = "policy.cancellation_noticed", rename_all = "camelCase")]
    PolicyCancellationNoticed {
        /// The policy.
        policy_id: PolicyId,
        /// The installment unpaid.
        installment_number: u32,
        /// What it bills.
        #[serde(rename = "amountDueCents")]
        amount_due: Money,
        /// The cancellation date if still unpaid.
        cancel_on: NaiveDate,
    },
    /// The installment a notice of cancellation was for was paid: the notice is withdrawn.
    #[serde(rename = "policy.cancellation_notice_withdrawn", rename_all = "camelCase")]
    PolicyCancellationNoticeWithdrawn {
        /// The policy.
        policy_id: PolicyId,
        /// The installment.
        installment_number: u32,
    },
    /// A renewal was offered.
    #[serde(rename = "policy.renewal_offered", rename_all = "camelCase")]
    PolicyRenewalOffered {
        /// The expiring policy.
        policy_id: PolicyId,
        /// The renewal's first day.
        effective_date: NaiveDate,
        /// The expiring annual premium.
        #[serde(rename = "expiringPremiumCents")]
        expiring_premium: Money,
        /// The renewal premium.
        #[serde(rename = "renewalPremiumCents")]
        renewal_premium: Money,
        /// The checks a renewal would fail now, by code (empty: it can be bound).
        blocking_checks: Vec<String>,
    },
    /// The policy reached its expiration date.
    #[serde(rename = "policy.expired", rename_all = "camelCase")]
    PolicyExpired {
        /// The policy.
        policy_id: PolicyId,
    },
    /// The policy will not be renewed.
    #[serde(rename = "policy.non_renewed", rename_all = "camelCase")]
    PolicyNonRenewed {
        /// The policy.
        policy_id: PolicyId,
        /// Why.
        reason: String,
    },
    /// A renewal term was created.
    #[serde(rename = "policy.renewed", rename_all = "camelCase")]
    PolicyRenewed {
        /// The expiring policy.
        policy_id: PolicyId,
        /// The new term's policy.
        renewal_policy_id: PolicyId,
    },
    /// A premium payment (an installment) was received; the ledger books its split.
    #[serde(rename = "payment.received", rename_all = "camelCase")]
    PaymentReceived {
        /// The payment's id: the idempotency key of its ledger transfers.
        payment_id: Uuid,
        /// The policy.
        policy_id: PolicyId,
        /// The installment paid.
        installment_number: u32,
        /// Premium paid.
        #[serde(rename = "premiumCents")]
        premium: Money,
        /// Policy fees paid.
        #[serde(rename = "policyFeesCents")]
        policy_fees: Money,
        /// Taxes paid.
        #[serde(rename = "taxesCents")]
        taxes: Money,
        /// The installment fee paid.
        #[serde(rename = "installmentFeeCents")]
        installment_fee: Money,
        /// The producer's commission rate.
        producer_commission_rate: crate::money::Factor,
        /// The MGA's commission rate.
        mga_commission_rate: crate::money::Factor,
    },
    /// Money collected beyond what is owed was refunded to the insured (a cancellation, a
    /// return-premium endorsement); the ledger books the reversal of its split.
    #[serde(rename = "premium.refunded", rename_all = "camelCase")]
    PremiumRefunded {
        /// The refund's id: the idempotency key of its ledger transfers.
        refund_id: Uuid,
        /// The policy.
        policy_id: PolicyId,
        /// Premium refunded.
        #[serde(rename = "premiumCents")]
        premium: Money,
        /// Taxes refunded.
        #[serde(rename = "taxesCents")]
        taxes: Money,
        /// The producer's commission rate (its commission is clawed back at it).
        producer_commission_rate: crate::money::Factor,
        /// The MGA's commission rate.
        mga_commission_rate: crate::money::Factor,
    },
    /// A claim was filed (first notice of loss).
    #[serde(rename = "claim.filed", rename_all = "camelCase")]
    ClaimFiled {
        /// The claim.
        claim_id: crate::ids::ClaimId,
        /// The policy.
        policy_id: PolicyId,
    },
    /// A claim's status changed.
    #[serde(rename = "claim.status_changed", rename_all = "camelCase")]
    ClaimStatusChanged {
        /// The claim.
        claim_id: crate::ids::ClaimId,
        /// From.
        from: crate::claims::ClaimStatus,
        /// To.
        to: crate::claims::ClaimStatus,
    },
    /// Claim money moved (payment, recovery, reserve change); the ledger books it.
    #[serde(rename = "claim.transaction", rename_all = "camelCase")]
    ClaimTransaction {
        /// The claim.
        claim_id: crate::ids::ClaimId,
        /// The movement.
        money: crate::claims::ClaimMoney,
    },
    /// A referral was raised to a higher authority.
    #[serde(rename = "referral.created", rename_all = "camelCase")]
    ReferralCreated {
        /// The referral.
        referral_id: Uuid,
        /// The submission.
        submission_id: SubmissionId,
        /// The authority level it is routed to.
        routed_to_level: u8,
    },
    /// A referral was approved.
    #[serde(rename = "referral.approved", rename_all = "camelCase")]
    ReferralApproved {
        /// The referral.
        referral_id: Uuid,
        /// Who approved it.
        decided_by: UserId,
    },
    /// A referral was declined.
    #[serde(rename = "referral.declined", rename_all = "camelCase")]
    ReferralDeclined {
        /// The referral.
        referral_id: Uuid,
        /// Who declined it.
        decided_by: UserId,
    },
    /// A referral was withdrawn by its requester.
    #[serde(rename = "referral.withdrawn", rename_all = "camelCase")]
    ReferralWithdrawn {
        /// The referral.
        referral_id: Uuid,
    },
    /// A webhook endpoint was disabled: it answered `410 Gone`, or every delivery to it failed
    /// for the whole retry schedule. Nothing more is sent to it until it is enabled again.
    #[serde(rename = "webhook.endpoint_disabled", rename_all = "camelCase")]
    WebhookEndpointDisabled {
        /// The endpoint.
        endpoint_id: crate::ids::WebhookEndpointId,
        /// Why, for people.
        reason: String,
    },
    /// A test message an org asked to send to one of its webhook endpoints (never appended to
    /// the outbox, never sent to another endpoint).
    #[serde(rename = "webhook.test", rename_all = "camelCase")]
    WebhookTest {
        /// The endpoint it is sent to.
        endpoint_id: crate::ids::WebhookEndpointId,
    },
}

impl DomainEvent {
    /// The wire name (`policy.bound`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::PolicyBound { .. } => "policy.bound",
            DomainEvent::PolicyIssued { .. } => "policy.issued",
            DomainEvent::PolicyActivated { .. } => "policy.activated",
            DomainEvent::PolicyCancellationNoticed { .. } => "policy.cancellation_noticed",
            DomainEvent::PolicyCancellationNoticeWithdrawn { .. } => "policy.cancellation_notice_withdrawn",
            DomainEvent::PolicyRenewalOffered { .. } => "policy.renewal_offered",
            DomainEvent::PolicyEndorsed { .. } => "policy.endorsed",
            DomainEvent::PolicyCancelled { .. } => "policy.cancelled",
            DomainEvent::PolicyReinstated { .. } => "policy.reinstated",
            DomainEvent::PolicyExpired { .. } => "policy.expired",
            DomainEvent::PolicyNonRenewed { .. } => "policy.non_renewed",
            DomainEvent::PolicyRenewed { .. } => "policy.renewed",
            DomainEvent::PaymentReceived { .. } => "payment.received",
            DomainEvent::PremiumRefunded { .. } => "premium.refunded",
            DomainEvent::ClaimFiled { .. } => "claim.filed",
            DomainEvent::ClaimStatusChanged { .. } => "claim.status_changed",
            DomainEvent::ClaimTransaction { .. } => "claim.transaction",
            DomainEvent::ReferralCreated { .. } => "referral.created",
            DomainEvent::ReferralApproved { .. } => "referral.approved",
            DomainEvent::ReferralDeclined { .. } => "referral.declined",
            DomainEvent::ReferralWithdrawn { .. } => "referral.withdrawn",
            DomainEvent::WebhookEndpointDisabled { .. } => "webhook.endpoint_disabled",
            DomainEvent::WebhookTest { .. } => "webhook.test",
        }
    }

    /// Every event type's wire name, in declaration order (a webhook endpoint subscribes to
    /// some of them).
    pub const TYPES: [&'static str; 23] = [
        "policy.bound",
        "policy.issued",
        "policy.activated",
        "policy.endorsed",
        "policy.cancelled",
        "policy.reinstated",
        "policy.cancellation_noticed",
        "policy.cancellation_notice_withdrawn",
        "policy.renewal_offered",
        "policy.expired",
        "policy.non_renewed",
        "policy.renewed",
        "payment.received",
        "premium.refunded",
        "claim.filed",
        "claim.status_changed",
        "claim.transaction",
        "referral.created",
        "referral.approved",
        "referral.declined",
        "referral.withdrawn",
        "webhook.endpoint_disabled",
        "webhook.test",
    ];
}

/// An event with its envelope: what subscribers, the event bus and webhooks receive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// Unique id; subscribers de-duplicate on it.
    pub id: EventId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The event.
    #[serde(flatten)]
    pub event: DomainEvent,
    /// Where its delivery stands (set by the outbox when it hands the event out; not part of the
    /// payload).
    #[serde(skip)]
    pub delivery: Delivery,
}

/// An event's delivery so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Failed attempts since it was appended or last replayed.
    pub attempts: u32,
    /// 0 for the first delivery, then one more for every replay of the event from the
    /// dead-letter list. Subscribers with their own idempotency keys derive new ones per
    /// generation where their backend remembers failures (TigerBeetle remembers a failed
    /// transfer id), after checking that no earlier generation succeeded.
    pub generation: u32,
}

impl EventEnvelope {
    /// Wraps an event.
    pub fn new(id: EventId, org_id: OrgId, occurred_at: DateTime<Utc>, event: DomainEvent) -> Self {
        EventEnvelope {
            id,
            org_id,
            occurred_at,
            schema_version: EVENT_SCHEMA_VERSION,
            event,
            delivery: Delivery::default(),
        }
    }
}

/// A failed delivery attempt, as the dispatcher reports it to the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// Why, for people (the subscriber's error).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
    /// When to try again; `None` moves the event to the dead-letter list.
    pub retry_at: Option<DateTime<Utc>>,
}

/// An event the dispatcher gave up on, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The event's id.
    pub event_id: EventId,
    /// Its type (`payment.received`, ...).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Its generation (replays so far).
    pub generation: u32,
    /// The last failure's reason.
    pub reason: String,
    /// When it was given up on.
    pub failed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let e = EventEnvelope::new(
            Uuid::from_u128(1),
            OrgId::from_uuid(Uuid::from_u128(2)),
            DateTime::from_timestamp(0, 0).unwrap_or_default(),
            DomainEvent::PolicyIssued { policy_id: PolicyId::from_uuid(Uuid::from_u128(3)) },
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "policy.issued");
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["data"]["policyId"], "00000000-0000-0000-0000-000000000003");
        assert_eq!(serde_json::from_value::<EventEnvelope>(v).unwrap(), e);
        assert_eq!(e.event.name(), "policy.issued");
    }

    #[test]
    fn types_lists_every_variant_of_the_schema_once() {
        let schema = serde_json::to_value(schemars::schema_for!(DomainEvent)).unwrap();
        let declared: Vec<&str> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["properties"]["type"]["const"].as_str().unwrap())
            .collect();
        assert_eq!(declared, DomainEvent::TYPES.to_vec());
    }
}
