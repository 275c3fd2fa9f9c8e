//! The edge stores (D1 and KV on Workers), in process:
//! - rate tables read through one on every rating, filled from the book on a miss, kept apart by
//!   org, and never a reason to refuse a quote when the store fails;
//! - verified sessions shared through one (KV), keyed by the token's hash under the keys'
//!   fingerprint, holding no token and no PHI, and gone after their time to live.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use common::{acme, caller, typed, world};
use http::{Request, StatusCode};
use openinsure::api::Api;
use openinsure_auth::TokenKeys;
use openinsure_core::Factor;
use openinsure_core::clock::Clock;
use openinsure_core::tenancy::Role;
use openinsure_hipaa::edge::{EdgeBytes, EdgeCache, EdgeKey, EdgeStore};
use openinsure_memory::MemoryEdgeStore;
use openinsure_rating::{RateTable, Schedule};

/// An edge store that records what reaches it, over a memory store (or failing every call).
struct Recording {
    inner: MemoryEdgeStore,
    gets: Mutex<Vec<String>>,
    puts: Mutex<Vec<String>>,
    written: Mutex<Vec<Vec<u8>>>,
    failing: bool,
}

impl Recording {
    fn new(clock: Arc<openinsure_core::clock::FixedClock>, failing: bool) -> Arc<Self> {
        Arc::new(Recording {
            inner: MemoryEdgeStore::new(clock),
            gets: Mutex::default(),
            puts: Mutex::default(),
            written: Mutex::default(),
            failing,
        })
    }
    fn fail<T>(&self) -> openinsure_hipaa::Result<T> {
        Err(openinsure_hipaa::Error::Unavailable("the edge store is down".into()))
    }
}

#[async_trait]
impl EdgeStore for Recording {
    async fn get(&self, key: &EdgeKey) -> openinsure_hipaa::Result<Option<Vec<u8>>> {
        self.gets.lock().unwrap().push(key.to_string());
        if self.failing {
            return self.fail();
        }
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &EdgeKey,
        value: &EdgeBytes,
        ttl: Option<chrono::Duration>,
    ) -> openinsure_hipaa::Result<()> {
        self.puts.lock().unwrap().push(key.to_string());
        self.written.lock().unwrap().push(value.as_slice().to_vec());
        if self.failing {
            return self.fail();
        }
        self.inner.put(key, value, ttl).await
    }
    async fn remove(&self, key: &EdgeKey) -> openinsure_hipaa::Result<()> {
        self.inner.remove(key).await
    }
}

#[tokio::test]
async fn every_quote_reads_the_edge_copy_which_a_miss_fills_from_the_book() {
    let w = world();
    let edge = Recording::new(w.clock.clone(), false);
    let app = w.app.clone().with_edge_config(edge.clone());
    let producer = caller(1, 2, Role::Producer);
    let sub = app.submit(&producer, &typed(&acme())).await.unwrap();
    let first = app.quote(&producer, sub.id, &Schedule::none()).await.unwrap();

    // the same worksheet as the book gives without an edge store
    let direct = w.app.submit(&producer, &typed(&acme())).await.unwrap();
    let direct = w.app.quote(&producer, direct.id, &Schedule::none()).await.unwrap();
    assert_eq!(first.rating, direct.rating);

    let puts = edge.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 1, "a miss fills the copy once");
    let org = producer.org_id.to_string();
    assert!(puts[0].starts_with(&format!("{org}/rates/")), "the copy is the org's: {}", puts[0]);
    assert!(puts[0].ends_with(&format!("/general_liability/{}", sub.program_id)), "{}", puts[0]);

    // the copy is what the next quote rates on: change it, and the quote follows
    let key = EdgeKey::org(producer.org_id, puts[0].split_once('/').unwrap().1).unwrap();
    let cache = EdgeCache::<Vec<RateTable>>::new(edge.clone());
    let mut tables = cache.get(&key).await.unwrap().expect("the copy");
    for table in &mut tables {
        for rate in table.base_rates.states.values_mut() {
            *rate = Factor::new(rate.value() * openinsure_core::Decimal::TWO);
        }
        if let Some(d) = table.base_rates.default.as_mut() {
            *d = Factor::new(d.value() * openinsure_core::Decimal::TWO);
        }
    }
    cache.put(&key, &tables, None).await.unwrap();
    let second = app.quote(&producer, sub.id, &Schedule::none()).await.unwrap();
    assert!(
        second.rating.totals.gross_premium > first.rating.totals.gross_premium,
        "rated on the edge copy: {} then {}",
        first.rating.totals.gross_premium.cents(),
        second.rating.totals.gross_premium.cents()
    );
    assert_eq!(edge.gets.lock().unwrap().len(), 3, "read on every quote (and once by the test)");
    assert_eq!(edge.puts.lock().unwrap().len(), 2, "no fill on a hit (the second put is the test's)");

    // another org has its own copy, filled from the book, unaffected by the first org's
    let other = caller(2, 2, Role::Producer);
    let theirs = app.submit(&other, &typed(&acme())).await.unwrap();
    let theirs = app.quote(&other, theirs.id, &Schedule::none()).await.unwrap();
    assert_eq!(theirs.rating, direct.rating);
    let puts = edge.puts.lock().unwrap().clone();
    assert!(puts[2].starts_with(&format!("{}/rates/", other.org_id)), "{}", puts[2]);
}

#[tokio::test]
async fn a_failing_edge_store_never_refuses_a_quote() {
    let w = world();
    let edge = Recording::new(w.clock.clone(), true);
    let app = w.app.clone().with_edge_config(edge.clone());
    let producer = caller(1, 2, Role::Producer);
    let sub = app.submit(&producer, &typed(&acme())).await.unwrap();
    let quote = app.quote(&producer, sub.id, &Schedule::none()).await.unwrap();
    let direct = w.app.submit(&producer, &typed(&acme())).await.unwrap();
    let direct = w.app.quote(&producer, direct.id, &Schedule::none()).await.unwrap();
    assert_eq!(quote.rating, direct.rating, "the book answers");
    assert_eq!(edge.gets.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn no_table_in_force_is_the_same_refusal_through_the_edge() {
    let w = world();
    let app = w.app.clone().with_edge_config(Arc::new(MemoryEdgeStore::new(w.clock.clone())));
    let producer = caller(1, 2, Role::Producer);
    let mut input = acme();
    input["programId"] = "0192f0c0-0000-7000-8000-0000000000ff".into();
    let sub = app.submit(&producer, &typed(&input)).await.unwrap();
    let edge = app.quote(&producer, sub.id, &Schedule::none()).await.unwrap_err();
    let direct = w.app.quote(&producer, sub.id, &Schedule::none()).await.unwrap_err();
    assert_eq!(edge.to_string(), direct.to_string());
    assert!(edge.to_string().contains("no rate table"), "{edge}");
}

const SECRET: &[u8] = b"edge tests: a secret of 32 bytes";

fn api(app: openinsure::App, keys: &TokenKeys, sessions: Arc<dyn EdgeStore>) -> Api {
    Api::new(app, keys.clone(), Arc::new(openinsure_memory::MemoryIdempotency::default())).with_sessions(sessions)
}

async fn get(api: &Api, path: &str, token: &str) -> StatusCode {
    let req = Request::builder().uri(path).header("authorization", format!("Bearer {token}"));
    api.handle(req.body(Bytes::new()).unwrap(), None).await.status()
}

#[tokio::test]
async fn a_verified_session_is_shared_through_the_edge_store_by_its_hash_only() {
    let w = world();
    let edge = Recording::new(w.clock.clone(), false);
    let keys = TokenKeys::new("k1", SECRET).unwrap();
    let producer = caller(1, 2, Role::Producer);
    let token = keys.issue(&producer, w.clock.now()).unwrap();

    let first = api(w.app.clone(), &keys, edge.clone());
    assert_eq!(get(&first, "/v1/submissions", &token).await, StatusCode::OK);
    let puts = edge.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 1, "the verified session is stored once");
    assert!(puts[0].starts_with(&format!("-/session/{}/", keys.fingerprint())), "{}", puts[0]);
    let stored = String::from_utf8(edge.written.lock().unwrap()[0].clone()).unwrap();
    assert!(!stored.contains(&token) && !puts[0].contains(&token), "no token is stored, only its hash");
    assert!(stored.contains(&producer.org_id.to_string()) && stored.contains("producer"), "{stored}");

    // another isolate (another Api) finds it: a read, no new write
    let second = api(w.app.clone(), &keys, edge.clone());
    assert_eq!(get(&second, "/v1/submissions", &token).await, StatusCode::OK);
    assert_eq!(edge.puts.lock().unwrap().len(), 1, "found, not stored again");
    assert_eq!(edge.gets.lock().unwrap().len(), 2);
    // and then keeps it in process: no more reads
    assert_eq!(get(&second, "/v1/submissions", &token).await, StatusCode::OK);
    assert_eq!(edge.gets.lock().unwrap().len(), 2);

    // a rotated key set finds none of the old sessions and stores under its own fingerprint
    let rotated = keys.clone().with_key("k2", b"edge tests: the next key, 32 byte").unwrap();
    let third = api(w.app.clone(), &rotated, edge.clone());
    assert_eq!(get(&third, "/v1/submissions", &token).await, StatusCode::OK);
    let puts = edge.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 2);
    assert!(puts[1].starts_with(&format!("-/session/{}/", rotated.fingerprint())));

    // five minutes on, the shared session is gone: a new isolate verifies the token again
    w.clock.advance(chrono::Duration::minutes(5));
    let fourth = api(w.app.clone(), &keys, edge.clone());
    assert_eq!(get(&fourth, "/v1/submissions", &token).await, StatusCode::OK);
    assert_eq!(edge.puts.lock().unwrap().len(), 3, "expired, so verified and stored again");
}

#[tokio::test]
async fn a_shared_session_never_outlives_its_token_and_a_bad_token_is_never_stored() {
    let w = world();
    // a store on a clock of its own that never moves: the entry outlives the token there
    let frozen = Arc::new(openinsure_core::clock::FixedClock::new(w.clock.now()));
    let edge = Recording::new(frozen, false);
    let keys = TokenKeys::new("k1", SECRET).unwrap().with_lifetime(chrono::Duration::minutes(3));
    let token = keys.issue(&caller(1, 2, Role::Producer), w.clock.now()).unwrap();
    assert_eq!(get(&api(w.app.clone(), &keys, edge.clone()), "/v1/submissions", &token).await, StatusCode::OK);
    assert_eq!(edge.puts.lock().unwrap().len(), 1);
    w.clock.advance(chrono::Duration::minutes(3));
    let later = api(w.app.clone(), &keys, edge.clone());
    assert_eq!(
        get(&later, "/v1/submissions", &token).await,
        StatusCode::UNAUTHORIZED,
        "the expiry is checked on a hit"
    );

    // a token with under a minute left is not shared (KV keeps nothing shorter)
    let short = keys.issue(&caller(1, 3, Role::Producer), w.clock.now() - chrono::Duration::seconds(150)).unwrap();
    assert_eq!(get(&later, "/v1/submissions", &short).await, StatusCode::OK);
    assert_eq!(edge.puts.lock().unwrap().len(), 1, "thirty seconds left: verified, not shared");

    // a forged token is refused and leaves nothing behind
    let forged = TokenKeys::new("k1", b"edge tests: not the right secret!").unwrap();
    let forged = forged.issue(&caller(1, 2, Role::Admin), w.clock.now()).unwrap();
    assert_eq!(get(&later, "/v1/submissions", &forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(edge.puts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_session_store_never_refuses_a_good_token() {
    let w = world();
    let edge = Recording::new(w.clock.clone(), true);
    let keys = TokenKeys::new("k1", SECRET).unwrap();
    let token = keys.issue(&caller(1, 2, Role::Producer), w.clock.now()).unwrap();
    assert_eq!(get(&api(w.app.clone(), &keys, edge.clone()), "/v1/submissions", &token).await, StatusCode::OK);
    assert_eq!((edge.gets.lock().unwrap().len(), edge.puts.lock().unwrap().len()), (1, 1));
}
