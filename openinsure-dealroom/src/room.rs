//! Rooms and participants: lifecycle, roles and their default permissions.

use chrono::{DateTime, Utc};
use openinsure_core::error::FieldErrors;
use openinsure_core::ids::{DealRoomId, OrgId, SubmissionId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a room stands: `active` while the deal is worked, `archived` when set aside, `closed`
/// when the deal is bound or declined (terminal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    /// Being worked.
    Active,
    /// Set aside; may be made active again.
    Archived,
    /// Bound or declined: closed for good.
    Closed,
}

/// A deal room: one per submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DealRoom {
    /// Its id.
    pub id: DealRoomId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// The submission it is about (one room per submission).
    pub submission_id: SubmissionId,
    /// The name of the room's live instance (the seed's Durable Object), from the submission id.
    pub durable_object_id: String,
    /// Where it stands.
    pub status: RoomStatus,
    /// Its title.
    pub title: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether brokers (external participants) may be added.
    pub allow_broker_access: bool,
    /// Who created it (its lead underwriter).
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The last change or message.
    pub last_activity_at: DateTime<Utc>,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<UserId>,
}

/// A participant's role in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// Drives the deal: edit, annotate, chat.
    LeadUnderwriter,
    /// Supporting underwriter: edit, annotate, chat.
    Underwriter,
    /// External broker: annotate, chat.
    Broker,
    /// Actuarial reviewer: annotate, chat.
    Actuary,
    /// Supervisory oversight: annotate, chat.
    Manager,
    /// Read-only observer.
    Viewer,
}

/// What a participant may do; toggled independently of the role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// May edit the notepad (Yjs updates).
    pub can_edit: bool,
    /// May create and update annotations.
    pub can_annotate: bool,
    /// May chat (and react).
    pub can_chat: bool,
}

impl ParticipantRole {
    /// The seed's default permissions of the role.
    pub fn default_permissions(self) -> Permissions {
        match self {
            ParticipantRole::LeadUnderwriter | ParticipantRole::Underwriter => {
                Permissions { can_edit: true, can_annotate: true, can_chat: true }
            }
            ParticipantRole::Broker | ParticipantRole::Actuary | ParticipantRole::Manager => {
                Permissions { can_edit: false, can_annotate: true, can_chat: true }
            }
            ParticipantRole::Viewer => Permissions::default(),
        }
    }
}

/// Whether a participant is in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    /// In the room.
    Active,
    /// Left or removed (not listed; re-adding updates the record).
    Left,
}

/// A participant of a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// The room.
    pub room_id: DealRoomId,
    /// The user.
    pub user_id: UserId,
    /// Their role in the room.
    pub role: ParticipantRole,
    /// What they may do.
    #[serde(flatten)]
    pub permissions: Permissions,
    /// In the room, or left.
    pub status: ParticipantStatus,
    /// A display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An email address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An external participant's org (a broker's firm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_org_id: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_org_name: Option<String>,
    /// Whether they get notifications of messages and mentions.
    pub notify: bool,
    /// When they were added (or re-added).
    pub joined_at: DateTime<Utc>,
    /// When they were last connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A new room, as `POST /v1/deal-rooms` takes it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRoom {
    /// The org (the caller's unless a cross-org role names another).
    #[serde(default)]
    pub org_id: Option<OrgId>,
    /// The submission.
    pub submission_id: SubmissionId,
    /// A title, 1 to 200 characters.
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub title: String,
    /// A description, at most 2,000 characters.
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000), pattern(openinsure_core::text::TEXT_PATTERN))]
    pub description: Option<String>,
    /// Whether brokers may be added.
    #[serde(default)]
    pub allow_broker_access: bool,
}

/// A participant to add (or update), as `POST /v1/deal-rooms/:id/participants` takes it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewParticipant {
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: ParticipantRole,
    /// Overrides the role's default.
    #[serde(default)]
    pub can_edit: Option<bool>,
    /// Overrides the role's default.
    #[serde(default)]
    pub can_annotate: Option<bool>,
    /// Overrides the role's default.
    #[serde(default)]
    pub can_chat: Option<bool>,
    /// A display name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub name: Option<String>,
    /// An email address.
    #[serde(default)]
    #[schemars(length(min = 1, max = 320), pattern(openinsure_core::text::LINE_PATTERN))]
    pub email: Option<String>,
    /// A broker's firm id.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub external_org_id: Option<String>,
    /// A broker's firm name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub external_org_name: Option<String>,
    /// Notifications (on unless turned off).
    #[serde(default)]
    pub notify: Option<bool>,
    /// Removes the participant (status `left`) instead.
    #[serde(default)]
    pub remove: bool,
}

impl NewParticipant {
    /// `user` with `role` and the role's default permissions, nothing else set.
    pub fn new(user_id: UserId, role: ParticipantRole) -> Self {
        NewParticipant {
            user_id,
            role,
            can_edit: None,
            can_annotate: None,
            can_chat: None,
            name: None,
            email: None,
            external_org_id: None,
            external_org_name: None,
            notify: None,
            remove: false,
        }
    }
}

/// A room change, as `PATCH /v1/deal-rooms/:id` takes it.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomPatch {
    /// A new status.
    #[serde(default)]
    pub status: Option<RoomStatus>,
    /// A new title.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub title: Option<String>,
    /// A new description.
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000), pattern(openinsure_core::text::TEXT_PATTERN))]
    pub description: Option<String>,
    /// Whether brokers may be added.
    #[serde(default)]
    pub allow_broker_access: Option<bool>,
}

/// Why a room operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// Fields refused, all of them.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// A closed room changes no more.
    #[error("the room is closed")]
    Closed,
    /// Brokers were not allowed in the room.
    #[error("the room does not allow broker access")]
    BrokersNotAllowed,
    /// The lead underwriter cannot be removed or demoted.
    #[error("the room's creator stays its lead underwriter")]
    LeadStays,
}

impl From<RoomError> for openinsure_core::Error {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::Invalid(f) => openinsure_core::Error::Invalid(f),
            RoomError::Closed => openinsure_core::Error::Rule { code: "room_closed", message: e.to_string() },
            RoomError::BrokersNotAllowed => {
                openinsure_core::Error::Rule { code: "broker_access_not_allowed", message: e.to_string() }
            }
            RoomError::LeadStays => {
                openinsure_core::Error::Rule { code: "lead_underwriter_stays", message: e.to_string() }
            }
        }
    }
}

/// One line (a title, a name): the core text rule, no control characters at all.
fn check_line(errors: &mut FieldErrors, path: &str, value: &str, max: usize) {
    if let Err(reason) = openinsure_core::text::check_line(value, max) {
        errors.push(path, reason);
    }
}

/// Multi-line text (a description): newline and tab allowed, no other control character.
fn check_text(errors: &mut FieldErrors, path: &str, value: &str, max: usize) {
    if let Err(reason) = openinsure_core::text::check_text(value, max) {
        errors.push(path, reason);
    }
}

impl DealRoom {
    /// A new active room with its creator as lead underwriter (full permissions).
    pub fn create(
        id: DealRoomId,
        org_id: OrgId,
        input: &NewRoom,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<(DealRoom, Participant), RoomError> {
        let mut errors = FieldErrors::default();
        check_line(&mut errors, "title", &input.title, 200);
        if let Some(d) = &input.description {
            check_text(&mut errors, "description", d, 2000);
        }
        if !errors.is_empty() {
            return Err(RoomError::Invalid(errors));
        }
        let room = DealRoom {
            id,
            org_id,
            submission_id: input.submission_id,
            durable_object_id: format!("do_{}", input.submission_id.as_uuid().simple()),
            status: RoomStatus::Active,
            title: input.title.trim().to_owned(),
            description: input.description.clone(),
            allow_broker_access: input.allow_broker_access,
            created_by,
            created_at: now,
            last_activity_at: now,
            closed_at: None,
            closed_by: None,
        };
        let role = ParticipantRole::LeadUnderwriter;
        let lead = Participant {
            room_id: id,
            user_id: created_by,
            role,
            permissions: role.default_permissions(),
            status: ParticipantStatus::Active,
            name: None,
            email: None,
            external_org_id: None,
            external_org_name: None,
            notify: true,
            joined_at: now,
            last_seen_at: None,
        };
        Ok((room, lead))
    }

    /// Applies a change; closing records who and when. A closed room changes no more.
    pub fn apply(&mut self, patch: &RoomPatch, by: UserId, now: DateTime<Utc>) -> Result<(), RoomError> {
        if self.status == RoomStatus::Closed {
            return Err(RoomError::Closed);
        }
        let mut errors = FieldErrors::default();
        if let Some(t) = &patch.title {
            check_line(&mut errors, "title", t, 200);
        }
        if let Some(d) = &patch.description {
            check_text(&mut errors, "description", d, 2000);
        }
        if !errors.is_empty() {
            return Err(RoomError::Invalid(errors));
        }
        if let Some(to) = patch.status
            && to != self.status
        {
            // active <-> archived; either may close; closed is terminal (checked above)
            self.status = to;
            if to == RoomStatus::Closed {
                self.closed_at = Some(now);
                self.closed_by = Some(by);
            }
        }
        if let Some(t) = &patch.title {
            self.title = t.trim().to_owned();
        }
        if let Some(d) = &patch.description {
            self.description = Some(d.clone());
        }
        if let Some(b) = patch.allow_broker_access {
            self.allow_broker_access = b;
        }
        self.last_activity_at = now;
        Ok(())
    }

    /// The participant record for `input`: a new one, or `existing` updated (re-adding someone
    /// who left brings them back with the new role and permissions; nothing is duplicated).
    pub fn participant(
        &self,
        existing: Option<&Participant>,
        input: &NewParticipant,
        now: DateTime<Utc>,
    ) -> Result<Participant, RoomError> {
        if self.status == RoomStatus::Closed {
            return Err(RoomError::Closed);
        }
        if input.role == ParticipantRole::Broker && !self.allow_broker_access && !input.remove {
            return Err(RoomError::BrokersNotAllowed);
        }
        if input.user_id == self.created_by && (input.remove || input.role != ParticipantRole::LeadUnderwriter) {
            return Err(RoomError::LeadStays);
        }
        let mut errors = FieldErrors::default();
        for (path, v, max) in [
            ("name", &input.name, 200),
            ("email", &input.email, 320),
            ("externalOrgId", &input.external_org_id, 200),
            ("externalOrgName", &input.external_org_name, 200),
        ] {
            if let Some(v) = v {
                check_line(&mut errors, path, v, max);
            }
        }
        if let Some(e) = &input.email
            && !e.contains('@')
        {
            errors.push("email", "is not an email address");
        }
        if !errors.is_empty() {
            return Err(RoomError::Invalid(errors));
        }
        let defaults = input.role.default_permissions();
        let permissions = Permissions {
            can_edit: input.can_edit.unwrap_or(defaults.can_edit),
            can_annotate: input.can_annotate.unwrap_or(defaults.can_annotate),
            can_chat: input.can_chat.unwrap_or(defaults.can_chat),
        };
        let status = if input.remove { ParticipantStatus::Left } else { ParticipantStatus::Active };
        Ok(match existing {
            Some(p) => Participant {
                role: input.role,
                permissions,
                status,
                name: input.name.clone().or_else(|| p.name.clone()),
                email: input.email.clone().or_else(|| p.email.clone()),
                external_org_id: input.external_org_id.clone().or_else(|| p.external_org_id.clone()),
                external_org_name: input.external_org_name.clone().or_else(|| p.external_org_name.clone()),
                notify: input.notify.unwrap_or(p.notify),
                joined_at: if p.status == ParticipantStatus::Left { now } else { p.joined_at },
                ..p.clone()
            },
            None => Participant {
                room_id: self.id,
                user_id: input.user_id,
                role: input.role,
                permissions,
                status,
                name: input.name.clone(),
                email: input.email.clone(),
                external_org_id: input.external_org_id.clone(),
                external_org_name: input.external_org_name.clone(),
                notify: input.notify.unwrap_or(true),
                joined_at: now,
                last_seen_at: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id<T: From<Uuid>>(n: u128) -> T {
        T::from(Uuid::from_u128(n))
    }

    fn room() -> (DealRoom, Participant) {
        let input = NewRoom {
            org_id: None,
            submission_id: id(5),
            title: "Acme GL renewal".into(),
            description: None,
            allow_broker_access: false,
        };
        DealRoom::create(id(1), id(2), &input, id(3), DateTime::<Utc>::UNIX_EPOCH).unwrap()
    }

    fn add(role: ParticipantRole) -> NewParticipant {
        NewParticipant::new(id(9), role)
    }

    #[test]
    fn the_creator_leads_with_full_permissions() {
        let (r, lead) = room();
        assert_eq!(r.status, RoomStatus::Active);
        assert_eq!(lead.role, ParticipantRole::LeadUnderwriter);
        assert_eq!(lead.permissions, Permissions { can_edit: true, can_annotate: true, can_chat: true });
        assert!(r.durable_object_id.starts_with("do_"));
    }

    #[test]
    fn roles_have_the_seed_defaults_and_toggles_override_them() {
        let (r, _) = room();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let actuary = r.participant(None, &add(ParticipantRole::Actuary), now).unwrap();
        assert_eq!(actuary.permissions, Permissions { can_edit: false, can_annotate: true, can_chat: true });
        let viewer = r.participant(None, &add(ParticipantRole::Viewer), now).unwrap();
        assert_eq!(viewer.permissions, Permissions::default());
        let mut muted = add(ParticipantRole::Underwriter);
        muted.can_chat = Some(false);
        let p = r.participant(None, &muted, now).unwrap();
        assert!(p.permissions.can_edit && !p.permissions.can_chat);
    }

    #[test]
    fn re_adding_someone_who_left_updates_their_record() {
        let (r, _) = room();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let t1 = t0 + chrono::Duration::days(1);
        let first = r.participant(None, &add(ParticipantRole::Actuary), t0).unwrap();
        let mut leave = add(ParticipantRole::Actuary);
        leave.remove = true;
        let left = r.participant(Some(&first), &leave, t0).unwrap();
        assert_eq!(left.status, ParticipantStatus::Left);
        let back = r.participant(Some(&left), &add(ParticipantRole::Manager), t1).unwrap();
        assert_eq!((back.status, back.role, back.joined_at), (ParticipantStatus::Active, ParticipantRole::Manager, t1));
    }

    #[test]
    fn brokers_need_broker_access_and_the_lead_stays() {
        let (mut r, _) = room();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(r.participant(None, &add(ParticipantRole::Broker), now), Err(RoomError::BrokersNotAllowed));
        r.allow_broker_access = true;
        let mut broker = add(ParticipantRole::Broker);
        broker.external_org_id = Some("brk_1".into());
        broker.external_org_name = Some("Harbor Brokers".into());
        assert_eq!(r.participant(None, &broker, now).unwrap().external_org_name.as_deref(), Some("Harbor Brokers"));
        let mut demote = add(ParticipantRole::Viewer);
        demote.user_id = r.created_by;
        assert_eq!(r.participant(None, &demote, now), Err(RoomError::LeadStays));
    }

    #[test]
    fn closing_records_who_and_when_and_is_final() {
        let (mut r, _) = room();
        let t = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(3);
        r.apply(&RoomPatch { status: Some(RoomStatus::Archived), ..RoomPatch::default() }, id(3), t).unwrap();
        r.apply(&RoomPatch { status: Some(RoomStatus::Active), ..RoomPatch::default() }, id(3), t).unwrap();
        let close =
            RoomPatch { status: Some(RoomStatus::Closed), description: Some("Bound".into()), ..RoomPatch::default() };
        r.apply(&close, id(4), t).unwrap();
        assert_eq!((r.closed_at, r.closed_by), (Some(t), Some(id(4))));
        assert_eq!(r.apply(&RoomPatch::default(), id(4), t), Err(RoomError::Closed));
        let bad = RoomPatch { title: Some(" ".into()), ..RoomPatch::default() };
        let (mut fresh, _) = room();
        assert!(matches!(fresh.apply(&bad, id(3), t), Err(RoomError::Invalid(_))));
    }
}
