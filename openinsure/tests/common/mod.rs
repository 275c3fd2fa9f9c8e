//! Shared set-up for the application tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use openinsure::{App, Ports};
use openinsure_core::clock::{FixedClock, SequentialIds};
use openinsure_core::ids::{AuthorityProfileId, OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_dealroom::hub::{AnnotationChange, AnnotationInput, ChatInput, Member, RoomState};
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{DealRoom, Participant};
use openinsure_memory::{MemoryAuditLog, MemoryAuthorizer, MemoryDealRooms, MemoryLedger, MemoryStore};
use openinsure_rating::{RateBook, RateTable};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct World {
    pub app: App,
    pub store: MemoryStore,
    pub clock: Arc<FixedClock>,
    pub ledger: MemoryLedger,
    pub audit: MemoryAuditLog,
    pub ports: Ports,
    pub rates: Arc<RateBook>,
}

impl World {
    /// Another app over the same ports, with `change` made to them (a failing ledger, say).
    pub fn with(&self, change: impl FnOnce(&mut Ports)) -> App {
        let mut ports = self.ports.clone();
        change(&mut ports);
        App::new(ports, self.rates.clone())
    }
}

/// The world's apps over `store` instead of the memory store (`World::store` is then an empty
/// memory store nobody writes to; read through `app.backend()`).
pub fn world_on(store: Arc<dyn openinsure::app::Backend>) -> World {
    let mut w = world();
    w.ports.store = store;
    w.app = App::new(w.ports.clone(), w.rates.clone());
    w
}

pub fn world() -> World {
    let mut book = RateBook::new();
    book.insert(RateTable::from_json(include_str!("../../../examples/rate-tables/general-liability.json")).unwrap())
        .unwrap();
    book.insert(RateTable::from_json(include_str!("../../../examples/rate-tables/cyber.json")).unwrap()).unwrap();
    let store = MemoryStore::default();
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()));
    let ledger = MemoryLedger::new();
    let audit = MemoryAuditLog::default();
    let ports = Ports {
        store: Arc::new(store.clone()),
        authorizer: Arc::new(MemoryAuthorizer::new()),
        ledger: Arc::new(ledger.clone()),
        audit: Arc::new(audit.clone()),
        rooms: Arc::new(MemoryDealRooms::default()),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::new(42)),
    };
    let rates = Arc::new(book);
    let app = App::new(ports.clone(), rates.clone());
    World { app, store, clock, ledger, audit, ports, rates }
}

pub fn caller(org: u128, user: u128, role: Role) -> Caller {
    Caller::new(UserId::from_uuid(Uuid::from_u128(org * 1000 + user)), OrgId::from_uuid(Uuid::from_u128(org)), role)
}

/// A typed input from JSON (the tests write inputs as JSON; a malformed one is a test bug).
pub fn typed<T: serde::de::DeserializeOwned>(json: &Value) -> T {
    serde_json::from_value(json.clone()).unwrap()
}

pub fn acme() -> Value {
    serde_json::from_str(include_str!("../../../examples/submissions/acme.json")).unwrap()
}

pub const GL_PROGRAM: &str = "0192f0c0-0000-7000-8000-000000000001";

pub fn agreement_json() -> Value {
    json!({
        "programId": GL_PROGRAM,
        "carrierId": "0192f0c0-0000-7000-8000-0000000000ca",
        "name": "Main Street GL 2026-27",
        "status": "active",
        "effectiveDate": "2026-07-01",
        "expirationDate": "2027-07-01",
        "maxOccurrenceLimitCents": 200_000_000,
        "maxAggregateLimitCents": 400_000_000,
        "maxPremiumCents": 25_000_000,
        "authorizedStates": "all",
        "excludedStates": ["FL"],
        "authorizedNaics": [],
        "excludedNaics": ["2123"],
        "annualPremiumLimitCents": 500_000_000,
        "maxPoliciesPerInsured": 1,
        "allowedTermsMonths": [12],
        "referralTriggers": {}
    })
}

pub struct Org {
    pub admin: Caller,
    pub producer: Caller,
    pub underwriter: Caller,
    pub senior: Caller,
    pub chief: Caller,
}

fn profile_json(level: u8, max_premium: i64, limit: i64, approve: bool) -> Value {
    json!({
        "name": format!("GL level {level}"),
        "level": level,
        "lineOfBusiness": "general_liability",
        "maxOccurrenceLimitCents": limit,
        "maxAggregateLimitCents": limit * 2,
        "maxPremiumCents": max_premium,
        "canApproveReferrals": approve
    })
}

/// An org with a DA agreement for the GL program, a three-level authority ladder (premium caps
/// $25,000 / $100,000 / $250,000; occurrence limits $1M / $2M / $2M) and one user per level.
pub async fn org(w: &World, n: u128) -> Org {
    let o = Org {
        admin: caller(n, 1, Role::Admin),
        producer: caller(n, 2, Role::Producer),
        underwriter: caller(n, 3, Role::Underwriter),
        senior: caller(n, 4, Role::Underwriter),
        chief: caller(n, 5, Role::Underwriter),
    };
    w.app.create_agreement(&o.admin, typed(&agreement_json())).await.unwrap();
    let levels = [
        (1u8, 2_500_000i64, 100_000_000i64, false),
        (2, 10_000_000, 200_000_000, true),
        (3, 25_000_000, 200_000_000, true),
    ];
    for (user, (level, premium, limit, approve)) in [&o.underwriter, &o.senior, &o.chief].into_iter().zip(levels) {
        let p = w.app.create_profile(&o.admin, typed(&profile_json(level, premium, limit, approve))).await.unwrap();
        let id: AuthorityProfileId = p.id;
        w.app.assign_profile(&o.admin, user.user_id, id).await.unwrap();
    }
    o
}

/// A writer that keeps everything a tracing subscriber prints (for the log-capture tests).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A room gateway that only counts the calls reaching it and answers each with an error: what
/// the in-process tests check (roles, tenancy, input) is decided before a live room is asked.
#[derive(Debug, Default)]
pub struct CountingGateway {
    pub calls: std::sync::atomic::AtomicUsize,
}

impl CountingGateway {
    fn reached<T>(&self) -> openinsure::Result<T> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(openinsure::Error::Backend("no live room host in this test".into()))
    }
}

#[async_trait::async_trait]
impl openinsure::dealrooms::RoomGateway for CountingGateway {
    async fn state(&self, _: &DealRoom) -> openinsure::Result<RoomState> {
        self.reached()
    }
    async fn live_messages(&self, _: &DealRoom) -> openinsure::Result<Vec<ChatMessage>> {
        self.reached()
    }
    async fn post_message(&self, _: &DealRoom, _: Member, _: ChatInput) -> openinsure::Result<ChatMessage> {
        self.reached()
    }
    async fn annotations(&self, _: &DealRoom) -> openinsure::Result<Vec<Annotation>> {
        self.reached()
    }
    async fn create_annotation(&self, _: &DealRoom, _: Member, _: AnnotationInput) -> openinsure::Result<Annotation> {
        self.reached()
    }
    async fn update_annotation(
        &self,
        _: &DealRoom,
        _: Member,
        _: openinsure_core::ids::AnnotationId,
        _: AnnotationChange,
    ) -> openinsure::Result<Annotation> {
        self.reached()
    }
    async fn room_changed(&self, _: &DealRoom, _: &[Participant]) -> openinsure::Result<()> {
        Ok(())
    }
}
