//! [`WebhookStore`] in memory: endpoints, deliveries and their log in the same tables as the
//! outbox, so disabling an endpoint and telling its org is one step.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use openinsure_core::store::Page;
use openinsure_webhooks::{
    AttemptRecord, DeliveryAttempt, DeliveryStatus, LeasedDelivery, Replay, StoredEndpoint, WebhookDelivery,
    WebhookStore,
};

use crate::{MemoryStore, Tables, page, same_org};

/// A delivery and its lease.
#[derive(Clone, Debug)]
pub(crate) struct DeliverySlot {
    delivery: WebhookDelivery,
    lease: Option<(uuid::Uuid, DateTime<Utc>)>,
}

fn endpoint_in(t: &Tables, org: OrgId, id: WebhookEndpointId) -> Result<&StoredEndpoint> {
    t.webhook_endpoints.get(&(org, id)).ok_or_else(|| Error::not_found(WebhookEndpointId::ENTITY, id))
}

fn fail_pending(t: &mut Tables, org: OrgId, endpoint: WebhookEndpointId, reason: &str) {
    for ((o, _), slot) in t.webhook_deliveries.iter_mut() {
        let d = &mut slot.delivery;
        if *o == org && d.endpoint_id == endpoint && d.status == DeliveryStatus::Pending {
            d.status = DeliveryStatus::Failed;
            d.next_attempt_at = None;
            d.last_error = Some(reason.to_owned());
            slot.lease = None;
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl WebhookStore for MemoryStore {
    async fn insert_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<()> {
        same_org(org, endpoint.endpoint.org_id, "webhook endpoint")?;
        let mut t = self.write();
        let key = (org, endpoint.endpoint.id);
        if t.webhook_endpoints.contains_key(&key) {
            return Err(Error::Conflict(format!("webhook endpoint `{}` exists", endpoint.endpoint.id)));
        }
        t.webhook_endpoints.insert(key, endpoint.clone());
        Ok(())
    }

    async fn get_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<StoredEndpoint> {
        endpoint_in(&self.read(), org, id).cloned()
    }

    async fn list_endpoints(&self, org: OrgId, p: Page) -> Result<Vec<StoredEndpoint>> {
        let t = self.read();
        let mut all: Vec<&StoredEndpoint> =
            t.webhook_endpoints.iter().filter(|((o, _), _)| *o == org).map(|(_, e)| e).collect();
        all.sort_by_key(|e| (e.endpoint.created_at, e.endpoint.id));
        Ok(page(all.into_iter().cloned(), p))
    }

    async fn endpoints_for(&self, org: OrgId, event_type: &str) -> Result<Vec<StoredEndpoint>> {
        let t = self.read();
        let mut all: Vec<StoredEndpoint> = t
            .webhook_endpoints
            .iter()
            .filter(|((o, _), e)| *o == org && e.endpoint.wants(event_type))
            .map(|(_, e)| e.clone())
            .collect();
        all.sort_by_key(|e| (e.endpoint.created_at, e.endpoint.id));
        Ok(all)
    }

    async fn update_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<StoredEndpoint> {
        let mut t = self.write();
        let id = endpoint.endpoint.id;
        let current = endpoint_in(&t, org, id)?;
        if current.endpoint.revision != endpoint.endpoint.revision {
            return Err(Error::Conflict(format!("webhook endpoint `{id}` changed since it was read")));
        }
        let mut next = endpoint.clone();
        next.endpoint.org_id = org;
        next.endpoint.revision += 1;
        if !next.endpoint.enabled {
            fail_pending(&mut t, org, id, "the endpoint was disabled");
        }
        t.webhook_endpoints.insert((org, id), next.clone());
        Ok(next)
    }

    async fn delete_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<()> {
        let mut t = self.write();
        endpoint_in(&t, org, id)?;
        t.webhook_endpoints.remove(&(org, id));
        let gone: Vec<WebhookDeliveryId> = t
            .webhook_deliveries
            .iter()
            .filter(|((o, _), s)| *o == org && s.delivery.endpoint_id == id)
            .map(|((_, d), _)| *d)
            .collect();
        for d in &gone {
            t.webhook_deliveries.remove(&(org, *d));
        }
        t.webhook_attempts.retain(|(o, a)| !(*o == org && a.endpoint_id == id));
        Ok(())
    }

    async fn enqueue_deliveries(&self, org: OrgId, deliveries: &[WebhookDelivery]) -> Result<usize> {
        let mut t = self.write();
        for d in deliveries {
            same_org(org, d.org_id, "webhook delivery")?;
            endpoint_in(&t, org, d.endpoint_id)?;
        }
        let mut new = 0;
        for d in deliveries {
            if let std::collections::btree_map::Entry::Vacant(v) = t.webhook_deliveries.entry((org, d.id)) {
                v.insert(DeliverySlot { delivery: d.clone(), lease: None });
                new += 1;
            }
        }
        Ok(new)
    }

    async fn lease_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<LeasedDelivery>> {
        let mut t = self.write();
        let Tables { webhook_deliveries, webhook_endpoints, .. } = &mut *t;
        let mut due: Vec<(&mut DeliverySlot, &StoredEndpoint)> = webhook_deliveries
            .iter_mut()
            .filter_map(|((org, _), slot)| {
                let d = &slot.delivery;
                let ready = d.status == DeliveryStatus::Pending
                    && d.next_attempt_at.is_none_or(|at| at <= now)
                    && slot.lease.is_none_or(|(_, held)| held <= now);
                let endpoint = webhook_endpoints.get(&(*org, d.endpoint_id)).filter(|e| e.endpoint.enabled)?;
                ready.then_some((slot, endpoint))
            })
            .collect();
        due.sort_by_key(|(s, _)| (s.delivery.next_attempt_at, s.delivery.created_at, s.delivery.id));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(slot, endpoint)| {
                slot.lease = Some((lease, until));
                LeasedDelivery { delivery: slot.delivery.clone(), endpoint: endpoint.clone() }
            })
            .collect())
    }

    async fn record_attempt(&self, org: OrgId, record: &AttemptRecord) -> Result<bool> {
        let mut t = self.write();
        for e in &record.events {
            same_org(org, e.org_id, "event")?;
        }
        let key = (org, record.attempt.delivery_id);
        let Some(slot) = t.webhook_deliveries.get_mut(&key) else { return Ok(false) };
        if slot.lease.map(|(l, _)| l) != Some(record.lease) || slot.delivery.status != DeliveryStatus::Pending {
            return Ok(false);
        }
        let a = &record.attempt;
        let decision = &record.decision;
        let d = &mut slot.delivery;
        d.status = decision.status;
        d.attempts += 1;
        d.next_attempt_at = decision.next_attempt_at;
        d.last_attempt_at = Some(a.at);
        d.last_status_code = a.outcome.status_code();
        d.last_error = a.outcome.error();
        slot.lease = None;
        let endpoint = d.endpoint_id;
        t.webhook_attempts.push((org, a.clone()));
        if let Some(e) = t.webhook_endpoints.get_mut(&(org, endpoint)) {
            if a.success {
                e.endpoint.last_success_at = Some(a.at);
            }
            if let Some(reason) = &decision.disable_endpoint {
                e.endpoint.enabled = false;
                e.endpoint.disabled_reason = Some(reason.clone());
                e.endpoint.disabled_at = Some(a.at);
                e.endpoint.updated_at = a.at;
                e.endpoint.revision += 1;
                fail_pending(&mut t, org, endpoint, "the endpoint was disabled");
                t.append_events(org, &record.events)?;
            }
        }
        Ok(true)
    }

    async fn deliveries(&self, org: OrgId, endpoint: WebhookEndpointId, p: Page) -> Result<Vec<WebhookDelivery>> {
        let t = self.read();
        endpoint_in(&t, org, endpoint)?;
        let mut all: Vec<&WebhookDelivery> = t
            .webhook_deliveries
            .iter()
            .filter(|((o, _), s)| *o == org && s.delivery.endpoint_id == endpoint)
            .map(|(_, s)| &s.delivery)
            .collect();
        all.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
        Ok(page(all.into_iter().cloned(), p))
    }

    async fn get_delivery(&self, org: OrgId, id: WebhookDeliveryId) -> Result<WebhookDelivery> {
        self.read()
            .webhook_deliveries
            .get(&(org, id))
            .map(|s| s.delivery.clone())
            .ok_or_else(|| Error::not_found(WebhookDeliveryId::ENTITY, id))
    }

    async fn delivery_attempts(&self, org: OrgId, id: WebhookDeliveryId) -> Result<Vec<DeliveryAttempt>> {
        let t = self.read();
        if !t.webhook_deliveries.contains_key(&(org, id)) {
            return Err(Error::not_found(WebhookDeliveryId::ENTITY, id));
        }
        let mut all: Vec<DeliveryAttempt> = t
            .webhook_attempts
            .iter()
            .filter(|(o, a)| *o == org && a.delivery_id == id)
            .map(|(_, a)| a.clone())
            .collect();
        all.sort_by_key(|a| (a.at, a.id));
        Ok(all)
    }

    async fn replay_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookEndpointId,
        replay: Replay,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut t = self.write();
        endpoint_in(&t, org, endpoint)?;
        let chosen: Vec<WebhookDeliveryId> = match replay {
            Replay::One(id) => {
                let slot = t
                    .webhook_deliveries
                    .get(&(org, id))
                    .filter(|s| s.delivery.endpoint_id == endpoint)
                    .ok_or_else(|| Error::not_found(WebhookDeliveryId::ENTITY, id))?;
                if slot.delivery.status == DeliveryStatus::Pending {
                    return Err(Error::Rule {
                        code: "delivery_pending",
                        message: format!("webhook delivery `{id}` is pending: it will be sent"),
                    });
                }
                vec![id]
            }
            Replay::Failed { from, to } => {
                let mut v: Vec<&WebhookDelivery> = t
                    .webhook_deliveries
                    .iter()
                    .filter(|((o, _), s)| {
                        let d = &s.delivery;
                        *o == org
                            && d.endpoint_id == endpoint
                            && d.status == DeliveryStatus::Failed
                            && d.created_at >= from
                            && d.created_at < to
                    })
                    .map(|(_, s)| &s.delivery)
                    .collect();
                v.sort_by_key(|d| (d.created_at, d.id));
                v.into_iter().map(|d| d.id).collect()
            }
        };
        let mut out = Vec::with_capacity(chosen.len());
        for id in chosen {
            if let Some(slot) = t.webhook_deliveries.get_mut(&(org, id)) {
                let d = &mut slot.delivery;
                d.status = DeliveryStatus::Pending;
                d.attempts = 0;
                d.next_attempt_at = Some(now);
                slot.lease = None;
                out.push(d.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conforms() {
        let store = crate::MemoryStore::default();
        openinsure_webhooks::testkit::webhook_store(&store, 1).await;
        openinsure_webhooks::testkit::webhook_store(&store, 2).await;
    }
}
