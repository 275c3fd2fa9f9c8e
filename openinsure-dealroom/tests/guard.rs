//! The guard in front of `yrs`: count bombs and deep nesting are refused before `yrs` decodes
//! them, and nothing `yrs` itself writes is ever refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openinsure_core::clock::SequentialIds;
use openinsure_core::ids::UserId;
use openinsure_dealroom::guard::{GuardError, MAX_ANY_DEPTH, check_state_vector_v1, check_update_v1};
use openinsure_dealroom::hub::{ConnId, Effect, Frame, Hub, HubConfig};
use openinsure_dealroom::room::{DealRoom, NewParticipant, NewRoom, Participant, ParticipantRole};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;
use yrs::encoding::read::Error as ReadError;
use yrs::types::Attrs;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ClientID, Doc, GetString, Map, Number, OffsetKind, Options, ReadTxn, StateVector, Text, Transact,
    Update, WriteTxn, Xml, XmlElementPrelim, XmlFragment, XmlTextPrelim,
};

const LEAD: u128 = 1;
const UW: u128 = 2;
const VIEWER: u128 = 4;

/// Five bytes declaring 2^32 - 1 entries: 40 s in `StateVector::decode_v1` under mimalloc.
const BOMB: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn hub() -> Hub {
    hub_with(HubConfig::default())
}

fn hub_with(config: HubConfig) -> Hub {
    let input = NewRoom {
        org_id: None,
        submission_id: Uuid::from_u128(99).into(),
        title: "Acme GL".into(),
        description: None,
        allow_broker_access: false,
    };
    let (room, lead) =
        DealRoom::create(Uuid::from_u128(77).into(), Uuid::from_u128(8).into(), &input, user(LEAD), now()).unwrap();
    let mut people: Vec<Participant> = vec![lead];
    for (n, role) in [(UW, ParticipantRole::Underwriter), (VIEWER, ParticipantRole::Viewer)] {
        let add = NewParticipant { name: Some(format!("user {n}")), ..NewParticipant::new(user(n), role) };
        people.push(room.participant(None, &add, now()).unwrap());
    }
    Hub::new(room, people, vec![], vec![], &[], config).unwrap()
}

fn texts(effects: &[Effect], conn: ConnId) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { conn: c, frame: Frame::Text(t) } if *c == conn => Some(serde_json::from_str(t).unwrap()),
            _ => None,
        })
        .collect()
}

fn binaries(effects: &[Effect], conn: ConnId) -> usize {
    effects.iter().filter(|e| matches!(e, Effect::Send { conn: c, frame: Frame::Binary(_) } if *c == conn)).count()
}

fn chat(content: &str) -> String {
    json!({ "type": "chat", "content": content }).to_string()
}

fn sync(state_vector: &[u8]) -> String {
    json!({ "type": "sync", "stateVector": STANDARD.encode(state_vector) }).to_string()
}

/// An update of client 7 holding one item under key `k` of the root map `m`, with `content`
/// (the content's bytes after the info byte's parent and key) and content ref `content_ref`.
fn item_update(content_ref: u8, content: &[u8]) -> Vec<u8> {
    // 1 client, 1 block, client 7, clock 0; info: content | HAS_PARENT_SUB; a named parent `m`; key `k`
    let mut u = vec![1, 1, 7, 0, content_ref | 0x20, 1, 1, b'm', 1, b'k'];
    u.extend_from_slice(content);
    u.push(0); // an empty delete set
    u
}

/// An update holding one `Any` item with `value`.
fn any_update(value: &[u8]) -> Vec<u8> {
    let mut content = vec![1];
    content.extend_from_slice(value);
    item_update(8, &content)
}

fn nested(open: &[u8], depth: usize) -> Vec<u8> {
    let mut v = open.repeat(depth);
    v.push(0x7e); // null
    v
}

#[test]
fn the_five_byte_bomb_is_refused_everywhere_and_the_room_carries_on() {
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(VIEWER), None);

    // a binary update from an editor: refused by the guard, not by yrs
    let e = h.binary(1, &BOMB);
    assert_eq!(e.len(), 1, "only the error frame: {e:?}");
    let err = &texts(&e, 1)[0];
    assert_eq!(err["code"], "invalid_update");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("the client count at byte 0 declares 4294967295 entries"), "{message}");

    // a `sync` state vector from a viewer
    let e = h.text(2, &sync(&BOMB), &ids, now());
    assert_eq!(e.len(), 1, "only the error frame: {e:?}");
    assert_eq!(texts(&e, 2)[0]["code"], "invalid_state_vector");
    assert!(matches!(check_state_vector_v1(&BOMB), Err(GuardError::Count { at: 0, count: 4_294_967_295, .. })));

    // a connect with it: init, the error, no notepad, the others hear of the arrival
    let e = h.connect(3, user(UW), Some(&BOMB));
    let to_new = texts(&e, 3);
    assert_eq!(to_new[0]["type"], "init");
    assert_eq!(to_new[1]["code"], "invalid_state_vector");
    assert_eq!(binaries(&e, 3), 0, "an empty notepad");
    assert_eq!(texts(&e, 1)[0]["type"], "participant_joined");

    // the room still answers
    let e = h.text(1, &chat("still here"), &ids, now());
    for conn in [1, 2, 3] {
        assert_eq!(texts(&e, conn)[0]["type"], "chat", "to {conn}");
    }
    assert_eq!(h.document_text("notepad"), "");
}

#[test]
fn deep_any_nesting_is_refused_without_recursing() {
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    // 100,000 nested arrays (200 KB): deep enough to overflow a thread's stack in `Any::decode`
    for open in [&[0x75, 0x01][..], &[0x76, 0x01, 0x01, b'k'][..]] {
        let frame = any_update(&nested(open, 100_000));
        assert!(matches!(check_update_v1(&frame), Err(GuardError::TooDeep { .. })));
        let e = h.binary(1, &frame);
        assert_eq!(e.len(), 1, "only the error frame");
        assert_eq!(texts(&e, 1)[0]["code"], "invalid_update");
        assert!(texts(&e, 1)[0]["message"].as_str().unwrap().contains("nests more than 64"));
    }
    // a frame of nothing but array openings
    let e = h.binary(1, &[0x75, 0x01].repeat(400_000));
    assert_eq!(texts(&e, 1)[0]["code"], "invalid_update");

    // exactly MAX_ANY_DEPTH arrays is fine, for the guard and for yrs; one more is not
    let deepest = any_update(&nested(&[0x75, 0x01], MAX_ANY_DEPTH));
    assert_eq!(check_update_v1(&deepest), Ok(()));
    let e = h.binary(1, &deepest);
    assert_eq!(binaries(&e, 2), 1, "applied and relayed: {e:?}");
    let too_deep = any_update(&nested(&[0x75, 0x01], MAX_ANY_DEPTH + 1));
    assert!(matches!(check_update_v1(&too_deep), Err(GuardError::TooDeep { at, .. }) if at == 11 + 2 * MAX_ANY_DEPTH));
    assert_eq!(texts(&h.binary(1, &too_deep), 1)[0]["code"], "invalid_update");
}

/// Each count field declaring more entries than the bytes after it could hold.
#[test]
fn every_count_is_checked_against_the_bytes_left() {
    let count = |r: Result<(), GuardError>| match r {
        Err(GuardError::Count { at, what, .. }) => (at, what),
        other => panic!("not a count error: {other:?}"),
    };
    // updates
    assert_eq!(count(check_update_v1(&[5, 0])), (0, "the client count"));
    assert_eq!(count(check_update_v1(&[2, 0, 1, 0])), (0, "the client count"), "three bytes a client");
    assert_eq!(count(check_update_v1(&[1, 5, 1, 0])), (1, "the block count"));
    assert_eq!(count(check_update_v1(&[0, 3, 0])), (1, "the delete set's client count"));
    assert_eq!(count(check_update_v1(&[0, 1, 7, 4, 0, 1])), (3, "the deleted range count"));
    assert_eq!(count(check_update_v1(&item_update(8, &[9, 0x7e]))), (10, "an any content length"));
    assert_eq!(count(check_update_v1(&any_update(&[0x75, 0x09, 0x7e]))), (12, "an array length"));
    assert_eq!(count(check_update_v1(&any_update(&[0x76, 0x05, 1, b'k', 0x7e]))), (12, "a map length"));
    // state vectors: two bytes an entry
    assert_eq!(count(check_state_vector_v1(&BOMB)), (0, "the state vector's entry count"));
    assert_eq!(count(check_state_vector_v1(&[2, 1, 1, 1])), (0, "the state vector's entry count"));
    // the same counts, when the bytes are there, pass
    assert_eq!(check_state_vector_v1(&[2, 1, 1, 1, 1]), Ok(()));
    assert_eq!(check_update_v1(&[0, 1, 7, 1, 0, 1]), Ok(()));
    // lengths of strings and buffers are read as yrs reads them
    assert!(matches!(check_update_v1(&item_update(3, &[9, 1])), Err(GuardError::Truncated { .. })));
}

/// Hand-made encodings for the corners yrs itself never writes: the guard's verdict is yrs's.
#[test]
fn the_guard_agrees_with_yrs_where_yrs_decodes() {
    let agree = |bytes: &[u8]| {
        let yrs = Update::decode_v1(bytes).map(|_| ());
        let guard = check_update_v1(bytes);
        assert_eq!(yrs.is_ok(), guard.is_ok(), "{bytes:?}: yrs {yrs:?}, guard {guard:?}");
        guard.is_ok()
    };
    // binary content (Yjs writes it for a Uint8Array)
    assert!(agree(&item_update(3, &[2, 0xab, 0xcd])));
    // subdocuments: yrs decodes them, the guard refuses them (yrs never frees a document that
    // integrated one)
    let subdoc = item_update(9, &[1, b'g', 0x76, 1, 2, b'g', b'c', 0x78]);
    assert!(Update::decode_v1(&subdoc).is_ok());
    assert!(matches!(check_update_v1(&subdoc), Err(GuardError::Unsupported { at: 4, what: "a subdocument" })));
    // every type ref; 7, a weak link, is refused by yrs built without its `weak` feature
    for type_ref in 0..=16u8 {
        let content = if type_ref == 3 { vec![type_ref, 1, b'p'] } else { vec![type_ref] };
        let ok = agree(&item_update(7, &content));
        assert_eq!(ok, [0, 1, 2, 3, 4, 5, 6, 9, 15].contains(&type_ref), "type {type_ref}");
    }
    // content refs 0 and 10 to 15 are no content; an item's info bit 4 is ignored
    for content_ref in [0u8, 10, 11, 15] {
        assert!(!agree(&item_update(content_ref, &[1, 0x7e])), "content {content_ref}");
    }
    assert!(agree(&item_update(0x10 | 8, &[1, 0x7e])));
    // zero-length GC and skip blocks
    assert!(!agree(&[1, 1, 7, 0, 0, 0, 0]));
    assert!(!agree(&[1, 1, 7, 0, 10, 0, 0]));
    assert!(agree(&[1, 2, 7, 0, 0, 3, 10, 2, 0]));
    // strings must be UTF-8
    assert!(!agree(&item_update(4, &[2, 0xc3, 0x28])));
    assert!(agree(&item_update(4, &[2, 0xc3, 0xa9])));
    // a value of every tag
    let mut values = vec![12, 127, 126, 121, 120, 125, 0x81, 0x01, 124, 0, 0, 0, 0, 123];
    values.extend([0; 8]);
    values.push(122);
    values.extend([0; 8]);
    values.extend([119, 1, b's', 118, 1, 1, b'k', 126, 117, 1, 126, 116, 2, 1, 2]);
    assert!(agree(&item_update(8, &values)));
    assert!(!agree(&any_update(&[115])));
    // bytes after a complete update or state vector are ignored, by yrs as by the guard
    let mut trailing = any_update(&[0x7e]);
    trailing.extend([0xff, 0xff, 0xff]);
    assert!(agree(&trailing));
    assert!(StateVector::decode_v1(&[1, 5, 3, 0xff]).is_ok());
    assert_eq!(check_state_vector_v1(&[1, 5, 3, 0xff]), Ok(()));
    // and the empty input is nothing
    assert!(!agree(&[]));
    assert!(StateVector::decode_v1(&[]).is_err() && check_state_vector_v1(&[]).is_err());
}

/// Where yrs panics (with overflow checks on, as in our builds), the guard refuses first.
#[test]
fn the_guard_refuses_what_yrs_would_panic_on() {
    let panics = |bytes: &[u8]| {
        let bytes = bytes.to_vec();
        std::panic::catch_unwind(move || Update::decode_v1(&bytes).map(|_| ())).is_err()
    };
    // a GC block at the last clock: yrs adds its length to the clock
    let gc_at_the_end = [1, 1, 7, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1, 0];
    assert!(matches!(check_update_v1(&gc_at_the_end), Err(GuardError::ClockOverflow { at: 8, .. })));
    // a deleted range past the last clock
    let range_past_the_end = [0, 1, 7, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1];
    assert!(matches!(check_update_v1(&range_past_the_end), Err(GuardError::ClockOverflow { at: 4, .. })));
    // an integer of eleven bytes (yrs shifts by 69), and -2^63 (yrs negates it)
    let long_int = any_update(&[125, 0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert!(matches!(check_update_v1(&long_int), Err(GuardError::VarInt { .. })));
    let min_int = any_update(&[125, 0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]);
    assert!(matches!(check_update_v1(&min_int), Err(GuardError::VarInt { .. })));
    // a client id of 2^53 (yrs asserts 53 bits in debug builds and drops the rest otherwise)
    let big_client = [1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 1, 0];
    assert!(matches!(check_update_v1(&big_client), Err(GuardError::VarInt { at: 2, what: "a client id" })));
    let big_client_sv = [1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0];
    assert!(matches!(check_state_vector_v1(&big_client_sv), Err(GuardError::VarInt { at: 1, .. })));
    let largest_client_sv = [1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    assert_eq!(check_state_vector_v1(&largest_client_sv), Ok(()));
    assert!(StateVector::decode_v1(&largest_client_sv).is_ok());
    if cfg!(debug_assertions) {
        let sv_panics = std::panic::catch_unwind(|| StateVector::decode_v1(&big_client_sv).map(|_| ())).is_err();
        assert!(sv_panics, "a 54-bit client id no longer panics in yrs");
        for bytes in [&gc_at_the_end[..], &range_past_the_end, &long_int, &min_int, &big_client] {
            assert!(panics(bytes), "{bytes:?} no longer panics in yrs");
        }
    }
    // the largest integers yrs writes pass
    let max_int = any_update(&[125, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(check_update_v1(&max_int), Ok(()));
    assert!(Update::decode_v1(&max_int).is_ok());
}

/// JSON content (legacy Yjs): yrs decodes it but writes it back with one string too few, so a
/// pending JSON item made every later encoding of the document panic (the first find of the
/// `hub_frames` fuzz target: a binary frame, then any sync, reconnect or persist).
#[test]
fn json_content_is_refused_because_yrs_cannot_write_it_back() {
    // one item with JSON content [""] whose right origin (client 111) the hub lacks: pending
    let frame = [1, 1, 0, 0, 0x62, 0x6f, 1, 0, 0, 0];
    assert!(matches!(check_update_v1(&frame), Err(GuardError::Unsupported { at: 4, .. })));
    assert!(Update::decode_v1(&frame).is_ok(), "yrs decodes it");
    let unguarded = std::panic::catch_unwind(|| {
        let doc = Doc::new();
        doc.transact_mut().apply_update(Update::decode_v1(&frame).unwrap()).unwrap();
        doc.transact().encode_state_as_update_v1(&StateVector::default())
    });
    assert!(unguarded.is_err(), "yrs can write a pending JSON item back now: the guard may accept it");

    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    let e = h.binary(1, &frame);
    assert_eq!(e.len(), 1, "only the error frame");
    assert_eq!(texts(&e, 1)[0]["code"], "invalid_update");
    // what panicked before: a sync, a connect, the document
    assert_eq!(binaries(&h.text(2, &sync(&[0]), &ids, now()), 2), 1);
    assert_eq!(binaries(&h.connect(3, user(VIEWER), None), 3), 0);
    assert_eq!(h.document(), vec![0, 0]);
    // JSON content anywhere in an update
    assert!(matches!(check_update_v1(&item_update(2, &[0, 1, b'1'])), Err(GuardError::Unsupported { at: 4, .. })));
}

/// A client deleting half of a character outside the basic plane (a UTF-16 surrogate): the hub's
/// document splits it into two replacement characters, which count three bytes each. With byte
/// offsets (yrs's default) the text's byte length went below zero when both halves were deleted:
/// a panic with overflow checks on (the second find of the `hub_frames` fuzz target).
#[test]
fn deleting_half_a_surrogate_pair_does_not_underflow() {
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    let writer = doc(21, true);
    let eraser = doc(22, true);
    let update = |d: &Doc, f: &dyn Fn(&mut yrs::TransactionMut, &yrs::TextRef)| {
        let text = d.get_or_insert_text("notepad");
        let before = d.transact().state_vector();
        f(&mut d.transact_mut(), &text);
        d.transact().encode_state_as_update_v1(&before)
    };
    let insert = update(&writer, &|t, text| text.insert(t, 0, "🙂"));
    eraser.transact_mut().apply_update(Update::decode_v1(&insert).unwrap()).unwrap();
    let first_half = update(&eraser, &|t, text| text.remove_range(t, 0, 1));
    let second_half = update(&eraser, &|t, text| text.remove_range(t, 0, 1));
    for frame in [insert, first_half, second_half] {
        assert_eq!(check_update_v1(&frame), Ok(()));
        let e = h.binary(1, &frame);
        assert!(texts(&e, 1).is_empty(), "{:?}", texts(&e, 1));
    }
    assert_eq!(h.document_text("notepad"), "");
}

/// A client listed twice with overlapping clocks: yrs appends the second listing to the first
/// and underflowed integrating them (the third find of the `hub_frames` fuzz target).
#[test]
fn a_client_listed_twice_is_refused() {
    // clients 0x61 (no blocks), 0x7d (GC 0x74..0x7b), 7 (no blocks), 0x7d again (GC 0x74..0x83)
    let frame = [4, 0, 0x61, 0, 1, 0x7d, 0x74, 0, 7, 0, 7, 0, 1, 0x7d, 0x74, 0, 0x0f, 0];
    assert_eq!(check_update_v1(&frame), Err(GuardError::DuplicateClient { at: 13 }));
    if cfg!(debug_assertions) {
        let unguarded = std::panic::catch_unwind(|| {
            Doc::new().transact_mut().apply_update(Update::decode_v1(&frame).unwrap()).map(|_| ())
        });
        assert!(unguarded.is_err(), "yrs integrates a repeated client now");
    }
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    assert_eq!(texts(&h.binary(1, &frame), 1)[0]["code"], "invalid_update");

    // clients in decreasing order, as Yjs and yrs write them, pass however many there are
    let listing = |ids: &[u64]| {
        let mut u = vec![];
        for id in ids {
            u.extend([0, 0x80 | (*id as u8 & 0x7f), (*id >> 7) as u8, 0]);
        }
        let mut count = vec![0x80 | (ids.len() as u8 & 0x7f), (ids.len() >> 7) as u8];
        count.extend(u);
        count.push(0);
        count
    };
    let descending: Vec<u64> = (1..=300).rev().collect();
    assert_eq!(check_update_v1(&listing(&descending)), Ok(()));
    // in any other order, each is compared with the first 128
    let ascending: Vec<u64> = (1..=129).collect();
    assert_eq!(check_update_v1(&listing(&ascending)), Ok(()));
    let mut repeated: Vec<u64> = (1..=10).collect();
    repeated.push(5);
    assert!(matches!(check_update_v1(&listing(&repeated)), Err(GuardError::DuplicateClient { .. })));
    let too_many: Vec<u64> = (1..=130).collect();
    assert!(matches!(check_update_v1(&listing(&too_many)), Err(GuardError::Unordered { max: 128, .. })));
    let mut late: Vec<u64> = (1000..1200).rev().collect();
    late.push(1);
    late.push(2);
    assert!(matches!(check_update_v1(&listing(&late)), Err(GuardError::Unordered { .. })));
    assert!(Update::decode_v1(&listing(&late)).is_ok(), "yrs decodes it; the guard cannot tell");
}

/// An update that starts a client's edits past what the room has: yrs integrated it around a
/// skip, and a later GC block straddling the skip's end underflowed (the fourth find of the
/// `hub_frames` fuzz target). The hub refuses updates that would leave such a hole.
#[test]
fn an_update_past_a_hole_is_refused() {
    // client 11: text at clocks 38..58 of `notepad`, then a GC block over clocks 22..40
    let mut text = vec![1, 1, 11, 38, 4, 1, 7];
    text.extend(b"notepad");
    text.push(20);
    text.extend(b"Loss runs are clean.");
    text.push(0);
    let gc = [1, 1, 11, 22, 0, 18, 0];
    assert_eq!(check_update_v1(&text), Ok(()));
    assert_eq!(check_update_v1(&gc), Ok(()));
    if cfg!(debug_assertions) {
        let unguarded = std::panic::catch_unwind(|| {
            let doc = Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() });
            for u in [&text[..], &gc] {
                doc.transact_mut().apply_update(Update::decode_v1(u).unwrap()).unwrap();
            }
        });
        assert!(unguarded.is_err(), "yrs no longer underflows here");
    }

    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    for frame in [&text[..], &gc] {
        let e = h.binary(1, frame);
        assert_eq!(e.len(), 1, "only the error frame: {e:?}");
        let err = &texts(&e, 1)[0];
        assert_eq!(err["code"], "invalid_update");
        assert!(err["message"].as_str().unwrap().contains("past what the room has"), "{err}");
    }
    assert_eq!(texts(&h.text(1, &chat("still here"), &ids, now()), 2)[0]["type"], "chat");

    // once the edits before it arrive, in order, the same text is applied
    let mut first = vec![1, 1, 11, 0, 4, 1, 7];
    first.extend(b"notepad");
    first.push(38);
    first.extend([b'x'; 38]);
    first.push(0);
    for frame in [&first[..], &text, &gc] {
        let e = h.binary(1, frame);
        assert!(texts(&e, 1).is_empty(), "{:?}", texts(&e, 1));
    }
    // (the later text has no origin: it goes first)
    assert_eq!(h.document_text("notepad"), format!("Loss runs are clean.{}", "x".repeat(38)));
}

/// An update that says a clock the room has belongs to another parent, then a deletion: yrs
/// split the straddling item itself, kept its stated parent for the new part, and deleting that
/// part underflowed the other parent's length (the fifth find of the `hub_frames` fuzz target).
/// The hub first cuts an update down to what the room lacks.
#[test]
fn a_forged_overlap_is_cut_to_what_the_room_lacks() {
    let hex = |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
    let frames: Vec<Vec<u8>> = [
        // client 11, clock 0: "\0" in the root named ""
        "01010b00040100010000",
        // client 11, clock 0 again: 22 characters in the root named "\0\0\x01\0pad"
        "01010b0004010700000100706164164c6f73732072756e73080b0904626f6c64046e756c6c00",
        // delete client 11's clocks 1..22
        "00010b010115",
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    if cfg!(debug_assertions) {
        let frames = frames.clone();
        let unguarded = std::panic::catch_unwind(move || {
            let doc = Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() });
            for u in &frames {
                doc.transact_mut().apply_update(Update::decode_v1(u).unwrap()).unwrap();
            }
        });
        assert!(unguarded.is_err(), "yrs no longer underflows here");
    }
    let ids = SequentialIds::new(1);
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    h.connect(2, user(UW), None);
    for frame in &frames {
        assert_eq!(check_update_v1(frame), Ok(()));
        let e = h.binary(1, frame);
        assert!(texts(&e, 1).is_empty(), "{:?}", texts(&e, 1));
        assert_eq!(binaries(&e, 2), 1, "relayed as sent");
    }
    assert_eq!(texts(&h.text(1, &chat("still here"), &ids, now()), 2)[0]["type"], "chat");
    // what the hub stores loads again
    let room = h.room().clone();
    let last = h.flush().unwrap();
    let Effect::PersistDocument(document) = last else { panic!("{last:?}") };
    assert!(Hub::new(room, vec![], vec![], vec![], &[document], HubConfig::default()).is_ok());
}

/// Blocks whose origins or parents the room lacks: yrs kept them pending and merged them with a
/// later update that said other things about the same clocks, and the document it then wrote
/// did not load again (the sixth find of the `hub_frames` fuzz target). The hub refuses an
/// update that refers to what neither the room nor the update has, so nothing is ever pending.
#[test]
fn an_update_referring_to_what_the_room_lacks_is_refused() {
    let hex = |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
    let frames: Vec<(Vec<u8>, bool)> = [
        // client 11, clocks 0..20: text in `notepad`
        ("01010b000401076e6f7465706164164c6f73732072756e733a20636c45616e2e20f09f998200", true),
        // clocks 20 and 21: formatting whose right origin is client 21's clock 0, which the room lacks
        ("01020b1446150004626f6c640474727565c60b000b0904626f6c64046e756c6c00", false),
        // clocks 20..23 again: an XML element, an attribute whose parent is clock 28, a text in clock 21
        ("01040b14070103786d6c03017028000b1c05636c6173730177046e6f746507000b150604000b1e000003041a", false),
        // a deletion of client 11's clocks 10..30, past what the room has
        ("00010b010a14", false),
        // and of clocks 10..15
        ("00010b010a05", true),
    ]
    .iter()
    .map(|(h, ok)| (hex(h), *ok))
    .collect();
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    for (frame, ok) in &frames {
        assert_eq!(check_update_v1(frame), Ok(()));
        let e = h.binary(1, frame);
        let errors = texts(&e, 1);
        if *ok {
            assert!(errors.is_empty(), "{errors:?}");
        } else {
            assert_eq!(errors[0]["code"], "invalid_update");
            let message = errors[0]["message"].as_str().unwrap();
            assert!(message.contains("which the room does not have"), "{message}");
        }
        let room = h.room().clone();
        Hub::new(room, vec![], vec![], vec![], &[h.document()], HubConfig::default()).unwrap();
    }
    assert_eq!(h.document_text("notepad"), "Loss runs:n. 🙂");
}

/// A map entry written over one that exists, without the existing one as its origin (yrs
/// deletes it as it integrates it, with no delete set saying so), then a block whose parent is
/// that entry: applied one by one yrs turns the block into GC, but the store held the client's
/// bytes, and replayed in one transaction they named a parent that is not a type, so the stored
/// notepad did not load (the seventh find of the `hub_frames` fuzz target). The store now keeps
/// what the document took in, as yrs writes it.
#[test]
fn what_the_hub_stores_loads_again_after_forged_map_entries() {
    let hex = |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
    let frames: Vec<Vec<u8>> = [
        "01010b000401076e6f7465706164164c6f73732072756e733a20636c45616e2e20f09f998200",
        "01020b14460b0004626f6c640474727565c60b000b0904622f6c64046e756c6c00",
        "20010b010304",
        "01030b162801066669656c6473077072656d69756d017d88a10f2801066669656c6473066c696d6974730175047c3f4600007701617e740201022801066669656c6473057465726d730176010a64656475637469626c657c5f010900010b010304",
        "01030b190801046c6973740178810b1901880b1a017f010b0203041a01",
        "01040b1c070103786d6c03017028000b1c05636c026763788e08656e636f64696e677d01086175746f4c6f616479010b9f998200",
        "01020b14460b0004626f6c640474727565c60b000b0904622f6c64046e756c6c00",
        "20019f998200",
        "01020b14460b0004626f6c640474727565c60b000b0904622f6c64046e756c6c00",
        "20010b010304",
        "01030b1b2801066669656c6473077072656d69756d017d88a10f2801066669656c6473066c696d6974730175047c3f4600007701617e740201022801066669656c6473057465726d730176010a64656475637469626c657c5f010993010b010304",
        "01030b190801046c6973740178810b1901880b1a017f010b0203041a01",
        "01040b1c070103786d6c03017028000b1c05636c6173730177046e6f746507000b1c0100640001000b01",
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let config = HubConfig { persist_every: 3, compact_every: 4, ..HubConfig::default() };
    let mut h = hub_with(config);
    h.connect(1, user(LEAD), None);
    let room = h.room().clone();
    let mut stored: Vec<Vec<u8>> = Vec::new();
    let mut keep = |effects: Vec<Effect>| {
        for effect in effects {
            match effect {
                Effect::PersistDocument(d) => stored = vec![d],
                Effect::AppendDocument(d) => stored.push(d),
                _ => {}
            }
        }
    };
    let mut applied = 0;
    for frame in &frames {
        let e = h.binary(1, frame);
        applied += usize::from(texts(&e, 1).is_empty());
        keep(e);
    }
    assert_eq!(applied, 9);
    keep(h.flush().into_iter().collect());
    let reloaded = Hub::new(room, vec![], vec![], vec![], &stored, config).unwrap();
    assert_eq!(reloaded.document_text("notepad"), h.document_text("notepad"));
    assert_eq!(reloaded.document(), h.document());
}

/// A subdocument, as yrs writes one: refused, since yrs never frees a document that integrated
/// one (found by fuzzing as a growing RSS: some 3.5 KB every time such a hub is dropped).
#[test]
fn subdocuments_are_refused() {
    let client = doc(31, true);
    let fields = client.get_or_insert_map("fields");
    let mut options = Options::with_client_id(ClientID::new(32));
    options.auto_load = true;
    options.collection_id = Some(Arc::from("deal"));
    {
        let mut txn = client.transact_mut();
        fields.insert(&mut txn, "premium", 125_000i64);
        fields.insert(&mut txn, "attachment", Doc::with_options(options));
    }
    let update = client.transact().encode_state_as_update_v1(&StateVector::default());
    assert!(Update::decode_v1(&update).is_ok());
    assert!(matches!(check_update_v1(&update), Err(GuardError::Unsupported { what: "a subdocument", .. })));
    let mut h = hub();
    h.connect(1, user(LEAD), None);
    let e = h.binary(1, &update);
    assert_eq!(texts(&e, 1)[0]["code"], "invalid_update");
    assert!(texts(&e, 1)[0]["message"].as_str().unwrap().contains("a subdocument at byte"));
}

// ---- yrs's own updates always pass ----

#[derive(Clone, Debug)]
enum Op {
    /// Insert at the `at`-th character (modulo the length + 1), with attributes when given.
    TextInsert {
        at: usize,
        s: String,
        attrs: Option<(String, Any)>,
    },
    TextDelete {
        at: usize,
        len: usize,
    },
    TextFormat {
        at: usize,
        len: usize,
        key: String,
        value: Any,
    },
    TextEmbed {
        at: usize,
        value: Any,
    },
    MapInsert {
        key: String,
        value: Any,
    },
    MapRemove {
        key: String,
    },
    MapNested {
        key: String,
        values: Vec<Any>,
    },
    ArrayInsert {
        at: usize,
        values: Vec<Any>,
    },
    ArrayDelete {
        at: usize,
        len: usize,
    },
    XmlElement {
        name: String,
        attr: String,
        text: String,
    },
    XmlTextEdit {
        at: usize,
        s: String,
        bold: bool,
    },
    /// Another client's whole state arrives (histories merge).
    Sync {
        from: usize,
    },
}

fn any_value() -> impl Strategy<Value = Any> {
    let leaf = prop_oneof![
        Just(Any::Null),
        Just(Any::Undefined),
        any::<bool>().prop_map(Any::Bool),
        any::<i64>().prop_map(|n| Any::Number(Number::Int(n))),
        (-1000i64..1000).prop_map(|n| Any::Number(Number::Int(n))),
        any::<f64>().prop_map(|f| Any::Number(Number::Float(f))),
        ".{0,12}".prop_map(|s| Any::String(Arc::from(s.as_str()))),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| Any::Buffer(Arc::from(b))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| Any::Array(Arc::from(v))),
            prop::collection::hash_map(".{0,6}", inner, 0..6).prop_map(|m| Any::Map(Arc::new(m))),
        ]
    })
}

fn op() -> impl Strategy<Value = Op> {
    let text = "[a-z ]{1,8}|.{1,6}";
    // XML text stays ASCII: yrs 0.28 formats XML text by bytes and panics inside a character
    let ascii = "[a-z ]{1,8}";
    prop_oneof![
        4 => (any::<usize>(), text, prop::option::of(("[a-z]{1,5}", any_value())))
            .prop_map(|(at, s, attrs)| Op::TextInsert { at, s, attrs }),
        3 => (any::<usize>(), 1..6usize).prop_map(|(at, len)| Op::TextDelete { at, len }),
        2 => (any::<usize>(), 1..6usize, "[a-z]{1,5}", any_value())
            .prop_map(|(at, len, key, value)| Op::TextFormat { at, len, key, value }),
        1 => (any::<usize>(), any_value()).prop_map(|(at, value)| Op::TextEmbed { at, value }),
        3 => ("[a-d]", any_value()).prop_map(|(key, value)| Op::MapInsert { key, value }),
        1 => "[a-d]".prop_map(|key| Op::MapRemove { key }),
        1 => ("[e-f]", prop::collection::vec(any_value(), 0..4)).prop_map(|(key, values)| Op::MapNested { key, values }),
        3 => (any::<usize>(), prop::collection::vec(any_value(), 1..5))
            .prop_map(|(at, values)| Op::ArrayInsert { at, values }),
        2 => (any::<usize>(), 1..4usize).prop_map(|(at, len)| Op::ArrayDelete { at, len }),
        1 => ("[a-z]{1,6}", ".{0,6}", ascii).prop_map(|(name, attr, text)| Op::XmlElement { name, attr, text }),
        2 => (any::<usize>(), ascii, any::<bool>()).prop_map(|(at, s, bold)| Op::XmlTextEdit { at, s, bold }),
        2 => (0..3usize).prop_map(|from| Op::Sync { from }),
    ]
}

/// A position in a sequence of `len` (modulo `len + 1`; in UTF-16 code units for text, which
/// may split a surrogate pair: yrs writes replacement characters then).
fn pos(at: usize, len: u32) -> u32 {
    (at % (len as usize + 1)) as u32
}

/// A client's document: text offsets in UTF-16 code units (as Yjs counts them), garbage
/// collection on (deleted content becomes GC blocks) or off (it stays as deleted items).
fn doc(client: u64, gc: bool) -> Doc {
    let mut options = Options::with_client_id(ClientID::new(client));
    options.offset_kind = OffsetKind::Utf16;
    options.skip_gc = !gc;
    Doc::with_options(options)
}

fn apply(docs: &[Doc], client: usize, op: &Op) {
    let doc = &docs[client];
    match op {
        Op::Sync { from } => {
            let state = docs[*from].transact().encode_state_as_update_v1(&StateVector::default());
            check_update_v1(&state).unwrap();
            doc.transact_mut().apply_update(Update::decode_v1(&state).unwrap()).unwrap();
        }
        _ => {
            let mut txn = doc.transact_mut();
            edit(&mut txn, op);
        }
    }
}

fn edit(txn: &mut yrs::TransactionMut, op: &Op) {
    let text = txn.get_or_insert_text("notepad");
    let map = txn.get_or_insert_map("fields");
    let array = txn.get_or_insert_array("list");
    let xml = txn.get_or_insert_xml_fragment("xml");
    let len = text.len(txn);
    match op {
        Op::TextInsert { at, s, attrs } => match attrs {
            Some((k, v)) => {
                let attrs: Attrs = HashMap::from([(Arc::from(k.as_str()), v.clone())]);
                text.insert_with_attributes(txn, pos(*at, len), s, attrs);
            }
            None => text.insert(txn, pos(*at, len), s),
        },
        Op::TextDelete { at, len: n } => {
            let at = pos(*at, len);
            let n = (*n as u32).min(len - at);
            if n > 0 {
                text.remove_range(txn, at, n);
            }
        }
        Op::TextFormat { at, len: n, key, value } => {
            let at = pos(*at, len);
            let n = (*n as u32).min(len - at);
            if n > 0 {
                text.format(txn, at, n, HashMap::from([(Arc::from(key.as_str()), value.clone())]));
            }
        }
        Op::TextEmbed { at, value } => {
            text.insert_embed(txn, pos(*at, len), value.clone());
        }
        Op::MapInsert { key, value } => {
            map.insert(txn, key.as_str(), value.clone());
        }
        Op::MapRemove { key } => {
            map.remove(txn, key);
        }
        Op::MapNested { key, values } => {
            let nested = map.insert(txn, key.as_str(), yrs::ArrayPrelim::default());
            for v in values {
                nested.push_back(txn, v.clone());
            }
            let inner = map.insert(txn, format!("{key}-map"), yrs::MapPrelim::default());
            inner.insert(txn, "x", values.len() as i64);
        }
        Op::ArrayInsert { at, values } => {
            array.insert_range(txn, pos(*at, array.len(txn)), values.clone());
        }
        Op::ArrayDelete { at, len } => {
            let n = array.len(txn);
            if n > 0 {
                let at = (*at % n as usize) as u32;
                let len = (*len as u32).min(n - at);
                array.remove_range(txn, at, len);
            }
        }
        Op::XmlElement { name, attr, text } => {
            let el = xml.push_back(txn, XmlElementPrelim::empty(name.as_str()));
            el.insert_attribute(txn, "title", attr.as_str());
            let t = el.push_back(txn, XmlTextPrelim::new(text.as_str()));
            t.format(txn, 0, 1, HashMap::from([(Arc::from("b"), Any::Bool(true))]));
        }
        Op::XmlTextEdit { at, s, bold } => {
            let Some(yrs::XmlOut::Element(el)) = xml.get(txn, 0) else { return };
            let Some(yrs::XmlOut::Text(t)) = el.get(txn, 0) else { return };
            let at = pos(*at, t.len(txn));
            if *bold {
                t.insert_with_attributes(txn, at, s, HashMap::from([(Arc::from("b"), Any::Bool(true))]));
            } else {
                t.insert(txn, at, s);
            }
        }
        Op::Sync { .. } => {}
    }
}

/// yrs decodes what the guard passes; a truncated update is refused by both, without a panic.
fn check_valid(update: &[u8], truncate: bool) {
    assert_eq!(check_update_v1(update), Ok(()), "the guard refused a yrs update: {update:?}");
    Update::decode_v1(update).unwrap();
    if truncate {
        for cut in 0..update.len() {
            let prefix = &update[..cut];
            assert!(check_update_v1(prefix).is_err(), "prefix of {cut} bytes passed the guard");
            assert!(Update::decode_v1(prefix).is_err(), "prefix of {cut} bytes decoded");
        }
    }
}

fn check_sv(doc: &Doc) -> Vec<u8> {
    let sv = doc.transact().state_vector().encode_v1();
    assert_eq!(check_state_vector_v1(&sv), Ok(()), "{sv:?}");
    for cut in 0..sv.len() {
        assert!(check_state_vector_v1(&sv[..cut]).is_err() && StateVector::decode_v1(&sv[..cut]).is_err());
    }
    sv
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn yrs_updates_and_state_vectors_always_pass(
        clients in prop::array::uniform3(1u64..(1 << 53) - 3),
        gc in prop::array::uniform3(any::<bool>()),
        ops in prop::collection::vec((0..3usize, op()), 1..40),
    ) {
        let docs: Vec<Doc> = clients.iter().enumerate().map(|(i, c)| doc(c + i as u64, gc[i])).collect();
        let config = HubConfig { persist_every: 3, compact_every: 4, ..HubConfig::default() };
        let mut h = hub_with(config);
        h.connect(1, user(LEAD), None);
        // what a store would hold
        let mut stored: Vec<Vec<u8>> = Vec::new();
        let mut keep = |effects: &[Effect]| {
            for effect in effects {
                match effect {
                    Effect::PersistDocument(d) => stored = vec![d.clone()],
                    Effect::AppendDocument(d) => stored.push(d.clone()),
                    _ => {}
                }
            }
        };
        let mut updates = Vec::new();
        for (client, op) in &ops {
            let before = docs[*client].transact().state_vector();
            apply(&docs, *client, op);
            let update = docs[*client].transact().encode_state_as_update_v1(&before);
            check_valid(&update, update.len() <= 512);
            // through the hub: applied, never refused
            let e = h.binary(1, &update);
            prop_assert!(texts(&e, 1).is_empty(), "the hub refused a yrs update: {:?}", texts(&e, 1));
            keep(&e);
            updates.push(update);
        }
        for (i, doc) in docs.iter().enumerate() {
            let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
            check_valid(&state, state.len() <= 2048);
            let sv = check_sv(doc);
            // what another client lacks, and the hub's answer to each state vector
            for other in &docs {
                let diff = other.transact().encode_state_as_update_v1(&StateVector::decode_v1(&sv).unwrap());
                check_valid(&diff, false);
            }
            let e = h.text(1, &sync(&sv), &SequentialIds::new(1), now());
            prop_assert!(texts(&e, 1).is_empty(), "sync refused: {:?}", texts(&e, 1));
            let e = h.connect(10 + i as u64, user(UW), Some(&sv));
            let to_new = texts(&e, 10 + i as u64);
            prop_assert!(to_new.iter().all(|t| t["type"] != "error"), "connect refused: {:?}", to_new);
        }
        // every client's whole state (what a client sends after a reconnect): the hub cuts each
        // to what it lacks and ends up with what all of them hold together
        let together = doc(1, true);
        for d in &docs {
            let state = d.transact().encode_state_as_update_v1(&StateVector::default());
            let e = h.binary(1, &state);
            prop_assert!(texts(&e, 1).is_empty(), "the hub refused a whole state: {:?}", texts(&e, 1));
            keep(&e);
            together.transact_mut().apply_update(Update::decode_v1(&state).unwrap()).unwrap();
        }
        let text = together.get_or_insert_text("notepad");
        prop_assert_eq!(h.document_text("notepad"), text.get_string(&together.transact()));
        // and what it stored loads as the same document
        keep(&h.flush().into_iter().collect::<Vec<_>>());
        let reloaded = Hub::new(h.room().clone(), vec![], vec![], vec![], &stored, config).unwrap();
        prop_assert_eq!(reloaded.document_text("notepad"), h.document_text("notepad"));
        let sv = |update: &[u8]| Update::decode_v1(update).unwrap().state_vector();
        prop_assert_eq!(sv(&reloaded.document()), sv(&h.document()));
        // merged updates, with every other one left out (skip blocks for the gaps)
        let merged = yrs::merge_updates_v1(updates.iter().map(Vec::as_slice)).unwrap();
        check_valid(&merged, false);
        let gappy = yrs::merge_updates_v1(updates.iter().step_by(2).map(Vec::as_slice)).unwrap();
        check_valid(&gappy, gappy.len() <= 2048);
        check_valid(&h.document(), false);
        // the state vector of an update
        let sv = yrs::encode_state_vector_from_update_v1(&merged).unwrap();
        prop_assert_eq!(check_state_vector_v1(&sv), Ok(()));
    }

    /// One byte changed in a valid update: what the guard passes, yrs decodes (save embedded
    /// JSON, which the guard does not parse) and the hub applies without a panic.
    #[test]
    fn what_the_guard_passes_yrs_decodes(
        ops in prop::collection::vec((0..3usize, op()), 1..12),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let docs: Vec<Doc> = (1..=3).map(|c| doc(c, true)).collect();
        for (client, op) in &ops {
            apply(&docs, *client, op);
        }
        let mut update = docs[0].transact().encode_state_as_update_v1(&StateVector::default());
        for (at, byte) in &flips {
            let i = at.index(update.len());
            update[i] = *byte;
        }
        if check_update_v1(&update).is_ok() {
            match Update::decode_v1(&update) {
                Ok(_) | Err(ReadError::InvalidJSON(_)) => {}
                Err(e) => prop_assert!(false, "the guard passed what yrs refuses: {e}"),
            }
            let mut h = hub();
            h.connect(1, user(LEAD), None);
            h.binary(1, &update);
            // the hub writes it back (sync, persist) and reads that again
            h.text(1, &sync(&[0]), &SequentialIds::new(1), now());
            let room = h.room().clone();
            prop_assert!(Hub::new(room, vec![], vec![], vec![], &[h.document()], HubConfig::default()).is_ok());
        }
    }
}
