//! The deal room hub alone (no sockets): one room with 50 connections. A chat message in, 50
//! frames out (and one record to persist); a Yjs update in, applied to the server's document and
//! 49 frames out. Throughput is counted in frames delivered.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "benchmark setup")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openinsure_core::clock::SequentialIds;
use openinsure_core::ids::UserId;
use openinsure_dealroom::room::{DealRoom, NewParticipant, NewRoom, ParticipantRole};
use openinsure_dealroom::{Effect, Hub, HubConfig};
use uuid::Uuid;
use yrs::{Doc, ReadTxn, Text, Transact};

const CLIENTS: u64 = 50;

fn hub() -> Hub {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let lead = UserId::from_uuid(Uuid::from_u128(1));
    let input = NewRoom {
        org_id: None,
        submission_id: Uuid::from_u128(9).into(),
        title: "bench".into(),
        description: None,
        allow_broker_access: false,
    };
    let (room, first) =
        DealRoom::create(Uuid::from_u128(7).into(), Uuid::from_u128(8).into(), &input, lead, now).unwrap();
    let mut people = vec![first];
    for n in 2..=u128::from(CLIENTS) {
        let add = NewParticipant::new(UserId::from_uuid(Uuid::from_u128(n)), ParticipantRole::Underwriter);
        people.push(room.participant(None, &add, now).unwrap());
    }
    let mut hub = Hub::new(room, people, vec![], vec![], &[], HubConfig::default()).unwrap();
    for conn in 0..CLIENTS {
        hub.connect(conn, UserId::from_uuid(Uuid::from_u128(u128::from(conn) + 1)), None);
    }
    hub
}

fn bench(c: &mut Criterion) {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let ids = SequentialIds::new(5);
    let mut g = c.benchmark_group("dealroom_hub_50_clients");

    let mut h = hub();
    let frame = r#"{"type":"chat","content":"The loss runs look clean. Ready to quote.","richContent":{"mentions":["usr_01J8"]}}"#;
    g.throughput(Throughput::Elements(CLIENTS));
    g.bench_function("chat_fan_out", |b| {
        b.iter(|| {
            let effects = h.text(0, black_box(frame), &ids, now);
            assert_eq!(effects.len() as u64, CLIENTS + 1);
            effects
        });
    });

    let mut h = hub();
    let doc = Doc::new();
    let text = doc.get_or_insert_text("notepad");
    // a fresh update each time: a one-character insert at the start, as typing makes
    let updates: Vec<Vec<u8>> = (0..200_000)
        .map(|_| {
            let before = doc.transact().state_vector();
            text.insert(&mut doc.transact_mut(), 0, "x");
            doc.transact().encode_state_as_update_v1(&before)
        })
        .collect();
    let mut next = updates.iter().cycle();
    g.throughput(Throughput::Elements(CLIENTS - 1));
    g.bench_function("yjs_relay", |b| {
        b.iter(|| {
            let effects = h.binary(0, next.next().unwrap());
            assert!(effects.len() as u64 >= CLIENTS - 1 || matches!(effects.first(), Some(Effect::Send { .. })));
            effects
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
