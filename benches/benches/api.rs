//! The HTTP API in process (`Api::handle`, no sockets): a quote request end to end (token
//! verification, routing, body parsing, rating, pre-bind checks, the store, the JSON envelope),
//! a small authenticated read, and token verification alone.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "benchmark setup")]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openinsure::api::Api;
use openinsure::system::{SystemClock, UuidV7};
use openinsure::{App, Ports};
use openinsure_auth::TokenKeys;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_rating::{RateBook, RateTable};
use serde_json::Value;
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut book = RateBook::new();
    book.insert(RateTable::from_json(include_str!("../../examples/rate-tables/general-liability.json")).unwrap())
        .unwrap();
    let app = App::new(Ports::in_memory(Arc::new(SystemClock), Arc::new(UuidV7)), Arc::new(book));
    let keys = TokenKeys::new("bench", b"bench: a signing secret, 32 bytes").unwrap();
    let api = Api::new(app, keys.clone(), std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()));
    let org = OrgId::from_uuid(Uuid::from_u128(1));
    let producer = Caller::new(UserId::from_uuid(Uuid::from_u128(2)), org, Role::Producer);
    let token = format!("Bearer {}", keys.issue(&producer, chrono::Utc::now()).unwrap());
    let request = |method: &str, path: &str, body: &'static [u8]| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", &token)
            .header("content-type", "application/json")
            .body(Bytes::from_static(body))
            .unwrap()
    };
    let acme: &'static [u8] = include_bytes!("../../examples/submissions/acme.json");
    let created = rt.block_on(api.handle(request("POST", "/v1/submissions", acme), None));
    assert_eq!(created.status(), 201);
    let sub: Value = serde_json::from_slice(created.body()).unwrap();
    let sid = sub["data"]["id"].as_str().unwrap().to_owned();
    let quote_path = format!("/v1/submissions/{sid}/quote");
    let read_path = format!("/v1/submissions/{sid}");

    let mut g = c.benchmark_group("api");
    g.throughput(Throughput::Elements(1));
    g.bench_function("quote", |b| {
        b.iter(|| {
            let response = rt.block_on(api.handle(request("POST", &quote_path, b"{}"), None));
            assert_eq!(response.status(), 201);
            black_box(response)
        });
    });
    g.bench_function("read_submission", |b| {
        b.iter(|| {
            let response = rt.block_on(api.handle(request("GET", &read_path, b""), None));
            assert_eq!(response.status(), 200);
            black_box(response)
        });
    });
    let bare = token.trim_start_matches("Bearer ").to_owned();
    g.bench_function("verify_token", |b| b.iter(|| black_box(keys.verify(&bare, chrono::Utc::now()).unwrap())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
