//! The [`DealRoomStore`] conformance suite: every adapter's tests call [`all`], the entry point
//! that runs every suite of this crate. `run` keeps the ids of separate runs apart, so a
//! persistent backend can run the suite twice on one database: pass a different value each run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, reason = "test support")]

use chrono::{DateTime, Duration, Utc};
use openinsure_core::Error;
use openinsure_core::ids::{AnnotationId, DealMessageId, DealRoomId, OrgId};
use openinsure_core::store::Page;
use uuid::Uuid;

use crate::protocol::{Annotation, AnnotationStatus, ChatMessage, TargetType};
use crate::room::{DealRoom, NewParticipant, NewRoom, ParticipantRole, ParticipantStatus, RoomStatus};
use crate::store::DealRoomStore;

/// An id of run `run`: distinct per run and per `n`.
fn id<T: From<Uuid>>(run: u64, n: u64) -> T {
    T::from(Uuid::from_u64_pair(run, n))
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// A room of `org` on submission `sub` in run `run`, created by user 1.
pub fn sample_room(run: u64, org: u64, room: u64, sub: u64) -> (DealRoom, crate::room::Participant) {
    let input = NewRoom {
        org_id: None,
        submission_id: id(run, sub),
        title: format!("Room {room}"),
        description: None,
        allow_broker_access: true,
    };
    DealRoom::create(id(run, room), id(run, org), &input, id(run, org * 100 + 1), t0()).unwrap()
}

fn message(run: u64, room: DealRoomId, n: u64, at: DateTime<Utc>) -> ChatMessage {
    ChatMessage {
        id: DealMessageId::from_uuid(Uuid::from_u64_pair(run, 1000 + n)),
        room_id: room,
        sender_id: id(run, 1),
        sender_name: None,
        sender_role: ParticipantRole::LeadUnderwriter,
        content: format!("message {n}"),
        parent_message_id: None,
        rich_content: None,
        annotation_target: None,
        created_at: at,
    }
}

/// Every suite of this crate, for an adapter's tests.
pub async fn all(store: &dyn DealRoomStore, run: u64) {
    deal_room_store(store, run).await;
}

/// The [`DealRoomStore`] contract. Ids are distinct per `run`, so a persistent store can run it
/// again on the same database.
pub async fn deal_room_store(store: &dyn DealRoomStore, run: u64) {
    let org: OrgId = id(run, 1);
    let other: OrgId = id(run, 2);
    let (room, lead) = sample_room(run, 1, 10, 100);
    store.insert_room(org, &room, &lead).await.unwrap();
    assert_eq!(store.get_room(org, room.id).await.unwrap(), room);
    assert!(matches!(store.get_room(other, room.id).await, Err(Error::NotFound { .. })), "scoped to the org");
    assert_eq!(store.room_for_submission(org, room.submission_id).await.unwrap(), Some(room.clone()));
    assert_eq!(store.room_for_submission(other, room.submission_id).await.unwrap(), None);

    // one room per submission
    let (dup, dup_lead) = sample_room(run, 1, 11, 100);
    assert!(matches!(store.insert_room(org, &dup, &dup_lead).await, Err(Error::Conflict(_))));
    assert!(matches!(store.get_room(org, dup.id).await, Err(Error::NotFound { .. })), "nothing half-written");

    // listing by status, most recent activity first
    let (mut later, later_lead) = sample_room(run, 1, 12, 101);
    later.last_activity_at = t0() + Duration::hours(1);
    store.insert_room(org, &later, &later_lead).await.unwrap();
    let listed = store.list_rooms(org, RoomStatus::Active, Page::first()).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![later.id, room.id]);
    assert!(store.list_rooms(other, RoomStatus::Active, Page::first()).await.unwrap().is_empty());
    let mut archived = later.clone();
    archived.status = RoomStatus::Archived;
    store.update_room(org, &archived).await.unwrap();
    assert_eq!(store.list_rooms(org, RoomStatus::Archived, Page::first()).await.unwrap(), vec![archived.clone()]);
    assert!(matches!(store.update_room(other, &archived).await, Err(Error::NotFound { .. })));

    // participants: the lead, then an upsert that does not duplicate
    assert_eq!(store.participants(org, room.id).await.unwrap(), vec![lead.clone()]);
    let add = NewParticipant { name: Some("Ada".into()), ..NewParticipant::new(id(run, 7), ParticipantRole::Actuary) };
    let p = room.participant(None, &add, t0()).unwrap();
    store.upsert_participant(org, &p).await.unwrap();
    let removed = room.participant(Some(&p), &NewParticipant { remove: true, ..add.clone() }, t0()).unwrap();
    store.upsert_participant(org, &removed).await.unwrap();
    let all = store.participants(org, room.id).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|x| x.user_id == p.user_id).unwrap().status, ParticipantStatus::Left);
    assert!(matches!(store.participants(other, room.id).await, Err(Error::NotFound { .. })));
    store.touch_participant(org, room.id, p.user_id, t0() + Duration::minutes(3)).await.unwrap();
    let seen = store.participants(org, room.id).await.unwrap();
    assert_eq!(seen.iter().find(|x| x.user_id == p.user_id).unwrap().last_seen_at, Some(t0() + Duration::minutes(3)));

    // messages: newest first, paged, a repeat stored once
    for n in 0..5 {
        store.insert_message(org, &message(run, room.id, n, t0() + Duration::seconds(n as i64))).await.unwrap();
    }
    store.insert_message(org, &message(run, room.id, 4, t0() + Duration::seconds(4))).await.unwrap();
    let newest = store.messages(org, room.id, Page::new(2, 0)).await.unwrap();
    assert_eq!(newest.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["message 4", "message 3"]);
    let rest = store.messages(org, room.id, Page::new(10, 2)).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(matches!(store.messages(other, room.id, Page::first()).await, Err(Error::NotFound { .. })));
    let mut foreign = message(run, room.id, 9, t0());
    foreign.room_id = id(run, 999);
    assert!(matches!(store.insert_message(org, &foreign).await, Err(Error::NotFound { .. })));

    // annotations: upserted in place
    let mut a = Annotation {
        id: AnnotationId::from_uuid(Uuid::from_u64_pair(run, 77)),
        room_id: room.id,
        target_type: TargetType::Document,
        target_id: "doc_loss_runs".into(),
        position: None,
        content: "verify reserves".into(),
        status: AnnotationStatus::Open,
        created_by: id(run, 1),
        created_at: t0(),
        updated_at: t0(),
        resolved_by: None,
        resolved_at: None,
    };
    store.upsert_annotation(org, &a).await.unwrap();
    a.status = AnnotationStatus::Resolved;
    store.upsert_annotation(org, &a).await.unwrap();
    assert_eq!(store.annotations(org, room.id).await.unwrap(), vec![a.clone()]);
    assert!(matches!(store.annotations(other, room.id).await, Err(Error::NotFound { .. })));

    // the notepad
    assert!(store.load_document(org, room.id).await.unwrap().is_empty());
    store.append_document(org, room.id, &[1]).await.unwrap();
    store.save_document(org, room.id, &[1, 2, 3]).await.unwrap();
    store.append_document(org, room.id, &[4]).await.unwrap();
    store.append_document(org, room.id, &[5]).await.unwrap();
    assert_eq!(store.load_document(org, room.id).await.unwrap(), vec![vec![1, 2, 3], vec![4], vec![5]]);
    store.save_document(org, room.id, &[6, 7]).await.unwrap();
    assert_eq!(store.load_document(org, room.id).await.unwrap(), vec![vec![6, 7]], "a whole document compacts");
    assert!(matches!(store.load_document(other, room.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.save_document(other, room.id, &[9]).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.append_document(other, room.id, &[9]).await, Err(Error::NotFound { .. })));
}
