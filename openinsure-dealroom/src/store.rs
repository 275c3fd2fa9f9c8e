//! The deal room store port: rooms, participants, messages, annotations and the notepad, every
//! call scoped to an org.

use async_trait::async_trait;
use openinsure_core::Result;
use openinsure_core::ids::{DealRoomId, OrgId, SubmissionId, UserId};
use openinsure_core::store::Page;

use crate::protocol::{Annotation, ChatMessage};
use crate::room::{DealRoom, Participant, RoomStatus};

/// Where deal rooms live. Every method takes the caller's org; another org's room is `NotFound`.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait DealRoomStore: openinsure_core::ports::MaybeSendSync {
    /// Stores a new room with its lead participant. `Conflict` when the submission has a room.
    async fn insert_room(&self, org: OrgId, room: &DealRoom, lead: &Participant) -> Result<()>;

    /// A room.
    async fn get_room(&self, org: OrgId, id: DealRoomId) -> Result<DealRoom>;

    /// The room of a submission, if any.
    async fn room_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Option<DealRoom>>;

    /// Rooms of one status, most recent activity first.
    async fn list_rooms(&self, org: OrgId, status: RoomStatus, page: Page) -> Result<Vec<DealRoom>>;

    /// Replaces a room (its status, title, activity time).
    async fn update_room(&self, org: OrgId, room: &DealRoom) -> Result<()>;

    /// Inserts or replaces the participant record of (room, user).
    async fn upsert_participant(&self, org: OrgId, participant: &Participant) -> Result<()>;

    /// Every participant record of a room, those who left included.
    async fn participants(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Participant>>;

    /// Records when a participant was last connected.
    async fn touch_participant(
        &self,
        org: OrgId,
        room: DealRoomId,
        user: UserId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()>;

    /// Stores a message; storing the same id again changes nothing (at-least-once delivery).
    async fn insert_message(&self, org: OrgId, message: &ChatMessage) -> Result<()>;

    /// A room's messages, newest first.
    async fn messages(&self, org: OrgId, room: DealRoomId, page: Page) -> Result<Vec<ChatMessage>>;

    /// Inserts or replaces an annotation.
    async fn upsert_annotation(&self, org: OrgId, annotation: &Annotation) -> Result<()>;

    /// A room's annotations, oldest first.
    async fn annotations(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Annotation>>;

    /// Stores the whole notepad (a Yjs update holding the whole document), replacing what was
    /// stored and appended before (a compaction).
    async fn save_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()>;

    /// Appends an incremental Yjs update to the stored notepad.
    async fn append_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()>;

    /// The stored notepad: the last whole document, then the updates appended since, in order
    /// (empty when nothing was stored). Applying them all in order rebuilds the document.
    async fn load_document(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Vec<u8>>>;
}

/// What a room's hub is built from, as the store holds it.
#[derive(Clone, Debug, Default)]
pub struct StoredRoom {
    /// The participants.
    pub participants: Vec<Participant>,
    /// The latest messages, at most the hub's history, oldest first.
    pub recent: Vec<ChatMessage>,
    /// Every annotation.
    pub annotations: Vec<Annotation>,
    /// The notepad as stored: a whole document and the appends since.
    pub document: Vec<Vec<u8>>,
}

/// Reads what `room`'s hub is built from, with the latest `history` messages: every host that
/// loads a room (a native room task, a Workers Durable Object) reads it this one way.
pub async fn load_room(store: &dyn DealRoomStore, room: &DealRoom, history: usize) -> Result<StoredRoom> {
    const PAGE: u32 = 200;
    let participants = store.participants(room.org_id, room.id).await?;
    let mut recent = Vec::new();
    for page in 0..u32::try_from(history.div_ceil(PAGE as usize)).unwrap_or(u32::MAX) {
        let batch = store.messages(room.org_id, room.id, Page::new(PAGE, page * PAGE)).await?;
        let done = batch.len() < PAGE as usize;
        recent.extend(batch);
        if done {
            break;
        }
    }
    // the store lists newest first
    recent.reverse();
    let annotations = store.annotations(room.org_id, room.id).await?;
    let document = store.load_document(room.org_id, room.id).await?;
    Ok(StoredRoom { participants, recent, annotations, document })
}

/// Whether a room's write the store refused is worth trying again: a store that is down, busy or
/// failing (`Unavailable`, `Backend`) or a write that met another (`Conflict`). Anything else (a
/// room deleted meanwhile: `NotFound`) will never be taken, and is given up. Every host that
/// writes a room's messages, annotations and notepad in the background follows this one rule.
pub fn worth_retrying(error: &openinsure_core::Error) -> bool {
    use openinsure_core::Error as E;
    matches!(error, E::Unavailable(_) | E::Backend(_) | E::Conflict(_))
}

#[cfg(test)]
mod tests {
    use openinsure_core::Error;

    #[test]
    fn a_store_that_is_down_or_busy_is_retried_a_room_gone_is_not() {
        assert!(super::worth_retrying(&Error::Unavailable("down".into())));
        assert!(super::worth_retrying(&Error::Backend("deadlock".into())));
        assert!(super::worth_retrying(&Error::Conflict("busy".into())));
        assert!(!super::worth_retrying(&Error::NotFound { entity: "deal room", id: "x".into() }));
        assert!(!super::worth_retrying(&Error::Forbidden("no".into())));
    }
}
