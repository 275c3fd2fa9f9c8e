//! The ports: where endpoints and deliveries are kept ([`WebhookStore`]), and what posts a
//! message ([`WebhookSender`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::error::Result;
use openinsure_core::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use openinsure_core::store::Page;

use crate::model::{
    AttemptRecord, DeliveryAttempt, LeasedDelivery, Replay, SendOutcome, StoredEndpoint, WebhookDelivery,
};

/// Webhook endpoints, their deliveries and the delivery log, by org. Every method but
/// [`WebhookStore::lease_deliveries`] (the deliverer's, which serves every org) is scoped to
/// the caller's org: another org's endpoint or delivery is `NotFound`.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait WebhookStore: openinsure_core::ports::MaybeSendSync {
    /// Stores a new endpoint. `Conflict` on a taken id.
    async fn insert_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<()>;

    /// The endpoint, or `NotFound`.
    async fn get_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<StoredEndpoint>;

    /// The org's endpoints, oldest first.
    async fn list_endpoints(&self, org: OrgId, page: Page) -> Result<Vec<StoredEndpoint>>;

    /// The org's enabled endpoints that receive `event_type`.
    async fn endpoints_for(&self, org: OrgId, event_type: &str) -> Result<Vec<StoredEndpoint>>;

    /// Replaces an endpoint read at `endpoint.revision` (`Conflict` when it changed since);
    /// returns it at its next revision. Disabling it fails its pending deliveries in the same
    /// step.
    async fn update_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<StoredEndpoint>;

    /// Deletes an endpoint with its deliveries and their log.
    async fn delete_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<()>;

    /// Adds deliveries for the org's endpoints; one whose id exists is left as it is (the
    /// same event delivered to the fan-out again). Returns how many were new. `NotFound` when
    /// an endpoint is not the org's; nothing is written then.
    async fn enqueue_deliveries(&self, org: OrgId, deliveries: &[WebhookDelivery]) -> Result<usize>;

    /// Leases up to `limit` pending deliveries due at `now` to enabled endpoints, of every
    /// org, oldest due first, skipping those another lease holds, to `lease` until `until`.
    async fn lease_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<LeasedDelivery>>;

    /// Records an attempt made under `record.lease`, in one atomic step: the log entry, the
    /// delivery's new state (and the end of its lease), the endpoint's last success, and, when
    /// the decision disables the endpoint, the endpoint disabled, its other pending deliveries
    /// failed and `record.events` appended to the outbox. Returns `false`, writing nothing,
    /// when the lease no longer holds the delivery.
    async fn record_attempt(&self, org: OrgId, record: &AttemptRecord) -> Result<bool>;

    /// The endpoint's deliveries, newest first.
    async fn deliveries(&self, org: OrgId, endpoint: WebhookEndpointId, page: Page) -> Result<Vec<WebhookDelivery>>;

    /// One delivery, or `NotFound`.
    async fn get_delivery(&self, org: OrgId, id: WebhookDeliveryId) -> Result<WebhookDelivery>;

    /// A delivery's attempts, oldest first.
    async fn delivery_attempts(&self, org: OrgId, id: WebhookDeliveryId) -> Result<Vec<DeliveryAttempt>>;

    /// Sends deliveries of the endpoint again, due at `now` with their attempts reset, and
    /// returns them. `Replay::One` of a pending delivery is `Rule` `delivery_pending`; of
    /// another endpoint's, `NotFound`.
    async fn replay_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookEndpointId,
        replay: Replay,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookDelivery>>;
}

/// A request to post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRequest {
    /// The endpoint's URL.
    pub url: String,
    /// Headers: the Standard Webhooks ones and the content type.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What a send came to, and how long it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    /// The outcome.
    pub outcome: SendOutcome,
    /// Milliseconds from the start of the request to its answer (or failure).
    pub latency_ms: u64,
}

/// Posts one message to one URL. Implementations enforce the [`crate::target::TargetRules`] on
/// the addresses the host resolves to, a timeout, no redirects, and a small limit on the
/// response body read; they never fail: every problem is a [`SendOutcome`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait WebhookSender: openinsure_core::ports::MaybeSendSync {
    /// Posts.
    async fn send(&self, request: &OutboundRequest) -> SendResult;
}
