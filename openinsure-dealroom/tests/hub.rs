//! The hub's protocol, permission and persistence rules, on the state machine alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use chrono::{DateTime, Utc};
use openinsure_core::clock::SequentialIds;
use openinsure_core::ids::{DealMessageId, UserId};
use openinsure_dealroom::hub::{ConnId, Effect, Frame, Hub, HubConfig};
use openinsure_dealroom::protocol::ChatMessage;
use openinsure_dealroom::room::{
    DealRoom, NewParticipant, NewRoom, Participant, ParticipantRole, RoomPatch, RoomStatus,
};
use serde_json::{Value, json};
use uuid::Uuid;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

const LEAD: u128 = 1;
const UW: u128 = 2;
const ACTUARY: u128 = 3;
const VIEWER: u128 = 4;
const OUTSIDER: u128 = 5;

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn setup() -> (DealRoom, Vec<Participant>) {
    let input = NewRoom {
        org_id: None,
        submission_id: Uuid::from_u128(99).into(),
        title: "Acme GL".into(),
        description: None,
        allow_broker_access: false,
    };
    let (room, lead) =
        DealRoom::create(Uuid::from_u128(77).into(), Uuid::from_u128(8).into(), &input, user(LEAD), now()).unwrap();
    let mut people = vec![lead];
    for (n, role) in
        [(UW, ParticipantRole::Underwriter), (ACTUARY, ParticipantRole::Actuary), (VIEWER, ParticipantRole::Viewer)]
    {
        let add = NewParticipant { name: Some(format!("user {n}")), ..NewParticipant::new(user(n), role) };
        people.push(room.participant(None, &add, now()).unwrap());
    }
    (room, people)
}

fn hub() -> Hub {
    hub_with(HubConfig::default())
}

fn hub_with(config: HubConfig) -> Hub {
    let (room, people) = setup();
    Hub::new(room, people, vec![], vec![], &[], config).unwrap()
}

/// The JSON frames sent to `conn`.
fn texts(effects: &[Effect], conn: ConnId) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { conn: c, frame: Frame::Text(t) } if *c == conn => Some(serde_json::from_str(t).unwrap()),
            _ => None,
        })
        .collect()
}

fn binaries(effects: &[Effect], conn: ConnId) -> Vec<Vec<u8>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { conn: c, frame: Frame::Binary(b) } if *c == conn => Some(b.to_vec()),
            _ => None,
        })
        .collect()
}

fn sent_to(effects: &[Effect], conn: ConnId) -> usize {
    effects.iter().filter(|e| matches!(e, Effect::Send { conn: c, .. } if *c == conn)).count()
}

fn edit(doc: &Doc, at: u32, s: &str) -> Vec<u8> {
    let text = doc.get_or_insert_text("notepad");
    let before = doc.transact().state_vector();
    {
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, at, s);
    }
    doc.transact().encode_state_as_update_v1(&before)
}

fn chat(content: &str) -> String {
    json!({ "type": "chat", "content": content }).to_string()
}

#[test]
fn connecting_sends_init_then_the_notepad_then_presence() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    let editor = Doc::new();
    h.binary(1, &edit(&editor, 0, "Loss runs: clean."));
    for n in 0..60 {
        h.text(1, &chat(&format!("m{n}")), &ids, now());
    }
    let effects = h.connect(2, user(ACTUARY), None);
    let to_new = texts(&effects, 2);
    assert_eq!(to_new[0]["type"], "init");
    let init = &to_new[0];
    assert_eq!(init["messages"].as_array().unwrap().len(), 50, "the last 50 messages");
    assert_eq!(init["messages"][0]["content"], "m10");
    assert_eq!(init["participants"].as_array().unwrap().len(), 4);
    assert_eq!(init["you"]["role"], "actuary");
    assert_eq!(init["you"]["canEdit"], false);
    assert!(matches!(&effects[1], Effect::Send { conn: 2, frame: Frame::Binary(_) }), "the notepad right after init");
    let client = Doc::new();
    client.transact_mut().apply_update(Update::decode_v1(&binaries(&effects, 2)[0]).unwrap()).unwrap();
    assert_eq!(client.get_or_insert_text("notepad").get_string(&client.transact()), "Loss runs: clean.");
    let joined = texts(&effects, 1);
    assert_eq!(joined[0]["type"], "participant_joined");
    assert!(
        joined[0]["participants"].as_array().unwrap().iter().any(|p| p["online"] == true && p["role"] == "actuary")
    );
}

#[test]
fn chat_is_persisted_and_sent_to_everyone_with_threads_and_mentions() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    let e = h.text(1, &chat("The loss runs look clean. Ready to quote."), &ids, now());
    let persisted: Vec<&ChatMessage> =
        e.iter().filter_map(|e| if let Effect::PersistMessage(m) = e { Some(m) } else { None }).collect();
    assert_eq!(persisted.len(), 1);
    let to_uw = texts(&e, 2);
    assert_eq!(to_uw[0]["type"], "chat");
    assert_eq!(to_uw[0]["message"]["senderRole"], "lead_underwriter");
    assert_eq!(texts(&e, 1).len(), 1, "the sender gets its message back with id and time");
    let parent = persisted[0].id;
    let reply = json!({
        "type": "chat", "content": "Agreed", "parentMessageId": parent,
        "richContent": { "mentions": ["usr_01J8"], "attachments": [{ "name": "lr.pdf", "url": "https://x/lr.pdf" }] },
        "annotationTarget": { "targetType": "field", "targetId": "annualRevenue" }
    });
    let e = h.text(2, &reply.to_string(), &ids, now());
    let m = &texts(&e, 1)[0]["message"];
    assert_eq!(m["parentMessageId"], json!(parent));
    assert_eq!(m["richContent"]["mentions"][0], "usr_01J8");
    assert_eq!(m["annotationTarget"]["targetType"], "field");
}

#[test]
fn the_ring_keeps_the_last_thousand() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    for n in 0..1005 {
        h.text(1, &chat(&format!("m{n}")), &ids, now());
    }
    assert_eq!(h.messages().len(), 1000);
    assert_eq!(h.messages().front().unwrap().content, "m5");
}

#[test]
fn permissions_hold_on_the_server() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(VIEWER), None);
    h.connect(3, user(ACTUARY), None);
    h.connect(4, user(OUTSIDER), None);

    // a viewer cannot chat: an error to them only, nothing persisted, nothing to the others
    let e = h.text(2, &chat("hello"), &ids, now());
    assert_eq!(texts(&e, 2)[0]["code"], "chat_forbidden");
    assert!(!e.iter().any(|e| matches!(e, Effect::PersistMessage(_))));
    assert_eq!(sent_to(&e, 1) + sent_to(&e, 3), 0);
    // nor annotate; an outsider (not a participant) is a viewer
    let note = json!({ "type": "annotation", "targetType": "document", "targetId": "d", "content": "x" }).to_string();
    assert_eq!(texts(&h.text(2, &note, &ids, now()), 2)[0]["code"], "annotate_forbidden");
    assert_eq!(texts(&h.text(4, &chat("hi"), &ids, now()), 4)[0]["code"], "chat_forbidden");

    // an actuary annotates and chats but cannot edit: the update is refused, said so, not applied, not relayed
    let before = h.document();
    let doc = Doc::new();
    let e = h.binary(3, &edit(&doc, 0, "sneaky"));
    let err = &texts(&e, 3)[0];
    assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("edit_forbidden")));
    assert_eq!(e.len(), 1, "only the error frame");
    assert_eq!(h.document(), before);
    assert_eq!(h.document_text("notepad"), "");
    assert_eq!(texts(&h.text(3, &note, &ids, now()), 1)[0]["type"], "annotation_created");

    // a closed room takes every permission away, live
    let mut room = h.room().clone();
    room.apply(&RoomPatch { status: Some(RoomStatus::Closed), ..RoomPatch::default() }, user(LEAD), now()).unwrap();
    h.set_room(room);
    assert_eq!(texts(&h.text(1, &chat("after close"), &ids, now()), 1)[0]["code"], "chat_forbidden");
}

#[test]
fn permission_changes_apply_to_live_connections() {
    let ids = SequentialIds::new(1);
    let (room, mut people) = setup();
    let mut h = Hub::new(room, people.clone(), vec![], vec![], &[], HubConfig::default()).unwrap();
    h.connect(1, user(UW), None);
    assert!(
        !h.text(1, &chat("ok"), &ids, now())
            .iter()
            .any(|e| texts(std::slice::from_ref(e), 1).iter().any(|v| v["type"] == "error"))
    );
    people[1].permissions.can_chat = false;
    h.set_participants(people);
    assert_eq!(texts(&h.text(1, &chat("muted"), &ids, now()), 1)[0]["code"], "chat_forbidden");
}

#[test]
fn yjs_updates_are_applied_relayed_and_persisted_every_ten() {
    let (room, people) = setup();
    let config = HubConfig { compact_every: 3, ..HubConfig::default() };
    let mut h = Hub::new(room, people, vec![], vec![], &[], config).unwrap();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    h.connect(3, user(VIEWER), None);
    let doc = Doc::new();
    // what a store would hold: whole documents replace, appended merges follow
    let mut stored: Vec<Vec<u8>> = Vec::new();
    let mut writes = Vec::new();
    for n in 0..45u32 {
        let update = edit(&doc, n, "x");
        let e = h.binary(1, &update);
        assert_eq!(binaries(&e, 2), vec![update.clone()], "relayed as sent");
        assert_eq!(binaries(&e, 3).len(), 1, "viewers see edits");
        assert!(binaries(&e, 1).is_empty(), "not echoed to the sender");
        for effect in e {
            match effect {
                Effect::AppendDocument(d) => {
                    stored.push(d);
                    writes.push(("append", n));
                }
                Effect::PersistDocument(d) => {
                    stored = vec![d];
                    writes.push(("whole", n));
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        writes,
        [("append", 9), ("append", 19), ("whole", 29), ("append", 39)],
        "every 10th update; every 3rd write compacts"
    );
    assert_eq!(h.document_text("notepad"), "x".repeat(45));
    // the last client leaving writes the whole document and lets the room go idle
    h.disconnect(2, now());
    h.disconnect(3, now());
    let e = h.disconnect(1, now());
    let last = e.iter().find_map(|e| if let Effect::PersistDocument(d) = e { Some(d.clone()) } else { None }).unwrap();
    assert!(e.contains(&Effect::Idle));
    let reloaded = Hub::new(h.room().clone(), vec![], vec![], vec![], &[last], HubConfig::default()).unwrap();
    assert_eq!(reloaded.document_text("notepad"), "x".repeat(45));
    // the appended log alone rebuilds what was written up to its last write
    let replayed = Hub::new(h.room().clone(), vec![], vec![], vec![], &stored, HubConfig::default()).unwrap();
    assert_eq!(replayed.document_text("notepad"), "x".repeat(40));
}

#[test]
fn a_client_with_a_state_vector_receives_only_what_it_lacks() {
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    let doc = Doc::new();
    let long = "a".repeat(5000);
    h.binary(1, &edit(&doc, 0, &long));
    // a reconnecting client that has everything so far
    let client = Doc::new();
    client.transact_mut().apply_update(Update::decode_v1(&h.document()).unwrap()).unwrap();
    h.binary(1, &edit(&doc, 5000, "b"));
    let sv = client.transact().state_vector().encode_v1();
    let e = h.connect(2, user(UW), Some(&sv));
    let diff = &binaries(&e, 2)[0];
    assert!(diff.len() < 100, "only the missing edit: {} bytes", diff.len());
    client.transact_mut().apply_update(Update::decode_v1(diff).unwrap()).unwrap();
    assert_eq!(client.get_or_insert_text("notepad").get_string(&client.transact()), format!("{long}b"));
    // the same through a `sync` message on an open connection
    use base64::Engine as _;
    let sv = base64::engine::general_purpose::STANDARD.encode(client.transact().state_vector().encode_v1());
    let e = h.text(2, &json!({ "type": "sync", "stateVector": sv }).to_string(), &SequentialIds::new(1), now());
    let nothing = Update::decode_v1(&binaries(&e, 2)[0]).unwrap();
    assert_eq!(nothing.state_vector(), StateVector::default(), "nothing missing");
}

#[test]
fn garbage_gets_an_error_and_changes_nothing() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    for (frame, code) in [
        ("not json".to_owned(), "invalid_message"),
        (json!({ "type": "shout", "content": "x" }).to_string(), "invalid_message"),
        (json!({ "type": "chat" }).to_string(), "invalid_message"),
        (json!({ "type": "chat", "content": "" }).to_string(), "invalid_message"),
        (json!({ "type": "chat", "content": "x".repeat(70_000) }).to_string(), "frame_too_large"),
        (
            json!({ "type": "reaction", "messageId": DealMessageId::from_uuid(Uuid::nil()), "emoji": "" }).to_string(),
            "invalid_message",
        ),
        (json!({ "type": "sync", "stateVector": "%%%" }).to_string(), "invalid_state_vector"),
    ] {
        let e = h.text(1, &frame, &ids, now());
        assert_eq!(texts(&e, 1)[0]["code"], code, "{frame:.60}");
        assert_eq!(sent_to(&e, 2), 0, "others unaffected");
    }
    for bytes in [vec![0xff, 0x00, 0x13], vec![], vec![0u8; 2 * 1024 * 1024]] {
        let e = h.binary(1, &bytes);
        let code = texts(&e, 1)[0]["code"].as_str().unwrap().to_owned();
        assert!(code == "invalid_update" || code == "frame_too_large", "{code}");
        assert_eq!(sent_to(&e, 2), 0);
    }
    assert!(h.messages().is_empty());
    // the room still works
    assert_eq!(texts(&h.text(1, &chat("still here"), &ids, now()), 2)[0]["type"], "chat");
}

#[test]
fn annotations_typing_awareness_and_reactions() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(ACTUARY), None);
    let note = json!({
        "type": "annotation", "targetType": "document", "targetId": "doc_loss_runs_2025",
        "position": { "x": 120, "y": 340, "width": 200, "height": 50 },
        "content": "Prior carrier shows $80k in open reserves — verify"
    });
    let e = h.text(2, &note.to_string(), &ids, now());
    assert!(e.iter().any(|e| matches!(e, Effect::PersistAnnotation(_))));
    let created = &texts(&e, 1)[0];
    assert_eq!(created["type"], "annotation_created");
    assert_eq!(created["annotation"]["status"], "open");
    let id = created["annotation"]["id"].clone();
    let e = h.text(
        1,
        &json!({ "type": "annotation_update", "annotationId": id, "status": "resolved" }).to_string(),
        &ids,
        now(),
    );
    let updated = &texts(&e, 2)[0];
    assert_eq!(updated["type"], "annotation_updated");
    assert_eq!(updated["annotation"]["status"], "resolved");
    assert_eq!(updated["annotation"]["resolvedBy"], json!(user(LEAD)));
    for t in ["field", "image", "section"] {
        let n = json!({ "type": "annotation", "targetType": t, "targetId": "x", "content": "y" });
        assert_eq!(texts(&h.text(1, &n.to_string(), &ids, now()), 2)[0]["type"], "annotation_created");
    }

    let e = h.text(1, &json!({ "type": "typing", "isTyping": true }).to_string(), &ids, now());
    assert_eq!(texts(&e, 2)[0]["type"], "typing");
    assert_eq!(sent_to(&e, 1), 0, "not back to the typist");
    let e = h.text(
        1,
        &json!({ "type": "awareness", "state": { "cursor": { "anchor": 3, "head": 5 } } }).to_string(),
        &ids,
        now(),
    );
    assert_eq!(texts(&e, 2)[0]["state"]["cursor"]["head"], 5);
    assert_eq!(sent_to(&e, 1), 0);
    let m = h.text(1, &chat("quote?"), &ids, now());
    let mid = texts(&m, 2)[0]["message"]["id"].clone();
    let e = h.text(2, &json!({ "type": "reaction", "messageId": mid, "emoji": "👍" }).to_string(), &ids, now());
    assert_eq!(texts(&e, 1)[0]["emoji"], "👍");
}

#[test]
fn presence_follows_each_users_last_connection() {
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    let e = h.connect(2, user(UW), None);
    assert_eq!(texts(&e, 1)[0]["type"], "participant_joined");
    let e = h.connect(3, user(UW), None);
    assert!(texts(&e, 1).is_empty(), "a second tab is not a new arrival");
    assert!(h.disconnect(2, now()).iter().all(|e| !matches!(e, Effect::Seen { .. })));
    let e = h.disconnect(3, now());
    assert_eq!(texts(&e, 1)[0]["type"], "participant_left");
    assert!(e.contains(&Effect::Seen { user_id: user(UW), at: now() }));
    assert!(!e.contains(&Effect::Idle));
}

#[test]
fn replies_name_a_message_of_the_room_and_attachments_are_https_links() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    let refused = |h: &mut Hub, frame: serde_json::Value| {
        let e = h.text(1, &frame.to_string(), &ids, now());
        let to_sender = texts(&e, 1);
        assert_eq!(to_sender.len(), 1, "{frame}: only an error to the sender");
        assert_eq!(to_sender[0]["type"], "error", "{frame}");
        assert!(texts(&e, 2).is_empty(), "{frame}: nobody else hears of it");
        assert!(!e.iter().any(|x| matches!(x, Effect::PersistMessage(_))), "{frame}: nothing stored");
        to_sender[0]["message"].as_str().unwrap().to_owned()
    };
    let ghost = "0192f0c0-0000-7000-8000-00000000dead";
    let m = refused(&mut h, json!({ "type": "chat", "content": "re", "parentMessageId": ghost }));
    assert!(m.contains("parentMessageId") && m.contains(ghost), "{m}");
    for url in [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "http://example.com/a.pdf",
        "/relative.pdf",
        "https://",
        "https:// spaced.example/x",
    ] {
        let frame = json!({ "type": "chat", "content": "see", "richContent": { "attachments": [{ "name": "a.pdf", "url": url }] } });
        let m = refused(&mut h, frame);
        assert!(m.contains("attachments[0].url"), "{url}: {m}");
    }
    for content in ["nul\u{0}", "\u{1b}[2Jcleared", "   "] {
        refused(&mut h, json!({ "type": "chat", "content": content }));
    }
    refused(&mut h, json!({ "type": "annotation", "targetType": "field", "targetId": "a\u{1b}b", "content": "x" }));
    // multi-line chat keeps its newlines; https attachments pass
    let ok = json!({ "type": "chat", "content": "two\nlines\tok", "richContent": { "attachments": [{ "name": "lr.pdf", "url": "https://files.example/lr.pdf" }] } });
    let e = h.text(1, &ok.to_string(), &ids, now());
    assert_eq!(texts(&e, 2)[0]["type"], "chat");
    // http where configured
    let mut dev = hub_with(HubConfig { allow_http_attachments: true, ..HubConfig::default() });
    dev.connect(1, user(LEAD), None);
    let frame = json!({ "type": "chat", "content": "see", "richContent": { "attachments": [{ "name": "a.pdf", "url": "http://localhost:8080/a.pdf" }] } });
    let e = dev.text(1, &frame.to_string(), &ids, now());
    assert_eq!(texts(&e, 1)[0]["type"], "chat");
}

#[test]
fn a_frame_with_a_repeated_key_is_refused() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    let e = h.text(1, r#"{"type":"chat","content":"harmless","content":"the real one"}"#, &ids, now());
    let to_sender = texts(&e, 1);
    assert_eq!(to_sender[0]["type"], "error");
    assert!(to_sender[0]["message"].as_str().unwrap().contains("duplicate key `content`"), "{}", to_sender[0]);
    assert!(texts(&e, 2).is_empty());
}

/// A hub rebuilt after hibernation: the sockets that stayed open are members again without
/// being sent the room twice, and a notepad restored from the host's own copy is written whole
/// at the next checkpoint.
#[test]
fn a_rebuilt_hub_takes_back_its_connections_and_restored_edits() {
    let mut h = hub();
    let client = Doc::new();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    for i in 0..3 {
        h.binary(1, &edit(&client, i, "a"));
    }
    assert!(h.unsaved());
    // the object is evicted: the host kept its copy of the notepad, not the hub
    let copy = h.document();
    let (room, people) = setup();
    let mut woken = Hub::new(room, people, vec![], vec![], &[copy], HubConfig::default()).unwrap();
    assert!(!woken.unsaved(), "a fresh hub has nothing unsaved");
    woken.mark_unsaved();
    woken.reattach(1, user(LEAD));
    woken.reattach(2, user(UW));
    assert_eq!(woken.connections(), 2);
    // the next edit reaches the other connection; nothing was re-sent on reattaching
    let effects = woken.binary(1, &edit(&client, 3, "b"));
    assert_eq!(binaries(&effects, 2).len(), 1);
    assert_eq!(sent_to(&effects, 1), 0);
    assert_eq!(woken.document_text("notepad"), "aaab");
    // the last one leaving writes the whole document: the restored edits are not lost
    woken.disconnect(2, now());
    let effects = woken.disconnect(1, now());
    let whole = effects.iter().find_map(|e| match e {
        Effect::PersistDocument(d) => Some(d.clone()),
        _ => None,
    });
    let reloaded =
        Hub::new(setup().0, setup().1, vec![], vec![], &[whole.expect("the whole notepad")], HubConfig::default())
            .unwrap();
    assert_eq!(reloaded.document_text("notepad"), "aaab");
    assert!(!woken.unsaved());
}
