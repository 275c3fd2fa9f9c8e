//! A deal room hub with an editor and a viewer, fed a sequence of frames decoded from the input.
//! It must never panic, whatever the frames; what it persists must load again; and what the
//! guard passes, `yrs` decodes (the guard mirrors its decoder; only embedded JSON it leaves to
//! `yrs`).
//!
//! The input is a sequence of records: a selector byte, a 16-bit little-endian length, then that
//! many bytes of payload (fewer at the end of the input). The selector picks what the payload is:
//!
//! | selector % 10 | frame                                                             |
//! |---------------|-------------------------------------------------------------------|
//! | 0             | a binary frame (a Yjs update) from the editor                     |
//! | 1             | a binary frame from the viewer                                    |
//! | 2             | a text frame from the editor, the payload as (lossy) UTF-8         |
//! | 3             | a text frame from the viewer                                      |
//! | 4             | `{"type":"sync","stateVector":"<base64 of the payload>"}`, editor |
//! | 5             | the same from the viewer                                          |
//! | 6             | a new connection (editor if the selector's high bit is set) giving the payload as its state vector; an empty payload gives none |
//! | 7             | the last extra connection closes                                  |
//! | 8             | an update of one item holding the payload as `Any` values, editor |
//! | 9             | a chat message from the editor with the payload as its content    |
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use openinsure_core::clock::SequentialIds;
use openinsure_core::ids::UserId;
use openinsure_dealroom::guard::{check_state_vector_v1, check_update_v1};
use openinsure_dealroom::hub::{Effect, Hub, HubConfig};
use openinsure_dealroom::room::{DealRoom, NewParticipant, NewRoom, ParticipantRole};
use serde_json::json;
use uuid::Uuid;
use yrs::encoding::read::Error as ReadError;
use yrs::updates::decoder::Decode;
use yrs::{StateVector, Update};

const EDITOR: u64 = 1;
const VIEWER: u64 = 2;

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn hub(config: HubConfig) -> Option<Hub> {
    let now = DateTime::from_timestamp(1_800_000_000, 0)?;
    let input = NewRoom {
        org_id: None,
        submission_id: Uuid::from_u128(99).into(),
        title: "Acme GL".into(),
        description: None,
        allow_broker_access: false,
    };
    let (room, lead) =
        DealRoom::create(Uuid::from_u128(77).into(), Uuid::from_u128(8).into(), &input, user(1), now).ok()?;
    let viewer = room.participant(None, &NewParticipant::new(user(2), ParticipantRole::Viewer), now).ok()?;
    Hub::new(room, vec![lead, viewer], vec![], vec![], &[], config).ok()
}

/// An update of client 7 with one item under key `k` of the root map `m`: `payload` is the
/// `Any` content (its count and values), so the fuzzer reaches `Any` decoding in one step.
fn any_update(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![1, 1, 7, 0, 8 | 0x20, 1, 1, b'm', 1, b'k'];
    u.extend_from_slice(payload);
    u.push(0);
    u
}

/// The documents the hub asked to store, replayed as a store would hold them.
fn record(stored: &mut Vec<Vec<u8>>, effects: &[Effect]) {
    for effect in effects {
        match effect {
            Effect::PersistDocument(d) => *stored = vec![d.clone()],
            Effect::AppendDocument(d) => stored.push(d.clone()),
            _ => {}
        }
    }
}

/// What the guard passes, yrs decodes.
fn agrees(payload: &[u8]) {
    if check_update_v1(payload).is_ok() {
        match Update::decode_v1(payload) {
            Ok(_) | Err(ReadError::InvalidJSON(_)) => {}
            Err(e) => panic!("the guard passed an update yrs refuses: {e}"),
        }
    }
    if check_state_vector_v1(payload).is_ok()
        && let Err(e) = StateVector::decode_v1(payload)
    {
        panic!("the guard passed a state vector yrs refuses: {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let config = HubConfig { persist_every: 3, compact_every: 4, ..HubConfig::default() };
    let Some(mut h) = hub(config) else { return };
    let ids = SequentialIds::new(1);
    let Some(now) = DateTime::from_timestamp(1_800_000_000, 0) else { return };
    let mut stored: Vec<Vec<u8>> = Vec::new();
    h.connect(EDITOR, user(1), None);
    h.connect(VIEWER, user(2), None);
    let mut extra: Vec<u64> = Vec::new();
    let mut next_conn = 10;

    let mut rest = data;
    while let [selector, rest_after_selector @ ..] = rest {
        let (len, after) = match rest_after_selector {
            [lo, hi, after @ ..] => (usize::from(*lo) | usize::from(*hi) << 8, after),
            _ => (0, &[][..]),
        };
        let len = len.min(after.len());
        let (payload, next) = after.split_at(len);
        rest = next;

        agrees(payload);
        let effects = match selector % 10 {
            0 => h.binary(EDITOR, payload),
            1 => h.binary(VIEWER, payload),
            2 => h.text(EDITOR, &String::from_utf8_lossy(payload), &ids, now),
            3 => h.text(VIEWER, &String::from_utf8_lossy(payload), &ids, now),
            4 | 5 => {
                let frame = json!({ "type": "sync", "stateVector": STANDARD.encode(payload) }).to_string();
                h.text(if selector % 10 == 4 { EDITOR } else { VIEWER }, &frame, &ids, now)
            }
            6 => {
                let conn = next_conn;
                next_conn += 1;
                extra.push(conn);
                let who = if selector & 0x80 != 0 { user(1) } else { user(2) };
                h.connect(conn, who, (!payload.is_empty()).then_some(payload))
            }
            7 => match extra.pop() {
                Some(conn) => h.disconnect(conn, now),
                None => vec![],
            },
            8 => h.binary(EDITOR, &any_update(payload)),
            _ => {
                let frame = json!({ "type": "chat", "content": String::from_utf8_lossy(payload) }).to_string();
                h.text(EDITOR, &frame, &ids, now)
            }
        };
        record(&mut stored, &effects);
    }

    // the room still answers, and what it stored loads again
    let effects = h.text(EDITOR, r#"{"type":"chat","content":"still here"}"#, &ids, now);
    assert!(effects.iter().any(|e| matches!(e, Effect::PersistMessage(_))), "the room stopped answering");
    let document = h.document();
    record(&mut stored, &h.flush().into_iter().collect::<Vec<_>>());
    let Some(reloaded) = hub(config) else { return };
    let room = reloaded.room().clone();
    if let Err(e) = Hub::new(room.clone(), vec![], vec![], vec![], &[document], config) {
        panic!("the hub's own document does not load: {e}");
    }
    if let Err(e) = Hub::new(room, vec![], vec![], vec![], &stored, config) {
        panic!("the stored documents do not load: {e}");
    }
});
