//! Notifications: a per-user queue of what needs a person's attention (the seed's
//! NotificationAgent), with read state and the tracking of its email.
//!
//! [`Notification::new`] makes one for a user from what happened: a referral raised (to the
//! users who may approve it), a referral decided (to its requester), a mention in a deal room, a
//! policy bound or noticed for cancellation (to its producer). Its id derives from the cause and
//! the user, so a cause handled twice (an event delivered again) makes the same notification.
//! Titles and bodies name records by number and id only: never a claimant, a diagnosis or any
//! other PHI, since they leave the system of record by email.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{NotificationId, OrgId, UserId};
use crate::store::Page;

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A referral waits for someone with the authority to decide it.
    ReferralRaised,
    /// The recipient's referral was approved or declined.
    ReferralDecided,
    /// The recipient was mentioned in a deal room.
    Mention,
    /// A policy the recipient produced was bound.
    PolicyBound,
    /// A policy the recipient produced was noticed for cancellation for non-payment.
    CancellationNoticed,
}

impl NotificationKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::ReferralRaised => "referral_raised",
            NotificationKind::ReferralDecided => "referral_decided",
            NotificationKind::Mention => "mention",
            NotificationKind::PolicyBound => "policy_bound",
            NotificationKind::CancellationNoticed => "cancellation_noticed",
        }
    }
}

/// Where a notification's email stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Not sent by email: the user gave no address.
    None,
    /// To be sent (again) at `next_attempt_at`.
    Pending,
    /// Accepted by the mail server.
    Sent,
    /// Given up on after the retries.
    Failed,
}

/// A notification's email delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailDelivery {
    /// Where it stands.
    pub status: EmailStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is tried next (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the server accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One notification for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Its id (derived from its cause and its user).
    pub id: NotificationId,
    /// The org.
    pub org_id: OrgId,
    /// Whose it is.
    pub user_id: UserId,
    /// What it is about.
    pub kind: NotificationKind,
    /// One line for people (no PHI).
    pub title: String,
    /// More (no PHI).
    pub body: String,
    /// The API path of the record it is about (`/v1/referrals/<id>`).
    pub link: String,
    /// What caused it: the event's id, or the deal-room message's.
    pub cause_id: Uuid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its user read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    /// Its email, if its user gave an address.
    pub email: EmailDelivery,
}

/// The namespace of notification ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f70_656e_696e_7375_7265_2d6e_6f74_6966);

/// What a notification says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// What it is about.
    pub kind: NotificationKind,
    /// One line.
    pub title: String,
    /// More.
    pub body: String,
    /// The record's API path.
    pub link: String,
}

impl Notification {
    /// The notification of `content` for `user`, caused by `cause_id` at `now`; its email pending
    /// when the user gave an address.
    pub fn new(
        org_id: OrgId,
        user_id: UserId,
        cause_id: Uuid,
        content: Content,
        now: DateTime<Utc>,
        has_email: bool,
    ) -> Self {
        let mut name = [0u8; 32];
        name[..16].copy_from_slice(cause_id.as_bytes());
        name[16..].copy_from_slice(user_id.as_uuid().as_bytes());
        let mut key = name.to_vec();
        key.extend_from_slice(content.kind.as_str().as_bytes());
        Notification {
            id: NotificationId::from_uuid(Uuid::new_v5(&NAMESPACE, &key)),
            org_id,
            user_id,
            kind: content.kind,
            title: content.title,
            body: content.body,
            link: content.link,
            cause_id,
            created_at: now,
            read_at: None,
            email: EmailDelivery {
                status: if has_email { EmailStatus::Pending } else { EmailStatus::None },
                attempts: 0,
                next_attempt_at: has_email.then_some(now),
                sent_at: None,
                last_error: None,
            },
        }
    }
}

/// Where a user's notifications are emailed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    /// The user.
    pub user_id: UserId,
    /// The address (none: notifications stay in the queue only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// Checks an email address: one `@`, a local part and a domain with a dot, no spaces or
/// control characters, at most 254 characters. The reason, lowercase, when refused.
pub fn check_email(address: &str) -> std::result::Result<(), String> {
    if address.len() > 254 {
        return Err("is longer than 254 characters".into());
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')) {
        return Err("holds a space, a control character or one of `<>,;\"`".into());
    }
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => Err("is not an email address (`name@example.com`)".into()),
    }
}

/// When a failed email is tried again: 1 minute, then 5, 30, 2 hours and 6 hours; failed after
/// the sixth attempt. `None` when `attempts` (made so far) is the last.
pub fn next_email_attempt(attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let minutes = match attempts {
        1 => 1,
        2 => 5,
        3 => 30,
        4 => 120,
        5 => 360,
        _ => return None,
    };
    Some(now + Duration::minutes(minutes))
}

/// An email to send for a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEmail {
    /// The notification.
    pub notification: Notification,
    /// The address.
    pub to: String,
}

/// What came of an email attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailOutcome {
    /// The new status: `Sent`, `Pending` (retry at `next_attempt_at`) or `Failed`.
    pub status: EmailStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// The next attempt, when pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The notification queues, by org and user. Every method but [`NotificationStore::lease_emails`]
/// (the mailer's, which serves every org) is scoped to the org and, for reads and marks, to the
/// user: another user's notification is `NotFound`.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait NotificationStore: crate::ports::MaybeSendSync {
    /// Adds notifications; one whose id exists is left as it is. Returns how many were new.
    async fn insert_notifications(&self, org: OrgId, notifications: &[Notification]) -> Result<usize>;

    /// The user's notifications, newest first; only the unread ones with `unread_only`.
    async fn notifications(&self, org: OrgId, user: UserId, unread_only: bool, page: Page)
    -> Result<Vec<Notification>>;

    /// Marks one of the user's notifications read at `at` (kept at its first reading).
    async fn mark_read(&self, org: OrgId, user: UserId, id: NotificationId, at: DateTime<Utc>) -> Result<Notification>;

    /// Marks every unread notification of the user read; returns how many.
    async fn mark_all_read(&self, org: OrgId, user: UserId, at: DateTime<Utc>) -> Result<usize>;

    /// Sets the user's settings.
    async fn put_settings(&self, org: OrgId, settings: &NotificationSettings) -> Result<()>;

    /// The user's settings, if set.
    async fn settings(&self, org: OrgId, user: UserId) -> Result<Option<NotificationSettings>>;

    /// Leases up to `limit` pending emails due at `now`, of every org, to `lease` until `until`,
    /// with the address their user has now (one whose user has no address any more is not
    /// leased).
    async fn lease_emails(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<PendingEmail>>;

    /// Records an email attempt made under `lease`: attempts one more, the outcome, the lease
    /// ended. `false`, writing nothing, when the lease no longer holds it.
    async fn record_email(&self, org: OrgId, id: NotificationId, lease: Uuid, outcome: &EmailOutcome) -> Result<bool>;
}

/// An email to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// The subject (one line).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// Why an email was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Worth another attempt: the server is unreachable, busy, or answered 4xx.
    #[error("email not sent, will retry: {0}")]
    Transient(String),
    /// Not worth another: the server refused the message or the address for good (5xx).
    #[error("email refused: {0}")]
    Permanent(String),
}

/// Sends email (SMTP natively: `openinsure-smtp`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait EmailSender: crate::ports::MaybeSendSync {
    /// Sends one email; `Ok` once the server accepted it.
    async fn send(&self, email: &Email) -> std::result::Result<(), EmailError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_the_retry_schedule() {
        assert!(check_email("ann@example.com").is_ok());
        for bad in
            ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@b@c.com", "ann@.com", "x<y>@e.com"]
        {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        let now = DateTime::UNIX_EPOCH;
        let waits: Vec<i64> = (1..=5).map(|a| (next_email_attempt(a, now).unwrap() - now).num_minutes()).collect();
        assert_eq!(waits, [1, 5, 30, 120, 360]);
        assert!(next_email_attempt(6, now).is_none());
    }

    #[test]
    fn the_same_cause_makes_the_same_notification() {
        let c = || Content {
            kind: NotificationKind::PolicyBound,
            title: "t".into(),
            body: "b".into(),
            link: "/v1/policies/x".into(),
        };
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        let now = DateTime::UNIX_EPOCH;
        let a = Notification::new(org, user, Uuid::from_u128(3), c(), now, true);
        let b = Notification::new(org, user, Uuid::from_u128(3), c(), now + Duration::hours(1), false);
        assert_eq!(a.id, b.id);
        let other = Notification::new(org, UserId::from_uuid(Uuid::from_u128(4)), Uuid::from_u128(3), c(), now, true);
        assert_ne!(a.id, other.id);
        assert_eq!((a.email.status, a.email.next_attempt_at), (EmailStatus::Pending, Some(now)));
        assert_eq!(b.email.status, EmailStatus::None);
    }
}
