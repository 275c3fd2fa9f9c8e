//! The room hub: a state machine with no IO. The host feeds it connections, frames and
//! disconnections, and carries out the [`Effect`]s it returns: frames to send, records to persist.
//!
//! - On connect: `init` (room, participants, online users, the last 50 messages, every
//!   annotation, the user's permissions), then the notepad's Yjs state as one binary frame (only
//!   what the client lacks when it gave its state vector), then `participant_joined` to everyone.
//! - Chat, annotations and reactions are checked against the participant's permissions on the
//!   server; a refusal is an `error` frame to that client only.
//! - Client-supplied Yjs bytes (binary frames, state vectors) pass the [`guard`]
//!   before `yrs` decodes them; a frame it refuses gets the same `invalid_update` or
//!   `invalid_state_vector` error frame as one `yrs` cannot decode.
//! - An update that depends on edits the room never received (it would leave a hole in a
//!   client's clocks, or refers to an origin, parent or deleted clock the room lacks) is refused
//!   with `invalid_update` rather than kept pending; one that repeats what the room has is first
//!   cut down to what it lacks. The store receives what the document took in, as `yrs` writes it.
//! - Binary frames are Yjs updates: from a participant who may edit, applied to the server's
//!   document and relayed to the others; persisted every [`HubConfig::persist_every`] updates and
//!   when the last client leaves. From anyone else: an `error` frame (`edit_forbidden`), and
//!   the update reaches neither the document nor the others.
//! - The last [`HubConfig::history`] messages stay in memory; every message is handed to the host
//!   to persist ([`Effect::PersistMessage`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openinsure_core::clock::IdGen;
use openinsure_core::ids::{AnnotationId, DealMessageId, UserId};
use serde::Serialize;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, ID, OffsetKind, Options, ReadTxn, StateVector, Transact, Update, WriteTxn};

use crate::guard;
use crate::protocol::{
    Annotation, AnnotationStatus, AnnotationTarget, ChatMessage, ClientMessage, Position, Presence, RichContent,
    ServerEvent, TargetType, You,
};
use crate::room::{DealRoom, Participant, ParticipantRole, ParticipantStatus, Permissions, RoomStatus};

/// A connection, numbered by the host.
pub type ConnId = u64;

/// Limits and cadences of a hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubConfig {
    /// The largest text frame, in bytes.
    pub max_text_bytes: usize,
    /// The largest binary frame (Yjs update), in bytes.
    pub max_binary_bytes: usize,
    /// How many messages stay in memory.
    pub history: usize,
    /// How many messages `init` carries.
    pub init_messages: usize,
    /// Persist the document after this many updates (their merge is appended to the store).
    pub persist_every: u32,
    /// Every this many appends, the whole document is written instead (a compaction).
    pub compact_every: u32,
    /// Whether attachment URLs may be `http://` (a development setup); `https://` only otherwise.
    pub allow_http_attachments: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_text_bytes: 64 * 1024,
            max_binary_bytes: 1024 * 1024,
            history: 1000,
            init_messages: 50,
            persist_every: 10,
            compact_every: 100,
            allow_http_attachments: false,
        }
    }
}

/// A frame for a connection; shared between the connections it goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A JSON text frame.
    Text(Arc<str>),
    /// A binary frame (a Yjs update).
    Binary(Arc<[u8]>),
}

/// What the host must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send a frame to a connection.
    Send {
        /// To whom.
        conn: ConnId,
        /// What.
        frame: Frame,
    },
    /// Store a new chat message (at least once; the id makes a repeat harmless).
    PersistMessage(ChatMessage),
    /// Store an annotation as it now is.
    PersistAnnotation(Annotation),
    /// Store the notepad: the whole document as one Yjs update (v1), replacing what was stored.
    PersistDocument(Vec<u8>),
    /// Append to the stored notepad: the updates since the last write, merged into one.
    AppendDocument(Vec<u8>),
    /// A user's last connection closed at this time.
    Seen {
        /// Who.
        user_id: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// No connection is left: the host may unload the room (the document is already persisted).
    Idle,
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The persisted document is not a Yjs update.
    #[error("the stored notepad is not a valid Yjs update: {0}")]
    Document(String),
}

/// Who a connection is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their role in the room (`viewer` for someone who is not a participant).
    pub role: ParticipantRole,
    /// What they may do.
    pub permissions: Permissions,
    /// A display name.
    pub name: Option<String>,
}

/// A room's summary for the server-to-server `state` route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomState {
    /// The room.
    pub room: DealRoom,
    /// Who is connected.
    pub online: Vec<UserId>,
    /// Open connections.
    pub connections: usize,
    /// Messages in memory.
    pub messages_in_memory: usize,
    /// Annotations.
    pub annotations: usize,
    /// The notepad's size as a Yjs update, in bytes.
    pub document_bytes: usize,
    /// Updates applied since the notepad was last persisted.
    pub unsaved_updates: u32,
}

/// One room's live state.
pub struct Hub {
    room: DealRoom,
    participants: Vec<Participant>,
    conns: BTreeMap<ConnId, Member>,
    messages: VecDeque<ChatMessage>,
    annotations: Vec<Annotation>,
    doc: Doc,
    /// Updates applied since the store last heard of the document.
    pending: Vec<Vec<u8>>,
    /// Appends since the last whole document.
    appends: u32,
    /// The document changed in a way the pending updates do not record (an update applied in
    /// part): the next write is the whole document.
    rewrite: bool,
    config: HubConfig,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("room", &self.room.id)
            .field("connections", &self.conns.len())
            .field("messages", &self.messages.len())
            .finish_non_exhaustive()
    }
}

fn text(event: &ServerEvent) -> Frame {
    // serializing these types cannot fail: no maps with non-string keys, no custom serializers
    Frame::Text(serde_json::to_string(event).unwrap_or_else(|_| String::from("{}")).into())
}

fn error_frame(code: &str, message: impl Into<String>) -> Frame {
    text(&ServerEvent::Error { code: code.to_owned(), message: message.into() })
}

/// The notepad's document. Its text offsets count UTF-16 code units, as Yjs clients do: with
/// yrs's default (bytes), a client deleting half of a surrogate pair (which JavaScript allows)
/// makes yrs split the character into two three-byte replacement characters and then subtract
/// more bytes than the text holds, a panic with overflow checks on. The hub itself uses no
/// offsets, so nothing else changes.
fn notepad() -> Doc {
    Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() })
}

/// A client's state vector: checked by the [`guard`] first, so that a declared count the bytes
/// cannot hold never reaches `yrs` (which reserves room for it before reading).
fn state_vector_v1(bytes: &[u8]) -> Option<StateVector> {
    guard::check_state_vector_v1(bytes).ok()?;
    StateVector::decode_v1(bytes).ok()
}

/// Where `update` would leave a hole in a client's clocks: a client and the first clock it
/// inserts past what the document has (`state`) and the update itself fills.
///
/// `yrs` 0.28 integrates such blocks at once and marks the hole with a skip; a later GC block
/// that straddles the skip's end is then split without trimming its left part
/// (`Block::splice`), and integrating it underflows (`BlockStore::push`): a panic with overflow
/// checks on (found by the `hub_frames` fuzz target). Yjs keeps such blocks pending instead.
/// In-order updates never leave a hole: clients send their edits in order, and a hole means
/// the room lost edits a client made.
fn hole(update: &Update, state: &StateVector) -> Option<(u64, u32)> {
    for (client, ranges) in update.insertions(true).iter() {
        let mut reach = state.get(client);
        for range in ranges.iter() {
            if range.start > reach {
                return Some((client.get(), range.start));
            }
            reach = reach.max(range.end);
        }
    }
    None
}

/// An ID `update` (encoded as `bytes`) refers to, or a deleted clock, that neither the document
/// (`state`) nor the update has.
///
/// `yrs` keeps a block whose origin or parent it lacks pending, and merges pending blocks with
/// later updates that say other things about the same clocks (which only a forged update does):
/// a document that then encodes a block whose parent is not a type, and does not load again
/// (found by the `hub_frames` fuzz target). Clients send edits on what they received from the
/// room or made themselves, so the room has everything an update of theirs refers to; with
/// [`hole`], nothing is ever pending.
fn missing_reference(bytes: &[u8], update: &Update, state: &StateVector) -> Option<(u64, u32)> {
    let inserted = update.insertions(true);
    let known = |client: ClientID, clock: u32| clock < state.get(&client) || inserted.contains(&ID::new(client, clock));
    let mut missing = None;
    // `bytes` passed the guard: the walk does not fail
    let _ = guard::references_v1(bytes, |client, clock| {
        if missing.is_none() && !known(ClientID::new(client), clock) {
            missing = Some((client, clock));
        }
    });
    if missing.is_some() {
        return missing;
    }
    for (client, ranges) in update.delete_set().iter() {
        // with no hole, what the room has of a client after the update ends at one clock
        let end = inserted.get(client).and_then(|r| r.clock_end()).unwrap_or(0).max(state.get(client));
        if let Some(range) = ranges.iter().find(|r| r.end > end) {
            return Some((client.get(), range.start.max(end)));
        }
    }
    None
}

/// Whether `update` starts some client's blocks below what the document has (`state`): a
/// client sending its whole state after a reconnect, or a forged update.
///
/// Such an update is first cut down to what the room lacks (`yrs::diff_updates_v1`). Left to
/// `apply_update`, `yrs` 0.28 would split a block that straddles the room's clock itself and keep
/// the block's own parent for the part it keeps, even where the clock before it lies in another
/// parent (which only a forged update can say); deleting that part later underflows the other
/// parent's length, a panic with overflow checks on (found by the `hub_frames` fuzz target).
/// Cut down, the part's parent follows from its left neighbour, as for any block with an origin.
fn overlaps(update: &Update, state: &StateVector) -> bool {
    update.state_vector_lower().iter().any(|(client, clock)| *clock < state.get(client))
}

/// One line (an id, a name, an emoji): the core text rule, no control characters.
fn line(value: &str, field: &str, max: usize) -> Result<(), Refusal> {
    openinsure_core::text::check_line(value, max).map_err(|m| refuse("invalid_message", format!("`{field}` {m}")))
}

/// Multi-line text (a message, a note): newline and tab allowed, no other control character.
fn text_field(value: &str, field: &str, max: usize) -> Result<(), Refusal> {
    openinsure_core::text::check_text(value, max).map_err(|m| refuse("invalid_message", format!("`{field}` {m}")))
}

/// Why an attachment URL is refused, if it is: an absolute `https://` URL with a host (or
/// `http://` when allowed), at most 2,048 characters, no spaces or control characters: never
/// `javascript:`, `data:` or a relative link a client would resolve against the app.
fn attachment_url(url: &str, allow_http: bool) -> Result<(), String> {
    if url.chars().count() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://").filter(|_| allow_http) {
        rest
    } else {
        return Err(if allow_http { "must be an http(s) URL" } else { "must be an https URL" }.into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("must name a host".into());
    }
    Ok(())
}

/// What a chat message says, however it arrived (WebSocket or the service route).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatInput {
    /// The text.
    #[schemars(length(min = 1, max = 10000), pattern(openinsure_core::text::TEXT_PATTERN))]
    pub content: String,
    /// The message replied to.
    #[serde(default)]
    pub parent_message_id: Option<DealMessageId>,
    /// Mentions and attachments.
    #[serde(default)]
    pub rich_content: Option<RichContent>,
    /// What it is about.
    #[serde(default)]
    pub annotation_target: Option<AnnotationTarget>,
}

/// A new annotation, however it arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnnotationInput {
    /// What it points at.
    pub target_type: TargetType,
    /// Which one.
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub target_id: String,
    /// Where on it.
    #[serde(default)]
    pub position: Option<Position>,
    /// The note.
    #[schemars(length(min = 1, max = 5000), pattern(openinsure_core::text::TEXT_PATTERN))]
    pub content: String,
}

/// An annotation change, however it arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnnotationChange {
    /// A new status.
    #[serde(default)]
    pub status: Option<AnnotationStatus>,
    /// A new note.
    #[serde(default)]
    #[schemars(length(min = 1, max = 5000), pattern(openinsure_core::text::TEXT_PATTERN))]
    pub content: Option<String>,
}

/// Why the hub refused a request (sent to the client as an `error` frame).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// A stable code.
    pub code: &'static str,
    /// What happened.
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into() }
}

impl Hub {
    /// A hub over a room's stored state: its active participants, recent messages (oldest first),
    /// annotations, and the stored notepad (Yjs updates, applied in order; empty for none).
    pub fn new(
        room: DealRoom,
        participants: Vec<Participant>,
        recent: Vec<ChatMessage>,
        annotations: Vec<Annotation>,
        document: &[Vec<u8>],
        config: HubConfig,
    ) -> Result<Hub, HubError> {
        let doc = notepad();
        for bytes in document.iter().filter(|b| !b.is_empty()) {
            let update = Update::decode_v1(bytes).map_err(|e| HubError::Document(e.to_string()))?;
            doc.transact_mut().apply_update(update).map_err(|e| HubError::Document(e.to_string()))?;
        }
        let mut messages: VecDeque<ChatMessage> = recent.into();
        while messages.len() > config.history {
            messages.pop_front();
        }
        let participants = participants.into_iter().filter(|p| p.status == ParticipantStatus::Active).collect();
        Ok(Hub {
            room,
            participants,
            conns: BTreeMap::new(),
            messages,
            annotations,
            doc,
            pending: Vec::new(),
            appends: 0,
            rewrite: false,
            config,
        })
    }

    /// The room.
    pub fn room(&self) -> &DealRoom {
        &self.room
    }

    /// The room changed (through the REST API): closing it takes every permission away.
    pub fn set_room(&mut self, room: DealRoom) {
        self.room = room;
        self.refresh_members();
    }

    /// The participants changed (through the REST API): live connections get the new permissions.
    pub fn set_participants(&mut self, participants: Vec<Participant>) {
        self.participants = participants.into_iter().filter(|p| p.status == ParticipantStatus::Active).collect();
        self.refresh_members();
    }

    fn refresh_members(&mut self) {
        let users: Vec<(ConnId, UserId)> = self.conns.iter().map(|(c, m)| (*c, m.user_id)).collect();
        for (conn, user) in users {
            let member = self.member(user);
            self.conns.insert(conn, member);
        }
    }

    /// Who `user` is in this room: their participant record, or a viewer.
    pub fn member(&self, user: UserId) -> Member {
        let closed = self.room.status == RoomStatus::Closed;
        match self.participants.iter().find(|p| p.user_id == user) {
            Some(p) => Member {
                user_id: user,
                role: p.role,
                permissions: if closed { Permissions::default() } else { p.permissions },
                name: p.name.clone(),
            },
            None => {
                Member { user_id: user, role: ParticipantRole::Viewer, permissions: Permissions::default(), name: None }
            }
        }
    }

    /// Connections open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The messages in memory, oldest first.
    pub fn messages(&self) -> &VecDeque<ChatMessage> {
        &self.messages
    }

    /// Every annotation.
    pub fn annotations(&self) -> &[Annotation] {
        &self.annotations
    }

    /// The notepad as one Yjs update (v1).
    pub fn document(&self) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    /// The text of the document's `Y.Text` named `name` (empty when there is none).
    pub fn document_text(&self, name: &str) -> String {
        let txn = self.doc.transact();
        txn.get_text(name).map(|t| t.get_string(&txn)).unwrap_or_default()
    }

    /// The summary the service route returns.
    pub fn state(&self) -> RoomState {
        RoomState {
            room: self.room.clone(),
            online: self.online(),
            connections: self.conns.len(),
            messages_in_memory: self.messages.len(),
            annotations: self.annotations.len(),
            document_bytes: self.document().len(),
            unsaved_updates: u32::try_from(self.pending.len()).unwrap_or(u32::MAX),
        }
    }

    fn online(&self) -> Vec<UserId> {
        let mut users: Vec<UserId> = self.conns.values().map(|m| m.user_id).collect();
        users.sort();
        users.dedup();
        users
    }

    fn presence(&self) -> Vec<Presence> {
        let online = self.online();
        let mut list: Vec<Presence> = self
            .participants
            .iter()
            .map(|p| Presence {
                user_id: p.user_id,
                role: p.role,
                name: p.name.clone(),
                online: online.contains(&p.user_id),
            })
            .collect();
        for m in self.conns.values() {
            if !list.iter().any(|p| p.user_id == m.user_id) {
                list.push(Presence { user_id: m.user_id, role: m.role, name: m.name.clone(), online: true });
            }
        }
        list
    }

    fn broadcast(&self, frame: &Frame, except: Option<ConnId>, effects: &mut Vec<Effect>) {
        for conn in self.conns.keys().filter(|c| Some(**c) != except) {
            effects.push(Effect::Send { conn: *conn, frame: frame.clone() });
        }
    }

    /// A connection of `user` opened. `state_vector` is the client's Yjs state vector, when it
    /// gave one (it then receives only what it lacks).
    pub fn connect(&mut self, conn: ConnId, user: UserId, state_vector: Option<&[u8]>) -> Vec<Effect> {
        let member = self.member(user);
        let first_of_user = !self.conns.values().any(|m| m.user_id == user);
        self.conns.insert(conn, member.clone());
        let skip = self.messages.len().saturating_sub(self.config.init_messages);
        let init = ServerEvent::Init {
            room: self.room.clone(),
            participants: self.participants.clone(),
            online: self.online(),
            messages: self.messages.iter().skip(skip).cloned().collect(),
            annotations: self.annotations.clone(),
            you: You { user_id: user, role: member.role, permissions: member.permissions },
        };
        let mut effects = vec![Effect::Send { conn, frame: text(&init) }];
        let sv = match state_vector.map(state_vector_v1) {
            Some(Some(sv)) => sv,
            Some(None) => {
                effects.push(Effect::Send {
                    conn,
                    frame: error_frame("invalid_state_vector", "the state vector is not a Yjs state vector"),
                });
                StateVector::default()
            }
            None => StateVector::default(),
        };
        let update = self.doc.transact().encode_state_as_update_v1(&sv);
        // an empty document encodes as two zero bytes: nothing to send
        if update.len() > 2 {
            effects.push(Effect::Send { conn, frame: Frame::Binary(update.into()) });
        }
        if first_of_user {
            let joined = text(&ServerEvent::ParticipantJoined { user_id: user, participants: self.presence() });
            self.broadcast(&joined, None, &mut effects);
        }
        effects
    }

    /// A connection closed.
    pub fn disconnect(&mut self, conn: ConnId, now: DateTime<Utc>) -> Vec<Effect> {
        let Some(member) = self.conns.remove(&conn) else { return vec![] };
        let mut effects = Vec::new();
        if !self.conns.values().any(|m| m.user_id == member.user_id) {
            let left = text(&ServerEvent::ParticipantLeft { user_id: member.user_id, participants: self.presence() });
            self.broadcast(&left, None, &mut effects);
            effects.push(Effect::Seen { user_id: member.user_id, at: now });
        }
        if self.conns.is_empty() {
            effects.extend(self.flush());
            effects.push(Effect::Idle);
        }
        effects
    }

    /// A text frame from a connection.
    pub fn text(&mut self, conn: ConnId, frame: &str, ids: &dyn IdGen, now: DateTime<Utc>) -> Vec<Effect> {
        let Some(member) = self.conns.get(&conn).cloned() else { return vec![] };
        if frame.len() > self.config.max_text_bytes {
            let message = format!("text frames are limited to {} bytes", self.config.max_text_bytes);
            return vec![Effect::Send { conn, frame: error_frame("frame_too_large", message) }];
        }
        // the one strict reading of JSON: a repeated key is refused, not the last one winning
        let parsed = openinsure_core::json::parse_str(frame, 16).map_err(|e| e.to_string()).and_then(|v| {
            openinsure_core::json::from_value::<ClientMessage>(v).map_err(|(p, r)| format!("`{p}`: {r}"))
        });
        let message = match parsed {
            Ok(m) => m,
            Err(e) => {
                let frame = error_frame("invalid_message", format!("not a message of the protocol: {e}"));
                return vec![Effect::Send { conn, frame }];
            }
        };
        let mut effects = Vec::new();
        let outcome = match message {
            ClientMessage::Chat { content, parent_message_id, rich_content, annotation_target } => {
                let input = ChatInput { content, parent_message_id, rich_content, annotation_target };
                self.chat(&member, input, ids, now, &mut effects).map(|_| ())
            }
            ClientMessage::Typing { is_typing } => {
                let frame = text(&ServerEvent::Typing { user_id: member.user_id, is_typing });
                self.broadcast(&frame, Some(conn), &mut effects);
                Ok(())
            }
            ClientMessage::Annotation { target_type, target_id, position, content } => {
                let input = AnnotationInput { target_type, target_id, position, content };
                self.annotate(&member, input, ids, now, &mut effects).map(|_| ())
            }
            ClientMessage::AnnotationUpdate { annotation_id, status, content } => {
                let change = AnnotationChange { status, content };
                self.change_annotation(&member, annotation_id, &change, now, &mut effects).map(|_| ())
            }
            ClientMessage::Awareness { state } => {
                if serde_json::to_string(&state).map_or(usize::MAX, |s| s.len()) > 4096 {
                    Err(refuse("invalid_message", "awareness state is limited to 4096 bytes"))
                } else {
                    let frame = text(&ServerEvent::Awareness { user_id: member.user_id, state });
                    self.broadcast(&frame, Some(conn), &mut effects);
                    Ok(())
                }
            }
            ClientMessage::Reaction { message_id, emoji } => {
                if !member.permissions.can_chat {
                    Err(refuse("chat_forbidden", "you may not chat or react in this room"))
                } else if let Err(r) = line(&emoji, "emoji", 16) {
                    Err(r)
                } else {
                    let frame = text(&ServerEvent::Reaction { message_id, user_id: member.user_id, emoji });
                    self.broadcast(&frame, None, &mut effects);
                    Ok(())
                }
            }
            ClientMessage::Sync { state_vector } => match STANDARD.decode(state_vector.as_bytes()) {
                Ok(bytes) => match state_vector_v1(&bytes) {
                    Some(sv) => {
                        let update = self.doc.transact().encode_state_as_update_v1(&sv);
                        effects.push(Effect::Send { conn, frame: Frame::Binary(update.into()) });
                        Ok(())
                    }
                    None => Err(refuse("invalid_state_vector", "the state vector is not a Yjs state vector")),
                },
                Err(_) => Err(refuse("invalid_state_vector", "`stateVector` is not base64")),
            },
        };
        if let Err(r) = outcome {
            effects.push(Effect::Send { conn, frame: error_frame(r.code, r.message) });
        }
        effects
    }

    /// A chat message from `member` (a WebSocket frame or the service route).
    pub fn chat(
        &mut self,
        member: &Member,
        input: ChatInput,
        ids: &dyn IdGen,
        now: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<ChatMessage, Refusal> {
        if !member.permissions.can_chat {
            return Err(refuse("chat_forbidden", "you may not chat in this room"));
        }
        text_field(&input.content, "content", 10_000)?;
        if let Some(rc) = &input.rich_content {
            if rc.mentions.len() > 50 || rc.attachments.len() > 20 {
                return Err(refuse("invalid_message", "at most 50 mentions and 20 attachments"));
            }
            for (i, m) in rc.mentions.iter().enumerate() {
                line(m, &format!("richContent.mentions[{i}]"), 64)?;
            }
            for (i, a) in rc.attachments.iter().enumerate() {
                line(&a.name, &format!("richContent.attachments[{i}].name"), 255)?;
                attachment_url(&a.url, self.config.allow_http_attachments)
                    .map_err(|m| refuse("invalid_message", format!("`richContent.attachments[{i}].url` {m}")))?;
                if let Some(ct) = &a.content_type {
                    line(ct, &format!("richContent.attachments[{i}].contentType"), 127)?;
                }
            }
        }
        if let Some(t) = &input.annotation_target {
            line(&t.target_id, "annotationTarget.targetId", 200)?;
        }
        // a reply names a message of this room (one of the last `history` it holds)
        if let Some(parent) = input.parent_message_id
            && !self.messages.iter().any(|m| m.id == parent)
        {
            return Err(refuse(
                "invalid_message",
                format!("`parentMessageId` `{parent}` is not a message of this room"),
            ));
        }
        let message = ChatMessage {
            id: DealMessageId::from_uuid(ids.next_uuid()),
            room_id: self.room.id,
            sender_id: member.user_id,
            sender_name: member.name.clone(),
            sender_role: member.role,
            content: input.content,
            parent_message_id: input.parent_message_id,
            rich_content: input.rich_content.filter(|r| !r.mentions.is_empty() || !r.attachments.is_empty()),
            annotation_target: input.annotation_target,
            created_at: now,
        };
        self.messages.push_back(message.clone());
        while self.messages.len() > self.config.history {
            self.messages.pop_front();
        }
        self.room.last_activity_at = now;
        effects.push(Effect::PersistMessage(message.clone()));
        let frame = text(&ServerEvent::Chat { message: message.clone() });
        self.broadcast(&frame, None, effects);
        Ok(message)
    }

    /// A new annotation from `member`.
    pub fn annotate(
        &mut self,
        member: &Member,
        input: AnnotationInput,
        ids: &dyn IdGen,
        now: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<Annotation, Refusal> {
        if !member.permissions.can_annotate {
            return Err(refuse("annotate_forbidden", "you may not annotate in this room"));
        }
        line(&input.target_id, "targetId", 200)?;
        text_field(&input.content, "content", 5_000)?;
        let annotation = Annotation {
            id: AnnotationId::from_uuid(ids.next_uuid()),
            room_id: self.room.id,
            target_type: input.target_type,
            target_id: input.target_id,
            position: input.position,
            content: input.content,
            status: AnnotationStatus::Open,
            created_by: member.user_id,
            created_at: now,
            updated_at: now,
            resolved_by: None,
            resolved_at: None,
        };
        self.annotations.push(annotation.clone());
        effects.push(Effect::PersistAnnotation(annotation.clone()));
        let frame = text(&ServerEvent::AnnotationCreated { annotation: annotation.clone() });
        self.broadcast(&frame, None, effects);
        Ok(annotation)
    }

    /// A change of an annotation by `member`: its status (open, resolved, dismissed) or its note.
    pub fn change_annotation(
        &mut self,
        member: &Member,
        id: AnnotationId,
        change: &AnnotationChange,
        now: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<Annotation, Refusal> {
        if !member.permissions.can_annotate {
            return Err(refuse("annotate_forbidden", "you may not annotate in this room"));
        }
        if let Some(c) = &change.content {
            text_field(c, "content", 5_000)?;
        }
        let Some(a) = self.annotations.iter_mut().find(|a| a.id == id) else {
            return Err(refuse("not_found", format!("annotation `{id}` not found")));
        };
        if let Some(status) = change.status {
            a.status = status;
            match status {
                AnnotationStatus::Open => {
                    a.resolved_by = None;
                    a.resolved_at = None;
                }
                AnnotationStatus::Resolved | AnnotationStatus::Dismissed => {
                    a.resolved_by = Some(member.user_id);
                    a.resolved_at = Some(now);
                }
            }
        }
        if let Some(c) = &change.content {
            a.content.clone_from(c);
        }
        a.updated_at = now;
        let annotation = a.clone();
        effects.push(Effect::PersistAnnotation(annotation.clone()));
        let frame = text(&ServerEvent::AnnotationUpdated { annotation: annotation.clone() });
        self.broadcast(&frame, None, effects);
        Ok(annotation)
    }

    /// A binary frame (a Yjs update) from a connection.
    pub fn binary(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<Effect> {
        let Some(member) = self.conns.get(&conn) else { return vec![] };
        let refuse_with = |code: &str, message: String| vec![Effect::Send { conn, frame: error_frame(code, message) }];
        if bytes.len() > self.config.max_binary_bytes {
            return refuse_with(
                "frame_too_large",
                format!("binary frames are limited to {} bytes", self.config.max_binary_bytes),
            );
        }
        if !member.permissions.can_edit {
            return refuse_with("edit_forbidden", "you may not edit the notepad: the update was not applied".into());
        }
        let integrated = match self.integrate(bytes) {
            Ok(integrated) => integrated,
            Err(r) => return refuse_with(r.code, r.message),
        };
        let mut effects = Vec::with_capacity(self.conns.len() + 1);
        let frame = Frame::Binary(bytes.into());
        self.broadcast(&frame, Some(conn), &mut effects);
        self.pending.push(integrated);
        if self.pending.len() >= self.config.persist_every as usize {
            effects.push(self.checkpoint());
        }
        effects
    }

    /// Applies a client's update to the notepad, or refuses it (`invalid_update`): checked by the
    /// [`guard`] before `yrs` decodes it, cut down to what the room lacks, refused when it depends
    /// on edits the room never received. Returns what the document took in, as `yrs` writes it.
    fn integrate(&mut self, bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
        let invalid = |message: String| refuse("invalid_update", message);
        guard::check_update_v1(bytes).map_err(|e| invalid(format!("not a Yjs update: {e}")))?;
        let mut update = Update::decode_v1(bytes).map_err(|e| invalid(format!("not a Yjs update: {e}")))?;
        let state = self.doc.transact().state_vector();
        // what the room applies: the update without what the room has already
        let mut applied = Cow::Borrowed(bytes);
        if overlaps(&update, &state) {
            let trimmed = yrs::diff_updates_v1(bytes, &state.encode_v1())
                .map_err(|e| invalid(format!("not a Yjs update: {e}")))?;
            update = Update::decode_v1(&trimmed).map_err(|e| invalid(format!("not a Yjs update: {e}")))?;
            applied = Cow::Owned(trimmed);
        }
        if let Some((client, clock)) = hole(&update, &state) {
            return Err(invalid(format!(
                "the update starts client {client}'s edits at clock {clock}, past what the room has: \
                 it depends on edits that never reached the room"
            )));
        }
        if let Some((client, clock)) = missing_reference(&applied, &update, &state) {
            return Err(invalid(format!(
                "the update refers to client {client}'s clock {clock}, which the room does not have: \
                 it depends on edits that never reached the room"
            )));
        }
        let (outcome, stranded, integrated) = {
            let mut txn = self.doc.transact_mut();
            let outcome = txn.apply_update(update);
            // what yrs could not integrate (only a forged update: references in a cycle) leaves
            // the document, so that nothing is ever pending
            let stranded = txn.store().pending_update().is_some() || txn.store().pending_ds().is_some();
            if stranded {
                txn.prune_pending();
            }
            // what the document took in, as yrs writes it: the store keeps this rather than the
            // client's bytes, so that replaying it in one transaction gives the same document
            // (yrs resolves a parent given by ID differently once a deleted one was collected)
            (outcome, stranded, txn.encode_update_v1())
        };
        if let Err(e) = outcome {
            self.rewrite = true;
            return Err(invalid(format!("the update could not be applied: {e}")));
        }
        if stranded {
            self.rewrite = true;
            return Err(invalid(
                "part of the update could not be integrated (its blocks refer to each other in a cycle): \
                 only the rest was applied"
                    .into(),
            ));
        }
        Ok(integrated)
    }

    /// The pending updates merged and appended, or every [`HubConfig::compact_every`] appends
    /// the whole document.
    fn checkpoint(&mut self) -> Effect {
        let pending = std::mem::take(&mut self.pending);
        self.appends += 1;
        if self.appends < self.config.compact_every
            && !self.rewrite
            && let Ok(merged) = yrs::merge_updates_v1(pending.iter().map(Vec::as_slice))
        {
            return Effect::AppendDocument(merged);
        }
        self.appends = 0;
        self.rewrite = false;
        Effect::PersistDocument(self.document())
    }

    /// Takes back a connection that was open before the hub was rebuilt (a Durable Object woken
    /// from hibernation keeps its sockets but not its memory): the connection is a member again,
    /// and nothing is sent, since the client already has the room.
    pub fn reattach(&mut self, conn: ConnId, user: UserId) {
        let member = self.member(user);
        self.conns.insert(conn, member);
    }

    /// Whether the notepad changed since the store last heard of it.
    pub fn unsaved(&self) -> bool {
        !self.pending.is_empty() || self.rewrite
    }

    /// The notepad holds changes the store has not heard of (a host restored them from its own
    /// copy): the next write is the whole document.
    pub fn mark_unsaved(&mut self) {
        self.rewrite = true;
    }

    /// Writes the whole document now if it changed since the store last heard of it (the last
    /// client leaving, a host unloading the room or shutting down).
    pub fn flush(&mut self) -> Option<Effect> {
        (!self.pending.is_empty() || self.rewrite).then(|| {
            self.pending.clear();
            self.appends = 0;
            self.rewrite = false;
            Effect::PersistDocument(self.document())
        })
    }
}
