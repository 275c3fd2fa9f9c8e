//! Deal rooms: the REST side (create, list, read, participants, close, history, the WebSocket
//! URL) over the [`DealRoomStore`], and the server-to-server routes that reach a room's live
//! instance through the [`RoomGateway`] port, which the host implements (the native host's room
//! tasks, a Durable Object on Cloudflare).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_auth::TokenKeys;
use openinsure_core::ids::{AnnotationId, DealRoomId};
use openinsure_core::permission::{self, Action};
use openinsure_core::store::Page;
use openinsure_core::submission::LineOfBusiness;
use openinsure_core::tenancy::Caller;
use openinsure_dealroom::DealRoomStore;
use openinsure_dealroom::hub::{AnnotationChange, AnnotationInput, ChatInput, Member, RoomState};
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{
    DealRoom, NewParticipant, NewRoom, Participant, ParticipantRole, ParticipantStatus, Permissions, RoomPatch,
    RoomStatus,
};
use serde::Serialize;

use crate::app::{App, require};
use crate::error::{Error, Result};

/// A room's live instance, as the host runs it.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait RoomGateway: openinsure_core::ports::MaybeSendSync {
    /// The live room's summary (loading it when it is not running).
    async fn state(&self, room: &DealRoom) -> Result<RoomState>;
    /// The messages in the live room's memory, oldest first.
    async fn live_messages(&self, room: &DealRoom) -> Result<Vec<ChatMessage>>;
    /// Posts a message as `member` (no WebSocket); it reaches every connected client.
    async fn post_message(&self, room: &DealRoom, member: Member, input: ChatInput) -> Result<ChatMessage>;
    /// The live room's annotations.
    async fn annotations(&self, room: &DealRoom) -> Result<Vec<Annotation>>;
    /// Creates an annotation as `member`.
    async fn create_annotation(&self, room: &DealRoom, member: Member, input: AnnotationInput) -> Result<Annotation>;
    /// Changes an annotation as `member`.
    async fn update_annotation(
        &self,
        room: &DealRoom,
        member: Member,
        id: AnnotationId,
        change: AnnotationChange,
    ) -> Result<Annotation>;
    /// The room or its participants changed through the REST API: a running instance takes the
    /// change (permissions apply to live connections at once).
    async fn room_changed(&self, room: &DealRoom, participants: &[Participant]) -> Result<()>;
}

/// A room in a list, with its submission's insured and line of business.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomListItem {
    /// The room.
    #[serde(flatten)]
    pub room: DealRoom,
    /// The submission's insured.
    pub insured_name: String,
    /// The submission's line of business.
    pub lob: LineOfBusiness,
}

/// A room with its participants (those who left are not listed).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetails {
    /// The room.
    #[serde(flatten)]
    pub room: DealRoom,
    /// Its participants.
    pub participants: Vec<Participant>,
}

/// Where and how to connect to a room.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WsTicket {
    /// The WebSocket URL, with a 5-minute token.
    pub ws_url: String,
    /// The room's live instance.
    pub durable_object_id: String,
    /// The submission.
    pub submission_id: openinsure_core::ids::SubmissionId,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

impl App {
    /// Reaches live rooms through `gateway` (the server-to-server routes need one).
    #[must_use]
    pub fn with_room_gateway(mut self, gateway: Arc<dyn RoomGateway>) -> Self {
        self.live_rooms = Some(gateway);
        self
    }

    /// The deal room store.
    pub fn deal_rooms(&self) -> &Arc<dyn DealRoomStore> {
        &self.rooms
    }

    /// Whether live rooms are reachable (a host gave a [`RoomGateway`]).
    pub fn has_live_rooms(&self) -> bool {
        self.live_rooms.is_some()
    }

    fn room_store(&self) -> &dyn DealRoomStore {
        self.rooms.as_ref()
    }

    fn gateway(&self) -> Result<&dyn RoomGateway> {
        self.live_rooms.as_deref().ok_or_else(|| Error::Backend("no live room host is configured".into()))
    }

    /// Creates a room on a submission of the caller's org (another org's only for the cross-org
    /// roles); the creator joins as lead underwriter. One room per submission (409).
    pub async fn create_room(&self, caller: &Caller, input: &NewRoom) -> Result<DealRoom> {
        require(caller, Action::ManageDealRooms)?;
        let org = match input.org_id {
            Some(o)
                if o != caller.org_id && !permission::may_act_for_another_org(caller.role, Action::ManageDealRooms) =>
            {
                return Err(Error::Forbidden(format!("role `{}` may not create rooms for another org", caller.role)));
            }
            Some(o) => o,
            None => caller.org_id,
        };
        self.store.get_submission(org, input.submission_id).await?;
        let now = self.clock.now();
        let (room, lead) = DealRoom::create(self.ids.next_id(), org, input, caller.user_id, now)
            .map_err(openinsure_core::Error::from)?;
        self.room_store().insert_room(org, &room, &lead).await?;
        tracing::info!(room_id = %room.id, submission_id = %room.submission_id, "deal room created");
        Ok(room)
    }

    /// The caller's org's rooms of one status, most recent activity first, with the insured.
    pub async fn rooms(&self, caller: &Caller, status: RoomStatus, page: Page) -> Result<Vec<RoomListItem>> {
        require(caller, Action::ReadDealRooms)?;
        let rooms = self.room_store().list_rooms(caller.org_id, status, page).await?;
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let s = self.store.get_submission(caller.org_id, room.submission_id).await?;
            out.push(RoomListItem { room, insured_name: s.insured_name, lob: s.line_of_business });
        }
        Ok(out)
    }

    /// A room of the caller's org.
    pub async fn room(&self, caller: &Caller, id: DealRoomId) -> Result<DealRoom> {
        require(caller, Action::ReadDealRooms)?;
        Ok(self.room_store().get_room(caller.org_id, id).await?)
    }

    /// A room with its participants (not those who left).
    pub async fn room_details(&self, caller: &Caller, id: DealRoomId) -> Result<RoomDetails> {
        let room = self.room(caller, id).await?;
        let participants = self
            .room_store()
            .participants(caller.org_id, id)
            .await?
            .into_iter()
            .filter(|p| p.status == ParticipantStatus::Active)
            .collect();
        Ok(RoomDetails { room, participants })
    }

    /// Adds a participant, or updates the record of one already added (or removed before).
    pub async fn add_participant(
        &self,
        caller: &Caller,
        id: DealRoomId,
        input: &NewParticipant,
    ) -> Result<Participant> {
        require(caller, Action::ManageDealRooms)?;
        let store = self.room_store();
        let room = store.get_room(caller.org_id, id).await?;
        let all = store.participants(caller.org_id, id).await?;
        let existing = all.iter().find(|p| p.user_id == input.user_id);
        let participant = room.participant(existing, input, self.clock.now()).map_err(openinsure_core::Error::from)?;
        store.upsert_participant(caller.org_id, &participant).await?;
        if let Some(gateway) = &self.live_rooms {
            let all = store.participants(caller.org_id, id).await?;
            gateway.room_changed(&room, &all).await?;
        }
        Ok(participant)
    }

    /// Changes a room; closing records who and when.
    pub async fn update_room(&self, caller: &Caller, id: DealRoomId, patch: &RoomPatch) -> Result<DealRoom> {
        require(caller, Action::ManageDealRooms)?;
        let store = self.room_store();
        let mut room = store.get_room(caller.org_id, id).await?;
        room.apply(patch, caller.user_id, self.clock.now()).map_err(openinsure_core::Error::from)?;
        store.update_room(caller.org_id, &room).await?;
        if let Some(gateway) = &self.live_rooms {
            let all = store.participants(caller.org_id, id).await?;
            gateway.room_changed(&room, &all).await?;
        }
        Ok(room)
    }

    /// A signed WebSocket URL for the room, with a 5-minute token. `base` is the host's
    /// WebSocket origin (`ws://127.0.0.1:8787`).
    pub async fn room_ws_ticket(
        &self,
        caller: &Caller,
        id: DealRoomId,
        keys: &TokenKeys,
        base: &str,
    ) -> Result<WsTicket> {
        let room = self.room(caller, id).await?;
        if room.status == RoomStatus::Closed {
            return Err(Error::Rule { code: "room_closed", message: format!("deal room `{id}` is closed") });
        }
        let now = self.clock.now();
        let token = openinsure_auth::room::issue(keys, caller, room.id, &room.durable_object_id, now)
            .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(WsTicket {
            ws_url: format!("{}/v1/deal-rooms/{}/connect?token={token}", base.trim_end_matches('/'), room.id),
            durable_object_id: room.durable_object_id,
            submission_id: room.submission_id,
            expires_at: now + openinsure_auth::room::WS_TOKEN_LIFETIME,
        })
    }

    /// The room's stored messages, newest first.
    pub async fn room_messages(&self, caller: &Caller, id: DealRoomId, page: Page) -> Result<Vec<ChatMessage>> {
        self.room(caller, id).await?;
        Ok(self.room_store().messages(caller.org_id, id, page).await?)
    }

    /// The room's stored annotations.
    pub async fn room_annotations(&self, caller: &Caller, id: DealRoomId) -> Result<Vec<Annotation>> {
        self.room(caller, id).await?;
        Ok(self.room_store().annotations(caller.org_id, id).await?)
    }

    async fn service_room(&self, caller: &Caller, id: DealRoomId) -> Result<DealRoom> {
        require(caller, Action::UseRoomService)?;
        Ok(self.room_store().get_room(caller.org_id, id).await?)
    }

    async fn service_member(&self, caller: &Caller, room: &DealRoom) -> Result<Member> {
        let all = self.room_store().participants(room.org_id, room.id).await?;
        Ok(match all.into_iter().find(|p| p.user_id == caller.user_id && p.status == ParticipantStatus::Active) {
            Some(p) => Member { user_id: p.user_id, role: p.role, permissions: p.permissions, name: p.name },
            // automation that is not a participant chats and annotates, and never edits the notepad
            None => Member {
                user_id: caller.user_id,
                role: ParticipantRole::Manager,
                permissions: Permissions { can_edit: false, can_annotate: true, can_chat: true },
                name: Some(format!("{} {}", caller.role, caller.user_id)),
            },
        })
    }

    /// The live room's state (service route).
    pub async fn live_room_state(&self, caller: &Caller, id: DealRoomId) -> Result<RoomState> {
        let room = self.service_room(caller, id).await?;
        self.gateway()?.state(&room).await
    }

    /// The live room's in-memory messages (service route).
    pub async fn live_room_messages(&self, caller: &Caller, id: DealRoomId) -> Result<Vec<ChatMessage>> {
        let room = self.service_room(caller, id).await?;
        self.gateway()?.live_messages(&room).await
    }

    /// Posts a message without a WebSocket (service route).
    pub async fn post_room_message(&self, caller: &Caller, id: DealRoomId, input: ChatInput) -> Result<ChatMessage> {
        let room = self.service_room(caller, id).await?;
        let member = self.service_member(caller, &room).await?;
        self.gateway()?.post_message(&room, member, input).await
    }

    /// The live room's annotations (service route).
    pub async fn live_room_annotations(&self, caller: &Caller, id: DealRoomId) -> Result<Vec<Annotation>> {
        let room = self.service_room(caller, id).await?;
        self.gateway()?.annotations(&room).await
    }

    /// Creates an annotation (service route).
    pub async fn create_room_annotation(
        &self,
        caller: &Caller,
        id: DealRoomId,
        input: AnnotationInput,
    ) -> Result<Annotation> {
        let room = self.service_room(caller, id).await?;
        let member = self.service_member(caller, &room).await?;
        self.gateway()?.create_annotation(&room, member, input).await
    }

    /// Changes an annotation (service route).
    pub async fn update_room_annotation(
        &self,
        caller: &Caller,
        id: DealRoomId,
        annotation: AnnotationId,
        change: AnnotationChange,
    ) -> Result<Annotation> {
        let room = self.service_room(caller, id).await?;
        let member = self.service_member(caller, &room).await?;
        self.gateway()?.update_annotation(&room, member, annotation, change).await
    }
}

/// A refusal of the live room, as an application error.
pub fn refusal(r: openinsure_dealroom::hub::Refusal) -> Error {
    refusal_code(r.code, r.message)
}

/// A refusal of the live room by its code and message (as a host that runs the room elsewhere,
/// a Durable Object, receives it), as an application error.
pub fn refusal_code(code: &str, message: String) -> Error {
    match code {
        "not_found" => Error::NotFound { entity: "annotation", id: message },
        "chat_forbidden" | "annotate_forbidden" | "edit_forbidden" => Error::Forbidden(message),
        _ => {
            let mut f = openinsure_core::error::FieldErrors::default();
            f.push("$", message);
            Error::Invalid(f)
        }
    }
}
