//! [`NotificationStore`] in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{NotificationId, OrgId, UserId};
use openinsure_core::notifications::{
    EmailOutcome, EmailStatus, Notification, NotificationSettings, NotificationStore, PendingEmail,
};
use openinsure_core::store::Page;

use crate::{MemoryStore, page, same_org};

/// A notification and the lease on its email.
#[derive(Clone, Debug)]
pub(crate) struct NotificationSlot {
    notification: Notification,
    lease: Option<(uuid::Uuid, DateTime<Utc>)>,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl NotificationStore for MemoryStore {
    async fn insert_notifications(&self, org: OrgId, notifications: &[Notification]) -> Result<usize> {
        for n in notifications {
            same_org(org, n.org_id, "notification")?;
        }
        let mut t = self.write();
        let mut new = 0;
        for n in notifications {
            if let std::collections::btree_map::Entry::Vacant(v) = t.notifications.entry((org, n.id)) {
                v.insert(NotificationSlot { notification: n.clone(), lease: None });
                new += 1;
            }
        }
        Ok(new)
    }

    async fn notifications(&self, org: OrgId, user: UserId, unread_only: bool, p: Page) -> Result<Vec<Notification>> {
        let t = self.read();
        let mut all: Vec<&Notification> = t
            .notifications
            .iter()
            .filter(|((o, _), s)| *o == org && s.notification.user_id == user)
            .map(|(_, s)| &s.notification)
            .filter(|n| !unread_only || n.read_at.is_none())
            .collect();
        all.sort_by_key(|n| std::cmp::Reverse((n.created_at, n.id)));
        Ok(page(all.into_iter().cloned(), p))
    }

    async fn mark_read(&self, org: OrgId, user: UserId, id: NotificationId, at: DateTime<Utc>) -> Result<Notification> {
        let mut t = self.write();
        let slot = t
            .notifications
            .get_mut(&(org, id))
            .filter(|s| s.notification.user_id == user)
            .ok_or_else(|| Error::not_found(NotificationId::ENTITY, id))?;
        slot.notification.read_at.get_or_insert(at);
        Ok(slot.notification.clone())
    }

    async fn mark_all_read(&self, org: OrgId, user: UserId, at: DateTime<Utc>) -> Result<usize> {
        let mut t = self.write();
        let mut n = 0;
        for ((o, _), s) in t.notifications.iter_mut() {
            if *o == org && s.notification.user_id == user && s.notification.read_at.is_none() {
                s.notification.read_at = Some(at);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn put_settings(&self, org: OrgId, settings: &NotificationSettings) -> Result<()> {
        self.write().notification_settings.insert((org, settings.user_id), settings.clone());
        Ok(())
    }

    async fn settings(&self, org: OrgId, user: UserId) -> Result<Option<NotificationSettings>> {
        Ok(self.read().notification_settings.get(&(org, user)).cloned())
    }

    async fn lease_emails(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<PendingEmail>> {
        let mut t = self.write();
        let crate::Tables { notifications, notification_settings, .. } = &mut *t;
        let mut due: Vec<(&mut NotificationSlot, String)> = notifications
            .iter_mut()
            .filter_map(|((org, _), slot)| {
                let n = &slot.notification;
                let ready = n.email.status == EmailStatus::Pending
                    && n.email.next_attempt_at.is_none_or(|at| at <= now)
                    && slot.lease.is_none_or(|(_, held)| held <= now);
                let to = notification_settings.get(&(*org, n.user_id)).and_then(|s| s.email.clone())?;
                ready.then_some((slot, to))
            })
            .collect();
        due.sort_by_key(|(s, _)| (s.notification.email.next_attempt_at, s.notification.created_at, s.notification.id));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(slot, to)| {
                slot.lease = Some((lease, until));
                PendingEmail { notification: slot.notification.clone(), to }
            })
            .collect())
    }

    async fn record_email(
        &self,
        org: OrgId,
        id: NotificationId,
        lease: uuid::Uuid,
        outcome: &EmailOutcome,
    ) -> Result<bool> {
        let mut t = self.write();
        let Some(slot) = t.notifications.get_mut(&(org, id)) else { return Ok(false) };
        if slot.lease.map(|(l, _)| l) != Some(lease) || slot.notification.email.status != EmailStatus::Pending {
            return Ok(false);
        }
        let e = &mut slot.notification.email;
        e.status = outcome.status;
        e.attempts += 1;
        e.next_attempt_at = outcome.next_attempt_at;
        if outcome.status == EmailStatus::Sent {
            e.sent_at = Some(outcome.at);
        }
        e.last_error = outcome.error.clone();
        slot.lease = None;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conforms() {
        let store = crate::MemoryStore::default();
        openinsure_core::testkit::notification_store(&store, 1).await;
        openinsure_core::testkit::notification_store(&store, 2).await;
    }
}
