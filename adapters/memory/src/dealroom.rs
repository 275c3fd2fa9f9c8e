//! [`DealRoomStore`] in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{AnnotationId, DealMessageId, DealRoomId, OrgId, SubmissionId, UserId};
use openinsure_core::store::Page;
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{DealRoom, Participant, RoomStatus};
use openinsure_dealroom::store::DealRoomStore;

#[derive(Debug, Default)]
struct Tables {
    rooms: BTreeMap<(OrgId, DealRoomId), DealRoom>,
    by_submission: BTreeMap<(OrgId, SubmissionId), DealRoomId>,
    participants: BTreeMap<(OrgId, DealRoomId, UserId), Participant>,
    /// Messages by room, in arrival order, with an index of ids.
    messages: BTreeMap<(OrgId, DealRoomId), Vec<ChatMessage>>,
    message_ids: std::collections::BTreeSet<DealMessageId>,
    annotations: BTreeMap<(OrgId, DealRoomId), Vec<AnnotationId>>,
    annotation_records: BTreeMap<AnnotationId, Annotation>,
    /// The last whole document, then the updates appended since.
    documents: BTreeMap<(OrgId, DealRoomId), Vec<Vec<u8>>>,
}

impl Tables {
    fn room(&self, org: OrgId, id: DealRoomId) -> Result<&DealRoom> {
        self.rooms.get(&(org, id)).ok_or_else(|| Error::not_found("deal room", id))
    }
}

/// Deal rooms, participants, messages, annotations and notepads in memory. Clones share data.
#[derive(Clone, Debug, Default)]
pub struct MemoryDealRooms {
    inner: Arc<RwLock<Tables>>,
}

impl MemoryDealRooms {
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl DealRoomStore for MemoryDealRooms {
    async fn insert_room(&self, org: OrgId, room: &DealRoom, lead: &Participant) -> Result<()> {
        if room.org_id != org {
            return Err(Error::Forbidden("the room belongs to another org".into()));
        }
        let mut t = self.write();
        if t.by_submission.contains_key(&(org, room.submission_id)) {
            return Err(Error::Conflict(format!("submission `{}` already has a deal room", room.submission_id)));
        }
        if t.rooms.contains_key(&(org, room.id)) {
            return Err(Error::Conflict(format!("deal room `{}` already exists", room.id)));
        }
        t.rooms.insert((org, room.id), room.clone());
        t.by_submission.insert((org, room.submission_id), room.id);
        t.participants.insert((org, room.id, lead.user_id), lead.clone());
        Ok(())
    }

    async fn get_room(&self, org: OrgId, id: DealRoomId) -> Result<DealRoom> {
        self.read().room(org, id).cloned()
    }

    async fn room_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Option<DealRoom>> {
        let t = self.read();
        Ok(t.by_submission.get(&(org, submission)).and_then(|id| t.rooms.get(&(org, *id))).cloned())
    }

    async fn list_rooms(&self, org: OrgId, status: RoomStatus, page: Page) -> Result<Vec<DealRoom>> {
        let t = self.read();
        let mut rooms: Vec<&DealRoom> = t
            .rooms
            .range((org, DealRoomId::from_uuid(uuid::Uuid::nil()))..)
            .take_while(|((o, _), _)| *o == org)
            .map(|(_, r)| r)
            .filter(|r| r.status == status)
            .collect();
        rooms.sort_by(|a, b| b.last_activity_at.cmp(&a.last_activity_at).then(b.id.cmp(&a.id)));
        Ok(rooms.into_iter().skip(page.offset as usize).take(page.limit as usize).cloned().collect())
    }

    async fn update_room(&self, org: OrgId, room: &DealRoom) -> Result<()> {
        let mut t = self.write();
        let stored = t.rooms.get_mut(&(org, room.id)).ok_or_else(|| Error::not_found("deal room", room.id))?;
        *stored = room.clone();
        Ok(())
    }

    async fn upsert_participant(&self, org: OrgId, participant: &Participant) -> Result<()> {
        let mut t = self.write();
        t.room(org, participant.room_id)?;
        t.participants.insert((org, participant.room_id, participant.user_id), participant.clone());
        Ok(())
    }

    async fn participants(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Participant>> {
        let t = self.read();
        t.room(org, room)?;
        Ok(t.participants
            .range((org, room, UserId::from_uuid(uuid::Uuid::nil()))..)
            .take_while(|((o, r, _), _)| *o == org && *r == room)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn touch_participant(&self, org: OrgId, room: DealRoomId, user: UserId, at: DateTime<Utc>) -> Result<()> {
        let mut t = self.write();
        t.room(org, room)?;
        if let Some(p) = t.participants.get_mut(&(org, room, user)) {
            p.last_seen_at = Some(at);
        }
        Ok(())
    }

    async fn insert_message(&self, org: OrgId, message: &ChatMessage) -> Result<()> {
        let mut t = self.write();
        t.room(org, message.room_id)?;
        if !t.message_ids.insert(message.id) {
            return Ok(());
        }
        t.messages.entry((org, message.room_id)).or_default().push(message.clone());
        if let Some(r) = t.rooms.get_mut(&(org, message.room_id)) {
            r.last_activity_at = r.last_activity_at.max(message.created_at);
        }
        Ok(())
    }

    async fn messages(&self, org: OrgId, room: DealRoomId, page: Page) -> Result<Vec<ChatMessage>> {
        let t = self.read();
        t.room(org, room)?;
        let Some(all) = t.messages.get(&(org, room)) else { return Ok(vec![]) };
        let mut sorted: Vec<&ChatMessage> = all.iter().collect();
        sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(sorted.into_iter().skip(page.offset as usize).take(page.limit as usize).cloned().collect())
    }

    async fn upsert_annotation(&self, org: OrgId, annotation: &Annotation) -> Result<()> {
        let mut t = self.write();
        t.room(org, annotation.room_id)?;
        if t.annotation_records.insert(annotation.id, annotation.clone()).is_none() {
            t.annotations.entry((org, annotation.room_id)).or_default().push(annotation.id);
        }
        Ok(())
    }

    async fn annotations(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Annotation>> {
        let t = self.read();
        t.room(org, room)?;
        Ok(t.annotations
            .get(&(org, room))
            .map(|ids| ids.iter().filter_map(|id| t.annotation_records.get(id)).cloned().collect())
            .unwrap_or_default())
    }

    async fn save_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()> {
        let mut t = self.write();
        t.room(org, room)?;
        t.documents.insert((org, room), vec![update.to_vec()]);
        Ok(())
    }

    async fn append_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()> {
        let mut t = self.write();
        t.room(org, room)?;
        t.documents.entry((org, room)).or_default().push(update.to_vec());
        Ok(())
    }

    async fn load_document(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Vec<u8>>> {
        let t = self.read();
        t.room(org, room)?;
        Ok(t.documents.get(&(org, room)).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_deal_room_store_suite() {
        let store = MemoryDealRooms::default();
        openinsure_dealroom::testkit::all(&store, 1).await;
        openinsure_dealroom::testkit::all(&store, 2).await;
    }
}
