//! The WebSocket protocol: every client message and server event of the seed, as typed serde
//! enums with the seed's `type` names and camelCase fields. Binary frames carry Yjs updates.

use chrono::{DateTime, Utc};
use openinsure_core::ids::{AnnotationId, DealMessageId, DealRoomId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::room::{DealRoom, Participant, ParticipantRole, Permissions};

/// What an annotation (or a message's annotation target) points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    /// A field of the submission.
    Field,
    /// A document (loss runs, applications).
    Document,
    /// An image.
    Image,
    /// A section of a document.
    Section,
}

/// A rectangle on a document or image, in the client's coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Position {
    /// Left.
    pub x: i64,
    /// Top.
    pub y: i64,
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
}

impl Eq for Position {}

/// A file shared in a chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attachment {
    /// File name.
    #[schemars(length(min = 1, max = 255), pattern(openinsure_core::text::LINE_PATTERN))]
    pub name: String,
    /// Where it is.
    #[schemars(length(min = 9, max = 2048), regex(pattern = r"^https://[^\s/?#@]+"))]
    pub url: String,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 127), pattern(openinsure_core::text::LINE_PATTERN))]
    pub content_type: Option<String>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Mentions and attachments of a chat message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RichContent {
    /// Users mentioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Files shared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// The document field or coordinate a chat message is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnnotationTarget {
    /// What it points at.
    pub target_type: TargetType,
    /// Which one.
    #[schemars(length(min = 1, max = 200), pattern(openinsure_core::text::LINE_PATTERN))]
    pub target_id: String,
    /// Where on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// An annotation the message comments on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_id: Option<AnnotationId>,
}

/// A chat message as stored and sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Its id.
    pub id: DealMessageId,
    /// The room.
    pub room_id: DealRoomId,
    /// Who sent it.
    pub sender_id: UserId,
    /// The sender's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// The sender's role in the room.
    pub sender_role: ParticipantRole,
    /// The text.
    pub content: String,
    /// The message it replies to (threads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_message_id: Option<DealMessageId>,
    /// Mentions and attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich_content: Option<RichContent>,
    /// What it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_target: Option<AnnotationTarget>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An annotation's lifecycle: open, then resolved or dismissed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationStatus {
    /// Needs attention.
    Open,
    /// Dealt with.
    Resolved,
    /// Set aside.
    Dismissed,
}

/// An annotation on a field, document, image or section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// Its id.
    pub id: AnnotationId,
    /// The room.
    pub room_id: DealRoomId,
    /// What it points at.
    pub target_type: TargetType,
    /// Which one.
    pub target_id: String,
    /// Where on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The note.
    pub content: String,
    /// Open, resolved or dismissed.
    pub status: AnnotationStatus,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The last change.
    pub updated_at: DateTime<Utc>,
    /// Who resolved or dismissed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<UserId>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A message a client sends (a JSON text frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// A chat message (a reply with `parentMessageId`).
    Chat {
        /// The text, 1 to 10,000 characters.
        content: String,
        /// The message replied to.
        #[serde(default)]
        parent_message_id: Option<DealMessageId>,
        /// Mentions and attachments.
        #[serde(default)]
        rich_content: Option<RichContent>,
        /// What it is about.
        #[serde(default)]
        annotation_target: Option<AnnotationTarget>,
    },
    /// Typing or not.
    Typing {
        /// Whether the user is typing.
        is_typing: bool,
    },
    /// A new annotation.
    Annotation {
        /// What it points at.
        target_type: TargetType,
        /// Which one.
        target_id: String,
        /// Where on it.
        #[serde(default)]
        position: Option<Position>,
        /// The note.
        content: String,
    },
    /// A change of an annotation's status or content.
    AnnotationUpdate {
        /// Which annotation.
        annotation_id: AnnotationId,
        /// A new status.
        #[serde(default)]
        status: Option<AnnotationStatus>,
        /// A new note.
        #[serde(default)]
        content: Option<String>,
    },
    /// Cursor and selection state, relayed to the others as it is.
    Awareness {
        /// The state (any JSON, at most 4 KiB).
        state: Value,
    },
    /// An emoji reaction to a message.
    Reaction {
        /// The message.
        message_id: DealMessageId,
        /// The emoji, 1 to 16 characters.
        emoji: String,
    },
    /// The client's Yjs state vector (base64): the server answers with a binary frame holding
    /// only what the client lacks.
    Sync {
        /// `Y.encodeStateVector(doc)`, base64.
        state_vector: String,
    },
}

/// Someone in the room, for presence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: ParticipantRole,
    /// A display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether they are connected now.
    pub online: bool,
}

/// What the server says about the connected user in `init`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct You {
    /// The user.
    pub user_id: UserId,
    /// Their role in the room.
    pub role: ParticipantRole,
    /// What they may do.
    #[serde(flatten)]
    pub permissions: Permissions,
}

/// An event the server sends (a JSON text frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum ServerEvent {
    /// The room on connect: state, participants, the last 50 messages (oldest first), every
    /// annotation. The notepad's Yjs state follows as one binary frame.
    Init {
        /// The room.
        room: DealRoom,
        /// Its participants (not those who left).
        participants: Vec<Participant>,
        /// Who is here.
        online: Vec<UserId>,
        /// The last 50 messages, oldest first.
        messages: Vec<ChatMessage>,
        /// Every annotation.
        annotations: Vec<Annotation>,
        /// The connected user.
        you: You,
    },
    /// A new chat message.
    Chat {
        /// The message with its sender and time.
        message: ChatMessage,
    },
    /// Someone's typing indicator.
    Typing {
        /// Who.
        user_id: UserId,
        /// Typing or not.
        is_typing: bool,
    },
    /// Someone connected.
    ParticipantJoined {
        /// Who.
        user_id: UserId,
        /// Everyone, with who is online.
        participants: Vec<Presence>,
    },
    /// Someone disconnected (their last connection).
    ParticipantLeft {
        /// Who.
        user_id: UserId,
        /// Everyone, with who is online.
        participants: Vec<Presence>,
    },
    /// A new annotation.
    AnnotationCreated {
        /// It.
        annotation: Annotation,
    },
    /// An annotation changed.
    AnnotationUpdated {
        /// It, as it is now.
        annotation: Annotation,
    },
    /// Someone's cursor and selection.
    Awareness {
        /// Who.
        user_id: UserId,
        /// Their state.
        state: Value,
    },
    /// A reaction to a message.
    Reaction {
        /// The message.
        message_id: DealMessageId,
        /// Who.
        user_id: UserId,
        /// The emoji.
        emoji: String,
    },
    /// A frame of this client's was refused; the room and the others are unaffected.
    Error {
        /// A stable code (`invalid_message`, `chat_forbidden`, `edit_forbidden`, ...).
        code: String,
        /// What happened.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_messages_use_the_seed_shapes() {
        let chat: ClientMessage = serde_json::from_value(json!({
            "type": "chat",
            "content": "The loss runs look clean. Ready to quote.",
            "richContent": { "mentions": ["usr_01J8"] }
        }))
        .unwrap();
        assert!(matches!(chat, ClientMessage::Chat { ref content, .. } if content.starts_with("The loss")));
        let annotation: ClientMessage = serde_json::from_value(json!({
            "type": "annotation",
            "targetType": "document",
            "targetId": "doc_loss_runs_2025",
            "position": { "x": 120, "y": 340, "width": 200, "height": 50 },
            "content": "Prior carrier shows $80k in open reserves — verify"
        }))
        .unwrap();
        assert!(matches!(annotation, ClientMessage::Annotation { target_type: TargetType::Document, .. }));
        let typing: ClientMessage = serde_json::from_value(json!({ "type": "typing", "isTyping": true })).unwrap();
        assert_eq!(typing, ClientMessage::Typing { is_typing: true });
        assert!(serde_json::from_value::<ClientMessage>(json!({ "type": "shout" })).is_err());
        assert!(
            serde_json::from_value::<ClientMessage>(json!({ "type": "typing", "isTyping": true, "x": 1 })).is_err()
        );
    }

    #[test]
    fn server_events_carry_the_seed_type_names() {
        let e = ServerEvent::Typing { user_id: UserId::from_uuid(uuid::Uuid::nil()), is_typing: true };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "typing");
        assert_eq!(v["isTyping"], true);
        let e = ServerEvent::ParticipantJoined { user_id: UserId::from_uuid(uuid::Uuid::nil()), participants: vec![] };
        assert_eq!(serde_json::to_value(&e).unwrap()["type"], "participant_joined");
    }
}
