//! Webhooks: an org's endpoints (the use cases behind `/v1/webhooks`), the fan-out of events to
//! them ([`WebhookFanout`], a dispatcher [`Subscriber`]) and their delivery
//! ([`WebhookDeliverer`]).
//!
//! An event the outbox hands to the fan-out becomes one [`WebhookDelivery`] per enabled endpoint
//! of its org that subscribed to its type, written once (its id derives from the endpoint and
//! the event). The deliverer leases due deliveries, of every org, and posts each through the
//! host's [`WebhookSender`], signed per Standard Webhooks with the endpoint's secrets. What
//! follows an attempt is [`openinsure_webhooks::decide`]'s: delivered on a 2xx; on another
//! answer or none, another attempt on the [`RetrySchedule`] (about three days), then failed; a
//! `410 Gone`, or a schedule run out with no delivery to the endpoint succeeding meanwhile,
//! disables the endpoint and tells its org with a `webhook.endpoint_disabled` event, in the same
//! step. Every attempt is logged with its outcome and latency; nothing of a response but its
//! status is kept.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{WebhookDeliveryId, WebhookEndpointId};
use openinsure_core::permission::Action;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_webhooks::{
    AttemptRecord, DeliveryAttempt, DeliveryStatus, EndpointPatch, LeasedDelivery, NewEndpoint, OutboundRequest,
    Replay, RetrySchedule, SendOutcome, WebhookDelivery, WebhookEndpoint, WebhookSecret, WebhookSender, WebhookStore,
    decide,
};
use serde::{Deserialize, Serialize};

use crate::app::require;
use crate::dispatch::Subscriber;
use crate::error::{Error, Result};

/// An endpoint with its secret: the answer to a creation or a rotation, the only time the
/// secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// Its signing secret (`whsec_…`): keep it, it is not shown again.
    pub secret: String,
}

/// A delivery with its attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetails {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: WebhookDelivery,
    /// Its attempts, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// Which failed deliveries to send again: those made in `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRange {
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// To (exclusive).
    pub to: DateTime<Utc>,
}

fn secret_of(ids: &dyn IdGen) -> Result<WebhookSecret> {
    WebhookSecret::from_bytes(&ids.secret_bytes()).map_err(|e| Error::Backend(e.to_string()))
}

impl crate::App {
    /// Creates an endpoint for the caller's org and returns it with its secret. Every bad field
    /// is named (`url`: not `https`, not public, ...; `eventTypes[i]`: not an event type).
    pub async fn create_webhook(&self, caller: &Caller, input: &NewEndpoint) -> Result<EndpointWithSecret> {
        require(caller, Action::ManageWebhooks)?;
        let secret = secret_of(self.ids.as_ref())?;
        let id = self.ids.next_id::<WebhookEndpointId>();
        let stored = input.build(&self.webhook_rules, id, caller.org_id, &secret, self.clock.now())?;
        self.store.insert_endpoint(caller.org_id, &stored).await?;
        tracing::info!(endpoint_id = %id, "webhook endpoint created");
        Ok(EndpointWithSecret { endpoint: stored.endpoint, secret: secret.expose() })
    }

    /// The caller's org's endpoints, oldest first.
    pub async fn webhooks(&self, caller: &Caller, page: Page) -> Result<Vec<WebhookEndpoint>> {
        require(caller, Action::ManageWebhooks)?;
        Ok(self.store.list_endpoints(caller.org_id, page).await?.into_iter().map(|s| s.endpoint).collect())
    }

    /// One endpoint of the caller's org (404 for another org's).
    pub async fn webhook(&self, caller: &Caller, id: WebhookEndpointId) -> Result<WebhookEndpoint> {
        require(caller, Action::ManageWebhooks)?;
        Ok(self.store.get_endpoint(caller.org_id, id).await?.endpoint)
    }

    /// Changes an endpoint: its URL, description, event types, or enables or disables it
    /// (disabling fails its pending deliveries; a replay sends them once it is enabled again).
    pub async fn update_webhook(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
        patch: &EndpointPatch,
    ) -> Result<WebhookEndpoint> {
        require(caller, Action::ManageWebhooks)?;
        let stored = self.store.get_endpoint(caller.org_id, id).await?;
        let next = patch.apply(&self.webhook_rules, &stored, self.clock.now())?;
        Ok(self.store.update_endpoint(caller.org_id, &next).await?.endpoint)
    }

    /// Deletes an endpoint with its deliveries and their log.
    pub async fn delete_webhook(&self, caller: &Caller, id: WebhookEndpointId) -> Result<()> {
        require(caller, Action::ManageWebhooks)?;
        self.store.delete_endpoint(caller.org_id, id).await?;
        tracing::info!(endpoint_id = %id, "webhook endpoint deleted");
        Ok(())
    }

    /// Gives an endpoint a new secret and returns it; the old one keeps signing beside it for
    /// 24 hours, so receivers can switch without losing a message.
    pub async fn rotate_webhook_secret(&self, caller: &Caller, id: WebhookEndpointId) -> Result<EndpointWithSecret> {
        require(caller, Action::ManageWebhooks)?;
        let mut stored = self.store.get_endpoint(caller.org_id, id).await?;
        let secret = secret_of(self.ids.as_ref())?;
        let now = self.clock.now();
        stored.secrets = stored.secrets.rotated(&secret, now);
        stored.endpoint.updated_at = now;
        let stored = self.store.update_endpoint(caller.org_id, &stored).await?;
        tracing::info!(endpoint_id = %id, "webhook secret rotated");
        Ok(EndpointWithSecret { endpoint: stored.endpoint, secret: secret.expose() })
    }

    /// Sends a `webhook.test` message to one endpoint (whatever types it subscribed to); 422
    /// `endpoint_disabled` for a disabled one.
    pub async fn test_webhook(&self, caller: &Caller, id: WebhookEndpointId) -> Result<WebhookDelivery> {
        require(caller, Action::ManageWebhooks)?;
        let stored = self.store.get_endpoint(caller.org_id, id).await?;
        enabled(&stored.endpoint)?;
        let now = self.clock.now();
        let event =
            EventEnvelope::new(self.ids.next_uuid(), caller.org_id, now, DomainEvent::WebhookTest { endpoint_id: id });
        let delivery = WebhookDelivery::of_event(&stored.endpoint, &event, now)?;
        self.store.enqueue_deliveries(caller.org_id, std::slice::from_ref(&delivery)).await?;
        Ok(delivery)
    }

    /// An endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
        page: Page,
    ) -> Result<Vec<WebhookDelivery>> {
        require(caller, Action::ManageWebhooks)?;
        Ok(self.store.deliveries(caller.org_id, id, page).await?)
    }

    /// One delivery of an endpoint with its attempts (404 when it is another endpoint's).
    pub async fn webhook_delivery(
        &self,
        caller: &Caller,
        endpoint: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<DeliveryDetails> {
        require(caller, Action::ManageWebhooks)?;
        let delivery = self.store.get_delivery(caller.org_id, id).await?;
        if delivery.endpoint_id != endpoint {
            return Err(openinsure_core::error::Error::not_found(WebhookDeliveryId::ENTITY, id).into());
        }
        let attempts = self.store.delivery_attempts(caller.org_id, id).await?;
        Ok(DeliveryDetails { delivery, attempts })
    }

    /// Sends one delivery again (delivered or failed), as a new series of attempts with the
    /// same `webhook-id`; 422 `delivery_pending` when it is still pending, `endpoint_disabled`
    /// when its endpoint is.
    pub async fn replay_webhook_delivery(
        &self,
        caller: &Caller,
        endpoint: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery> {
        require(caller, Action::ManageWebhooks)?;
        enabled(&self.store.get_endpoint(caller.org_id, endpoint).await?.endpoint)?;
        let mut out = self.store.replay_deliveries(caller.org_id, endpoint, Replay::One(id), self.clock.now()).await?;
        out.pop().ok_or_else(|| openinsure_core::error::Error::not_found(WebhookDeliveryId::ENTITY, id).into())
    }

    /// Sends again every failed delivery of an endpoint made in `[from, to)` (after an outage
    /// on the receiver's side, once the endpoint is enabled again).
    pub async fn replay_webhook_range(
        &self,
        caller: &Caller,
        endpoint: WebhookEndpointId,
        range: ReplayRange,
    ) -> Result<Vec<WebhookDelivery>> {
        require(caller, Action::ManageWebhooks)?;
        if range.from >= range.to {
            return Err(openinsure_core::error::Error::invalid("to", "must be after `from`").into());
        }
        enabled(&self.store.get_endpoint(caller.org_id, endpoint).await?.endpoint)?;
        let replay = Replay::Failed { from: range.from, to: range.to };
        let out = self.store.replay_deliveries(caller.org_id, endpoint, replay, self.clock.now()).await?;
        tracing::info!(endpoint_id = %endpoint, deliveries = out.len(), "webhook deliveries replayed");
        Ok(out)
    }
}

fn enabled(endpoint: &WebhookEndpoint) -> Result<()> {
    if endpoint.enabled {
        return Ok(());
    }
    Err(Error::Rule {
        code: "endpoint_disabled",
        message: format!("webhook endpoint `{}` is disabled: enable it first", endpoint.id),
    })
}

/// The dispatcher subscriber that turns each event into deliveries to the org's endpoints that
/// subscribed to its type.
#[derive(Clone)]
pub struct WebhookFanout {
    store: Arc<dyn WebhookStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookFanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookFanout").finish_non_exhaustive()
    }
}

impl WebhookFanout {
    /// A fan-out into `store`.
    pub fn new(store: Arc<dyn WebhookStore>, clock: Arc<dyn Clock>) -> Self {
        WebhookFanout { store, clock }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Subscriber for WebhookFanout {
    fn name(&self) -> &str {
        "webhooks"
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<()> {
        if matches!(event.event, DomainEvent::WebhookTest { .. }) {
            return Ok(());
        }
        let endpoints = self.store.endpoints_for(event.org_id, event.event.name()).await?;
        if endpoints.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let deliveries: Vec<WebhookDelivery> = endpoints
            .iter()
            .map(|e| WebhookDelivery::of_event(&e.endpoint, event, now))
            .collect::<std::result::Result<_, _>>()?;
        let new = self.store.enqueue_deliveries(event.org_id, &deliveries).await?;
        tracing::debug!(event_id = %event.id, endpoints = deliveries.len(), new, "webhook deliveries made");
        Ok(())
    }
}

/// What one run of the deliverer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Deliveries leased and attempted.
    pub attempted: usize,
    /// Accepted by their endpoint.
    pub delivered: usize,
    /// Left to try again later.
    pub retrying: usize,
    /// Given up on.
    pub failed: usize,
    /// Endpoints disabled.
    pub disabled: usize,
}

/// Posts due webhook deliveries, of every org, through the host's [`WebhookSender`].
#[derive(Clone)]
pub struct WebhookDeliverer {
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    schedule: RetrySchedule,
    batch: u32,
    lease: Duration,
    concurrency: usize,
}

impl std::fmt::Debug for WebhookDeliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDeliverer")
            .field("schedule", &self.schedule)
            .field("batch", &self.batch)
            .field("lease", &self.lease)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// The `User-Agent` of every webhook request.
pub const USER_AGENT: &str = concat!("openinsure-webhooks/", env!("CARGO_PKG_VERSION"));

impl WebhookDeliverer {
    /// A deliverer leasing up to 100 deliveries a run for two minutes, sending up to 16 at once,
    /// on the default [`RetrySchedule`].
    pub fn new(
        store: Arc<dyn WebhookStore>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        WebhookDeliverer {
            store,
            sender,
            clock,
            ids,
            schedule: RetrySchedule::default(),
            batch: 100,
            lease: Duration::minutes(2),
            concurrency: 16,
        }
    }

    /// Sets the retry schedule.
    pub fn with_schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Sets how many deliveries a run leases.
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets how many requests are in flight at once.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets how long a run holds its deliveries: longer than a run takes (the sender's timeout
    /// times the batch over the concurrency), or another deliverer may send one again
    /// meanwhile (receivers de-duplicate on `webhook-id` even so).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::seconds(1));
        self
    }

    /// Sends one batch of the deliveries due now.
    pub async fn run_once(&self) -> Result<DeliveryReport> {
        use futures_util::StreamExt as _;
        let now = self.clock.now();
        let lease = self.ids.next_uuid();
        let leased = self.store.lease_deliveries(now, self.batch, lease, now + self.lease).await?;
        let mut report = DeliveryReport { attempted: leased.len(), ..DeliveryReport::default() };
        // owned items: a closure over borrowed ones is not `Send` enough for a spawned task
        let mut results = futures_util::stream::iter(leased.into_iter().map(move |l| self.attempt(l, lease)))
            .buffer_unordered(self.concurrency);
        let mut first_error = None;
        while let Some(result) = results.next().await {
            match result {
                Ok(Some(record)) => {
                    match record.decision.status {
                        DeliveryStatus::Delivered => report.delivered += 1,
                        DeliveryStatus::Pending => report.retrying += 1,
                        DeliveryStatus::Failed => report.failed += 1,
                    }
                    report.disabled += usize::from(record.decision.disable_endpoint.is_some());
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "recording a webhook attempt failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            // the deliveries whose record failed are leased still: tried again when it ends
            Some(e) if report.delivered + report.retrying + report.failed == 0 => Err(e),
            _ => Ok(report),
        }
    }

    async fn attempt(&self, leased: LeasedDelivery, lease: uuid::Uuid) -> Result<Option<AttemptRecord>> {
        let leased = &leased;
        let d = &leased.delivery;
        let endpoint = &leased.endpoint.endpoint;
        let started = self.clock.now();
        let (outcome, latency_ms) = match d.headers(&leased.endpoint.secrets, started) {
            Ok(signed) => {
                let mut headers =
                    vec![("content-type", "application/json".to_owned()), ("user-agent", USER_AGENT.to_owned())];
                headers.extend(signed.pairs().into_iter().map(|(k, v)| (k, v.to_owned())));
                let request =
                    OutboundRequest { url: endpoint.url.clone(), headers, body: d.payload.clone().into_bytes() };
                let sent = self.sender.send(&request).await;
                (sent.outcome, sent.latency_ms)
            }
            Err(e) => (SendOutcome::Failed { reason: format!("the endpoint's secret: {e}") }, 0),
        };
        let at = self.clock.now();
        let decision = decide(leased, &outcome, at, &self.schedule);
        let events = match &decision.disable_endpoint {
            Some(reason) => vec![EventEnvelope::new(
                self.ids.next_uuid(),
                d.org_id,
                at,
                DomainEvent::WebhookEndpointDisabled { endpoint_id: endpoint.id, reason: reason.clone() },
            )],
            None => Vec::new(),
        };
        match (&decision.status, &decision.disable_endpoint) {
            (DeliveryStatus::Delivered, _) => {
                tracing::debug!(delivery_id = %d.id, endpoint_id = %endpoint.id, latency_ms, "webhook delivered")
            }
            (_, Some(reason)) => {
                tracing::warn!(delivery_id = %d.id, endpoint_id = %endpoint.id, reason = %reason, "webhook endpoint disabled")
            }
            (status, None) => tracing::info!(
                delivery_id = %d.id,
                endpoint_id = %endpoint.id,
                attempt = d.attempts + 1,
                status = status.as_str(),
                error = outcome.error().unwrap_or_default(),
                "webhook attempt failed"
            ),
        }
        let attempt = DeliveryAttempt {
            id: self.ids.next_uuid(),
            delivery_id: d.id,
            endpoint_id: endpoint.id,
            at: started,
            latency_ms,
            success: outcome.is_success(),
            outcome,
        };
        let record = AttemptRecord { lease, attempt, decision, events };
        let held = self.store.record_attempt(d.org_id, &record).await?;
        Ok(held.then_some(record))
    }
}
