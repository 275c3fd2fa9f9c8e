//! Endpoints, deliveries and their attempts, the retry schedule, and the decision after an
//! attempt: data and pure functions, no IO.

use chrono::{DateTime, Duration, Utc};
use openinsure_core::error::{Error, FieldErrors};
use openinsure_core::events::{DomainEvent, EventEnvelope, EventId};
use openinsure_core::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::target::TargetRules;
use crate::{SignedHeaders, WebhookError, WebhookSecret};

/// The longest description.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// How long a rotated-out secret still signs, beside the new one: receivers have a day to
/// switch.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A URL an org's events are sent to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// The org whose events it receives.
    pub org_id: OrgId,
    /// Where messages are posted.
    pub url: String,
    /// For people.
    pub description: String,
    /// The event types it receives (`policy.bound`, ...), sorted.
    pub event_types: Vec<String>,
    /// Whether messages are sent to it.
    pub enabled: bool,
    /// Why it was disabled, when it was (by its org, a `410 Gone`, or persistent failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// When the last delivery to it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change (optimistic concurrency).
    pub revision: u64,
}

impl WebhookEndpoint {
    /// Whether it receives events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.event_types.iter().any(|t| t == event_type)
    }
}

/// An endpoint's signing secrets, kept in the system of record, never in a response but the
/// one that creates or rotates them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSecrets {
    /// The secret, `whsec_…`.
    pub current: String,
    /// The secret rotated out, still signing beside `current` until `previous_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Until when `previous` signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for EndpointSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSecrets").field("previous_until", &self.previous_until).finish_non_exhaustive()
    }
}

impl EndpointSecrets {
    /// A first secret.
    pub fn new(secret: &WebhookSecret) -> Self {
        EndpointSecrets { current: secret.expose(), previous: None, previous_until: None }
    }

    /// The secrets after a rotation to `next` at `now`: the current one keeps signing for
    /// [`ROTATION_OVERLAP_HOURS`].
    pub fn rotated(&self, next: &WebhookSecret, now: DateTime<Utc>) -> Self {
        EndpointSecrets {
            current: next.expose(),
            previous: Some(self.current.clone()),
            previous_until: Some(now + Duration::hours(ROTATION_OVERLAP_HOURS)),
        }
    }

    /// The secrets that sign at `now`: the current one, and the previous one while it overlaps.
    pub fn signing(&self, now: DateTime<Utc>) -> Result<Vec<WebhookSecret>, WebhookError> {
        let mut out = vec![WebhookSecret::parse(&self.current)?];
        if let (Some(p), Some(until)) = (&self.previous, self.previous_until)
            && now < until
        {
            out.push(WebhookSecret::parse(p)?);
        }
        Ok(out)
    }
}

/// An endpoint with its secrets: what the store keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// Its secrets.
    pub secrets: EndpointSecrets,
}

/// What an org gives to create an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where to post (`https`, a public host).
    pub url: String,
    /// For people.
    #[serde(default)]
    pub description: String,
    /// The event types to receive (at least one; see the `webhooks` of the OpenAPI document).
    pub event_types: Vec<String>,
}

/// A change to an endpoint: the fields given are replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPatch {
    /// A new URL.
    #[serde(default)]
    pub url: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// New event types.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Enable (after a disabling) or disable it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Checks an endpoint's fields, every error at once with its field.
pub fn check_fields(
    rules: &TargetRules,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
) -> Result<(), Error> {
    let mut errors = FieldErrors::default();
    if let Some(url) = url
        && let Err(reason) = rules.check_url(url)
    {
        errors.push("url", reason);
    }
    if let Some(d) = description
        && d.chars().count() > MAX_DESCRIPTION_LEN
    {
        errors.push("description", format!("is longer than {MAX_DESCRIPTION_LEN} characters"));
    }
    if let Some(types) = event_types {
        if types.is_empty() {
            errors.push("eventTypes", "must name at least one event type");
        }
        for (i, t) in types.iter().enumerate() {
            if t == "webhook.test" {
                errors.push(format!("eventTypes[{i}]"), "`webhook.test` is sent on request only, not subscribed to");
            } else if !DomainEvent::TYPES.contains(&t.as_str()) {
                errors.push(format!("eventTypes[{i}]"), format!("`{t}` is not an event type"));
            }
            if types[..i].contains(t) {
                errors.push(format!("eventTypes[{i}]"), format!("`{t}` is listed twice"));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

impl NewEndpoint {
    /// The endpoint this input makes, once checked; `Invalid` names every bad field.
    pub fn build(
        &self,
        rules: &TargetRules,
        id: WebhookEndpointId,
        org_id: OrgId,
        secret: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<StoredEndpoint, Error> {
        check_fields(rules, Some(&self.url), Some(&self.description), Some(&self.event_types))?;
        let mut event_types = self.event_types.clone();
        event_types.sort();
        Ok(StoredEndpoint {
            endpoint: WebhookEndpoint {
                id,
                org_id,
                url: self.url.clone(),
                description: self.description.clone(),
                event_types,
                enabled: true,
                disabled_reason: None,
                disabled_at: None,
                last_success_at: None,
                created_at: now,
                updated_at: now,
                revision: 1,
            },
            secrets: EndpointSecrets::new(secret),
        })
    }
}

impl EndpointPatch {
    /// The endpoint with this change applied, once checked (the revision is the store's).
    pub fn apply(
        &self,
        rules: &TargetRules,
        stored: &StoredEndpoint,
        now: DateTime<Utc>,
    ) -> Result<StoredEndpoint, Error> {
        check_fields(rules, self.url.as_deref(), self.description.as_deref(), self.event_types.as_deref())?;
        let mut next = stored.clone();
        let e = &mut next.endpoint;
        if let Some(url) = &self.url {
            e.url = url.clone();
        }
        if let Some(d) = &self.description {
            e.description = d.clone();
        }
        if let Some(types) = &self.event_types {
            e.event_types = types.clone();
            e.event_types.sort();
        }
        match self.enabled {
            Some(true) if !e.enabled => {
                e.enabled = true;
                e.disabled_reason = None;
                e.disabled_at = None;
            }
            Some(false) if e.enabled => {
                e.enabled = false;
                e.disabled_reason = Some("disabled by its org".into());
                e.disabled_at = Some(now);
            }
            _ => {}
        }
        e.updated_at = now;
        Ok(next)
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up on (dead-lettered): the schedule ran out, the endpoint is gone or was disabled.
    /// A replay sends it again.
    Failed,
}

impl DeliveryStatus {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads a name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One message to one endpoint, with where its delivery stands. The payload is fixed when the
/// delivery is made: every attempt sends the same bytes, with the same `webhook-id` (the
/// event's id, so the receiver de-duplicates across attempts and replays).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// Its id (derived from the endpoint and the event: one delivery per pair).
    pub id: WebhookDeliveryId,
    /// The org.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event (the `webhook-id` header).
    pub event_id: EventId,
    /// Its type.
    pub event_type: String,
    /// The body sent, exactly: the event's JSON envelope.
    pub payload: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts since it was made or last replayed.
    pub attempts: u32,
    /// When it is tried next (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last response's status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The namespace of delivery ids (UUIDv5 of the endpoint and event ids).
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_656e_696e_7375_7265_2d77_6562_686b);

impl WebhookDelivery {
    /// The delivery of `event` to `endpoint`, due at `now`. Its id is derived from the pair, so
    /// making it twice (a redelivered event) makes the same delivery.
    pub fn of_event(endpoint: &WebhookEndpoint, event: &EventEnvelope, now: DateTime<Utc>) -> Result<Self, Error> {
        let payload = serde_json::to_string(event).map_err(|e| Error::Backend(format!("event `{}`: {e}", event.id)))?;
        let mut name = [0u8; 32];
        name[..16].copy_from_slice(endpoint.id.as_uuid().as_bytes());
        name[16..].copy_from_slice(event.id.as_bytes());
        Ok(WebhookDelivery {
            id: WebhookDeliveryId::from_uuid(Uuid::new_v5(&DELIVERY_NAMESPACE, &name)),
            org_id: endpoint.org_id,
            endpoint_id: endpoint.id,
            event_id: event.id,
            event_type: event.event.name().to_owned(),
            payload,
            created_at: now,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
        })
    }

    /// The signed headers of an attempt at `now`, with every secret that signs then.
    pub fn headers(&self, secrets: &EndpointSecrets, now: DateTime<Utc>) -> Result<SignedHeaders, WebhookError> {
        let signing = secrets.signing(now)?;
        Ok(crate::sign_all(
            &signing,
            &format!("msg_{}", self.event_id.simple()),
            now.timestamp(),
            self.payload.as_bytes(),
        ))
    }
}

/// A pending delivery leased to one deliverer, with its endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedDelivery {
    /// The delivery.
    pub delivery: WebhookDelivery,
    /// Its endpoint, with its secrets.
    pub endpoint: StoredEndpoint,
}

/// What one attempt's request came to, as the sender saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendOutcome {
    /// The endpoint answered (a redirect is an answer: it is not followed).
    Response {
        /// The status code.
        status: u16,
    },
    /// No answer within the timeout.
    Timeout,
    /// The target was refused before connecting: it resolved to an address the rules forbid.
    Blocked {
        /// Why.
        reason: String,
    },
    /// The connection failed (refused, reset, TLS, DNS).
    Failed {
        /// Why.
        reason: String,
    },
}

impl SendOutcome {
    /// Whether the endpoint accepted the message (2xx).
    pub fn is_success(&self) -> bool {
        matches!(self, SendOutcome::Response { status } if (200..300).contains(status))
    }

    /// The status code, when there was an answer.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            SendOutcome::Response { status } => Some(*status),
            _ => None,
        }
    }

    /// A failure, for people; `None` for a success.
    pub fn error(&self) -> Option<String> {
        match self {
            SendOutcome::Response { status } if (200..300).contains(status) => None,
            SendOutcome::Response { status } if (300..400).contains(status) => {
                Some(format!("answered {status} (a redirect; redirects are not followed)"))
            }
            SendOutcome::Response { status } => Some(format!("answered {status}")),
            SendOutcome::Timeout => Some("timed out".into()),
            SendOutcome::Blocked { reason } => Some(format!("blocked: {reason}")),
            SendOutcome::Failed { reason } => Some(reason.clone()),
        }
    }
}

/// One attempt, as the delivery log shows it: nothing of the response but its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// Its id.
    pub id: Uuid,
    /// The delivery.
    pub delivery_id: WebhookDeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// How long the endpoint took, in milliseconds.
    pub latency_ms: u64,
    /// What came of it.
    pub outcome: SendOutcome,
    /// Whether the endpoint accepted the message.
    pub success: bool,
}

/// When a failed attempt is followed by another: exponential backoff with jitter, over about
/// three days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the first failure.
    pub first_wait: Duration,
    /// Each next wait is this many times the one before.
    pub factor: i32,
    /// The longest wait.
    pub max_wait: Duration,
    /// Attempts in all, the first included; after the last failure the delivery is failed.
    pub max_attempts: u32,
}

impl Default for RetrySchedule {
    /// 5 s, then four times longer each time up to 12 hours, 13 attempts: the last about 2.8
    /// days after the first (2.3 at the least with the jitter).
    fn default() -> Self {
        RetrySchedule { first_wait: Duration::seconds(5), factor: 4, max_wait: Duration::hours(12), max_attempts: 13 }
    }
}

impl RetrySchedule {
    /// The wait after failed attempt `attempt` (1 for the first) before the next, jitter
    /// aside; `None` when `attempt` was the last.
    pub fn full_wait(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let mut wait = self.first_wait.num_milliseconds().max(0);
        let cap = self.max_wait.num_milliseconds().max(0);
        for _ in 1..attempt {
            wait = wait.saturating_mul(i64::from(self.factor.max(1))).min(cap);
        }
        Some(Duration::milliseconds(wait.min(cap)))
    }

    /// When attempt `attempt + 1` of `delivery` happens after attempt `attempt` failed at
    /// `now`; `None` when there is none. A jitter derived from the delivery id takes up to a
    /// fifth off the wait, so many deliveries failing together spread out (and a test can
    /// predict it).
    pub fn next_attempt(&self, delivery: WebhookDeliveryId, attempt: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let full = self.full_wait(attempt)?.num_milliseconds();
        let seed = (delivery.as_uuid().as_u128() as u64) ^ u64::from(attempt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let jitter = (seed % 1000) as i64;
        Some(now + Duration::milliseconds(full - full / 5 * jitter / 1000))
    }

    /// From the first attempt to the last, jitter aside.
    pub fn span(&self) -> Duration {
        (1..self.max_attempts).filter_map(|a| self.full_wait(a)).fold(Duration::zero(), |a, b| a + b)
    }
}

/// What follows an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptDecision {
    /// The delivery's new status.
    pub status: DeliveryStatus,
    /// Its next attempt, when pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Disable the endpoint, with why: it answered `410 Gone`, or this delivery failed for the
    /// whole schedule and no other delivery to the endpoint succeeded meanwhile.
    pub disable_endpoint: Option<String>,
}

/// Decides what follows an attempt at `leased` that came to `outcome` at `now`.
pub fn decide(
    leased: &LeasedDelivery,
    outcome: &SendOutcome,
    now: DateTime<Utc>,
    schedule: &RetrySchedule,
) -> AttemptDecision {
    let d = &leased.delivery;
    if outcome.is_success() {
        return AttemptDecision { status: DeliveryStatus::Delivered, next_attempt_at: None, disable_endpoint: None };
    }
    if outcome.status_code() == Some(410) {
        return AttemptDecision {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            disable_endpoint: Some("the endpoint answered 410 Gone".into()),
        };
    }
    let attempt = d.attempts.saturating_add(1);
    match schedule.next_attempt(d.id, attempt, now) {
        Some(at) => {
            AttemptDecision { status: DeliveryStatus::Pending, next_attempt_at: Some(at), disable_endpoint: None }
        }
        None => {
            let since = d.created_at;
            let persistent = leased.endpoint.endpoint.last_success_at.is_none_or(|s| s < since);
            AttemptDecision {
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                disable_endpoint: persistent.then(|| {
                    format!("every delivery failed since {} ({attempt} attempts)", since.format("%Y-%m-%dT%H:%M:%SZ"))
                }),
            }
        }
    }
}

/// An attempt to record: the log entry, the delivery's new state, and, when the endpoint is
/// disabled, the event that tells its org (appended to the outbox in the same step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The lease the attempt was made under: a record under a lease that no longer holds the
    /// delivery is ignored.
    pub lease: Uuid,
    /// The log entry.
    pub attempt: DeliveryAttempt,
    /// What follows.
    pub decision: AttemptDecision,
    /// The `webhook.endpoint_disabled` event, when the decision disables the endpoint.
    pub events: Vec<EventEnvelope>,
}

/// Which deliveries a replay sends again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// One delivery, whatever its status but pending.
    One(WebhookDeliveryId),
    /// The failed deliveries of the endpoint made in `[from, to)`.
    Failed {
        /// From (inclusive).
        from: DateTime<Utc>,
        /// To (exclusive).
        to: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days() {
        let s = RetrySchedule::default();
        let waits: Vec<i64> = (1..s.max_attempts).map(|a| s.full_wait(a).unwrap().num_seconds()).collect();
        assert_eq!(&waits[..8], &[5, 20, 80, 320, 1280, 5120, 20480, 43200]);
        assert!(s.full_wait(s.max_attempts).is_none());
        let span = s.span().num_minutes();
        assert!((2 * 24 * 60..4 * 24 * 60).contains(&span), "{span} minutes");
        let id = WebhookDeliveryId::from_uuid(Uuid::from_u128(99));
        let now = DateTime::UNIX_EPOCH;
        for a in 1..s.max_attempts {
            let full = s.full_wait(a).unwrap();
            let wait = s.next_attempt(id, a, now).unwrap() - now;
            assert!(wait <= full && wait >= full - full / 5, "attempt {a}: {wait} of {full}");
        }
    }
}
