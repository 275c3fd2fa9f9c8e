//! Notifications: who is told what ([`Notifier`], a dispatcher [`Subscriber`], and
//! [`MentionNotifier`] for deal-room messages), the use cases behind `/v1/notifications`, and the
//! [`Mailer`] that emails them through the host's [`EmailSender`].
//!
//! - `referral.created`: every user of the org who may decide the referral
//!   ([`Referral::may_be_decided_by`]: an approving profile at the routed level covering the
//!   risk, not the requester).
//! - `referral.approved` / `referral.declined`: the referral's requester.
//! - `policy.bound` and `policy.cancellation_noticed`: the policy's producer (the user who took
//!   in its submission).
//! - a deal-room message: every participant it mentions (by user id), other than its sender.
//!
//! Texts name records by number and id, never an insured's or a claimant's details.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{NotificationId, OrgId, ReferralId, UserId};
use openinsure_core::notifications::{
    Content, Email, EmailError, EmailOutcome, EmailSender, EmailStatus, Notification, NotificationKind,
    NotificationSettings, NotificationStore, check_email, next_email_attempt,
};
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_core::underwriting::authority::AuthorityProfile;
use openinsure_dealroom::protocol::ChatMessage;
use serde::Deserialize;

use crate::app::Backend;
use crate::dispatch::Subscriber;
use crate::error::Result;

/// What a user sets: where notifications are emailed (`null` or absent: nowhere).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    /// The address.
    #[serde(default)]
    pub email: Option<String>,
}

impl crate::App {
    /// The caller's notifications, newest first (only the unread ones with `unread_only`).
    pub async fn notifications(&self, caller: &Caller, unread_only: bool, page: Page) -> Result<Vec<Notification>> {
        Ok(self.store.notifications(caller.org_id, caller.user_id, unread_only, page).await?)
    }

    /// Marks one of the caller's notifications read (404 for anyone else's).
    pub async fn mark_notification_read(&self, caller: &Caller, id: NotificationId) -> Result<Notification> {
        Ok(self.store.mark_read(caller.org_id, caller.user_id, id, self.clock.now()).await?)
    }

    /// Marks all the caller's notifications read; returns how many were unread.
    pub async fn mark_all_notifications_read(&self, caller: &Caller) -> Result<usize> {
        Ok(self.store.mark_all_read(caller.org_id, caller.user_id, self.clock.now()).await?)
    }

    /// The caller's notification settings.
    pub async fn notification_settings(&self, caller: &Caller) -> Result<NotificationSettings> {
        let found = self.store.settings(caller.org_id, caller.user_id).await?;
        Ok(found.unwrap_or(NotificationSettings {
            user_id: caller.user_id,
            email: None,
            updated_at: DateTime::UNIX_EPOCH,
        }))
    }

    /// Sets where the caller's notifications are emailed; `email` is checked and named when bad.
    pub async fn put_notification_settings(
        &self,
        caller: &Caller,
        input: &SettingsInput,
    ) -> Result<NotificationSettings> {
        let email = input.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        if let Some(address) = email {
            check_email(address).map_err(|reason| openinsure_core::error::Error::invalid("email", reason))?;
        }
        let settings = NotificationSettings {
            user_id: caller.user_id,
            email: email.map(str::to_owned),
            updated_at: self.clock.now(),
        };
        self.store.put_settings(caller.org_id, &settings).await?;
        Ok(settings)
    }
}

async fn notify(
    store: &dyn Backend,
    org: OrgId,
    cause: uuid::Uuid,
    users: impl IntoIterator<Item = UserId>,
    content: &Content,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut out = Vec::new();
    for user in users {
        let has_email = store.settings(org, user).await?.is_some_and(|s| s.email.is_some());
        out.push(Notification::new(org, user, cause, content.clone(), now, has_email));
    }
    if out.is_empty() {
        return Ok(0);
    }
    Ok(store.insert_notifications(org, &out).await?)
}

/// The dispatcher subscriber that notifies people of events.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier over the system of record.
    pub fn new(store: Arc<dyn Backend>, clock: Arc<dyn Clock>) -> Self {
        Notifier { store, clock }
    }

    async fn deciders(&self, org: OrgId, referral: ReferralId) -> Result<Vec<UserId>> {
        let referral = self.store.get_referral(org, referral).await?;
        let profiles: BTreeMap<_, AuthorityProfile> =
            self.store.list_profiles(org).await?.into_iter().map(|p| (p.id, p)).collect();
        let mut by_user: BTreeMap<UserId, Vec<AuthorityProfile>> = BTreeMap::new();
        for a in self.store.list_assignments(org).await? {
            if let Some(p) = profiles.get(&a.profile_id) {
                by_user.entry(a.user_id).or_default().push(p.clone());
            }
        }
        Ok(by_user.into_iter().filter(|(u, ps)| referral.may_be_decided_by(*u, ps)).map(|(u, _)| u).collect())
    }

    async fn producer(&self, org: OrgId, submission: openinsure_core::ids::SubmissionId) -> Result<UserId> {
        Ok(self.store.get_submission(org, submission).await?.created_by)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Subscriber for Notifier {
    fn name(&self) -> &str {
        "notifications"
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<()> {
        let org = event.org_id;
        let (users, content) = match &event.event {
            DomainEvent::ReferralCreated { referral_id, submission_id, routed_to_level } => {
                let id = ReferralId::from_uuid(*referral_id);
                let content = Content {
                    kind: NotificationKind::ReferralRaised,
                    title: format!("A referral waits for authority level {routed_to_level}"),
                    body: format!("Submission {submission_id} was referred for a decision."),
                    link: format!("/v1/referrals/{referral_id}"),
                };
                (self.deciders(org, id).await?, content)
            }
            DomainEvent::ReferralApproved { referral_id, .. } | DomainEvent::ReferralDeclined { referral_id, .. } => {
                let approved = matches!(event.event, DomainEvent::ReferralApproved { .. });
                let referral = self.store.get_referral(org, ReferralId::from_uuid(*referral_id)).await?;
                let verb = if approved { "approved" } else { "declined" };
                let content = Content {
                    kind: NotificationKind::ReferralDecided,
                    title: format!("Your referral was {verb}"),
                    body: format!("The referral of submission {} was {verb}.", referral.submission_id),
                    link: format!("/v1/referrals/{referral_id}"),
                };
                (vec![referral.requested_by], content)
            }
            DomainEvent::PolicyBound { policy_id, policy_number, submission_id, .. } => {
                let content = Content {
                    kind: NotificationKind::PolicyBound,
                    title: format!("Policy {policy_number} was bound"),
                    body: format!("Policy {policy_number} was bound from submission {submission_id}."),
                    link: format!("/v1/policies/{policy_id}"),
                };
                (vec![self.producer(org, *submission_id).await?], content)
            }
            DomainEvent::PolicyCancellationNoticed { policy_id, installment_number, amount_due, cancel_on } => {
                let policy = self.store.get_policy(org, *policy_id).await?;
                let content = Content {
                    kind: NotificationKind::CancellationNoticed,
                    title: format!("Notice of cancellation: policy {}", policy.number),
                    body: format!(
                        "Installment {installment_number} of policy {} ({} due) is unpaid: the policy will be cancelled on {cancel_on} unless it is paid.",
                        policy.number, amount_due
                    ),
                    link: format!("/v1/policies/{policy_id}"),
                };
                (vec![self.producer(org, policy.submission_id).await?], content)
            }
            _ => return Ok(()),
        };
        let new = notify(self.store.as_ref(), org, event.id, users, &content, self.clock.now()).await?;
        tracing::debug!(event_id = %event.id, new, "notifications made");
        Ok(())
    }
}

/// Notifies the participants a deal-room message mentions (hosts call it once the message is
/// stored).
#[derive(Clone)]
pub struct MentionNotifier {
    store: Arc<dyn Backend>,
    rooms: Arc<dyn openinsure_dealroom::DealRoomStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MentionNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MentionNotifier").finish_non_exhaustive()
    }
}

impl MentionNotifier {
    /// A notifier over the system of record and the deal rooms.
    pub fn new(
        store: Arc<dyn Backend>,
        rooms: Arc<dyn openinsure_dealroom::DealRoomStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        MentionNotifier { store, rooms, clock }
    }

    /// Notifies the room's participants that `message` mentions by user id (a mention of anyone
    /// else, or of its sender, is ignored); returns how many notifications were new.
    pub async fn message_stored(&self, org: OrgId, message: &ChatMessage) -> Result<usize> {
        let Some(rich) = &message.rich_content else { return Ok(0) };
        let mentioned: Vec<UserId> = rich.mentions.iter().filter_map(|m| m.parse().ok()).collect();
        if mentioned.is_empty() {
            return Ok(0);
        }
        let participants = self.rooms.participants(org, message.room_id).await?;
        let room = self.rooms.get_room(org, message.room_id).await?;
        let users: Vec<UserId> = participants
            .iter()
            .map(|p| p.user_id)
            .filter(|u| *u != message.sender_id && mentioned.contains(u))
            .collect();
        let content = Content {
            kind: NotificationKind::Mention,
            title: "You were mentioned in a deal room".into(),
            body: format!("A message in deal room {} mentions you (submission {}).", room.id, room.submission_id),
            link: format!("/v1/deal-rooms/{}/messages", room.id),
        };
        notify(self.store.as_ref(), org, message.id.as_uuid(), users, &content, self.clock.now()).await
    }
}

/// What one run of the mailer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailReport {
    /// Emails leased and attempted.
    pub attempted: usize,
    /// Accepted by the server.
    pub sent: usize,
    /// Left to try again.
    pub retrying: usize,
    /// Given up on.
    pub failed: usize,
}

/// Emails pending notifications, of every org, through the host's [`EmailSender`]: a refusal
/// for good (5xx) fails the email at once; anything else is tried again on
/// [`next_email_attempt`]'s schedule, then failed. Every attempt is tracked on the notification.
#[derive(Clone)]
pub struct Mailer {
    store: Arc<dyn NotificationStore>,
    sender: Arc<dyn EmailSender>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    batch: u32,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("batch", &self.batch).finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer leasing up to 50 emails a run.
    pub fn new(
        store: Arc<dyn NotificationStore>,
        sender: Arc<dyn EmailSender>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        Mailer { store, sender, clock, ids, batch: 50 }
    }

    /// Sends one batch of the emails due now, one at a time.
    pub async fn run_once(&self) -> Result<MailReport> {
        let now = self.clock.now();
        let lease = self.ids.next_uuid();
        let pending = self.store.lease_emails(now, self.batch, lease, now + chrono::Duration::minutes(5)).await?;
        let mut report = MailReport { attempted: pending.len(), ..MailReport::default() };
        for p in pending {
            let n = &p.notification;
            let email =
                Email { to: p.to.clone(), subject: n.title.clone(), text: format!("{}\n\n{}\n", n.body, n.link) };
            let result = self.sender.send(&email).await;
            let at = self.clock.now();
            let attempts = n.email.attempts + 1;
            let outcome = match result {
                Ok(()) => EmailOutcome { status: EmailStatus::Sent, at, next_attempt_at: None, error: None },
                Err(EmailError::Permanent(reason)) => {
                    EmailOutcome { status: EmailStatus::Failed, at, next_attempt_at: None, error: Some(reason) }
                }
                Err(e) => {
                    let next = next_email_attempt(attempts, at);
                    let status = if next.is_some() { EmailStatus::Pending } else { EmailStatus::Failed };
                    EmailOutcome { status, at, next_attempt_at: next, error: Some(e.to_string()) }
                }
            };
            match outcome.status {
                EmailStatus::Sent => report.sent += 1,
                EmailStatus::Pending => report.retrying += 1,
                _ => report.failed += 1,
            }
            if outcome.status != EmailStatus::Sent {
                tracing::warn!(notification_id = %n.id, attempts, status = ?outcome.status, "notification email not sent");
            }
            self.store.record_email(n.org_id, n.id, lease, &outcome).await?;
        }
        Ok(report)
    }
}
